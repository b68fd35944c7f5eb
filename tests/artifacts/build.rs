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
    // Without componentize-py the rest still builds (a plain `cargo build
    // --workspace` on a fresh machine); the tests that need it say so.
    let python = python_policy(&root, &guests).map(|p| p.display().to_string()).unwrap_or_default();
    out.push_str(&format!("const BUILT_ACME_GENTLE_PY: &str = {python:?};\n"));
    std::fs::write(PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("artifacts.rs"), out).unwrap();
}

/// The Python twin of the example policy, built with componentize-py (test.sh
/// installs it, pinned); `None`, with a warning, when componentize-py is not there.
fn python_policy(root: &std::path::Path, out_dir: &std::path::Path) -> Option<PathBuf> {
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
        .status();
    match status {
        Ok(status) => {
            assert!(status.success(), "componentize-py could not build examples/python-policy");
            Some(output)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "cargo:warning=componentize-py is not installed: the Python test policy is not built \
                 (pip install componentize-py==0.25.1; ./test.sh does)"
            );
            // A path that is never there: this script runs again at the next build, when it may be.
            println!("cargo:rerun-if-changed={}", out_dir.join("componentize-py-missing").display());
            None
        }
        Err(e) => panic!("componentize-py could not be run: {e}"),
    }
}
