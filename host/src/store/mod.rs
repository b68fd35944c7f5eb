//! The store: customers, invoices, their append-only event log, decisions and
//! the outbox, in one SQLite file (PostgreSQL through the same code). Every
//! write that must hold together is one transaction.

mod actions;
mod admin;
mod alerts;
mod bank;
mod bank_list;
mod changes;
mod dashboard;
mod decisions;
mod delivery;
pub(crate) use delivery::Unclaimed;
mod events;
mod history;
mod import;
mod rows;
use changes::apply_event_in;
use events::insert_event;
mod experiments;
mod inbound;
pub(crate) use inbound::{Effects, InboundRow, InboundState, Lookup, NewInbound, Seen};
mod ledger;
mod migrations;
mod schema;
mod statistics;
pub use schema::{MigrationsPending, versions};
mod outbox;
mod outbox_page;
mod outcomes;
mod payload;
mod payments;
#[cfg(test)]
mod plans;
mod portal;
pub use payload::Payload;
mod stripe;

pub use actions::{CannotAccept, REINSTATE, Settled};
pub use alerts::AlertRow;
pub(crate) use bank::CannotConfirm;
pub(crate) use bank::Written;
pub use dashboard::{InvoiceFilter, InvoiceLine};
pub use experiments::{CannotPromote, CannotStart, ExperimentRow};
pub use history::History;
pub use ledger::{AGE_BUCKETS, Aging};
pub use outbox::{OutboxKind, OutboxState, Settle, Tried, UNCERTAIN, minute, outbox_key};
pub use outcomes::{OutcomeRow, RetryRow, SentRow, Untouched};
pub use payments::{CreditRow, DoorPayments};
pub use stripe::StripeGate;

/// What a reminder sent inside another invoice's message has as its receipt,
/// before the lead's key: it is not a contact of its own for the weekly cap.
pub const IN_THE_MESSAGE_OF: &str = "in the message of ";
pub use admin::{Scope, ShadowRow, TaskRow};

use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::ConnectOptions;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};

use crate::decision::Tone;
use crate::event::{Door, Event, EventKind};
use crate::invoice::{Customer, Invoice, InvoiceStatus};
use outbox_page::{StoredOutbox, outbox_page, outbox_page_sql};

/// The columns `outbox_row` reads, and the Message-ID that answers are matched
/// by. Not `*`: a sent row keeps the message as it left (`rendered`,
/// kilobytes), and a page's history or a simulation's whole outbox read it for nothing.
pub(super) const OUTBOX_COLUMNS: &str = "id, invoice_id, customer_id, step, kind, channel, template, tone, \
    deadline, payload, decision_id, created_at, not_before, state, reason, attempts, done_at, receipt, claimed_by, \
    claim_until, setup_faults, legacy_key, message_id";

/// The outbox rows `condition` picks, in the order they were added.
pub(super) fn outbox_where_sql(condition: &str) -> String {
    format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE {condition} ORDER BY id")
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// PostgreSQL rather than SQLite: the two number bound parameters differently.
    postgres: bool,
    /// The worker this process is among those on the database (`deliver::Worker`'s
    /// id, as its claims carry it): every decision records it.
    worker: Option<String>,
    /// Days before an outcome in which a contact counts as its cause.
    attribution_days: i64,
    /// Whether alerts are written (an alerts URL is configured).
    alerts: bool,
    /// No other process can open it (a simulation's scratch store, locked
    /// exclusively): no customer needs leasing from another worker.
    alone: bool,
}

/// An outbox row: one step of one invoice, from decision to delivery.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub invoice_id: String,
    pub customer_id: String,
    pub step: String,
    pub kind: OutboxKind,
    pub channel: Option<String>,
    pub template: Option<String>,
    pub tone: Option<Tone>,
    pub deadline: Option<NaiveDate>,
    /// The action as the policy gave it, with what the host added.
    pub payload: Payload,
    pub decision_id: i64,
    pub created_at: i64,
    pub not_before: i64,
    pub state: OutboxState,
    pub reason: Option<String>,
    pub attempts: i64,
    pub done_at: Option<i64>,
    pub receipt: Option<String>,
    /// The worker holding the message in flight, and until when (wall clock).
    pub claimed_by: Option<String>,
    pub claim_until: Option<i64>,
    /// Tries that failed on the operator's setup, for their own backoff.
    pub setup_faults: i64,
    /// Written before keys were encoded: its key keeps its old form.
    #[serde(skip)]
    pub legacy_key: bool,
}

