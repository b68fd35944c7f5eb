//! Builds the bundled plugins in `plugins/` for wasm32-wasip2 and embeds them
//! (the way wasmtime's test-programs/artifacts builds its guests).

#[path = "build_support.rs"]
mod build_support;

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

/// (plugin name, cargo artifact name) of every bundled plugin.
const BUNDLED: &[(&str, &str)] = &[
    ("b2b-standard", "b2b_standard"),
    ("subscription-recovery", "subscription_recovery"),
    ("email", "email"),
    ("webhook", "webhook"),
    ("sms", "sms"),
    ("phone-task", "phone_task"),
    ("letter", "letter"),
    ("stripe", "stripe"),
    ("billing-webhook", "billing_webhook"),
    ("reader", "reader"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    for watched in ["plugins", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let wasm_dir = build_support::build_guests(&root, &root.join("plugins/Cargo.toml"));
    let mut out = String::from(
        "/// Bundled plugins: (name, component bytes).\npub(crate) static BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for (name, artifact) in BUNDLED {
        let path = wasm_dir.join(format!("{artifact}.wasm"));
        assert!(path.exists(), "{} was not built", path.display());
        writeln!(out, "    ({name:?}, include_bytes!({:?})),", path.display().to_string()).unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bundled.rs");
    std::fs::write(dest, out).unwrap();
}
