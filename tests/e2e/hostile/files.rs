//! The invoice files, JSON and CSV, mutated.

use super::*;

// ---------------------------------------------------------------------------
// 1. The invoice JSON.

#[test]
fn invoice_json_never_panics_and_every_problem_has_a_location() {
    let strategy = (0..intake::EXAMPLES.len(), vec(op(), 0..6), option::weighted(0.25, text_op()));
    check("invoice JSON", 256, strategy, |(base, ops, text_op)| {
        let mut doc: Value = serde_json::from_str(intake::EXAMPLES[base].1).unwrap();
        for op in &ops {
            mutate(&mut doc, op);
        }
        let mut text = serde_json::to_string_pretty(&doc).unwrap();
        if let Some(t) = &text_op {
            t.apply(&mut text);
        }
        let outcome = intake::parse_dataset("hostile.json", &text);
        let located = |l: &str| {
            let line = l.strip_prefix("line ").and_then(|rest| rest.split_once(", column "));
            line.is_some_and(|(l, c)| l.parse::<u64>().is_ok() && c.parse::<u64>().is_ok())
                || ["customers[", "invoices[", "events["].iter().any(|p| l.starts_with(p))
        };
        import_outcome(outcome.as_ref().map(Clone::clone), "hostile.json", located, &text)
    });
}

// ---------------------------------------------------------------------------
// 2. The CSV import.

const CSV_HEADER: &[&str] = &[
    "invoice_id",
    "number",
    "customer_id",
    "name",
    "email",
    "phone",
    "postal_address",
    "locale",
    "timezone",
    "segment",
    "business",
    "tags",
    "customer_since",
    "invoices_paid",
    "paid_on_time",
    "opted_out",
    "dunning_stop",
    "status",
    "kind",
    "currency",
    "amount_due",
    "amount_paid",
    "issued",
    "due",
    "payment_link",
    "promise_to_pay_until",
    "dispute_reason",
];

const CSV_ROWS: &[&[&str]] = &[
    &[
        "inv-1",
        "F-1",
        "cus-rossi",
        "Rossi Impianti S.r.l.",
        "a@rossi.example",
        "+39 02 5550 1234",
        "Via Torino 12, 20123 Milano",
        "it-IT",
        "Europe/Rome",
        "b2b",
        "true",
        "wholesale;north",
        "2025-02-01",
        "6",
        "3",
        "sms",
        "false",
        "open",
        "one-off",
        "EUR",
        "1250.00",
        "0",
        "2026-09-01",
        "2026-10-01",
        "https://pay.example/inv-1",
        "2026-10-20",
        "",
    ],
    &[
        "inv-2",
        "F-2",
        "cus-rossi",
        "Rossi Impianti S.r.l.",
        "a@rossi.example",
        "+39 02 5550 1234",
        "Via Torino 12, 20123 Milano",
        "it-IT",
        "Europe/Rome",
        "b2b",
        "true",
        "wholesale;north",
        "2025-02-01",
        "6",
        "3",
        "sms",
        "false",
        "open",
        "subscription-renewal",
        "EUR",
        "20.5",
        "10",
        "2026-09-01",
        "2026-10-31",
        "",
        "",
        "goods damaged",
    ],
    &[
        "inv-3",
        "SK-3",
        "cus-sakura",
        "Sakura Design K.K.",
        "keiri@sakura.example",
        "",
        "",
        "en-US",
        "Asia/Tokyo",
        "default",
        "false",
        "",
        "",
        "",
        "",
        "",
        "",
        "paid",
        "one-off",
        "JPY",
        "120000",
        "120000",
        "2026-09-01",
        "2026-10-01",
        "",
        "",
        "",
    ],
];

#[derive(Debug, Clone)]
enum CsvOp {
    /// Cell (row, column) becomes this text; row 0 is the header.
    Cell(usize, usize, String),
    /// Hostile text inside a cell.
    Splice(usize, usize, usize, String),
    /// A column leaves every row.
    DropColumn(usize),
    /// A row loses its last cell (a ragged file).
    Short(usize),
    /// A row gets one more cell.
    Long(usize, String),
    /// A row twice.
    Duplicate(usize),
}

