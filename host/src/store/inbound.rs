//! What comes back (replies, bounces, complaints), kept once, and what each
//! did, written in one transaction with its events: a message is either
//! handled and kept, or not kept at all and handled again the next time.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sqlx::Row;

use super::changes::apply_events_all;
use super::outbox_page::StoredOutbox;
use super::rows::placeholders;
use super::rows::{Cell, values};
use super::{OUTBOX_COLUMNS, OutboxRow, Store, outbox_row};
use crate::event::{Door, Event};
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

/// What the store holds about a batch of messages coming in, read in a few
/// statements for the whole batch (a statement each per message was most of
/// the time a message took).
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Digests and Message-IDs of the messages kept already.
    kept: HashSet<String>,
    /// The messages that left, by their Message-ID (a consolidated one is several rows).
    sent: HashMap<String, Vec<OutboxRow>>,
    /// The customers of those messages.
    customers: HashMap<String, Customer>,
    /// Messages kept from each sender since the hour began.
    senders: HashMap<String, i64>,
}

/// What a batch of messages is looked up by.
#[derive(Debug, Default)]
pub(crate) struct Lookup<'a> {
    pub digests: Vec<&'a str>,
    pub message_ids: Vec<&'a str>,
    /// The Message-IDs the messages answer or return.
    pub answers: Vec<&'a str>,
    pub senders: Vec<&'a str>,
    /// The hour's beginning, for the senders' counts.
    pub since: i64,
}

/// Keys in one `IN (...)` list.
const KEYS_PER_STATEMENT: usize = 500;

impl Seen {
    /// Whether a message was kept already, by its digest or its Message-ID.
    pub(crate) fn kept(&self, digest: &str, message_id: Option<&str>) -> bool {
        self.kept.contains(digest) || message_id.is_some_and(|id| self.kept.contains(id))
    }

    /// The messages that left with one of these Message-IDs, in the order of the ids.
    pub(crate) fn sent_with(&self, ids: &[String]) -> Vec<OutboxRow> {
        let mut out: Vec<OutboxRow> = vec![];
        for row in ids.iter().take(50).filter_map(|id| self.sent.get(id)).flatten() {
            if !out.iter().any(|r| r.id == row.id) {
                out.push(row.clone());
            }
        }
        out
    }

    /// A customer of a message that left, if the batch read it.
    pub(crate) fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.get(id)
    }

    /// Messages kept from `sender` in the hour.
    pub(crate) fn sent_by(&self, sender: &str) -> i64 {
        self.senders.get(sender).copied().unwrap_or(0)
    }
}

impl Store {
    /// What the store holds about a batch of messages: four statements for
    /// up to 500 of each key, not several per message.
    pub(crate) async fn seen(&self, keys: &Lookup<'_>) -> anyhow::Result<Seen> {
        let mut seen = Seen::default();
        for chunk in keys.digests.chunks(KEYS_PER_STATEMENT) {
            let sql =
                format!("SELECT digest FROM inbound WHERE digest IN {}", placeholders(self.postgres, 1, chunk.len()));
            seen.kept.extend(self.strings(&sql, chunk).await?);
        }
        for chunk in keys.message_ids.chunks(KEYS_PER_STATEMENT) {
            let marks = placeholders(self.postgres, 1, chunk.len());
            let sql = format!("SELECT message_id FROM inbound WHERE message_id IN {marks}");
            seen.kept.extend(self.strings(&sql, chunk).await?);
        }
        for chunk in keys.answers.chunks(KEYS_PER_STATEMENT) {
            let marks = placeholders(self.postgres, 1, chunk.len());
            let sql = super::outbox_where_sql(&format!("message_id IN {marks}"));
            let mut query = sqlx::query(&sql);
            for key in chunk {
                query = query.bind(*key);
            }
            for row in query.fetch_all(&self.pool).await? {
                let stored = StoredOutbox::read(&row)?;
                let message_id = stored.message_id().unwrap_or_default().to_string();
                seen.sent.entry(message_id).or_default().push(stored.into_row()?);
            }
        }
        let customers: Vec<&str> =
            seen.sent.values().flatten().map(|r| r.customer_id.as_str()).collect::<HashSet<_>>().into_iter().collect();
        for chunk in customers.chunks(KEYS_PER_STATEMENT) {
            let sql = format!("SELECT data FROM customers WHERE id IN {}", placeholders(self.postgres, 1, chunk.len()));
            for data in self.strings(&sql, chunk).await? {
                let customer: Customer = serde_json::from_str(&data)?;
                seen.customers.insert(customer.id.clone(), customer);
            }
        }
        for chunk in keys.senders.chunks(KEYS_PER_STATEMENT) {
            let marks = placeholders(self.postgres, 1, chunk.len());
            let sql = format!(
                "SELECT sender, COUNT(*) AS n FROM inbound WHERE sender IN {marks} AND received_at >= {} GROUP BY sender",
                keys.since
            );
            let mut query = sqlx::query(&sql);
            for key in chunk {
                query = query.bind(*key);
            }
            for row in query.fetch_all(&self.pool).await? {
                seen.senders.insert(row.try_get("sender")?, row.try_get("n")?);
            }
        }
        Ok(seen)
    }

