//! `[bank]`: where statements arrive on their own.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bank {
    /// A folder `serve` imports camt.053/054 statements from before each tick
    /// (a bank's SFTP drop, a CBI remote banking export): each `.xml` moves to
    /// `done/` once recorded, or to `refused/` beside a `.why` saying where it failed.
    pub watch: Option<std::path::PathBuf>,
}
