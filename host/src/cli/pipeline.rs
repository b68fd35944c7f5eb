//! `import`, `run` and `history`: the pipeline from the command line.

use std::path::Path;

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::intake::Dataset;
use crate::runtime::{Runtime, TickReport};
use crate::store::{ImportReport, Store};

use super::BadUsage;

pub async fn import(db: &Path, data: &Dataset, now: DateTime<Utc>) -> anyhow::Result<ImportReport> {
    if !data.events.is_empty() {
        // The same file can feed `simulate`; its scripted future is not imported as fact.
        eprintln!("note: {} scripted event(s) ignored; they are for `simulate`", data.events.len());
    }
    let store = Store::open(&db.display().to_string()).await?;
    store.import(data, now).await
}

pub fn print_import(r: &ImportReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        println!(
            "imported: {} customers added, {} updated; {} invoices added, {} updated; {} unchanged",
            r.customers_added, r.customers_updated, r.invoices_added, r.invoices_updated, r.unchanged
        );
        for e in &r.events {
            println!("  event {e}");
        }
    }
    Ok(())
}

pub async fn run(
    db: &Path,
    config: Config,
    mut catalog: Catalog,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<TickReport> {
    let runtime = Runtime::open(db, config, &mut catalog).await?;
    runtime.tick(now, dry_run).await
}

pub fn print_tick(r: &TickReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    let d = &r.decided;
    let s = &r.delivered;
    println!("tick at {}{}", r.at.to_rfc3339(), if r.dry_run { " (dry run: nothing written or sent)" } else { "" });
    println!("  evaluated         {}", d.evaluated);
    println!("  reminders queued  {}", d.reminders_queued);
    println!("  other actions     {}", d.actions_recorded);
    println!("  reminders sent    {}", s.sent);
    println!(
        "  deferred          {} (sending window {}, weekly cap {}, one per tick {}, retry {})",
        s.deferred_window + s.deferred_cap + s.deferred_tick + s.retry_later,
        s.deferred_window,
        s.deferred_cap,
        s.deferred_tick,
        s.retry_later
    );
    println!("  blocked           {} at decision, {} cancelled at delivery", d.blocked, s.cancelled);
    println!("  failed            {}", s.failed);
    if s.setup_faults > 0 {
        println!("  waiting on setup  {} (the relay failed on the operator's setup; see the log)", s.setup_faults);
    }
    if s.uncertain_resent + s.uncertain_held > 0 {
        println!(
            "  uncertain         {} resent, {} held (in flight when a worker stopped)",
            s.uncertain_resent, s.uncertain_held
        );
    }
    println!("  plugin errors     {}", d.plugin_errors);
    for (kind, results) in &s.actions {
        let results: Vec<String> = results.iter().map(|(result, n)| format!("{n} {result}")).collect();
        println!("  {kind:<17} {}", results.join(", "));
    }
    for e in &d.errors {
        println!("    {e}");
    }
    Ok(())
}

fn when(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0).map_or(ts.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// An action's outcome in words: done (and how), waiting (until when, why), failed or cancelled (why).
fn outcome(o: &crate::store::OutboxRow) -> String {
    let why = o.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default();
    let receipt = o.receipt.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
    match (&o.state[..], o.done_at) {
        ("sent" | "done", Some(t)) => format!("{} {}{why}{receipt}", o.state, when(t)),
        ("pending", _) if o.attempts > 0 => {
            format!("waiting until {}, after {} tries{why}", when(o.not_before), o.attempts)
        }
        ("pending", _) => format!("waiting until {}{why}", when(o.not_before)),
        (state, _) => format!("{state}{why}"),
    }
}

pub async fn history(db: &Path, invoice: &str, json: bool) -> anyhow::Result<()> {
    if !db.exists() {
        return Err(BadUsage(format!("no database at {}", db.display())).into());
    }
    let store = Store::open(&db.display().to_string()).await?;
    if store.invoice(invoice).await?.is_none() {
        return Err(BadUsage(format!("unknown invoice {invoice:?}")).into());
    }
    let events = store.events_of(invoice).await?;
    let decisions = store.decisions_of(invoice).await?;
    let outbox = store.outbox_of(invoice).await?;
    if json {
        let doc =
            serde_json::json!({ "invoice": invoice, "events": events, "decisions": decisions, "actions": outbox });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    // One table, in time order: events, decisions (with the plugin that made them), actions.
    let mut rows: Vec<(i64, u8, Vec<String>)> = vec![];
    for e in &events {
        rows.push((
            e.at,
            0,
            vec![
                when(e.at),
                "event".into(),
                e.kind.clone(),
                String::new(),
                String::new(),
                String::new(),
                e.detail.clone(),
            ],
        ));
    }
    for d in &decisions {
        let plugin = format!("{} {} {}", d.plugin_name, d.plugin_version, &d.plugin_sha256[..12]);
        let what = d.error.clone().map_or_else(
            || format!("{} action(s)", d.actions.as_array().map_or(0, Vec::len)),
            |e| format!("error: {e}"),
        );
        rows.push((
            d.at,
            1,
            vec![when(d.at), "decision".into(), String::new(), String::new(), String::new(), plugin, what],
        ));
    }
    for o in &outbox {
        let decided_by = decisions
            .iter()
            .find(|d| d.id == o.decision_id)
            .map(|d| format!("{} {}", d.plugin_name, d.plugin_version))
            .unwrap_or_default();
        let outcome = outcome(o);
        let template =
            o.template.as_ref().map(|t| format!("{} / {}", t, o.tone.clone().unwrap_or_default())).unwrap_or_default();
        rows.push((
            o.created_at,
            2,
            vec![
                when(o.created_at),
                o.kind.clone(),
                o.step.clone(),
                o.channel.clone().unwrap_or_default(),
                template,
                decided_by,
                outcome,
            ],
        ));
    }
    rows.sort_by_key(|r| (r.0, r.1));
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "time (UTC)",
        "what",
        "step",
        "channel",
        "template / tone",
        "plugin",
        "result",
    ]);
    for (_, _, r) in rows {
        table.add_row(r);
    }
    println!("history of {invoice}\n{table}");
    Ok(())
}

pub async fn accept_plan(db: &Path, invoice: &str, at: DateTime<Utc>, json: bool) -> anyhow::Result<()> {
    if !db.exists() {
        return Err(BadUsage(format!("no database at {}", db.display())).into());
    }
    let store = Store::open(&db.display().to_string()).await?;
    store.accept_plan(invoice, at).await?;
    show(&store, invoice, json).await
}

pub async fn show_plan(db: &Path, invoice: &str, json: bool) -> anyhow::Result<()> {
    if !db.exists() {
        return Err(BadUsage(format!("no database at {}", db.display())).into());
    }
    show(&Store::open(&db.display().to_string()).await?, invoice, json).await
}

async fn show(store: &Store, id: &str, json: bool) -> anyhow::Result<()> {
    let Some((invoice, customer)) = store.invoice(id).await? else {
        return Err(BadUsage(format!("unknown invoice {id:?}")).into());
    };
    let Some(plan) = &invoice.plan else {
        return Err(BadUsage(format!("invoice {id} is not on a payment plan")).into());
    };
    let today = Utc::now().with_timezone(&customer.timezone).date_naive();
    let standing = match plan.standing(invoice.amount_paid, today) {
        crate::plan::Standing::OnTrack(i) => format!("kept; instalment {} is next, due {}", i.number, i.due),
        crate::plan::Standing::Missed(i) => {
            format!("not kept: instalment {} was due {}; dunning resumed", i.number, i.due)
        }
        crate::plan::Standing::Complete => "complete".into(),
    };
    if json {
        let doc = serde_json::json!({ "invoice": id, "plan": plan, "standing": standing });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!("payment plan of {id} ({}), accepted {}: {standing}", invoice.number, when(plan.accepted.timestamp()));
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["instalment", "due", "amount", "left to pay"]);
    for i in &plan.instalments {
        let left = plan.left_on(i.number, invoice.amount_paid);
        table.add_row([i.number.to_string(), i.due.to_string(), invoice.money(i.amount), invoice.money(left)]);
    }
    println!("{table}");
    Ok(())
}

pub async fn tasks(db: &Path, all: bool, json: bool) -> anyhow::Result<()> {
    if !db.exists() {
        return Err(BadUsage(format!("no database at {}", db.display())).into());
    }
    let store = Store::open(&db.display().to_string()).await?;
    let tasks = store.tasks(all).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&tasks)?);
        return Ok(());
    }
    if tasks.is_empty() {
        println!("no open tasks");
    }
    for t in tasks {
        let done = t.done_at.map(|d| format!(", done {}", when(d))).unwrap_or_default();
        println!("{} ({}, opened {}{done})", t.title, t.phone.as_deref().unwrap_or("no phone"), when(t.opened_at));
        println!("  invoice {}, key {}", t.invoice_id, t.key);
        for line in t.script.lines() {
            println!("  | {line}");
        }
        println!();
    }
    Ok(())
}

pub async fn shadow_report(db: &Path, segment: Option<&str>, json: bool) -> anyhow::Result<()> {
    if !db.exists() {
        return Err(BadUsage(format!("no database at {}", db.display())).into());
    }
    let store = Store::open(&db.display().to_string()).await?;
    let report = crate::shadow::report(&store.shadow_decisions(segment).await?);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "shadow {}: {} decisions compared, {} the same, {} different",
        report.candidates.join(", "),
        report.compared,
        report.same,
        report.compared - report.same
    );
    let gist = |g: &crate::shadow::Gist| {
        [Some(g.action.clone()), g.step.clone(), g.channel.clone(), g.tone.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["active", "shadow", "count", "for example"]);
    for d in &report.differences {
        table.add_row([gist(&d.active), gist(&d.shadow), d.count.to_string(), d.examples.join(", ")]);
    }
    if !report.differences.is_empty() {
        println!("{table}");
    }
    Ok(())
}
