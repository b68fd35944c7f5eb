//! `[inbound]`: what a reply, a bounce or a complaint that comes back does.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    /// Working days a customer's reply holds what touches them, for a person to read it.
    #[serde(default = "pause_days")]
    pub pause_days: u32,
    /// A mailbox to read what comes back from: `imaps://USER@HOST[:PORT]/FOLDER`.
    pub imap_url: Option<String>,
    /// The secret (from `[secrets]`) holding the mailbox's password.
    pub imap_password: Option<String>,
    /// Where each message goes once it is kept.
    #[serde(default = "imap_done")]
    pub imap_done: String,
    /// Certificate authorities (PEM) to trust for the mailbox instead of the public ones.
    pub imap_ca_file: Option<std::path::PathBuf>,
    /// Messages from one sender in an hour beyond which the rest are quarantined
    /// unread (an auto-responder in a loop, a flood).
    #[serde(default = "max_per_sender_hour")]
    pub max_per_sender_hour: u32,
    /// The plugin that reads what a reply says: a bundled one's name or a `.wasm` path.
    #[serde(default = "reader")]
    pub reader: String,
    /// The furthest day, in days from the reply, a promise read from a reply
    /// is taken for; one further is for a person.
    #[serde(default = "max_promise_days")]
    pub max_promise_days: u32,
    /// The name the operator's own mail server signs its `Authentication-Results`
    /// with: a reply it found forged (DMARC fail, or SPF fail without a DKIM
    /// pass) changes nothing. Unset, the header is not read: anyone can write one.
    pub authserv_id: Option<String>,
}

impl Default for Inbound {
    fn default() -> Self {
        Inbound {
            pause_days: pause_days(),
            imap_url: None,
            imap_password: None,
            imap_done: imap_done(),
            imap_ca_file: None,
            max_per_sender_hour: max_per_sender_hour(),
            reader: reader(),
            max_promise_days: max_promise_days(),
            authserv_id: None,
        }
    }
}

fn reader() -> String {
    "reader".into()
}

fn max_promise_days() -> u32 {
    60
}

fn max_per_sender_hour() -> u32 {
    30
}

fn imap_done() -> String {
    "sollecito-handled".into()
}

fn pause_days() -> u32 {
    3
}
