//! `sollecito report`: the report read from the store and printed as tables,
//! JSON or CSV.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{NaiveDate, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::BadUsage;
use crate::config::Config;
use crate::money::format_money;
use crate::report::{Dimension, Line, Report};
use crate::store::Store;

pub(super) struct Options {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub by: Vec<String>,
    pub json: bool,
    pub csv: bool,
}

pub(super) async fn run(db: &Path, config: &Config, opts: Options) -> anyhow::Result<()> {
    super::require_database(db)?;
    let by = opts.by.iter().map(|b| Dimension::parse(b).map_err(BadUsage)).collect::<Result<Vec<_>, _>>()?;
    let to = opts.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = opts.from.unwrap_or(to - chrono::Days::new(90));
    if from > to {
        return Err(BadUsage(format!("--from {from} is after --to {to}")).into());
    }
    let store = Store::open(&db.display().to_string()).await?;
    let report = crate::report::from_store(&store, &by, &config.outcomes.costs, (from, to)).await?;
    if opts.json {
        out!("{}", serde_json::to_string_pretty(&report)?)?;
    } else if opts.csv {
        print_csv(&report)?;
    } else {
        print(&report)?;
    }
    Ok(())
}

/// `sollecito responses fit`: a response model from the store's own history, as TOML.
pub(super) async fn fit_responses(
    db: &Path,
    (from, to): (Option<NaiveDate>, Option<NaiveDate>),
    within_days: u32,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    super::require_database(db)?;
    if !(1..=365).contains(&within_days) {
        return Err(BadUsage("--within-days: 1 to 365".into()).into());
    }
    let to = to.unwrap_or_else(|| Utc::now().date_naive());
    let from = from.unwrap_or(to - chrono::Days::new(365));
    let store = Store::open(&db.display().to_string()).await?;
    let (start, end) = (from.and_hms_opt(0, 0, 0).unwrap().and_utc(), to.and_hms_opt(23, 59, 59).unwrap().and_utc());
    let sent = store.sent_between(start.timestamp(), end.timestamp()).await?;
    let outcomes = store.outcomes(start.timestamp(), i64::MAX).await?;
    let due = store.due_dates().await?;
    let model = crate::simulate::fit_responses(&sent, &outcomes, &due, within_days);
    let text = format!(
        "# Fitted from {} messages sent {from} to {to}: the share paid within {within_days} days\n\
         # after each kind of message, that message being the last before the payment.\n{}",
        sent.len(),
        toml::to_string(&model)?
    );
    match out {
        Some(path) => std::fs::write(path, text)?,
        None => out!("{}", text.trim_end())?,
    }
    Ok(())
}

fn amounts(m: &BTreeMap<String, i64>) -> String {
    if m.is_empty() {
        return "-".into();
    }
    m.iter().map(|(currency, minor)| format_money(*minor, currency)).collect::<Vec<_>>().join(", ")
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

fn days(line: &Line) -> String {
    line.time_to_pay.as_ref().map_or("-".into(), |t| format!("{} / {} / {}", t.median_days, t.p75_days, t.p90_days))
}

/// The breakdown, one row per line of the report.
fn print_lines(r: &Report) -> anyhow::Result<()> {
    let mut table = Table::new();
    let mut header: Vec<String> = r.by.iter().map(|d| d.name().to_string()).collect();
    header.extend(
        [
            "dunned",
            "recovered",
            "rate",
            "recovered amount",
            "messages",
            "days to pay",
            "bounced",
            "replied",
            "page visits",
            "promised (kept)",
            "disputed",
            "opted out",
        ]
        .map(String::from),
    );
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for l in &r.lines {
        let mut row: Vec<String> = l.key.values().cloned().collect();
        row.extend([
            l.dunned.to_string(),
            l.recovered.to_string(),
            percent(l.recovery_rate),
            amounts(&l.amount_recovered),
            l.messages.to_string(),
            days(l),
            format!("{} ({})", l.bounced, percent(l.bounce_rate)),
            format!("{} ({})", l.replied, percent(rate(l.replied, l.dunned))),
            l.visits.to_string(),
            format!("{} ({})", l.promised, l.promises_kept),
            l.disputed.to_string(),
            format!("{} ({})", l.opted_out, percent(l.opt_out_rate)),
        ]);
        table.add_row(row);
    }
    out!("{table}")?;
    Ok(())
}

fn print(r: &Report) -> anyhow::Result<()> {
    let t = &r.total;
    out!("report {} to {}", r.from, r.to)?;
    out!(
        "  dunned {} invoices ({}), recovered {} ({}), {} recovered",
        t.dunned,
        amounts(&t.amount_dunned),
        t.recovered,
        percent(t.recovery_rate),
        amounts(&t.amount_recovered)
    )?;
    out!(
        "  messages {}, per invoice recovered {}",
        t.messages,
        r.messages_per_recovered.map_or("-".into(), |m| format!("{m:.1}"))
    )?;
    out!("  days to pay after the last touch (median / p75 / p90): {}", days(t))?;
    out!(
        "  promised {} (kept {}), disputed {}, page visits {}, replied {}, opted out {} ({}), bounced {} ({})",
        t.promised,
        t.promises_kept,
        t.disputed,
        t.visits,
        t.replied,
        t.opted_out,
        percent(t.opt_out_rate),
        t.bounced,
        percent(t.bounce_rate)
    )?;
    if !r.lines.is_empty() {
        print_lines(r)?;
    }
    if !r.retries_by_attempt.is_empty() {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED).set_header(["payment retries", "tried", "paid", "success"]);
        let rows = r.retries_by_decline_code.iter().map(|(code, n)| (format!("after {code}"), *n));
        let rows = rows.chain(r.retries_by_attempt.iter().map(|(attempt, n)| (format!("attempt {attempt}"), *n)));
        for (what, (tried, paid)) in rows {
            table.add_row([what, tried.to_string(), paid.to_string(), percent(paid as f64 / tried.max(1) as f64)]);
        }
        out!("{table}")?;
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["channel", "messages", "cost"]);
    for (channel, (messages, cost)) in &r.cost_per_channel {
        table.add_row([channel.clone(), messages.to_string(), cost.to_string()]);
    }
    out!("cost per channel (minor units, [outcomes] costs)\n{table}")?;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["days past due", "invoices", "outstanding"]);
    for b in &r.receivables.buckets {
        table.add_row([b.label.to_string(), b.invoices.to_string(), amounts(&b.amount)]);
    }
    out!("receivables at the end of {}\n{table}", r.receivables.at)?;
    for (currency, d) in &r.receivables.dso {
        let period = match d.period_days {
            Some(days) => format!("{days:.1} days by the period method"),
            None => "the period method: not enough sales in the period".into(),
        };
        out!(
            "DSO ({currency}, {}): {:.1} days; best possible {:.1}; average days delinquent {:.1}; {period}",
            crate::report::Dso::METHOD,
            d.days,
            d.best_days,
            d.delinquent_days
        )?;
    }
    print_payments(&r.payments)
}

