//! Installing a checked package: what it asks for against what the config
//! grants today, and, once the operator said yes, the component and the
//! package kept beside the config and the grants and the pinned digest
//! written into it (edited in place: the operator's comments stay).

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Table, value};

use super::{Asks, Difference, Package, Publisher, Refused};
use crate::config::Config;
use crate::sandbox::{Capability, PluginKind};

/// Where a package's grants go in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `[channels.NAME]`.
    Channel(String),
    /// `[payments]`.
    Payments,
    /// A policy or a reader: nothing to grant; the config names it where the operator chooses.
    Named,
}

impl Target {
    pub fn of(kind: PluginKind, channel: Option<&str>, name: &str) -> Result<Target, Refused> {
        match (kind, channel) {
            (PluginKind::Channel, channel) => {
                let channel = channel.unwrap_or(name);
                crate::names::check("--channel", channel).map_err(|why| Refused::new("--channel", &why))?;
                Ok(Target::Channel(channel.to_string()))
            }
            (_, Some(_)) => Err(Refused::new("--channel", &format!("the package is a {}", kind.words()))),
            (PluginKind::Payment, None) => Ok(Target::Payments),
            (PluginKind::Policy | PluginKind::Reader, None) => Ok(Target::Named),
        }
    }

    /// The config's table for it, as `channels.sms`.
    pub fn table(&self) -> Option<String> {
        match self {
            Target::Channel(name) => Some(format!("channels.{name}")),
            Target::Payments => Some("payments".into()),
            Target::Named => None,
        }
    }
}

/// What the config grants the target today, in the terms of a package's asks.
pub fn granted(config: &Config, target: &Target) -> Asks {
    let reason = String::new;
    let (hosts, secrets, mail, folder, tasks) = match target {
        Target::Channel(name) => match config.channels.get(name) {
            Some(c) => (c.http_hosts.clone(), c.secrets.clone(), c.mail, c.folder.is_some(), c.tasks),
            None => Default::default(),
        },
        Target::Payments => match &config.payments {
            Some(p) => (p.http_hosts.clone(), p.secrets.clone(), false, false, false),
            None => Default::default(),
        },
        Target::Named => Default::default(),
    };
    Asks {
        http: (!hosts.is_empty()).then(|| super::HostsAsk { hosts, reason: reason() }),
        secrets: (!secrets.is_empty()).then(|| super::SecretsAsk { names: secrets, reason: reason() }),
        mail: mail.then(|| super::Reason { reason: reason() }),
        folder: folder.then(|| super::Reason { reason: reason() }),
        tasks: tasks.then(|| super::Reason { reason: reason() }),
    }
}

/// The version installed before, if any, with what it asked for.
pub fn previous(config: &Config, name: &str) -> Option<(String, Asks)> {
    let installed = config.plugins.installed.get(name)?;
    let bytes = std::fs::read(config.resolve(&installed.package)).ok()?;
    let package = Package::read(&bytes).ok()?;
    Some((installed.version.clone(), package.about.asks))
}

/// What installing adds to the grants of today.
pub fn beyond_today(config: &Config, target: &Target, package: &Package) -> Difference {
    Difference::between(&granted(config, target), &package.about.asks)
}

/// Keeps the package and its component beside the config and writes the
/// grants and the pinned digest into the config file. Returns what the
/// operator must still do (a secret's value, a folder's path).
pub fn apply(
    config_file: &Path,
    config: &Config,
    package: &Package,
    publisher: Option<&Publisher>,
    target: &Target,
) -> anyhow::Result<Vec<String>> {
    let about = &package.about;
    // The name is a slug (checked on load); the version is the component's own
    // text, so it stays out of the file name.
    let stem = format!("{}@{}", about.name, &package.digest["sha256:".len()..][..12]);
    let folder = PathBuf::from("plugins");
    std::fs::create_dir_all(config.dir.join(&folder))?;
    let (component, kept) = (folder.join(format!("{stem}.wasm")), folder.join(format!("{stem}.tar")));
    write_atomically(&config.dir.join(&component), &package.component)?;
    write_atomically(&config.dir.join(&kept), &package.to_tar())?;

    // A config that is not there yet starts empty.
    let text = if config_file.exists() { std::fs::read_to_string(config_file)? } else { String::new() };
    let mut doc: DocumentMut = text.parse()?;
    let mut todo = vec![];
    if let Some(path) = target.table() {
        let table = table_at(&mut doc, &path);
        table["adapter"] = value(component.to_string_lossy().as_ref());
        let asks = &about.asks;
        extend_list(table, "http_hosts", asks.hosts());
        extend_list(table, "secrets", asks.secrets());
        for (capability, key) in [(Capability::Mail, "mail"), (Capability::Tasks, "tasks")] {
            if asks.capabilities().contains(&capability) {
                table[key] = value(true);
            }
        }
        if asks.folder.is_some() && table.get("folder").is_none() {
            todo.push(format!("set {path}.folder to the folder it may write into"));
        }
        for secret in asks.secrets().iter().filter(|s| !config.secrets.contains_key(*s)) {
            todo.push(format!("give secrets.{secret} its value (or env:NAME)"));
        }
    } else {
        todo.push(format!("name {} where the config chooses a {}", component.display(), about.kind.words()));
    }
    let installed = table_at(&mut doc, &format!("plugins.installed.{}", about.name));
    installed["version"] = value(&about.version);
    installed["digest"] = value(&package.digest);
    match publisher {
        Some(p) => installed["publisher"] = value(&p.name),
        None => {
            installed.remove("publisher");
        }
    }
    installed["package"] = value(kept.to_string_lossy().as_ref());
    installed["component"] = value(component.to_string_lossy().as_ref());
    write_atomically(config_file, doc.to_string().as_bytes())?;
    Ok(todo)
}

/// The table at a dotted path, made (as a `[header]` table) where missing.
fn table_at<'d>(doc: &'d mut DocumentMut, path: &str) -> &'d mut Table {
    let mut table = doc.as_table_mut();
    for key in path.split('.') {
        let item = table.entry(key).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        if !item.is_table() {
            *item = Item::Table(Table::new());
        }
        table = item.as_table_mut().expect("made a table");
    }
    table.set_implicit(false);
    table
}

/// Adds `names` to the list at `key`, keeping what is there.
fn extend_list(table: &mut Table, key: &str, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let mut list: Array = table.get(key).and_then(|i| i.as_array()).cloned().unwrap_or_default();
    for name in names {
        if !list.iter().any(|v| v.as_str() == Some(name)) {
            list.push(name.as_str());
        }
    }
    table[key] = value(list);
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
