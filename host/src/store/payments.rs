//! How the money of a period came in: the payments by the door they came
//! through (kept on each outcome), and the bank's credits as they were matched.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use super::Store;
use crate::event::Door;

/// The payments of one door in one currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoorPayments {
    /// `None`: recorded before doors were (migration 27).
    pub source: Option<Door>,
    pub currency: String,
    pub payments: i64,
    /// Minor units.
    pub amount: i64,
}

/// A bank credit as a report counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditRow {
    pub state: crate::bank::state::EntryState,
    pub booked: Option<NaiveDate>,
    /// When it was matched, by the host or a person.
    pub settled_at: Option<i64>,
}

impl Store {
    /// Payments (in full or in part) of `[from, to]` by door and currency.
    pub async fn payments_by_door(&self, from: i64, to: i64) -> anyhow::Result<Vec<DoorPayments>> {
        let rows = sqlx::query(
            "SELECT door, currency, COUNT(*) AS n, CAST(SUM(recovered) AS BIGINT) AS amount FROM outcomes \
             WHERE kind IN ('paid', 'paid-in-part') AND at >= $1 AND at <= $2 GROUP BY door, currency ORDER BY door IS NULL, door, currency",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let door: Option<String> = r.try_get("door")?;
                let source = match door {
                    Some(name) => Some(
                        Door::parse(&name).ok_or_else(|| anyhow::anyhow!("an outcome of an unknown door {name:?}"))?,
                    ),
                    None => None,
                };
                Ok(DoorPayments {
                    source,
                    currency: r.try_get("currency")?,
                    payments: r.try_get("n")?,
                    amount: r.try_get("amount")?,
                })
            })
            .collect()
    }

    /// The bank credits received in `[from, to]`.
    pub async fn credits_between(&self, from: i64, to: i64) -> anyhow::Result<Vec<CreditRow>> {
        let rows = sqlx::query(
            "SELECT state, booked, settled_at FROM bank_entries WHERE credit = 1 AND received_at >= $1 AND received_at <= $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let booked: Option<String> = r.try_get("booked")?;
                Ok(CreditRow {
                    state: super::bank_list::state_of_row(r)?,
                    booked: booked.and_then(|b| b.parse().ok()),
                    settled_at: r.try_get("settled_at")?,
                })
            })
            .collect()
    }
}
