//! What a message is: a bounce (a delivery status notification, RFC 3464, or
//! the text a mailer writes instead), a complaint (RFC 5965 ARF), an
//! automatic reply (RFC 3834 and the headers mailers really send), or a
//! person's reply. Standards first; the rest by what real mailers write.

use super::read::Mail;

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A message we sent did not reach `recipient`.
    Bounce(Bounce),
    /// The recipient marked a message of ours as spam.
    Complaint { recipient: Option<String> },
    /// An out-of-office or another automatic answer.
    AutoReply,
    /// A report that a message was delivered or relayed: nothing to act on.
    DeliveryReport,
    /// Someone wrote back.
    Reply,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bounce {
    /// 5.x.x: the address will not work; 4.x.x: it may later.
    pub permanent: bool,
    /// The enhanced status code (RFC 3463), else the SMTP code, else empty.
    pub status: String,
    pub recipient: Option<String>,
    /// What the receiving server said, shortened.
    pub diagnostic: String,
}

impl Kind {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Kind::Bounce(b) if b.permanent => "bounce",
            Kind::Bounce(_) => "soft-bounce",
            Kind::Complaint { .. } => "complaint",
            Kind::AutoReply => "auto-reply",
            Kind::DeliveryReport => "delivery-report",
            Kind::Reply => "reply",
        }
    }
}

pub(crate) fn classify(mail: &Mail) -> Kind {
    match mail.report_type.as_deref() {
        Some("delivery-status" | "global-delivery-status") => {
            if let Some(kind) = mail.report.as_deref().and_then(|r| from_dsn(r, mail)) {
                return kind;
            }
        }
        Some("feedback-report") => {
            let recipient = mail.report.as_deref().and_then(|r| field(r, "original-rcpt-to")).map(|r| address_of(&r));
            return Kind::Complaint { recipient: recipient.or_else(|| original_recipient(mail)) };
        }
        _ => {}
    }
    if looks_like_a_bounce(mail) {
        return Kind::Bounce(from_text(mail));
    }
    if is_automatic(mail) {
        return Kind::AutoReply;
    }
    Kind::Reply
}

/// A DSN's per-recipient fields: the first recipient that failed or was delayed.
fn from_dsn(report: &str, mail: &Mail) -> Option<Kind> {
    let fields = unfolded(report);
    let mut blocks: Vec<Vec<(String, String)>> = vec![vec![]];
    for line in &fields {
        match line.split_once(':') {
            Some((name, value)) => blocks.last_mut()?.push((name.trim().to_ascii_lowercase(), value.trim().into())),
            None if line.trim().is_empty() => blocks.push(vec![]),
            None => {}
        }
    }
    let get = |block: &[(String, String)], name: &str| block.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let mut delivered = false;
    for block in &blocks {
        let Some(action) = get(block, "action") else { continue };
        let action = action.to_ascii_lowercase();
        let status = get(block, "status").unwrap_or_default();
        let permanent = action == "failed" || status.starts_with('5');
        if !(permanent || action == "delayed" || status.starts_with('4')) {
            delivered = true;
            continue;
        }
        let recipient =
            get(block, "final-recipient").or_else(|| get(block, "original-recipient")).map(|r| address_of(&r));
        let diagnostic = get(block, "diagnostic-code").map(|d| shorten(&d)).unwrap_or_default();
        let status = status.split_whitespace().next().unwrap_or_default().to_string();
        let recipient = recipient.or_else(|| original_recipient(mail));
        return Some(Kind::Bounce(Bounce { permanent, status, recipient, diagnostic }));
    }
    delivered.then_some(Kind::DeliveryReport)
}

