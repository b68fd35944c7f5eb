//! `plugin pack|keygen|sign|install`: a package made, signed and installed.

use std::path::{Path, PathBuf};

use super::exit::BadUsage;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::package::{self, Package, Refused, Target};
use crate::sandbox::{Capability, PluginSource};

/// A package refused, as bad input (exit 2): the store and the config unchanged.
fn refused(file: &Path, e: Refused) -> anyhow::Error {
    BadUsage(format!("{}: refused: {e}", file.display())).into()
}

fn read(file: &Path) -> anyhow::Result<Package> {
    if let Some(url) = file.to_str().filter(|f| f.starts_with("oci://")) {
        let reference = package::reference(url).map_err(|e| refused(file, e))?;
        let pulled = async { Ok(package::pull(&reference).await) };
        return super::block_on(pulled)?.map_err(|e| refused(file, e));
    }
    let bytes = std::fs::read(file).map_err(|e| BadUsage(format!("{}: cannot read: {e}", file.display())))?;
    Package::read(&bytes).map_err(|e| refused(file, e))
}

/// `plugin pack DIR`: writes NAME-VERSION.tar (or `out`) and prints its digest.
pub(super) fn pack(catalog: &Catalog, dir: &Path, out: Option<PathBuf>) -> anyhow::Result<()> {
    let package = package::pack(dir, catalog.sandbox()).map_err(|e| refused(dir, e))?;
    let about = &package.about;
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{}-{}.tar", about.name, about.version)));
    std::fs::write(&out, package.to_tar())?;
    out!("packed {} {} ({}) into {}", about.name, about.version, about.kind.words(), out.display())?;
    out!("digest {}", package.digest)?;
    Ok(())
}

/// `plugin push PACKAGE oci://REGISTRY/NAME:TAG`: the package and its signatures.
pub(super) fn push(file: &Path, to: &str) -> anyhow::Result<()> {
    let package = read(file)?;
    let reference = package::reference(to).map_err(|e| refused(Path::new(to), e))?;
    let pushed = async { Ok(package::push(&package, &reference).await) };
    let digest = super::block_on(pushed)?.map_err(|e| refused(Path::new(to), e))?;
    let signed = package.signatures.len();
    out!("pushed {} {} to {to} ({signed} signature(s))", package.about.name, package.about.version)?;
    out!("digest {digest}")?;
    Ok(())
}

/// `plugin keygen --out KEY`: KEY (secret) and KEY.pub, never over existing files.
pub(super) fn keygen(out: &Path) -> anyhow::Result<()> {
    let keys = package::keygen().map_err(|e| BadUsage(e.to_string()))?;
    let public = PathBuf::from(format!("{}.pub", out.display()));
    for (path, text) in [(out, &keys.secret), (public.as_path(), &keys.public)] {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| BadUsage(format!("{}: {e} (a key is never overwritten)", path.display())))?;
        restrict(&file, path == out)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
    }
    out!("secret key: {} (keep it secret)", out.display())?;
    out!("public key: {}", public.display())?;
    out!("an operator trusts it with, in sollecito.toml:\n[plugins.trusted]\nyour-name = \"{}\"", keys.public_line)?;
    Ok(())
}

#[cfg(unix)]
fn restrict(file: &std::fs::File, secret: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(if secret { 0o600 } else { 0o644 }))
}

#[cfg(not(unix))]
fn restrict(_: &std::fs::File, _: bool) -> std::io::Result<()> {
    Ok(())
}

/// `plugin sign PACKAGE --key KEY`: the package file with one more signature.
pub(super) fn sign(file: &Path, key: &Path) -> anyhow::Result<()> {
    let package = read(file)?;
    let secret = std::fs::read_to_string(key).map_err(|e| BadUsage(format!("{}: cannot read: {e}", key.display())))?;
    let signed = package::sign(&package, &secret).map_err(|e| refused(key, e))?;
    std::fs::write(file, signed.to_tar())?;
    out!("signed {} {} ({})", package.about.name, package.about.version, package.digest)?;
    Ok(())
}

/// What `plugin install` was asked.
pub(super) struct Install {
    pub file: PathBuf,
    pub channel: Option<String>,
    pub yes: bool,
    pub allow_unsigned: bool,
}

