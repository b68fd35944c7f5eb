//! E-invoices in, end to end: a FatturaPA invoice in two instalments (made by
//! a third-party library, a38) imported with its buyer, due dates and
//! amounts; its credit note reducing what is owed, once; a known customer's
//! record kept; the official examples signed (.p7m) and in a zip; a DTD
//! refused whole, nothing recorded. Every expected value was read off the XML.

use std::io::Write;

use crate::common::*;
use crate::pipeline::Site;

fn sample(name: &str) -> String {
    root().join("tests/data/einvoice").join(name).display().to_string()
}

fn import(site: &Site, file: &str, at: &str) -> serde_json::Value {
    site.json(&["import", file, "--at", at])
}

#[test]
fn a_fatturapa_invoice_and_its_credit_note_come_in_as_they_are_once() {
    let site = Site::new();
    let db = Db::new(&site.db());
    let first = import(&site, &sample("IT02345678901_00017.xml"), "2026-03-03T08:00:00Z");
    assert_eq!((first["customers_added"].as_u64(), first["invoices_added"].as_u64()), (Some(1), Some(1)), "{first}");
    // The buyer (CessionarioCommittente): VAT IT07654321098, "Rossi Impianti S.p.A.", recipient code KRRH6B9.
    let customer: serde_json::Value = serde_json::from_str(&db.strings("SELECT data FROM customers")[0]).unwrap();
    assert_eq!(
        (customer["id"].as_str(), customer["name"].as_str()),
        (Some("IT07654321098"), Some("Rossi Impianti S.p.A."))
    );
    assert!(customer["tags"].as_array().unwrap().iter().any(|t| t == "sdi:KRRH6B9"), "{customer}");
    // The invoice: number 2026/17 of seller IT02345678901, 1220.00 EUR in two instalments of
    // 610.00, due 2026-04-01 and 2026-05-31 (the file lists the later one first).
    let invoice: serde_json::Value = serde_json::from_str(&db.strings("SELECT data FROM invoices")[0]).unwrap();
    assert_eq!(invoice["number"], "2026/17");
    assert_eq!((invoice["amount_due"].as_i64(), invoice["due"].as_str()), (Some(122_000), Some("2026-04-01")));
    let dues: Vec<(String, i64)> = invoice["plan"]["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["due"].as_str().unwrap().to_string(), i["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(dues, [("2026-04-01".to_string(), 61_000), ("2026-05-31".to_string(), 61_000)]);
    let id = invoice["id"].as_str().unwrap().to_string();
    assert_eq!(import(&site, &sample("IT02345678901_00017.xml"), "2026-03-04T08:00:00Z")["unchanged"], 2);

    // The credit note 2026/NC3 of 549.00 for 2026/17: 671.00 left, the last instalment cut to 61.00.
    let credit = import(&site, &sample("IT02345678901_00018.xml"), "2026-03-10T08:00:00Z");
    let said = credit["credit_notes"][0].as_str().unwrap().to_string();
    assert!(said.contains("credit note 2026/NC3: 549.00 EUR less, 671.00 EUR outstanding"), "{credit}");
    let again = import(&site, &sample("IT02345678901_00018.xml"), "2026-03-11T08:00:00Z");
    assert!(again["credit_notes"][0].as_str().unwrap().contains("applied before"), "{again}");
    let after: serde_json::Value =
        serde_json::from_str(&db.strings(&format!("SELECT data FROM invoices WHERE id = '{id}'"))[0]).unwrap();
    assert_eq!(after["amount_due"], 67_100);
    assert_eq!(after["plan"]["instalments"][1]["amount"], 6_100);
    let events = db.strings(&format!("SELECT kind FROM events WHERE invoice_id = '{id}' ORDER BY id"));
    assert_eq!(events, ["imported", "credit-note"]);
    assert_eq!(db.strings("SELECT CAST(total AS TEXT) FROM ledger")[0], "67100", "the receivables know the credit");

    // The customer, given an address by the accounting export, keeps it through another e-invoice.
    let export = serde_json::json!({"customers": [{"id": "IT07654321098", "name": "Rossi Impianti S.p.A.",
        "email": "amministrazione@rossi.example", "locale": "it-IT", "timezone": "Europe/Rome", "segment": "b2b",
        "business": true, "customer_since": "2026-03-01"}], "invoices": []});
    site.ok(&[
        "import",
        site.write("export.json", &export.to_string()).to_str().unwrap(),
        "--at",
        "2026-03-12T08:00:00Z",
    ]);
    import(&site, &sample("IT02345678901_00017.xml"), "2026-03-13T08:00:00Z");
    let kept: serde_json::Value = serde_json::from_str(&db.strings("SELECT data FROM customers")[0]).unwrap();
    assert_eq!(kept["email"], "amministrazione@rossi.example");
}

#[test]
fn signed_and_zipped_official_examples_come_in_and_a_dtd_is_refused_whole() {
    let site = Site::new();
    let db = Db::new(&site.db());
    // FPR01, signed: one invoice to the buyer of the official example.
    let signed = import(&site, &sample("IT01234567890_FPR01.xml.p7m"), "2026-03-03T08:00:00Z");
    assert_eq!(signed["invoices_added"], 1, "{signed}");
    // A zip of FPR03 (two bodies: invoice 123 again, as FPR01 has it, and 456) and the
    // split-payment invoice to a municipality: the two new ones added, 123 and its buyer kept.
    let zip_path = site.path("lotto.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    for name in ["IT01234567890_FPR03.xml", "IT02345678901_00019.xml"] {
        zip.start_file(format!("sdi/{name}"), zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(&std::fs::read(sample(name)).unwrap()).unwrap();
    }
    zip.finish().unwrap();
    let zipped = import(&site, zip_path.to_str().unwrap(), "2026-03-03T09:00:00Z");
    assert_eq!((zipped["invoices_added"].as_u64(), zipped["unchanged"].as_u64()), (Some(2), Some(2)), "{zipped}");
    // The split payment: 610.00 invoiced, 500.00 owed by the municipality (the VAT goes to the state).
    let municipality = db.strings("SELECT data FROM invoices WHERE id LIKE 'IT02345678901-%'");
    assert_eq!(municipality.len(), 1, "{municipality:?}");
    assert!(municipality[0].contains("\"amount_due\":50000"), "{municipality:?}");
    let count = || db.strings("SELECT id FROM invoices").len();
    assert_eq!(count(), 3);

    // An XML with a DTD (an entity it would expand) is refused, naming why; nothing recorded.
    let text = std::fs::read_to_string(sample("IT02345678901_00017.xml")).unwrap();
    let bomb = text.replacen("?>", "?><!DOCTYPE p:FatturaElettronica [<!ENTITY a \"aaaaaaaaaa\">]>", 1);
    let file = site.write("bomb.xml", &bomb);
    let out = site.run(&["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).to_lowercase().contains("dtd") || stderr(&out).contains("DOCTYPE"), "{}", stderr(&out));
    assert_eq!(count(), 3);
}

#[test]
fn the_api_takes_e_invoices_with_the_token_and_refuses_what_does_not_read_without_a_5xx() {
    use crate::serve::{Service, TOKEN};
    let site = Site::new();
    let svc = Service::start_with(&site, "", "");
    let xml = std::fs::read_to_string(sample("IT02345678901_00017.xml")).unwrap();
    assert_eq!(svc.call("POST", "/v1/einvoices", None, &xml).0, 401);
    let (status, body) = svc.call("POST", "/v1/einvoices", Some(TOKEN), &xml);
    assert_eq!((status, body["invoices_added"].as_u64()), (200, Some(1)), "{body}");
    let (status, body) = svc.call("POST", "/v1/einvoices", Some(TOKEN), &xml);
    assert_eq!((status, body["unchanged"].as_u64()), (200, Some(2)), "{body}");
    // Three decimals on an instalment, a DTD, a wrong namespace, nothing at all: 4xx, the field named.
    let hostile = [
        xml.replacen("<ImportoPagamento>610.00</ImportoPagamento>", "<ImportoPagamento>610.001</ImportoPagamento>", 1),
        xml.replacen("?>", "?><!DOCTYPE x [<!ENTITY a \"b\">]>", 1),
        xml.replace("http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2", "urn:example:other"),
        String::new(),
    ];
    for bad in hostile {
        let (status, body) = svc.call("POST", "/v1/einvoices", Some(TOKEN), &bad);
        assert!((400..500).contains(&status), "{status} {body}");
        assert!(body["field"].as_str().is_some_and(|f| !f.is_empty()), "{body}");
    }
    assert_eq!(Db::new(&site.db()).strings("SELECT id FROM invoices").len(), 1, "nothing of a refused body recorded");
}
