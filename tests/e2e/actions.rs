//! Actions the host carries out itself, besides reminders.

use sollecito::config::Config;
use sollecito::invoice::Event;
use sollecito::runtime::Runtime;

use crate::common::*;

/// A disputed invoice: the policy asks for a manual review, the host opens a
/// task once, `sollecito tasks` lists it, and the step's record says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_review_opens_one_task() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("actions.db");
    let mut catalog = catalog();
    let runtime = Runtime::open(&db, Config::default(), &mut catalog).await.unwrap();
    let now = at("2026-10-20T09:00:00Z");
    runtime.store.import(&dataset("invoices.json"), now - chrono::Duration::days(30)).await.unwrap();
    let disputed = "inv-1002";
    let event = Event::DisputeOpened { reason: "goods never arrived".into() };
    runtime.store.apply_event(disputed, &event, now - chrono::Duration::hours(1)).await.unwrap();

    for day in 0..3 {
        runtime.decide(now + chrono::Duration::days(day), false).await.unwrap();
    }

    let tasks = runtime.store.tasks(false).await.unwrap();
    let reviews: Vec<_> = tasks.iter().filter(|t| t.invoice_id == disputed).collect();
    assert_eq!(reviews.len(), 1, "{tasks:?}");
    let task = reviews[0];
    assert_eq!(task.key, format!("{disputed}/dispute-review"));
    assert!(task.script.contains("goods never arrived"), "{}", task.script);
    assert!(task.script.contains("EUR"), "{}", task.script);

    let steps: Vec<_> = runtime.store.outbox_of(disputed).await.unwrap();
    let review: Vec<_> = steps.iter().filter(|o| o.step == "dispute-review").collect();
    assert_eq!(review.len(), 1, "{steps:?}");
    assert_eq!(review[0].state, "done");
    // No reminder goes to a customer who disputes.
    assert!(steps.iter().all(|o| o.kind != "remind" || o.state == "cancelled"), "{steps:?}");

    // The operator's list, from the real binary on the same file.
    let out = sollecito(&["--db", db.to_str().unwrap(), "tasks"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Review invoice"), "{}", stdout(&out));
}
