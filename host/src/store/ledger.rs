//! The ledger: each invoice's money and dates in a narrow row of their own,
//! written with its document. A report ages a million receivables in one
//! aggregate over these rows instead of parsing a million JSON documents.

use chrono::NaiveDate;
use sqlx::Row;

use super::{Store, status_name};
use crate::invoice::Invoice;

/// Receivables by age: `not due`, `1-30`, `31-60`, `61-90`, `>90` days past due.
pub const AGE_BUCKETS: [&str; 5] = ["not due", "1-30", "31-60", "61-90", ">90"];

/// What was owed at a date, per currency and age bucket, and what was invoiced up to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aging {
    /// (currency, index into `AGE_BUCKETS`, invoices, amount owed in minor units).
    pub owed: Vec<(String, usize, i64, i64)>,
    /// (currency, day of issue, amount invoiced that day), every day up to the date:
    /// the countback walks back through them.
    pub sales: Vec<(String, NaiveDate, i64)>,
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date")
}

/// Days since 1970-01-01, as the ledger keeps dates.
pub(super) fn day_number(d: NaiveDate) -> i64 {
    (d - epoch()).num_days()
}

/// The date of a ledger day number.
pub(super) fn day_of(number: i64) -> NaiveDate {
    epoch() + chrono::Duration::days(number)
}

/// Writes an invoice's ledger row, in the transaction that writes its document.
pub(super) async fn put(tx: &mut sqlx::Transaction<'_, sqlx::Any>, inv: &Invoice) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO ledger (invoice_id, customer_id, status, currency, total, paid, issued, due) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (invoice_id) DO UPDATE SET \
         customer_id = excluded.customer_id, status = excluded.status, currency = excluded.currency, \
         total = excluded.total, paid = excluded.paid, issued = excluded.issued, due = excluded.due",
    )
    .bind(&inv.id)
    .bind(&inv.customer_id)
    .bind(status_name(inv.status))
    .bind(&inv.currency)
    .bind(inv.total())
    .bind(inv.amount_paid)
    .bind(day_number(inv.issued))
    .bind(day_number(inv.due))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Fills the ledger and the customers' segments from the documents of a
/// store written before they existed.
pub(super) async fn backfill(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> anyhow::Result<()> {
    let rows = sqlx::query("SELECT data FROM invoices").fetch_all(&mut **tx).await?;
    for r in rows {
        let inv: Invoice = serde_json::from_str(&r.try_get::<String, _>("data")?)?;
        put(tx, &inv).await?;
    }
    let rows = sqlx::query("SELECT data FROM customers").fetch_all(&mut **tx).await?;
    for r in rows {
        let c: crate::invoice::Customer = serde_json::from_str(&r.try_get::<String, _>("data")?)?;
        sqlx::query("UPDATE customers SET segment = $1 WHERE id = $2")
            .bind(&c.segment)
            .bind(&c.id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// What was owed at the end of `at`, by currency and age, and what was
    /// invoiced each day up to `at`. An invoice paid since counts with what
    /// it still owed then. Void and written-off invoices are left out.
    pub async fn aging(&self, at: NaiveDate) -> anyhow::Result<Aging> {
        let end = at.and_hms_opt(23, 59, 59).expect("a valid time").and_utc().timestamp();
        let at = day_number(at);
        // What came in after `at` is added back to what was owed then.
        let owed = sqlx::query(
            "SELECT currency, bucket, COUNT(*) AS n, CAST(SUM(owed) AS BIGINT) AS amount FROM ( \
               SELECT l.currency, l.total - l.paid + COALESCE(p.since, 0) AS owed, \
                 CAST(CASE WHEN $1 - l.due <= 0 THEN 0 WHEN $1 - l.due <= 30 THEN 1 WHEN $1 - l.due <= 60 THEN 2 \
                      WHEN $1 - l.due <= 90 THEN 3 ELSE 4 END AS BIGINT) AS bucket \
               FROM ledger l LEFT JOIN ( \
                 SELECT invoice_id, SUM(recovered) AS since FROM outcomes WHERE at > $2 GROUP BY invoice_id \
               ) p ON p.invoice_id = l.invoice_id \
               WHERE l.status IN ('open', 'paid') AND l.issued <= $1 \
             ) a WHERE owed > 0 GROUP BY currency, bucket ORDER BY currency, bucket",
        )
        .bind(at)
        .bind(end)
        .fetch_all(&self.pool)
        .await?;
        let sales = sqlx::query(
            "SELECT currency, issued, CAST(SUM(total) AS BIGINT) AS amount FROM ledger \
             WHERE status IN ('open', 'paid') AND issued <= $1 GROUP BY currency, issued ORDER BY currency, issued",
        )
        .bind(at)
        .fetch_all(&self.pool)
        .await?;
        Ok(Aging {
            owed: owed
                .iter()
                .map(|r| {
                    let bucket: i64 = r.try_get("bucket")?;
                    Ok((r.try_get("currency")?, bucket as usize, r.try_get("n")?, r.try_get("amount")?))
                })
                .collect::<anyhow::Result<_>>()?,
            sales: sales
                .iter()
                .map(|r| Ok((r.try_get("currency")?, day_of(r.try_get("issued")?), r.try_get("amount")?)))
                .collect::<anyhow::Result<_>>()?,
        })
    }

    /// Whether the store holds any invoice at all: a run on one that holds
    /// none was most likely pointed at the wrong database.
    pub async fn holds_invoices(&self) -> anyhow::Result<bool> {
        let any: Option<String> =
            sqlx::query_scalar("SELECT invoice_id FROM ledger LIMIT 1").fetch_optional(&self.pool).await?;
        Ok(any.is_some())
    }

    /// Each invoice's due date, by id (a response model is fitted by days overdue).
    pub async fn due_dates(&self) -> anyhow::Result<std::collections::HashMap<String, NaiveDate>> {
        let rows = sqlx::query("SELECT invoice_id, due FROM ledger").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("invoice_id")?, day_of(r.try_get("due")?)))).collect()
    }
}
