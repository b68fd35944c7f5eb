//! Runs plugins: compiles (or loads from cache), checks the world they
//! implement, and calls them under fuel, memory and answer-size bounds with a
//! WASI context that grants nothing (fixed clock, seeded randomness, no files,
//! no network), so a policy's decision depends only on its input.

mod answers;
pub mod cache;
mod calls;
mod capabilities;
mod capture;
mod contracts;
pub mod limits;
mod printed;
pub mod v0_1;

use std::fmt;

use answers::{answer_size, truncate};
use std::path::PathBuf;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtxBuilder};

pub use cache::CompiledCache;
pub use capture::{Capture, Captured, KEPT};
pub use contracts::CONTRACTS;
pub use limits::{CallState, FuelMeter, FuelUsed, Limits};
use v0_1::{Decision, InvoiceView, Level, PluginInfo, Setting};

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

pub const POLICY_WORLD: &str = "sollecito:plugin/policy@0.1.0";
pub const CHANNEL_WORLD: &str = "sollecito:plugin/channel@0.1.0";
pub const PAYMENT_WORLD: &str = "sollecito:plugin/payment@0.1.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    Policy,
    Channel,
    Payment,
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
#[derive(Clone, Default)]
pub struct Grants {
    pub mail: Option<std::sync::Arc<dyn MailRelay>>,
    /// `host` or `host:port` the adapter may call over HTTP(S).
    pub http_hosts: Vec<String>,
    /// Secrets by name, only those granted.
    pub secrets: std::collections::BTreeMap<String, String>,
    /// The one folder the adapter may write files into (printed letters).
    pub folder: Option<PathBuf>,
    /// Where tasks for people go; collected during the call, stored by the host after it.
    pub tasks: Option<std::sync::Arc<std::sync::Mutex<Vec<crate::outgoing::Task>>>>,
    /// Where a fault of the operator's setup met during the call is noted, so
    /// the host can tell it from the recipient's failure whatever the adapter answers.
    pub setup_fault: Option<std::sync::Arc<std::sync::Mutex<Option<String>>>>,
    /// In a simulation: HTTP to a granted host is answered here, nothing leaves.
    pub capture: Option<std::sync::Arc<Capture>>,
}

pub struct Sandbox {
    engine: Engine,
    policy_linker: Linker<CallState>,
    channel_linker: Linker<CallState>,
    payment_linker: Linker<CallState>,
    cache: CompiledCache,
    limits: Limits,
}

impl Sandbox {
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.consume_fuel(true);
        config.max_wasm_stack(1 << 20);
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
        pool.total_tables(512);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;

        let policy_linker = Self::linker(&engine, PluginKind::Policy)?;
        let channel_linker = Self::linker(&engine, PluginKind::Channel)?;
        let payment_linker = Self::linker(&engine, PluginKind::Payment)?;
        let cache = CompiledCache::new(&engine, cache_dir);
        Ok(Sandbox { engine, policy_linker, channel_linker, payment_linker, cache, limits })
    }

    /// Policies link WASI (granting nothing) and `log`; channel adapters also `mail`,
    /// `http`, `secrets`, `files` and `tasks`, payment adapters `http` and
    /// `secrets`: each answers only if the operator granted it.
    fn linker(engine: &Engine, kind: PluginKind) -> anyhow::Result<Linker<CallState>> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        match kind {
            PluginKind::Policy => {
                v0_1::policy::Policy::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?
            }
            PluginKind::Channel => {
                v0_1::channel::Channel::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?
            }
            PluginKind::Payment => {
                v0_1::payment::Payment::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?
            }
        }
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
        contracts::check_imports(imports.iter().map(String::as_str)).map_err(bad)?;
        let kind = if exports.iter().any(|e| e == "evaluate") {
            PluginKind::Policy
        } else if exports.iter().any(|e| e == "deliver") {
            PluginKind::Channel
        } else if exports.iter().any(|e| e == "charge") {
            PluginKind::Payment
        } else {
            return Err(bad(format!(
                "implements none of the worlds {POLICY_WORLD} (export `evaluate`), {CHANNEL_WORLD} (export `deliver`) \
                 or {PAYMENT_WORLD} (export `charge`); it exports [{}]",
                exports.join(", ")
            )));
        };
        let linker = match kind {
            PluginKind::Policy => &self.policy_linker,
            PluginKind::Channel => &self.channel_linker,
            PluginKind::Payment => &self.payment_linker,
        };
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| bad(format!("needs something the host does not grant: {e:#}")))?;
        let mut id = PluginId {
            name: String::new(),
            version: String::new(),
            summary: String::new(),
            kind,
            world: POLICY_WORLD,
            sha256,
            source: source.clone(),
        };
        let body = match kind {
            PluginKind::Policy => PluginBody::Policy(
                v0_1::policy::PolicyPre::new(pre)
                    .map_err(|e| bad(format!("does not match world {POLICY_WORLD}: {e:#}")))?,
            ),
            PluginKind::Channel => {
                id.world = CHANNEL_WORLD;
                PluginBody::Channel(
                    v0_1::channel::ChannelPre::new(pre)
                        .map_err(|e| bad(format!("does not match world {CHANNEL_WORLD}: {e:#}")))?,
                )
            }
            PluginKind::Payment => {
                id.world = PAYMENT_WORLD;
                PluginBody::Payment(
                    v0_1::payment::PaymentPre::new(pre)
                        .map_err(|e| bad(format!("does not match world {PAYMENT_WORLD}: {e:#}")))?,
                )
            }
        };
        let mut plugin =
            Plugin { id, body, engine: self.engine.clone(), limits: self.limits, fuel: Default::default() };
        let info = plugin.describe().map_err(|reason| bad(format!("describe failed: {reason}")))?;
        if let Err(why) = crate::names::check("describe().name", &info.name) {
            return Err(bad(why));
        }
        if info.version.is_empty() || info.version.len() > 32 || info.version.chars().any(char::is_control) {
            return Err(bad(format!("describe returned an unusable version {:?}", info.version)));
        }
        plugin.id.name = info.name;
        plugin.id.version = info.version;
        plugin.id.summary = info.summary.chars().take(200).collect();
        Ok(plugin)
    }
}

