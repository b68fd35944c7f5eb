//! The `sollecito` binary as a user runs it.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sollecito_test_artifacts::{FOREIGN_WORLD, OUTSIDER};

use crate::common::*;

#[test]
fn plugins_lists_the_bundled_policies_with_their_hashes() {
    let out = sollecito(&["plugins", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "b2b-standard",
            "subscription-recovery",
            "email",
            "webhook",
            "sms",
            "phone-task",
            "letter",
            "stripe",
            "billing-webhook"
        ]
    );
    for p in list.as_array().unwrap() {
        let kind = match p["name"].as_str().unwrap() {
            "b2b-standard" | "subscription-recovery" => "policy",
            "stripe" | "billing-webhook" => "payment",
            _ => "channel",
        };
        assert_eq!(p["kind"], kind);
        // The email adapter's Message-IDs became injective in 0.2.0.
        let version = if p["name"] == "email" { "0.2.0" } else { "0.1.0" };
        assert_eq!(p["version"], version);
        assert_eq!(p["world"], format!("sollecito:plugin/{kind}@0.1.0"));
        assert_eq!(p["source"]["type"], "bundled");
        let artifact = p["name"].as_str().unwrap().replace('-', "_");
        let built = root().join(format!("target/wasm/wasm32-wasip2/release/{artifact}.wasm"));
        let sha = hex::encode(Sha256::digest(std::fs::read(built).unwrap()));
        assert_eq!(p["sha256"], sha.as_str());
    }
}

#[test]
fn compiled_plugins_are_cached_by_hash_and_a_bad_entry_is_rebuilt() {
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sollecito"))
            .args(["plugins", "--json"])
            .env("SOLLECITO_CACHE_DIR", cache.path())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success());
    let list: Value = serde_json::from_str(&stdout(&first)).unwrap();
    let entries: Vec<_> = std::fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().path()).collect();
    for p in list.as_array().unwrap() {
        let sha = p["sha256"].as_str().unwrap();
        let hit = entries.iter().find(|e| e.file_name().unwrap().to_str().unwrap().starts_with(sha));
        let hit = hit.unwrap_or_else(|| panic!("no cache entry for {sha} in {entries:?}"));
        std::fs::write(hit, b"garbage").unwrap();
    }
    let second = run();
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&first), stdout(&second));
}

