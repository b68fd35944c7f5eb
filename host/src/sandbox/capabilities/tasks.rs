//! Work for a person (a phone call to make), granted by `tasks = true`:
//! collected during the call, stored by the host once the delivery went through.

use super::CallState;
use crate::outgoing::Task;

pub(super) fn open(state: &CallState, task: Task) -> Result<String, String> {
    let Some(inbox) = &state.grants.tasks else {
        tracing::warn!(plugin = %state.plugin, "denied: tasks not granted to this plugin");
        return Err("denied: opening tasks is not granted to this adapter".into());
    };
    let key = task.key.clone();
    inbox.lock().expect("task inbox").push(task);
    Ok(format!("task {key}"))
}
