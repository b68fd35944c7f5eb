//! `sollecito migrate`: apply or check, once however many run at once (an
//! advisory lock on PostgreSQL), and `/readyz` false while the schema is behind.

use std::process::Command;

use crate::common::*;
use crate::pipeline::Site;
use crate::serve::Service;

/// Every migration this binary knows, as the commands list them (the store numbers them 1 to 29).
fn all() -> String {
    versions(1..=29)
}

#[test]
fn migrate_applies_once_and_check_says_what_is_pending() {
    let site = Site::new();
    let out = site.command(&["migrate", "--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("migrations pending: {}", all())), "{}", stderr(&out));
    // A service that must not migrate refuses a schema that is behind.
    let out = site.command(&["serve", "--no-migrate", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("migrations pending: 1, 2,"), "{}", stderr(&out));

    let out = site.command(&["migrate"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("applied migrations {}", all()));
    let out = site.command(&["migrate"]).output().unwrap();
    assert_eq!(stdout(&out).trim(), "schema up to date: nothing to apply");
    let out = site.command(&["migrate", "--check"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "schema up to date");
}

#[test]
fn readyz_is_false_while_the_schema_is_behind() {
    let site = Site::new();
    let service = Service::start(&site, "");
    assert_eq!(service.call("GET", "/readyz", None, "").0, 200);
    // The schema falls behind this binary (as when a newer one's migration is due).
    let db = Db::new(&site.db());
    db.execute("DELETE FROM schema_migrations WHERE version = 20");
    let (status, body) = service.call("GET", "/readyz", None, "");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "migrations pending: 20 (run `sollecito migrate`)");
    // The schema caught up (here, the row put back): ready again without a restart.
    db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (20, 0)");
    assert_eq!(service.call("GET", "/readyz", None, "").0, 200);
}

#[test]
fn four_workers_migrating_one_postgres_database_apply_each_migration_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(PostgresDatabase::create("migrate"));
    // Started together, as four workers rolling out at once.
    let workers: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_sollecito"))
                .args(["--db", &db.url, "migrate"])
                .env("SOLLECITO_CACHE_DIR", cache_dir())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied: Vec<i64> = vec![];
    for worker in workers {
        let out = worker.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        if let Some(list) = stdout(&out).trim().strip_prefix("applied migrations ") {
            applied.extend(list.split(", ").map(|v| v.parse::<i64>().unwrap()));
        }
    }
    applied.sort_unstable();
    assert_eq!(applied, (1..=29).collect::<Vec<i64>>(), "each migration applied by exactly one worker");
    let rows: i64 = rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations").fetch_one(&mut c).await.unwrap()
    });
    assert_eq!(rows, 29);
    let out =
        Command::new(env!("CARGO_BIN_EXE_sollecito")).args(["--db", &db.url, "migrate", "--check"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    rt.block_on(db.drop());
}

/// Every decision records the worker that made it, under the id its claims
/// carry: `NAME-pid-nonce`, NAME from `SOLLECITO_WORKER`, else the host.
#[test]
fn every_decision_records_its_worker() {
    let site = Site::new();
    let invoices = root().join("examples/invoices.json");
    site.ok(&["import", invoices.to_str().unwrap(), "--at", "2026-09-20T00:00:00Z"]);
    let out =
        site.command(&["run", "--at", "2026-10-08T12:00:00Z"]).env("SOLLECITO_WORKER", "worker-a").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = site.command(&["run", "--at", "2026-10-20T12:00:00Z"]).env_remove("SOLLECITO_WORKER").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let history = site.json(&["history", "inv-1001"]);
    let workers: Vec<&str> =
        history["decisions"].as_array().unwrap().iter().map(|d| d["worker"].as_str().unwrap()).collect();
    assert_eq!(workers.len(), 2, "{history}");
    let parts = |id: &str| -> (String, u32, u64) {
        let mut it = id.rsplitn(3, '-');
        let (nonce, pid, name) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        (name.to_string(), pid.parse().unwrap(), u64::from_str_radix(nonce, 16).unwrap())
    };
    assert_eq!(parts(workers[0]).0, "worker-a", "{}", workers[0]);
    // Unnamed: the host's name. Two processes, two ids, whatever the name.
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "host".into());
    let host: String =
        host.trim().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(40).collect();
    assert_eq!(parts(workers[1]).0, host, "{}", workers[1]);
    assert_ne!(parts(workers[0]).1, parts(workers[1]).1);
}

/// A store made before the reviews left the invoices' rows (migration 16)
/// and before decisions named their plugin by id (17) keeps every invoice's
/// next review and closing, and every decision's plugin and digest; an
/// invoice closed, then given a next review by an event, loses it (18).
#[test]
fn a_store_from_before_the_reviews_table_keeps_every_review_and_decision() {
    let invoices = root().join("examples/invoices.json");
    let invoices = invoices.to_str().unwrap();
    let (first, later) = ("2026-10-08T12:00:00Z", "2026-10-20T12:00:00Z");
    // A store of today, its reviews moved and some invoices closed by a tick.
    let today = Site::new();
    today.ok(&["import", invoices, "--at", "2026-09-20T00:00:00Z"]);
    today.ok(&["run", "--at", first]);
    let reviews = Db::new(&today.db()).rows("reviews", &["invoice_id", "next_review", "closed"]);
    assert!(reviews.len() >= 6, "{reviews:?}");
    let hex = if on_postgres() { "encode(d.input_sha256, 'hex')" } else { "lower(hex(d.input_sha256))" };
    let decisions = format!(
        "SELECT d.invoice_id || '|' || p.name || '|' || p.version || '|' || p.sha256 || '|' || {hex} \
         || '|' || d.actions FROM decisions d JOIN plugin_ids p ON p.id = d.plugin ORDER BY d.id"
    );
    let decided = Db::new(&today.db()).strings(&decisions);
    assert!(decided.len() >= 6 && decided.iter().all(|d| d.contains("|b2b-standard|")), "{decided:?}");

    // The same invoices in a store at migration 15: 16 to 29 are marked
    // done beforehand, so `migrate` stops short of them.
    let old = Site::new();
    if !on_postgres() {
        std::fs::File::create(old.path("sollecito.db")).unwrap();
    }
    let db = Db::new(&old.db());
    db.execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)");
    db.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (16, 0), (17, 0), (18, 0), (19, 0), (20, 0), (21, 0), (22, 0), (23, 0), (24, 0), (25, 0), (26, 0), (27, 0), (28, 0), (29, 0)",
    );
    assert_eq!(old.ok(&["migrate"]).trim(), format!("applied migrations {}", versions(1..=15)));
    assert!(db.columns("invoices").contains(&"next_review".to_string()));
    let from = Db::new(&today.db());
    copy(&from, &db, "customers", &["id", "data", "updated_at", "segment"], "*");
    copy(
        &from,
        &db,
        "invoices i JOIN reviews r ON r.invoice_id = i.id",
        &["i.id", "i.customer_id", "i.status", "i.data", "i.updated_at", "r.next_review", "r.closed"],
        "invoices (id, customer_id, status, data, updated_at, next_review, closed)",
    );
    copy(&from, &db, "ledger", &from.columns("ledger").iter().map(String::as_str).collect::<Vec<_>>(), "*");
    copy(
        &from,
        &db,
        // Without their ids, in their order: PostgreSQL's sequence numbers them as before.
        "decisions d JOIN plugin_ids p ON p.id = d.plugin ORDER BY d.id",
        &[
            "d.invoice_id",
            "d.at",
            "p.name",
            "p.version",
            "p.sha256",
            hex,
            "d.actions",
            "d.next_review",
            "d.error",
            "d.experiment",
            "d.arm",
            "d.worker",
            "d.review_at",
        ],
        "decisions (invoice_id, at, plugin_name, plugin_version, plugin_sha256, input_digest, actions, \
         next_review, error, experiment, arm, worker, review_at)",
    );

    // inv-1002 was handed to collections by a decision, and an event since
    // gave it a next review, as one could before 18: it loses that review.
    let closed = "inv-1002";
    db.execute("UPDATE invoices SET closed = 'collections' WHERE id = 'inv-1002'");
    let reviews: Vec<String> = reviews
        .into_iter()
        .map(|r| if r.starts_with("reviews|'inv-1002'|") { "reviews|'inv-1002'|NULL|'collections'".into() } else { r })
        .collect();
    assert_eq!(reviews.iter().filter(|r| r.contains("NULL|'collections'")).count(), 1, "{reviews:?}");
    // An import's old words for a part payment and a reopening (before 19).
    db.execute(
        "INSERT INTO events (invoice_id, at, kind, detail) VALUES ('inv-1001', 1, 'payment-recorded', \
         'amount paid 0 -> 100'), ('inv-1001', 2, 'open', 'status paid -> open'), ('inv-1001', 3, 'paid', 'x')",
    );
    db.execute("DELETE FROM schema_migrations WHERE version >= 16");
    assert_eq!(old.ok(&["migrate"]).trim(), format!("applied migrations {}", versions(16..=29)));
    // Each customer's address, for matching what comes back, read from the stored customers (21).
    let emails = db.strings("SELECT email FROM customers WHERE id = 'cus-rossi'");
    assert_eq!(emails, ["amministrazione@rossi-impianti.example"]);
    let kinds = db.strings("SELECT kind FROM events WHERE invoice_id = 'inv-1001' AND at < 10 ORDER BY at");
    assert_eq!(kinds, ["payment-received", "reopened", "paid"]);
    assert_eq!(db.strings(&decisions), decided);
    // As the history reads them.
    let history = |site: &Site| site.json(&["history", "inv-1001"])["decisions"].clone();
    assert_eq!(history(&old), history(&today));
    assert_eq!(history(&old)[0]["input_digest"].as_str().unwrap().len(), 64);
    assert_eq!(db.rows("reviews", &["invoice_id", "next_review", "closed"]), reviews);
    for gone in ["next_review", "closed", "review_by", "review_until"] {
        assert!(!db.columns("invoices").contains(&gone.to_string()), "invoices still has {gone}");
    }
    // Both stores find the same invoices due later, but for the closed one.
    let (a, b) = (old.json(&["run", "--at", later]), today.json(&["run", "--at", later]));
    assert!(a["evaluated"].as_u64().unwrap() > 0, "{a}");
    assert_eq!(a["evaluated"].as_u64().unwrap() + 1, b["evaluated"].as_u64().unwrap(), "{a} {b}");

    // A part payment after the closing (re-imported) is recorded, and the invoice stays unreviewed.
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(invoices).unwrap()).unwrap();
    let part_paid = doc["invoices"].as_array_mut().unwrap().iter_mut().find(|i| i["id"] == closed).unwrap();
    part_paid["amount_paid"] = "1.00".into();
    let file = old.write("part-paid.json", &doc.to_string());
    old.ok(&["import", file.to_str().unwrap(), "--at", later]);
    let events = old.json(&["history", closed])["events"].clone();
    assert!(events.as_array().unwrap().iter().any(|e| e["kind"] == "payment-received"), "{events}");
    let review =
        format!("SELECT COALESCE(CAST(next_review AS TEXT), 'none') FROM reviews WHERE invoice_id = '{closed}'");
    assert_eq!(db.strings(&review), ["none"]);
}

fn versions(range: std::ops::RangeInclusive<i64>) -> String {
    range.map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
}

/// Copies rows of `source` (a table or a join) from one store into another,
/// as SQL literals, into `target` (`*`: the same table and columns).
fn copy(from: &Db, to: &Db, source: &str, columns: &[&str], target: &str) {
    let quote = if on_postgres() { "quote_nullable" } else { "quote" };
    let values = columns.iter().map(|c| format!("{quote}({c})")).collect::<Vec<_>>().join(" || ', ' || ");
    let target = if target == "*" { format!("{source} ({})", columns.join(", ")) } else { target.to_string() };
    for row in from.strings(&format!("SELECT {values} FROM {source}")) {
        to.execute(&format!("INSERT INTO {target} VALUES ({row})"));
    }
}
