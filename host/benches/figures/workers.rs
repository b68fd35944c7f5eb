//! The tick on PostgreSQL with 1, 2 and 4 workers sharing one database, each
//! a runtime of its own (its own pool and worker id) in this process, all
//! deciding at once: the rate against one worker's, measured in the same run.
//! `SOLLECITO_BENCH_POSTGRES` names the server (default: the local one).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sollecito::config::Config;
use sollecito::{Catalog, Runtime};

use super::{IMPORT_SLICE, Row, invoices};

const NAME: &str = "sollecito_bench_workers";

async fn fresh_database(server: &str) -> String {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/test")).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {NAME}")).execute(&mut admin).await.unwrap();
    format!("{server}/{NAME}")
}

/// One tick over `n` invoices by `workers` runtimes at once; checks every
/// invoice was decided exactly once.
fn tick(catalog: &mut Catalog, server: &str, workers: usize, n: usize, now: DateTime<Utc>) -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let url = fresh_database(server).await;
        let db = std::path::PathBuf::from(&url);
        let mut runtimes = vec![];
        for _ in 0..workers {
            runtimes.push(Runtime::open(&db, Config::default(), catalog).await.unwrap());
        }
        for from in (0..n).step_by(IMPORT_SLICE) {
            let slice = invoices(from..n.min(from + IMPORT_SLICE));
            runtimes[0].store().import(&slice, now - chrono::Duration::days(40)).await.unwrap();
        }
        let t = Instant::now();
        let reports = futures_util::future::join_all(runtimes.iter().map(|r| r.decide(now, false))).await;
        let elapsed = t.elapsed();
        let evaluated: usize = reports.into_iter().map(|r| r.unwrap().evaluated).sum();
        let decisions: i64 = {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar("SELECT COUNT(DISTINCT invoice_id) FROM decisions WHERE error IS NULL")
                .fetch_one(&mut c)
                .await
                .unwrap()
        };
        assert_eq!(decisions as usize, n, "every invoice decided");
        assert!(evaluated >= n, "{evaluated} evaluated of {n}");
        for r in &runtimes {
            r.store().close().await;
        }
        elapsed
    })
}

pub fn rows(catalog: &mut Catalog, n: usize, now: DateTime<Utc>) -> Vec<Row> {
    let server =
        std::env::var("SOLLECITO_BENCH_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let (against, one) = against_sqlite(catalog, &server, n, now);
    let mut rows = vec![against];
    for workers in [1, 2, 4] {
        let elapsed = if workers == 1 { one } else { tick(catalog, &server, workers, n, now) };
        rows.push(
            Row {
                figure: format!(
                    "one tick over {n} invoices on PostgreSQL, {workers} worker(s) at once ({cores} cores, the server included)"
                ),
                wasm: format!("{:.0} invoices/s", rate(elapsed)),
                reference: format!("{:.0} invoices/s, 1 worker", rate(one)),
                ratio: format!("{:.2}x", rate(elapsed) / rate(one)),
                target: "scales with workers up to the database's limit".into(),
            }
            .shown(),
        );
    }
    rows
}

/// One worker on PostgreSQL against the same tick on SQLite, taken in turns
/// three times each (the medians): the machine is shared, and one run of
/// each, a minute apart, differed by a third either way. Returns the row and
/// one worker's median, the reference of the figures with more workers.
fn against_sqlite(catalog: &mut Catalog, server: &str, n: usize, now: DateTime<Utc>) -> (Row, Duration) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (mut sqlite, mut postgres) = (vec![], vec![]);
    for _ in 0..3 {
        sqlite.push(super::tick(&rt, catalog, None, n, now, false).0);
        postgres.push(tick(catalog, server, 1, n, now));
    }
    let median = |mut times: Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (sqlite, postgres) = (median(sqlite), median(postgres));
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let row = Row {
        figure: format!("one tick over {n} invoices on PostgreSQL, 1 worker, against SQLite (in turns, medians of 3)"),
        wasm: format!("{:.0} invoices/s", rate(postgres)),
        reference: format!("{:.0} invoices/s, SQLite", rate(sqlite)),
        ratio: format!("{:.2}x", rate(postgres) / rate(sqlite)),
        target: ">= 0.6x SQLite".into(),
    }
    .shown();
    (row, postgres)
}
