//! The one write path of an invoice: a change (an event applied, an import's
//! difference) written with its record, the outcome or alert it makes and
//! the service it reinstates, in the caller's transaction.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::payload::{Payload, Reinstate, ReinstateAsked};
use super::{OutboxKind, json, outbox_row, outcomes, status_name};
use crate::decision::EscalationKind;
use crate::event::{Event, EventKind, OutcomeKind, changes_between};
use crate::invoice::{Customer, Invoice, InvoiceStatus};

/// Sets when the policy next looks at the invoice: `Some(at)` to see what
/// changed at the next tick, `None` for an invoice no longer open. Only an
/// open invoice that no decision closed has a next review, so that the due
/// index alone says what is due (a join with the invoices made PostgreSQL
/// hash the whole table for every page). Every writer of an invoice moves its
/// review first: on PostgreSQL that locks the review row before the invoice
/// row, in the order a decision's write takes them, and two events on one
/// invoice run one after the other.
pub(super) async fn schedule_review(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    next: Option<i64>,
) -> anyhow::Result<()> {
    // A closed invoice is never reviewed again, whatever happens to it.
    sqlx::query(
        "UPDATE reviews SET next_review = CASE WHEN closed IS NULL THEN CAST($1 AS BIGINT) END WHERE invoice_id = $2",
    )
    .bind(next)
    .bind(invoice_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes the review row's lock (PostgreSQL; SQLite's writer is alone) before
/// its invoice is read, in the order `schedule_review` takes them.
pub(super) async fn lock_review(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    postgres: bool,
) -> anyhow::Result<()> {
    if postgres {
        sqlx::query("SELECT 1 FROM reviews WHERE invoice_id = $1 FOR UPDATE")
            .bind(invoice_id)
            .fetch_optional(&mut **tx)
            .await?;
    }
    Ok(())
}

/// One change to an invoice as it is written, whatever door it came through
/// (a file, the API, Stripe, a decision's fee, an action's result).
pub(super) struct Change<'a> {
    /// The invoice before the change; `None` for one seen for the first time.
    pub before: Option<&'a Invoice>,
    pub after: &'a Invoice,
    /// The customer, when the change touched it (a stop, an opt-out).
    pub customer: Option<&'a Customer>,
    /// What happened, as the invoice's record says it.
    pub lines: Vec<(EventKind, String)>,
}

