//! ISO 20022 bank-to-customer messages read as a stream: camt.053 (the
//! day's statement) and camt.054 (a notification of credits and debits),
//! versions 001.02 to 001.08, whatever prefix their namespace is bound to;
//! the same messages in the Austrian banks' namespace (Stuzza); and the
//! Italian banks' CBI statements (`CBIDlyStmtReqLogMsg`, `CBIPrdcStmtReqLogMsg`,
//! alone or in their `CBIBdyBkToCstmrStmtReq` envelope), which carry a
//! camt.053.001.02 statement under roots and namespaces of their own. Each
//! booked entry (or each transaction of a batch entry) comes out as an `Entry`
//! while the file is read, so a statement of 100 MB is never held whole; a
//! pending one (`Sts` other than `BOOK`) is not booked and is left out. A DTD
//! (where entity bombs and external entities live) is refused outright, and
//! every refusal names the element path.

use std::collections::HashMap;
use std::io::BufRead;

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use sha2::Digest;

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
    /// The unstructured remittance (`Ustrd`), lines joined by spaces; without
    /// one, the bank's words on the transaction (`AddtlTxInf`, where CBI
    /// statements put the transfer's reason).
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

/// What a message is: its kind (`camt.053.001.08`, `CBIDlyStmtReqLogMsg.00.01.02`) and id.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Header {
    pub kind: String,
    pub message_id: String,
    /// The first statement's account (IBAN or other id): with the kind and
    /// the message id, what names the message for good.
    pub account: String,
}

const DEEPEST: usize = 32;

/// The namespace of an ISO 20022 message: `urn:iso:std:iso:20022:tech:xsd:camt.053.001.08`.
const ISO: &str = "urn:iso:std:iso:20022:tech:xsd:";
/// The roots of the CBI statements read here, each in its namespace
/// `urn:CBI:xsd:<root>.<version>`: the envelope, the message it wraps, and
/// the daily and periodic statements (camt.053.001.02 inside).
const CBI_ROOTS: [&str; 4] =
    ["CBIBdyBkToCstmrStmtReq", "CBIBkToCstmrStmtReqLogMsg", "CBIDlyStmtReqLogMsg", "CBIPrdcStmtReqLogMsg"];

/// An amount as written, with its currency: (`1250.00`, `EUR`).
type Written = Option<(String, String)>;

/// A transaction being read: its fields, its references, its amount, the bank's words on it.
#[derive(Default)]
struct Tx {
    entry: Entry,
    refs: Vec<String>,
    amount: Written,
    info: String,
}

/// The entry being read: its own fields, and those of the transactions in it.
#[derive(Default)]
struct Reading {
    entry: Entry,
    entry_refs: Vec<String>,
    entry_amount: Written,
    /// `Sts` as written (`BOOK`, `PDNG`, `INFO`); none said is taken as booked.
    status: Option<String>,
    transactions: Vec<Entry>,
    tx: Option<Tx>,
}

/// Where the reading is: the element path, the message, the entry under way,
/// and what keys an entry the bank gave no reference.
#[derive(Default)]
struct Stream {
    path: Vec<String>,
    header: Header,
    reading: Option<Reading>,
    /// The `Ccy` of the element just opened.
    currency: Option<String>,
    entries: usize,
    /// The account of the statement under way (its IBAN or other id).
    account: String,
    /// How many entries without a reference had the same facts so far.
    alike: HashMap<String, usize>,
}

/// Reads a camt.053 or camt.054, handing each entry to `each` as it is read.
pub(crate) fn read(input: impl BufRead, mut each: impl FnMut(Entry) -> anyhow::Result<()>) -> Result<Header, Refused> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut s = Stream::default();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| s.refuse(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(s.refuse("a DTD (and the entities it declares) is refused".into())),
            Event::Start(start) => s.open(&start)?,
            Event::Text(text) => {
                let value = text.unescape().map_err(|e| s.refuse(e.to_string()))?;
                // No database keeps a NUL byte as text (PostgreSQL refuses it mid-statement).
                if value.contains('\0') {
                    return Err(s.refuse("a NUL byte in the text".into()));
                }
                s.text(value.trim());
            }
            Event::CData(data) if data.contains(&0) => return Err(s.refuse("a NUL byte in the text".into())),
            Event::CData(data) => s.text(String::from_utf8_lossy(&data).trim()),
            Event::End(_) => {
                if let Some((place, booked)) = s.close()? {
                    for entry in booked {
                        each(entry).map_err(|e| Refused { path: place.clone(), reason: format!("{e:#}") })?;
                    }
                }
            }
            Event::Eof if !s.path.is_empty() => return Err(s.refuse("the document ends inside this element".into())),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if s.header.kind.is_empty() {
        return Err(Refused { path: "Document".into(), reason: "not a camt.053 or camt.054 document".into() });
    }
    Ok(s.header)
}

