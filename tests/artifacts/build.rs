//! Builds the test guests (tests/guests) and the example policy
//! (examples/custom-policy) for wasm32-wasip2, and tells the tests where they are.

#[path = "../../host/build_support.rs"]
mod build_support;

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..").canonicalize().unwrap();
    for watched in ["tests/guests", "examples/custom-policy", "examples/python-policy/app.py", "plugins/sdk", "wit"] {
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
    let python = python_policy(&root, &guests);
    out.push_str(&format!("pub const ACME_GENTLE_PY: &str = {:?};\n", python.display().to_string()));
    std::fs::write(PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("artifacts.rs"), out).unwrap();
}

/// The Python twin of the example policy, built with componentize-py (test.sh installs it, pinned).
fn python_policy(root: &std::path::Path, out_dir: &std::path::Path) -> PathBuf {
    // Built from a copy: componentize-py leaves a __pycache__ beside the source,
    // which would make this script run again on every build.
    let source = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("python-policy");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::copy(root.join("examples/python-policy/app.py"), source.join("app.py")).unwrap();
    let output = out_dir.join("acme_gentle_py.wasm");
    let status = std::process::Command::new("componentize-py")
        .arg("-d")
        .arg(root.join("wit"))
        .args(["-w", "policy", "componentize", "app", "-o"])
        .arg(&output)
        .current_dir(&source)
        .status()
        .expect(
            "componentize-py is needed for the Python policy: pip install componentize-py==0.25.1 (./test.sh does)",
        );
    assert!(status.success(), "componentize-py could not build examples/python-policy");
    output
}
