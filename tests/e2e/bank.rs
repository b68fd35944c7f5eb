//! Bank statements, end to end: a transfer Rossi made on Monday with the RF
//! reference of their invoice is matched from Tuesday's camt.053 before
//! Tuesday's tick, which sends Rossi nothing; the Monday evening camt.054 of
//! the same transfer and the statement imported twice record it once; an
//! invoice number in the words pays Bianchi; a stranger's "rif. 1003" waits
//! for a person, who confirms it; a reversal undoes a payment; a DTD or an
//! unknown version is refused whole, nothing recorded.

use crate::common::*;
use crate::pipeline::Site;

/// An entry of a statement: (bank reference, amount, debit?, reversal?, debtor, remittance, structured ref, end-to-end).
pub(crate) type Line<'a> = (&'a str, &'a str, bool, bool, &'a str, &'a str, &'a str, &'a str);

/// A camt message written by hand in the standard's shape, version 08.
pub(crate) fn camt(kind: &str, id: &str, booked: &str, lines: &[Line<'_>]) -> String {
    let entries: String = lines
        .iter()
        .map(|(bank_ref, amount, debit, reversal, debtor, words, rf, e2e)| {
            let side = if *debit { "DBIT" } else { "CRDT" };
            let rvsl = if *reversal { "<RvslInd>true</RvslInd>" } else { "" };
            let strd = if rf.is_empty() { String::new() } else { format!("<Strd><CdtrRefInf><Ref>{rf}</Ref></CdtrRefInf></Strd>") };
            let ustrd = if words.is_empty() { String::new() } else { format!("<Ustrd>{words}</Ustrd>") };
            let dbtr = if debtor.is_empty() { String::new() } else { format!("<RltdPties><Dbtr><Pty><Nm>{debtor}</Nm></Pty></Dbtr></RltdPties>") };
            format!(
                "<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>{side}</CdtDbtInd>{rvsl}<Sts><Cd>BOOK</Cd></Sts>\
                 <BookgDt><Dt>{booked}</Dt></BookgDt><AcctSvcrRef>{bank_ref}</AcctSvcrRef><NtryDtls><TxDtls>\
                 <Refs><EndToEndId>{e2e}</EndToEndId></Refs>{dbtr}<RmtInf>{ustrd}{strd}</RmtInf></TxDtls></NtryDtls></Ntry>"
            )
        })
        .collect();
    let (root, body) = if kind == "053" { ("BkToCstmrStmt", "Stmt") } else { ("BkToCstmrDbtCdtNtfctn", "Ntfctn") };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.{kind}.001.08\">\
         <{root}><GrpHdr><MsgId>{id}</MsgId><CreDtTm>{booked}T06:00:00</CreDtTm></GrpHdr><{body}><Id>{id}</Id>\
         <Acct><Id><IBAN>IT60X0542811101000000123456</IBAN></Id></Acct>{entries}</{body}></{root}></Document>"
    )
}

pub(crate) const ROSSI: Line<'static> =
    ("BANK-1", "1250.00", false, false, "Rossi Impianti S.r.l.", "", "RF52 FT20 2610 01", "E2E-R1");
const BIANCHI: Line<'static> =
    ("BANK-2", "2400.00", false, false, "BIANCHI &amp; FIGLI SNC", "saldo fatt. FT-2026/1002", "", "E2E-B1");
pub(crate) const STRANGER: Line<'static> = ("BANK-3", "500.00", false, false, "Mario Verdi", "rif. 1003", "", "E2E-V1");
const FEES: Line<'static> = ("BANK-4", "80.00", true, false, "", "canone conto", "", "NOTPROVIDED");
pub(crate) const NOBODY: Line<'static> = ("BANK-5", "42.00", false, false, "", "grazie", "", "NOTPROVIDED");

pub(crate) fn import(site: &Site, name: &str, xml: &str, at: &str) -> serde_json::Value {
    let file = site.write(name, xml);
    let out = site.json(&["bank", "import", file.to_str().unwrap(), "--at", at]);
    out[0]["imported"].clone()
}

