//! The mail relay, granted to an adapter by `[channels.NAME] relay`: the one
//! way a plugin sends email, through the host's relay.

use super::CallState;
use crate::outgoing::{DeliveryError, Email};
use crate::sandbox::RelayError;

pub(super) fn send(state: &CallState, email: &Email) -> Result<String, DeliveryError> {
    let Some(relay) = &state.grants.mail else {
        tracing::warn!(plugin = %state.plugin, "denied: email was not granted to this plugin");
        return Err(DeliveryError::Permanent("email is not granted to this plugin".into()));
    };
    let email = &crate::outgoing::Email { envelope_from: state.grants.return_path.clone(), ..email.clone() };
    let sent = relay.send(email, state.now);
    if sent.is_ok()
        && let Some(slot) = &state.grants.sent_mail
    {
        *slot.lock().expect("sent mail slot") = Some(email.message_id.trim().trim_matches(['<', '>']).to_string());
    }
    sent.map_err(|e| match e {
        RelayError::Recipient(reason) => DeliveryError::Permanent(reason),
        RelayError::Transient(reason) => DeliveryError::Transient(reason),
        // The operator's to fix, never the customer's failure: noted for the host.
        RelayError::Setup(reason) => {
            if let Some(slot) = &state.grants.setup_fault {
                *slot.lock().expect("setup fault slot") = Some(reason.clone());
            }
            DeliveryError::Transient(format!("the relay's setup: {reason}"))
        }
    })
}
