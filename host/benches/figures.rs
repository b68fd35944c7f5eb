//! The performance figures of issue "benchmark suite": each Wasm figure beside
//! its reference, measured in the same process, printed as a Markdown table.
//! Measures and prints; never fails on a slow machine.
//!
//! `cargo bench --bench figures` (SOLLECITO_BENCH_INVOICES=N for the tick sizes;
//! `SOLLECITO_BENCH_FIGURES=report` for the report over a million invoices,
//! `list` for the dashboard's invoices list at 100,000, `inbound` for 5,000
//! replies taken in by `sollecito inbound`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, Utc};
use sollecito::Catalog;
use sollecito::Runtime;
use sollecito::config::Config;
use sollecito::intake::{self, Dataset};
use sollecito::invoice::{Customer, Invoice};
use sollecito::sandbox::v0_3::{self, InvoiceView};
use sollecito::sandbox::{Limits, Sandbox};
use sollecito_sdk as sdk;

#[path = "figures/bank.rs"]
mod bank;
#[path = "figures/emails.rs"]
mod emails;
#[path = "figures/inbound.rs"]
mod inbound;
#[path = "figures/invoices_list.rs"]
mod invoices_list;
#[path = "figures/python.rs"]
mod python;
#[path = "figures/raw_insert.rs"]
mod raw_insert;
#[path = "figures/report.rs"]
mod report;
#[path = "figures/workers.rs"]
mod workers;

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
fn invoices(range: std::ops::Range<usize>) -> Dataset {
    let (name, text) = intake::EXAMPLES[0];
    let base = intake::parse_dataset(name, text).unwrap();
    let mut data =
        Dataset { customers: base.customers.clone(), invoices: Vec::with_capacity(range.len()), events: vec![] };
    for i in range {
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
            v0_3::invoice_view(i, v0_3::customer_view(c), vec![])
        })
        .collect()
}

fn date(d: &v0_3::Date) -> sdk::Date {
    sdk::Date { year: d.year, month: d.month, day: d.day }
}

/// The host's view as the natively compiled policy takes it (the same WIT types, guest side).
fn native(v: &InvoiceView) -> sdk::InvoiceView {
    use sdk::bindings::sollecito::plugin::types as t;
    let c = &v.customer;
    sdk::InvoiceView {
        id: v.id.clone(),
        status: match v.status {
            v0_3::InvoiceStatus::Open => t::InvoiceStatus::Open,
            v0_3::InvoiceStatus::Paid => t::InvoiceStatus::Paid,
            v0_3::InvoiceStatus::Void => t::InvoiceStatus::Void,
            v0_3::InvoiceStatus::WrittenOff => t::InvoiceStatus::WrittenOff,
        },
        kind: match v.kind {
            v0_3::InvoiceKind::OneOff => t::InvoiceKind::OneOff,
            v0_3::InvoiceKind::SubscriptionRenewal => t::InvoiceKind::SubscriptionRenewal,
        },
        currency: v.currency.clone(),
        amount_due: v.amount_due,
        amount_paid: v.amount_paid,
        issued: date(&v.issued),
        due: date(&v.due),
        fees: vec![],
        plan: None,
        payment_failure: None,
        dispute: None,
        promise_to_pay: None,
        has_payment_link: v.has_payment_link,
        payment_method: None,
        customer: t::Customer {
            id: c.id.clone(),
            locale: c.locale.clone(),
            segment: c.segment.clone(),
            business: c.business,
            reachable: {
                let mut r = t::ContactPoints::empty();
                for (h, g) in [
                    (v0_3::ContactPoints::EMAIL, t::ContactPoints::EMAIL),
                    (v0_3::ContactPoints::PHONE, t::ContactPoints::PHONE),
                    (v0_3::ContactPoints::POSTAL_ADDRESS, t::ContactPoints::POSTAL_ADDRESS),
                ] {
                    if c.reachable.contains(h) {
                        r |= g;
                    }
                }
                r
            },
            tags: c.tags.clone(),
            payment_record: t::PaymentRecord {
                customer_since: date(&c.payment_record.customer_since),
                invoices_paid: c.payment_record.invoices_paid,
                paid_on_time: c.payment_record.paid_on_time,
            },
            opted_out: c.opted_out.clone(),
        },
        history: vec![],
        reply: None,
    }
}

fn date_back(d: &sdk::Date) -> v0_3::Date {
    v0_3::Date { year: d.year, month: d.month, day: d.day }
}

