//! `simulate --responses`: customers pay after messages as a seeded model
//! says, through the real engine, so a policy's recovery can be forecast.
//! A population with a known truth: one soft email each, 30% pay within a week.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::*;
use crate::pipeline::Site;

/// 1,000 invoices of 100 customers in Rome with an ordinary record (no
/// loyalty stretch: overdue-7 is their one soft email), due over 20 days.
fn population(path: &std::path::Path) {
    let customers: Vec<Value> = (0..100)
        .map(|i| {
            json!({"id": format!("r{i:03}"), "name": format!("Cliente {i}"), "email": format!("r{i}@example.it"),
                   "locale": "it-IT", "timezone": "Europe/Rome", "segment": "b2b", "business": false,
                   "customer_since": "2024-01-01", "invoices_paid": 2, "paid_on_time": 1})
        })
        .collect();
    let invoices: Vec<Value> = (0..1_000)
        .map(|i| {
            json!({"id": format!("p{i:04}"), "number": format!("P-{i:04}"), "customer": format!("r{:03}", i % 100),
                   "currency": "EUR", "amount_due": format!("{}.00", 100 + i % 50), "issued": "2026-09-01",
                   "due": format!("2026-10-{:02}", 1 + i % 20)})
        })
        .collect();
    std::fs::write(path, json!({"customers": customers, "invoices": invoices}).to_string()).unwrap();
}

fn model(dir: &std::path::Path, seed: u64) -> std::path::PathBuf {
    let path = dir.join(format!("model-{seed}.toml"));
    let text =
        format!("seed = {seed}\n[[rule]]\ntone = \"soft\"\nchannel = \"email\"\nwithin_days = 7\nprobability = 0.3\n");
    std::fs::write(&path, text).unwrap();
    path
}

/// The invoices paid at the end of a simulation with the model.
fn paid(file: &std::path::Path, model: &std::path::Path) -> BTreeSet<String> {
    let (file, model) = (file.to_str().unwrap(), model.to_str().unwrap());
    let out =
        sollecito(&["simulate", file, "--from", "2026-09-24", "--to", "2026-11-30", "--responses", model, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let paid: BTreeSet<String> = doc["timelines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["outcome"] == "paid")
        .map(|t| t["invoice"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(doc["summary"]["paid"].as_u64().unwrap_or(0) as usize, paid.len());
    // A payment comes after the soft email, within the week the model gives.
    for t in doc["timelines"].as_array().unwrap().iter().filter(|t| t["outcome"] == "paid") {
        let entries = t["entries"].as_array().unwrap();
        let soft = entries.iter().find(|e| e["step"] == "overdue-7").expect("the soft email");
        let payment = entries.iter().find(|e| e["note"] == "paid: dunning ends").unwrap();
        let (sent, on) =
            (soft["at"].as_str().unwrap()[..10].to_string(), payment["date"].as_str().unwrap().to_string());
        let days = (on.parse::<chrono::NaiveDate>().unwrap() - sent.parse::<chrono::NaiveDate>().unwrap()).num_days();
        assert!((1..=7).contains(&days), "{}: paid {days} days after the soft email", t["invoice"]);
    }
    paid
}

#[test]
fn a_known_response_rate_comes_back_from_the_simulation_and_the_seed_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("population.json");
    population(&file);
    let first = paid(&file, &model(dir.path(), 7));
    // 30% of 1,000, within three standard deviations (1.45 points each).
    assert!((255..=345).contains(&first.len()), "{} paid", first.len());
    assert_eq!(paid(&file, &model(dir.path(), 7)), first, "the same seed, the same payers");
    let other = paid(&file, &model(dir.path(), 8));
    assert_ne!(other, first, "another seed, other payers");
    assert!((255..=345).contains(&other.len()), "{} paid", other.len());
}

#[test]
fn a_bad_response_model_is_refused_with_its_place_named() {
    let dir = tempfile::tempdir().unwrap();
    for (text, why) in [
        ("seed = 1\n[[rule]]\nwithin_days = 7\nprobability = 1.5\n", "rule 1: probability 1.5 is not between 0 and 1"),
        ("seed = 1\n[[rule]]\nwithin_days = 0\nprobability = 0.5\n", "rule 1: within_days must be 1 to 365"),
        (
            "seed = 1\n[[rule]]\ntone = \"rude\"\nwithin_days = 3\nprobability = 0.5\n",
            "rule 1: tone \"rude\" is not one of",
        ),
        ("seed = 1\n", "missing field `rule`"),
        ("seed = 1\n[[rule]]\nwithin_days = 3\nprobability = 0.5\nmood = 1\n", "unknown field `mood`"),
    ] {
        let path = dir.path().join("model.toml");
        std::fs::write(&path, text).unwrap();
        let out = sollecito(&["simulate", "examples/invoices.json", "--responses", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{text}: {err}");
    }
}

/// A model fitted from the store's own history gives back the share that
/// really paid after each kind of message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_fitted_from_history_finds_the_share_that_paid() {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("population.json");
    population(&file);
    // All due on 1 October: overdue-7 (soft, by email) leaves on Thursday the 8th.
    let text = std::fs::read_to_string(&file).unwrap();
    let text = (1..=20).fold(text, |t, d| t.replace(&format!("2026-10-{d:02}\""), "2026-10-01\""));
    let data = sollecito::intake::parse_dataset("population.json", &text).unwrap();
    let site = Site::new();
    let db = site.db_path();
    let mut config = site.config();
    config.email.outbox_dir = Some(dir.path().join("outbox"));
    let mut catalog = catalog();
    let runtime = sollecito::Runtime::open(&db, config, &mut catalog).await.unwrap();
    runtime.store().import(&data, at("2026-10-06T00:00:00Z")).await.unwrap();
    runtime.tick(at("2026-10-08T09:00:00Z"), false).await.unwrap();
    // 40% of them pay two days later; seeded.
    let mut rng = StdRng::seed_from_u64(40);
    let mut paid = 0;
    for i in 0..1_000 {
        if rng.random::<f64>() < 0.4 {
            paid += 1;
            let id = format!("p{i:04}");
            runtime
                .store()
                .apply_event(
                    &id,
                    &sollecito::event::Event::Paid,
                    sollecito::event::Door::Api,
                    at("2026-10-10T12:00:00Z"),
                )
                .await
                .unwrap();
        }
    }
    drop(runtime);
    let model = dir.path().join("fitted.toml");
    let out = sollecito(&[
        "--db",
        db.to_str().unwrap(),
        "responses",
        "fit",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fitted: toml::Value = toml::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let rules = fitted["rule"].as_array().unwrap();
    let soft =
        rules.iter().find(|r| r["tone"].as_str() == Some("soft") && r["channel"].as_str() == Some("email")).unwrap();
    // The band of 1 to 30 days overdue, and exactly the share that paid.
    assert_eq!((soft["overdue_from"].as_integer(), soft["overdue_to"].as_integer()), (Some(1), Some(30)));
    assert_eq!(soft["probability"].as_float(), Some((paid as f64 / 1_000.0 * 1000.0).round() / 1000.0), "{fitted}");
    // The fitted file is a model `simulate --responses` takes as it is.
    let check = sollecito(&["simulate", "examples/invoices.json", "--responses", model.to_str().unwrap()]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}
