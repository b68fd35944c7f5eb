//! A decision turned into the steps the host will take: the guardrails
//! checked, fees and plan offers validated, a manual review's task written.
//! Pure: the scheduler calls it for every decision, of real ticks and of
//! simulations alike, and writes what it returns.

use chrono::{DateTime, Utc};

use crate::decision::{Action, Decision, EscalationKind, FeeAsked, PlanAsked, Refused, RefusedWhy, Tone};
use crate::guardrails::{self, Block, Request};
use crate::outgoing::Task;
use crate::plan::Instalment;
use crate::store::{DueInvoice, NewDecision, NewOutbox, OutboxKind, OutboxState, Payload};

/// The task a manual review opens, keyed like a message of the same step.
fn review_task(due: &DueInvoice, step: &str, why: &str) -> Task {
    let (invoice, customer) = (&due.invoice, &due.customer);
    let outstanding = invoice.money(invoice.outstanding());
    Task {
        key: crate::store::outbox_key(&invoice.id, step),
        title: format!("Review invoice {}", invoice.number),
        customer: customer.name.clone(),
        phone: customer.phone.clone(),
        script: format!(
            "Invoice {} of {}, {outstanding} outstanding, due {}. The policy stopped and asks a person to look: {why}",
            invoice.number, customer.name, invoice.due
        ),
    }
}

/// The instalments of a plan offer: what is outstanding now, split exactly.
fn offered_plan(invoice: &crate::invoice::Invoice, offer: &PlanAsked) -> Result<Vec<Instalment>, String> {
    let first = offer.first_due.ok_or("the first due date is not a date")?;
    crate::plan::split(invoice.outstanding(), offer.instalments, first, offer.every_days)
}

/// A fee a policy asks for, if the host can add it: in the invoice's currency,
/// positive, and no more than the invoice itself.
fn fee(invoice: &crate::invoice::Invoice, step: &str, f: &FeeAsked) -> Result<crate::invoice::Fee, String> {
    if !f.currency.eq_ignore_ascii_case(&invoice.currency) {
        return Err(format!("in {}, the invoice is in {}", f.currency, invoice.currency));
    }
    if f.minor <= 0 || f.minor > invoice.amount_due {
        return Err(format!("{} minor units (1 to the invoice's {})", f.minor, invoice.amount_due));
    }
    let reason = f.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err("a fee needs a reason of 1 to 200 characters, shown to the customer".into());
    }
    Ok(crate::invoice::Fee { step: step.to_string(), amount: f.minor, reason: reason.to_string() })
}

/// What a decision's steps came to, for the tick's report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counted {
    pub reminders_queued: usize,
    pub actions_recorded: usize,
    pub blocked: usize,
    /// Asked again for a step already done, or a second reminder in one tick.
    pub refused: usize,
}

