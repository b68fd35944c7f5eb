//! What delivery asks of the store a batch at a time: a chunk of customers'
//! leases taken and let go in one statement, their invoices and last week's
//! contacts read in one each; the claims, the outcomes and the waits of the
//! messages of several customers written together (a group commit), not a
//! statement or two a message.

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::outbox::{Settle, Tried, UNCERTAIN};
use super::rows::{in_list, mark, placeholders};
use super::{IN_THE_MESSAGE_OF, Store};
use crate::invoice::{Customer, Invoice};

/// Keys bound in one statement.
const KEYS_PER_STATEMENT: usize = 500;

impl Store {
    /// Leases `customers` to `worker` until `until` (wall clock) for delivery,
    /// those whose lease ran out or that `gone` says a stopped worker holds;
    /// returns those taken. Two workers never deliver to one customer at once.
    pub(crate) async fn lease_customers(
        &self,
        customers: &[&str],
        worker: &str,
        until: i64,
        gone: impl Fn(&str) -> bool,
    ) -> anyhow::Result<HashSet<String>> {
        if self.alone {
            return Ok(customers.iter().map(|c| c.to_string()).collect());
        }
        let wall = chrono::Utc::now().timestamp();
        let mut taken = HashSet::new();
        for chunk in customers.chunks(KEYS_PER_STATEMENT) {
            let n = chunk.len() * 3;
            let sql = format!(
                "INSERT INTO customer_leases (customer_id, worker, until) VALUES {} \
                 ON CONFLICT (customer_id) DO UPDATE SET worker = excluded.worker, until = excluded.until \
                 WHERE customer_leases.until < {} OR customer_leases.worker = excluded.worker RETURNING customer_id",
                placeholders(self.postgres, chunk.len(), 3),
                mark(self.postgres, n + 1),
            );
            let mut query = sqlx::query(&sql);
            for customer in chunk {
                query = query.bind(*customer).bind(worker).bind(until);
            }
            for row in query.bind(wall).fetch_all(&self.pool).await? {
                taken.insert(row.try_get::<String, _>("customer_id")?);
            }
        }
        // Held by another: taken over one by one, and only from a stopped worker.
        let held: Vec<&str> = customers.iter().copied().filter(|c| !taken.contains(*c)).collect();
        for customer in held {
            if self.lease_customer(customer, worker, until, &gone).await? {
                taken.insert(customer.to_string());
            }
        }
        Ok(taken)
    }

    /// Lets go of customers leased for delivery.
    pub(crate) async fn release_customers(&self, customers: &[String], worker: &str) -> anyhow::Result<()> {
        if self.alone {
            return Ok(());
        }
        for chunk in customers.chunks(KEYS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM customer_leases WHERE worker = {} AND customer_id IN {}",
                mark(self.postgres, 1),
                in_list(self.postgres, 2, chunk.len()),
            );
            let mut query = sqlx::query(&sql).bind(worker);
            for customer in chunk {
                query = query.bind(customer);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Invoices and their customers as they are now, by invoice id; an id
    /// not in the store is not in the map.
    pub(crate) async fn invoices_by_id(&self, ids: &[&str]) -> anyhow::Result<HashMap<String, (Invoice, Customer)>> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(KEYS_PER_STATEMENT) {
            let sql = invoices_sql(self.postgres, chunk.len());
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let invoice: Invoice = serde_json::from_str(&row.try_get::<String, _>("invoice")?)?;
                let customer: Customer = serde_json::from_str(&row.try_get::<String, _>("customer")?)?;
                found.insert(row.try_get::<String, _>("id")?, (invoice, customer));
            }
        }
        Ok(found)
    }

    /// When each of `customers` was sent a message since `since` (for the
    /// rolling cap), oldest first; reminders that went inside another
    /// invoice's message are not counted again. A customer sent nothing is
    /// not in the map.
    pub(crate) async fn sent_to_customers_since(
        &self,
        customers: &[&str],
        since: i64,
    ) -> anyhow::Result<HashMap<String, Vec<i64>>> {
        let mut sent: HashMap<String, Vec<i64>> = HashMap::new();
        // By customer, through the sent messages' index (`contacts_sql`).
        for chunk in customers.chunks(KEYS_PER_STATEMENT) {
            let sql = contacts_sql(self.postgres, chunk.len());
            let mut query = sqlx::query(&sql);
            for customer in chunk {
                query = query.bind(*customer);
            }
            for row in query.bind(since).bind(format!("{IN_THE_MESSAGE_OF}%")).fetch_all(&self.pool).await? {
                sent.entry(row.try_get("customer_id")?).or_default().push(row.try_get::<i64, _>("done_at")?);
            }
        }
        Ok(sent)
    }
}

