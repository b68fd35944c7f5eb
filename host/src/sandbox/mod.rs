//! Runs plugins: compiles (or loads from cache), checks the world they
//! implement, and calls them under fuel, memory and answer-size bounds with a
//! WASI context that grants nothing (fixed clock, seeded randomness, no files,
//! no network), so a policy's decision depends only on its input.

#[macro_use]
mod versions;
#[macro_use]
mod lean;
mod answers;
pub mod cache;
mod calls;
mod capabilities;
mod capture;
mod contracts;
mod evaluate;
pub mod limits;
mod printed;
mod read;
pub mod v0_1;
pub mod v0_2;
pub mod v0_3;

use std::fmt;

use answers::truncate;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtxBuilder};

pub use cache::CompiledCache;
pub use capabilities::Capability;
pub use capabilities::http::{HttpRequest, HttpResponse, HttpTransport, Network};
pub use capture::{Capture, Captured, HttpScript, KEPT};
pub use contracts::{CONTRACTS, Contract};
use contracts::{ContractVersion, Described, Prepared};
pub use limits::{CallState, FuelMeter, FuelUsed, Limits};
/// The newest contract version, named in one place.
pub use v0_3 as latest;

/// Fuel used by every plugin call of this process, for the metrics.
static FUEL_USED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn fuel_used() -> u64 {
    FUEL_USED.load(std::sync::atomic::Ordering::Relaxed)
}

fn count_fuel(store: &Store<CallState>, budget: u64) -> u64 {
    let used = budget.saturating_sub(store.get_fuel().unwrap_or(0));
    FUEL_USED.fetch_add(used, std::sync::atomic::Ordering::Relaxed);
    used
}

pub const POLICY_WORLD: &str = "sollecito:plugin/policy@0.3.0";
pub const CHANNEL_WORLD: &str = "sollecito:plugin/channel@0.3.0";
pub const PAYMENT_WORLD: &str = "sollecito:plugin/payment@0.3.0";
pub const READER_WORLD: &str = "sollecito:plugin/reader@0.3.0";

/// The world a plugin of this kind and contract version implements.
pub fn world(kind: PluginKind, contract: Contract) -> &'static str {
    module_of(contract).world(kind)
}

/// Each contract version's module: the one place that lists them.
fn module_of(contract: Contract) -> &'static dyn ContractVersion {
    match contract {
        Contract::V0_1 => &v0_1::Version,
        Contract::V0_2 => &v0_2::Version,
        Contract::V0_3 => &v0_3::Version,
    }
}

/// The templates and channels a policy declared in `describe` (contract 0.2
/// on): it may name no other.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Declared {
    pub templates: BTreeSet<String>,
    pub channels: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    Policy,
    Channel,
    Payment,
    /// Reads what a customer's reply says (contract 0.3 on).
    Reader,
}

impl PluginKind {
    pub const ALL: [PluginKind; 4] = [PluginKind::Policy, PluginKind::Channel, PluginKind::Payment, PluginKind::Reader];

    /// What it is, in words.
    pub fn words(self) -> &'static str {
        match self {
            PluginKind::Policy => "policy",
            PluginKind::Channel => "channel adapter",
            PluginKind::Payment => "payment adapter",
            PluginKind::Reader => "reply reader",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "type", content = "path")]
pub enum PluginSource {
    Bundled,
    File(PathBuf),
}

impl fmt::Display for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginSource::Bundled => f.write_str("bundled"),
            PluginSource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Who a plugin is: every decision records this.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PluginId {
    pub name: String,
    pub version: String,
    pub summary: String,
    pub kind: PluginKind,
    pub world: &'static str,
    pub sha256: String,
    pub source: PluginSource,
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (sha256 {})", self.name, self.version, &self.sha256[..12])
    }
}

/// A plugin that cannot be used, with the file (or bundled name) and why.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin}: {reason}")]
pub struct LoadError {
    pub plugin: String,
    pub reason: String,
}

/// A policy call that failed for some invoices; the others are unaffected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("policy {plugin} failed on {}: {reason}", invoices.join(", "))]
pub struct PolicyError {
    pub plugin: String,
    pub invoices: Vec<String>,
    pub reason: String,
}

/// Sends email for a channel adapter that was granted it (implemented by `deliver`).
pub trait MailRelay: Send + Sync {
    fn send(&self, email: &crate::outgoing::Email, now: i64) -> Result<String, RelayError>;
}

/// Why a relay did not take a message, by whose it is to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayError {
    /// The recipient's: no such mailbox, the message refused for good. The step fails.
    Recipient(String),
    /// Worth another try later: a 4xx, a dropped connection.
    Transient(String),
    /// The operator's setup: a From the relay refuses, authentication, TLS, a
    /// relay that cannot be reached. The message waits; it is never the customer's failure.
    Setup(String),
}

