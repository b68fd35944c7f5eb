//! The store's side of actions that are not messages: the ones due, their
//! outcome written with the event it causes, and the reinstatement a payment
//! owes a suspended customer.

use chrono::{DateTime, Utc};

use super::payload::{InstalmentDue, InstalmentOf, Payload};
use super::{OUTBOX_COLUMNS, OutboxKind, OutboxRow, OutboxState, Store, apply_event_in, outbox_row};
use crate::event::{Door, Event};
use crate::plan::{Instalment, Plan};

/// The kind of the step the host adds to undo a suspension.
pub const REINSTATE: &str = "reinstate-service";

/// How an action ended (or why it waits), and what it did to the invoice.
pub struct Settled<'a> {
    pub state: OutboxState,
    pub reason: Option<&'a str>,
    pub receipt: Option<&'a str>,
    /// The outcome as an event on the invoice (a payment, a declined charge).
    pub event: Option<Event>,
}

impl Store {
    /// Actions other than messages whose time has come, oldest first.
    pub async fn pending_actions(&self, now: i64) -> anyhow::Result<Vec<OutboxRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' \
             AND kind NOT IN ('remind', 'offer-plan', 'instalment', 'statement') AND not_before <= $1 ORDER BY id",
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_row).collect()
    }

    /// Ends an action and applies the event it caused, in one transaction:
    /// a run stopped in between leaves the action waiting, and the next run
    /// asks again with the same idempotency key.
    pub async fn settle(&self, row: &OutboxRow, settled: Settled<'_>, now: DateTime<Utc>) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        let ended = sqlx::query(
            "UPDATE outbox SET state = $1, reason = $2, receipt = $3, done_at = $4 WHERE id = $5 AND state = 'pending'",
        )
        .bind(settled.state.as_str())
        .bind(settled.reason)
        .bind(settled.receipt)
        .bind(now.timestamp())
        .bind(row.id)
        .execute(&mut *tx)
        .await?;
        // Another process settled it first (two ticks on one database): its event is in already.
        if ended.rows_affected() != 1 {
            return Ok(());
        }
        if let Some(event) = &settled.event {
            apply_event_in(&mut tx, &row.invoice_id, event, now, self.facts(Door::Step)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Counts a try before it leaves, so that a run stopped during it is known to have tried.
    pub async fn mark_attempt(&self, id: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1 WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Why a plan cannot be accepted (exit code 2: nothing changed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CannotAccept(pub String);

impl Store {
    /// The customer accepts the plan last offered on an invoice: the plan is
    /// recorded as an event on the invoice and each instalment gets its
    /// reminder, a few days before it is due, in one transaction.
    pub async fn accept_plan(&self, invoice_id: &str, door: Door, now: DateTime<Utc>) -> anyhow::Result<Plan> {
        let refuse = |why: String| anyhow::Error::new(CannotAccept(why));
        let Some((invoice, _)) = self.invoice(invoice_id).await? else {
            return Err(refuse(format!("unknown invoice {invoice_id:?}")));
        };
        if invoice.status != crate::invoice::InvoiceStatus::Open {
            return Err(refuse(format!("invoice {invoice_id} is not open")));
        }
        if invoice.plan.is_some() {
            return Err(refuse(format!("invoice {invoice_id} is already on a payment plan")));
        }
        let outbox = self.outbox_of(invoice_id).await?;
        let Some(offer) =
            outbox.iter().rev().find(|o| o.kind == OutboxKind::OfferPlan && o.state != OutboxState::Recorded)
        else {
            return Err(refuse(format!("no payment plan was offered on invoice {invoice_id}")));
        };
        if offer.state != OutboxState::Sent {
            let why = offer.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            return Err(refuse(format!("the plan offer {} was not sent ({}{why})", offer.step, offer.state)));
        }
        let offered: &[Instalment] = match &offer.payload {
            Payload::OfferPlan(o) => &o.instalments,
            _ => &[],
        };
        let (Some(first), Some(count)) = (offered.first(), u32::try_from(offered.len()).ok()) else {
            return Err(refuse(format!("the plan offer {} lists no instalments", offer.step)));
        };
        // Paid something since the offer: the same dates, split over what is
        // left. Accepted after its first date: the same plan, from today (an
        // instalment due in the past would be late the moment it is agreed).
        let every = offered.get(1).map_or(0, |second| (second.due - first.due).num_days()) as u32;
        let today = now.date_naive();
        let instalments =
            if offered.iter().map(|i| i.amount).sum::<i64>() == invoice.outstanding() && first.due >= today {
                offered.to_vec()
            } else {
                crate::plan::split(invoice.outstanding(), count, first.due.max(today), every).map_err(refuse)?
            };
        let plan = Plan { step: offer.step.clone(), accepted: now, paid_before: invoice.amount_paid, instalments };

        let mut tx = self.begin_write().await?;
        // The review's lock before the invoice's, in the order a decision's
        // write takes them (it may add a fee to this invoice at this moment).
        super::events::schedule_review(&mut tx, invoice_id, Some(now.timestamp())).await?;
        // Claimed inside the transaction (the row is locked from here): of two
        // accepts at once, the second finds the plan and changes nothing.
        let claimed = sqlx::query(
            "UPDATE invoices SET updated_at = $1 WHERE id = $2 AND status = 'open' AND data NOT LIKE '%\"plan\":%'",
        )
        .bind(now.timestamp())
        .bind(invoice_id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Err(refuse(format!("invoice {invoice_id} is already on a payment plan, or no longer open")));
        }
        apply_event_in(&mut tx, invoice_id, &Event::PlanAccepted { plan: plan.clone() }, now, self.facts(door)).await?;
        for i in &plan.instalments {
            let remind_from = (i.due - chrono::Days::new(INSTALMENT_NOTICE_DAYS)).and_time(chrono::NaiveTime::MIN);
            let payload = Payload::Instalment(InstalmentDue {
                instalment: InstalmentOf { number: i.number, plan: plan.step.clone() },
            });
            sqlx::query(
                "INSERT INTO outbox (invoice_id, customer_id, step, kind, channel, template, tone, deadline, payload, decision_id, created_at, not_before, state) \
                 VALUES ($1, $2, $3, 'instalment', 'email', 'instalment-due', 'courteous', $4, $5, $6, $7, $8, 'pending') \
                 ON CONFLICT (invoice_id, step) DO NOTHING",
            )
            .bind(invoice_id)
            .bind(&invoice.customer_id)
            .bind(format!("{}-{}", plan.step, i.number))
            .bind(i.due.to_string())
            .bind(payload.text())
            .bind(offer.decision_id)
            .bind(now.timestamp())
            .bind(remind_from.and_utc().timestamp().max(now.timestamp()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(plan)
    }
}

/// Days before an instalment's due date that its reminder goes out.
pub(super) const INSTALMENT_NOTICE_DAYS: u64 = 3;
