//! The event log: an event applied to its invoice (and customer) and
//! recorded, with the outcome or alert it makes, in one transaction; and
//! what changed between two versions of an invoice, as events.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{actions, json, outcomes, status_name};
use crate::invoice::{Customer, Event, Invoice, InvoiceStatus};

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

/// `apply_event` inside a transaction that may hold more (an action's outcome).
pub(super) async fn apply_event_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    event: &Event,
    now: DateTime<Utc>,
    facts: (i64, bool),
) -> anyhow::Result<String> {
    let at = now.timestamp();
    schedule_review(tx, invoice_id, Some(at)).await?;
    let row = sqlx::query("SELECT i.data AS invoice, c.data AS customer FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.id = $1")
        .bind(invoice_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("unknown invoice {invoice_id}"))?;
    let mut invoice: Invoice = serde_json::from_str(&row.try_get::<String, _>("invoice")?)?;
    let mut customer: Customer = serde_json::from_str(&row.try_get::<String, _>("customer")?)?;
    let (was, paid_before) = (invoice.status, invoice.amount_paid);
    let what = event.apply(&mut invoice, &mut customer, now);
    sqlx::query("UPDATE invoices SET status = $1, data = $2, updated_at = $3 WHERE id = $4")
        .bind(status_name(invoice.status))
        .bind(json(&invoice))
        .bind(at)
        .bind(invoice_id)
        .execute(&mut **tx)
        .await?;
    if invoice.status != InvoiceStatus::Open {
        schedule_review(tx, invoice_id, None).await?;
    }
    super::ledger::put(tx, &invoice).await?;
    sqlx::query("UPDATE customers SET data = $1, updated_at = $2 WHERE id = $3")
        .bind(json(&customer))
        .bind(at)
        .bind(&customer.id)
        .execute(&mut **tx)
        .await?;
    let kind = serde_json::to_value(event)?["type"].as_str().unwrap_or("event").to_string();
    insert_event(tx, invoice_id, at, &kind, &what).await?;
    // A partial payment that settles the invoice is an outcome of payment in full.
    let kind = if kind == "payment-received" && invoice.status == InvoiceStatus::Paid { "paid".into() } else { kind };
    let outcome = outcomes::NewOutcome {
        invoice_id,
        customer_id: &customer.id,
        event_kind: &kind,
        at,
        recovered: (invoice.amount_paid - paid_before).max(0),
        currency: &invoice.currency,
        detail: &what,
        already_paid: was == InvoiceStatus::Paid,
    };
    outcomes::record(tx, outcome, facts).await?;
    // Paid or voided: nothing is owed, a suspended service comes back.
    if was == InvoiceStatus::Open && matches!(invoice.status, InvoiceStatus::Paid | InvoiceStatus::Void) {
        actions::reinstate_after_payment(tx, invoice_id, at).await?;
    }
    Ok(what)
}

pub(super) async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    at: i64,
    kind: &str,
    detail: &str,
) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO events (invoice_id, at, kind, detail) VALUES ($1, $2, $3, $4)")
        .bind(invoice_id)
        .bind(at)
        .bind(kind)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What changed between two versions of an invoice, as events.
pub(super) fn changes_between(before: &Invoice, after: &Invoice) -> Vec<(String, String)> {
    let mut out = vec![];
    if before.status != after.status {
        out.push((
            status_name(after.status).to_string(),
            format!("status {} -> {}", status_name(before.status), status_name(after.status)),
        ));
    }
    if before.amount_paid != after.amount_paid {
        out.push(("payment-recorded".into(), format!("amount paid {} -> {}", before.amount_paid, after.amount_paid)));
    }
    if before.payment_failure != after.payment_failure
        && let Some(f) = &after.payment_failure
    {
        out.push(("payment-failed".into(), format!("{} (attempt {})", f.decline_code, f.attempts)));
    }
    match (&before.dispute, &after.dispute) {
        (None, Some(d)) => out.push(("dispute-opened".into(), d.reason.clone())),
        (Some(_), None) => out.push(("dispute-closed".into(), String::new())),
        _ => {}
    }
    if before.promise_to_pay != after.promise_to_pay
        && let Some(p) = &after.promise_to_pay
    {
        out.push(("promise-to-pay".into(), format!("until {}", p.until)));
    }
    if out.is_empty() {
        out.push(("updated".into(), "invoice details changed".into()));
    }
    out
}