/// Header-like lines with their continuations joined.
fn unfolded(text: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for line in text.lines() {
        match out.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) && !line.trim().is_empty() => {
                last.push(' ');
                last.push_str(line.trim());
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

fn field(report: &str, name: &str) -> Option<String> {
    unfolded(report).into_iter().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// `rfc822; user@example.com` or `<user@example.com>` -> `user@example.com`.
fn address_of(value: &str) -> String {
    let value = value.rsplit(';').next().unwrap_or(value);
    value.trim().trim_matches(['<', '>']).to_lowercase()
}

fn original_recipient(mail: &Mail) -> Option<String> {
    mail.original.as_ref().and_then(|o| o.to.first().cloned())
}

fn shorten(text: &str) -> String {
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().take(300).collect()
}

/// A bounce without a DSN: from a mailer daemon, or said so in the subject
/// (Exim, qmail, Sendmail's text, Exchange's NDR, webmail providers).
fn looks_like_a_bounce(mail: &Mail) -> bool {
    let from = mail.from.as_deref().unwrap_or_default();
    let local = from.split('@').next().unwrap_or_default();
    let daemon = ["mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"].contains(&local);
    let subject = mail.subject.to_lowercase();
    let said = BOUNCE_SUBJECTS.iter().any(|s| subject.contains(s));
    let flagged = mail.header("x-failed-recipients").is_some()
        || mail.header("x-ms-exchange-message-is-ndr").is_some()
        || mail.header("return-path").is_some_and(|r| r.trim() == "<>");
    (daemon && (said || mail.original.is_some() || status_code(&mail.text).is_some()))
        || (said && flagged)
        || (daemon && flagged)
}

const BOUNCE_SUBJECTS: [&str; 14] = [
    "undeliverable",
    "undelivered mail",
    "delivery status notification (failure)",
    "delivery status notification (delay)",
    "mail delivery failed",
    "failure notice",
    "returned mail",
    "delivery failure",
    "mail delivery subsystem",
    "non recapitabile",
    "mancato recapito",
    "unzustellbar",
    "non remis",
    "no se puede entregar",
];

/// A bounce read from its text: the status code, the failed address.
fn from_text(mail: &Mail) -> Bounce {
    let text = &mail.text;
    let status = status_code(text).unwrap_or_default();
    let lower = text.to_lowercase();
    let permanent = match status.chars().next() {
        Some('5') => true,
        Some('4') => false,
        // qmail and others without a code say it in words.
        _ => !["temporary", "will retry", "delayed", "still trying"].iter().any(|w| lower.contains(w)),
    };
    let recipient = mail
        .header("x-failed-recipients")
        .map(|r| r.split(',').next().unwrap_or(r).trim().to_lowercase())
        .or_else(|| angle_address_line(text))
        .or_else(|| original_recipient(mail));
    let diagnostic =
        text.lines().map(str::trim).find(|l| l.len() > 3 && status_code(l).is_some()).map(shorten).unwrap_or_default();
    Bounce { permanent, status, recipient, diagnostic }
}

/// The first enhanced status code (`5.1.1`), else an SMTP reply code (`550`).
pub(crate) fn status_code(text: &str) -> Option<String> {
    let words = || text.split(|c: char| !(c.is_ascii_digit() || c == '.'));
    let enhanced = words().find(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1..].iter().all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    });
    if let Some(code) = enhanced {
        return Some(code.to_string());
    }
    words().find(|w| w.len() == 3 && (w.starts_with('5') || w.starts_with('4')) && !w.contains('.')).map(Into::into)
}

/// qmail's `<user@example.com>:` line, and Exim's indented address.
fn angle_address_line(text: &str) -> Option<String> {
    text.lines().map(str::trim).find_map(|line| {
        let inner = line.strip_prefix('<')?.split_once('>')?.0;
        inner.contains('@').then(|| inner.to_lowercase())
    })
}

/// RFC 3834 and what mailers really send for an automatic answer.
fn is_automatic(mail: &Mail) -> bool {
    if mail.header("auto-submitted").is_some_and(|v| !v.trim().eq_ignore_ascii_case("no")) {
        return true;
    }
    if mail.header("x-autoreply").is_some() || mail.header("x-autorespond").is_some() {
        return true;
    }
    if mail
        .header("precedence")
        .is_some_and(|v| ["auto_reply", "bulk", "junk", "list"].contains(&v.trim().to_ascii_lowercase().as_str()))
    {
        return true;
    }
    let subject = mail.subject.to_lowercase();
    AUTO_SUBJECTS.iter().any(|s| subject.contains(s))
}

/// Out-of-office subjects in it, en, fr, de, es.
const AUTO_SUBJECTS: [&str; 18] = [
    "out of office",
    "out of the office",
    "automatic reply",
    "auto-reply",
    "autoreply",
    "auto reply",
    "risposta automatica",
    "fuori ufficio",
    "fuori sede",
    "assente dall'ufficio",
    "abwesenheit",
    "automatische antwort",
    "réponse automatique",
    "reponse automatique",
    "absence du bureau",
    "respuesta automática",
    "fuera de la oficina",
    "ausente de la oficina",
];

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
