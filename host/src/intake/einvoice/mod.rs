//! E-invoices read into the host's dataset: Italian FatturaPA (FPR12 to a
//! business, FPA12 to a public administration; schema 1.2.x), bare, signed
//! (`.p7m`) or many in a zip, and Peppol BIS Billing 3.0 UBL invoices and
//! credit notes. Pure: bytes in, customers, invoices and credit notes out.
//!
//! As everywhere at intake, every problem of a file is reported (each named
//! by its file, zip member and element path) and a file with any problem is
//! refused whole: nothing partial. The XML is read as camt statements are: a
//! DTD is refused outright (so no entity expansion and no external entity),
//! nesting stops at 32, and a document cut short is refused.

mod envelope;
mod fatturapa;
mod ubl;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::{BadInput, Dataset, Problem, fields, is_id, parse_amount};
use crate::invoice::{Customer, Invoice};

/// What a file of e-invoices holds.
#[derive(Debug, Default)]
pub(crate) struct EDocuments {
    /// Customers and invoices (no scripted events).
    pub dataset: Dataset,
    pub credit_notes: Vec<CreditNote>,
}

/// A document that takes an amount off what a customer owes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CreditNote {
    pub number: String,
    pub issued: NaiveDate,
    pub customer_id: String,
    pub currency: String,
    /// Minor units, more than zero.
    pub amount: i64,
    /// Numbers of the invoices it credits (FatturaPA `DatiFattureCollegate/IdDocumento`;
    /// UBL `BillingReference/InvoiceDocumentReference/ID`).
    pub credits: Vec<String>,
    /// The file name, with `!member` for a zip member.
    pub source: String,
}

/// Reads a FatturaPA (bare, `.p7m` or zipped) or UBL file; refused whole, with
/// every problem, if anything in it does not read or check.
pub(crate) fn read(file_name: &str, bytes: &[u8]) -> Result<EDocuments, BadInput> {
    read_with(file_name, bytes, &envelope::LIMITS)
}

fn read_with(file_name: &str, bytes: &[u8], limits: &envelope::Limits) -> Result<EDocuments, BadInput> {
    let mut problems = vec![];
    let parts = envelope::open(file_name, bytes, limits, &mut problems);
    let mut batch = Batch::default();
    for part in &parts {
        let mut found = Found { location: part.location.clone(), problems: vec![] };
        for doc in document(part, &mut found) {
            batch.add(doc, &mut found);
        }
        problems.append(&mut found.problems);
    }
    if problems.is_empty() && batch.documents == 0 {
        problems.push(Problem::new(file_name, "file", "no invoice or credit note in it"));
    }
    if problems.is_empty() { Ok(batch.read) } else { Err(BadInput { file: file_name.into(), problems }) }
}

/// The documents of one XML, by its root element and namespace.
fn document(part: &envelope::Part, found: &mut Found) -> Vec<Doc> {
    let xml = match parse(&part.xml) {
        Ok(xml) => xml,
        Err((path, reason)) => {
            found.problems.push(Problem::malformed(&part.location, path, reason));
            return vec![];
        }
    };
    let source = Source { location: &part.location, name: &part.name };
    match (xml.root.name.as_str(), xml.namespace.as_str()) {
        ("FatturaElettronica", fatturapa::NAMESPACE) => fatturapa::read(&xml.root, &source, found),
        ("Invoice", ubl::INVOICE) | ("CreditNote", ubl::CREDIT_NOTE) => {
            ubl::read(&xml.root, &source, found).into_iter().collect()
        }
        // The SDI's own messages (metadata, receipts) travel zipped beside the invoices.
        (_, ns) if part.in_zip && ns.starts_with(SDI_MESSAGES) => vec![],
        (name, ns) => {
            let reason = format!(
                "namespace {:?} is not FatturaPA 1.2 ({}) nor UBL Invoice-2 or CreditNote-2",
                // Namespaces run past `shown`'s 60 characters: the version is at the end.
                ns.chars().take(200).collect::<String>(),
                fatturapa::NAMESPACE
            );
            found.problems.push(Problem::malformed(&part.location, name, reason));
            vec![]
        }
    }
}

