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
    /// The counter's queue id, also in its `250 OK queued as N`.
    queued_as: u64,
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
                    queued_as: v["queued_as"].as_u64().unwrap_or(0),
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

/// A config sending to `counter` at all hours, with `sending` lines added to `[sending]`.
fn relay_config(counter: &Counter, sending: &str) -> String {
    format!(
        "[email]\nsmtp_url = \"{}\"\n{}",
        counter.url(),
        ALWAYS.replace("[sending]\n", &format!("[sending]\n{sending}"))
    )
}

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
    'kills: while done < kills {
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
                break 'kills;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "a run neither sent nor finished in 120 s");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // A run that failed on its own before its kill is a fault the kill must not hide.
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let failed: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:") || l.contains("panicked at")).collect();
    assert!(failed.is_empty(), "killed runs had failed first: {failed:?}");
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

/// What the relay got, against the invoices that should have reached it.
struct Tally<'a> {
    /// Message-ID -> how many times it was received.
    counts: BTreeMap<String, usize>,
    /// Receptions beyond the first of a Message-ID.
    duplicates: usize,
    /// Invoices no message reached.
    lost: Vec<&'a String>,
    /// The counter's queue ids in its log.
    queued: BTreeSet<u64>,
}

fn tally<'a>(received: &[Received], ids: &'a [String]) -> Tally<'a> {
    let counts = by_message_id(received);
    let duplicates = counts.values().map(|n| n - 1).sum();
    let invoices: BTreeSet<String> = received.iter().map(Received::invoice).collect();
    let lost = ids.iter().filter(|id| !invoices.contains(*id)).collect();
    let queued = received.iter().map(|r| r.queued_as).collect();
    Tally { counts, duplicates, lost, queued }
}

/// Where a message the relay never logged is, read from the store: a crash
/// test tells these apart for every invoice the counter did not see.
#[derive(Debug, PartialEq)]
enum Whereabouts {
    /// Still in flight under a claim no completing run took back: late, not
    /// lost (it goes out when the lease runs out). `lock` is what the holder's
    /// lock file on this machine says: "held", "free" or "absent".
    Late { holder: String, until: i64, lock: &'static str },
    /// Pending: due after the test's tick (a transient failure's backoff, a
    /// setup fault), or due and not sent (`due`), with the worker, if any,
    /// that the store still has its customer leased to, and its lock file.
    Waiting { not_before: i64, due: bool, reason: String, leased_to: Option<(String, &'static str)> },
    /// Recorded as sent, with a receipt the counter never gave: a real loss.
    SentWithoutAcceptance { receipt: String },
    /// Recorded as sent with one of the counter's queue ids that its log lacks: the test's own fault.
    DroppedByCounter { receipt: String },
    /// Anything else (held, cancelled, failed, or no message at all).
    Other(String),
}

/// What the store says of `invoice`'s message (its `history --json`), given
/// its customer's delivery lease, the counter's logged queue ids and the
/// folder of the workers' lock files.
fn whereabouts(
    history: &Value,
    leased_to: Option<String>,
    workers: &std::path::Path,
    queued: &BTreeSet<u64>,
) -> Whereabouts {
    let tick = chrono::DateTime::parse_from_rfc3339(TICK).unwrap().timestamp();
    let empty = vec![];
    let actions = history["actions"].as_array().unwrap_or(&empty);
    let Some(message) = actions.iter().find(|a| a["channel"].as_str().is_some()) else {
        return Whereabouts::Other(format!("no message in the store: {actions:?}"));
    };
    let text = |k: &str| message[k].as_str().unwrap_or_default().to_string();
    let number = |k: &str| message[k].as_i64().unwrap_or_default();
    match text("state").as_str() {
        "in-flight" => {
            let holder = text("claimed_by");
            let lock = lock_file(workers, &holder);
            Whereabouts::Late { holder, until: number("claim_until"), lock }
        }
        "pending" => {
            let not_before = number("not_before");
            let leased_to = leased_to.map(|w| {
                let lock = lock_file(workers, &w);
                (w, lock)
            });
            Whereabouts::Waiting { not_before, due: not_before <= tick, reason: text("reason"), leased_to }
        }
        "sent" => {
            let receipt = text("receipt");
            let id = receipt.rsplit("queued as ").next().and_then(|n| n.trim().parse::<u64>().ok());
            match id {
                None => Whereabouts::SentWithoutAcceptance { receipt },
                Some(id) if queued.contains(&id) => {
                    Whereabouts::Other(format!("sent as {id}, logged under another key"))
                }
                Some(_) => Whereabouts::DroppedByCounter { receipt },
            }
        }
        state => Whereabouts::Other(format!("{state}: {}", text("reason"))),
    }
}

/// What a worker's lock file says: "held" (it lives), "free" (it stopped,
/// nothing taken back yet), "stopped" (taken back, kept) or "absent".
fn lock_file(workers: &std::path::Path, holder: &str) -> &'static str {
    match std::fs::File::open(workers.join(format!("{holder}.lock"))) {
        Err(_) if workers.join(format!("{holder}.stopped")).exists() => "stopped",
        Err(_) => "absent",
        Ok(file) if file.try_lock().is_ok() => "free",
        Ok(_) => "held",
    }
}

impl Tally<'_> {
    /// Where the store at `db` has the invoices not received (the first ten), by
    /// `history` (an invoice's `history --json`) and the lock files in `workers`.
    fn account(
        &self,
        history: impl Fn(&str) -> Value,
        db: &str,
        workers: &std::path::Path,
    ) -> Vec<(String, Whereabouts)> {
        let db = Db::new(db);
        let leased_to = |id: &str| {
            let lease = "SELECT l.worker FROM customer_leases l JOIN invoices i ON i.customer_id = l.customer_id";
            db.strings(&format!("{lease} WHERE i.id = '{}'", id.replace('\'', "''"))).pop()
        };
        let first = self.lost.iter().take(10);
        first.map(|id| (id.to_string(), whereabouts(&history(id), leased_to(id), workers, &self.queued))).collect()
    }

    /// Every invoice reached, and no more received twice than a crash can
    /// leave in flight. `accounted` says where the store has those not reached.
    fn assert_none_lost_and_within_bound(&self, kills: usize, accounted: &[(String, Whereabouts)]) {
        let (lost, duplicates) = (&self.lost, self.duplicates);
        assert!(lost.is_empty(), "{} invoices never received; where the store has them: {accounted:#?}", lost.len());
        assert!(
            duplicates <= CONCURRENCY * kills,
            "{duplicates} messages received twice after {kills} kills: more than {CONCURRENCY} per kill"
        );
    }
}

/// The default concurrency: at most this many adapter calls in flight per channel, so per crash.
const CONCURRENCY: usize = 4;

mod config;
mod crash;
mod service;
mod workers;