#[test]
fn a_transfer_in_the_morning_statement_stops_the_days_reminder_and_is_recorded_once() {
    let site = Site::new();
    let examples = root().join("examples/invoices.json").display().to_string();
    site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
    site.ok(&["run", "--at", "2026-10-26T09:00:00Z"]);
    let db = Db::new(&site.db());
    // Messages sent or waiting to go (a step a guardrail held back is recorded, cancelled, with why).
    let before = |id: &str| {
        db.strings(&format!("SELECT step FROM outbox WHERE invoice_id = '{id}' AND state IN ('sent', 'pending')")).len()
    };
    let (rossi_before, bianchi_before, nordwind_before) = (before("inv-1001"), before("inv-1002"), before("inv-1003"));
    let harbour_before = before("inv-1004");

    // Monday evening's notification of Rossi's transfer, then Tuesday morning's statement with it again.
    let monday = import(&site, "ntf.xml", &camt("054", "NTF-1102", "2026-11-02", &[ROSSI]), "2026-11-02T18:00:00Z");
    assert_eq!((monday["entries"].as_u64(), monday["paid"].as_u64()), (Some(1), Some(1)), "{monday}");
    let statement = camt("053", "STMT-1103", "2026-11-02", &[ROSSI, BIANCHI, STRANGER, FEES, NOBODY]);
    let tuesday = import(&site, "stmt.xml", &statement, "2026-11-03T06:00:00Z");
    let counts: Vec<u64> = ["entries", "known", "paid", "unsure", "unmatched", "debits"]
        .iter()
        .map(|k| tuesday[k].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [5, 1, 1, 1, 1, 1], "{tuesday}");
    assert_eq!(tuesday["amount_paid"]["EUR"], 240_000, "Bianchi's 2,400.00");
    let again = import(&site, "stmt-again.xml", &statement, "2026-11-03T06:30:00Z");
    assert_eq!(again["known"], 5, "{again}");
    // The statement replayed with Bianchi's entry altered: the same message with
    // other contents is refused whole, naming its id; nothing recorded.
    let altered = statement.replace(">2400.00<", ">24000.00<");
    let file = site.write("stmt-altered.xml", &altered);
    let refused = site.run(&["bank", "import", file.to_str().unwrap(), "--at", "2026-11-03T06:40:00Z"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("GrpHdr/MsgId") && stderr(&refused).contains("other contents"),
        "{}",
        stderr(&refused)
    );
    // The altered entry under another message id: nothing more paid, a person told.
    let other = altered.replace("STMT-1103", "STMT-1103-B");
    let replayed = import(&site, "stmt-other.xml", &other, "2026-11-03T06:45:00Z");
    assert_eq!((replayed["known"].as_u64(), replayed["changed"].as_u64()), (Some(4), Some(1)), "{replayed}");

    // Each payment once, for what the bank said, and the invoices paid.
    let payments = db
        .strings("SELECT invoice_id || ' ' || detail FROM events WHERE kind = 'payment-received' ORDER BY invoice_id");
    assert_eq!(payments.len(), 2, "{payments:?}");
    assert!(payments[0].starts_with("inv-1001 ") && payments[1].starts_with("inv-1002 "), "{payments:?}");
    let status = db.strings(
        "SELECT id || ' ' || status FROM invoices WHERE id IN ('inv-1001', 'inv-1002', 'inv-1003') ORDER BY id",
    );
    assert_eq!(status, ["inv-1001 paid", "inv-1002 paid", "inv-1003 open"]);

    // Tuesday's tick: nothing more to Rossi or Bianchi (paid), nor to Nordwind, whose invoice the
    // stranger's transfer may pay; Harbour, unpaid and the same age, gets the day's step.
    site.ok(&["run", "--at", "2026-11-03T09:00:00Z"]);
    assert_eq!((before("inv-1001"), before("inv-1002")), (rossi_before, bianchi_before));
    assert_eq!(before("inv-1003"), nordwind_before, "held while a person matches the transfer");
    assert!(before("inv-1004") > harbour_before, "the control: an unpaid invoice of the same age is reminded");
    let held = db.strings("SELECT detail FROM events WHERE invoice_id = 'inv-1003' AND kind = 'transfer-to-confirm'");
    assert_eq!(held, ["a bank transfer may pay it: reminders wait until 2026-11-06 for a person to match it"]);

    // The stranger's transfer waits for a person, with the candidate named; the words "grazie" are listed.
    let tasks = site.ok(&["tasks"]);
    assert!(
        tasks.contains("A bank entry came again changed: AcctSvcrRef:BANK-2 was 2400.00 EUR, now 24000.00 EUR"),
        "{tasks}"
    );
    assert!(
        tasks.contains("Match a transfer of 500.00 EUR from Mario Verdi") && tasks.contains("RE-2026-1003"),
        "{tasks}"
    );
    let waiting = site.json(&["bank", "list"]);
    let states: Vec<String> = waiting
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r["key"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, ["AcctSvcrRef:BANK-3 unsure", "AcctSvcrRef:BANK-5 unmatched"]);
    let confirmed = site.ok(&["bank", "confirm", "AcctSvcrRef:BANK-3", "inv-1003", "--at", "2026-11-03T10:00:00Z"]);
    assert!(confirmed.contains("500.00 EUR recorded as paid on inv-1003"), "{confirmed}");
    assert_eq!(site.run(&["bank", "confirm", "AcctSvcrRef:BANK-3", "inv-1003"]).status.code(), Some(2), "once");
    let paid_1003 = db.strings("SELECT detail FROM events WHERE invoice_id = 'inv-1003' AND kind = 'payment-received'");
    assert_eq!(paid_1003.len(), 1);

    // Wednesday: the bank reverses Bianchi's transfer; the invoice is owed again.
    let reversal = ("BANK-9", "2400.00", true, true, "", "storno", "", "E2E-B1");
    let wednesday =
        import(&site, "rev.xml", &camt("053", "STMT-1104", "2026-11-04", &[reversal]), "2026-11-04T06:00:00Z");
    assert_eq!(wednesday["reversed"], 1, "{wednesday}");
    assert_eq!(db.strings("SELECT status FROM invoices WHERE id = 'inv-1002'"), ["open"]);

    // Refused whole, nothing recorded: a DTD, a version not read, an amount with three decimals.
    let entries = || db.strings("SELECT key FROM bank_entries").len();
    let recorded = entries();
    let bad = [
        statement.replacen("<Document", "<!DOCTYPE Document [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Document", 1),
        statement.replace("camt.053.001.08", "camt.053.001.99"),
        camt(
            "053",
            "STMT-X",
            "2026-11-05",
            &[("BANK-7", "10.00", false, false, "", "", "", "E"), ("BANK-8", "10.001", false, false, "", "", "", "F")],
        ),
    ];
    for (i, xml) in bad.iter().enumerate() {
        let file = site.write(&format!("bad{i}.xml"), xml);
        let out = site.run(&["bank", "import", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("refused at"), "{}", stderr(&out));
    }
    assert!(stderr(&site.run(&["bank", "import", site.path("bad2.xml").to_str().unwrap()])).contains("Ntry[2]"));
    assert_eq!(entries(), recorded, "nothing of a refused statement is recorded");
}

#[test]
fn the_api_takes_a_statement_with_the_token_and_refuses_what_does_not_read_without_a_5xx() {
    use crate::serve::{Service, TOKEN};
    let site = Site::new();
    let examples = root().join("examples/invoices.json").display().to_string();
    site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
    let svc = Service::start_with(&site, "", "");
    let statement = camt("053", "STMT-API", "2026-11-02", &[ROSSI, NOBODY]);
    assert_eq!(svc.call("POST", "/v1/bank/statements", None, &statement).0, 401);
    let (status, body) = svc.call("POST", "/v1/bank/statements", Some(TOKEN), &statement);
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["paid"].as_u64(), body["unmatched"].as_u64()), (Some(1), Some(1)), "{body}");
    let (status, body) = svc.call("POST", "/v1/bank/statements", Some(TOKEN), &statement);
    assert_eq!((status, body["known"].as_u64()), (200, Some(2)), "{body}");
    let hostile = [
        format!("<!DOCTYPE d [<!ENTITY a \"{}\">]>{statement}", "x".repeat(1000)),
        statement.replace("camt.053.001.08", "camt.052.001.08"),
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt>".to_string(),
        String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x3c]).into_owned(),
        String::new(),
    ];
    for xml in hostile {
        let (status, body) = svc.call("POST", "/v1/bank/statements", Some(TOKEN), &xml);
        assert_eq!(status, 422, "{body}");
        assert!(body["field"].as_str().is_some_and(|f| f.starts_with("Document")), "{body}");
    }
    assert_eq!(Db::new(&site.db()).strings("SELECT key FROM bank_entries").len(), 2);
}