/// An invoice due for review, with what is needed to build its view.
pub struct DueInvoice {
    /// The review time the page was read in (the cursor of the next page).
    pub next_review: i64,
    pub invoice: Invoice,
    pub customer: std::sync::Arc<Customer>,
    /// The invoice and its customer as stored (JSON): with the history, what a
    /// decision's input digest is taken over.
    pub stored: String,
    pub customer_stored: std::sync::Arc<str>,
    pub outbox: Vec<OutboxRow>,
}

/// A step to add to the outbox with a decision.
pub struct NewOutbox {
    pub step: String,
    pub kind: OutboxKind,
    pub channel: Option<String>,
    pub template: Option<String>,
    pub tone: Option<Tone>,
    pub deadline: Option<NaiveDate>,
    pub payload: Payload,
    pub not_before: i64,
    pub state: OutboxState,
    pub reason: Option<String>,
    /// Work for a person this step opens (a manual review), keyed like the step.
    pub task: Option<crate::outgoing::Task>,
    /// A fee this step adds to the invoice, as an event written with the decision.
    pub fee: Option<crate::invoice::Fee>,
}

/// A decision with everything written with it in one transaction.
pub struct NewDecision {
    pub invoice_id: String,
    pub customer_id: String,
    pub at: i64,
    pub plugin_name: String,
    pub plugin_version: String,
    pub plugin_sha256: String,
    /// The sha256 of what the policy was given.
    pub input_digest: [u8; 32],
    pub actions: String,
    pub error: Option<String>,
    pub outbox: Vec<NewOutbox>,
    /// What of the policy's answer the host refused outright.
    pub refused: Vec<crate::decision::Refused>,
    /// The invoice's next review (unchanged on error, so it is tried again).
    pub next_review: Option<i64>,
    pub closed: Option<String>,
    /// The experiment and arm the decision was made in, if any.
    pub arm: Option<(String, String)>,
    /// The review time the decision was made for: the invoice's next review when it was read.
    pub review_at: i64,
}

#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub customers_added: usize,
    pub customers_updated: usize,
    pub invoices_added: usize,
    pub invoices_updated: usize,
    pub unchanged: usize,
    /// Events recorded from changes, like "inv-1: paid".
    pub events: Vec<String>,
    /// What each credit note of e-invoices did, in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credit_notes: Vec<String>,
}

/// One line of an invoice's record, for `history`.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub at: i64,
    pub kind: EventKind,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionRow {
    pub id: i64,
    pub at: i64,
    pub plugin_name: String,
    pub plugin_version: String,
    pub plugin_sha256: String,
    pub input_digest: String,
    pub actions: serde_json::Value,
    /// What of the policy's answer the host refused outright (none before migration 20).
    pub refused: Vec<crate::decision::Refused>,
    pub next_review: Option<i64>,
    pub error: Option<String>,
    /// The experiment and arm it was made in, if any.
    pub experiment: Option<String>,
    pub arm: Option<String>,
    /// The worker that made it (`NAME-pid-nonce`, NAME from `SOLLECITO_WORKER`
    /// or the host); none before migration 12.
    pub worker: Option<String>,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialize")
}

pub(crate) fn status_name(s: InvoiceStatus) -> &'static str {
    match s {
        InvoiceStatus::Open => "open",
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::Void => "void",
        InvoiceStatus::WrittenOff => "written-off",
    }
}

impl Store {
    /// Opens (creating if needed) a SQLite file, or a `postgres://` URL, as it
    /// is, migrating nothing (`sollecito migrate --check`, `serve --no-migrate`).
    pub async fn connect(location: &str) -> anyhow::Result<Self> {
        Self::connect_kept(location, true).await
    }

