//! What a message that came back is about: the message it answers, matched
//! on what we control first (the return path, the Message-IDs we sent), then
//! on the customer whose address it names; and whether its sender may speak
//! for that customer.

use super::Matched;
use super::classify::Kind;
use super::read::Mail;
use crate::invoice::Customer;
use crate::store::{OutboxRow, Seen, Store};

/// How a message was matched: by what we control, or only by an address anyone may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Evidence {
    ReturnPath,
    MessageId,
    Address,
}

impl Evidence {
    pub(super) fn words(self) -> &'static str {
        match self {
            Evidence::ReturnPath => "the return path it came back to",
            Evidence::MessageId => "the message it answers",
            Evidence::Address => "the sender's address",
        }
    }
}

/// The messages it answers (the return path a bounce came back to, then
/// In-Reply-To, References, the returned message's Message-ID), else the
/// latest email to the one customer whose address it is about. A match is
/// every row of that message: a consolidated one carried several invoices.
pub(super) async fn match_message(
    (store, seen): (&Store, &Seen),
    mail: &Mail,
    kind: &Kind,
    (about, return_path): (Option<&str>, Option<&str>),
) -> anyhow::Result<Option<Matched>> {
    let report = matches!(kind, Kind::Bounce(_) | Kind::Complaint { .. });
    if let Some(template) = return_path
        && report
        && let Some((invoice, step)) = mail.to.iter().find_map(|to| step_of_verp(template, to))
        && let Some(row) = store.sent_step(&invoice, &step).await?
    {
        return matched((store, seen), store.same_message_as(row.id).await?, Evidence::ReturnPath).await;
    }
    let mut ids = mail.answers.clone();
    if report && let Some(id) = mail.original.as_ref().and_then(|o| o.message_id.clone()) {
        ids.insert(0, id);
    }
    let rows = seen.sent_with(&ids);
    if !rows.is_empty() {
        return matched((store, seen), rows, Evidence::MessageId).await;
    }
    let Some(address) = about else { return Ok(None) };
    // One customer with that address; several share it, and the message cannot say which.
    let customers = store.customers_with_email(address).await?;
    let [customer] = customers.as_slice() else { return Ok(None) };
    let Some(row) = store.last_email_to(&customer.id).await? else { return Ok(None) };
    matched((store, seen), store.same_message_as(row.id).await?, Evidence::Address).await
}

/// The rows of the first customer among them (every row of one message has
/// the same customer; another customer's row is not this message's).
async fn matched(
    (store, seen): (&Store, &Seen),
    rows: Vec<OutboxRow>,
    evidence: Evidence,
) -> anyhow::Result<Option<Matched>> {
    let Some(first) = rows.first() else { return Ok(None) };
    let customer_id = first.customer_id.clone();
    let rows: Vec<OutboxRow> = rows.into_iter().filter(|r| r.customer_id == customer_id).collect();
    let customer = match seen.customer(&customer_id) {
        Some(customer) => Some(customer.clone()),
        None => store.customer(&customer_id).await?,
    };
    Ok(customer.map(|customer| Matched { rows, customer, evidence }))
}

/// Domains many unrelated people write from: a colleague is never inferred from them.
const SHARED_DOMAINS: [&str; 24] = [
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "hotmail.it",
    "live.com",
    "live.it",
    "msn.com",
    "yahoo.com",
    "yahoo.it",
    "icloud.com",
    "me.com",
    "aol.com",
    "libero.it",
    "virgilio.it",
    "tiscali.it",
    "alice.it",
    "tim.it",
    "gmx.de",
    "gmx.net",
    "web.de",
    "orange.fr",
    "free.fr",
    "laposte.net",
];

/// Whether `address` may speak for the customer: their email or PEC address,
/// or for a reply a colleague at the same company domain (not a webmail's
/// nor a PEC provider's). A bounce or a complaint must name the very address.
pub(super) fn belongs_to(customer: &Customer, address: &str, kind: &Kind) -> bool {
    let own = [customer.email.as_deref(), customer.pec.as_deref()];
    if own.iter().flatten().any(|a| a.eq_ignore_ascii_case(address)) {
        return true;
    }
    let domain = |a: &str| a.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
    let company = customer.email.as_deref().and_then(domain);
    let shared =
        |d: &str| SHARED_DOMAINS.contains(&d) || d.contains("pec") || d.contains("legalmail") || d.contains("cert");
    matches!(kind, Kind::Reply | Kind::AutoReply)
        && domain(address).is_some_and(|d| company.as_deref() == Some(d.as_str()) && !shared(&d))
}

/// The return path of one message: `[email] return_path` with the message's
/// key as a local part (`/` as `.`, `%` as `=`: neither is in a key otherwise,
/// so the key reads back).
pub(crate) fn verp(template: &str, key: &str) -> String {
    template.replace("{key}", &key.replace('/', ".").replace('%', "="))
}

/// The (invoice, step) of a return path made by [`verp`], if `address` is one.
fn step_of_verp(template: &str, address: &str) -> Option<(String, String)> {
    let (before, after) = template.split_once("{key}")?;
    let address = address.trim();
    let lower = address.to_ascii_lowercase();
    if address.len() < before.len() + after.len()
        || !lower.starts_with(&before.to_ascii_lowercase())
        || !lower.ends_with(&after.to_ascii_lowercase())
    {
        return None;
    }
    let local = address.get(before.len()..address.len() - after.len())?.replace('=', "%");
    let (invoice, step) = local.split_once('.')?;
    let decode = |part: &str| percent_encoding::percent_decode_str(part).decode_utf8().ok().map(|c| c.into_owned());
    Some((decode(invoice)?, decode(step)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_path_reads_back_to_its_step() {
        let template = "bounces+{key}@acme.example";
        let key = crate::store::outbox_key("FT 2026/1.a", "overdue-7");
        let address = verp(template, &key);
        assert_eq!(address, "bounces+FT=202026=2F1=2Ea.overdue-7@acme.example");
        assert_eq!(step_of_verp(template, &address), Some(("FT 2026/1.a".into(), "overdue-7".into())));
        assert_eq!(step_of_verp(template, "crediti@acme.example"), None);
        assert_eq!(step_of_verp(template, "bounces+@acme.example"), None);
    }
}
