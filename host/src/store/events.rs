//! The one write path of an invoice: a change (an event applied, an import's
//! difference) written with its record, the outcome or alert it makes and
//! the service it reinstates, in the caller's transaction.

use chrono::{DateTime, Utc};

use crate::event::{EventKind, changes_between};
use crate::invoice::Invoice;

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