/// Capabilities handed to one plugin call. Empty for policies: everything is
/// denied unless the operator granted it to this adapter.
#[derive(Clone)]
pub struct Grants {
    pub mail: Option<std::sync::Arc<dyn MailRelay>>,
    /// `host` or `host:port` the adapter may call over HTTP(S).
    pub http_hosts: Vec<String>,
    /// Where a request to a granted host goes: the network, or a
    /// simulation's capture, or an author's scripted answers.
    pub http: std::sync::Arc<dyn HttpTransport>,
    /// Secrets by name, only those granted.
    pub secrets: std::collections::BTreeMap<String, String>,
    /// The one folder the adapter may write files into (printed letters).
    pub folder: Option<PathBuf>,
    /// Where tasks for people go; collected during the call, stored by the host after it.
    pub tasks: Option<std::sync::Arc<std::sync::Mutex<Vec<crate::outgoing::Task>>>>,
    /// Where a fault of the operator's setup met during the call is noted, so
    /// the host can tell it from the recipient's failure whatever the adapter answers.
    pub setup_fault: Option<std::sync::Arc<std::sync::Mutex<Option<String>>>>,
    /// Where the Message-ID of an email the relay took is noted, so that what
    /// answers it can be matched to the message.
    pub sent_mail: Option<std::sync::Arc<std::sync::Mutex<Option<String>>>>,
    /// The envelope sender of this call's email (`[email] return_path` with the message's key).
    pub return_path: Option<String>,
}

impl Default for Grants {
    fn default() -> Self {
        Grants {
            mail: None,
            http_hosts: vec![],
            http: std::sync::Arc::new(Network),
            secrets: Default::default(),
            folder: None,
            tasks: None,
            setup_fault: None,
            sent_mail: None,
            return_path: None,
        }
    }
}

pub struct Sandbox {
    engine: Engine,
    linkers: HashMap<(PluginKind, Contract), Linker<CallState>>,
    cache: CompiledCache,
    limits: Limits,
}

