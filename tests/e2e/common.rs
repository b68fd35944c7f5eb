use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use sollecito::Catalog;
use sollecito::intake::{self, Dataset};
use sollecito::sandbox::v0_2::{self, InvoiceView, Setting};
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
    let views = v0_2::views_of(data);
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
        let name = format!("sollecito_{purpose}_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&format!("{server}/test"))
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {server} (start it, or set SOLLECITO_TEST_POSTGRES): {e}"));
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
        PostgresDatabase { url: format!("{server}/{name}"), server, name }
    }

    pub async fn drop(self) {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&format!("{}/test", self.server)).await.unwrap();
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name)).execute(&mut admin).await.unwrap();
    }
}
