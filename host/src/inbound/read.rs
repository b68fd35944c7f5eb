//! A raw message read into what the pipeline looks at: who sent it, what it
//! answers, its text, and for a report (a bounce, a complaint) what it reports.
//! MIME is mail-parser's; only the few fields we act on are taken out here.

use mail_parser::{Address, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// The largest message taken in; a bigger one is quarantined unread.
pub(crate) const MAX_BYTES: usize = 25 * 1024 * 1024;
/// More parts than a reply or a report ever has: a MIME bomb.
pub(crate) const MAX_PARTS: usize = 200;
/// What of a reply's text is kept and read.
pub(crate) const MAX_TEXT: usize = 16 * 1024;

/// A message, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Mail {
    /// Without angle brackets.
    pub message_id: Option<String>,
    /// The sender's address, lower case.
    pub from: Option<String>,
    /// Every address it was sent to (To, Cc, Delivered-To, X-Original-To), as written.
    pub to: Vec<String>,
    pub subject: String,
    /// Unix seconds, from its Date header.
    pub date: Option<i64>,
    /// The calendar day of its Date header, where it was written (its own UTC offset).
    pub written_on: Option<chrono::NaiveDate>,
    /// In-Reply-To then References, without angle brackets.
    pub answers: Vec<String>,
    /// Header names (lower case) and values that say how it was made.
    pub headers: Vec<(String, String)>,
    /// The plain text (or the HTML's text), capped.
    pub text: String,
    /// `report-type` of a `multipart/report`: `delivery-status`, `feedback-report`.
    pub report_type: Option<String>,
    /// The machine-readable part of a report (`message/delivery-status`, `message/feedback-report`).
    pub report: Option<String>,
    /// The message a report is about, or that a bounce quotes: its Message-ID and recipients.
    pub original: Option<Original>,
}

/// The message a report or a bounce returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Original {
    pub message_id: Option<String>,
    pub to: Vec<String>,
}

impl Mail {
    /// The value of a header, by lower-case name (the first, if several).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Why a message cannot be read at all: it is quarantined with this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unreadable {
    #[error("larger than {} MB", MAX_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("not an email: no From, To, Subject, Date or Message-ID header")]
    NoHeaders,
    #[error("{0} MIME parts (at most {MAX_PARTS})")]
    TooManyParts(usize),
    #[error("the MIME parser failed on it")]
    ParserFailed,
}

/// Reads a message. The MIME parser is third-party code fed hostile bytes:
/// should it panic, the message is quarantined rather than the door dropped.
pub(crate) fn read(raw: &[u8]) -> Result<Mail, Unreadable> {
    std::panic::catch_unwind(|| read_unguarded(raw)).unwrap_or(Err(Unreadable::ParserFailed))
}

fn read_unguarded(raw: &[u8]) -> Result<Mail, Unreadable> {
    if raw.len() > MAX_BYTES {
        return Err(Unreadable::TooLarge);
    }
    let message = MessageParser::default().parse(raw).ok_or(Unreadable::NoHeaders)?;
    // A message of no part at all (mail-parser's accessors index the first).
    if message.parts.is_empty() {
        return Err(Unreadable::NoHeaders);
    }
    let any = ["From", "Sender", "Message-ID", "Date", "Subject", "To"];
    if !any.iter().any(|name| message.header_raw(*name).is_some()) {
        return Err(Unreadable::NoHeaders);
    }
    if message.parts.len() > MAX_PARTS {
        return Err(Unreadable::TooManyParts(message.parts.len()));
    }
    // As written: a return path carries a key whose case matters.
    let mut to = as_written(message.to());
    to.extend(as_written(message.cc()));
    for name in ["Delivered-To", "X-Original-To", "Envelope-To"] {
        if let Some(v) = message.header_raw(name) {
            to.push(v.trim().trim_matches(['<', '>']).to_string());
        }
    }
    let mut answers = ids(message.in_reply_to());
    answers.extend(ids(message.references()));
    let headers = message
        .headers_raw()
        .filter(|(name, _)| KEPT_HEADERS.iter().any(|k| k.eq_ignore_ascii_case(name)))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let content_type = message.root_part().content_type();
    let report_type = content_type
        .filter(|ct| ct.ctype().eq_ignore_ascii_case("multipart") && ct.subtype() == Some("report"))
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    let mut mail = Mail {
        message_id: message.message_id().map(str::to_string),
        from: addresses(message.from()).into_iter().next(),
        to,
        subject: message.subject().unwrap_or_default().chars().take(500).collect(),
        date: message.date().map(|d| d.to_timestamp()),
        written_on: message
            .date()
            .and_then(|d| chrono::NaiveDate::from_ymd_opt(i32::from(d.year), d.month.into(), d.day.into())),
        answers,
        headers,
        text: text_of(&message),
        report_type,
        ..Mail::default()
    };
    for part in &message.parts {
        look_inside(part, &mut mail);
    }
    if mail.original.is_none() {
        mail.original = quoted_original(&mail.text);
    }
    Ok(mail)
}

