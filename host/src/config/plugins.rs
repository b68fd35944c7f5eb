//! `[plugins]`: whose packages are trusted, and what `plugin install` installed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plugins {
    /// Publishers whose signed packages install: name -> minisign public key
    /// (the base64 line of their `.pub` file).
    #[serde(default)]
    pub trusted: BTreeMap<String, String>,
    /// Uploads (the API's, the watched folder's) no trusted key signed are
    /// refused once `trusted` names anyone; this lets them in all the same.
    #[serde(default)]
    pub allow_unsigned: bool,
    /// Packages installed, by plugin name (written by `plugin install`).
    #[serde(default)]
    pub installed: BTreeMap<String, Installed>,
}

/// One installed package, pinned by digest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Installed {
    pub version: String,
    /// `sha256:...` of the package's manifest.
    pub digest: String,
    /// The `[plugins.trusted]` name whose signature held; none if installed unsigned.
    pub publisher: Option<String>,
    /// The package file kept beside the config, read again to show what an upgrade adds.
    pub package: PathBuf,
    /// The component, as the config's adapter paths name it.
    pub component: PathBuf,
}

impl Plugins {
    /// Each trusted key readable, each name a name.
    pub(super) fn check(&self) -> Result<(), String> {
        for (name, key) in &self.trusted {
            crate::names::check("plugins.trusted", name)?;
            minisign::PublicKey::from_base64(key.trim()).map_err(|e| {
                format!("plugins.trusted.{name}: not a minisign public key (the base64 line of its .pub file): {e}")
            })?;
        }
        for name in self.installed.keys() {
            crate::names::check("plugins.installed", name)?;
        }
        Ok(())
    }
}
