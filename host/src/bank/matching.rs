//! A credit matched to the invoices it pays, in order of evidence: the
//! creditor reference the page and the messages print (ISO 11649), the
//! invoice numbers in the remittance, then the amount against what the
//! debtor (by name or IBAN) owes. Sure, it is paid at once; unsure, a person
//! picks among the candidates; nothing, it is listed. Pure: the store reads
//! the open invoices once into a `Book`, and writes what `decide` says.

use std::collections::HashMap;

use super::camt::Entry;
use crate::portal::rf;

/// An open invoice as matching sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Open {
    pub id: String,
    pub number: String,
    pub customer_id: String,
    pub customer_name: String,
    pub currency: String,
    pub outstanding: i64,
    /// Paid already (lately): a credit naming it is a second payment, not a payment.
    pub closed: bool,
}

/// How a debtor known by the account paid from is named in the evidence.
const ACCOUNT: &str = "the debtor's account";

/// The open invoices, indexed by what a payment may name.
#[derive(Default)]
pub(crate) struct Book {
    invoices: Vec<Open>,
    by_id: HashMap<String, usize>,
    by_reference: HashMap<String, usize>,
    by_number: HashMap<String, Vec<usize>>,
    by_tail: HashMap<String, Vec<usize>>,
    by_customer: HashMap<String, Vec<usize>>,
    /// A name's customer; `None` where two customers share the name (it names neither).
    by_name: HashMap<String, Option<String>>,
    /// Accounts customers paid from before, to the customer.
    by_iban: HashMap<String, String>,
}

/// What a credit pays.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Paid: (invoice, minor units) each, and what the credit left over (an overpayment).
    Sure {
        evidence: String,
        pay: Vec<(Open, i64)>,
        left: i64,
    },
    /// A person decides among these.
    Unsure {
        evidence: String,
        candidates: Vec<Open>,
    },
    Unmatched {
        evidence: String,
    },
    /// It names invoices paid already: a second payment, for a person to refund or keep.
    AlreadyPaid {
        evidence: String,
        invoices: Vec<Open>,
    },
    /// A card processor's payout: the sum of payments recorded from the
    /// processor's own events (Stripe's webhooks), not a customer's transfer.
    Payout {
        evidence: String,
    },
}

/// Processors whose payouts arrive as one credit for many customers' payments.
const PROCESSORS: [&str; 10] =
    ["stripe", "paypal", "adyen", "sumup", "satispay", "mollie", "gocardless", "klarna", "braintree", "square"];

/// The processor a credit is a payout of: its debtor's first word, or the
/// remittance's ("STRIPE PAYOUT po_1Q...", "PAYPAL EUROPE S.A.R.L.").
fn processor_of(e: &Entry) -> Option<&'static str> {
    let first = |text: &str| {
        let lower = text.to_lowercase();
        let word = lower.split(|c: char| !c.is_alphanumeric()).find(|w| !w.is_empty()).unwrap_or_default().to_string();
        PROCESSORS.iter().find(|p| **p == word).copied()
    };
    e.debtor.as_deref().and_then(first).or_else(|| first(&e.remittance))
}

/// Letters and digits only, upper case: `FT-2026/1001` is `FT20261001`.
fn compact(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_uppercase()
}

/// A company's name as people write it on a transfer: words in lower case,
/// the legal form left out (`Rossi Impianti S.r.l.` is `rossi impianti`).
fn name_key(name: &str) -> String {
    const FORMS: [&str; 16] = [
        "srl", "spa", "snc", "sas", "srls", "gmbh", "ag", "kg", "ltd", "limited", "plc", "inc", "llc", "sa", "sarl",
        "kk",
    ];
    let lower = name.to_lowercase().replace(['.', ',', '&', '-'], " ");
    let words: Vec<&str> = lower.split_whitespace().collect();
    let joined: String = words.concat();
    let kept: Vec<&str> = words.into_iter().filter(|w| !FORMS.contains(w)).collect();
    // "S.r.l." splits into s, r, l: drop the letters a legal form is made of at the end.
    let mut kept = kept;
    while kept.last().is_some_and(|w| w.len() == 1 && w.chars().all(char::is_alphabetic)) && joined.len() > 3 {
        kept.pop();
    }
    kept.join(" ")
}

