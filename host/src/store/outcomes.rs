//! Outcomes: a payment (in full or in part), a promise, a dispute or an
//! opt-out, tied to the contacts before it. Written in the transaction that
//! records the event, as a fact: reports are queries, not recomputation.
//! The last touch is the latest message that left within the attribution
//! window before the outcome; the whole path in that window is kept too.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use super::Store;
use super::rows::Cell;
use crate::event::{EventKind, OutcomeKind};

/// One outcome as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeRow {
    pub invoice_id: String,
    pub customer_id: String,
    pub kind: OutcomeKind,
    pub at: i64,
    /// Minor units this outcome brought in (0 for a promise or a dispute).
    pub recovered: i64,
    pub currency: String,
    pub touch_step: Option<String>,
    pub touch_channel: Option<String>,
    pub touch_tone: Option<String>,
    pub touch_template: Option<String>,
    pub touch_policy: Option<String>,
    pub touch_version: Option<String>,
    /// `experiment/arm` of the decision behind the last touch, if it was made in one.
    pub touch_arm: Option<String>,
    /// Seconds from the last touch to the outcome.
    pub after_touch: Option<i64>,
    /// The steps of every contact in the window, oldest first.
    pub path: Vec<String>,
}

/// What an outcome is tied to, in the transaction of its event.
pub(super) struct NewOutcome<'a> {
    pub invoice_id: &'a str,
    pub customer_id: &'a str,
    pub event: EventKind,
    /// The outcome the event stands for, if it is one.
    pub outcome: Option<OutcomeKind>,
    pub at: i64,
    pub recovered: i64,
    pub currency: &'a str,
    /// The event's words (a decline code, what was received).
    pub detail: &'a str,
    /// The invoice was paid before this event.
    pub already_paid: bool,
}

/// What a write needs besides its changes: the outcomes' attribution window,
/// whether alerts are raised, and the door the change came through (kept
/// on the record's lines and the outcomes: how the money arrived).
#[derive(Debug, Clone, Copy)]
pub(super) struct Facts {
    pub attribution_days: i64,
    pub alerts: bool,
    pub door: crate::event::Door,
}

/// The contacts an outcome is tied to: the messages about its invoice that
/// left in the window, the latest last.
#[derive(Default)]
struct Touch {
    step: Option<String>,
    channel: Option<String>,
    tone: Option<String>,
    template: Option<String>,
    plugin_name: Option<String>,
    plugin_version: Option<String>,
    arm: Option<String>,
    at: Option<i64>,
    path: Vec<String>,
}

/// The messages sent about the invoices of `list` between `since` and `at`,
/// oldest first. SQLite, given more than a few invoices, walked every message
/// sent (by the index on the state): a statement of many credits read the
/// whole outbox for each page of them.
pub(super) fn touches_sql(postgres: bool, list: &str, at: i64, since: i64) -> String {
    let index = if postgres { "" } else { " INDEXED BY outbox_invoice_sent" };
    format!(
        "SELECT o.invoice_id, o.step, o.channel, o.tone, o.template, o.done_at, p.name AS plugin_name, \
         p.version AS plugin_version, d.experiment || '/' || d.arm AS arm FROM outbox o{index} \
         LEFT JOIN decisions d ON d.id = o.decision_id LEFT JOIN plugin_ids p ON p.id = d.plugin \
         WHERE o.invoice_id IN {list} AND o.state = 'sent' AND o.done_at IS NOT NULL \
         AND o.done_at <= {at} AND o.done_at >= {since} ORDER BY o.invoice_id, o.done_at, o.id"
    )
}

impl Touch {
    /// The touches of these invoices at `at`, read in one statement a page. A
    /// reminder that rode in another invoice's message counts for its own invoice.
    async fn read_all(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        invoice_ids: &[&str],
        at: i64,
        window_days: i64,
    ) -> anyhow::Result<HashMap<String, Touch>> {
        let since = at - window_days * 86_400;
        let pg = super::rows::postgres(tx);
        let sql = |list: &str| touches_sql(pg, list, at, since);
        let mut touches: HashMap<String, Touch> = HashMap::new();
        for r in super::rows::keyed(tx, sql, invoice_ids).await? {
            let touch = touches.entry(r.try_get("invoice_id")?).or_default();
            // Rows come oldest first: each later one is the last touch so far.
            touch.path.push(r.try_get("step")?);
            touch.step = r.try_get("step")?;
            touch.channel = r.try_get("channel")?;
            touch.tone = r.try_get("tone")?;
            touch.template = r.try_get("template")?;
            touch.plugin_name = r.try_get("plugin_name")?;
            touch.plugin_version = r.try_get("plugin_version")?;
            touch.arm = r.try_get("arm")?;
            touch.at = r.try_get("done_at")?;
        }
        Ok(touches)
    }
}

