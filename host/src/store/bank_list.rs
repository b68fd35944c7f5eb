//! The bank entries as a person sees them: those waiting to be matched
//! (or all of them), each with the invoices it may pay.

use sqlx::Row;

use super::Store;
use crate::bank::state::EntryState;

/// An entry as listed for a person.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct BankRow {
    pub key: String,
    pub received_at: i64,
    pub booked: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub debtor: Option<String>,
    pub remittance: String,
    pub state: EntryState,
    pub evidence: String,
    /// The invoices it may pay, for a person to pick (an unsure credit's).
    pub candidates: Vec<Candidate>,
}

/// An invoice an entry may pay, with what it still owes.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Candidate {
    pub invoice_id: String,
    pub customer_id: String,
    pub owed: i64,
    pub currency: String,
}

impl Store {
    /// Entries waiting for a person (unsure, unmatched, a second payment), or
    /// all of them, newest first, with the invoices each may pay.
    pub(crate) async fn bank_entries(&self, all: bool, limit: i64) -> anyhow::Result<Vec<BankRow>> {
        let waiting = format!("WHERE state IN ({}) ", EntryState::sql(&EntryState::WAITING));
        let filter = if all { "" } else { waiting.as_str() };
        let rows = sqlx::query(&format!("SELECT * FROM bank_entries {filter}ORDER BY received_at DESC, key LIMIT $1"))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut entries = rows
            .iter()
            .map(|r| {
                Ok(BankRow {
                    key: r.try_get("key")?,
                    received_at: r.try_get("received_at")?,
                    booked: r.try_get("booked")?,
                    amount: r.try_get("amount")?,
                    currency: r.try_get("currency")?,
                    debtor: r.try_get("debtor")?,
                    remittance: r.try_get("remittance")?,
                    state: state_of_row(r)?,
                    evidence: r.try_get("evidence")?,
                    candidates: vec![],
                })
            })
            .collect::<anyhow::Result<Vec<BankRow>>>()?;
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        // A read: a plain transaction, which takes no write lock on SQLite.
        let mut tx = self.pool.begin().await?;
        let sql = |list: &str| {
            format!(
                "SELECT c.entry_key, c.invoice_id, l.customer_id, l.total - l.paid AS owed, l.currency \
                 FROM bank_candidates c JOIN ledger l ON l.invoice_id = c.invoice_id WHERE c.entry_key IN {list} \
                 ORDER BY c.entry_key, c.invoice_id"
            )
        };
        let candidates = super::rows::keyed(&mut tx, sql, &keys).await?;
        tx.rollback().await?;
        let mut by_key: std::collections::HashMap<String, Vec<Candidate>> = Default::default();
        for r in &candidates {
            by_key.entry(r.try_get("entry_key")?).or_default().push(Candidate {
                invoice_id: r.try_get("invoice_id")?,
                customer_id: r.try_get("customer_id")?,
                owed: r.try_get("owed")?,
                currency: r.try_get("currency")?,
            });
        }
        for e in &mut entries {
            e.candidates = by_key.remove(&e.key).unwrap_or_default();
        }
        Ok(entries)
    }
}

/// An entry's state as stored, read at the store's edge.
pub(super) fn state_of_row(r: &sqlx::any::AnyRow) -> anyhow::Result<EntryState> {
    let name: String = r.try_get("state")?;
    EntryState::parse(&name).ok_or_else(|| anyhow::anyhow!("a bank entry in an unknown state {name:?}"))
}
