//! Actions the host carries out itself, besides reminders.

use sollecito::Runtime;
use sollecito::event::Event;

use crate::common::*;
use crate::pipeline::Site;

/// A disputed invoice: the policy asks for a manual review, the host opens a
/// task once, `sollecito tasks` lists it, and the step's record says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_review_opens_one_task() {
    let site = Site::new();
    let mut catalog = catalog();
    let runtime = Runtime::open(&site.db_path(), site.config(), &mut catalog).await.unwrap();
    let now = at("2026-10-20T09:00:00Z");
    runtime.store().import(&dataset("invoices.json"), now - chrono::Duration::days(30)).await.unwrap();
    let disputed = "inv-1002";
    let event = Event::DisputeOpened { reason: "goods never arrived".into() };
    runtime
        .store()
        .apply_event(disputed, &event, sollecito::event::Door::Api, now - chrono::Duration::hours(1))
        .await
        .unwrap();

    for day in 0..3 {
        runtime.decide(now + chrono::Duration::days(day), false).await.unwrap();
    }

    let tasks = runtime.store().tasks(false).await.unwrap();
    let reviews: Vec<_> = tasks.iter().filter(|t| t.invoice_id == disputed).collect();
    assert_eq!(reviews.len(), 1, "{tasks:?}");
    let task = reviews[0];
    assert_eq!(task.key, format!("{disputed}/dispute-review"));
    assert!(task.script.contains("goods never arrived"), "{}", task.script);
    assert!(task.script.contains("EUR"), "{}", task.script);

    let steps: Vec<_> = runtime.store().outbox_of(disputed).await.unwrap();
    let review: Vec<_> = steps.iter().filter(|o| o.step == "dispute-review").collect();
    assert_eq!(review.len(), 1, "{steps:?}");
    assert_eq!(review[0].state.as_str(), "done");
    // No reminder goes to a customer who disputes.
    assert!(steps.iter().all(|o| o.kind.as_str() != "remind" || o.state.as_str() == "cancelled"), "{steps:?}");

    // The operator's list, from the real binary on the same file.
    let out = site.run(&["tasks"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Review invoice"), "{}", stdout(&out));
}

/// Sixty days past due and the formal notice unanswered: the B2B policy hands
/// the invoice to collections; the host writes the hand-over once, as JSON and
/// CSV, with the debtor, the amounts and every message and event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_get_a_hand_over_with_the_whole_correspondence() {
    let site = Site::new();
    let mut catalog = catalog();
    // PEC through the default relay (the outbox folder), as in the demo.
    let mut config = site.config();
    config.channels.entry("pec".into()).or_default();
    let runtime = Runtime::open(&site.db_path(), config, &mut catalog).await.unwrap();
    let start = at("2026-09-20T10:00:00Z");
    runtime.store().import(&dataset("invoices.json"), start).await.unwrap();
    for day in 0..90 {
        runtime.tick(start + chrono::Duration::days(day), false).await.unwrap();
    }

    let folder = site.path("handovers");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("handover-inv-1001.json")).unwrap()).unwrap();
    assert_eq!(json["debtor"]["name"], "Rossi Impianti S.r.l.");
    assert_eq!(json["invoices"][0]["number"], "FT-2026/1001");
    assert_eq!(json["invoices"][0]["outstanding"], "1250.00 EUR");
    assert_eq!(json["invoices"][0]["outstanding_minor"], 125_000);
    let log = json["correspondence"].as_array().unwrap();
    let steps: Vec<&str> = log.iter().filter_map(|e| e["step"].as_str()).collect();
    for step in ["overdue-7", "overdue-15", "overdue-30", "formal-notice"] {
        assert!(steps.contains(&step), "{step} missing from {steps:?}");
    }
    assert!(log.iter().any(|e| e["what"] == "event" && e["detail"] == "imported"), "{log:?}");
    let formal = log.iter().find(|e| e["step"] == "formal-notice").unwrap();
    assert!(formal["outcome"].as_str().unwrap().starts_with("sent"), "{formal}");

    let csv = std::fs::read_to_string(folder.join("handover-inv-1001.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap().get(6), Some("what"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), log.len());
    assert!(rows.iter().all(|r| &r[0] == "cus-rossi" && &r[4] == "1250.00 EUR"));

    // Written once: the step is done and the invoice closed.
    let handover: Vec<_> =
        runtime.store().outbox_of("inv-1001").await.unwrap().into_iter().filter(|o| o.step == "handover").collect();
    assert_eq!(handover.len(), 1);
    assert_eq!(handover[0].state.as_str(), "done");
    assert!(handover[0].receipt.as_deref().unwrap().ends_with("handover-inv-1001.json"));
    let before = std::fs::metadata(folder.join("handover-inv-1001.json")).unwrap().modified().unwrap();
    runtime.tick(start + chrono::Duration::days(91), false).await.unwrap();
    assert_eq!(std::fs::metadata(folder.join("handover-inv-1001.json")).unwrap().modified().unwrap(), before);
}
