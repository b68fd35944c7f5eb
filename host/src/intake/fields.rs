//! One rule per kind of field, the same at every entry: the JSON and CSV
//! import, the HTTP API and the Stripe webhook all call these. Each rule
//! answers `Ok` or why not; the caller names the field (and, for a file, where).
//!
//! - an **email** is an RFC 5322 addr-spec (`user@domain`, no display name),
//!   at most 254 characters, no control characters; it must also be an address
//!   the mail relay accepts;
//! - a **locale** is a BCP 47 tag (`it-IT`, `en`, `pt-BR`, `zh-Hant-TW`; not `it_IT`);
//! - a **payment link** is an `https` URL without credentials (`http` only for
//!   `localhost`, `127.0.0.1` and `[::1]`, in development);
//! - an **opt-out channel** and a **segment** are names (`crate::names`): a short slug;
//! - a **name** (a customer's name, an invoice number) is 1 to 200 characters,
//!   not blank, no control characters; other free text (phone, tags, decline
//!   codes, dispute reasons) has no control characters and a bound length; a
//!   postal address may have line breaks;
//! - an **event** has a known `type` and only that type's fields.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::event::{Event, EventKind};
use crate::invoice::{Customer, Invoice};

/// Longest name (a customer's name, an invoice number), in characters.
pub const MAX_NAME: usize = 200;
/// Longest email address (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL: usize = 254;

/// Characters that break a line or a header, or are invisible: control
/// characters and the Unicode line and paragraph separators.
fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// How a refused value is shown in a reason: escaped and cut to 60 characters.
pub fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(60).flat_map(char::escape_default).collect();
    if text.chars().count() > 60 {
        out.push_str("...");
    }
    format!("\"{out}\"")
}

/// Free text on one line: no control characters, at most `max` characters.
pub fn line(text: &str, max: usize) -> Result<(), String> {
    if text.chars().any(is_forbidden) {
        return Err(format!("{} has control characters", shown(text)));
    }
    if text.chars().count() > max {
        return Err(format!("{} is longer than {max} characters", shown(text)));
    }
    Ok(())
}

/// A customer's name or an invoice number: 1 to 200 characters, not blank, one line.
pub fn name(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("empty: 1 to 200 characters are needed".into());
    }
    line(text, MAX_NAME)
}

/// An RFC 5322 addr-spec, with no display name and no control characters.
pub fn email(text: &str) -> Result<(), String> {
    if text.chars().any(is_forbidden) {
        return Err(format!("{} has control characters", shown(text)));
    }
    if text.chars().count() > MAX_EMAIL {
        return Err(format!("{} is longer than {MAX_EMAIL} characters", shown(text)));
    }
    // The mail relay's own parser (lettre's, on RFC 5322's rules): what it refuses could never be sent.
    match text.parse::<lettre::Address>() {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{} is not an email address like name@example.com ({e})", shown(text))),
    }
}

/// A BCP 47 language tag.
pub fn locale(text: &str) -> Result<(), String> {
    if text.len() > 64 || icu_locale_core::Locale::try_from_str(text).is_err() {
        return Err(format!("{} is not a BCP 47 locale like it-IT, en or pt-BR", shown(text)));
    }
    Ok(())
}

