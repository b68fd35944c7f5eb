//! A configured sollecito: store, policies, renderer, channel adapters. One
//! tick is the scheduler's decisions followed by delivery.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::config::{BadConfig, ChannelConfig, Config};
use crate::deliver::mail::{LettreRelay, SmtpOptions};
use crate::deliver::{Channel, DeliverReport, Delivery};
use crate::render::Renderer;
use crate::sandbox::{Capture, Grants, MailRelay, Plugin, PluginKind};
use crate::scheduler::{self, DecideReport, Policies};
use crate::store::Store;

pub struct Runtime {
    store: Store,
    /// Read by the scheduler and by delivery alike; the runtime keeps it.
    config: Arc<Config>,
    /// Swapped whole while running; a tick keeps the snapshot it started with.
    policies: std::sync::RwLock<Arc<Policies>>,
    delivery: Delivery,
    /// Where `.eml` files go when no SMTP relay is configured.
    outbox_dir: Option<PathBuf>,
    batch: usize,
    /// What reads a customer's reply (`[inbound] reader`).
    reader: Arc<Plugin>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct TickReport {
    pub at: DateTime<Utc>,
    pub dry_run: bool,
    #[serde(flatten)]
    pub decided: DecideReport,
    #[serde(flatten)]
    pub delivered: DeliverReport,
    /// Customers a run at this hour every day can never reach in their
    /// sending window, "name (timezone)" (`sollecito run` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
}

impl Runtime {
    /// Opens the store and checks everything a run needs before touching it:
    /// policies load, templates render, the relay is usable.
    pub async fn open(db: &Path, config: Config, catalog: &mut Catalog) -> anyhow::Result<Self> {
        Self::open_for(db, config, catalog, false).await
    }

    /// `open`; with `dry_run`, for a tick that writes nothing: no outbox folder,
    /// no worker lock file (the database must already exist: see `run --dry-run`).
    pub async fn open_for(db: &Path, config: Config, catalog: &mut Catalog, dry_run: bool) -> anyhow::Result<Self> {
        let policies = Policies::resolve(&config, catalog)?;
        Self::open_with(db, config, catalog, policies, dry_run, None).await
    }

    /// The runtime of a simulation: `policy` serves every customer with
    /// `settings` over the config's own, on a scratch database in `dir`; what
    /// would leave (messages, charges, signed requests) is kept in `capture`.
    pub async fn simulation(
        dir: &Path,
        mut config: Config,
        catalog: &mut Catalog,
        policy: Arc<Plugin>,
        settings: &BTreeMap<String, String>,
        capture: Arc<Capture>,
    ) -> anyhow::Result<Self> {
        let name = policy.id.name.clone();
        config.policies = crate::config::Policies { default: name.clone(), ..crate::config::Policies::none() };
        let table = config.settings.entry(name.clone()).or_default();
        for (key, value) in settings {
            table.insert(key.clone(), toml::Value::String(value.clone()));
        }
        // Nothing reaches a relay, a folder or an alert hook of the operator's.
        config.email.smtp_url = None;
        config.alerts.url = None;
        config.email.outbox_dir = Some(dir.join("outbox"));
        config.escalations.handover_dir = Some(dir.join("handovers"));
        for channel in config.channels.values_mut() {
            channel.smtp_url = None;
            channel.folder = channel.folder.as_ref().map(|_| dir.join("letters"));
        }
        // The limit of adapter calls at once bounds what a crash leaves in flight at a
        // relay; a simulation has neither, and its writes group by as many as are in flight.
        config.sending.concurrency = crate::config::MAX_CONCURRENCY;
        let policies = Policies { by_name: HashMap::from([(name, policy)]), ..Policies::default() };
        Self::open_with(&dir.join("simulation.db"), config, catalog, policies, false, Some(capture)).await
    }