impl Stream {
    fn at(&self) -> String {
        if self.path.is_empty() { "Document".to_string() } else { self.path.join("/") }
    }

    fn refuse(&self, reason: String) -> Refused {
        Refused { path: self.at(), reason }
    }

    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), Refused> {
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        if self.path.is_empty() {
            self.header.kind = kind_of(start).map_err(|(path, reason)| Refused { path, reason })?;
        }
        self.path.push(name);
        if self.path.len() > DEEPEST {
            return Err(self.refuse(format!("nested deeper than {DEEPEST}")));
        }
        self.currency = currency_attribute(start);
        match self.path.last().map(String::as_str) {
            Some("Ntry") => self.reading = Some(Reading::default()),
            Some("TxDtls") => {
                if let Some(r) = self.reading.as_mut() {
                    r.tx = Some(Tx::default());
                }
            }
            // A statement or notification begins: its account comes next.
            Some("Stmt" | "Ntfctn") if self.reading.is_none() => self.account.clear(),
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, value: &str) {
        let path = &self.path;
        let ends = |tail: &[&str]| path.len() >= tail.len() && path[path.len() - tail.len()..].iter().eq(tail.iter());
        // A message's id: the first group header's (a CBI envelope carries one per statement).
        if ends(&["GrpHdr", "MsgId"]) && self.header.message_id.is_empty() {
            self.header.message_id = value.to_string();
        }
        match self.reading.as_mut() {
            Some(r) => take(r, path, value, self.currency.take()),
            None if ends(&["Acct", "Id", "IBAN"]) || ends(&["Acct", "Id", "Othr", "Id"]) => {
                self.account = value.to_ascii_uppercase();
                if self.header.account.is_empty() {
                    self.header.account = self.account.clone();
                }
            }
            None => {}
        }
    }

    /// An element closes; an entry closing gives what it booked, with its place.
    fn close(&mut self) -> Result<Option<(String, Vec<Entry>)>, Refused> {
        let closing = self.path.pop().unwrap_or_default();
        match closing.as_str() {
            "TxDtls" => {
                let place = format!("{}/TxDtls/Amt", self.at());
                if let Some(r) = self.reading.as_mut()
                    && let Some(tx) = r.tx.take()
                {
                    r.transactions.push(transaction(tx).map_err(|reason| Refused { path: place, reason })?);
                }
                Ok(None)
            }
            "Ntry" => {
                self.entries += 1;
                let r = self.reading.take().unwrap_or_default();
                let place = format!("{}/Ntry[{}]", self.at(), self.entries);
                let booked = self.finish(r).map_err(|reason| Refused { path: place.clone(), reason })?;
                Ok(Some((place, booked)))
            }
            _ => Ok(None),
        }
    }

    /// The entries an `Ntry` books: one per transaction, or itself when it has
    /// none; none when it is not booked (pending, or for information).
    fn finish(&mut self, r: Reading) -> Result<Vec<Entry>, String> {
        let Reading { mut entry, entry_refs, entry_amount, status, transactions, .. } = r;
        let (value, currency) = entry_amount.ok_or("Amt: missing")?;
        entry.amount = minor(&value, &currency).map_err(|r| format!("Amt: {r}"))?;
        entry.currency = currency;
        if entry.amount <= 0 {
            return Err(format!("Amt: {value} is not a positive amount"));
        }
        if status.is_some_and(|s| !s.eq_ignore_ascii_case("BOOK")) {
            return Ok(vec![]);
        }
        let base = identity(&entry_refs).unwrap_or_default();
        if transactions.is_empty() {
            entry.key = if base.is_empty() { self.of_facts(&entry) } else { base };
            return Ok(vec![entry]);
        }
        let single = transactions.len() == 1;
        let mut out = vec![];
        for (i, mut tx) in transactions.into_iter().enumerate() {
            // A transaction takes the entry's facts it does not carry itself.
            tx.credit = entry.credit;
            tx.reversal |= entry.reversal;
            tx.booked = tx.booked.or(entry.booked);
            // Alone in its entry, it moved the entry's amount: what a transaction says of
            // itself may be the amount instructed, in another currency, or even 0.
            if single {
                (tx.amount, tx.currency) = (entry.amount, entry.currency.clone());
            } else if tx.currency.is_empty() {
                return Err(format!("TxDtls[{}]/Amt: missing in a batch of transactions", i + 1));
            } else if tx.currency != entry.currency {
                let said = format!("in {}, the entry in {}", tx.currency, entry.currency);
                return Err(format!("TxDtls[{}]/Amt: {said}: what the account got is not said", i + 1));
            }
            if tx.amount <= 0 {
                return Err(format!("TxDtls[{}]/Amt: not a positive amount", i + 1));
            }
            tx.key = self.key_of(&tx, &base, (i, single));
            out.push(tx);
        }
        // A batch must add up to what the account moved: transactions that claim
        // more (or less) than the entry would record money that never came.
        let sum: i64 = out.iter().map(|tx| tx.amount).sum();
        if !single && sum != entry.amount {
            let (said, moved) = (crate::money::format_money(sum, &entry.currency), value);
            return Err(format!("TxDtls: the transactions add up to {said}, the entry to {moved} {}", entry.currency));
        }
        Ok(out)
    }

    /// A transaction's key: the bank's reference of the transaction; else,
    /// alone in its entry, the bank's reference of the entry; else the
    /// debtor's own; else the entry's with its place in the batch; else its facts.
    fn key_of(&mut self, tx: &Entry, base: &str, (i, single): (usize, bool)) -> String {
        let banks = |key: &str| key.starts_with("AcctSvcrRef:");
        if banks(&tx.key) {
            tx.key.clone()
        } else if !(tx.key.is_empty() || single && banks(base)) {
            // The payer's own id is theirs to reuse (an invoice number as the
            // end-to-end id of two instalments; a same-day return of a credit):
            // with the day, the side and the amount it names one booking.
            let booked = tx.booked.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
            let side = if tx.credit { "CRDT" } else { "DBIT" };
            format!("{}@{booked}/{side}/{}{}", tx.key, tx.amount, tx.currency)
        } else if !base.is_empty() {
            if single { base.to_string() } else { format!("{base}#{}", i + 1) }
        } else {
            self.of_facts(tx)
        }
    }

    /// The key of an entry the bank gave no reference (nor the debtor an id):
    /// its facts (account, day, side, amount, who, words), the same in the
    /// day's notification and in its statement; the second entry alike in a
    /// file is told apart by `#2`. `NtryRef` is no identity: a CBI statement
    /// numbers its entries 1, 2, 3 each day, a Swiss notification repeats the
    /// account's QR-IBAN in every entry.
    fn of_facts(&mut self, e: &Entry) -> String {
        let booked = e.booked.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
        let side = match (e.credit, e.reversal) {
            (true, false) => "CRDT",
            (true, true) => "CRDT-RV",
            (false, false) => "DBIT",
            (false, true) => "DBIT-RV",
        };
        let (amount, references) = (e.amount.to_string(), e.references.join(" "));
        let facts: [&str; 9] = [
            &self.account,
            &booked,
            side,
            &amount,
            &e.currency,
            e.debtor.as_deref().unwrap_or_default(),
            e.debtor_iban.as_deref().unwrap_or_default(),
            &e.remittance,
            &references,
        ];
        let facts = facts.join("\u{1f}");
        let digest = hex::encode(&sha2::Sha256::digest(facts.as_bytes())[..8]);
        let seen = self.alike.entry(digest.clone()).or_insert(0);
        *seen += 1;
        if *seen == 1 { format!("Ntry:{booked}/{digest}") } else { format!("Ntry:{booked}/{digest}#{seen}") }
    }
}

