use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use sollecito::catalog::Catalog;
use sollecito::intake::{self, Dataset};
use sollecito::sandbox::v0_1::{self, InvoiceView, Setting};
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
    data.invoices
        .iter()
        .map(|i| {
            let c = data.customers.iter().find(|c| c.id == i.customer_id).unwrap();
            v0_1::invoice_view(i, v0_1::customer_view(c), vec![])
        })
        .collect()
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