/// Records the outcome each event stands for (nothing for other events), all
/// at `at`, and with `alerts`, the alert a failed payment or a recovery makes.
pub(super) async fn record_all(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    outcomes: &[NewOutcome<'_>],
    at: i64,
    facts: Facts,
) -> anyhow::Result<()> {
    let (window_days, alerts) = (facts.attribution_days, facts.alerts);
    let mut kept: Vec<(&NewOutcome, OutcomeKind)> = vec![];
    for outcome in outcomes {
        let alert = |kind: &str| {
            serde_json::json!({
                "type": kind, "invoice_id": outcome.invoice_id, "customer_id": outcome.customer_id,
                "detail": outcome.detail, "recovered": outcome.recovered, "currency": outcome.currency,
                "at": chrono::DateTime::from_timestamp(outcome.at, 0).map(|t| t.to_rfc3339()),
            })
        };
        if alerts && outcome.event == EventKind::PaymentFailed {
            super::alerts::raise_in(tx, "payment-failed", outcome.invoice_id, outcome.at, &alert("payment-failed"))
                .await?;
        }
        let Some(kind) = outcome.outcome else { continue };
        // A payment event on an invoice already paid (`paid` posted twice, an
        // answer repeated) is no outcome: a recovery is counted and alerted once.
        if matches!(kind, OutcomeKind::Paid | OutcomeKind::PaidInPart) && outcome.already_paid {
            continue;
        }
        if alerts && kind == OutcomeKind::Paid {
            super::alerts::raise_in(tx, "recovered", outcome.invoice_id, outcome.at, &alert("recovered")).await?;
        }
        kept.push((outcome, kind));
    }
    let mut ids: Vec<&str> = kept.iter().map(|(o, _)| o.invoice_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let touches = Touch::read_all(tx, &ids, at, window_days).await?;
    let none = Touch::default();
    let paths: Vec<String> = kept
        .iter()
        .map(|(o, _)| serde_json::to_string(&touches.get(o.invoice_id).unwrap_or(&none).path))
        .collect::<Result<_, _>>()?;
    let cells: Vec<Cell> = kept
        .iter()
        .zip(&paths)
        .flat_map(|((o, kind), path)| {
            let t = touches.get(o.invoice_id).unwrap_or(&none);
            [
                Cell::Text(o.invoice_id),
                Cell::Text(o.customer_id),
                Cell::Text(kind.name()),
                Cell::Int(o.at),
                Cell::Int(o.recovered),
                Cell::Text(o.currency),
                Cell::OptText(t.step.as_deref()),
                Cell::OptText(t.channel.as_deref()),
                Cell::OptText(t.tone.as_deref()),
                Cell::OptText(t.template.as_deref()),
                Cell::OptText(t.plugin_name.as_deref()),
                Cell::OptText(t.plugin_version.as_deref()),
                Cell::OptText(t.arm.as_deref()),
                Cell::OptInt(t.at.map(|touched| o.at - touched)),
                Cell::Text(path),
                Cell::Text(facts.door.name()),
            ]
        })
        .collect();
    let head = "INSERT INTO outcomes (invoice_id, customer_id, kind, at, recovered, currency, touch_step, touch_channel, \
                touch_tone, touch_template, touch_policy, touch_version, touch_arm, after_touch, path, door)";
    super::rows::values(tx, (head, ""), 16, &cells).await?;
    Ok(())
}

/// A message that left, with what a report groups it by.
#[derive(Debug, Clone, PartialEq)]
pub struct SentRow {
    pub invoice_id: String,
    pub customer_id: String,
    pub at: i64,
    pub step: String,
    pub channel: Option<String>,
    pub tone: Option<String>,
    pub template: Option<String>,
    pub policy: Option<String>,
    pub version: Option<String>,
    /// `experiment/arm` of its decision, if it was made in one.
    pub arm: Option<String>,
    /// It did not reach the customer: a bounce, a refused number (failed for good).
    pub bounced: bool,
    /// What its invoice is worth in all (minor units of `currency`).
    pub invoice_total: i64,
    pub currency: String,
}

/// Outcomes with no message before them in their window, summed: they count
/// in a report's whole, never in a breakdown's line, so their rows are not read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Untouched {
    /// (kind, currency, outcomes, minor units recovered).
    pub by_kind: Vec<(OutcomeKind, String, i64, i64)>,
    /// Invoices paid in full.
    pub paid_invoices: i64,
    /// Of those, the ones a message of the period went to (counted as recovered by dunning).
    pub paid_and_dunned: Vec<String>,
    /// (invoice, when) of each payment in full, for the promises it kept.
    pub paid_at: Vec<(String, i64)>,
    /// Promises with no message before them followed by the payment in full in the period.
    pub promises_kept: i64,
}

/// A payment retry carried out: the decline it answered, its place among the
/// invoice's retries, and whether it was paid.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryRow {
    pub decline_code: Option<String>,
    pub attempt: u32,
    pub paid: bool,
}

