//! The scheduler's side of the store: pages of due invoices in, decisions out.
//! A tick touches every due invoice, so both directions work a page at a time:
//! one read for the page and its history, a few multi-row statements for its
//! decisions, outbox rows and next reviews.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use sqlx::Row;

use super::rows::{in_list, placeholders};
use super::{DueInvoice, NewDecision, Store};
use crate::decision::Tone;
use crate::invoice::Customer;

/// Separators of the fields and records of a page read as one value.
const FIELD: char = '\u{1f}';
const RECORD: char = '\u{1e}';

/// Rows in one multi-row statement: well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters for the widest table (14 columns).
const ROWS_PER_STATEMENT: usize = 500;

/// The due invoices `filter` picks, with their customers, as one text value
/// (fields separated by the value of parameter `field`, records by `record`).
/// Only an open invoice no decision closed has a next review: the due
/// index alone answers, without reading the reviews' rows.
const DUE: &str = "r.next_review <= $1 AND (r.next_review, r.invoice_id) > ($2, $3)";

/// A worker's claim of a page of due reviews (PostgreSQL). The ids are taken
/// as one array, then each row found by key: PostgreSQL joined an
/// `IN (subquery)` by reading every review (24 ms a page of 500 at 100,000
/// invoices, against 5).
pub(super) fn claim_reviews_sql() -> String {
    format!(
        "UPDATE reviews SET review_by = $5, review_until = $6 WHERE invoice_id = ANY(ARRAY( \
         SELECT r.invoice_id FROM reviews r WHERE {DUE} AND (r.review_until IS NULL OR r.review_until < $7) \
         ORDER BY r.next_review, r.invoice_id LIMIT $4 FOR UPDATE SKIP LOCKED)) RETURNING invoice_id, next_review"
    )
}

/// A claimed page read in the statement that claims it: one round trip, and
/// no list of a thousand ids to send back, bind and plan.
fn claimed_page_sql() -> String {
    format!("WITH claimed AS ({}) {}", claim_reviews_sql(), page_sql("$8", "$9", "claimed", "TRUE", ""))
}

/// `n` decisions' reviews moved to their next time, each only if still due
/// when it was decided. VALUES names its columns column1, column2... in
/// SQLite and PostgreSQL alike. The ids come again as a list: PostgreSQL
/// otherwise joined the values by reading every review (32 ms a page of 500
/// at 100,000 invoices, against 8).
pub(super) fn move_reviews_sql(postgres: bool, n: usize) -> String {
    format!(
        "UPDATE reviews SET next_review = v.column2, closed = v.column3, review_by = NULL, review_until = NULL \
         FROM (VALUES {}) AS v WHERE reviews.invoice_id = v.column1 AND reviews.next_review = v.column4 \
         AND reviews.closed IS NULL AND reviews.invoice_id IN {} RETURNING reviews.invoice_id AS id",
        placeholders(postgres, n, 4),
        in_list(postgres, 4 * n + 1, n),
    )
}

/// The page of `reviews` (the table, or the rows a claim returned) that `filter` picks.
fn page_sql(field: &str, record: &str, reviews: &str, filter: &str, limit: &str) -> String {
    format!(
        "SELECT string_agg(p.id || {field} || p.next_review || {field} || p.customer_id || {field} || p.invoice \
         || {field} || p.customer, {record} ORDER BY p.next_review, p.id) AS page FROM \
         (SELECT i.id AS id, r.next_review AS next_review, i.customer_id AS customer_id, i.data AS invoice, \
         c.data AS customer FROM {reviews} r JOIN invoices i ON i.id = r.invoice_id \
         JOIN customers c ON c.id = i.customer_id WHERE {filter} ORDER BY r.next_review, r.invoice_id{limit}) AS p"
    )
}

