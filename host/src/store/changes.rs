//! The one write path, for one invoice or many at once: the changes of a
//! page (a hundred replies, five hundred bank credits) read in one statement
//! and written in a few, whatever their number, in the caller's transaction.
//! Each statement is a round trip (on SQLite, a hand-over to its worker
//! thread): a statement a row was most of what taking a page in cost.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::outcomes::{self, Facts, NewOutcome};
use super::payload::{Payload, Reinstate, ReinstateAsked};
use super::rows::{Cell, keyed, postgres, values};
use super::{OUTBOX_COLUMNS, OutboxKind, json, ledger, outbox_row, status_name};
use crate::decision::EscalationKind;
use crate::event::{Event, EventKind, OutcomeKind};
use crate::invoice::{Customer, Invoice, InvoiceStatus};

/// One change to an invoice as it is written, whatever door it came through
/// (a file, the API, Stripe, a decision's fee, an action's result).
pub(super) struct Change<'a> {
    /// The invoice before the change; `None` for one seen for the first time.
    pub before: Option<&'a Invoice>,
    pub after: &'a Invoice,
    /// The customer, when the change touched it (a stop, an opt-out).
    pub customer: Option<&'a Customer>,
    /// What happened, as the invoice's record says it.
    pub lines: Vec<(EventKind, String)>,
}

/// `apply_events_in` for one event.
pub(super) async fn apply_event_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    event: &Event,
    now: DateTime<Utc>,
    facts: Facts,
) -> anyhow::Result<String> {
    let mut what = apply_events_in(tx, invoice_id, std::slice::from_ref(event), now, facts).await?;
    Ok(what.pop().unwrap_or_default())
}

/// Several events on one invoice, in order, read once and written once (a
/// reply that promises a date is a promise and a reply).
pub(super) async fn apply_events_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_id: &str,
    events: &[Event],
    now: DateTime<Utc>,
    facts: Facts,
) -> anyhow::Result<Vec<String>> {
    let events: Vec<(String, Event)> = events.iter().map(|e| (invoice_id.to_string(), e.clone())).collect();
    apply_events_all(tx, &events, now, facts).await
}

/// Events on invoices, in order (several on one invoice apply one after the
/// other): each invoice read once and written once. The record's line of
/// each event, in the order given.
pub(super) async fn apply_events_all(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    events: &[(String, Event)],
    now: DateTime<Utc>,
    facts: Facts,
) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if postgres(tx) {
        // The review rows' locks first, in one order: two writers of the same
        // invoices wait for each other rather than deadlock.
        keyed(
            tx,
            |list| format!("SELECT invoice_id FROM reviews WHERE invoice_id IN {list} ORDER BY invoice_id FOR UPDATE"),
            &ids,
        )
        .await?;
    }
    let rows = keyed(
        tx,
        |list| {
            format!(
                "SELECT i.data AS invoice, c.data AS customer FROM invoices i JOIN customers c ON c.id = i.customer_id \
                 WHERE i.id IN {list}"
            )
        },
        &ids,
    )
    .await?;
    let mut invoices: HashMap<String, (Invoice, Invoice)> = HashMap::new();
    let mut customers: HashMap<String, (Customer, Customer)> = HashMap::new();
    for r in &rows {
        let invoice: Invoice = serde_json::from_str(&r.try_get::<String, _>("invoice")?)?;
        let customer: Customer = serde_json::from_str(&r.try_get::<String, _>("customer")?)?;
        customers.entry(customer.id.clone()).or_insert_with(|| (customer.clone(), customer));
        invoices.insert(invoice.id.clone(), (invoice.clone(), invoice));
    }
    // Lines per invoice, in the order its events came; invoices in the order first named.
    let mut order: Vec<&str> = vec![];
    let mut lines: HashMap<&str, Vec<(EventKind, String)>> = HashMap::new();
    let mut what = Vec::with_capacity(events.len());
    for (id, event) in events {
        let (_, invoice) = invoices.get_mut(id).ok_or_else(|| anyhow::anyhow!("unknown invoice {id}"))?;
        let (_, customer) = customers.get_mut(&invoice.customer_id).expect("each invoice's customer was read");
        let line = event.apply(invoice, customer, now);
        if !lines.contains_key(id.as_str()) {
            order.push(id);
        }
        lines.entry(id).or_default().push((event.kind(), line.clone()));
        what.push(line);
    }
    let changes: Vec<Change> = order
        .iter()
        .map(|id| {
            let (before, after) = &invoices[*id];
            let (was, is) = &customers[&after.customer_id];
            // The customer's row is written only when an event changed it (a stop, an opt-out).
            let customer = (is != was).then_some(is);
            Change { before: Some(before), after, customer, lines: lines.remove(id).unwrap_or_default() }
        })
        .collect();
    write_all(tx, &changes, now.timestamp(), facts).await?;
    Ok(what)
}