impl Sandbox {
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.consume_fuel(true);
        config.max_wasm_stack(1 << 20);
        // For `perf record`: names the plugins' compiled functions in a profile.
        if std::env::var_os("SOLLECITO_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let mut pool = PoolingAllocationConfig::default();
        // Headroom above the cap so the limiter, not the pool, refuses the growth and can say why.
        pool.max_memory_size(limits.memory_bytes * 2);
        pool.total_component_instances(256);
        pool.total_core_instances(1024);
        pool.total_memories(512);
        // A used instance's memory is zeroed in place up to this size instead of
        // given back to the kernel, so the next batch takes no page faults
        // (b2b-standard, 1000 invoices: 5.2 against 5.7 us an invoice; 4.2 with
        // the SDK's bump allocator, which touches fresh pages all the time).
        pool.linear_memory_keep_resident(8 << 20);
        // Only the pages an instance wrote are zeroed (Linux 6.7's PAGEMAP_SCAN;
        // elsewhere, the memset above): an email adapter's call touches a few
        // hundred KB of its megabytes.
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        pool.total_tables(512);
        // A used instance's tables are reset in place too, not given back with
        // `madvise`: each of those emptied every core's TLB (a profile of
        // simulate: 4% of the adapters' threads, one flush a message).
        pool.table_keep_resident(1 << 20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;

        let mut linkers = HashMap::new();
        for kind in PluginKind::ALL {
            for contract in Contract::ALL.into_iter().filter(|c| module_of(*c).speaks(kind)) {
                linkers.insert((kind, contract), Self::linker(&engine, kind, contract)?);
            }
        }
        let cache = CompiledCache::new(&engine, cache_dir);
        Ok(Sandbox { engine, linkers, cache, limits })
    }

    /// Policies link WASI (granting nothing) and `log`; channel adapters also `mail`,
    /// `http`, `secrets`, `files` and `tasks`, payment adapters `http` and
    /// `secrets`: each answers only if the operator granted it.
    fn linker(engine: &Engine, kind: PluginKind, contract: Contract) -> anyhow::Result<Linker<CallState>> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        module_of(contract).link(kind, &mut linker)?;
        // The clocks are frozen at "now", so a sleep would block the host thread in real time
        // where fuel cannot stop it: refuse it instead.
        linker.allow_shadowing(true);
        let mut clocks = linker.instance("wasi:clocks/monotonic-clock@0.2.12")?;
        for func in ["subscribe-duration", "subscribe-instant"] {
            clocks.func_new(func, |_, _, _, _| Err(wasmtime::format_err!("a plugin may not sleep or wait")))?;
        }
        Ok(linker)
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A policy compiled natively into the calling program, checked like a
    /// plugin's answers but run outside the sandbox. The product never uses
    /// it (its policies are all components); benchmarks measure against it.
    pub fn native(&self, name: &str, version: &str, evaluate: NativePolicy) -> Plugin {
        Plugin {
            id: PluginId {
                name: name.into(),
                version: version.into(),
                summary: "native (benchmark reference)".into(),
                kind: PluginKind::Policy,
                world: POLICY_WORLD,
                sha256: format!("native-{name}-{version}"),
                source: PluginSource::Bundled,
            },
            body: PluginBody::Native(evaluate),
            engine: self.engine.clone(),
            limits: self.limits,
            fuel: Default::default(),
            declared: None,
            imports: BTreeSet::new(),
            interfaces: Default::default(),
        }
    }

    /// Compiles (or loads from the cache) and checks a plugin of either kind.
    pub fn load(&self, bytes: &[u8], source: PluginSource) -> Result<Plugin, LoadError> {
        let bad = |reason: String| LoadError { plugin: source.to_string(), reason };
        let sha256 = hex::encode(Sha256::digest(bytes));
        if !bytes.starts_with(b"\0asm") {
            return Err(bad("not a WebAssembly file (no \\0asm header)".into()));
        }
        // Core modules carry version 1; components carry a different layer in bytes 4..8.
        if bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
            return Err(bad(
                "a core WebAssembly module, not a component: build it for wasm32-wasip2 or wrap it with `wasm-tools component new`".into(),
            ));
        }
        let (component, _) = self
            .cache
            .component(&self.engine, &sha256, bytes)
            .map_err(|e| bad(format!("not a valid component: {e:#}")))?;
        let exports: Vec<String> =
            component.component_type().exports(&self.engine).map(|(name, _)| name.to_string()).collect();
        let imports: Vec<String> =
            component.component_type().imports(&self.engine).map(|(name, _)| name.to_string()).collect();
        let contract = contracts::contract_of(imports.iter().map(String::as_str)).map_err(bad)?;
        let kind = if exports.iter().any(|e| e == "evaluate") {
            PluginKind::Policy
        } else if exports.iter().any(|e| e == "deliver") {
            PluginKind::Channel
        } else if exports.iter().any(|e| e == "charge") {
            PluginKind::Payment
        } else if exports.iter().any(|e| e == "read-replies") {
            PluginKind::Reader
        } else {
            return Err(bad(format!(
                "implements none of the worlds {POLICY_WORLD} (export `evaluate`), {CHANNEL_WORLD} (export `deliver`), \
                 {PAYMENT_WORLD} (export `charge`) or {READER_WORLD} (export `read-replies`); it exports [{}]",
                exports.join(", ")
            )));
        };
        let world = world(kind, contract);
        let Some(linker) = self.linkers.get(&(kind, contract)) else {
            return Err(bad(format!(
                "a {} needs contract 0.3 or later; this one is built for {}",
                kind.words(),
                contract.version()
            )));
        };
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| bad(format!("needs something the host does not grant: {e:#}")))?;
        let mismatch = |e: wasmtime::Error| bad(format!("does not match world {world}: {e:#}"));
        let body = PluginBody::Wasm(module_of(contract).prepare(kind, pre).map_err(mismatch)?);
        let id = PluginId {
            name: String::new(),
            version: String::new(),
            summary: String::new(),
            kind,
            world,
            sha256,
            source: source.clone(),
        };
        let mut plugin = Plugin {
            id,
            body,
            engine: self.engine.clone(),
            limits: self.limits,
            fuel: Default::default(),
            declared: None,
            imports: imports.iter().filter_map(|i| Capability::of_import(i)).collect(),
            interfaces: (imports, exports),
        };
        let info = plugin.describe().map_err(|reason| bad(format!("describe failed: {reason}")))?;
        if let Err(why) = crate::names::check("describe().name", &info.name) {
            return Err(bad(why));
        }
        if info.version.is_empty() || info.version.len() > 32 || info.version.chars().any(char::is_control) {
            return Err(bad(format!("describe returned an unusable version {:?}", info.version)));
        }
        if let Some(declared) = &info.declared {
            for (what, names) in [("template", &declared.templates), ("channel", &declared.channels)] {
                if let Some(bad_name) = names.iter().find(|n| !answers::is_token(n)) {
                    return Err(bad(format!("describe declared an invalid {what} name {bad_name:?}")));
                }
            }
        }
        plugin.id.name = info.name;
        plugin.id.version = info.version;
        plugin.id.summary = info.summary.chars().take(200).collect();
        plugin.declared = info.declared;
        Ok(plugin)
    }
}

