//! `[portal]`: the customer's page, and the signed link to it in every message.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Portal {
    /// Where customers reach `serve` (`https://pay.acme.example`): every
    /// message links to `{base_url}/p/{token}`. Unset, no message has a link.
    pub base_url: Option<String>,
    /// Names of secrets (in `[secrets]`, 32 bytes or more) that sign the links:
    /// the first signs, every one verifies (add a new key first to rotate).
    #[serde(default)]
    pub keys: Vec<String>,
    /// Days a link opens the page (default 60).
    #[serde(default = "link_days")]
    pub link_days: u32,
    /// The account customers pay into by bank transfer, shown with a creditor
    /// reference per invoice and, for euros, the EPC QR code.
    pub iban: Option<String>,
    pub bic: Option<String>,
    /// The account holder (default: `[business] name`).
    pub beneficiary: Option<String>,
    /// The furthest day, in days from today, a customer may promise on the page.
    #[serde(default = "max_promise_days")]
    pub max_promise_days: u32,
    /// Days "I have paid" holds reminders while a person verifies the payment.
    #[serde(default = "verify_days")]
    pub verify_days: u32,
    /// Requests a minute to the page from one address (default 120; 0, no
    /// limit). Behind a proxy every customer comes from its address: raise it.
    #[serde(default = "per_address_minute")]
    pub per_address_minute: u32,
    /// A folder of `portal-{lang}.toml` files whose words replace the page's own.
    pub words_dir: Option<std::path::PathBuf>,
}

fn per_address_minute() -> u32 {
    120
}

fn max_promise_days() -> u32 {
    60
}

fn verify_days() -> u32 {
    5
}

fn link_days() -> u32 {
    60
}

impl Default for Portal {
    fn default() -> Self {
        Portal {
            base_url: None,
            keys: vec![],
            link_days: link_days(),
            iban: None,
            bic: None,
            beneficiary: None,
            max_promise_days: max_promise_days(),
            verify_days: verify_days(),
            per_address_minute: per_address_minute(),
            words_dir: None,
        }
    }
}
