//! `import`, `run` and `history`: the pipeline from the command line.

use std::path::Path;

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::intake::Dataset;
use crate::runtime::{Runtime, TickReport};
use crate::store::{ImportReport, MigrationsPending, Store, versions};

use super::BadUsage;

pub(super) async fn import(
    db: &Path,
    config: &Config,
    data: &Dataset,
    now: DateTime<Utc>,
) -> anyhow::Result<ImportReport> {
    if !data.events.is_empty() {
        // The same file can feed `simulate`; its scripted future is not imported as fact.
        eprintln!("note: {} scripted event(s) ignored; they are for `simulate`", data.events.len());
    }
    let writing = super::progress::spinner(format!(
        "importing {} customers and {} invoices into {}",
        data.customers.len(),
        data.invoices.len(),
        db.display()
    ));
    let store = crate::runtime::open_store(db, config).await?;
    let report = store.import(data, now).await;
    writing.finish_and_clear();
    report
}

/// E-invoices into the store (`Store::import_documents`).
pub(super) async fn import_documents(
    db: &Path,
    config: &Config,
    docs: &crate::intake::einvoice::EDocuments,
    now: DateTime<Utc>,
) -> anyhow::Result<ImportReport> {
    let store = crate::runtime::open_store(db, config).await?;
    store.import_documents(docs, now).await
}

/// A summary whatever the number of invoices: the counts, then the events by
/// kind; `verbose` adds one line per event.
pub(super) fn print_import(r: &ImportReport, verbose: bool, json: bool) -> anyhow::Result<()> {
    if json {
        out!("{}", serde_json::to_string_pretty(r)?)?;
        return Ok(());
    }
    out!(
        "imported: {} customers added, {} updated; {} invoices added, {} updated; {} unchanged",
        r.customers_added,
        r.customers_updated,
        r.invoices_added,
        r.invoices_updated,
        r.unchanged
    )?;
    // Events read "INVOICE: KIND"; the kinds are a handful (paid, payment-failed, dispute-opened...).
    let mut by_kind = std::collections::BTreeMap::<&str, usize>::new();
    for e in &r.events {
        *by_kind.entry(e.rsplit_once(": ").map_or(e.as_str(), |(_, kind)| kind)).or_default() += 1;
    }
    if !by_kind.is_empty() {
        let kinds: Vec<String> = by_kind.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        out!("events:   {} ({})", r.events.len(), kinds.join(", "))?;
    }
    for line in &r.credit_notes {
        out!("credit note: {line}")?;
    }
    if verbose {
        for e in &r.events {
            out!("  event {e}")?;
        }
    }
    Ok(())
}

/// One tick; also whether the store holds no invoice at all.
pub(super) async fn run(
    db: &Path,
    config: Config,
    mut catalog: Catalog,
    now: DateTime<Utc>,
    dry_run: bool,
) -> anyhow::Result<(TickReport, bool)> {
    // A dry run on a folder with no database refuses, as `history` does, rather
    // than create an empty one: there would be nothing to evaluate, and the
    // operator most likely mistyped `--db` or ran it in the wrong folder.
    if dry_run {
        super::require_database(db)?;
    }
    let working = super::progress::spinner("opening the database");
    let runtime = Runtime::open_for(db, config, &mut catalog, dry_run).await?;
    // A tick over many invoices takes a while; the runtime reports only at its end.
    working.set_message(format!("tick at {}: evaluating and delivering", now.to_rfc3339()));
    let mut report = runtime.tick(now, dry_run).await?;
    let empty = !runtime.store().holds_invoices().await?;
    // A cron job runs at the same hour each day: the customers whose window that hour never meets.
    let (sending, waited) = (&runtime.config().sending, &report.delivered.waited_for_window);
    report.unreachable =
        crate::schedule::unreachable(runtime.store(), sending, waited, &[now.time()], now.date_naive()).await?;
    let at = format!("by a run at {} UTC every day", now.format("%H:%M"));
    if let Some(warning) = crate::schedule::warning(&report.unreachable, &at) {
        tracing::warn!("{warning}");
    }
    working.finish_and_clear();
    runtime.retire();
    Ok((report, empty))
}

