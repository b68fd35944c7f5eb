//! How a command ends: the errors that carry an exit code, sorted in one
//! place (`Exit::of`), and the quiet end of a reader that went away.

use std::path::PathBuf;

/// Bad input or bad config: exit code 2, nothing changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadUsage(pub String);

/// Writing to stdout failed; a closed pipe is not an error (exit 0).
#[derive(Debug, thiserror::Error)]
#[error("writing to stdout: {0}")]
pub struct StdoutError(#[source] pub std::io::Error);

/// A policy failed on some invoices: exit code 3, after doing all the rest.
#[derive(Debug, thiserror::Error)]
#[error("the policy failed on {0} evaluation(s); `sollecito history INVOICE` names the error")]
pub struct PluginErrors(pub usize);

/// Messages waited because a relay failed on the operator's setup: exit code 4.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0} message(s) wait: a relay failed on the operator's setup (unreachable, From refused, TLS, \
     authentication); the log names it, and they are tried again at the next run"
)]
pub struct SetupWaiting(pub usize);

/// A run found no invoice at all in its store: exit code 5.
#[derive(Debug, thiserror::Error)]
#[error("the database {0} holds no invoices: nothing to do (import some first, or check --db)")]
pub struct EmptyStore(pub String);

/// What a cron job must notice of a tick, as an error whose exit says it:
/// the lowest code of those that apply. `empty_store` names a store with no invoices.
pub(super) fn tick_outcome(report: &crate::runtime::TickReport, empty_store: Option<&PathBuf>) -> anyhow::Result<()> {
    if report.decided.plugin_errors > 0 {
        return Err(PluginErrors(report.decided.plugin_errors).into());
    }
    if report.delivered.setup_faults > 0 {
        return Err(SetupWaiting(report.delivered.setup_faults).into());
    }
    match empty_store {
        Some(db) => Err(EmptyStore(db.display().to_string()).into()),
        None => Ok(()),
    }
}

/// Whether the error is stdout's reader having gone away.
fn closed_pipe(err: &anyhow::Error) -> bool {
    err.downcast_ref::<StdoutError>().is_some_and(|e| e.0.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Printing that stops quietly when stdout's reader went away.
pub(super) fn printed(result: anyhow::Result<()>) -> anyhow::Result<()> {
    match result {
        Err(e) if closed_pipe(&e) => Ok(()),
        other => other,
    }
}

/// How a command ended, as its exit code tells the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done (a closed stdout too: its reader went away).
    Done = 0,
    /// Something failed: the store, the network, a bug.
    Failed = 1,
    /// The input was refused and nothing changed: usage, config, a file, a
    /// plugin that cannot be loaded, a plan that cannot be accepted, a scenario.
    Refused = 2,
    /// A policy failed on some invoices; everything else was done.
    PolicyFailed = 3,
    /// Messages waited on the operator's setup (a relay that cannot be
    /// reached, refuses the From, TLS): nothing reached those customers.
    SetupWaiting = 4,
    /// The store holds no invoices: the wrong `--db`, or nothing imported yet.
    NothingToDo = 5,
}

impl Exit {
    /// The exit of a command that failed with `err`: the one place errors
    /// are sorted by kind.
    pub fn of(err: &anyhow::Error) -> Exit {
        if closed_pipe(err) {
            return Exit::Done;
        }
        if err.is::<PluginErrors>() {
            return Exit::PolicyFailed;
        }
        if err.is::<SetupWaiting>() {
            return Exit::SetupWaiting;
        }
        if err.is::<EmptyStore>() {
            return Exit::NothingToDo;
        }
        let refused = err.is::<BadUsage>()
            || err.is::<crate::config::BadConfig>()
            || err.is::<crate::intake::BadInput>()
            || err.is::<crate::sandbox::LoadError>()
            || err.is::<crate::store::CannotAccept>()
            || err.is::<crate::author::BadScenario>()
            || err.is::<crate::author::CannotScaffold>();
        if refused { Exit::Refused } else { Exit::Failed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_error_has_its_exit() {
        assert_eq!(Exit::of(&anyhow::Error::new(PluginErrors(2))), Exit::PolicyFailed);
        assert_eq!(Exit::of(&anyhow::Error::new(SetupWaiting(35))) as i32, 4);
        assert_eq!(Exit::of(&anyhow::Error::new(EmptyStore("x.db".into()))) as i32, 5);
        assert_eq!(Exit::of(&anyhow::Error::new(BadUsage("--to before --from".into()))), Exit::Refused);
        assert_eq!(Exit::of(&anyhow::anyhow!("the database went away")), Exit::Failed);
        let closed = StdoutError(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(Exit::of(&anyhow::Error::new(closed)), Exit::Done);
        assert_eq!([Exit::Done, Exit::Failed, Exit::Refused, Exit::PolicyFailed].map(|e| e as i32), [0, 1, 2, 3]);
    }
}
