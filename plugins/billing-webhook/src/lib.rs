//! `billing-webhook`: asks the business's own billing system to charge an
//! invoice again, as signed JSON (see `sollecito-signing`), and reads the
//! outcome from its answer:
//! `{"outcome": "succeeded", "reference": "..."}` or
//! `{"outcome": "declined", "decline_code": "insufficient_funds"}`.

// The generated export takes the charge's fields as separate arguments.
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ world: "payment", path: "../../wit", additional_derives: [PartialEq], pub_export_macro: true,
        with: { "sollecito:plugin/types@0.3.0": sollecito_adapter::types } });
}
use bindings::{Charge, ChargeError, ChargeOutcome, sollecito::plugin::charges::Payment};

use sollecito_adapter::{Money, Settings, check, post_signed_json};

pub struct BillingWebhook;

pub fn body(charge: &Charge) -> Vec<u8> {
    serde_json::json!({
        "type": "charge",
        "key": charge.key,
        "invoice_id": charge.invoice_id,
        "invoice_number": charge.invoice_number,
        "refs": charge.refs,
        "customer_id": charge.customer_id,
        "amount": { "minor": charge.amount.minor, "currency": charge.amount.currency },
    })
    .to_string()
    .into_bytes()
}

/// 2xx with an outcome; 408, 429 and 5xx worth another try; anything else final.
pub fn outcome(status: u16, answer: &[u8], currency: &str) -> Result<ChargeOutcome, ChargeError> {
    check(status, &format!("HTTP {status}"))?;
    let json: serde_json::Value = serde_json::from_slice(answer).unwrap_or_default();
    let text = |key: &str| json[key].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    match json["outcome"].as_str() {
        Some("succeeded") => Ok(ChargeOutcome::Succeeded(Payment {
            reference: text("reference").unwrap_or_else(|| "succeeded".into()),
            // `amount` in minor units of the invoice currency, if the billing system says what it charged.
            amount: json["amount"]
                .as_i64()
                .map(|minor| Money { minor, currency: text("currency").unwrap_or_else(|| currency.to_string()) }),
        })),
        Some("declined") => Ok(ChargeOutcome::Declined(text("decline_code").unwrap_or_else(|| "declined".into()))),
        _ => Err(ChargeError::Permanent(format!(
            "HTTP {status} without an outcome (expected {{\"outcome\": \"succeeded\" | \"declined\"}})"
        ))),
    }
}

impl BillingWebhook {
    fn charge(settings: &Settings, charge: Charge) -> Result<ChargeOutcome, ChargeError> {
        let url = settings.required("url")?;
        let secret = settings.signing_secret("billing_webhook_signing")?;
        let response = post_signed_json(url, &charge.key, &secret, body(&charge))?;
        outcome(response.status, &response.body, &charge.amount.currency)
    }
}

sollecito_adapter::payment_adapter!(BillingWebhook in bindings);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_outcomes() {
        let ok = outcome(200, br#"{"outcome":"succeeded","reference":"pay_1"}"#, "EUR");
        assert_eq!(ok, Ok(ChargeOutcome::Succeeded(Payment { reference: "pay_1".into(), amount: None })));
        let part = outcome(200, br#"{"outcome":"succeeded","reference":"pay_2","amount":500}"#, "EUR");
        let money = Money { minor: 500, currency: "EUR".into() };
        assert_eq!(part, Ok(ChargeOutcome::Succeeded(Payment { reference: "pay_2".into(), amount: Some(money) })));
        let no = outcome(200, br#"{"outcome":"declined","decline_code":"do_not_honor"}"#, "EUR");
        assert_eq!(no, Ok(ChargeOutcome::Declined("do_not_honor".into())));
        assert!(matches!(outcome(200, b"ok", "EUR"), Err(ChargeError::Permanent(_))));
        assert!(matches!(outcome(502, b"", "EUR"), Err(ChargeError::Transient(_))));
        assert!(matches!(outcome(401, b"", "EUR"), Err(ChargeError::Permanent(_))));
        assert_eq!(outcome(429, b"", "EUR"), Err(ChargeError::Transient("HTTP 429".into())));
        assert_eq!(outcome(302, b"", "EUR"), Err(ChargeError::Permanent("HTTP 302".into())));
    }
}
