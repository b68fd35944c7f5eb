//! Messages from files: one `.eml`, an mbox, a Maildir (`cur/` and `new/`),
//! or a folder of `.eml` files. Each comes with a name to report it by.

use std::path::{Path, PathBuf};

use mail_parser::mailbox::mbox::MessageIterator;

/// The messages in `path`, in order, each with a name; unreadable files are an error naming them.
pub(crate) fn messages(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    if path.is_dir() {
        let maildir = path.join("cur").is_dir() || path.join("new").is_dir();
        let folders = if maildir { vec![path.join("new"), path.join("cur")] } else { vec![path.to_path_buf()] };
        let mut files: Vec<PathBuf> = vec![];
        for folder in folders.iter().filter(|f| f.is_dir()) {
            for entry in std::fs::read_dir(folder)? {
                let file = entry?.path();
                let wanted = maildir || file.extension().is_some_and(|e| e.eq_ignore_ascii_case("eml"));
                if file.is_file() && wanted && !file.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                    files.push(file);
                }
            }
        }
        files.sort();
        return files.iter().map(|f| Ok((f.display().to_string(), read(f)?))).collect();
    }
    let bytes = read(path)?;
    if bytes.starts_with(b"From ") {
        let name = path.display().to_string();
        let iter = MessageIterator::new(std::io::Cursor::new(bytes));
        return iter
            .enumerate()
            .map(|(i, m)| {
                let m = m.map_err(|_| anyhow::anyhow!("{name}: message {} of the mbox cannot be read", i + 1))?;
                Ok((format!("{name} #{}", i + 1), m.unwrap_contents()))
            })
            .collect();
    }
    Ok(vec![(path.display().to_string(), bytes)])
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?.len();
    // A file beyond the cap is still taken in, as its beginning, to be quarantined as too large.
    if size > (super::read::MAX_BYTES as u64) * 4 {
        anyhow::bail!("{}: {} MB, not a message", path.display(), size / 1024 / 1024);
    }
    std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
