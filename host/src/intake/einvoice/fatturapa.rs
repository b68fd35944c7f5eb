//! FatturaPA 1.2.x (`FPR12` to a business or a person, `FPA12` to a public
//! administration): the buyer (`CessionarioCommittente`) from the header, and
//! one invoice or credit note from each `FatturaElettronicaBody`.

use chrono::{Days, NaiveDate, NaiveTime};

use super::{CreditNote, Doc, Document, Element, Found, Source};
use crate::intake::fields::shown;
use crate::invoice::{Customer, Invoice, InvoiceKind, InvoiceStatus};
use crate::money::format_money;
use crate::plan::{Instalment, MAX_INSTALMENTS, Plan};

pub(super) const NAMESPACE: &str = "http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2";
const ROOT: &str = "FatturaElettronica";
const GENERAL: &str = "DatiGenerali/DatiGeneraliDocumento";
/// Days to pay when a document names no due date.
const TERM: Days = Days::new(30);

/// The documents of a FatturaPA file (one per body, all to the same buyer).
pub(super) fn read(root: &Element, source: &Source, found: &mut Found) -> Vec<Doc> {
    let segment = match root.attribute("versione") {
        Some("FPA12") => "pa",
        Some("FPR12") => "b2b",
        other => {
            found.bad(format!("{ROOT}@versione"), format!("{} is not FPA12 or FPR12", shown(other.unwrap_or(""))));
            "b2b"
        }
    };
    let header_at = format!("{ROOT}/FatturaElettronicaHeader");
    let Some(header) = found.need(root, ROOT, "FatturaElettronicaHeader") else { return vec![] };
    let seller = seller(header, &header_at, found);
    let bodies: Vec<&Element> = root.all("FatturaElettronicaBody").collect();
    if bodies.is_empty() {
        found.bad(format!("{ROOT}/FatturaElettronicaBody"), "missing: the file carries no document");
    }
    // A customer since their earliest document here (a bad date is reported with its body).
    let since = bodies
        .iter()
        .filter_map(|b| b.text_at(&format!("{GENERAL}/Data")))
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .min()
        .unwrap_or_default();
    let customer = customer(header, &header_at, segment, since, found);
    let customer_id = customer.as_ref().map_or("", |c| c.id.as_str());
    let mut docs = vec![];
    for (i, element) in bodies.iter().enumerate() {
        let at = format!("{ROOT}/FatturaElettronicaBody[{}]", i + 1);
        let document = document(element, &at, seller.as_deref(), customer_id, source, found);
        if let (Some(customer), Some(document)) = (&customer, document) {
            docs.push(Doc { customer: customer.clone(), document, number_at: format!("{at}/{GENERAL}/Numero") });
        }
    }
    docs
}

/// `IT01234567890`: the country and the code of an `IdFiscaleIVA`.
fn vat_id(id: &Element) -> Option<String> {
    Some(format!("{}{}", id.text_at("IdPaese")?, id.text_at("IdCodice")?))
}

/// The seller's VAT id: two sellers' invoice numbers never collide behind it.
fn seller(header: &Element, at: &str, found: &mut Found) -> Option<String> {
    let id = header.at("CedentePrestatore/DatiAnagrafici/IdFiscaleIVA").and_then(vat_id);
    if id.is_none() {
        found.bad(format!("{at}/CedentePrestatore/DatiAnagrafici/IdFiscaleIVA"), "missing: the seller's VAT id");
    }
    id
}

/// The buyer, every field checked by the rules of every entry.
fn customer(header: &Element, at: &str, segment: &str, since: NaiveDate, found: &mut Found) -> Option<Customer> {
    let buyer_at = format!("{at}/CessionarioCommittente");
    let buyer = found.need(header, at, "CessionarioCommittente")?;
    let data_at = format!("{buyer_at}/DatiAnagrafici");
    let (data, sede) = (found.need(buyer, &buyer_at, "DatiAnagrafici"), found.need(buyer, &buyer_at, "Sede"));
    let (data, sede) = (data?, sede?);
    let (id, id_at, business) = match (data.child("IdFiscaleIVA").and_then(vat_id), data.text_at("CodiceFiscale")) {
        (Some(vat), _) => (vat, format!("{data_at}/IdFiscaleIVA"), true),
        // A person's tax code has 16 characters; a company's or a body's, 11 digits.
        (None, Some(code)) => (format!("CF:{code}"), format!("{data_at}/CodiceFiscale"), code.chars().count() != 16),
        (None, None) => {
            found.bad(format!("{data_at}/IdFiscaleIVA"), "missing, and no CodiceFiscale: the buyer has no id");
            return None;
        }
    };
    found.id(&id_at, &id);
    let transmission = header.child("DatiTrasmissione");
    let mut tags = vec!["fatturapa".to_string()];
    // The buyer's SDI channel; seven zeros means none (a PEC address, or the tax portal).
    if let Some(code) = transmission.and_then(|t| t.text_at("CodiceDestinatario")).filter(|c| *c != "0000000") {
        tags.push(format!("sdi:{code}"));
    }
    let italian = sede.text_at("Nazione") == Some("IT");
    let customer = Customer {
        pec: transmission.and_then(|t| t.text_at("PECDestinatario")).map(str::to_string),
        postal_address: address(sede),
        locale: (if italian { "it-IT" } else { "en" }).into(),
        timezone: if italian { chrono_tz::Europe::Rome } else { chrono_tz::UTC },
        segment: segment.into(),
        business,
        tags,
        ..super::buyer(id, name(data).as_deref(), since)
    };
    let transmission_at = format!("{at}/DatiTrasmissione");
    found.check_customer(
        &customer,
        &[
            ("name", &format!("{data_at}/Anagrafica/Denominazione")),
            ("pec", &format!("{transmission_at}/PECDestinatario")),
            ("postal_address", &format!("{buyer_at}/Sede")),
            ("tags", &format!("{transmission_at}/CodiceDestinatario")),
        ],
    );
    Some(customer)
}

