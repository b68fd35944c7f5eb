//! `sollecito experiment`: start an experiment between policies on a
//! segment, see how its arms compare, stop it, or promote an arm.

use std::path::Path;

use chrono::Utc;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::BadUsage;
use crate::catalog::Catalog;
use crate::experiment::{self, ExperimentReport};
use crate::store::{CannotPromote, Scope, Store};

async fn open(db: &Path) -> anyhow::Result<Store> {
    super::require_database(db)?;
    Store::open(&db.display().to_string()).await
}

pub(super) async fn start(
    db: &Path,
    catalog: &mut Catalog,
    (name, segment): (&str, &str),
    specs: &[String],
    arm_settings: &[String],
) -> anyhow::Result<()> {
    crate::names::check("NAME", name).map_err(BadUsage)?;
    crate::names::check("--segment", segment).map_err(BadUsage)?;
    let mut arms = experiment::parse_arms(specs).map_err(BadUsage)?;
    experiment::set_arm_settings(&mut arms, arm_settings).map_err(BadUsage)?;
    // Each arm's policy must load now, not at the next tick; a file is kept by its full path.
    for arm in &mut arms {
        let plugin = catalog.policy(&arm.policy)?;
        if plugin.id.kind != crate::sandbox::PluginKind::Policy {
            return Err(BadUsage(format!("--arm {}: {} is not a policy", arm.name, plugin.id.name)).into());
        }
        if arm.policy.ends_with(".wasm") {
            arm.policy = std::fs::canonicalize(&arm.policy)?.display().to_string();
        }
    }
    let store = open(db).await?;
    store.start_experiment(name, segment, &arms, Utc::now().timestamp()).await.map_err(|e| {
        match e.downcast::<crate::store::CannotStart>() {
            Ok(refused) => BadUsage(refused.0).into(),
            Err(other) => other,
        }
    })?;
    let shares: Vec<String> = arms
        .iter()
        .map(|a| {
            let set: Vec<String> = a.settings.iter().map(|(k, v)| format!(" {k}={v}")).collect();
            format!("{} {}{} ({}%)", a.name, a.policy, set.concat(), a.share)
        })
        .collect();
    out!("experiment {name} started on segment {segment}: {}", shares.join(", "))?;
    out!("each customer of the segment stays in one arm; `sollecito run` and `serve` use it from their next tick")?;
    Ok(())
}

pub(super) async fn status(db: &Path, name: &str, minimum_effect: f64, json: bool) -> anyhow::Result<()> {
    if !(0.001..=0.5).contains(&minimum_effect) {
        return Err(BadUsage("--min-effect: between 0.001 and 0.5 (0.05 is 5 points)".into()).into());
    }
    let store = open(db).await?;
    let Some(report) = store.experiment_report(name, minimum_effect).await? else {
        return Err(BadUsage(format!("no experiment {name:?}")).into());
    };
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print(&report)?;
    }
    Ok(())
}

fn print(r: &ExperimentReport) -> anyhow::Result<()> {
    out!("experiment {} on segment {} ({})", r.name, r.segment, if r.running { "running" } else { "stopped" })?;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "arm",
        "policy",
        "share",
        "invoices",
        "recovered",
        "rate (95% CI)",
        "median days to pay",
    ]);
    for a in &r.arms {
        table.add_row([
            a.arm.clone(),
            a.policy.clone(),
            format!("{}%", a.share),
            a.invoices.to_string(),
            a.recovered.to_string(),
            format!("{:.1}% ({:.1}-{:.1})", a.recovery_rate * 100.0, a.interval.0 * 100.0, a.interval.1 * 100.0),
            a.median_days_to_pay.map_or("-".into(), |d| format!("{d:.1}")),
        ]);
    }
    out!("{table}")?;
    for v in &r.versus {
        out!("{} against {}: {}", v.arm, v.against, v.verdict)?;
        if let Some(p) = v.time_to_pay_p_value {
            out!("  time to pay: Mann-Whitney p = {p:.3} (the invoices paid)")?;
        }
        if let Some(p) = v.time_to_pay_log_rank_p_value {
            out!("  time to pay: log-rank p = {p:.3} (every invoice, the unpaid ones censored)")?;
        }
    }
    Ok(())
}

pub(super) async fn stop(db: &Path, name: &str) -> anyhow::Result<()> {
    let store = open(db).await?;
    if !store.stop_experiment(name, Utc::now().timestamp()).await? {
        return Err(BadUsage(format!("no running experiment {name:?}")).into());
    }
    out!("experiment {name} stopped: its segment goes back to its own policy from the next tick")?;
    Ok(())
}

/// Activates the arm's policy for the segment (the normal activation, which
/// `serve` can roll back) and stops the experiment.
pub(super) async fn promote(db: &Path, catalog: &mut Catalog, name: &str, arm: &str) -> anyhow::Result<()> {
    let store = open(db).await?;
    let (e, chosen) = store.arm_to_promote(name, arm).await.map_err(|e| match e.downcast::<CannotPromote>() {
        Ok(refused) => BadUsage(refused.to_string()).into(),
        Err(other) => other,
    })?;
    let plugin = catalog.policy(&chosen.policy)?;
    let now = Utc::now().timestamp();
    store.activate(Scope::Segment, &e.segment, &plugin.id.sha256, &plugin.id.source.to_string(), now).await?;
    store.stop_experiment(name, now).await?;
    out!("{} ({}) is now active for segment {}; experiment {name} stopped", plugin.id, arm, e.segment)?;
    if let Some(note) = chosen.settings_note(&plugin.id.name) {
        out!("{note}")?;
    }
    Ok(())
}
