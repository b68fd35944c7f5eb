//! `[sending]`: how often a customer may be contacted, when, and what
//! becomes of a message a stopped worker left in flight.

use std::collections::BTreeMap;

use chrono::{NaiveTime, Weekday};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sending {
    /// Contacts per customer in any 7 days.
    #[serde(default = "default_cap")]
    pub cap_per_week: u32,
    /// Sending windows in the customer's timezone, per channel; `default` for the others.
    #[serde(default)]
    pub windows: BTreeMap<String, Window>,
    /// Channels on which a customer's reminders leaving in the same tick go as
    /// one message listing every invoice (each invoice still records its own step).
    #[serde(default = "consolidated")]
    pub consolidate: Vec<String>,
    /// What happens to a message that was in flight when its worker stopped:
    /// sent again with the same Message-ID or key, or held for a person.
    #[serde(default)]
    pub uncertain: Uncertain,
    /// How long a worker's claim on a message in flight lasts; a stopped
    /// worker's claims come back after it. Longer than any adapter call.
    #[serde(default = "claim_seconds")]
    pub claim_seconds: u64,
    /// Adapter calls in flight at once per channel: what a crash can leave uncertain.
    #[serde(default = "concurrency")]
    pub concurrency: usize,
}

/// `[sending] uncertain`: the operator's choice for a message a crash left in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Uncertain {
    #[default]
    Resend,
    Hold,
}

fn claim_seconds() -> u64 {
    120
}

fn concurrency() -> usize {
    4
}

fn default_cap() -> u32 {
    3
}

fn consolidated() -> Vec<String> {
    vec!["email".into()]
}

impl Default for Sending {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl Sending {
    pub fn window(&self, channel: &str) -> Window {
        self.windows.get(channel).or_else(|| self.windows.get("default")).cloned().unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default = "weekdays", deserialize_with = "de_days")]
    pub days: Vec<Weekday>,
    #[serde(default = "eight", deserialize_with = "de_time")]
    pub from: NaiveTime,
    #[serde(default = "nineteen", deserialize_with = "de_time")]
    pub to: NaiveTime,
}

impl Default for Window {
    fn default() -> Self {
        Window { days: weekdays(), from: eight(), to: nineteen() }
    }
}

fn weekdays() -> Vec<Weekday> {
    vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
}
fn eight() -> NaiveTime {
    NaiveTime::from_hms_opt(8, 0, 0).unwrap()
}
fn nineteen() -> NaiveTime {
    NaiveTime::from_hms_opt(19, 0, 0).unwrap()
}

fn de_days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| {
            n.parse::<Weekday>().map_err(|_| serde::de::Error::custom(format!("unknown day {n:?} (mon, tue, ...)")))
        })
        .collect()
}

fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
    let s = String::deserialize(d)?;
    NaiveTime::parse_from_str(&s, "%H:%M")
        .map_err(|_| serde::de::Error::custom(format!("bad time {s:?}, expected HH:MM")))
}