impl Store {
    /// A page of open invoices whose review is due, in (next review, id) order
    /// after the cursor `after`. The cursor is a row value so that SQLite
    /// walks the `invoices_due` index from it; with an OR of the two columns
    /// it gathered and sorted every due invoice for each page, and a tick
    /// grew with the square of the invoices. A customer's record is
    /// parsed once per page, however many of its invoices are in it.
    ///
    /// The page comes back as one text value rather than a row per invoice:
    /// sqlx hands SQLite's rows over from its worker thread one at a time
    /// (a few percent of a tick). JSON never holds the control characters
    /// used as separators (serde escapes them) and ids may not (intake).
    ///
    /// With several workers on PostgreSQL, the page is first claimed: the
    /// due invoices nobody holds (or whose holder's lease ran out) are
    /// taken for this worker until `lease_until` (wall clock; none for a dry run), skipping
    /// those another worker is claiming at that moment, and only this
    /// worker's are read. SQLite has one writer at a time and reads as before.
    pub async fn due_page(
        &self,
        now: i64,
        after: (i64, &str),
        limit: i64,
        lease_until: Option<i64>,
    ) -> anyhow::Result<Vec<DueInvoice>> {
        let claimer = self.worker.as_deref().filter(|_| self.postgres).zip(lease_until);
        let row = match claimer {
            Some((worker, lease_until)) => {
                sqlx::query(&claimed_page_sql())
                    .bind(now)
                    .bind(after.0)
                    .bind(after.1)
                    .bind(limit)
                    .bind(worker)
                    .bind(lease_until)
                    .bind(chrono::Utc::now().timestamp())
                    .bind(FIELD.to_string())
                    .bind(RECORD.to_string())
                    .fetch_one(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&page_sql("$5", "$6", "reviews", DUE, " LIMIT $4"))
                    .bind(now)
                    .bind(after.0)
                    .bind(after.1)
                    .bind(limit)
                    .bind(FIELD.to_string())
                    .bind(RECORD.to_string())
                    .fetch_one(&self.pool)
                    .await?
            }
        };
        let text: Option<String> = row.try_get("page")?;
        let mut customers: HashMap<&str, (Arc<Customer>, Arc<str>)> = HashMap::new();
        let mut page = Vec::with_capacity(limit.max(0) as usize);
        for record in text.as_deref().unwrap_or_default().split(RECORD).filter(|r| !r.is_empty()) {
            let fields: Vec<&str> = record.split(FIELD).collect();
            let [id, next_review, customer_id, invoice, customer] = fields[..] else {
                anyhow::bail!("unreadable due invoice record ({} fields): {:.80}", fields.len(), record);
            };
            let (customer, customer_stored) = match customers.get(customer_id) {
                Some(c) => c.clone(),
                None => {
                    let c = (Arc::new(serde_json::from_str(customer)?), Arc::from(customer));
                    customers.insert(customer_id, c.clone());
                    c
                }
            };
            page.push(DueInvoice {
                next_review: next_review.parse().with_context(|| format!("invoice {id}: next review {next_review}"))?,
                invoice: serde_json::from_str(invoice).with_context(|| format!("invoice {id}"))?,
                customer,
                stored: invoice.to_string(),
                customer_stored,
                outbox: vec![],
            });
        }
        if !page.is_empty() {
            // One query for the history of the whole page.
            let ids: Vec<&str> = page.iter().map(|d| d.invoice.id.as_str()).collect();
            let marks = placeholders(self.postgres, 1, ids.len());
            let rows = self.outbox_where(&format!("invoice_id IN {marks}"), &ids).await?;
            let index: HashMap<String, usize> =
                page.iter().enumerate().map(|(i, d)| (d.invoice.id.clone(), i)).collect();
            for row in rows {
                if let Some(&i) = index.get(&row.invoice_id) {
                    page[i].outbox.push(row);
                }
            }
        }
        Ok(page)
    }