    /// A scratch SQLite store (a simulation's): migrated, but never synced to
    /// the disk, its journal in memory. A crash loses it, which is all right:
    /// it is thrown away at the end anyway.
    pub(crate) async fn scratch(location: &str) -> anyhow::Result<Self> {
        let store = Store { alone: true, ..Store::connect_kept(location, false).await? };
        store.migrate().await?;
        Ok(store)
    }

    async fn connect_kept(location: &str, durable: bool) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let postgres = location.starts_with("postgres://") || location.starts_with("postgresql://");
        let url = if postgres || location.starts_with("sqlite:") {
            location.to_string()
        } else {
            if let Some(parent) = Path::new(location).parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            format!("sqlite://{location}?mode=rwc")
        };
        let mut options =
            AnyConnectOptions::from_str(&url).with_context(|| format!("bad database location {location}"))?;
        if !durable {
            // A simulation reads its whole scratch history at the end, which takes a
            // second or more for a large book: expected, not a warning for its reader.
            options = options.log_slow_statements(log::LevelFilter::Debug, std::time::Duration::from_secs(1));
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { 8 } else { 1 })
            // SQLite's connection is a thread of this process: a ping before each
            // use is one more hand-over to it for every statement, and finds nothing.
            .test_before_acquire(postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if !postgres {
                        // WAL with synchronous=NORMAL survives a killed process; busy_timeout
                        // lets a second process wait for the writer instead of failing.
                        // A scratch store is one process's alone: its lock is taken once,
                        // not per transaction (with a look for a hot journal each time).
                        let (journal, sync, lock) = match durable {
                            true => {
                                ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA locking_mode=NORMAL")
                            }
                            false => (
                                "PRAGMA journal_mode=MEMORY",
                                "PRAGMA synchronous=OFF",
                                "PRAGMA locking_mode=EXCLUSIVE",
                            ),
                        };
                        // A scratch store reads its pages through a map, not a pread and a
                        // copy each time a statement needs one that the 2 MB page cache let
                        // go of (a simulated book of thousands of invoices does not fit).
                        // Not a kept store: delivering 100,000 reminders was slower with it
                        // (the growing file remapped). A kept store caches 16 MB instead:
                        // with 2 MB its thread spent most of its time copying pages from the
                        // kernel; with 64 MB, walking the cache at every commit.
                        let map = if durable { "PRAGMA mmap_size=0" } else { "PRAGMA mmap_size=268435456" };
                        let cache = if durable { "PRAGMA cache_size=-16384" } else { "PRAGMA cache_size=-2000" };
                        for pragma in
                            [journal, sync, lock, map, cache, "PRAGMA busy_timeout=10000", "PRAGMA foreign_keys=ON"]
                        {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("opening the database {location}"))?;
        Ok(Store {
            pool,
            postgres,
            worker: None,
            attribution_days: crate::config::ATTRIBUTION_DAYS,
            alerts: false,
            alone: false,
        })
    }

    /// A write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`, waiting out another process's writer): a deferred
    /// one that read first fails with "database is locked" if another process
    /// wrote meanwhile, whatever the busy timeout.
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        if self.postgres { self.pool.begin().await } else { self.pool.begin_with("BEGIN IMMEDIATE").await }
    }

