//! A reader author's scenarios: replies as customers write them, the day
//! each was written, and what it should be read to say. `sollecito plugin
//! test` hands each to the reader and compares.
//!
//! ```toml
//! name = "Promises in Italian"
//! written_on = 2026-12-06
//! locale = "it-IT"
//!
//! [[reply]]
//! text = "Pagheremo il 20 dicembre"
//! intent = "promise"
//! on = 2026-12-20
//! ```

use std::path::Path;

use chrono::{NaiveDate, NaiveTime};
use serde::Deserialize;

use super::scenario::{BadScenario, Verdict};
use crate::reading::{Reading, WrittenReply};
use crate::sandbox::Plugin;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReaderFile {
    name: Option<String>,
    /// The day the replies were written, unless one says otherwise.
    written_on: NaiveDate,
    #[serde(default = "locale")]
    locale: String,
    reply: Vec<ReplyFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyFile {
    text: String,
    #[serde(default)]
    subject: String,
    locale: Option<String>,
    written_on: Option<NaiveDate>,
    /// `says-paid`, `promise`, `dispute`, `question`, `other`.
    intent: String,
    /// A promise's day, or the day a payment was made.
    on: Option<NaiveDate>,
    reference: Option<String>,
    /// Words the dispute's reason must hold.
    reason: Option<String>,
}

fn locale() -> String {
    "en-GB".into()
}

const INTENTS: [&str; 5] = ["says-paid", "promise", "dispute", "question", "other"];

/// A reader's scenario, read and checked.
pub struct ReaderScenario {
    file: String,
    raw: ReaderFile,
}

impl ReaderScenario {
    pub fn read(path: &Path) -> anyhow::Result<ReaderScenario> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| BadScenario {
            file: file.clone(),
            field: "file".into(),
            reason: format!("cannot read: {e}"),
        })?;
        ReaderScenario::parse(&file, &text)
    }

    pub fn parse(file: &str, text: &str) -> anyhow::Result<ReaderScenario> {
        let bad = |field: &str, reason: String| BadScenario { file: file.to_string(), field: field.into(), reason };
        let toml: toml::Value = toml::from_str(text).map_err(|e| bad("scenario", e.message().trim().into()))?;
        let raw: ReaderFile =
            serde_json::from_value(super::scenario::json_of(toml)).map_err(|e| bad("scenario", e.to_string()))?;
        if raw.reply.is_empty() {
            return Err(bad("reply", "a reader's scenario needs at least one [[reply]]".into()).into());
        }
        for (n, r) in raw.reply.iter().enumerate() {
            if !INTENTS.contains(&r.intent.as_str()) {
                let why = format!("{:?}: one of {}", r.intent, INTENTS.join(", "));
                return Err(bad(&format!("reply[{}].intent", n + 1), why).into());
            }
            if r.intent == "promise" && r.on.is_none() {
                return Err(bad(&format!("reply[{}].on", n + 1), "a promise's day is expected".into()).into());
            }
        }
        Ok(ReaderScenario { file: file.to_string(), raw })
    }

    /// Hands every reply to `reader`; a reading other than expected is a difference.
    pub fn play(self, reader: &Plugin) -> Verdict {
        let mut differences = vec![];
        for (n, r) in self.raw.reply.iter().enumerate() {
            let written_on = r.written_on.unwrap_or(self.raw.written_on);
            let reply = WrittenReply {
                written: written_on
                    .and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default())
                    .and_utc()
                    .timestamp(),
                written_on,
                locale: r.locale.clone().unwrap_or_else(|| self.raw.locale.clone()),
                subject: r.subject.clone(),
                text: r.text.clone(),
            };
            let read = reader.read_reply(&[], &reply, reply.written);
            let shown: String = r.text.chars().take(60).collect();
            if let Some(why) = differs(r, &read) {
                differences.push(format!("~ reply {} ({shown:?}): {why}", n + 1));
            }
        }
        Verdict {
            file: self.file,
            name: self.raw.name.unwrap_or_else(|| "replies".into()),
            passed: differences.is_empty(),
            actions: self.raw.reply.len(),
            differences,
            fuel: Default::default(),
        }
    }
}

/// How the reading differs from what was expected, in words.
fn differs(expected: &ReplyFile, read: &Result<Reading, String>) -> Option<String> {
    let reading = match read {
        Ok(reading) => reading,
        Err(why) => return Some(format!("expected {}, the reader failed: {why}", expected.intent)),
    };
    let got = serde_json::to_value(reading).unwrap_or_default();
    let said = got.to_string();
    if got["intent"] != expected.intent.as_str() {
        return Some(format!("expected {}, read {said}", expected.intent));
    }
    let day = match reading {
        Reading::Promise { until } => Some(*until),
        Reading::SaysPaid { on, .. } => *on,
        _ => None,
    };
    if expected.on.is_some() && expected.on != day {
        return Some(format!(
            "expected the day {}, read {said}",
            expected.on.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    if let (Some(want), Reading::SaysPaid { reference, .. }) = (&expected.reference, reading)
        && reference.as_ref() != Some(want)
    {
        return Some(format!("expected the reference {want}, read {said}"));
    }
    if let (Some(want), Reading::Dispute { reason }) = (&expected.reason, reading)
        && !reason.to_lowercase().contains(&want.to_lowercase())
    {
        return Some(format!("expected a reason with {want:?}, read {said}"));
    }
    None
}
