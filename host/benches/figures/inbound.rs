//! Figure: what comes back by email, taken in (issue 30: at least 1,000
//! inbound messages a second parsed, matched and recorded on SQLite).
//!
//! The store is an operator's: customers made from the examples' (new ids,
//! an address each), one invoice each due 2026-10-01, imported, and one real
//! tick on 2026-10-08 at 12:00 UTC sending the first reminders to the outbox
//! folder. Replies to 5,000 of the messages it sent (their ids read back from
//! the `outbox` table) are written as .eml files into one folder: half a
//! person's answer, half an out-of-office (`Auto-Submitted: auto-replied`).
//! Measured: the real binary, `sollecito inbound FOLDER --json`, wall clock,
//! once (the store keeps what it took in). The reference, in the same run:
//! the same files read and each parsed with mail-parser alone, in process.
//! The same folder taken in again (every message a duplicate, found by its
//! digest) is printed beside it: the part of the run that is not the match
//! and the record.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sollecito::config::Config;
use sollecito::intake::{self, Dataset};
use sollecito::{Catalog, Runtime};
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{Row, median};

const REPLIES: usize = 5_000;
/// Customers (one invoice each). One in two gets a reminder at the tick: those
/// in Tokyo and Auckland are outside their sending window at 12:00 UTC, and
/// b2b-standard gives a loyal payer (Bianchi's record) three days more.
const CUSTOMERS: usize = 10_800;
const TICK: &str = "2026-10-08T12:00:00Z";
/// When the replies are taken in.
const TAKEN_IN: &str = "2026-10-08T16:00:00Z";

/// `CUSTOMERS` customers cycling through the examples', each with its own id,
/// address and one invoice (the weekly contact cap is per customer).
fn customers() -> Dataset {
    let (name, text) = intake::EXAMPLES[0];
    let base = intake::parse_dataset(name, text).unwrap();
    let mut data = Dataset { customers: vec![], invoices: vec![], events: vec![] };
    for i in 0..CUSTOMERS {
        let mut customer = base.customers[i % base.customers.len()].clone();
        let mut invoice = base.invoices.iter().find(|inv| inv.customer_id == customer.id).unwrap().clone();
        customer.id = format!("c-{i:05}");
        customer.email = Some(format!("c{i}@example.com"));
        invoice.id = format!("r-{i:05}");
        invoice.number = format!("R-{i:05}");
        invoice.customer_id = customer.id.clone();
        data.customers.push(customer);
        data.invoices.push(invoice);
    }
    data
}

/// A person's answer (even `i`) or an out-of-office (odd `i`) to `answers`, from `from`.
fn reply(i: usize, from: &str, answers: &str) -> String {
    let head = format!(
        "From: {from}\r\nTo: crediti@acme.example\r\nDate: Thu, 08 Oct 2026 17:30:00 +0200\r\n\
         Message-ID: <reply-{i}@customer.example>\r\nIn-Reply-To: <{answers}>\r\nReferences: <{answers}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    );
    if i.is_multiple_of(2) {
        format!(
            "{head}Subject: Re: Fattura R-{i:05}\r\n\r\nBuongiorno,\r\npagheremo entro il 20 ottobre con bonifico.\r\n\r\n\
             Cordiali saluti\r\n\r\n> Gentile cliente, la fattura risulta scaduta.\r\n"
        )
    } else {
        format!(
            "{head}Subject: Automatic reply: Fattura R-{i:05}\r\nAuto-Submitted: auto-replied\r\n\r\n\
             I am out of the office until 19 October, with no access to email.\r\n"
        )
    }
}

async fn pool(db: &Path) -> sqlx::SqlitePool {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display())).unwrap();
    SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap()
}

/// `files` read, and each parsed by mail-parser alone.
fn read_and_parse(files: &[std::path::PathBuf]) {
    let parser = mail_parser::MessageParser::default();
    for file in files {
        let bytes = std::fs::read(file).unwrap();
        let message = parser.parse(&bytes[..]).unwrap();
        std::hint::black_box(message.message_id());
    }
}

