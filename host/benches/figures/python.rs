//! Figures: a policy in Python against its Rust twin (issue 17: at most 5x
//! per invoice in a batch; a load from the compiled cache in 50 ms or less).
//!
//! Both are the example policy, ACME's gentle ladder: `examples/custom-policy`
//! (Rust, SDK) and `examples/python-policy` (componentize-py), as the test
//! artifacts build them. Same views, same sandbox limits, median of 7 batches.

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use sollecito::sandbox::v0_3::InvoiceView;
use sollecito::sandbox::{Limits, PluginSource, Sandbox};

use super::{Row, median, ns};

pub fn rows(cache: &Path, batch: &[InvoiceView], now: DateTime<Utc>) -> Vec<Row> {
    let sandbox = Sandbox::new(Limits::default(), Some(cache.to_path_buf())).unwrap();
    let load = |path: &str| {
        let bytes = std::fs::read(path).unwrap();
        let t = Instant::now();
        let plugin = sandbox.load(&bytes, PluginSource::File(path.into())).unwrap();
        (plugin, t.elapsed())
    };
    let (_, first) = load(sollecito_test_artifacts::acme_gentle_py());
    let (python, _) = load(sollecito_test_artifacts::acme_gentle_py());
    let cached = median(7, || {
        load(sollecito_test_artifacts::acme_gentle_py());
    });
    let rust_cached = median(7, || {
        load(sollecito_test_artifacts::ACME_GENTLE);
    });
    let (rust, _) = load(sollecito_test_artifacts::ACME_GENTLE);
    let evaluate = |plugin: &sollecito::sandbox::Plugin| {
        median(7, || {
            let r = plugin.evaluate(now.timestamp(), &[], batch);
            assert!(r.iter().all(Result::is_ok), "{:?}", r.iter().find(|r| r.is_err()));
        })
    };
    let (py, rs) = (evaluate(&python), evaluate(&rust));
    let n = batch.len();
    vec![
        Row::shown(Row {
            figure: format!("Python policy evaluation per invoice (batch of {n}, acme-gentle-py)"),
            wasm: format!("{:.0} ns", ns(py, n)),
            reference: format!("{:.0} ns its Rust twin (acme-gentle)", ns(rs, n)),
            ratio: format!("{:.2}x", py.as_secs_f64() / rs.as_secs_f64()),
            target: "<= 5x the Rust twin".into(),
        }),
        Row::shown(Row {
            figure: format!(
                "Python component load from the compiled cache ({} MB component; first load compiles: {:.1} s)",
                std::fs::metadata(sollecito_test_artifacts::acme_gentle_py()).unwrap().len() >> 20,
                first.as_secs_f64()
            ),
            wasm: format!("{:.1} ms", cached.as_secs_f64() * 1e3),
            reference: format!("{:.1} ms its Rust twin from the cache", rust_cached.as_secs_f64() * 1e3),
            ratio: format!("{:.1}x", cached.as_secs_f64() / rust_cached.as_secs_f64()),
            target: "<= 50 ms".into(),
        }),
    ]
}