fn csv_op() -> BoxedStrategy<CsvOp> {
    let cell = prop_oneof![3 => hostile_text(), 1 => select(CSV_HEADER).prop_map(String::from)];
    prop_oneof![
        6 => (any::<usize>(), any::<usize>(), cell).prop_map(|(r, c, t)| CsvOp::Cell(r, c, t)),
        4 => (any::<usize>(), any::<usize>(), any::<usize>(), hostile_text())
            .prop_map(|(r, c, at, t)| CsvOp::Splice(r, c, at, t)),
        1 => any::<usize>().prop_map(CsvOp::DropColumn),
        1 => any::<usize>().prop_map(CsvOp::Short),
        1 => (any::<usize>(), hostile_text()).prop_map(|(r, t)| CsvOp::Long(r, t)),
        1 => any::<usize>().prop_map(CsvOp::Duplicate),
    ]
    .boxed()
}

/// The table as CSV text: quoted as a writer would, or raw (quotes, commas and newlines as they are).
fn csv_text(table: &[Vec<String>], quoted: bool) -> String {
    let cell = |c: &String| {
        if quoted && c.contains([',', '"', '\r', '\n']) { format!("\"{}\"", c.replace('"', "\"\"")) } else { c.clone() }
    };
    table.iter().map(|row| row.iter().map(cell).collect::<Vec<_>>().join(",") + "\n").collect()
}

#[test]
fn csv_import_never_panics_and_every_problem_names_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.csv");
    let file = path.display().to_string();
    let strategy = (vec(csv_op(), 0..6), any::<bool>(), option::weighted(0.2, text_op()));
    check("CSV import", 256, strategy, |(ops, raw, text_op)| {
        let mut table: Vec<Vec<String>> = std::iter::once(CSV_HEADER)
            .chain(CSV_ROWS.iter().copied())
            .map(|row| row.iter().map(|s| s.to_string()).collect())
            .collect();
        for op in &ops {
            let rows = table.len();
            match op {
                CsvOp::Cell(r, c, text) => {
                    let row = &mut table[r % rows];
                    if !row.is_empty() {
                        let n = row.len();
                        row[c % n] = text.clone();
                    }
                }
                CsvOp::Splice(r, c, at, text) => {
                    let row = &mut table[r % rows];
                    if !row.is_empty() {
                        let n = row.len();
                        row[c % n] = splice(&row[c % n], *at, text);
                    }
                }
                CsvOp::DropColumn(c) => {
                    let n = table[0].len().max(1);
                    for row in &mut table {
                        if c % n < row.len() {
                            row.remove(c % n);
                        }
                    }
                }
                CsvOp::Short(r) => {
                    table[r % rows].pop();
                }
                CsvOp::Long(r, text) => table[r % rows].push(text.clone()),
                CsvOp::Duplicate(r) => {
                    let row = table[r % rows].clone();
                    table.push(row);
                }
            }
        }
        let mut text = csv_text(&table, !raw);
        if let Some(t) = &text_op {
            t.apply(&mut text);
        }
        std::fs::write(&path, &text).unwrap();
        let outcome = intake::read_file(&path);
        let bad = match &outcome {
            Ok(_) => None,
            Err(e) => match e.downcast_ref::<BadInput>() {
                Some(bad) => Some(bad),
                None => return Err(format!("an error that is not a BadInput: {e:#}; input {}", show(&text))),
            },
        };
        let lines = text.len() as u64 + 1;
        let located = |l: &str| {
            l.strip_prefix("line ").and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| (1..=lines).contains(&n))
        };
        let result = match (outcome.as_ref().ok(), bad) {
            (Some(data), _) => Ok(data.clone()),
            (None, Some(bad)) => Err(bad),
            (None, None) => unreachable!(),
        };
        import_outcome(result, &file, located, &text)
    });
}