/// A link the customer is sent to pay: https (http only on this machine, for development).
pub fn payment_link(text: &str) -> Result<(), String> {
    // `url` drops tabs and line breaks silently: refuse them first.
    if text.chars().any(|c| is_forbidden(c) || c.is_whitespace()) {
        return Err(format!("{} has spaces or control characters", shown(text)));
    }
    if text.len() > 2048 {
        return Err(format!("{} is longer than 2048 characters", shown(text)));
    }
    let url = url::Url::parse(text).map_err(|e| format!("{} is not a URL ({e})", shown(text)))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    // WHATWG parsing forgives `https:;//x` (host ";"): the link must be written
    // out in full, to a host that is a real domain name or an address.
    let written = text.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        || text.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"));
    let real_host = match url.host() {
        Some(url::Host::Domain(d)) => {
            !d.is_empty()
                && d.split('.')
                    .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        }
        Some(_) => true,
        None => false,
    };
    if !written || !real_host {
        return Err(format!("{} is not a link to a host (https://host/...)", shown(text)));
    }
    match url.scheme() {
        "https" if url.host_str().is_some() => {}
        "http" if local => {}
        _ => {
            return Err(format!("{} is not an https link (http only for localhost, in development)", shown(text)));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{} has credentials before the host", shown(text)));
    }
    Ok(())
}

/// A channel a customer opts out of: a channel name (email, pec, sms, webhook,
/// letter, phone, or a configured one), which is a slug.
pub fn channel(text: &str) -> Result<(), String> {
    if crate::names::is_slug(text) {
        return Ok(());
    }
    Err(format!("{} is not a channel name (email, sms, letter, phone, ... or a configured one: a slug)", shown(text)))
}

/// A segment a customer belongs to: a slug.
pub fn segment(text: &str) -> Result<(), String> {
    if crate::names::is_slug(text) {
        return Ok(());
    }
    Err(format!("{} is not a segment name (1 to 64 of a-z, 0-9, '-' and '_')", shown(text)))
}

/// A phone number: one line of at most 64 characters with a digit in it.
pub fn phone(text: &str) -> Result<(), String> {
    line(text, 64)?;
    if !text.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("{} is not a phone number", shown(text)));
    }
    Ok(())
}

/// A postal address: lines of text (line breaks allowed), at most 500 characters.
pub fn postal_address(text: &str) -> Result<(), String> {
    if text.chars().any(|c| is_forbidden(c) && c != '\n') {
        return Err(format!("{} has control characters", shown(text)));
    }
    if text.trim().is_empty() || text.chars().count() > 500 {
        return Err(format!("{} must be 1 to 500 characters", shown(text)));
    }
    Ok(())
}

/// Every rule a customer's fields follow, as (field, reason).
pub fn customer(c: &Customer) -> Vec<(String, String)> {
    let mut bad = vec![];
    let mut rule = |field: &str, result: Result<(), String>| {
        if let Err(reason) = result {
            bad.push((field.to_string(), reason));
        }
    };
    rule("name", name(&c.name));
    if let Some(e) = &c.email {
        rule("email", email(e));
    }
    if let Some(e) = &c.pec {
        rule("pec", email(e));
    }
    if let Some(p) = &c.phone {
        rule("phone", phone(p));
    }
    if let Some(a) = &c.postal_address {
        rule("postal_address", postal_address(a));
    }
    rule("locale", locale(&c.locale));
    rule("segment", segment(&c.segment));
    for t in &c.tags {
        rule("tags", line(t, 64).and_then(|()| if t.trim().is_empty() { Err("an empty tag".into()) } else { Ok(()) }));
    }
    for o in &c.opted_out {
        rule("opted_out", channel(o));
    }
    bad
}

/// Every rule an invoice's fields follow, as (field, reason).
pub fn invoice(i: &Invoice) -> Vec<(String, String)> {
    let mut bad = vec![];
    let mut rule = |field: &str, result: Result<(), String>| {
        if let Err(reason) = result {
            bad.push((field.to_string(), reason));
        }
    };
    rule("number", name(&i.number));
    if let Some(link) = &i.payment_link {
        rule("payment_link", payment_link(link));
    }
    if let Some(f) = &i.payment_failure {
        rule("payment_failure.decline_code", line(&f.decline_code, 100));
    }
    if let Some(d) = &i.dispute {
        rule("dispute_reason", line(&d.reason, 500));
    }
    for r in &i.refs {
        if !super::is_id(r) {
            rule("refs", Err(format!("{} is not an id: 1 to 128 printable characters", shown(r))));
        }
    }
    bad
}

/// A refused event: the field, why, and whether the field is unknown (a
/// malformed request, 400) rather than a value failing a check (422).
#[derive(Debug, Clone, PartialEq)]
pub struct BadEvent {
    pub field: String,
    pub reason: String,
    pub unknown: bool,
}

