//! An invoice's record as `history` and a simulation's timelines read it:
//! its events, its decisions and its outbox rows. One invoice by id, or
//! every invoice of the store at once (a simulation's scratch store holds
//! only its own: five statements for the whole book, not six an invoice).

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{DecisionRow, EventRow, OutboxRow, Store};
use crate::event::EventKind;
use crate::invoice::{Customer, Invoice};

/// Everything recorded of one invoice.
#[derive(Debug, Clone)]
pub struct History {
    pub invoice: Invoice,
    pub customer: Customer,
    pub next_review: Option<i64>,
    /// Why the invoice was closed, if it was.
    pub closed: Option<String>,
    pub events: Vec<EventRow>,
    pub decisions: Vec<DecisionRow>,
    pub outbox: Vec<OutboxRow>,
}

const DECISIONS: &str = "SELECT d.*, p.name AS plugin_name, p.version AS plugin_version, p.sha256 AS plugin_sha256 \
                         FROM decisions d JOIN plugin_ids p ON p.id = d.plugin";

impl Store {
    pub async fn events_of(&self, invoice_id: &str) -> anyhow::Result<Vec<EventRow>> {
        let rows = sqlx::query("SELECT at, kind, detail FROM events WHERE invoice_id = $1 ORDER BY id")
            .bind(invoice_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_row).collect()
    }

    pub async fn decisions_of(&self, invoice_id: &str) -> anyhow::Result<Vec<DecisionRow>> {
        let rows = sqlx::query(&format!("{DECISIONS} WHERE d.invoice_id = $1 ORDER BY d.id"))
            .bind(invoice_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decision_row).collect()
    }

    /// Every invoice's history, by id, in five statements.
    pub async fn histories(&self) -> anyhow::Result<HashMap<String, History>> {
        let rows = sqlx::query(
            "SELECT i.data AS invoice, c.data AS customer, r.next_review, r.closed FROM invoices i \
             JOIN customers c ON c.id = i.customer_id LEFT JOIN reviews r ON r.invoice_id = i.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut all = HashMap::with_capacity(rows.len());
        for r in &rows {
            let invoice: Invoice = serde_json::from_str(&r.try_get::<String, _>("invoice")?)?;
            let history = History {
                customer: serde_json::from_str(&r.try_get::<String, _>("customer")?)?,
                next_review: r.try_get("next_review")?,
                closed: r.try_get("closed")?,
                events: vec![],
                decisions: vec![],
                outbox: vec![],
                invoice,
            };
            all.insert(history.invoice.id.clone(), history);
        }
        let events = sqlx::query("SELECT invoice_id, at, kind, detail FROM events ORDER BY id").fetch_all(&self.pool);
        for r in &events.await? {
            if let Some(h) = all.get_mut(&r.try_get::<String, _>("invoice_id")?) {
                h.events.push(event_row(r)?);
            }
        }
        for r in &sqlx::query(&format!("{DECISIONS} ORDER BY d.id")).fetch_all(&self.pool).await? {
            if let Some(h) = all.get_mut(&r.try_get::<String, _>("invoice_id")?) {
                h.decisions.push(decision_row(r)?);
            }
        }
        for row in self.outbox_where("1 = 1", &[]).await? {
            if let Some(h) = all.get_mut(&row.invoice_id) {
                h.outbox.push(row);
            }
        }
        Ok(all)
    }
}

fn event_row(r: &AnyRow) -> anyhow::Result<EventRow> {
    let name: String = r.try_get("kind")?;
    let kind = EventKind::parse(&name).ok_or_else(|| anyhow::anyhow!("an event of an unknown kind {name:?}"))?;
    Ok(EventRow { at: r.try_get("at")?, kind, detail: r.try_get("detail")? })
}

fn decision_row(r: &AnyRow) -> anyhow::Result<DecisionRow> {
    Ok(DecisionRow {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        plugin_name: r.try_get("plugin_name")?,
        plugin_version: r.try_get("plugin_version")?,
        plugin_sha256: r.try_get("plugin_sha256")?,
        input_digest: hex::encode(r.try_get::<Option<Vec<u8>>, _>("input_sha256")?.unwrap_or_default()),
        actions: serde_json::from_str(&r.try_get::<String, _>("actions")?)?,
        refused: match r.try_get::<Option<String>, _>("refused")? {
            Some(text) => serde_json::from_str(&text)?,
            None => vec![],
        },
        next_review: r.try_get("next_review")?,
        error: r.try_get("error")?,
        experiment: r.try_get("experiment")?,
        arm: r.try_get("arm")?,
        worker: r.try_get("worker")?,
    })
}
