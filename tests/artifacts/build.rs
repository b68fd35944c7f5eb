//! Builds the test guests (tests/guests) and the example policy
//! (examples/custom-policy) for wasm32-wasip2, and tells the tests where they are.

#[path = "../../host/build_support.rs"]
mod build_support;

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..").canonicalize().unwrap();
    for watched in ["tests/guests", "examples/custom-policy", "plugins/sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let guests = build_support::build_guests(&root, &root.join("tests/guests/Cargo.toml"));
    let example = build_support::build_guests(&root, &root.join("examples/custom-policy/Cargo.toml"));
    let mut out = String::new();
    for (konst, dir, artifact) in [
        ("HOSTILE", &guests, "hostile"),
        ("FOREIGN_WORLD", &guests, "foreign_world"),
        ("OUTSIDER", &guests, "outsider"),
        ("ECHO_CHANNEL", &guests, "echo_channel"),
        ("GREEDY_POLICY", &guests, "greedy_policy"),
        ("ACME_GENTLE", &example, "acme_gentle"),
    ] {
        let path = dir.join(format!("{artifact}.wasm"));
        assert!(path.exists(), "{} was not built", path.display());
        out.push_str(&format!("pub const {konst}: &str = {:?};\n", path.display().to_string()));
    }
    std::fs::write(PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("artifacts.rs"), out).unwrap();
}
