//! A customer's reply as the reader plugin is handed it, and what the reader
//! read it to say, in the host's own terms (the sandbox converts them to and
//! from each contract version's).

use chrono::NaiveDate;
use serde::Serialize;

use crate::invoice::ReplyIntent;

/// One reply, in the customer's own words (quotes and signature removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenReply {
    /// When it was written (its `Date`), else when it came in; Unix seconds.
    pub written: i64,
    /// The day it was written on, in the writer's own UTC offset.
    pub written_on: NaiveDate,
    /// The customer's locale (BCP 47).
    pub locale: String,
    pub subject: String,
    pub text: String,
}

/// What a reply says, as the reader read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "intent", rename_all = "kebab-case")]
pub enum Reading {
    SaysPaid { on: Option<NaiveDate>, reference: Option<String> },
    Promise { until: NaiveDate },
    Dispute { reason: String },
    Question,
    Other,
}

impl Reading {
    pub fn intent(&self) -> ReplyIntent {
        match self {
            Reading::SaysPaid { .. } => ReplyIntent::SaysPaid,
            Reading::Promise { .. } => ReplyIntent::Promise,
            Reading::Dispute { .. } => ReplyIntent::Dispute,
            Reading::Question => ReplyIntent::Question,
            Reading::Other => ReplyIntent::Other,
        }
    }
}