/// The one write path of invoices: the rows, their reviews, the ledger, the
/// record's lines, the outcome each stands for, and a suspended service
/// reinstated once nothing is owed, all decided here for every door.
pub(super) async fn write_all(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    changes: &[Change<'_>],
    at: i64,
    facts: Facts,
) -> anyhow::Result<()> {
    let new: Vec<&Invoice> = changes.iter().filter(|c| c.before.is_none()).map(|c| c.after).collect();
    insert_new(tx, &new, at).await?;
    let known: Vec<&Change> = changes.iter().filter(|c| c.before.is_some()).collect();
    // A change wakes an open invoice (the policy sees it at the next tick); a closed one is never reviewed again.
    for open in [true, false] {
        let ids: Vec<&str> = known
            .iter()
            .filter(|c| (c.after.status == InvoiceStatus::Open) == open)
            .map(|c| c.after.id.as_str())
            .collect();
        let next = if open { format!("CASE WHEN closed IS NULL THEN CAST({at} AS BIGINT) END") } else { "NULL".into() };
        keyed(tx, |list| format!("UPDATE reviews SET next_review = {next} WHERE invoice_id IN {list}"), &ids).await?;
    }
    let documents: Vec<String> = known.iter().map(|c| json(c.after)).collect();
    let cells: Vec<Cell> = known
        .iter()
        .zip(&documents)
        .flat_map(|(c, data)| {
            [
                Cell::Text(&c.after.id),
                Cell::Text(&c.after.customer_id),
                Cell::Text(status_name(c.after.status)),
                Cell::Text(data),
                Cell::Int(at),
            ]
        })
        .collect();
    let upsert = "ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, status = excluded.status, \
                  data = excluded.data, updated_at = excluded.updated_at";
    values(tx, ("INSERT INTO invoices (id, customer_id, status, data, updated_at)", upsert), 5, &cells).await?;
    let ledger: Vec<&Invoice> =
        changes.iter().filter(|c| c.before.is_none_or(|b| !ledger::same_row(b, c.after))).map(|c| c.after).collect();
    ledger::put_all(tx, &ledger).await?;
    let mut written = std::collections::HashSet::new();
    // Two invoices of one customer carry the same customer, written once.
    for customer in changes.iter().filter_map(|c| c.customer).filter(|c| written.insert(c.id.as_str())) {
        sqlx::query("UPDATE customers SET data = $1, updated_at = $2 WHERE id = $3")
            .bind(json(customer))
            .bind(at)
            .bind(&customer.id)
            .execute(&mut **tx)
            .await?;
    }
    record_lines(tx, changes, at, facts).await?;
    // Paid or voided: nothing is owed, a suspended service comes back.
    let settled: Vec<&str> = changes
        .iter()
        .filter(|c| c.before.is_some_and(|b| b.status != c.after.status))
        .filter(|c| matches!(c.after.status, InvoiceStatus::Paid | InvoiceStatus::Void))
        .map(|c| c.after.id.as_str())
        .collect();
    reinstate_all(tx, &settled, at).await
}

/// Invoices seen for the first time: their rows and their reviews.
async fn insert_new(tx: &mut sqlx::Transaction<'_, sqlx::Any>, new: &[&Invoice], at: i64) -> anyhow::Result<()> {
    let documents: Vec<String> = new.iter().map(json).collect();
    let cells: Vec<Cell> = new
        .iter()
        .zip(&documents)
        .flat_map(|(i, data)| {
            [
                Cell::Text(&i.id),
                Cell::Text(&i.customer_id),
                Cell::Text(status_name(i.status)),
                Cell::Text(data),
                Cell::Int(at),
            ]
        })
        .collect();
    values(tx, ("INSERT INTO invoices (id, customer_id, status, data, updated_at)", ""), 5, &cells).await?;
    let cells: Vec<Cell> = new
        .iter()
        .flat_map(|i| [Cell::Text(&i.id), Cell::OptInt((i.status == InvoiceStatus::Open).then_some(at))])
        .collect();
    values(tx, ("INSERT INTO reviews (invoice_id, next_review)", ""), 2, &cells).await?;
    Ok(())
}

/// The record's lines of every change, and the outcome each stands for.
async fn record_lines(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    changes: &[Change<'_>],
    at: i64,
    facts: Facts,
) -> anyhow::Result<()> {
    let mut cells = vec![];
    let mut outcomes = vec![];
    for change in changes {
        let (before, after) = (change.before, change.after);
        let paid_before = before.map_or(after.amount_paid, |b| b.amount_paid);
        for (kind, detail) in &change.lines {
            cells.extend([
                Cell::Text(&after.id),
                Cell::Int(at),
                Cell::Text(kind.name()),
                Cell::Text(detail),
                Cell::Text(facts.door.name()),
            ]);
            let outcome = kind.outcome(after.status);
            let payment = matches!(outcome, Some(OutcomeKind::Paid | OutcomeKind::PaidInPart));
            outcomes.push(NewOutcome {
                invoice_id: &after.id,
                customer_id: &after.customer_id,
                event: *kind,
                outcome,
                at,
                // What this change brought in, on the payment line that says so.
                recovered: if payment { (after.amount_paid - paid_before).max(0) } else { 0 },
                currency: &after.currency,
                detail,
                already_paid: before.is_some_and(|b| b.status == InvoiceStatus::Paid),
            });
        }
    }
    values(tx, ("INSERT INTO events (invoice_id, at, kind, detail, door)", ""), 5, &cells).await?;
    outcomes::record_all(tx, &outcomes, at, facts).await
}

/// The escalations of the invoices of `list` done, or tried. SQLite, given
/// more than a few invoices, walked every message done and pending (by the
/// index on the state); the outbox's key starts with the invoice.
pub(super) fn escalations_sql(postgres: bool, list: &str) -> String {
    let index = if postgres { "" } else { " INDEXED BY sqlite_autoindex_outbox_1" };
    format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox{index} WHERE invoice_id IN {list} AND kind = 'escalate' \
         AND (state = 'done' OR (state = 'pending' AND attempts > 0)) ORDER BY id"
    )
}

/// Paid (or voided) invoices whose customer's service was suspended, or may
/// have been (a request went out, answered or not), get a step to reinstate it, once.
pub(super) async fn reinstate_all(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    invoice_ids: &[&str],
    at: i64,
) -> anyhow::Result<()> {
    let pg = postgres(tx);
    let escalations = keyed(tx, |list| escalations_sql(pg, list), invoice_ids).await?;
    for s in escalations.iter().map(outbox_row) {
        let s = s?;
        if s.payload.escalation().is_none_or(|e| e.kind != EscalationKind::SuspendService) {
            continue;
        }
        let step = s.step;
        let payload = Payload::ReinstateService(Reinstate {
            asked: ReinstateAsked { step: format!("{step}-reinstate"), undoes: step.clone() },
        });
        sqlx::query(
            "INSERT INTO outbox (invoice_id, customer_id, step, kind, payload, decision_id, created_at, not_before, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending') ON CONFLICT (invoice_id, step) DO NOTHING",
        )
        .bind(&s.invoice_id)
        .bind(&s.customer_id)
        .bind(format!("{step}-reinstate"))
        .bind(OutboxKind::ReinstateService.as_str())
        .bind(payload.text())
        .bind(s.decision_id)
        .bind(at)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
