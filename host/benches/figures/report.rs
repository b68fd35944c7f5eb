//! Figure: `sollecito report` over a large store (issue 15: a report over
//! 1,000,000 invoices and their outcomes in under 2 s on SQLite).
//!
//! The store is built through the library (`Store::import` in slices, then a
//! paid event on a share of the invoices through `Store::apply_event`), then
//! the real binary runs `sollecito --db DB report --from .. --to .. --by step
//! --json`, timed whole: process start, plugin catalog, reads, computing, the
//! JSON printed. The reference, in the same run: the same rows read with sqlx
//! alone (SQLite driver, no parsing): the ledger's narrow rows and the
//! outcomes, which a report reading them row by row could not beat. The library's
//! own reads (`Store::aging`, `outcomes`, `customer_labels`,
//! `sent_between`) are timed too, in this process, to say where the time goes.

use std::path::Path;
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sollecito::Store;
use sollecito::event::Event;
use sollecito::intake::Dataset;
use sollecito::invoice::Customer;
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{IMPORT_SLICE, Row, median};

/// Invoices per customer: a million invoices, a hundred thousand customers.
const PER_CUSTOMER: usize = 10;
/// Of every 10 invoices, this many are paid (an outcome each).
const PAID_OF_TEN: usize = 3;
const FROM: &str = "2026-10-01";
const TO: &str = "2026-10-31";

/// The tick's invoices, each `PER_CUSTOMER` of them with a customer of their own
/// (a copy of the example customer they had, under a new id).
fn slice(range: std::ops::Range<usize>) -> Dataset {
    let start = range.start;
    let mut data = super::invoices(range);
    let base: Vec<Customer> = std::mem::take(&mut data.customers);
    for (k, inv) in data.invoices.iter_mut().enumerate() {
        let i = start + k;
        let id = format!("c-{:07}", i / PER_CUSTOMER);
        if i.is_multiple_of(PER_CUSTOMER) || k == 0 {
            let mut c = base.iter().find(|c| c.id == inv.customer_id).unwrap().clone();
            c.id = id.clone();
            data.customers.push(c);
        }
        inv.customer_id = id;
    }
    data
}

fn paid(i: usize) -> bool {
    i % 10 < PAID_OF_TEN
}

/// A new SQLite file with `n` invoices, and a paid outcome on 3 of every 10.
pub(super) fn build(rt: &tokio::runtime::Runtime, db: &Path, n: usize, now: DateTime<Utc>) -> usize {
    rt.block_on(async {
        let store = Store::open(&db.display().to_string()).await.unwrap();
        let t = Instant::now();
        for from in (0..n).step_by(IMPORT_SLICE) {
            let data = slice(from..n.min(from + IMPORT_SLICE));
            store.import(&data, now - chrono::Duration::days(40)).await.unwrap();
        }
        println!("report: imported {n} invoices in {:.1} s", t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut m = 0;
        for i in (0..n).filter(|&i| paid(i)) {
            store
                .apply_event(
                    &format!("b-{i:08}"),
                    &Event::Paid,
                    sollecito::event::Door::Api,
                    now - chrono::Duration::days(10),
                )
                .await
                .unwrap();
            m += 1;
        }
        println!("report: {m} paid events applied in {:.1} s", t.elapsed().as_secs_f64());
        m
    })
}

/// The rows the report reads, read with sqlx's SQLite driver alone: (time, bytes) per table.
fn raw_reads(rt: &tokio::runtime::Runtime, db: &Path, start: i64) -> [(Duration, usize); 2] {
    rt.block_on(async {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display())).unwrap();
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
        let mut parts = [(Duration::ZERO, 0); 2];
        let queries = [
            // The narrow ledger rows the aging is summed over.
            ("SELECT invoice_id, currency, status, total, paid, issued, due FROM ledger", "invoice_id"),
            ("SELECT * FROM outcomes WHERE at >= ? ORDER BY at, id", "path"),
        ];
        for (part, (sql, column)) in parts.iter_mut().zip(queries) {
            let t = Instant::now();
            let query = sqlx::query(sql);
            let query = if sql.contains('?') { query.bind(start) } else { query };
            let rows = query.fetch_all(&pool).await.unwrap();
            let bytes: usize = rows.iter().map(|r| r.try_get::<&str, _>(column).unwrap().len()).sum();
            *part = (t.elapsed(), bytes);
        }
        pool.close().await;
        parts
    })
}