enum PluginBody {
    Policy(v0_1::policy::PolicyPre<CallState>),
    Channel(v0_1::channel::ChannelPre<CallState>),
    Payment(v0_1::payment::PaymentPre<CallState>),
    /// Rules compiled into the calling program: the benchmarks' reference.
    Native(NativePolicy),
}

/// A policy's `evaluate` as a Rust function, outside any sandbox.
pub type NativePolicy = Box<dyn Fn(i64, &[Setting], &[InvoiceView]) -> Vec<Result<Decision, String>> + Send + Sync>;

/// A loaded, checked plugin. Every call gets a fresh instance from the
/// pre-instantiated component, so a trap never leaves a broken instance behind.
pub struct Plugin {
    pub id: PluginId,
    body: PluginBody,
    engine: Engine,
    limits: Limits,
    /// What its evaluations used so far.
    fuel: FuelMeter,
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

    fn describe(&mut self) -> Result<PluginInfo, String> {
        let mut store = self.store(0, 0);
        let result = match &self.body {
            PluginBody::Policy(pre) => pre.instantiate(&mut store).and_then(|p| p.call_describe(&mut store)),
            PluginBody::Channel(pre) => pre.instantiate(&mut store).and_then(|p| p.call_describe(&mut store)),
            PluginBody::Payment(pre) => pre.instantiate(&mut store).and_then(|p| p.call_describe(&mut store)),
            PluginBody::Native(_) => return Err("a native policy has no describe".into()),
        };
        result.map_err(|e| self.explain(&store, 0, e))
    }

