//! `sms`: texts through an HTTP API of the Twilio shape (form POST of To, From
//! and Body, basic auth from a granted secret `user:password`). A text longer
//! than the channel allows is cut, keeping the payment link whole.

wit_bindgen::generate!({ world: "channel", path: "../../wit" });

use base64::Engine;
use sollecito::plugin::http;
use sollecito::plugin::secrets;

pub struct Sms;

fn setting<'a>(settings: &'a [Setting], key: &str) -> Option<&'a str> {
    settings.iter().find(|s| s.key == key).map(|s| s.value.as_str())
}

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

impl Guest for Sms {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "sms".into(),
            version: "0.1.0".into(),
            summary: "SMS through a Twilio-shaped HTTP API; the payment link is always kept.".into(),
        }
    }

    fn deliver(settings: Vec<Setting>, msg: Message) -> Result<Receipt, DeliveryError> {
        let permanent = |s: String| DeliveryError::Permanent(s);
        let url = setting(&settings, "url").ok_or_else(|| permanent("setting `url` is missing".into()))?;
        let from = setting(&settings, "from").ok_or_else(|| permanent("setting `from` is missing".into()))?;
        let max = setting(&settings, "max_length").and_then(|v| v.parse().ok()).unwrap_or(160);
        let to = msg
            .recipient
            .phone
            .as_deref()
            .ok_or_else(|| permanent(format!("{} has no phone number", msg.recipient.name)))?;
        let secret_name = setting(&settings, "secret").unwrap_or("sms_auth");
        let auth =
            secrets::get(secret_name).ok_or_else(|| permanent(format!("the secret {secret_name:?} is not granted")))?;
        let body = form(&[("To", to), ("From", from), ("Body", &text(&msg.subject, msg.payment_link.as_deref(), max))]);
        let request = http::Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![
                ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
                ("Authorization".into(), format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(auth))),
            ],
            body: body.into_bytes(),
        };
        let response = match http::send(&request) {
            Ok(r) => r,
            Err(e) if e.starts_with("denied") => return Err(permanent(e)),
            Err(e) => return Err(DeliveryError::Transient(e)),
        };
        let answer: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let detail = answer["message"].as_str().unwrap_or_default();
        match response.status {
            200..=299 => Ok(Receipt { reference: answer["sid"].as_str().unwrap_or("accepted").to_string() }),
            429 | 500..=599 => Err(DeliveryError::Transient(format!("SMS API: HTTP {} {detail}", response.status))),
            status => Err(permanent(format!("SMS API refused: HTTP {status} {detail}"))),
        }
    }
}

export!(Sms);

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