/// A transaction's entry once its `TxDtls` closed: its key, its amount, its words.
fn transaction(tx: Tx) -> Result<Entry, String> {
    let Tx { mut entry, refs, amount, info } = tx;
    entry.key = identity(&refs).unwrap_or_default();
    if let Some((value, currency)) = amount {
        entry.amount = minor(&value, &currency)?;
        entry.currency = currency;
    }
    if entry.remittance.is_empty() {
        entry.remittance = info;
    }
    Ok(entry)
}

/// The message's kind from its root and the root's namespace (whatever
/// prefix binds it); only the messages and versions read here. A refusal
/// says where: the root's namespace, or the root itself.
fn kind_of(start: &BytesStart<'_>) -> Result<String, (String, String)> {
    let root = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let declares = match start.name().prefix() {
        Some(prefix) => [b"xmlns:".as_slice(), prefix.as_ref()].concat(),
        None => b"xmlns".to_vec(),
    };
    let namespace = start
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == declares.as_slice())
        .map(|a| String::from_utf8_lossy(&a.value).trim().to_string())
        .unwrap_or_default();
    if CBI_ROOTS.contains(&root.as_str()) {
        let version = namespace.strip_prefix("urn:CBI:xsd:").and_then(|n| n.strip_prefix(root.as_str()));
        let known = version.and_then(|v| v.strip_prefix('.')).is_some_and(|v| {
            v.len() == 8 && v.split('.').all(|group| group.len() == 2 && group.bytes().all(|b| b.is_ascii_digit()))
        });
        if !known {
            return Err((format!("{root}@xmlns"), format!("{namespace:?} is not the namespace of a CBI {root}")));
        }
        return Ok(namespace["urn:CBI:xsd:".len()..].to_string());
    }
    let refuse = |reason: String| Err(("Document@xmlns".to_string(), reason));
    if root != "Document" {
        return refuse(format!("the root element is {root}, not Document (nor a CBI statement)"));
    }
    // Austria's banks write the same messages under a namespace of their own:
    // `ISO:camt.053.001.02:APC:STUZZA:payments:003`.
    let stuzza = namespace.strip_prefix("ISO:").and_then(|n| n.split_once(":APC:STUZZA:")).map(|(kind, _)| kind);
    let kind = namespace.strip_prefix(ISO).or(stuzza).unwrap_or_default();
    let known = ["camt.053.001.", "camt.054.001."].iter().any(|p| {
        kind.strip_prefix(p).and_then(|v| v.parse::<u32>().ok()).is_some_and(|v| (2..=8).contains(&v))
            && kind.len() == p.len() + 2
    });
    if !known {
        return refuse(format!("{namespace:?} is not camt.053 or camt.054 001.02 to 001.08"));
    }
    Ok(kind.to_string())
}

