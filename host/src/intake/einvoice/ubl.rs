//! Peppol BIS Billing 3.0 (UBL 2.1): an `Invoice` or a `CreditNote`, the buyer
//! from `cac:AccountingCustomerParty`. Paths are named as the documents write
//! them (`cac:`, `cbc:`); elements are matched by local name, whatever the prefix.

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;

use super::{CreditNote, Doc, Document, Element, Found, Source};
use crate::intake::fields::shown;
use crate::invoice::{Customer, Invoice, InvoiceKind, InvoiceStatus};

pub(super) const INVOICE: &str = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";
pub(super) const CREDIT_NOTE: &str = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2";
/// Days to pay when a document names no due date.
const TERM: Days = Days::new(30);

/// The one document of a UBL file.
pub(super) fn read(root: &Element, source: &Source, found: &mut Found) -> Option<Doc> {
    let doc = root.name.as_str();
    let credit = kind(root, doc, found);
    let number = found.need_text(root, doc, "cbc:ID");
    let issued = found.need_text(root, doc, "cbc:IssueDate");
    let issued = issued.and_then(|d| found.date(&format!("{doc}/cbc:IssueDate"), d));
    let currency = found.need_text(root, doc, "cbc:DocumentCurrencyCode");
    let exponent = currency.and_then(|c| found.currency(&format!("{doc}/cbc:DocumentCurrencyCode"), c));
    let supplier_at = format!("{doc}/cac:AccountingSupplierParty/cac:Party");
    let supplier = root.at("AccountingSupplierParty/Party").and_then(|p| party_id(p, &supplier_at));
    // An invoice's id is the supplier's, and it falls due.
    if credit == Some(false) && supplier.is_none() {
        found.bad(format!("{supplier_at}/cac:PartyTaxScheme/cbc:CompanyID"), "missing: the supplier has no id");
    }
    let due = match (credit, issued) {
        (Some(false), Some(issued)) => due(root, doc, issued, found),
        _ => None,
    };
    let customer = issued.and_then(|since| customer(root, doc, since, found));
    let amount = currency.zip(exponent).and_then(|(c, e)| payable(root, doc, c, e, found));
    let (credit, number, issued, currency, amount, customer) =
        (credit?, number?, issued?, currency?, amount?, customer?);
    let number_at = format!("{doc}/cbc:ID");
    if credit {
        let credits = root.all("BillingReference").filter_map(|r| r.text_at("InvoiceDocumentReference/ID"));
        let note = CreditNote {
            number: number.into(),
            issued,
            customer_id: customer.id.clone(),
            currency: currency.into(),
            amount,
            credits: credits.map(str::to_string).collect(),
            source: source.location.into(),
        };
        let credits_at = format!("{doc}/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID");
        found.check_credit_note(&note, &number_at, &credits_at);
        return Some(Doc { customer, document: Document::CreditNote(note), number_at });
    }
    let ((supplier, _), due) = (supplier?, due?);
    let id = format!("{supplier}-{number}");
    found.id(&number_at, &id);
    let mut refs: Vec<String> = vec![];
    // The payment reference the buyer quotes (often an RF creditor reference).
    for reference in root.all("PaymentMeans").filter_map(|m| m.text_at("PaymentID")) {
        let reference = format!("ref:{reference}");
        if !refs.contains(&reference) {
            refs.push(reference);
        }
    }
    let invoice = Invoice {
        id,
        number: number.into(),
        customer_id: customer.id.clone(),
        status: InvoiceStatus::Open,
        kind: InvoiceKind::OneOff,
        currency: currency.into(),
        amount_due: amount,
        amount_paid: 0,
        issued,
        due,
        payment_link: None,
        payment_failure: None,
        dispute: None,
        promise_to_pay: None,
        payment_method: None,
        refs,
        plan: None,
        fees: vec![],
        answered: None,
        transfer_to_confirm: None,
    };
    found
        .check_invoice(&invoice, &[("number", &number_at), ("refs", &format!("{doc}/cac:PaymentMeans/cbc:PaymentID"))]);
    Some(Doc { customer, document: Document::Invoice(Box::new(invoice)), number_at })
}

/// Whether the document credits (a `CreditNote`, or an `Invoice` of type 381).
fn kind(root: &Element, doc: &str, found: &mut Found) -> Option<bool> {
    if doc == "CreditNote" {
        return Some(true);
    }
    match found.need_text(root, doc, "cbc:InvoiceTypeCode")? {
        "380" | "383" | "384" | "386" | "389" | "751" => Some(false),
        "381" => Some(true),
        other => {
            let reason = "is not an invoice (380, 383, 384, 386, 389, 751) nor a credit note (381)";
            found.bad(format!("{doc}/cbc:InvoiceTypeCode"), format!("{} {reason}", shown(other)));
            None
        }
    }
}

/// A party's id and where it came from: its VAT number, else its legal
/// registration, else its Peppol endpoint with the scheme (`0088:...`).
fn party_id(party: &Element, at: &str) -> Option<(String, String)> {
    let schemes: Vec<&Element> = party.all("PartyTaxScheme").collect();
    let vat = schemes.iter().find(|s| s.text_at("TaxScheme/ID") == Some("VAT")).or(schemes.first());
    if let Some(id) = vat.and_then(|s| s.text_at("CompanyID")) {
        return Some((id.into(), format!("{at}/cac:PartyTaxScheme/cbc:CompanyID")));
    }
    if let Some(id) = party.text_at("PartyLegalEntity/CompanyID") {
        return Some((id.into(), format!("{at}/cac:PartyLegalEntity/cbc:CompanyID")));
    }
    let endpoint = party.child("EndpointID")?;
    let id = match endpoint.attribute("schemeID").filter(|s| !s.is_empty()) {
        Some(scheme) => format!("{scheme}:{}", endpoint.value()?),
        None => endpoint.value()?.into(),
    };
    Some((id, format!("{at}/cbc:EndpointID")))
}

