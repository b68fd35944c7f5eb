//! Reading customers, invoices and scripted events from files, checking every
//! field and reporting every bad one (not only the first).

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;

mod csv;
pub mod fields;

use crate::event::Event;
use crate::invoice::{Customer, Invoice, InvoiceKind, InvoiceStatus, PaymentFailure, PaymentMethod, PromiseToPay};

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

/// Collects problems while checking one file.
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn bad(&mut self, location: &str, field: &str, reason: impl Into<String>) {
        self.problems.push(Problem { location: location.into(), field: field.into(), reason: reason.into() });
    }

    fn id(&mut self, location: &str, id: &str) {
        if !is_id(id) {
            self.bad(location, "id", format!("{id:?} is not an id: 1 to 128 printable characters"));
        }
    }

    fn date(&mut self, location: &str, field: &str, text: &str) -> Option<NaiveDate> {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.bad(location, field, format!("bad date {text:?}, expected YYYY-MM-DD"));
                None
            }
        }
    }

    fn instant(&mut self, location: &str, field: &str, text: &str) -> Option<DateTime<Utc>> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(t.with_timezone(&Utc));
        }
        // A bare date means midnight UTC.
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc()).or_else(
            || {
                self.bad(location, field, format!("bad time {text:?}, expected RFC 3339 or YYYY-MM-DD"));
                None
            },
        )
    }

    fn amount(&mut self, location: &str, field: &str, value: &Value, currency: Option<u16>) -> Option<i64> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                self.bad(location, field, format!("expected an amount like \"1250.00\", got {other}"));
                return None;
            }
        };
        let exponent = currency?;
        match parse_amount(&text, exponent) {
            Ok(minor) => Some(minor),
            Err(reason) => {
                self.bad(location, field, reason);
                None
            }
        }
    }
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
            problems: vec![Problem { location: "file".into(), field: "-".into(), reason: format!("cannot read: {e}") }],
        })?;
        return csv::parse(&path.display().to_string(), &text).map_err(anyhow::Error::new);
    }
    read_dataset(path)
}

/// Reads a JSON dataset (customers, invoices, optional scripted events).
pub fn read_dataset(path: &Path) -> anyhow::Result<Dataset> {
    let text = std::fs::read_to_string(path).map_err(|e| BadInput {
        file: path.display().to_string(),
        problems: vec![Problem { location: "file".into(), field: "-".into(), reason: format!("cannot read: {e}") }],
    })?;
    parse_dataset(&path.display().to_string(), &text).map_err(anyhow::Error::new)
}

pub fn parse_dataset(file: &str, text: &str) -> Result<Dataset, BadInput> {
    let raw: RawDataset = serde_json::from_str(text).map_err(|e| {
        let reason = e.to_string();
        // An unknown field is named as the field; anything else is the JSON's.
        // An unknown key may be named "": the problem is then the JSON's.
        let field = unknown_field(&reason).filter(|f| !f.is_empty()).unwrap_or("json").to_string();
        BadInput {
            file: file.into(),
            problems: vec![Problem { location: format!("line {}, column {}", e.line(), e.column()), field, reason }],
        }
    })?;
    check_dataset(file, raw, None, vec![])
}

/// The field serde names in "unknown field `x`, expected ...".
pub fn unknown_field(reason: &str) -> Option<&str> {
    reason.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next())
}

/// Checks a raw dataset. `labels` names where each customer and invoice came
/// from (a CSV line); JSON ones are named by their index and id.
/// Ids travel into the store's pages, file names and Message-IDs: 1 to 128
/// printable characters, not all blank.
pub fn is_id(id: &str) -> bool {
    !id.trim().is_empty() && id.chars().count() <= 128 && !id.chars().any(char::is_control)
}

