//! `email`: the channel adapter for email. It turns a rendered message into an
//! email (addresses, a Message-ID derived from the outbox key, headers) and
//! hands it to the host's `mail` capability, which builds the MIME and sends
//! it through the operator's relay (or writes it to the outbox folder).

wit_bindgen::generate!({
    world: "channel",
    path: "../../wit",
    with: { "sollecito:plugin/types@0.3.0": sollecito_adapter::types },
});

use sollecito::plugin::mail::{self, Email as Mail};
use sollecito_adapter::Settings;

pub struct EmailAdapter;

/// `"Name" <address>`, quoting the display name so dots and commas are safe.
pub fn mailbox(name: &str, address: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    format!("\"{}\" <{address}>", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `<invoice.step@sender-domain>`: the same for every retry of one outbox row.
/// The host's keys are percent-encoded (`A-Z a-z 0-9 _ -`, `%`, one `/`), so
/// `/` -> `.` and `%` -> `=` keep distinct keys distinct; keys from before the
/// encoding map as they always did.
pub fn message_id(key: &str, sender_email: &str) -> String {
    let domain = sender_email.rsplit_once('@').map_or("sollecito.invalid", |(_, d)| d);
    let local: String = key
        .chars()
        .map(|c| match c {
            '%' => '=',
            c if c.is_ascii_alphanumeric() || "-_.".contains(c) => c,
            _ => '.',
        })
        .collect();
    format!("<{local}@{domain}>")
}

/// Builds the email. Settings: `certified` (true for PEC: a legal notice gets no
/// unsubscribe link), `unsubscribe_url` (else a mailto to the sender).
pub fn build(settings: &Settings, msg: &Message) -> Result<Mail, DeliveryError> {
    let to = msg.recipient.email.as_deref().unwrap_or_default().trim();
    if to.is_empty() {
        return Err(DeliveryError::Permanent(format!("{} has no email address", msg.recipient.name)));
    }
    if !to.contains('@') || to.contains(char::is_whitespace) {
        return Err(DeliveryError::Permanent(format!("{to:?} is not an email address")));
    }
    Ok(Mail {
        message_id: message_id(&msg.key, &msg.sender.email),
        from_address: mailbox(&msg.sender.name, &msg.sender.email),
        to_address: mailbox(&msg.recipient.name, to),
        reply_to: None,
        subject: msg.subject.clone(),
        text: msg.text.clone(),
        html: msg.html.clone(),
        headers: headers(settings, msg),
    })
}

fn headers(settings: &Settings, msg: &Message) -> Vec<(String, String)> {
    let mut headers = vec![
        ("X-Sollecito-Key".into(), msg.key.clone()),
        // Tells auto-responders not to answer a reminder.
        ("Auto-Submitted".into(), "auto-generated".into()),
    ];
    if settings.flag("certified") != Some(true) {
        let link = match settings.get("unsubscribe_url") {
            Some(url) => format!("<{url}>"),
            None => format!("<mailto:{}?subject=unsubscribe%20{}>", msg.sender.email, msg.key.replace('/', "%2F")),
        };
        headers.push(("List-Unsubscribe".into(), link));
    }
    headers
}

impl EmailAdapter {
    fn deliver(settings: &Settings, msg: Message) -> Result<Receipt, DeliveryError> {
        let email = build(settings, &msg)?;
        mail::send(&email).map(|reference| Receipt { reference })
    }
}

sollecito_adapter::channel_adapter!(EmailAdapter);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_mailboxes() {
        assert_eq!(message_id("inv-1/overdue-7", "crediti@acme.example"), "<inv-1.overdue-7@acme.example>");
        assert_eq!(message_id("mid%2EX/s", "a@b.it"), "<mid=2EX.s@b.it>");
        assert_ne!(message_id("mid%2FX/s", "a@b.it"), message_id("mid%2EX/s", "a@b.it"));
        assert_eq!(mailbox("Rossi \"R\" S.r.l.", "a@b.it"), "\"Rossi \\\"R\\\" S.r.l.\" <a@b.it>");
    }
}
