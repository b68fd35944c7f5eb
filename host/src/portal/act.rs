//! What a customer does on their page, through the one inbound pipeline:
//! the form kept once (the same form posted twice does nothing more),
//! matched to the invoice (which must be theirs and open) and to the
//! message whose link brought them, and applied as events through the one
//! write path: a promise to pay, "I have paid" (held, and a task to verify
//! it), a problem (a dispute, and a task), the plan offered accepted, a
//! channel stopped.

use chrono::{DateTime, Days, NaiveDate, Utc};
use sha2::Digest;

use super::token::Link;
use crate::event::Event;
use crate::invoice::{Customer, Invoice, ReplyIntent};
use crate::outgoing::Task;
use crate::store::{Effects, InboundState, NewInbound, Store};

/// The reasons a customer picks from for a problem.
pub(crate) const PROBLEMS: [&str; 5] = ["amount", "not-received", "already-paid", "not-ordered", "other"];

/// The channels a customer may stop from the page. A formal notice by
/// registered post or PEC is the business's legal step, not a reminder one
/// can unsubscribe from.
pub(crate) const STOPPABLE: [&str; 3] = ["email", "sms", "phone"];

/// A form as posted: every field optional and checked here.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Posted {
    pub action: Option<String>,
    pub invoice: Option<String>,
    pub date: Option<String>,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub text: Option<String>,
    pub channel: Option<String>,
}

/// What the customer asked, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Act {
    Promise(NaiveDate),
    Paid {
        on: Option<NaiveDate>,
        reference: String,
    },
    Problem {
        reason: &'static str,
        text: String,
    },
    /// The plan last offered on the invoice, accepted.
    Plan,
    /// No more messages on this channel, for any invoice of the customer.
    OptOut(&'static str),
}

/// A form refused, with the field at fault (a key of the page's words).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refused(pub &'static str);

/// Reads a form: the action, its fields bounded, a promise within `max_days` of `today`.
pub(crate) fn read(form: &Posted, today: NaiveDate, max_days: u32) -> Result<Act, Refused> {
    let date = |field: &Option<String>| -> Result<Option<NaiveDate>, Refused> {
        match field.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => Ok(None),
            Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map(Some).map_err(|_| Refused("refused_date")),
        }
    };
    let clean = |t: &Option<String>, max: usize| -> String {
        t.as_deref().unwrap_or_default().chars().filter(|c| !c.is_control() || *c == '\n').take(max).collect()
    };
    match form.action.as_deref() {
        Some("promise") => {
            let until = date(&form.date)?.ok_or(Refused("refused_date"))?;
            let furthest = today.checked_add_days(Days::new(max_days.into())).ok_or(Refused("refused_date"))?;
            if until < today || until > furthest {
                return Err(Refused("refused_promise_range"));
            }
            Ok(Act::Promise(until))
        }
        Some("paid") => {
            let on = date(&form.date)?;
            if on.is_some_and(|d| d > today) {
                return Err(Refused("refused_paid_future"));
            }
            Ok(Act::Paid { on, reference: clean(&form.reference, 64).trim().to_string() })
        }
        Some("problem") => {
            let picked = form.reason.as_deref().unwrap_or_default();
            let reason = PROBLEMS.iter().find(|p| **p == picked).ok_or(Refused("refused_reason"))?;
            Ok(Act::Problem { reason, text: clean(&form.text, 2_000).trim().to_string() })
        }
        Some("plan") => Ok(Act::Plan),
        Some("opt-out") => {
            let picked = form.channel.as_deref().unwrap_or_default();
            STOPPABLE.iter().find(|c| **c == picked).map(|c| Act::OptOut(c)).ok_or(Refused("refused_channel"))
        }
        _ => Err(Refused("refused_action")),
    }
}

impl Act {
    /// The page's word for what was noted.
    pub(crate) fn noted(&self) -> &'static str {
        match self {
            Act::Promise(_) => "noted_promise",
            Act::Paid { .. } => "noted_paid",
            Act::Problem { .. } => "noted_problem",
            Act::Plan => "noted_plan",
            Act::OptOut(_) => "noted_opt_out",
        }
    }
}

