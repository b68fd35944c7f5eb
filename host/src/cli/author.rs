//! `sollecito plugin new` and `sollecito plugin test`.

use std::path::{Path, PathBuf};

use super::{BadUsage, block_on};
use crate::author::{AdapterScenario, ReaderScenario, Scenario, Verdict, scaffold};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::sandbox::PluginKind;

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
    let mut verdicts: Vec<Verdict> = vec![];
    // Every file is read and checked before anything is played.
    if policy.id.kind == PluginKind::Policy {
        let scenarios: Vec<Scenario> = files.iter().map(|f| Scenario::read(f)).collect::<anyhow::Result<_>>()?;
        for scenario in scenarios {
            verdicts.push(block_on(scenario.play(config.clone(), catalog, policy.clone()))?);
        }
    } else if policy.id.kind == PluginKind::Reader {
        let scenarios: Vec<ReaderScenario> =
            files.iter().map(|f| ReaderScenario::read(f)).collect::<anyhow::Result<_>>()?;
        verdicts.extend(scenarios.into_iter().map(|s| s.play(&policy)));
    } else {
        let kind = policy.id.kind;
        let scenarios: Vec<AdapterScenario> =
            files.iter().map(|f| AdapterScenario::read(f, kind)).collect::<anyhow::Result<_>>()?;
        verdicts.extend(scenarios.into_iter().map(|s| s.play(&policy)));
    }
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
