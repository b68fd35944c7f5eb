//! What the bank's money looks like to the finance team and the operator:
//! the report's payments by source and its matching figures, counted by hand;
//! a person matching a credit from the dashboard; and statements dropped into
//! a watched folder, recorded before the next tick.

use std::time::{Duration, Instant};

use crate::bank::{NOBODY, ROSSI, STRANGER, camt, import};
use crate::common::*;
use crate::pipeline::Site;
use crate::serve::{Service, TOKEN};

/// A Stripe payout: many card payments in one credit, none of them the bank's to record.
const PAYOUT: crate::bank::Line<'static> =
    ("BANK-9", "3000.00", false, false, "STRIPE PAYMENTS EUROPE LTD", "STRIPE PAYOUT po_1QxYz", "", "NOTPROVIDED");

fn seeded() -> Site {
    let site = Site::new();
    let examples = root().join("examples/invoices.json");
    site.ok(&["import", examples.to_str().unwrap(), "--at", "2026-09-20T00:00:00Z"]);
    site
}

#[test]
fn the_report_gives_payments_by_source_and_how_the_banks_credits_matched_as_counted_by_hand() {
    let site = seeded();
    // Booked Monday 2 November; imported Tuesday 06:00.
    let statement = camt("053", "STMT-R", "2026-11-02", &[ROSSI, STRANGER, PAYOUT, NOBODY]);
    let day = import(&site, "r.xml", &statement, "2026-11-03T06:00:00Z");
    let counts = [&day["paid"], &day["unsure"], &day["payouts"], &day["unmatched"]];
    assert_eq!(counts, [1, 1, 1, 1], "{day}");
    // Wednesday noon a person says the stranger's 500.00 is Nordwind's.
    site.ok(&["bank", "confirm", "AcctSvcrRef:BANK-3", "inv-1003", "--at", "2026-11-04T12:00:00Z"]);
    // Thursday the accounting export says Harbour paid its 980.00 GBP.
    let examples = root().join("examples/invoices.json");
    let mut export: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&examples).unwrap()).unwrap();
    // Only Harbour's invoice: the export knows nothing of the bank's payments.
    let mut harbour = export["invoices"][3].clone();
    harbour["status"] = "paid".into();
    export["invoices"] = serde_json::json!([harbour]);
    export["events"] = serde_json::json!([]);
    let export = site.write("export.json", &export.to_string());
    site.ok(&["import", export.to_str().unwrap(), "--at", "2026-11-05T10:00:00Z"]);

    let report = site.json(&["report", "--from", "2026-11-01", "--to", "2026-11-30"]);
    let payments = &report["payments"];
    // By hand: the bank paid Rossi 1250.00 and Nordwind 500.00 (in part); the import Harbour's 980.00.
    let by_source: Vec<(String, String, i64, i64)> = payments["by_source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let text = |k: &str| l[k].as_str().unwrap().to_string();
            (text("source"), text("currency"), l["payments"].as_i64().unwrap(), l["amount"].as_i64().unwrap())
        })
        .collect();
    let expected = [("bank", "EUR", 2, 175_000), ("import", "GBP", 1, 98_000)];
    let expected: Vec<(String, String, i64, i64)> =
        expected.iter().map(|(s, c, n, a)| (s.to_string(), c.to_string(), *n, *a)).collect();
    assert_eq!(by_source, expected, "{payments}");
    let bank = &payments["bank"];
    // Four credits: one matched alone, one by a person, one nobody's, and the payout (no customer's).
    let figures = [&bank["credits"], &bank["matched_automatically"], &bank["matched_by_a_person"]];
    assert_eq!(figures, [4, 1, 1], "{bank}");
    assert_eq!([&bank["waiting_for_a_person"], &bank["payouts"]], [1, 1], "{bank}");
    assert_eq!(bank["share_automatic"].as_f64(), Some(1.0 / 3.0), "{bank}");
    // Rossi: booked Monday 00:00, matched Tuesday 06:00 = 1.25 days; the stranger: Wednesday noon = 2.5.
    let days = &bank["days_to_match"];
    assert_eq!([&days["payments"], &days["median_days"], &days["p90_days"]], [2.0, 1.3, 2.5], "{days}");

    let text = site.ok(&["report", "--from", "2026-11-01", "--to", "2026-11-30"]);
    assert!(text.contains("matched automatically 1 (33.3%), by a person 1, waiting for a person 1"), "{text}");
    assert!(text.contains("1750.00 EUR") && text.contains("980.00 GBP"), "{text}");
    // The person's task about the credit closed with the match; the payout asked nobody anything.
    let db = Db::new(&site.db());
    let open = db.strings("SELECT key FROM tasks WHERE done_at IS NULL AND key LIKE 'bank/%' ORDER BY key");
    assert!(open.is_empty(), "{open:?}");
}

