//! Reading customers, invoices and scripted events from files, checking every
//! field and reporting every bad one (not only the first).

use std::fmt;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

mod check;
mod csv;
pub(crate) mod einvoice;
pub mod fields;

use check::check_dataset;

use crate::event::Event;
use crate::invoice::{Customer, Invoice, InvoiceKind, InvoiceStatus};

/// The example datasets, built in: the demo plays them and an uploaded policy is smoke-run on them.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("examples/invoices.json", include_str!("../../../examples/invoices.json")),
    ("examples/subscriptions.json", include_str!("../../../examples/subscriptions.json")),
];

/// One bad field: where it is, which field, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub location: String,
    pub field: String,
    pub reason: String,
    /// Not well formed (the syntax, a field that does not exist) rather than
    /// a value failing its check: a request's 400, not its 422.
    pub malformed: bool,
}

impl Problem {
    /// A value that fails its check.
    pub(crate) fn new(location: impl Into<String>, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Problem { location: location.into(), field: field.into(), reason: reason.into(), malformed: false }
    }

    /// Input that is not well formed: its syntax, a field that does not exist.
    pub(crate) fn malformed(location: impl Into<String>, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Problem { malformed: true, ..Problem::new(location, field, reason) }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.field, self.reason)
    }
}

/// Everything wrong with an input file; nothing from it is used.
#[derive(Debug)]
pub struct BadInput {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} problem(s), nothing was used", self.file, self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BadInput {}

/// A scripted event: on this date, this happens to this invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedEvent {
    pub invoice_id: String,
    pub on: NaiveDate,
    pub event: Event,
    /// Drawn from a response model in a simulation, not written in the file.
    pub modelled: bool,
}

impl ScriptedEvent {
    /// An event a simulation's response model drew.
    pub fn modelled(invoice_id: &str, on: NaiveDate, event: Event) -> Self {
        ScriptedEvent { invoice_id: invoice_id.to_string(), on, event, modelled: true }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub customers: Vec<Customer>,
    pub invoices: Vec<Invoice>,
    pub events: Vec<ScriptedEvent>,
}

impl Dataset {
    /// Every invoice put to a policy as if no contact had been made yet (the
    /// built-in examples a candidate policy is tried on).
    pub fn fresh_reviews(&self) -> Vec<crate::decision::Review<'_>> {
        self.invoices
            .iter()
            .filter_map(|invoice| {
                let customer = self.customers.iter().find(|c| c.id == invoice.customer_id)?;
                Some(crate::decision::Review { invoice, customer, history: &[] })
            })
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    #[serde(default)]
    customers: Vec<RawCustomer>,
    #[serde(default)]
    invoices: Vec<RawInvoice>,
    #[serde(default)]
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustomer {
    id: String,
    name: String,
    email: Option<String>,
    pec: Option<String>,
    phone: Option<String>,
    postal_address: Option<String>,
    locale: String,
    timezone: String,
    #[serde(default = "default_segment")]
    segment: String,
    #[serde(default)]
    business: bool,
    #[serde(default)]
    tags: Vec<String>,
    customer_since: Option<String>,
    #[serde(default)]
    invoices_paid: u32,
    #[serde(default)]
    paid_on_time: u32,
    #[serde(default)]
    opted_out: Vec<String>,
    #[serde(default)]
    dunning_stop: bool,
}

fn default_segment() -> String {
    "default".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvoice {
    id: String,
    number: String,
    customer: String,
    #[serde(default = "default_status")]
    status: InvoiceStatus,
    #[serde(default = "default_kind")]
    kind: InvoiceKind,
    currency: String,
    amount_due: Value,
    #[serde(default)]
    amount_paid: Option<Value>,
    issued: String,
    due: String,
    payment_link: Option<String>,
    payment_failure: Option<RawFailure>,
    dispute_reason: Option<String>,
    promise_to_pay_until: Option<String>,
    payment_method: Option<RawMethod>,
}

fn default_status() -> InvoiceStatus {
    InvoiceStatus::Open
}
fn default_kind() -> InvoiceKind {
    InvoiceKind::OneOff
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFailure {
    decline_code: String,
    #[serde(default = "one")]
    attempts: u32,
    first_failed: String,
    last_attempt: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMethod {
    #[serde(default = "yes")]
    setup_complete: bool,
    expires: Option<String>,
}

fn yes() -> bool {
    true
}

/// `{"invoice": ID, "on": DATE, "type": KIND, ...fields of that kind}`; the
/// rest is checked by `Event`'s own (strict) deserializer.
type RawEvent = serde_json::Map<String, Value>;

/// Ids travel into the store's pages, file names and Message-IDs: 1 to 128
/// printable characters, not all blank.
pub fn is_id(id: &str) -> bool {
    !id.trim().is_empty() && id.chars().count() <= 128 && !id.chars().any(char::is_control)
}

/// Parses a decimal amount ("1250.5", "1250.50") into minor units, refusing
/// negative amounts and more decimals than the currency has.
pub fn parse_amount(text: &str, exponent: u16) -> Result<i64, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!("negative amount {text:?}"));
    }
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits_only = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(frac) {
        return Err(format!("bad amount {text:?}, expected digits like 1250.00"));
    }
    if frac.len() > exponent as usize {
        return Err(format!("amount {text:?} has more than {exponent} decimals for this currency"));
    }
    let scale = 10i64.pow(exponent as u32);
    let frac_minor = format!("{frac:0<width$}", width = exponent as usize);
    let whole: i64 = whole.parse().map_err(|_| format!("amount {text:?} is too large"))?;
    let frac_minor: i64 = if frac_minor.is_empty() { 0 } else { frac_minor.parse().unwrap() };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_minor))
        .ok_or_else(|| format!("amount {text:?} is too large"))
}

