//! The versions of the contract (`wit/`) this host loads components of. A
//! component built against another names it in its imports
//! (`sollecito:plugin/log@0.9.0`); it is refused with both versions named.

/// Each has its own module converting to the host's types (`v0_1`).
pub const CONTRACTS: [&str; 1] = ["0.1.0"];

/// Refuses a component whose imports name a contract version this host does not speak.
pub(super) fn check_imports<'a>(imports: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let other = imports
        .into_iter()
        .filter_map(|name| name.strip_prefix("sollecito:plugin/")?.split_once('@').map(|(_, v)| v))
        .find(|version| !CONTRACTS.contains(version));
    match other {
        Some(version) => Err(format!(
            "built for contract sollecito:plugin@{version}; this host supports sollecito:plugin@{}",
            CONTRACTS.join(", @")
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_contract_version_is_named_with_the_ones_supported() {
        assert_eq!(check_imports(["sollecito:plugin/log@0.1.0", "wasi:cli/environment@0.2.6"]), Ok(()));
        assert_eq!(
            check_imports(["sollecito:plugin/types@0.2.0"]),
            Err("built for contract sollecito:plugin@0.2.0; this host supports sollecito:plugin@0.1.0".into())
        );
    }
}
