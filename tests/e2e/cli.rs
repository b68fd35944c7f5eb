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
            "billing-webhook",
            "reader"
        ]
    );
    for p in list.as_array().unwrap() {
        let kind = match p["name"].as_str().unwrap() {
            "b2b-standard" | "subscription-recovery" => "policy",
            "stripe" | "billing-webhook" => "payment",
            "reader" => "reader",
            _ => "channel",
        };
        assert_eq!(p["kind"], kind);
        // Every bundled plugin was rebuilt for contract 0.3 (the email adapter
        // had already moved to 0.3.0 when its Message-IDs became injective).
        assert_eq!(p["version"], "0.3.0");
        assert_eq!(p["world"], format!("sollecito:plugin/{kind}@0.3.0"));
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

/// The README's first `simulate` (no config, so no PEC relay): every formal
/// notice goes as a registered letter, and a hand-over follows only a formal
/// notice that was delivered.
#[test]
fn without_a_pec_relay_formal_notices_go_as_letters_and_only_a_delivered_one_leads_to_collections() {
    let out = sollecito(&["simulate", "examples/invoices.json", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (mut notices, mut handovers) = (0, 0);
    for t in doc["timelines"].as_array().unwrap() {
        let entries = t["entries"].as_array().unwrap();
        let formal = entries.iter().find(|e| e["step"] == "formal-notice");
        if let Some(formal) = formal {
            notices += 1;
            assert_eq!(formal["channel"], "letter", "{}: {formal}", t["invoice"]);
        }
        if entries.iter().any(|e| e["step"] == "handover") {
            handovers += 1;
            let formal = formal.unwrap_or_else(|| panic!("{}: a hand-over with no formal notice", t["invoice"]));
            assert_eq!(formal["state"], "sent", "{}: a hand-over after an undelivered notice", t["invoice"]);
        }
    }
    assert!(notices >= 3 && handovers >= 1, "{notices} formal notices, {handovers} hand-overs");
}

/// A cron job pointed at the wrong database (here a new one) is told: exit 5,
/// and why; once invoices are there the same run exits 0.
#[test]
fn a_run_on_a_store_with_no_invoices_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo.db");
    let out = sollecito(&["--db", db.to_str().unwrap(), "run", "--at", "2026-11-05T12:00:00Z"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("holds no invoices: nothing to do"), "{}", stderr(&out));
    let import = sollecito(&["--db", db.to_str().unwrap(), "import", "examples/invoices.json"]);
    assert!(import.status.success(), "{}", stderr(&import));
    let out = sollecito(&["--db", db.to_str().unwrap(), "run", "--at", "2026-11-05T12:00:00Z"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_failing_policy_is_retried_at_every_tick_and_named() {
    let hostile = sollecito_test_artifacts::HOSTILE;
    let args = ["simulate", "examples/invoices.json", "--policy", hostile, "--set", "mode=panic"];
    let out = sollecito(&[&args[..], &["--from", "2026-10-01", "--to", "2026-10-03", "--json"]].concat());
    // A plugin failure is not a host failure: the timelines are all there, and exit code 3 says it failed.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("the policy failed on 18 evaluation(s)"), "{}", stderr(&out));
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
    // The report after the demo: a DSO a finance person believes, between 0 and the
    // age of the oldest invoice owed (the examples were issued on 1 September 2026).
    let db = demo.join("sollecito.db");
    let out = sollecito(&["--db", db.to_str().unwrap(), "report", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let oldest: chrono::NaiveDate = "2026-09-01".parse().unwrap();
    let age = (chrono::Utc::now().date_naive() - oldest).num_days() as f64 + 1.0;
    let dso = report["receivables"]["dso"].as_object().unwrap();
    assert!(dso.len() >= 4, "{dso:?}");
    for (currency, d) in dso {
        let days = d["days"].as_f64().unwrap();
        assert!(days > 0.0 && days <= age, "{currency}: DSO {days} days, the oldest invoice is {age} days old");
        let (best, late) = (d["best_days"].as_f64().unwrap(), d["delinquent_days"].as_f64().unwrap());
        assert!((best + late - days).abs() < 0.11, "{currency}: {d}");
    }
}

/// Runs the binary in `dir` (its `sollecito.db` and `sollecito.toml`) with extra environment.
fn sollecito_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sollecito"));
    command.args(args).env("SOLLECITO_CACHE_DIR", cache_dir()).env_remove("SOLLECITO_LOG_FORMAT").current_dir(dir);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// A folder with the examples imported on 20 September 2026.
fn imported() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let examples = root().join("examples/invoices.json");
    let out = sollecito_in(dir.path(), &["import", examples.to_str().unwrap(), "--at", "2026-09-20T00:00:00Z"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

/// Runs the binary with stdout's reader gone: closed at once, or after the first line.
fn with_closed_stdout(dir: &std::path::Path, args: &[&str], first_line: bool) -> std::process::Output {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sollecito"))
        .args(args)
        .env("SOLLECITO_CACHE_DIR", cache_dir())
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    if first_line {
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "{args:?} printed nothing");
    } else {
        drop(stdout);
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = imported();
    // Enough invoices that `simulate --json` prints far more than a pipe holds.
    let many = dir.path().join("many.json");
    let invoices: Vec<Value> = (0..300)
        .map(|i| {
            serde_json::json!({"id": format!("i{i}"), "number": format!("N{i}"), "customer": "c", "currency": "EUR",
                "amount_due": "100.00", "issued": "2026-09-01", "due": "2026-10-01"})
        })
        .collect();
    let customers = serde_json::json!([{"id": "c", "name": "C", "email": "c@example.com", "locale": "en-GB", "timezone": "Europe/London"}]);
    std::fs::write(&many, serde_json::json!({"customers": customers, "invoices": invoices}).to_string()).unwrap();
    let many = many.to_str().unwrap();
    let cases: [(&[&str], bool); 6] = [
        (&["history", "inv-1001"], true),
        (&["history", "inv-1001", "--json"], false),
        (&["plugins"], false),
        (&["simulate", many, "--json"], true),
        (&["simulate", many], true),
        (&["run", "--at", "2026-10-20T09:00:00Z"], false),
    ];
    for (args, first_line) in cases {
        let out = with_closed_stdout(dir.path(), args, first_line);
        let err = stderr(&out);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn logs_carry_no_colour_off_a_terminal() {
    let dir = imported();
    // The default config names a `pec` channel nobody configured: an info line.
    let out = sollecito_in(dir.path(), &["run", "--at", "2026-10-20T09:00:00Z"], &[("SOLLECITO_LOG", "info")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("INFO"), "{err}");
    assert!(!err.contains("\x1b["), "{err:?}");
}

#[test]
fn json_logs_are_one_object_a_line() {
    let dir = imported();
    let env = [("SOLLECITO_LOG", "info"), ("SOLLECITO_LOG_FORMAT", "json")];
    let out = sollecito_in(dir.path(), &["run", "--at", "2026-10-20T09:00:00Z"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.lines().count() >= 1, "no log lines");
    for line in err.lines() {
        let log: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(log["level"].is_string() && log["message"].is_string(), "{line}");
    }
    // The final error too, for the log collector.
    let fresh = tempfile::tempdir().unwrap();
    let out = sollecito_in(fresh.path(), &["history", "inv-1001"], &env);
    assert_eq!(out.status.code(), Some(2));
    let log: Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(log["level"], "ERROR");
    assert!(log["message"].as_str().unwrap().contains("no database at"), "{log}");

    let out = sollecito_in(fresh.path(), &["plugins"], &[("SOLLECITO_LOG_FORMAT", "yaml")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("SOLLECITO_LOG_FORMAT"), "{}", stderr(&out));
}

#[test]
fn run_exits_3_when_the_policy_failed_on_some_invoices() {
    let dir = imported();
    let hostile = sollecito_test_artifacts::HOSTILE;
    // A policy that refuses, and one that panics (its message goes through WASI's stderr).
    for (mode, dry_run) in [("refuse", true), ("panic", true), ("refuse", false)] {
        std::fs::write(
            dir.path().join("sollecito.toml"),
            format!("[policies]\ndefault = {hostile:?}\n[settings.hostile]\nmode = \"{mode}\"\n"),
        )
        .unwrap();
        let mut args = vec!["run", "--at", "2026-10-20T09:00:00Z", "--json"];
        if dry_run {
            args.push("--dry-run");
        }
        let out = sollecito_in(dir.path(), &args, &[]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        // Everything else was done: the report is printed whole.
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(report["plugin_errors"], 6);
        assert_eq!(report["evaluated"], 6);
        assert!(stderr(&out).contains("the policy failed on 6 evaluation(s)"), "{}", stderr(&out));
    }
    // With a policy that works, exit 0.
    std::fs::remove_file(dir.path().join("sollecito.toml")).unwrap();
    let out = sollecito_in(dir.path(), &["run", "--at", "2026-10-21T09:00:00Z"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Every file and folder under `dir`, relative to it.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        out.push(path.strip_prefix(dir).unwrap().display().to_string());
        if path.is_dir() {
            out.extend(tree(&path).into_iter().map(|p| format!("{}/{p}", path.file_name().unwrap().display())));
        }
    }
    out.sort();
    out
}

#[test]
fn a_dry_run_writes_nothing_at_all() {
    // No database: refused, as `history` does, rather than creating an empty one.
    let fresh = tempfile::tempdir().unwrap();
    let out = sollecito_in(fresh.path(), &["run", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no database at sollecito.db"), "{}", stderr(&out));
    assert_eq!(tree(fresh.path()), Vec::<String>::new());

    // A database: no outbox, letters, handovers or worker lock file beside it, and the same history.
    let dir = imported();
    let before = tree(dir.path());
    let history = stdout(&sollecito_in(dir.path(), &["history", "inv-1001", "--json"], &[]));
    for at in ["2026-10-20T09:00:00Z", "2026-12-20T09:00:00Z"] {
        let out = sollecito_in(dir.path(), &["run", "--dry-run", "--at", at, "--json"], &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert!(report["reminders_queued"].as_u64().unwrap() > 0 || report["evaluated"].as_u64().unwrap() > 0);
    }
    let after: Vec<String> =
        tree(dir.path()).into_iter().filter(|p| !p.ends_with("-shm") && !p.ends_with("-wal")).collect();
    let before: Vec<String> = before.into_iter().filter(|p| !p.ends_with("-shm") && !p.ends_with("-wal")).collect();
    assert_eq!(after, before);
    assert_eq!(stdout(&sollecito_in(dir.path(), &["history", "inv-1001", "--json"], &[])), history);
}

#[test]
fn import_prints_a_summary_whatever_the_number_of_invoices() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.json");
    let write = |paid: &str| {
        let customers: Vec<Value> = (0..100)
            .map(|c| serde_json::json!({"id": format!("c{c}"), "name": "C", "email": "c@example.com", "locale": "en-GB", "timezone": "Europe/London"}))
            .collect();
        let invoices: Vec<Value> = (0..20_000)
            .map(|i| {
                serde_json::json!({"id": format!("i{i}"), "number": format!("N{i}"), "customer": format!("c{}", i % 100),
                    "currency": "EUR", "amount_due": "100.00", "amount_paid": if i % 2 == 0 { paid } else { "0.00" },
                    "issued": "2026-09-01", "due": "2026-10-01"})
            })
            .collect();
        std::fs::write(&file, serde_json::json!({"customers": customers, "invoices": invoices}).to_string()).unwrap();
    };
    let file_arg = file.to_str().unwrap().to_string();
    write("0.00");
    let out = sollecito_in(dir.path(), &["import", &file_arg, "--at", "2026-09-20T00:00:00Z"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.lines().count() < 20, "{text}");
    assert!(text.contains("20000 invoices added"), "{text}");

    // Half of them paid in part: 10,000 events, still a summary; `--verbose` lists them.
    write("40.00");
    let out = sollecito_in(dir.path(), &["import", &file_arg, "--at", "2026-09-21T00:00:00Z"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.lines().count() < 20, "{text}");
    assert!(text.contains("0 invoices added, 10000 updated; 10100 unchanged"), "{text}");
    assert!(text.contains("10000 payment-received"), "{text}");
    write("50.00");
    let out = sollecito_in(dir.path(), &["import", &file_arg, "--at", "2026-09-22T00:00:00Z", "--verbose"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).lines().filter(|l| l.contains("payment-received")).count() >= 10_000);
}

#[test]
fn completions_name_every_command() {
    let out = sollecito(&["completions", "bash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    for command in ["simulate", "import", "history", "completions"] {
        assert!(script.contains(command), "{command} missing");
    }
    for shell in ["zsh", "fish"] {
        let out = sollecito(&["completions", shell]);
        assert!(out.status.success() && stdout(&out).contains("simulate"), "{shell}: {}", stderr(&out));
    }
}
