//! A virtual clock over a date range: ticks once a day, applies scripted
//! events, asks the policy, passes its actions through the guardrails and
//! records what would happen. Nothing is sent and nothing is stored.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use crate::guardrails::{self, Request};
use crate::intake::Dataset;
use crate::invoice::{Customer, Invoice, InvoiceStatus};
use crate::money::format_money;
use crate::sandbox::Plugin;
use crate::sandbox::v0_1::{self, Action, Contact, Outcome, Setting};

pub struct Options {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Time of day (UTC) of the daily tick.
    pub tick: NaiveTime,
    pub settings: Vec<Setting>,
}

/// One line of an invoice's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub date: NaiveDate,
    /// `remind`, `retry-payment`, `escalate`, `apply-fee`, `offer-plan`, `pause`,
    /// `close`, `event`, `held` (a guardrail stopped it) or `error` (the plugin failed).
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Entry {
    fn new(date: NaiveDate, what: &str) -> Self {
        Entry {
            date,
            what: what.into(),
            step: None,
            channel: None,
            tone: None,
            template: None,
            deadline: None,
            note: None,
        }
    }

    fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    fn step(mut self, step: &str) -> Self {
        self.step = Some(step.into());
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub invoice: String,
    pub number: String,
    pub customer: String,
    pub amount_due: String,
    pub due: NaiveDate,
    /// Where the invoice stands at the end of the range.
    pub outcome: String,
    pub entries: Vec<Entry>,
}

struct Case {
    invoice: Invoice,
    history: Vec<Contact>,
    next_review: Option<DateTime<Utc>>,
    closed: Option<String>,
    entries: Vec<Entry>,
}

pub fn run(policy: &Plugin, data: Dataset, opts: &Options) -> Vec<Timeline> {
    let mut customers: HashMap<String, Customer> = data.customers.into_iter().map(|c| (c.id.clone(), c)).collect();
    let start = opts.from.and_time(opts.tick).and_utc();
    let mut cases: Vec<Case> = data
        .invoices
        .into_iter()
        .map(|invoice| Case { invoice, history: vec![], next_review: Some(start), closed: None, entries: vec![] })
        .collect();
    let index: HashMap<String, usize> = cases.iter().enumerate().map(|(i, c)| (c.invoice.id.clone(), i)).collect();

    let mut day = opts.from;
    while day <= opts.to {
        let now = day.and_time(opts.tick).and_utc();
        for e in data.events.iter().filter(|e| e.on == day) {
            let case = &mut cases[index[&e.invoice_id]];
            let customer = customers.get_mut(&case.invoice.customer_id).expect("checked at intake");
            let what = e.event.apply(&mut case.invoice, customer, now);
            case.entries.push(Entry::new(day, "event").note(what));
            // Every event wakes the invoice up for the policy.
            case.next_review = Some(now);
        }

        let due: Vec<usize> = (0..cases.len())
            .filter(|&i| {
                let c = &cases[i];
                c.closed.is_none() && c.invoice.status == InvoiceStatus::Open && c.next_review.is_some_and(|t| t <= now)
            })
            .collect();
        if !due.is_empty() {
            let views: Vec<_> = due
                .iter()
                .map(|&i| {
                    let c = &cases[i];
                    let customer = v0_1::customer_view(&customers[&c.invoice.customer_id]);
                    v0_1::invoice_view(&c.invoice, customer, c.history.clone())
                })
                .collect();
            let results = policy.evaluate(now.timestamp(), &opts.settings, &views);
            for (&i, result) in due.iter().zip(results) {
                let case = &mut cases[i];
                match result {
                    Ok(decision) => apply(case, &customers[&case.invoice.customer_id], decision, now),
                    // The invoice keeps its review time: it is tried again at the next tick.
                    Err(e) => case.entries.push(Entry::new(day, "error").note(e.reason)),
                }
            }
        }
        day = day.succ_opt().expect("date in range");
    }

    cases
        .into_iter()
        .map(|c| {
            let customer = &customers[&c.invoice.customer_id];
            let outcome = match (&c.closed, c.invoice.status) {
                (Some(reason), _) => format!("closed ({reason})"),
                (None, InvoiceStatus::Open) if c.next_review.is_some() => "open".into(),
                (None, InvoiceStatus::Open) => "open, waiting for an event".into(),
                (None, status) => serde_json::to_value(status).unwrap().as_str().unwrap_or("closed").to_string(),
            };
            Timeline {
                invoice: c.invoice.id.clone(),
                number: c.invoice.number.clone(),
                customer: customer.name.clone(),
                amount_due: format_money(c.invoice.amount_due, &c.invoice.currency),
                due: c.invoice.due,
                outcome,
                entries: c.entries,
            }
        })
        .collect()
}

/// Carries out a decision the way the host would, minus the sending.
fn apply(case: &mut Case, customer: &Customer, decision: v0_1::Decision, now: DateTime<Utc>) {
    let day = now.date_naive();
    let mut reminded = false;
    let mut pause: Option<DateTime<Utc>> = None;
    for action in decision.actions {
        let step = action.step().map(str::to_string);
        let channel = match &action {
            Action::Remind(r) => Some(r.channel.clone()),
            _ => None,
        };
        if let Some(step) = &step {
            let request = Request {
                step,
                channel: channel.as_deref(),
                touches_customer: action.touches_customer(),
                of_plan: false,
            };
            let done = case.history.iter().map(|h| h.step.as_str());
            if let Err(block) = guardrails::check(&request, &case.invoice, customer, done, reminded, now) {
                let mut held = Entry::new(day, "held").step(step).note(block.to_string());
                held.channel = channel;
                case.entries.push(held);
                continue;
            }
        }
        let mut entry = Entry::new(day, action.kind());
        entry.step = step.clone();
        let mut contact = Contact {
            step: step.clone().unwrap_or_default(),
            channel: None,
            tone: None,
            at: now.timestamp(),
            outcome: Outcome::Sent,
        };
        match action {
            Action::Remind(r) => {
                reminded = true;
                entry.channel = Some(r.channel.clone());
                entry.tone = Some(r.tone.name().into());
                entry.template = Some(r.template);
                entry.deadline = r.deadline.as_ref().and_then(v0_1::naive_date);
                contact.channel = Some(r.channel);
                contact.tone = Some(r.tone);
            }
            Action::RetryPayment(r) => {
                entry.note = Some(format!("charge again at {}", format_time(r.at)));
                contact.outcome = Outcome::Pending;
            }
            Action::Escalate(e) => entry.note = Some(format!("{}: {}", e.kind.name(), e.reason)),
            Action::ApplyFee(f) => {
                entry.note = Some(format!("{} ({})", format_money(f.amount.minor, &f.amount.currency), f.reason))
            }
            Action::OfferPlan(p) => {
                entry.note = Some(format!(
                    "{} instalments every {} days from {:?}",
                    p.instalments,
                    p.every_days,
                    v0_1::naive_date(&p.first_due)
                ))
            }
            Action::Pause(until) => {
                entry.note = Some(format!("until {}", format_time(until)));
                pause = DateTime::from_timestamp(until, 0);
            }
            Action::Close(reason) => {
                entry.note = Some(reason.name().into());
                case.closed = Some(reason.name().into());
            }
        }
        if step.is_some() {
            case.history.push(contact);
        }
        case.entries.push(entry);
    }
    let next = decision.next_review.and_then(|t| DateTime::from_timestamp(t, 0));
    case.next_review = if case.closed.is_some() { None } else { next.max(pause) };
}

fn format_time(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0).map_or_else(|| ts.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}
