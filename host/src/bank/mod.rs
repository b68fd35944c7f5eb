//! Bank statements in (camt.053, camt.054), through the one pipeline every
//! door takes: the file kept once (in `inbound`, door `bank`), each entry
//! read as it streams by, matched to the invoices it pays, and written once
//! by the bank's own reference, its payments through the one write path. A
//! credit paid this morning stops this afternoon's reminder.

pub(crate) mod camt;
pub mod state;
pub use state::EntryState;
pub(crate) mod folder;
pub(crate) mod matching;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;

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
    /// Processors' payouts (Stripe's): their payments come from the processor's events.
    pub payouts: usize,
    /// Debits of ours sent back (a credit with `RvslInd`): no customer's money.
    pub returned: usize,
    /// Minor units recorded as paid, per currency.
    pub amount_paid: BTreeMap<String, i64>,
}

/// A statement to be read twice: once to check and keep it, once to record
/// it a page at a time, so that memory does not grow with its size.
pub(crate) enum Source {
    File(PathBuf),
    Bytes(std::sync::Arc<[u8]>),
}

/// A statement that read whole: what it is, and the copy the second reading takes.
struct Checked {
    header: camt::Header,
    entries: usize,
    digest: String,
    size: usize,
    kept: Vec<u8>,
    again: Source,
    /// A file's private copy (the file itself may change between the readings).
    _spool: Option<tempfile::TempPath>,
}

/// Reads what passes through: its digest, its size, its first `KEPT` bytes,
/// and a copy where one is wanted.
struct Tee<R> {
    inner: R,
    hash: sha2::Sha256,
    size: usize,
    kept: Vec<u8>,
    copy: Option<std::io::BufWriter<std::fs::File>>,
    /// A read or the copy failed (a full disk): the file is not at fault.
    failed: Option<std::io::ErrorKind>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|e| self.failed = Some(e.kind()))?;
        let read = &buf[..n];
        self.hash.update(read);
        self.size += n;
        let room = KEPT.saturating_sub(self.kept.len()).min(n);
        self.kept.extend_from_slice(&read[..room]);
        if let Some(copy) = self.copy.as_mut() {
            copy.write_all(read).inspect_err(|e| self.failed = Some(e.kind()))?;
        }
        Ok(n)
    }
}

impl Source {
    fn open(&self) -> std::io::Result<Box<dyn BufRead + Send>> {
        Ok(match self {
            Source::File(path) => Box::new(BufReader::with_capacity(1 << 16, std::fs::File::open(path)?)),
            Source::Bytes(bytes) => Box::new(std::io::Cursor::new(bytes.clone())),
        })
    }

    /// The first reading: every entry checked (none kept), the digest taken,
    /// and a file copied aside for the second.
    fn check(self) -> anyhow::Result<Result<Checked, camt::Refused>> {
        let spool = match &self {
            Source::File(_) => Some(tempfile::NamedTempFile::new()?.into_temp_path()),
            Source::Bytes(_) => None,
        };
        let copy = match &spool {
            Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
            None => None,
        };
        let tee = Tee { inner: self.open()?, hash: sha2::Sha256::new(), size: 0, kept: vec![], copy, failed: None };
        let mut reader = BufReader::with_capacity(1 << 16, tee);
        let mut entries = 0;
        let header = match camt::read(&mut reader, |_| {
            entries += 1;
            Ok(())
        }) {
            Ok(header) => header,
            // Not the statement's fault: tried again, never set aside as refused.
            Err(refused) if reader.get_ref().failed.is_some() => anyhow::bail!("reading the statement: {refused}"),
            Err(refused) => return Ok(Err(refused)),
        };
        let mut tee = reader.into_inner();
        if let Some(copy) = tee.copy.take() {
            copy.into_inner().map_err(|e| e.into_error())?;
        }
        let again = match (&spool, self) {
            (Some(path), _) => Source::File(path.to_path_buf()),
            (None, bytes) => bytes,
        };
        Ok(Ok(Checked {
            header,
            entries,
            digest: hex::encode(tee.hash.finalize()),
            size: tee.size,
            kept: tee.kept,
            again,
            _spool: spool,
        }))
    }
}