fn tone_back(t: sdk::Tone) -> v0_3::Tone {
    match t {
        sdk::Tone::Courteous => v0_3::Tone::Courteous,
        sdk::Tone::Soft => v0_3::Tone::Soft,
        sdk::Tone::Firm => v0_3::Tone::Firm,
        sdk::Tone::Final => v0_3::Tone::Final,
        sdk::Tone::Formal => v0_3::Tone::Formal,
    }
}

/// The natively computed decision in the host's types, as the sandbox would lift it.
fn decision_back(d: sdk::Decision) -> v0_3::Decision {
    use sollecito::sandbox::v0_3::policy::sollecito::plugin::types as h;
    let actions = d
        .actions
        .into_iter()
        .map(|a| match a {
            sdk::Action::Remind(r) => v0_3::Action::Remind(h::Reminder {
                step: r.step,
                channel: r.channel,
                template: r.template,
                tone: tone_back(r.tone),
                deadline: r.deadline.as_ref().map(date_back),
            }),
            sdk::Action::RetryPayment(r) => v0_3::Action::RetryPayment(h::PaymentRetry { step: r.step, at: r.at }),
            sdk::Action::Escalate(e) => v0_3::Action::Escalate(h::Escalation {
                step: e.step,
                kind: match e.kind {
                    sdk::EscalationKind::SuspendService => h::EscalationKind::SuspendService,
                    sdk::EscalationKind::FinalNotice => h::EscalationKind::FinalNotice,
                    sdk::EscalationKind::FormalNotice => h::EscalationKind::FormalNotice,
                    sdk::EscalationKind::Collections => h::EscalationKind::Collections,
                    sdk::EscalationKind::ManualReview => h::EscalationKind::ManualReview,
                },
                reason: e.reason,
            }),
            sdk::Action::ApplyFee(f) => {
                v0_3::Action::ApplyFee(h::Fee { step: f.step, minor: f.minor, reason: f.reason })
            }
            sdk::Action::OfferPlan(p) => v0_3::Action::OfferPlan(h::PlanOffer {
                step: p.step,
                instalments: p.instalments,
                first_due: date_back(&p.first_due),
                every_days: p.every_days,
            }),
            sdk::Action::Close(c) => v0_3::Action::Close(match c {
                sdk::CloseReason::Paid => h::CloseReason::Paid,
                sdk::CloseReason::WrittenOff => h::CloseReason::WrittenOff,
                sdk::CloseReason::Collections => h::CloseReason::Collections,
            }),
        })
        .collect();
    v0_3::Decision { actions, next_review: d.next_review }
}

/// `b2b-standard` compiled into the bench: views converted in, decisions out,
/// as the canonical ABI would.
fn native_b2b(sandbox: &Sandbox) -> std::sync::Arc<sollecito::sandbox::Plugin> {
    std::sync::Arc::new(sandbox.native(
        "b2b-standard",
        "0.2.0",
        Box::new(|now, settings, batch| {
            let settings =
                settings.iter().map(|s| sdk::Setting { key: s.key.clone(), value: s.value.clone() }).collect();
            sdk::evaluate_batch::<b2b_standard::B2bStandard>(now, settings, batch.iter().map(native).collect())
                .into_iter()
                .map(|r| r.map(decision_back))
                .collect()
        }),
    ))
}

/// One decision pass over `n` invoices in a new SQLite file, with the bundled
/// policy or (`native`) the same rules compiled into the bench.
fn tick(
    rt: &tokio::runtime::Runtime,
    catalog: &mut Catalog,
    native: Option<std::sync::Arc<sollecito::sandbox::Plugin>>,
    n: usize,
    now: DateTime<Utc>,
    raw: bool,
) -> (Duration, u64, Option<RawWrites>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let before = dir.path().join("before.db");
    let raw = raw && native.is_none();
    rt.block_on(async {
        let runtime = Runtime::open(&db, Config::default(), catalog).await.unwrap();
        if let Some(native) = native {
            runtime.swap_policies(|p| p.by_name.values_mut().for_each(|v| *v = native.clone()));
        }
        // In slices, so that the bench itself never holds a million invoices.
        for from in (0..n).step_by(IMPORT_SLICE) {
            let slice = invoices(from..n.min(from + IMPORT_SLICE));
            runtime.store().import(&slice, now - chrono::Duration::days(40)).await.unwrap();
        }
        // The store as it stands, for the raw writes of the same rows after the tick.
        if raw {
            raw_insert::snapshot(&db, &before);
        }
        // The peak RSS is reset so that it measures the tick alone.
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        perf("enable");
        let t = Instant::now();
        let r = runtime.decide(now, false).await.unwrap();
        let elapsed = t.elapsed();
        perf("disable");
        assert_eq!(r.evaluated, n);
        assert_eq!(r.plugin_errors, 0);
        assert!(r.reminders_queued > n / 2, "{r:?}");
        let peak = peak_rss_kb();
        runtime.store().close().await;
        let raw = raw.then(|| {
            let rows = raw_insert::TickRows::read(&db, &before);
            let (took, parts) = rows.write(&before);
            RawWrites { took, rows: rows.counts(), parts }
        });
        (elapsed, peak, raw)
    })
}

