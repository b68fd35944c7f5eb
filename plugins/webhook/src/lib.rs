//! `webhook`: posts the message as signed JSON to a URL the operator set (a
//! chat tool, the customer's own system). The signature header is
//! `X-Sollecito-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

wit_bindgen::generate!({ world: "channel", path: "../../wit" });

use sollecito::plugin::http;
use sollecito::plugin::secrets;

pub struct Webhook;

fn setting<'a>(settings: &'a [Setting], key: &str) -> Option<&'a str> {
    settings.iter().find(|s| s.key == key).map(|s| s.value.as_str())
}

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
    match status {
        200..=299 => Ok(Receipt { reference: format!("{what}: HTTP {status}") }),
        408 | 429 | 500..=599 => Err(DeliveryError::Transient(format!("{what}: HTTP {status}"))),
        _ => Err(DeliveryError::Permanent(format!("{what}: HTTP {status}"))),
    }
}

impl Guest for Webhook {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "webhook".into(),
            version: "0.1.0".into(),
            summary: "Signed JSON POST (HMAC-SHA256) to a configured URL.".into(),
        }
    }

    fn deliver(settings: Vec<Setting>, msg: Message) -> Result<Receipt, DeliveryError> {
        let url =
            setting(&settings, "url").ok_or_else(|| DeliveryError::Permanent("setting `url` is missing".into()))?;
        let secret_name = setting(&settings, "secret").unwrap_or("webhook_signing");
        let secret = secrets::get(secret_name)
            .ok_or_else(|| DeliveryError::Permanent(format!("the signing secret {secret_name:?} is not granted")))?;
        // The host gives every call the tick's time as the clock.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let body = body(&msg);
        let request = http::Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Idempotency-Key".into(), msg.key.clone()),
                (sollecito_signing::HEADER.into(), sollecito_signing::header(&secret, t, &body)),
            ],
            body,
        };
        match http::send(&request) {
            Ok(response) => outcome(response.status, url),
            Err(e) if e.starts_with("denied") => Err(DeliveryError::Permanent(e)),
            Err(e) => Err(DeliveryError::Transient(e)),
        }
    }
}

export!(Webhook);

#[cfg(test)]
mod tests {
    #[test]
    fn statuses() {
        assert!(super::outcome(204, "x").is_ok());
        assert!(matches!(super::outcome(503, "x"), Err(super::DeliveryError::Transient(_))));
        assert!(matches!(super::outcome(400, "x"), Err(super::DeliveryError::Permanent(_))));
    }
}