const SDI_MESSAGES: &str = "http://ivaservizi.agenziaentrate.gov.it/docs/xsd/messaggi/";

/// Where a document came from: its location for problems, its own file name for the SDI reference.
pub(super) struct Source<'a> {
    pub location: &'a str,
    pub name: &'a str,
}

impl Source<'_> {
    /// `sdi:IT01234567890_00001` when the file is named as the SDI names them
    /// (country, VAT or tax code, `_`, a progressive of 1 to 5 characters).
    pub(super) fn sdi_ref(&self) -> Option<String> {
        let mut stem = self.name;
        while let Some(dot) = stem.rfind('.') {
            let ext = &stem[dot + 1..];
            if !(ext.eq_ignore_ascii_case("xml") || ext.eq_ignore_ascii_case("p7m")) {
                break;
            }
            stem = &stem[..dot];
        }
        let (sender, progressive) = stem.split_once('_')?;
        let alnum = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
        let sdi = sender.len() >= 4
            && sender.len() <= 30
            && sender.as_bytes()[..2].iter().all(u8::is_ascii_uppercase)
            && alnum(sender)
            && (1..=5).contains(&progressive.len())
            && alnum(progressive);
        sdi.then(|| format!("sdi:{stem}"))
    }
}

/// One document read: its buyer, and the invoice or credit note.
pub(super) struct Doc {
    pub customer: Customer,
    pub document: Document,
    /// The element its number came from, to name a duplicate.
    pub number_at: String,
}

pub(super) enum Document {
    // Boxed: an invoice is three times a credit note's size.
    Invoice(Box<Invoice>),
    CreditNote(CreditNote),
}

/// The documents of a file gathered: a customer once however many documents name it.
#[derive(Default)]
struct Batch {
    read: EDocuments,
    customers: HashMap<String, usize>,
    invoice_ids: HashSet<String>,
    documents: usize,
}

impl Batch {
    fn add(&mut self, doc: Doc, found: &mut Found) {
        self.documents += 1;
        let customers = &mut self.read.dataset.customers;
        match self.customers.get(&doc.customer.id) {
            // A customer since their first document in the file.
            Some(&i) => customers[i].customer_since = customers[i].customer_since.min(doc.customer.customer_since),
            None => {
                self.customers.insert(doc.customer.id.clone(), customers.len());
                customers.push(doc.customer);
            }
        }
        match doc.document {
            Document::Invoice(invoice) => {
                if !self.invoice_ids.insert(invoice.id.clone()) {
                    found.bad(doc.number_at, format!("invoice {} is in this file twice", fields::shown(&invoice.id)));
                }
                self.read.dataset.invoices.push(*invoice);
            }
            Document::CreditNote(note) => self.read.credit_notes.push(note),
        }
    }
}

/// The problems of one document, at its file (and zip member).
pub(super) struct Found {
    pub location: String,
    pub problems: Vec<Problem>,
}

impl Found {
    pub(super) fn bad(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(Problem::new(&self.location, field, reason));
    }

