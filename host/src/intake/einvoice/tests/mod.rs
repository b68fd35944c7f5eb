//! The reader on real documents: the FatturaPA examples of the Agenzia delle
//! Entrate, FatturaPA files written by other software (a38, gobl), the
//! OpenPEPPOL BIS 3.0 examples; and on hostile ones. Expected values are read
//! off the XML (see tests/data/einvoice/SOURCES.md).

use std::io::Write;
use std::path::Path;

use chrono_tz::{Europe, UTC};

use super::envelope::Limits;
use super::*;
use crate::invoice::{InvoiceKind, InvoiceStatus};
use crate::plan::{Instalment, Plan};

mod hostile;

fn data(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/einvoice").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_data(name: &str) -> EDocuments {
    read(name, &data(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// A sample with `from` (which must be there) replaced by `to`.
fn altered(name: &str, from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(data(name)).unwrap();
    assert!(text.contains(from), "{from} not in {name}");
    text.replacen(from, to, 1).into_bytes()
}

/// Each problem as (location, field, reason).
fn problems(name: &str, bytes: &[u8]) -> Vec<(String, String, String)> {
    let bad = read(name, bytes).err().unwrap_or_else(|| panic!("{name} was read"));
    bad.problems.into_iter().map(|p| (p.location, p.field, p.reason)).collect()
}

/// The one problem of a refused file, as (field, reason).
fn problem(name: &str, bytes: &[u8]) -> (String, String) {
    let found = problems(name, bytes);
    assert_eq!(found.len(), 1, "{found:#?}");
    let (location, field, reason) = found.into_iter().next().unwrap();
    assert_eq!(location, name);
    (field, reason)
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        if name.ends_with('/') {
            zip.add_directory(*name, options).unwrap();
        } else {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
    }
    zip.finish().unwrap().into_inner()
}

/// Renames a zip member in place (local header and directory): names the writer will not write.
fn rename(zip: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut renamed = 0;
    for at in 0..zip.len() - from.len() {
        if &zip[at..at + from.len()] == from {
            zip[at..at + from.len()].copy_from_slice(to);
            renamed += 1;
        }
    }
    assert_eq!(renamed, 2, "{}", String::from_utf8_lossy(from));
}

const BODY: &str = "FatturaElettronica/FatturaElettronicaBody[1]";

#[test]
fn the_official_example_to_a_public_administration() {
    let docs = read_data("IT01234567890_FPA01.xml");
    let customer = Customer {
        id: "CF:09876543210".into(),
        name: "AMMINISTRAZIONE BETA".into(),
        email: None,
        pec: None,
        phone: None,
        postal_address: Some("VIA TORINO 38-B, 00145 ROMA (RM), IT".into()),
        locale: "it-IT".into(),
        timezone: Europe::Rome,
        segment: "pa".into(),
        business: true,
        tags: vec!["fatturapa".into(), "sdi:AAAAAA".into()],
        customer_since: day("2017-01-18"),
        invoices_paid: 0,
        paid_on_time: 0,
        opted_out: vec![],
        dunning_stop: false,
        email_bounces: None,
    };
    assert_eq!(docs.dataset.customers, [customer]);
    let invoice = Invoice {
        id: "IT01234567890-123".into(),
        number: "123".into(),
        customer_id: "CF:09876543210".into(),
        status: InvoiceStatus::Open,
        kind: InvoiceKind::OneOff,
        currency: "EUR".into(),
        // 5.00 taxable and 1.10 VAT, paid in one instalment of 6.10 by 2017-02-18.
        amount_due: 610,
        amount_paid: 0,
        issued: day("2017-01-18"),
        due: day("2017-02-18"),
        payment_link: None,
        payment_failure: None,
        dispute: None,
        promise_to_pay: None,
        payment_method: None,
        refs: vec!["sdi:IT01234567890_FPA01".into()],
        plan: None,
        fees: vec![],
        answered: None,
        transfer_to_confirm: None,
    };
    assert_eq!(docs.dataset.invoices, [invoice]);
    assert!(docs.credit_notes.is_empty() && docs.dataset.events.is_empty());
}

#[test]
fn the_official_examples_to_businesses() {
    // FPR02: to a PEC address (CodiceDestinatario 0000000), 27.00 + 5.95 due 2015-01-30.
    let docs = read_data("IT01234567890_FPR02.xml");
    let buyer = &docs.dataset.customers[0];
    assert_eq!(
        (buyer.id.as_str(), buyer.name.as_str(), buyer.segment.as_str()),
        ("CF:09876543210", "BETA GAMMA", "b2b")
    );
    assert_eq!(
        (buyer.pec.as_deref(), buyer.tags.as_slice()),
        (Some("betagamma@pec.it"), &["fatturapa".to_string()][..])
    );
    let invoice = &docs.dataset.invoices[0];
    assert_eq!((invoice.amount_due, invoice.issued, invoice.due), (3295, day("2014-12-18"), day("2015-01-30")));
    // FPR01 and FPA02 read as well.
    for name in ["IT01234567890_FPR01.xml", "IT01234567890_FPA02.xml"] {
        assert_eq!(read_data(name).dataset.invoices.len(), 1, "{name}");
    }
}

#[test]
fn several_bodies_are_several_invoices_to_one_customer() {
    let docs = read_data("IT01234567890_FPR03.xml");
    assert_eq!(docs.dataset.customers.len(), 1);
    assert_eq!(docs.dataset.customers[0].customer_since, day("2014-12-18"));
    let got: Vec<_> = docs
        .dataset
        .invoices
        .iter()
        .map(|i| (i.id.as_str(), i.issued, i.due, i.amount_due, i.plan.is_none()))
        .collect();
    assert_eq!(
        got,
        [
            ("IT01234567890-123", day("2014-12-18"), day("2015-01-30"), 3295, true),
            ("IT01234567890-456", day("2014-12-20"), day("2015-01-28"), 244_000, true),
        ]
    );
    let docs = read_data("IT01234567890_FPA03.xml");
    let got: Vec<_> = docs.dataset.invoices.iter().map(|i| (i.number.as_str(), i.due, i.amount_due)).collect();
    assert_eq!(got, [("12", day("2017-02-18"), 3050), ("456", day("2017-02-20"), 244_000)]);
}

#[test]
fn instalments_become_a_plan_in_date_order() {
    // Written by a38: 1220.00 in two instalments of 610.00, listed 2026-05-31 then 2026-04-01.
    let docs = read_data("IT02345678901_00017.xml");
    let invoice = &docs.dataset.invoices[0];
    assert_eq!((invoice.id.as_str(), invoice.number.as_str()), ("IT02345678901-2026/17", "2026/17"));
    assert_eq!((invoice.amount_due, invoice.due), (122_000, day("2026-04-01")));
    let plan = Plan {
        step: "payment-terms".into(),
        accepted: "2026-03-02T00:00:00Z".parse().unwrap(),
        paid_before: 0,
        instalments: vec![
            Instalment { number: 1, due: day("2026-04-01"), amount: 61_000 },
            Instalment { number: 2, due: day("2026-05-31"), amount: 61_000 },
        ],
    };
    assert_eq!(invoice.plan.as_ref(), Some(&plan));
    assert_eq!(invoice.refs, ["sdi:IT02345678901_00017", "iban:IT60X0542811101000000123456"]);
    let buyer = &docs.dataset.customers[0];
    assert_eq!((buyer.id.as_str(), buyer.name.as_str()), ("IT07654321098", "Rossi Impianti S.p.A."));
    assert_eq!(buyer.tags, ["fatturapa", "sdi:KRRH6B9"]);
    assert_eq!(buyer.postal_address.as_deref(), Some("Via Garibaldi 7, 20121 Milano (MI), IT"));
}

#[test]
fn a_credit_note_names_what_it_credits() {
    let docs = read_data("IT02345678901_00018.xml");
    assert!(docs.dataset.invoices.is_empty());
    assert_eq!(docs.dataset.customers[0].id, "IT07654321098");
    let note = CreditNote {
        number: "2026/NC3".into(),
        issued: day("2026-03-09"),
        customer_id: "IT07654321098".into(),
        currency: "EUR".into(),
        amount: 54_900,
        credits: vec!["2026/17".into()],
        source: "IT02345678901_00018.xml".into(),
    };
    assert_eq!(docs.credit_notes, [note]);
    // gobl's: TD04 of 1388.40 crediting SAMPLE-001.
    let docs = read_data("gobl-invoice-credit-note.xml");
    let note = &docs.credit_notes[0];
    assert_eq!((note.number.as_str(), note.amount, note.customer_id.as_str()), ("CN-001", 138_840, "IT09876543217"));
    assert_eq!(note.credits, ["SAMPLE-001"]);
}

#[test]
fn withholding_and_split_payment_vat_are_not_owed_to_the_seller() {
    // Total 1395.68, 220.00 withheld: 1175.68 to the seller, by 2026-04-24 + 30 days.
    let docs = read_data("gobl-invoice-irpef-no-flag.xml");
    let invoice = &docs.dataset.invoices[0];
    assert_eq!((invoice.amount_due, invoice.due), (117_568, day("2026-05-24")));
    assert_eq!(invoice.refs, ["iban:IT15C0358901600010570241743"]);
    assert_eq!(docs.dataset.customers[0].id, "IT11537360965");
    // a38's: 610.00 to a municipality under split payment, 110.00 of it VAT it pays the state.
    let docs = read_data("IT02345678901_00019.xml");
    let (buyer, invoice) = (&docs.dataset.customers[0], &docs.dataset.invoices[0]);
    assert_eq!((buyer.id.as_str(), buyer.segment.as_str(), buyer.business), ("CF:80012345678", "pa", true));
    assert_eq!((invoice.amount_due, invoice.due), (50_000, day("2026-04-09")));
}

#[test]
fn declared_encodings_are_read() {
    let docs = read_data("gobl-invoice-windows1252.xml");
    let (buyer, invoice) = (&docs.dataset.customers[0], &docs.dataset.invoices[0]);
    assert_eq!((buyer.name.as_str(), buyer.pec.as_deref()), ("MARIO LEONI", Some("test@pec.it")));
    assert_eq!((invoice.amount_due, invoice.due), (16_914, day("2025-02-22")));
    // ISO-8859-1: the byte 0xC0 is "À".
    let text = String::from_utf8(data("IT01234567890_FPR01.xml")).unwrap();
    let mut latin = text.replacen("UTF-8", "ISO-8859-1", 1).replacen("DITTA BETA", "SOCIET\u{1} BETA", 1).into_bytes();
    let at = latin.iter().position(|&b| b == 1).unwrap();
    latin[at] = 0xC0;
    assert_eq!(read("x.xml", &latin).unwrap().dataset.customers[0].name, "SOCIETÀ BETA");
    let bom = [b"\xEF\xBB\xBF".as_slice(), &data("IT01234567890_FPR01.xml")].concat();
    assert_eq!(read("x.xml", &bom).unwrap().dataset.invoices.len(), 1);
    let utf16 = altered("IT01234567890_FPR01.xml", "UTF-8", "UTF-16");
    assert!(problem("x.xml", &utf16).1.contains("encoding"));
}

#[test]
fn a_peppol_invoice() {
    let docs = read_data("peppol-base-example.xml");
    let customer = Customer {
        id: "SE4598375937".into(),
        name: "Buyer Official Name".into(),
        email: Some("lj@buyer.se".into()),
        pec: None,
        phone: Some("23434234".into()),
        postal_address: Some("Hovedgatan 32, Po box 878, 456 34 Stockholm, SE".into()),
        locale: "en".into(),
        timezone: UTC,
        segment: "b2b".into(),
        business: true,
        tags: vec!["peppol".into()],
        customer_since: day("2017-11-13"),
        invoices_paid: 0,
        paid_on_time: 0,
        opted_out: vec![],
        dunning_stop: false,
        email_bounces: None,
    };
    assert_eq!(docs.dataset.customers, [customer]);
    let invoice = &docs.dataset.invoices[0];
    assert_eq!((invoice.id.as_str(), invoice.number.as_str()), ("GB1232434-Snippet1", "Snippet1"));
    assert_eq!((invoice.currency.as_str(), invoice.amount_due), ("EUR", 165_625));
    assert_eq!((invoice.issued, invoice.due), (day("2017-11-13"), day("2017-12-01")));
    assert_eq!(invoice.refs, ["ref:Snippet1"]);
    // No VAT id nor legal id for the buyer: its endpoint; no due date: 30 days on.
    let docs = read_data("peppol-vat-category-E.xml");
    let (buyer, invoice) = (&docs.dataset.customers[0], &docs.dataset.invoices[0]);
    assert_eq!(
        (buyer.id.as_str(), buyer.name.as_str(), buyer.email.as_deref()),
        ("0184:12345678", "The Buyercompany", None)
    );
    assert_eq!(
        (invoice.id.as_str(), invoice.currency.as_str(), invoice.amount_due),
        ("GB928741974-Vat-Z", "GBP", 120_000)
    );
    assert_eq!(invoice.due, day("2018-09-29"));
    // The supplier's VAT scheme chosen over its TAX scheme.
    let docs = read_data("peppol-Norwegian-example-1.xml");
    let (buyer, invoice) = (&docs.dataset.customers[0], &docs.dataset.invoices[0]);
    assert_eq!((buyer.id.as_str(), buyer.name.as_str()), ("NO987654325MVA", "Buyercompany ASA"));
    assert_eq!(buyer.postal_address.as_deref(), Some("Anystreet 8, Back door, 101 Anytown, RegionB, NO"));
    assert_eq!(
        (invoice.id.as_str(), invoice.amount_due, invoice.due),
        ("NO123456785MVA-TOSL108", 80_200, day("2013-07-20"))
    );
    assert_eq!(invoice.refs, ["ref:0003434323213231"]);
}

#[test]
fn a_peppol_credit_note() {
    let docs = read_data("peppol-base-creditnote-correction.xml");
    assert!(docs.dataset.invoices.is_empty());
    let note = &docs.credit_notes[0];
    assert_eq!((note.number.as_str(), note.issued, note.amount), ("Snippet1", day("2017-11-13"), 165_625));
    assert_eq!((note.customer_id.as_str(), note.credits.as_slice()), ("SE4598375937", &["Snippet1".to_string()][..]));
    let long =
        altered("peppol-base-creditnote-correction.xml", "<cbc:ID>Snippet1<", &format!("<cbc:ID>{}<", "9".repeat(201)));
    assert_eq!(problem("x.xml", &long).0, "CreditNote/cbc:ID");
    // An Invoice of type 381 is a credit note too.
    let typed = altered("peppol-base-example.xml", ">380<", ">381<");
    assert_eq!(read("x.xml", &typed).unwrap().credit_notes.len(), 1);
}

#[test]
fn payment_terms_in_days_and_several_blocks() {
    let name = "IT02345678901_00017.xml";
    // 60 days from a reference date, and a second block: paths name each block.
    let text = String::from_utf8(altered(name, "<DataScadenzaPagamento>2026-05-31</DataScadenzaPagamento>", "<DataRiferimentoTerminiPagamento>2026-03-31</DataRiferimentoTerminiPagamento><GiorniTerminiPagamento>60</GiorniTerminiPagamento>")).unwrap();
    let docs = super::read(name, text.as_bytes()).unwrap();
    let plan = docs.dataset.invoices[0].plan.clone().unwrap();
    assert_eq!(plan.instalments.iter().map(|i| i.due).collect::<Vec<_>>(), [day("2026-04-01"), day("2026-05-30")]);
    let split = text.replacen("</DettaglioPagamento><DettaglioPagamento>", "</DettaglioPagamento></DatiPagamento><DatiPagamento><CondizioniPagamento>TP01</CondizioniPagamento><DettaglioPagamento>", 1);
    assert_eq!(super::read(name, split.as_bytes()).unwrap().dataset.invoices[0].plan, Some(plan));
    let bad = split.replacen("<GiorniTerminiPagamento>60<", "<GiorniTerminiPagamento>sixty<", 1);
    let (field, _) = problem(name, bad.as_bytes());
    assert_eq!(field, format!("{BODY}/DatiPagamento[1]/DettaglioPagamento[1]/GiorniTerminiPagamento"));
    // No DatiPagamento: the total, 30 days on.
    let text = String::from_utf8(data("IT01234567890_FPR01.xml")).unwrap();
    let (start, end) = (text.find("<DatiPagamento>").unwrap(), text.find("</DatiPagamento>").unwrap());
    let none = format!("{}{}", &text[..start], &text[end + "</DatiPagamento>".len()..]);
    let invoice = super::read("x.xml", none.as_bytes()).unwrap().dataset.invoices[0].clone();
    assert_eq!((invoice.amount_due, invoice.due), (610, day("2015-01-17")));
}

#[test]
fn sdi_file_names_are_kept_as_references() {
    let sdi = |name: &str| Source { location: name, name }.sdi_ref();
    assert_eq!(sdi("IT01234567890_FPA01.xml").as_deref(), Some("sdi:IT01234567890_FPA01"));
    assert_eq!(sdi("IT01234567890_00001.xml.p7m").as_deref(), Some("sdi:IT01234567890_00001"));
    assert_eq!(sdi("ITRSSMRA80A01H501U_a1B2c.XML").as_deref(), Some("sdi:ITRSSMRA80A01H501U_a1B2c"));
    for other in ["fattura.xml", "peppol-base-example.xml", "IT0123_123456.xml", "it01234567890_00001.xml", "IT_1.xml"]
    {
        assert_eq!(sdi(other), None, "{other}");
    }
}
