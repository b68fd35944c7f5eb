//! `sollecito simulate`: a file's invoices through the real engine on a
//! virtual clock, printed as timelines or one JSON document.

use std::path::PathBuf;

use chrono::{NaiveDate, NaiveTime};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::{BadUsage, PluginErrors, block_on, printed, progress};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::intake;
use crate::sandbox::PluginId;
use crate::schedule::Schedule;
use crate::simulate::{self, Timeline};

/// `simulate`'s arguments, as the command line gave them.
pub(super) struct SimulateArgs {
    pub(super) file: PathBuf,
    pub(super) policy: String,
    pub(super) from: Option<NaiveDate>,
    pub(super) to: Option<NaiveDate>,
    pub(super) tick: NaiveTime,
    pub(super) schedule: String,
    pub(super) settings: Vec<String>,
    pub(super) responses: Option<PathBuf>,
    pub(super) json: bool,
}

/// `sollecito simulate`: the file's invoices through the real engine on a virtual clock.
pub(super) fn run(config: Config, catalog: &mut Catalog, asked: SimulateArgs) -> anyhow::Result<()> {
    let SimulateArgs { file, policy, from, to, tick, schedule, settings, responses, json } = asked;
    let settings = parse_settings(&settings)?;
    let schedule = Schedule::parse(&schedule).map_err(|e| BadUsage(format!("--schedule {e}")))?;
    let responses = responses.map(|m| simulate::ResponseModel::load(&m).map_err(BadUsage)).transpose()?;
    let data = intake::read_dataset(&file)?;
    let policy = catalog.policy(&policy)?;
    let from = match from {
        Some(d) => d,
        None => data
            .invoices
            .iter()
            .map(|i| i.due - chrono::Days::new(7))
            .min()
            .ok_or_else(|| BadUsage(format!("{}: no invoices to simulate", file.display())))?,
    };
    let to = to.unwrap_or(from + chrono::Days::new(90));
    if to < from {
        return Err(BadUsage(format!("--to {to} is before --from {from}")).into());
    }
    let days = (to - from).num_days() as u64 + 1;
    let progress = Some(progress::bar(days, "simulating").with_message("setting up a scratch run"));
    let opts = simulate::Options { from, to, tick, schedule: schedule.clone(), settings, progress, responses };
    let id = policy.id.clone();
    let run = simulate::run(config, catalog, policy, data, &opts);
    let simulation = block_on(run)?;
    if json {
        let doc = serde_json::json!({
            "policy": id, "from": from, "to": to, "schedule": schedule.to_string(), "summary": simulation.summary,
            "unreachable": simulation.unreachable, "ticks": simulation.ticks, "timelines": simulation.timelines
        });
        printed(out!("{}", serde_json::to_string_pretty(&doc)?).map_err(Into::into))?;
    } else {
        printed(print_timelines(&id, from, to, &simulation.timelines))?;
        let summary: Vec<String> = simulation.summary.iter().map(|(k, n)| format!("{n} {k}")).collect();
        printed(out!("at the end: {}", summary.join(", ")).map_err(Into::into))?;
    }
    if let Some(warning) = crate::schedule::warning(&simulation.unreachable, &format!("on the schedule {schedule}")) {
        eprintln!("warning: {warning}");
    }
    if simulation.plugin_errors > 0 {
        return Err(PluginErrors(simulation.plugin_errors).into());
    }
    Ok(())
}

fn parse_settings(pairs: &[String]) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            let (key, value) = p.split_once('=').ok_or_else(|| BadUsage(format!("--set {p:?}: expected KEY=VALUE")))?;
            Ok((key.trim().into(), value.trim().into()))
        })
        .collect()
}

fn print_timelines(policy: &PluginId, from: NaiveDate, to: NaiveDate, timelines: &[Timeline]) -> anyhow::Result<()> {
    out!("policy {policy}, {from} to {to}, nothing sent\n")?;
    for t in timelines {
        out!("{} ({}) {}: {} due {} -> {}", t.number, t.invoice, t.customer, t.amount_due, t.due, t.outcome)?;
        let mut table = Table::new();
        table
            .load_preset(UTF8_FULL_CONDENSED)
            .set_header(["date", "what", "step", "channel", "tone", "template", "deadline", "note", "result"]);
        for e in &t.entries {
            let cell = |v: &Option<String>| v.clone().unwrap_or_default();
            table.add_row([
                e.date.to_string(),
                e.what.clone(),
                cell(&e.step),
                cell(&e.channel),
                cell(&e.tone),
                cell(&e.template),
                e.deadline.map(|d| d.to_string()).unwrap_or_default(),
                cell(&e.note),
                cell(&e.result),
            ]);
        }
        if t.entries.is_empty() {
            out!("  nothing happened in the range\n")?;
        } else {
            out!("{table}\n")?;
        }
    }
    Ok(())
}
