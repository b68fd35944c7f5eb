//! The never-twice pipeline through the real binary: import, run, history,
//! a SQLite file and the outbox folder.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use serde_json::Value;

use crate::common::*;

/// A folder with its own database, outbox and (optional) config. The
/// database is a SQLite file in the folder, or with
/// `SOLLECITO_TEST_BACKEND=postgres` a PostgreSQL database of its own
/// (what is kept beside it then goes to the folder, `SOLLECITO_DATA_DIR`).
pub struct Site {
    dir: tempfile::TempDir,
    postgres: Option<PostgresDatabase>,
}

impl Site {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let postgres = on_postgres().then(|| {
            let purpose = format!("site_{}", dir.path().file_name().unwrap().to_string_lossy().to_lowercase());
            let purpose: String = purpose.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
            blocking(async move { PostgresDatabase::create(&purpose).await })
        });
        Site { dir, postgres }
    }

    /// The `--db` this site's commands are given.
    pub fn db(&self) -> String {
        match &self.postgres {
            Some(pg) => pg.url.clone(),
            None => self.path("sollecito.db").display().to_string(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The `--db` as `Runtime::open` takes it, for a test that opens the store in-process.
    pub fn db_path(&self) -> PathBuf {
        PathBuf::from(self.db())
    }

    /// The default config, with this site's folder for what a runtime keeps
    /// beside its database (in-process, `SOLLECITO_DATA_DIR` would be the
    /// whole test process's).
    pub fn config(&self) -> sollecito::Config {
        sollecito::Config { data_dir: Some(self.dir.path().to_path_buf()), ..Default::default() }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sollecito"));
        c.arg("--db").arg(self.db());
        if self.path("sollecito.toml").exists() {
            c.arg("--config").arg(self.path("sollecito.toml"));
        }
        c.args(args)
            .env("SOLLECITO_CACHE_DIR", cache_dir())
            .env("SOLLECITO_DATA_DIR", self.dir.path())
            .current_dir(root());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// The `.eml` files in the outbox, by name.
    pub fn emails(&self) -> BTreeSet<String> {
        match std::fs::read_dir(self.path("outbox")) {
            Ok(entries) => {
                entries.map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.ends_with(".eml")).collect()
            }
            Err(_) => BTreeSet::new(),
        }
    }

    pub fn email(&self, name: &str) -> String {
        std::fs::read_to_string(self.path("outbox").join(name)).unwrap()
    }

    /// The plain-text part of an email in the outbox, decoded.
    pub fn email_text(&self, name: &str) -> String {
        let raw = self.email(name);
        let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        message.body_text(0).unwrap().into_owned()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// (step, state, reason) of each outbox row of an invoice.
    pub fn actions(&self, invoice: &str) -> Vec<(String, String, String)> {
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
        // The same run undisturbed tells how long a run lasts on this machine: the kill lands inside it.
        let started = std::time::Instant::now();
        reference.ok(&["run", "--at", tick]);
        let lasts = started.elapsed().as_micros().max(1000) as u64;
        let mut child =
            killed.command(&["run", "--at", tick]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.random_range(0..lasts * 9 / 10)));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        // The restart at the same tick finishes what the killed run left.
        killed.ok(&["run", "--at", tick]);
    }
    eprintln!("{kills} of {} runs killed mid-way", ticks.len());
    assert!(kills >= 10, "only {kills} runs were killed mid-way; the test is not testing much");
    let expected = reference.emails();
    assert!(expected.len() >= 15, "{expected:?}");
    assert_eq!(killed.emails(), expected, "never zero, never twice");
    // The same outcomes; a message a kill left in flight says it was sent again.
    let mut resent = 0;
    for invoice in ["inv-1001", "inv-1002", "inv-1003", "inv-1004", "inv-1005", "inv-1006"] {
        let actions: Vec<_> = killed
            .actions(invoice)
            .into_iter()
            .map(|(step, state, reason)| match reason.as_str() {
                "uncertain after an interruption, resent" => {
                    resent += 1;
                    (step, state, String::new())
                }
                _ => (step, state, reason),
            })
            .collect();
        assert_eq!(actions, reference.actions(invoice), "{invoice}");
    }
    eprintln!("{resent} messages were in flight at a kill and sent again");
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

pub fn customer(id: &str, tz: &str, extra: &str) -> String {
    format!(
        r#"{{"id": "{id}", "name": "Cliente {id}", "email": "{id}@example.com", "locale": "it-IT", "timezone": "{tz}"{extra}}}"#
    )
}

pub fn invoice(id: &str, customer: &str, extra: &str) -> String {
    format!(
        r#"{{"id": "{id}", "number": "N-{id}", "customer": "{customer}", "currency": "EUR", "amount_due": "100.00",
            "issued": "2026-10-01", "due": "2026-10-28", "payment_link": "https://pay.example/{id}"{extra}}}"#
    )
}

#[test]
fn guardrails_hold_whatever_the_policy_says() {
    let site = Site::new();
    // The outsider's policy reminds two days after the due date, whatever else is true.
    site.write("sollecito.toml", &format!("[policies]\ndefault = {:?}\n", sollecito_test_artifacts::OUTSIDER));
    let customers = [
        customer("rome", "Europe/Rome", ""),
        customer("la", "America/Los_Angeles", ""),
        customer("tokyo", "Asia/Tokyo", ""),
        customer("akl", "Pacific/Auckland", ""),
        customer("stopped", "Europe/Rome", r#", "dunning_stop": true"#),
        customer("noemail", "Europe/Rome", r#", "opted_out": ["email"]"#),
    ];
    let invoices = [
        invoice("i-rome", "rome", ""),
        invoice("i-la", "la", ""),
        invoice("i-tokyo", "tokyo", ""),
        invoice("i-akl", "akl", ""),
        invoice("i-dispute", "rome", r#", "dispute_reason": "wrong quantity""#),
        invoice("i-promise", "rome", r#", "promise_to_pay_until": "2026-11-10""#),
        invoice("i-stopped", "stopped", ""),
        invoice("i-optout", "noemail", ""),
    ];
    let file = site.write(
        "data.json",
        &format!(r#"{{"customers": [{}], "invoices": [{}]}}"#, customers.join(","), invoices.join(",")),
    );
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);

    // Tuesday 3 November 09:00 UTC, after both daylight-saving changes: 10:00 in Rome, 18:00 in
    // Tokyo, 01:00 in Los Angeles, 22:00 in Auckland.
    site.ok(&["run", "--at", "2026-11-03T09:00:00Z"]);
    let nudge = |id: &str| format!("{id}.outsider-nudge.eml");
    assert_eq!(site.emails(), BTreeSet::from([nudge("i-rome"), nudge("i-tokyo")]));
    let waiting = |id: &str| site.actions(id)[0].clone();
    assert_eq!(
        waiting("i-la"),
        (
            "outsider-nudge".into(),
            "pending".into(),
            "outside the sending window; waits until 2026-11-03 08:00 (America/Los_Angeles)".into()
        )
    );
    assert_eq!(waiting("i-akl").2, "outside the sending window; waits until 2026-11-04 08:00 (Pacific/Auckland)");
    for (id, reason) in [
        ("i-dispute", "invoice is disputed"),
        ("i-promise", "promise to pay until 2026-11-10"),
        ("i-stopped", "dunning stopped for the customer"),
        ("i-optout", "customer opted out of email"),
    ] {
        assert_eq!(site.actions(id), [("outsider-nudge".into(), "cancelled".into(), reason.into())], "{id}");
    }

    // 08:00 in Los Angeles is 16:00 UTC in winter time; 08:00 in Auckland is 19:00 UTC the day before.
    site.ok(&["run", "--at", "2026-11-03T15:59:00Z"]);
    assert!(!site.emails().contains(&nudge("i-la")));
    site.ok(&["run", "--at", "2026-11-03T16:00:00Z"]);
    assert!(site.emails().contains(&nudge("i-la")));
    assert!(!site.emails().contains(&nudge("i-akl")));
    site.ok(&["run", "--at", "2026-11-03T19:00:00Z"]);
    assert!(site.emails().contains(&nudge("i-akl")));
    assert_eq!(site.emails().len(), 4);
}

#[test]
fn a_bad_import_changes_nothing_and_names_every_bad_line() {
    let site = Site::new();
    site.ok(&["import", &examples("invoices.json"), "--at", "2026-09-20T00:00:00Z"]);
    let before = site.json(&["history", "inv-1001"]);
    let csv = "invoice_id,number,customer_id,name,email,locale,timezone,currency,amount_due,amount_paid,status,issued,due\n\
               i-new,N-1,c-new,Nuovo Cliente,nuovo@example.it,it-IT,Europe/Rome,EUR,10.00,,open,2026-10-01,2026-10-31\n\
               i-bad,N-2,c-bad,Cliente Sbagliato,bad@example.it,it-IT,Europe/Rome,ITL,10.00,,open,2026-10-01,2026-10-31\n\
               i-worse,N-3,c-worse,Peggio,,it-IT,Moon/Base,EUR,-10.00,,open,2026-10-41,2026-10-31\n\
               inv-1001,FT-2026/1001,cus-rossi,Rossi Impianti S.r.l.,amministrazione@rossi-impianti.example,it-IT,Europe/Rome,EUR,1250.00,1250.00,paid,2026-09-01,2026-10-01\n";
    let file = site.write("bad.csv", csv);
    let out = site.run(&["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for expected in [
        "line 3: currency: unknown currency \"ITL\"",
        "line 4: timezone: unknown timezone \"Moon/Base\"",
        "line 4: email: no email, phone or postal address",
        "line 4: amount_due: negative amount \"-10.00\"",
        "line 4: issued: bad date \"2026-10-41\"",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in {err}");
    }
    // Nothing from the file landed: not the good new row, not the update.
    assert_eq!(site.run(&["history", "i-new"]).status.code(), Some(2));
    assert_eq!(site.json(&["history", "inv-1001"]), before);
}

#[test]
fn each_email_parses_and_speaks_the_customers_language() {
    let site = Site::new();
    site.ok(&["import", &examples("invoices.json"), "--at", "2026-09-20T00:00:00Z"]);
    site.ok(&["run", "--at", "2026-10-08T12:00:00Z"]);
    // (file, words of its language, amount as the locale writes it, customer)
    let cases = [
        ("inv-1001.overdue-7.eml", "fattura", "1.250,00", "Rossi Impianti S.r.l."),
        ("inv-1003.overdue-7.eml", "Rechnung", "18.500,00", "Nordwind Logistik GmbH"),
        ("inv-1004.overdue-7.eml", "invoice", "£980.00", "Harbour Studio Ltd"),
    ];
    for (file, word, amount, name) in cases {
        let raw = site.email(file);
        let message = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap_or_else(|| panic!("{file} does not parse"));
        let text = message.body_text(0).unwrap().to_string();
        let html = message.body_html(0).unwrap().to_string();
        assert!(text.to_lowercase().contains(&word.to_lowercase()), "{file}: no {word:?} in {text}");
        for part in [&text, &html] {
            assert!(part.contains(amount), "{file}: no {amount} in {part}");
            assert!(part.contains(name) || part.contains(&name.replace('&', "&amp;")), "{file}: no {name}");
        }
        let invoice = file.split('.').next().unwrap();
        assert!(text.contains(&format!("https://pay.example/{invoice}")), "{file}: no payment link");
        assert_eq!(message.message_id(), Some(format!("{}@sollecito.example", file.trim_end_matches(".eml")).as_str()));
        assert_eq!(message.to().unwrap().first().unwrap().name(), Some(name));
    }
    // Subjects name the invoice.
    for (file, number) in [("inv-1001.overdue-7.eml", "FT-2026/1001"), ("inv-1004.overdue-7.eml", "HS-1004")] {
        let raw = site.email(file);
        let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        assert!(message.subject().unwrap().contains(number), "{file}: {:?}", message.subject());
    }
}

#[test]
fn a_bad_config_or_template_is_refused_at_start_naming_it() {
    let site = Site::new();
    site.ok(&["import", &examples("invoices.json"), "--at", "2026-09-20T00:00:00Z"]);
    site.write("sollecito.toml", "[sending]\ncap_per_wek = 2\n");
    let out = site.run(&["run", "--at", "2026-10-08T12:00:00Z"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("sollecito.toml") && stderr(&out).contains("cap_per_wek"), "{}", stderr(&out));

    // An operator's template with a placeholder the host does not know.
    std::fs::create_dir_all(site.path("my-templates/it")).unwrap();
    site.write("my-templates/it/overdue-soft.j2", "{{ customer_nmae }}");
    site.write("sollecito.toml", "[templates]\ndir = \"my-templates\"\n");
    let out = site.run(&["run", "--at", "2026-10-08T12:00:00Z"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("overdue-soft") && err.contains("customer_nmae"), "{err}");
    assert!(site.emails().is_empty(), "nothing sent");
    assert!(site.actions("inv-1001").is_empty(), "nothing decided");
}

#[test]
fn the_weekly_cap_holds_back_the_fourth_message() {
    let site = Site::new();
    // Separate messages (consolidated, the four reminders would be one message: one contact).
    let config =
        format!("[policies]\ndefault = {:?}\n[sending]\nconsolidate = []\n", sollecito_test_artifacts::OUTSIDER);
    site.write("sollecito.toml", &config);
    let invoices: Vec<String> = (1..=4).map(|i| invoice(&format!("i-{i}"), "rome", "")).collect();
    let file = site.write(
        "data.json",
        &format!(r#"{{"customers": [{}], "invoices": [{}]}}"#, customer("rome", "Europe/Rome", ""), invoices.join(",")),
    );
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    let first = site.json(&["run", "--at", "2026-11-03T09:00:00Z"]);
    assert_eq!((first["sent"].as_u64(), first["deferred_cap"].as_u64()), (Some(3), Some(1)), "{first}");
    let held = site.actions("i-4");
    assert_eq!(held[0].1, "pending");
    assert!(held[0].2.starts_with("3 contacts in 7 days already; waits until 2026-11-10 09:00:00"), "{held:?}");
    // Seven days later the oldest contact has aged out.
    assert_eq!(site.json(&["run", "--at", "2026-11-10T08:59:00Z"])["sent"], 0);
    assert_eq!(site.json(&["run", "--at", "2026-11-10T09:00:00Z"])["sent"], 1);
}