pub(super) fn print_tick(r: &TickReport, json: bool) -> anyhow::Result<()> {
    if json {
        out!("{}", serde_json::to_string_pretty(r)?)?;
        return Ok(());
    }
    let d = &r.decided;
    let s = &r.delivered;
    out!("tick at {}{}", r.at.to_rfc3339(), if r.dry_run { " (dry run: nothing written or sent)" } else { "" })?;
    out!("  evaluated         {}", d.evaluated)?;
    out!("  reminders queued  {}", d.reminders_queued)?;
    out!("  other actions     {}", d.actions_recorded)?;
    out!("  reminders sent    {}", s.sent)?;
    out!(
        "  deferred          {} (sending window {}, weekly cap {}, one per tick {}, retry {})",
        s.deferred_window + s.deferred_cap + s.deferred_tick + s.retry_later,
        s.deferred_window,
        s.deferred_cap,
        s.deferred_tick,
        s.retry_later
    )?;
    out!("  blocked           {} at decision, {} cancelled at delivery", d.blocked, s.cancelled)?;
    if d.refused > 0 {
        out!("  refused           {} (a step already done, or a second reminder in one tick; see history)", d.refused)?;
    }
    out!("  failed            {}", s.failed)?;
    if s.setup_faults > 0 {
        out!("  waiting on setup  {} (the relay failed on the operator's setup; see the log)", s.setup_faults)?;
    }
    if s.uncertain_resent + s.uncertain_held > 0 {
        out!(
            "  uncertain         {} resent, {} held (in flight when a worker stopped)",
            s.uncertain_resent,
            s.uncertain_held
        )?;
    }
    out!("  plugin errors     {}", d.plugin_errors)?;
    for (kind, results) in &s.actions {
        let results: Vec<String> = results.iter().map(|(result, n)| format!("{n} {result}")).collect();
        out!("  {kind:<17} {}", results.join(", "))?;
    }
    for e in &d.errors {
        out!("    {e}")?;
    }
    Ok(())
}

use crate::store::minute as when;