/// A door as the finance team says it (the JSON keeps the door's name).
fn source_label(door: crate::event::Door) -> &'static str {
    use crate::event::Door;
    match door {
        Door::Bank => "bank transfer",
        Door::Stripe => "Stripe",
        Door::Import => "accounting import",
        Door::Api => "API",
        Door::Portal => "customer's page",
        Door::Mail => "email",
        Door::Step => "card charged by a step",
        Door::Script => "scripted (demo, simulation)",
    }
}

/// How the money came in, and how the bank's credits matched.
fn print_payments(p: &crate::report::Payments) -> anyhow::Result<()> {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["payments by source", "payments", "amount"]);
    for line in &p.by_source {
        let source = line.source.map_or("before sources were kept", source_label);
        table.add_row([source.to_string(), line.payments.to_string(), format_money(line.amount, &line.currency)]);
    }
    out!("{table}")?;
    let b = &p.bank;
    if b.credits > 0 {
        out!(
            "bank credits {}: matched automatically {} ({}), by a person {}, waiting for a person {}, processors' payouts {}, reversed {}",
            b.credits,
            b.matched_automatically,
            b.share_automatic.map_or("-".into(), percent),
            b.matched_by_a_person,
            b.waiting_for_a_person,
            b.payouts,
            b.reversed
        )?;
        if let Some(d) = &b.days_to_match {
            out!(
                "  days from the bank's booking to the match (median / p75 / p90): {:.1} / {:.1} / {:.1}",
                d.median_days,
                d.p75_days,
                d.p90_days
            )?;
        }
    }
    Ok(())
}

fn print_csv(r: &Report) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(vec![]);
    let mut header: Vec<String> = r.by.iter().map(|d| d.name().to_string()).collect();
    header.extend(
        [
            "dunned",
            "recovered",
            "recovery_rate",
            "currency",
            "amount_dunned",
            "amount_recovered",
            "messages",
            "median_days_to_pay",
            "opted_out",
            "replied",
            "promised",
            "promises_kept",
            "disputed",
            "page_visits",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    let lines = if r.lines.is_empty() { std::slice::from_ref(&r.total) } else { &r.lines[..] };
    for l in lines {
        let currencies: std::collections::BTreeSet<&String> =
            l.amount_dunned.keys().chain(l.amount_recovered.keys()).collect();
        for currency in currencies {
            let mut row: Vec<String> = l.key.values().cloned().collect();
            row.extend([
                l.dunned.to_string(),
                l.recovered.to_string(),
                format!("{:.4}", l.recovery_rate),
                currency.clone(),
                l.amount_dunned.get(currency).copied().unwrap_or(0).to_string(),
                l.amount_recovered.get(currency).copied().unwrap_or(0).to_string(),
                l.messages.to_string(),
                l.time_to_pay.as_ref().map_or(String::new(), |t| t.median_days.to_string()),
                l.opted_out.to_string(),
                l.replied.to_string(),
                l.promised.to_string(),
                l.promises_kept.to_string(),
                l.disputed.to_string(),
                l.visits.to_string(),
            ]);
            w.write_record(&row)?;
        }
    }
    out!("{}", String::from_utf8(w.into_inner()?)?.trim_end())?;
    Ok(())
}

/// A share of the invoices dunned (replies per invoice reminded).
fn rate(n: usize, of: usize) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}
