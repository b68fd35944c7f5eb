//! `sollecito demo`: the examples through the real store and the file outbox,
//! on a virtual clock (four ticks a day, so every timezone's window comes round).

use std::path::Path;

use chrono::{DateTime, Days, NaiveDate, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::intake;
use crate::runtime::Runtime;

fn at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    day.and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

pub(super) async fn run(dir: &Path, days: u32, mut config: Config, mut catalog: Catalog) -> anyhow::Result<()> {
    // The demo has no PEC provider: certified notices go to the same outbox folder.
    config.channels.entry("pec".into()).or_default();
    std::fs::create_dir_all(dir)?;
    // A fresh run each time: drop the demo's own database and messages, nothing else.
    for name in ["sollecito.db", "sollecito.db-wal", "sollecito.db-shm"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("outbox")) {
        for e in entries.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "eml")) {
            std::fs::remove_file(e.path())?;
        }
    }
    // Payment retries and suspensions go to a stand-in processor and business system on loopback.
    let billing_log = dir.join("billing-system.log");
    super::billing_standin::start(&mut config, billing_log.clone()).await?;
    let db = dir.join("sollecito.db");
    let runtime = Runtime::open(&db, config, &mut catalog).await?;
    let start: NaiveDate = "2026-09-24".parse()?;
    let mut events = vec![];
    for (name, text) in intake::EXAMPLES {
        let data = intake::parse_dataset(name, text)?;
        events.extend(data.events.iter().cloned());
        runtime.store().import(&intake::Dataset { events: vec![], ..data }, at(start, 0)).await?;
    }

    let mut total = crate::runtime::TickReport::default();
    let progress = super::progress::bar(u64::from(days), "playing");
    for offset in 0..u64::from(days) {
        let day = start + Days::new(offset);
        progress.set_message(day.to_string());
        for e in events.iter().filter(|e| e.on == day) {
            runtime.store().apply_event(&e.invoice_id, &e.event, crate::event::Door::Script, at(day, 0)).await?;
        }
        for hour in [0, 6, 12, 18] {
            let r = runtime.tick(at(day, hour), false).await?;
            total.decided.evaluated += r.decided.evaluated;
            total.decided.plugin_errors += r.decided.plugin_errors;
            total.decided.blocked += r.decided.blocked;
            total.delivered.sent += r.delivered.sent;
            total.delivered.cancelled += r.delivered.cancelled;
            total.delivered.failed += r.delivered.failed;
            total.delivered.deferred_window += r.delivered.deferred_window;
            total.delivered.deferred_cap += r.delivered.deferred_cap;
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["invoice", "decided", "step", "channel", "tone", "result"]);
    for id in runtime.store().invoice_ids().await? {
        for o in runtime.store().outbox_of(&id).await? {
            let decided = DateTime::from_timestamp(o.created_at, 0).unwrap().format("%Y-%m-%d").to_string();
            let result = match (o.state.as_str(), o.done_at) {
                ("sent" | "done", Some(t)) => format!(
                    "{} {}{}",
                    o.state,
                    DateTime::from_timestamp(t, 0).unwrap().format("%Y-%m-%d %H:%M UTC"),
                    o.reason.map(|r| format!(": {r}")).unwrap_or_default()
                ),
                (state, _) => format!("{state}{}", o.reason.map(|r| format!(": {r}")).unwrap_or_default()),
            };
            table.add_row([
                id.clone(),
                decided,
                o.step,
                o.channel.unwrap_or_default(),
                o.tone.map(|t| t.name().to_string()).unwrap_or_default(),
                result,
            ]);
        }
    }
    out!("{table}\n")?;
    out!(
        "{days} days from {start}, 4 ticks a day: {} evaluations, {} messages sent, {} waited for a sending window, {} for the weekly cap, {} blocked by guardrails, {} cancelled at delivery, {} failed, {} plugin errors",
        total.decided.evaluated,
        total.delivered.sent,
        total.delivered.deferred_window,
        total.delivered.deferred_cap,
        total.decided.blocked,
        total.delivered.cancelled,
        total.delivered.failed,
        total.decided.plugin_errors
    )?;
    out!("database: {}", db.display())?;
    if let Some(outbox) = runtime.outbox_dir() {
        out!("emails:   {} (one .eml file per message)", outbox.display())?;
    }
    out!("billing:  {} (what the stand-in processor and business system received)", billing_log.display())?;
    out!("try:      sollecito --db {} history inv-1001", db.display())?;
    runtime.retire();
    Ok(())
}
