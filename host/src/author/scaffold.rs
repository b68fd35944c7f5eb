//! `sollecito plugin new policy|channel|payment NAME`: a crate that builds to
//! a component with one command and passes its own scenarios out of the box.

use std::path::{Path, PathBuf};

use minijinja::{Environment, context};

use crate::sandbox::PluginKind;

/// The SDK's version, which the scaffold pins (the plugins' workspace version).
pub const SDK_VERSION: &str = "0.3.0";

/// The SDK this binary was built beside; a scaffold made elsewhere names one with `--sdk`.
pub fn bundled_sdk() -> Option<PathBuf> {
    std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/sdk")).ok()
}

/// A scaffold that cannot be made, and why.
#[derive(Debug, thiserror::Error)]
#[error("plugin new: {0}")]
pub struct CannotScaffold(pub String);

/// The files of a policy crate, by path inside it.
const POLICY: [(&str, &str); 5] = [
    ("plugin.toml", include_str!("../../author/plugin.toml.j2")),
    ("Cargo.toml", include_str!("../../author/policy/Cargo.toml.j2")),
    ("src/lib.rs", include_str!("../../author/policy/lib.rs.j2")),
    ("scenarios/ladder.toml", include_str!("../../author/policy/scenario.toml.j2")),
    ("README.md", include_str!("../../author/policy/README.md.j2")),
];

const CHANNEL: [(&str, &str); 6] = [
    ("plugin.toml", include_str!("../../author/plugin.toml.j2")),
    ("Cargo.toml", include_str!("../../author/channel/Cargo.toml.j2")),
    ("src/lib.rs", include_str!("../../author/channel/lib.rs.j2")),
    ("scenarios/delivered.toml", include_str!("../../author/channel/delivered.toml.j2")),
    ("scenarios/unavailable.toml", include_str!("../../author/channel/unavailable.toml.j2")),
    ("README.md", include_str!("../../author/adapter-README.md.j2")),
];

const PAYMENT: [(&str, &str); 6] = [
    ("plugin.toml", include_str!("../../author/plugin.toml.j2")),
    ("Cargo.toml", include_str!("../../author/payment/Cargo.toml.j2")),
    ("src/lib.rs", include_str!("../../author/payment/lib.rs.j2")),
    ("scenarios/succeeded.toml", include_str!("../../author/payment/succeeded.toml.j2")),
    ("scenarios/declined.toml", include_str!("../../author/payment/declined.toml.j2")),
    ("README.md", include_str!("../../author/adapter-README.md.j2")),
];

/// Lock files, so a scaffold builds with the versions the project's own
/// plugins are tested with: the example policy's, and the plugins' (adapters).
const POLICY_LOCK: &str = include_str!("../../../examples/custom-policy/Cargo.lock");
const ADAPTER_LOCK: &str = include_str!("../../../plugins/Cargo.lock");

/// `acme-gentle` to `AcmeGentle`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// A plugin's name: lowercase letters, digits and single hyphens, starting with a letter.
fn check_name(name: &str) -> Result<(), CannotScaffold> {
    let ok = (2..=48).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        return Ok(());
    }
    Err(CannotScaffold(format!(
        "NAME {name:?}: use 2 to 48 lowercase letters, digits and single hyphens, starting with a letter \
         (it names the crate, the component and the plugin)"
    )))
}