    /// Lets go of the invoices a stopped worker had claimed for evaluation.
    pub async fn release_reviews_of(&self, worker: &str) -> anyhow::Result<()> {
        if self.postgres {
            // Rows another worker is writing are skipped, not waited for: its write lets go of them.
            sqlx::query(
                "UPDATE reviews SET review_by = NULL, review_until = NULL WHERE invoice_id IN \
                 (SELECT invoice_id FROM reviews WHERE review_by = $1 FOR UPDATE SKIP LOCKED)",
            )
            .bind(worker)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Writes decisions, their outbox rows and next reviews in one
    /// transaction, as multi-row statements: a page of a thousand decisions
    /// is a handful of round trips, not three thousand.
    ///
    /// A decision is written only if its invoice is still open and still due
    /// at the review time it was made for: one another worker (whose lease
    /// ran out on this one, or the other way round) already decided, or a
    /// payment or event that moved meanwhile, leaves it out. That makes an
    /// invoice decided at most once per review time, on both backends, with
    /// or without claims. Returns how many were left out.
    pub async fn record_decisions(&self, decisions: &[NewDecision]) -> anyhow::Result<usize> {
        if decisions.is_empty() {
            return Ok(0);
        }
        // PostgreSQL may still break a deadlock with another writer of the same
        // invoices (an import, say) by failing this transaction: it is written again.
        let mut tries = 0;
        loop {
            match self.write_decisions(decisions).await {
                Err(e) if tries < 3 && deadlocked(&e) => {
                    tries += 1;
                    tracing::warn!(tries, "writing decisions met a deadlock; writing them again");
                }
                written => return written,
            }
        }
    }

    async fn write_decisions(&self, decisions: &[NewDecision]) -> anyhow::Result<usize> {
        let mut tx = self.begin_write().await?;
        if self.postgres {
            lock_reviews(&mut tx, decisions).await?;
        }
        let kept = self.move_reviews(&mut tx, decisions).await?;
        let left_out = decisions.len() - kept.len();
        let decisions: Vec<&NewDecision> = if left_out == 0 {
            decisions.iter().collect()
        } else {
            decisions.iter().filter(|d| kept.contains(&d.invoice_id)).collect()
        };
        let ids = self.insert_decisions(&mut tx, &decisions).await?;
        let steps: Vec<(&NewDecision, &super::NewOutbox)> =
            decisions.iter().flat_map(|d| d.outbox.iter().map(move |o| (*d, o))).collect();
        let added = self.insert_steps(&mut tx, &steps, &ids).await?;
        // Tasks and fees go with the steps they belong to, in the same transaction: once.
        for (d, o) in &steps {
            if (o.task.is_none() && o.fee.is_none()) || !added.contains(&(d.invoice_id.clone(), o.step.clone())) {
                continue;
            }
            if let Some(task) = &o.task {
                self.open_task(&mut tx, &d.invoice_id, task, d.at).await?;
            }
            if let Some(fee) = &o.fee {
                let at = chrono::DateTime::from_timestamp(d.at, 0).unwrap_or_default();
                let event = crate::event::Event::FeeAdded { fee: fee.clone() };
                super::apply_event_in(&mut tx, &d.invoice_id, &event, at, self.facts(crate::event::Door::Step)).await?;
            }
        }

        tx.commit().await?;
        Ok(left_out)
    }

    /// A statement of account `by` someone asked for (the customer on their
    /// page, a person with `sollecito statement`): a message by email led by
    /// the customer's oldest open invoice, recorded as a decision of `by` so
    /// the history says who asked. At most one a day per customer (the step
    /// is the day): a link asked for again and again sends one email.
    /// Returns the invoice it leads with, and whether it was added now.
    pub async fn ask_statement(
        &self,
        customer_id: &str,
        by: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<Option<(String, bool)>> {
        use super::payload::{Payload, Remind, Reminder};
        let Some(lead) = self.open_invoices_of(customer_id).await?.into_iter().next() else { return Ok(None) };
        let step = format!("statement-{}", now.format("%Y-%m-%d"));
        if self.outbox_of(&lead.id).await?.iter().any(|o| o.step == step) {
            return Ok(Some((lead.id, false)));
        }
        let reminder = Reminder {
            step: step.clone(),
            channel: "email".into(),
            template: "statement".into(),
            tone: Tone::Courteous,
            deadline: None,
        };
        let payload = Payload::Remind(Remind { remind: reminder });
        let decision = NewDecision {
            invoice_id: lead.id.clone(),
            customer_id: customer_id.to_string(),
            at: now.timestamp(),
            plugin_name: by.to_string(),
            plugin_version: "-".into(),
            plugin_sha256: "-".into(),
            input_digest: [0; 32],
            actions: format!("[{}]", payload.text()),
            error: None,
            outbox: vec![super::NewOutbox {
                step,
                kind: super::OutboxKind::Statement,
                channel: Some("email".into()),
                template: Some("statement".into()),
                tone: Some(Tone::Courteous),
                deadline: None,
                payload,
                not_before: now.timestamp(),
                state: super::OutboxState::Pending,
                reason: None,
                task: None,
                fee: None,
            }],
            refused: vec![],
            next_review: None,
            closed: None,
            arm: None,
            review_at: now.timestamp(),
        };
        let mut tx = self.begin_write().await?;
        let ids = self.insert_decisions(&mut tx, &[&decision]).await?;
        let steps: Vec<(&NewDecision, &super::NewOutbox)> = decision.outbox.iter().map(|o| (&decision, o)).collect();
        self.insert_steps(&mut tx, &steps, &ids).await?;
        tx.commit().await?;
        Ok(Some((lead.id, true)))
    }

    /// The review moves first, conditionally; a failed evaluation keeps its
    /// review time (it is tried again) and only lets go of its claim. An
    /// invoice paid or voided meanwhile has no next review any more, so it
    /// is left out too. Returns the invoices whose decisions are kept.
    async fn move_reviews(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        decisions: &[NewDecision],
    ) -> anyhow::Result<std::collections::HashSet<String>> {
        let mut kept: std::collections::HashSet<String> = std::collections::HashSet::with_capacity(decisions.len());
        for chunk in decisions.chunks(ROWS_PER_STATEMENT) {
            let sql = move_reviews_sql(self.postgres, chunk.len());
            let mut query = sqlx::query(&sql);
            for d in chunk {
                query = match d.error {
                    None => query.bind(&d.invoice_id).bind(d.next_review).bind(d.closed.as_deref()),
                    Some(_) => query.bind(&d.invoice_id).bind(Some(d.review_at)).bind(None::<&str>),
                }
                .bind(d.review_at);
            }
            for d in chunk {
                query = query.bind(&d.invoice_id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                kept.insert(row.try_get("id")?);
            }
        }
        Ok(kept)
    }

    /// Each decision's row; invoice -> the id of its decision.
    async fn insert_decisions(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        decisions: &[&NewDecision],
    ) -> anyhow::Result<HashMap<String, i64>> {
        let plugins = plugin_ids(tx, decisions).await?;
        // Invoice -> the id of its decision. A page holds an invoice once.
        let mut ids: HashMap<String, i64> = HashMap::with_capacity(decisions.len());
        for chunk in decisions.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO decisions (invoice_id, at, plugin, input_sha256, actions, next_review, error, experiment, arm, worker, review_at, refused) \
                 VALUES {} RETURNING id, invoice_id",
                placeholders(self.postgres, chunk.len(), 12)
            );
            let mut query = sqlx::query(&sql);
            for d in chunk {
                query = query
                    .bind(&d.invoice_id)
                    .bind(d.at)
                    .bind(plugins[&plugin_of(d)])
                    .bind(d.input_digest.to_vec())
                    .bind(&d.actions)
                    .bind(d.next_review)
                    .bind(d.error.as_deref())
                    .bind(d.arm.as_ref().map(|a| a.0.as_str()))
                    .bind(d.arm.as_ref().map(|a| a.1.as_str()))
                    .bind(self.worker.as_deref())
                    .bind(d.review_at)
                    .bind((!d.refused.is_empty()).then(|| super::json(&d.refused)));
            }
            for row in query.fetch_all(&mut **tx).await? {
                ids.insert(row.try_get("invoice_id")?, row.try_get("id")?);
            }
        }
        Ok(ids)
    }

    /// The steps of the decisions, each at most once; returns the steps with a
    /// task or fee really added (another process may have added one first).
    async fn insert_steps(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        steps: &[(&NewDecision, &super::NewOutbox)],
        ids: &HashMap<String, i64>,
    ) -> anyhow::Result<std::collections::HashSet<(String, String)>> {
        // The steps with a task or fee really added (another process may have added one first).
        let mut added: std::collections::HashSet<(String, String)> = std::collections::HashSet::new();
        for chunk in steps.chunks(ROWS_PER_STATEMENT) {
            // Only a chunk with a task or fee asks which rows went in: most pages have none.
            let effects = chunk.iter().any(|(_, o)| o.task.is_some() || o.fee.is_some());
            // The unique (invoice, step) key: a step already in the outbox is never added again.
            let sql = format!(
                "INSERT INTO outbox (invoice_id, customer_id, step, kind, channel, template, tone, deadline, payload, decision_id, created_at, not_before, state, reason) \
                 VALUES {} ON CONFLICT (invoice_id, step) DO NOTHING{}",
                placeholders(self.postgres, chunk.len(), 14),
                if effects { " RETURNING invoice_id, step" } else { "" }
            );
            let mut query = sqlx::query(&sql);
            for (d, o) in chunk {
                query = query
                    .bind(&d.invoice_id)
                    .bind(&d.customer_id)
                    .bind(&o.step)
                    .bind(o.kind.as_str())
                    .bind(o.channel.as_deref())
                    .bind(o.template.as_deref())
                    .bind(o.tone.map(Tone::name))
                    .bind(o.deadline.map(|d| d.to_string()))
                    .bind(o.payload.text())
                    .bind(ids[d.invoice_id.as_str()])
                    .bind(d.at)
                    .bind(o.not_before)
                    .bind(o.state.as_str())
                    .bind(o.reason.as_deref());
            }
            if !effects {
                query.execute(&mut **tx).await?;
                continue;
            }
            for row in query.fetch_all(&mut **tx).await? {
                added.insert((row.try_get("invoice_id")?, row.try_get("step")?));
            }
        }
        Ok(added)
    }
}

/// Two workers may write decisions on the same invoices (a lease ran out
/// under load): the rows are locked in one order (PostgreSQL), so the second
/// waits for the first and then finds them decided, rather than deadlock.
async fn lock_reviews(tx: &mut sqlx::Transaction<'_, sqlx::Any>, decisions: &[NewDecision]) -> anyhow::Result<()> {
    let mut ids: Vec<&str> = decisions.iter().map(|d| d.invoice_id.as_str()).collect();
    ids.sort_unstable();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT invoice_id FROM reviews WHERE invoice_id IN {} ORDER BY invoice_id FOR UPDATE",
            placeholders(true, 1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        query.fetch_all(&mut **tx).await?;
    }
    Ok(())
}

/// A decision's plugin: name, version, sha256.
fn plugin_of(d: &NewDecision) -> (&str, &str, &str) {
    (&d.plugin_name, &d.plugin_version, &d.plugin_sha256)
}

/// The id of each plugin that made one of `decisions` (a page has one or a
/// few), added the first time it decides. Of two workers adding one at
/// once, the second waits for the first and finds it.
async fn plugin_ids<'d>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    decisions: &[&'d NewDecision],
) -> anyhow::Result<HashMap<(&'d str, &'d str, &'d str), i64>> {
    let mut ids = HashMap::new();
    for d in decisions {
        let plugin = plugin_of(d);
        if ids.contains_key(&plugin) {
            continue;
        }
        sqlx::query(
            "INSERT INTO plugin_ids (name, version, sha256) VALUES ($1, $2, $3) \
             ON CONFLICT (name, version, sha256) DO NOTHING",
        )
        .bind(plugin.0)
        .bind(plugin.1)
        .bind(plugin.2)
        .execute(&mut **tx)
        .await?;
        let id: i64 = sqlx::query("SELECT id FROM plugin_ids WHERE name = $1 AND version = $2 AND sha256 = $3")
            .bind(plugin.0)
            .bind(plugin.1)
            .bind(plugin.2)
            .fetch_one(&mut **tx)
            .await?
            .try_get("id")?;
        ids.insert(plugin, id);
    }
    Ok(ids)
}

/// Whether PostgreSQL failed the transaction to break a deadlock.
fn deadlocked(e: &anyhow::Error) -> bool {
    e.downcast_ref::<sqlx::Error>()
        .and_then(|e| e.as_database_error())
        .and_then(|d| d.code())
        .is_some_and(|code| code == "40P01")
}

#[cfg(test)]
mod tests {
    use super::super::rows::placeholders;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(placeholders(true, 1, 1), "($1)");
        assert_eq!(placeholders(true, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(false, 2, 2), "(?, ?), (?, ?)");
    }
}