/// A signed-in session's cookie (the dashboard's sign-in with the token).
fn signed_in(service: &Service) -> String {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let response = agent.post(&format!("{}/ui/login", service.base)).send_form(&[("token", TOKEN)]).unwrap();
    response.header("set-cookie").expect("a session cookie").split(';').next().unwrap().to_string()
}

fn page(service: &Service, cookie: &str, path: &str) -> String {
    let response = ureq::get(&format!("{}{path}", service.base)).set("Cookie", cookie).call().unwrap();
    response.into_string().unwrap()
}

#[test]
fn a_person_matches_an_unsure_credit_from_the_dashboard_and_the_invoice_is_paid_at_once() {
    let site = seeded();
    // The stranger's credit without the bank's own reference: its key is made of the
    // payer's id, the day and the amount, and holds a `/`.
    let statement =
        camt("053", "STMT-R", "2026-11-02", &[STRANGER, NOBODY]).replace("<AcctSvcrRef>BANK-3</AcctSvcrRef>", "");
    import(&site, "r.xml", &statement, "2026-11-03T06:00:00Z");
    let db = Db::new(&site.db());
    let key = db.strings("SELECT key FROM bank_entries WHERE amount = 50000").remove(0);
    assert!(key.contains('/'), "{key}");
    let service = Service::start(&site, "");
    let cookie = signed_in(&service);
    let html = page(&service, &cookie, "/ui/bank");
    // The unsure credit lists its candidate with what it still owes; the nameless one none.
    assert!(
        html.contains("inv-1003</a> · cus-nordwind · still owes 18,500.00")
            || html.contains("inv-1003</a> · cus-nordwind · still owes €18,500.00"),
        "{html}"
    );
    assert!(html.contains("value=\"inv-1003\""), "the candidate offered: {html}");
    assert!(html.contains("grazie"), "the words on the transfer: {html}");
    let csrf = html.split("name=\"csrf\" value=\"").nth(2).and_then(|s| s.split('"').next()).unwrap().to_string();
    // As HTML escapes it (the browser sends it back as it was).
    let escaped = key.replace('/', "&#x2f;");
    assert!(html.contains(&format!("name=\"key\" value=\"{escaped}\"")), "the form carries the entry's key: {html}");
    let action = html.split("<form method=\"post\" action=\"").nth(2).and_then(|s| s.split('"').next()).unwrap();
    assert_eq!(action, "/ui/bank/confirm");

    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let confirm = |csrf: &str, invoice: &str| {
        let url = format!("{}{action}", service.base);
        let form = [("csrf", csrf), ("key", key.as_str()), ("invoice", invoice)];
        match agent.post(&url).set("Cookie", &cookie).send_form(&form) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
            Err(e) => panic!("{e}"),
        }
    };
    // Without the form's token: refused, nothing paid.
    assert_eq!(confirm("forged", "inv-1003"), 403);
    // An invoice that does not exist: refused; one in pounds, for a credit in euros: refused.
    assert_eq!(confirm(&csrf, "inv-nope"), 404);
    assert_eq!(confirm(&csrf, "inv-1004"), 409);
    assert!(db.strings("SELECT invoice_id FROM bank_payments").is_empty());
    assert_eq!(confirm(&csrf, "inv-1003"), 303);
    assert_eq!(db.strings("SELECT invoice_id || ':' || amount FROM bank_payments"), ["inv-1003:50000"]);
    assert_eq!(db.strings(&format!("SELECT state FROM bank_entries WHERE key = '{key}'")), ["confirmed"]);
    // A second click (a stale page): nothing paid twice.
    assert_eq!(confirm(&csrf, "inv-1003"), 409);
    assert_eq!(db.strings("SELECT invoice_id FROM bank_payments").len(), 1);
    let after = page(&service, &cookie, "/ui/bank");
    assert!(!after.contains("value=\"inv-1003\""), "matched, no longer listed: {after}");
}

#[test]
fn a_statement_dropped_into_the_watched_folder_is_recorded_and_moved_and_a_bad_one_set_aside_with_why() {
    let site = seeded();
    let inbox = site.path("bank-in");
    std::fs::create_dir_all(&inbox).unwrap();
    let service = Service::start(&site, "[bank]\nwatch = \"bank-in\"\n");
    std::fs::write(inbox.join("2026-11-02.xml"), camt("053", "STMT-W", "2026-11-02", &[ROSSI])).unwrap();
    std::fs::write(inbox.join("bad.xml"), "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><Document/>")
        .unwrap();
    // A file still being written (not .xml yet) is left alone.
    std::fs::write(inbox.join("next.xml.part"), "<Docu").unwrap();
    let started = Instant::now();
    while !(inbox.join("done/2026-11-02.xml").exists() && inbox.join("refused/bad.why").exists()) {
        assert!(started.elapsed() < Duration::from_secs(60), "the folder was not read: {}", service.said());
        std::thread::sleep(Duration::from_millis(200));
    }
    let db = Db::new(&site.db());
    assert_eq!(db.strings("SELECT status FROM invoices WHERE id = 'inv-1001'"), ["paid"]);
    let why = std::fs::read_to_string(inbox.join("refused/bad.why")).unwrap();
    assert!(why.contains("DTD"), "{why}");
    assert!(inbox.join("next.xml.part").exists() && !inbox.join("2026-11-02.xml").exists());
    // The same statement dropped again records nothing twice.
    std::fs::write(inbox.join("again.xml"), camt("053", "STMT-W", "2026-11-02", &[ROSSI])).unwrap();
    let started = Instant::now();
    while !inbox.join("done/again.xml").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the folder was not read again: {}", service.said());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(db.strings("SELECT invoice_id FROM bank_payments"), ["inv-1001"]);
}