const IMPORT_SLICE: usize = 50_000;

/// The tick's rows written raw, as the store keeps them.
struct RawWrites {
    took: Duration,
    rows: String,
    /// Where the time went, by table.
    parts: String,
}

/// The peak resident set of this process (VmHWM), in kB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().unwrap()
}

/// Starts and stops a `perf record -D -1 --control fifo:FIFO` around a
/// measured part, when PERF_CTL_FIFO names the fifo.
fn perf(command: &str) {
    if let Ok(fifo) = std::env::var("PERF_CTL_FIFO") {
        std::fs::write(fifo, format!("{command}\n")).unwrap();
    }
}

struct Row {
    figure: String,
    wasm: String,
    reference: String,
    ratio: String,
    target: String,
}

impl Row {
    /// Printed as soon as measured, so that a figure survives a later one failing.
    fn shown(self) -> Row {
        println!(
            "measured: | {} | {} | {} | {} | {} |",
            self.figure, self.wasm, self.reference, self.ratio, self.target
        );
        self
    }
}

fn main() {
    let cache = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(Limits::default(), Some(cache.path().to_path_buf())).unwrap();
    let mut catalog = Catalog::new(sandbox).unwrap();
    let policy = catalog.policy("b2b-standard").unwrap();
    let now: DateTime<Utc> = "2026-10-31T09:00:00Z".parse().unwrap();
    let mut rows = vec![];
    // SOLLECITO_BENCH_FIGURES=eval,tick,emails,start,swap,report,list,python,workers,inbound,bank picks figures (default: all but the last five).
    let only = std::env::var("SOLLECITO_BENCH_FIGURES").ok();
    let named = |figure: &str| only.as_deref().is_some_and(|o| o.split(',').any(|f| f.trim() == figure));
    let wanted = |figure: &str| only.is_none() || named(figure);

    // 1. Policy evaluation, batch of 1000, through the sandbox and natively.
    let batch = views(&invoices(0..1000));
    let native_batch: Vec<sdk::InvoiceView> = batch.iter().map(native).collect();
    if wanted("eval") {
        perf("enable");
        let wasm = median(21, || {
            let r = policy.evaluate(now.timestamp(), &[], &batch);
            assert!(r.iter().all(Result::is_ok));
        });
        perf("disable");
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

        // The same rules built for contract 0.1 (the checked-in fixture) and
        // for 0.2, each through `decide`: the host's conversion of the view included.
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/contract-0.1/b2b_standard.wasm");
        let bytes = std::fs::read(&fixture).unwrap();
        let old = catalog.sandbox().load(&bytes, sollecito::sandbox::PluginSource::File(fixture)).unwrap();
        let data = invoices(0..1000);
        let reviews = data.fresh_reviews();
        let decide = |p: &sollecito::sandbox::Plugin| {
            median(21, || {
                let r = p.decide(now.timestamp(), &[], &reviews);
                assert!(r.iter().all(Result::is_ok));
            })
        };
        let (new, before) = (decide(&policy), decide(&old));
        rows.push(Row {
            figure: "policy decisions per invoice, the view converted by the host (batch of 1000, b2b-standard)".into(),
            wasm: format!("{:.0} ns contract 0.2 ({:.2}M invoices/s)", ns(new, 1000), 1e3 / ns(new, 1000)),
            reference: format!("{:.0} ns the same rules built for contract 0.1", ns(before, 1000)),
            ratio: format!("{:.2}x", new.as_secs_f64() / before.as_secs_f64()),
            target: "below 1x: 0.2 is leaner than 0.1".into(),
        });
    }

    // 2 and 6. One tick over N invoices in SQLite, and its growth with 10x invoices.
    if wanted("tick") {
        let sizes: Vec<usize> = std::env::var("SOLLECITO_BENCH_INVOICES")
            .ok()
            .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_else(|| vec![10_000, 100_000]);
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let mut ticks = vec![];
        let reference = native_b2b(catalog.sandbox());
        for &n in &sizes {
            // A small tick is timed three times (the median) so that one noisy
            // run on a shared machine does not make the growth figure.
            let mut runs = vec![tick(&rt, &mut catalog, None, n, now, true)];
            if n <= 100_000 && sizes.len() >= 2 {
                runs.push(tick(&rt, &mut catalog, None, n, now, true));
                runs.push(tick(&rt, &mut catalog, None, n, now, true));
            }
            let median = {
                let mut times: Vec<Duration> = runs.iter().map(|r| r.0).collect();
                times.sort();
                times[times.len() / 2]
            };
            let timed = if runs.len() > 1 { format!(", median of {}", runs.len()) } else { String::new() };
            let (_, peak, raw) = runs.swap_remove(0);
            let elapsed = median;
            let (native, _, _) = tick(&rt, &mut catalog, Some(reference.clone()), n, now, false);
            ticks.push((n, elapsed, peak));
            let rate = |d: Duration| n as f64 / d.as_secs_f64();
            rows.push(Row {
                figure: format!("one tick over {n} invoices in SQLite (load, evaluate, guardrails, write{timed})"),
                wasm: format!("{:.2} s ({:.0} invoices/s)", elapsed.as_secs_f64(), rate(elapsed)),
                reference: format!("{:.2} s ({:.0} invoices/s) native policy", native.as_secs_f64(), rate(native)),
                ratio: format!("{:.2}x", elapsed.as_secs_f64() / native.as_secs_f64()),
                target: "<= 2x its rows written raw (300k/s is beyond those writes here: BENCHMARKS.md)".into(),
            });
            if let Some(raw) = raw {
                rows.push(Row {
                    figure: format!(
                        "one tick over {n} invoices against writing its rows raw ({}; time: {})",
                        raw.rows, raw.parts
                    ),
                    wasm: format!("{:.2} s ({:.0} invoices/s)", elapsed.as_secs_f64(), rate(elapsed)),
                    reference: format!(
                        "{:.2} s ({:.0} invoices/s) the same rows, one transaction, SQLite's C API alone",
                        raw.took.as_secs_f64(),
                        rate(raw.took)
                    ),
                    ratio: format!("{:.2}x", elapsed.as_secs_f64() / raw.took.as_secs_f64()),
                    target: "<= 2x: the tick's distance from its own writes".into(),
                });
            }
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

        if let Some(&(n, _, peak)) = ticks.last() {
            rows.push(Row {
                figure: format!("peak RSS during the tick over {n} invoices (process, bench included)"),
                wasm: format!("{} MB", peak / 1024),
                reference: "-".into(),
                ratio: "-".into(),
                target: "<= 256 MB".into(),
            });
        }
    }

    // The tick on PostgreSQL with 1, 2 and 4 workers at once.
    if named("workers") {
        let n = std::env::var("SOLLECITO_BENCH_INVOICES").ok().and_then(|v| v.split(',').next()?.parse().ok());
        rows.extend(workers::rows(&mut catalog, n.unwrap_or(100_000), now));
    }

    // 5. Emails per second through the `email` adapter to a local SMTP server, against lettre alone.
    if wanted("emails") {
        rows.extend(emails::rows(&catalog));
    }

    // 3. Cold start of `sollecito plugins` (compiled plugins cached) against `--version`.
    if wanted("start") {
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
    }

    // 4. Live swap: compile a new policy (no cache), check it, switch it in.
    if wanted("swap") {
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
    }

    // 7. `sollecito report` over a million invoices (issue 15), only when named: it builds
    // its store first (minutes). SOLLECITO_BENCH_INVOICES sizes it too (default 1000000).
    if named("report") {
        let sizes: Vec<usize> = std::env::var("SOLLECITO_BENCH_INVOICES")
            .ok()
            .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_else(|| vec![1_000_000]);
        rows.extend(report::rows(cache.path(), &sizes, now));
    }

    // 9. A policy in Python against its Rust twin, only when named (issue 17).
    if named("python") {
        rows.extend(python::rows(cache.path(), &batch, now));
    }

    // 8. The dashboard's invoices list at 100,000 invoices (issue 16), only when named.
    if named("list") {
        rows.extend(invoices_list::rows(cache.path(), now));
    }

    // 10. 5,000 replies taken in by `sollecito inbound`, only when named (issue 30).
    if named("inbound") {
        rows.extend(inbound::rows(&mut catalog, cache.path()));
    }

    // 11. A statement of 100,000 credits matched and recorded, only when named (issue 32).
    if named("bank") {
        rows.extend(bank::rows(&mut catalog, cache.path()));
    }

    println!("\n| figure | sollecito | reference | ratio | target |\n|---|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} | {} |", r.figure, r.wasm, r.reference, r.ratio, r.target);
    }
}