/// A company's `Denominazione`, else a person's `Nome Cognome`.
fn name(data: &Element) -> Option<String> {
    if let Some(name) = data.text_at("Anagrafica/Denominazione") {
        return Some(name.into());
    }
    Some(format!("{} {}", data.text_at("Anagrafica/Nome")?, data.text_at("Anagrafica/Cognome")?))
}

/// `Indirizzo NumeroCivico, CAP Comune (Provincia), Nazione` on one line.
fn address(sede: &Element) -> Option<String> {
    let join = |names: &[&str]| names.iter().filter_map(|n| sede.text_at(n)).collect::<Vec<_>>().join(" ");
    let mut town = join(&["CAP", "Comune"]);
    if let Some(province) = sede.text_at("Provincia") {
        town = format!("{town} ({province})");
    }
    let line: Vec<String> = [join(&["Indirizzo", "NumeroCivico"]), town, join(&["Nazione"])]
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .collect();
    (!line.is_empty()).then(|| line.join(", "))
}

/// What every part of a body is read against.
struct Body<'a> {
    element: &'a Element,
    at: &'a str,
    issued: NaiveDate,
    currency: &'a str,
    exponent: u16,
}

/// One body: an invoice or a credit note.
fn document(
    element: &Element,
    at: &str,
    seller: Option<&str>,
    customer_id: &str,
    source: &Source,
    found: &mut Found,
) -> Option<Document> {
    let general_at = format!("{at}/{GENERAL}");
    let general = found.need(element, at, "DatiGenerali");
    let general = general.and_then(|g| found.need(g, &format!("{at}/DatiGenerali"), "DatiGeneraliDocumento"))?;
    let credit = match found.need_text(general, &general_at, "TipoDocumento") {
        Some("TD04") => Some(true),
        Some("TD01" | "TD02" | "TD03" | "TD05" | "TD06" | "TD24" | "TD25" | "TD26") => Some(false),
        Some(other) => {
            let reason = "is not an invoice (TD01 to TD03, TD05, TD06, TD24 to TD26) nor a credit note (TD04)";
            found.bad(format!("{general_at}/TipoDocumento"), format!("{} {reason}", shown(other)));
            None
        }
        None => None,
    };
    let currency = found.need_text(general, &general_at, "Divisa");
    let exponent = currency.and_then(|c| found.currency(&format!("{general_at}/Divisa"), c));
    let issued =
        found.need_text(general, &general_at, "Data").and_then(|d| found.date(&format!("{general_at}/Data"), d));
    let number = found.need_text(general, &general_at, "Numero");
    let (currency, exponent, issued) = (currency?, exponent?, issued?);
    let body = Body { element, at, issued, currency, exponent };
    let total = total(&body, general, found);
    let (credit, number, total) = (credit?, number?, total?);
    if credit {
        let credits = element.at("DatiGenerali").into_iter().flat_map(|g| g.all("DatiFattureCollegate"));
        let note = CreditNote {
            number: number.into(),
            issued,
            customer_id: customer_id.into(),
            currency: currency.into(),
            amount: total.document,
            credits: credits.filter_map(|d| d.text_at("IdDocumento")).map(str::to_string).collect(),
            source: source.location.into(),
        };
        let credits_at = format!("{at}/DatiGenerali/DatiFattureCollegate/IdDocumento");
        found.check_credit_note(&note, &format!("{general_at}/Numero"), &credits_at);
        return Some(Document::CreditNote(note));
    }
    let terms = terms(&body, &total, found)?;
    let id = format!("{}-{number}", seller?);
    let number_at = format!("{general_at}/Numero");
    found.id(&number_at, &id);
    Some(Document::Invoice(Box::new(invoice(id, number, customer_id, &body, terms, source, found))))
}

