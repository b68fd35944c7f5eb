//! What comes back (replies, bounces, complaints), kept once, and what each
//! did, written in one transaction with its events: a message is either
//! handled and kept, or not kept at all and handled again the next time.

use serde::Serialize;
use sqlx::Row;

use super::events::apply_events_in;
use super::{OutboxRow, Store, outbox_row};
use crate::event::Event;
use crate::invoice::Customer;
use crate::outgoing::Task;

/// What a message kept is and what it did; the raw bytes beside it.
pub(crate) struct NewInbound<'a> {
    pub door: &'a str,
    pub digest: &'a str,
    pub message_id: Option<&'a str>,
    /// The whole message's size; `raw` may be only its beginning.
    pub size: usize,
    pub raw: &'a [u8],
    pub sender: Option<&'a str>,
    pub subject: &'a str,
    pub kind: &'a str,
    pub state: InboundState,
    pub reason: &'a str,
    pub customer_id: Option<&'a str>,
    pub invoice_id: Option<&'a str>,
    pub outbox_id: Option<i64>,
    /// The sender's own words, for a person and the timeline.
    pub text: &'a str,
    /// What the reader read a reply to say.
    pub intent: Option<crate::invoice::ReplyIntent>,
}

/// What became of a message that came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum InboundState {
    /// Matched and acted on.
    Applied,
    /// Matched but not trusted, or not read by the host: a person decides.
    Task,
    /// Kept, and nothing to do (a delivery report).
    Recorded,
    /// Not read or not matched: kept with the reason, shown to a person.
    Quarantined,
}

impl InboundState {
    /// Quarantined, or matched but left to a person.
    pub(crate) fn waits_for_a_person(self) -> bool {
        matches!(self, InboundState::Task | InboundState::Quarantined)
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InboundState::Applied => "applied",
            InboundState::Task => "task",
            InboundState::Recorded => "recorded",
            InboundState::Quarantined => "quarantined",
        }
    }
}

/// What a message does, written with it.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub events: Vec<(String, Event)>,
    pub task: Option<(String, Task)>,
    /// Sent messages that came back: they read `failed` with this reason.
    pub bounced: Vec<(i64, String)>,
}

/// A message kept, as listed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InboundRow {
    pub id: i64,
    pub received_at: i64,
    pub door: String,
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub kind: String,
    pub state: String,
    pub reason: String,
    pub customer_id: Option<String>,
    pub invoice_id: Option<String>,
    pub text: Option<String>,
    /// What the reader read a reply to say (`says-paid`, `promise`...).
    pub intent: Option<String>,
}

impl Store {
    /// Whether a message was kept already, by its digest or its Message-ID.
    pub(crate) async fn inbound_known(&self, digest: &str, message_id: Option<&str>) -> anyhow::Result<bool> {
        let row = sqlx::query("SELECT 1 FROM inbound WHERE digest = $1 OR message_id = $2 LIMIT 1")
            .bind(digest)
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Whether a delay report of sent row `outbox_id` was counted already.
    pub(crate) async fn soft_bounce_counted(&self, outbox_id: i64) -> anyhow::Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM inbound WHERE outbox_id = $1 AND kind = 'soft-bounce' AND state = 'applied' LIMIT 1",
        )
        .bind(outbox_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Messages kept from `sender` since `since`.
    pub(crate) async fn inbound_from(&self, sender: &str, since: i64) -> anyhow::Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM inbound WHERE sender = $1 AND received_at >= $2")
            .bind(sender)
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Messages that left with one of these Message-IDs (a consolidated one is several rows).
    pub(crate) async fn sent_with_message_ids(&self, ids: &[String]) -> anyhow::Result<Vec<OutboxRow>> {
        let mut out: Vec<OutboxRow> = vec![];
        for id in ids.iter().take(50) {
            let rows = sqlx::query("SELECT * FROM outbox WHERE message_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
            for row in rows.iter().map(outbox_row) {
                let row = row?;
                if !out.iter().any(|r| r.id == row.id) {
                    out.push(row);
                }
            }
        }
        Ok(out)
    }

    /// The message of one step of one invoice, if it left by email.
    pub(crate) async fn sent_step(&self, invoice_id: &str, step: &str) -> anyhow::Result<Option<OutboxRow>> {
        let condition = "invoice_id = $1 AND step = $2 AND message_id IS NOT NULL";
        Ok(self.outbox_where(condition, &[invoice_id, step]).await?.into_iter().next())
    }

    /// Every row that left in the same message as row `id` (a consolidated message carries several).
    pub(crate) async fn same_message_as(&self, id: i64) -> anyhow::Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT * FROM outbox WHERE message_id = (SELECT message_id FROM outbox WHERE id = $1) ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_row).collect()
    }

