//! The store's side of actions that are not messages: the ones due, their
//! outcome written with the event it causes, and the reinstatement a payment
//! owes a suspended customer.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{OutboxRow, Store, apply_event_in, outbox_row};
use crate::invoice::Event;

/// The kind of the step the host adds to undo a suspension.
pub const REINSTATE: &str = "reinstate-service";

/// How an action ended (or why it waits), and what it did to the invoice.
pub struct Settled<'a> {
    pub state: &'a str,
    pub reason: Option<&'a str>,
    pub receipt: Option<&'a str>,
    /// The outcome as an event on the invoice (a payment, a declined charge).
    pub event: Option<Event>,
}

impl Store {
    /// Actions other than messages whose time has come, oldest first.
    pub async fn pending_actions(&self, now: i64) -> anyhow::Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT * FROM outbox WHERE state = 'pending' AND kind <> 'remind' AND not_before <= $1 ORDER BY id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_row).collect()
    }

    /// Ends an action and applies the event it caused, in one transaction:
    /// a run stopped in between leaves the action waiting, and the next run
    /// asks again with the same idempotency key.
    pub async fn settle(&self, row: &OutboxRow, settled: Settled<'_>, now: DateTime<Utc>) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(event) = &settled.event {
            apply_event_in(&mut tx, &row.invoice_id, event, now).await?;
        }
        sqlx::query("UPDATE outbox SET state = $1, reason = $2, receipt = $3, done_at = $4, attempts = attempts + 1 WHERE id = $5 AND state = 'pending'")
            .bind(settled.state)
            .bind(settled.reason)
            .bind(settled.receipt)
            .bind(now.timestamp())
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A paid invoice whose customer's service was suspended (or may have been:
/// the request went out unanswered) gets a step to reinstate it, once.
pub(super) async fn reinstate_after_payment(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    at: i64,
) -> anyhow::Result<()> {
    let suspensions = sqlx::query(
        "SELECT customer_id, step, decision_id FROM outbox WHERE invoice_id = $1 AND kind = 'escalate' \
         AND payload LIKE '%\"suspend-service\"%' AND (state = 'done' OR (state = 'pending' AND attempts > 0))",
    )
    .bind(invoice_id)
    .fetch_all(&mut **tx)
    .await?;
    for s in suspensions {
        let step: String = s.try_get("step")?;
        let payload = serde_json::json!({ REINSTATE: { "step": format!("{step}-reinstate"), "undoes": step } });
        sqlx::query(
            "INSERT INTO outbox (invoice_id, customer_id, step, kind, payload, decision_id, created_at, not_before, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending') ON CONFLICT (invoice_id, step) DO NOTHING",
        )
        .bind(invoice_id)
        .bind(s.try_get::<String, _>("customer_id")?)
        .bind(format!("{step}-reinstate"))
        .bind(REINSTATE)
        .bind(payload.to_string())
        .bind(s.try_get::<i64, _>("decision_id")?)
        .bind(at)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