/// Turns a policy's decision into outbox rows, after the guardrails.
pub(crate) fn carry_out(d: &mut NewDecision, due: &DueInvoice, decision: &Decision, now: DateTime<Utc>) -> Counted {
    let mut report = Counted::default();
    d.actions = decision.actions_json();
    let mut next = decision.next_review;
    let mut reminded = false;
    let mut steps: Vec<String> = due.outbox.iter().map(|o| o.step.clone()).collect();
    let mut retries = due.outbox.iter().filter(|o| o.kind == OutboxKind::RetryPayment).count() as u32;
    for action in &decision.actions {
        match action {
            Action::Pause(until) => next = Some(next.map_or(*until, |n| n.max(*until))),
            Action::Close(reason) => d.closed = Some(reason.name().to_string()),
            _ => {}
        }
        let Some(step) = action.step() else { continue };
        let channel = match action {
            Action::Remind(r) => Some(r.channel.as_str()),
            _ => None,
        };
        let request =
            Request { step, channel, touches_customer: action.touches_customer(), of_plan: false, asked: false };
        let check =
            guardrails::check(&request, &due.invoice, &due.customer, steps.iter().map(String::as_str), reminded, now);
        let (state, reason) = match check {
            // Asked again for a step already done, or a second reminder in one tick:
            // not carried out, and kept with the decision for the policy's author.
            Err(block @ (Block::StepDone(_) | Block::OnePerTick)) => {
                let why = if block == Block::OnePerTick { RefusedWhy::OnePerTick } else { RefusedWhy::StepDone };
                d.refused.push(Refused { action: action.kind().to_string(), step: step.to_string(), why });
                report.refused += 1;
                continue;
            }
            // Held, not cancelled: the policy is asked again the day after the hold.
            Err(block @ (Block::Answered(until) | Block::TransferToConfirm(until))) => {
                let after = crate::guardrails::day_after(until, due.customer.timezone).timestamp();
                next = Some(next.map_or(after, |n| n.min(after)));
                let why = match block {
                    Block::Answered(_) => RefusedWhy::AwaitingReply,
                    _ => RefusedWhy::AwaitingBankMatch,
                };
                d.refused.push(Refused { action: action.kind().to_string(), step: step.to_string(), why });
                report.blocked += 1;
                continue;
            }
            Err(block) => {
                report.blocked += 1;
                (OutboxState::Cancelled, Some(block.to_string()))
            }
            Ok(()) if channel.is_some() => {
                reminded = true;
                report.reminders_queued += 1;
                (OutboxState::Pending, None)
            }
            Ok(()) => {
                report.actions_recorded += 1;
                match action {
                    Action::RetryPayment { .. } | Action::Escalate(_) | Action::OfferPlan(_) => {
                        (OutboxState::Pending, None)
                    }
                    Action::ApplyFee(_) => (OutboxState::Done, None),
                    _ => (OutboxState::Recorded, Some("not carried out by this version".to_string())),
                }
            }
        };
        // A manual review is carried out here: a task for a person, written with the decision.
        let (mut state, mut reason, task) = match action {
            Action::Escalate(e) if e.kind == EscalationKind::ManualReview && state == OutboxState::Pending => (
                OutboxState::Done,
                Some("task opened for a person to review".to_string()),
                Some(review_task(due, step, &e.reason)),
            ),
            _ => (state, reason, None),
        };
        steps.push(step.to_string());
        let mut row = NewOutbox {
            step: step.to_string(),
            kind: OutboxKind::parse(action.kind()).expect("every step action is an outbox kind"),
            channel: channel.map(str::to_string),
            template: None,
            tone: None,
            deadline: None,
            payload: Payload::of(action).expect("a step's action has a payload"),
            // A retry waits for the time the policy asked for.
            not_before: match action {
                Action::RetryPayment { at, .. } => (*at).max(now.timestamp()),
                _ => now.timestamp(),
            },
            state,
            reason: None,
            task,
            fee: None,
        };
        complete(&mut row, action, due, (&mut state, &mut reason), (&mut retries, &mut report));
        row.state = state;
        row.reason = reason;
        d.outbox.push(row);
    }
    d.next_review = if d.closed.is_some() { None } else { next };
    report
}

