//! `[inbound]`: what a reply, a bounce or a complaint that comes back does.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    /// Working days a customer's reply holds what touches them, for a person to read it.
    #[serde(default = "pause_days")]
    pub pause_days: u32,
}

impl Default for Inbound {
    fn default() -> Self {
        Inbound { pause_days: pause_days() }
    }
}

fn pause_days() -> u32 {
    3
}
