//! Paths of the wasm guests the end-to-end tests load, built by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// The Python twin of the example policy. The tests build without
/// componentize-py; the ones that load this fail, saying what to install.
pub fn acme_gentle_py() -> &'static str {
    assert!(
        !BUILT_ACME_GENTLE_PY.is_empty(),
        "the Python test policy was not built: componentize-py was not installed when the tests were built \
         (pip install componentize-py==0.25.1; ./test.sh does)"
    );
    BUILT_ACME_GENTLE_PY
}
