//! The store's side of bank statements: the open invoices read once for
//! matching, and each entry written once (by the bank's reference) with
//! what it paid, in the same transaction as the payments it records through
//! the one write path.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::Store;
use super::rows::Cell;
use crate::bank::camt::Entry;
use crate::bank::matching::{Open, Verdict};
use crate::bank::state::EntryState;
use crate::event::Event;
use crate::invoice::{Customer, Invoice};
use crate::outgoing::Task;

/// Why a person's match is refused (exit code 2, a 409 on the dashboard: nothing changed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CannotConfirm(pub String);

/// Days an unsure credit holds its candidates' reminders for a person to match it.
const HOLD_DAYS: i64 = 3;

/// What the new entries of a page write besides themselves.
#[derive(Default)]
struct Planned {
    /// The payments, through the one write path.
    events: Vec<(String, Event)>,
    /// (entry key, invoice, minor units) paid.
    payments: Vec<(String, String, i64)>,
    /// (entry key, invoice) a person may pick.
    candidates: Vec<(String, String)>,
}

/// What became of an entry written now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// Already recorded (an overlapping statement, a notification then the statement).
    Known,
    /// Recorded before with another amount or side: nothing recorded, a person told.
    Changed,
    /// Paid, this many minor units in all.
    Paid(i64),
    Unsure,
    Unmatched,
    /// It names invoices paid already (by another door, or the same money twice): a person looks.
    AlreadyPaid,
    Debit,
    Reversed,
    /// A processor's payout (Stripe's): its payments were recorded from the processor.
    Payout,
    /// A credit that reverses a debit of ours (a payment we made, sent back): no customer's money.
    Returned,
}

