//! Alerts for the operator, kept like the outbox: an alert is written in the
//! transaction of what caused it (a failed payment, a recovery) or at the end
//! of the tick that saw it (a failing policy or relay), then posted until
//! the operator's system acknowledges it.

use serde_json::Value;
use sqlx::Row;

use super::Store;

/// An alert waiting to be posted.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: i64,
    pub kind: String,
    pub body: Value,
    pub attempts: i64,
}

/// Writes an alert in a transaction that holds more.
pub(super) async fn raise_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &str,
    subject: &str,
    at: i64,
    body: &Value,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO alerts (kind, subject, at, body, state, not_before) VALUES ($1, $2, $3, $4, 'pending', $5)",
    )
    .bind(kind)
    .bind(subject)
    .bind(at)
    .bind(body.to_string())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Alerts are written from now on (an alerts URL is configured).
    pub fn with_alerts(mut self, on: bool) -> Self {
        self.alerts = on;
        self
    }

    /// Raises an alert of the tick, unless one of the same kind and subject was raised since `quiet_since`.
    pub async fn raise_alert(
        &self,
        kind: &str,
        subject: &str,
        body: &Value,
        at: i64,
        quiet_since: i64,
    ) -> anyhow::Result<bool> {
        if !self.alerts {
            return Ok(false);
        }
        let mut tx = self.begin_write().await?;
        let recent = sqlx::query("SELECT id FROM alerts WHERE kind = $1 AND subject = $2 AND at >= $3 LIMIT 1")
            .bind(kind)
            .bind(subject)
            .bind(quiet_since)
            .fetch_optional(&mut *tx)
            .await?;
        if recent.is_some() {
            return Ok(false);
        }
        raise_in(&mut tx, kind, subject, at, body).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Alerts due to be posted, oldest first.
    pub async fn pending_alerts(&self, now: i64) -> anyhow::Result<Vec<AlertRow>> {
        let rows = sqlx::query(
            "SELECT id, kind, body, attempts FROM alerts WHERE state = 'pending' AND not_before <= $1 ORDER BY id LIMIT 500",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AlertRow {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    body: serde_json::from_str(&r.try_get::<String, _>("body")?)?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Writes what became of an alert: `sent`, `failed`, or `pending` again from `not_before`.
    pub async fn settle_alert(
        &self,
        id: i64,
        state: &str,
        not_before: i64,
        reason: Option<&str>,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE alerts SET state = $1, attempts = attempts + 1, not_before = $2, reason = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(not_before)
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
