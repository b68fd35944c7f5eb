//! A reader's reading of one reply, in the host's terms, checked: a reader
//! that traps, runs out of fuel or answers nonsense leaves the reply to a
//! person, and nothing it says reaches an invoice unbounded.

use super::answers::truncate;
use super::{Plugin, PluginBody, count_fuel};
use crate::decision::Setting;
use crate::reading::{Reading, WrittenReply};

/// The longest reference or dispute reason kept from a reader.
const SAID_CHARS: usize = 200;

impl Plugin {
    /// What `reply` says, as this reader reads it; `Err` says why it could not.
    pub fn read_reply(&self, settings: &[Setting], reply: &WrittenReply, now: i64) -> Result<Reading, String> {
        let PluginBody::Wasm(prepared) = &self.body else { return Err(format!("{} is not a reader", self.id)) };
        let mut store = self.store(now, 1);
        let answer = prepared.read(&mut store, settings, std::slice::from_ref(reply));
        let Some(answer) = answer else { return Err(format!("{} is not a reader", self.id)) };
        count_fuel(&store, self.limits.fuel_for(1));
        let mut answer = answer.map_err(|e| self.explain(&store, 1, e))?;
        if answer.len() != 1 {
            return Err(format!("returned {} readings for 1 reply", answer.len()));
        }
        match answer.pop().expect("one reading") {
            Ok(reading) => Ok(bounded(reading)),
            Err(why) => Err(format!("could not read it: {}", truncate(&why, 500))),
        }
    }
}

/// A reader's words, kept short and printable: they reach a task and the history.
fn bounded(reading: Reading) -> Reading {
    let clean = |s: &str| -> String {
        let s: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(SAID_CHARS).collect();
        s.trim().to_string()
    };
    match reading {
        Reading::SaysPaid { on, reference } => {
            Reading::SaysPaid { on, reference: reference.map(|r| clean(&r)).filter(|r| !r.is_empty()) }
        }
        Reading::Dispute { reason } => Reading::Dispute { reason: clean(&reason) },
        other => other,
    }
}
