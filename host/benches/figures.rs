//! The performance figures of issue "benchmark suite": each Wasm figure beside
//! its reference, measured in the same process, printed as a Markdown table.
//! Measures and prints; never fails on a slow machine.
//!
//! `cargo bench --bench figures` (SOLLECITO_BENCH_INVOICES=N for the tick sizes).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, Utc};
use sollecito::catalog::Catalog;
use sollecito::config::Config;
use sollecito::intake::{self, Dataset};
use sollecito::invoice::{Customer, Invoice};
use sollecito::runtime::Runtime;
use sollecito::sandbox::v0_1::{self, InvoiceView};
use sollecito::sandbox::{Limits, Sandbox};
use sollecito_sdk as sdk;

/// Median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ns(d: Duration, per: usize) -> f64 {
    d.as_nanos() as f64 / per as f64
}

/// `n` invoices cycling through the example customers, due on spread dates.
fn invoices(n: usize) -> Dataset {
    let (name, text) = intake::EXAMPLES[0];
    let base = intake::parse_dataset(name, text).unwrap();
    let mut data = Dataset { customers: base.customers.clone(), invoices: Vec::with_capacity(n), events: vec![] };
    for i in 0..n {
        let mut inv: Invoice = base.invoices[i % base.invoices.len()].clone();
        inv.id = format!("b-{i:08}");
        inv.number = format!("B-{i:08}");
        inv.due = inv.due - Days::new((i % 60) as u64);
        data.invoices.push(inv);
    }
    data
}

fn views(data: &Dataset) -> Vec<InvoiceView> {
    data.invoices
        .iter()
        .map(|i| {
            let c: &Customer = data.customers.iter().find(|c| c.id == i.customer_id).unwrap();
            v0_1::invoice_view(i, v0_1::customer_view(c), vec![])
        })
        .collect()
}

fn date(d: &v0_1::Date) -> sdk::Date {
    sdk::Date { year: d.year, month: d.month, day: d.day }
}

fn money(m: &v0_1::Money) -> sdk::Money {
    sdk::Money { minor: m.minor, currency: m.currency.clone() }
}

/// The host's view as the natively compiled policy takes it (the same WIT types, guest side).
fn native(v: &InvoiceView) -> sdk::InvoiceView {
    use sdk::bindings::sollecito::plugin::types as t;
    let c = &v.customer;
    sdk::InvoiceView {
        id: v.id.clone(),
        number: v.number.clone(),
        status: match v.status {
            v0_1::InvoiceStatus::Open => t::InvoiceStatus::Open,
            v0_1::InvoiceStatus::Paid => t::InvoiceStatus::Paid,
            v0_1::InvoiceStatus::Void => t::InvoiceStatus::Void,
            v0_1::InvoiceStatus::WrittenOff => t::InvoiceStatus::WrittenOff,
        },
        kind: match v.kind {
            v0_1::InvoiceKind::OneOff => t::InvoiceKind::OneOff,
            v0_1::InvoiceKind::SubscriptionRenewal => t::InvoiceKind::SubscriptionRenewal,
        },
        amount_due: money(&v.amount_due),
        amount_paid: money(&v.amount_paid),
        issued: date(&v.issued),
        due: date(&v.due),
        payment_failure: None,
        dispute: None,
        promise_to_pay: None,
        payment_link: v.payment_link.clone(),
        payment_method: None,
        customer: t::Customer {
            id: c.id.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            locale: c.locale.clone(),
            timezone: c.timezone.clone(),
            segment: c.segment.clone(),
            business: c.business,
            tags: c.tags.clone(),
            payment_record: t::PaymentRecord {
                customer_since: date(&c.payment_record.customer_since),
                invoices_paid: c.payment_record.invoices_paid,
                paid_on_time: c.payment_record.paid_on_time,
            },
            opted_out: c.opted_out.clone(),
        },
        history: vec![],
    }
}

struct Row {
    figure: String,
    wasm: String,
    reference: String,
    ratio: String,
    target: String,
}