/// `plugin install PACKAGE`: verified, checked against its component, its
/// scenarios played, what it asks shown against what is granted today; then,
/// only with `--yes`, installed and granted.
pub(super) fn install(config_file: &Path, catalog: &mut Catalog, asked: Install) -> anyhow::Result<()> {
    // No config yet: the defaults, and the file is written only if it installs.
    let config = match config_file.exists() {
        true => Config::load(Some(config_file))?,
        false => Config { dir: config_file.parent().map(Path::to_path_buf).unwrap_or_default(), ..Config::default() },
    };
    let file = asked.file.as_path();
    let package = read(file)?;
    let publisher = package.verify(&config.plugins.trusted, asked.allow_unsigned).map_err(|e| refused(file, e))?;
    let plugin = catalog
        .sandbox()
        .load(&package.component, PluginSource::File(file.to_path_buf()))
        .map_err(|e| refused(file, Refused::new("component", &e.reason)))?;
    package.about.check_against(&plugin).map_err(|e| refused(file, e))?;
    let about = &package.about;
    let target = Target::of(about.kind, asked.channel.as_deref(), &about.name).map_err(|e| refused(file, e))?;
    let signed = match &publisher {
        Some(p) => format!("signed by {} (key {})", p.name, p.key_id),
        None => "NOT SIGNED (--allow-unsigned)".to_string(),
    };
    out!("{} {} ({}), {}", about.name, about.version, about.kind.words(), signed)?;
    out!("digest {}", package.digest)?;
    let scenarios: Vec<(String, String)> = about.scenarios.clone().into_iter().collect();
    let verdicts = super::author::play(config.clone(), catalog, std::sync::Arc::new(plugin), &scenarios)?;
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    out!("scenarios: {} of {} pass", verdicts.len() - failed, verdicts.len())?;
    if failed > 0 {
        let names: Vec<&str> = verdicts.iter().filter(|v| !v.passed).map(|v| v.file.as_str()).collect();
        return Err(refused(file, Refused::new("scenarios", &format!("failing: {}", names.join(", ")))));
    }
    show_asks(&config, &package, &target)?;
    if !asked.yes {
        out!("nothing was installed or granted: run again with --yes to install it and grant the above")?;
        return Err(BadUsage("not confirmed (--yes)".into()).into());
    }
    let todo = package::apply(config_file, &config, &package, publisher.as_ref(), &target)?;
    out!("installed; {} now pins {}", config_file.display(), package.digest)?;
    for line in todo {
        out!("still to do: {line}")?;
    }
    Ok(())
}

/// Each ask with its reason and whether the config grants it today, then
/// what this version asks beyond the one installed before.
fn show_asks(config: &Config, package: &Package, target: &Target) -> anyhow::Result<()> {
    let asks = &package.about.asks;
    let beyond = package::beyond_today(config, target, package);
    let where_ = target.table().map(|t| format!(" in [{t}]")).unwrap_or_default();
    if asks.capabilities().is_empty() {
        out!("it asks for nothing: it runs with no capability")?;
    } else {
        out!("it asks for{where_}:")?;
    }
    let state = |new: bool| if new { "NEW" } else { "granted today" };
    if let Some(h) = &asks.http {
        for host in &h.hosts {
            out!("  http {host}: {} ({})", h.reason, state(beyond.hosts.contains(host)))?;
        }
    }
    if let Some(s) = &asks.secrets {
        for name in &s.names {
            out!("  secret {name}: {} ({})", s.reason, state(beyond.secrets.contains(name)))?;
        }
    }
    let simple = [
        (&asks.mail, Capability::Mail, "the mail relay"),
        (&asks.folder, Capability::Folder, "a folder"),
        (&asks.tasks, Capability::Tasks, "tasks for people"),
    ];
    for (ask, capability, what) in simple.into_iter().filter_map(|(a, c, w)| Some((a.as_ref()?, c, w))) {
        out!("  {what}: {} ({})", ask.reason, state(beyond.capabilities.contains(&capability)))?;
    }
    if let Some((version, before)) = package::previous(config, &package.about.name) {
        let more = package::Difference::between(&before, asks);
        if more.is_empty() {
            out!("against {version}, installed now: it asks for nothing more")?;
        } else {
            out!("against {version}, installed now: it ALSO asks for {more}")?;
        }
    }
    Ok(())
}