/// What the checks before a claim decided about a pending message.
pub(crate) enum Unclaimed {
    /// Put off until then, saying why, counting what was tried.
    Wait {
        not_before: i64,
        reason: String,
        tried: Tried,
    },
    Cancelled(String),
    Failed(String),
}

impl Store {
    /// Claims messages right before they are handed over: pending -> in
    /// flight, the attempt counted, held by `worker` until `until` (Unix
    /// seconds, wall clock). Returns the ids claimed; another worker's are left.
    pub async fn claim(&self, ids: &[i64], worker: &str, until: i64) -> anyhow::Result<Vec<i64>> {
        let mut claimed: Vec<i64> = self.claim_rows(ids, worker, until).await?.into_keys().collect();
        claimed.sort_unstable();
        Ok(claimed)
    }

    /// `claim`, and the invoices of the messages claimed as they are then:
    /// the ids claimed with their invoices', and those invoices.
    pub(crate) async fn claim_and_read(
        &self,
        ids: &[i64],
        worker: &str,
        until: i64,
    ) -> anyhow::Result<(HashMap<i64, String>, HashMap<String, (Invoice, Customer)>)> {
        let claimed = self.claim_rows(ids, worker, until).await?;
        let invoices: HashSet<&str> = claimed.values().map(String::as_str).collect();
        let invoices = self.invoices_by_id(&invoices.into_iter().collect::<Vec<_>>()).await?;
        Ok((claimed, invoices))
    }

