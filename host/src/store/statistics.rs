//! PostgreSQL chooses its plans by what it knows of each table. A table it
//! never analyzed (a new store, a book just imported, an outbox filled by its
//! first tick) has no statistics, and then it guesses that a list of 500
//! invoices matches every row: each page's history read the whole outbox
//! (29 ms a page at 100,000 invoices). Autovacuum analyzes a table within a
//! minute or so of its growing; a tick or an import does not wait for it.

use super::Store;

/// The tables a tick and an import read by key, page after page.
const READ_BY_KEY: [&str; 7] = ["reviews", "invoices", "customers", "ledger", "outbox", "decisions", "events"];

/// Those of `READ_BY_KEY` PostgreSQL holds no row count for: never analyzed
/// (-1), or analyzed while empty (0).
fn unknown_sql() -> String {
    let names: Vec<String> = READ_BY_KEY.iter().map(|t| format!("'{t}'")).collect();
    format!(
        "SELECT relname::text AS name FROM pg_class WHERE relkind = 'r' AND reltuples < 1 \
         AND relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND relname IN ({})",
        names.join(", ")
    )
}

impl Store {
    /// Whether a write can go on while another connection reads (PostgreSQL's
    /// pool); SQLite's one connection takes them in turn.
    pub(crate) fn writes_beside_reads(&self) -> bool {
        self.postgres
    }

    /// Analyzes each table read by key that has rows and no statistics
    /// (PostgreSQL; SQLite's plans are named in its statements). A few
    /// milliseconds once per table, then one lookup of the catalog. A
    /// failure is logged, not passed on: the write it follows is done.
    pub(crate) async fn know_tables(&self) {
        if !self.postgres {
            return;
        }
        if let Err(e) = self.analyze_unknown().await {
            tracing::warn!(error = %e, "could not analyze the store's new tables; PostgreSQL plans without statistics");
        }
    }

    async fn analyze_unknown(&self) -> anyhow::Result<()> {
        let unknown: Vec<String> = sqlx::query_scalar(&unknown_sql()).fetch_all(&self.pool).await?;
        for table in unknown {
            // The name is one of READ_BY_KEY, as the catalog gave it back.
            let Some(table) = READ_BY_KEY.iter().find(|t| **t == table) else { continue };
            let rows: Option<i32> =
                sqlx::query_scalar(&format!("SELECT 1 FROM {table} LIMIT 1")).fetch_optional(&self.pool).await?;
            if rows.is_some() {
                sqlx::query(&format!("ANALYZE {table}")).execute(&self.pool).await?;
                tracing::debug!(table, "analyzed: the table had rows and PostgreSQL no statistics of them");
            }
        }
        Ok(())
    }
}
