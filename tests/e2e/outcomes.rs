//! Outcomes tied to the messages before them, through the real pipeline: a
//! payment is attributed to the last message that left in the window, with
//! the path, in the transaction of its event; `sollecito report` reads them.

use chrono::{Days, NaiveDate};
use serde_json::Value;
use sollecito::Runtime;
use sollecito::config::Config;
use sollecito::intake::Dataset;
use sollecito::invoice::Event;

use crate::common::*;

fn noon(day: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    day.and_hms_opt(12, 0, 0).unwrap().and_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_tied_to_the_last_message_in_the_window_and_the_report_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outcomes.db");
    let mut catalog = catalog();
    let mut config = Config::default();
    config.outcomes.attribution_days = 7;
    let runtime = Runtime::open(&db, config, &mut catalog).await.unwrap();
    let data = dataset("invoices.json");
    let start: NaiveDate = "2026-09-24".parse().unwrap();
    runtime.store().import(&Dataset { events: vec![], ..data }, noon(start)).await.unwrap();
    for offset in 0..18 {
        runtime.tick(noon(start + Days::new(offset)), false).await.unwrap();
    }
    // inv-1004 got its pre-due reminder on 28 September and overdue-7 on 8 October; paid on the 12th.
    let paid_on = noon("2026-10-12".parse().unwrap());
    runtime.store().apply_event("inv-1004", &Event::Paid, paid_on).await.unwrap();
    // Told twice (a webhook retried, an operator's second click): one recovery.
    runtime.store().apply_event("inv-1004", &Event::Paid, paid_on).await.unwrap();
    // inv-1001 paid in part on the same day: an outcome of its own, not a recovery in full.
    runtime.store().apply_event("inv-1001", &Event::PaymentReceived { amount: 50_000 }, paid_on).await.unwrap();

    let outcomes = runtime.store().outcomes(0, i64::MAX).await.unwrap();
    let harbour = outcomes.iter().find(|o| o.invoice_id == "inv-1004").unwrap();
    assert_eq!((harbour.kind.as_str(), harbour.recovered, harbour.currency.as_str()), ("paid", 98_000, "GBP"));
    assert_eq!(harbour.touch_step.as_deref(), Some("overdue-7"));
    assert_eq!(harbour.touch_channel.as_deref(), Some("email"));
    assert_eq!(harbour.touch_policy.as_deref(), Some("b2b-standard"));
    // The pre-due reminder left more than 7 days before: outside the window, not in the path.
    assert_eq!(harbour.path, ["overdue-7"]);
    let history = runtime.store().outbox_of("inv-1004").await.unwrap();
    let touch = history.iter().find(|o| o.step == "overdue-7").unwrap();
    assert_eq!(harbour.after_touch, Some(paid_on.timestamp() - touch.done_at.unwrap()));
    let rossi = outcomes.iter().find(|o| o.invoice_id == "inv-1001").unwrap();
    assert_eq!((rossi.kind.as_str(), rossi.recovered), ("paid-in-part", 50_000));
    // The dispute scripted for inv-1005 was not applied here: no other outcome.
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    drop(runtime);

    let db_arg = db.to_str().unwrap();
    let out =
        sollecito(&["--db", db_arg, "report", "--from", "2026-09-24", "--to", "2026-10-12", "--by", "step", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["total"]["recovered"], 1);
    assert_eq!(report["total"]["amount_recovered"]["GBP"], 98_000);
    assert_eq!(report["total"]["amount_recovered"]["EUR"], 50_000);
    let overdue = report["lines"].as_array().unwrap().iter().find(|l| l["key"]["step"] == "overdue-7").unwrap();
    assert_eq!(overdue["recovered"], 1);
    // By the last tick (11 October, noon), overdue-7 left for Rossi, Nordwind
    // and Harbour. The loyal Bianchi's is due+10, the 11th, a Sunday: it waits
    // for Monday. Noon UTC is night in Tokyo and Auckland: with ticks only at
    // noon, their windows never open.
    let dunned: Vec<&str> = ["inv-1001", "inv-1003", "inv-1004"].into();
    assert_eq!(overdue["dunned"], dunned.len());

    let bad = sollecito(&["--db", db_arg, "report", "--by", "mood"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--by \"mood\": not a dimension"));
    let csv = sollecito(&["--db", db_arg, "report", "--from", "2026-09-24", "--to", "2026-10-12", "--csv"]);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.starts_with("dunned,recovered,recovery_rate,currency,"), "{text}");
}
