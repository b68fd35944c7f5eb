//! `billing-webhook`: asks the business's own billing system to charge an
//! invoice again, as signed JSON (see `sollecito-signing`), and reads the
//! outcome from its answer:
//! `{"outcome": "succeeded", "reference": "..."}` or
//! `{"outcome": "declined", "decline_code": "insufficient_funds"}`.

// The generated export takes the charge's fields as separate arguments.
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ world: "payment", path: "../../wit", additional_derives: [PartialEq], pub_export_macro: true });
}
use bindings::*;
use sollecito::plugin::charges::Payment;

use sollecito::plugin::{http, secrets};

pub struct BillingWebhook;

fn setting<'a>(settings: &'a [Setting], key: &str) -> Option<&'a str> {
    settings.iter().find(|s| s.key == key).map(|s| s.value.as_str())
}

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
    match status {
        200..=299 => {}
        408 | 429 | 500..=599 => return Err(ChargeError::Transient(format!("HTTP {status}"))),
        _ => return Err(ChargeError::Permanent(format!("HTTP {status}"))),
    }
    let json: serde_json::Value = serde_json::from_slice(answer).unwrap_or_default();
    let text = |key: &str| json[key].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    match json["outcome"].as_str() {
        Some("succeeded") => Ok(ChargeOutcome::Succeeded(Payment {
            reference: text("reference").unwrap_or_else(|| "succeeded".into()),
            // `amount` in minor units of the invoice currency, if the billing system says what it charged.
            amount: json["amount"].as_i64().map(|minor| sollecito::plugin::types::Money {
                minor,
                currency: text("currency").unwrap_or_else(|| currency.to_string()),
            }),
        })),
        Some("declined") => Ok(ChargeOutcome::Declined(text("decline_code").unwrap_or_else(|| "declined".into()))),
        _ => Err(ChargeError::Permanent(format!(
            "HTTP {status} without an outcome (expected {{\"outcome\": \"succeeded\" | \"declined\"}})"
        ))),
    }
}

impl Guest for BillingWebhook {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "billing-webhook".into(),
            version: "0.1.0".into(),
            summary: "Asks the business's billing system to charge an invoice (signed JSON) and reads the outcome."
                .into(),
        }
    }

    fn charge(settings: Vec<Setting>, charge: Charge) -> Result<ChargeOutcome, ChargeError> {
        let url = setting(&settings, "url").ok_or_else(|| ChargeError::Permanent("setting `url` is missing".into()))?;
        let secret_name = setting(&settings, "secret").unwrap_or("billing_webhook_signing");
        let secret = secrets::get(secret_name)
            .ok_or_else(|| ChargeError::Permanent(format!("the signing secret {secret_name:?} is not granted")))?;
        // The host gives every call the tick's time as the clock.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let body = body(&charge);
        let request = http::Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Idempotency-Key".into(), charge.key.clone()),
                (sollecito_signing::HEADER.into(), sollecito_signing::header(&secret, t, &body)),
            ],
            body,
        };
        match http::send(&request) {
            Ok(response) => outcome(response.status, &response.body, &charge.amount.currency),
            Err(e) if e.starts_with("denied") => Err(ChargeError::Permanent(e)),
            Err(e) => Err(ChargeError::Transient(e)),
        }
    }
}

export!(BillingWebhook with_types_in bindings);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_outcomes() {
        let ok = outcome(200, br#"{"outcome":"succeeded","reference":"pay_1"}"#, "EUR");
        assert_eq!(ok, Ok(ChargeOutcome::Succeeded(Payment { reference: "pay_1".into(), amount: None })));
        let part = outcome(200, br#"{"outcome":"succeeded","reference":"pay_2","amount":500}"#, "EUR");
        let money = sollecito::plugin::types::Money { minor: 500, currency: "EUR".into() };
        assert_eq!(part, Ok(ChargeOutcome::Succeeded(Payment { reference: "pay_2".into(), amount: Some(money) })));
        let no = outcome(200, br#"{"outcome":"declined","decline_code":"do_not_honor"}"#, "EUR");
        assert_eq!(no, Ok(ChargeOutcome::Declined("do_not_honor".into())));
        assert!(matches!(outcome(200, b"ok", "EUR"), Err(ChargeError::Permanent(_))));
        assert!(matches!(outcome(502, b"", "EUR"), Err(ChargeError::Transient(_))));
        assert!(matches!(outcome(401, b"", "EUR"), Err(ChargeError::Permanent(_))));
    }
}
