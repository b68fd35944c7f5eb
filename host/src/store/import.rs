//! A checked dataset in: customers and invoices, each new one added and each
//! known one updated with the change recorded as the events that would have
//! made it, never duplicated. A page of a file is read in one statement and
//! written through the one write path in a few.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::changes::{Change, apply_events_all, write_all};
use super::events::import_lines;
use super::rows::{Cell, keyed, values};
use super::{ImportReport, Store, json};
use crate::intake::Dataset;
use crate::invoice::{Customer, Invoice, InvoiceStatus};

/// Rows a transaction's statements take at a time.
const PAGE: usize = 500;

impl Store {
    /// Imports a checked dataset in one transaction. A known invoice is updated
    /// and the change recorded as events; it is never duplicated.
    pub async fn import(&self, data: &Dataset, now: DateTime<Utc>) -> anyhow::Result<ImportReport> {
        let at = now.timestamp();
        // Every way in (files, the API, Stripe) ends here: no id the store cannot page.
        let ids = data.customers.iter().map(|c| &c.id).chain(data.invoices.iter().map(|i| &i.id));
        if let Some(bad) = ids.into_iter().find(|id| !crate::intake::is_id(id)) {
            anyhow::bail!("{bad:?} is not an id: 1 to 128 printable characters");
        }
        let mut report = ImportReport::default();
        let mut tx = self.begin_write().await?;
        for page in last_of_each(&data.customers, |c| &c.id).chunks(PAGE) {
            self.import_customers(&mut tx, page, at, &mut report).await?;
        }
        for page in last_of_each(&data.invoices, |i| &i.id).chunks(PAGE) {
            self.import_invoices(&mut tx, page, now, &mut report).await?;
        }
        tx.commit().await?;
        self.know_tables().await;
        Ok(report)
    }

    async fn import_customers(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        page: &[&Customer],
        at: i64,
        report: &mut ImportReport,
    ) -> anyhow::Result<()> {
        let ids: Vec<&str> = page.iter().map(|c| c.id.as_str()).collect();
        let stored: HashMap<String, Customer> = documents(tx, "customers", &ids).await?;
        let mut added = vec![];
        for given in page {
            let before = stored.get(&given.id);
            let c = kept_by_the_host(before, given);
            let text = json(&c);
            let email = c.email.as_deref().map(str::to_lowercase);
            match before {
                Some(before) if json(before) == text => report.unchanged += 1,
                Some(_) => {
                    sqlx::query(
                        "UPDATE customers SET data = $1, updated_at = $2, segment = $3, email = $4 WHERE id = $5",
                    )
                    .bind(&text)
                    .bind(at)
                    .bind(&c.segment)
                    .bind(email)
                    .bind(&c.id)
                    .execute(&mut **tx)
                    .await?;
                    report.customers_updated += 1;
                }
                None => {
                    added.push((c, text, email));
                    report.customers_added += 1;
                }
            }
        }
        let cells: Vec<Cell> = added
            .iter()
            .flat_map(|(c, text, email)| {
                [
                    Cell::Text(&c.id),
                    Cell::Text(text),
                    Cell::Int(at),
                    Cell::Text(&c.segment),
                    Cell::OptText(email.as_deref()),
                ]
            })
            .collect();
        values(tx, ("INSERT INTO customers (id, data, updated_at, segment, email)", ""), 5, &cells).await?;
        Ok(())
    }

    async fn import_invoices(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        page: &[&Invoice],
        now: DateTime<Utc>,
        report: &mut ImportReport,
    ) -> anyhow::Result<()> {
        let mut ids: Vec<&str> = page.iter().map(|i| i.id.as_str()).collect();
        if self.postgres {
            // Two imports of one invoice at once: the second reads it after the
            // first commits, or both would record the same payment from a stale copy.
            ids.sort_unstable();
            let lock = |list: &str| {
                format!("SELECT invoice_id FROM reviews WHERE invoice_id IN {list} ORDER BY invoice_id FOR UPDATE")
            };
            keyed(tx, lock, &ids).await?;
        }
        let stored: HashMap<String, Invoice> = documents(tx, "invoices", &ids).await?;
        let mut afters = vec![];
        for inv in page {
            let before = stored.get(&inv.id);
            let after = kept_on_the_invoice(before, inv);
            match before {
                Some(before) if *before == after => report.unchanged += 1,
                Some(_) => {
                    report.invoices_updated += 1;
                    afters.push((before, after));
                }
                None => {
                    report.invoices_added += 1;
                    afters.push((before, after));
                }
            }
        }
        let changes: Vec<Change> = afters
            .iter()
            .map(|(before, after)| {
                let lines = import_lines(*before, after, now);
                report.events.extend(lines.iter().map(|(kind, _)| format!("{}: {kind}", after.id)));
                Change { before: *before, after, customer: None, lines }
            })
            .collect();
        write_all(tx, &changes, now.timestamp(), self.facts(crate::event::Door::Import)).await
    }
}

