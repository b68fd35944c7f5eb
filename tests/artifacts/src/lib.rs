//! Paths of the wasm guests the end-to-end tests load, built by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
