//! `plugin pack DIR`: a plugin author's folder (`plugin.toml`, the built
//! component, its scenarios) made into a package. The same folder gives the
//! same bytes: nothing of the machine, the clock or the path goes in.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::image::{
    Descriptor, DescriptorBuilder, Digest, ImageIndexBuilder, ImageManifestBuilder, MediaType, SCHEMA_VERSION,
};
use serde::Deserialize;

use super::layout::{Layout, MAX_BYTES};
use super::{ABOUT_LAYER, About, Asks, Package, Refused, WASM_CONFIG, WASM_LAYER};
use crate::sandbox::{PluginSource, Sandbox};

/// The author's `plugin.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    /// The built component, from the folder.
    component: PathBuf,
    #[serde(default)]
    authors: Vec<String>,
    licence: Option<String>,
    /// Where its source is (a URL).
    source: Option<String>,
    /// Scenario files, from the folder: played by `plugin install`.
    #[serde(default)]
    scenarios: Vec<PathBuf>,
    #[serde(default)]
    asks: Asks,
}

/// The package of the plugin in `dir`.
pub fn pack(dir: &Path, sandbox: &Sandbox) -> Result<Package, Refused> {
    let read = |path: &Path, at: &str| {
        std::fs::read(dir.join(path)).map_err(|e| Refused::new(at, &format!("cannot read {}: {e}", path.display())))
    };
    let spec = read(Path::new("plugin.toml"), "plugin.toml")?;
    let spec = String::from_utf8(spec).map_err(|_| Refused::new("plugin.toml", "not UTF-8"))?;
    let spec: PackFile = toml::from_str(&spec).map_err(|e| Refused::new("plugin.toml", &e.to_string()))?;
    let component = read(&spec.component, "plugin.toml component")?;
    if component.len() as u64 > MAX_BYTES / 2 {
        return Err(Refused::new("plugin.toml component", "larger than 32 MB"));
    }
    let plugin = sandbox
        .load(&component, PluginSource::File(spec.component.clone()))
        .map_err(|e| Refused::new("plugin.toml component", &e.reason))?;
    let mut scenarios = BTreeMap::new();
    for path in &spec.scenarios {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = String::from_utf8(read(path, "plugin.toml scenarios")?)
            .map_err(|_| Refused::new("plugin.toml scenarios", &format!("{} is not UTF-8", path.display())))?;
        if scenarios.insert(name.clone(), text).is_some() {
            return Err(Refused::new("plugin.toml scenarios", &format!("two scenarios named {name}")));
        }
    }
    let id = &plugin.id;
    let about = About {
        name: id.name.clone(),
        version: id.version.clone(),
        summary: id.summary.clone(),
        kind: id.kind,
        world: id.world.to_string(),
        authors: spec.authors,
        licence: spec.licence,
        source: spec.source,
        asks: spec.asks,
        scenarios,
    };
    about.check_against(&plugin)?;
    let (imports, exports) = &plugin.interfaces;
    Ok(assemble(component, &about, imports, exports))
}

/// The layout of a checked package: the CNCF Wasm config and layer, the About layer, an index.
fn assemble(component: Vec<u8>, about: &About, imports: &[String], exports: &[String]) -> Package {
    let mut layout = Layout::default();
    let about_json = serde_json::to_vec(about).expect("an About serializes");
    let (component_len, about_len) = (component.len(), about_json.len());
    let component_digest = layout.add(component.clone());
    let about_digest = layout.add(about_json);
    let config = serde_json::json!({
        "created": created(),
        "author": (!about.authors.is_empty()).then(|| about.authors.join(", ")),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [&component_digest],
        "component": { "exports": exports, "imports": imports, "target": &about.world },
    });
    let config = serde_json::to_vec(&config).expect("a config serializes");
    let config_len = config.len();
    let config_digest = layout.add(config);
    let mut annotations = HashMap::from([
        ("org.opencontainers.image.title".to_string(), about.name.clone()),
        ("org.opencontainers.image.version".to_string(), about.version.clone()),
        ("org.opencontainers.image.description".to_string(), about.summary.clone()),
        ("org.opencontainers.image.created".to_string(), created()),
    ]);
    let optional = [
        ("org.opencontainers.image.licenses", about.licence.clone()),
        ("org.opencontainers.image.source", about.source.clone()),
        ("org.opencontainers.image.authors", (!about.authors.is_empty()).then(|| about.authors.join(", "))),
    ];
    annotations.extend(optional.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))));
    let manifest = ImageManifestBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(WASM_CONFIG, &config_digest, config_len))
        .layers(vec![
            descriptor(WASM_LAYER, &component_digest, component_len),
            descriptor(ABOUT_LAYER, &about_digest, about_len),
        ])
        .annotations(annotations)
        .build()
        .expect("a manifest with every field");
    let manifest = canonical(&manifest);
    let digest = layout.add(manifest.clone());
    layout.index = index_of(&[(MediaType::ImageManifest, &digest, manifest.len(), Some(&about.version))]);
    Package { digest, manifest, component, about: about.clone(), signatures: vec![], layout }
}

pub(super) fn descriptor(media_type: &str, digest: &str, size: usize) -> Descriptor {
    DescriptorBuilder::default()
        .media_type(MediaType::Other(media_type.to_string()))
        .digest(Digest::from_str(digest).expect("a sha256 digest"))
        .size(size as u64)
        .build()
        .expect("a descriptor with every field")
}

/// `index.json` listing manifests: (kind, digest, size, tag).
pub(super) fn index_of(manifests: &[(MediaType, &str, usize, Option<&str>)]) -> Vec<u8> {
    let entries = manifests.iter().map(|(kind, digest, size, tag)| {
        let mut d = descriptor("", digest, *size);
        d.set_media_type(kind.clone());
        if let Some(tag) = tag {
            let name = HashMap::from([("org.opencontainers.image.ref.name".to_string(), tag.to_string())]);
            d.set_annotations(Some(name));
        }
        d
    });
    let index = ImageIndexBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageIndex)
        .manifests(entries.collect::<Vec<_>>())
        .build()
        .expect("an index with every field");
    canonical(&index)
}

/// JSON with every object's keys sorted: oci-spec keeps annotations in a
/// `HashMap`, whose order changes from run to run, and a package's bytes must not.
pub(super) fn canonical(value: &impl serde::Serialize) -> Vec<u8> {
    // serde_json's own map (without `preserve_order`, which nothing here turns on) is sorted.
    let value = serde_json::to_value(value).expect("OCI types serialize");
    serde_json::to_vec(&value).expect("a JSON value serializes")
}

/// The package's date: `SOURCE_DATE_EPOCH` as reproducible builds set it, else the epoch.
fn created() -> String {
    let seconds = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let at = chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