/// The invoice of a body, checked by the rules of every entry.
fn invoice(
    id: String,
    number: &str,
    customer_id: &str,
    body: &Body,
    terms: Terms,
    source: &Source,
    found: &mut Found,
) -> Invoice {
    // The SDI file it came in, then where to pay (Invoice has no field of its own for an IBAN).
    let mut refs: Vec<String> = source.sdi_ref().into_iter().collect();
    refs.extend(terms.ibans);
    let invoice = Invoice {
        id,
        number: number.into(),
        customer_id: customer_id.into(),
        status: InvoiceStatus::Open,
        kind: InvoiceKind::OneOff,
        currency: body.currency.into(),
        amount_due: terms.amount_due,
        amount_paid: 0,
        issued: body.issued,
        due: terms.due,
        payment_link: None,
        payment_failure: None,
        dispute: None,
        promise_to_pay: None,
        payment_method: None,
        refs,
        plan: terms.plan,
        fees: vec![],
        answered: None,
        transfer_to_confirm: None,
    };
    let number_at = format!("{}/{GENERAL}/Numero", body.at);
    found.check_invoice(&invoice, &[("number", &number_at), ("refs", &format!("{}/DatiPagamento", body.at))]);
    invoice
}

/// A document's total, and what of it the buyer does not pay the seller.
#[derive(Clone, Copy)]
struct Total {
    document: i64,
    /// Withholding tax (`DatiRitenuta`): paid to the state by the buyer.
    withheld: i64,
    /// VAT under split payment (`EsigibilitaIVA` S): paid to the state by the public administration.
    split_vat: i64,
}

/// `ImportoTotaleDocumento`, else the VAT summaries added up; more than zero.
fn total(body: &Body, general: &Element, found: &mut Found) -> Option<Total> {
    let general_at = format!("{}/{GENERAL}", body.at);
    let (mut summed, mut split_vat, mut whole) = (0i64, 0i64, true);
    let summaries = body.element.at("DatiBeniServizi").into_iter().flat_map(|d| d.all("DatiRiepilogo"));
    for (i, summary) in summaries.enumerate() {
        let at = format!("{}/DatiBeniServizi/DatiRiepilogo[{}]", body.at, i + 1);
        let base = found.need_text(summary, &at, "ImponibileImporto");
        let base = base.and_then(|t| signed(found, &format!("{at}/ImponibileImporto"), t, body.exponent));
        let tax = found.need_text(summary, &at, "Imposta");
        let tax = tax.and_then(|t| signed(found, &format!("{at}/Imposta"), t, body.exponent));
        match (base, tax) {
            (Some(base), Some(tax)) => {
                summed = summed.saturating_add(base).saturating_add(tax);
                if summary.text_at("EsigibilitaIVA") == Some("S") {
                    split_vat = split_vat.saturating_add(tax);
                }
            }
            _ => whole = false,
        }
    }
    let mut withheld = 0i64;
    for (i, withholding) in general.all("DatiRitenuta").enumerate() {
        let at = format!("{general_at}/DatiRitenuta[{}]", i + 1);
        let amount = found.need_text(withholding, &at, "ImportoRitenuta");
        match amount.and_then(|t| found.amount(&format!("{at}/ImportoRitenuta"), t, body.exponent)) {
            Some(amount) => withheld = withheld.saturating_add(amount),
            None => whole = false,
        }
    }
    let field = format!("{general_at}/ImportoTotaleDocumento");
    let document = match general.text_at("ImportoTotaleDocumento") {
        Some(text) => found.amount(&field, text, body.exponent)?,
        None => summed,
    };
    if !whole {
        return None;
    }
    if document <= 0 {
        found.bad(field, format!("a total of {}: nothing to pay", format_money(document, body.currency)));
        return None;
    }
    Some(Total { document, withheld, split_vat })
}

/// An amount that may be negative (a summary of discounts).
fn signed(found: &mut Found, field: &str, text: &str, exponent: u16) -> Option<i64> {
    match text.strip_prefix('-') {
        Some(magnitude) => found.amount(field, magnitude, exponent).map(|a| -a),
        None => found.amount(field, text, exponent),
    }
}

/// When and how much the buyer pays the seller.
struct Terms {
    due: NaiveDate,
    amount_due: i64,
    plan: Option<Plan>,
    ibans: Vec<String>,
}