    /// The first column of a query's rows, as text.
    async fn strings(&self, sql: &str, keys: &[&str]) -> anyhow::Result<Vec<String>> {
        let mut query = sqlx::query(sql);
        for key in keys {
            query = query.bind(*key);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
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

    /// The message of one step of one invoice, if it left by email.
    pub(crate) async fn sent_step(&self, invoice_id: &str, step: &str) -> anyhow::Result<Option<OutboxRow>> {
        let condition = "invoice_id = $1 AND step = $2 AND message_id IS NOT NULL";
        Ok(self.outbox_where(condition, &[invoice_id, step]).await?.into_iter().next())
    }

    /// Every row that left in the same message as row `id` (a consolidated message carries several).
    pub(crate) async fn same_message_as(&self, id: i64) -> anyhow::Result<Vec<OutboxRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE message_id = (SELECT message_id FROM outbox WHERE id = $1) \
             ORDER BY id",
        ))
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
        let row = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE customer_id = $1 AND message_id IS NOT NULL \
             ORDER BY done_at DESC, id DESC LIMIT 1",
        ))
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
    /// commit and a few statements for many); each `false` was kept already, and wrote nothing.
    pub(crate) async fn keep_inbound_all(
        &self,
        messages: Vec<(NewInbound<'_>, Effects)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<Vec<bool>> {
        let at = now.timestamp();
        let mut tx = self.begin_write().await?;
        let sizes: Vec<i64> = messages.iter().map(|(m, _)| m.size as i64).collect();
        let cells: Vec<Cell> = messages
            .iter()
            .zip(&sizes)
            .flat_map(|((m, _), size)| {
                [
                    Cell::Int(at),
                    Cell::Text(m.door),
                    Cell::Text(m.digest),
                    Cell::OptText(m.message_id),
                    Cell::Int(*size),
                    Cell::Bytes(m.raw),
                    Cell::OptText(m.sender),
                    Cell::Text(m.subject),
                    Cell::Text(m.kind),
                    Cell::Text(m.state.as_str()),
                    Cell::Text(m.reason),
                    Cell::OptText(m.customer_id),
                    Cell::OptText(m.invoice_id),
                    Cell::OptInt(m.outbox_id),
                    Cell::Text(m.text),
                    Cell::OptText(m.intent.map(crate::invoice::ReplyIntent::name)),
                ]
            })
            .collect();
        let head = "INSERT INTO inbound (received_at, door, digest, message_id, size, raw, sender, subject, kind, state, \
                    reason, customer_id, invoice_id, outbox_id, text, intent)";
        // The digest and the Message-ID are both unique: a second copy by either inserts nothing.
        let rows = values(&mut tx, (head, "ON CONFLICT DO NOTHING RETURNING digest"), 16, &cells).await?;
        let mut inserted: HashSet<String> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
        // The same bytes twice in one batch: the first is kept.
        let kept: Vec<bool> = messages.iter().map(|(m, _)| inserted.remove(m.digest)).collect();
        let (mut events, mut on_page) = (vec![], vec![]);
        for ((m, effects), _) in messages.iter().zip(&kept).filter(|(_, kept)| **kept) {
            for (id, reason) in &effects.bounced {
                sqlx::query("UPDATE outbox SET state = 'failed', reason = $1 WHERE id = $2 AND state = 'sent'")
                    .bind(reason)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            let door = if m.door == "portal" { &mut on_page } else { &mut events };
            door.extend(effects.events.iter().cloned());
        }
        for (door, events) in [(Door::Mail, events), (Door::Portal, on_page)] {
            if !events.is_empty() {
                apply_events_all(&mut tx, &events, now, self.facts(door)).await?;
            }
        }
        for ((_, effects), _) in messages.iter().zip(&kept).filter(|(_, kept)| **kept) {
            if let Some((invoice_id, task)) = &effects.task {
                self.open_task(&mut tx, invoice_id, task, at).await?;
            }
        }
        tx.commit().await?;
        Ok(kept)
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