impl Store {
    /// Every open invoice with its customer's name, and those paid in the
    /// last half year (a credit naming one is a second payment), for a statement's matching.
    pub(crate) async fn open_book(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<Open>> {
        let rows = sqlx::query(
            "SELECT i.data AS invoice, c.data AS customer FROM invoices i JOIN customers c ON c.id = i.customer_id \
             WHERE i.status = 'open' OR (i.status = 'paid' AND i.updated_at >= $1)",
        )
        .bind(now.timestamp() - 183 * 86_400)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let invoice: Invoice = serde_json::from_str(&r.try_get::<String, _>("invoice")?)?;
                let customer: Customer = serde_json::from_str(&r.try_get::<String, _>("customer")?)?;
                Ok(Open {
                    closed: invoice.status != crate::invoice::InvoiceStatus::Open,
                    outstanding: invoice.outstanding(),
                    id: invoice.id,
                    number: invoice.number,
                    customer_id: customer.id,
                    customer_name: customer.name,
                    currency: invoice.currency,
                })
            })
            .collect()
    }

    /// The accounts customers paid from before (an entry matched or confirmed, with its IBAN).
    pub(crate) async fn paying_accounts(&self) -> anyhow::Result<Vec<(String, String)>> {
        let rows = sqlx::query(&format!(
            "SELECT DISTINCT e.debtor_iban, i.customer_id FROM bank_entries e JOIN bank_payments p ON p.entry_key = e.key \
             JOIN invoices i ON i.id = p.invoice_id WHERE e.debtor_iban IS NOT NULL AND e.state IN ({})",
            EntryState::sql(&EntryState::PAID)
        ))
        .fetch_all(&self.pool)
        .await?;
        let pairs: Vec<(String, String)> =
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<anyhow::Result<_>>()?;
        // An account that paid for two customers (a group's treasury) names neither.
        let mut count = std::collections::HashMap::new();
        for (iban, _) in &pairs {
            *count.entry(iban.clone()).or_insert(0) += 1;
        }
        Ok(pairs.into_iter().filter(|(iban, _)| count[iban] == 1).collect())
    }

    /// Writes a page of entries with their verdicts, each once, in one
    /// transaction: the entries in one statement, what they pay through the
    /// one write path in a few, whatever the page's length.
    pub(crate) async fn record_bank_entries(
        &self,
        page: &[(Entry, Verdict)],
        inbound_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Written>> {
        let mut tx = self.begin_write().await?;
        // What each invoice owes now, read under the write lock: another
        // statement (or door) may have paid it since the book was read.
        let page = &owed_now(&mut tx, page).await?;
        let states: Vec<(EntryState, String)> = page.iter().map(|(e, v)| state_of(e, v)).collect();
        let inserted = insert_entries(&mut tx, page, &states, (inbound_id, now.timestamp())).await?;
        let mut written = Vec::with_capacity(page.len());
        let mut planned = Planned::default();
        let first = as_first_written(&mut tx, page, &inserted).await?;
        for ((e, verdict), inserted) in page.iter().zip(&inserted) {
            written.push(match inserted {
                false => self.known_again(&mut tx, e, &first, now).await?,
                true => self.plan_entry(&mut tx, (e, verdict), &mut planned, now).await?,
            });
        }
        let facts = self.facts(crate::event::Door::Bank);
        super::changes::apply_events_all(&mut tx, &planned.events, now, facts).await?;
        let cells: Vec<Cell> = planned
            .payments
            .iter()
            .flat_map(|(key, invoice, amount)| [Cell::Text(key), Cell::Text(invoice), Cell::Int(*amount)])
            .collect();
        super::rows::values(&mut tx, ("INSERT INTO bank_payments (entry_key, invoice_id, amount)", ""), 3, &cells)
            .await?;
        let cells: Vec<Cell> =
            planned.candidates.iter().flat_map(|(key, invoice)| [Cell::Text(key), Cell::Text(invoice)]).collect();
        let head = ("INSERT INTO bank_candidates (entry_key, invoice_id)", "ON CONFLICT DO NOTHING");
        super::rows::values(&mut tx, head, 2, &cells).await?;
        // Reversals last: what they undo may have been paid a moment ago, in this page.
        for (((e, _), inserted), w) in page.iter().zip(&inserted).zip(written.iter_mut()) {
            if *inserted && e.reversal && !e.credit {
                *w = self.reverse(&mut tx, e, now).await?;
            }
        }
        tx.commit().await?;
        Ok(written)
    }

    /// What a new entry does: the events it records (gathered into `events`),
    /// the payments it makes (`payments`), and a person's task where one must look.
    async fn plan_entry(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        (e, verdict): (&Entry, &Verdict),
        planned: &mut Planned,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Written> {
        let Planned { events, payments, candidates: listed } = planned;
        if !e.credit {
            return Ok(if e.reversal { Written::Unmatched } else { Written::Debit });
        }
        if e.reversal {
            return Ok(Written::Returned);
        }
        let at = now.timestamp();
        match verdict {
            Verdict::Sure { pay, left, .. } => {
                for (invoice, amount) in pay {
                    events.push((invoice.id.clone(), Event::PaymentReceived { amount: *amount }));
                    payments.push((e.key.clone(), invoice.id.clone(), *amount));
                }
                if *left > 0
                    && let Some((invoice, _)) = pay.first()
                {
                    let title =
                        format!("Overpayment: {} more than owed on {}", money(*left, &e.currency), invoice.number);
                    self.open_task(tx, &invoice.id, &bank_task(e, &invoice.customer_name, title), at).await?;
                }
                Ok(Written::Paid(pay.iter().map(|(_, amount)| amount).sum()))
            }
            Verdict::Unsure { candidates, evidence } => {
                let Some(first) = candidates.first() else { return Ok(Written::Unmatched) };
                listed.extend(candidates.iter().map(|c| (e.key.clone(), c.id.clone())));
                // Nothing more to the candidates while a person looks: a few days, then reminders resume.
                let until = (now + chrono::Duration::days(HOLD_DAYS)).date_naive();
                events.extend(candidates.iter().map(|c| (c.id.clone(), Event::TransferToConfirm { until })));
                let numbers: Vec<&str> = candidates.iter().map(|c| c.number.as_str()).collect();
                let title = format!(
                    "Match a transfer of {} from {}: {evidence}; candidates {}",
                    money(e.amount, &e.currency),
                    e.debtor.as_deref().unwrap_or("an unknown debtor"),
                    numbers.join(", ")
                );
                self.open_task(tx, &first.id, &bank_task(e, &first.customer_name, title), at).await?;
                Ok(Written::Unsure)
            }
            Verdict::AlreadyPaid { invoices, evidence } => {
                let Some(first) = invoices.first() else { return Ok(Written::Unmatched) };
                listed.extend(invoices.iter().map(|c| (e.key.clone(), c.id.clone())));
                let title = format!(
                    "A second payment? {} from {}: {evidence}; refund it or keep it as credit",
                    money(e.amount, &e.currency),
                    e.debtor.as_deref().unwrap_or("an unknown debtor"),
                );
                self.open_task(tx, &first.id, &bank_task(e, &first.customer_name, title), at).await?;
                Ok(Written::AlreadyPaid)
            }
            Verdict::Unmatched { .. } => Ok(Written::Unmatched),
            Verdict::Payout { .. } => Ok(Written::Payout),
        }
    }

    /// An entry seen before: the same, or changed since (a statement replayed
    /// with an entry altered), which nothing records and a person hears of.
    async fn known_again(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        e: &Entry,
        first: &FirstWritten,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Written> {
        let Some((amount, currency, credit)) = first.get(&e.key) else {
            anyhow::bail!("bank entry {:?} was neither written now nor before", e.key);
        };
        if (*amount, currency.as_str(), *credit) == (e.amount, e.currency.as_str(), e.credit) {
            return Ok(Written::Known);
        }
        let (amount, currency) = (*amount, currency.clone());
        let paid = sqlx::query("SELECT invoice_id FROM bank_payments WHERE entry_key = $1 ORDER BY id LIMIT 1")
            .bind(&e.key)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(row) = paid {
            let invoice: String = row.try_get("invoice_id")?;
            let title = format!(
                "A bank entry came again changed: {} was {}, now {}; nothing recorded again, check with the bank",
                e.key,
                money(amount, &currency),
                money(e.amount, &e.currency)
            );
            let mut task = bank_task(e, "-", title);
            task.key = format!("bank/{}/changed/{}", e.key, e.amount);
            self.open_task(tx, &invoice, &task, now.timestamp()).await?;
        }
        Ok(Written::Changed)
    }

    async fn paid_by_entry(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        key: &str,
        invoice_id: &str,
        amount: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO bank_payments (entry_key, invoice_id, amount) VALUES ($1, $2, $3)")
            .bind(key)
            .bind(invoice_id)
            .bind(amount)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A reversal undoes what the credit it reverses paid: found by its
    /// end-to-end id and amount among the credits matched.
    async fn reverse(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        e: &Entry,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Written> {
        let Some(e2e) = &e.end_to_end else { return Ok(Written::Unmatched) };
        let original = sqlx::query(&format!(
            "SELECT key FROM bank_entries WHERE end_to_end = $1 AND amount = $2 AND credit = 1 AND state IN ({}) \
             ORDER BY received_at LIMIT 1",
            EntryState::sql(&EntryState::PAID)
        ))
        .bind(e2e)
        .bind(e.amount)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(original) = original else { return Ok(Written::Unmatched) };
        let key: String = original.try_get("key")?;
        let paid = sqlx::query("SELECT invoice_id, amount FROM bank_payments WHERE entry_key = $1 ORDER BY id")
            .bind(&key)
            .fetch_all(&mut **tx)
            .await?;
        for row in &paid {
            let invoice: String = row.try_get("invoice_id")?;
            let event = Event::PaymentReversed { amount: row.try_get("amount")? };
            super::apply_event_in(tx, &invoice, &event, now, self.facts(crate::event::Door::Bank)).await?;
        }
        sqlx::query("UPDATE bank_entries SET state = $1, evidence = evidence || $2 WHERE key = $3")
            .bind(EntryState::Reversed.name())
            .bind(format!("; reversed by {}", e.key))
            .bind(&key)
            .execute(&mut **tx)
            .await?;
        Ok(Written::Reversed)
    }

    /// A person says which invoice an entry pays (`sollecito bank confirm`, the
    /// dashboard): paid up to what it owes, in its currency, an overpayment a task.
    pub(crate) async fn confirm_bank_entry(
        &self,
        key: &str,
        invoice_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(i64, String)> {
        let refuse = |why: String| anyhow::Error::new(CannotConfirm(why));
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(&format!(
            "UPDATE bank_entries SET state = '{}', evidence = evidence || $1, settled_at = $2 WHERE key = $3 \
             AND state IN ({}) RETURNING amount, currency, booked, debtor, remittance",
            EntryState::Confirmed.name(),
            EntryState::sql(&EntryState::CONFIRMABLE)
        ))
        .bind(format!("; confirmed for {invoice_id} by a person"))
        .bind(now.timestamp())
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = claimed else {
            return Err(refuse(format!("no entry {key:?} waits for a person (unknown, or already matched)")));
        };
        let (amount, currency): (i64, String) = (row.try_get("amount")?, row.try_get("currency")?);
        let owed = sqlx::query("SELECT currency, total - paid AS owed, status FROM ledger WHERE invoice_id = $1")
            .bind(invoice_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(owed) = owed else { return Err(refuse(format!("unknown invoice {invoice_id:?}"))) };
        let (in_currency, left, status): (String, i64, String) =
            (owed.try_get("currency")?, owed.try_get("owed")?, owed.try_get("status")?);
        if in_currency != currency {
            return Err(refuse(format!("the credit is in {currency}, invoice {invoice_id} in {in_currency}")));
        }
        if status != "open" || left <= 0 {
            return Err(refuse(format!("invoice {invoice_id} owes nothing ({status})")));
        }
        let paid = amount.min(left);
        let event = Event::PaymentReceived { amount: paid };
        super::apply_event_in(&mut tx, invoice_id, &event, now, self.facts(crate::event::Door::Bank)).await?;
        self.paid_by_entry(&mut tx, key, invoice_id, paid).await?;
        // The person's task about the entry is done with it.
        sqlx::query("UPDATE tasks SET done_at = $1 WHERE key = $2 AND done_at IS NULL")
            .bind(now.timestamp())
            .bind(format!("bank/{key}"))
            .execute(&mut *tx)
            .await?;
        if amount > paid {
            let title = format!("Overpayment: {} more than owed on {invoice_id}", money(amount - paid, &currency));
            let entry = Entry {
                key: format!("{key}/over"),
                credit: true,
                amount,
                currency: currency.clone(),
                booked: row.try_get::<Option<String>, _>("booked")?.and_then(|d| d.parse().ok()),
                debtor: row.try_get("debtor")?,
                remittance: row.try_get("remittance")?,
                ..Entry::default()
            };
            self.open_task(&mut tx, invoice_id, &bank_task(&entry, "-", title), now.timestamp()).await?;
        }
        tx.commit().await?;
        Ok((paid, currency))
    }

    /// The digest of the statement kept under `identity` (kind, account, message id), if one was.
    pub(crate) async fn inbound_digest_of(&self, identity: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT digest FROM inbound WHERE door = 'bank' AND message_id = $1")
            .bind(identity)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("digest")).transpose()?)
    }

    /// Which of `keys` are recorded already: a credit seen before (an
    /// overlapping statement) is not matched again against what is owed.
    pub(crate) async fn bank_keys_known(&self, keys: &[&str]) -> anyhow::Result<std::collections::HashSet<String>> {
        // A read: a plain transaction, which takes no write lock on SQLite.
        let mut tx = self.pool.begin().await?;
        let rows =
            super::rows::keyed(&mut tx, |list| format!("SELECT key FROM bank_entries WHERE key IN {list}"), keys)
                .await?;
        tx.rollback().await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>("key")?)).collect()
    }
}

/// The state an entry is written with, and the evidence for it.
fn state_of(e: &Entry, verdict: &Verdict) -> (EntryState, String) {
    match (e.credit, e.reversal, verdict) {
        (false, true, _) => (EntryState::Reversal, "a reversal of an earlier credit".to_string()),
        (false, false, _) => (EntryState::Debit, "money out: not a payment of ours".to_string()),
        (true, true, _) => {
            (EntryState::Returned, "money of ours sent back (a reversed debit): no customer's payment".to_string())
        }
        (true, _, Verdict::Sure { evidence, .. }) => (EntryState::Matched, evidence.clone()),
        (true, _, Verdict::Unsure { evidence, .. }) => (EntryState::Unsure, evidence.clone()),
        (true, _, Verdict::Unmatched { evidence }) => (EntryState::Unmatched, evidence.clone()),
        (true, _, Verdict::AlreadyPaid { evidence, .. }) => (EntryState::AlreadyPaid, evidence.clone()),
        (true, _, Verdict::Payout { evidence }) => (EntryState::Payout, evidence.clone()),
    }
}

/// The page with each sure payment held to what its invoices owe now (read
/// in the write transaction; on PostgreSQL their ledger rows locked): what
/// was paid meanwhile is a second payment for a person, not paid twice.
async fn owed_now(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    page: &[(Entry, Verdict)],
) -> anyhow::Result<Vec<(Entry, Verdict)>> {
    let mut ids: Vec<&str> = page
        .iter()
        .filter_map(|(_, v)| match v {
            Verdict::Sure { pay, .. } => Some(pay.iter().map(|(o, _)| o.id.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let lock = if super::rows::postgres(tx) { " ORDER BY invoice_id FOR UPDATE" } else { "" };
    let sql = |list: &str| {
        format!("SELECT invoice_id, total - paid AS owed, status FROM ledger WHERE invoice_id IN {list}{lock}")
    };
    let mut owed = std::collections::HashMap::new();
    for r in super::rows::keyed(tx, sql, &ids).await? {
        let (id, left, status): (String, i64, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        owed.insert(id, if status == "open" { left.max(0) } else { 0 });
    }
    Ok(page.iter().map(|(e, v)| (e.clone(), held_to(v, &mut owed))).collect())
}

/// A verdict with its payments held to what is owed (and lowered by them).
fn held_to(verdict: &Verdict, owed: &mut std::collections::HashMap<String, i64>) -> Verdict {
    let Verdict::Sure { evidence, pay, left } = verdict else { return verdict.clone() };
    let (mut paid, mut over) = (vec![], *left);
    for (invoice, amount) in pay {
        let now = owed.entry(invoice.id.clone()).or_insert(0);
        let part = (*amount).min(*now);
        *now -= part;
        over += amount - part;
        if part > 0 {
            paid.push((invoice.clone(), part));
        }
    }
    if paid.is_empty() {
        let evidence = format!("{evidence}, paid meanwhile: a second payment");
        return Verdict::AlreadyPaid { evidence, invoices: pay.iter().map(|(o, _)| o.clone()).collect() };
    }
    Verdict::Sure { evidence: evidence.clone(), pay: paid, left: over }
}

/// How entries were first written, by key: amount, currency, credit.
type FirstWritten = std::collections::HashMap<String, (i64, String, bool)>;

/// The entries of a page written before (by an earlier statement, or earlier
/// in the page), as first written: one statement for the page.
async fn as_first_written(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    page: &[(Entry, Verdict)],
    inserted: &[bool],
) -> anyhow::Result<FirstWritten> {
    let known: Vec<&str> =
        page.iter().zip(inserted).filter(|(_, new)| !**new).map(|((e, _), _)| e.key.as_str()).collect();
    if known.is_empty() {
        return Ok(FirstWritten::new());
    }
    let sql = |list: &str| format!("SELECT key, amount, currency, credit FROM bank_entries WHERE key IN {list}");
    let rows = super::rows::keyed(tx, sql, &known).await?;
    rows.iter()
        .map(|r| {
            let credit: i64 = r.try_get("credit")?;
            Ok((r.try_get("key")?, (r.try_get("amount")?, r.try_get("currency")?, credit != 0)))
        })
        .collect()
}

/// Writes the entries, each once by the bank's key; which of them are new
/// (an entry twice in one page is new once).
async fn insert_entries(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    page: &[(Entry, Verdict)],
    states: &[(EntryState, String)],
    (inbound_id, at): (Option<i64>, i64),
) -> anyhow::Result<Vec<bool>> {
    let booked: Vec<Option<String>> = page.iter().map(|(e, _)| e.booked.map(|d| d.to_string())).collect();
    let cells: Vec<Cell> = page
        .iter()
        .zip(states)
        .zip(&booked)
        .flat_map(|(((e, _), (state, evidence)), booked)| {
            [
                Cell::Text(&e.key),
                Cell::Int(at),
                Cell::OptText(booked.as_deref()),
                Cell::Int(i64::from(e.credit)),
                Cell::Int(e.amount),
                Cell::Text(&e.currency),
                Cell::OptText(e.debtor.as_deref()),
                Cell::Text(&e.remittance),
                Cell::OptText(e.end_to_end.as_deref()),
                Cell::Text(state.name()),
                Cell::Text(evidence),
                Cell::OptInt(inbound_id),
                Cell::OptText(e.debtor_iban.as_deref()),
                Cell::OptInt((*state == EntryState::Matched).then_some(at)),
            ]
        })
        .collect();
    let head = "INSERT INTO bank_entries (key, received_at, booked, credit, amount, currency, debtor, remittance, \
                end_to_end, state, evidence, inbound_id, debtor_iban, settled_at)";
    let rows = super::rows::values(tx, (head, "ON CONFLICT (key) DO NOTHING RETURNING key"), 14, &cells).await?;
    let mut new: std::collections::HashSet<String> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
    Ok(page.iter().map(|(e, _)| new.remove(&e.key)).collect())
}

fn money(minor: i64, currency: &str) -> String {
    crate::money::format_money(minor, currency)
}

/// A person's task about an entry, keyed by it (opened once).
fn bank_task(e: &Entry, customer: &str, title: String) -> Task {
    Task {
        key: format!("bank/{}", e.key),
        title,
        customer: customer.to_string(),
        phone: None,
        script: format!(
            "{} {} booked {}; from {}; words: {}. Confirm with: sollecito bank confirm {:?} INVOICE",
            money(e.amount, &e.currency),
            if e.credit { "in" } else { "out" },
            e.booked.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            e.debtor.as_deref().unwrap_or("-"),
            e.remittance,
            e.key
        ),
    }
}
