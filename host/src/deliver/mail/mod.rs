//! The host side of the `mail` capability: MIME through lettre, then an SMTP
//! relay (`smtp.rs`) or a folder of `.eml` files.

use std::path::PathBuf;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message, MultiPart, SinglePart};

pub use self::smtp::{SmtpOptions, SmtpRelay};
use crate::outgoing::Email;
use crate::sandbox::{MailRelay, RelayError};

mod smtp;

pub enum LettreRelay {
    /// One file per message, named after its Message-ID: sending the same
    /// message again (after a crash) rewrites the same file.
    Folder(PathBuf),
    Smtp(Box<SmtpRelay>),
}

impl LettreRelay {
    pub fn folder(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(LettreRelay::Folder(dir))
    }

    /// A relay from `smtp_url`, `tls`, `ca_file` and `connections` of `section`
    /// (`email` or `channels.NAME`); errors name the field and never the password.
    pub fn smtp(section: &str, options: &SmtpOptions) -> anyhow::Result<Self> {
        Ok(LettreRelay::Smtp(Box::new(SmtpRelay::new(section, options)?)))
    }
}

/// A fault of the operator's setup (the sender, a header the adapter built), not the recipient's.
fn setup(what: &str, e: impl std::fmt::Display) -> RelayError {
    RelayError::Setup(format!("{what}: {e}"))
}

/// Builds the MIME message: a plain-text and, when given, an HTML alternative.
pub fn mime(email: &Email, now: i64) -> Result<Message, RelayError> {
    let from: Mailbox = email.from_address.parse().map_err(|e| setup("bad From address", e))?;
    let to: Mailbox = email.to_address.parse().map_err(|e| RelayError::Recipient(format!("bad To address: {e}")))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(email.message_id.clone()))
        .date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.max(0) as u64));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(reply_to.parse().map_err(|e| setup("bad Reply-To address", e))?);
    }
    for (name, value) in &email.headers {
        let name = HeaderName::new_from_ascii(name.clone()).map_err(|e| setup("bad header name", e))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let built = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.text.clone(), html.clone())),
        None => builder.singlepart(SinglePart::plain(email.text.clone())),
    };
    built.map_err(|e| setup("cannot build the message", e))
}

/// A file name from a Message-ID: letters, digits, `-`, `_`, `.` and `=` (the keys' escapes) only.
fn file_name(message_id: &str) -> String {
    let id = message_id.trim_matches(|c| c == '<' || c == '>');
    let id = id.split('@').next().unwrap_or(id);
    let safe: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.=".contains(c) { c } else { '_' }).collect();
    format!("{safe}.eml")
}

impl MailRelay for LettreRelay {
    fn send(&self, email: &Email, now: i64) -> Result<String, RelayError> {
        let message = mime(email, now)?;
        match self {
            LettreRelay::Folder(dir) => {
                let path = dir.join(file_name(&email.message_id));
                let tmp = path.with_extension("eml.tmp");
                std::fs::write(&tmp, message.formatted())
                    .and_then(|_| std::fs::rename(&tmp, &path))
                    .map_err(|e| RelayError::Setup(format!("writing {}: {e}", path.display())))?;
                Ok(path.display().to_string())
            }
            LettreRelay::Smtp(relay) => {
                let envelope = match &email.envelope_from {
                    Some(from) => {
                        let from = from.parse().map_err(|e| setup("bad return path", e))?;
                        lettre::address::Envelope::new(Some(from), message.envelope().to().to_vec())
                            .map_err(|e| setup("bad return path", e))?
                    }
                    None => message.envelope().clone(),
                };
                relay.send_smtp(&message, &envelope)
            }
        }
    }
}