pub use crate::money::currency_exponent;

/// Reads a dataset file: CSV (`.csv`, one row per invoice with its customer) or JSON.
pub fn read_file(path: &Path) -> anyhow::Result<Dataset> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
        let text = std::fs::read_to_string(path).map_err(|e| BadInput {
            file: path.display().to_string(),
            problems: vec![Problem::new("file", "-", format!("cannot read: {e}"))],
        })?;
        return csv::parse(&path.display().to_string(), &text).map_err(anyhow::Error::new);
    }
    read_dataset(path)
}

/// Whether a file is e-invoices (FatturaPA XML, a signed `.p7m`, a zip of
/// them, Peppol UBL) rather than a dataset, by its extension.
pub(crate) fn is_e_invoice(path: &Path) -> bool {
    let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    matches!(extension.as_deref(), Some("xml" | "p7m" | "zip"))
}

/// Reads e-invoices from a file (`is_e_invoice`), refused whole with every problem named.
pub(crate) fn read_e_invoices(path: &Path) -> anyhow::Result<einvoice::EDocuments> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| BadInput {
        file: name.clone(),
        problems: vec![Problem::new("file", "-", format!("cannot read: {e}"))],
    })?;
    Ok(einvoice::read(&name, &bytes)?)
}

/// Reads a JSON dataset (customers, invoices, optional scripted events).
pub fn read_dataset(path: &Path) -> anyhow::Result<Dataset> {
    let text = std::fs::read_to_string(path).map_err(|e| BadInput {
        file: path.display().to_string(),
        problems: vec![Problem::new("file", "-", format!("cannot read: {e}"))],
    })?;
    parse_dataset(&path.display().to_string(), &text).map_err(anyhow::Error::new)
}

pub fn parse_dataset(file: &str, text: &str) -> Result<Dataset, BadInput> {
    let raw: RawDataset = serde_json::from_str(text).map_err(|e| {
        let reason = e.to_string();
        // An unknown field is named as the field; anything else is the JSON's.
        // An unknown key may be named "": the problem is then the JSON's.
        // (serde says which only in its message: read here, once.)
        let field = unknown_field(&reason).filter(|f| !f.is_empty()).unwrap_or("json").to_string();
        let location = format!("line {}, column {}", e.line(), e.column());
        BadInput { file: file.into(), problems: vec![Problem::malformed(location, field, reason)] }
    })?;
    check_dataset(file, raw, None, vec![])
}

