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

/// Whether two versions of an invoice have the same ledger row (a reply or
/// a promise changes none of it: the row is not written again).
pub(super) fn same_row(a: &Invoice, b: &Invoice) -> bool {
    (&a.customer_id, a.status, &a.currency, a.total(), a.amount_paid, a.issued, a.due)
        == (&b.customer_id, b.status, &b.currency, b.total(), b.amount_paid, b.issued, b.due)
}

/// Writes invoices' ledger rows, in the transaction that writes their documents.
pub(super) async fn put_all(tx: &mut sqlx::Transaction<'_, sqlx::Any>, invoices: &[&Invoice]) -> anyhow::Result<()> {
    use super::rows::Cell;
    let numbers: Vec<[i64; 4]> =
        invoices.iter().map(|i| [i.total(), i.amount_paid, day_number(i.issued), day_number(i.due)]).collect();
    let cells: Vec<Cell> = invoices
        .iter()
        .zip(&numbers)
        .flat_map(|(inv, [total, paid, issued, due])| {
            [
                Cell::Text(&inv.id),
                Cell::Text(&inv.customer_id),
                Cell::Text(status_name(inv.status)),
                Cell::Text(&inv.currency),
                Cell::Int(*total),
                Cell::Int(*paid),
                Cell::Int(*issued),
                Cell::Int(*due),
            ]
        })
        .collect();
    let head = "INSERT INTO ledger (invoice_id, customer_id, status, currency, total, paid, issued, due)";
    let tail = "ON CONFLICT (invoice_id) DO UPDATE SET customer_id = excluded.customer_id, status = excluded.status, \
                currency = excluded.currency, total = excluded.total, paid = excluded.paid, issued = excluded.issued, \
                due = excluded.due";
    super::rows::values(tx, (head, tail), 8, &cells).await?;
    Ok(())
}

/// Fills the ledger and the customers' segments from the documents of a
/// store written before they existed.
pub(super) async fn backfill(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> anyhow::Result<()> {
    let rows = sqlx::query("SELECT data FROM invoices").fetch_all(&mut **tx).await?;
    for r in rows {
        let inv: Invoice = serde_json::from_str(&r.try_get::<String, _>("data")?)?;
        put_all(tx, &[&inv]).await?;
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
