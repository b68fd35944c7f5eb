//! A customer's own reply: the reader plugin reads what it says, and the
//! host acts on it within its own bounds. A promise within
//! `[inbound] max_promise_days` is a promise to pay and needs nobody; a
//! customer who says they paid, disputes or asks something holds the
//! invoice for `pause_days` and opens a task for a person.

use chrono::{DateTime, Duration, Utc};

use super::read::Mail;
use super::{Matched, Plan, task, working_days_after};
use crate::config::Inbound;
use crate::event::Event;
use crate::invoice::{Customer, ReplyIntent};
use crate::reading::{Reading, WrittenReply};
use crate::sandbox::Plugin;

/// What the reader read the reply to say; a reader that fails leaves it to a
/// person (as `Other`, with why).
pub(super) fn read(
    reader: &Plugin,
    customer: &Customer,
    (mail, own): (&Mail, &str),
    now: DateTime<Utc>,
) -> (Reading, Option<String>) {
    // A Date in the future (a wrong clock, a forgery) counts as now.
    let written = mail.date.filter(|d| *d <= now.timestamp() + 86_400).unwrap_or(now.timestamp());
    let today = now.with_timezone(&customer.timezone).date_naive();
    let written_on = mail.written_on.filter(|d| *d <= today + Duration::days(1)).unwrap_or(today);
    let reply = WrittenReply {
        written,
        written_on,
        locale: customer.locale.clone(),
        subject: mail.subject.clone(),
        text: own.to_string(),
    };
    match reader.read_reply(&[], &reply, now.timestamp()) {
        Ok(reading) => (reading, None),
        Err(why) => {
            tracing::warn!(reader = %reader.id, %why, "a reply could not be read; it is left to a person");
            (Reading::Other, Some(format!("the reader {} failed: {why}", reader.id.name)))
        }
    }
}

/// What a trusted, matched reply does, as events and a task.
pub(super) fn effects(
    plan: &mut Plan,
    matched: &Matched,
    (mail, own): (&Mail, &str),
    (reading, failed): (Reading, Option<String>),
    (rules, now): (&Inbound, DateTime<Utc>),
) {
    let how = matched.evidence.words();
    let today = now.with_timezone(&matched.customer.timezone).date_naive();
    let pause = working_days_after(today, rules.pause_days);
    let step = matched.rows.first().map(|r| r.step.clone());
    let furthest = today.checked_add_days(chrono::Days::new(rules.max_promise_days.into()));
    // A promise out of bounds is read, said, and left to a person.
    let (reading, out_of_bounds) = match reading {
        Reading::Promise { until } if until < today => {
            (Reading::Other, Some(format!("it promises a day already past ({until}): for a person")))
        }
        Reading::Promise { until } if furthest.is_none_or(|f| until > f) => (
            Reading::Other,
            Some(format!("it promises to pay on {until}, beyond {} days: for a person", rules.max_promise_days)),
        ),
        reading => (reading, failed),
    };
    let intent = reading.intent();
    let hold = if intent == ReplyIntent::Promise { today } else { pause };
    let answered = Event::Answered { until: hold, step, intent };
    let mut events: Vec<Event> = vec![];
    let (said, title) = match &reading {
        Reading::Promise { until } => {
            events.push(Event::PromiseToPay { until: *until });
            (format!("a promise to pay by {until}, recorded"), None)
        }
        Reading::SaysPaid { on, reference } => {
            let on = on.map(|d| format!(" on {d}")).unwrap_or_default();
            let reference = reference.as_ref().map(|r| format!(", reference {r}")).unwrap_or_default();
            let title = format!("Verify a payment: {} says it paid{on}{reference}", matched.customer.name);
            (format!("says it is paid{on}{reference}: reminders wait until {pause}, a task to verify it"), Some(title))
        }
        Reading::Dispute { reason } => {
            events.push(Event::DisputeOpened { reason: reason.clone() });
            let title = format!("Dispute from {}: {reason}", matched.customer.name);
            (format!("a dispute (\"{reason}\"): reminders held, a task opened"), Some(title))
        }
        Reading::Question => {
            let title = format!("Question from {}: {}", matched.customer.name, mail.subject);
            (format!("a question: reminders wait until {pause}, a task opened"), Some(title))
        }
        Reading::Other => (format!("reminders of the invoices it answers wait until {pause}, a task opened"), None),
    };
    events.push(answered);
    plan.effects.events =
        plan.invoices.iter().flat_map(|i| events.iter().map(move |e| (i.clone(), e.clone()))).collect();
    let note = out_of_bounds.map(|n| format!(" ({n})")).unwrap_or_default();
    plan.reason = format!("matched by {how}: {said}{note}");
    if intent != ReplyIntent::Promise {
        let (invoice, mut opened) = task(matched, mail, own, &plan.reason);
        if let Some(title) = title {
            opened.title = title;
        }
        plan.effects.task = Some((invoice, opened));
    }
    plan.reading = Some(reading);
}