impl Store {
    /// Payment retries settled between two times (inclusive): paid, or declined.
    pub async fn retries_between(&self, from: i64, to: i64) -> anyhow::Result<Vec<RetryRow>> {
        let rows = sqlx::query(
            "SELECT payload, state, reason FROM outbox WHERE kind = 'retry-payment' AND state IN ('done', 'failed') \
             AND done_at >= $1 AND done_at <= $2 ORDER BY id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let payload =
                    super::Payload::parse(super::OutboxKind::RetryPayment, &r.try_get::<String, _>("payload")?)?;
                let super::Payload::RetryPayment(retry) = payload else { unreachable!("read as a retry") };
                let (state, reason): (String, Option<String>) = (r.try_get("state")?, r.try_get("reason")?);
                Ok(RetryRow {
                    decline_code: retry.decline_code,
                    attempt: retry.attempt,
                    // A charge that went through is done with the reason `paid` (or `paid in part`).
                    paid: state == "done" && reason.is_some_and(|r| r.starts_with("paid")),
                })
            })
            .collect()
    }

    /// Messages that left, or failed for good, between two times (inclusive), with their decision's policy.
    pub async fn sent_between(&self, from: i64, to: i64) -> anyhow::Result<Vec<SentRow>> {
        self.sent_rows(
            "o.done_at AS done_at FROM outbox o",
            "o.done_at >= $1 AND o.done_at <= $2 AND o.channel IS NOT NULL \
             AND (o.state = 'sent' OR (o.state = 'failed' AND o.attempts > 0)) ORDER BY o.done_at, o.id",
            (from, to),
        )
        .await
    }

    /// Visits to the customer's page between two times, each as the message
    /// whose link brought the customer (its step, channel, tone, arm).
    pub async fn visits_between(&self, from: i64, to: i64) -> anyhow::Result<Vec<SentRow>> {
        self.sent_rows(
            "v.received_at AS done_at FROM inbound v JOIN outbox o ON o.id = v.outbox_id",
            "v.door = 'portal' AND v.kind = 'visit' AND v.received_at >= $1 AND v.received_at <= $2 \
             ORDER BY v.received_at, v.id",
            (from, to),
        )
        .await
    }

    async fn sent_rows(&self, source: &str, filter: &str, (from, to): (i64, i64)) -> anyhow::Result<Vec<SentRow>> {
        let sql = format!(
            "SELECT o.invoice_id, o.customer_id, o.state, o.step, o.channel, o.tone, o.template, p.name AS plugin_name, \
             p.version AS plugin_version, d.experiment || '/' || d.arm AS arm, COALESCE(l.total, 0) AS total, \
             COALESCE(l.currency, '-') AS currency, {source} \
             LEFT JOIN decisions d ON d.id = o.decision_id LEFT JOIN plugin_ids p ON p.id = d.plugin \
             LEFT JOIN ledger l ON l.invoice_id = o.invoice_id WHERE {filter}"
        );
        let rows = sqlx::query(&sql).bind(from).bind(to).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(SentRow {
                    invoice_id: r.try_get("invoice_id")?,
                    customer_id: r.try_get("customer_id")?,
                    at: r.try_get("done_at")?,
                    step: r.try_get("step")?,
                    channel: r.try_get("channel")?,
                    tone: r.try_get("tone")?,
                    template: r.try_get("template")?,
                    policy: r.try_get("plugin_name")?,
                    version: r.try_get("plugin_version")?,
                    arm: r.try_get("arm")?,
                    bounced: r.try_get::<String, _>("state")? == "failed",
                    invoice_total: r.try_get("total")?,
                    currency: r.try_get("currency")?,
                })
            })
            .collect()
    }

    /// Each customer's segment and locale, by id, for a report's breakdowns.
    pub async fn customer_labels(&self) -> anyhow::Result<std::collections::HashMap<String, (String, String)>> {
        #[derive(serde::Deserialize)]
        struct Labels {
            id: String,
            segment: String,
            locale: String,
        }
        let rows = sqlx::query("SELECT data FROM customers").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let c: Labels = serde_json::from_str(&r.try_get::<String, _>("data")?)?;
                Ok((c.id, (c.segment, c.locale)))
            })
            .collect()
    }

    /// Outcomes with a message before them in their window, between two times (inclusive), oldest first.
    pub async fn touched_outcomes(&self, from: i64, to: i64) -> anyhow::Result<Vec<OutcomeRow>> {
        self.outcome_rows("WHERE at >= $1 AND at <= $2 AND touch_step IS NOT NULL", from, to).await
    }

    /// The outcomes with no message before them, between two times (inclusive), summed.
    pub async fn untouched_outcomes(&self, from: i64, to: i64) -> anyhow::Result<Untouched> {
        let untouched = "FROM outcomes o WHERE o.at >= $1 AND o.at <= $2 AND o.touch_step IS NULL";
        let by_kind = sqlx::query(&format!(
            "SELECT o.kind, o.currency, COUNT(*) AS n, CAST(SUM(o.recovered) AS BIGINT) AS recovered {untouched} \
             GROUP BY o.kind, o.currency ORDER BY o.kind, o.currency"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let paid_invoices: i64 =
            sqlx::query(&format!("SELECT COUNT(DISTINCT o.invoice_id) AS n {untouched} AND o.kind = 'paid'"))
                .bind(from)
                .bind(to)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
        // The same messages `sent_between` counts as contacts: sent, with a channel, in the period.
        let paid_and_dunned = sqlx::query(&format!(
            "SELECT DISTINCT o.invoice_id {untouched} AND o.kind = 'paid' AND EXISTS (SELECT 1 FROM outbox s \
             WHERE s.invoice_id = o.invoice_id AND s.state = 'sent' AND s.channel IS NOT NULL \
             AND s.done_at >= $1 AND s.done_at <= $2) ORDER BY o.invoice_id"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let paid_at = sqlx::query(&format!("SELECT o.invoice_id, o.at {untouched} AND o.kind = 'paid'"))
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        let promises_kept: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) AS n {untouched} AND o.kind = 'promised' AND EXISTS (SELECT 1 FROM outcomes p \
             WHERE p.invoice_id = o.invoice_id AND p.kind = 'paid' AND p.at >= o.at AND p.at <= $2)"
        ))
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok(Untouched {
            paid_at: paid_at
                .iter()
                .map(|r| Ok((r.try_get("invoice_id")?, r.try_get("at")?)))
                .collect::<anyhow::Result<_>>()?,
            promises_kept,
            by_kind: by_kind
                .iter()
                .map(|r| Ok((kind_of(r)?, r.try_get("currency")?, r.try_get("n")?, r.try_get("recovered")?)))
                .collect::<anyhow::Result<_>>()?,
            paid_invoices,
            paid_and_dunned: paid_and_dunned.iter().map(|r| r.try_get("invoice_id")).collect::<Result<_, _>>()?,
        })
    }

    /// Outcomes between two times (inclusive), oldest first.
    pub async fn outcomes(&self, from: i64, to: i64) -> anyhow::Result<Vec<OutcomeRow>> {
        self.outcome_rows("WHERE at >= $1 AND at <= $2", from, to).await
    }

    async fn outcome_rows(&self, filter: &str, from: i64, to: i64) -> anyhow::Result<Vec<OutcomeRow>> {
        let rows = sqlx::query(&format!("SELECT * FROM outcomes {filter} ORDER BY at, id"))
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OutcomeRow {
                    invoice_id: r.try_get("invoice_id")?,
                    customer_id: r.try_get("customer_id")?,
                    kind: kind_of(r)?,
                    at: r.try_get("at")?,
                    recovered: r.try_get("recovered")?,
                    currency: r.try_get("currency")?,
                    touch_step: r.try_get("touch_step")?,
                    touch_channel: r.try_get("touch_channel")?,
                    touch_tone: r.try_get("touch_tone")?,
                    touch_template: r.try_get("touch_template")?,
                    touch_policy: r.try_get("touch_policy")?,
                    touch_version: r.try_get("touch_version")?,
                    touch_arm: r.try_get("touch_arm")?,
                    after_touch: r.try_get("after_touch")?,
                    path: serde_json::from_str(&r.try_get::<String, _>("path")?)?,
                })
            })
            .collect()
    }
}

/// An outcome's kind as stored, read at the store's edge.
fn kind_of(row: &sqlx::any::AnyRow) -> anyhow::Result<OutcomeKind> {
    let name: String = row.try_get("kind")?;
    OutcomeKind::parse(&name).ok_or_else(|| anyhow::anyhow!("an outcome of an unknown kind {name:?}"))
}