/// The library's own reads of the report, in this process.
fn library_reads(rt: &tokio::runtime::Runtime, db: &Path, start: i64, end: i64) -> [Duration; 4] {
    rt.block_on(async {
        let store = Store::open(&db.display().to_string()).await.unwrap();
        let t = Instant::now();
        let to = chrono::DateTime::from_timestamp(end, 0).unwrap().date_naive();
        let invoices = store.aging(to).await.unwrap().owed.len();
        let receivables = t.elapsed();
        let t = Instant::now();
        let outcomes = store.outcomes(start, i64::MAX).await.unwrap().len();
        let outcomes_t = t.elapsed();
        let t = Instant::now();
        let customers = store.customer_labels().await.unwrap().len();
        let labels = t.elapsed();
        let t = Instant::now();
        let sent = store.sent_between(start, end).await.unwrap().len();
        let sent_t = t.elapsed();
        assert!(invoices > 0 && outcomes > 0 && customers > 0, "{invoices} {outcomes} {customers} {sent}");
        [receivables, outcomes_t, labels, sent_t]
    })
}

pub fn rows(cache: &Path, sizes: &[usize], now: DateTime<Utc>) -> Vec<Row> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let start = format!("{FROM}T00:00:00Z").parse::<DateTime<Utc>>().unwrap().timestamp();
    let end = format!("{TO}T23:59:59Z").parse::<DateTime<Utc>>().unwrap().timestamp();
    let mut rows = vec![];
    for &n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("report.db");
        let m = build(&rt, &db, n, now);
        let bin = env!("CARGO_BIN_EXE_sollecito");
        let run = || {
            let out = Command::new(bin)
                .args(["--db", db.to_str().unwrap(), "report", "--from", FROM, "--to", TO, "--by", "step", "--json"])
                .env("SOLLECITO_CACHE_DIR", cache)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        };
        // Once untimed: the compiled plugins cached, the file in the page cache, the output checked.
        let report: serde_json::Value = serde_json::from_slice(&run()).unwrap();
        assert!(report["receivables"]["buckets"].as_array().is_some_and(|b| !b.is_empty()), "{report}");
        let cli = median(3, || {
            run();
        });
        let mut raw = vec![];
        let reference = median(3, || {
            raw = raw_reads(&rt, &db, start).to_vec();
        });
        let lib = library_reads(&rt, &db, start, end);
        println!(
            "report: {n} invoices: raw reads ledger {:.2} s ({} MB), outcomes {:.2} s; \
             the library's reads aging {:.2} s, outcomes {:.2} s, customer_labels {:.2} s, sent_between {:.2} s",
            raw[0].0.as_secs_f64(),
            raw[0].1 >> 20,
            raw[1].0.as_secs_f64(),
            lib[0].as_secs_f64(),
            lib[1].as_secs_f64(),
            lib[2].as_secs_f64(),
            lib[3].as_secs_f64(),
        );
        rows.push(Row::shown(Row {
            figure: format!(
                "report over {n} invoices and {m} outcomes, {} customers (CLI `report --by step --json`, SQLite)",
                n.div_ceil(PER_CUSTOMER)
            ),
            wasm: format!("{:.2} s", cli.as_secs_f64()),
            reference: format!("raw reads {:.2} s (sqlx alone: ledger, outcomes)", reference.as_secs_f64()),
            ratio: format!("{:.2}x", cli.as_secs_f64() / reference.as_secs_f64()),
            target: "< 2 s".into(),
        }));
    }
    rows
}
