//! Figure: a bank statement matched and recorded (issue 32: 100,000
//! statement entries against 100,000 open invoices in under 10 s on SQLite).
//!
//! The store: 100,000 customers with one open invoice each (`B-000000`...),
//! imported. The statement: one camt.053.001.08 of 100,000 credits, each
//! paying one invoice in full, half naming it by its ISO 11649 creditor
//! reference (structured), half by its number in the words ("saldo fatt.
//! B-000123"). Measured: the real binary, `sollecito bank import FILE --json`,
//! wall clock, once (the store keeps what it recorded); then the same file
//! again, every entry known. The reference, in the same run: the file read
//! and its XML walked by quick-xml alone, counting the entries.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use sollecito::config::Config;
use sollecito::intake::Dataset;
use sollecito::invoice::{Customer, Invoice, InvoiceKind, InvoiceStatus};
use sollecito::{Catalog, Runtime};

use super::{Row, median};

const ENTRIES: usize = 100_000;

fn dataset() -> Dataset {
    let mut data = Dataset::default();
    let day = |d: &str| d.parse::<NaiveDate>().unwrap();
    for i in 0..ENTRIES {
        data.customers.push(Customer {
            id: format!("c-{i:06}"),
            name: format!("Cliente Numero {i} S.r.l."),
            email: Some(format!("c{i}@example.com")),
            pec: None,
            phone: None,
            postal_address: None,
            locale: "it-IT".into(),
            timezone: chrono_tz::Europe::Rome,
            segment: "b2b".into(),
            business: true,
            tags: vec![],
            customer_since: day("2020-01-01"),
            invoices_paid: 0,
            paid_on_time: 0,
            opted_out: vec![],
            dunning_stop: false,
            email_bounces: None,
        });
        data.invoices.push(Invoice {
            id: format!("b-{i:06}"),
            number: format!("B-{i:06}"),
            customer_id: format!("c-{i:06}"),
            status: InvoiceStatus::Open,
            kind: InvoiceKind::OneOff,
            currency: "EUR".into(),
            amount_due: 10_000 + (i as i64 % 5_000) * 100,
            amount_paid: 0,
            issued: day("2026-09-01"),
            due: day("2026-10-01"),
            payment_link: None,
            payment_failure: None,
            dispute: None,
            promise_to_pay: None,
            payment_method: None,
            refs: vec![],
            plan: None,
            fees: vec![],
            answered: None,
            transfer_to_confirm: None,
        });
    }
    data
}

/// ISO 11649 of an invoice number of letters and digits (at most 21): worked
/// out here from the standard, not taken from the code under measure.
fn creditor_reference(number: &str) -> String {
    let body: String = number.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_uppercase();
    let digits: String = format!("{body}RF00").chars().map(|c| c.to_digit(36).unwrap().to_string()).collect();
    let remainder = digits.bytes().fold(0u32, |r, b| (r * 10 + u32::from(b - b'0')) % 97);
    format!("RF{:02}{body}", 98 - remainder)
}

fn statement(data: &Dataset, entries: usize) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\
         <BkToCstmrStmt><GrpHdr><MsgId>BENCH-1</MsgId><CreDtTm>2026-11-03T06:00:00</CreDtTm></GrpHdr><Stmt><Id>BENCH-1</Id>\
         <Acct><Id><IBAN>IT60X0542811101000000123456</IBAN></Id></Acct>",
    );
    for (i, (inv, c)) in data.invoices.iter().zip(&data.customers).enumerate().take(entries) {
        let amount = format!("{}.{:02}", inv.amount_due / 100, inv.amount_due % 100);
        let words = if i % 2 == 0 {
            format!("<Strd><CdtrRefInf><Ref>{}</Ref></CdtrRefInf></Strd>", creditor_reference(&inv.number))
        } else {
            format!("<Ustrd>saldo fatt. {}</Ustrd>", inv.number)
        };
        xml.push_str(&format!(
            "<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
             <BookgDt><Dt>2026-11-02</Dt></BookgDt><AcctSvcrRef>BENCH-{i:06}</AcctSvcrRef><NtryDtls><TxDtls>\
             <Refs><EndToEndId>E2E-{i:06}</EndToEndId></Refs><RltdPties><Dbtr><Pty><Nm>{}</Nm></Pty></Dbtr></RltdPties>\
             <RmtInf>{words}</RmtInf></TxDtls></NtryDtls></Ntry>",
            c.name
        ));
    }
    xml.push_str("</Stmt></BkToCstmrStmt></Document>");
    xml
}

