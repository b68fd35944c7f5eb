//! `sollecito plugin new` and `sollecito plugin test`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{BadUsage, block_on};
use crate::author::{AdapterScenario, BadScenario, ReaderScenario, Scenario, Verdict, scaffold};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::sandbox::{Plugin, PluginKind};

/// Scenarios that failed: exit code 1, after every scenario has run.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {of} scenario(s) failed")]
pub(super) struct ScenariosFailed {
    pub failed: usize,
    pub of: usize,
}

pub(super) fn new_plugin(
    kind: PluginKind,
    name: &str,
    dir: Option<PathBuf>,
    sdk: Option<PathBuf>,
) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    let sdk = match sdk.or_else(scaffold::bundled_sdk) {
        Some(sdk) => sdk,
        None => {
            return Err(BadUsage(
                "--sdk: this sollecito was moved from where it was built; give the path of the SDK (plugins/sdk)"
                    .into(),
            )
            .into());
        }
    };
    let files = scaffold::new(kind, name, &dir, &sdk)?;
    out!("created {} ({} files):", dir.display(), files.len())?;
    for f in &files {
        out!("  {}", f.display())?;
    }
    let wasm = format!("target/wasm32-wasip2/release/{}.wasm", name.replace('-', "_"));
    out!("\nnext:\n  cd {}\n  cargo build --release --target wasm32-wasip2", dir.display())?;
    out!("  sollecito plugin test {wasm} scenarios/*.toml")?;
    Ok(())
}

/// Plays scenarios, (file, text), with the plugin: every one is read and
/// checked before anything is played.
pub(super) fn play(
    config: Config,
    catalog: &mut Catalog,
    plugin: Arc<Plugin>,
    scenarios: &[(String, String)],
) -> anyhow::Result<Vec<Verdict>> {
    let mut verdicts: Vec<Verdict> = vec![];
    match plugin.id.kind {
        PluginKind::Policy => {
            let parsed: Vec<Scenario> =
                scenarios.iter().map(|(f, t)| Scenario::parse(f, t)).collect::<anyhow::Result<_>>()?;
            for scenario in parsed {
                verdicts.push(block_on(scenario.play(config.clone(), catalog, plugin.clone()))?);
            }
        }
        PluginKind::Reader => {
            let parsed: Vec<ReaderScenario> =
                scenarios.iter().map(|(f, t)| ReaderScenario::parse(f, t)).collect::<anyhow::Result<_>>()?;
            verdicts.extend(parsed.into_iter().map(|s| s.play(&plugin)));
        }
        kind => {
            let parsed: Vec<AdapterScenario> =
                scenarios.iter().map(|(f, t)| AdapterScenario::parse(f, t, kind)).collect::<anyhow::Result<_>>()?;
            verdicts.extend(parsed.into_iter().map(|s| s.play(&plugin)));
        }
    }
    Ok(verdicts)
}

/// Plays every scenario with the plugin (a policy's on the engine, an
/// adapter's through its capabilities); prints pass or fail with the differences.
pub(super) fn test(
    config: Config,
    catalog: &mut Catalog,
    plugin: &str,
    files: &[PathBuf],
    json: bool,
) -> anyhow::Result<()> {
    let policy = catalog.plugin(plugin)?;
    let mut texts = vec![];
    for file in files {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| BadScenario {
            file: shown.clone(),
            field: "file".into(),
            reason: format!("cannot read: {e}"),
        })?;
        texts.push((shown, text));
    }
    let verdicts = play(config, catalog, policy.clone(), &texts)?;
    if json {
        let doc = serde_json::json!({ "plugin": policy.id, "scenarios": verdicts });
        out!("{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        out!("{}", policy.id)?;
        for v in &verdicts {
            let fuel = match policy.id.kind {
                PluginKind::Policy => {
                    format!("; fuel per invoice: mean {}, max {}", v.fuel.mean_per_invoice(), v.fuel.most_per_invoice)
                }
                _ => String::new(),
            };
            let (one, many) = match policy.id.kind {
                PluginKind::Policy => ("action", "actions"),
                PluginKind::Reader => ("reply read", "replies read"),
                _ => ("sent", "sent"),
            };
            let file = Path::new(&v.file).display();
            if v.passed {
                let actions = if v.actions == 1 { format!("1 {one}") } else { format!("{} {many}", v.actions) };
                out!("PASS {file}: {} ({actions} as expected{fuel})", v.name)?;
            } else {
                out!(
                    "FAIL {file}: {}{}",
                    v.name,
                    if fuel.is_empty() { String::new() } else { format!(" ({})", &fuel[2..]) }
                )?;
                for d in &v.differences {
                    out!("    {d}")?;
                }
            }
        }
    }
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    if failed > 0 {
        return Err(ScenariosFailed { failed, of: verdicts.len() }.into());
    }
    Ok(())
}
