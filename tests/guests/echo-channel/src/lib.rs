//! A channel adapter from outside the project that delivers nowhere: its
//! receipt says it was used, which is what the adapter-swap test looks for.

wit_bindgen::generate!({ world: "channel", path: "../../../wit" });

struct Echo;

impl Guest for Echo {
    fn describe() -> PluginInfo {
        PluginInfo { name: "echo".into(), version: "2.0.0".into(), summary: "delivers nowhere".into() }
    }

    fn deliver(_settings: Vec<Setting>, msg: Message) -> Result<Receipt, DeliveryError> {
        Ok(Receipt { reference: format!("echo:{}", msg.key) })
    }
}

export!(Echo);
