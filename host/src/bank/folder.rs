//! A folder statements are dropped into (a bank's SFTP delivery, a remote
//! banking export): each is imported through the same door as
//! `sollecito bank import`, then moved aside, so a statement is read once
//! and one that failed is kept for a person with the reason beside it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::{Imported, Source};
use crate::store::Store;

/// A file touched more recently than this may still be being written.
const SETTLED: Duration = Duration::from_secs(1);

/// What became of one file of the folder.
#[derive(Debug)]
pub(crate) enum Taken {
    Imported(PathBuf, Imported),
    Refused(PathBuf, String),
}

/// Imports every settled `.xml` of `dir` (a regular file: a link is not
/// followed); `done/` or `refused/` (with a `.why`) takes it after. Each is
/// first moved into `processing/`, so a file the bank delivers again under
/// the same name, or a second worker, never meets it half read. A store that
/// fails puts the file back for the next look, and the others are still read.
pub(crate) async fn take(store: &Store, dir: &Path, now: DateTime<Utc>) -> anyhow::Result<Vec<Taken>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(settled)
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|x| x.to_str()).is_some_and(|x| x.eq_ignore_ascii_case("xml")))
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    // In the order the bank named them: the day's notification before its statement.
    files.sort();
    let mut taken = vec![];
    for file in files {
        // Another worker took it first: it is theirs.
        let Ok(claimed) = move_into(&file, "processing") else { continue };
        match super::import(store, Source::File(claimed.clone()), now).await {
            Ok(Ok(done)) => taken.push(Taken::Imported(move_out(&claimed, "done")?, done)),
            Ok(Err(refused)) => {
                let moved = move_out(&claimed, "refused")?;
                let why = format!("refused at {refused}\n");
                std::fs::write(moved.with_extension("why"), &why)?;
                taken.push(Taken::Refused(moved, why.trim_end().to_string()));
            }
            Err(e) => {
                tracing::error!(file = %file.display(), error = %format!("{e:#}"), "statement not recorded; tried again at the next look");
                if !file.exists() {
                    std::fs::rename(&claimed, &file)?;
                }
            }
        }
    }
    Ok(taken)
}

fn settled(entry: &std::fs::DirEntry) -> bool {
    let modified = entry.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::now());
    SystemTime::now().duration_since(modified).is_ok_and(|age| age >= SETTLED)
}

/// Moves a file out of `processing/` into the folder `into` beside it.
fn move_out(claimed: &Path, into: &str) -> anyhow::Result<PathBuf> {
    let processing = claimed.parent().unwrap_or(Path::new("."));
    let dir = processing.parent().unwrap_or(Path::new("."));
    move_into_dir(claimed, &dir.join(into))
}

/// Moves `file` into the folder `into` beside it; a name taken already gets a number.
fn move_into(file: &Path, into: &str) -> anyhow::Result<PathBuf> {
    move_into_dir(file, &file.parent().unwrap_or(Path::new(".")).join(into))
}

fn move_into_dir(file: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("statement.xml");
    let mut target = dir.join(name);
    let mut n = 1;
    while target.exists() {
        let stem = Path::new(name).file_stem().and_then(|s| s.to_str()).unwrap_or("statement");
        target = dir.join(format!("{stem}.{n}.xml"));
        n += 1;
    }
    std::fs::rename(file, &target)?;
    Ok(target)
}
