//! Every kind of action over three months, on SQLite and on PostgreSQL: the
//! same steps end in the same states on both stores.

use sollecito::Runtime;
use sollecito::config::Config;
use sollecito::event::Event;
use sollecito::intake;

use crate::channels::Recorder;
use crate::common::*;
use crate::pipeline::{customer, invoice};

fn data() -> intake::Dataset {
    let renewal = r#", "kind": "subscription-renewal", "due": "2026-10-01",
        "payment_failure": {"decline_code": "insufficient_funds", "attempts": 1, "first_failed": "2026-10-01T06:00:00Z"}"#;
    let text = format!(
        r#"{{"customers": [{}, {}, {}], "invoices": [{}, {}, {}]}}"#,
        customer("sub", "Europe/Rome", r#", "segment": "subscription""#),
        customer("firm", "Europe/Rome", r#", "business": true, "pec": "firm@pec.example.it""#),
        customer("firm2", "Europe/Rome", r#", "business": true, "pec": "firm2@pec.example.it""#),
        invoice("in_soft", "sub", renewal).replace(r#""due": "2026-10-28", "#, ""),
        invoice("b2b", "firm", ""),
        invoice("b2b-plan", "firm2", ""),
    );
    intake::parse_dataset("every-action.json", &text).unwrap()
}

/// One action: invoice, step, state, when it was done.
type Step = (String, String, String, Option<i64>);

/// Every action, after three months of daily ticks.
async fn three_months(db: &str, port: u16, files: &std::path::Path) -> Vec<Step> {
    let mut config: Config = toml::from_str(&format!(
        "[settings.b2b-standard]\nplan_instalments = 3\nlate_payment_claims = true\nreference_rate = \"4.15\"\n\
         [channels.pec]\n\
         [payments]\nadapter = \"stripe\"\nhttp_hosts = [\"127.0.0.1:{port}\"]\nsecrets = [\"stripe_secret_key\"]\n\
         [payments.settings]\napi_base = \"http://127.0.0.1:{port}\"\n\
         [escalations]\nservice_url = \"http://127.0.0.1:{port}/service\"\n\
         [secrets]\nstripe_secret_key = \"sk_test_1\"\nservice_webhook_signing = \"svc\"\n"
    ))
    .unwrap();
    config.email.outbox_dir = Some(files.join("outbox"));
    config.data_dir = Some(files.to_path_buf());
    config.escalations.handover_dir = Some(files.join("handovers"));
    let mut catalog = catalog();
    let runtime = Runtime::open(std::path::Path::new(db), config, &mut catalog).await.unwrap();
    runtime.store().import(&data(), at("2026-09-30T00:00:00Z")).await.unwrap();
    let start = at("2026-10-01T09:00:00Z");
    for day in 0..92 {
        let now = start + chrono::Duration::days(day);
        match now.format("%m-%d").to_string().as_str() {
            // The plan offered on 17 November is accepted the next day.
            "11-18" => drop(runtime.store().accept_plan("b2b-plan", sollecito::event::Door::Api, now).await.unwrap()),
            // The suspended subscription is paid by transfer.
            "11-02" => drop(
                runtime.store().apply_event("in_soft", &Event::Paid, sollecito::event::Door::Api, now).await.unwrap(),
            ),
            _ => {}
        }
        runtime.tick(now, false).await.unwrap();
    }
    let mut steps = vec![];
    for id in ["in_soft", "b2b", "b2b-plan"] {
        for o in runtime.store().outbox_of(id).await.unwrap() {
            steps.push((id.to_string(), o.step, o.state.to_string(), o.done_at));
        }
    }
    steps
}

fn find<'a>(steps: &'a [Step], invoice: &str, step: &str) -> Option<&'a Step> {
    steps.iter().find(|s| s.0 == invoice && s.1 == step)
}

fn state<'a>(steps: &'a [Step], invoice: &str, step: &str) -> Option<&'a str> {
    find(steps, invoice, step).map(|s| s.2.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_ends_the_same_on_sqlite_and_postgres() {
    let server =
        Recorder::answering(
            |r| {
                if r.url.starts_with("/v1/") { crate::payments::stripe(r) } else { (204, String::new()) }
            },
        );
    let sqlite_files = tempfile::tempdir().unwrap();
    let sqlite_db = sqlite_files.path().join("every.db");
    let on_sqlite = three_months(sqlite_db.to_str().unwrap(), server.port, sqlite_files.path()).await;

    for (invoice, step, expected) in [
        ("in_soft", "retry-1", "failed"),
        ("in_soft", "suspend", "done"),
        ("in_soft", "suspend-reinstate", "done"),
        ("b2b", "plan-offer", "sent"),
        ("b2b", "late-compensation", "done"),
        ("b2b", "late-interest", "done"),
        ("b2b", "formal-notice", "sent"),
        ("b2b", "handover", "done"),
        ("b2b-plan", "plan-offer", "sent"),
        ("b2b-plan", "plan-offer-1", "sent"),
    ] {
        assert_eq!(state(&on_sqlite, invoice, step), Some(expected), "{invoice} {step}: {on_sqlite:?}");
    }
    // The plan holds dunning until its first instalment (27 November) is missed; then
    // its later reminders are cancelled and dunning resumes.
    assert_eq!(state(&on_sqlite, "b2b-plan", "plan-offer-2"), Some("cancelled"));
    let when = |invoice| find(&on_sqlite, invoice, "overdue-30").and_then(|s| s.3).unwrap();
    assert_eq!(when("b2b"), at("2026-11-27T09:00:00Z").timestamp());
    // Decided on Saturday 28 November, sent on the Monday (the sending window).
    assert_eq!(when("b2b-plan"), at("2026-11-30T09:00:00Z").timestamp());
    assert!(sqlite_files.path().join("handovers/handover-b2b.csv").exists());
    // The hand-over says what reached the debtor, when and how: the formal notice by PEC on 14 December.
    let handover: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sqlite_files.path().join("handovers/handover-b2b.json")).unwrap())
            .unwrap();
    let reason = handover["reason"].as_str().unwrap();
    assert!(reason.ends_with("last message delivered: formal-notice by pec on 2026-12-14T09:00:00+00:00"), "{reason}");
    let delivered = handover["delivered"].as_array().unwrap();
    let last = delivered.last().unwrap();
    assert_eq!((last["step"].as_str(), last["channel"].as_str()), (Some("formal-notice"), Some("pec")));
    assert_eq!(
        delivered.len(),
        6,
        "pre-due, overdue-7, overdue-15, plan-offer, overdue-30, formal-notice: {delivered:?}"
    );
    assert_eq!(handover["debtor"]["pec"], "firm@pec.example.it");

    let postgres = PostgresDatabase::create("actions").await;
    let pg_files = tempfile::tempdir().unwrap();
    let on_postgres = three_months(&postgres.url, server.port, pg_files.path()).await;
    postgres.drop().await;
    assert_eq!(on_postgres, on_sqlite);
}
