//! Plugin packages: a component with who made it and what it asks for, as an
//! OCI artifact in the CNCF Wasm layout (a `application/vnd.wasm.config.v0+json`
//! config, the component as the `application/wasm` layer) plus a layer of
//! its own (`About`: metadata, asks, scenarios), signed with minisign keys
//! (Ed25519) by an artifact whose `subject` is the package's manifest.
//!
//! A package is pinned by the digest of its manifest, which names every blob
//! by digest: a signature over the manifest's bytes covers them all.

mod asks;
mod install;
mod layout;
mod pack;
mod registry;
mod signing;

pub use asks::{Asks, Difference, HostsAsk, Reason, SecretsAsk};
pub use install::{Target, apply, beyond_today, granted, previous};
pub use pack::pack;
pub use registry::{pull, push, reference};
pub use signing::{Keys, Publisher, Trusted, keygen, sign};

use std::collections::BTreeMap;

use oci_spec::image::{ImageIndex, ImageManifest, MediaType};
use serde::{Deserialize, Serialize};

use crate::sandbox::{Plugin, PluginKind};
use layout::Layout;

pub(crate) const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
pub(crate) const WASM_LAYER: &str = "application/wasm";
pub(crate) const ABOUT_LAYER: &str = "application/vnd.sollecito.plugin.about.v1+json";
pub(crate) const SIGNATURE_ARTIFACT: &str = "application/vnd.sollecito.plugin.signature.v1";
pub(crate) const SIGNATURE_LAYER: &str = "application/vnd.sollecito.plugin.signature.v1+minisign";
pub(crate) const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

/// Scenario files a package may carry, and their bytes, at most.
const MAX_SCENARIOS: usize = 32;
const MAX_ABOUT: usize = 1 << 20;

/// A package refused: where (a field, an entry, a digest) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct Refused {
    pub at: String,
    pub reason: String,
}

impl Refused {
    pub(crate) fn new(at: &str, reason: &str) -> Refused {
        Refused { at: at.to_string(), reason: reason.to_string() }
    }
}

/// The package's own layer: who made it, what it asks for, its scenarios.
/// Name, version, kind and world are read from the component again on
/// install, and must agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct About {
    pub name: String,
    pub version: String,
    pub summary: String,
    pub kind: PluginKind,
    pub world: String,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default)]
    pub asks: Asks,
    /// File name -> text (TOML), played on install.
    #[serde(default)]
    pub scenarios: BTreeMap<String, String>,
}

impl About {
    /// The same plugin as the component says it is, and asking for exactly what it imports.
    pub(crate) fn check_against(&self, plugin: &Plugin) -> Result<(), Refused> {
        let id = &plugin.id;
        let claims = [
            ("about.name", self.name.as_str(), id.name.as_str()),
            ("about.version", self.version.as_str(), id.version.as_str()),
            ("about.world", self.world.as_str(), id.world),
        ];
        for (field, claimed, actual) in claims {
            if claimed != actual {
                return Err(Refused::new(field, &format!("says {claimed:?}, the component says {actual:?}")));
            }
        }
        if self.kind != id.kind {
            return Err(Refused::new("about.kind", &format!("the component is a {}", id.kind.words())));
        }
        if self.scenarios.len() > MAX_SCENARIOS {
            return Err(Refused::new("about.scenarios", &format!("at most {MAX_SCENARIOS}")));
        }
        if let Some(name) = self.scenarios.keys().find(|n| !is_scenario_name(n)) {
            return Err(Refused::new("about.scenarios", &format!("{name:?} is not a file name ending in .toml")));
        }
        self.asks.check(&plugin.imports)
    }
}

