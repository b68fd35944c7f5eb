//! CSV intake: one row per invoice, with its customer's fields on the same row.
//! Rows are turned into the same records as JSON and checked by the same code,
//! so both formats give the same errors, named here by line.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{BadInput, Dataset, Problem, RawCustomer, RawDataset, RawInvoice, check_dataset};

/// Columns and where they go: (column, record, field, kind).
const COLUMNS: &[(&str, Record, &str, Kind)] = &[
    ("invoice_id", Record::Invoice, "id", Kind::Text),
    ("number", Record::Invoice, "number", Kind::Text),
    ("customer_id", Record::Both, "id", Kind::Text),
    ("name", Record::Customer, "name", Kind::Text),
    ("email", Record::Customer, "email", Kind::Text),
    ("pec", Record::Customer, "pec", Kind::Text),
    ("phone", Record::Customer, "phone", Kind::Text),
    ("postal_address", Record::Customer, "postal_address", Kind::Text),
    ("locale", Record::Customer, "locale", Kind::Text),
    ("timezone", Record::Customer, "timezone", Kind::Text),
    ("segment", Record::Customer, "segment", Kind::Text),
    ("business", Record::Customer, "business", Kind::Flag),
    ("tags", Record::Customer, "tags", Kind::List),
    ("customer_since", Record::Customer, "customer_since", Kind::Text),
    ("invoices_paid", Record::Customer, "invoices_paid", Kind::Count),
    ("paid_on_time", Record::Customer, "paid_on_time", Kind::Count),
    ("opted_out", Record::Customer, "opted_out", Kind::List),
    ("dunning_stop", Record::Customer, "dunning_stop", Kind::Flag),
    ("status", Record::Invoice, "status", Kind::OneOf(&["open", "paid", "void", "written-off"])),
    ("kind", Record::Invoice, "kind", Kind::OneOf(&["one-off", "subscription-renewal"])),
    ("currency", Record::Invoice, "currency", Kind::Text),
    ("amount_due", Record::Invoice, "amount_due", Kind::Text),
    ("amount_paid", Record::Invoice, "amount_paid", Kind::Text),
    ("issued", Record::Invoice, "issued", Kind::Text),
    ("due", Record::Invoice, "due", Kind::Text),
    ("payment_link", Record::Invoice, "payment_link", Kind::Text),
    ("promise_to_pay_until", Record::Invoice, "promise_to_pay_until", Kind::Text),
    ("dispute_reason", Record::Invoice, "dispute_reason", Kind::Text),
];

const REQUIRED: &[&str] =
    &["invoice_id", "number", "customer_id", "name", "locale", "timezone", "currency", "amount_due", "issued", "due"];

#[derive(Clone, Copy, PartialEq)]
enum Record {
    Customer,
    Invoice,
    Both,
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Flag,
    Count,
    /// Several values separated by `;`.
    List,
    OneOf(&'static [&'static str]),
}