    /// Evaluates invoices, one result each, in order. A call that traps is
    /// retried on halves of its batch (within a budget) so that one poisonous
    /// invoice does not fail the others.
    pub fn evaluate(
        &self,
        now: i64,
        settings: &[Setting],
        batch: &[InvoiceView],
    ) -> Vec<Result<Decision, PolicyError>> {
        // WASI writes a guest's panic message to stderr by blocking on tokio:
        // on a worker thread of a multi-thread runtime, say so first.
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.evaluate_here(now, settings, batch))
            }
            _ => self.evaluate_here(now, settings, batch),
        }
    }

    fn evaluate_here(
        &self,
        now: i64,
        settings: &[Setting],
        batch: &[InvoiceView],
    ) -> Vec<Result<Decision, PolicyError>> {
        let mut out = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(self.limits.batch_size.max(1)) {
            let mut results: Vec<Option<Result<Decision, PolicyError>>> = vec![None; chunk.len()];
            let mut pending = Vec::new();
            pending.push(0..chunk.len());
            let mut calls_left = 16;
            while let Some(range) = pending.pop() {
                calls_left -= 1;
                match self.call_evaluate(now, settings, &chunk[range.clone()]) {
                    Ok(decisions) => {
                        for (slot, d) in results[range].iter_mut().zip(decisions) {
                            *slot = Some(d);
                        }
                    }
                    Err(reason) if range.len() > 1 && calls_left >= 2 => {
                        tracing::debug!(plugin = %self.id, %reason, invoices = range.len(), "batch failed; splitting it");
                        let mid = range.start + range.len() / 2;
                        pending.push(mid..range.end);
                        pending.push(range.start..mid);
                    }
                    Err(reason) => {
                        let error = self.error(&chunk[range.clone()], reason);
                        for slot in &mut results[range] {
                            *slot = Some(Err(error.clone()));
                        }
                    }
                }
            }
            out.extend(results.into_iter().map(|r| r.expect("every invoice gets a result")));
        }
        out
    }

    fn error(&self, invoices: &[InvoiceView], reason: String) -> PolicyError {
        PolicyError { plugin: self.id.to_string(), invoices: invoices.iter().map(|i| i.id.clone()).collect(), reason }
    }

    /// One call into a fresh instance. `Err` fails the whole batch.
    fn call_evaluate(
        &self,
        now: i64,
        settings: &[Setting],
        batch: &[InvoiceView],
    ) -> Result<Vec<Result<Decision, PolicyError>>, String> {
        let answer = match &self.body {
            PluginBody::Policy(pre) => {
                let mut store = self.store(now, batch.len());
                let answer =
                    pre.instantiate(&mut store).and_then(|p| p.call_evaluate(&mut store, now, settings, batch));
                self.fuel.record(batch.len(), count_fuel(&store, self.limits.fuel_for(batch.len())));
                answer.map_err(|e| self.explain(&store, batch.len(), e))?
            }
            PluginBody::Native(evaluate) => evaluate(now, settings, batch),
            PluginBody::Channel(_) | PluginBody::Payment(_) => {
                return Err(format!("{} is an adapter, not a policy", self.id));
            }
        };
        if answer.len() != batch.len() {
            return Err(format!("returned {} results for {} invoices", answer.len(), batch.len()));
        }
        let cap = self.limits.answer_bytes_per_invoice;
        let size: usize = answer.iter().map(answer_size).sum();
        if size > cap * batch.len() {
            return Err(format!("answer of {size} bytes exceeds the cap of {} bytes", cap * batch.len()));
        }
        Ok(answer
            .into_iter()
            .zip(batch)
            .map(|(result, invoice)| {
                let checked = match result {
                    Ok(decision) => self.check(&decision, now).map(|_| decision),
                    Err(message) => Err(format!("refused the invoice: {}", truncate(&message, 500))),
                };
                checked.map_err(|reason| self.error(std::slice::from_ref(invoice), reason))
            })
            .collect())
    }

    /// Calls `deliver` of a channel adapter with the capabilities granted to it.
    /// `Err` is the adapter failing (a trap); a delivery failure is in the inner result.
    pub fn deliver(
        &self,
        settings: &[Setting],
        message: &v0_1::Message,
        now: i64,
        grants: Grants,
    ) -> Result<Result<v0_1::Receipt, v0_1::DeliveryError>, String> {
        let PluginBody::Channel(pre) = &self.body else {
            return Err(format!("{} is not a channel adapter", self.id));
        };
        let mut store = self.store_with(now, 1, grants);
        pre.instantiate(&mut store)
            .and_then(|c| c.call_deliver(&mut store, settings, message))
            .map_err(|e| self.explain(&store, 1, e))
    }

    /// Calls `charge` of a payment adapter with the capabilities granted to it.
    /// `Err` is the adapter failing (a trap); a refused charge is in the inner result.
    pub fn charge(
        &self,
        settings: &[Setting],
        charge: &v0_1::Charge,
        now: i64,
        grants: Grants,
    ) -> Result<Result<v0_1::ChargeOutcome, v0_1::ChargeError>, String> {
        let PluginBody::Payment(pre) = &self.body else {
            return Err(format!("{} is not a payment adapter", self.id));
        };
        let mut store = self.store_with(now, 1, grants);
        pre.instantiate(&mut store)
            .and_then(|p| p.call_charge(&mut store, settings, charge))
            .map_err(|e| self.explain(&store, 1, e))
    }
}

impl v0_1::policy::sollecito::plugin::types::Host for CallState {}
impl v0_1::channel::sollecito::plugin::delivery::Host for CallState {}
impl v0_1::payment::sollecito::plugin::charges::Host for CallState {}

impl v0_1::policy::sollecito::plugin::log::Host for CallState {
    fn log(&mut self, level: Level, message: String) {
        if self.log_left == 0 {
            return;
        }
        let mut text = truncate(&message, self.log_left).to_string();
        self.log_left -= text.len();
        if self.log_left == 0 {
            text.push_str(" [log cap reached; further lines dropped]");
        }
        let plugin = self.plugin.as_str();
        match level {
            Level::Debug => tracing::debug!(plugin, "{text}"),
            Level::Info => tracing::info!(plugin, "{text}"),
            Level::Warn => tracing::warn!(plugin, "{text}"),
            Level::Error => tracing::error!(plugin, "{text}"),
        }
    }
}