fn is_scenario_name(name: &str) -> bool {
    name.len() <= 100
        && name.strip_suffix(".toml").is_some_and(|stem| {
            !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        && !name.starts_with('.')
}

/// A package read from its layout: the manifest (and its digest), the
/// component, what it says of itself, and the signatures over it.
#[derive(Debug, Clone)]
pub struct Package {
    /// `sha256:...` of the manifest: what a package is pinned by.
    pub digest: String,
    pub manifest: Vec<u8>,
    pub component: Vec<u8>,
    pub about: About,
    /// minisign signature boxes, as text.
    pub signatures: Vec<String>,
    layout: Layout,
}

impl Package {
    /// Reads a package file (an OCI image layout tar), checking its structure
    /// and every digest; nothing is trusted yet.
    pub fn read(bytes: &[u8]) -> Result<Package, Refused> {
        let layout = Layout::from_tar(bytes)?;
        let index: ImageIndex = serde_json::from_slice(&layout.index)
            .map_err(|e| Refused::new("index.json", &format!("not an OCI image index: {e}")))?;
        let mut packages = vec![];
        let mut signatures = vec![];
        for entry in index.manifests() {
            let digest = entry.digest().to_string();
            let bytes = layout.blob(&digest)?;
            if bytes.len() as u64 != entry.size() {
                return Err(Refused::new(&digest, "its size is not the one the index gives"));
            }
            let manifest: ImageManifest = serde_json::from_slice(bytes)
                .map_err(|e| Refused::new(&digest, &format!("not an OCI image manifest: {e}")))?;
            match manifest.config().media_type() {
                MediaType::Other(t) if t == WASM_CONFIG => packages.push((digest, bytes.to_vec(), manifest)),
                _ if is_signature(&manifest) => signatures.push(manifest),
                other => return Err(Refused::new(&digest, &format!("a manifest of an unknown kind ({other})"))),
            }
        }
        let [(digest, manifest_bytes, manifest)] = <[_; 1]>::try_from(packages)
            .map_err(|found| Refused::new("index.json", &format!("holds {} packages, not one", found.len())))?;
        let (component, about) = layers(&layout, &digest, &manifest)?;
        let signatures = signatures
            .iter()
            .filter(|s| s.subject().as_ref().is_some_and(|subject| subject.digest().to_string() == digest))
            .map(|s| signature_text(&layout, s))
            .collect::<Result<_, _>>()?;
        Ok(Package { digest, manifest: manifest_bytes, component, about, signatures, layout })
    }

    /// The package file (an OCI image layout tar).
    pub fn to_tar(&self) -> Vec<u8> {
        self.layout.to_tar()
    }
}

fn is_signature(manifest: &ImageManifest) -> bool {
    matches!(manifest.artifact_type(), Some(MediaType::Other(t)) if t == SIGNATURE_ARTIFACT)
}

/// Checks a blob a manifest names: present, of the size it says.
fn described<'a>(layout: &'a Layout, at: &str, d: &oci_spec::image::Descriptor) -> Result<&'a [u8], Refused> {
    let digest = d.digest().to_string();
    let bytes = layout.blob(&digest)?;
    if bytes.len() as u64 != d.size() {
        return Err(Refused::new(at, &format!("{digest} is not of the size the manifest gives")));
    }
    Ok(bytes)
}

/// The component and the About layer of a package's manifest: exactly one of each.
fn layers(layout: &Layout, digest: &str, manifest: &ImageManifest) -> Result<(Vec<u8>, About), Refused> {
    described(layout, &format!("{digest} config"), manifest.config())?;
    let (mut component, mut about) = (None, None);
    for layer in manifest.layers() {
        let bytes = described(layout, &format!("{digest} layer"), layer)?;
        let slot = match layer.media_type() {
            MediaType::Other(t) if t == WASM_LAYER => &mut component,
            MediaType::Other(t) if t == ABOUT_LAYER => &mut about,
            other => return Err(Refused::new(digest, &format!("a layer of an unknown kind ({other})"))),
        };
        if slot.replace(bytes).is_some() {
            return Err(Refused::new(digest, &format!("two layers of kind {}", layer.media_type())));
        }
    }
    let component = component.ok_or_else(|| Refused::new(digest, "no application/wasm layer"))?;
    let about = about.ok_or_else(|| Refused::new(digest, &format!("no {ABOUT_LAYER} layer")))?;
    if about.len() > MAX_ABOUT {
        return Err(Refused::new("about", "larger than 1 MB"));
    }
    let about: About =
        serde_json::from_slice(about).map_err(|e| Refused::new("about", &format!("not a package's about: {e}")))?;
    Ok((component.to_vec(), about))
}

fn signature_text(layout: &Layout, manifest: &ImageManifest) -> Result<String, Refused> {
    let [layer] = manifest.layers().as_slice() else {
        return Err(Refused::new("signature", "a signature artifact holds one layer"));
    };
    let bytes = described(layout, "signature", layer)?;
    if bytes.len() > 4096 {
        return Err(Refused::new("signature", "larger than a minisign signature"));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| Refused::new("signature", "not text"))
}
