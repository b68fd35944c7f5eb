//! `simulate` is the real engine on another clock: the timeline it prints
//! equals the history that real ticks (`run --at` at the same moments, on a
//! database of their own, messages written to the outbox folder) record.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::{Value, json};
use sollecito::store::Store;

use crate::common::*;
use crate::pipeline::Site;

/// A config with a PEC provider, so every channel the policy names exists.
const CONFIG: &str = "[channels.pec]\n";

/// One line of a timeline, reduced to what both sides record.
type Line = (String, String, String, String, String, String, String, String, String, String);

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn date_of(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0).unwrap().date_naive().to_string()
}

fn rfc3339(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0).unwrap().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The simulated timeline's lines, by invoice.
fn simulated(doc: &Value) -> BTreeMap<String, Vec<Line>> {
    let mut out = BTreeMap::new();
    for t in doc["timelines"].as_array().unwrap() {
        let mut lines: Vec<Line> = t["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                // A step's note is the reason only when it was held; events, pauses and closes keep theirs.
                let held_or_not_a_step = e["state"].is_null() || e["what"] == "held";
                let note = if held_or_not_a_step { text(e, "note") } else { String::new() };
                let at = e["at"].as_str().map(|a| a.parse::<DateTime<Utc>>().unwrap().timestamp()).map(rfc3339);
                (
                    text(e, "date"),
                    text(e, "what"),
                    text(e, "step"),
                    text(e, "channel"),
                    text(e, "tone"),
                    text(e, "template"),
                    text(e, "deadline"),
                    text(e, "state"),
                    at.unwrap_or_default(),
                    note,
                )
            })
            .collect();
        lines.sort();
        out.insert(text(t, "invoice"), lines);
    }
    out
}

/// A line that is not a step: an event, an error, a pause, a close.
fn noted(day: String, what: &str, note: String) -> Line {
    let blank = String::new;
    (day, what.into(), blank(), blank(), blank(), blank(), blank(), blank(), blank(), note)
}

/// The same lines, read from `history --json` of the real run.
fn recorded(history: &Value) -> Vec<Line> {
    let mut lines: Vec<Line> = vec![];
    for e in history["events"].as_array().unwrap().iter().filter(|e| e["kind"] != "imported") {
        lines.push(noted(date_of(e["at"].as_i64().unwrap()), "event", text(e, "detail")));
    }
    for d in history["decisions"].as_array().unwrap() {
        let day = date_of(d["at"].as_i64().unwrap());
        if let Some(error) = d["error"].as_str() {
            lines.push(noted(day.clone(), "error", error.into()));
        }
        for action in d["actions"].as_array().into_iter().flatten() {
            if let Some(until) = action["pause"].as_i64() {
                let until = DateTime::from_timestamp(until, 0).unwrap().format("until %Y-%m-%d %H:%M UTC").to_string();
                lines.push(noted(day.clone(), "pause", until));
            }
            if let Some(reason) = action["close"].as_str() {
                lines.push(noted(day.clone(), "close", reason.into()));
            }
        }
    }
    for o in history["actions"].as_array().unwrap() {
        let held = o["state"] == "cancelled";
        let settled = o["done_at"].as_i64().unwrap_or_else(|| o["not_before"].as_i64().unwrap());
        lines.push((
            date_of(o["created_at"].as_i64().unwrap()),
            if held { "held".into() } else { text(o, "kind") },
            text(o, "step"),
            text(o, "channel"),
            text(o, "tone"),
            text(o, "template"),
            text(o, "deadline"),
            text(o, "state"),
            rfc3339(settled),
            if held { text(o, "reason") } else { String::new() },
        ));
    }
    lines.sort();
    lines
}

