//! Stripe's events as they were received. Stripe delivers an event more than
//! once and out of order, and says so: each event id is handled once, and an
//! event older than the newest one applied to its object changes nothing.

use sqlx::Row;

use super::Store;

/// What to do with an event that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripeGate {
    /// New; `newest` is the time of the newest event applied to its object so far.
    Apply { newest: Option<i64> },
    /// Handled before: acknowledged, nothing changes.
    Duplicate,
    /// Older than what its object already reflects: acknowledged, nothing changes.
    Stale { newest: i64 },
}

impl Store {
    /// Whether an event is new, and not older than its object's newest applied event.
    pub async fn stripe_gate(&self, event_id: &str, object_id: &str, created: i64) -> anyhow::Result<StripeGate> {
        let seen = sqlx::query("SELECT id FROM stripe_events WHERE id = $1").bind(event_id).fetch_optional(&self.pool);
        if seen.await?.is_some() {
            return Ok(StripeGate::Duplicate);
        }
        let newest = sqlx::query("SELECT newest FROM stripe_objects WHERE id = $1")
            .bind(object_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get::<i64, _>("newest"))
            .transpose()?;
        Ok(match newest {
            Some(newest) if newest > created => StripeGate::Stale { newest },
            newest => StripeGate::Apply { newest },
        })
    }

    /// Records an event as handled, applied or not; an applied one moves its
    /// object's newest time forward (never back).
    pub async fn stripe_record(
        &self,
        event_id: &str,
        kind: &str,
        object_id: &str,
        created: i64,
        outcome: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO stripe_events (id, kind, object_id, created, outcome, received_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(event_id)
        .bind(kind)
        .bind(object_id)
        .bind(created)
        .bind(outcome)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if outcome == "applied" {
            sqlx::query(
                "INSERT INTO stripe_objects (id, newest) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET newest = \
                 CASE WHEN excluded.newest > stripe_objects.newest THEN excluded.newest ELSE stripe_objects.newest END",
            )
            .bind(object_id)
            .bind(created)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