/// Writes a crate for a plugin of `kind` named `name` into `dir` (which must
/// not exist yet) and returns the files written.
pub fn new(kind: PluginKind, name: &str, dir: &Path, sdk: &Path) -> Result<Vec<PathBuf>, CannotScaffold> {
    check_name(name)?;
    if kind == PluginKind::Reader {
        // A reader is small enough to start from the bundled one (plugins/reader).
        return Err(CannotScaffold("no scaffold for a reader yet: copy plugins/reader and rename it".into()));
    }
    if dir.exists() {
        return Err(CannotScaffold(format!("{} exists already; pick another --dir or remove it", dir.display())));
    }
    let sdk = std::fs::canonicalize(sdk)
        .ok()
        .filter(|p| p.join("Cargo.toml").is_file())
        .ok_or_else(|| CannotScaffold(format!("--sdk {}: no SDK crate there", sdk.display())))?;
    // The adapter kit and the contract sit beside the SDK (plugins/adapter, wit/).
    let adapter = sdk.parent().map(|p| p.join("adapter")).filter(|p| p.join("Cargo.toml").is_file());
    let wit = sdk.parent().and_then(Path::parent).map(|p| p.join("wit")).filter(|p| p.join("types.wit").is_file());
    let (adapter, wit) = match (kind, adapter, wit) {
        (PluginKind::Policy, adapter, wit) => (adapter.unwrap_or_default(), wit.unwrap_or_default()),
        (_, Some(adapter), Some(wit)) => (adapter, wit),
        _ => {
            return Err(CannotScaffold(format!(
                "--sdk {}: no adapter kit (../adapter) or contract (../../wit) beside it",
                sdk.display()
            )));
        }
    };
    // TOML and Rust strings alike escape backslashes and quotes.
    let quoted = |p: &Path| -> Result<String, CannotScaffold> {
        let text = p.to_str().ok_or_else(|| CannotScaffold(format!("{}: the path is not UTF-8", p.display())))?;
        Ok(text.replace('\\', "\\\\").replace('"', "\\\""))
    };
    let sdk_text = quoted(&sdk)?;
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    let file = name.replace('-', "_");
    let values = context! {
        name => name, type_name => type_name(name), file => file,
        sdk => sdk_text, sdk_version => SDK_VERSION, adapter => quoted(&adapter)?, wit => quoted(&wit)?,
        kind => match kind { PluginKind::Channel => "channel", PluginKind::Payment => "payment", _ => "policy" },
        input => if kind == PluginKind::Channel { "message" } else { "charge" },
        env => format!("SOLLECITO_{}_SECRET", file.to_ascii_uppercase()),
        // What `plugin.toml` asks for: the host its scenarios grant, and why.
        host => if kind == PluginKind::Channel { "hooks.example.com" } else { "billing.example.com" },
        why_http => if kind == PluginKind::Channel {
            "posts each reminder to your system, which delivers it"
        } else {
            "asks your billing system to charge the customer's saved payment method"
        },
        scenarios => match kind {
            PluginKind::Channel => vec!["delivered.toml", "unavailable.toml"],
            PluginKind::Policy => vec!["ladder.toml"],
            _ => vec!["declined.toml", "succeeded.toml"],
        },
    };
    let (files, lock) = match kind {
        PluginKind::Policy => {
            (&POLICY[..], POLICY_LOCK.replacen("name = \"acme-gentle\"", &format!("name = \"{name}\""), 1))
        }
        PluginKind::Channel => (&CHANNEL[..], ADAPTER_LOCK.to_string()),
        PluginKind::Payment | PluginKind::Reader => (&PAYMENT[..], ADAPTER_LOCK.to_string()),
    };
    let mut written = vec![];
    for &(path, template) in files {
        let text =
            env.render_str(template, &values).map_err(|e| CannotScaffold(format!("the {path} template: {e}")))?;
        let target = dir.join(path);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(target.parent().expect("a file inside the crate"))?;
            std::fs::write(&target, text)
        };
        write().map_err(|e| CannotScaffold(format!("{}: {e}", target.display())))?;
        written.push(target);
    }
    let lock_file = dir.join("Cargo.lock");
    std::fs::write(&lock_file, lock).map_err(|e| CannotScaffold(format!("{}: {e}", lock_file.display())))?;
    written.push(lock_file);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_typed() {
        assert_eq!(type_name("acme-gentle"), "AcmeGentle");
        assert_eq!(type_name("b2b"), "B2b");
        for bad in ["", "a", "Acme", "9lives", "acme--x", "acme-", "acme_x", "acmé"] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_name("acme-gentle-2").is_ok());
    }

    #[test]
    fn the_sdk_version_is_the_plugins_workspace_version() {
        let manifest = include_str!("../../../plugins/Cargo.toml");
        assert!(manifest.contains(&format!("version = \"{SDK_VERSION}\"")), "bump SDK_VERSION with the SDK");
    }

    #[test]
    fn a_scaffold_is_written_once_and_never_over_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = bundled_sdk().unwrap();
        let files = new(PluginKind::Policy, "acme-gentle", &dir.path().join("acme"), &sdk).unwrap();
        assert_eq!(files.len(), 6);
        let lock = std::fs::read_to_string(dir.path().join("acme/Cargo.lock")).unwrap();
        assert!(lock.contains("name = \"acme-gentle\"") && lock.contains("name = \"wit-bindgen\""));
        let manifest = std::fs::read_to_string(dir.path().join("acme/Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"acme-gentle\"") && manifest.contains("version = \"=0.3.0\""));
        let lib = std::fs::read_to_string(dir.path().join("acme/src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct AcmeGentle;") && lib.contains("sollecito_sdk::policy!(AcmeGentle);"));
        let err = new(PluginKind::Policy, "acme-gentle", &dir.path().join("acme"), &sdk).unwrap_err();
        assert!(err.to_string().contains("exists already"), "{err}");
        let err = new(PluginKind::Policy, "acme", &dir.path().join("other"), dir.path()).unwrap_err();
        assert!(err.to_string().contains("no SDK crate there"), "{err}");
    }

    #[test]
    fn adapters_are_scaffolded_against_the_kit_and_the_contract_beside_the_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = bundled_sdk().unwrap();
        for (kind, name, scenarios) in [
            (PluginKind::Channel, "acme-hook", ["delivered", "unavailable"]),
            (PluginKind::Payment, "acme-billing", ["succeeded", "declined"]),
        ] {
            let crate_dir = dir.path().join(name);
            let files = new(kind, name, &crate_dir, &sdk).unwrap();
            assert_eq!(files.len(), 7, "{files:?}");
            for s in scenarios {
                assert!(crate_dir.join(format!("scenarios/{s}.toml")).is_file(), "{s}");
            }
            let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
            let wit = sdk.parent().unwrap().parent().unwrap().join("wit");
            assert!(lib.contains(&format!("path: {:?}", wit.to_str().unwrap())), "{lib}");
            let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
            assert!(manifest.contains("sollecito-adapter = { path = ") && manifest.contains("version = \"=0.3.0\""));
            let readme = std::fs::read_to_string(crate_dir.join("README.md")).unwrap();
            let section = if kind == PluginKind::Channel { "[channels.acme-hook]" } else { "[payments]" };
            assert!(readme.contains(section), "{readme}");
        }
        // An SDK without the kit beside it cannot make an adapter.
        let lone = dir.path().join("lone/sdk");
        std::fs::create_dir_all(&lone).unwrap();
        std::fs::write(lone.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        let err = new(PluginKind::Channel, "acme-x", &dir.path().join("x"), &lone).unwrap_err();
        assert!(err.to_string().contains("no adapter kit (../adapter) or contract (../../wit) beside it"), "{err}");
    }
}
