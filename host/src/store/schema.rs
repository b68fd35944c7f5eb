//! Bringing the schema up to date, once, however many workers start at once:
//! on PostgreSQL the migrations run under an advisory lock, so a second
//! worker waits for the first and then finds nothing left to do. SQLite is
//! one process's database (its writer lock serialises the rest).

use anyhow::Context;
use chrono::Utc;
use sqlx::{Connection, Row};

use super::{Store, ledger, migrations};

/// The advisory lock key of sollecito's migrations ("sollecit" in ASCII).
const MIGRATION_LOCK: i64 = 0x736f_6c6c_6563_6974;

const BOOKKEEPING: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

impl Store {
    /// The migrations this binary knows that the database has not had.
    pub async fn pending_migrations(&self) -> anyhow::Result<Vec<i64>> {
        let known = migrations::migrations(self.postgres);
        let applied: Vec<i64> = match sqlx::query("SELECT version FROM schema_migrations").fetch_all(&self.pool).await {
            Ok(rows) => rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<_, _>>()?,
            // No bookkeeping table yet: a new database, everything is pending.
            // Any other failure (no right to read it, say) is not taken for that.
            Err(_) if !self.has_bookkeeping().await? => vec![],
            Err(e) => return Err(e).context("reading the applied migrations"),
        };
        Ok(known.into_iter().map(|(v, _)| v).filter(|v| !applied.contains(v)).collect())
    }

    /// Whether the table of applied migrations exists.
    async fn has_bookkeeping(&self) -> anyhow::Result<bool> {
        let sql = if self.postgres {
            "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = 'schema_migrations' AND schemaname = current_schema()"
        } else {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        };
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&self.pool).await.context("reading the schema")?;
        Ok(n > 0)
    }

    /// Applies the pending migrations, each in its own transaction; returns those applied.
    pub async fn migrate(&self) -> anyhow::Result<Vec<i64>> {
        let mut conn = self.pool.acquire().await?;
        if self.postgres {
            sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
        }
        let applied = self.migrate_on(&mut conn).await;
        if self.postgres {
            // Released with the session too, should this fail.
            sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
        }
        applied
    }

    async fn migrate_on(&self, conn: &mut sqlx::pool::PoolConnection<sqlx::Any>) -> anyhow::Result<Vec<i64>> {
        sqlx::query(BOOKKEEPING).execute(&mut **conn).await?;
        let mut applied = vec![];
        for (version, statements) in migrations::migrations(self.postgres) {
            let mut tx = if self.postgres { conn.begin().await? } else { conn.begin_with("BEGIN IMMEDIATE").await? };
            let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                continue;
            }
            for sql in statements {
                sqlx::query(&sql).execute(&mut *tx).await.with_context(|| format!("migration {version}"))?;
            }
            if version == migrations::LEDGER {
                ledger::backfill(&mut tx).await.context("migration 11: filling the ledger")?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(Utc::now().timestamp())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            applied.push(version);
        }
        Ok(applied)
    }

    /// Why the service should not take traffic, if it should not: the
    /// database unreachable, or its schema behind this binary's.
    pub async fn not_ready(&self) -> Option<String> {
        match self.pending_migrations().await {
            Ok(pending) if pending.is_empty() => None,
            Ok(pending) => Some(MigrationsPending(pending).to_string()),
            Err(_) => Some("database unreachable".into()),
        }
    }
}

/// The schema is behind this binary: these migrations are still to apply.
#[derive(Debug, thiserror::Error)]
#[error("migrations pending: {} (run `sollecito migrate`)", versions(.0))]
pub struct MigrationsPending(pub Vec<i64>);

/// Migration versions as a list for people: `12, 13`.
pub fn versions(versions: &[i64]) -> String {
    versions.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}