/// The reference: the file read and walked by quick-xml alone; the entries counted.
fn parse_alone(file: &Path) -> usize {
    let bytes = std::fs::read(file).unwrap();
    let mut reader = quick_xml::Reader::from_reader(bytes.as_slice());
    let (mut buf, mut entries) = (vec![], 0);
    loop {
        match reader.read_event_into(&mut buf).unwrap() {
            quick_xml::events::Event::Start(e) if e.local_name().as_ref() == b"Ntry" => entries += 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    entries
}

pub fn rows(catalog: &mut Catalog, cache: &Path) -> Vec<Row> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bank.db");
    let data = dataset();
    let setup = Instant::now();
    rt.block_on(async {
        let runtime = Runtime::open(&db, Config::default(), catalog).await.unwrap();
        runtime.store().import(&data, "2026-09-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap()).await.unwrap();
        runtime.store().close().await;
    });
    let file = dir.path().join("statement.xml");
    std::fs::write(&file, statement(&data, ENTRIES)).unwrap();
    // Memory flat: a tenth of the statement against the same book, on a copy of the store.
    let small = dir.path().join("small.xml");
    std::fs::write(&small, statement(&data, ENTRIES / 10)).unwrap();
    let small_db = dir.path().join("small.db");
    std::fs::copy(&db, &small_db).unwrap();
    println!(
        "bank: {ENTRIES} invoices imported and a statement of {:.0} MB written in {:.1} s",
        std::fs::metadata(&file).unwrap().len() as f64 / 1e6,
        setup.elapsed().as_secs_f64()
    );
    assert_eq!(parse_alone(&file), ENTRIES);
    let reference = median(3, || assert_eq!(parse_alone(&file), ENTRIES));

    // Under GNU time where there is one, for the process's peak resident memory.
    let peak = dir.path().join("peak");
    let timed = std::path::Path::new("/usr/bin/time").exists();
    let import = |db: &Path, file: &Path| {
        let t = Instant::now();
        let mut command = if timed {
            let mut c = Command::new("/usr/bin/time");
            c.args(["-f", "%M", "-o", peak.to_str().unwrap(), env!("CARGO_BIN_EXE_sollecito")]);
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_sollecito"))
        };
        let out = command
            .args(["--db", db.to_str().unwrap(), "bank", "import", file.to_str().unwrap()])
            .args(["--at", "2026-11-03T06:00:00Z", "--json"])
            .env("SOLLECITO_CACHE_DIR", cache)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success());
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let kib: Option<f64> = std::fs::read_to_string(&peak).ok().and_then(|s| s.trim().parse().ok());
        (t.elapsed(), json[0]["imported"].clone(), kib.map(|k| k / 1024.0))
    };
    let (_, tenth, small_peak) = import(&small_db, &small);
    assert_eq!(tenth["paid"], ENTRIES / 10, "{tenth}");
    let (measured, first, big_peak) = import(&db, &file);
    assert_eq!(first["paid"], ENTRIES, "every credit pays its invoice: {first}");
    let (again, second, _) = import(&db, &file);
    assert_eq!(second["known"], ENTRIES, "the same file again records nothing: {second}");
    if let (Some(small_peak), Some(big_peak)) = (small_peak, big_peak) {
        println!(
            "bank: peak memory {big_peak:.0} MB for the whole statement, {small_peak:.0} MB for a tenth of it ({:.2}x for 10x the entries)",
            big_peak / small_peak
        );
    }

    let rate = |d: Duration| ENTRIES as f64 / d.as_secs_f64();
    println!(
        "bank: {ENTRIES} entries matched and recorded in {:.2} s ({:.0}/s); again, all known, {:.2} s; parsing alone {:.3} s",
        measured.as_secs_f64(),
        rate(measured),
        again.as_secs_f64(),
        reference.as_secs_f64()
    );
    vec![Row::shown(Row {
        figure: "a camt.053 of 100,000 credits matched to 100,000 open invoices and recorded, on SQLite".into(),
        wasm: format!("{:.2} s ({:.0}/s)", measured.as_secs_f64(), rate(measured)),
        reference: format!("{:.3} s parsing alone", reference.as_secs_f64()),
        ratio: format!("{:.1}x", measured.as_secs_f64() / reference.as_secs_f64()),
        target: "< 10 s".into(),
    })]
}
