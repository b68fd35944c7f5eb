//! ISO 20022 bank-to-customer messages read as a stream: camt.053 (the
//! day's statement) and camt.054 (a notification of credits and debits),
//! versions 001.02 to 001.08. Each booked entry (or each transaction of a
//! batch entry) comes out as an `Entry` while the file is read, so a
//! statement of 100 MB is never held whole. A DTD (where entity bombs and
//! external entities live) is refused outright, and every refusal names the
//! element path.

use std::io::BufRead;

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::events::Event;

/// A credit or debit as the bank booked it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Entry {
    /// The bank's own identity of the entry (its references), for once-only.
    pub key: String,
    pub credit: bool,
    /// The entry undoes an earlier one (`RvslInd`).
    pub reversal: bool,
    /// Minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    pub booked: Option<NaiveDate>,
    pub debtor: Option<String>,
    pub debtor_iban: Option<String>,
    /// Structured creditor references (`Strd/CdtrRefInf/Ref`).
    pub references: Vec<String>,
    /// The unstructured remittance (`Ustrd`), lines joined by spaces.
    pub remittance: String,
    pub end_to_end: Option<String>,
}

/// Why a file is not read, with where in it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {reason}")]
pub(crate) struct Refused {
    pub path: String,
    pub reason: String,
}

/// What a message is: its kind (`camt.053.001.08`) and id.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Header {
    pub kind: String,
    pub message_id: String,
}

const DEEPEST: usize = 32;

/// An amount as written, with its currency: (`1250.00`, `EUR`).
type Written = Option<(String, String)>;

/// The entry being read: its own fields, and those of the transaction under way.
#[derive(Default)]
struct Reading {
    entry: Entry,
    entry_refs: Vec<String>,
    entry_amount: Written,
    transactions: Vec<Entry>,
    /// The transaction under way: its fields, its references, its amount.
    tx: Option<(Entry, Vec<String>, Written)>,
}

