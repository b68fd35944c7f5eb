//! Compiled plugins on disk, keyed by the component's sha256 and the engine's
//! compatibility hash, so a second start deserializes (<1 ms) instead of compiling (~50 ms).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

pub struct CompiledCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

impl CompiledCache {
    /// `dir: None` disables the cache.
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        CompiledCache { dir, engine_key: format!("{:016x}", h.finish()) }
    }

    /// The default folder: `$SOLLECITO_CACHE_DIR`, else `$XDG_CACHE_HOME/sollecito`, else `~/.cache/sollecito`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("SOLLECITO_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
        Some(base.join("sollecito"))
    }

    fn path(&self, sha256: &str) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(format!("{sha256}-{}.cwasm", self.engine_key)))
    }

    /// Returns the compiled component, from the cache when possible. The
    /// returned flag says whether it came from the cache.
    pub fn component(&self, engine: &Engine, sha256: &str, bytes: &[u8]) -> wasmtime::Result<(Component, bool)> {
        let path = self.path(sha256);
        if let Some(path) = &path
            && path.exists()
        {
            // SAFETY: the file was written by `precompile_component` of an engine with the
            // same compatibility hash, into a folder only this program writes.
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(component) => return Ok((component, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "compiled plugin cache entry unusable; recompiling")
                }
            }
        }
        let compiled = engine.precompile_component(bytes)?;
        if let Some(path) = &path {
            // Write then rename, so a concurrent start never reads half a file.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            let stored = std::fs::create_dir_all(path.parent().unwrap())
                .and_then(|_| std::fs::write(&tmp, &compiled))
                .and_then(|_| std::fs::rename(&tmp, path));
            if let Err(e) = stored {
                tracing::warn!(path = %path.display(), error = %e, "could not cache the compiled plugin");
            }
        }
        // SAFETY: `compiled` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        Ok((component, false))
    }
}