fn currency_attribute(start: &BytesStart<'_>) -> Option<String> {
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
    let last = path.last().map(String::as_str).unwrap_or_default();
    if !in_tx && (ends(&["Ntry", "Sts"]) || ends(&["Ntry", "Sts", "Cd"]) || ends(&["Ntry", "Sts", "Prtry"])) {
        r.status = Some(value.to_string());
        return;
    }
    let (entry, refs, amount) = match (in_tx, r.tx.as_mut()) {
        (true, Some(tx)) => {
            if last == "AddtlTxInf" {
                tx.info = join(&tx.info, value);
            }
            (&mut tx.entry, &mut tx.refs, &mut tx.amount)
        }
        _ => (&mut r.entry, &mut r.entry_refs, &mut r.entry_amount),
    };
    match last {
        "Amt" if !in_tx && ends(&["Ntry", "Amt"]) => *amount = Some((value.to_string(), currency.unwrap_or_default())),
        "Amt" if in_tx && ends(&["TxDtls", "Amt"]) => *amount = Some((value.to_string(), currency.unwrap_or_default())),
        // Version 02 has the transaction's amount under AmtDtls/TxAmt; later ones in TxDtls/Amt
        // first, which says it better when both are there.
        "Amt" if in_tx && ends(&["AmtDtls", "TxAmt", "Amt"]) && amount.is_none() => {
            *amount = Some((value.to_string(), currency.unwrap_or_default()));
        }
        "CdtDbtInd" if ends(&["Ntry", "CdtDbtInd"]) => entry.credit = value == "CRDT",
        "RvslInd" => entry.reversal = value == "true" || value == "1",
        "Dt" | "DtTm" if ends(&["BookgDt", last]) => {
            entry.booked = NaiveDate::parse_from_str(value.get(..10).unwrap_or(value), "%Y-%m-%d").ok();
        }
        "AcctSvcrRef" => refs.push(format!("{last}:{value}")),
        "EndToEndId" if value != "NOTPROVIDED" => {
            entry.end_to_end = Some(value.to_string());
            refs.push(format!("E2E:{value}"));
        }
        "TxId" | "InstrId" if ends(&["Refs", last]) => refs.push(format!("{last}:{value}")),
        // The debtor's name: Dbtr/Nm up to version 07, Dbtr/Pty/Nm from 08.
        "Nm" if ends(&["Dbtr", "Nm"]) || ends(&["Dbtr", "Pty", "Nm"]) => entry.debtor = Some(value.to_string()),
        "IBAN" if ends(&["DbtrAcct", "Id", "IBAN"]) => entry.debtor_iban = Some(value.to_ascii_uppercase()),
        "Ref" if ends(&["CdtrRefInf", "Ref"]) => entry.references.push(value.to_string()),
        "Ustrd" => entry.remittance = join(&entry.remittance, value),
        _ => {}
    }
}

/// Lines of words, joined by a space.
fn join(words: &str, more: &str) -> String {
    if words.is_empty() { more.to_string() } else { format!("{words} {more}") }
}

/// The one reference that names a booking for good, the bank's own first:
/// the same payment in a camt.054 and in the day's camt.053 has the same one.
fn identity(refs: &[String]) -> Option<String> {
    ["AcctSvcrRef:", "TxId:", "E2E:", "InstrId:"]
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