fn main() {
    let cache = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(Limits::default(), Some(cache.path().to_path_buf())).unwrap();
    let mut catalog = Catalog::new(sandbox).unwrap();
    let policy = catalog.policy("b2b-standard").unwrap();
    let now: DateTime<Utc> = "2026-10-31T09:00:00Z".parse().unwrap();
    let mut rows = vec![];

    // 1. Policy evaluation, batch of 1000, through the sandbox and natively.
    let batch = views(&invoices(1000));
    let native_batch: Vec<sdk::InvoiceView> = batch.iter().map(native).collect();
    let wasm = median(21, || {
        let r = policy.evaluate(now.timestamp(), &[], &batch);
        assert!(r.iter().all(Result::is_ok));
    });
    let reference = median(21, || {
        // The sandbox copies the batch in; so does the reference.
        let r = sdk::evaluate_batch::<b2b_standard::B2bStandard>(now.timestamp(), vec![], native_batch.clone());
        assert!(r.iter().all(Result::is_ok));
    });
    rows.push(Row {
        figure: "policy evaluation per invoice (batch of 1000, b2b-standard)".into(),
        wasm: format!("{:.0} ns ({:.2}M invoices/s)", ns(wasm, 1000), 1e3 / ns(wasm, 1000)),
        reference: format!("{:.0} ns native", ns(reference, 1000)),
        ratio: format!("{:.2}x", wasm.as_secs_f64() / reference.as_secs_f64()),
        target: "<= 1.5x native; >= 1M/s per core".into(),
    });

    // 2 and 6. One tick over N invoices in SQLite, and its growth with 10x invoices.
    let sizes: Vec<usize> = std::env::var("SOLLECITO_BENCH_INVOICES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut ticks = vec![];
    for &n in &sizes {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("bench.db");
        let mut config = Config::default();
        // Decisions only: the window is closed at this hour, so nothing is rendered or sent.
        config.sending.windows.insert("default".into(), toml::from_str("from = \"08:00\"\nto = \"08:01\"").unwrap());
        let elapsed = rt.block_on(async {
            let runtime = Runtime::open(&db, config, &mut catalog).await.unwrap();
            runtime.store.import(&invoices(n), now - chrono::Duration::days(40)).await.unwrap();
            let t = Instant::now();
            let r = runtime.tick(now, false).await.unwrap();
            assert_eq!(r.decided.evaluated, n);
            t.elapsed()
        });
        ticks.push((n, elapsed));
        rows.push(Row {
            figure: format!("one tick over {n} invoices in SQLite (load, evaluate, guardrails, write)"),
            wasm: format!("{:.1} s ({:.0} invoices/s)", elapsed.as_secs_f64(), n as f64 / elapsed.as_secs_f64()),
            reference: "-".into(),
            ratio: "-".into(),
            target: ">= 300k invoices/s on 2 cores".into(),
        });
    }
    if ticks.len() >= 2 {
        let (small, big) = (ticks[0], ticks[ticks.len() - 1]);
        rows.push(Row {
            figure: format!("growth: {} against {} invoices", big.0, small.0),
            wasm: format!(
                "{:.1}x the time for {:.0}x the invoices",
                big.1.as_secs_f64() / small.1.as_secs_f64(),
                big.0 as f64 / small.0 as f64
            ),
            reference: "-".into(),
            ratio: "-".into(),
            target: "10x invoices <= 11x time".into(),
        });
    }

    // 3. Cold start of `sollecito plugins` (compiled plugins cached) against `--version`.
    let bin = env!("CARGO_BIN_EXE_sollecito");
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).env("SOLLECITO_CACHE_DIR", cache.path()).output().unwrap();
        assert!(out.status.success());
    };
    run(&["plugins"]);
    let plugins = median(11, || run(&["plugins"]));
    let version = median(11, || run(&["--version"]));
    rows.push(Row {
        figure: "cold start of `sollecito plugins`, 7 bundled plugins".into(),
        wasm: format!("{:.1} ms", plugins.as_secs_f64() * 1e3),
        reference: format!("{:.1} ms `--version`", version.as_secs_f64() * 1e3),
        ratio: format!("{:.1}x", plugins.as_secs_f64() / version.as_secs_f64()),
        target: "<= 50 ms".into(),
    });

    // 4. Live swap: compile a new policy (no cache), check it, switch it in.
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm/wasm32-wasip2/release/b2b_standard.wasm"),
    )
    .unwrap();
    let fresh = Sandbox::new(Limits::default(), None).unwrap();
    let swap = median(5, || {
        let p = fresh.load(&bytes, sollecito::sandbox::PluginSource::Bundled).unwrap();
        assert!(p.evaluate(now.timestamp(), &[], &batch[..6]).iter().all(Result::is_ok));
    });
    rows.push(Row {
        figure: "live swap: upload to active (compile, world check, smoke run)".into(),
        wasm: format!("{:.0} ms", swap.as_secs_f64() * 1e3),
        reference: "-".into(),
        ratio: "-".into(),
        target: "<= 100 ms".into(),
    });

    println!("\n| figure | sollecito | reference | ratio | target |\n|---|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} | {} |", r.figure, r.wasm, r.reference, r.ratio, r.target);
    }
}