#[test]
fn an_outsiders_policy_loads_from_a_path_and_runs() {
    let out = sollecito(&["simulate", "examples/invoices.json", "--policy", OUTSIDER, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["policy"]["name"], "outsider");
    assert_eq!(doc["policy"]["version"], "1.2.3");
    for t in doc["timelines"].as_array().unwrap() {
        // Every example invoice is due on 1 October: the outsider reminds on the 3rd.
        let nudge = t["entries"].as_array().unwrap().iter().find(|e| e["step"] == "outsider-nudge");
        let nudge = nudge.unwrap_or_else(|| panic!("no nudge for {}", t["invoice"]));
        assert_eq!(nudge["date"], "2026-10-03");
        assert_eq!(nudge["channel"], "email");
    }
}

#[test]
fn the_table_names_each_invoice_and_step() {
    let out = sollecito(&["simulate", "examples/invoices.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("FT-2026/1001 (inv-1001) Rossi Impianti S.r.l.: 1250.00 EUR due 2026-10-01"), "{text}");
    assert!(text.contains("SK-1005 (inv-1005) Sakura Design K.K.: 120000 JPY"), "{text}");
    for step in ["pre-due", "overdue-7", "overdue-15", "overdue-30", "formal-notice", "handover"] {
        assert!(text.contains(step), "{step} missing");
    }
}

#[test]
fn bad_input_exits_2_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"customers": [{"id": "c", "name": "C", "email": "c@example.com", "locale": "it-IT", "timezone": "Mars/Olympus"}],
            "invoices": [{"id": "i", "number": "1", "customer": "c", "currency": "EUR", "amount_due": "12.345", "issued": "2026-01-01", "due": "2026-01-31"}]}"#,
    )
    .unwrap();
    let out = sollecito(&["simulate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("customers[0] (c): timezone: unknown timezone \"Mars/Olympus\""), "{err}");
    assert!(err.contains("invoices[0] (i): amount_due: amount \"12.345\" has more than 2 decimals"), "{err}");

    let out = sollecito(&["simulate", "examples/invoices.json", "--policy", "no-such-policy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("plugin no-such-policy: no bundled plugin of that name"), "{}", stderr(&out));

    let out = sollecito(&["simulate", "examples/invoices.json", "--policy", FOREIGN_WORLD]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("implements none of the worlds"), "{}", stderr(&out));

    let out = sollecito(&["simulate", "examples/invoices.json", "--policy", "/nonexistent/p.wasm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("plugin /nonexistent/p.wasm: cannot read"), "{}", stderr(&out));
}

#[test]
fn a_failing_policy_is_retried_at_every_tick_and_named() {
    let hostile = sollecito_test_artifacts::HOSTILE;
    let args = ["simulate", "examples/invoices.json", "--policy", hostile, "--set", "mode=panic"];
    let out = sollecito(&[&args[..], &["--from", "2026-10-01", "--to", "2026-10-03", "--json"]].concat());
    assert!(out.status.success(), "a plugin failure is not a host failure: {}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for t in doc["timelines"].as_array().unwrap() {
        let errors: Vec<_> = t["entries"].as_array().unwrap().iter().filter(|e| e["what"] == "error").collect();
        let days: Vec<_> = errors.iter().map(|e| e["date"].as_str().unwrap()).collect();
        assert_eq!(days, ["2026-10-01", "2026-10-02", "2026-10-03"], "tried again each day");
        assert!(errors[0]["note"].as_str().unwrap().contains("boom on"), "{}", errors[0]);
    }
}

/// (date, step, channel, tone) of each entry of one timeline in a `--json` document.
fn entries_of(doc: &Value, invoice: &str) -> Vec<(String, String, String, String)> {
    let t = doc["timelines"].as_array().unwrap().iter().find(|t| t["invoice"] == invoice).unwrap();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    t["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (text(&e["date"]), text(&e["step"]), text(&e["channel"]), text(&e["tone"])))
        .collect()
}

#[test]
fn the_example_custom_policy_runs_through_simulate() {
    let file = "examples/custom-policy/invoices.json";
    let out = sollecito(&[
        "simulate",
        file,
        "--policy",
        sollecito_test_artifacts::ACME_GENTLE,
        "--to",
        "2026-12-31",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["policy"]["name"], "acme-gentle");
    let row = |d: &str, s: &str, c: &str, t: &str| (d.to_string(), s.to_string(), c.to_string(), t.to_string());

    // Six years, every invoice on time: never past a firm tone, and no manual review.
    assert_eq!(
        entries_of(&doc, "acme-1"),
        [
            row("2026-10-04", "nudge", "email", "courteous"),
            row("2026-10-11", "reminder", "email", "soft"),
            row("2026-10-21", "firm", "email", "firm"),
            row("2026-11-05", "final", "email", "firm"),
        ]
    );
    // Over 10,000 EUR: a phone call comes first, and the ladder ends in a manual review.
    assert_eq!(
        entries_of(&doc, "acme-2"),
        [
            row("2026-10-04", "call-first", "phone", "soft"),
            row("2026-10-11", "reminder", "email", "soft"),
            row("2026-10-21", "firm", "email", "firm"),
            row("2026-11-05", "final", "email", "final"),
            row("2026-11-20", "review", "", ""),
        ]
    );
    assert_eq!(entries_of(&doc, "acme-3")[0], row("2026-10-04", "nudge", "email", "courteous"));
    assert_eq!(entries_of(&doc, "acme-3").last().unwrap().1, "review");
}

/// The README's main command: the demo runs the examples end to end, messages
/// to the outbox folder, retries and suspensions through the stand-in billing system.
#[test]
fn the_demo_runs_every_kind_of_action() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = sollecito(&["demo", "--dir", demo.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("0 plugin errors"), "{text}");
    let emails = std::fs::read_dir(demo.join("outbox")).unwrap().count();
    assert!(emails > 20, "{emails} emails");
    let log = std::fs::read_to_string(demo.join("billing-system.log")).unwrap();
    assert!(log.contains("pay sub-2001 (sollecito-sub-2001/retry-1): declined, insufficient_funds"), "{log}");
    assert!(log.lines().any(|l| l.starts_with("pay sub-2001") && l.ends_with(": paid")), "{log}");
    assert!(log.contains(r#"service: "suspend-service" for "Mark Ellison""#), "{log}");
    assert!(!log.contains("refused"), "{log}");
}
