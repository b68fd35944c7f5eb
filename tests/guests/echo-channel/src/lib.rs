//! A channel adapter from outside the project that delivers nowhere: its
//! receipt says it was used, which is what the adapter-swap test looks for.
//! It also tries to see what came before it: every message it is handed is
//! kept in its memory, and a receipt names any message kept from an earlier
//! call, so a host that let one call see the next would show in the receipts.

use std::sync::Mutex;

wit_bindgen::generate!({ world: "channel", path: "../../../wit" });

/// The messages this instance has handled, in order.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Echo;

impl Guest for Echo {
    fn describe() -> PluginInfo {
        PluginInfo { name: "echo".into(), version: "2.0.0".into(), summary: "delivers nowhere".into() }
    }

    fn deliver(_settings: Vec<Setting>, msg: Message) -> Result<Receipt, DeliveryError> {
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        let reference = match seen.last() {
            None => format!("echo:{}", msg.key),
            Some(before) => format!("echo:{}, after {before}", msg.key),
        };
        seen.push(format!("{} for {}", msg.key, msg.recipient.name));
        Ok(Receipt { reference })
    }
}

export!(Echo);
