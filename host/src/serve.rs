//! `sollecito serve`: the HTTP API and a scheduler that ticks on its own and at
//! once after an event. On SIGTERM or Ctrl-C it stops taking requests, lets the
//! tick in progress finish, and exits: every message is either sent and marked,
//! or still in the outbox for the next start.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use tokio::sync::{Mutex, Notify, watch};

use crate::api::{self, App, Metrics, admin};
use crate::catalog::Catalog;
use crate::config::{BadConfig, Config};
use crate::runtime::Runtime;
use crate::sandbox::PluginKind;
use crate::store::Scope;

pub(crate) async fn run(db: &Path, config: Config, mut catalog: Catalog, listen: SocketAddr) -> anyhow::Result<()> {
    let bad = |reason: String| BadConfig { file: "config".into(), reason };
    // Security by default: no token, no service.
    let token = config.secret(&config.serve.token).map_err(|e| {
        bad(format!("serve.token: the service needs a bearer token for writes and admin ({})", e.reason))
    })?;
    if token.len() < 16 {
        return Err(bad("serve.token: use a token of at least 16 characters".into()).into());
    }
    let stripe_secret = match &config.serve.stripe_secret {
        Some(name) => Some(config.secret(name).map_err(|e| bad(format!("serve.stripe_secret: {}", e.reason)))?),
        None => None,
    };
    let default_timezone =
        config.serve.default_timezone.parse().map_err(|_| {
            bad(format!("serve.default_timezone: unknown timezone {:?}", config.serve.default_timezone))
        })?;
    // A mailbox to read is checked now, not at the first poll.
    if crate::inbound::imap::Mailbox::of(&config.inbound).map_err(bad)?.is_some() {
        let name = config.inbound.imap_password.as_deref().unwrap_or_default();
        // Never repeated: an operator may have written the password itself there.
        config.secret(name).map_err(|_| {
            bad("inbound.imap_password: names no secret of [secrets] (it holds a secret's name, not the password)"
                .into())
        })?;
    }
    check_folders(&config).map_err(bad)?;
    let tick = Duration::from_secs(config.serve.tick_seconds.max(1));
    let watch = config.serve.watch.as_ref().map(|w| config.resolve(w));
    let plugins_dir = config.data_dir_for(db).join("plugins");
    // Uploads a crash cut off halfway are of no use to anyone.
    for entry in std::fs::read_dir(&plugins_dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.starts_with(".upload-") && n.ends_with(".part")) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let (default_locale, public_reads) = (config.serve.default_locale.clone(), config.serve.public_reads);

    let runtime = Arc::new(Runtime::open(db, config, &mut catalog).await?);
    follow_store(&runtime, &mut catalog, &plugins_dir).await?;
    let wake = Arc::new(Notify::new());
    let app = Arc::new(App {
        runtime: runtime.clone(),
        catalog: Mutex::new(catalog),
        token,
        public_reads,
        stripe_secret,
        wake: wake.clone(),
        metrics: Metrics::default(),
        plugins_dir,
        default_locale,
        default_timezone,
        stripe_order: Mutex::new(()),
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopping = app.clone();
    let scheduler = tokio::spawn(schedule(app.clone(), tick, watch, stop_rx.clone()));
    tokio::spawn(follow(app.clone(), stop_rx.clone()));
    if app.runtime.config().inbound.imap_url.is_some() {
        tokio::spawn(watch_mailbox(app.clone(), stop_rx.clone()));
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    // Listened for before "serving on" is said: a SIGTERM right after it must
    // find the handler in place, not the default action that kills mid-write.
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    tracing::info!(%listen, "serving");
    eprintln!("sollecito: serving on http://{}", listener.local_addr()?);
    let mut http_stop = stop_rx.clone();
    let server = axum::serve(
        listener,
        crate::ui::router(app.clone())
            .merge(crate::ui::customer::router(app.clone()))
            .merge(api::router(app))
            // The peer's address, for the customer's page's limit per address.
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    });
    let signals = async move {
        shutdown_signal(term, interrupt).await;
        tracing::info!("shutting down: waiting for the messages in flight");
        // Nothing more is handed over; the calls in flight finish and are recorded.
        stopping.runtime.stop_delivering();
        let _ = stop_tx.send(true);
    };
    let (served, _) = tokio::join!(server, signals);
    served?;
    scheduler.await?;
    runtime.retire();
    eprintln!("sollecito: stopped");
    Ok(())
}

/// Takes up what the store says is in force, if it is not what this worker
/// runs: the policy activated per segment, the shadow runs, the adapter
/// activated per channel. Activations made through the API (of this worker
/// or another on the same database) survive a restart, each in its own
/// namespace, and only of the kind it is for. True if anything changed.
async fn follow_store(runtime: &Runtime, catalog: &mut Catalog, dir: &Path) -> anyhow::Result<bool> {
    let store = runtime.store();
    let activated = activations_in_force(store, catalog, dir, Scope::Segment).await?;
    let mut shadows = HashMap::new();
    for (segment, sha, path) in store.shadows().await? {
        shadows.insert(segment, plugin_in_force(store, catalog, dir, &sha, &path).await?);
    }
    let mut changed = false;
    let mut in_force = activations_in_force(store, catalog, dir, Scope::Channel).await?;
    for (name, route) in runtime.channels().iter() {
        // A channel without an activation (none yet, or all rolled back) runs the adapter the config names.
        let plugin = match in_force.remove(name) {
            Some(plugin) => plugin,
            None => {
                let configured = runtime.config().channels.get(name).and_then(|c| c.adapter.clone());
                match catalog.find(configured.as_deref().unwrap_or(name)) {
                    Some(plugin) => plugin,
                    None => continue,
                }
            }
        };
        if route.adapter.id.sha256 != plugin.id.sha256 {
            changed |= runtime.swap_adapter(name, plugin);
        }
    }
    let shas = |m: &HashMap<String, Arc<crate::sandbox::Plugin>>| -> Vec<(String, String)> {
        let mut v: Vec<_> = m.iter().map(|(k, p)| (k.clone(), p.id.sha256.clone())).collect();
        v.sort();
        v
    };
    let current = runtime.policies();
    if shas(&current.activated) != shas(&activated) || shas(&current.shadows) != shas(&shadows) {
        runtime.swap_policies(|p| {
            p.activated = activated;
            p.shadows = shadows;
        });
        changed = true;
    }
    Ok(changed)
}

/// The plugin activated per segment or per channel, each of the kind its
/// namespace is for (an activation of another kind or name is left out).
async fn activations_in_force(
    store: &crate::store::Store,
    catalog: &mut Catalog,
    dir: &Path,
    scope: Scope,
) -> anyhow::Result<HashMap<String, Arc<crate::sandbox::Plugin>>> {
    let wanted = if scope == Scope::Segment { PluginKind::Policy } else { PluginKind::Channel };
    let mut in_force = HashMap::new();
    for (name, sha, path) in store.activations(scope).await? {
        let plugin = plugin_in_force(store, catalog, dir, &sha, &path).await?;
        if plugin.id.kind != wanted || crate::names::check("name", &name).is_err() {
            tracing::error!(?scope, %name, plugin = %plugin.id, "an activation of the wrong kind or name is left out");
            continue;
        }
        in_force.insert(name, plugin);
    }
    Ok(in_force)
}

/// A plugin the store says is in force: already loaded, its file, or (a
/// worker on another machine uploaded it) its bytes from the database,
/// checked against its sha256 and kept in this worker's plugins folder.
async fn plugin_in_force(
    store: &crate::store::Store,
    catalog: &mut Catalog,
    dir: &Path,
    sha: &str,
    path: &str,
) -> anyhow::Result<Arc<crate::sandbox::Plugin>> {
    if let Some(plugin) = catalog.find(sha) {
        return Ok(plugin);
    }
    if Path::new(path).exists() {
        return Ok(catalog.load_file(Path::new(path))?);
    }
    let Some(bytes) = store.plugin_bytes(sha).await? else {
        anyhow::bail!("plugin {sha}: no file at {path} and no copy in the database");
    };
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    anyhow::ensure!(digest == sha, "plugin {sha}: the database's copy has sha256 {digest}");
    std::fs::create_dir_all(dir)?;
    let kept = dir.join(format!("{sha}.wasm"));
    let part = dir.join(format!(".{sha}.wasm.part"));
    std::fs::write(&part, &bytes)?;
    std::fs::rename(&part, &kept)?;
    Ok(catalog.load_file(&kept)?)
}

/// Every second, takes up activations, rollbacks, shadow runs and
/// experiments that another worker (or the command line) wrote to the store.
async fn follow(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let mut catalog = app.catalog.lock().await;
        let followed = match follow_store(&app.runtime, &mut catalog, &app.plugins_dir).await {
            Ok(changed) => app.runtime.refresh_experiments(&mut catalog).await.map(|e| changed || e),
            Err(e) => Err(e),
        };
        match followed {
            Ok(true) => {
                app.metrics.swaps.inc();
                tracing::info!("took up a change another worker made to the policies in force");
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the policies in force could not be read; keeping the ones running")
            }
        }
    }
}

/// The folders `serve` reads from, checked before it starts.
fn check_folders(config: &Config) -> Result<(), String> {
    if let Some(dir) = config.bank.watch.as_ref().map(|d| config.resolve(d))
        && !dir.is_dir()
    {
        return Err(format!("bank.watch: {} is not a folder", dir.display()));
    }
    Ok(())
}

/// Ticks every `every`, or at once when woken; never two ticks at a time.
/// Before each tick, a watched folder is looked at for new policies.
async fn schedule(app: Arc<App>, every: Duration, folder: Option<PathBuf>, mut stop: watch::Receiver<bool>) {
    let mut seen: HashMap<PathBuf, String> = HashMap::new();
    loop {
        if let Some(dir) = &folder {
            watch_folder(&app, dir, &mut seen).await;
        }
        read_mailbox(&app).await;
        read_statements(&app).await;
        // Experiments started or stopped from the command line or the API apply from this tick.
        match app.runtime.refresh_experiments(&mut *app.catalog.lock().await).await {
            Ok(true) => tracing::info!("experiments changed; this tick uses them"),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "experiments could not be read; the tick keeps the ones it had")
            }
        }
        let started = Instant::now();
        match app.runtime.tick(Utc::now(), false).await {
            Ok(report) => app.metrics.record(&report, started.elapsed().as_secs_f64()),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "tick failed; trying again at the next one"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = app.wake.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Waits on the mailbox (IMAP IDLE) and wakes the scheduler when something
/// arrives: a reply is read within seconds, not at the next tick. A server
/// without IDLE leaves the reading to the ticks.
async fn watch_mailbox(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    use crate::inbound::imap::{Waited, wait_for_mail};
    loop {
        let waited = tokio::select! {
            waited = wait_for_mail(app.runtime.config(), Duration::from_secs(25 * 60)) => waited,
            _ = stop.wait_for(|s| *s) => return,
        };
        let pause = match waited {
            Ok(Waited::NewMail) => {
                app.wake.notify_one();
                Duration::ZERO
            }
            Ok(Waited::Quiet) => Duration::ZERO,
            Ok(Waited::NotOffered) => {
                tracing::info!("the mailbox offers no IDLE: it is read before each tick");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "waiting on the mailbox failed; trying again in a minute");
                Duration::from_secs(60)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// What came back to the mailbox, before each tick, so the tick sees it.
async fn read_mailbox(app: &Arc<App>) {
    let config = app.runtime.config();
    if config.inbound.imap_url.is_none() {
        return;
    }
    match crate::inbound::imap::poll(&app.runtime.intake(), Utc::now()).await {
        Ok(handled) => {
            for h in &handled {
                app.metrics.inbound(h);
            }
            if !handled.is_empty() {
                tracing::info!(messages = handled.len(), "read the mailbox");
            }
        }
        // The mailbox's messages stay where they are, for the next poll.
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "could not read the mailbox; trying again at the next tick")
        }
    }
}

/// Statements dropped into `[bank] watch`, before each tick, so the tick
/// sends nothing to a customer whose transfer they carry.
async fn read_statements(app: &Arc<App>) {
    let config = app.runtime.config();
    let Some(dir) = config.bank.watch.as_ref().map(|d| config.resolve(d)) else { return };
    match crate::bank::folder::take(app.runtime.store(), &dir, Utc::now()).await {
        Ok(taken) => {
            for t in taken {
                match t {
                    crate::bank::folder::Taken::Imported(file, done) => tracing::info!(
                        file = %file.display(), entries = done.entries, paid = done.paid, unsure = done.unsure,
                        unmatched = done.unmatched, "statement imported from the watched folder"
                    ),
                    crate::bank::folder::Taken::Refused(file, why) => {
                        tracing::error!(file = %file.display(), "statement refused: {why}")
                    }
                }
            }
        }
        Err(e) => tracing::error!(
            folder = %dir.display(), error = %format!("{e:#}"),
            "could not read the statements' folder; trying again at the next tick"
        ),
    }
}

/// `SEGMENT.wasm` (or a package, `SEGMENT.tar`) dropped into the folder is
/// installed (verified as an upload is, checked, smoke-run) and activated for
/// SEGMENT; a file that does not pass is logged and left alone.
async fn watch_folder(app: &Arc<App>, dir: &Path, seen: &mut HashMap<PathBuf, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let (Some(segment), Some("wasm" | "tar")) =
            (path.file_stem().and_then(|s| s.to_str()), path.extension().and_then(|e| e.to_str()))
        else {
            continue;
        };
        if let Err(why) = crate::names::check("the watched file's segment", segment) {
            if !seen.contains_key(&path) {
                tracing::error!(file = %path.display(), "{why}");
                seen.insert(path.clone(), String::new());
            }
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else { continue };
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        if seen.get(&path) == Some(&sha) {
            continue;
        }
        seen.insert(path.clone(), sha);
        match admin::install(app, bytes).await {
            Ok(plugin) => {
                if let Err(e) = admin::switch(app, segment, plugin).await {
                    tracing::error!(file = %path.display(), error = ?e, "could not activate the watched plugin");
                }
            }
            Err(e) => tracing::error!(file = %path.display(), error = ?e, "watched plugin refused"),
        }
    }
}

async fn shutdown_signal(mut term: tokio::signal::unix::Signal, mut interrupt: tokio::signal::unix::Signal) {
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = term.recv() => {}
    }
}