impl Book {
    pub(crate) fn new(invoices: Vec<Open>) -> Book {
        let mut book = Book::default();
        for (i, inv) in invoices.iter().enumerate() {
            book.by_id.insert(inv.id.clone(), i);
            book.by_reference.insert(rf::of_invoice(&inv.number), i);
            let number = compact(&inv.number);
            book.by_number.entry(number.clone()).or_default().push(i);
            // "2026/1001" for "FT-2026/1001": the number without its letters in front.
            let bare = number.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            if bare.len() >= 4 && bare != number {
                book.by_number.entry(bare.to_string()).or_default().push(i);
            }
            // "1001" for "FT-2026/1001": the last group of digits, as people quote it.
            let last =
                inv.number.rsplit(|c: char| !c.is_ascii_alphanumeric()).find(|g| !g.is_empty()).unwrap_or_default();
            let tail = if last.bytes().all(|b| b.is_ascii_digit()) { last.trim_start_matches('0') } else { "" };
            if tail.len() >= 3 {
                book.by_tail.entry(tail.to_string()).or_default().push(i);
            }
            book.by_customer.entry(inv.customer_id.clone()).or_default().push(i);
            let named =
                book.by_name.entry(name_key(&inv.customer_name)).or_insert_with(|| Some(inv.customer_id.clone()));
            if named.as_deref().is_some_and(|c| c != inv.customer_id) {
                *named = None;
            }
        }
        book.invoices = invoices;
        book
    }

    /// The accounts (IBAN, customer) customers paid from before: an account is
    /// better evidence of who pays than a name typed by their bank.
    pub(crate) fn with_accounts(mut self, accounts: Vec<(String, String)>) -> Book {
        self.by_iban = accounts.into_iter().map(|(iban, customer)| (compact(&iban), customer)).collect();
        self
    }

    /// `amount` of an invoice was paid meanwhile (an earlier credit of the same file).
    pub(crate) fn take(&mut self, id: &str, amount: i64) {
        // By its index: a search of the list for each credit made a 100,000-entry statement quadratic.
        if let Some(inv) = self.by_id.get(id).and_then(|i| self.invoices.get_mut(*i)) {
            inv.outstanding -= amount;
            inv.closed = inv.outstanding <= 0;
        }
    }

    /// The customer the debtor is, by the account paid from or else the name, and how it was known.
    fn customer_of(&self, e: &Entry) -> Option<(&str, &'static str)> {
        if let Some(customer) = e.debtor_iban.as_deref().and_then(|iban| self.by_iban.get(&compact(iban))) {
            return Some((customer.as_str(), ACCOUNT));
        }
        let key = name_key(e.debtor.as_deref()?);
        let customer = self.by_name.get(&key)?.as_deref()?;
        Some((customer, "the debtor's name")).filter(|_| !key.is_empty())
    }

    /// The invoices an RF reference in the credit names (structured, or typed in the words).
    fn by_references(&self, e: &Entry) -> Vec<usize> {
        let mut found = vec![];
        let typed = compact(&e.remittance);
        let mut texts: Vec<String> = e.references.iter().map(|r| compact(r)).collect();
        // An RF reference typed among other words: each "RF" followed by up to 23 characters.
        for (at, _) in typed.match_indices("RF") {
            texts.push(typed[at..].chars().take(25).collect());
        }
        for text in texts {
            // The longest prefix that is a reference of ours.
            let hit = (5..=text.len().min(25)).rev().find_map(|n| {
                let candidate = rf::parse(text.get(..n)?)?;
                self.by_reference.get(&candidate).copied()
            });
            if let Some(i) = hit.filter(|i| !found.contains(i)) {
                found.push(i);
            }
        }
        found
    }

