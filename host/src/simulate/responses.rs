//! A seeded model of how customers answer a contact, for what-if runs
//! (`simulate --responses MODEL`): the chance of paying within some days
//! after a message, by tone, channel and how late the invoice is. The draw
//! for a message is a hash of (seed, invoice, step), so a run is the same
//! every time and does not depend on the order messages leave in.

use std::collections::HashSet;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::SentRow;

/// Who pays after which contact: the first rule that matches a message applies.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseModel {
    pub seed: u64,
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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

/// The days-overdue bands a fitted model tells apart.
const BANDS: [(i64, i64); 4] = [(-10_000, 0), (1, 30), (31, 60), (61, 10_000)];

/// Messages a band needs before it becomes a rule of a fitted model.
const FEWEST: usize = 20;

/// A model fitted from what happened: for each tone, channel and band of
/// days overdue, the share of messages after which the invoice was paid
/// within `within_days`, that message being the last touch.
pub fn fit(
    sent: &[SentRow],
    outcomes: &[crate::store::OutcomeRow],
    due: &std::collections::HashMap<String, NaiveDate>,
    within_days: u32,
) -> ResponseModel {
    use std::collections::BTreeMap;
    let answered: HashSet<(&str, &str)> = outcomes
        .iter()
        .filter(|o| {
            o.kind == crate::event::OutcomeKind::Paid
                && o.after_touch.is_some_and(|s| s <= i64::from(within_days) * 86_400)
        })
        .filter_map(|o| Some((o.invoice_id.as_str(), o.touch_step.as_deref()?)))
        .collect();
    // (tone, channel, band) -> (messages, paid after)
    let mut counts: BTreeMap<(String, String, usize), (usize, usize)> = BTreeMap::new();
    for s in sent.iter().filter(|s| !s.bounced) {
        let (Some(due), Some(day)) = (due.get(&s.invoice_id), chrono::DateTime::from_timestamp(s.at, 0)) else {
            continue;
        };
        let overdue = (day.date_naive() - *due).num_days();
        let Some(band) = BANDS.iter().position(|(from, to)| (*from..=*to).contains(&overdue)) else { continue };
        let key = (s.tone.clone().unwrap_or_default(), s.channel.clone().unwrap_or_default(), band);
        let entry = counts.entry(key).or_default();
        entry.0 += 1;
        entry.1 += usize::from(answered.contains(&(s.invoice_id.as_str(), s.step.as_str())));
    }
    let rules = counts
        .into_iter()
        .filter(|(_, (messages, _))| *messages >= FEWEST)
        .map(|((tone, channel, band), (messages, paid))| Rule {
            tone: (!tone.is_empty()).then_some(tone),
            channel: (!channel.is_empty()).then_some(channel),
            overdue_from: BANDS[band].0,
            overdue_to: BANDS[band].1,
            within_days,
            probability: (paid as f64 / messages as f64 * 1000.0).round() / 1000.0,
        })
        .collect();
    ResponseModel { seed: 1, rules }
}
