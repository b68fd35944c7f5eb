//! Issue 18: services sharing one PostgreSQL database, each with a folder of
//! its own (as on machines of their own), take up what another changed (here
//! a policy uploaded and activated on one) within a second, seen in their decisions.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;
use crate::pipeline::Site;
use crate::serve::Service;

/// An overdue invoice for customer `c{n % 40}`.
fn overdue(n: usize) -> String {
    format!(
        r#"{{"number": "N-{n}", "customer": "c{}", "currency": "GBP", "amount_due": "{}.00", "issued": "2025-12-01", "due": "2026-01-05"}}"#,
        n % 40,
        100 + n
    )
}

/// Puts invoices `from..` in turn through each service, for `during`.
fn keep_invoicing(services: &[&Service], from: usize, during: Duration) -> usize {
    let started = Instant::now();
    let mut n = from;
    while started.elapsed() < during {
        services[n % services.len()].admin("PUT", &format!("/v1/invoices/inv-{n}"), &overdue(n));
        n += 1;
        std::thread::sleep(Duration::from_millis(40));
    }
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_activated_on_one_worker_decides_on_every_worker_within_a_second() {
    let db = PostgresDatabase::create("swaps").await;
    let site = Site::new();
    Service::write_config(&site, "", "");
    let a = Service::worker(&site, &db.url, "worker-a");
    let b = Service::worker(&site, &db.url, "worker-b");
    for i in 0..40 {
        a.put_customer(&format!("c{i}"));
    }
    let next = keep_invoicing(&[&a, &b], 0, Duration::from_secs(2));
    let sha = a.upload(sollecito_test_artifacts::OUTSIDER)["sha256"].as_str().unwrap().to_string();
    // worker-b cannot see worker-a's folder, as on another machine: only the database has the plugin.
    std::fs::remove_file(site.path(&format!("worker-a/plugins/{sha}.wasm"))).unwrap();
    a.admin("POST", "/v1/segments/default/policy", &json!({ "plugin": sha }).to_string());
    let activated = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    keep_invoicing(&[&a, &b], next, Duration::from_secs(4));
    std::thread::sleep(Duration::from_secs(2));
    a.terminate();
    b.terminate();

    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let decisions: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT d.worker, p.name, d.at FROM decisions d JOIN plugin_ids p ON p.id = d.plugin ORDER BY d.at",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    db.drop().await;
    // Decisions are stamped with their tick's second: from the whole second after
    // activation + 1 s, every worker must be on the new policy.
    let settled = (activated + 1.0).ceil() as i64;
    let worker = |w: &str| w.split('-').take(2).collect::<Vec<_>>().join("-");
    let before: Vec<_> = decisions.iter().filter(|d| (d.2 as f64) < activated.floor()).collect();
    let after: Vec<_> = decisions.iter().filter(|d| d.2 >= settled).collect();
    let stale: Vec<_> = after.iter().filter(|d| d.1 != "outsider").collect();
    assert!(
        stale.is_empty(),
        "{} decided by the old policy over a second after the activation at {activated}, e.g. {:?}",
        stale.len(),
        &stale[..stale.len().min(3)]
    );
    for w in ["worker-a", "worker-b"] {
        assert!(before.iter().any(|d| worker(&d.0) == w && d.1 == "b2b-standard"), "{w} before: {before:?}");
        assert!(after.iter().any(|d| worker(&d.0) == w), "{w} made no decision after the activation: {after:?}");
    }
    // The plugin reached worker-b's folder from the database.
    assert!(site.path(&format!("worker-b/plugins/{sha}.wasm")).exists());
}

/// This worker's count of policy and adapter swaps, from its metrics.
fn swaps(service: &Service) -> u64 {
    let (_, metrics) = service.call("GET", "/metrics", Some(crate::serve::TOKEN), "");
    let line =
        metrics.as_str().unwrap().lines().find(|l| l.starts_with("sollecito_policy_swaps_total ")).map(str::to_string);
    line.and_then(|l| l.split(' ').nth(1)?.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_adapter_rolled_back_on_one_worker_is_rolled_back_on_every_worker() {
    let db = PostgresDatabase::create("rollbacks").await;
    let site = Site::new();
    Service::write_config(&site, "", "");
    let a = Service::worker(&site, &db.url, "worker-a");
    let b = Service::worker(&site, &db.url, "worker-b");
    a.put_customer("c1");
    let echo = a.upload(sollecito_test_artifacts::ECHO_CHANNEL);
    a.admin("POST", "/v1/channels/email/adapter", &json!({ "plugin": echo["sha256"] }).to_string());
    crate::serve::wait_for("worker-b taking up the echo adapter", || swaps(&b) >= 1);
    a.admin("POST", "/v1/channels/email/rollback", "");
    crate::serve::wait_for("worker-b rolling back to the email adapter", || swaps(&b) >= 2);
    a.terminate();
    // Due eight days ago: the first overdue reminder, by email, through worker-b alone.
    let today = chrono::Utc::now().date_naive();
    let (issued, due) = (today - chrono::Days::new(38), today - chrono::Days::new(8));
    let invoice = format!(
        r#"{{"number": "N-1", "customer": "c1", "currency": "GBP", "amount_due": "10.00", "issued": "{issued}", "due": "{due}"}}"#
    );
    b.admin("PUT", "/v1/invoices/inv-1", &invoice);
    crate::serve::wait_for("the reminder", || {
        b.admin("GET", "/v1/invoices/inv-1/history", "")["actions"][0]["state"] == "sent"
    });
    let history = b.admin("GET", "/v1/invoices/inv-1/history", "");
    b.terminate();
    db.drop().await;
    let receipt = history["actions"][0]["receipt"].as_str().unwrap_or_default().to_string();
    assert!(!receipt.starts_with("echo:"), "worker-b still on the rolled-back adapter: {receipt}");
    let emails = std::fs::read_dir(site.path("worker-b/outbox")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(emails, 1, "worker-b sent it with the email adapter, into its outbox folder ({receipt})");
}