/// Applies what the customer did to `invoice` (theirs, open), once.
pub(crate) async fn apply(
    store: &Store,
    (link, customer, invoice): (&Link, &Customer, &Invoice),
    (act, raw): (&Act, &[u8]),
    (verify_days, now): (u32, DateTime<Utc>),
) -> anyhow::Result<bool> {
    let today = now.with_timezone(&customer.timezone).date_naive();
    let message = message_of(store, link).await?.filter(|m| m.invoice_id == invoice.id);
    let step = message.as_ref().map(|m| m.step.clone());
    let outbox_id = message.map(|m| m.id);
    let hold = today.checked_add_days(Days::new(verify_days.into())).unwrap_or(today);
    let task = |title: String, script: String| Task {
        key: format!("portal/{}/{}", invoice.id, now.timestamp()),
        title,
        customer: customer.name.clone(),
        phone: customer.phone.clone(),
        script,
    };
    let (kind, events, task, reason) = match act {
        Act::Promise(until) => {
            let reason = format!("promised on the page to pay {} by {until}", invoice.number);
            ("promise", vec![Event::PromiseToPay { until: *until }], None, reason)
        }
        Act::Paid { on, reference } => {
            let on = on.map(|d| format!(" on {d}")).unwrap_or_default();
            let reference = if reference.is_empty() { String::new() } else { format!(", reference {reference}") };
            let reason = format!("says on the page that {} is paid{on}{reference}", invoice.number);
            let title = format!("Verify a payment: {} says {} is paid{on}{reference}", customer.name, invoice.number);
            let answered = Event::Answered { until: hold, step: step.clone(), intent: ReplyIntent::SaysPaid };
            ("says-paid", vec![answered], Some(task(title, reason.clone())), reason)
        }
        Act::Problem { reason: picked, text } => {
            let reason = format!("{picked}: {text}").trim_end_matches([':', ' ']).to_string();
            let title = format!("Problem reported by {} on {}: {picked}", customer.name, invoice.number);
            let events = vec![Event::DisputeOpened { reason: reason.clone() }];
            ("problem", events, Some(task(title, text.clone())), format!("a problem reported on the page ({reason})"))
        }
        Act::Plan => {
            // The plan's own path (the one the API takes): it checks the offer was sent and records plan-accepted.
            store.accept_plan(&invoice.id, crate::event::Door::Portal, now).await?;
            ("plan", vec![], None, format!("accepted on the page the plan offered on {}", invoice.number))
        }
        Act::OptOut(channel) => {
            let reason = format!("asked on the page for no more messages by {channel}");
            ("opt-out", vec![Event::OptOut { channel: channel.to_string() }], None, reason)
        }
    };
    let digest = hex::encode(sha2::Sha256::digest(
        [link.customer.as_bytes(), b"\n", invoice.id.as_bytes(), b"\n", raw].concat(),
    ));
    let new = NewInbound {
        door: "portal",
        digest: &digest,
        message_id: None,
        size: raw.len(),
        raw,
        sender: None,
        subject: kind,
        kind: "portal",
        state: InboundState::Applied,
        reason: &reason,
        customer_id: Some(&customer.id),
        invoice_id: Some(&invoice.id),
        outbox_id,
        // What a person reads in the history; the form itself is kept as it came (`raw`).
        text: &reason,
        intent: None,
    };
    let effects = Effects {
        events: events.into_iter().map(|e| (invoice.id.clone(), e)).collect(),
        task: task.map(|t| (invoice.id.clone(), t)),
        bounced: vec![],
    };
    store.keep_inbound(new, effects, now).await
}

/// The message whose link was used, if it is still in the outbox.
async fn message_of(store: &Store, link: &Link) -> anyhow::Result<Option<crate::store::OutboxRow>> {
    let Some((invoice, _)) = link.message.as_deref().and_then(|k| k.split_once('/')) else { return Ok(None) };
    let invoice = percent_encoding::percent_decode_str(invoice).decode_utf8_lossy();
    let key = link.message.as_deref().unwrap_or_default();
    Ok(store.outbox_of(&invoice).await?.into_iter().find(|r| r.key() == key))
}

/// The customer opened their page: kept once per link and day, tied to the
/// message whose link it was, so the report counts visits per step and arm.
pub(crate) async fn visited(store: &Store, link: &Link, customer: &Customer, now: DateTime<Utc>) -> anyhow::Result<()> {
    let day = now.with_timezone(&customer.timezone).date_naive();
    let message = message_of(store, link).await?;
    let seen = format!("visit\n{}\n{}\n{day}", link.customer, link.message.as_deref().unwrap_or_default());
    let digest = hex::encode(sha2::Sha256::digest(seen.as_bytes()));
    let new = NewInbound {
        door: "portal",
        digest: &digest,
        message_id: None,
        size: 0,
        raw: b"",
        sender: None,
        subject: "visit",
        kind: "visit",
        state: InboundState::Applied,
        reason: "opened their page",
        customer_id: Some(&customer.id),
        invoice_id: message.as_ref().map(|m| m.invoice_id.as_str()),
        outbox_id: message.as_ref().map(|m| m.id),
        text: "opened their page",
        intent: None,
    };
    store.keep_inbound(new, Effects::default(), now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(action: &str, date: &str) -> Posted {
        Posted { action: Some(action.into()), date: Some(date.into()), ..Posted::default() }
    }

    #[test]
    fn forms_are_read_within_their_bounds() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        assert_eq!(read(&form("promise", "2026-12-20"), today, 60), Ok(Act::Promise(day("2026-12-20"))));
        assert_eq!(read(&form("promise", "2026-12-05"), today, 60), Err(Refused("refused_promise_range")));
        assert_eq!(read(&form("promise", "2027-02-05"), today, 60), Err(Refused("refused_promise_range")));
        assert_eq!(read(&form("promise", "2126-12-05"), today, 60), Err(Refused("refused_promise_range")));
        assert_eq!(read(&form("promise", "20/12/2026"), today, 60), Err(Refused("refused_date")));
        assert_eq!(read(&form("paid", "2026-12-07"), today, 60), Err(Refused("refused_paid_future")));
        let mut problem = form("problem", "");
        problem.reason = Some("amount".into());
        problem.text = Some(format!("<b>{}</b>\u{0}", "x".repeat(5_000)));
        let Ok(Act::Problem { reason, text }) = read(&problem, today, 60) else { panic!() };
        assert_eq!((reason, text.chars().count(), text.contains('\0')), ("amount", 2_000, false));
        problem.reason = Some("<script>".into());
        assert_eq!(read(&problem, today, 60), Err(Refused("refused_reason")));
        assert_eq!(read(&form("delete-everything", ""), today, 60), Err(Refused("refused_action")));
    }
}
