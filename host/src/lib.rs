#![warn(unreachable_pub)]
//! sollecito: a dunning runtime. Policies are sandboxed WebAssembly plugins;
//! the host keeps the invoices, enforces the guardrails and carries out decisions.
//!
//! Data flows one way: intake -> store -> scheduler -> sandbox -> steps
//! (guardrails) -> deliver. `simulate` runs the same engine on a virtual clock.
//!
//! The library's surface is chosen: the entry types below, the domain a
//! program hands in and reads back, the store, and the sandbox for testing
//! plugins. Everything else is the product's own.

pub use catalog::Catalog;
pub use config::Config;
pub use runtime::{Runtime, TickReport};
pub use store::Store;

/// What a plugin author uses: the scaffold and the scenarios.
pub mod author;
/// The command line (`sollecito`'s `main`).
pub mod cli;
/// The config file's tables.
pub mod config;
/// What policies see and decide, in the host's own terms.
pub mod decision;
/// What happens to an invoice: the one vocabulary of events and outcomes.
pub mod event;
/// Customers, invoices and events read from files and API bodies.
pub mod intake;
pub mod invoice;
/// What channel and payment adapters are handed, and answer.
pub mod outgoing;
/// Plugin packages: signed OCI artifacts with what they ask for.
pub mod package;
/// A customer's reply handed to the reader plugin, and what it was read to say.
pub mod reading;
/// What dunning brought in: recovery, time to pay, receivables by age.
pub mod report;
/// Plugins: loading, limits, and the contract's generated types (for plugin tests).
pub mod sandbox;
pub mod simulate;
/// The store: invoices, decisions, the outbox and its claims.
pub mod store;

/// The SMTP relay and the outbox folder, for benchmarks against lettre alone.
pub use deliver::mail;

mod api;
pub mod bank;
mod catalog;
mod deliver;
mod experiment;
mod guardrails;
/// What comes back by email: replies, bounces, out-of-office answers, complaints.
mod inbound;
mod money;
mod names;
mod plan;
mod portal;
mod preflight;
mod render;
mod runtime;
pub mod schedule;
mod scheduler;
mod serve;
mod shadow;
mod steps;
mod ui;
