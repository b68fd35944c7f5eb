//! The pages that read: the overview's charts, the invoices list and one
//! invoice's timeline.

use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use chrono::{Datelike, Days, NaiveDate, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::i18n::Viewer;
use super::standing::Standing;
use super::{AppState, Page, failed, reader, refuse, render};
use crate::report::Dimension;
use crate::store::InvoiceFilter;

/// One chart: labels along, one series per name, drawn by app.js and given as a table too.
#[derive(Serialize)]
struct Chart {
    id: &'static str,
    kind: &'static str,
    labels: Vec<String>,
    series: Vec<Series>,
}

#[derive(Serialize)]
struct Series {
    name: String,
    values: Vec<f64>,
}

#[derive(Deserialize)]
pub(super) struct OverviewQuery {
    /// The last day shown (default today).
    to: Option<NaiveDate>,
}

/// Series by name over the given labels, zero where a label has no value.
fn series(labels: &[NaiveDate], points: &[(NaiveDate, String, f64)]) -> Vec<Series> {
    let mut by_name: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (day, name, value) in points {
        let Some(i) = labels.iter().position(|l| l == day) else { continue };
        by_name.entry(name.as_str()).or_insert_with(|| vec![0.0; labels.len()])[i] += value;
    }
    by_name.into_iter().map(|(name, values)| Series { name: name.to_string(), values }).collect()
}

pub(super) async fn overview(state: AppState, headers: HeaderMap, Query(q): Query<OverviewQuery>) -> Page {
    let app = state.0;
    let access = reader(&app, &headers)?;
    let v = &access.viewer;
    let to = q.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = to - Days::new(89);
    let store = app.runtime.store();
    let (start, end) = (
        from.and_hms_opt(0, 0, 0).expect("a valid time").and_utc().timestamp(),
        to.and_hms_opt(23, 59, 59).expect("a valid time").and_utc().timestamp(),
    );
    let report = crate::report::from_store(store, &[Dimension::Step], &app.runtime.config().outcomes.costs, (from, to))
        .await
        .map_err(failed)?;

    let (ages, currency, minor) = ages_chart(v, &report.receivables);
    // Recovered per week (weeks from Monday), in the same currency.
    let monday = |d: NaiveDate| d - Days::new(u64::from(d.weekday().num_days_from_monday()));
    let weeks: Vec<NaiveDate> = (0..13).rev().map(|w| monday(to) - Days::new(7 * w)).collect();
    let daily = store.recovered_per_day(start, end).await.map_err(failed)?;
    let weekly: Vec<(NaiveDate, String, f64)> = daily
        .into_iter()
        .filter(|(_, c, _)| *c == currency)
        .map(|(d, c, a)| (monday(d), c, a as f64 / minor))
        .collect();
    let recovered = Chart {
        id: "recovered",
        kind: "bar",
        labels: weeks.iter().map(|w| v.date(*w)).collect(),
        series: series(&weeks, &weekly),
    };

    // The funnel: invoices dunned and recovered after each step.
    let funnel = Chart {
        id: "funnel",
        kind: "bar",
        labels: report.lines.iter().map(|l| l.key.get(&Dimension::Step).cloned().unwrap_or_default()).collect(),
        series: vec![
            Series { name: v.word("dunned"), values: report.lines.iter().map(|l| l.dunned as f64).collect() },
            Series { name: v.word("recovered"), values: report.lines.iter().map(|l| l.recovered as f64).collect() },
        ],
    };

    let messages = messages_chart(store, v, to, end).await.map_err(failed)?;
    let dso = dso_chart(store, v, to, &currency).await.map_err(failed)?;
    let tasks = store.tasks(false).await.map_err(failed)?;
    let charts = [ages, recovered, funnel, messages, dso];
    // Each chart's data rides in an attribute of its canvas: escaped like any text, read by app.js.
    let chart_json: Vec<String> =
        charts.iter().map(serde_json::to_string).collect::<Result<_, _>>().map_err(|e| failed(e.into()))?;
    let buckets: Vec<_> = report
        .receivables
        .buckets
        .iter()
        .map(|b| {
            let amounts: Vec<String> = b.amount.iter().map(|(c, a)| v.money(*a, c)).collect();
            context! { label => age_label(v, b.label), invoices => b.invoices, amount => amounts.join(" + ") }
        })
        .collect();
    let steps: Vec<_> = report
        .lines
        .iter()
        .map(|l| {
            context! {
                step => l.key.get(&Dimension::Step).cloned().unwrap_or_default(),
                dunned => l.dunned, recovered => l.recovered, rate => v.percent(l.recovery_rate),
            }
        })
        .collect();
    Ok(render(
        &app,
        &access,
        "overview.html",
        context! {
            from => v.date(from), to => v.date(to), currency => currency,
            charts => minijinja::Value::from_serialize(&charts), chart_json => chart_json,
            buckets => buckets, steps => steps, open_tasks => tasks.len(),
            dso_now => report.receivables.dso.get(&currency).map(|d| dso_line(v, d)),
        },
    ))
}

/// The DSO at the end of the period in words: the countback, the best the
/// terms allow and the days of lateness, the method named.
fn dso_line(v: &Viewer, d: &crate::report::Dso) -> String {
    let line = v.word("dso_line");
    line.replace("{days}", &v.days(d.days))
        .replace("{best}", &v.days(d.best_days))
        .replace("{late}", &v.days(d.delinquent_days))
}

/// Receivables by age, in the currency owed most (a chart has one unit):
/// the chart, that currency, and its minor units per unit.
fn ages_chart(v: &Viewer, receivables: &crate::report::Receivables) -> (Chart, String, f64) {
    // Receivables by age, in the currency owed most (a chart has one unit).
    let mut owed: BTreeMap<&str, i64> = BTreeMap::new();
    for b in &receivables.buckets {
        for (currency, amount) in &b.amount {
            *owed.entry(currency).or_default() += amount;
        }
    }
    let currency = owed.iter().max_by_key(|(_, a)| **a).map(|(c, _)| c.to_string()).unwrap_or_else(|| "EUR".into());
    let minor = 10f64.powi(crate::money::currency_exponent(&currency).unwrap_or(2) as i32);
    let ages = Chart {
        id: "ages",
        kind: "bar",
        labels: receivables.buckets.iter().map(|b| age_label(v, b.label)).collect(),
        series: vec![Series {
            name: currency.clone(),
            values: receivables
                .buckets
                .iter()
                .map(|b| b.amount.get(&currency).copied().unwrap_or(0) as f64 / minor)
                .collect(),
        }],
    };
    (ages, currency, minor)
}

/// Messages per channel over the 30 days to `to`.
async fn messages_chart(store: &crate::store::Store, v: &Viewer, to: NaiveDate, end: i64) -> anyhow::Result<Chart> {
    // Messages per channel over the last 30 days.
    let days: Vec<NaiveDate> = (0..30).rev().map(|d| to - Days::new(d)).collect();
    let since = days[0].and_hms_opt(0, 0, 0).expect("a valid time").and_utc().timestamp();
    let sent = store.messages_per_day(since, end).await?;
    let sent: Vec<(NaiveDate, String, f64)> = sent.into_iter().map(|(d, c, n)| (d, c, n as f64)).collect();
    Ok(Chart {
        id: "messages",
        kind: "line",
        labels: days.iter().map(|d| v.date(*d)).collect(),
        series: series(&days, &sent),
    })
}

/// DSO at the end of each of the last six 30-day periods to `to`, in `currency`.
async fn dso_chart(store: &crate::store::Store, v: &Viewer, to: NaiveDate, currency: &str) -> anyhow::Result<Chart> {
    // DSO at the end of each of the last six 30-day periods.
    let mut dso_labels = vec![];
    let mut dso_values = vec![];
    for k in (0..6).rev() {
        let at = to - Days::new(30 * k);
        let aging = store.aging(at).await?;
        let r = crate::report::receivables(&aging, (at - Days::new(29), at));
        dso_labels.push(v.date(at));
        dso_values.push(r.dso.get(currency).map_or(0.0, |d| d.days));
    }
    Ok(Chart {
        id: "dso",
        kind: "line",
        labels: dso_labels,
        series: vec![Series { name: v.word("dso"), values: dso_values }],
    })
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    state: Option<String>,
    segment: Option<String>,
    policy: Option<String>,
    min: Option<String>,
    max: Option<String>,
    /// An age bucket: `not-due`, `1-30`, `31-60`, `61-90`, `90+`.
    age: Option<String>,
    after: Option<String>,
}

/// An age bucket (the report's `not due`, `>90`, or the list's `not-due`, `90+`) in the viewer's words.
fn age_label(v: &Viewer, bucket: &str) -> String {
    match bucket {
        "not due" | "not-due" => v.word("not_due"),
        ">90" | "90+" => format!("> 90 {}", v.word("days")),
        range => format!("{range} {}", v.word("days")),
    }
}

const PAGE: i64 = 50;
const AGES: [(&str, (i64, i64)); 5] = [
    ("not-due", (i64::MIN / 4, 0)),
    ("1-30", (1, 30)),
    ("31-60", (31, 60)),
    ("61-90", (61, 90)),
    ("90+", (91, i64::MAX / 4)),
];

/// An amount typed in major units ("1250" or "1250.50") as minor units of a two-decimal currency.
fn major(value: &str) -> Option<i64> {
    let value = value.trim().replace(',', ".");
    let amount: f64 = value.parse().ok().filter(|a: &f64| a.is_finite() && *a >= 0.0 && *a < 1e13)?;
    Some((amount * 100.0).round() as i64)
}

pub(super) async fn invoices(state: AppState, headers: HeaderMap, Query(q): Query<ListQuery>) -> Page {
    let app = state.0;
    let access = reader(&app, &headers)?;
    let v = &access.viewer;
    let blank = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let bad = || refuse(&app, &access, StatusCode::BAD_REQUEST, "refused_bad_input");
    let state_filter = blank(&q.state);
    if state_filter.as_deref().is_some_and(|s| !["open", "paid", "void", "written-off"].contains(&s)) {
        return Err(bad());
    }
    let config = app.runtime.config();
    let policies = &config.policies;
    let (segments, other_segments) = match (blank(&q.segment), blank(&q.policy)) {
        (Some(segment), _) => (Some(vec![segment]), None),
        (None, Some(policy)) => {
            let served = policies.segments.iter().filter(|(_, p)| **p == policy).map(|(s, _)| s.clone()).collect();
            // The default policy also serves every segment the config does not name.
            let elsewhere = policies.segments.iter().filter(|(_, p)| **p != policy).map(|(s, _)| s.clone()).collect();
            if policy == policies.default { (None, Some(elsewhere)) } else { (Some(served), None) }
        }
        (None, None) => (None, None),
    };
    let parse = |s: &Option<String>| match blank(s) {
        None => Ok(None),
        Some(text) => major(&text).map(Some).ok_or(()),
    };
    let (Ok(min_total), Ok(max_total)) = (parse(&q.min), parse(&q.max)) else { return Err(bad()) };
    let late_days = match blank(&q.age) {
        None => None,
        Some(age) => Some(AGES.iter().find(|(name, _)| *name == age).ok_or_else(bad)?.1),
    };
    let filter = InvoiceFilter {
        state: state_filter,
        segments,
        other_segments,
        min_total,
        max_total,
        late_days,
        today: Some(Utc::now().date_naive()),
    };
    let after = blank(&q.after).filter(|a| crate::intake::is_id(a));
    let mut lines = app.runtime.store().invoice_page(&filter, after.as_deref(), PAGE + 1).await.map_err(failed)?;
    let more = lines.len() as i64 > PAGE;
    lines.truncate(PAGE as usize);
    let next = more.then(|| lines.last().map(|l| l.id.clone())).flatten();
    let today = Utc::now().date_naive();
    let standing = |l: &crate::store::InvoiceLine| Standing::of(&l.invoice, l.closed.as_deref(), today);
    let rows: Vec<_> = lines
        .iter()
        .map(|l| {
            context! {
                id => l.id, number => l.number, customer => l.customer, segment => l.segment,
                total => v.money(l.total, &l.currency),
                // A void or written-off invoice owes nothing, whatever was never paid of it.
                outstanding => standing(l).owed().then(|| v.money(l.outstanding, &l.currency)),
                due => v.date(l.due),
                late => standing(l).owed().then(|| (today - l.due).num_days().max(0)),
                state => standing(l).words(v),
                next_review => l.next_review.map(|t| v.moment(t)),
            }
        })
        .collect();
    let segment_names = app.runtime.store().segments().await.map_err(failed)?;
    let mut policy_names: Vec<String> = policies.segments.values().cloned().collect();
    policy_names.push(policies.default.clone());
    policy_names.sort();
    policy_names.dedup();
    Ok(render(
        &app,
        &access,
        "invoices.html",
        context! {
            rows => rows, next => next,
            segments => segment_names, policies => policy_names,
            ages => AGES.iter().map(|(n, _)| context! { value => n, label => age_label(v, n) }).collect::<Vec<_>>(),
            q => context! {
                state => blank(&q.state), segment => blank(&q.segment), policy => blank(&q.policy),
                min => blank(&q.min), max => blank(&q.max), age => blank(&q.age),
            },
        },
    ))
}

pub(super) async fn invoice(state: AppState, headers: HeaderMap, Path(id): Path<String>) -> Page {
    let app = state.0;
    let access = reader(&app, &headers)?;
    let v = &access.viewer;
    let store = app.runtime.store();
    let found = if crate::intake::is_id(&id) { store.invoice(&id).await.map_err(failed)? } else { None };
    let Some((inv, customer)) = found else {
        return Err(refuse(&app, &access, StatusCode::NOT_FOUND, "not_found"));
    };
    let (_, closed) = store.review_of(&id).await.map_err(failed)?;
    let standing = Standing::of(&inv, closed.as_deref(), Utc::now().date_naive());
    let events = store.events_of(&id).await.map_err(failed)?;
    let decisions = store.decisions_of(&id).await.map_err(failed)?;
    let outbox = store.outbox_of(&id).await.map_err(failed)?;
    let texts = store.rendered_of(&id).await.map_err(failed)?;
    let received: Vec<_> = store
        .inbound_of(&id)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|r| {
            context! {
                at => v.moment(r.received_at), from => r.sender, subject => r.subject,
                kind => v.word(&format!("inbound_{}", r.kind)), state => v.word(&format!("inbound_state_{}", r.state)),
                text => r.text.filter(|t| !t.is_empty()),
                intent => r.intent.map(|i| v.word(&format!("inbound_intent_{}", i.replace('-', "_")))),
            }
        })
        .collect();
    let events: Vec<_> = events
        .iter()
        .map(|e| context! { at => v.moment(e.at), kind => v.word(&e.kind.label_key()), detail => e.detail })
        .collect();
    let decisions: Vec<_> = decisions
        .iter()
        .map(|d| {
            context! {
                at => v.moment(d.at), plugin => d.plugin_name, version => d.plugin_version,
                sha256 => d.plugin_sha256, actions => super::actions::in_words(v, &d.actions), error => d.error,
                refused => d.refused.iter().map(|r| super::actions::refused_in_words(v, r)).collect::<Vec<_>>(),
                arm => d.experiment.as_ref().map(|e| format!("{e}/{}", d.arm.clone().unwrap_or_default())),
            }
        })
        .collect();
    let messages: Vec<_> = outbox
        .iter()
        .map(|o| {
            context! {
                step => o.step, channel => o.channel, template => o.template,
                tone => o.tone.map(|t| v.word(&format!("tone_{}", t.name()))),
                state => v.word(&format!("outbox_{}", o.state)), reason => o.reason, receipt => o.receipt,
                at => o.done_at.map(|t| v.moment(t)), text => texts.get(&o.id),
            }
        })
        .collect();
    Ok(render(
        &app,
        &access,
        "invoice.html",
        context! {
            id => inv.id, number => inv.number, customer => customer.name, segment => customer.segment,
            total => v.money(inv.total(), &inv.currency),
            outstanding => standing.owed().then(|| v.money(inv.outstanding(), &inv.currency)),
            due => v.date(inv.due), state => standing.words(v),
            events => events, decisions => decisions, messages => messages, received => received,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_typed_in_major_units() {
        assert_eq!(major("1250"), Some(125_000));
        assert_eq!(major("1250,5"), Some(125_050));
        assert_eq!(major(" 0.01 "), Some(1));
        for bad in ["", "-1", "abc", "1e20", "NaN", "inf"] {
            assert_eq!(major(bad), None, "{bad:?}");
        }
    }
}
