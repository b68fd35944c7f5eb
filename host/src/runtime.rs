//! A configured sollecito: store, policies, renderer, channel adapters. One
//! tick is the scheduler's decisions followed by delivery.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::config::{BadConfig, Config};
use crate::deliver::mail::LettreRelay;
use crate::deliver::{DeliverReport, Delivery};
use crate::render::Renderer;
use crate::sandbox::{MailRelay, PluginKind};
use crate::scheduler::{self, DecideReport, Policies};
use crate::store::Store;

pub struct Runtime {
    pub store: Store,
    pub policies: Policies,
    pub delivery: Delivery,
    /// Where `.eml` files go when no SMTP relay is configured.
    pub outbox_dir: Option<PathBuf>,
    pub batch: usize,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct TickReport {
    pub at: DateTime<Utc>,
    pub dry_run: bool,
    #[serde(flatten)]
    pub decided: DecideReport,
    #[serde(flatten)]
    pub delivered: DeliverReport,
}

impl Runtime {
    /// Opens the store and checks everything a run needs before touching it:
    /// policies load, templates render, the relay is usable.
    pub async fn open(db: &Path, config: Config, mut catalog: Catalog) -> anyhow::Result<Self> {
        let bad = |reason: String| BadConfig { file: "config".into(), reason };
        let policies = Policies::resolve(&config, &mut catalog)?;
        let renderer = Renderer::new(config.templates.dir.as_ref().map(|d| config.resolve(d)).as_deref())
            .map_err(|e| bad(format!("templates: {e}")))?;
        let (mail, outbox_dir): (Arc<dyn MailRelay>, _) = match &config.email.smtp_url {
            Some(url) => (Arc::new(LettreRelay::smtp(url).map_err(|e| bad(e.to_string()))?), None),
            None => {
                let dir = match &config.email.outbox_dir {
                    Some(d) => config.resolve(d),
                    None => db.parent().unwrap_or(Path::new(".")).join("outbox"),
                };
                (Arc::new(LettreRelay::folder(dir.clone())?), Some(dir))
            }
        };
        let adapters: HashMap<String, _> = catalog
            .plugins()
            .iter()
            .filter(|p| p.id.kind == PluginKind::Channel)
            .map(|p| (p.id.name.clone(), p.clone()))
            .collect();
        let batch = catalog.sandbox().limits().batch_size;
        let store = Store::open(&db.display().to_string()).await?;
        Ok(Runtime { store, policies, delivery: Delivery { config, renderer, adapters, mail }, outbox_dir, batch })
    }

    pub async fn tick(&self, now: DateTime<Utc>, dry_run: bool) -> anyhow::Result<TickReport> {
        let decided =
            scheduler::decide(&self.store, &self.policies, &self.delivery.config, now, self.batch, dry_run).await?;
        let delivered = self.delivery.run(&self.store, now, dry_run).await?;
        Ok(TickReport { at: now, dry_run, decided, delivered })
    }
}
