//! Bank statements not written here (tests/data/bank, SOURCES.md says
//! whence): statements a third-party camt library wrote for a small book of
//! ours, and banks' and the standard's published samples, each imported in
//! overlapping pieces and again. Every credit is recorded once; what the
//! generated ones pay, and what each sample holds, was read off the files by
//! hand. The samples pay invoices we do not have: nothing is paid, their
//! credits wait for a person.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::common::*;
use crate::pipeline::Site;

/// What an import did, by count.
const COUNTS: [&str; 10] =
    ["entries", "known", "changed", "paid", "unsure", "unmatched", "already_paid", "debits", "reversed", "returned"];

fn data(name: &str) -> String {
    root().join("tests/data/bank").join(name).display().to_string()
}

/// `bank import` of one file: what it did, and its counts in the order of `COUNTS`.
fn import(site: &Site, file: &str, at: &str) -> (Value, Vec<u64>) {
    let done = site.json(&["bank", "import", &data(file), "--at", at])[0]["imported"].clone();
    let counts = COUNTS.iter().map(|k| done[*k].as_u64().unwrap_or_else(|| panic!("{k} in {done}"))).collect();
    (done, counts)
}

/// Every entry recorded: key to (minor units, currency, state).
fn recorded(site: &Site) -> BTreeMap<String, (i64, String, String)> {
    let rows = site.json(&["bank", "list", "--all"]);
    let rows = rows.as_array().unwrap();
    let all: BTreeMap<String, (i64, String, String)> = rows
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap().to_string();
            (text("key"), (r["amount"].as_i64().unwrap(), text("currency"), text("state")))
        })
        .collect();
    assert_eq!(all.len(), rows.len(), "each entry once");
    all
}

/// Each invoice: (id, status, what it still owes in minor units).
fn invoices(site: &Site) -> Vec<(String, String, i64)> {
    let db = Db::new(&site.db());
    let status = db.strings("SELECT status FROM invoices ORDER BY id");
    let data = db.strings("SELECT data FROM invoices ORDER BY id");
    status
        .into_iter()
        .zip(data)
        .map(|(status, data)| {
            let v: Value = serde_json::from_str(&data).unwrap();
            let fees: i64 = v["fees"].as_array().map_or(0, |f| f.iter().map(|x| x["amount"].as_i64().unwrap()).sum());
            let owed = v["amount_due"].as_i64().unwrap() + fees - v["amount_paid"].as_i64().unwrap();
            (v["id"].as_str().unwrap().to_string(), status, owed)
        })
        .collect()
}

fn booked_site() -> Site {
    let site = Site::new();
    site.ok(&["import", &data("generated/book.json"), "--at", "2026-10-01T08:00:00Z"]);
    site
}

/// The book as generate.py works it out: 2001 to 2003 paid, 2004 owing 1750.00 of
/// 3000.00, 2005 untouched; five payments, each once; Mario Bianchi's 75.00 for a person.
fn paid_as_worked_out(site: &Site) {
    let owed: Vec<(&str, &str, i64)> = vec![
        ("inv-2001", "paid", 0),
        ("inv-2002", "paid", 0),
        ("inv-2003", "paid", 0),
        ("inv-2004", "open", 175_000),
        ("inv-2005", "open", 64_000),
    ];
    let got = invoices(site);
    let got: Vec<(&str, &str, i64)> = got.iter().map(|(i, s, o)| (i.as_str(), s.as_str(), *o)).collect();
    assert_eq!(got, owed);
    let db = Db::new(&site.db());
    let events = db.strings("SELECT invoice_id FROM events WHERE kind = 'payment-received' ORDER BY invoice_id");
    assert_eq!(events, ["inv-2001", "inv-2002", "inv-2002", "inv-2003", "inv-2004"]);
    let mut payments =
        db.strings("SELECT entry_key || ' ' || invoice_id || ' ' || CAST(amount AS TEXT) FROM bank_payments");
    payments.sort();
    assert_eq!(
        payments,
        [
            "AcctSvcrRef:BK26-1102-0001 inv-2001 150000",
            "AcctSvcrRef:BK26-1103-0001 inv-2002 120000",
            "AcctSvcrRef:BK26-1103-0002-1 inv-2003 80000",
            "AcctSvcrRef:BK26-1103-0002-2 inv-2004 125000",
            "E2E:BETA-PAY-77@2026-11-02/CRDT/100000EUR inv-2002 100000",
        ]
    );
    let all = recorded(site);
    assert_eq!(all.len(), 7, "{all:?}");
    let states: BTreeMap<&str, usize> = all.values().fold(BTreeMap::new(), |mut n, (_, _, state)| {
        *n.entry(state.as_str()).or_default() += 1;
        n
    });
    assert_eq!(states, BTreeMap::from([("debit", 1), ("matched", 5), ("unmatched", 1)]));
    // The credit with no reference at all, known by its facts in both files.
    let waiting = site.json(&["bank", "list"]);
    let waiting = waiting.as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let (key, amount, debtor) = (waiting[0]["key"].as_str().unwrap(), &waiting[0]["amount"], &waiting[0]["debtor"]);
    assert!(key.starts_with("Ntry:2026-11-02/"), "{key}");
    assert_eq!((amount.as_i64(), debtor.as_str()), (Some(7_500), Some("Mario Bianchi")));
}

