//! The never-twice pipeline through the real binary: import, run, history,
//! a SQLite file and the outbox folder.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use serde_json::Value;

use crate::common::*;

/// A folder with its own database, outbox and (optional) config.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Self {
        Site { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sollecito"));
        c.arg("--db").arg(self.path("sollecito.db"));
        if self.path("sollecito.toml").exists() {
            c.arg("--config").arg(self.path("sollecito.toml"));
        }
        c.args(args).env("SOLLECITO_CACHE_DIR", cache_dir()).current_dir(root());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// The `.eml` files in the outbox, by name.
    fn emails(&self) -> BTreeSet<String> {
        match std::fs::read_dir(self.path("outbox")) {
            Ok(entries) => {
                entries.map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.ends_with(".eml")).collect()
            }
            Err(_) => BTreeSet::new(),
        }
    }

    fn email(&self, name: &str) -> String {
        std::fs::read_to_string(self.path("outbox").join(name)).unwrap()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// (step, state, reason) of each outbox row of an invoice.
    fn actions(&self, invoice: &str) -> Vec<(String, String, String)> {
        let h = self.json(&["history", invoice]);
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        h["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (text(&a["step"]), text(&a["state"]), text(&a["reason"])))
            .collect()
    }
}

fn examples(name: &str) -> String {
    root().join("examples").join(name).display().to_string()
}

#[test]
fn a_second_run_at_the_same_time_sends_nothing_new() {
    let site = Site::new();
    site.ok(&["import", &examples("invoices.json"), "--at", "2026-09-20T00:00:00Z"]);
    // Thursday 8 October, 12:00 UTC: inside the window in Rome, Berlin and London.
    let first = site.json(&["run", "--at", "2026-10-08T12:00:00Z"]);
    assert_eq!(first["evaluated"], 6);
    let sent = first["sent"].as_u64().unwrap();
    assert!(sent >= 3, "{first}");
    let emails = site.emails();
    assert_eq!(emails.len() as u64, sent);
    assert!(emails.contains("inv-1001.overdue-7.eml"), "{emails:?}");

    let second = site.json(&["run", "--at", "2026-10-08T12:00:00Z"]);
    assert_eq!(second["sent"], 0, "{second}");
    assert_eq!(second["reminders_queued"], 0);
    assert_eq!(site.emails(), emails);
}

#[test]
fn dry_run_writes_and_sends_nothing() {
    let site = Site::new();
    site.ok(&["import", &examples("invoices.json"), "--at", "2026-09-20T00:00:00Z"]);
    let dry = site.json(&["run", "--at", "2026-10-08T12:00:00Z", "--dry-run"]);
    assert_eq!(dry["evaluated"], 6);
    assert!(dry["reminders_queued"].as_u64().unwrap() >= 3);
    assert!(site.emails().is_empty());
    assert!(site.actions("inv-1001").is_empty());
    // The real run afterwards still finds everything to do.
    assert_eq!(site.json(&["run", "--at", "2026-10-08T12:00:00Z"])["evaluated"], 6);
}

#[test]
fn killed_at_random_points_every_step_is_delivered_exactly_once() {
    // Fifty ticks, 30 hours apart (so every hour of the day comes round), through the whole ladder.
    let ticks: Vec<String> =
        (0..50).map(|i| (at("2026-09-26T00:00:00Z") + chrono::Duration::hours(30 * i)).to_rfc3339()).collect();
    let reference = Site::new();
    let killed = Site::new();
    for site in [&reference, &killed] {
        site.ok(&["import", &examples("invoices.json"), "--at", "2026-09-20T00:00:00Z"]);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut kills = 0;
    for tick in &ticks {
        reference.ok(&["run", "--at", tick]);
        let mut child =
            killed.command(&["run", "--at", tick]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..120)));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        // The restart at the same tick finishes what the killed run left.
        killed.ok(&["run", "--at", tick]);
    }
    assert!(kills >= 10, "only {kills} runs were killed mid-way; the test is not testing much");
    let expected = reference.emails();
    assert!(expected.len() >= 15, "{expected:?}");
    assert_eq!(killed.emails(), expected, "never zero, never twice");
    for invoice in ["inv-1001", "inv-1002", "inv-1003", "inv-1004", "inv-1005", "inv-1006"] {
        assert_eq!(killed.actions(invoice), reference.actions(invoice), "{invoice}");
    }
}

#[test]
fn an_invoice_paid_between_decision_and_delivery_gets_no_message() {
    let site = Site::new();
    site.ok(&["import", &examples("invoices.json"), "--at", "2026-09-20T00:00:00Z"]);
    // 03:00 UTC is 05:00 in Rome: decided, but waiting for the window.
    let night = site.json(&["run", "--at", "2026-10-08T03:00:00Z"]);
    assert!(night["deferred_window"].as_u64().unwrap() >= 1, "{night}");
    assert!(!site.emails().contains("inv-1001.overdue-7.eml"));

    // The billing system now says it is paid.
    let text = std::fs::read_to_string(examples("invoices.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    doc["invoices"][0]["status"] = "paid".into();
    doc["invoices"][0]["amount_paid"] = "1250.00".into();
    doc.as_object_mut().unwrap().remove("events");
    let paid = site.write("paid.json", &doc.to_string());
    let import = site.json(&["import", paid.to_str().unwrap(), "--at", "2026-10-08T08:00:00Z"]);
    assert_eq!(import["invoices_updated"], 1);
    assert!(import["events"].as_array().unwrap().iter().any(|e| e == "inv-1001: paid"), "{import}");

    site.ok(&["run", "--at", "2026-10-08T12:00:00Z"]);
    assert!(!site.emails().contains("inv-1001.overdue-7.eml"));
    let actions = site.actions("inv-1001");
    assert!(actions.contains(&("overdue-7".into(), "cancelled".into(), "invoice is paid".into())), "{actions:?}");
    let history = site.ok(&["history", "inv-1001"]);
    assert!(history.contains("cancelled: invoice is paid"), "{history}");
}
