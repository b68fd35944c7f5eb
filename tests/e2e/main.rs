//! End-to-end tests: real components built from source (tests/guests,
//! plugins/, examples/custom-policy), the real sandbox and the real binary.

mod actions;
mod alerts;

mod api_limits;
mod author;
mod bank;
mod channels;
mod claims;
mod cli;
mod common;
mod consolidated;
mod dashboard;
mod delivery;
mod determinism;
mod doors;
mod every_action;
mod experiments;
mod fees;
mod fidelity;
mod fields;
mod figures;
mod hostile;
mod inbound;
mod ladders;
mod mailbox;
mod migrate;
mod namespaces;
mod outcomes;
mod pages;
mod payments;
mod pipeline;
mod plans;
mod portal;
mod portal_browser;
mod postfix;
mod refused;
mod replies;
mod responses;
mod sandbox_limits;
mod schedule;
mod serve;
mod smtp;
mod stripe;
mod structure;
mod workers;
