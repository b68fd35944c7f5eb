//! The same input gives the same decision: in a batch or alone, today or on
//! another run, whatever the plugin reads from its (frozen) environment.

use sollecito_test_artifacts::HOSTILE;

use crate::common::*;

#[test]
fn the_same_batch_twice_gives_the_same_decisions() {
    let catalog = catalog();
    let policy = catalog.plugins().iter().find(|p| p.id.name == "b2b-standard").unwrap();
    let batch = views(&dataset("invoices.json"));
    for day in ["2026-09-27", "2026-10-08", "2026-10-31", "2026-11-30"] {
        let now = at(&format!("{day}T09:00:00Z")).timestamp();
        let first = policy.evaluate(now, &[], &batch);
        let second = policy.evaluate(now, &[], &batch);
        assert_eq!(first, second, "{day}");
        assert!(first.iter().all(|r| r.is_ok()));
    }
}

#[test]
fn an_invoice_alone_gets_the_decision_it_gets_in_a_batch() {
    let catalog = catalog();
    let batch = views(&dataset("invoices.json"));
    let now = at("2026-10-31T09:00:00Z").timestamp();
    for policy in catalog.plugins() {
        let together = policy.evaluate(now, &[], &batch);
        for (view, in_batch) in batch.iter().zip(&together) {
            let alone = policy.evaluate(now, &[], std::slice::from_ref(view));
            assert_eq!(&alone[0], in_batch, "{} on {}", policy.id.name, view.id);
        }
    }
}

#[test]
fn clock_and_randomness_are_frozen() {
    let sandbox = sandbox();
    let hostile = load(&sandbox, HOSTILE);
    let batch = views(&dataset("invoices.json"));
    let now = at("2026-10-31T09:00:00Z").timestamp();
    let read = || match &hostile.evaluate(now, &settings(&[("mode", "entropy")]), &batch[..1])[0] {
        Err(e) => e.reason.clone(),
        Ok(d) => panic!("expected the entropy report, got {d:?}"),
    };
    let first = read();
    assert!(first.contains(&format!("clock={now} ")), "the wall clock is the evaluation's now: {first}");
    assert_eq!(first, read(), "seeded randomness");
    // A second sandbox (a second run of the host) sees the same.
    let other = load(&super::common::sandbox(), HOSTILE);
    let third = match &other.evaluate(now, &settings(&[("mode", "entropy")]), &batch[..1])[0] {
        Err(e) => e.reason.clone(),
        Ok(_) => unreachable!(),
    };
    assert_eq!(first, third);
}