/// A plugin ready to instantiate: a component of some version and world, or
/// (for benchmarks) a policy compiled into the calling program.
enum PluginBody {
    Wasm(Box<dyn Prepared>),
    /// Rules compiled into the calling program: the benchmarks' reference.
    Native(NativePolicy),
}

/// A policy's `evaluate` as a Rust function (of the newest contract), outside any sandbox.
pub type NativePolicy =
    Box<dyn Fn(i64, &[latest::Setting], &[latest::InvoiceView]) -> Vec<Result<latest::Decision, String>> + Send + Sync>;

/// A loaded, checked plugin. Every call gets a fresh instance from the
/// pre-instantiated component, so a trap never leaves a broken instance behind.
pub struct Plugin {
    pub id: PluginId,
    body: PluginBody,
    engine: Engine,
    limits: Limits,
    /// What its evaluations used so far.
    fuel: FuelMeter,
    /// A policy's templates and channels, when its contract declares them.
    declared: Option<Declared>,
    /// The capabilities its component imports (none for a native policy).
    pub imports: BTreeSet<Capability>,
    /// The component's import and export names, as its package's config lists them.
    pub interfaces: (Vec<String>, Vec<String>),
}

struct FrozenClock(i64);

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(self.0.max(0) as u64)
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Plugin {
    /// What this plugin's evaluations used since it was loaded or the meter was reset.
    pub fn fuel(&self) -> &FuelMeter {
        &self.fuel
    }

    /// The templates and channels this policy declared (contract 0.2 on).
    pub fn declared(&self) -> Option<&Declared> {
        self.declared.as_ref()
    }

    fn store(&self, now: i64, invoices: usize) -> Store<CallState> {
        self.store_with(now, invoices, Grants::default())
    }

    fn store_with(&self, now: i64, invoices: usize, grants: Grants) -> Store<CallState> {
        let output = MemoryOutputPipe::new(64 << 10);
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .wall_clock(FrozenClock(now))
            .monotonic_clock(FrozenClock(now))
            .secure_random(StdRng::seed_from_u64(0x5011_ec17))
            .insecure_random(StdRng::seed_from_u64(0x5011_ec18))
            .insecure_random_seed(0x5011_ec19)
            .build();
        let state = CallState {
            wasi,
            table: ResourceTable::new(),
            memory_cap: self.limits.memory_bytes,
            refused_growth: None,
            plugin: format!("{} {}", self.id.name, self.id.version),
            log_left: self.limits.log_bytes,
            output,
            grants,
            now,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s);
        store.set_fuel(self.limits.fuel_for(invoices)).expect("fuel is enabled");
        store
    }

    /// Turns a failed call into a sentence an operator can act on.
    fn explain(&self, store: &Store<CallState>, invoices: usize, err: wasmtime::Error) -> String {
        let state = store.data();
        if let Some(asked) = state.refused_growth {
            return format!(
                "hit the memory cap of {} MiB (asked for {} MiB)",
                state.memory_cap >> 20,
                asked.div_ceil(1 << 20)
            );
        }
        let printed = printed::reason(&String::from_utf8_lossy(&state.output.contents()));
        match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => format!(
                "ran out of fuel ({} units): an endless loop or far too much work",
                self.limits.fuel_for(invoices)
            ),
            Some(Trap::StackOverflow) => "call stack exhausted (runaway recursion)".into(),
            Some(trap) if !printed.is_empty() => format!("trapped ({trap}): {printed}"),
            Some(trap) => format!("trapped: {trap}"),
            None => format!("{err:#}"),
        }
    }

    fn describe(&mut self) -> Result<Described, String> {
        let PluginBody::Wasm(prepared) = &self.body else { return Err("a native policy has no describe".into()) };
        let mut store = self.store(0, 0);
        prepared.describe(&mut store).map_err(|e| self.explain(&store, 0, e))
    }
}

impl CallState {
    /// A plugin's log line, tagged with its name, within the call's cap.
    fn log_line(&mut self, level: tracing::Level, message: &str) {
        if self.log_left == 0 {
            return;
        }
        let mut text = truncate(message, self.log_left).to_string();
        self.log_left -= text.len();
        if self.log_left == 0 {
            text.push_str(" [log cap reached; further lines dropped]");
        }
        let plugin = self.plugin.as_str();
        match level {
            tracing::Level::ERROR => tracing::error!(plugin, "{text}"),
            tracing::Level::WARN => tracing::warn!(plugin, "{text}"),
            tracing::Level::INFO => tracing::info!(plugin, "{text}"),
            _ => tracing::debug!(plugin, "{text}"),
        }
    }
}
