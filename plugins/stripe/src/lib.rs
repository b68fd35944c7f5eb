//! `stripe`: retries an open invoice's payment the way Stripe is asked to,
//! `POST /v1/invoices/{id}/pay` with the secret key as a bearer token and an
//! `Idempotency-Key` per attempt, so a retry that is sent twice is paid once.

// The generated export takes the charge's fields as separate arguments.
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ world: "payment", path: "../../wit", additional_derives: [PartialEq], pub_export_macro: true,
        with: { "sollecito:plugin/types@0.3.0": sollecito_adapter::types } });
}
use bindings::{Charge, ChargeError, ChargeOutcome, sollecito::plugin::charges::Payment};

use sollecito_adapter::{Money, Request, Settings, send};

pub struct Stripe;

/// The Stripe invoice to pay: a ref of the form `in_...`, else the invoice's own id.
pub fn stripe_invoice(charge: &Charge) -> &str {
    charge.refs.iter().find(|r| r.starts_with("in_")).unwrap_or(&charge.invoice_id)
}

/// One key per attempt (invoice and retry step), the same on every try of it.
pub fn idempotency_key(charge: &Charge) -> String {
    format!("sollecito-{}", charge.key)
}

/// Letters, digits, `_` and `-` as they are; anything else percent-encoded.
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What Stripe's answer means. A 402 is a card error: its `decline_code`
/// (for `card_declined`) or its `code` (`expired_card`, `authentication_required`)
/// goes back to the policy, which decides whether another try makes sense.
pub fn outcome(status: u16, body: &[u8]) -> Result<ChargeOutcome, ChargeError> {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let error = &json["error"];
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    match status {
        200..=299 => match json["status"].as_str() {
            Some("paid") => Ok(ChargeOutcome::Succeeded(Payment {
                reference: text(&json["charge"]).or_else(|| text(&json["id"])).unwrap_or_else(|| "paid".into()),
                // Stripe charges its own invoice's amount, which knows nothing of fees added here.
                amount: json["amount_paid"]
                    .as_i64()
                    .zip(text(&json["currency"]))
                    .map(|(minor, currency)| Money { minor, currency: currency.to_ascii_uppercase() }),
            })),
            // Paid out of band, or still open after the attempt (3-D Secure needed).
            Some(other) => Ok(ChargeOutcome::Declined(format!("invoice_{other}"))),
            None => Err(ChargeError::Permanent(format!("HTTP {status} without an invoice status"))),
        },
        402 => {
            let code = text(&error["decline_code"]).or_else(|| text(&error["code"])).unwrap_or("card_declined".into());
            Ok(ChargeOutcome::Declined(code))
        }
        // 409: the same key is being processed right now; 429: rate limited.
        409 | 429 | 500..=599 => Err(ChargeError::Transient(format!("HTTP {status}"))),
        _ => {
            let message = text(&error["message"]).unwrap_or_default();
            Err(ChargeError::Permanent(format!("HTTP {status}: {message}").trim_end_matches(": ").to_string()))
        }
    }
}

impl Stripe {
    fn charge(settings: &Settings, charge: Charge) -> Result<ChargeOutcome, ChargeError> {
        let base = settings.get_or("api_base", "https://api.stripe.com").trim_end_matches('/');
        let key = settings.secret("stripe_secret_key")?;
        let request = Request {
            method: "POST".into(),
            url: format!("{base}/v1/invoices/{}/pay", path_segment(stripe_invoice(&charge))),
            headers: vec![
                ("Authorization".into(), format!("Bearer {key}")),
                ("Idempotency-Key".into(), idempotency_key(&charge)),
                ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
            ],
            // The customer is not at the keyboard: a retry is an off-session payment.
            body: b"off_session=true".to_vec(),
        };
        let response = send(&request)?;
        outcome(response.status, &response.body)
    }
}

sollecito_adapter::payment_adapter!(Stripe in bindings);

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(refs: &[&str]) -> Charge {
        Charge {
            key: "inv-1/retry-2".into(),
            invoice_id: "inv-1".into(),
            invoice_number: "2026/1".into(),
            refs: refs.iter().map(|r| r.to_string()).collect(),
            customer_id: "c1".into(),
            amount: Money { minor: 1000, currency: "EUR".into() },
        }
    }

    #[test]
    fn the_stripe_invoice_is_the_in_ref_else_the_id() {
        assert_eq!(stripe_invoice(&charge(&["ch_1", "in_9"])), "in_9");
        assert_eq!(stripe_invoice(&charge(&["ch_1"])), "inv-1");
        assert_eq!(idempotency_key(&charge(&[])), "sollecito-inv-1/retry-2");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn answers_map_to_outcomes() {
        let paid =
            outcome(200, br#"{"id":"in_1","status":"paid","charge":"ch_7","amount_paid":1000,"currency":"eur"}"#);
        let money = Money { minor: 1000, currency: "EUR".into() };
        assert_eq!(paid, Ok(ChargeOutcome::Succeeded(Payment { reference: "ch_7".into(), amount: Some(money) })));
        let bare = outcome(200, br#"{"id":"in_1","status":"paid"}"#);
        assert_eq!(bare, Ok(ChargeOutcome::Succeeded(Payment { reference: "in_1".into(), amount: None })));
        let soft = outcome(
            402,
            br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds"}}"#,
        );
        assert_eq!(soft, Ok(ChargeOutcome::Declined("insufficient_funds".into())));
        let expired = outcome(402, br#"{"error":{"type":"card_error","code":"expired_card"}}"#);
        assert_eq!(expired, Ok(ChargeOutcome::Declined("expired_card".into())));
        assert!(matches!(outcome(503, b""), Err(ChargeError::Transient(_))));
        assert!(matches!(outcome(409, b""), Err(ChargeError::Transient(_))));
        let bad = outcome(404, br#"{"error":{"message":"No such invoice: 'in_x'"}}"#);
        assert_eq!(bad, Err(ChargeError::Permanent("HTTP 404: No such invoice: 'in_x'".into())));
    }
}