/// Reads a camt.053 or camt.054, handing each entry to `each` as it is read.
pub(crate) fn read(input: impl BufRead, mut each: impl FnMut(Entry) -> anyhow::Result<()>) -> Result<Header, Refused> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut path: Vec<String> = vec![];
    let mut header = Header::default();
    let mut reading: Option<Reading> = None;
    let mut attr_ccy: Option<String> = None;
    let mut entries = 0usize;
    loop {
        let at = |path: &[String]| if path.is_empty() { "Document".to_string() } else { path.join("/") };
        let event = reader.read_event_into(&mut buf).map_err(|e| Refused { path: at(&path), reason: e.to_string() })?;
        match event {
            Event::DocType(_) => {
                return Err(Refused {
                    path: at(&path),
                    reason: "a DTD (and the entities it declares) is refused".into(),
                });
            }
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    header.kind =
                        kind_of(&start).map_err(|reason| Refused { path: "Document@xmlns".into(), reason })?;
                }
                path.push(name.clone());
                if path.len() > DEEPEST {
                    return Err(Refused { path: at(&path), reason: format!("nested deeper than {DEEPEST}") });
                }
                attr_ccy = currency_attribute(&start);
                match name.as_str() {
                    "Ntry" => reading = Some(Reading::default()),
                    "TxDtls" => {
                        if let Some(r) = reading.as_mut() {
                            r.tx = Some((Entry::default(), vec![], None));
                        }
                    }
                    _ => {}
                }
            }
            Event::Empty(_) => {}
            Event::Text(text) => {
                let value = text.unescape().map_err(|e| Refused { path: at(&path), reason: e.to_string() })?;
                let value = value.trim();
                if path.len() >= 3 && path[path.len() - 1] == "MsgId" && path[path.len() - 2] == "GrpHdr" {
                    header.message_id = value.to_string();
                }
                if let Some(r) = reading.as_mut() {
                    take(r, &path, value, attr_ccy.take());
                }
            }
            Event::End(_) => {
                let closing = path.pop().unwrap_or_default();
                match closing.as_str() {
                    "TxDtls" => {
                        if let Some(r) = reading.as_mut()
                            && let Some((tx, refs, amount)) = r.tx.take()
                        {
                            let mut tx = tx;
                            tx.key = identity(&refs).unwrap_or_default();
                            if let Some((value, currency)) = amount {
                                tx.amount = minor(&value, &currency)
                                    .map_err(|reason| Refused { path: format!("{}/TxDtls/Amt", at(&path)), reason })?;
                                tx.currency = currency;
                            }
                            r.transactions.push(tx);
                        }
                    }
                    "Ntry" => {
                        entries += 1;
                        let r = reading.take().unwrap_or_default();
                        let place = format!("{}/Ntry[{entries}]", at(&path));
                        for entry in finish(r, &place)? {
                            each(entry).map_err(|e| Refused { path: place.clone(), reason: format!("{e:#}") })?;
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof if !path.is_empty() => {
                return Err(Refused { path: at(&path), reason: "the document ends inside this element".into() });
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if header.kind.is_empty() {
        return Err(Refused { path: "Document".into(), reason: "not a camt.053 or camt.054 document".into() });
    }
    Ok(header)
}

/// The message's kind from the root's namespace; only the versions read here.
fn kind_of(start: &quick_xml::events::BytesStart<'_>) -> Result<String, String> {
    if start.local_name().as_ref() != b"Document" {
        return Err("the root element is not Document".into());
    }
    let namespace = start
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == b"xmlns")
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
        .unwrap_or_default();
    let kind = namespace.strip_prefix("urn:iso:std:iso:20022:tech:xsd:").unwrap_or_default();
    let known = ["camt.053.001.", "camt.054.001."].iter().any(|p| {
        kind.strip_prefix(p).and_then(|v| v.parse::<u32>().ok()).is_some_and(|v| (2..=8).contains(&v))
            && kind.len() == p.len() + 2
    });
    if !known {
        return Err(format!("{namespace:?} is not camt.053 or camt.054 001.02 to 001.08"));
    }
    Ok(kind.to_string())
}

fn currency_attribute(start: &quick_xml::events::BytesStart<'_>) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == b"Ccy")
        .map(|a| String::from_utf8_lossy(&a.value).trim().to_ascii_uppercase())
}

/// A text inside an entry, put where it belongs by the path that leads to it.
fn take(r: &mut Reading, path: &[String], value: &str, currency: Option<String>) {
    let ends = |tail: &[&str]| path.len() >= tail.len() && path[path.len() - tail.len()..].iter().eq(tail.iter());
    let in_tx = path.iter().any(|p| p == "TxDtls");
    let (entry, refs, amount) = match (in_tx, r.tx.as_mut()) {
        (true, Some((tx, refs, amount))) => (tx, refs, amount),
        _ => (&mut r.entry, &mut r.entry_refs, &mut r.entry_amount),
    };
    let last = path.last().map(String::as_str).unwrap_or_default();
    match last {
        "Amt" if !in_tx && ends(&["Ntry", "Amt"]) => *amount = Some((value.to_string(), currency.unwrap_or_default())),
        // Version 02 has the transaction's amount under AmtDtls/TxAmt; later ones also as TxDtls/Amt.
        "Amt" if in_tx && (ends(&["TxDtls", "Amt"]) || ends(&["AmtDtls", "TxAmt", "Amt"])) => {
            *amount = Some((value.to_string(), currency.unwrap_or_default()));
        }
        "CdtDbtInd" if ends(&["Ntry", "CdtDbtInd"]) => entry.credit = value == "CRDT",
        "RvslInd" => entry.reversal = value == "true" || value == "1",
        "Dt" | "DtTm" if ends(&["BookgDt", last]) => {
            entry.booked = NaiveDate::parse_from_str(value.get(..10).unwrap_or(value), "%Y-%m-%d").ok();
        }
        "AcctSvcrRef" | "NtryRef" => refs.push(format!("{last}:{value}")),
        "EndToEndId" if value != "NOTPROVIDED" => {
            entry.end_to_end = Some(value.to_string());
            refs.push(format!("E2E:{value}"));
        }
        "TxId" | "InstrId" if ends(&["Refs", last]) => refs.push(format!("{last}:{value}")),
        // The debtor's name: Dbtr/Nm up to version 07, Dbtr/Pty/Nm from 08.
        "Nm" if ends(&["Dbtr", "Nm"]) || ends(&["Dbtr", "Pty", "Nm"]) => entry.debtor = Some(value.to_string()),
        "IBAN" if ends(&["DbtrAcct", "Id", "IBAN"]) => entry.debtor_iban = Some(value.to_ascii_uppercase()),
        "Ref" if ends(&["CdtrRefInf", "Ref"]) => entry.references.push(value.to_string()),
        "Ustrd" => {
            if !entry.remittance.is_empty() {
                entry.remittance.push(' ');
            }
            entry.remittance.push_str(value);
        }
        _ => {}
    }
}

/// The entries an `Ntry` books: one per transaction, or itself when it has none.
fn finish(r: Reading, place: &str) -> Result<Vec<Entry>, Refused> {
    let Reading { mut entry, entry_refs, entry_amount, transactions, .. } = r;
    let refuse = |reason: String| Refused { path: place.to_string(), reason };
    let (value, currency) = entry_amount.ok_or_else(|| refuse("Amt: missing".into()))?;
    entry.amount = minor(&value, &currency).map_err(|r| refuse(format!("Amt: {r}")))?;
    entry.currency = currency;
    if entry.amount <= 0 {
        return Err(refuse(format!("Amt: {value} is not a positive amount")));
    }
    let base = identity(&entry_refs).unwrap_or_default();
    if transactions.is_empty() {
        if base.is_empty() {
            return Err(refuse("no AcctSvcrRef, NtryRef or EndToEndId: the entry cannot be told apart".into()));
        }
        entry.key = base;
        return Ok(vec![entry]);
    }
    let single = transactions.len() == 1;
    let mut out = vec![];
    for (i, mut tx) in transactions.into_iter().enumerate() {
        // A transaction takes the entry's facts it does not carry itself.
        tx.credit = entry.credit;
        tx.reversal |= entry.reversal;
        tx.booked = tx.booked.or(entry.booked);
        if tx.currency.is_empty() {
            if !single {
                return Err(refuse(format!("TxDtls[{}]/Amt: missing in a batch of transactions", i + 1)));
            }
            (tx.amount, tx.currency) = (entry.amount, entry.currency.clone());
        }
        if tx.amount <= 0 {
            return Err(refuse(format!("TxDtls[{}]/Amt: not a positive amount", i + 1)));
        }
        // The bank's reference of the transaction; else, alone in its entry, the entry's;
        // else the debtor's own; else the entry's with its place in the batch.
        tx.key = if tx.key.starts_with("AcctSvcrRef:") || (!tx.key.is_empty() && (base.is_empty() || !single)) {
            tx.key
        } else if !base.is_empty() {
            if single { base.clone() } else { format!("{base}#{}", i + 1) }
        } else {
            return Err(refuse(format!("TxDtls[{}]: no reference tells it apart", i + 1)));
        };
        out.push(tx);
    }
    Ok(out)
}

/// The one reference that names a booking for good, the bank's own first:
/// the same payment in a camt.054 and in the day's camt.053 has the same one.
fn identity(refs: &[String]) -> Option<String> {
    ["AcctSvcrRef:", "TxId:", "E2E:", "InstrId:", "NtryRef:"]
        .iter()
        .find_map(|tag| refs.iter().find(|r| r.starts_with(tag)))
        .cloned()
}

/// `1250.5` in `EUR` as 125050; more decimals than the currency has, or no number, refused.
pub(crate) fn minor(value: &str, currency: &str) -> Result<i64, String> {
    let exponent = crate::money::currency_exponent(currency).ok_or_else(|| format!("unknown currency {currency:?}"))?;
    let (units, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(units) || !(fraction.is_empty() || digits(fraction)) {
        return Err(format!("{value:?} is not an amount"));
    }
    if fraction.len() > usize::from(exponent) {
        return Err(format!("{value} has more decimals than {currency} has ({exponent})"));
    }
    let padded = format!("{fraction:0<width$}", width = usize::from(exponent));
    let text = format!("{units}{padded}");
    text.parse::<i64>().ok().filter(|n| *n < 1_000_000_000_000_000).ok_or_else(|| format!("{value} is too large"))
}

#[cfg(test)]
mod tests;
