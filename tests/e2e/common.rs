use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use sollecito::Catalog;
use sollecito::intake::{self, Dataset};
use sollecito::sandbox::latest::{self, InvoiceView, Setting};
use sollecito::sandbox::{Limits, Plugin, PluginSource, Sandbox};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Compiled plugins are cached here across tests (and test runs).
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache")
}

pub fn sandbox() -> Sandbox {
    Sandbox::new(Limits::default(), Some(cache_dir())).unwrap()
}

pub fn catalog() -> Catalog {
    Catalog::new(sandbox()).unwrap()
}

pub fn load(sandbox: &Sandbox, path: &str) -> Plugin {
    let bytes = std::fs::read(path).unwrap();
    sandbox.load(&bytes, PluginSource::File(path.into())).unwrap()
}

pub fn dataset(name: &str) -> Dataset {
    intake::read_dataset(&root().join("examples").join(name)).unwrap()
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

/// The invoice views of a dataset, with an empty history.
pub fn views(data: &Dataset) -> Vec<InvoiceView> {
    let views = latest::views_of(data);
    assert_eq!(views.len(), data.invoices.len(), "an invoice without its customer");
    views
}

pub fn settings(pairs: &[(&str, &str)]) -> Vec<Setting> {
    pairs.iter().map(|(k, v)| Setting { key: k.to_string(), value: v.to_string() }).collect()
}

/// Runs the real `sollecito` binary.
pub fn sollecito(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sollecito"))
        .args(args)
        .env("SOLLECITO_CACHE_DIR", cache_dir())
        .current_dir(root())
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A database of its own on the local PostgreSQL server (the one CI starts;
/// `SOLLECITO_TEST_POSTGRES` points elsewhere), dropped by `drop`.
pub struct PostgresDatabase {
    pub url: String,
    server: String,
    name: String,
}

impl PostgresDatabase {
    pub async fn create(purpose: &str) -> Self {
        use sqlx::Connection;
        let server =
            std::env::var("SOLLECITO_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let name = format!("sollecito_{purpose}_{}", std::process::id()).chars().take(63).collect::<String>();
        let mut admin = sqlx::PgConnection::connect(&format!("{server}/test"))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {server} (start it, or set SOLLECITO_TEST_POSTGRES): {e}"));
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
        PostgresDatabase { url: format!("{server}/{name}"), server, name }
    }

    pub async fn drop(mut self) {
        use sqlx::Connection;
        let name = std::mem::take(&mut self.name);
        let mut admin = sqlx::PgConnection::connect(&format!("{}/test", self.server)).await.unwrap();
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
    }
}

/// Whether the suite runs on PostgreSQL (`SOLLECITO_TEST_BACKEND=postgres`) rather than SQLite.
pub fn on_postgres() -> bool {
    std::env::var("SOLLECITO_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// Runs a future to completion from any thread, inside a runtime or not.
pub fn blocking<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || tokio::runtime::Runtime::new().unwrap().block_on(f)).join().unwrap()
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        if self.name.is_empty() {
            return; // dropped already
        }
        let (server, name) = (self.server.clone(), std::mem::take(&mut self.name));
        blocking(async move {
            use sqlx::Connection;
            if let Ok(mut admin) = sqlx::PgConnection::connect(&format!("{server}/test")).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
            }
        });
    }
}

/// A site's database read (and, for a test's premise, written) with plain
/// SQL, whichever backend it is on: what a test checks of the store itself.
pub struct Db {
    url: String,
    postgres: bool,
}

impl Db {
    /// `location` as `--db` takes it: a SQLite file's path or a PostgreSQL URL.
    pub fn new(location: &str) -> Self {
        let postgres = location.starts_with("postgres");
        let url = if postgres { location.to_string() } else { format!("sqlite://{location}") };
        Db { url, postgres }
    }

    fn run<T: Send + 'static>(
        &self,
        work: impl for<'c> FnOnce(&'c mut sqlx::AnyConnection) -> futures_util::future::BoxFuture<'c, T> + Send + 'static,
    ) -> T {
        let url = self.url.clone();
        blocking(async move {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
            let out = work(&mut c).await;
            let _ = c.close().await;
            out
        })
    }

    /// The first column of every row, as text.
    pub fn strings(&self, sql: &str) -> Vec<String> {
        let sql = sql.to_string();
        self.run(move |c| {
            Box::pin(async move {
                use sqlx::Row;
                sqlx::query(&sql).fetch_all(c).await.unwrap().iter().map(|r| r.get::<String, _>(0)).collect()
            })
        })
    }

    pub fn execute(&self, sql: &str) {
        let sql = sql.to_string();
        self.run(move |c| {
            Box::pin(async move {
                sqlx::query(&sql).execute(c).await.unwrap();
            })
        })
    }

    pub fn tables(&self) -> Vec<String> {
        self.strings(if self.postgres {
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        })
    }

    pub fn columns(&self, table: &str) -> Vec<String> {
        self.strings(&if self.postgres {
            format!(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' \
                 AND table_name = '{table}' ORDER BY ordinal_position"
            )
        } else {
            format!("SELECT name FROM pragma_table_info('{table}')")
        })
    }

    /// Each row of `table` as one string of `columns` (every column for `*`), sorted.
    pub fn rows(&self, table: &str, columns: &[&str]) -> Vec<String> {
        let columns: Vec<String> = match columns {
            ["*"] => self.columns(table),
            named => named.iter().map(|c| c.to_string()).collect(),
        };
        if columns.is_empty() {
            return vec![];
        }
        let quote = if self.postgres { "quote_nullable" } else { "quote" };
        let row = columns.iter().map(|c| format!("{quote}(\"{c}\")")).collect::<Vec<_>>().join(" || '|' || ");
        let mut rows = self.strings(&format!("SELECT '{table}|' || {row} FROM \"{table}\""));
        rows.sort();
        rows
    }

    /// Every table, every row, as text: what a refused request must leave exactly as it was.
    pub fn dump(&self) -> String {
        self.tables().iter().map(|t| format!("== {t}\n{}\n", self.rows(t, &["*"]).join("\n"))).collect()
    }
}
