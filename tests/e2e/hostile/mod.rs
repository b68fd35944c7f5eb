//! Generated hostile input for every parser (issue 13, item 7): the invoice
//! JSON and CSV import, the config TOML, the API bodies and the Stripe
//! webhook. Property tests with proptest on the stable toolchain, a fixed
//! seed (the same cases on every run) and a bounded count.
//!
//! Inputs are the real examples, mutated: values replaced by strings with
//! control characters, CR/LF, NUL, very long or odd unicode text, numbers
//! out of range and values of the wrong type; fields removed or added;
//! hostile text spliced into strings and into the raw text. Whatever comes
//! in, nothing panics, nothing answers 5xx, every refusal names where it is
//! (a location, a line, a field), a refused request changes nothing in the
//! store, and what is accepted keeps the rules every record must keep.

use std::fmt::Debug;
use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::{Value, json};
use sollecito::event::Event;
use sollecito::intake::{self, BadInput, Dataset, is_id};

use crate::common::root;
use crate::pipeline::Site;
use crate::serve::{STRIPE, Service, TOKEN, fixture};

// ---------------------------------------------------------------------------
// The runner: fixed seed, bounded count, no files left behind.

/// Runs `test` on `cases` inputs from `strategy`, always the same ones; on a
/// failure, panics with the smallest failing input proptest found.
/// What became of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Accepted,
    /// Acknowledged without a change (a Stripe event not ours, a duplicate, a stale one).
    Ignored,
    Refused,
}

/// Runs `test` on `cases` inputs from `strategy`, always the same ones; on a
/// failure, panics with the smallest failing input proptest found.
fn check<S>(name: &str, cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<Verdict, String>)
where
    S: Strategy,
    S::Value: Debug,
{
    if let Err(failure) = try_check(name, cases, strategy, test) {
        panic!("{failure}");
    }
}

/// The same, answering the failure (so that one route's finding does not hide another's).
fn try_check<S>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<Verdict, String>,
) -> Result<(), String>
where
    S: Strategy,
    S::Value: Debug,
{
    // A deeper or different search by hand: PROPTEST_CASES=5000 HOSTILE_SEED=42 cargo test ... hostile::
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(cases);
    let mut seed = [7u8; 32];
    if let Some(n) = std::env::var("HOSTILE_SEED").ok().and_then(|n| n.parse::<u64>().ok()) {
        seed[..8].copy_from_slice(&n.to_le_bytes());
    }
    let config = RunnerConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        failure_persistence: None,
        max_shrink_iters: 512,
        max_shrink_time: 20_000,
        ..RunnerConfig::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let started = Instant::now();
    let counts = std::sync::Mutex::new(std::collections::BTreeMap::<Verdict, u32>::new());
    let result = runner.run(&strategy, |value| {
        // A panic is a finding like any other: reported with its input, then shrunk.
        match catch_unwind(AssertUnwindSafe(|| test(value))) {
            Ok(Ok(verdict)) => {
                *counts.lock().unwrap().entry(verdict).or_default() += 1;
                Ok(())
            }
            Ok(Err(why)) => Err(TestCaseError::fail(why)),
            Err(panic) => Err(TestCaseError::fail(format!("panicked: {}", panic_message(&panic)))),
        }
    });
    let counts = counts.into_inner().unwrap();
    eprintln!("hostile {name}: {cases} cases in {:.1} s: {counts:?}", started.elapsed().as_secs_f64());
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(why, value)) => {
            let value: String = format!("{value:?}").chars().take(3000).collect();
            Err(format!("{name}: {why}\nminimal input (as generated): {value}"))
        }
        Err(TestError::Abort(why)) => Err(format!("{name}: aborted: {why}")),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// Text for a failure message: long inputs cut, control characters visible.
fn show(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 700 {
        return format!("{text:?}");
    }
    let head: String = chars[..500].iter().collect();
    let tail: String = chars[chars.len() - 150..].iter().collect();
    format!("{head:?} ... ({} chars) ... {tail:?}", chars.len())
}

// ---------------------------------------------------------------------------
// Hostile text and values.

