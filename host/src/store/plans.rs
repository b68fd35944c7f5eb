//! The plans SQLite makes for the statements that run a page or a batch at a
//! time. Without statistics, given more than a few keys, it has preferred the
//! index on the state, walking every message pending or sent for each batch:
//! work that grew with the square of what was delivered. Each statement here
//! must reach its rows by key, for a few keys, a chunk and a statement's worth.

use sqlx::Row;

use super::Store;
use super::changes::escalations_sql;
use super::delivery::{claim_sql, contacts_sql, invoices_sql, settle_sql, unclaimed_sql};
use super::outbox::due_page_sql;
use super::outbox_page::outbox_page_sql;
use super::outcomes::touches_sql;
use super::rows::placeholders;

/// SQLite's plan for `sql`, a line a step, its `params` bound to 0.
async fn plan(store: &Store, sql: &str, params: usize) -> Vec<String> {
    let sql = format!("EXPLAIN QUERY PLAN {sql}");
    let mut query = sqlx::query(&sql);
    for _ in 0..params {
        query = query.bind(0_i64);
    }
    let rows = query.fetch_all(&store.pool).await.expect(&sql);
    rows.iter().map(|r| r.try_get::<String, _>("detail").unwrap()).collect()
}

#[tokio::test]
async fn batch_statements_reach_their_rows_by_key_whatever_the_number_of_messages() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    for n in [3, 64, 500] {
        let list = placeholders(false, 1, n);
        let statements = [
            (
                "due page",
                due_page_sql(false, false),
                3,
                "SEARCH outbox USING INDEX outbox_due_messages (customer_id>?)",
            ),
            (
                "one customer's",
                due_page_sql(false, true),
                2,
                "SEARCH outbox USING INDEX outbox_due_messages (customer_id=?)",
            ),
            ("claim", claim_sql(false, n), n + 2, "SEARCH outbox USING INTEGER PRIMARY KEY (rowid=?)"),
            ("invoices", invoices_sql(false, n), n, "SEARCH i USING INDEX sqlite_autoindex_invoices_1 (id=?)"),
            (
                "contacts",
                contacts_sql(false, n),
                n + 2,
                "SEARCH outbox USING INDEX outbox_customer_sent (customer_id=?",
            ),
            ("outcomes", settle_sql(false, n), n * 10, "SEARCH outbox USING INTEGER PRIMARY KEY (rowid=?)"),
            ("waits", unclaimed_sql(false, n), n * 7, "SEARCH outbox USING INTEGER PRIMARY KEY (rowid=?)"),
            ("touches", touches_sql(false, &list, 0, 0), n, "SEARCH o USING INDEX outbox_invoice_sent (invoice_id=?"),
            (
                "answered messages",
                super::outbox_where_sql(&format!("message_id IN {list}")),
                n,
                "SEARCH outbox USING INDEX outbox_message_id (message_id=?)",
            ),
            (
                "a page's history",
                outbox_page_sql(false, &format!("invoice_id IN {list}")),
                n,
                "SEARCH outbox USING INDEX sqlite_autoindex_outbox_1 (invoice_id=?)",
            ),
            (
                "escalations",
                escalations_sql(false, &list),
                n,
                "SEARCH outbox USING INDEX sqlite_autoindex_outbox_1 (invoice_id=?)",
            ),
        ];
        for (what, sql, params, expected) in statements {
            let steps = plan(&store, &sql, params).await;
            assert!(steps.iter().any(|s| s.contains(expected)), "{what} of {n}: {steps:?}");
            for step in &steps {
                // Only the batch's own rows (`VALUES ... AS v`) or the page's (`(...) AS p`) are walked.
                let walks = step.starts_with("SCAN ")
                    && step != "SCAN v"
                    && step != "SCAN p"
                    && !step.ends_with("CONSTANT ROWS")
                    && !step.ends_with("VALUES CLAUSE");
                let by_state = step.contains("outbox_pending");
                assert!(!walks && !by_state, "{what} of {n}: {steps:?}");
            }
        }
    }
}