    /// The claim itself: each message claimed, with its invoice. The state is
    /// compared as an expression so that SQLite finds the rows by their ids:
    /// `state = 'pending'` made it walk the index of every pending message
    /// for each claim of more than one (a claim took longer the more were due).
    async fn claim_rows(&self, ids: &[i64], worker: &str, until: i64) -> anyhow::Result<HashMap<i64, String>> {
        let mut claimed = HashMap::new();
        for chunk in ids.chunks(KEYS_PER_STATEMENT) {
            let sql = claim_sql(self.postgres, chunk.len());
            let mut query = sqlx::query(&sql).bind(worker).bind(until);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.pool).await? {
                claimed.insert(row.try_get::<i64, _>("id")?, row.try_get::<String, _>("invoice_id")?);
            }
        }
        Ok(claimed)
    }

    /// Writes the outcome of a message `worker` holds in flight (`settle_messages` for one).
    pub async fn settle_message(&self, id: i64, worker: &str, settle: Settle, now: i64) -> anyhow::Result<()> {
        self.settle_messages(&[(id, settle)], worker, now).await
    }

    /// Writes the outcomes of messages `worker` holds in flight, in one
    /// statement for up to 500. A claim taken back meanwhile (its lease ran
    /// out) is left to its new holder.
    pub(crate) async fn settle_messages(
        &self,
        settled: &[(i64, Settle)],
        worker: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        for chunk in settled.chunks(KEYS_PER_STATEMENT) {
            let sql = settle_sql(self.postgres, chunk.len());
            let mut query = sqlx::query(&sql);
            for (id, settle) in chunk {
                let (state, receipt, rendered, message_id, reason, not_before, setup) = match settle {
                    Settle::Sent { receipt, rendered, message_id } => {
                        ("sent", Some(receipt), rendered.as_ref(), message_id.as_ref(), None, None, 0)
                    }
                    Settle::Cancelled(reason) => ("cancelled", None, None, None, Some(reason), None, 0),
                    Settle::Failed(reason) => ("failed", None, None, None, Some(reason), None, 0),
                    Settle::Retry { not_before, reason } => {
                        ("pending", None, None, None, Some(reason), Some(*not_before), 0)
                    }
                    Settle::SetupFault { not_before, reason } => {
                        ("pending", None, None, None, Some(reason), Some(*not_before), 1)
                    }
                };
                let done_at = (state != "pending").then_some(now);
                query = query
                    .bind(*id)
                    .bind(state)
                    .bind(receipt.map(String::as_str))
                    .bind(done_at)
                    .bind(rendered.map(String::as_str))
                    .bind(message_id.map(String::as_str))
                    .bind(reason.map(String::as_str))
                    .bind(not_before)
                    .bind(setup as i64)
                    .bind(worker);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Writes what the checks before a claim decided about pending messages,
    /// in one statement for up to 500; a message no longer pending is left.
    pub(crate) async fn record_unclaimed(&self, decided: &[(i64, Unclaimed)], now: i64) -> anyhow::Result<()> {
        for chunk in decided.chunks(KEYS_PER_STATEMENT) {
            let sql = unclaimed_sql(self.postgres, chunk.len());
            let mut query = sqlx::query(&sql);
            for (id, decided) in chunk {
                // A step cancelled or failed before its claim counts as one attempt, as it always has.
                let (state, reason, not_before, attempt, setup) = match decided {
                    Unclaimed::Wait { not_before, reason, tried } => (
                        "pending",
                        reason,
                        Some(*not_before),
                        i64::from(*tried == Tried::Attempt),
                        i64::from(*tried == Tried::SetupFault),
                    ),
                    Unclaimed::Cancelled(reason) => ("cancelled", reason, None, 1, 0),
                    Unclaimed::Failed(reason) => ("failed", reason, None, 1, 0),
                };
                let done_at = (state != "pending").then_some(now);
                query = query
                    .bind(*id)
                    .bind(state)
                    .bind(reason.as_str())
                    .bind(not_before)
                    .bind(done_at)
                    .bind(attempt)
                    .bind(setup);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }
}

// The statements, apart so that their plans can be checked (`store/plans.rs`):
// each finds its rows by key, whatever the number of messages in the store.

/// Claims `n` messages by id, if still pending.
pub(super) fn claim_sql(postgres: bool, n: usize) -> String {
    format!(
        "UPDATE outbox SET state = 'in-flight', attempts = attempts + 1, claimed_by = {}, claim_until = {} \
         WHERE COALESCE(state, '') = 'pending' AND id IN {} RETURNING id, invoice_id",
        mark(postgres, 1),
        mark(postgres, 2),
        in_list(postgres, 3, n),
    )
}

/// `n` invoices with their customers, by invoice id.
pub(super) fn invoices_sql(postgres: bool, n: usize) -> String {
    format!(
        "SELECT i.id AS id, i.data AS invoice, c.data AS customer FROM invoices i \
         JOIN customers c ON c.id = i.customer_id WHERE i.id IN {}",
        in_list(postgres, 1, n)
    )
}

/// When `n` customers were sent a message since a time. SQLite, given more
/// than a few customers, walked every message sent (by `outbox_pending`):
/// 55 ms a chunk once 50,000 were sent, where the index by customer takes 0.1.
pub(super) fn contacts_sql(postgres: bool, n: usize) -> String {
    let index = if postgres { "" } else { " INDEXED BY outbox_customer_sent" };
    format!(
        "SELECT customer_id, done_at FROM outbox{index} WHERE customer_id IN {} AND channel IS NOT NULL \
         AND state = 'sent' AND done_at >= {} AND (receipt IS NULL OR receipt NOT LIKE {}) \
         ORDER BY customer_id, done_at",
        in_list(postgres, 1, n),
        mark(postgres, n + 1),
        mark(postgres, n + 2),
    )
}

/// The outcomes of `rows` messages in flight. A message sent again after
/// an interruption keeps that said; any other sent one, no reason.
pub(super) fn settle_sql(postgres: bool, rows: usize) -> String {
    format!(
        "UPDATE outbox SET state = v.column2, \
         receipt = CASE WHEN v.column2 = 'sent' THEN v.column3 ELSE outbox.receipt END, \
         done_at = CASE WHEN v.column2 = 'pending' THEN outbox.done_at ELSE v.column4 END, \
         rendered = CASE WHEN v.column2 = 'sent' THEN v.column5 ELSE outbox.rendered END, \
         message_id = CASE WHEN v.column2 = 'sent' THEN v.column6 ELSE outbox.message_id END, \
         reason = CASE WHEN v.column2 <> 'sent' THEN v.column7 \
         WHEN outbox.reason LIKE '{UNCERTAIN}%' THEN '{UNCERTAIN}, resent' ELSE NULL END, \
         not_before = CASE WHEN v.column2 = 'pending' THEN v.column8 ELSE outbox.not_before END, \
         attempts = outbox.attempts - v.column9, setup_faults = outbox.setup_faults + v.column9, \
         claimed_by = NULL, claim_until = NULL \
         FROM (VALUES {}) AS v \
         WHERE outbox.id = v.column1 AND outbox.state = 'in-flight' AND outbox.claimed_by = v.column10",
        placeholders(postgres, rows, 10)
    )
}

/// What the checks before a claim decided about `rows` pending messages.
pub(super) fn unclaimed_sql(postgres: bool, rows: usize) -> String {
    format!(
        "UPDATE outbox SET state = v.column2, reason = v.column3, \
         not_before = CASE WHEN v.column2 = 'pending' THEN v.column4 ELSE outbox.not_before END, \
         done_at = CASE WHEN v.column2 = 'pending' THEN outbox.done_at ELSE v.column5 END, \
         receipt = CASE WHEN v.column2 = 'pending' THEN outbox.receipt ELSE NULL END, \
         attempts = outbox.attempts + v.column6, setup_faults = outbox.setup_faults + v.column7 \
         FROM (VALUES {}) AS v WHERE outbox.id = v.column1 AND outbox.state = 'pending'",
        placeholders(postgres, rows, 7)
    )
}