/// Strings that break parsers, headers, paths and templates.
const HOSTILE: &[&str] = &[
    "",
    " ",
    "\t",
    "\r\n",
    "\n",
    "\r",
    "\0",
    "a\0b",
    "x@example.com\r\nBcc: victim@example.com",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
    "\u{202e}",
    "\u{feff}",
    "\u{200b}",
    "\u{fffd}",
    "\u{10ffff}",
    "e\u{301}\u{301}\u{301}",
    "😀",
    "日本語",
    "../../etc/passwd",
    "..\\..\\x",
    "/",
    "%00",
    "%2e%2e%2f",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "{% raw %}",
    "'; DROP TABLE invoices; --",
    "\"",
    "\\",
    "zz_ZZ@@",
    "channel:email",
    "-1",
    "-0",
    "0",
    "1e3",
    "1e400",
    "99999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "92233720368547758.08",
    "0.001",
    "1.",
    ".5",
    "1.2.3",
    "+5",
    " 5 ",
    "1_000",
    "١٢٣",
    "NaN",
    "inf",
    "2026-02-30",
    "2026-13-01",
    "0000-01-01",
    "9999-12-31",
    "+262143-12-31",
    "-0001-01-01",
    "2026-1-1",
    "2026-10-01T25:61:00Z",
    "2026-10-01T00:00:00+99:00",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "24:00",
    "23:59:60",
];

/// Words the parsers know: field names, types, statuses, currencies, zones.
const WORDS: &[&str] = &[
    "open",
    "paid",
    "void",
    "written-off",
    "uncollectible",
    "draft",
    "one-off",
    "subscription-renewal",
    "payment-received",
    "payment-failed",
    "dispute-opened",
    "dispute-closed",
    "promise-to-pay",
    "stop",
    "unstop",
    "opt-out",
    "fee-added",
    "plan-accepted",
    "email",
    "sms",
    "letter",
    "phone",
    "webhook",
    "pec",
    "EUR",
    "eur",
    "JPY",
    "KWD",
    "XXX",
    "EUX",
    "Europe/Rome",
    "Moon/Base",
    "UTC",
    "it-IT",
    "en",
    "it_IT",
    "b2b",
    "default",
    "https://pay.example/x",
    "http://pay.example/x",
    "ftp://pay.example/x",
    "mario@example.it",
    "2026-10-01",
    "2026-10-01T06:00:00Z",
    "1250.00",
    "inv-1001",
    "cus-rossi",
    "c1",
    "i1",
    "true",
    "false",
];

fn hostile_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(HOSTILE).prop_map(String::from),
        2 => select(WORDS).prop_map(String::from),
        3 => vec(any::<char>(), 0..24).prop_map(|c| c.into_iter().collect()),
        1 => (select(&[129usize, 300, 5_000, 70_000][..]), select(&['x', 'é', '\n', '😀'][..]))
            .prop_map(|(n, c)| c.to_string().repeat(n)),
        3 => (select(WORDS), select(HOSTILE), any::<usize>()).prop_map(|(w, h, at)| splice(w, at, h)),
    ]
    .boxed()
}

/// `piece` inserted into `text` at a character boundary chosen by `at`.
fn splice(text: &str, at: usize, piece: &str) -> String {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let at = bounds[at % bounds.len()];
    format!("{}{piece}{}", &text[..at], &text[at..])
}

fn hostile_value() -> BoxedStrategy<Value> {
    let odd = vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(1),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1e300),
        json!(-1e-300),
        json!(0.5),
        json!(1_000_000_000_000i64),
        json!([]),
        json!(["x"]),
        json!([null]),
        json!({}),
        json!({"type": "paid"}),
    ];
    prop_oneof![
        6 => hostile_text().prop_map(Value::String),
        3 => select(odd),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
    ]
    .boxed()
}

/// Field names worth adding: the known ones (a missing field supplied, a
/// field of another record) and unknown ones.
const FIELDS: &[&str] = &[
    "id",
    "name",
    "email",
    "phone",
    "locale",
    "timezone",
    "segment",
    "tags",
    "opted_out",
    "customer",
    "currency",
    "amount_due",
    "amount_paid",
    "status",
    "kind",
    "payment_link",
    "issued",
    "due",
    "type",
    "amount",
    "until",
    "channel",
    "decline_code",
    "reason",
    "fee",
    "plan",
    "invoice",
    "on",
    "customers",
    "invoices",
    "events",
    "colour",
    "__proto__",
    "",
    "\u{0}",
];

// ---------------------------------------------------------------------------
// Mutations of a JSON document.

