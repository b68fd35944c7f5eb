//! Payment retries through the `stripe` payment adapter, against a local
//! server that speaks Stripe's invoice-pay shape; suspension and
//! reinstatement told to the business's system as signed webhooks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::channels::{Received, Recorder};
use crate::pipeline::{Site, customer, invoice};

/// Subscription renewals whose first charge failed on 1 October (a soft decline).
fn renewals(ids: &[&str]) -> String {
    let failed = r#", "kind": "subscription-renewal", "due": "2026-10-01",
        "payment_failure": {"decline_code": "insufficient_funds", "attempts": 1, "first_failed": "2026-10-01T06:00:00Z"}"#;
    let invoices: Vec<String> = ids.iter().map(|id| invoice(id, "sub", failed)).collect();
    let invoices = invoices.join(", ").replace(r#""due": "2026-10-28", "#, "");
    format!(
        r#"{{"customers": [{}], "invoices": [{invoices}]}}"#,
        customer("sub", "Europe/Rome", r#", "segment": "subscription""#)
    )
}

fn stripe_config(port: u16, extra: &str) -> String {
    format!(
        "[payments]\nadapter = \"stripe\"\nhttp_hosts = [\"127.0.0.1:{port}\"]\nsecrets = [\"stripe_secret_key\"]\n\
         [payments.settings]\napi_base = \"http://127.0.0.1:{port}\"\n\
         [secrets]\nstripe_secret_key = \"sk_test_51abc\"\n{extra}"
    )
}

/// Stripe's answer to `POST /v1/invoices/{id}/pay`, by invoice id.
pub fn stripe(r: &Received) -> (u16, String) {
    let id = r.url.trim_start_matches("/v1/invoices/").trim_end_matches("/pay");
    let decline = |code: &str| {
        format!(r#"{{"error": {{"type": "card_error", "code": "card_declined", "decline_code": "{code}"}}}}"#)
    };
    match id {
        "in_soft" => (402, decline("insufficient_funds")),
        "in_hard" => (402, decline("stolen_card")),
        _ => (200, format!(r#"{{"id": "{id}", "object": "invoice", "status": "paid", "charge": "ch_{id}"}}"#)),
    }
}

/// The idempotency keys the server saw for one invoice, in order.
fn keys_for(got: &[Received], id: &str) -> Vec<String> {
    got.iter()
        .filter(|r| r.url == format!("/v1/invoices/{id}/pay"))
        .map(|r| r.header("Idempotency-Key").unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_retry_pays_a_soft_decline_is_tried_again_and_a_hard_one_never() {
    let server = Recorder::answering(stripe);
    let site = Site::new();
    site.write("sollecito.toml", &stripe_config(server.port, ""));
    let data = site.write("data.json", &renewals(&["in_ok", "in_soft", "in_hard"]));
    site.ok(&["import", data.to_str().unwrap(), "--at", "2026-10-01T07:00:00Z"]);
    // Two ticks a day for twelve days: before and after the retries' hour (10:00 UTC).
    for day in 1..=12 {
        for hour in ["09", "11"] {
            site.ok(&["run", "--at", &format!("2026-10-{day:02}T{hour}:00:00Z")]);
        }
    }
    let got = server.received();
    for r in &got {
        assert_eq!(r.header("Authorization"), Some("Bearer sk_test_51abc"));
        assert_eq!(r.body, "off_session=true");
    }
    // Paid at the first retry, on 4 October: never charged again.
    assert_eq!(keys_for(&got, "in_ok"), ["sollecito-in_ok/retry-1"]);
    let paid = site.json(&["history", "in_ok"]);
    assert!(paid["events"].as_array().unwrap().iter().any(|e| e["kind"] == "paid"), "{paid}");
    let retry = site.actions("in_ok").into_iter().find(|a| a.0 == "retry-1").unwrap();
    assert_eq!((retry.1.as_str(), retry.2.as_str()), ("done", "paid"));
    // Insufficient funds: every retry of the schedule (days 3, 5 and 7), each its own key.
    assert_eq!(
        keys_for(&got, "in_soft"),
        ["sollecito-in_soft/retry-1", "sollecito-in_soft/retry-2", "sollecito-in_soft/retry-3"]
    );
    // The operator's view: each action with its outcome in words.
    let text = site.ok(&["history", "in_soft"]);
    assert!(text.contains("failed: declined: insufficient_funds"), "{text}");
    let paid_text = site.ok(&["history", "in_ok"]);
    assert!(paid_text.contains("done 2026-10-04 11:00: paid (ch_in_ok)"), "{paid_text}");
    let soft = site.actions("in_soft");
    assert!(soft.iter().any(|a| a.0 == "retry-2" && a.1 == "failed" && a.2 == "declined: insufficient_funds"));
    // A stolen card: the decline reaches the policy, which never retries it.
    assert_eq!(keys_for(&got, "in_hard"), ["sollecito-in_hard/retry-1"]);
    let hard = site.json(&["history", "in_hard"]);
    let events = hard["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["detail"].as_str().unwrap().contains("stolen_card")), "{hard}");

    // The report: five retries, all answering insufficient funds; the first
    // attempts (three invoices) paid once, the second and third never.
    let report = site.json(&["report", "--from", "2026-10-01", "--to", "2026-10-12"]);
    assert_eq!(report["retries_by_decline_code"], serde_json::json!({"insufficient_funds": [5, 1]}), "{report}");
    assert_eq!(report["retries_by_attempt"], serde_json::json!({"1": [3, 1], "2": [1, 0], "3": [1, 0]}));
}

#[test]
fn a_run_killed_during_a_retry_sends_it_once_more_with_the_same_key() {
    // The first request hangs until released, as a slow processor would.
    let release = Arc::new(AtomicBool::new(false));
    let held = release.clone();
    let first = Mutex::new(true);
    let server = Recorder::answering(move |r| {
        if std::mem::take(&mut *first.lock().unwrap()) {
            while !held.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        stripe(r)
    });
    let site = Site::new();
    site.write("sollecito.toml", &stripe_config(server.port, ""));
    let data = site.write("data.json", &renewals(&["in_slow"]));
    site.ok(&["import", data.to_str().unwrap(), "--at", "2026-10-01T07:00:00Z"]);

    let mut run = site.command(&["run", "--at", "2026-10-04T11:00:00Z"]).spawn().unwrap();
    let started = Instant::now();
    while server.received().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "the retry never reached the server");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    release.store(true, Ordering::SeqCst);

    // The step is still waiting: the next run asks again, with the same key, and is paid.
    site.ok(&["run", "--at", "2026-10-04T11:05:00Z"]);
    site.ok(&["run", "--at", "2026-10-04T11:10:00Z"]);
    site.ok(&["run", "--at", "2026-10-05T11:00:00Z"]);
    let keys = keys_for(&server.received(), "in_slow");
    assert_eq!(keys, ["sollecito-in_slow/retry-1", "sollecito-in_slow/retry-1"]);
    let retry = site.actions("in_slow").into_iter().find(|a| a.0 == "retry-1").unwrap();
    assert_eq!(retry.1, "done");
}

#[test]
fn without_a_payment_adapter_a_retry_fails_and_says_why() {
    let site = Site::new();
    let data = site.write("data.json", &renewals(&["in_x"]));
    site.ok(&["import", data.to_str().unwrap(), "--at", "2026-10-01T07:00:00Z"]);
    site.ok(&["run", "--at", "2026-10-04T11:00:00Z"]);
    let retry = site.actions("in_x").into_iter().find(|a| a.0 == "retry-1").unwrap();
    assert_eq!(retry.1, "failed");
    assert!(retry.2.contains("[payments]"), "{retry:?}");
}

#[test]
fn suspension_and_reinstatement_arrive_once_each_signed_and_in_order() {
    // The business's system is down for the first request.
    let calls = Mutex::new(0);
    let server = Recorder::answering(move |r| {
        if r.url.starts_with("/v1/") {
            return stripe(r);
        }
        let mut n = calls.lock().unwrap();
        *n += 1;
        (if *n == 1 { 503 } else { 204 }, String::new())
    });
    let site = Site::new();
    // Retries are declined (in_soft), so the renewal goes on to suspension.
    let secret = "[secrets]\nservice_webhook_signing = \"svc-s3cret\"\n";
    let config = stripe_config(server.port, "").replace("[secrets]\n", secret);
    let service = format!("[escalations]\nservice_url = \"http://127.0.0.1:{}/service\"\n", server.port);
    site.write("sollecito.toml", &format!("{config}{service}"));
    let data = site.write("data.json", &renewals(&["in_soft"]));
    site.ok(&["import", data.to_str().unwrap(), "--at", "2026-10-01T07:00:00Z"]);
    for day in 1..=20 {
        site.ok(&["run", "--at", &format!("2026-10-{day:02}T10:30:00Z")]);
    }
    // Paid by transfer on the 21st (the billing system's export says so): the service comes back.
    let paid = renewals(&["in_soft"]).replace(r#""kind""#, r#""status": "paid", "amount_paid": "100.00", "kind""#);
    let paid = site.write("paid.json", &paid);
    site.ok(&["import", paid.to_str().unwrap(), "--at", "2026-10-21T08:00:00Z"]);
    for day in 21..=23 {
        site.ok(&["run", "--at", &format!("2026-10-{day:02}T10:30:00Z")]);
    }

    let service: Vec<Received> = server.received().into_iter().filter(|r| r.url == "/service").collect();
    let kinds: Vec<String> = service
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["type"].as_str().unwrap().to_string())
        .collect();
    // The first suspension request met a 503 and was tried again; then the reinstatement.
    assert_eq!(kinds, ["suspend-service", "suspend-service", "reinstate-service"], "{service:?}");
    for r in &service {
        let signature = r.header("X-Sollecito-Signature").unwrap();
        assert!(sollecito_signing::verify("svc-s3cret", signature, r.body.as_bytes()), "{signature}");
        assert!(!sollecito_signing::verify("other", signature, r.body.as_bytes()));
    }
    assert_eq!(service[0].header("Idempotency-Key"), Some("in_soft/suspend"));
    assert_eq!(service[1].header("Idempotency-Key"), Some("in_soft/suspend"));
    assert_eq!(service[2].header("Idempotency-Key"), Some("in_soft/suspend-reinstate"));
    let steps = site.actions("in_soft");
    assert!(steps.iter().any(|a| a.0 == "suspend" && a.1 == "done"), "{steps:?}");
    assert!(steps.iter().any(|a| a.0 == "suspend-reinstate" && a.1 == "done"), "{steps:?}");
}

#[test]
fn the_billing_webhook_asks_the_business_and_reads_its_answer() {
    let server = Recorder::answering(|_| (200, r#"{"outcome": "declined", "decline_code": "do_not_honor"}"#.into()));
    let site = Site::new();
    site.write(
        "sollecito.toml",
        &format!(
            "[payments]\nadapter = \"billing-webhook\"\nhttp_hosts = [\"127.0.0.1:{0}\"]\nsecrets = [\"billing\"]\n\
             [payments.settings]\nurl = \"http://127.0.0.1:{0}/charge\"\nsecret = \"billing\"\n\
             [secrets]\nbilling = \"b1ll\"\n",
            server.port
        ),
    );
    let data = site.write("data.json", &renewals(&["r-1"]));
    site.ok(&["import", data.to_str().unwrap(), "--at", "2026-10-01T07:00:00Z"]);
    site.ok(&["run", "--at", "2026-10-04T11:00:00Z"]);
    let got = server.received();
    assert_eq!(got.len(), 1);
    let signature = got[0].header("X-Sollecito-Signature").unwrap();
    assert!(sollecito_signing::verify("b1ll", signature, got[0].body.as_bytes()));
    let body: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["key"], "r-1/retry-1");
    assert_eq!(body["amount"], serde_json::json!({ "minor": 10000, "currency": "EUR" }));
    let retry = site.actions("r-1").into_iter().find(|a| a.0 == "retry-1").unwrap();
    assert_eq!((retry.1.as_str(), retry.2.as_str()), ("failed", "declined: do_not_honor"));
}

#[test]
fn a_retry_waits_for_its_time_and_a_dispute_cancels_it() {
    let server = Recorder::answering(stripe);
    let site = Site::new();
    site.write("sollecito.toml", &stripe_config(server.port, ""));
    let data = site.write("data.json", &renewals(&["in_ok"]));
    site.ok(&["import", data.to_str().unwrap(), "--at", "2026-10-01T07:00:00Z"]);
    // Decided at 09:00 for 10:00: it waits, and the history says until when.
    site.ok(&["run", "--at", "2026-10-04T09:00:00Z"]);
    let text = site.ok(&["history", "in_ok"]);
    assert!(text.contains("waiting until 2026-10-04 10:00"), "{text}");
    // The customer disputes the charge before then: no charge goes out.
    let disputed = renewals(&["in_ok"]).replace(r#""kind""#, r#""dispute_reason": "never ordered", "kind""#);
    let disputed = site.write("disputed.json", &disputed);
    site.ok(&["import", disputed.to_str().unwrap(), "--at", "2026-10-04T09:30:00Z"]);
    site.ok(&["run", "--at", "2026-10-04T10:00:00Z"]);
    assert!(server.received().is_empty(), "{:?}", server.received());
    let retry = site.actions("in_ok").into_iter().find(|a| a.0 == "retry-1").unwrap();
    assert_eq!((retry.1.as_str(), retry.2.as_str()), ("cancelled", "invoice is disputed"));
}

/// The config of the suspension tests: declined retries (in_soft), the service endpoint on `server`.
fn suspension_site(port: u16) -> Site {
    let site = Site::new();
    let secret = "[secrets]\nservice_webhook_signing = \"svc-s3cret\"\n";
    let config = stripe_config(port, "").replace("[secrets]\n", secret);
    let service = format!("[escalations]\nservice_url = \"http://127.0.0.1:{port}/service\"\n");
    site.write("sollecito.toml", &format!("{config}{service}"));
    let data = site.write("data.json", &renewals(&["in_soft"]));
    site.ok(&["import", data.to_str().unwrap(), "--at", "2026-10-01T07:00:00Z"]);
    site
}

fn service_kinds(server: &Recorder) -> Vec<String> {
    server
        .received()
        .iter()
        .filter(|r| r.url == "/service")
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_redirect_does_not_acknowledge_a_suspension() {
    let server = Recorder::answering(|r| if r.url.starts_with("/v1/") { stripe(r) } else { (302, String::new()) });
    let site = suspension_site(server.port);
    for day in 1..=20 {
        site.ok(&["run", "--at", &format!("2026-10-{day:02}T10:30:00Z")]);
    }
    assert_eq!(service_kinds(&server), ["suspend-service"]);
    let suspend = site.actions("in_soft").into_iter().find(|a| a.0 == "suspend").unwrap();
    assert_eq!(suspend.1, "failed", "{suspend:?}");
    assert!(suspend.2.contains("HTTP 302, which does not acknowledge"), "{suspend:?}");
}

#[test]
fn a_run_killed_during_a_suspension_still_reinstates_after_payment() {
    let release = Arc::new(AtomicBool::new(false));
    let held = release.clone();
    let first = Mutex::new(true);
    let server = Recorder::answering(move |r| {
        if r.url.starts_with("/v1/") {
            return stripe(r);
        }
        if std::mem::take(&mut *first.lock().unwrap()) {
            while !held.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        (204, String::new())
    });
    let site = suspension_site(server.port);
    for day in 1..=17 {
        site.ok(&["run", "--at", &format!("2026-10-{day:02}T10:30:00Z")]);
    }
    // The suspension is decided and sent on the 18th; the run is stopped while it waits for the answer.
    let mut run = site.command(&["run", "--at", "2026-10-18T10:30:00Z"]).spawn().unwrap();
    let started = Instant::now();
    while service_kinds(&server).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "the suspension never left");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    release.store(true, Ordering::SeqCst);
    // Paid before the next run: the suspension may have happened, so it is confirmed, then undone.
    let paid = renewals(&["in_soft"]).replace(r#""kind""#, r#""status": "paid", "amount_paid": "100.00", "kind""#);
    let paid = site.write("paid.json", &paid);
    site.ok(&["import", paid.to_str().unwrap(), "--at", "2026-10-18T11:00:00Z"]);
    site.ok(&["run", "--at", "2026-10-18T11:30:00Z"]);
    site.ok(&["run", "--at", "2026-10-18T11:35:00Z"]);
    assert_eq!(service_kinds(&server), ["suspend-service", "suspend-service", "reinstate-service"]);
}

#[test]
fn a_charge_that_covers_part_of_the_balance_leaves_the_rest_owed() {
    let server =
        Recorder::answering(|_| (200, r#"{"outcome": "succeeded", "reference": "p-1", "amount": 4000}"#.into()));
    let site = Site::new();
    site.write(
        "sollecito.toml",
        &format!(
            "[payments]\nadapter = \"billing-webhook\"\nhttp_hosts = [\"127.0.0.1:{0}\"]\nsecrets = [\"billing\"]\n\
             [payments.settings]\nurl = \"http://127.0.0.1:{0}/charge\"\nsecret = \"billing\"\n[secrets]\nbilling = \"b\"\n",
            server.port
        ),
    );
    let data = site.write("data.json", &renewals(&["r-1"]));
    site.ok(&["import", data.to_str().unwrap(), "--at", "2026-10-01T07:00:00Z"]);
    site.ok(&["run", "--at", "2026-10-04T11:00:00Z"]);
    let history = site.json(&["history", "r-1"]);
    let received = history["events"].as_array().unwrap().iter().find(|e| e["kind"] == "payment-received").unwrap();
    assert_eq!(received["detail"], "40.00 EUR received, 60.00 EUR still outstanding");
    let retry = site.actions("r-1").into_iter().find(|a| a.0 == "retry-1").unwrap();
    assert_eq!((retry.1.as_str(), retry.2.as_str()), ("done", "paid in part"));
}
