//! sollecito: a dunning runtime. Policies are sandboxed WebAssembly plugins;
//! the host keeps the invoices, enforces the guardrails and carries out decisions.
//!
//! Data flows one way: intake -> (store) -> scheduler/simulate -> sandbox -> guardrails -> (render -> deliver).

pub mod api;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod guardrails;
pub mod intake;
pub mod invoice;
pub mod money;
pub mod names;
pub mod plan;
mod preflight;
pub mod render;
pub mod runtime;
pub mod sandbox;
pub mod scheduler;
pub mod serve;
pub mod shadow;
pub mod simulate;
pub mod store;