    async fn open_with(
        db: &Path,
        config: Config,
        catalog: &mut Catalog,
        mut policies: Policies,
        dry_run: bool,
        capture: Option<Arc<Capture>>,
    ) -> anyhow::Result<Self> {
        let bad = |reason: String| BadConfig { file: "config".into(), reason };
        let beside = config.data_dir_for(db);
        let renderer = Renderer::new(config.templates.dir.as_ref().map(|d| config.resolve(d)).as_deref())
            .map_err(|e| bad(format!("templates: {e}")))?;
        let (mail, outbox_dir): (Arc<dyn MailRelay>, _) = match &config.email.smtp_url {
            _ if let Some(capture) = &capture => (capture.clone(), None),
            Some(url) => {
                let options = SmtpOptions {
                    url: url.clone(),
                    tls: config.email.tls,
                    ca_file: config.email.ca_file.as_ref().map(|f| config.resolve(f)),
                    connections: config.email.connections.unwrap_or(config.sending.concurrency),
                };
                (Arc::new(LettreRelay::smtp("email", &options).map_err(|e| bad(e.to_string()))?), None)
            }
            None => {
                let dir = match &config.email.outbox_dir {
                    Some(d) => config.resolve(d),
                    None => beside.join("outbox"),
                };
                let relay = if dry_run { LettreRelay::Folder(dir.clone()) } else { LettreRelay::folder(dir.clone())? };
                (Arc::new(relay), Some(dir))
            }
        };
        let letters = beside.join("letters");
        let channels = channels(&config, catalog, mail, letters, capture.clone())?;
        for warning in
            crate::preflight::policies_name_what_exists(&config, &policies, &channels, &renderer.templates())?
        {
            tracing::info!("{warning}");
        }
        let payments = payments(&config, catalog)?;
        let reader = reader(&config, catalog)?;
        // A simulation's messages carry no link: nobody could open it.
        let links = if capture.is_some() { None } else { crate::portal::Links::of(&config)?.map(Arc::new) };
        let handover_dir = match &config.escalations.handover_dir {
            Some(d) => config.resolve(d),
            None => beside.join("handovers"),
        };
        let batch = catalog.sandbox().limits().batch_size;
        let sender = config.sender().map_err(bad)?;
        // A simulation's store is thrown away at its end: nothing of it is synced.
        let store = match &capture {
            Some(_) => with_config(Store::scratch(&db.display().to_string()).await?, &config),
            None => open_store(db, &config).await?,
        };
        // Experiments running on the store serve their segments, each customer in their arm.
        policies.experiments = load_experiments(store.running_experiments().await?, catalog)?;
        // Workers sharing the folder beside the database (one machine) see each
        // other stop through lock files in it; a stopped worker elsewhere is
        // known only by its lease running out.
        let registry = (!dry_run).then(|| beside.join(".workers"));
        let worker = crate::deliver::Worker::new(registry).context("registering this worker")?;
        // Its decisions are recorded under the id its claims carry.
        let store = store.with_worker(&worker.id);
        let config = Arc::new(config);
        Ok(Runtime {
            store,
            config: config.clone(),
            policies: std::sync::RwLock::new(Arc::new(policies)),
            delivery: Delivery {
                config: config.clone(),
                composer: Arc::new(crate::deliver::Composer { config, renderer, sender, links }),
                channels: std::sync::RwLock::new(Arc::new(channels)),
                payments,
                handover_dir,
                worker,
                stopping: Default::default(),
                capture,
            },
            outbox_dir,
            batch,
            reader,
        })
    }

    /// The customer's page, when `[portal]` is set.
    pub(crate) fn links(&self) -> Option<&crate::portal::Links> {
        self.delivery.composer.links.as_deref()
    }

