//! Who holds a claim on a message in flight. Every process that delivers is
//! a worker with an id of its own. On one machine a worker also holds an OS
//! lock on a file named after it for as long as it lives, so a restarted
//! process knows at once that the claims of a killed one are orphans; other
//! workers' claims come back when their lease runs out.
//!
//! The file goes only when the worker retires after a clean finish, holding
//! nothing. A worker that stops any other way (killed, or a run that fails
//! with adapter calls in flight) leaves its file unlocked: the next worker
//! knows at once. Once another worker has taken back what it left, the file
//! is renamed `.stopped` and kept for `KEEP_STOPPED`: on PostgreSQL a killed
//! worker's last statement can still commit after the take-back.

use std::fs::File;
use std::path::PathBuf;

pub(crate) struct Worker {
    pub id: String,
    /// The folder of the workers' lock files on this machine, if any.
    registry: Option<PathBuf>,
    /// Held while the worker lives; the kernel lets go when the process dies.
    _lock: Option<File>,
    /// Workers found stopped, remembered once their lock files are removed
    /// (`forget`): their claims may be met again later in the run.
    gone: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Ids are `NAME-pid-nonce`, made of these characters only, so one is a safe file name.
fn plain(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl Worker {
    /// A new worker, named after `SOLLECITO_WORKER` (else the host); with
    /// `registry`, one that other processes on this machine can see die.
    /// The pid and a nonce keep a restarted worker of the same name apart
    /// from the one it replaces, whose claims it must treat as another's.
    pub(crate) fn new(registry: Option<PathBuf>) -> std::io::Result<Self> {
        let named = std::env::var("SOLLECITO_WORKER").ok().filter(|n| !n.trim().is_empty());
        let name: String = named
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .unwrap_or_else(|| "host".into())
            .trim()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .take(40)
            .collect();
        let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let id = format!("{name}-{}-{:x}", std::process::id(), nonce & 0xffff_ffff);
        let lock = match &registry {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                // Locked before it takes its name: a lock file seen unlocked is a stopped worker's.
                let starting = dir.join(format!("{id}.starting"));
                let file = File::create(&starting)?;
                file.lock()?;
                std::fs::rename(&starting, dir.join(format!("{id}.lock")))?;
                Some(file)
            }
            None => None,
        };
        Ok(Worker { id, registry, _lock: lock, gone: Default::default() })
    }

    /// Whether the worker `id` is known to have stopped: its lock file on this
    /// machine is there and nobody holds it. Unknown workers are not gone.
    pub(crate) fn is_gone(&self, id: &str) -> bool {
        let Some(dir) = &self.registry else { return false };
        if id == self.id || !plain(id) {
            return false;
        }
        let mut gone = self.gone.lock().expect("gone workers");
        if gone.contains(id) {
            return true;
        }
        // `.lock` before `.stopped`: `forget` renames one into the other.
        let stopped = match File::open(dir.join(format!("{id}.lock"))) {
            Ok(file) => file.try_lock().is_ok(),
            Err(_) => dir.join(format!("{id}.stopped")).exists(),
        };
        if stopped {
            gone.insert(id.to_string());
        }
        stopped
    }

    /// The workers on this machine known to have stopped: lock files in the
    /// registry that nobody holds, and those already taken back but kept.
    pub(crate) fn stopped_here(&self) -> Vec<String> {
        let Some(dir) = &self.registry else { return vec![] };
        let names = std::fs::read_dir(dir).into_iter().flatten().flatten().filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".lock").or_else(|| name.strip_suffix(".stopped")).map(str::to_string)
        });
        let mut stopped: Vec<String> = names.filter(|id| self.is_gone(id)).collect();
        stopped.sort();
        stopped.dedup();
        stopped
    }

    /// Marks `stopped` workers as taken back: each lock file becomes
    /// `.stopped`, dated now, and is removed `KEEP_STOPPED` later. Until then
    /// every run still knows its worker stopped, whatever of its last
    /// statements commits late (a lease, a claim): the date the file was
    /// created says when the worker started, not when it stopped. A worker
    /// killed before the take-back leaves the files for the next one to find.
    pub(crate) fn forget(&self, stopped: &[String]) {
        let Some(dir) = &self.registry else { return };
        for id in stopped.iter().filter(|id| plain(id) && **id != self.id) {
            let (lock, kept) = (dir.join(format!("{id}.lock")), dir.join(format!("{id}.stopped")));
            if std::fs::rename(&lock, &kept).is_ok() {
                let now = std::time::SystemTime::now();
                let _ = File::options().write(true).open(&kept).and_then(|f| f.set_modified(now));
                continue;
            }
            let age = std::fs::metadata(&kept).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            if age.is_some_and(|age| age >= KEEP_STOPPED) {
                let _ = std::fs::remove_file(kept);
            }
        }
    }

    /// Removes this worker's lock file after a clean finish, when nothing it
    /// claimed is left in flight. Not done on drop: a run that fails returns
    /// while its adapter calls may still be in flight, and their claims must
    /// stay known as a stopped worker's, not as those of a worker nobody can see.
    pub(crate) fn retire(&self) {
        if let Some(dir) = &self.registry {
            let _ = std::fs::remove_file(dir.join(format!("{}.lock", self.id)));
        }
    }
}

