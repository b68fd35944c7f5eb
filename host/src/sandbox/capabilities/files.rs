//! One folder an adapter may write files into (printed letters), granted by
//! `folder = "..."`: plain file names only, written whole or not at all.

use super::CallState;

/// The largest file an adapter may write.
const MAX_FILE: usize = 16 << 20;

pub(super) fn write(state: &CallState, name: &str, contents: &[u8]) -> Result<String, String> {
    let Some(folder) = &state.grants.folder else {
        tracing::warn!(plugin = %state.plugin, "denied: no folder granted to this plugin");
        return Err("denied: no folder is granted to this adapter".into());
    };
    // A bare file name: no separators, no "..", nothing hidden.
    let plain = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !plain {
        return Err(format!("denied: {name:?} is not a plain file name"));
    }
    if contents.len() > MAX_FILE {
        return Err("denied: a file may not exceed 16 MiB".into());
    }
    let path = folder.join(name);
    let tmp = folder.join(format!(".{name}.tmp"));
    std::fs::create_dir_all(folder)
        .and_then(|_| std::fs::write(&tmp, contents))
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path.display().to_string())
}
