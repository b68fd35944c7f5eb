//! The plugins this process knows: the bundled ones, embedded at build time,
//! and any loaded from files.

use std::path::Path;
use std::sync::Arc;

use crate::sandbox::{LoadError, Plugin, PluginKind, PluginSource, Sandbox};

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

pub struct Catalog {
    sandbox: Sandbox,
    plugins: Vec<Arc<Plugin>>,
}

impl Catalog {
    /// Loads every bundled plugin. A bundled plugin that fails to load is a build bug.
    pub fn new(sandbox: Sandbox) -> anyhow::Result<Self> {
        let mut plugins = Vec::with_capacity(BUNDLED.len());
        for (name, bytes) in BUNDLED {
            let plugin = sandbox.load(bytes, PluginSource::Bundled)?;
            anyhow::ensure!(plugin.id.name == *name, "bundled {name} describes itself as {}", plugin.id.name);
            plugins.push(Arc::new(plugin));
        }
        Ok(Catalog { sandbox, plugins })
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    pub fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    /// Loads a plugin from a `.wasm` file and adds it to the catalog.
    pub fn load_file(&mut self, path: &Path) -> Result<Arc<Plugin>, LoadError> {
        let source = PluginSource::File(path.to_path_buf());
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError { plugin: source.to_string(), reason: format!("cannot read: {e}") })?;
        let plugin = Arc::new(self.sandbox.load(&bytes, source)?);
        self.plugins.push(plugin.clone());
        Ok(plugin)
    }

    /// Adds a plugin loaded elsewhere (an upload).
    pub fn add(&mut self, plugin: Arc<Plugin>) {
        if !self.plugins.iter().any(|p| p.id.sha256 == plugin.id.sha256) {
            self.plugins.push(plugin);
        }
    }

    /// A plugin by sha256, else by name (the newest of that name).
    pub fn find(&self, sha256_or_name: &str) -> Option<Arc<Plugin>> {
        self.plugins
            .iter()
            .find(|p| p.id.sha256 == sha256_or_name)
            .or_else(|| self.plugins.iter().rev().find(|p| p.id.name == sha256_or_name))
            .cloned()
    }

    /// A policy by bundled name, or by path when the argument names a file.
    pub fn policy(&mut self, name_or_path: &str) -> Result<Arc<Plugin>, LoadError> {
        let plugin = self.plugin(name_or_path)?;
        if plugin.id.kind != PluginKind::Policy {
            return Err(LoadError {
                plugin: plugin.id.source.to_string(),
                reason: format!("{} is a channel adapter, not a policy", plugin.id.name),
            });
        }
        Ok(plugin)
    }

    /// A plugin of any kind by bundled name, or by path when the argument names a file.
    pub fn plugin(&mut self, name_or_path: &str) -> Result<Arc<Plugin>, LoadError> {
        let as_path = Path::new(name_or_path);
        let plugin = if name_or_path.ends_with(".wasm") || as_path.components().count() > 1 {
            self.load_file(as_path)?
        } else {
            self.plugins.iter().find(|p| p.id.name == name_or_path).cloned().ok_or_else(|| LoadError {
                plugin: name_or_path.into(),
                reason: format!(
                    "no bundled plugin of that name (bundled: {}); give a path to a .wasm file to load your own",
                    self.plugins.iter().map(|p| p.id.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            })?
        };
        Ok(plugin)
    }
}