pub(super) async fn history(db: &Path, invoice: &str, json: bool) -> anyhow::Result<()> {
    super::require_database(db)?;
    let store = Store::open(&db.display().to_string()).await?;
    if store.invoice(invoice).await?.is_none() {
        return Err(BadUsage(format!("unknown invoice {invoice:?}")).into());
    }
    let events = store.events_of(invoice).await?;
    let decisions = store.decisions_of(invoice).await?;
    let outbox = store.outbox_of(invoice).await?;
    let received = store.inbound_of(invoice).await?;
    if json {
        let doc = serde_json::json!({
            "invoice": invoice, "events": events, "decisions": decisions, "actions": outbox, "received": received,
        });
        out!("{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    // One table, in time order: events, decisions (with the plugin that made them), actions, what came back.
    let mut rows: Vec<(i64, u8, Vec<String>)> = received.iter().map(received_row).collect();
    for e in &events {
        rows.push((
            e.at,
            0,
            vec![
                when(e.at),
                "event".into(),
                e.kind.to_string(),
                String::new(),
                String::new(),
                String::new(),
                e.detail.clone(),
            ],
        ));
    }
    for d in &decisions {
        let plugin =
            format!("{} {} {}", d.plugin_name, d.plugin_version, d.plugin_sha256.get(..12).unwrap_or(&d.plugin_sha256));
        let what = d.error.clone().map_or_else(
            || format!("{} action(s)", d.actions.as_array().map_or(0, Vec::len)),
            |e| format!("error: {e}"),
        );
        let refused: Vec<String> = d.refused.iter().map(ToString::to_string).collect();
        let what = if refused.is_empty() { what } else { format!("{what}; {}", refused.join("; ")) };
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
        let outcome = o.result_in_words();
        let template =
            o.template.as_ref().map(|t| format!("{} / {}", t, o.tone.map_or("", |t| t.name()))).unwrap_or_default();
        rows.push((
            o.created_at,
            2,
            vec![
                when(o.created_at),
                o.kind.to_string(),
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
    out!("history of {invoice}\n{table}")?;
    Ok(())
}

/// A message that came back, as a line of the history: who, what it was, its own words.
fn received_row(r: &crate::store::InboundRow) -> (i64, u8, Vec<String>) {
    let words: String = r.text.as_deref().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
    let words =
        if words.chars().count() > 160 { format!("{}...", words.chars().take(160).collect::<String>()) } else { words };
    let from = r.sender.clone().unwrap_or_default();
    let row = vec![when(r.received_at), "received".into(), r.kind.clone(), String::new(), String::new(), from, words];
    (r.received_at, 3, row)
}

pub(super) async fn accept_plan(
    db: &Path,
    config: &Config,
    invoice: &str,
    at: DateTime<Utc>,
    json: bool,
) -> anyhow::Result<()> {
    super::require_database(db)?;
    let store = crate::runtime::open_store(db, config).await?;
    store.accept_plan(invoice, crate::event::Door::Api, at).await?;
    show(&store, invoice, json).await
}

/// `sollecito statement CUSTOMER`: a statement of account asked for by a person.
pub(super) async fn statement(db: &Path, config: &Config, customer: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
    super::require_database(db)?;
    let store = crate::runtime::open_store(db, config).await?;
    let Some(found) = store.customer(customer).await? else {
        return Err(BadUsage(format!("unknown customer {customer:?}")).into());
    };
    match store.ask_statement(&found.id, "a person (sollecito statement)", at).await? {
        None => println!("{} has no open invoice: there is no statement to send.", found.name),
        Some((lead, true)) => {
            println!("A statement to {} is queued (with {lead}); it leaves with the next run.", found.name)
        }
        Some((lead, false)) => println!("A statement to {} was already asked for today (with {lead}).", found.name),
    }
    Ok(())
}

/// `sollecito revoke-links CUSTOMER`.
pub(super) async fn revoke_links(db: &Path, config: &Config, customer: &str) -> anyhow::Result<()> {
    super::require_database(db)?;
    let store = crate::runtime::open_store(db, config).await?;
    if store.customer(customer).await?.is_none() {
        return Err(BadUsage(format!("unknown customer {customer:?}")).into());
    }
    store.revoke_links(customer, Utc::now().timestamp()).await?;
    println!("Every link to {customer}'s page sent until now opens nothing; the next message carries a new one.");
    Ok(())
}

pub(super) async fn show_plan(db: &Path, invoice: &str, json: bool) -> anyhow::Result<()> {
    super::require_database(db)?;
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
        out!("{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    out!("payment plan of {id} ({}), accepted {}: {standing}", invoice.number, when(plan.accepted.timestamp()))?;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["instalment", "due", "amount", "left to pay"]);
    for i in &plan.instalments {
        let left = plan.left_on(i.number, invoice.amount_paid);
        table.add_row([i.number.to_string(), i.due.to_string(), invoice.money(i.amount), invoice.money(left)]);
    }
    out!("{table}")?;
    Ok(())
}

pub(super) async fn tasks(db: &Path, all: bool, json: bool) -> anyhow::Result<()> {
    super::require_database(db)?;
    let store = Store::open(&db.display().to_string()).await?;
    let tasks = store.tasks(all).await?;
    if json {
        out!("{}", serde_json::to_string_pretty(&tasks)?)?;
        return Ok(());
    }
    if tasks.is_empty() {
        out!("no open tasks")?;
    }
    for t in tasks {
        let done = t.done_at.map(|d| format!(", done {}", when(d))).unwrap_or_default();
        out!("{} ({}, opened {}{done})", t.title, t.phone.as_deref().unwrap_or("no phone"), when(t.opened_at))?;
        out!("  invoice {}, key {}", t.invoice_id, t.key)?;
        for line in t.script.lines() {
            out!("  | {line}")?;
        }
        out!()?;
    }
    Ok(())
}

pub(super) async fn shadow_report(db: &Path, segment: Option<&str>, json: bool) -> anyhow::Result<()> {
    super::require_database(db)?;
    let store = Store::open(&db.display().to_string()).await?;
    let report = crate::shadow::report(&store.shadow_decisions(segment).await?);
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    out!(
        "shadow {}: {} decisions compared, {} the same, {} different",
        report.candidates.join(", "),
        report.compared,
        report.same,
        report.compared - report.same
    )?;
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
        out!("{table}")?;
    }
    Ok(())
}

/// `sollecito migrate [--check]`. A schema behind exits 1 (`MigrationsPending`).
pub(super) async fn migrate(db: &Path, check: bool) -> anyhow::Result<()> {
    let store = Store::connect(&db.display().to_string()).await?;
    if check {
        refuse_pending_in(&store).await?;
        out!("schema up to date")?;
        return Ok(());
    }
    // Another worker may have applied some meanwhile: what this one applied is what it says.
    let applied = store.migrate().await;
    store.close().await;
    match applied?.as_slice() {
        [] => out!("schema up to date: nothing to apply")?,
        applied => out!("applied migrations {}", versions(applied))?,
    }
    Ok(())
}

/// `serve --no-migrate`: a schema behind this binary stops the start.
pub(super) async fn refuse_pending(db: &Path) -> anyhow::Result<()> {
    refuse_pending_in(&Store::connect(&db.display().to_string()).await?).await
}

/// Closes `store`, and fails with what is pending if anything is.
async fn refuse_pending_in(store: &Store) -> anyhow::Result<()> {
    let pending = store.pending_migrations().await;
    store.close().await;
    match pending? {
        p if p.is_empty() => Ok(()),
        p => Err(MigrationsPending(p).into()),
    }
}
