//! What a tick's delivery did, counted by result and channel.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize)]
pub struct DeliverReport {
    /// Reminders (outbox rows) sent; a consolidated message carries several.
    pub sent: usize,
    /// Messages the channels took, as the relay sees them: a consolidated message once.
    pub messages: std::collections::BTreeMap<String, usize>,
    /// Waiting for the customer's sending window.
    pub deferred_window: usize,
    /// Waiting for the weekly contact cap.
    pub deferred_cap: usize,
    /// Another message for the invoice left in this tick.
    pub deferred_tick: usize,
    /// A transient failure: tried again later.
    pub retry_later: usize,
    /// The operator's setup failed (relay unreachable, From refused, TLS,
    /// authentication): the message waits, its step is not the customer's failure.
    pub setup_faults: usize,
    /// Stopped by a guardrail (paid, disputed, ...): cancelled with the reason.
    pub cancelled: usize,
    pub failed: usize,
    /// Messages a stopped worker left in flight: sent again, or held for a person.
    pub uncertain_resent: usize,
    pub uncertain_held: usize,
    /// Channel -> result (`sent`, `deferred`, `retry`, `setup`, `cancelled`, `failed`) -> count.
    pub by_channel: BTreeMap<String, BTreeMap<&'static str, usize>>,
    /// Actions other than messages: kind -> result (`done`, `paid`, `declined`, `retry`, `cancelled`, `failed`) -> count.
    pub actions: BTreeMap<String, BTreeMap<&'static str, usize>>,
    /// (customer, channel) -> the customer's timezone, of the messages that
    /// waited for a sending window: whether the schedule can ever reach them
    /// is for the caller to say.
    #[serde(skip)]
    pub waited_for_window: BTreeMap<(String, String), chrono_tz::Tz>,
}

impl DeliverReport {
    pub(super) fn count(&mut self, kind: &str, result: &'static str) {
        *self.actions.entry(kind.to_string()).or_default().entry(result).or_default() += 1;
    }

    pub(super) fn count_message(&mut self, channel: &str, result: &'static str) {
        *self.by_channel.entry(channel.to_string()).or_default().entry(result).or_default() += 1;
    }

    /// Adds what another part of the same tick did.
    pub(super) fn merge(&mut self, other: DeliverReport) {
        self.sent += other.sent;
        for (channel, n) in other.messages {
            *self.messages.entry(channel).or_default() += n;
        }
        self.deferred_window += other.deferred_window;
        self.deferred_cap += other.deferred_cap;
        self.deferred_tick += other.deferred_tick;
        self.retry_later += other.retry_later;
        self.setup_faults += other.setup_faults;
        self.cancelled += other.cancelled;
        self.failed += other.failed;
        self.uncertain_resent += other.uncertain_resent;
        self.uncertain_held += other.uncertain_held;
        self.waited_for_window.extend(other.waited_for_window);
        for (channel, results) in other.by_channel {
            let mine = self.by_channel.entry(channel).or_default();
            for (result, n) in results {
                *mine.entry(result).or_default() += n;
            }
        }
        for (kind, results) in other.actions {
            let mine = self.actions.entry(kind).or_default();
            for (result, n) in results {
                *mine.entry(result).or_default() += n;
            }
        }
    }
}
