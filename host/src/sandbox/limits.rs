//! What one plugin call may use, and the store state that enforces it.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bounds on one call into a plugin.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Fuel (roughly wasm instructions) for a call, plus `fuel_per_invoice` for each invoice in it.
    pub fuel_per_call: u64,
    pub fuel_per_invoice: u64,
    /// Linear memory a plugin instance may grow to.
    pub memory_bytes: usize,
    /// Text a policy may return for one invoice (step ids, channels, reasons...).
    pub answer_bytes_per_invoice: usize,
    pub actions_per_decision: usize,
    /// Bytes a plugin may log in one call; the rest is dropped with a note.
    pub log_bytes: usize,
    /// Invoices in one call; larger batches are split by the host.
    pub batch_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // 50M fuel stops an endless loop in well under 100 ms on these machines.
            fuel_per_call: 50_000_000,
            fuel_per_invoice: 1_000_000,
            memory_bytes: 64 << 20,
            answer_bytes_per_invoice: 16 << 10,
            actions_per_decision: 16,
            log_bytes: 16 << 10,
            batch_size: 1000,
        }
    }
}

impl Limits {
    pub fn fuel_for(&self, invoices: usize) -> u64 {
        self.fuel_per_call + self.fuel_per_invoice * invoices as u64
    }
}

/// The fuel one plugin's evaluations used, for an author's figures (`plugin test`).
#[derive(Debug, Default)]
pub struct FuelMeter {
    calls: AtomicU64,
    invoices: AtomicU64,
    fuel: AtomicU64,
    /// The largest fuel per invoice of one call (a call's fuel over its batch).
    most_per_invoice: AtomicU64,
}

/// A [`FuelMeter`]'s reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FuelUsed {
    pub calls: u64,
    pub invoices: u64,
    pub fuel: u64,
    pub most_per_invoice: u64,
}

impl FuelMeter {
    pub(super) fn record(&self, invoices: usize, fuel: u64) {
        let invoices = invoices.max(1) as u64;
        self.calls.fetch_add(1, Relaxed);
        self.invoices.fetch_add(invoices, Relaxed);
        self.fuel.fetch_add(fuel, Relaxed);
        self.most_per_invoice.fetch_max(fuel / invoices, Relaxed);
    }

    /// Starts counting afresh (an author's scenario at a time).
    pub fn reset(&self) {
        for counter in [&self.calls, &self.invoices, &self.fuel, &self.most_per_invoice] {
            counter.store(0, Relaxed);
        }
    }

    pub fn read(&self) -> FuelUsed {
        FuelUsed {
            calls: self.calls.load(Relaxed),
            invoices: self.invoices.load(Relaxed),
            fuel: self.fuel.load(Relaxed),
            most_per_invoice: self.most_per_invoice.load(Relaxed),
        }
    }
}

impl FuelUsed {
    /// Fuel per invoice evaluated, on average.
    pub fn mean_per_invoice(&self) -> u64 {
        self.fuel.checked_div(self.invoices).unwrap_or(0)
    }
}

/// The store data of one plugin call: a WASI context that grants nothing,
/// the memory cap, and what the plugin printed (kept to explain a trap).
pub struct CallState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) memory_cap: usize,
    /// Set when a growth was refused, so the error can say so.
    pub(super) refused_growth: Option<usize>,
    pub(super) plugin: String,
    pub(super) log_left: usize,
    pub(super) output: MemoryOutputPipe,
    /// What the operator granted this plugin; policies get nothing.
    pub(super) grants: super::Grants,
    /// The time of the call (the plugin's frozen clock), for what the host does on its behalf.
    pub(super) now: i64,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl ResourceLimiter for CallState {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.refused_growth = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