    /// Customers whose email address is `address` (lower case).
    pub(crate) async fn customers_with_email(&self, address: &str) -> anyhow::Result<Vec<Customer>> {
        let rows = sqlx::query("SELECT data FROM customers WHERE email = $1 ORDER BY id LIMIT 20")
            .bind(address.to_lowercase())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("data")?)?)).collect()
    }

    /// The latest message that left for a customer by email, with its Message-ID.
    pub(crate) async fn last_email_to(&self, customer_id: &str) -> anyhow::Result<Option<OutboxRow>> {
        let row = sqlx::query(
            "SELECT * FROM outbox WHERE customer_id = $1 AND message_id IS NOT NULL ORDER BY done_at DESC, id DESC LIMIT 1",
        )
        .bind(customer_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(outbox_row).transpose()
    }

    /// Keeps a message and writes what it does, at once. `false`: it was kept
    /// already (the same bytes or Message-ID from another door, or at once), and nothing was written.
    pub(crate) async fn keep_inbound(
        &self,
        m: NewInbound<'_>,
        effects: Effects,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<bool> {
        Ok(self.keep_inbound_all(vec![(m, effects)], now).await?.pop().unwrap_or(false))
    }

    /// Keeps messages and writes what each does, all in one transaction (one
    /// commit for many); each `false` was kept already, and wrote nothing.
    pub(crate) async fn keep_inbound_all(
        &self,
        messages: Vec<(NewInbound<'_>, Effects)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<Vec<bool>> {
        let mut tx = self.begin_write().await?;
        let mut kept = Vec::with_capacity(messages.len());
        for (m, effects) in messages {
            kept.push(self.keep_in(&mut tx, m, effects, now).await?);
        }
        tx.commit().await?;
        Ok(kept)
    }

    async fn keep_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        m: NewInbound<'_>,
        effects: Effects,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<bool> {
        let at = now.timestamp();
        // The digest and the Message-ID are both unique: a second copy by either inserts nothing.
        let inserted = sqlx::query(
            "INSERT INTO inbound (received_at, door, digest, message_id, size, raw, sender, subject, kind, state, reason, \
             customer_id, invoice_id, outbox_id, text, intent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING",
        )
        .bind(at)
        .bind(m.door)
        .bind(m.digest)
        .bind(m.message_id)
        .bind(m.size as i64)
        .bind(m.raw)
        .bind(m.sender)
        .bind(m.subject)
        .bind(m.kind)
        .bind(m.state.as_str())
        .bind(m.reason)
        .bind(m.customer_id)
        .bind(m.invoice_id)
        .bind(m.outbox_id)
        .bind(m.text)
        .bind(m.intent.map(crate::invoice::ReplyIntent::name))
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        for (id, reason) in &effects.bounced {
            sqlx::query("UPDATE outbox SET state = 'failed', reason = $1 WHERE id = $2 AND state = 'sent'")
                .bind(reason)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        // One read and one write per invoice, its events in their order.
        let mut invoices: Vec<&str> = vec![];
        for (invoice_id, _) in &effects.events {
            if !invoices.contains(&invoice_id.as_str()) {
                invoices.push(invoice_id);
            }
        }
        for invoice_id in invoices {
            let events: Vec<Event> =
                effects.events.iter().filter(|(i, _)| i == invoice_id).map(|(_, e)| e.clone()).collect();
            apply_events_in(tx, invoice_id, &events, now, (self.attribution_days, self.alerts)).await?;
        }
        if let Some((invoice_id, task)) = &effects.task {
            self.open_task(tx, invoice_id, task, at).await?;
        }
        Ok(true)
    }

    /// What came back about an invoice, oldest first.
    pub(crate) async fn inbound_of(&self, invoice_id: &str) -> anyhow::Result<Vec<InboundRow>> {
        self.inbound_where("WHERE invoice_id = $1 ORDER BY id", invoice_id, 500).await
    }

    /// Messages kept, newest first: only those a person must look at unless `all`.
    pub(crate) async fn inbound(&self, all: bool, limit: i64) -> anyhow::Result<Vec<InboundRow>> {
        let filter = if all { "WHERE $1 = $1" } else { "WHERE state IN ('quarantined', 'task') AND $1 = $1" };
        self.inbound_where(&format!("{filter} ORDER BY id DESC"), "", limit).await
    }

    async fn inbound_where(&self, condition: &str, arg: &str, limit: i64) -> anyhow::Result<Vec<InboundRow>> {
        let sql = format!(
            "SELECT id, received_at, door, message_id, sender, subject, kind, state, reason, customer_id, invoice_id, text, \
             intent FROM inbound {condition} LIMIT $2"
        );
        let rows = sqlx::query(&sql).bind(arg).bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(InboundRow {
                    id: r.try_get("id")?,
                    received_at: r.try_get("received_at")?,
                    door: r.try_get("door")?,
                    message_id: r.try_get("message_id")?,
                    sender: r.try_get("sender")?,
                    subject: r.try_get("subject")?,
                    kind: r.try_get("kind")?,
                    state: r.try_get("state")?,
                    reason: r.try_get("reason")?,
                    customer_id: r.try_get("customer_id")?,
                    invoice_id: r.try_get("invoice_id")?,
                    text: r.try_get("text")?,
                    intent: r.try_get("intent")?,
                })
            })
            .collect()
    }
}