#[test]
fn a_generated_notification_then_its_statement_twice_record_each_credit_once() {
    let site = booked_site();
    let (monday, counts) = import(&site, "generated/camt054-monday.xml", "2026-11-02T18:00:00Z");
    assert_eq!(monday["kind"], "camt.054.001.08");
    assert_eq!(counts, [3, 0, 0, 2, 0, 1, 0, 0, 0, 0], "{monday}");
    assert_eq!(monday["amount_paid"]["EUR"], 250_000, "1500.00 and 1000.00 by their RF references");
    // Wednesday's statement of Monday and Tuesday: Monday's three known, numbered otherwise.
    let (statement, counts) = import(&site, "generated/camt053-monday-tuesday.xml", "2026-11-04T06:00:00Z");
    assert_eq!(statement["kind"], "camt.053.001.02");
    assert_eq!(counts, [7, 3, 0, 3, 0, 0, 0, 1, 0, 0], "{statement}");
    assert_eq!(statement["amount_paid"]["EUR"], 325_000, "1200.00, 800.00 and 1250.00 by the numbers in their words");
    let (again, counts) = import(&site, "generated/camt053-monday-tuesday.xml", "2026-11-04T07:00:00Z");
    assert_eq!(counts, [7, 7, 0, 0, 0, 0, 0, 0, 0, 0], "{again}");
    paid_as_worked_out(&site);
}

#[test]
fn the_generated_statement_then_the_days_notification_record_each_credit_once() {
    let site = booked_site();
    let (statement, counts) = import(&site, "generated/camt053-monday-tuesday.xml", "2026-11-04T06:00:00Z");
    assert_eq!(counts, [7, 0, 0, 5, 0, 1, 0, 1, 0, 0], "{statement}");
    assert_eq!(statement["amount_paid"]["EUR"], 575_000);
    for at in ["2026-11-04T06:10:00Z", "2026-11-04T06:20:00Z"] {
        let (late, counts) = import(&site, "generated/camt054-monday.xml", at);
        assert_eq!(counts, [3, 3, 0, 0, 0, 0, 0, 0, 0, 0], "{late}");
    }
    paid_as_worked_out(&site);
}

/// A published sample as read by hand: its kind, its bookings (a batch's
/// transactions each), the counts of its first import, and the sums of its
/// credits and of its debits per currency (minor units).
struct Sample {
    files: &'static [(&'static str, &'static str, [u64; 10])],
    bookings: usize,
    credits: &'static [(&'static str, usize, i64)],
    debits: &'static [(&'static str, usize, i64)],
}

/// Counts of a first import: entries, unmatched (credits, and reversals of nothing recorded), debits, known.
const fn first(entries: u64, unmatched: u64, debits: u64, known: u64) -> [u64; 10] {
    [entries, known, 0, 0, 0, unmatched, 0, debits, 0, 0]
}