#[derive(Debug, Clone)]
enum Op {
    /// The node (numbered in document order, modulo their count) becomes this value.
    Replace(usize, Value),
    /// The node leaves its object or array.
    Remove(usize),
    /// A field is added to the object (or an element to the array).
    Insert(usize, &'static str, Value),
    /// Hostile text inside a string node.
    Splice(usize, usize, String),
    /// An array element twice.
    Duplicate(usize),
}

fn op() -> BoxedStrategy<Op> {
    prop_oneof![
        5 => (any::<usize>(), hostile_value()).prop_map(|(n, v)| Op::Replace(n, v)),
        2 => any::<usize>().prop_map(Op::Remove),
        2 => (any::<usize>(), select(FIELDS), hostile_value()).prop_map(|(n, f, v)| Op::Insert(n, f, v)),
        4 => (any::<usize>(), any::<usize>(), hostile_text()).prop_map(|(n, at, t)| Op::Splice(n, at, t)),
        1 => any::<usize>().prop_map(Op::Duplicate),
    ]
    .boxed()
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn nodes(v: &Value, at: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    out.push(at.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                at.push(Seg::Key(k.clone()));
                nodes(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(Seg::Index(i));
                nodes(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    path.iter().fold(v, |v, seg| match seg {
        Seg::Key(k) => &mut v[k.as_str()],
        Seg::Index(i) => &mut v[*i],
    })
}

fn mutate(doc: &mut Value, op: &Op) {
    let mut all = vec![];
    nodes(doc, &mut vec![], &mut all);
    let pick = |n: usize| all[n % all.len()].clone();
    match op {
        Op::Replace(n, value) => *node_mut(doc, &pick(*n)) = value.clone(),
        Op::Remove(n) => {
            let path = pick(*n);
            if let Some((last, parent)) = path.split_last() {
                match (node_mut(doc, parent), last) {
                    (Value::Object(map), Seg::Key(k)) => {
                        map.remove(k);
                    }
                    (Value::Array(items), Seg::Index(i)) => {
                        items.remove(*i);
                    }
                    _ => {}
                }
            }
        }
        Op::Insert(n, field, value) => match node_mut(doc, &pick(*n)) {
            Value::Object(map) => {
                map.insert(field.to_string(), value.clone());
            }
            Value::Array(items) => items.push(value.clone()),
            _ => {}
        },
        Op::Splice(n, at, text) => {
            if let Value::String(s) = node_mut(doc, &pick(*n)) {
                *s = splice(s, *at, text);
            }
        }
        Op::Duplicate(n) => {
            if let Value::Array(items) = node_mut(doc, &pick(*n))
                && !items.is_empty()
            {
                let copy = items[n % items.len()].clone();
                items.push(copy);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Mutations of raw text (after the structure): syntax breaks.

#[derive(Debug, Clone)]
enum TextOp {
    Truncate(usize),
    Insert(usize, String),
    Delete(usize, usize),
}

/// Pieces that break JSON, CSV and TOML syntax.
const SYNTAX: &[&str] = &[
    "\"", "'", ",", ";", "{", "}", "[", "]", "=", ":", "\n", "\r", "\r\n", "\0", "\\", "\\u0000", "\\ud800", "\\uDFFF",
    "1e400", "-", "/*", "#", "[[x]]", "\"\"\"", "\u{feff}", "\u{2028}", "nul", "true", "null",
];

fn text_op() -> BoxedStrategy<TextOp> {
    prop_oneof![
        1 => any::<usize>().prop_map(TextOp::Truncate),
        3 => (any::<usize>(), prop_oneof![select(SYNTAX).prop_map(String::from), hostile_text()])
            .prop_map(|(at, t)| TextOp::Insert(at, t)),
        1 => (any::<usize>(), 1usize..40).prop_map(|(at, n)| TextOp::Delete(at, n)),
    ]
    .boxed()
}

impl TextOp {
    fn apply(&self, text: &mut String) {
        let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        let at = |n: usize| bounds[n % bounds.len()];
        match self {
            TextOp::Truncate(n) => text.truncate(at(*n)),
            TextOp::Insert(n, piece) => text.insert_str(at(*n), piece),
            TextOp::Delete(n, len) => {
                let i = n % bounds.len();
                let (from, to) = (bounds[i], bounds[(i + len).min(bounds.len() - 1)]);
                text.replace_range(from..to, "");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// What every accepted record keeps (issue 13 item 3, loosely: any sound
// validation passes these, whatever its exact rules).

fn field_rules(what: &str, customer: Option<&Value>, invoice: Option<&Value>) -> Result<(), String> {
    let has_control = |s: &str| s.chars().any(char::is_control);
    if let Some(c) = customer {
        if let Some(id) = c["id"].as_str()
            && !is_id(id)
        {
            return Err(format!("{what}: customer id {} accepted", show(id)));
        }
        if let Some(email) = c["email"].as_str()
            && (has_control(email) || !email.contains('@'))
        {
            return Err(format!("{what}: email {} accepted", show(email)));
        }
        if let Some(locale) = c["locale"].as_str()
            && (locale.is_empty() || !locale.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-'))
        {
            return Err(format!("{what}: locale {} accepted (not BCP 47)", show(locale)));
        }
        // Channels and segments are names: a short slug (README, issue 13 item 2).
        let slug = |name: &str| {
            let mut chars = name.chars();
            chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && name.len() <= 64
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        };
        for channel in c["opted_out"].as_array().into_iter().flatten() {
            let channel = channel.as_str().unwrap_or_default();
            if !slug(channel) {
                return Err(format!("{what}: opt-out channel {} accepted", show(channel)));
            }
        }
        if let Some(segment) = c["segment"].as_str()
            && !slug(segment)
        {
            return Err(format!("{what}: segment {} accepted", show(segment)));
        }
    }
    if let Some(i) = invoice {
        if let Some(id) = i["id"].as_str()
            && !is_id(id)
        {
            return Err(format!("{what}: invoice id {} accepted", show(id)));
        }
        let (due, paid) = (i["amount_due"].as_i64(), i["amount_paid"].as_i64());
        if due.is_some_and(|d| d < 0) || paid.is_some_and(|p| p < 0) {
            return Err(format!("{what}: negative amount accepted: due {due:?}, paid {paid:?}"));
        }
        if let Some(link) = i["payment_link"].as_str() {
            let lower = link.to_ascii_lowercase();
            if has_control(link) || !(lower.starts_with("https://") || lower.starts_with("http://")) {
                return Err(format!("{what}: payment link {} accepted", show(link)));
            }
        }
    }
    Ok(())
}

/// An accepted dataset: ids, references, amounts and fields all sound.
fn dataset_rules(data: &Dataset) -> Result<(), String> {
    let mut customers = std::collections::HashSet::new();
    for c in &data.customers {
        if !customers.insert(c.id.as_str()) {
            return Err(format!("customer {} twice", show(&c.id)));
        }
        field_rules("dataset", Some(&serde_json::to_value(c).unwrap()), None)?;
    }
    let mut invoices = std::collections::HashSet::new();
    for i in &data.invoices {
        if !invoices.insert(i.id.as_str()) {
            return Err(format!("invoice {} twice", show(&i.id)));
        }
        if !customers.contains(i.customer_id.as_str()) {
            return Err(format!("invoice {} of unknown customer {}", show(&i.id), show(&i.customer_id)));
        }
        if i.amount_paid > i.amount_due {
            return Err(format!("invoice {}: {} paid of {} due", show(&i.id), i.amount_paid, i.amount_due));
        }
        field_rules("dataset", None, Some(&serde_json::to_value(i).unwrap()))?;
    }
    for e in &data.events {
        if !invoices.contains(e.invoice_id.as_str()) {
            return Err(format!("event for unknown invoice {}", show(&e.invoice_id)));
        }
        match &e.event {
            Event::PaymentReceived { amount } if *amount < 0 => {
                return Err(format!("event payment-received of {amount} accepted"));
            }
            Event::FeeAdded { fee } if fee.amount < 0 => {
                return Err(format!("event fee-added of {} accepted", fee.amount));
            }
            Event::OptOut { channel } => {
                field_rules("dataset event", Some(&json!({ "opted_out": [channel] })), None)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// An import's outcome: a refusal names each problem where it is; an acceptance keeps the rules.
fn import_outcome(
    outcome: Result<Dataset, &BadInput>,
    file: &str,
    located: impl Fn(&str) -> bool,
    input: &str,
) -> Result<Verdict, String> {
    match outcome {
        Ok(data) => {
            dataset_rules(&data).map_err(|why| format!("{why}; input {}", show(input)))?;
            Ok(Verdict::Accepted)
        }
        Err(bad) => {
            if bad.file != file {
                return Err(format!("the error names the file {:?}, not {file:?}", bad.file));
            }
            if bad.problems.is_empty() {
                return Err(format!("refused without a problem; input {}", show(input)));
            }
            for p in &bad.problems {
                if !located(&p.location) || p.reason.trim().is_empty() {
                    return Err(format!("a problem without its place: {p:?}; input {}", show(input)));
                }
            }
            Ok(Verdict::Refused)
        }
    }
}

mod api;
mod config;
mod files;
mod mail;
