// Shared by the build scripts of `host` (bundled plugins) and `tests/artifacts`
// (hostile guests and the example policy).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `cargo build --release --target wasm32-wasip2` on a guest workspace and
/// returns the folder holding its `.wasm` files. Installs the target if missing.
pub fn build_guests(root: &Path, manifest: &Path) -> PathBuf {
    ensure_wasm_target();
    // A target dir of its own so the nested cargo never waits on the outer one's lock.
    let target_dir =
        env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target")).join("wasm");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        // `cargo clippy` lints the host; a guest built under its driver is left without its libraries.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .status()
        .expect("could not run cargo to build the wasm guests");
    assert!(status.success(), "building {} for wasm32-wasip2 failed", manifest.display());
    target_dir.join("wasm32-wasip2").join("release")
}

fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc).args(["--print", "sysroot"]).output().expect("rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib/wasm32-wasip2").exists() {
        return;
    }
    println!("cargo:warning=installing the wasm32-wasip2 target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .status()
        .expect("the wasm32-wasip2 target is missing and rustup could not be run; install it with `rustup target add wasm32-wasip2`");
    assert!(status.success(), "rustup target add wasm32-wasip2 failed");
}