/// The buyer, every field checked by the rules of every entry.
fn customer(root: &Element, doc: &str, since: NaiveDate, found: &mut Found) -> Option<Customer> {
    let buyer_at = format!("{doc}/cac:AccountingCustomerParty");
    let at = format!("{buyer_at}/cac:Party");
    let buyer = found.need(root, doc, "cac:AccountingCustomerParty");
    let party = buyer.and_then(|b| found.need(b, &buyer_at, "cac:Party"))?;
    let Some((id, id_at)) = party_id(party, &at) else {
        let reason = "missing, and no PartyLegalEntity/CompanyID or EndpointID: the buyer has no id";
        found.bad(format!("{at}/cac:PartyTaxScheme/cbc:CompanyID"), reason);
        return None;
    };
    found.id(&id_at, &id);
    let name = party.text_at("PartyLegalEntity/RegistrationName").or_else(|| party.text_at("PartyName/Name"));
    let country = party.text_at("PostalAddress/Country/IdentificationCode").map(str::to_ascii_uppercase);
    let (locale, timezone) = place(country.as_deref());
    let customer = Customer {
        email: party.text_at("Contact/ElectronicMail").map(str::to_string),
        phone: party.text_at("Contact/Telephone").map(str::to_string),
        postal_address: party.child("PostalAddress").and_then(address),
        locale: locale.into(),
        timezone,
        tags: vec!["peppol".into()],
        ..super::buyer(id, name, since)
    };
    found.check_customer(
        &customer,
        &[
            ("name", &format!("{at}/cac:PartyLegalEntity/cbc:RegistrationName")),
            ("email", &format!("{at}/cac:Contact/cbc:ElectronicMail")),
            ("phone", &format!("{at}/cac:Contact/cbc:Telephone")),
            ("postal_address", &format!("{at}/cac:PostalAddress")),
        ],
    );
    Some(customer)
}

/// The language and time zone of a country the reminders go to; English and UTC elsewhere.
fn place(country: Option<&str>) -> (&'static str, Tz) {
    use chrono_tz::Europe;
    match country {
        Some("IT") => ("it-IT", Europe::Rome),
        Some("DE") => ("de-DE", Europe::Berlin),
        Some("FR") => ("fr-FR", Europe::Paris),
        Some("ES") => ("es-ES", Europe::Madrid),
        Some("NL") => ("en", Europe::Amsterdam),
        Some("BE") => ("en", Europe::Brussels),
        _ => ("en", chrono_tz::UTC),
    }
}

/// `Street, Additional, Line..., Zone City, Subentity, Country` on one line.
fn address(postal: &Element) -> Option<String> {
    let texts = |names: &[&str]| names.iter().filter_map(|n| postal.text_at(n)).map(str::to_string).collect::<Vec<_>>();
    let mut parts = texts(&["StreetName", "AdditionalStreetName"]);
    parts.extend(postal.all("AddressLine").filter_map(|l| l.text_at("Line")).map(str::to_string));
    parts.push(texts(&["PostalZone", "CityName"]).join(" "));
    parts.extend(texts(&["CountrySubentity", "Country/IdentificationCode"]));
    parts.retain(|p| !p.is_empty());
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `LegalMonetaryTotal/PayableAmount`, in the document's currency, more than zero.
fn payable(root: &Element, doc: &str, currency: &str, exponent: u16, found: &mut Found) -> Option<i64> {
    let total_at = format!("{doc}/cac:LegalMonetaryTotal");
    let at = format!("{total_at}/cbc:PayableAmount");
    let total = found.need(root, doc, "cac:LegalMonetaryTotal")?;
    let amount = found.need(total, &total_at, "cbc:PayableAmount")?;
    let written = amount.attribute("currencyID").unwrap_or("");
    if written != currency {
        found.bad(format!("{at}@currencyID"), format!("{} is not the document's currency {currency}", shown(written)));
        return None;
    }
    let minor = found.amount(&at, amount.value().unwrap_or(""), exponent)?;
    if minor == 0 {
        found.bad(at, "zero: nothing payable");
        return None;
    }
    Some(minor)
}

/// `cbc:DueDate`, else the first `PaymentMeans/PaymentDueDate`, else 30 days on.
fn due(root: &Element, doc: &str, issued: NaiveDate, found: &mut Found) -> Option<NaiveDate> {
    let (text, field) = if let Some(text) = root.text_at("DueDate") {
        (text, format!("{doc}/cbc:DueDate"))
    } else if let Some(text) = root.all("PaymentMeans").find_map(|m| m.text_at("PaymentDueDate")) {
        (text, format!("{doc}/cac:PaymentMeans/cbc:PaymentDueDate"))
    } else {
        return Some(issued + TERM);
    };
    let due = found.date(&field, text)?;
    if due < issued {
        found.bad(field, format!("due on {due}, before the issue date {issued}"));
        return None;
    }
    Some(due)
}
