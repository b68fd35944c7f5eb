//! Envelopes (signed files, zips) and hostile input: every refusal names
//! where it is, and one bad member refuses the whole file.

use super::*;

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
