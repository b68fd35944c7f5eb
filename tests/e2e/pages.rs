//! A tick over more invoices than one page and one multi-row statement hold:
//! every invoice decided once, each outbox row tied to its own invoice's
//! decision, and nothing decided twice at the same time.

use std::collections::{HashMap, HashSet};

use chrono::Days;
use sollecito::Runtime;
use sollecito::config::Config;
use sollecito::decision::{Action, Review};
use sollecito::intake::Dataset;

use crate::common::*;

/// `n` invoices cycling through the example customers, due on spread dates.
fn many(n: usize) -> Dataset {
    let base = dataset("invoices.json");
    let mut data = Dataset { customers: base.customers.clone(), invoices: vec![], events: vec![] };
    for i in 0..n {
        let mut inv = base.invoices[i % base.invoices.len()].clone();
        inv.id = format!("p-{i:05}");
        inv.number = format!("P-{i:05}");
        inv.due = inv.due - Days::new((i % 50) as u64);
        data.invoices.push(inv);
    }
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_over_several_pages_decides_each_invoice_once() {
    let dir = tempfile::tempdir().unwrap();
    several_pages(&dir.path().join("pages.db")).await;
}

/// The same on PostgreSQL (the local server CI starts), in a database of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_over_several_pages_decides_each_invoice_once_on_postgres() {
    let db = PostgresDatabase::create("pages").await;
    several_pages(std::path::Path::new(&db.url)).await;
    db.drop().await;
}

async fn several_pages(db: &std::path::Path) {
    let mut catalog = catalog();
    let outbox = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.email.outbox_dir = Some(outbox.path().to_path_buf());
    config.data_dir = Some(outbox.path().to_path_buf());
    let runtime = Runtime::open(db, config, &mut catalog).await.unwrap();
    // 2,345 invoices: three pages of up to 1,000, statements of up to 500 rows.
    let data = many(2_345);
    let now = at("2026-10-31T09:00:00Z");
    runtime.store().import(&data, now - chrono::Duration::days(60)).await.unwrap();

    let report = runtime.decide(now, false).await.unwrap();
    assert_eq!(report.evaluated, 2_345);
    assert_eq!(report.plugin_errors, 0, "{:?}", report.errors);
    assert!(report.reminders_queued > 1_000, "{report:?}");

    let mut steps_seen = 0;
    for inv in data.invoices.iter().step_by(7) {
        let decisions = runtime.store().decisions_of(&inv.id).await.unwrap();
        assert_eq!(decisions.len(), 1, "{}: {decisions:?}", inv.id);
        let ids: HashSet<i64> = decisions.iter().map(|d| d.id).collect();
        for row in runtime.store().outbox_of(&inv.id).await.unwrap() {
            assert_eq!(row.invoice_id, inv.id);
            assert!(ids.contains(&row.decision_id), "{}: outbox row tied to decision {}", inv.id, row.decision_id);
            steps_seen += 1;
        }
    }
    assert!(steps_seen > 100, "{steps_seen}");

    // Each invoice got its own decision, not a neighbour's: the page was split
    // across threads and put back in order. Due dates differ, so decisions do.
    let policy = runtime.policies().by_name["b2b-standard"].clone();
    let mut distinct = HashSet::new();
    for inv in data.invoices.iter().step_by(97) {
        let customer = data.customers.iter().find(|c| c.id == inv.customer_id).unwrap();
        let review = Review { invoice: inv, customer, history: &[] };
        let alone = policy.decide(now.timestamp(), &[], &[review]).remove(0).unwrap();
        let expected: Vec<_> = alone.actions.iter().map(Action::to_json).collect();
        let recorded = &runtime.store().decisions_of(&inv.id).await.unwrap()[0].actions;
        assert_eq!(recorded, &serde_json::Value::Array(expected.clone()), "{}", inv.id);
        distinct.insert(serde_json::to_string(&expected).unwrap());
    }
    assert!(distinct.len() > 2, "{distinct:?}");

    // Every next review moved past `now`: the same tick again decides nothing.
    let again = runtime.decide(now, false).await.unwrap();
    assert_eq!(again.evaluated, 0, "{again:?}");

    // A day later the invoices due again are decided once more, and no step is doubled.
    let later = runtime.decide(now + chrono::Duration::days(8), false).await.unwrap();
    assert!(later.evaluated > 0);
    let mut per_step: HashMap<(String, String), usize> = HashMap::new();
    for inv in data.invoices.iter().step_by(11) {
        for row in runtime.store().outbox_of(&inv.id).await.unwrap() {
            *per_step.entry((row.invoice_id, row.step)).or_default() += 1;
        }
    }
    assert!(per_step.values().all(|&n| n == 1), "{per_step:?}");
}