const SAMPLES: [Sample; 8] = [
    // PostFinance: the notifications of 2016-04-10 and 2016-05-27, then the statement that books them again.
    Sample {
        files: &[
            ("postfinance-camt.054.001.04.xml", "camt.054.001.04", first(5, 5, 0, 0)),
            ("postfinance-camt.054.001.04-es.xml", "camt.054.001.04", first(8, 8, 0, 0)),
            ("postfinance-camt.053.001.04.xml", "camt.053.001.04", first(32, 13, 6, 13)),
        ],
        bookings: 32,
        credits: &[("CHF", 24, 181_056)],
        debits: &[("CHF", 8, 127_295)],
    },
    Sample {
        files: &[("postfinance-camt.054.001.08-qr.xml", "camt.054.001.08", first(2, 2, 0, 0))],
        bookings: 2,
        credits: &[("CHF", 2, 169_222)],
        debits: &[],
    },
    Sample {
        files: &[("iso-business-example-camt.053.001.04.xml", "camt.053.001.04", first(3, 2, 1, 0))],
        bookings: 3,
        credits: &[("SEK", 2, 13_567_850)],
        debits: &[("SEK", 1, 20_000_000)],
    },
    // The pending credit of CHF 2.00 is not booked; the credit of 111.00 is a
    // reversal (`RvslInd`): a debit of ours sent back, no customer's money.
    Sample {
        files: &[("dvbern-camt.054.001.04-pending.xml", "camt.054.001.04", [2, 0, 0, 0, 0, 0, 0, 1, 0, 1])],
        bookings: 2,
        credits: &[],
        debits: &[("CHF", 2, 11_400)],
    },
    Sample {
        files: &[("vr-bank-camt.053.001.02.xml", "camt.053.001.02", first(5, 1, 4, 0))],
        bookings: 5,
        credits: &[("EUR", 1, 100)],
        debits: &[("EUR", 4, 1_100)],
    },
    Sample {
        files: &[("swiss-camt.053.001.08.xml", "camt.053.001.08", first(3, 2, 1, 0))],
        bookings: 3,
        credits: &[("CHF", 2, 56_325)],
        debits: &[("EUR", 1, 2_097)],
    },
    // The credit of 4500.00, not the 0.04 its transaction says.
    Sample {
        files: &[("swiss-txamt-camt.053.001.02.xml", "camt.053.001.02", first(1, 1, 0, 0))],
        bookings: 1,
        credits: &[("CHF", 1, 450_000)],
        debits: &[],
    },
    Sample {
        files: &[("stuzza-camt.053.001.02.xml", "camt.053.001.02", first(3, 3, 0, 0))],
        bookings: 3,
        credits: &[("EUR", 3, 40_000)],
        debits: &[],
    },
];

/// (currency, how many, sum) of the entries in these states.
fn sums(rows: &[&(i64, String, String)], states: &[&str]) -> Vec<(String, usize, i64)> {
    let mut by: BTreeMap<String, (usize, i64)> = BTreeMap::new();
    for (amount, currency, _) in rows.iter().filter(|(_, _, s)| states.contains(&s.as_str())) {
        let e = by.entry(currency.clone()).or_default();
        *e = (e.0 + 1, e.1 + amount);
    }
    by.into_iter().map(|(c, (n, sum))| (c, n, sum)).collect()
}

#[test]
fn published_samples_read_whole_pay_nothing_here_and_record_nothing_twice() {
    let site = booked_site();
    let book = invoices(&site);
    let mut hour = 0;
    let mut at = || {
        hour += 1;
        format!("2026-11-05T{:02}:00:00Z", hour % 24)
    };
    for sample in &SAMPLES {
        let before: BTreeSet<String> = recorded(&site).into_keys().collect();
        for (file, kind, counts) in sample.files {
            let (done, got) = import(&site, file, &at());
            assert_eq!((done["kind"].as_str(), &got), (Some(*kind), &counts.to_vec()), "{file}: {done}");
        }
        let all = recorded(&site);
        let rows: Vec<&(i64, String, String)> =
            all.iter().filter(|(k, _)| !before.contains(*k)).map(|(_, r)| r).collect();
        let name = sample.files.last().unwrap().0;
        assert_eq!(rows.len(), sample.bookings, "{name}");
        let want = |w: &[(&str, usize, i64)]| w.iter().map(|(c, n, s)| (c.to_string(), *n, *s)).collect::<Vec<_>>();
        // Credits of invoices we do not have: each unmatched, none paid nor for a person to pick among ours.
        assert_eq!(sums(&rows, &["unmatched"]), want(sample.credits), "{name}");
        assert_eq!(sums(&rows, &["debit", "reversal", "returned"]), want(sample.debits), "{name}");
        // Again, each file: all known, nothing recorded.
        for (file, _, counts) in sample.files {
            let (again, got) = import(&site, file, &at());
            assert_eq!(got, [counts[0], counts[0], 0, 0, 0, 0, 0, 0, 0, 0], "{file} again: {again}");
        }
        assert_eq!(recorded(&site), all, "{name}: nothing more, nothing changed");
    }
    assert_eq!(invoices(&site), book, "nothing paid");
    let db = Db::new(&site.db());
    assert!(db.strings("SELECT invoice_id FROM events WHERE kind = 'payment-received'").is_empty());
    let waiting = site.json(&["bank", "list"]);
    let credits: usize = SAMPLES.iter().flat_map(|s| s.credits.iter().map(|(_, n, _)| n)).sum();
    assert_eq!(waiting.as_array().unwrap().len(), credits, "every credit for a person, once");
}
