//! Bank statements in (camt.053, camt.054), through the one pipeline every
//! door takes: the file kept once (in `inbound`, door `bank`), each entry
//! read as it streams by, matched to the invoices it pays, and written once
//! by the bank's own reference, its payments through the one write path. A
//! credit paid this morning stops this afternoon's reminder.

pub(crate) mod camt;
pub(crate) mod matching;

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::Digest;

use crate::store::{InboundState, NewInbound, Store, Written};

/// Entries written to the store at a time: one transaction each page.
const PAGE: usize = 500;
/// The most of a statement kept as it came; its digest and size are kept whatever its size.
const KEPT: usize = 10 * 1024 * 1024;

/// What a statement did.
#[derive(Debug, Default, Serialize, PartialEq)]
pub(crate) struct Imported {
    pub kind: String,
    pub message_id: String,
    pub entries: usize,
    /// Recorded before (an overlapping statement, the day's notification).
    pub known: usize,
    /// Recorded before with another amount: nothing recorded, a person told (a task).
    pub changed: usize,
    pub paid: usize,
    pub unsure: usize,
    pub unmatched: usize,
    /// Naming invoices paid already: a person looks (a second payment).
    pub already_paid: usize,
    pub debits: usize,
    pub reversed: usize,
    /// Minor units recorded as paid, per currency.
    pub amount_paid: BTreeMap<String, i64>,
}

/// Reads `input` (a camt.053 or .054) and records what it pays; refused whole,
/// with the element path named, if any of it does not read.
pub(crate) async fn import(
    store: &Store,
    mut input: impl Read + Send + 'static,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<Imported, camt::Refused>> {
    // Read first, whole, so a refusal changes nothing; then kept, matched and written.
    let mut bytes = vec![];
    input.read_to_end(&mut bytes)?;
    let mut entries = vec![];
    let header = match camt::read(bytes.as_slice(), |e| {
        entries.push(e);
        Ok(())
    }) {
        Ok(header) => header,
        Err(refused) => return Ok(Err(refused)),
    };
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    let reason = format!("{} {} with {} entries", header.kind, header.message_id, entries.len());
    let new = NewInbound {
        door: "bank",
        digest: &digest,
        message_id: None,
        size: bytes.len(),
        raw: &bytes[..bytes.len().min(KEPT)],
        sender: None,
        subject: &header.kind,
        kind: "statement",
        state: InboundState::Applied,
        reason: &reason,
        customer_id: None,
        invoice_id: None,
        outbox_id: None,
        text: &reason,
        intent: None,
    };
    store.keep_inbound(new, Default::default(), now).await?;
    drop(bytes);

    let mut book = matching::Book::new(store.open_book(now).await?).with_accounts(store.paying_accounts().await?);
    let mut done = Imported { kind: header.kind, message_id: header.message_id, ..Imported::default() };
    for page in entries.chunks(PAGE) {
        let decided: Vec<(camt::Entry, matching::Verdict)> = page
            .iter()
            .map(|e| {
                let verdict =
                    if e.credit { book.decide(e) } else { matching::Verdict::Unmatched { evidence: String::new() } };
                // What this credit pays is no longer owed to the next one in the file.
                if let matching::Verdict::Sure { pay, .. } = &verdict {
                    for (invoice, amount) in pay {
                        book.take(&invoice.id, *amount);
                    }
                }
                (e.clone(), verdict)
            })
            .collect();
        let written = store.record_bank_entries(&decided, None, now).await?;
        for ((entry, verdict), w) in decided.iter().zip(written) {
            done.entries += 1;
            match w {
                Written::Known => done.known += 1,
                Written::Changed => done.changed += 1,
                Written::Paid => {
                    done.paid += 1;
                    if let matching::Verdict::Sure { pay, .. } = verdict {
                        *done.amount_paid.entry(entry.currency.clone()).or_default() +=
                            pay.iter().map(|(_, m)| m).sum::<i64>();
                    }
                }
                Written::Unsure => done.unsure += 1,
                Written::Unmatched => done.unmatched += 1,
                Written::AlreadyPaid => done.already_paid += 1,
                Written::Debit => done.debits += 1,
                Written::Reversed => done.reversed += 1,
            }
        }
    }
    Ok(Ok(done))
}
