//! A seeded model of how customers answer a contact, for what-if runs
//! (`simulate --responses MODEL`): the chance of paying within some days
//! after a message, by tone, channel and how late the invoice is. The draw
//! for a message is a hash of (seed, invoice, step), so a run is the same
//! every time and does not depend on the order messages leave in.

use std::collections::HashSet;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::store::SentRow;

/// Who pays after which contact: the first rule that matches a message applies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseModel {
    pub seed: u64,
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// `courteous` ... `formal`; any tone when absent.
    pub tone: Option<String>,
    /// Any channel when absent.
    pub channel: Option<String>,
    /// Days overdue at the contact, inclusive bounds (negative: before the due date).
    #[serde(default = "far_before")]
    pub overdue_from: i64,
    #[serde(default = "far_after")]
    pub overdue_to: i64,
    /// The customer pays within this many days of the message...
    pub within_days: u32,
    /// ...with this probability.
    pub probability: f64,
}

fn far_before() -> i64 {
    -10_000
}

fn far_after() -> i64 {
    10_000
}

impl ResponseModel {
    /// Reads and checks a model file; every mistake names its place.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let model: ResponseModel = toml::from_str(&text)
            .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim().replace('\n', " ")))?;
        for (i, rule) in model.rules.iter().enumerate() {
            let at = format!("{}: rule {}", path.display(), i + 1);
            if !(0.0..=1.0).contains(&rule.probability) {
                return Err(format!("{at}: probability {} is not between 0 and 1", rule.probability));
            }
            if rule.within_days == 0 || rule.within_days > 365 {
                return Err(format!("{at}: within_days must be 1 to 365"));
            }
            if rule.overdue_from > rule.overdue_to {
                return Err(format!("{at}: overdue_from is after overdue_to"));
            }
            if let Some(tone) = &rule.tone
                && crate::decision::Tone::parse(tone).is_none()
            {
                return Err(format!("{at}: tone {tone:?} is not one of courteous, soft, firm, final, formal"));
            }
        }
        if model.rules.is_empty() {
            return Err(format!("{}: no [[rule]]", path.display()));
        }
        Ok(model)
    }

    /// A number in [0, 1) for a message and a purpose, the same every run.
    fn draw(&self, invoice: &str, step: &str, purpose: u8) -> f64 {
        let digest = Sha256::new()
            .chain_update(self.seed.to_be_bytes())
            .chain_update(invoice)
            .chain_update([0])
            .chain_update(step)
            .chain_update([purpose])
            .finalize();
        let n = u64::from_be_bytes(digest[..8].try_into().expect("eight bytes"));
        (n >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The day the customer pays after this message, if they do. `due` is the invoice's due date.
    pub fn answer(&self, sent: &SentRow, due: NaiveDate) -> Option<NaiveDate> {
        let day = chrono::DateTime::from_timestamp(sent.at, 0)?.date_naive();
        let overdue = (day - due).num_days();
        let rule = self.rules.iter().find(|r| {
            r.tone.as_deref().is_none_or(|t| sent.tone.as_deref() == Some(t))
                && r.channel.as_deref().is_none_or(|c| sent.channel.as_deref() == Some(c))
                && (r.overdue_from..=r.overdue_to).contains(&overdue)
        })?;
        if self.draw(&sent.invoice_id, &sent.step, 0) >= rule.probability {
            return None;
        }
        let after = (self.draw(&sent.invoice_id, &sent.step, 1) * f64::from(rule.within_days)) as u64;
        Some(day + chrono::Days::new(after.max(1)))
    }
}

/// Invoices already answered in a run: a customer pays an invoice once.
#[derive(Default)]
pub struct Answered(HashSet<String>);

impl Answered {
    pub fn first(&mut self, invoice: &str) -> bool {
        self.0.insert(invoice.to_string())
    }
}
