//! Issue 12, "never twice, never late to stop", counted at a real receiver:
//! `tests/fixtures/smtp_counter.py`, an SMTP server in its own process (it
//! outlives a `sollecito` killed with SIGKILL) that logs one JSON line per
//! message it accepts. Each test here fails on a design that sends a whole
//! tick's batch and records the outcomes at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::common::*;
use crate::pipeline::{Site, customer, invoice};
use crate::serve::{Service, TOKEN};

// ---------------------------------------------------------------------------
// The counting SMTP server

/// One message as the counter accepted it.
#[derive(Debug, Clone)]
struct Received {
    message_id: String,
    /// `X-Sollecito-Key`.
    key: String,
    from: String,
    to: Vec<String>,
    mail_from: String,
    /// Unix time (the counter's clock, the same machine's) of MAIL FROM and of the 250 to DATA.
    mail_from_at: f64,
    accepted_at: f64,
}

impl Received {
    /// The invoice id in the key (`INVOICE/STEP`, unusual characters percent-encoded).
    fn invoice(&self) -> String {
        percent_decode(self.key.split('/').next().unwrap_or_default())
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `python3 tests/fixtures/smtp_counter.py` on a loopback port, logging to a file.
pub struct Counter {
    port: u16,
    log: PathBuf,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// Lines counted so far and where the count stopped in the file.
    tail: (u64, usize),
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Counter {
    pub fn start(args: &[&str]) -> Self {
        Self::start_on(free_port(), args)
    }

    fn start_on(port: u16, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("received.jsonl");
        std::fs::write(&log, "").unwrap();
        let mut counter = Counter { port, log, child: None, dir, tail: (0, 0) };
        counter.spawn(args);
        counter
    }

    fn spawn(&mut self, args: &[&str]) {
        let script = root().join("tests/fixtures/smtp_counter.py");
        let stderr = File::options().create(true).append(true).open(self.dir.path().join("stderr.txt")).unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", &self.port.to_string(), "--log"])
            .arg(&self.log)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("python3 with aiosmtpd (test.sh installs it)");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(
            first.starts_with("ready"),
            "smtp_counter.py did not start: {first:?} {}",
            std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
        );
        self.child = Some(child);
    }

    /// Stops the server (SIGKILL) and starts it again on the same port and log.
    fn restart(&mut self, args: &[&str]) {
        self.stop();
        self.spawn(args);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Lines logged so far: cheap enough to poll every few milliseconds (reads only what is new).
    fn lines(&mut self) -> usize {
        let mut f = File::open(&self.log).unwrap();
        f.seek(SeekFrom::Start(self.tail.0)).unwrap();
        let mut new = vec![];
        f.read_to_end(&mut new).unwrap();
        if let Some(last) = new.iter().rposition(|&b| b == b'\n') {
            self.tail.1 += new[..=last].iter().filter(|&&b| b == b'\n').count();
            self.tail.0 += last as u64 + 1;
        }
        self.tail.1
    }

    /// Every message accepted, in order.
    fn received(&self) -> Vec<Received> {
        let text = std::fs::read_to_string(&self.log).unwrap();
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        complete
            .lines()
            .map(|line| {
                let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                Received {
                    message_id: s("message_id"),
                    key: s("key"),
                    from: s("from"),
                    to: v["to"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect(),
                    mail_from: s("mail_from"),
                    mail_from_at: v["mail_from_at"].as_f64().unwrap_or(0.0),
                    accepted_at: v["accepted_at"].as_f64().unwrap_or(0.0),
                }
            })
            .collect()
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------
// Helpers

/// xorshift64*: a seeded, dependency-free RNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi` (the bias is negligible for small ranges).
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Sends every day, all day, so any `--at` is inside the window; a cap that never binds.
const ALWAYS: &str = "[sending]\ncap_per_week = 1000\n[sending.windows.default]\n\
                      days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\nfrom = \"00:00\"\nto = \"23:59\"\n";

/// Imported before the first reminder (pipeline.rs's invoices are due 2026-10-28).
const IMPORTED: &str = "2026-10-20T00:00:00Z";
/// Thursday 5 November 2026, 12:00 UTC: eight days overdue, b2b-standard's `overdue-7`.
const TICK: &str = "2026-11-05T12:00:00Z";
/// A day later: any retry backoff has passed, no new step is due yet.
const NEXT_DAY: &str = "2026-11-06T12:00:00Z";

/// `n` customers with one invoice each (so no two reminders are consolidated), ids in delivery order.
fn one_invoice_each(site: &Site, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("d-{i:05}")).collect();
    write_invoices(site, &ids);
    ids
}

/// One customer per invoice id, the customer named after its position
/// (`c-00000`, ...). The invoices are due on pipeline.rs's fixed dates and
/// imported at `IMPORTED`, or with `due_days_ago`, due that many days before today.
fn write_invoices_due(site: &Site, ids: &[String], due_days_ago: Option<u64>) {
    let today = chrono::Utc::now().date_naive();
    let customers: Vec<String> = (0..ids.len()).map(|i| customer(&format!("c-{i:05}"), "Europe/Rome", "")).collect();
    let invoices: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let invoice = invoice(id, &format!("c-{i:05}"), "");
            match due_days_ago {
                Some(days) => invoice
                    .replace("2026-10-28", &(today - chrono::Days::new(days)).to_string())
                    .replace("2026-10-01", &(today - chrono::Days::new(days + 30)).to_string()),
                None => invoice,
            }
        })
        .collect();
    let file = site.write(
        "data.json",
        &format!(r#"{{"customers": [{}], "invoices": [{}]}}"#, customers.join(",\n"), invoices.join(",\n")),
    );
    match due_days_ago {
        Some(_) => site.ok(&["import", file.to_str().unwrap()]),
        None => site.ok(&["import", file.to_str().unwrap(), "--at", IMPORTED]),
    };
}

fn write_invoices(site: &Site, ids: &[String]) {
    write_invoices_due(site, ids, None);
}

/// Repeats `run --at at` until a run sends nothing and leaves nothing to retry; returns the runs' reports.
fn run_to_completion(site: &Site, at: &str) -> Vec<Value> {
    let mut reports = vec![];
    for _ in 0..10 {
        let r = site.json(&["run", "--at", at]);
        let n = |k: &str| r[k].as_u64().unwrap_or(0);
        let idle = n("sent") == 0 && n("retry_later") == 0 && n("deferred_tick") == 0;
        reports.push(r);
        if idle {
            return reports;
        }
    }
    panic!("ten runs at {at} and still sending: {reports:?}");
}

/// `history INVOICE` as text and as JSON, lower-cased: where a phrase is looked for.
fn history_text(site: &Site, invoice: &str) -> String {
    let text = site.ok(&["history", invoice]);
    let json = site.ok(&["history", invoice, "--json"]);
    format!("{text}\n{json}").to_lowercase()
}

/// Runs `run --at at` again and again, each killed with SIGKILL once the counter
/// has logged a random 1..=`max_gap` more messages since that run started, until
/// `kills` kills (or until a run finishes on its own: nothing was left). Returns the kills.
fn kill_repeatedly(site: &Site, counter: &mut Counter, at: &str, kills: usize, max_gap: usize, seed: u64) -> usize {
    let mut rng = Rng(seed);
    let mut done = 0;
    let stderr_path = site.path("killed-runs.stderr");
    while done < kills {
        let before = counter.lines();
        let target = before + rng.range(1, max_gap);
        let stderr = File::options().create(true).append(true).open(&stderr_path).unwrap();
        let mut child = site.command(&["run", "--at", at]).stdout(Stdio::null()).stderr(stderr).spawn().unwrap();
        let started = Instant::now();
        loop {
            if counter.lines() >= target {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                done += 1;
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                assert!(status.success(), "a run failed: {status}\n{err}");
                eprintln!("  a run finished on its own after {done} kills ({} messages logged)", counter.lines());
                return done;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "a run neither sent nor finished in 120 s");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    done
}

/// Message-ID -> how many times it was received.
fn by_message_id(received: &[Received]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in received {
        *counts.entry(r.message_id.clone()).or_insert(0) += 1;
    }
    counts
}

// ---------------------------------------------------------------------------
// a. Crash test, resend

/// The default concurrency: at most this many adapter calls in flight per channel, so per crash.
const CONCURRENCY: usize = 4;

#[test]
fn killed_thirty_times_mid_delivery_each_crash_resends_at_most_four() {
    let started = Instant::now();
    let mut counter = Counter::start(&[]);
    let site = Site::new();
    site.write("sollecito.toml", &format!("[email]\nsmtp_url = \"{}\"\n{ALWAYS}", counter.url()));
    let ids = one_invoice_each(&site, 3000);

    let kills = kill_repeatedly(&site, &mut counter, TICK, 40, 80, 0x5eed_0012);
    let in_crashes = counter.lines();
    let reports = run_to_completion(&site, TICK);
    let resent: u64 = reports.iter().map(|r| r["uncertain_resent"].as_u64().unwrap_or(0)).sum();

    let received = counter.received();
    let counts = by_message_id(&received);
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    let twice: Vec<&String> = counts.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id).collect();
    let invoices: BTreeSet<String> = received.iter().map(Received::invoice).collect();
    let lost: Vec<&String> = ids.iter().filter(|id| !invoices.contains(*id)).collect();
    eprintln!(
        "resend: {} invoices, {kills} kills, {in_crashes} messages logged during the killed runs, {} in all; \
         {} distinct Message-IDs, {duplicates} received twice ({:.2} per kill, the bound is {CONCURRENCY}), \
         {} lost; the completing runs reported {resent} uncertain resent; {:.1} s",
        ids.len(),
        received.len(),
        counts.len(),
        duplicates as f64 / kills.max(1) as f64,
        lost.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= 30, "only {kills} kills landed mid-delivery; the test is not testing much");
    assert!(lost.is_empty(), "{} invoices never received, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    assert!(
        duplicates <= CONCURRENCY * kills,
        "{duplicates} messages received twice after {kills} kills: more than {CONCURRENCY} per kill"
    );
    // A resend keeps its Message-ID: one Message-ID per key, one key per Message-ID.
    let mut ids_of_key: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &received {
        ids_of_key.entry(&r.key).or_default().insert(&r.message_id);
    }
    assert_eq!(ids_of_key.len(), counts.len(), "a key under two Message-IDs or the reverse");
    assert!(ids_of_key.values().all(|s| s.len() == 1));
    // What was received twice says so in its history.
    for id in twice.iter().take(8) {
        let r = received.iter().find(|r| &&r.message_id == id).unwrap();
        let history = history_text(&site, &r.invoice());
        assert!(history.contains("uncertain after an interruption, resent"), "{}: {history}", r.invoice());
    }
}

// ---------------------------------------------------------------------------
// b. Crash test, hold

#[test]
fn killed_thirty_times_with_uncertain_hold_nothing_is_received_twice_or_lost() {
    let started = Instant::now();
    let mut counter = Counter::start(&[]);
    let site = Site::new();
    site.write(
        "sollecito.toml",
        // `uncertain` goes in [sending], before its windows table.
        &format!(
            "[email]\nsmtp_url = \"{}\"\n{}",
            counter.url(),
            ALWAYS.replace("[sending]\n", "[sending]\nuncertain = \"hold\"\n")
        ),
    );
    let ids = one_invoice_each(&site, 1200);

    let kills = kill_repeatedly(&site, &mut counter, TICK, 30, 60, 0x401d_0012);
    let reports = run_to_completion(&site, TICK);
    let held_reported: u64 = reports.iter().map(|r| r["uncertain_held"].as_u64().unwrap_or(0)).sum();

    let received = counter.received();
    let counts = by_message_id(&received);
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    let invoices: BTreeSet<String> = received.iter().map(Received::invoice).collect();
    let not_received: Vec<&String> = ids.iter().filter(|id| !invoices.contains(*id)).collect();
    let tasks = site.json(&["tasks"]);
    let tasked: BTreeSet<String> =
        tasks.as_array().unwrap().iter().map(|t| t["invoice_id"].as_str().unwrap_or_default().to_string()).collect();
    eprintln!(
        "hold: {} invoices, {kills} kills, {} messages received, {duplicates} twice, {} not received, \
         {} tasks, {held_reported} held by the completing runs; {:.1} s",
        ids.len(),
        received.len(),
        not_received.len(),
        tasked.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= 30, "only {kills} kills landed mid-delivery");
    assert_eq!(duplicates, 0, "with uncertain = \"hold\", nothing is sent twice");
    // Whatever was not received is held, in its history and as a task for a person.
    for id in &not_received {
        let history = site.json(&["history", id]);
        let states: Vec<&str> =
            history["actions"].as_array().unwrap().iter().map(|a| a["state"].as_str().unwrap_or_default()).collect();
        assert!(states.contains(&"held"), "{id} neither received nor held: {history}");
        assert!(history_text(&site, id).contains("held"), "{id}");
        assert!(tasked.contains(*id), "{id} is held but no task was opened: {tasks}");
    }
    assert!(!not_received.is_empty() || !tasked.is_empty(), "30 kills and nothing was ever uncertain?");
    assert!(tasked.len() <= CONCURRENCY * kills, "{} held after {kills} kills", tasked.len());
}

// ---------------------------------------------------------------------------
// c. Payment during delivery

/// `serve` with exactly this config, besides its tick and admin token.
fn serve(site: &Site, config: &str) -> Service {
    site.write("sollecito.toml", &format!("[serve]\ntick_seconds = 1\n[secrets]\nadmin_token = \"{TOKEN}\"\n{config}"));
    Service::launch(site, free_port())
}

#[test]
fn an_invoice_paid_during_delivery_gets_no_reminder_after_the_payment() {
    let started = Instant::now();
    // A slow relay: 25 ms a message, about 160 a second at four connections.
    let mut counter = Counter::start(&["--delay-ms", "25"]);
    let site = Site::new();
    let n = 600;
    // Due ten days ago, whenever the test runs: b2b-standard's overdue-7 is due at once for each.
    let ids = overdue_today(&site, n);
    let svc = serve(&site, &format!("[email]\nsmtp_url = \"{}\"\n{ALWAYS}", counter.url()));

    let wait_until = Instant::now() + Duration::from_secs(60);
    while counter.lines() < 100 {
        assert!(Instant::now() < wait_until, "fewer than 100 messages in 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Fifty invoices not reminded yet, just ahead of delivery (it goes customer by customer,
    // in id order): every third of the waiting ones, after the next twenty.
    let reminded: BTreeSet<String> = counter.received().iter().map(Received::invoice).collect();
    let waiting: Vec<&String> = ids.iter().filter(|id| !reminded.contains(*id)).collect();
    let chosen: Vec<String> = waiting.iter().skip(20).step_by(3).take(50).map(|s| s.to_string()).collect();
    assert_eq!(chosen.len(), 50);
    let received_at_payment = counter.lines();
    let mut paid_at: BTreeMap<String, f64> = BTreeMap::new();
    for id in &chosen {
        svc.admin("POST", &format!("/v1/invoices/{id}/events"), r#"{"type": "paid"}"#);
        paid_at.insert(id.clone(), unix_now());
    }
    let payments_took = paid_at.values().last().unwrap() - paid_at.values().next().unwrap();
    let received_after_payments = counter.lines();

    // Everything else arrives.
    let unpaid: BTreeSet<&String> = ids.iter().filter(|id| !paid_at.contains_key(*id)).collect();
    let wait_until = Instant::now() + Duration::from_secs(90);
    loop {
        let got: BTreeSet<String> = counter.received().iter().map(Received::invoice).collect();
        if unpaid.iter().all(|id| got.contains(*id)) {
            break;
        }
        assert!(Instant::now() < wait_until, "not every unpaid invoice was reminded within 90 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    svc.terminate();

    let received = counter.received();
    let mut late = vec![];
    let mut reminded_paid = BTreeSet::new();
    for r in &received {
        if let Some(paid) = paid_at.get(&r.invoice()) {
            reminded_paid.insert(r.invoice());
            if r.mail_from_at > paid + 0.2 {
                late.push(format!(
                    "{}: MAIL FROM {:.3} s after the payment returned",
                    r.invoice(),
                    r.mail_from_at - paid
                ));
            }
        }
    }
    let duplicates: usize = by_message_id(&received).values().map(|n| n - 1).sum();
    let span = received.last().unwrap().accepted_at - received[0].mail_from_at;
    eprintln!(
        "payment: {} messages received when the payments began, {} when the 50 payments had returned ({:.2} s); \
         {} of the 50 paid invoices were reminded (all before their payment: {}), {} messages in all \
         ({:.0} a second), {duplicates} twice; {:.1} s",
        received_at_payment,
        received_after_payments,
        payments_took,
        reminded_paid.len(),
        late.is_empty(),
        received.len(),
        received.len() as f64 / span,
        started.elapsed().as_secs_f64()
    );
    assert!(
        late.is_empty(),
        "{} reminded after the payment was recorded: {:?}",
        late.len(),
        &late[..late.len().min(5)]
    );
    assert!(
        reminded_paid.len() <= 10,
        "{} of the 50 paid invoices were reminded: {reminded_paid:?}",
        reminded_paid.len()
    );
    assert_eq!(duplicates, 0);
    for id in chosen.iter().filter(|id| !reminded_paid.contains(*id)) {
        let actions = site.actions(id);
        assert!(actions.iter().all(|a| a.1 != "sent" && a.1 != "pending"), "{id}: {actions:?}");
    }
}

// ---------------------------------------------------------------------------
// d. The README's config example

/// The ```toml block under "## Config" in README.md.
fn readme_config() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme.find("## Config").expect("a Config section")..];
    let start = section.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = section[start..].find("```").unwrap();
    section[start..start + end].to_string()
}

/// The value of `key = "..."` in `[table]` of a TOML text (the README's layout: one key a line).
fn toml_line<'a>(toml: &'a str, table: &str, key: &str) -> Option<(usize, &'a str)> {
    let mut current = "";
    for (n, line) in toml.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.split(']').next().unwrap().trim_start_matches('[');
        } else if current == table
            && let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            let value = rest.split('"').nth(1)?;
            return Some((n, value));
        }
    }
    None
}

/// `Name <addr>` or `"Name" <addr>` or `addr` -> (name, addr).
fn mailbox(text: &str) -> (String, String) {
    match text.rsplit_once('<') {
        Some((name, addr)) => {
            (name.trim().trim_matches('"').to_string(), addr.trim_end().trim_end_matches('>').trim().to_string())
        }
        None => (String::new(), text.trim().to_string()),
    }
}

#[test]
fn the_readme_config_example_works_as_written() {
    let started = Instant::now();
    let counter = Counter::start(&[]);
    let site = Site::new();
    let mut toml = readme_config();
    // Only the relays are pointed at the local counter (no credentials, so no STARTTLS needed).
    for table in ["email", "channels.pec"] {
        let (n, _) = toml_line(&toml, table, "smtp_url").unwrap_or_else(|| panic!("[{table}] smtp_url in README"));
        let mut lines: Vec<String> = toml.lines().map(String::from).collect();
        lines[n] = format!("smtp_url = \"{}\"", counter.url());
        toml = lines.join("\n") + "\n";
    }
    let (_, from) = toml_line(&toml, "email", "from").expect("[email] from in README");
    let (name, address) = mailbox(from);
    assert!(!name.is_empty() && address.contains('@'), "{from:?}");
    site.write("sollecito.toml", &toml);

    // What it references: the templates folder (empty: the built-in templates stay), the
    // per-customer policy, the secrets' environment variables.
    let (_, templates) = toml_line(&toml, "templates", "dir").unwrap();
    std::fs::create_dir_all(site.path(templates)).unwrap();
    let (_, override_path) = toml_line(&toml, "policies.customers", "\"cus-verdi\"").unwrap();
    let policy = site.path(override_path);
    std::fs::create_dir_all(policy.parent().unwrap()).unwrap();
    std::fs::copy(sollecito_test_artifacts::OUTSIDER, &policy).unwrap();
    let env: Vec<(String, String)> = toml
        .split("env:")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .map(|var| (var.clone(), format!("test-value-of-{var}")))
        .collect();
    assert!(env.len() >= 4, "{env:?}");
    let run = |args: &[&str]| {
        let out = site.command(args).envs(env.iter().map(|(k, v)| (k, v))).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };

    // Rossi on the default policy (b2b-standard), Verdi on the outsider's policy by override.
    let data = format!(
        r#"{{"customers": [{}, {}], "invoices": [{}, {}]}}"#,
        customer("cus-rossi", "Europe/Rome", ""),
        customer("cus-verdi", "Europe/Rome", ""),
        invoice("i-rossi", "cus-rossi", ""),
        invoice("i-verdi", "cus-verdi", "")
    );
    let file = site.write("data.json", &data);
    run(&["import", file.to_str().unwrap(), "--at", IMPORTED]);
    // Thursday 11:00 in Rome: inside the README's window (mon-fri, 08:00-19:00).
    let report: Value = serde_json::from_str(&run(&["run", "--at", "2026-11-05T10:00:00Z", "--json"])).unwrap();

    let received = counter.received();
    eprintln!(
        "README config: run {report}; received {:?}; {:.1} s",
        received.iter().map(|r| (&r.key, &r.from)).collect::<Vec<_>>(),
        started.elapsed().as_secs_f64()
    );
    let keys: BTreeSet<&str> = received.iter().map(|r| r.key.as_str()).collect();
    assert!(keys.contains("i-rossi/overdue-7"), "{keys:?} {}", run(&["history", "i-rossi"]));
    assert!(keys.contains("i-verdi/outsider-nudge"), "the per-customer policy: {keys:?}");
    for r in &received {
        assert_eq!(mailbox(&r.from), (name.clone(), address.clone()), "From: {}", r.from);
        assert_eq!(r.mail_from, address, "the envelope sender");
        assert_eq!(r.to, vec![format!("{}@example.com", r.invoice().replace("i-", "cus-"))]);
    }
}

// ---------------------------------------------------------------------------
// e. Setup faults

/// Three overdue invoices, a relay at `url` and a From the relay may refuse.
fn faulty_site(url: &str) -> (Site, Vec<String>) {
    let site = Site::new();
    site.write(
        "sollecito.toml",
        &format!("[email]\nsmtp_url = \"{url}\"\nfrom = \"Crediti <crediti@acme.example>\"\n{ALWAYS}"),
    );
    let ids = one_invoice_each(&site, 3);
    (site, ids)
}

/// After a run that could not hand anything over: every step still pending, none failed.
fn assert_all_pending(site: &Site, ids: &[String], report: &Value, what: &str) {
    assert_eq!(report["sent"], 0, "{what}: {report}");
    assert_eq!(report["failed"].as_u64().unwrap_or(0), 0, "{what}: an operator's fault fails no step: {report}");
    for id in ids {
        let actions = site.actions(id);
        assert!(!actions.is_empty(), "{what}: {id} has no step");
        for (step, state, reason) in &actions {
            assert_eq!(state, "pending", "{what}: {id} {step} is {state} ({reason})");
        }
    }
}

#[test]
fn a_refused_sender_or_a_relay_down_leaves_the_steps_pending_until_the_relay_works() {
    let started = Instant::now();
    // The relay refuses the configured From at MAIL FROM.
    let mut counter = Counter::start(&["--refuse-from", "crediti@acme.example"]);
    let (site, ids) = faulty_site(&counter.url());
    let refused = site.json(&["run", "--at", TICK]);
    eprintln!("refused sender: {refused}");
    assert!(counter.received().is_empty());
    assert_all_pending(&site, &ids, &refused, "sender refused");
    // The operator fixes the relay; a day later the steps go.
    counter.restart(&[]);
    let fixed = site.json(&["run", "--at", NEXT_DAY]);
    let got: BTreeSet<String> = counter.received().iter().map(Received::invoice).collect();
    assert_eq!(got, ids.iter().cloned().collect(), "{fixed}");
    assert_eq!(counter.received().len(), ids.len());

    // Nothing listens on the relay's port.
    let port = free_port();
    let (site, ids) = faulty_site(&format!("smtp://127.0.0.1:{port}"));
    let down = site.json(&["run", "--at", TICK]);
    eprintln!("relay down: {down}");
    assert_all_pending(&site, &ids, &down, "relay down");
    let counter = Counter::start_on(port, &[]);
    let up = site.json(&["run", "--at", NEXT_DAY]);
    let got: BTreeSet<String> = counter.received().iter().map(Received::invoice).collect();
    assert_eq!(got, ids.iter().cloned().collect(), "{up}");
    assert_eq!(counter.received().len(), ids.len());
    eprintln!("setup faults: {:.1} s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------
// f. No collisions

/// Ids that an encoding folding punctuation or non-ASCII letters would confuse, and an ordinary one.
const LOOKALIKES: [&str; 7] = ["mid.X", "mid/X", "mid_X", "mid-X", "mïd", "mid", "inv-1001"];

#[test]
fn invoice_ids_differing_in_punctuation_or_accents_get_distinct_message_ids_and_files() {
    let ids: Vec<String> = LOOKALIKES.iter().map(|s| s.to_string()).collect();

    // Through a real SMTP server.
    let counter = Counter::start(&[]);
    let site = Site::new();
    site.write("sollecito.toml", &format!("[email]\nsmtp_url = \"{}\"\n{ALWAYS}", counter.url()));
    write_invoices(&site, &ids);
    let report = site.json(&["run", "--at", TICK]);
    let received = counter.received();
    let message_ids: BTreeSet<&str> = received.iter().map(|r| r.message_id.as_str()).collect();
    let keys: BTreeSet<&str> = received.iter().map(|r| r.key.as_str()).collect();
    let invoices: BTreeSet<String> = received.iter().map(Received::invoice).collect();
    eprintln!("lookalikes by SMTP: {message_ids:?} {keys:?}");
    assert_eq!(received.len(), ids.len(), "{report}");
    assert_eq!(message_ids.len(), ids.len(), "distinct Message-IDs: {message_ids:?}");
    assert_eq!(invoices, ids.iter().cloned().collect(), "each key names its invoice: {keys:?}");
    assert!(message_ids.contains("<inv-1001.overdue-7@sollecito.example>"), "{message_ids:?}");
    assert!(keys.contains("inv-1001/overdue-7"), "{keys:?}");

    // Into the outbox folder.
    let site = Site::new();
    site.write("sollecito.toml", ALWAYS);
    write_invoices(&site, &ids);
    let report = site.json(&["run", "--at", TICK]);
    let files = site.emails();
    eprintln!("lookalikes in the outbox: {files:?}");
    assert_eq!(files.len(), ids.len(), "distinct .eml files: {files:?} {report}");
    assert!(files.contains("inv-1001.overdue-7.eml"), "{files:?}");
    let mut file_ids = BTreeSet::new();
    for f in &files {
        let raw = site.email(f);
        let m = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        file_ids.insert(m.message_id().unwrap().to_string());
    }
    assert_eq!(file_ids.len(), ids.len());
    let smtp_ids: BTreeSet<String> =
        message_ids.iter().map(|id| id.trim_matches(|c| c == '<' || c == '>').to_string()).collect();
    assert_eq!(file_ids, smtp_ids, "the same Message-IDs either way");
}

// ---------------------------------------------------------------------------
// g. SIGTERM during delivery

// POSIX kill(2), from the C library std links anyway (libc is not a dependency of the tests):
// the signal leaves within microseconds of the time taken just before it.
unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGTERM: i32 = 15;

/// `n` customers with one invoice each, due ten days before today (imported now, as `serve` ticks
/// at the wall clock): b2b-standard's overdue-7 is due at once for each. Ids in delivery order.
fn overdue_today(site: &Site, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("d-{i:05}")).collect();
    write_invoices_due(site, &ids, Some(10));
    ids
}

#[test]
fn serve_on_sigterm_waits_for_the_messages_in_flight_and_sends_no_more() {
    let started = Instant::now();
    // A slow relay: 200 ms a message, about 20 a second at four connections.
    let mut counter = Counter::start(&["--delay-ms", "200"]);
    let site = Site::new();
    let n = 600;
    let ids = overdue_today(&site, n);
    let config = format!(
        "[email]\nsmtp_url = \"{}\"\n{}",
        counter.url(),
        ALWAYS.replace("[sending]\n", &format!("[sending]\nconcurrency = {CONCURRENCY}\n"))
    );
    let mut svc = serve(&site, &config);

    let wait_until = Instant::now() + Duration::from_secs(60);
    while counter.lines() < 20 {
        assert!(Instant::now() < wait_until, "fewer than 20 messages in 60 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The four connections go in step (200 ms each, started together): signal halfway through
    // one round, so no call ends, and frees its slot, while the signal is on its way.
    let last_accepted = counter.received().iter().map(|r| r.accepted_at).fold(0.0, f64::max);
    std::thread::sleep(Duration::from_secs_f64((last_accepted + 0.1 - unix_now()).max(0.0)));
    let pid = svc.child.id() as i32;
    let signalled_at = unix_now();
    assert_eq!(unsafe { kill(pid, SIGTERM) }, 0, "kill({pid}, SIGTERM)");
    let status = loop {
        if let Some(status) = svc.child.try_wait().unwrap() {
            break status;
        }
        assert!(unix_now() - signalled_at < 30.0, "serve did not stop within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    let stopped_after = unix_now() - signalled_at;
    drop(svc);

    // At the receiver: what was handed over before the signal, and at most the calls then in flight.
    let received = counter.received();
    let before = received.iter().filter(|r| r.accepted_at <= signalled_at).count();
    let after: Vec<&Received> = received.iter().filter(|r| r.accepted_at > signalled_at).collect();
    let begun_after: Vec<&Received> = received.iter().filter(|r| r.mail_from_at > signalled_at).collect();
    let got: BTreeSet<String> = received.iter().map(Received::invoice).collect();
    let duplicates: usize = by_message_id(&received).values().map(|n| n - 1).sum();

    // In the store: the received ones sent, the rest pending (a sample; the whole through a dry run).
    // The sample has every invoice up to 72 past the last received: the host works on 64 customers
    // side by side, so a message claimed and left in flight would be among them.
    let last = ids.iter().rposition(|id| got.contains(id)).unwrap_or(0);
    let sample: Vec<&String> = ids
        .iter()
        .enumerate()
        .filter(|(i, id)| got.contains(*id) || *i <= last + 72 || i % 20 == 0)
        .map(|(_, id)| id)
        .collect();
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong = vec![];
    for id in &sample {
        let actions = site.actions(id);
        let keys: BTreeSet<String> = received
            .iter()
            .filter(|r| &r.invoice() == *id)
            .map(|r| r.key.rsplit('/').next().unwrap().to_string())
            .collect();
        for (step, state, reason) in &actions {
            *states.entry(state.clone()).or_insert(0) += 1;
            let expected = if keys.contains(step) { "sent" } else { "pending" };
            if state != expected {
                wrong.push(format!("{id} {step}: {state} ({reason}), expected {expected}"));
            }
        }
        if actions.is_empty() {
            wrong.push(format!("{id}: no step"));
        }
    }
    let now = chrono::Utc::now().to_rfc3339();
    let dry = site.json(&["run", "--at", &now, "--dry-run"]);
    eprintln!(
        "sigterm: {} received when signalled, {} accepted after the signal ({} begun after it); serve stopped \
         {stopped_after:.2} s after SIGTERM with {status}; {duplicates} twice; {} invoices sampled in the store: \
         {states:?}; a dry run would send {}; after the signal (key, MAIL FROM, accepted, in s): {:?}",
        before,
        after.len(),
        begun_after.len(),
        sample.len(),
        dry["sent"],
        after
            .iter()
            .map(|r| (&r.key, (r.mail_from_at - signalled_at) as f32, (r.accepted_at - signalled_at) as f32))
            .collect::<Vec<_>>()
    );
    assert!(status.success(), "serve did not exit cleanly on SIGTERM: {status}");
    assert!(
        after.len() <= CONCURRENCY,
        "{} messages received after SIGTERM, more than the {CONCURRENCY} in flight: {:?}",
        after.len(),
        after.iter().map(|r| (&r.key, r.mail_from_at - signalled_at, r.accepted_at - signalled_at)).collect::<Vec<_>>()
    );
    assert!(
        begun_after.len() <= CONCURRENCY,
        "{:?}",
        begun_after.iter().map(|r| (&r.key, r.mail_from_at - signalled_at)).collect::<Vec<_>>()
    );
    assert_eq!(duplicates, 0);
    assert!(wrong.is_empty(), "{} rows not as received: {:?}", wrong.len(), &wrong[..wrong.len().min(10)]);
    assert!(received.len() < n / 2, "{} of {n} sent: the tick was not stopped", received.len());
    assert_eq!(dry["sent"].as_u64(), Some((n - received.len()) as u64), "every other message still pending: {dry}");

    // A run after the stop (a fast relay now) sends the rest, each once, nothing uncertain.
    counter.restart(&[]);
    let reports = run_to_completion(&site, &now);
    let sum = |k: &str| reports.iter().map(|r| r[k].as_u64().unwrap_or(0)).sum::<u64>();
    let received = counter.received();
    let counts = by_message_id(&received);
    let twice: Vec<&String> = counts.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id).collect();
    let got: BTreeSet<String> = received.iter().map(Received::invoice).collect();
    let missing: Vec<&String> = ids.iter().filter(|id| !got.contains(*id)).collect();
    eprintln!(
        "sigterm: the following runs sent {} ({} uncertain resent, {} held, {} cancelled, {} failed); {} received \
         in all, {} twice, {} missing; {:.1} s",
        sum("sent"),
        sum("uncertain_resent"),
        sum("uncertain_held"),
        sum("cancelled"),
        sum("failed"),
        received.len(),
        twice.len(),
        missing.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(twice.is_empty(), "received twice: {twice:?}");
    assert!(missing.is_empty(), "{} never received, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert_eq!(sum("uncertain_resent") + sum("uncertain_held"), 0, "serve left messages in flight: {reports:?}");
    assert_eq!(sum("sent") as usize, n - before - after.len());
}
