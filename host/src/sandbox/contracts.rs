//! The versions of the contract (`wit/`) this host loads components of. A
//! component names its version in its imports (`sollecito:plugin/types@0.2.0`);
//! one of another version is refused with the versions this host speaks.
//!
//! Each version is one module (`v0_1`, `v0_2`, `v0_3`) implementing `ContractVersion`:
//! how a component of it is linked and prepared, and each world's calls in
//! the host's own terms. The rest of the sandbox calls only the trait, so a
//! new version is its module, its variant here (with `contract_of`), its
//! line in `sandbox::module_of`, and `latest` moved to it if it is newest.

use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

use super::{CallState, Declared, PluginKind};
use crate::decision::{Decision, Review, Setting};
use crate::outgoing::{Charge, ChargeError, ChargeOutcome, DeliveryError, Message};
use crate::reading::{Reading, WrittenReply};

/// Each has its own module converting to the host's types (`v0_1`, `v0_2`, `v0_3`).
pub const CONTRACTS: [&str; 3] = ["0.1.0", "0.2.0", "0.3.0"];

/// One contract version's side of the sandbox.
pub(super) trait ContractVersion: Sync {
    /// The world a plugin of `kind` of this version implements.
    fn world(&self, kind: PluginKind) -> &'static str;
    /// Whether this version has `kind`'s world at all (readers came with 0.3).
    fn speaks(&self, kind: PluginKind) -> bool;
    /// Adds the imports of `kind`'s world to the linker.
    fn link(&self, kind: PluginKind, linker: &mut Linker<CallState>) -> wasmtime::Result<()>;
    /// Checks a component against `kind`'s world and prepares it for calls.
    fn prepare(&self, kind: PluginKind, pre: InstancePre<CallState>) -> wasmtime::Result<Box<dyn Prepared>>;
}

/// What `describe` answered, whatever the version.
pub(super) struct Described {
    pub name: String,
    pub version: String,
    pub summary: String,
    /// A policy's templates and channels, where the version declares them.
    pub declared: Option<Declared>,
}

/// A component of one version and world, instantiated afresh for each call.
/// A call that the world does not have answers `None`.
pub(super) trait Prepared: Send + Sync {
    fn describe(&self, store: &mut Store<CallState>) -> wasmtime::Result<Described>;

    fn decide(
        &self,
        _store: &mut Store<CallState>,
        _now: i64,
        _settings: &[Setting],
        _batch: &[Review],
    ) -> Option<wasmtime::Result<Vec<Result<Decision, String>>>> {
        None
    }

    fn deliver(
        &self,
        _store: &mut Store<CallState>,
        _settings: &[Setting],
        _message: &Message,
    ) -> Option<wasmtime::Result<Result<String, DeliveryError>>> {
        None
    }

    fn charge(
        &self,
        _store: &mut Store<CallState>,
        _settings: &[Setting],
        _charge: &Charge,
    ) -> Option<wasmtime::Result<Result<ChargeOutcome, ChargeError>>> {
        None
    }

    /// A reader's readings of replies, one each, in order.
    fn read(
        &self,
        _store: &mut Store<CallState>,
        _settings: &[Setting],
        _replies: &[WrittenReply],
    ) -> Option<wasmtime::Result<Vec<Result<Reading, String>>>> {
        None
    }

    /// A policy of the newest version, called with its own types (benchmarks
    /// and tests of the contract itself).
    fn as_latest_policy(&self) -> Option<&super::latest::policy::PolicyPre<CallState>> {
        None
    }
}

/// The contract version a component was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contract {
    V0_1,
    V0_2,
    V0_3,
}

impl Contract {
    pub const ALL: [Contract; 3] = [Contract::V0_1, Contract::V0_2, Contract::V0_3];

    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => CONTRACTS[0],
            Contract::V0_2 => CONTRACTS[1],
            Contract::V0_3 => CONTRACTS[2],
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
        [] | ["0.3.0"] => Ok(Contract::V0_3),
        ["0.2.0"] => Ok(Contract::V0_2),
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
        assert_eq!(contract_of(["sollecito:plugin/types@0.3.0"]), Ok(Contract::V0_3));
        assert_eq!(contract_of(["wasi:cli/environment@0.2.6"]), Ok(Contract::V0_3));
    }

    #[test]
    fn another_contract_version_is_named_with_the_ones_supported() {
        assert_eq!(
            contract_of(["sollecito:plugin/types@0.9.0"]),
            Err("built for contract sollecito:plugin@0.9.0; this host supports sollecito:plugin@0.1.0, @0.2.0, @0.3.0"
                .into())
        );
        assert_eq!(
            contract_of(["sollecito:plugin/types@0.1.0", "sollecito:plugin/log@0.2.0"]),
            Err("imports several contract versions at once (0.1.0, 0.2.0)".into())
        );
    }
}
