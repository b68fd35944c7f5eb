//! The checks a due message passes before it is claimed: its invoice's
//! status, the sending window, the weekly cap, one per invoice per tick. They
//! read what was known when its customer was leased (`Known`); the claim is
//! followed by one more look at the invoice as it is then.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::outcome::{Outcome, Wait};
use super::{COMPANIONS, Channel, Delivery, Prepared, ReadyMessage};
use crate::guardrails::{self, Block, Request};
use crate::invoice::{Customer, Invoice};
use crate::plan::{Instalment, Standing};
use crate::store::{OutboxKind, OutboxRow, Payload};

/// What delivery read about a chunk of customers when it leased them: their
/// invoices with the messages due, and when each was last contacted.
#[derive(Default)]
pub(super) struct Known {
    pub invoices: HashMap<String, (Invoice, Customer)>,
    /// Messages sent to each customer in the last seven days, oldest first.
    pub recent: HashMap<String, Vec<i64>>,
}

impl Delivery {
    /// The checks right before a message leaves, then the rendering.
    pub(super) fn prepare(
        &self,
        known: &Known,
        channels: &HashMap<String, Channel>,
        row: &OutboxRow,
        now: DateTime<Utc>,
        reminded: &mut HashSet<String>,
        planned: &mut HashMap<String, Vec<i64>>,
    ) -> Prepared {
        let done = Prepared::Done;
        let Some((invoice, customer)) = known.invoices.get(&row.invoice_id).cloned() else {
            return done(Outcome::Cancel("the invoice no longer exists".into()));
        };
        let channel = formal_route(row.channel.clone().unwrap_or_default(), &customer, channels);
        // A plan's own instalments: only while the plan is kept and the instalment unpaid.
        let instalment = match row.kind {
            OutboxKind::Instalment => match plan_instalment(row, &invoice, &customer, now) {
                Ok(i) => Some(i),
                Err(why) => return done(Outcome::Cancel(why)),
            },
            _ => None,
        };
        let offered: Vec<Instalment> = match &row.payload {
            Payload::OfferPlan(offer) => offer.instalments.clone(),
            _ => vec![],
        };
        // The status is checked again right before the message leaves.
        let asked = row.kind == OutboxKind::Statement;
        let request = Request { of_plan: instalment.is_some(), asked, ..Request::message(&row.step, &channel) };
        match guardrails::check(&request, &invoice, &customer, [], reminded.contains(&invoice.id), now) {
            Ok(()) => {}
            Err(Block::OnePerTick) => {
                let next_tick = now + chrono::Duration::seconds(1);
                return done(Outcome::Wait(next_tick, Block::OnePerTick.to_string(), Wait::Tick));
            }
            // The customer replied after it was decided: it waits for the reply to be read.
            Err(block @ (Block::Answered(until) | Block::TransferToConfirm(until))) => {
                let after = guardrails::day_after(until, customer.timezone);
                return done(Outcome::Wait(after.max(now), block.to_string(), Wait::Tick));
            }
            Err(block) => return done(Outcome::Cancel(block.to_string())),
        }
        let window = self.config.sending.window(&channel);
        let opens = guardrails::next_in_window(&window, customer.timezone, now);
        // What the customer asked for goes now, whatever the hour or the week's count.
        if opens > now && !asked {
            let local = opens.with_timezone(&customer.timezone);
            let reason = format!(
                "outside the sending window; waits until {} ({})",
                local.format("%Y-%m-%d %H:%M"),
                customer.timezone
            );
            return done(Outcome::Wait(opens, reason, Wait::Window(customer.timezone)));
        }
        // A reminder joining a message already leaving in this tick adds no contact.
        let together = row.kind == OutboxKind::Remind && self.config.sending.consolidate.contains(&channel);
        let group = format!("{}{COMPANIONS}{channel}{COMPANIONS}{}", customer.id, invoice.currency);
        let joins = together && reminded.contains(&group);
        let week_ago = now.timestamp() - 7 * 86_400;
        let mut recent: Vec<i64> =
            known.recent.get(&customer.id).into_iter().flatten().copied().filter(|at| *at >= week_ago).collect();
        // Messages already planned in this tick count too.
        recent.extend(planned.get(&customer.id).into_iter().flatten());
        recent.sort_unstable();
        if !joins
            && !asked
            && let Some(until) = guardrails::cap_wait(&recent, self.config.sending.cap_per_week, now)
        {
            let reason =
                format!("{} contacts in 7 days already; waits until {until}", self.config.sending.cap_per_week);
            return done(Outcome::Wait(until, reason, Wait::Cap));
        }
        if !channels.contains_key(&channel) {
            return done(Outcome::Fail(format!(
                "no channel {channel:?} is configured (add [channels.{channel}] to the config)"
            )));
        }
        reminded.insert(invoice.id.clone());
        // Reminders that go out together in one message are one contact for the weekly cap.
        if !together || reminded.insert(group) {
            planned.entry(customer.id.clone()).or_default().push(now.timestamp());
        }
        let send = ReadyMessage {
            row: row.clone(),
            channel,
            invoice,
            customer,
            instalment,
            offered,
            companions: vec![],
            account: vec![],
        };
        Prepared::Ready(Box::new(send))
    }
}

/// How a formal notice sent by PEC that had to go as a registered letter says so.
pub(super) const REROUTED: &str = "as a registered letter (no PEC address for the customer, or no PEC relay set up): ";

/// A message asked by PEC goes as a registered letter when the customer has
/// no PEC address or no PEC relay is set up (`[channels.pec]`): a formal
/// notice that cannot leave is no notice, and the letter is as traceable.
pub(super) fn formal_route(
    asked: String,
    customer: &crate::invoice::Customer,
    channels: &HashMap<String, Channel>,
) -> String {
    match asked.as_str() {
        "pec" if customer.pec.is_none() || !channels.contains_key("pec") => "letter".into(),
        _ => asked,
    }
}

/// The instalment an instalment reminder is about and what is left on it,
/// or why it no longer goes out.
pub(super) fn plan_instalment(
    row: &OutboxRow,
    invoice: &crate::invoice::Invoice,
    customer: &crate::invoice::Customer,
    now: DateTime<Utc>,
) -> Result<(Instalment, i64), String> {
    let Some(plan) = &invoice.plan else { return Err("the invoice is not on a payment plan".into()) };
    let Payload::Instalment(due) = &row.payload else { return Err("not an instalment's reminder".into()) };
    let number = due.instalment.number;
    let Some(instalment) = plan.instalments.iter().find(|i| i.number == number) else {
        return Err(format!("the plan has no instalment {number}"));
    };
    let today = now.with_timezone(&customer.timezone).date_naive();
    if let Standing::Missed(missed) = plan.standing(invoice.amount_paid, today) {
        return Err(format!(
            "the plan was not kept: instalment {} was due {} and is unpaid",
            missed.number, missed.due
        ));
    }
    match plan.left_on(number, invoice.amount_paid) {
        0 => Err(format!("instalment {number} is paid")),
        left => Ok((instalment.clone(), left)),
    }
}