    /// Invoices whose number the words name: (in full, by the digits at their end only).
    fn by_numbers(&self, words: &str) -> (Vec<usize>, Vec<usize>) {
        let tokens: Vec<String> =
            words.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).map(compact).collect();
        let (mut full, mut tail) = (vec![], vec![]);
        for start in 0..tokens.len() {
            let mut window = String::new();
            for token in tokens.iter().skip(start).take(4) {
                window.push_str(token);
                for i in self.by_number.get(&window).into_iter().flatten() {
                    if !full.contains(i) {
                        full.push(*i);
                    }
                }
            }
            let digits = tokens[start].trim_start_matches('0');
            for i in self.by_tail.get(digits).into_iter().flatten() {
                if !tail.contains(i) {
                    tail.push(*i);
                }
            }
        }
        tail.retain(|i| !full.contains(i));
        (full, tail)
    }

    /// The invoices still open among these.
    fn open(&self, indexes: &[usize]) -> Vec<Open> {
        indexes.iter().map(|i| self.invoices[*i].clone()).filter(|o| !o.closed).collect()
    }

    /// What a credit pays, and on what evidence.
    pub(crate) fn decide(&self, e: &Entry) -> Verdict {
        let known = self.customer_of(e);
        let debtor = known.map(|(customer, _)| customer);
        let same_currency = |i: &usize| self.invoices[*i].currency == e.currency;
        let references: Vec<usize> = self.by_references(e).into_iter().filter(same_currency).collect();
        if !references.is_empty() {
            return self.settle(e, &references, debtor, "the creditor reference");
        }
        let (full, tail) = self.by_numbers(&e.remittance);
        let full: Vec<usize> = full.into_iter().filter(same_currency).collect();
        let tail: Vec<usize> = tail.into_iter().filter(same_currency).collect();
        if !full.is_empty() {
            // A number alone is weaker than a reference: a bare "1002" beside it counts only for the same customer.
            let customer = &self.invoices[full[0]].customer_id;
            let mut named = full.clone();
            named.extend(tail.iter().filter(|i| self.invoices[**i].customer_id == *customer));
            return self.settle(e, &named, debtor, "the invoice number in the remittance");
        }
        // No reference or number of ours, from no customer we know: a
        // processor's payout pays nothing here ("Square Srl" as a customer is theirs).
        if let Some(processor) = processor_of(e)
            && known.is_none()
        {
            let evidence = format!("a payout of {processor}: its payments come from {processor}'s own events");
            return Verdict::Payout { evidence };
        }
        if let Some((customer, who)) = known {
            let theirs: Vec<usize> =
                tail.iter().copied().filter(|i| self.invoices[*i].customer_id == customer).collect();
            if !theirs.is_empty() {
                return self.settle(e, &theirs, debtor, &format!("{who} and the end of the invoice number"));
            }
            return self.by_amount(e, (customer, who));
        }
        if !tail.is_empty() {
            let evidence = "only the end of an invoice number, from a debtor we do not know".to_string();
            return Verdict::Unsure { evidence, candidates: self.open(&tail) };
        }
        Verdict::Unmatched { evidence: "no reference, invoice number or known debtor".into() }
    }

    /// The named invoices paid, when the credit and the debtor agree with them.
    fn settle(&self, e: &Entry, named: &[usize], debtor: Option<&str>, how: &str) -> Verdict {
        let candidates = self.open(named);
        if candidates.is_empty() {
            let invoices: Vec<Open> = named.iter().map(|i| self.invoices[*i].clone()).collect();
            let numbers: Vec<&str> = invoices.iter().map(|c| c.number.as_str()).collect();
            let evidence = format!("{how} ({}), paid already: a second payment", numbers.join(", "));
            return Verdict::AlreadyPaid { evidence, invoices };
        }
        // A debtor we know paying another customer's invoice: a person looks.
        if let Some(customer) = debtor
            && candidates.iter().any(|c| c.customer_id != customer)
        {
            let evidence = format!("{how} names another customer's invoice than the debtor's");
            return Verdict::Unsure { evidence, candidates };
        }
        let owed: i64 = candidates.iter().map(|c| c.outstanding).sum();
        match candidates.len() {
            // One invoice: paid in part, in full, or over.
            1 => {
                let paid = e.amount.min(owed);
                let evidence = format!("{how} ({})", candidates[0].number);
                Verdict::Sure { evidence, pay: vec![(candidates[0].clone(), paid)], left: e.amount - paid }
            }
            // Several: exactly what they owe together, else a person splits it.
            _ if owed == e.amount => {
                let numbers: Vec<&str> = candidates.iter().map(|c| c.number.as_str()).collect();
                let evidence = format!("{how} ({}), their sum", numbers.join(", "));
                Verdict::Sure {
                    evidence,
                    pay: candidates.iter().map(|c| (c.clone(), c.outstanding)).collect(),
                    left: 0,
                }
            }
            _ => Verdict::Unsure { evidence: format!("{how}: several invoices, not their sum"), candidates },
        }
    }

    /// A known debtor, no number: the amount against what they owe.
    fn by_amount(&self, e: &Entry, (customer, who): (&str, &str)) -> Verdict {
        let theirs: Vec<usize> = self
            .by_customer
            .get(customer)
            .into_iter()
            .flatten()
            .copied()
            .filter(|i| self.invoices[*i].currency == e.currency && !self.invoices[*i].closed)
            .collect();
        let exact: Vec<usize> = theirs.iter().copied().filter(|i| self.invoices[*i].outstanding == e.amount).collect();
        if exact.len() == 1 {
            return self.settle(e, &exact, Some(customer), &format!("{who} and the amount"));
        }
        let all: i64 = theirs.iter().map(|i| self.invoices[*i].outstanding).sum();
        if theirs.len() > 1 && all == e.amount && exact.is_empty() {
            return self.settle(e, &theirs, Some(customer), &format!("{who} and the sum of what they owe"));
        }
        let evidence = match (theirs.is_empty(), exact.len()) {
            (true, _) => "a known debtor with nothing open in this currency".to_string(),
            (false, 0) => "a known debtor; the amount is no invoice's and not their sum".to_string(),
            (false, _) => "a known debtor; several invoices owe this amount".to_string(),
        };
        Verdict::Unsure { evidence, candidates: self.open(&theirs) }
    }
}

#[cfg(test)]
mod tests;