/// Headers that say how a message was made (auto-replies, lists, mailers).
const KEPT_HEADERS: [&str; 13] = [
    "auto-submitted",
    "authentication-results",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "precedence",
    "list-id",
    "x-failed-recipients",
    "x-mailer",
    "feedback-type",
    "return-path",
    "x-ms-exchange-message-is-ndr",
    "x-loop",
];

/// The reports and returned messages inside a message.
fn look_inside(part: &MessagePart<'_>, mail: &mut Mail) {
    let (ctype, subtype) = part
        .content_type()
        .map(|ct| (ct.ctype().to_ascii_lowercase(), ct.subtype().unwrap_or_default().to_ascii_lowercase()))
        .unwrap_or_default();
    match (&part.body, ctype.as_str(), subtype.as_str()) {
        (PartType::Message(inner), _, _) => {
            mail.original.get_or_insert_with(|| original_of(inner));
        }
        (body, "message" | "text", "delivery-status" | "feedback-report" | "global-delivery-status") => {
            let text = match body {
                PartType::Text(t) | PartType::Html(t) => t.to_string(),
                PartType::Binary(b) | PartType::InlineBinary(b) => String::from_utf8_lossy(b).into_owned(),
                _ => return,
            };
            mail.report.get_or_insert(text.chars().take(MAX_TEXT).collect());
        }
        (body, "text", "rfc822-headers") => {
            if let PartType::Text(t) = body
                && let Some(headers) = MessageParser::default().parse_headers(t.as_bytes())
            {
                mail.original.get_or_insert_with(|| original_of(&headers));
            }
        }
        _ => {}
    }
}

/// The returned message when a mailer copies it into its text (Exim, qmail):
/// the first `Message-ID:` line, and the `To:` lines of the same header block.
fn quoted_original(text: &str) -> Option<Original> {
    let mut original = Original::default();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "message-id" if original.message_id.is_none() => {
                original.message_id = Some(value.trim_matches(['<', '>']).to_string());
            }
            "to" if original.to.is_empty() => {
                let address = value.rsplit('<').next().unwrap_or(value).trim_end_matches('>').trim();
                if address.contains('@') {
                    original.to.push(address.to_lowercase());
                }
            }
            _ => {}
        }
    }
    original.message_id.is_some().then_some(original)
}

fn original_of(message: &Message<'_>) -> Original {
    // A returned message cut off before its first header has no part at all.
    if message.parts.is_empty() {
        return Original::default();
    }
    Original { message_id: message.message_id().map(str::to_string), to: addresses(message.to()) }
}

fn as_written(address: Option<&Address<'_>>) -> Vec<String> {
    address.map(|a| a.iter().filter_map(|a| a.address()).map(|a| a.trim().to_string()).collect()).unwrap_or_default()
}

fn addresses(address: Option<&Address<'_>>) -> Vec<String> {
    address.map(|a| a.iter().filter_map(|a| a.address()).map(|a| a.trim().to_lowercase()).collect()).unwrap_or_default()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(ids) => ids.iter().map(|id| id.to_string()).collect(),
        _ => vec![],
    }
}

/// The body as text: the plain part, else the HTML's, capped.
fn text_of(message: &Message<'_>) -> String {
    let text = message.body_text(0).unwrap_or_default();
    text.chars().take(MAX_TEXT).collect()
}
