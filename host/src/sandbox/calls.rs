//! An adapter called in the host's own terms: its contract version's module
//! converts the inputs down and the answers back (`contracts::Prepared`).

use super::{Grants, Plugin, PluginBody};
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
            PluginBody::Wasm(prepared) => prepared.deliver(&mut store, settings, message),
            PluginBody::Native(_) => None,
        };
        let Some(answer) = answer else { return Err(format!("{} is not a channel adapter", self.id)) };
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
            PluginBody::Wasm(prepared) => prepared.charge(&mut store, settings, charge),
            PluginBody::Native(_) => None,
        };
        let Some(answer) = answer else { return Err(format!("{} is not a payment adapter", self.id)) };
        answer.map_err(|e| self.explain(&store, 1, e))
    }
}
