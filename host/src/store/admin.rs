//! What operators change and read beside the invoices: policy and adapter
//! activations, shadow runs and their decisions, tasks for people.

use serde::Serialize;
use sqlx::Row;

use super::Store;

/// What a shadow policy would have done, beside what the active one did.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowRow {
    pub invoice_id: String,
    pub segment: String,
    pub at: i64,
    pub plugin_name: String,
    pub plugin_version: String,
    pub plugin_sha256: String,
    /// JSON, as in decisions; an error is `{"error": ...}`.
    pub actions: String,
    /// `name version` of the active policy.
    pub active_plugin: String,
    pub active_actions: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    pub key: String,
    pub invoice_id: String,
    pub title: String,
    pub customer: String,
    pub phone: Option<String>,
    pub script: String,
    pub opened_at: i64,
    pub done_at: Option<i64>,
}

/// What an activation is for: a policy for a segment, or an adapter for a
/// channel. Each has its own activations and rollbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Segment,
    Channel,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Segment => "segment",
            Scope::Channel => "channel",
        }
    }
}

impl Store {
    /// Puts `sha256` in force for a segment (a policy) or a channel (an adapter).
    pub async fn activate(&self, scope: Scope, name: &str, sha256: &str, path: &str, now: i64) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO activations (scope, segment, plugin_sha256, plugin_path, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(scope.as_str())
        .bind(name)
        .bind(sha256)
        .bind(path)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes the newest activation of a segment or a channel; false if there was none.
    /// A segment's rollback never touches a channel's, whatever the names.
    pub async fn roll_back(&self, scope: Scope, name: &str) -> anyhow::Result<bool> {
        let row = sqlx::query("SELECT MAX(id) AS id FROM activations WHERE scope = $1 AND segment = $2")
            .bind(scope.as_str())
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        let Some(id) = row.try_get::<Option<i64>, _>("id")? else { return Ok(false) };
        sqlx::query("DELETE FROM activations WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(true)
    }

    /// The activation in force per segment or per channel: (name, sha256, path).
    pub async fn activations(&self, scope: Scope) -> anyhow::Result<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT a.segment, a.plugin_sha256, a.plugin_path FROM activations a WHERE a.scope = $1 \
             AND a.id = (SELECT MAX(b.id) FROM activations b WHERE b.scope = a.scope AND b.segment = a.segment) \
             ORDER BY a.segment",
        )
        .bind(scope.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("segment")?, r.try_get("plugin_sha256")?, r.try_get("plugin_path")?)))
            .collect()
    }

    pub async fn start_shadow(&self, segment: &str, sha256: &str, path: &str, now: i64) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM shadows WHERE segment = $1").bind(segment).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO shadows (segment, plugin_sha256, plugin_path, started_at) VALUES ($1, $2, $3, $4)")
            .bind(segment)
            .bind(sha256)
            .bind(path)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn stop_shadow(&self, segment: &str) -> anyhow::Result<bool> {
        Ok(sqlx::query("DELETE FROM shadows WHERE segment = $1")
            .bind(segment)
            .execute(&self.pool)
            .await?
            .rows_affected()
            > 0)
    }

    /// Keeps an uploaded plugin's bytes in a database that workers on several
    /// machines share (PostgreSQL); a SQLite file's plugins folder is beside it.
    pub async fn keep_plugin(&self, sha256: &str, bytes: &[u8]) -> anyhow::Result<()> {
        if self.postgres {
            sqlx::query("INSERT INTO plugin_files (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING")
                .bind(sha256)
                .bind(bytes)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// An uploaded plugin's bytes, if the database keeps them.
    pub async fn plugin_bytes(&self, sha256: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar("SELECT bytes FROM plugin_files WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// (segment, sha256, path) of every shadow run.
    pub async fn shadows(&self) -> anyhow::Result<Vec<(String, String, String)>> {
        let rows = sqlx::query("SELECT segment, plugin_sha256, plugin_path FROM shadows ORDER BY segment")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("segment")?, r.try_get("plugin_sha256")?, r.try_get("plugin_path")?)))
            .collect()
    }

    pub async fn record_shadow(&self, rows: &[ShadowRow]) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO shadow_decisions (invoice_id, segment, at, plugin_name, plugin_version, plugin_sha256, actions, active_plugin, active_actions) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&r.invoice_id)
            .bind(&r.segment)
            .bind(r.at)
            .bind(&r.plugin_name)
            .bind(&r.plugin_version)
            .bind(&r.plugin_sha256)
            .bind(&r.actions)
            .bind(&r.active_plugin)
            .bind(&r.active_actions)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn shadow_decisions(&self, segment: Option<&str>) -> anyhow::Result<Vec<ShadowRow>> {
        let rows = match segment {
            Some(s) => {
                sqlx::query("SELECT * FROM shadow_decisions WHERE segment = $1 ORDER BY id")
                    .bind(s)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => sqlx::query("SELECT * FROM shadow_decisions ORDER BY id").fetch_all(&self.pool).await?,
        };
        rows.iter()
            .map(|r| {
                Ok(ShadowRow {
                    invoice_id: r.try_get("invoice_id")?,
                    segment: r.try_get("segment")?,
                    at: r.try_get("at")?,
                    plugin_name: r.try_get("plugin_name")?,
                    plugin_version: r.try_get("plugin_version")?,
                    plugin_sha256: r.try_get("plugin_sha256")?,
                    actions: r.try_get("actions")?,
                    active_plugin: r.try_get("active_plugin")?,
                    active_actions: r.try_get("active_actions")?,
                })
            })
            .collect()
    }

    /// Stores tasks an adapter opened; a key already there is kept as it is.
    pub async fn open_tasks(&self, invoice_id: &str, tasks: &[crate::outgoing::Task], now: i64) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        for t in tasks {
            self.open_task(&mut tx, invoice_id, t, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One task, once per key, inside a caller's transaction.
    pub(super) async fn open_task(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        invoice_id: &str,
        t: &crate::outgoing::Task,
        now: i64,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO tasks (key, invoice_id, title, customer, phone, script, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (key) DO NOTHING",
        )
        // PostgreSQL's text takes no NUL: a task quoting a message keeps its words without them.
        .bind(t.key.replace('\0', ""))
        .bind(invoice_id)
        .bind(t.title.replace('\0', ""))
        .bind(t.customer.replace('\0', ""))
        .bind(t.phone.as_deref().map(|p| p.replace('\0', "")))
        .bind(t.script.replace('\0', ""))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Tasks for people, oldest first; open ones only unless `all`.
    pub async fn tasks(&self, all: bool) -> anyhow::Result<Vec<TaskRow>> {
        let sql = if all {
            "SELECT * FROM tasks ORDER BY opened_at, key"
        } else {
            "SELECT * FROM tasks WHERE done_at IS NULL ORDER BY opened_at, key"
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(TaskRow {
                    key: r.try_get("key")?,
                    invoice_id: r.try_get("invoice_id")?,
                    title: r.try_get("title")?,
                    customer: r.try_get("customer")?,
                    phone: r.try_get("phone")?,
                    script: r.try_get("script")?,
                    opened_at: r.try_get("opened_at")?,
                    done_at: r.try_get("done_at")?,
                })
            })
            .collect()
    }

    /// Marks a task done with a note, recorded in its invoice's history.
    /// False when there is no open task by that key.
    pub async fn finish_task(&self, key: &str, note: &str, now: i64) -> anyhow::Result<bool> {
        let mut tx = self.begin_write().await?;
        let invoice: Option<String> = sqlx::query("SELECT invoice_id FROM tasks WHERE key = $1 AND done_at IS NULL")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("invoice_id"))
            .transpose()?;
        let Some(invoice) = invoice else { return Ok(false) };
        sqlx::query("UPDATE tasks SET done_at = $1 WHERE key = $2").bind(now).bind(key).execute(&mut *tx).await?;
        let detail = if note.is_empty() { format!("task {key} done") } else { format!("task {key} done: {note}") };
        super::insert_event(&mut tx, &invoice, now, crate::event::EventKind::TaskDone, &detail).await?;
        tx.commit().await?;
        Ok(true)
    }
}
