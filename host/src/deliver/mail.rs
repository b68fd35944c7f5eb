//! The host side of the `mail` capability: MIME through lettre, then an SMTP
//! relay or a folder of `.eml` files.

use std::path::PathBuf;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message, MultiPart, SinglePart};
use lettre::{SmtpTransport, Transport};

use crate::sandbox::MailRelay;
use crate::sandbox::v0_1::{DeliveryError, Email};

pub enum LettreRelay {
    /// One file per message, named after its Message-ID: sending the same
    /// message again (after a crash) rewrites the same file.
    Folder(PathBuf),
    Smtp(Box<SmtpTransport>),
}

impl LettreRelay {
    pub fn folder(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(LettreRelay::Folder(dir))
    }

    /// `smtp://[user:password@]host[:port]`: a relay reached without TLS (a
    /// local relay or one on a private network; TLS relays are for a later version).
    pub fn smtp(url: &str) -> anyhow::Result<Self> {
        // Never echo the credentials of the URL.
        let shown = match url.rsplit_once('@') {
            Some((_, host)) => format!("smtp://***@{host}"),
            None => url.to_string(),
        };
        let bad = |why: &str| anyhow::anyhow!("email.smtp_url {shown:?}: {why}");
        let rest = url.strip_prefix("smtp://").ok_or_else(|| bad("expected smtp://host:port"))?;
        let (credentials, address) = match rest.rsplit_once('@') {
            Some((c, a)) => (Some(c), a),
            None => (None, rest),
        };
        let address = address.trim_end_matches('/');
        let (host, port) = match address.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("bad port"))?),
            None => (address, 25),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let mut builder =
            SmtpTransport::builder_dangerous(host).port(port).timeout(Some(std::time::Duration::from_secs(20)));
        if let Some(c) = credentials {
            let (user, password) = c.split_once(':').ok_or_else(|| bad("credentials must be user:password"))?;
            builder = builder
                .credentials(lettre::transport::smtp::authentication::Credentials::new(user.into(), password.into()));
        }
        Ok(LettreRelay::Smtp(Box::new(builder.build())))
    }
}

fn permanent(what: &str, e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Permanent(format!("{what}: {e}"))
}

/// Builds the MIME message: a plain-text and, when given, an HTML alternative.
pub fn mime(email: &Email, now: i64) -> Result<Message, DeliveryError> {
    let from: Mailbox = email.from_address.parse().map_err(|e| permanent("bad From address", e))?;
    let to: Mailbox = email.to_address.parse().map_err(|e| permanent("bad To address", e))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(email.message_id.clone()))
        .date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.max(0) as u64));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(reply_to.parse().map_err(|e| permanent("bad Reply-To address", e))?);
    }
    for (name, value) in &email.headers {
        let name = HeaderName::new_from_ascii(name.clone()).map_err(|e| permanent("bad header name", e))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let built = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.text.clone(), html.clone())),
        None => builder.singlepart(SinglePart::plain(email.text.clone())),
    };
    built.map_err(|e| permanent("cannot build the message", e))
}

/// A file name from a Message-ID: letters, digits, '-', '_' and '.' only.
fn file_name(message_id: &str) -> String {
    let id = message_id.trim_matches(|c| c == '<' || c == '>');
    let id = id.split('@').next().unwrap_or(id);
    let safe: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    format!("{safe}.eml")
}

impl MailRelay for LettreRelay {
    fn send(&self, email: &Email, now: i64) -> Result<String, DeliveryError> {
        let message = mime(email, now)?;
        match self {
            LettreRelay::Folder(dir) => {
                let path = dir.join(file_name(&email.message_id));
                let tmp = path.with_extension("eml.tmp");
                std::fs::write(&tmp, message.formatted())
                    .and_then(|_| std::fs::rename(&tmp, &path))
                    .map_err(|e| DeliveryError::Transient(format!("writing {}: {e}", path.display())))?;
                Ok(path.display().to_string())
            }
            LettreRelay::Smtp(transport) => match transport.send(&message) {
                Ok(response) => Ok(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "))),
                Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(format!("SMTP relay refused: {e}"))),
                Err(e) => Err(DeliveryError::Transient(format!("SMTP relay: {e}"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_relay_url_is_named_without_its_password() {
        let err = LettreRelay::smtp("smtp://user:s3cret@relay:notaport").err().unwrap().to_string();
        assert!(err.contains("bad port") && !err.contains("s3cret"), "{err}");
    }

    #[test]
    fn file_names_follow_the_message_id() {
        assert_eq!(file_name("<inv-1001.overdue-7@sollecito.example>"), "inv-1001.overdue-7.eml");
        assert_eq!(file_name("<a/b c@x>"), "a_b_c.eml");
    }

    #[test]
    fn a_message_has_both_parts_and_the_headers() {
        let email = Email {
            message_id: "<k1@example.com>".into(),
            from_address: "Crediti <crediti@example.com>".into(),
            to_address: "Mario Rossi <mario@example.it>".into(),
            reply_to: None,
            subject: "Fattura 12".into(),
            text: "Testo".into(),
            html: Some("<p>Testo</p>".into()),
            headers: vec![("X-Sollecito-Key".into(), "inv/1".into())],
        };
        let raw = String::from_utf8(mime(&email, 0).unwrap().formatted()).unwrap();
        assert!(raw.contains("Message-ID: <k1@example.com>"), "{raw}");
        assert!(raw.contains("X-Sollecito-Key: inv/1"));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/html"));
        let bad = Email { to_address: "not an address".into(), ..email };
        assert!(matches!(mime(&bad, 0), Err(DeliveryError::Permanent(_))));
    }
}
