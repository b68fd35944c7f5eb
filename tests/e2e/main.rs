//! End-to-end tests: real components built from source (tests/guests,
//! plugins/, examples/custom-policy), the real sandbox and the real binary.

mod actions;
mod alerts;
mod api_limits;
mod author;
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
mod hostile;
mod ladders;
mod migrate;
mod namespaces;
mod outcomes;
mod pages;
mod payments;
mod pipeline;
mod plans;
mod responses;
mod sandbox_limits;
mod serve;
mod smtp;
mod stripe;
mod structure;
mod workers;
