//! Hostile plugins fail with a clear error, quickly, and the host goes on.

use std::time::{Duration, Instant};

use sollecito::sandbox::PluginSource;
use sollecito_test_artifacts::{FOREIGN_WORLD, HOSTILE};

use crate::common::*;

/// Evaluates the example invoices with the hostile plugin in `mode`; returns
/// the error of every invoice (all must fail) and checks the sandbox still works.
fn all_fail(mode: &str, extra: &[(&str, &str)]) -> Vec<sollecito::sandbox::PolicyError> {
    let sandbox = sandbox();
    let hostile = load(&sandbox, HOSTILE);
    let batch = views(&dataset("invoices.json"));
    let mut pairs = vec![("mode", mode)];
    pairs.extend_from_slice(extra);
    let now = at("2026-10-20T09:00:00Z").timestamp();

    let started = Instant::now();
    let results = hostile.evaluate(now, &settings(&pairs), &batch);
    let took = started.elapsed();
    // Generous: the bound is there to catch a hang, not to measure speed.
    assert!(took < Duration::from_secs(5), "{mode}: took {took:?}");
    assert_eq!(results.len(), batch.len());
    let errors: Vec<_> = results.into_iter().map(|r| r.expect_err(mode)).collect();
    for e in &errors {
        assert_eq!(e.plugin.split(" (").next(), Some("hostile 6.6.6"), "{e}");
        assert!(!e.invoices.is_empty());
    }

    // The same sandbox evaluates a well-behaved policy right after.
    let catalog = catalog();
    let good = catalog.plugins().iter().find(|p| p.id.name == "b2b-standard").unwrap();
    assert!(good.evaluate(now, &[], &batch).iter().all(|r| r.is_ok()));
    let again = hostile.evaluate(now, &settings(&[("mode", "none")]), &batch);
    assert!(again.iter().all(|r| r.is_ok()), "a fresh instance works after {mode}");
    errors
}

fn assert_reason(errors: &[sollecito::sandbox::PolicyError], expected: &str) {
    for e in errors {
        assert!(e.reason.contains(expected), "expected {expected:?} in {:?}", e.reason);
    }
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    assert_reason(&all_fail("loop", &[]), "ran out of fuel");
}

#[test]
fn a_1_gib_allocation_hits_the_memory_cap() {
    assert_reason(&all_fail("alloc", &[]), "hit the memory cap of 64 MiB");
}

#[test]
fn runaway_recursion_exhausts_the_stack() {
    assert_reason(&all_fail("recurse", &[]), "call stack exhausted");
}

#[test]
fn a_panic_is_reported_with_its_message() {
    assert_reason(&all_fail("panic", &[]), "boom on");
}

#[test]
fn a_100_mb_answer_cannot_be_built() {
    // Building it needs more memory than the cap allows.
    assert_reason(&all_fail("oversized", &[("answer_mb", "100")]), "memory cap");
}

#[test]
fn an_answer_over_the_size_cap_is_refused() {
    assert_reason(&all_fail("oversized", &[("answer_mb", "1")]), "exceeds the cap");
}

#[test]
fn sleeping_is_refused_instead_of_blocking_the_host() {
    assert_reason(&all_fail("sleep", &[]), "may not sleep");
}

#[test]
fn invalid_answers_are_refused() {
    assert_reason(&all_fail("short", &[]), "returned 0 results for");
    assert_reason(&all_fail("bad-step", &[]), "invalid step id");
    assert_reason(&all_fail("past-review", &[]), "is not after now");
    assert_reason(&all_fail("refuse", &[]), "refused the invoice: cannot handle");
    // Contract 0.2: a template the policy's describe did not declare.
    assert_reason(&all_fail("undeclared", &[]), "names template \"overdue-firm\", which describe did not declare");
}

#[test]
fn one_poisonous_invoice_does_not_fail_the_others() {
    let sandbox = sandbox();
    let hostile = load(&sandbox, HOSTILE);
    let mut batch = views(&dataset("invoices.json"));
    batch[2].id = "poison".into();
    let results = hostile.evaluate(0, &settings(&[("mode", "poison")]), &batch);
    for (view, result) in batch.iter().zip(&results) {
        if view.id == "poison" {
            let e = result.as_ref().unwrap_err();
            assert_eq!(e.invoices, vec!["poison".to_string()]);
            assert!(e.reason.contains("poisoned by invoice poison"), "{}", e.reason);
        } else {
            assert!(result.is_ok(), "{} failed: {result:?}", view.id);
        }
    }
}

#[test]
fn unusable_files_are_refused_naming_the_file_and_reason() {
    let sandbox = sandbox();
    let file = |name: &str| PluginSource::File(format!("/plugins/{name}").into());

    let err = sandbox.load(b"definitely not wasm", file("junk.wasm")).unwrap_err();
    assert_eq!(err.to_string(), "plugin /plugins/junk.wasm: not a WebAssembly file (no \\0asm header)");

    let core_module = b"\0asm\x01\0\0\0";
    let err = sandbox.load(core_module, file("core.wasm")).unwrap_err();
    assert!(err.to_string().contains("a core WebAssembly module, not a component"), "{err}");

    let real = std::fs::read(HOSTILE).unwrap();
    let err = sandbox.load(&real[..real.len() / 2], file("truncated.wasm")).unwrap_err();
    assert!(err.to_string().starts_with("plugin /plugins/truncated.wasm: not a valid component"), "{err}");

    let foreign = std::fs::read(FOREIGN_WORLD).unwrap();
    let err = sandbox.load(&foreign, file("gadget.wasm")).unwrap_err();
    assert!(
        err.to_string().contains("implements none of the worlds sollecito:plugin/policy@0.3.0")
            && err.to_string().contains("it exports [spin]"),
        "{err}"
    );
}

#[test]
fn a_policy_cannot_import_what_channel_adapters_are_granted() {
    let bytes = std::fs::read(sollecito_test_artifacts::GREEDY_POLICY).unwrap();
    let err = sandbox().load(&bytes, PluginSource::File("/plugins/greedy.wasm".into())).unwrap_err().to_string();
    assert!(
        err.starts_with("plugin /plugins/greedy.wasm: needs something the host does not grant")
            && err.contains("sollecito:plugin/mail"),
        "{err}"
    );
}