/// What the host adds to a step: a reminder's template and tone, what a
/// retry answers, the instalments of a plan offer, a fee checked and worked
/// out; an offer or a fee that cannot be made cancels the step, saying why.
fn complete(
    row: &mut NewOutbox,
    action: &Action,
    due: &DueInvoice,
    (state, reason): (&mut OutboxState, &mut Option<String>),
    (retries, report): (&mut u32, &mut Counted),
) {
    let step = row.step.clone();
    let step = step.as_str();
    match (action, &mut row.payload) {
        (Action::Remind(r), _) => {
            row.template = Some(r.template.clone());
            row.tone = Some(r.tone);
            row.deadline = r.deadline;
        }
        // What the retry answers, for the report's success by decline code and by attempt.
        (Action::RetryPayment { .. }, Payload::RetryPayment(retry)) => {
            *retries += 1;
            retry.decline_code = due.invoice.payment_failure.as_ref().map(|f| f.decline_code.clone());
            retry.attempt = *retries;
        }
        // A plan offer is a message of its own, listing the instalments the host worked out.
        (Action::OfferPlan(p), Payload::OfferPlan(offer)) if *state == OutboxState::Pending => {
            match offered_plan(&due.invoice, p) {
                Ok(instalments) => {
                    row.channel = Some("email".into());
                    row.template = Some("plan-offer".into());
                    row.tone = Some(Tone::Courteous);
                    row.deadline = instalments.first().map(|i| i.due);
                    offer.instalments = instalments;
                }
                Err(why) => {
                    report.blocked += 1;
                    (*state, *reason) = (OutboxState::Cancelled, Some(format!("plan not offered: {why}")));
                }
            }
        }
        // A fee is an adjustment event on the invoice, written with the decision.
        (Action::ApplyFee(f), _) if *state == OutboxState::Done => match fee(&due.invoice, step, f) {
            Ok(fee) => {
                let amount = due.invoice.money(fee.amount);
                *reason = Some(format!("{amount} added to the invoice"));
                row.fee = Some(fee);
            }
            Err(why) => {
                report.blocked += 1;
                (*state, *reason) = (OutboxState::Cancelled, Some(format!("fee not added: {why}")));
            }
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::decision::{Escalation, Reminder};
    use crate::store::OutboxRow;

    fn due(with: impl FnOnce(&mut DueInvoice)) -> DueInvoice {
        let (name, text) = crate::intake::EXAMPLES[0];
        let data = crate::intake::parse_dataset(name, text).unwrap();
        let invoice = data.invoices.into_iter().find(|i| i.id == "inv-1001").unwrap();
        let customer = data.customers.into_iter().find(|c| c.id == invoice.customer_id).unwrap();
        let mut due = DueInvoice {
            next_review: 0,
            invoice,
            customer: Arc::new(customer),
            stored: String::new(),
            customer_stored: Arc::from(""),
            outbox: vec![],
        };
        with(&mut due);
        due
    }

    fn decided(due: &DueInvoice, actions: Vec<Action>) -> (NewDecision, Counted) {
        let mut d = NewDecision {
            invoice_id: due.invoice.id.clone(),
            customer_id: due.customer.id.clone(),
            at: 0,
            plugin_name: "p".into(),
            plugin_version: "1".into(),
            plugin_sha256: "x".into(),
            input_digest: [0; 32],
            actions: String::new(),
            error: None,
            outbox: vec![],
            refused: vec![],
            next_review: None,
            closed: None,
            arm: None,
            review_at: 0,
        };
        let now = "2026-10-08T09:00:00Z".parse().unwrap();
        let counted = carry_out(&mut d, due, &Decision { actions, next_review: None }, now);
        (d, counted)
    }

    fn remind(step: &str) -> Action {
        Action::Remind(Reminder {
            step: step.into(),
            channel: "email".into(),
            template: "overdue-soft".into(),
            tone: crate::decision::Tone::Soft,
            deadline: None,
        })
    }

    fn review(step: &str) -> Action {
        let escalation = Escalation { step: step.into(), kind: EscalationKind::ManualReview, reason: "odd".into() };
        Action::Escalate(escalation)
    }

    /// (step, state, reason) of each row a decision adds.
    fn rows(d: &NewDecision) -> Vec<(&str, OutboxState, Option<&str>)> {
        d.outbox.iter().map(|o| (o.step.as_str(), o.state, o.reason.as_deref())).collect()
    }

    #[test]
    fn fees_the_host_cannot_add_are_refused_each_with_its_reason() {
        let fee = |step: &str, minor, currency: &str, reason: &str| {
            let (step, currency, reason) = (step.into(), currency.into(), reason.into());
            Action::ApplyFee(FeeAsked { step, minor, currency, reason })
        };
        let (d, counted) = decided(
            &due(|_| {}),
            vec![
                fee("usd", 500, "USD", "late fee"),
                fee("zero", 0, "EUR", "late fee"),
                fee("huge", 125_001, "EUR", "late fee"),
                fee("silent", 500, "EUR", "  "),
                fee("good", 4_000, "eur", "recovery costs"),
            ],
        );
        assert_eq!(
            rows(&d),
            [
                ("usd", OutboxState::Cancelled, Some("fee not added: in USD, the invoice is in EUR")),
                ("zero", OutboxState::Cancelled, Some("fee not added: 0 minor units (1 to the invoice's 125000)")),
                ("huge", OutboxState::Cancelled, Some("fee not added: 125001 minor units (1 to the invoice's 125000)")),
                (
                    "silent",
                    OutboxState::Cancelled,
                    Some("fee not added: a fee needs a reason of 1 to 200 characters, shown to the customer")
                ),
                ("good", OutboxState::Done, Some("40.00 EUR added to the invoice")),
            ]
        );
        assert_eq!(d.outbox[4].fee.as_ref().map(|f| f.amount), Some(4_000));
        assert_eq!(counted, Counted { reminders_queued: 0, actions_recorded: 5, blocked: 4, refused: 0 });
    }

    #[test]
    fn a_plan_offer_needs_a_first_due_date_that_exists() {
        let offer = |step: &str, first_due| {
            Action::OfferPlan(PlanAsked { step: step.into(), instalments: 3, first_due, every_days: 30 })
        };
        let first = chrono::NaiveDate::from_ymd_opt(2026, 10, 20);
        let (d, _) = decided(&due(|_| {}), vec![offer("bad", None), offer("good", first)]);
        assert_eq!(d.outbox[0].reason.as_deref(), Some("plan not offered: the first due date is not a date"));
        assert_eq!(d.outbox[0].state, OutboxState::Cancelled);
        // The offer is a message of its own, with the host's exact split.
        let good = &d.outbox[1];
        assert_eq!(
            (good.state, good.template.as_deref(), good.deadline),
            (OutboxState::Pending, Some("plan-offer"), first)
        );
        let Payload::OfferPlan(offer) = &good.payload else { panic!("{:?}", good.payload) };
        assert_eq!(offer.instalments.iter().map(|i| i.amount).sum::<i64>(), 125_000);
    }

    #[test]
    fn a_step_done_before_or_a_second_reminder_is_dropped_without_a_trace() {
        let done = due(|d| {
            d.outbox.push(OutboxRow {
                id: 1,
                invoice_id: d.invoice.id.clone(),
                customer_id: d.customer.id.clone(),
                step: "overdue-7".into(),
                kind: OutboxKind::Remind,
                channel: Some("email".into()),
                template: Some("overdue-soft".into()),
                tone: Some(crate::decision::Tone::Soft),
                deadline: None,
                payload: Payload::of(&Action::Remind(crate::decision::Reminder {
                    step: "overdue-7".into(),
                    channel: "email".into(),
                    template: "overdue-soft".into(),
                    tone: crate::decision::Tone::Soft,
                    deadline: None,
                }))
                .unwrap(),
                decision_id: 1,
                created_at: 0,
                not_before: 0,
                state: OutboxState::Sent,
                reason: None,
                attempts: 1,
                done_at: Some(0),
                receipt: None,
                claimed_by: None,
                claim_until: None,
                setup_faults: 0,
                legacy_key: false,
            })
        });
        let (d, counted) = decided(&done, vec![remind("overdue-7"), remind("overdue-15"), remind("overdue-30")]);
        // The step already sent is not asked twice; of the two new ones only the first goes in this tick.
        assert_eq!(rows(&d), [("overdue-15", OutboxState::Pending, None)]);
        assert_eq!(counted, Counted { reminders_queued: 1, actions_recorded: 0, blocked: 0, refused: 2 });
        // Neither vanishes: both are kept with the decision, and why.
        let refused: Vec<(&str, RefusedWhy)> = d.refused.iter().map(|r| (r.step.as_str(), r.why)).collect();
        assert_eq!(refused, [("overdue-7", RefusedWhy::StepDone), ("overdue-30", RefusedWhy::OnePerTick)]);
    }

    #[test]
    fn a_dispute_holds_what_the_customer_feels_and_lets_a_review_through() {
        let disputed = due(|d| {
            let opened = "2026-10-05T00:00:00Z".parse().unwrap();
            d.invoice.dispute = Some(crate::invoice::Dispute { opened, reason: "damaged".into() });
        });
        let (d, counted) = decided(&disputed, vec![remind("overdue-7"), review("dispute-review")]);
        assert_eq!(
            rows(&d),
            [
                ("overdue-7", OutboxState::Cancelled, Some("invoice is disputed")),
                ("dispute-review", OutboxState::Done, Some("task opened for a person to review")),
            ]
        );
        let task = d.outbox[1].task.as_ref().unwrap();
        assert_eq!(task.key, "inv-1001/dispute-review");
        assert!(task.script.contains("odd"), "{}", task.script);
        assert_eq!(counted, Counted { reminders_queued: 0, actions_recorded: 1, blocked: 1, refused: 0 });
    }
}