    /// A child element that must be there.
    pub(super) fn need<'e>(&mut self, parent: &'e Element, at: &str, name: &str) -> Option<&'e Element> {
        let child = parent.child(name);
        if child.is_none() {
            self.bad(format!("{at}/{name}"), "missing");
        }
        child
    }

    /// The text of a child element that must be there and not be blank.
    pub(super) fn need_text<'e>(&mut self, parent: &'e Element, at: &str, name: &str) -> Option<&'e str> {
        let text = parent.text_at(name);
        if text.is_none() {
            self.bad(format!("{at}/{name}"), "missing or empty");
        }
        text
    }

    pub(super) fn date(&mut self, field: &str, text: &str) -> Option<NaiveDate> {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
        if date.is_none() {
            self.bad(field, format!("bad date {}, expected YYYY-MM-DD", fields::shown(text)));
        }
        date
    }

    /// An amount in minor units: no sign, no more decimals than the currency has.
    pub(super) fn amount(&mut self, field: &str, text: &str, exponent: u16) -> Option<i64> {
        parse_amount(text, exponent).map_err(|reason| self.bad(field, reason)).ok()
    }

    /// The currency's decimals, or a problem naming where the code came from.
    pub(super) fn currency(&mut self, field: &str, code: &str) -> Option<u16> {
        let exponent = super::currency_exponent(code);
        if exponent.is_none() {
            self.bad(field, format!("unknown currency {}", fields::shown(code)));
        }
        exponent
    }

    pub(super) fn id(&mut self, field: &str, id: &str) {
        if !is_id(id) {
            self.bad(field, format!("{} is not an id: 1 to 128 printable characters", fields::shown(id)));
        }
    }

    /// A customer checked by the rules every entry follows; each problem
    /// named by the element the field came from (`elements`: field, path).
    pub(super) fn check_customer(&mut self, customer: &Customer, elements: &[(&str, &str)]) {
        if customer.email.is_none() && customer.phone.is_none() && customer.postal_address.is_none() {
            let at = elements.iter().find(|(f, _)| *f == "postal_address").map_or("postal_address", |(_, p)| p);
            self.bad(at, "no email, phone or postal address: the customer cannot be reached");
        }
        for (field, reason) in fields::customer(customer) {
            let at = elements.iter().find(|(f, _)| *f == field).map_or(field.as_str(), |(_, p)| p);
            self.bad(at, reason);
        }
    }

    /// A credit note's number, and those of the invoices it credits, by the rules of an invoice number.
    pub(super) fn check_credit_note(&mut self, note: &CreditNote, number_at: &str, credits_at: &str) {
        if let Err(reason) = fields::name(&note.number) {
            self.bad(number_at, reason);
        }
        for reason in note.credits.iter().filter_map(|number| fields::name(number).err()) {
            self.bad(credits_at, reason);
        }
    }

    /// An invoice checked by the rules every entry follows.
    pub(super) fn check_invoice(&mut self, invoice: &Invoice, elements: &[(&str, &str)]) {
        for (field, reason) in fields::invoice(invoice) {
            let at = elements.iter().find(|(f, _)| *f == field).map_or(field.as_str(), |(_, p)| p);
            self.bad(at, reason);
        }
    }
}

/// Documents nest far less; deeper is a document built to hurt.
const DEEPEST: usize = 32;
/// Elements in one document: a FatturaPA of 20 MB has fewer; held whole, each costs some 200 bytes.
const MOST_ELEMENTS: usize = 1_000_000;

/// An XML element: its local name (no prefix), attributes by local name, text and children.
#[derive(Debug, Default)]
pub(super) struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

/// A buyer as an e-invoice names one: a business, with nothing known yet of
/// how to reach it or how it pays; each format fills in what it says.
fn buyer(id: String, name: Option<&str>, customer_since: NaiveDate) -> Customer {
    Customer {
        id,
        name: name.unwrap_or_default().into(),
        email: None,
        pec: None,
        phone: None,
        postal_address: None,
        locale: "en".into(),
        timezone: chrono_tz::UTC,
        segment: "b2b".into(),
        business: true,
        tags: vec![],
        customer_since,
        invoices_paid: 0,
        paid_on_time: 0,
        opted_out: vec![],
        dunning_stop: false,
        email_bounces: None,
    }
}

/// `cac:Party` is looked up as `Party`: the prefix is the writer's choice.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

impl Element {
    pub(super) fn child(&self, name: &str) -> Option<&Element> {
        let name = local(name);
        self.children.iter().find(|c| c.name == name)
    }

    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        let name = local(name);
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element at a path of child names (`a/b/c`).
    pub(super) fn at(&self, path: &str) -> Option<&Element> {
        path.split('/').try_fold(self, |e, name| e.child(name))
    }

    /// The trimmed text at a path, if there and not blank.
    pub(super) fn text_at(&self, path: &str) -> Option<&str> {
        self.at(path).and_then(Element::value)
    }

    pub(super) fn value(&self) -> Option<&str> {
        Some(self.text.trim()).filter(|t| !t.is_empty())
    }

    pub(super) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim())
    }
}

/// A document read whole: its root element and the root's namespace.
struct Xml {
    root: Element,
    namespace: String,
}

