//! A plugin called in the host's own terms: the inputs converted to the
//! contract version the plugin speaks, its answers converted back.

use super::v0_1::convert;
use super::{Grants, Plugin, PolicyError};
use crate::decision::{Decision, Review, Setting};
use crate::outgoing::{Charge, ChargeError, ChargeOutcome, DeliveryError, Message};

impl Plugin {
    /// A policy's decisions on invoices, one result each, in order.
    pub fn decide(&self, now: i64, settings: &[Setting], batch: &[Review]) -> Vec<Result<Decision, PolicyError>> {
        let views: Vec<_> = batch.iter().map(convert::view).collect();
        let results = self.evaluate(now, &convert::settings(settings), &views);
        results.into_iter().map(|r| r.map(convert::decision)).collect()
    }

    /// Hands a message to a channel adapter. `Err` is the adapter failing (a
    /// trap); the inner result is the receipt's reference or why it did not go.
    pub fn deliver_message(
        &self,
        settings: &[Setting],
        message: &Message,
        now: i64,
        grants: Grants,
    ) -> Result<Result<String, DeliveryError>, String> {
        self.deliver(&convert::settings(settings), &convert::message(message), now, grants).map(convert::delivered)
    }

    /// Asks a payment adapter to charge an invoice. `Err` is the adapter failing.
    pub fn charge_invoice(
        &self,
        settings: &[Setting],
        charge: &Charge,
        now: i64,
        grants: Grants,
    ) -> Result<Result<ChargeOutcome, ChargeError>, String> {
        self.charge(&convert::settings(settings), &convert::charge(charge), now, grants).map(convert::charged)
    }
}
