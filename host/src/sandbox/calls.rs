//! An adapter called in the host's own terms: the inputs converted to the
//! contract version the adapter speaks, its answers converted back.

use super::{Grants, Plugin, PluginBody, v0_1, v0_2};
use crate::decision::Setting;
use crate::outgoing::{Charge, ChargeError, ChargeOutcome, DeliveryError, Message};

impl Plugin {
    /// Hands a message to a channel adapter, with the capabilities granted to
    /// it. `Err` is the adapter failing (a trap); the inner result is the
    /// receipt's reference or why it did not go.
    pub fn deliver_message(
        &self,
        settings: &[Setting],
        message: &Message,
        now: i64,
        grants: Grants,
    ) -> Result<Result<String, DeliveryError>, String> {
        let mut store = self.store_with(now, 1, grants);
        let answer = match &self.body {
            PluginBody::ChannelV0_1(pre) => pre
                .instantiate(&mut store)
                .and_then(|c| {
                    c.call_deliver(&mut store, &v0_1::convert::settings(settings), &v0_1::convert::message(message))
                })
                .map(v0_1::convert::delivered),
            PluginBody::ChannelV0_2(pre) => pre
                .instantiate(&mut store)
                .and_then(|c| {
                    c.call_deliver(&mut store, &v0_2::convert::settings(settings), &v0_2::convert::message(message))
                })
                .map(v0_2::convert::delivered),
            _ => return Err(format!("{} is not a channel adapter", self.id)),
        };
        answer.map_err(|e| self.explain(&store, 1, e))
    }

    /// Asks a payment adapter to charge an invoice. `Err` is the adapter
    /// failing (a trap); a refused charge is in the inner result.
    pub fn charge_invoice(
        &self,
        settings: &[Setting],
        charge: &Charge,
        now: i64,
        grants: Grants,
    ) -> Result<Result<ChargeOutcome, ChargeError>, String> {
        let mut store = self.store_with(now, 1, grants);
        let answer = match &self.body {
            PluginBody::PaymentV0_1(pre) => pre
                .instantiate(&mut store)
                .and_then(|p| {
                    p.call_charge(&mut store, &v0_1::convert::settings(settings), &v0_1::convert::charge(charge))
                })
                .map(v0_1::convert::charged),
            PluginBody::PaymentV0_2(pre) => pre
                .instantiate(&mut store)
                .and_then(|p| {
                    p.call_charge(&mut store, &v0_2::convert::settings(settings), &v0_2::convert::charge(charge))
                })
                .map(v0_2::convert::charged),
            _ => return Err(format!("{} is not a payment adapter", self.id)),
        };
        answer.map_err(|e| self.explain(&store, 1, e))
    }
}
