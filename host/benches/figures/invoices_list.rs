//! Figure: the dashboard's invoices list at 100,000 invoices (issue 16: it
//! answers in under 300 ms).
//!
//! The store is the report figure's (built through the library: imports, then
//! paid events on 3 of every 10 invoices). The real binary serves it
//! (`sollecito serve`, reads open); each page is fetched over HTTP and timed
//! whole: the request, the keyset query, the template, the response read. The
//! reference, in the same run: the first page's query run with sqlx alone.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{Row, median};

const INVOICES: usize = 100_000;
/// The pages an operator opens: the first, filtered ones, one deep in the
/// list, and a filter no invoice passes (the whole ledger is read for it).
const PAGES: [(&str, &str, bool); 5] = [
    ("first page", "/ui/invoices", true),
    ("paid, at least 1,000", "/ui/invoices?state=paid&min=1000", true),
    ("open, 100 to 5,000", "/ui/invoices?state=open&min=100&max=5000", true),
    ("deep page (after b-00090000)", "/ui/invoices?after=b-00090000", true),
    ("no invoice passes (at least 10 million)", "/ui/invoices?min=10000000", false),
];
/// The first page's query, as the store runs it, read with sqlx alone.
const FIRST_PAGE: &str = "SELECT l.invoice_id, l.currency, l.total, l.paid, l.status, i.data, i.next_review, c.data \
     FROM ledger l JOIN invoices i ON i.id = l.invoice_id JOIN customers c ON c.id = l.customer_id \
     ORDER BY l.invoice_id LIMIT 51";

fn raw_first_page(rt: &tokio::runtime::Runtime, db: &Path) -> Duration {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display())).unwrap();
    let pool = rt.block_on(SqlitePoolOptions::new().max_connections(1).connect_with(options)).unwrap();
    let t = median(21, || {
        let rows = rt.block_on(sqlx::query(FIRST_PAGE).fetch_all(&pool)).unwrap();
        assert_eq!(rows.len(), 51);
    });
    rt.block_on(pool.close());
    t
}

pub fn rows(cache: &Path, now: DateTime<Utc>) -> Vec<Row> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("list.db");
    super::report::build(&rt, &db, INVOICES, now);
    // The serving scheduler ticks at once: with every review moved past the
    // run, it has nothing to do while the pages are timed.
    rt.block_on(async {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display())).unwrap();
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
        sqlx::query("UPDATE reviews SET next_review = 4102444800").execute(&pool).await.unwrap();
        pool.close().await;
    });
    let config = dir.path().join("sollecito.toml");
    std::fs::write(
        &config,
        "[serve]\ntick_seconds = 3600\npublic_reads = true\n[secrets]\nadmin_token = \"bench-token-0123456789\"\n",
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sollecito"))
        .args(["--db", db.to_str().unwrap(), "--config", config.to_str().unwrap()])
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("SOLLECITO_CACHE_DIR", cache)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("serving on") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let get = |path: &str, lists: bool| {
        let body = ureq::get(&format!("http://127.0.0.1:{port}{path}"))
            .set("Accept-Language", "it")
            .timeout(Duration::from_secs(30))
            .call()
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_string()
            .unwrap();
        assert_eq!(body.contains("/ui/invoices/b-"), lists, "{path}: listed {}", !lists);
        body
    };
    let reference = raw_first_page(&rt, &db);
    let mut rows = vec![];
    for (what, path, lists) in PAGES {
        get(path, lists);
        let page = median(21, || {
            get(path, lists);
        });
        rows.push(Row::shown(Row {
            figure: format!("dashboard invoices list at {INVOICES} invoices: {what} (`GET {path}`, SQLite)"),
            wasm: format!("{:.1} ms", page.as_secs_f64() * 1e3),
            reference: format!("{:.1} ms first page's query, sqlx alone", reference.as_secs_f64() * 1e3),
            ratio: format!("{:.1}x", page.as_secs_f64() / reference.as_secs_f64()),
            target: "< 300 ms".into(),
        }));
    }
    let _ = child.kill();
    let _ = child.wait();
    rows
}
