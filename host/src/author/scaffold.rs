//! `sollecito plugin new policy NAME`: a crate that builds to a policy
//! component with one command and passes its own scenario out of the box.

use std::path::{Path, PathBuf};

use minijinja::{Environment, context};

/// The SDK's version, which the scaffold pins (the plugins' workspace version).
pub const SDK_VERSION: &str = "0.2.0";

/// The SDK this binary was built beside; a scaffold made elsewhere names one with `--sdk`.
pub fn bundled_sdk() -> Option<PathBuf> {
    std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/sdk")).ok()
}

/// A scaffold that cannot be made, and why.
#[derive(Debug, thiserror::Error)]
#[error("plugin new: {0}")]
pub struct CannotScaffold(pub String);

/// The files of a policy crate, by path inside it.
const POLICY: [(&str, &str); 4] = [
    ("Cargo.toml", include_str!("../../author/policy/Cargo.toml.j2")),
    ("src/lib.rs", include_str!("../../author/policy/lib.rs.j2")),
    ("scenarios/ladder.toml", include_str!("../../author/policy/scenario.toml.j2")),
    ("README.md", include_str!("../../author/policy/README.md.j2")),
];

/// The example policy's lock file: a scaffold builds with the versions the
/// project's own policies are tested with.
const LOCK: &str = include_str!("../../../examples/custom-policy/Cargo.lock");

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

/// Writes a policy crate named `name` into `dir` (which must not exist yet)
/// and returns the files written.
pub fn policy(name: &str, dir: &Path, sdk: &Path) -> Result<Vec<PathBuf>, CannotScaffold> {
    check_name(name)?;
    if dir.exists() {
        return Err(CannotScaffold(format!("{} exists already; pick another --dir or remove it", dir.display())));
    }
    let sdk = std::fs::canonicalize(sdk)
        .ok()
        .filter(|p| p.join("Cargo.toml").is_file())
        .ok_or_else(|| CannotScaffold(format!("--sdk {}: no SDK crate there", sdk.display())))?;
    let sdk_text = sdk.to_str().ok_or_else(|| CannotScaffold("--sdk: the path is not UTF-8".into()))?;
    // TOML basic strings escape backslashes and quotes.
    let sdk_text = sdk_text.replace('\\', "\\\\").replace('"', "\\\"");
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    let values = context! {
        name => name, type_name => type_name(name), file => name.replace('-', "_"),
        sdk => sdk_text, sdk_version => SDK_VERSION,
    };
    let mut written = vec![];
    for (path, template) in POLICY {
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
    let lock = dir.join("Cargo.lock");
    std::fs::write(&lock, LOCK.replacen("name = \"acme-gentle\"", &format!("name = \"{name}\""), 1))
        .map_err(|e| CannotScaffold(format!("{}: {e}", lock.display())))?;
    written.push(lock);
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
        let files = policy("acme-gentle", &dir.path().join("acme"), &sdk).unwrap();
        assert_eq!(files.len(), 5);
        let lock = std::fs::read_to_string(dir.path().join("acme/Cargo.lock")).unwrap();
        assert!(lock.contains("name = \"acme-gentle\"") && lock.contains("name = \"wit-bindgen\""));
        let manifest = std::fs::read_to_string(dir.path().join("acme/Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"acme-gentle\"") && manifest.contains("version = \"=0.2.0\""));
        let lib = std::fs::read_to_string(dir.path().join("acme/src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct AcmeGentle;") && lib.contains("sollecito_sdk::policy!(AcmeGentle);"));
        let err = policy("acme-gentle", &dir.path().join("acme"), &sdk).unwrap_err();
        assert!(err.to_string().contains("exists already"), "{err}");
        let err = policy("acme", &dir.path().join("other"), dir.path()).unwrap_err();
        assert!(err.to_string().contains("no SDK crate there"), "{err}");
    }
}