/// PostgreSQL's plan for `query` (its parameters bound), a line a step.
async fn postgres_plan(
    conn: &mut sqlx::PgConnection,
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> String {
    let rows = query.fetch_all(&mut *conn).await.expect("EXPLAIN");
    rows.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>().join("\n")
}

/// A database of its own on the test server, with a store's tables.
async fn postgres_store(suffix: &str) -> (Store, sqlx::PgConnection, impl AsyncFnOnce()) {
    use sqlx::Connection;
    let server =
        std::env::var("SOLLECITO_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("sollecito_plans_{suffix}_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/test")).await.expect("PostgreSQL for this test");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    let url = format!("{server}/{name}");
    let store = Store::open(&url).await.unwrap();
    let conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let drop = async move || {
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    };
    (store, conn, drop)
}

async fn run_all(conn: &mut sqlx::PgConnection, statements: &[&str]) {
    for sql in statements {
        sqlx::query(sql).execute(&mut *conn).await.unwrap();
    }
}

/// PostgreSQL plans with statistics, but it joined a page of reviews to the
/// whole table (a hash join over every review) until each statement named
/// its keys: a claim and a move of 500 at 100,000 reviews must find them by key.
#[tokio::test]
async fn postgres_claims_and_moves_a_page_of_reviews_by_key() {
    let (store, mut conn, drop) = postgres_store("reviews").await;
    // The reviews alone: their invoices are not what is planned here.
    run_all(
        &mut conn,
        &[
            "SET session_replication_role = replica",
            "INSERT INTO reviews (invoice_id, next_review) SELECT 'inv-' || lpad(g::text, 6, '0'), 1000 FROM generate_series(1, 100000) g",
            "ANALYZE reviews",
        ],
    )
    .await;
    // Room on each page for a claimed review's new version (migration 28).
    let options: Vec<String> = sqlx::query_scalar("SELECT unnest(reloptions) FROM pg_class WHERE relname = 'reviews'")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(options, ["fillfactor=70"]);
    let claim = format!("EXPLAIN {}", super::decisions::claim_reviews_sql());
    let query = sqlx::query(&claim).bind(2000_i64).bind(0_i64).bind("").bind(500_i64).bind("w").bind(9_i64).bind(5_i64);
    let plan = postgres_plan(&mut conn, query).await;
    assert!(!plan.contains("Seq Scan"), "claim: {plan}");
    assert!(plan.contains("Index Scan using reviews_pkey on reviews"), "claim: {plan}");

    let n = 500;
    let moved = format!("EXPLAIN {}", super::decisions::move_reviews_sql(true, n));
    let ids: Vec<String> = (1..=n).map(|i| format!("inv-{i:06}")).collect();
    let mut query = sqlx::query(&moved);
    for id in &ids {
        query = query.bind(id.as_str()).bind(2000_i64).bind(None::<String>).bind(1000_i64);
    }
    for id in &ids {
        query = query.bind(id.as_str());
    }
    let plan = postgres_plan(&mut conn, query).await;
    assert!(!plan.contains("Seq Scan on reviews"), "move: {plan}");
    assert!(plan.contains("reviews_pkey"), "move: {plan}");
    store.close().await;
    drop().await;
}

/// An outbox filled since PostgreSQL last looked (a first tick over a new
/// book) has no statistics: a page's history, 500 invoices, read every row
/// (100,000 messages of about the width of a reminder's).
/// The store analyzes a table with rows and none, and the history is read by key.
#[tokio::test]
async fn postgres_reads_a_new_outbox_by_key_once_the_store_has_analyzed_it() {
    let (store, mut conn, drop) = postgres_store("outbox").await;
    run_all(
        &mut conn,
        &[
            "SET session_replication_role = replica",
            "INSERT INTO outbox (invoice_id, customer_id, step, kind, payload, decision_id, created_at, not_before, state) \
             SELECT 'inv-' || lpad(g::text, 6, '0'), 'c-' || (g % 700), 'overdue-7', 'remind', repeat('x', 200), g, 0, 0, 'pending' \
             FROM generate_series(1, 100000) g",
        ],
    )
    .await;
    let n = 500;
    let history = format!("EXPLAIN {}", outbox_page_sql(true, &format!("invoice_id IN {}", placeholders(true, 1, n))));
    let ids: Vec<String> = (1..=n).map(|i| format!("inv-{:06}", i * 97)).collect();
    let bound = || ids.iter().fold(sqlx::query(&history), |q, id| q.bind(id.as_str()));
    // By key: the invoices are the index's condition, not a filter on every row.
    let by_key = |plan: &str| plan.contains("Index Cond: (invoice_id = ANY") && !plan.contains("Seq Scan");
    let before = postgres_plan(&mut conn, bound()).await;
    assert!(!by_key(&before), "without statistics PostgreSQL reads every row: {before}");
    store.know_tables().await;
    let after = postgres_plan(&mut conn, bound()).await;
    assert!(by_key(&after), "history: {after}");
    store.close().await;
    drop().await;
}
