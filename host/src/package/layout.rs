//! An OCI image layout in one tar (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`), the form a package takes as a file: what `oras` and
//! `skopeo` read as `oci-archive`. Written byte for byte the same for the same
//! blobs; read strictly, every blob checked against its name.

use std::collections::BTreeMap;
use std::io::Read;

use sha2::{Digest, Sha256};

use super::Refused;

/// Entries of a layout at most, and the bytes of a whole one (component included).
const MAX_ENTRIES: usize = 64;
pub(crate) const MAX_BYTES: u64 = 64 << 20;
/// `index.json` and `oci-layout` at most.
const MAX_INDEX: u64 = 1 << 20;

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// `sha256:<hex>` of `bytes`.
pub(crate) fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A layout's blobs by digest, and its index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    pub blobs: BTreeMap<String, Vec<u8>>,
    pub index: Vec<u8>,
}

impl Layout {
    /// Adds a blob; returns its digest.
    pub(crate) fn add(&mut self, bytes: Vec<u8>) -> String {
        let digest = digest_of(&bytes);
        self.blobs.insert(digest.clone(), bytes);
        digest
    }

    pub(crate) fn blob(&self, digest: &str) -> Result<&[u8], Refused> {
        self.blobs.get(digest).map(Vec::as_slice).ok_or_else(|| Refused::new(digest, "the blob is missing"))
    }

    /// The tar, the same bytes for the same layout: sorted, no times, no owners.
    pub(crate) fn to_tar(&self) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut put = |path: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, path, bytes).expect("a tar in memory");
        };
        put("oci-layout", OCI_LAYOUT);
        put("index.json", &self.index);
        for (digest, bytes) in &self.blobs {
            put(&format!("blobs/sha256/{}", digest.trim_start_matches("sha256:")), bytes);
        }
        tar.into_inner().expect("a tar in memory")
    }

    /// Reads a layout tar: regular files at the three kinds of path only, each
    /// blob's bytes hashing to its name, sizes bounded.
    pub(crate) fn from_tar(bytes: &[u8]) -> Result<Layout, Refused> {
        if bytes.len() as u64 > MAX_BYTES {
            return Err(Refused::new("package", &format!("larger than {} MB", MAX_BYTES >> 20)));
        }
        let bad_tar = |e: std::io::Error| Refused::new("package", &format!("not a tar: {e}"));
        let mut archive = tar::Archive::new(bytes);
        let mut layout = Layout::default();
        let mut marker = false;
        for (n, entry) in archive.entries().map_err(bad_tar)?.enumerate() {
            if n >= MAX_ENTRIES {
                return Err(Refused::new("package", &format!("more than {MAX_ENTRIES} entries")));
            }
            let mut entry = entry.map_err(bad_tar)?;
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let shown: String = path.chars().take(80).flat_map(char::escape_default).collect();
            let kind = entry.header().entry_type();
            if kind.is_dir() && matches!(path.as_str(), "blobs" | "blobs/" | "blobs/sha256" | "blobs/sha256/") {
                continue;
            }
            if !kind.is_file() {
                return Err(Refused::new(
                    &shown,
                    "only regular files may be in a package (no links, devices or folders)",
                ));
            }
            let size = entry.header().size().map_err(bad_tar)?;
            let hex = path.strip_prefix("blobs/sha256/");
            let limit = if hex.is_some() { MAX_BYTES } else { MAX_INDEX };
            if size > limit {
                return Err(Refused::new(&shown, "too large"));
            }
            let mut content = Vec::with_capacity(size as usize);
            entry.by_ref().take(limit).read_to_end(&mut content).map_err(bad_tar)?;
            match (path.as_str(), hex) {
                ("oci-layout", _) => marker = true,
                ("index.json", _) => layout.index = content,
                (_, Some(hex))
                    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
                {
                    let digest = format!("sha256:{hex}");
                    if digest_of(&content) != digest {
                        return Err(Refused::new(&shown, "its bytes do not hash to its name: altered"));
                    }
                    layout.blobs.insert(digest, content);
                }
                _ => return Err(Refused::new(&shown, "not a path of an OCI image layout")),
            }
        }
        if !marker || layout.index.is_empty() {
            return Err(Refused::new("package", "not an OCI image layout (no oci-layout or index.json)"));
        }
        Ok(layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, kind, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_entry_type(*kind);
            if kind.is_symlink() {
                header.set_link_name("/etc/passwd").unwrap();
            }
            // Written raw: `append_data` itself refuses `..`, a hostile tar does not.
            header.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            tar.append(&header, *bytes).unwrap();
        }
        tar.into_inner().unwrap()
    }

    #[test]
    fn a_layout_reads_back_as_written_and_the_same_bytes_twice() {
        let mut layout = Layout::default();
        let digest = layout.add(b"\0asm component".to_vec());
        layout.index = b"{}".to_vec();
        let tar = layout.to_tar();
        assert_eq!(tar, layout.to_tar());
        let back = Layout::from_tar(&tar).unwrap();
        assert_eq!(back.blob(&digest).unwrap(), b"\0asm component");
    }

    #[test]
    fn links_parent_paths_stray_files_and_altered_blobs_are_refused() {
        let good = digest_of(b"x");
        let hex = good.trim_start_matches("sha256:");
        let blob = format!("blobs/sha256/{hex}");
        let base: [(&str, tar::EntryType, &[u8]); 2] =
            [("oci-layout", tar::EntryType::Regular, OCI_LAYOUT), ("index.json", tar::EntryType::Regular, b"{}")];
        let cases: [(&str, tar::EntryType, &[u8], &str); 4] = [
            (&blob, tar::EntryType::Symlink, b"", "only regular files"),
            ("../../etc/cron.d/x", tar::EntryType::Regular, b"x", "not a path"),
            ("blobs/sha256/../../x", tar::EntryType::Regular, b"x", "not a path"),
            (&blob, tar::EntryType::Regular, b"y", "altered"),
        ];
        for (path, kind, bytes, why) in cases {
            let mut entries = base.to_vec();
            entries.push((path, kind, bytes));
            let refused = Layout::from_tar(&tar_of(&entries)).unwrap_err();
            assert!(refused.reason.contains(why), "{path}: {refused}");
        }
        let missing = Layout::from_tar(&tar_of(&base[1..])).unwrap_err();
        assert!(missing.reason.contains("not an OCI image layout"), "{missing}");
    }
}