/// `xml` with the account `iban` after the debtor named `debtor`.
fn from_account(xml: &str, debtor: &str, iban: &str) -> String {
    let named = format!("<Nm>{debtor}</Nm></Pty></Dbtr>");
    assert!(xml.contains(&named), "{debtor} is in the statement");
    xml.replace(&named, &format!("{named}<DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct>"))
}

#[test]
fn money_for_an_invoice_paid_already_goes_to_a_person_and_an_account_that_paid_before_names_its_customer() {
    let site = Site::new();
    let examples = root().join("examples/invoices.json");
    site.ok(&["import", examples.to_str().unwrap(), "--at", "2026-09-20T00:00:00Z"]);
    let db = Db::new(&site.db());
    // The accounting export says Rossi's invoice is paid (another door than the bank).
    let mut export: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&examples).unwrap()).unwrap();
    export["invoices"][0]["status"] = "paid".into();
    let export = site.write("export.json", &export.to_string());
    site.ok(&["import", export.to_str().unwrap(), "--at", "2026-11-01T10:00:00Z"]);
    let paid_events =
        || db.strings("SELECT invoice_id FROM events WHERE kind IN ('payment-received', 'paid') ORDER BY id");
    assert_eq!(paid_events(), ["inv-1001"]);

    // Then Rossi's bank transfer of the same invoice arrives: a second payment, not the invoice's.
    let day = import(&site, "a.xml", &camt("053", "STMT-A", "2026-11-02", &[ROSSI]), "2026-11-03T06:00:00Z");
    assert_eq!((day["paid"].as_u64(), day["already_paid"].as_u64()), (Some(0), Some(1)), "{day}");
    assert_eq!(paid_events(), ["inv-1001"], "recorded once");
    assert_eq!(db.strings("SELECT state FROM bank_entries"), ["already-paid"]);
    let tasks = site.ok(&["tasks"]);
    assert!(tasks.contains("A second payment? 1250.00 EUR from Rossi Impianti S.r.l."), "{tasks}");

    // Bianchi pays part of their invoice, naming it, from their account: matched, and the account learnt.
    let iban = "IT02A0301503200000003517230";
    let part = ("BANK-21", "1000.00", false, false, "BIANCHI E FIGLI", "acconto FT-2026/1002", "", "E2E-B2");
    let first = from_account(&camt("053", "STMT-B", "2026-11-03", &[part]), "BIANCHI E FIGLI", iban);
    assert_eq!(import(&site, "b.xml", &first, "2026-11-04T06:00:00Z")["paid"], 1);
    // The rest comes with no words, under a name their bank shortened: the account says who.
    let rest = ("BANK-22", "1400.00", false, false, "B. e F. snc", "", "", "E2E-B3");
    let second = from_account(&camt("053", "STMT-C", "2026-11-05", &[rest]), "B. e F. snc", iban);
    assert_eq!(import(&site, "c.xml", &second, "2026-11-06T06:00:00Z")["paid"], 1);
    assert_eq!(db.strings("SELECT status FROM invoices WHERE id = 'inv-1002'"), ["paid"]);
    let evidence = db.strings("SELECT evidence FROM bank_entries WHERE key = 'AcctSvcrRef:BANK-22'");
    assert_eq!(evidence, ["the debtor's account and the amount (FT-2026/1002)"]);
    // The same words from an account nobody paid from before: listed for a person.
    let stranger = ("BANK-23", "1400.00", false, false, "B. e F. snc", "", "", "E2E-X");
    let other =
        from_account(&camt("053", "STMT-D", "2026-11-06", &[stranger]), "B. e F. snc", "DE89370400440532013000");
    assert_eq!(import(&site, "d.xml", &other, "2026-11-07T06:00:00Z")["unmatched"], 1);
}
