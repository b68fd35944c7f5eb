//! `sms`: texts through an HTTP API of the Twilio shape (form POST of To, From
//! and Body, basic auth from a granted secret `user:password`). A text longer
//! than the channel allows is cut, keeping the payment link whole.

wit_bindgen::generate!({
    world: "channel",
    path: "../../wit",
    with: { "sollecito:plugin/types@0.3.0": sollecito_adapter::types },
});

use base64::Engine;
use sollecito_adapter::{Request, Settings, send};

pub struct Sms;

/// The text: the subject (it names the invoice) and the payment link, within `max` characters.
pub fn text(subject: &str, link: Option<&str>, max: usize) -> String {
    let tail = link.map(|l| format!(" {l}")).unwrap_or_default();
    let room = max.saturating_sub(tail.chars().count());
    let subject: String = if subject.chars().count() <= room {
        subject.to_string()
    } else {
        let mut cut: String = subject.chars().take(room.saturating_sub(1)).collect();
        cut.push('…');
        cut
    };
    format!("{subject}{tail}")
}

fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

impl Sms {
    fn deliver(settings: &Settings, msg: Message) -> Result<Receipt, DeliveryError> {
        let permanent = |s: String| DeliveryError::Permanent(s);
        let url = settings.required("url")?;
        let from = settings.required("from")?;
        // Lenient on purpose, as it always was: a value that is not a number means 160.
        let max = settings.get("max_length").and_then(|v| v.parse().ok()).unwrap_or(160);
        let to = msg
            .recipient
            .phone
            .as_deref()
            .ok_or_else(|| permanent(format!("{} has no phone number", msg.recipient.name)))?;
        let auth = settings.secret("sms_auth")?;
        let body = form(&[("To", to), ("From", from), ("Body", &text(&msg.subject, msg.payment_link.as_deref(), max))]);
        let request = Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![
                ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
                ("Authorization".into(), format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(auth))),
            ],
            body: body.into_bytes(),
        };
        let response = send(&request)?;
        let answer: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let detail = answer["message"].as_str().unwrap_or_default();
        // Unlike the kit's `classify`, a 408 here is final, as it always was.
        match response.status {
            200..=299 => Ok(Receipt { reference: answer["sid"].as_str().unwrap_or("accepted").to_string() }),
            429 | 500..=599 => Err(DeliveryError::Transient(format!("SMS API: HTTP {} {detail}", response.status))),
            status => Err(permanent(format!("SMS API refused: HTTP {status} {detail}"))),
        }
    }
}

sollecito_adapter::channel_adapter!(Sms);

#[cfg(test)]
mod tests {
    #[test]
    fn the_link_survives_the_cut() {
        let link = "https://pay.example/inv-1";
        let t = super::text(&"Fattura 2026/1001 scaduta ".repeat(10), Some(link), 70);
        assert_eq!(t.chars().count(), 70);
        assert!(t.ends_with(link));
        assert_eq!(super::text("Short", Some(link), 160), format!("Short {link}"));
        assert_eq!(super::form(&[("Body", "a b&c")]), "Body=a+b%26c");
    }
}
