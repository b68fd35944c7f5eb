//! `phone-task`: a call for a person to make. The task carries the invoice
//! facts and a script in the customer's language (the rendered message); it
//! shows up in `sollecito tasks`.

wit_bindgen::generate!({ world: "channel", path: "../../wit" });

use sollecito::plugin::tasks;

pub struct PhoneTask;

impl Guest for PhoneTask {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "phone-task".into(),
            version: "0.1.0".into(),
            summary: "Opens a task for a person to call the customer, with a script in their language.".into(),
        }
    }

    fn deliver(_settings: Vec<Setting>, msg: Message) -> Result<Receipt, DeliveryError> {
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

export!(PhoneTask);
