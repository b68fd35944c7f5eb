//! Named secrets, granted one by one (`secrets = [...]` of an adapter's table).

use super::CallState;

pub(super) fn get(state: &CallState, name: &str) -> Option<String> {
    let value = state.grants.secrets.get(name).cloned();
    if value.is_none() {
        // The name only: a secret's value never reaches a log.
        tracing::warn!(plugin = %state.plugin, secret = %name, "denied: secret not granted to this plugin");
    }
    value
}
