//! `phone-task`: a call for a person to make. The task carries the invoice
//! facts and a script in the customer's language (the rendered message); it
//! shows up in `sollecito tasks`.

wit_bindgen::generate!({
    world: "channel",
    path: "../../wit",
    with: { "sollecito:plugin/types@0.3.0": sollecito_adapter::types },
});

use sollecito::plugin::tasks;
use sollecito_adapter::Settings;

pub struct PhoneTask;

impl PhoneTask {
    fn deliver(_settings: &Settings, msg: Message) -> Result<Receipt, DeliveryError> {
        let Some(phone) = msg.recipient.phone.clone().filter(|p| !p.trim().is_empty()) else {
            return Err(DeliveryError::Permanent(format!("{} has no phone number to call", msg.recipient.name)));
        };
        let task = tasks::Task {
            key: msg.key.clone(),
            title: format!("Call {} about invoice {}", msg.recipient.name, msg.invoice_number),
            customer: msg.recipient.name.clone(),
            phone: Some(phone),
            script: msg.text.clone(),
        };
        tasks::open(&task).map(|reference| Receipt { reference }).map_err(DeliveryError::Permanent)
    }
}

sollecito_adapter::channel_adapter!(PhoneTask);