pub fn rows(catalog: &mut Catalog, cache: &Path) -> Vec<Row> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // SOLLECITO_BENCH_KEEP=1 keeps the store and the replies, to profile a run by hand.
    let dir = match std::env::var_os("SOLLECITO_BENCH_KEEP") {
        Some(_) => tempfile::TempDir::with_prefix("inbound-kept").unwrap().keep(),
        None => dir.path().to_path_buf(),
    };
    let db = dir.join("inbound.db");
    let config_file = dir.join("sollecito.toml");
    std::fs::write(&config_file, format!("[email]\noutbox_dir = {:?}\n", dir.join("outbox").display().to_string()))
        .unwrap();
    let data = customers();
    let tick: DateTime<Utc> = TICK.parse().unwrap();

    // The store as an operator has it after the first reminders went out.
    let setup = Instant::now();
    let sent: Vec<(String, String)> = rt.block_on(async {
        let runtime = Runtime::open(&db, Config::load(Some(&config_file)).unwrap(), catalog).await.unwrap();
        runtime.store().import(&data, tick - chrono::Duration::days(18)).await.unwrap();
        let report = runtime.tick(tick, false).await.unwrap();
        assert_eq!(report.decided.plugin_errors, 0);
        runtime.store().close().await;
        let pool = pool(&db).await;
        let rows = sqlx::query("SELECT message_id, customer_id FROM outbox WHERE message_id IS NOT NULL ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    });
    println!(
        "inbound: {} customers, {} messages sent by the tick (set up in {:.1} s)",
        data.customers.len(),
        sent.len(),
        setup.elapsed().as_secs_f64()
    );
    assert!(sent.len() >= REPLIES, "{} sent, {REPLIES} wanted", sent.len());

    let emails: HashMap<&str, &str> =
        data.customers.iter().map(|c| (c.id.as_str(), c.email.as_deref().unwrap())).collect();
    let folder = dir.join("replies");
    std::fs::create_dir(&folder).unwrap();
    let mut files = vec![];
    for (i, (message_id, customer_id)) in sent.iter().take(REPLIES).enumerate() {
        let file = folder.join(format!("{i:05}.eml"));
        let id = message_id.trim_start_matches('<').trim_end_matches('>');
        std::fs::write(&file, reply(i, emails[customer_id.as_str()], id)).unwrap();
        files.push(file);
    }

    if std::env::var_os("SOLLECITO_BENCH_KEEP").is_some() {
        std::fs::copy(&db, dir.join("before-inbound.db")).unwrap();
    }
    // The reference: the same files read and parsed, in process.
    read_and_parse(&files);
    let reference = median(5, || read_and_parse(&files));

    let take_in = || {
        let t = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_sollecito"))
            .args(["--db", db.to_str().unwrap(), "--config", config_file.to_str().unwrap()])
            .args(["inbound", folder.to_str().unwrap(), "--at", TAKEN_IN, "--json"])
            .env("SOLLECITO_CACHE_DIR", cache)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        t.elapsed()
    };
    let measured = take_in();
    // What each became, counted in the store.
    let counts: Vec<(String, String, i64)> = rt.block_on(async {
        let pool = pool(&db).await;
        let rows = sqlx::query("SELECT kind, state, COUNT(*) FROM inbound GROUP BY kind, state ORDER BY kind")
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
    });
    let half = (REPLIES / 2) as i64;
    assert_eq!(
        counts,
        vec![("auto-reply".into(), "applied".into(), half), ("reply".into(), "applied".into(), half)],
        "{counts:?}"
    );
    // The same folder again: every message a duplicate, found by its digest.
    let again = take_in();

    let rate = |d: Duration| REPLIES as f64 / d.as_secs_f64();
    println!(
        "inbound: fresh {:.2} s ({:.0}/s), the same 5,000 again as duplicates {:.2} s ({:.0}/s), read and parse alone {:.3} s",
        measured.as_secs_f64(),
        rate(measured),
        again.as_secs_f64(),
        rate(again),
        reference.as_secs_f64()
    );
    vec![Row::shown(Row {
        figure: "take in 5,000 replies (read, classify, match, record with their events) on SQLite".into(),
        wasm: format!("{:.0}/s", rate(measured)),
        reference: format!("{:.0}/s parsing alone", rate(reference)),
        ratio: format!("{:.1}x", measured.as_secs_f64() / reference.as_secs_f64()),
        target: ">= 1,000/s".into(),
    })]
}
