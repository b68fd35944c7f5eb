//! `letter`: a printable A4 PDF of the message for ordinary or registered post,
//! written to the letters folder the operator granted. A formal notice goes by
//! registered post unless the setting `registered` says otherwise.

wit_bindgen::generate!({
    world: "channel",
    path: "../../wit",
    with: { "sollecito:plugin/types@0.3.0": sollecito_adapter::types },
});

use sollecito::plugin::files;
use sollecito_adapter::{Settings, Tone};
use sollecito_print::{WIDTH, wrap};

pub struct Letter;

/// The letter as PDF bytes: sender, recipient's address, date line, subject, body.
pub fn pdf(msg: &Message, registered: bool) -> Vec<u8> {
    let mut lines = vec![msg.sender.name.clone(), msg.sender.email.clone(), String::new()];
    lines.push(msg.recipient.name.clone());
    lines.extend(msg.recipient.postal_address.iter().flat_map(|a| a.split(',').map(|p| p.trim().to_string())));
    lines.push(String::new());
    if registered {
        lines.push("RACCOMANDATA A/R - REGISTERED MAIL".into());
    }
    lines.push(msg.subject.clone());
    lines.push(String::new());
    lines.extend(wrap(&msg.text, WIDTH));

    sollecito_print::pdf(&lines)
}

impl Letter {
    fn deliver(settings: &Settings, msg: Message) -> Result<Receipt, DeliveryError> {
        if msg.recipient.postal_address.as_deref().unwrap_or_default().trim().is_empty() {
            return Err(DeliveryError::Permanent(format!("{} has no postal address", msg.recipient.name)));
        }
        let registered = settings.flag("registered").unwrap_or(msg.tone == Tone::Formal);
        let name: String =
            msg.key.chars().map(|c| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '.' }).collect();
        let path = files::write(&format!("{name}.pdf"), &pdf(&msg, registered)).map_err(DeliveryError::Transient)?;
        let post = if registered { "registered post" } else { "ordinary post" };
        Ok(Receipt { reference: format!("{path} ({post})") })
    }
}

sollecito_adapter::channel_adapter!(Letter);
