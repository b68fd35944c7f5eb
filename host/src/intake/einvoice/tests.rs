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
fn a_signed_file_reads_as_the_bare_one() {
    let bare = read_data("IT01234567890_FPR01.xml");
    for file in ["IT01234567890_FPR01.xml.p7m", "IT01234567890_FPR01.ber.p7m", "IT01234567890_FPR01.base64.p7m"] {
        // Named as the SDI names a signed file, whatever it is called here.
        let signed = read("IT01234567890_FPR01.xml.p7m", &data(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(signed.dataset.customers, bare.dataset.customers, "{file}");
        assert_eq!(signed.dataset.invoices, bare.dataset.invoices, "{file}");
    }
    assert_eq!(bare.dataset.invoices[0].refs, ["sdi:IT01234567890_FPR01"]);
}

#[test]
fn a_cut_or_forged_signature_is_refused() {
    for file in ["IT01234567890_FPR01.xml.p7m", "IT01234567890_FPR01.ber.p7m"] {
        let der = data(file);
        for end in (1..der.len()).step_by(7) {
            let (field, _) = problem("x.p7m", &der[..end]);
            assert!(field == "p7m" || field == "document", "{file} cut at {end}: {field}");
        }
    }
    assert!(problem("x.p7m", &[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x06]).1.contains("cut short"));
    let mut deep = [0x30, 0x80].repeat(100);
    deep.extend([0, 0].repeat(100));
    assert!(problem("x.p7m", &deep).1.contains("deeper than 32"));
    assert!(problem("x.pdf", b"%PDF-1.7 ...").1.contains("not XML"));
}

#[test]
fn a_zip_is_read_member_by_member() {
    let zip = zip_of(&[
        ("IT01234567890_FPR01.xml.p7m", &data("IT01234567890_FPR01.xml.p7m")),
        ("2026/", b""),
        ("2026/IT02345678901_00017.xml", &data("IT02345678901_00017.xml")),
        ("peppol.xml", &data("peppol-base-example.xml")),
        ("copia di cortesia.pdf", b"%PDF-1.7 not read"),
        ("__MACOSX/2026/._IT02345678901_00017.xml", b"\0\x05\x16\x07 resource fork"),
    ]);
    let docs = read("lotto.zip", &zip).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<_> = docs.dataset.invoices.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["IT01234567890-123", "IT02345678901-2026/17", "GB1232434-Snippet1"]);
    assert_eq!(docs.dataset.customers.len(), 3);
    // The SDI name is the member's own, out of its folder.
    assert_eq!(docs.dataset.invoices[1].refs[0], "sdi:IT02345678901_00017");
    // A credit note's source names the member.
    let zip = zip_of(&[("notes/IT02345678901_00018.xml", &data("IT02345678901_00018.xml"))]);
    assert_eq!(super::read("nc.zip", &zip).unwrap().credit_notes[0].source, "nc.zip!notes/IT02345678901_00018.xml");
}

#[test]
fn one_bad_member_refuses_the_whole_zip() {
    // The second instalment with a third decimal.
    let iban = "<IBAN>IT60X0542811101000000123456</IBAN></DettaglioPagamento></DatiPagamento>";
    let from = format!("<ImportoPagamento>610.00</ImportoPagamento>{iban}");
    let bad = altered("IT02345678901_00017.xml", &from, &format!("<ImportoPagamento>610.005</ImportoPagamento>{iban}"));
    let fpr01 = data("IT01234567890_FPR01.xml");
    let zip = zip_of(&[("good.xml", &fpr01), ("a/bad.xml", &bad), ("again.xml", &fpr01)]);
    let found = problems("lotto.zip", &zip);
    let at: Vec<_> = found.iter().map(|(l, f, _)| (l.as_str(), f.as_str())).collect();
    assert_eq!(
        at,
        [
            (
                "lotto.zip!a/bad.xml",
                "FatturaElettronica/FatturaElettronicaBody[1]/DatiPagamento/DettaglioPagamento[2]/ImportoPagamento"
            ),
            (
                "lotto.zip!again.xml",
                "FatturaElettronica/FatturaElettronicaBody[1]/DatiGenerali/DatiGeneraliDocumento/Numero"
            ),
        ],
        "{found:#?}"
    );
    assert!(found[0].2.contains("more than 2 decimals") && found[1].2.contains("twice"), "{found:#?}");
}

#[test]
fn hostile_zips_are_refused_with_the_member_named() {
    let xml = data("IT01234567890_FPR01.xml");
    // A member that climbs out, and one from the root: the writer will not name them so; the bytes will.
    let mut zip = zip_of(&[("AA/evil.xml", &xml), ("AAetc/x.xml", &xml)]);
    rename(&mut zip, b"AA/evil", b"../evil");
    rename(&mut zip, b"AAetc/x", b"/etc/xx");
    let found = problems("up.zip", &zip);
    let at: Vec<_> = found.iter().map(|(l, f, _)| (l.as_str(), f.as_str())).collect();
    assert_eq!(at, [("up.zip!../evil.xml", "zip"), ("up.zip!/etc/xx.xml", "zip")], "{found:#?}");
    // 25 MB of blanks squeezed into a small zip.
    let bomb = zip_of(&[("ok.xml", &xml), ("bomb.xml", &vec![b' '; 25 << 20])]);
    assert!(bomb.len() < 1 << 20);
    let found = problems("bomb.zip", &bomb);
    assert_eq!((found[0].0.as_str(), found.len()), ("bomb.zip!bomb.xml", 1), "{found:#?}");
    assert!(found[0].2.contains("20 MB") && found[0].2.contains("zip bomb"), "{found:#?}");
    // Smaller limits, as a test can set them: members, each, and all together.
    let (a38, peppol) = (data("IT02345678901_00017.xml"), data("peppol-base-example.xml"));
    let three = zip_of(&[("a.xml", &xml), ("b.xml", &a38), ("c.xml", &peppol)]);
    assert!(read("three.zip", &three).is_ok());
    let limits = |members, member_bytes, total_bytes| Limits { members, member_bytes, total_bytes };
    let refused = |limits: Limits| read_with("three.zip", &three, &limits).unwrap_err().problems;
    assert!(refused(limits(2, 1 << 20, 1 << 20))[0].reason.contains("3 members, more than 2"));
    let each = refused(limits(10, 1000, 1 << 20));
    assert_eq!((each.len(), each[0].location.as_str()), (3, "three.zip!a.xml"));
    assert!(each[0].reason.contains("more than 1000 bytes uncompressed"), "{each:#?}");
    let all = refused(limits(10, 1 << 20, (xml.len() + a38.len()) as u64));
    assert_eq!((all.len(), all[0].location.as_str()), (1, "three.zip!c.xml"), "{all:#?}");
    // Cut short in its second member: the directory at the end is gone.
    let two = zip_of(&[("a.xml", &xml), ("b.xml", &xml)]);
    let second = two.windows(4).rposition(|w| w == b"PK\x03\x04").unwrap();
    let found = problems("cut.zip", &two[..second + 60]);
    assert_eq!((found[0].0.as_str(), found[0].1.as_str()), ("cut.zip!b.xml", "zip"), "{found:#?}");
    // A zip inside a zip is not opened.
    let nested = zip_of(&[("inner.xml", &zip_of(&[("a.xml", &xml)]))]);
    assert!(problems("nested.zip", &nested)[0].2.contains("zip inside"));
    assert!(problems("empty.zip", &zip_of(&[("copy.pdf", b"%PDF")]))[0].2.contains("no invoice or credit note"));
}

#[test]
fn a_dtd_is_refused_so_no_entity_is_expanded() {
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<p:FatturaElettronica xmlns:p="http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2" versione="FPR12">&lol3;</p:FatturaElettronica>"#;
    let (field, reason) = problem("lol.xml", laughs.as_bytes());
    assert_eq!((field.as_str(), reason.contains("DTD")), ("document", true), "{reason}");
    let xxe = altered(
        "IT01234567890_FPR01.xml",
        "<p:FatturaElettronica",
        "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><p:FatturaElettronica",
    );
    let (_, reason) = problem("xxe.xml", &xxe);
    assert!(reason.contains("DTD") && !reason.contains("root:"), "{reason}");
    // An entity with no DTD to declare it is not expanded either.
    let bare = altered("IT01234567890_FPR01.xml", "DITTA BETA", "&xxe;");
    let (field, _) = problem("x.xml", &bare);
    assert_eq!(
        field,
        "FatturaElettronica/FatturaElettronicaHeader/CessionarioCommittente/DatiAnagrafici/Anagrafica/Denominazione"
    );
}

#[test]
fn malformed_xml_is_refused_where_it_is() {
    let wrong = altered("IT01234567890_FPR01.xml", "docs/xsd/fatture/v1.2\"", "docs/xsd/fatture/v1.1\"");
    let (field, reason) = problem("x.xml", &wrong);
    assert_eq!(field, "FatturaElettronica");
    assert!(reason.contains("namespace") && reason.contains("v1.1"), "{reason}");
    let deep =
        altered("IT01234567890_FPR01.xml", "<DatiTrasmissione>", &format!("{}<DatiTrasmissione>", "<a>".repeat(40)));
    let (field, reason) = problem("x.xml", &deep);
    assert!(field.starts_with("FatturaElettronica/FatturaElettronicaHeader/a/a/") && reason.contains("deeper than 32"));
    assert_eq!(field.split('/').count(), 33);
    let xml = data("IT01234567890_FPR01.xml");
    let cut = xml.windows(17).position(|w| w == b"<DatiBeniServizi>").unwrap() + 17;
    let (field, reason) = problem("x.xml", &xml[..cut]);
    assert_eq!(field, "FatturaElettronica/FatturaElettronicaBody/DatiBeniServizi");
    assert!(reason.contains("cut short"), "{reason}");
    let twice = [xml.as_slice(), b"<p:FatturaElettronica/>"].concat();
    assert!(problem("x.xml", &twice).1.contains("second root"));
}

#[test]
fn bad_fatturapa_fields_are_named_by_their_path() {
    let name = "IT01234567890_FPR01.xml";
    let general = format!("{BODY}/DatiGenerali/DatiGeneraliDocumento");
    let cases = [
        (
            "<ImportoPagamento>6.10<",
            "<ImportoPagamento>6.100<",
            format!("{BODY}/DatiPagamento/DettaglioPagamento[1]/ImportoPagamento"),
            "more than 2 decimals",
        ),
        (
            "<ImportoPagamento>6.10<",
            "<ImportoPagamento>5.10<",
            format!("{BODY}/DatiPagamento"),
            "add up to 5.10 EUR, not the total 6.10 EUR",
        ),
        (
            "<Numero>123</Numero>",
            "<Numero>123</Numero><ImportoTotaleDocumento>-6.10</ImportoTotaleDocumento>",
            format!("{general}/ImportoTotaleDocumento"),
            "negative",
        ),
        (
            "<Numero>123</Numero>",
            "<Numero>123</Numero><ImportoTotaleDocumento>0.00</ImportoTotaleDocumento>",
            format!("{general}/ImportoTotaleDocumento"),
            "nothing to pay",
        ),
        ("<Numero>123</Numero>", "", format!("{general}/Numero"), "missing"),
        (
            "<TipoDocumento>TD01<",
            "<TipoDocumento>TD16<",
            format!("{general}/TipoDocumento"),
            "\"TD16\" is not an invoice",
        ),
        ("<Divisa>EUR<", "<Divisa>EUX<", format!("{general}/Divisa"), "unknown currency"),
        (
            "<DataScadenzaPagamento>2015-01-30<",
            "<DataScadenzaPagamento>2014-12-01<",
            format!("{BODY}/DatiPagamento/DettaglioPagamento[1]/DataScadenzaPagamento"),
            "before the document's date",
        ),
        ("versione=\"FPR12\"", "versione=\"FSM10\"", "FatturaElettronica@versione".into(), "not FPA12 or FPR12"),
    ];
    for (from, to, field, reason) in cases {
        let (got, why) = problem(name, &altered(name, from, to));
        assert_eq!(got, field, "{to}: {why}");
        assert!(why.contains(reason), "{to}: {why}");
    }
    // Every problem of a file, not only the first.
    let several =
        String::from_utf8(altered(name, "<Divisa>EUR<", "<Divisa>EUX<")).unwrap().replace("<Numero>123</Numero>", "");
    let several =
        several.replace("<Denominazione>DITTA BETA</Denominazione>", "<Denominazione>A\u{7}B</Denominazione>");
    let found = problems(name, several.as_bytes());
    let fields: Vec<_> = found.iter().map(|(_, f, _)| f.rsplit('/').next().unwrap()).collect();
    assert_eq!(fields, ["Denominazione", "Divisa", "Numero"], "{found:#?}");
    // gobl's hotel invoice: 876.00, but 29.00 + 200.00 + 200.00 to pay, the last two before its date.
    let found = problems("h.xml", &data("gobl-invoice-hotel-private.xml"));
    let fields: Vec<_> = found.iter().map(|(_, f, _)| f.strip_prefix(BODY).unwrap()).collect();
    let due = "DettaglioPagamento[1]/DataScadenzaPagamento";
    let second = "DettaglioPagamento[2]/DataScadenzaPagamento";
    assert_eq!(
        fields,
        [format!("/DatiPagamento[2]/{due}"), format!("/DatiPagamento[2]/{second}"), "/DatiPagamento".into()]
    );
    assert!(found[2].2.contains("add up to 429.00 EUR, not the total 876.00 EUR"), "{found:#?}");
}

#[test]
fn bad_peppol_fields_are_named_by_their_path() {
    let name = "peppol-base-example.xml";
    let party = "Invoice/cac:AccountingCustomerParty/cac:Party";
    let cases = [
        ("lj@buyer.se", "lj at buyer", format!("{party}/cac:Contact/cbc:ElectronicMail"), "not an email address"),
        (
            "<cbc:PayableAmount currencyID=\"EUR\"",
            "<cbc:PayableAmount currencyID=\"USD\"",
            "Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount@currencyID".into(),
            "not the document's currency EUR",
        ),
        (">380<", ">999<", "Invoice/cbc:InvoiceTypeCode".into(), "\"999\" is not an invoice"),
        ("<cbc:DueDate>2017-12-01<", "<cbc:DueDate>2017-12-31x<", "Invoice/cbc:DueDate".into(), "bad date"),
        ("<cbc:ID>Snippet1</cbc:ID>", "", "Invoice/cbc:ID".into(), "missing"),
    ];
    for (from, to, field, reason) in cases {
        let (got, why) = problem(name, &altered(name, from, to));
        assert_eq!(got, field, "{to}: {why}");
        assert!(why.contains(reason), "{to}: {why}");
    }
    // A correction written as a negative invoice is not an invoice to collect.
    let (field, reason) = problem("n.xml", &data("peppol-base-negative-inv-correction.xml"));
    assert_eq!(
        (field.as_str(), reason.contains("negative")),
        ("Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount", true)
    );
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
