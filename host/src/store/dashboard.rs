//! What the dashboard reads beside the reports: a page of invoices under
//! filters (from the narrow ledger, so a page costs the same at a million
//! invoices), the text each message went with, and day-by-day series.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use super::Store;
use super::ledger::{day_number, day_of};
use crate::invoice::{Customer, Invoice};

/// What a list of invoices may be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    /// `open`, `paid`, `void`, `written-off`.
    pub state: Option<String>,
    /// Customers of these segments only (a policy's filter is the segments it serves).
    pub segments: Option<Vec<String>>,
    /// Customers of none of these segments (the default policy serves those no segment names).
    pub other_segments: Option<Vec<String>>,
    /// What is owed in all, in minor units, at least and at most.
    pub min_total: Option<i64>,
    pub max_total: Option<i64>,
    /// Days past due at `today`, from and to (inclusive); negative is not yet due.
    pub late_days: Option<(i64, i64)>,
    pub today: Option<NaiveDate>,
}

/// One line of the invoices list.
#[derive(Debug, Clone, Serialize)]
pub struct InvoiceLine {
    pub id: String,
    pub number: String,
    pub customer: String,
    pub segment: String,
    pub currency: String,
    pub total: i64,
    pub outstanding: i64,
    pub due: NaiveDate,
    pub state: String,
    pub next_review: Option<i64>,
    /// The reason its review was closed with, if it was (`collections`...).
    pub closed: Option<String>,
    /// The invoice itself: its promise, dispute and plan.
    pub invoice: Invoice,
}

enum Bind {
    Int(i64),
    Text(String),
}

impl Store {
    /// Up to `limit` invoices after `after` (by id) that pass the filter.
    pub async fn invoice_page(
        &self,
        filter: &InvoiceFilter,
        after: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<InvoiceLine>> {
        let mut clauses: Vec<String> = vec![];
        let mut binds: Vec<Bind> = vec![];
        let mut bind = |clause: &str, value: Bind, binds: &mut Vec<Bind>| {
            binds.push(value);
            clauses.push(clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(after) = after {
            bind("l.invoice_id > ?", Bind::Text(after.into()), &mut binds);
        }
        if let Some(state) = &filter.state {
            bind("l.status = ?", Bind::Text(state.clone()), &mut binds);
        }
        if let Some(min) = filter.min_total {
            bind("l.total >= ?", Bind::Int(min), &mut binds);
        }
        if let Some(max) = filter.max_total {
            bind("l.total <= ?", Bind::Int(max), &mut binds);
        }
        if let (Some((from, to)), Some(today)) = (filter.late_days, filter.today) {
            let today = day_number(today);
            bind("l.due <= ?", Bind::Int(today - from), &mut binds);
            bind("l.due >= ?", Bind::Int(today - to), &mut binds);
        }
        let mut sql = String::from(
            "SELECT l.invoice_id, l.currency, l.total, l.paid, l.status, i.data AS invoice, r.next_review, r.closed, \
             c.data AS customer FROM ledger l JOIN invoices i ON i.id = l.invoice_id \
             JOIN reviews r ON r.invoice_id = l.invoice_id \
             JOIN customers c ON c.id = l.customer_id",
        );
        if let Some(segments) = &filter.segments {
            if segments.is_empty() {
                return Ok(vec![]);
            }
            let mut marks = vec![];
            for s in segments {
                binds.push(Bind::Text(s.clone()));
                marks.push(format!("${}", binds.len()));
            }
            clauses.push(format!("c.segment IN ({})", marks.join(", ")));
        }
        if let Some(others) = filter.other_segments.as_ref().filter(|o| !o.is_empty()) {
            let mut marks = vec![];
            for s in others {
                binds.push(Bind::Text(s.clone()));
                marks.push(format!("${}", binds.len()));
            }
            clauses.push(format!("c.segment NOT IN ({})", marks.join(", ")));
        }
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        binds.push(Bind::Int(limit));
        sql.push_str(&format!(" ORDER BY l.invoice_id LIMIT ${}", binds.len()));
        let mut query = sqlx::query(&sql);
        for b in binds {
            query = match b {
                Bind::Int(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let invoice: Invoice = serde_json::from_str(&r.try_get::<String, _>("invoice")?)?;
                let customer: Customer = serde_json::from_str(&r.try_get::<String, _>("customer")?)?;
                let (total, paid): (i64, i64) = (r.try_get("total")?, r.try_get("paid")?);
                Ok(InvoiceLine {
                    id: r.try_get("invoice_id")?,
                    number: invoice.number.clone(),
                    customer: customer.name,
                    segment: customer.segment,
                    currency: r.try_get("currency")?,
                    total,
                    outstanding: (total - paid).max(0),
                    due: invoice.due,
                    state: r.try_get("status")?,
                    next_review: r.try_get("next_review")?,
                    closed: r.try_get("closed")?,
                    invoice,
                })
            })
            .collect()
    }

    /// The segments customers are in.
    pub async fn segments(&self) -> anyhow::Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT segment FROM customers WHERE segment IS NOT NULL ORDER BY segment")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("segment")?)).collect()
    }

    /// The subject and text each message of an invoice went with, by outbox id.
    pub async fn rendered_of(&self, invoice_id: &str) -> anyhow::Result<std::collections::HashMap<i64, String>> {
        let rows = sqlx::query("SELECT id, rendered FROM outbox WHERE invoice_id = $1 AND rendered IS NOT NULL")
            .bind(invoice_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("rendered")?))).collect()
    }

    /// What came in per day (paid in full or in part), per currency.
    pub async fn recovered_per_day(&self, from: i64, to: i64) -> anyhow::Result<Vec<(NaiveDate, String, i64)>> {
        let rows = sqlx::query(
            "SELECT at / 86400 AS day, currency, CAST(SUM(recovered) AS BIGINT) AS amount FROM outcomes \
             WHERE at >= $1 AND at <= $2 AND kind IN ('paid', 'paid-in-part') \
             GROUP BY at / 86400, currency ORDER BY day, currency",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((day_of(r.try_get("day")?), r.try_get("currency")?, r.try_get("amount")?))).collect()
    }

    /// Messages that left per day and channel.
    pub async fn messages_per_day(&self, from: i64, to: i64) -> anyhow::Result<Vec<(NaiveDate, String, i64)>> {
        let rows = sqlx::query(
            "SELECT done_at / 86400 AS day, channel, COUNT(*) AS n FROM outbox \
             WHERE state = 'sent' AND channel IS NOT NULL AND done_at >= $1 AND done_at <= $2 \
             GROUP BY done_at / 86400, channel ORDER BY day, channel",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((day_of(r.try_get("day")?), r.try_get("channel")?, r.try_get("n")?))).collect()
    }
}