#[test]
fn serve_refuses_a_watched_folder_that_is_not_there() {
    let site = seeded();
    Service::write_config(&site, "", "[bank]\nwatch = \"nowhere\"\n");
    let out = site.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bank.watch"), "{}", stderr(&out));
}

#[test]
fn a_step_held_for_an_unsure_credit_is_decided_again_once_the_hold_ends_unmatched() {
    let site = seeded();
    site.ok(&["run", "--at", "2026-10-26T09:00:00Z"]);
    let db = Db::new(&site.db());
    let sent = |id: &str| {
        db.strings(&format!("SELECT step FROM outbox WHERE invoice_id = '{id}' AND state IN ('sent', 'pending')")).len()
    };
    let before = sent("inv-1003");
    // Tuesday: a stranger's "rif. 1003" may pay Nordwind's invoice; reminders wait until Friday 6.
    import(&site, "r.xml", &camt("053", "STMT-R", "2026-11-02", &[STRANGER]), "2026-11-03T06:00:00Z");
    for day in 3..=5 {
        site.ok(&["run", "--at", &format!("2026-11-{day:02}T09:00:00Z")]);
        assert_eq!(sent("inv-1003"), before, "held on the {day}th");
    }
    // Nobody matched it: from the end of the hold the policy is asked again and its step goes out.
    for day in 6..=9 {
        site.ok(&["run", "--at", &format!("2026-11-{day:02}T09:00:00Z")]);
    }
    assert!(sent("inv-1003") > before, "the held step was decided again after the hold");
    assert_eq!(db.strings("SELECT state FROM bank_entries"), ["unsure"], "still for a person");
}

#[test]
fn money_of_ours_sent_back_pays_no_invoice_even_with_a_customers_reference() {
    let site = seeded();
    // A payment we made to Rossi, returned by their bank: a credit marked as a reversal, with their words.
    let returned = ("BANK-R", "1250.00", false, true, "Rossi Impianti S.r.l.", "", "RF52 FT20 2610 01", "E2E-OUT-1");
    let day = import(&site, "r.xml", &camt("053", "STMT-X", "2026-11-02", &[returned]), "2026-11-03T06:00:00Z");
    assert_eq!([&day["returned"], &day["paid"], &day["unsure"]], [1, 0, 0], "{day}");
    let db = Db::new(&site.db());
    assert_eq!(db.strings("SELECT status FROM invoices WHERE id = 'inv-1001'"), ["open"]);
    assert_eq!(db.strings("SELECT state FROM bank_entries"), ["returned"]);
}

#[test]
fn the_same_invoice_paid_in_eight_statements_imported_at_once_is_paid_once_and_the_rest_go_to_a_person() {
    let site = seeded();
    // Eight transfers for Rossi's 1250.00, each in a statement of its own, imported by eight processes at
    // once: several read the open invoices before any has written (without the second look under the
    // write lock, eight processes paid twice in three runs of five: a race test that catches the race
    // often, not always).
    let files: Vec<std::path::PathBuf> = (1..=8)
        .map(|n| {
            let line = (format!("BANK-P{n}"), format!("E2E-P{n}"));
            let rossi = (
                line.0.as_str(),
                "1250.00",
                false,
                false,
                "Rossi Impianti S.r.l.",
                "",
                "RF52 FT20 2610 01",
                line.1.as_str(),
            );
            site.write(&format!("p{n}.xml"), &camt("053", &format!("STMT-P{n}"), "2026-11-02", &[rossi]))
        })
        .collect();
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            site.command(&["bank", "import", f.to_str().unwrap(), "--json"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (mut paid, mut second) = (0, 0);
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let done: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        paid += done[0]["imported"]["paid"].as_u64().unwrap();
        second += done[0]["imported"]["already_paid"].as_u64().unwrap();
    }
    assert_eq!((paid, second), (1, 7));
    let db = Db::new(&site.db());
    assert_eq!(db.strings("SELECT invoice_id || ' ' || amount FROM bank_payments"), ["inv-1001 125000"]);
    let events = db.strings("SELECT kind FROM events WHERE invoice_id = 'inv-1001' AND kind = 'payment-received'");
    assert_eq!(events.len(), 1);
}
