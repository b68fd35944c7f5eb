//! The versions of the contract (`wit/`) this host loads components of. A
//! component names its version in its imports (`sollecito:plugin/types@0.2.0`);
//! one of another version is refused with the versions this host speaks.

/// Each has its own module converting to the host's types (`v0_1`, `v0_2`).
pub const CONTRACTS: [&str; 2] = ["0.1.0", "0.2.0"];

/// The contract version a component was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contract {
    V0_1,
    V0_2,
}

impl Contract {
    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => CONTRACTS[0],
            Contract::V0_2 => CONTRACTS[1],
        }
    }
}

/// The version a component's imports name. A component that names none
/// (nothing of `sollecito:plugin` imported) is taken as the newest; one that
/// names a version this host does not speak, or two versions, is refused.
pub(super) fn contract_of<'a>(imports: impl IntoIterator<Item = &'a str>) -> Result<Contract, String> {
    let mut named: Vec<&str> = imports
        .into_iter()
        .filter_map(|name| name.strip_prefix("sollecito:plugin/")?.split_once('@').map(|(_, v)| v))
        .collect();
    named.sort_unstable();
    named.dedup();
    match named.as_slice() {
        [] | ["0.2.0"] => Ok(Contract::V0_2),
        ["0.1.0"] => Ok(Contract::V0_1),
        [version] => Err(format!(
            "built for contract sollecito:plugin@{version}; this host supports sollecito:plugin@{}",
            CONTRACTS.join(", @")
        )),
        several => Err(format!("imports several contract versions at once ({})", several.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_comes_from_the_imports() {
        assert_eq!(contract_of(["sollecito:plugin/log@0.1.0", "wasi:cli/environment@0.2.6"]), Ok(Contract::V0_1));
        assert_eq!(contract_of(["sollecito:plugin/types@0.2.0", "sollecito:plugin/log@0.2.0"]), Ok(Contract::V0_2));
        assert_eq!(contract_of(["wasi:cli/environment@0.2.6"]), Ok(Contract::V0_2));
    }

    #[test]
    fn another_contract_version_is_named_with_the_ones_supported() {
        assert_eq!(
            contract_of(["sollecito:plugin/types@0.9.0"]),
            Err("built for contract sollecito:plugin@0.9.0; this host supports sollecito:plugin@0.1.0, @0.2.0".into())
        );
        assert_eq!(
            contract_of(["sollecito:plugin/types@0.1.0", "sollecito:plugin/log@0.2.0"]),
            Err("imports several contract versions at once (0.1.0, 0.2.0)".into())
        );
    }
}