    /// Opens the database and brings its schema up to date. An up-to-date
    /// schema is only read: no lock, no DDL (a worker's database user may have no right to it).
    pub async fn open(location: &str) -> anyhow::Result<Self> {
        let store = Store::connect(location).await?;
        if !store.pending_migrations().await?.is_empty() {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Closes the connections, waiting for those in use (a pool dropped
    /// unclosed leaves sqlx's maintenance task behind).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The worker whose decisions this store records.
    pub fn with_worker(mut self, id: &str) -> Self {
        self.worker = Some(id.to_string());
        self
    }

    /// What the one write path needs of this store, for a change through `door`.
    fn facts(&self, door: Door) -> outcomes::Facts {
        outcomes::Facts { attribution_days: self.attribution_days, alerts: self.alerts, door }
    }

    /// The attribution window of the outcomes recorded from now on (`[outcomes] attribution_days`).
    pub fn with_attribution_days(mut self, days: i64) -> Self {
        self.attribution_days = days;
        self
    }

    /// Applies an event to an invoice (and its customer), records it and wakes the invoice.
    /// (An import's customer keeps what the host learnt of it: see `kept_by_the_host`.)
    pub async fn apply_event(
        &self,
        invoice_id: &str,
        event: &Event,
        door: Door,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let mut tx = self.begin_write().await?;
        let what = apply_event_in(&mut tx, invoice_id, event, now, self.facts(door)).await?;
        tx.commit().await?;
        Ok(what)
    }

    pub(super) async fn outbox_where(&self, condition: &str, args: &[&str]) -> anyhow::Result<Vec<OutboxRow>> {
        let sql = outbox_page_sql(self.postgres, condition);
        let query = args.iter().fold(sqlx::query(&sql), |q, a| q.bind(*a));
        outbox_page(query.fetch_one(&self.pool).await?.try_get("page")?)
    }

    /// The invoice and customer as they are now (for the check right before sending).
    pub async fn invoice(&self, id: &str) -> anyhow::Result<Option<(Invoice, Customer)>> {
        let row = sqlx::query("SELECT i.data AS invoice, c.data AS customer FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok((
                serde_json::from_str(&r.try_get::<String, _>("invoice")?)?,
                serde_json::from_str(&r.try_get::<String, _>("customer")?)?,
            ))
        })
        .transpose()
    }

    /// When the invoice is next reviewed, and why it was closed, if it was.
    pub async fn review_of(&self, id: &str) -> anyhow::Result<(Option<i64>, Option<String>)> {
        let row = sqlx::query("SELECT next_review, closed FROM reviews WHERE invoice_id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get("next_review")?, row.try_get("closed")?))
    }

    /// A customer's open invoices, by due date (the customer's page).
    pub(crate) async fn open_invoices_of(&self, customer_id: &str) -> anyhow::Result<Vec<Invoice>> {
        let rows = sqlx::query("SELECT data FROM invoices WHERE customer_id = $1 AND status = 'open'")
            .bind(customer_id)
            .fetch_all(&self.pool)
            .await?;
        let mut invoices: Vec<Invoice> = rows
            .iter()
            .map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("data")?)?))
            .collect::<anyhow::Result<_>>()?;
        invoices.sort_by(|a, b| (a.due, &a.id).cmp(&(b.due, &b.id)));
        Ok(invoices)
    }

    pub async fn customer(&self, id: &str) -> anyhow::Result<Option<Customer>> {
        let row = sqlx::query("SELECT data FROM customers WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("data")?)?)).transpose()
    }

    /// The invoice that carries `reference` among its refs (a Stripe charge id).
    pub async fn invoice_by_ref(&self, reference: &str) -> anyhow::Result<Option<String>> {
        let escaped = reference.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_").replace('"', "");
        let pattern = format!("%\"refs\":[%\"{escaped}\"%");
        let row = sqlx::query("SELECT id FROM invoices WHERE data LIKE $1 ESCAPE '\\' ORDER BY id LIMIT 1")
            .bind(pattern)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("id")?)).transpose()
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn outbox_of(&self, invoice_id: &str) -> anyhow::Result<Vec<OutboxRow>> {
        self.outbox_where("invoice_id = $1", &[invoice_id]).await
    }

    /// Messages waiting in the outbox (for the metrics).
    pub async fn outbox_depth(&self) -> anyhow::Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'").fetch_one(&self.pool).await?;
        Ok(row.try_get("n")?)
    }

    /// Ids of every invoice, for the demo's summary.
    pub async fn invoice_ids(&self) -> anyhow::Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM invoices ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }
}

fn outbox_row(r: &sqlx::any::AnyRow) -> anyhow::Result<OutboxRow> {
    StoredOutbox::read(r)?.into_row()
}
