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
    let decisions: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT worker, plugin_name, at FROM decisions ORDER BY at").fetch_all(&mut c).await.unwrap();
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