/// An event object (`{"type": ..., ...}`), checked field by field: a known
/// type, only its fields, each following its rule.
pub fn event(object: &Map<String, Value>) -> Result<Event, BadEvent> {
    let bad = |field: &str, reason: String| BadEvent { field: field.into(), reason, unknown: false };
    let kind = match object.get("type") {
        Some(Value::String(k)) => k.as_str(),
        Some(other) => return Err(bad("type", format!("expected an event type (a string), got {other}"))),
        None => return Err(bad("type", "missing: every event has a type".into())),
    };
    let Some(allowed) = EventKind::parse(kind).and_then(EventKind::fields) else {
        let known: Vec<&str> = EventKind::ALL.iter().filter(|k| k.fields().is_some()).map(|k| k.name()).collect();
        return Err(bad("type", format!("unknown event type {}, expected one of {}", shown(kind), known.join(", "))));
    };
    for key in object.keys().filter(|k| *k != "type") {
        if !allowed.contains(&key.as_str()) {
            let expected = if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") };
            return Err(BadEvent {
                field: key.clone(),
                reason: format!("unknown field {} for {kind} (expected: {expected})", shown(key)),
                unknown: true,
            });
        }
    }
    let text = |field: &str| match object.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(bad(field, format!("expected a string, got {other}"))),
    };
    if let Some(v) = object.get("amount") {
        match v.as_i64() {
            Some(a) if a >= 1 => {}
            _ => return Err(bad("amount", format!("amount {v}: a whole number of minor units, at least 1"))),
        }
    }
    if let Some(until) = text("until")? {
        NaiveDate::parse_from_str(until, "%Y-%m-%d")
            .map_err(|_| bad("until", format!("bad date {}, expected YYYY-MM-DD", shown(until))))?;
    }
    if let Some(c) = text("channel")? {
        channel(c).map_err(|r| bad("channel", r))?;
    }
    if let Some(code) = text("decline_code")? {
        line(code, 100).map_err(|r| bad("decline_code", r))?;
    }
    if let Some(reason) = text("reason")? {
        line(reason, 500).map_err(|r| bad("reason", r))?;
    }
    let event = serde_json::from_value::<Event>(Value::Object(object.clone())).map_err(|e| {
        let message = e.to_string();
        // What serde still finds: a missing field, or a plan's or fee's inner shape.
        let field = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .unwrap_or(if allowed.len() == 1 { allowed[0] } else { "type" })
            .to_string();
        bad(&field, message)
    })?;
    // A fee is an amount added (a credit is not a fee), with a step and a reason on one line each.
    if let Event::FeeAdded { fee } = &event {
        if fee.amount < 1 {
            return Err(bad("fee.amount", format!("amount {}: a whole number of minor units, at least 1", fee.amount)));
        }
        line(&fee.step, 64).map_err(|r| bad("fee.step", r))?;
        line(&fee.reason, 500).map_err(|r| bad("fee.reason", r))?;
    }
    Ok(event)
}

#[cfg(test)]
mod link_tests {
    use super::payment_link;