fn check_dataset(
    file: &str,
    raw: RawDataset,
    labels: Option<(Vec<String>, Vec<String>)>,
    early: Vec<Problem>,
) -> Result<Dataset, BadInput> {
    let mut check = Checker { problems: early };
    let mut data = Dataset::default();
    let (customer_labels, invoice_labels) = labels.unwrap_or_default();

    let mut customer_ids = HashSet::new();
    for (i, c) in raw.customers.into_iter().enumerate() {
        let at = customer_labels.get(i).cloned().unwrap_or_else(|| format!("customers[{i}] ({})", c.id));
        if !customer_ids.insert(c.id.clone()) {
            check.bad(&at, "id", "duplicate customer id");
        }
        check.id(&at, &c.id);
        let timezone = c.timezone.parse::<chrono_tz::Tz>().ok();
        if timezone.is_none() {
            check.bad(&at, "timezone", format!("unknown timezone {:?}", c.timezone));
        }
        if c.email.is_none() && c.phone.is_none() && c.postal_address.is_none() {
            check.bad(&at, "email", "no email, phone or postal address: the customer cannot be reached");
        }
        if c.paid_on_time > c.invoices_paid {
            check.bad(&at, "paid_on_time", "more invoices paid on time than paid");
        }
        let since = match &c.customer_since {
            Some(s) => check.date(&at, "customer_since", s),
            None => NaiveDate::from_ymd_opt(1970, 1, 1),
        };
        let customer = Customer {
            id: c.id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            postal_address: c.postal_address,
            locale: c.locale,
            timezone: timezone.unwrap_or(chrono_tz::UTC),
            segment: c.segment,
            business: c.business,
            tags: c.tags,
            customer_since: since.unwrap_or_default(),
            invoices_paid: c.invoices_paid,
            paid_on_time: c.paid_on_time,
            opted_out: c.opted_out,
            dunning_stop: c.dunning_stop,
        };
        // The same rules as the API's and the Stripe webhook's (`fields`).
        for (field, reason) in fields::customer(&customer) {
            check.bad(&at, &field, reason);
        }
        data.customers.push(customer);
    }

    let mut invoice_ids = HashSet::new();
    for (i, r) in raw.invoices.into_iter().enumerate() {
        let at = invoice_labels.get(i).cloned().unwrap_or_else(|| format!("invoices[{i}] ({})", r.id));
        if !invoice_ids.insert(r.id.clone()) {
            check.bad(&at, "id", "duplicate invoice id");
        }
        check.id(&at, &r.id);
        if !customer_ids.contains(&r.customer) {
            check.bad(&at, "customer", format!("unknown customer {:?}", r.customer));
        }
        let exponent = currency_exponent(&r.currency);
        if exponent.is_none() {
            check.bad(&at, "currency", format!("unknown currency {:?}", r.currency));
        }
        let due_amount = check.amount(&at, "amount_due", &r.amount_due, exponent);
        let paid_amount = match &r.amount_paid {
            Some(v) => check.amount(&at, "amount_paid", v, exponent),
            None => Some(0),
        };
        let issued = check.date(&at, "issued", &r.issued);
        let due = check.date(&at, "due", &r.due);
        if let (Some(issued), Some(due)) = (issued, due)
            && due < issued
        {
            check.bad(&at, "due", "due before issued");
        }
        let failure = r.payment_failure.and_then(|f| {
            let first = check.instant(&at, "payment_failure.first_failed", &f.first_failed)?;
            let last = match &f.last_attempt {
                Some(t) => check.instant(&at, "payment_failure.last_attempt", t)?,
                None => first,
            };
            Some(PaymentFailure {
                decline_code: f.decline_code,
                attempts: f.attempts.max(1),
                first_failed: first,
                last_attempt: last,
            })
        });
        let promise = r
            .promise_to_pay_until
            .and_then(|d| check.date(&at, "promise_to_pay_until", &d))
            .map(|until| PromiseToPay { until, amount: None });
        let method = r.payment_method.map(|m| PaymentMethod {
            setup_complete: m.setup_complete,
            expires: m.expires.and_then(|d| check.date(&at, "payment_method.expires", &d)),
        });
        let dispute = r.dispute_reason.map(|reason| crate::invoice::Dispute {
            opened: issued.unwrap_or_default().and_hms_opt(0, 0, 0).unwrap().and_utc(),
            reason,
        });
        if let (Some(amount_due), Some(amount_paid)) = (due_amount, paid_amount)
            && amount_paid > amount_due
        {
            check.bad(&at, "amount_paid", "more paid than due");
        }
        let invoice = Invoice {
            id: r.id,
            number: r.number,
            customer_id: r.customer,
            status: r.status,
            kind: r.kind,
            currency: r.currency,
            amount_due: due_amount.unwrap_or_default(),
            amount_paid: paid_amount.unwrap_or_default(),
            issued: issued.unwrap_or_default(),
            due: due.unwrap_or_default(),
            payment_link: r.payment_link,
            payment_failure: failure,
            dispute,
            promise_to_pay: promise,
            payment_method: method,
            refs: vec![],
            plan: None,
            fees: vec![],
        };
        for (field, reason) in fields::invoice(&invoice) {
            check.bad(&at, &field, reason);
        }
        data.invoices.push(invoice);
    }

    for (i, mut e) in raw.events.into_iter().enumerate() {
        let at = format!("events[{i}]");
        let mut text_field = |name: &str, check: &mut Checker| match e.remove(name) {
            Some(Value::String(s)) => Some(s),
            _ => {
                check.bad(&at, name, "missing (a string)");
                None
            }
        };
        let invoice = text_field("invoice", &mut check);
        let on = text_field("on", &mut check).and_then(|d| check.date(&at, "on", &d));
        if let Some(id) = &invoice
            && !invoice_ids.contains(id)
        {
            check.bad(&at, "invoice", format!("unknown invoice {id:?}"));
        }
        let event = fields::event(&e).map_err(|bad| check.bad(&at, &bad.field, bad.reason)).ok();
        if let (Some(invoice_id), Some(on), Some(event)) = (invoice, on, event) {
            data.events.push(ScriptedEvent { invoice_id, on, event, modelled: false });
        }
    }

    if check.problems.is_empty() { Ok(data) } else { Err(BadInput { file: file.into(), problems: check.problems }) }
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
