//! What became of a message in this tick, how it is written, and how it is counted.

use chrono::{DateTime, Utc};

use super::{DeliverReport, MAX_ATTEMPTS, backoff, setup_backoff};
use crate::outgoing::DeliveryError;
use crate::store::{OutboxRow, Settle, Tried, Unclaimed};

/// What an adapter's answer means for the outbox row. A fault of the
/// operator's setup, noted by the host whatever the adapter made of it, is
/// never the customer's failure: the message waits, the try not counted.
pub(super) fn outcome_of(
    result: Result<Result<String, DeliveryError>, String>,
    row: &OutboxRow,
    now: DateTime<Utc>,
    setup: Option<String>,
) -> Outcome {
    let attempts = row.attempts;
    let later = now + chrono::Duration::seconds(backoff(attempts));
    if let (Ok(Err(_)), Some(reason)) = (&result, setup) {
        let until = now + chrono::Duration::seconds(setup_backoff(row.setup_faults));
        return Outcome::Wait(until, format!("the relay's setup: {reason}"), Wait::Setup);
    }
    match result {
        Ok(Ok(receipt)) => Outcome::Sent(receipt),
        Ok(Err(DeliveryError::Permanent(reason))) => Outcome::Fail(reason),
        Ok(Err(DeliveryError::Transient(reason))) if attempts + 1 >= MAX_ATTEMPTS => {
            Outcome::Fail(format!("gave up after {MAX_ATTEMPTS} attempts: {reason}"))
        }
        Ok(Err(DeliveryError::Transient(reason))) => Outcome::Wait(later, format!("will retry: {reason}"), Wait::Retry),
        Err(trap) => Outcome::Wait(later, format!("adapter failed: {trap}"), Wait::Retry),
    }
}

/// What the checks before a claim decided about a pending message, counted,
/// as it is written.
pub(super) fn unclaimed(row: &OutboxRow, outcome: Outcome, report: &mut DeliverReport) -> (i64, Unclaimed) {
    tally(report, row, &outcome);
    let decided = match outcome {
        Outcome::Sent(_) => unreachable!("a message is sent only under a claim"),
        Outcome::Wait(until, reason, wait) => {
            let tried = match wait {
                Wait::Retry => Tried::Attempt,
                Wait::Setup => Tried::SetupFault,
                Wait::Window(_) | Wait::Cap | Wait::Tick => Tried::Nothing,
            };
            Unclaimed::Wait { not_before: until.timestamp(), reason, tried }
        }
        Outcome::Cancel(reason) => Unclaimed::Cancelled(reason),
        Outcome::Fail(reason) => Unclaimed::Failed(reason),
    };
    (row.id, decided)
}

/// How a message's outcome is written once it was claimed.
pub(super) fn settled(outcome: Outcome, rendered: Option<&str>, message_id: Option<&str>) -> Settle {
    match outcome {
        Outcome::Sent(receipt) => {
            Settle::Sent { receipt, rendered: rendered.map(str::to_string), message_id: message_id.map(str::to_string) }
        }
        Outcome::Wait(until, reason, Wait::Setup) => Settle::SetupFault { not_before: until.timestamp(), reason },
        Outcome::Wait(until, reason, _) => Settle::Retry { not_before: until.timestamp(), reason },
        Outcome::Cancel(reason) => Settle::Cancelled(reason),
        Outcome::Fail(reason) => Settle::Failed(reason),
    }
}

/// Counts an outcome in the report, by kind and by channel.
pub(super) fn tally(report: &mut DeliverReport, row: &OutboxRow, outcome: &Outcome) {
    let result = match outcome {
        Outcome::Sent(_) => {
            report.sent += 1;
            "sent"
        }
        Outcome::Wait(_, _, Wait::Retry) => {
            report.retry_later += 1;
            "retry"
        }
        Outcome::Wait(_, _, Wait::Setup) => {
            report.setup_faults += 1;
            "setup"
        }
        Outcome::Wait(_, _, wait) => {
            match wait {
                Wait::Window(timezone) => {
                    report.deferred_window += 1;
                    let channel = row.channel.clone().unwrap_or_default();
                    report.waited_for_window.insert((row.customer_id.clone(), channel), *timezone);
                }
                Wait::Cap => report.deferred_cap += 1,
                _ => report.deferred_tick += 1,
            }
            "deferred"
        }
        Outcome::Cancel(_) => {
            report.cancelled += 1;
            "cancelled"
        }
        Outcome::Fail(_) => {
            report.failed += 1;
            "failed"
        }
    };
    report.count_message(row.channel.as_deref().unwrap_or_default(), result);
}

#[derive(Clone, Copy)]
pub(super) enum Wait {
    /// The sending window, in the customer's timezone.
    Window(chrono_tz::Tz),
    Cap,
    Tick,
    Retry,
    /// The operator's setup failed; the try is not counted against the message.
    Setup,
}

#[derive(Clone)]
pub(super) enum Outcome {
    Sent(String),
    Wait(DateTime<Utc>, String, Wait),
    Cancel(String),
    Fail(String),
}