pub(super) fn parse(file: &str, text: &str) -> Result<Dataset, BadInput> {
    let mut problems = vec![];
    let bad = |problems: &mut Vec<Problem>, line: u64, field: &str, reason: String| {
        problems.push(Problem::new(format!("line {line}"), field, reason))
    };
    let mut reader = ::csv::ReaderBuilder::new().trim(::csv::Trim::All).from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(BadInput {
                file: file.into(),
                problems: vec![Problem::malformed("line 1", "header", e.to_string())],
            });
        }
    };
    for h in &headers {
        if !COLUMNS.iter().any(|c| c.0 == h) {
            bad(&mut problems, 1, h, "unknown column".into());
        }
    }
    for r in REQUIRED {
        if !headers.iter().any(|h| h == *r) {
            bad(&mut problems, 1, r, "missing column".into());
        }
    }
    if !problems.is_empty() {
        return Err(BadInput { file: file.into(), problems });
    }

    let mut raw = RawDataset { customers: vec![], invoices: vec![], events: vec![] };
    let (mut customer_labels, mut invoice_labels) = (vec![], vec![]);
    // Each customer once: from the first row naming it; later rows must agree.
    let mut first_row_of: HashMap<String, (u64, Map<String, Value>)> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                bad(&mut problems, line, "row", e.to_string());
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let (mut customer, mut invoice) = (Map::new(), Map::new());
        for (header, cell) in headers.iter().zip(record.iter()) {
            let Some(&(_, target, field, kind)) = COLUMNS.iter().find(|c| c.0 == header) else { continue };
            if cell.is_empty() {
                continue;
            }
            let value = match cell_value(kind, cell) {
                Ok(value) => value,
                Err(why) => {
                    bad(&mut problems, line, header, why);
                    continue;
                }
            };
            if target != Record::Invoice {
                customer.insert(field.into(), value.clone());
            }
            if target == Record::Customer {
                continue;
            }
            invoice.insert(if target == Record::Both { "customer".into() } else { field.into() }, value);
        }
        let customer_id = customer.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        match first_row_of.get(&customer_id) {
            Some((first, fields)) if *fields != customer => {
                bad(&mut problems, line, "customer_id", format!("customer {customer_id:?} differs from line {first}"));
            }
            Some(_) => {}
            None => {
                first_row_of.insert(customer_id.clone(), (line, customer.clone()));
                match serde_json::from_value::<RawCustomer>(Value::Object(customer)) {
                    Ok(c) => {
                        raw.customers.push(c);
                        customer_labels.push(format!("line {line}"));
                    }
                    Err(e) => bad(&mut problems, line, "customer", e.to_string()),
                }
            }
        }
        match serde_json::from_value::<RawInvoice>(Value::Object(invoice)) {
            Ok(i) => {
                raw.invoices.push(i);
                invoice_labels.push(format!("line {line}"));
            }
            Err(e) => bad(&mut problems, line, "invoice", e.to_string()),
        }
    }
    check_dataset(file, raw, Some((customer_labels, invoice_labels)), problems).map_err(|mut e| {
        // Customers are checked before invoices: put the problems back in file order.
        let line = |p: &Problem| p.location.trim_start_matches("line ").parse::<u64>().unwrap_or(0);
        e.problems.sort_by_key(line);
        e
    })
}

/// A cell as the JSON value its column's kind reads, or why it cannot be.
fn cell_value(kind: Kind, cell: &str) -> Result<Value, String> {
    Ok(match kind {
        Kind::Text => Value::String(cell.into()),
        Kind::List => {
            Value::Array(cell.split(';').map(|s| Value::String(s.trim().into())).filter(|v| v != "").collect())
        }
        Kind::Flag => match cell.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Value::Bool(true),
            "false" | "no" | "0" => Value::Bool(false),
            _ => return Err(format!("expected true or false, got {cell:?}")),
        },
        Kind::Count => Value::from(cell.parse::<u32>().map_err(|_| format!("expected a whole number, got {cell:?}"))?),
        Kind::OneOf(allowed) if !allowed.contains(&cell) => {
            return Err(format!("expected one of {}, got {cell:?}", allowed.join(", ")));
        }
        Kind::OneOf(_) => Value::String(cell.into()),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_become_customers_and_invoices() {
        let text = "invoice_id,number,customer_id,name,email,locale,timezone,business,currency,amount_due,issued,due\n\
                    i1,F-1,c1,Rossi,a@rossi.it,it-IT,Europe/Rome,true,EUR,100.50,2026-01-01,2026-01-31\n\
                    i2,F-2,c1,Rossi,a@rossi.it,it-IT,Europe/Rome,true,EUR,20,2026-01-01,2026-02-28\n";
        let data = super::parse("x.csv", text).unwrap();
        assert_eq!(data.customers.len(), 1);
        assert_eq!(data.invoices.len(), 2);
        assert_eq!(data.invoices[0].amount_due, 10_050);
        assert!(data.customers[0].business);
    }

    #[test]
    fn every_bad_line_is_named() {
        let text = "invoice_id,number,customer_id,name,email,locale,timezone,currency,amount_due,issued,due\n\
                    i1,F-1,c1,Rossi,a@rossi.it,it-IT,Europe/Rome,EUR,100,2026-01-01,2026-01-31\n\
                    i2,F-2,c2,Bianchi,b@bianchi.it,it-IT,Europe/Rome,EUX,100,2026-01-01,2026-01-31\n\
                    i3,F-3,c3,Verdi,,it-IT,Nowhere/City,EUR,-4,2026-02-30,2026-01-31\n";
        let err = super::parse("x.csv", text).unwrap_err();
        let got: Vec<String> = err.problems.iter().map(|p| format!("{}: {}", p.location, p.field)).collect();
        assert_eq!(
            got,
            ["line 3: currency", "line 4: timezone", "line 4: email", "line 4: amount_due", "line 4: issued"],
            "{err}"
        );
        let bad_header = super::parse("x.csv", "invoice_id,colour\n").unwrap_err();
        assert!(bad_header.problems.iter().any(|p| p.field == "colour" && p.reason == "unknown column"));
    }
}
