//! `sollecito plugin ...`: an author's kit (new, test) and packages (pack,
//! keygen, sign, push, install).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::exit::printed;
use crate::catalog::Catalog;
use crate::config::Config;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Write a new plugin crate that builds with one command and passes its own scenario.
    New {
        #[arg(value_enum)]
        kind: ScaffoldKind,
        /// The plugin's name: lowercase letters, digits and hyphens.
        name: String,
        /// Where to write it (default: a folder named NAME here).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The SDK crate to build against (default: the one this sollecito was built with).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Make a package of the plugin in DIR (its `plugin.toml`, component and scenarios).
    Pack {
        dir: PathBuf,
        /// The package file to write (default: NAME-VERSION.tar here).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Make a signing key pair: KEY (secret) and KEY.pub (minisign format).
    Keygen {
        #[arg(long, value_name = "KEY")]
        out: PathBuf,
    },
    /// Sign a package file with a secret key; the signature goes inside it.
    Sign {
        package: PathBuf,
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
    },
    /// Push a package file, with its signatures, to an OCI registry.
    Push {
        package: PathBuf,
        /// oci://REGISTRY/NAME:TAG
        #[arg(value_name = "OCI_URL")]
        to: String,
    },
    /// Verify a package (a file, or oci://REGISTRY/NAME:TAG or @sha256:...), play its scenarios, show what it asks for against
    /// what the config grants today; with --yes, install it and grant that.
    Install {
        package: PathBuf,
        /// The channel a channel adapter delivers (default: the plugin's name).
        #[arg(long)]
        channel: Option<String>,
        /// Install and grant without asking again.
        #[arg(long)]
        yes: bool,
        /// Install a package no trusted publisher signed (one you built yourself).
        #[arg(long)]
        allow_unsigned: bool,
    },
    /// Play scenarios (TOML) with a policy on the real engine; fail on any difference.
    Test {
        /// A bundled policy by name, or a path to a policy component (.wasm).
        #[arg(value_name = "NAME|PATH")]
        plugin: String,
        #[arg(required = true, value_name = "SCENARIO")]
        scenarios: Vec<PathBuf>,
        /// Print one JSON document instead of lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ScaffoldKind {
    Policy,
    Channel,
    Payment,
}

/// `sollecito plugin ...`: what a plugin's author runs, and what installs a package.
pub(super) fn run(
    what: PluginCommand,
    (config, config_file): (impl Fn() -> Result<Config, crate::config::BadConfig>, &Path),
    catalog: &mut Catalog,
) -> anyhow::Result<()> {
    match what {
        PluginCommand::New { kind, name, dir, sdk } => {
            let kind = match kind {
                ScaffoldKind::Policy => crate::sandbox::PluginKind::Policy,
                ScaffoldKind::Channel => crate::sandbox::PluginKind::Channel,
                ScaffoldKind::Payment => crate::sandbox::PluginKind::Payment,
            };
            super::author::new_plugin(kind, &name, dir, sdk)
        }
        PluginCommand::Test { plugin, scenarios, json } => {
            printed(super::author::test(config()?, catalog, &plugin, &scenarios, json))
        }
        PluginCommand::Pack { dir, out } => super::package::pack(catalog, &dir, out),
        PluginCommand::Keygen { out } => super::package::keygen(&out),
        PluginCommand::Sign { package: file, key } => super::package::sign(&file, &key),
        PluginCommand::Push { package: file, to } => super::package::push(&file, &to),
        PluginCommand::Install { package: file, channel, yes, allow_unsigned } => super::package::install(
            config_file,
            catalog,
            super::package::Install { file, channel, yes, allow_unsigned },
        ),
    }
}
