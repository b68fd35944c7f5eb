//! `webhook`: posts the message as signed JSON to a URL the operator set (a
//! chat tool, the customer's own system). The signature header is
//! `X-Sollecito-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

wit_bindgen::generate!({
    world: "channel",
    path: "../../wit",
    with: { "sollecito:plugin/types@0.3.0": sollecito_adapter::types },
});

use sollecito_adapter::{Settings, check, post_signed_json};

pub struct Webhook;

pub fn body(msg: &Message) -> Vec<u8> {
    let tone = format!("{:?}", msg.tone).to_lowercase();
    serde_json::json!({
        "key": msg.key,
        "channel": msg.channel,
        "invoice_number": msg.invoice_number,
        "tone": tone,
        "sender": { "name": msg.sender.name, "email": msg.sender.email },
        "recipient": { "name": msg.recipient.name, "email": msg.recipient.email, "phone": msg.recipient.phone, "locale": msg.recipient.locale },
        "subject": msg.subject,
        "text": msg.text,
        "payment_link": msg.payment_link,
    })
    .to_string()
    .into_bytes()
}

/// 2xx delivered; 408, 429 and 5xx worth another try; any other answer final.
pub fn outcome(status: u16, what: &str) -> Result<Receipt, DeliveryError> {
    let text = format!("{what}: HTTP {status}");
    check(status, &text)?;
    Ok(Receipt { reference: text })
}

impl Webhook {
    fn deliver(settings: &Settings, msg: Message) -> Result<Receipt, DeliveryError> {
        let url = settings.required("url")?;
        let secret = settings.signing_secret("webhook_signing")?;
        let response = post_signed_json(url, &msg.key, &secret, body(&msg))?;
        outcome(response.status, url)
    }
}

sollecito_adapter::channel_adapter!(Webhook);

#[cfg(test)]
mod tests {
    #[test]
    fn statuses() {
        assert!(super::outcome(204, "x").is_ok());
        assert!(matches!(super::outcome(503, "x"), Err(super::DeliveryError::Transient(_))));
        assert!(matches!(super::outcome(408, "x"), Err(super::DeliveryError::Transient(_))));
        assert!(matches!(super::outcome(400, "x"), Err(super::DeliveryError::Permanent(_))));
        assert!(matches!(super::outcome(301, "x"), Err(super::DeliveryError::Permanent(_))));
    }
}