/// Reads a statement (a camt.053 or .054) and records what it pays; refused
/// whole, with the element path named, if any of it does not read. Memory
/// holds a page of entries at a time, whatever the statement's size.
pub(crate) async fn import(
    store: &Store,
    source: Source,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<Imported, camt::Refused>> {
    // Read first, whole, so a refusal changes nothing; then kept, matched and written.
    let checked = match tokio::task::spawn_blocking(move || source.check()).await?? {
        Ok(checked) => checked,
        Err(refused) => return Ok(Err(refused)),
    };
    // The same message (kind, account, id) with other contents: a replay with
    // something changed, refused whole; the bank says which is right.
    let h = &checked.header;
    let identity = format!("{} {} {}", h.kind, h.account, h.message_id);
    if let Some(before) = store.inbound_digest_of(&identity).await?
        && before != checked.digest
    {
        let reason = format!(
            "message {} of account {} was imported before with other contents: nothing recorded (ask the bank which is right)",
            h.message_id, h.account
        );
        return Ok(Err(camt::Refused { path: "Document/GrpHdr/MsgId".into(), reason }));
    }
    let reason = format!("{} {} with {} entries", h.kind, h.message_id, checked.entries);
    let new = NewInbound {
        door: "bank",
        digest: &checked.digest,
        message_id: Some(&identity),
        size: checked.size,
        raw: &checked.kept,
        sender: None,
        subject: &checked.header.kind,
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

    let book = matching::Book::new(store.open_book(now).await?).with_accounts(store.paying_accounts().await?);
    let header = checked.header.clone();
    let done = Imported { kind: header.kind, message_id: header.message_id, ..Imported::default() };
    record_pages(store, checked, book, done, now).await.map(Ok)
}

/// The second reading: a page of entries at a time, matched and written while
/// the next page is read.
async fn record_pages(
    store: &Store,
    checked: Checked,
    mut book: matching::Book,
    mut done: Imported,
    now: DateTime<Utc>,
) -> anyhow::Result<Imported> {
    let (pages, mut arriving) = tokio::sync::mpsc::channel::<Vec<camt::Entry>>(2);
    let reading = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let _spool = checked._spool;
        let mut page = Vec::with_capacity(PAGE);
        let read = camt::read(checked.again.open()?, |entry| {
            page.push(entry);
            if page.len() == PAGE {
                // The writer gave up (an error of its own): stop reading.
                pages.blocking_send(std::mem::take(&mut page)).map_err(|_| anyhow::anyhow!("the writer stopped"))?;
            }
            Ok(())
        });
        read.map_err(|refused| anyhow::anyhow!("the statement read differently the second time: {refused}"))?;
        if !page.is_empty() {
            pages.blocking_send(page).map_err(|_| anyhow::anyhow!("the writer stopped"))?;
        }
        Ok(())
    });
    while let Some(page) = arriving.recv().await {
        record_page(store, &mut book, &mut done, page, now).await?;
    }
    reading.await??;
    Ok(done)
}

/// One page: each credit decided against what is still owed, then written.
async fn record_page(
    store: &Store,
    book: &mut matching::Book,
    done: &mut Imported,
    page: Vec<camt::Entry>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    // An entry recorded before (Monday's credit again in Tuesday's statement),
    // or twice in this page, is not matched again: it would use up what is
    // owed and leave the next credit short.
    let keys: Vec<&str> = page.iter().map(|e| e.key.as_str()).collect();
    let known = store.bank_keys_known(&keys).await?;
    let mut first = std::collections::HashSet::new();
    let decided: Vec<(camt::Entry, matching::Verdict)> = page
        .into_iter()
        .map(|e| {
            let new = !known.contains(&e.key) && first.insert(e.key.clone());
            let verdict = match new && e.credit && !e.reversal {
                true => book.decide(&e),
                false => matching::Verdict::Unmatched { evidence: String::new() },
            };
            // What this credit pays is no longer owed to the next one in the file.
            if let matching::Verdict::Sure { pay, .. } = &verdict {
                for (invoice, amount) in pay {
                    book.take(&invoice.id, *amount);
                }
            }
            (e, verdict)
        })
        .collect();
    let written = store.record_bank_entries(&decided, None, now).await?;
    for ((entry, _), w) in decided.iter().zip(written) {
        done.entries += 1;
        match w {
            Written::Known => done.known += 1,
            Written::Changed => done.changed += 1,
            Written::Paid(amount) => {
                done.paid += 1;
                *done.amount_paid.entry(entry.currency.clone()).or_default() += amount;
            }
            Written::Unsure => done.unsure += 1,
            Written::Unmatched => done.unmatched += 1,
            Written::AlreadyPaid => done.already_paid += 1,
            Written::Debit => done.debits += 1,
            Written::Reversed => done.reversed += 1,
            Written::Payout => done.payouts += 1,
            Written::Returned => done.returned += 1,
        }
    }
    Ok(())
}