/// How long a stopped worker's lock file outlives it: longer than any lease
/// or claim it could still have written (`claim_seconds` is 120 by default).
const KEEP_STOPPED: std::time::Duration = std::time::Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_worker_is_not_gone_and_a_dropped_one_is_until_it_retires() {
        let dir = tempfile::tempdir().unwrap();
        let a = Worker::new(Some(dir.path().into())).unwrap();
        let b = Worker::new(Some(dir.path().into())).unwrap();
        assert_ne!(a.id, b.id);
        assert!(!b.is_gone(&a.id), "a holds its lock");
        assert!(!b.is_gone("someone-elsewhere-1"), "unknown: left to the lease");
        assert!(!b.is_gone("../../etc/passwd"));
        // A crashed worker's file stays, unlocked.
        let orphan = dir.path().join("host-1-dead.lock");
        std::fs::write(&orphan, "").unwrap();
        assert!(b.is_gone("host-1-dead"));
        assert!(orphan.exists(), "kept until what it held is taken back");
        assert_eq!(b.stopped_here(), vec!["host-1-dead".to_string()], "a and b are alive");
        // Taken back: kept an hour as `.stopped`, counted from the take-back, not from
        // its start, so a late commit of its own stays known as a stopped worker's.
        let started_long_ago = std::time::SystemTime::now() - 2 * KEEP_STOPPED;
        std::fs::File::options().write(true).open(&orphan).unwrap().set_modified(started_long_ago).unwrap();
        b.forget(&b.stopped_here());
        let kept = dir.path().join("host-1-dead.stopped");
        assert!(!orphan.exists() && kept.exists());
        let c = Worker::new(Some(dir.path().into())).unwrap();
        assert!(c.is_gone("host-1-dead"), "a later run still knows it stopped");
        assert_eq!(c.stopped_here(), vec!["host-1-dead".to_string()]);
        b.forget(&b.stopped_here());
        assert!(kept.exists(), "kept for KEEP_STOPPED after the take-back");
        let stopped_long_ago = std::time::SystemTime::now() - KEEP_STOPPED;
        std::fs::File::options().write(true).open(&kept).unwrap().set_modified(stopped_long_ago).unwrap();
        b.forget(&b.stopped_here());
        assert!(!kept.exists());
        assert!(b.stopped_here().is_empty());
        assert!(b.is_gone("host-1-dead"), "still known as gone once its file is removed");
        c.retire();

        // Dropped without retiring (a run that failed): its file stays, and it is gone at once.
        let failed = Worker::new(Some(dir.path().into())).unwrap();
        let failed_id = failed.id.clone();
        drop(failed);
        assert!(b.is_gone(&failed_id));
        // Retired after a clean finish: nothing left behind.
        let clean = Worker::new(Some(dir.path().into())).unwrap();
        let clean_id = clean.id.clone();
        clean.retire();
        drop(clean);
        assert!(!dir.path().join(format!("{clean_id}.lock")).exists());
        assert_eq!(b.stopped_here(), vec![failed_id.clone()]);
        // Only the workers named are marked, and they stay stopped for an hour.
        b.forget(&["host-1-dead".to_string()]);
        assert!(dir.path().join(format!("{failed_id}.lock")).exists());
        b.forget(std::slice::from_ref(&failed_id));
        assert!(dir.path().join(format!("{failed_id}.stopped")).exists());
        assert_eq!(b.stopped_here(), vec![failed_id]);
    }
}