/// The one write path of an invoice: the row, its review, the ledger, the
/// record's lines, the outcome each stands for, and a suspended service
/// reinstated once nothing is owed, all decided here for every door.
pub(super) async fn write(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    change: Change<'_>,
    at: i64,
    facts: (i64, bool),
) -> anyhow::Result<()> {
    let Change { before, after, customer, lines } = change;
    let review = (after.status == InvoiceStatus::Open).then_some(at);
    if before.is_none() {
        sqlx::query("INSERT INTO invoices (id, customer_id, status, data, updated_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&after.id)
            .bind(&after.customer_id)
            .bind(status_name(after.status))
            .bind(json(after))
            .bind(at)
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO reviews (invoice_id, next_review) VALUES ($1, $2)")
            .bind(&after.id)
            .bind(review)
            .execute(&mut **tx)
            .await?;
    } else {
        // A change wakes the invoice: the policy sees it at the next tick.
        schedule_review(tx, &after.id, review).await?;
        sqlx::query("UPDATE invoices SET customer_id = $1, status = $2, data = $3, updated_at = $4 WHERE id = $5")
            .bind(&after.customer_id)
            .bind(status_name(after.status))
            .bind(json(after))
            .bind(at)
            .bind(&after.id)
            .execute(&mut **tx)
            .await?;
    }
    super::ledger::put(tx, after).await?;
    if let Some(customer) = customer {
        sqlx::query("UPDATE customers SET data = $1, updated_at = $2 WHERE id = $3")
            .bind(json(customer))
            .bind(at)
            .bind(&customer.id)
            .execute(&mut **tx)
            .await?;
    }
    let paid_before = before.map_or(after.amount_paid, |b| b.amount_paid);
    for (kind, detail) in &lines {
        insert_event(tx, &after.id, at, *kind, detail).await?;
        let outcome = kind.outcome(after.status);
        let payment = matches!(outcome, Some(OutcomeKind::Paid | OutcomeKind::PaidInPart));
        let outcome = outcomes::NewOutcome {
            invoice_id: &after.id,
            customer_id: &after.customer_id,
            event: *kind,
            outcome,
            at,
            // What this change brought in, on the payment line that says so.
            recovered: if payment { (after.amount_paid - paid_before).max(0) } else { 0 },
            currency: &after.currency,
            detail,
            already_paid: before.is_some_and(|b| b.status == InvoiceStatus::Paid),
        };
        outcomes::record(tx, outcome, facts).await?;
    }
    // Paid or voided: nothing is owed, a suspended service comes back.
    if before.is_some_and(|b| b.status != after.status)
        && matches!(after.status, InvoiceStatus::Paid | InvoiceStatus::Void)
    {
        reinstate_after_payment(tx, &after.id, at).await?;
    }
    Ok(())
}

/// A paid (or voided) invoice whose customer's service was suspended, or may
/// have been (a request went out, answered or not), gets a step to reinstate it, once.
pub(super) async fn reinstate_after_payment(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    at: i64,
) -> anyhow::Result<()> {
    let escalations = sqlx::query(
        "SELECT * FROM outbox WHERE invoice_id = $1 AND kind = 'escalate' \
         AND (state = 'done' OR (state = 'pending' AND attempts > 0))",
    )
    .bind(invoice_id)
    .fetch_all(&mut **tx)
    .await?;
    for s in escalations.iter().map(outbox_row) {
        let s = s?;
        if s.payload.escalation().is_none_or(|e| e.kind != EscalationKind::SuspendService) {
            continue;
        }
        let step = s.step;
        let payload = Payload::ReinstateService(Reinstate {
            asked: ReinstateAsked { step: format!("{step}-reinstate"), undoes: step.clone() },
        });
        sqlx::query(
            "INSERT INTO outbox (invoice_id, customer_id, step, kind, payload, decision_id, created_at, not_before, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending') ON CONFLICT (invoice_id, step) DO NOTHING",
        )
        .bind(invoice_id)
        .bind(&s.customer_id)
        .bind(format!("{step}-reinstate"))
        .bind(OutboxKind::ReinstateService.as_str())
        .bind(payload.text())
        .bind(s.decision_id)
        .bind(at)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// `apply_event` inside a transaction that may hold more (an action's outcome).
pub(super) async fn apply_event_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    event: &Event,
    now: DateTime<Utc>,
    facts: (i64, bool),
) -> anyhow::Result<String> {
    let mut what = apply_events_in(tx, invoice_id, std::slice::from_ref(event), now, facts).await?;
    Ok(what.pop().unwrap_or_default())
}

/// Several events on one invoice, in order, read once and written once (a
/// reply that promises a date is a promise and a reply).
pub(super) async fn apply_events_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    events: &[Event],
    now: DateTime<Utc>,
    facts: (i64, bool),
) -> anyhow::Result<Vec<String>> {
    let at = now.timestamp();
    // The review row's lock first, in the order every writer takes them.
    schedule_review(tx, invoice_id, Some(at)).await?;
    let row = sqlx::query("SELECT i.data AS invoice, c.data AS customer FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.id = $1")
        .bind(invoice_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("unknown invoice {invoice_id}"))?;
    let before: Invoice = serde_json::from_str(&row.try_get::<String, _>("invoice")?)?;
    let mut customer: Customer = serde_json::from_str(&row.try_get::<String, _>("customer")?)?;
    let mut invoice = before.clone();
    let lines: Vec<(EventKind, String)> =
        events.iter().map(|event| (event.kind(), event.apply(&mut invoice, &mut customer, now))).collect();
    let what = lines.iter().map(|(_, line)| line.clone()).collect();
    let change = Change { before: Some(&before), after: &invoice, customer: Some(&customer), lines };
    write(tx, change, at, facts).await?;
    Ok(what)
}

/// An import's change: what differs from the stored invoice, as the events
/// that would have made it, each line worded as that event applied says it.
pub(super) fn import_lines(before: Option<&Invoice>, after: &Invoice, now: DateTime<Utc>) -> Vec<(EventKind, String)> {
    let Some(before) = before else {
        let line = format!("{} {} due {}", after.number, after.money(after.amount_due), after.due);
        return vec![(EventKind::Imported, line)];
    };
    let mut replayed = before.clone();
    let mut lines: Vec<(EventKind, String)> =
        changes_between(before, after).iter().map(|e| (e.kind(), e.apply_to_invoice(&mut replayed, now))).collect();
    if lines.is_empty() {
        lines.push((EventKind::Updated, "invoice details changed".into()));
    }
    lines
}

pub(super) async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    at: i64,
    kind: EventKind,
    detail: &str,
) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO events (invoice_id, at, kind, detail) VALUES ($1, $2, $3, $4)")
        .bind(invoice_id)
        .bind(at)
        .bind(kind.name())
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