/// The field serde names in "unknown field `x`, expected ...".
fn unknown_field(reason: &str) -> Option<&str> {
    reason.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_the_currency_exponent() {
        assert_eq!(parse_amount("100", 2), Ok(10_000));
        assert_eq!(parse_amount("1250.5", 2), Ok(125_050));
        assert_eq!(parse_amount("1250", 0), Ok(1250));
        assert_eq!(parse_amount("1.234", 3), Ok(1234));
        assert!(parse_amount("1.234", 2).unwrap_err().contains("more than 2 decimals"));
        assert!(parse_amount("-5", 2).unwrap_err().contains("negative"));
        assert!(parse_amount("12a", 2).is_err());
        assert_eq!(currency_exponent("JPY"), Some(0));
        assert_eq!(currency_exponent("KWD"), Some(3));
        assert_eq!(currency_exponent("EUX"), None);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let text = r#"{
          "customers": [{"id": "c1", "name": "A", "locale": "it-IT", "timezone": "Europe/Roma", "email": "a@example.com"}],
          "invoices": [
            {"id": "i1", "number": "1", "customer": "c1", "currency": "EUX", "amount_due": "10", "issued": "2026-01-01", "due": "2026-01-31"},
            {"id": "i2", "number": "2", "customer": "c9", "currency": "EUR", "amount_due": "-3", "issued": "2026-13-01", "due": "2026-01-31"}
          ]
        }"#;
        let err = parse_dataset("x.json", text).unwrap_err();
        let found: Vec<(String, String)> = err.problems.iter().map(|p| (p.location.clone(), p.field.clone())).collect();
        let expected = [
            ("customers[0] (c1)", "timezone"),
            ("invoices[0] (i1)", "currency"),
            ("invoices[1] (i2)", "customer"),
            ("invoices[1] (i2)", "amount_due"),
            ("invoices[1] (i2)", "issued"),
        ];
        for (loc, field) in expected {
            assert!(found.contains(&(loc.into(), field.into())), "missing {loc} {field} in {found:?}");
        }
        assert_eq!(found.len(), expected.len(), "{found:?}");
    }

    #[test]
    fn ids_are_printable() {
        let text = r#"{
          "customers": [{"id": " ", "name": "A", "locale": "it-IT", "timezone": "Europe/Rome", "email": "a@example.com"}],
          "invoices": [
            {"id": "i\u001f1", "number": "1", "customer": " ", "currency": "EUR", "amount_due": "10", "issued": "2026-01-01", "due": "2026-01-31"}
          ]
        }"#;
        let err = parse_dataset("x.json", text).unwrap_err();
        let found: Vec<(&str, &str)> = err.problems.iter().map(|p| (p.location.as_str(), p.field.as_str())).collect();
        assert_eq!(found, [("customers[0] ( )", "id"), ("invoices[0] (i\u{1f}1)", "id")], "{err}");
    }

    #[test]
    fn unknown_fields_are_refused_with_their_position() {
        let err = parse_dataset("x.json", r#"{"invoices": [], "custmers": []}"#).unwrap_err();
        assert!(err.problems[0].reason.contains("unknown field `custmers`"), "{err}");
        assert_eq!(err.problems[0].field, "custmers");
        assert!(err.problems[0].location.starts_with("line 1"));
    }

    #[test]
    fn hostile_fields_are_named_where_they_are() {
        let text = r#"{
          "customers": [
            {"id": "c1", "name": "A\r\nB", "email": "a@example.com\r\nBcc: x@example.org", "locale": "zz_ZZ@@",
             "timezone": "Europe/Rome", "opted_out": ["email", "../../x"], "segment": "../etc"},
            {"id": "c2", "name": "B", "email": "b@example.com", "locale": "it-IT", "timezone": "Europe/Rome"}
          ],
          "invoices": [
            {"id": "i1", "number": "NUMBERNUMBER", "customer": "c2", "currency": "EUR", "amount_due": "10",
             "issued": "2026-01-01", "due": "2026-01-31", "payment_link": "javascript:alert(1)"}
          ],
          "events": [
            {"invoice": "i1", "on": "2026-02-01", "type": "promise-to-pay", "until": "2026-02-30"},
            {"invoice": "i1", "on": "2026-02-01", "type": "opt-out", "channel": "../../x"},
            {"invoice": "i1", "on": "2026-02-01", "type": "paid", "admin": true}
          ]
        }"#
        .replace("NUMBERNUMBER", &"9".repeat(201));
        let err = parse_dataset("x.json", &text).unwrap_err();
        let found: Vec<(&str, &str)> = err.problems.iter().map(|p| (p.location.as_str(), p.field.as_str())).collect();
        assert_eq!(
            found,
            [
                ("customers[0] (c1)", "name"),
                ("customers[0] (c1)", "email"),
                ("customers[0] (c1)", "locale"),
                ("customers[0] (c1)", "segment"),
                ("customers[0] (c1)", "opted_out"),
                ("invoices[0] (i1)", "number"),
                ("invoices[0] (i1)", "payment_link"),
                ("events[0]", "until"),
                ("events[1]", "channel"),
                ("events[2]", "admin"),
            ],
            "{err}"
        );
        // The same rules for a CSV row.
        let csv = "invoice_id,number,customer_id,name,email,locale,timezone,currency,amount_due,issued,due,payment_link,opted_out\n\
                   i1,F-1,c1,Rossi,\"a@rossi.it\r\nBcc: x@y.z\",it_IT,Europe/Rome,EUR,100,2026-01-01,2026-01-31,javascript:alert(1),sms;../../x\n";
        let err = csv::parse("x.csv", csv).unwrap_err();
        let found: Vec<(&str, &str)> = err.problems.iter().map(|p| (p.location.as_str(), p.field.as_str())).collect();
        assert_eq!(
            found,
            [("line 2", "email"), ("line 2", "locale"), ("line 2", "opted_out"), ("line 2", "payment_link")],
            "{err}"
        );
    }
}
