//! The customer's page, what it is made of: the signed link every message
//! carries, the creditor references and the EPC QR code of a transfer, and
//! what the page's forms do. The page itself is served by `ui::customer`.

pub(crate) mod act;
pub(crate) mod epc;
mod links;
pub(crate) mod rf;
pub(crate) mod token;
pub(crate) mod words;

pub(crate) use links::Links;