/// Simulates `file`, then replays its ticks with `run --at` on a database of
/// their own (the day's scripted events recorded before its daily tick) and
/// compares every invoice's history. Returns the lines compared.
fn compare(file: &Path, from: &str, to: &str) -> usize {
    let site = Site::new();
    // Beside the site's database: its commands take it up.
    let config = site.path("sollecito.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let (file, config_arg) = (file.to_str().unwrap(), config.to_str().unwrap());
    let out = sollecito(&["--config", config_arg, "simulate", file, "--from", from, "--to", to, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ticks: Vec<DateTime<Utc>> =
        doc["ticks"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().parse().unwrap()).collect();
    // One tick every day at 09:00, whatever else the clock adds.
    let (first, last): (NaiveDate, NaiveDate) = (from.parse().unwrap(), to.parse().unwrap());
    let daily: Vec<_> = ticks.iter().filter(|t| t.format("%H:%M:%S").to_string() == "09:00:00").collect();
    assert_eq!(daily.len() as i64, (last - first).num_days() + 1);

    let db_arg = &site.db();
    let import = site.run(&["import", file, "--at", &format!("{from}T00:00:00Z")]);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let events = sollecito::intake::read_dataset(Path::new(file)).unwrap().events;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for tick in &ticks {
        if tick.format("%H:%M:%S").to_string() == "09:00:00" {
            let store = rt.block_on(Store::open(db_arg)).unwrap();
            for e in events.iter().filter(|e| e.on == tick.date_naive()) {
                rt.block_on(store.apply_event(&e.invoice_id, &e.event, sollecito::event::Door::Api, *tick)).unwrap();
            }
        }
        let run = site.run(&["run", "--at", &tick.to_rfc3339()]);
        assert!(run.status.success(), "run at {tick}: {}", String::from_utf8_lossy(&run.stderr));
    }
    // The real run wrote its messages to the outbox folder beside its database.
    let written = std::fs::read_dir(site.path("outbox")).map(|d| d.count()).unwrap_or(0);

    let simulated = simulated(&doc);
    let mut compared = 0;
    let mut sent = 0;
    let store = rt.block_on(Store::open(db_arg)).unwrap();
    for (invoice, lines) in &simulated {
        // What `history --json` prints, read in this process (thousands of invoices).
        let history = rt.block_on(async {
            json!({
                "events": store.events_of(invoice).await.unwrap(),
                "decisions": store.decisions_of(invoice).await.unwrap(),
                "actions": store.outbox_of(invoice).await.unwrap(),
            })
        });
        let real = recorded(&history);
        assert_eq!(lines, &real, "{invoice}: the simulation (left) and the real ticks (right) differ");
        compared += lines.len();
        sent += lines.iter().filter(|l| l.7 == "sent").count();
    }
    assert!(written > 0 && written <= sent, "{written} messages written for {sent} sent");
    compared
}

#[test]
fn simulate_records_what_real_ticks_record_for_the_examples() {
    let compared = compare(&root().join("examples/invoices.json"), "2026-09-24", "2026-12-22");
    // Six invoices through pre-due, overdue reminders, a call, notices (a registered letter, one that
    // cannot leave for want of an address), collections, a payment, a dispute, a promise.
    assert!(compared >= 28, "only {compared} lines");
}

/// 3,000 invoices of customers in six timezones, due over two months, some
/// paid, disputed or promised along the way.
fn generated(path: &Path) {
    let base = dataset("invoices.json");
    let zones =
        ["Europe/Rome", "America/New_York", "Asia/Tokyo", "Pacific/Auckland", "Europe/London", "America/Los_Angeles"];
    let mut customers = vec![];
    for i in 0..120 {
        let c = &base.customers[i % base.customers.len()];
        customers.push(json!({
            "id": format!("c-{i:03}"), "name": format!("{} {i}", c.name), "email": c.email,
            "phone": c.phone, "locale": c.locale, "timezone": zones[i % zones.len()],
            "segment": "b2b", "business": i % 3 != 0,
            "customer_since": "2024-01-01", "invoices_paid": (i % 50) as u32, "paid_on_time": (i % 50) as u32 * (i % 2) as u32
        }));
    }
    let start: NaiveDate = "2026-09-01".parse().unwrap();
    let (mut invoices, mut events) = (vec![], vec![]);
    for i in 0..3_000usize {
        let due = start + Days::new((i % 60) as u64);
        let id = format!("g-{i:04}");
        invoices.push(json!({
            "id": id, "number": format!("G-{i:04}"), "customer": format!("c-{:03}", i % 120),
            "currency": "EUR", "amount_due": format!("{}.{:02}", 100 + (i * 37) % 20_000, i % 100),
            "issued": (due - Days::new(30)).to_string(), "due": due.to_string(),
        }));
        let later = |days: u64| (due + Days::new(days)).to_string();
        match i % 10 {
            0 => events.push(json!({"invoice": id, "on": later(12), "type": "paid"})),
            3 => events
                .push(json!({"invoice": id, "on": later(20), "type": "dispute-opened", "reason": "Not delivered"})),
            6 => events.push(json!({"invoice": id, "on": later(9), "type": "promise-to-pay", "until": later(25)})),
            _ => {}
        }
    }
    let doc = json!({ "customers": customers, "invoices": invoices, "events": events });
    std::fs::write(path, doc.to_string()).unwrap();
}

#[test]
fn simulate_records_what_real_ticks_record_for_3000_generated_invoices() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("generated.json");
    generated(&file);
    let compared = compare(&file, "2026-08-25", "2026-11-22");
    assert!(compared > 3_000 * 4, "only {compared} lines");
}
