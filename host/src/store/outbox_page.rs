//! Outbox rows as the store keeps them, read one at a time or many at once.
//!
//! Many at once come back as one JSON text (an array of arrays, in the order
//! of `OUTBOX_COLUMNS`): sqlx hands SQLite's rows over from its thread one at
//! a time, and a page's history or a simulation's whole outbox is thousands
//! of them. JSON carries any text a row holds (an adapter's receipt, a reason)
//! without a separator it could contain.

use serde::Deserialize;
use sqlx::Row;

use super::payload::Payload;
use super::{OUTBOX_COLUMNS, OutboxKind, OutboxRow, OutboxState};
use crate::decision::Tone;

/// One outbox row's columns, before their names are checked. A page is read
/// as arrays, so the fields stay in the order of `OUTBOX_COLUMNS`: a column
/// added to one and not the other fails every page's read.
#[derive(Deserialize)]
pub(super) struct StoredOutbox {
    id: i64,
    invoice_id: String,
    customer_id: String,
    step: String,
    kind: String,
    channel: Option<String>,
    template: Option<String>,
    tone: Option<String>,
    deadline: Option<String>,
    payload: String,
    decision_id: i64,
    created_at: i64,
    not_before: i64,
    state: String,
    reason: Option<String>,
    attempts: i64,
    done_at: Option<i64>,
    receipt: Option<String>,
    claimed_by: Option<String>,
    claim_until: Option<i64>,
    setup_faults: i64,
    legacy_key: i64,
    message_id: Option<String>,
}

/// The rows `condition` picks as one JSON text, in the order they were added.
pub(super) fn outbox_page_sql(postgres: bool, condition: &str) -> String {
    json_rows_sql(postgres, "id", &format!("outbox WHERE {condition}"))
}

/// The outbox rows of `from` (a table or a subquery with the outbox's
/// columns) as one JSON text, in `order`.
pub(super) fn json_rows_sql(postgres: bool, order: &str, from: &str) -> String {
    match postgres {
        true => {
            format!("SELECT json_agg(json_build_array({OUTBOX_COLUMNS}) ORDER BY {order})::text AS page FROM {from}")
        }
        false => format!("SELECT json_group_array(json_array({OUTBOX_COLUMNS}) ORDER BY {order}) AS page FROM {from}"),
    }
}

/// The rows of a page read by `outbox_page_sql` (none for an empty page).
pub(super) fn outbox_page(page: Option<String>) -> anyhow::Result<Vec<OutboxRow>> {
    let rows: Vec<StoredOutbox> = serde_json::from_str(page.as_deref().unwrap_or("[]"))?;
    rows.into_iter().map(StoredOutbox::into_row).collect()
}

impl StoredOutbox {
    /// A row read by itself.
    pub(super) fn read(r: &sqlx::any::AnyRow) -> anyhow::Result<Self> {
        Ok(StoredOutbox {
            id: r.try_get("id")?,
            invoice_id: r.try_get("invoice_id")?,
            customer_id: r.try_get("customer_id")?,
            step: r.try_get("step")?,
            kind: r.try_get("kind")?,
            channel: r.try_get("channel")?,
            template: r.try_get("template")?,
            tone: r.try_get("tone")?,
            deadline: r.try_get("deadline")?,
            payload: r.try_get("payload")?,
            decision_id: r.try_get("decision_id")?,
            created_at: r.try_get("created_at")?,
            not_before: r.try_get("not_before")?,
            state: r.try_get("state")?,
            reason: r.try_get("reason")?,
            attempts: r.try_get("attempts")?,
            done_at: r.try_get("done_at")?,
            receipt: r.try_get("receipt")?,
            claimed_by: r.try_get("claimed_by")?,
            claim_until: r.try_get("claim_until")?,
            setup_faults: r.try_get("setup_faults")?,
            legacy_key: r.try_get("legacy_key")?,
            message_id: r.try_get("message_id")?,
        })
    }

    /// The Message-ID the row's email left with, if it left by email.
    pub(super) fn message_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }

    /// The row with its kind, tone, state and payload checked.
    pub(super) fn into_row(self) -> anyhow::Result<OutboxRow> {
        let kind = OutboxKind::parse(&self.kind)
            .ok_or_else(|| anyhow::anyhow!("outbox row with an unknown kind {:?}", self.kind))?;
        let tone = match &self.tone {
            Some(name) => {
                Some(Tone::parse(name).ok_or_else(|| anyhow::anyhow!("outbox row with an unknown tone {name:?}"))?)
            }
            None => None,
        };
        let state = OutboxState::parse(&self.state)
            .ok_or_else(|| anyhow::anyhow!("outbox row with an unknown state {:?}", self.state))?;
        Ok(OutboxRow {
            id: self.id,
            payload: Payload::parse(kind, &self.payload)?,
            invoice_id: self.invoice_id,
            customer_id: self.customer_id,
            step: self.step,
            kind,
            channel: self.channel,
            template: self.template,
            tone,
            deadline: self.deadline.and_then(|d| d.parse().ok()),
            decision_id: self.decision_id,
            created_at: self.created_at,
            not_before: self.not_before,
            state,
            reason: self.reason,
            attempts: self.attempts,
            done_at: self.done_at,
            receipt: self.receipt,
            claimed_by: self.claimed_by,
            claim_until: self.claim_until,
            setup_faults: self.setup_faults,
            legacy_key: self.legacy_key != 0,
        })
    }
}