/// Reads an XML document into elements, refusing a DTD, nesting deeper than
/// 32 and a document cut short; an error names the element path.
fn parse(bytes: &[u8]) -> Result<Xml, (String, String)> {
    let text = decode(bytes).map_err(|reason| ("document".to_string(), reason))?;
    let mut reader = NsReader::from_str(&text);
    reader.config_mut().expand_empty_elements = true;
    // The path for errors: the root by its local name, the rest as written.
    let mut names: Vec<String> = vec![];
    let path = |names: &[String]| if names.is_empty() { "document".to_string() } else { names.join("/") };
    let mut open: Vec<Element> = vec![];
    let (mut root, mut namespace, mut count) = (None, String::new(), 0usize);
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| (path(&names), e.to_string()))?;
        match event {
            Event::DocType(_) => {
                return Err((path(&names), "a DTD (and the entities it declares) is refused".into()));
            }
            Event::Start(start) => {
                if root.is_some() {
                    return Err(("document".into(), "a second root element".into()));
                }
                count += 1;
                let qname = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                let name = local(&qname).to_string();
                names.push(if open.is_empty() { name.clone() } else { qname });
                if names.len() > DEEPEST || count > MOST_ELEMENTS {
                    let reason = format!("nested deeper than {DEEPEST}, or more than {MOST_ELEMENTS} elements");
                    return Err((path(&names), reason));
                }
                if open.is_empty()
                    && let ResolveResult::Bound(n) = ns
                {
                    namespace = String::from_utf8_lossy(n.as_ref()).into_owned();
                }
                let mut attributes = vec![];
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| (path(&names), e.to_string()))?;
                    let value = attribute.unescape_value().map_err(|e| (path(&names), e.to_string()))?;
                    let key = String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
                    attributes.push((key, value.into_owned()));
                }
                open.push(Element { name, attributes, ..Element::default() });
            }
            Event::End(_) => {
                names.pop();
                let element = open.pop().ok_or_else(|| ("document".to_string(), "an end tag too many".to_string()))?;
                match open.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => {
                let value = t.unescape().map_err(|e| (path(&names), e.to_string()))?;
                match open.last_mut() {
                    Some(element) => element.text.push_str(&value),
                    None if value.trim().is_empty() => {}
                    None => return Err(("document".into(), "text outside the root element".into())),
                }
            }
            Event::CData(c) => {
                if let Some(element) = open.last_mut() {
                    element.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof if !open.is_empty() => {
                return Err((path(&names), "the document ends inside this element: cut short?".into()));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let root = root.ok_or_else(|| ("document".to_string(), "no root element: not XML".to_string()))?;
    Ok(Xml { root, namespace })
}

/// The document as text: UTF-8, or ISO-8859-1 and Windows-1252 when declared
/// (Italian software still writes them). Any other declared encoding is refused.
fn decode(bytes: &[u8]) -> Result<String, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).to_ascii_lowercase();
    let declared = head
        .strip_prefix("<?xml")
        .and_then(|d| d.split("?>").next())
        .and_then(|d| d.split("encoding").nth(1))
        .and_then(|rest| rest.split(['"', '\'']).nth(1))
        .map(|e| e.trim().to_string());
    match declared.as_deref() {
        None | Some("utf-8" | "utf8" | "us-ascii" | "ascii") => String::from_utf8(bytes.to_vec())
            .map_err(|e| format!("not UTF-8 (a bad byte at {}): declare the encoding", e.utf8_error().valid_up_to())),
        Some("iso-8859-1" | "latin1" | "latin-1") => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        Some("windows-1252" | "cp1252") => Ok(bytes.iter().map(|&b| windows_1252(b)).collect()),
        Some(other) => Err(format!("encoding {} is not read: UTF-8, ISO-8859-1 or Windows-1252", fields::shown(other))),
    }
}

/// Windows-1252 is ISO-8859-1 but for 0x80 to 0x9F (the euro sign, curly quotes...).
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž', '\u{8F}', '\u{90}', '‘',
        '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}', 'ž', 'Ÿ',
    ];
    if (0x80..0xA0).contains(&b) { HIGH[usize::from(b - 0x80)] } else { char::from(b) }
}