impl Store {
    /// E-invoices in. A document says who the buyer is and what it asks, not
    /// what was paid nor how to reach the buyer, and an e-invoice once issued
    /// is never changed (a credit note corrects it): a customer or an invoice
    /// the store knows is kept as it is; credit notes reduce the invoices
    /// they credit, each once.
    pub(crate) async fn import_documents(
        &self,
        docs: &crate::intake::einvoice::EDocuments,
        now: DateTime<Utc>,
    ) -> anyhow::Result<ImportReport> {
        let customer_ids: Vec<&str> = docs.dataset.customers.iter().map(|c| c.id.as_str()).collect();
        let invoice_ids: Vec<&str> = docs.dataset.invoices.iter().map(|i| i.id.as_str()).collect();
        let (customers, invoices) =
            (self.ids_known("customers", &customer_ids).await?, self.ids_known("invoices", &invoice_ids).await?);
        let new = Dataset {
            customers: docs.dataset.customers.iter().filter(|c| !customers.contains(&c.id)).cloned().collect(),
            invoices: docs.dataset.invoices.iter().filter(|i| !invoices.contains(&i.id)).cloned().collect(),
            events: vec![],
        };
        let mut report = self.import(&new, now).await?;
        report.unchanged += docs.dataset.customers.len() - new.customers.len();
        report.unchanged += docs.dataset.invoices.len() - new.invoices.len();
        for note in &docs.credit_notes {
            let line = self.apply_credit_note(note, now).await?;
            report.credit_notes.push(line);
        }
        Ok(report)
    }

    /// Which of `ids` are rows of `table`.
    async fn ids_known(&self, table: &str, ids: &[&str]) -> anyhow::Result<HashSet<String>> {
        // A read: a plain transaction, which takes no write lock on SQLite.
        let mut tx = self.pool.begin().await?;
        let rows = keyed(&mut tx, |list| format!("SELECT id FROM {table} WHERE id IN {list}"), ids).await?;
        tx.rollback().await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>("id")?)).collect()
    }

    /// A credit note on the invoices it names (of its customer, in its
    /// currency), up to what each asks; what it did, in words.
    async fn apply_credit_note(
        &self,
        note: &crate::intake::einvoice::CreditNote,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let compact = |n: &str| n.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_uppercase();
        let named: Vec<String> = note.credits.iter().map(|n| compact(n)).collect();
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query("SELECT data FROM invoices WHERE customer_id = $1 ORDER BY id")
            .bind(&note.customer_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut credited: Vec<Invoice> = vec![];
        for r in &rows {
            let invoice: Invoice = serde_json::from_str(&r.try_get::<String, _>("data")?)?;
            if named.contains(&compact(&invoice.number)) && invoice.currency == note.currency {
                credited.push(invoice);
            }
        }
        let mark = crate::event::credit_note_ref(&note.number);
        if credited.iter().any(|i| i.refs.contains(&mark)) {
            return Ok(format!("credit note {}: applied before, nothing done again", note.number));
        }
        if credited.is_empty() {
            let names = note.credits.join(", ");
            return Ok(format!(
                "credit note {}: credits {names}, which is no invoice of {} we know: nothing done",
                note.number, note.customer_id
            ));
        }
        let mut left = note.amount;
        let mut events = vec![];
        for invoice in &credited {
            let amount = left.min(invoice.amount_due).max(0);
            left -= amount;
            events.push((invoice.id.clone(), crate::event::Event::CreditNoted { number: note.number.clone(), amount }));
        }
        let lines = apply_events_all(&mut tx, &events, now, self.facts(crate::event::Door::Import)).await?;
        tx.commit().await?;
        let on: Vec<String> = credited.iter().zip(&lines).map(|(i, line)| format!("{}: {line}", i.id)).collect();
        Ok(on.join("; "))
    }
}

/// Each id once, as its last row gives it (a later row of a file updates an earlier one).
fn last_of_each<T>(rows: &[T], id: impl Fn(&T) -> &String) -> Vec<&T> {
    let last: HashMap<&String, usize> = rows.iter().enumerate().map(|(i, r)| (id(r), i)).collect();
    rows.iter().enumerate().filter(|(i, r)| last[id(r)] == *i).map(|(_, r)| r).collect()
}

/// The stored documents (`data`) of rows of `table` by id.
async fn documents<T: serde::de::DeserializeOwned>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &str,
    ids: &[&str],
) -> anyhow::Result<HashMap<String, T>> {
    let rows = keyed(tx, |list| format!("SELECT id, data FROM {table} WHERE id IN {list}"), ids).await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, serde_json::from_str(&r.try_get::<String, _>("data")?)?))).collect()
}

/// An invoice as the file gives it, with what the host keeps on it (an
/// accepted plan, fees, the customer's answer, a transfer to confirm).
fn kept_on_the_invoice(before: Option<&Invoice>, given: &Invoice) -> Invoice {
    let mut after = Invoice {
        // A plan the document itself sets (an e-invoice's instalments) until the host has one.
        plan: before.map_or_else(|| given.plan.clone(), |b| b.plan.clone()),
        fees: before.map(|b| b.fees.clone()).unwrap_or_default(),
        answered: before.and_then(|b| b.answered.clone()),
        transfer_to_confirm: before.and_then(|b| b.transfer_to_confirm),
        ..given.clone()
    };
    // "Paid" in an export means paid in full, as a payment event records it, even
    // when the export leaves `amount_paid` out: what it brought in is a recovery,
    // and nothing of it is owed in the receivables.
    if after.status == InvoiceStatus::Paid && after.amount_paid < after.total() {
        after.amount_paid = after.total();
    }
    after
}

/// A customer as a file or a request gives it, with what the host learnt and
/// the file cannot know: the channels they opted out of (an export that
/// leaves them out must not opt them back in) and what bounces said of the
/// address, while the address is the same.
fn kept_by_the_host(before: Option<&Customer>, given: &Customer) -> Customer {
    let mut c = given.clone();
    let Some(before) = before else { return c };
    for channel in &before.opted_out {
        if !c.opted_out.contains(channel) {
            c.opted_out.push(channel.clone());
        }
    }
    let same_address =
        |m: &crate::invoice::EmailBounces| c.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&m.address));
    if c.email_bounces.is_none() {
        c.email_bounces = before.email_bounces.clone().filter(same_address);
    }
    c
}
