//! The customer's page: a signed link in every message opens what the
//! customer owes, how to pay it (the IBAN, a creditor reference per invoice
//! and the EPC QR code a banking app scans), in their language.

mod act;
pub(crate) mod epc;
mod links;
pub(crate) mod page;
pub(crate) mod rf;
pub(crate) mod token;

pub(crate) use links::Links;