    /// The inbound door's view of this runtime: its store, config and reader.
    pub(crate) fn intake(&self) -> crate::inbound::Intake<'_> {
        crate::inbound::Intake { store: &self.store, config: &self.config, reader: &self.reader }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The messages the renderer knows, by name.
    pub fn templates(&self) -> Vec<String> {
        self.delivery.composer.renderer.templates()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where `.eml` files go, when no SMTP relay is configured.
    pub fn outbox_dir(&self) -> Option<&Path> {
        self.outbox_dir.as_deref()
    }

    /// The channels now in force: adapter, grants, settings (a snapshot).
    pub fn channels(&self) -> Arc<HashMap<String, Channel>> {
        self.delivery.channels()
    }

    /// Puts a new adapter behind a channel, keeping its grants and settings;
    /// false when there is no such channel.
    pub fn swap_adapter(&self, channel: &str, adapter: Arc<Plugin>) -> bool {
        self.delivery.swap_adapter(channel, adapter)
    }

    /// The id this process's claims and decisions carry.
    pub fn worker_id(&self) -> &str {
        &self.delivery.worker.id
    }

    /// Called last, after a clean finish: nothing this worker claimed is left
    /// in flight, so its lock file goes. A run that fails skips it, and the
    /// next worker on this machine takes back at once what it left.
    pub fn retire(&self) {
        self.delivery.worker.retire();
    }

    /// From now on nothing more is handed over; what is in flight finishes.
    pub fn stop_delivering(&self) {
        self.delivery.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes up the experiments started or stopped since (the service does
    /// before every tick); true if they changed.
    pub async fn refresh_experiments(&self, catalog: &mut Catalog) -> anyhow::Result<bool> {
        // Compared as stored first: the arms' plugins are loaded only when something changed.
        let stored = self.store.running_experiments().await?;
        let as_stored =
            |e: &crate::experiment::Running| (e.name.clone(), e.arms.iter().map(|(a, _)| a.clone()).collect());
        let now: Vec<(String, Vec<crate::experiment::Arm>)> =
            self.policies().experiments.iter().map(as_stored).collect();
        if stored.iter().map(|e| (e.name.clone(), e.arms.clone())).eq(now) {
            return Ok(false);
        }
        let loaded = load_experiments(stored, catalog)?;
        self.swap_policies(|p| p.experiments = loaded);
        Ok(true)
    }

    /// The policies now in force (a snapshot).
    pub fn policies(&self) -> Arc<Policies> {
        self.policies.read().expect("policies lock").clone()
    }

    /// Replaces the policies atomically: evaluations already started finish on the old ones.
    pub fn swap_policies(&self, change: impl FnOnce(&mut Policies)) {
        let mut current = self.policies.write().expect("policies lock");
        let mut next = (**current).clone();
        change(&mut next);
        *current = Arc::new(next);
    }

    /// The decision half of a tick alone: every due invoice evaluated, its
    /// decision, outbox rows and next review written.
    pub async fn decide(&self, now: DateTime<Utc>, dry_run: bool) -> anyhow::Result<DecideReport> {
        // Invoices a stopped worker on this machine was deciding are free at once, not after its lease.
        if !dry_run {
            for stopped in self.delivery.worker.stopped_here() {
                self.store.release_reviews_of(&stopped).await?;
            }
        }
        scheduler::decide(&self.store, &self.policies(), &self.config, now, self.batch, dry_run).await
    }

    pub async fn tick(&self, now: DateTime<Utc>, dry_run: bool) -> anyhow::Result<TickReport> {
        let started = std::time::Instant::now();
        let decided = self.decide(now, dry_run).await?;
        let deciding = started.elapsed();
        let mut delivered = self.delivery.run(&self.store, now, dry_run).await?;
        self.delivery.carry_out(&self.store, now, dry_run, &mut delivered).await?;
        // Where a tick's time went, for whoever is tuning it (SOLLECITO_LOG=sollecito=debug).
        tracing::debug!(
            deciding_ms = deciding.as_millis(),
            delivering_ms = (started.elapsed() - deciding).as_millis(),
            "tick"
        );
        if !dry_run {
            self.delivery.raise_tick_alerts(&self.store, &decided.errors, &delivered, now).await?;
            self.delivery.send_alerts(&self.store, now).await?;
        }
        Ok(TickReport { at: now, dry_run, decided, delivered, unreachable: vec![] })
    }
}

/// The experiments running on the store, with their arms' policies loaded.
fn load_experiments(
    stored: Vec<crate::store::ExperimentRow>,
    catalog: &mut Catalog,
) -> anyhow::Result<Vec<crate::experiment::Running>> {
    let mut out = vec![];
    for e in stored {
        let mut arms = vec![];
        for arm in e.arms {
            let plugin = catalog.policy(&arm.policy)?;
            arms.push((arm, plugin));
        }
        out.push(crate::experiment::Running { name: e.name, segment: e.segment, arms });
    }
    Ok(out)
}

/// The store with what the config says of outcomes and alerts: every way an
/// event comes in (a tick, the API, `import`, `plan accept`) ties and alerts alike.
pub(crate) async fn open_store(db: &Path, config: &Config) -> anyhow::Result<Store> {
    Ok(with_config(Store::open(&db.display().to_string()).await?, config))
}

fn with_config(store: Store, config: &Config) -> Store {
    store.with_attribution_days(config.outcomes.attribution_days).with_alerts(config.alerts.url.is_some())
}

/// Channels by name: adapter, grants, settings. By default `email` has the mail
/// relay, `letter` a letters folder beside the database and `phone` opens tasks;
/// every other channel, and every grant beyond those, comes from `[channels.*]`.
fn channels(
    config: &Config,
    catalog: &mut Catalog,
    mail: Arc<dyn MailRelay>,
    letters: PathBuf,
    capture: Option<Arc<Capture>>,
) -> anyhow::Result<HashMap<String, Channel>> {
    let bad = |reason: String| BadConfig { file: "config".into(), reason };
    let mut wanted = config.channels.clone();
    wanted.entry("email".into()).or_insert_with(|| ChannelConfig { mail: true, ..ChannelConfig::default() });
    // PEC (Italian certified email) is the email adapter on the PEC provider's relay,
    // marked certified (a legal notice carries no unsubscribe link).
    if let Some(pec) = wanted.get_mut("pec")
        && pec.adapter.is_none()
    {
        pec.adapter = Some("email".into());
        pec.mail = true;
        pec.settings.entry("certified".into()).or_insert(toml::Value::String("true".into()));
    }
    // Printed letters go to a folder beside the database; phone calls become tasks.
    wanted
        .entry("letter".into())
        .or_insert_with(|| ChannelConfig { folder: Some(letters.clone()), ..ChannelConfig::default() });
    wanted.entry("phone".into()).or_insert_with(|| ChannelConfig {
        adapter: Some("phone-task".into()),
        tasks: true,
        ..ChannelConfig::default()
    });
    let mut out = HashMap::new();
    for (name, c) in wanted {
        let adapter_name = c.adapter.clone().unwrap_or_else(|| name.clone());
        let adapter =
            adapter(config, catalog, &adapter_name, PluginKind::Channel, &format!("channels.{name}.adapter"))?;
        let relay: Option<Arc<dyn MailRelay>> = match (&c.smtp_url, c.mail) {
            (Some(url), _) => {
                let options = SmtpOptions {
                    url: url.clone(),
                    tls: c.tls,
                    ca_file: c.ca_file.as_ref().map(|f| config.resolve(f)),
                    connections: config.sending.concurrency,
                };
                let section = format!("channels.{name}");
                Some(Arc::new(LettreRelay::smtp(&section, &options).map_err(|e| bad(e.to_string()))?))
            }
            (None, true) => Some(mail.clone()),
            (None, false) => None,
        };
        let grants = Grants {
            mail: relay,
            http_hosts: c.http_hosts.clone(),
            secrets: granted_secrets(config, &c.secrets, &format!("channels.{name}"))?,
            folder: c.folder.as_ref().map(|f| config.resolve(f)),
            tasks: c.tasks.then(Default::default),
            setup_fault: None,
            sent_mail: None,
            return_path: None,
            http: match &capture {
                Some(c) => c.clone(),
                None => Arc::new(crate::sandbox::Network),
            },
        };
        out.insert(name, Channel { adapter, grants, settings: crate::config::settings(&c.settings) });
    }
    Ok(out)
}

/// The named secrets' values, for the adapter they are granted to.
fn granted_secrets(
    config: &Config,
    names: &[String],
    table: &str,
) -> Result<std::collections::BTreeMap<String, String>, BadConfig> {
    names
        .iter()
        .map(|s| {
            let value = config
                .secret(s)
                .map_err(|e| BadConfig { file: "config".into(), reason: format!("{table}.secrets: {}", e.reason) })?;
            Ok((s.clone(), value))
        })
        .collect()
}

/// The payment adapter of `[payments]`, with the hosts and secrets granted to it.
fn payments(config: &Config, catalog: &mut Catalog) -> anyhow::Result<Option<Channel>> {
    let Some(p) = &config.payments else { return Ok(None) };
    let adapter = adapter(config, catalog, &p.adapter, PluginKind::Payment, "payments.adapter")?;
    let grants = Grants {
        http_hosts: p.http_hosts.clone(),
        secrets: granted_secrets(config, &p.secrets, "payments")?,
        ..Grants::default()
    };
    Ok(Some(Channel { adapter, grants, settings: crate::config::settings(&p.settings) }))
}

/// The plugin that reads customers' replies, `[inbound] reader`.
pub(crate) fn reader(config: &Config, catalog: &mut Catalog) -> anyhow::Result<Arc<Plugin>> {
    adapter(config, catalog, &config.inbound.reader, PluginKind::Reader, "inbound.reader")
}

/// An adapter (or reader) by bundled name or `.wasm` path, checked to be of
/// `kind`; `key` names the config key it was asked for in.
fn adapter(
    config: &Config,
    catalog: &mut Catalog,
    name: &str,
    kind: PluginKind,
    key: &str,
) -> anyhow::Result<Arc<crate::sandbox::Plugin>> {
    let bad = |reason: String| BadConfig { file: "config".into(), reason };
    let what = PluginKind::words;
    let adapter = if name.ends_with(".wasm") {
        catalog.load_file(&config.resolve(Path::new(name)))?
    } else {
        // One of that kind first (a policy and an adapter may share a name), else the one of that name.
        let named = |same_kind: bool| {
            catalog.plugins().iter().find(|p| p.id.name == name && (!same_kind || p.id.kind == kind)).cloned()
        };
        named(true).or_else(|| named(false)).ok_or_else(|| bad(format!("{key}: no {} named {name:?}", what(kind))))?
    };
    if adapter.id.kind != kind {
        let reason = format!("{key}: {} is a {}, not a {}", adapter.id.name, what(adapter.id.kind), what(kind));
        return Err(bad(reason).into());
    }
    Ok(adapter)
}