/// The instalments of `DatiPagamento` (every block), which must add up to the
/// total, less what is withheld or paid by split payment.
fn terms(body: &Body, total: &Total, found: &mut Found) -> Option<Terms> {
    let blocks: Vec<&Element> = body.element.all("DatiPagamento").collect();
    if blocks.is_empty() {
        return Some(Terms { due: body.issued + TERM, amount_due: total.document, plan: None, ibans: vec![] });
    }
    // Amounts and dates apart: instalments that do not add up are named even when a date is bad.
    let (mut instalments, mut ibans, mut whole, mut dated) = (vec![], vec![], true, true);
    for (k, block) in blocks.iter().enumerate() {
        let at = match blocks.len() {
            1 => format!("{}/DatiPagamento", body.at),
            _ => format!("{}/DatiPagamento[{}]", body.at, k + 1),
        };
        whole &= found.need(block, &at, "DettaglioPagamento").is_some();
        for (n, detail) in block.all("DettaglioPagamento").enumerate() {
            match instalment(detail, &format!("{at}/DettaglioPagamento[{}]", n + 1), body, found) {
                (Some(due), Some(amount)) => instalments.push((due, amount)),
                (None, Some(amount)) => {
                    dated = false;
                    instalments.push((body.issued, amount));
                }
                (_, None) => whole = false,
            }
            if let Some(iban) = detail.text_at("IBAN") {
                let iban = format!("iban:{}", iban.replace(' ', "").to_ascii_uppercase());
                if !ibans.contains(&iban) {
                    ibans.push(iban);
                }
            }
        }
    }
    if !whole {
        return None;
    }
    let at = format!("{}/DatiPagamento", body.at);
    let sum = instalments.iter().fold(0i64, |sum, (_, amount)| sum.saturating_add(*amount));
    let Total { document, withheld, split_vat } = *total;
    if ![document, document - withheld, document - split_vat, document - withheld - split_vat].contains(&sum) {
        let money = |minor| format_money(minor, body.currency);
        let reason = format!(
            "the instalments add up to {}, not the total {} (less {} withheld, less {} of split-payment VAT)",
            money(sum),
            money(document),
            money(withheld),
            money(split_vat)
        );
        found.bad(at, reason);
        return None;
    }
    if !dated {
        return None;
    }
    if instalments.len() > MAX_INSTALMENTS as usize {
        found.bad(at, format!("{} instalments, more than {MAX_INSTALMENTS}", instalments.len()));
        return None;
    }
    instalments.sort_by_key(|(due, _)| *due);
    let due = instalments.first().map_or(body.issued + TERM, |(due, _)| *due);
    let plan = (instalments.len() > 1).then(|| Plan {
        step: "payment-terms".into(),
        accepted: body.issued.and_time(NaiveTime::MIN).and_utc(),
        paid_before: 0,
        instalments: (1..).zip(instalments).map(|(number, (due, amount))| Instalment { number, due, amount }).collect(),
    });
    Some(Terms { due, amount_due: sum, plan, ibans })
}

/// One `DettaglioPagamento`: when, and how much (more than zero).
fn instalment(detail: &Element, at: &str, body: &Body, found: &mut Found) -> (Option<NaiveDate>, Option<i64>) {
    let amount_at = format!("{at}/ImportoPagamento");
    let amount = found.need_text(detail, at, "ImportoPagamento");
    let amount = amount.and_then(|t| found.amount(&amount_at, t, body.exponent));
    if amount == Some(0) {
        found.bad(&amount_at, "zero: an instalment of nothing");
    }
    (due_date(detail, at, body.issued, found), amount.filter(|a| *a > 0))
}

/// `DataScadenzaPagamento`; else `GiorniTerminiPagamento` days from
/// `DataRiferimentoTerminiPagamento` (or the document's date); else 30 days on.
fn due_date(detail: &Element, at: &str, issued: NaiveDate, found: &mut Found) -> Option<NaiveDate> {
    let (due, field) = if let Some(text) = detail.text_at("DataScadenzaPagamento") {
        let field = format!("{at}/DataScadenzaPagamento");
        (found.date(&field, text)?, field)
    } else if let Some(days) = detail.text_at("GiorniTerminiPagamento") {
        let field = format!("{at}/GiorniTerminiPagamento");
        let Some(days) = days.parse::<u64>().ok().filter(|d| *d <= 999) else {
            found.bad(field, format!("{} is not 0 to 999 days", shown(days)));
            return None;
        };
        let from = match detail.text_at("DataRiferimentoTerminiPagamento") {
            Some(text) => found.date(&format!("{at}/DataRiferimentoTerminiPagamento"), text)?,
            None => issued,
        };
        (from + Days::new(days), field)
    } else {
        return Some(issued + TERM);
    };
    if due < issued {
        found.bad(field, format!("due on {due}, before the document's date {issued}"));
        return None;
    }
    Some(due)
}
