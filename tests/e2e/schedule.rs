//! `simulate --schedule` plays the operator's schedule: the example invoices
//! run by cron once a day at 10:00 UTC (`run --at`, day after day) give
//! exactly the steps and dates `simulate --schedule "daily 10:00"` shows, and
//! both name the customers that schedule can never reach in their sending
//! window (Auckland and Tokyo office hours never include 10:00 UTC).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::*;
use crate::pipeline::Site;

const FROM: &str = "2026-09-24";
const DAYS: u64 = 60;

/// (invoice, step, state, day it was decided, day it was settled or waits for).
type Step = (String, String, String, String, String);

fn day_of(unix: &Value) -> String {
    chrono::DateTime::from_timestamp(unix.as_i64().unwrap(), 0).unwrap().date_naive().to_string()
}

/// The steps in the store, as `history --json` has them.
fn steps_of_history(site: &Site, invoice: &str) -> Vec<Step> {
    let history = site.json(&["history", invoice]);
    let actions = history["actions"].as_array().unwrap();
    let settled = |a: &Value| if a["done_at"].is_null() { day_of(&a["not_before"]) } else { day_of(&a["done_at"]) };
    let step = |a: &Value| {
        let text = |k: &str| a[k].as_str().unwrap().to_string();
        (invoice.to_string(), text("step"), text("state"), day_of(&a["created_at"]), settled(a))
    };
    actions.iter().map(step).collect()
}

/// The steps of a simulation's timelines.
fn steps_of_simulation(simulation: &Value) -> Vec<Step> {
    let mut steps = vec![];
    for t in simulation["timelines"].as_array().unwrap() {
        let invoice = t["invoice"].as_str().unwrap();
        for e in t["entries"].as_array().unwrap().iter().filter(|e| !e["state"].is_null()) {
            let text = |k: &str| e[k].as_str().unwrap().to_string();
            let settled = text("at")[..10].to_string();
            steps.push((invoice.to_string(), text("step"), text("state"), text("date"), settled));
        }
    }
    steps
}

#[test]
fn a_daily_run_at_ten_gives_what_simulate_daily_ten_shows_and_both_name_who_it_never_reaches() {
    let site = Site::new();
    // The examples without their scripted events: a cron job plays none.
    let mut data: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/invoices.json")).unwrap()).unwrap();
    data["events"] = json!([]);
    let file = site.write("data.json", &data.to_string());
    let file = file.to_str().unwrap();
    site.ok(&["import", file, "--at", &format!("{FROM}T00:00:00Z")]);
    let from: chrono::NaiveDate = FROM.parse().unwrap();
    let mut warned = BTreeSet::new();
    for d in 0..DAYS {
        let at = format!("{}T10:00:00Z", from + chrono::Days::new(d));
        let out = site.run(&["run", "--at", &at, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{at}: {}", stderr(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        warned.extend(report["unreachable"].as_array().into_iter().flatten().map(|n| n.as_str().unwrap().to_string()));
        if report["unreachable"].is_array() {
            assert!(stderr(&out).contains("can never be reached by a run at 10:00 UTC every day"), "{}", stderr(&out));
        }
    }
    let never =
        BTreeSet::from(["Pacific Kiwi Tours (Pacific/Auckland)".to_string(), "Sakura Design K.K. (Asia/Tokyo)".into()]);
    assert_eq!(warned, never, "run");

    let to = (from + chrono::Days::new(DAYS - 1)).to_string();
    let args = ["simulate", file, "--from", FROM, "--to", &to, "--schedule", "daily 10:00", "--json"];
    let out = site.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 customer(s) can never be reached on the schedule daily 10:00"),
        "{}",
        stderr(&out)
    );
    let simulation: Value = serde_json::from_slice(&out.stdout).unwrap();
    let named: BTreeSet<String> =
        simulation["unreachable"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
    assert_eq!(named, never, "simulate");
    // Ticks only at 10:00, as cron runs them.
    let ticks = simulation["ticks"].as_array().unwrap();
    assert_eq!(ticks.len() as u64, DAYS);
    assert!(ticks.iter().all(|t| t.as_str().unwrap().contains("T10:00:00")), "{ticks:?}");

    let mut ran: Vec<Step> = vec![];
    for invoice in data["invoices"].as_array().unwrap() {
        ran.extend(steps_of_history(&site, invoice["id"].as_str().unwrap()));
    }
    let mut simulated = steps_of_simulation(&simulation);
    ran.sort();
    simulated.sort();
    assert!(ran.len() >= 12, "too few steps to compare: {ran:?}");
    assert_eq!(simulated, ran);
    // The Auckland and Tokyo customers' steps wait for ever on that schedule; in service mode they go.
    let waiting = |steps: &[Step], invoice: &str| steps.iter().filter(|s| s.0 == invoice && s.2 == "pending").count();
    let pacific = data["invoices"].as_array().unwrap().iter().find(|i| i["customer"] == "cus-pacific").unwrap();
    let pacific = pacific["id"].as_str().unwrap();
    assert!(waiting(&ran, pacific) >= 1, "{ran:?}");
    let service = site.json(&["simulate", file, "--from", FROM, "--to", &to]);
    assert_eq!(service["unreachable"], json!([]));
    assert_eq!(waiting(&steps_of_simulation(&service), pacific), 0);
}