    #[test]
    fn a_link_is_written_out_to_a_real_host() {
        for good in
            ["https://pay.example/inv-1", "HTTPS://pay.example", "http://localhost:8080/x", "https://10.0.0.1/p"]
        {
            assert_eq!(payment_link(good), Ok(()), "{good}");
        }
        for bad in
            ["https:;//pay.example/inv-1001", "https:'//pay.example", "https:pay.example", "https://pay_x.example/"]
        {
            assert!(payment_link(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails_are_addr_specs_without_control_characters() {
        for good in ["a@example.com", "mario.rossi+fatture@example.it", "x@localhost", "üser@exämple.de"] {
            assert_eq!(email(good), Ok(()), "{good}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "a@example.com\r\nBcc: victim@example.org",
            "a@example.com\n",
            "a\0@example.com",
            "Mario <mario@example.it>",
            "no-at-sign",
            "@example.com",
            "a@",
            "a b@example.com",
            " a@example.com",
            long.as_str(),
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert!(email("a@example.com\r\n").unwrap_err().contains("control characters"));
    }

    #[test]
    fn locales_are_bcp47() {
        for good in ["it-IT", "en", "pt-BR", "zh-Hant-TW", "de-AT", "en-GB", "es-419", "ja-JP", "ar-KW"] {
            assert_eq!(locale(good), Ok(()), "{good}");
        }
        for bad in ["zz_ZZ@@", "it_IT", "", "it-", "-IT", "it IT", "it-IT\n", "english", "../../x"] {
            assert!(locale(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn payment_links_are_https_or_local_http() {
        for good in [
            "https://pay.example/inv-1",
            "https://invoice.stripe.com/i/acct_1/test?s=ap",
            "http://localhost:8080/pay",
            "http://127.0.0.1/x",
        ] {
            assert_eq!(payment_link(good), Ok(()), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(document.cookie)",
            "data:text/html,<script>alert(1)</script>",
            "http://pay.example/inv-1",
            "ftp://pay.example/x",
            "https://pay.example/\nx",
            "https://pay.example/a b",
            "https://bank.example@evil.example/",
            "//pay.example/x",
            "pay.example/x",
            "",
        ] {
            assert!(payment_link(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn channels_names_and_text() {
        for good in ["email", "pec", "sms", "webhook", "letter", "phone", "my-channel-2"] {
            assert_eq!(channel(good), Ok(()), "{good}");
        }
        for bad in ["../../x", "", "Email", "e mail", "email\r\n", "channel:email", &"x".repeat(65)] {
            assert!(channel(bad).is_err(), "{bad:?}");
        }
        assert_eq!(name("Rossi S.r.l."), Ok(()));
        assert_eq!(name(&"é".repeat(200)), Ok(()));
        for bad in ["", "   ", "Rossi\r\nBcc: x", "a\u{7f}", "a\u{2028}b", &"x".repeat(201)] {
            assert!(name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(postal_address("Via Roma 1\n00100 Roma"), Ok(()));
        assert!(postal_address("Via Roma 1\r\n\0").is_err());
        assert_eq!(phone("+39 055 555 0101"), Ok(()));
        assert!(phone("call me\r\n").is_err());
    }

    #[test]
    fn events_name_the_field_that_fails() {
        let check = |v: Value| event(v.as_object().unwrap()).map_err(|e| (e.field, e.unknown));
        assert_eq!(check(json!({"type": "promise-to-pay", "until": "2026-12-01"})).map(|_| ()), Ok(()));
        assert_eq!(check(json!({"type": "promise-to-pay", "until": "soon"})), Err(("until".into(), false)));
        assert_eq!(check(json!({"type": "promise-to-pay", "until": 20261201})), Err(("until".into(), false)));
        assert_eq!(check(json!({"type": "promise-to-pay"})), Err(("until".into(), false)));
        assert_eq!(check(json!({"type": "paid", "admin": true})), Err(("admin".into(), true)));
        assert_eq!(check(json!({"type": "opt-out", "channel": "sms", "x": 1})), Err(("x".into(), true)));
        assert_eq!(check(json!({"type": "opt-out", "channel": "../../x"})), Err(("channel".into(), false)));
        assert_eq!(check(json!({"type": "payment-received", "amount": 0})), Err(("amount".into(), false)));
        assert_eq!(check(json!({"type": "payment-received", "amount": 1.5})), Err(("amount".into(), false)));
        assert_eq!(check(json!({"type": "payment-received"})), Err(("amount".into(), false)));
        assert_eq!(check(json!({"type": "refund"})), Err(("type".into(), false)));
        assert_eq!(check(json!({"until": "2026-12-01"})), Err(("type".into(), false)));
        assert_eq!(
            check(json!({"type": "payment-failed", "decline_code": "x\r\ny"})),
            Err(("decline_code".into(), false))
        );
        assert!(check(json!({"type": "payment-received", "amount": 1_000_000_000_000i64})).is_ok());
        let fee = |amount: i64| json!({"type": "fee-added", "fee": {"step": "s", "amount": amount, "reason": "late"}});
        assert!(check(fee(100)).is_ok());
        assert_eq!(check(fee(-100)), Err(("fee.amount".into(), false)));
    }
}
