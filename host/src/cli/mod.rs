//! The `sollecito` command line.

use std::path::{Path, PathBuf};

/// `println!` that returns the error instead of panicking: a reader that went
/// away (`sollecito history X | head -1`) ends the command quietly.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::cli::StdoutError)
    }};
}

mod author;
mod bank;
mod billing_standin;
mod demo;
mod exit;
mod experiment;
mod inbound;
mod package;
mod pipeline;
mod plugin;
mod progress;
mod report;
mod simulate_file;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clap::{Parser, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use exit::printed;
use exit::tick_outcome;
pub use exit::{BadUsage, EmptyStore, Exit, PluginErrors, SetupWaiting, StdoutError};
pub use plugin::{PluginCommand, ScaffoldKind};

use crate::catalog::Catalog;
use crate::config::Config;
use crate::intake;
use crate::sandbox::{CompiledCache, Limits, PluginId, Sandbox};
use crate::store::ImportReport;

#[derive(Parser)]
#[command(
    name = "sollecito",
    version,
    about = "A dunning runtime: policy plugins decide, the host reminds, never twice."
)]
pub struct Cli {
    /// Folder for compiled plugins (default: $SOLLECITO_CACHE_DIR, else ~/.cache/sollecito).
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile plugins at every start instead of using the cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// The database: a SQLite file (created if missing).
    #[arg(long, global = true, default_value = "sollecito.db", value_name = "PATH")]
    pub db: PathBuf,
    /// The config file (default: ./sollecito.toml if present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Play a policy over invoices on a virtual clock, one tick a day. Nothing is sent.
    Simulate {
        /// JSON file of customers, invoices and optional scripted events.
        file: PathBuf,
        /// A bundled policy by name, or a path to a policy component (.wasm).
        #[arg(long, default_value = "b2b-standard", value_name = "NAME|PATH")]
        policy: String,
        /// First day (default: a week before the earliest due date).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day (default: 90 days after --from).
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Time of the daily tick, UTC (with `--schedule service`).
        #[arg(long, default_value = "09:00")]
        tick: NaiveTime,
        /// When ticks come: `service` (as `serve`: daily, and whenever a waiting step's time
        /// comes), or as cron runs `sollecito run`: `daily HH:MM`, `every Nh` (UTC).
        #[arg(long, default_value = "service")]
        schedule: String,
        /// A policy setting, KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// A response model (TOML): customers pay after messages as it says, seeded, so a
        /// policy's recovery can be forecast.
        #[arg(long, value_name = "MODEL")]
        responses: Option<PathBuf>,
        /// Print one JSON document instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Import customers and invoices (JSON or CSV) in one transaction; re-importing updates.
    Import {
        file: PathBuf,
        /// The time the import is recorded at (default: now).
        #[arg(long, value_name = "RFC3339")]
        at: Option<DateTime<Utc>>,
        /// Also one line per event recorded (paid, payment failed, dispute...).
        #[arg(long)]
        verbose: bool,
        #[arg(long)]
        json: bool,
    },
    /// One tick: evaluate the invoices due for review, then deliver the outbox.
    Run {
        /// The tick's time (default: now).
        #[arg(long, value_name = "RFC3339")]
        at: Option<DateTime<Utc>>,
        /// Evaluate and check, but write and send nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Take in what came back by email (replies, bounces, out-of-office answers,
    /// complaints): .eml files, an mbox, a Maildir or a folder of .eml files.
    /// Without paths, list what waits for a person (quarantined, or a task).
    Inbound {
        paths: Vec<PathBuf>,
        /// The time they are taken in at (default: now).
        #[arg(long, value_name = "RFC3339")]
        at: Option<DateTime<Utc>>,
        /// Without paths: every message kept, not only those waiting for a person.
        #[arg(long)]
        all: bool,
        /// Read the mailbox of `[inbound] imap_url` once (what `serve` does before each tick).
        #[arg(long, conflicts_with_all = ["paths", "all"])]
        imap: bool,
        #[arg(long)]
        json: bool,
    },
    /// The correspondence log of one invoice: decisions, messages, events.
    History {
        invoice: String,
        #[arg(long)]
        json: bool,
    },
    /// Run as a service: the HTTP API and a scheduler that ticks on its own.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// Refuse to start on a schema that is behind instead of migrating it
        /// (for deployments that run `sollecito migrate` before rolling out).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Bring the database's schema up to date (once, however many run at once), or `--check` it.
    Migrate {
        /// Apply nothing: list what is pending and exit 1 if anything is.
        #[arg(long)]
        check: bool,
    },
    /// Where a shadow policy's decisions differ from the active one's (per step, channel and tone).
    Shadow {
        #[command(subcommand)]
        what: ShadowCommand,
    },
    /// Bank statements in (camt.053, camt.054): what they pay, matched to invoices.
    Bank {
        #[command(subcommand)]
        what: bank::BankCommand,
    },
    /// Payment plans: accept the plan offered on an invoice, or show where one stands.
    Plan {
        #[command(subcommand)]
        what: PlanCommand,
    },
    /// Response models for `simulate --responses`: fit one from the store's own history.
    Responses {
        #[command(subcommand)]
        what: ResponsesCommand,
    },
    /// Experiments between policies on a segment: start, status, stop, promote.
    Experiment {
        #[command(subcommand)]
        what: ExperimentCommand,
    },
    /// What dunning brought in: recovery by count and amount, time to pay, costs, receivables by age and DSO.
    Report {
        /// First day (default: 90 days before --to).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day, and the date of the receivables (default: today).
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Break down by policy, version, step, channel, tone, template, segment, locale or arm (by the last touch before a payment); repeatable.
        #[arg(long, value_name = "DIMENSION")]
        by: Vec<String>,
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// One CSV line per breakdown and currency.
        #[arg(long)]
        csv: bool,
    },
    /// Send a customer their statement of account by email (every open invoice,
    /// with the link to their page): queued now, it leaves with the next run.
    Statement {
        customer: String,
        /// The time to record it at (default: now).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
    },
    /// Revoke every link to a customer's page sent so far (a leaked email, a
    /// changed contact): they open nothing; the next message carries a new one.
    RevokeLinks { customer: String },
    /// Tasks for people: phone calls channel adapters opened, invoices a policy sent to manual review.
    Tasks {
        /// Also the ones already done.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Import the examples into a fresh folder and run 60 days of ticks on a virtual clock.
    Demo {
        #[arg(long, default_value = "sollecito-demo", value_name = "DIR")]
        dir: PathBuf,
        /// Days to play.
        #[arg(long, default_value_t = 60)]
        days: u32,
    },
    /// List the loaded plugins: name, version, kind, world, sha256 and source.
    Plugins {
        /// Also load these plugin files.
        #[arg(long = "plugin", value_name = "PATH")]
        files: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// A plugin author's tools: a new crate to start from, scenarios to test it with.
    Plugin {
        #[command(subcommand)]
        what: PluginCommand,
    },
    /// Print a shell completion script, e.g. `sollecito completions bash > /etc/bash_completion.d/sollecito`.
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
pub enum PlanCommand {
    /// The customer accepted the plan last offered on the invoice: dunning pauses while it is kept.
    Accept {
        invoice: String,
        /// When it was accepted (default: now).
        #[arg(long, value_name = "RFC3339")]
        at: Option<DateTime<Utc>>,
        #[arg(long)]
        json: bool,
    },
    /// The invoice's plan: instalments, what is paid, what is next.
    Show {
        invoice: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ResponsesCommand {
    /// The share of invoices paid within N days after each tone, channel and band of days overdue.
    Fit {
        /// First day of the history used (default: a year before --to).
        #[arg(long)]
        from: Option<NaiveDate>,
        #[arg(long)]
        to: Option<NaiveDate>,
        #[arg(long, default_value_t = 7)]
        within_days: u32,
        /// Write the model there instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum ExperimentCommand {
    /// Start: each customer of the segment gets an arm by a stable hash, all their invoices follow it.
    Start {
        name: String,
        #[arg(long)]
        segment: String,
        /// NAME=POLICY[:SHARE%], at least two; arms without a share split what is left.
        #[arg(long = "arm", value_name = "NAME=POLICY[:SHARE]")]
        arms: Vec<String>,
        /// A setting of one arm's policy, over the config's (repeatable): the same
        /// policy with other settings makes an experiment too.
        #[arg(long = "arm-set", value_name = "ARM:KEY=VALUE")]
        arm_settings: Vec<String>,
    },
    /// How the arms compare: recovery with 95% intervals, a two-proportion test, time to pay, a verdict.
    Status {
        name: String,
        /// The smallest difference worth seeing, for the sample size (0.05 is 5 points).
        #[arg(long, default_value_t = 0.05)]
        min_effect: f64,
        #[arg(long)]
        json: bool,
    },
    /// Stop: the segment goes back to its own policy.
    Stop { name: String },
    /// Activate an arm's policy for the segment (can be rolled back) and stop the experiment.
    Promote { name: String, arm: String },
}

#[derive(Subcommand)]
pub enum ShadowCommand {
    /// The comparison so far.
    Report {
        #[arg(long)]
        segment: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut script = vec![];
        clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "sollecito", &mut script);
        return printed(out!("{}", String::from_utf8_lossy(&script).trim_end()).map_err(Into::into));
    }
    let cache_dir = if cli.no_cache { None } else { cli.cache_dir.clone().or_else(CompiledCache::default_dir) };
    let sandbox = Sandbox::new(Limits::default(), cache_dir)?;
    let mut catalog = Catalog::new(sandbox)?;
    let config_path = cli.config.clone().or_else(|| {
        let default = PathBuf::from("sollecito.toml");
        default.exists().then_some(default)
    });
    let config = || Config::load(config_path.as_deref());
    match cli.command {
        Command::Import { file, at, verbose, json } => {
            let report = import_file(&cli.db, &config()?, &file, at.unwrap_or_else(Utc::now))?;
            pipeline::print_import(&report, verbose, json)?;
        }
        Command::Run { at, dry_run, json } => {
            let (report, empty) =
                block_on(pipeline::run(&cli.db, config()?, catalog, at.unwrap_or_else(Utc::now), dry_run))?;
            printed(pipeline::print_tick(&report, json))?;
            tick_outcome(&report, empty.then_some(&cli.db))?;
        }
        Command::Inbound { paths, at, all, imap, json } => {
            let now = at.unwrap_or_else(Utc::now);
            let from = if imap { inbound::From::Mailbox } else { inbound::From::Files(paths) };
            printed(block_on(inbound::run(&cli.db, (&config()?, &mut catalog), from, (now, all), json)))?;
        }
        Command::History { invoice, json } => {
            block_on(pipeline::history(&cli.db, &invoice, json))?;
        }
        Command::Serve { listen, no_migrate } => {
            if no_migrate {
                block_on(pipeline::refuse_pending(&cli.db))?;
            }
            block_on(crate::serve::run(&cli.db, config()?, catalog, listen))?;
        }
        Command::Migrate { check } => block_on(pipeline::migrate(&cli.db, check))?,
        Command::Shadow { what: ShadowCommand::Report { segment, json } } => {
            block_on(pipeline::shadow_report(&cli.db, segment.as_deref(), json))?;
        }
        Command::Plan { what: PlanCommand::Accept { invoice, at, json } } => {
            block_on(pipeline::accept_plan(&cli.db, &config()?, &invoice, at.unwrap_or_else(Utc::now), json))?;
        }
        Command::Plan { what: PlanCommand::Show { invoice, json } } => {
            block_on(pipeline::show_plan(&cli.db, &invoice, json))?;
        }
        Command::Responses { what: ResponsesCommand::Fit { from, to, within_days, out } } => {
            let fit = report::fit_responses(&cli.db, (from, to), within_days, out.as_deref());
            printed(block_on(fit))?;
        }
        Command::Experiment { what } => match what {
            ExperimentCommand::Start { name, segment, arms, arm_settings } => {
                block_on(experiment::start(&cli.db, &mut catalog, (&name, &segment), &arms, &arm_settings))?
            }
            ExperimentCommand::Status { name, min_effect, json } => {
                printed(block_on(experiment::status(&cli.db, &name, min_effect, json)))?
            }
            ExperimentCommand::Stop { name } => block_on(experiment::stop(&cli.db, &name))?,
            ExperimentCommand::Promote { name, arm } => {
                block_on(experiment::promote(&cli.db, &mut catalog, &name, &arm))?
            }
        },
        Command::Report { from, to, by, json, csv } => {
            let opts = report::Options { from, to, by, json, csv };
            let config = config()?;
            printed(block_on(report::run(&cli.db, &config, opts)))?;
        }
        Command::Tasks { all, json } => {
            block_on(pipeline::tasks(&cli.db, all, json))?;
        }
        Command::Bank { what } => block_on(bank::run(&cli.db, &config()?, what))?,
        Command::RevokeLinks { customer } => block_on(pipeline::revoke_links(&cli.db, &config()?, &customer))?,
        Command::Statement { customer, at } => {
            block_on(pipeline::statement(&cli.db, &config()?, &customer, at.unwrap_or_else(Utc::now)))?;
        }
        Command::Demo { dir, days } => {
            let config = match &cli.config {
                Some(p) => Config::load(Some(p))?,
                None => Config::default(),
            };
            block_on(demo::run(&dir, days, config, catalog))?;
        }
        Command::Simulate { file, policy, from, to, tick, schedule, settings, responses, json } => {
            let asked =
                simulate_file::SimulateArgs { file, policy, from, to, tick, schedule, settings, responses, json };
            simulate_file::run(config()?, &mut catalog, asked)?
        }
        Command::Completions { .. } => {} // before loading plugins, above
        Command::Plugin { what } => {
            // `plugin install` writes grants into this file (made if missing).
            let file = config_path.clone().unwrap_or_else(|| PathBuf::from("sollecito.toml"));
            plugin::run(what, (config, &file), &mut catalog)?
        }
        Command::Plugins { files, json } => list_plugins(&mut catalog, &config()?, &files, json)?,
    }
    Ok(())
}

/// A file into the store: a dataset (JSON, CSV) or e-invoices (FatturaPA,
/// signed or not, a zip of them; Peppol UBL).
fn import_file(db: &Path, config: &Config, file: &Path, now: DateTime<Utc>) -> anyhow::Result<ImportReport> {
    let reading = progress::spinner(format!("reading {}", file.display()));
    if intake::is_e_invoice(file) {
        let docs = intake::read_e_invoices(file)?;
        reading.finish_and_clear();
        return block_on(pipeline::import_documents(db, config, &docs, now));
    }
    let data = intake::read_file(file)?;
    reading.finish_and_clear();
    block_on(pipeline::import(db, config, &data, now))
}
/// `sollecito plugins`: the bundled plugins and the files named, as a table or JSON.
fn list_plugins(catalog: &mut Catalog, config: &Config, files: &[PathBuf], json: bool) -> anyhow::Result<()> {
    for f in files {
        catalog.load_file(f)?;
    }
    // Installed packages: their components, with the digest and publisher they were installed by.
    let mut packages = std::collections::HashMap::new();
    for (name, installed) in &config.plugins.installed {
        let plugin = catalog.load_file(&config.resolve(&installed.component))?;
        let publisher = installed.publisher.clone().unwrap_or_else(|| "unsigned".into());
        packages.insert(plugin.id.source.to_string(), (name.clone(), installed.digest.clone(), publisher));
    }
    let ids: Vec<&PluginId> = catalog.plugins().iter().map(|p| &p.id).collect();
    if json {
        let mut listed = vec![];
        for id in ids {
            let mut entry = serde_json::to_value(id)?;
            if let Some((_, digest, publisher)) = packages.get(&id.source.to_string()) {
                entry["package"] = serde_json::json!({ "digest": digest, "publisher": publisher });
            }
            listed.push(entry);
        }
        out!("{}", serde_json::to_string_pretty(&listed)?)?;
    } else {
        let mut table = Table::new();
        let header = ["name", "version", "kind", "world", "sha256", "source", "package (publisher, digest)"];
        table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
        for id in ids {
            let kind = serde_json::to_value(id.kind)?.as_str().unwrap_or_default().to_string();
            let package =
                packages.get(&id.source.to_string()).map_or_else(|| "-".to_string(), |(_, d, p)| format!("{p}, {d}"));
            table.add_row([&id.name, &id.version, &kind, id.world, &id.sha256, &id.source.to_string(), &package]);
        }
        out!("{table}")?;
    }
    Ok(())
}

/// Runs one command's async work on a runtime of its own. The runtime is
/// shut down with a deadline rather than dropped: a pool's background task
/// that fails to yield (seen once in sqlx's maintenance) must not keep a
/// finished command from exiting.
fn block_on<T>(work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let output = runtime.block_on(work);
    if output.is_ok() {
        runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    } else {
        // A failed command exits and says why at once: an adapter call still in
        // flight has no one left to record its outcome (the next run takes its
        // claim back), and waiting for it would only let it reach the relay unrecorded.
        runtime.shutdown_background();
    }
    output
}

/// A command that reads what is there refuses a database file that does not
/// exist (rather than create an empty one); a database URL is the server's to answer.
fn require_database(db: &std::path::Path) -> Result<(), BadUsage> {
    let url = db.to_str().is_some_and(|d| d.contains("://") || d.starts_with("sqlite:"));
    if url || db.exists() {
        return Ok(());
    }
    Err(BadUsage(format!("no database at {}", db.display())))
}

/// Used by `main`: parse, run, report.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let json_logs = match std::env::var("SOLLECITO_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text" | "") | Err(_) => false,
        Ok(other) => {
            eprintln!("error: SOLLECITO_LOG_FORMAT={other:?}: expected \"text\" or \"json\"");
            return Exit::Refused as i32;
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SOLLECITO_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(|| progress::LogWriter);
    if json_logs {
        // One JSON object a line, for the service's log collector.
        logs.json().flatten_event(true).init();
    } else {
        // Colour only for a person at a terminal (https://no-color.org).
        use std::io::IsTerminal as _;
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        logs.with_ansi(colour).init();
    }
    let exit = match run(cli) {
        Ok(()) => Exit::Done,
        Err(e) => {
            let exit = Exit::of(&e);
            if exit != Exit::Done && json_logs {
                tracing::error!("{e:#}");
            } else if exit != Exit::Done {
                eprintln!("error: {e:#}");
            }
            exit
        }
    };
    exit as i32
}
