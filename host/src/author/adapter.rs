//! An adapter author's scenarios: a message (or a charge) handed to a channel
//! (or payment) adapter with settings and grants, the answer every granted
//! HTTP host gives, and what is expected: the result, and the requests and
//! emails the adapter sent through its capabilities. Nothing leaves the
//! machine: the host answers for the hosts and the relay, and records.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::scenario::{BadScenario, Verdict};
use crate::decision::{Setting, Tone};
use crate::outgoing::{Charge, ChargeError, ChargeOutcome, DeliveryError, Email, Message, Recipient, Sender};
use crate::sandbox::{Grants, HttpScript, MailRelay, Plugin, PluginKind, RelayError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdapterFile {
    name: Option<String>,
    #[serde(default)]
    settings: BTreeMap<String, String>,
    #[serde(default)]
    grants: GrantsFile,
    /// For a channel adapter: the message handed over (a sample where a field is left out).
    message: Option<MessageFile>,
    /// For a payment adapter: the charge asked for.
    charge: Option<ChargeFile>,
    #[serde(default)]
    answer: AnswerFile,
    expect: ExpectFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantsFile {
    /// `host` or `host:port` the adapter may call.
    #[serde(default)]
    http: Vec<String>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    /// The operator's mail relay (recorded here, nothing is sent).
    #[serde(default)]
    mail: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageFile {
    key: Option<String>,
    channel: Option<String>,
    invoice_number: Option<String>,
    tone: Option<String>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    payment_link: Option<String>,
    recipient_name: Option<String>,
    recipient_email: Option<String>,
    recipient_phone: Option<String>,
    recipient_address: Option<String>,
    locale: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChargeFile {
    key: Option<String>,
    invoice_id: Option<String>,
    invoice_number: Option<String>,
    #[serde(default)]
    refs: Vec<String>,
    customer_id: Option<String>,
    /// Minor units (cents for EUR).
    minor: i64,
    currency: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerFile {
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    body: String,
}

fn ok() -> u16 {
    200
}

impl Default for AnswerFile {
    fn default() -> Self {
        AnswerFile { status: ok(), body: String::new() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectFile {
    /// `delivered`, `transient`, `permanent` (channels); `succeeded`,
    /// `declined`, `transient`, `permanent` (payments).
    result: String,
    /// Text the receipt's reference, the decline code or the error contains.
    says: Option<String>,
    /// Every request expected, in order; any other fails the scenario.
    #[serde(default)]
    requests: Vec<RequestFile>,
    /// Every email expected through the relay, in order.
    #[serde(default)]
    emails: Vec<EmailFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFile {
    method: Option<String>,
    url: Option<String>,
    #[serde(default)]
    body_contains: Vec<String>,
    /// Header names the request carries.
    #[serde(default)]
    headers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailFile {
    to: Option<String>,
    subject_contains: Option<String>,
}

/// An adapter scenario read and checked, ready to play.
pub struct AdapterScenario {
    file: String,
    raw: AdapterFile,
}

fn bad(file: &str, field: &str, reason: impl std::fmt::Display) -> anyhow::Error {
    BadScenario { file: file.into(), field: field.into(), reason: reason.to_string() }.into()
}

const RESULTS: [&str; 5] = ["delivered", "succeeded", "declined", "transient", "permanent"];

impl AdapterScenario {
    pub fn read(path: &Path, kind: PluginKind) -> anyhow::Result<AdapterScenario> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| bad(&file, "file", format!("cannot read: {e}")))?;
        AdapterScenario::parse(&file, &text, kind)
    }

    pub fn parse(file: &str, text: &str, kind: PluginKind) -> anyhow::Result<AdapterScenario> {
        let raw: AdapterFile = toml::from_str(text).map_err(|e| bad(file, "scenario", e.message().trim()))?;
        match (kind, &raw.message, &raw.charge) {
            (PluginKind::Channel, None, _) => {
                return Err(bad(file, "message", "a channel adapter's scenario needs one"));
            }
            (PluginKind::Payment, _, None) => {
                return Err(bad(file, "charge", "a payment adapter's scenario needs one"));
            }
            _ => {}
        }
        if !RESULTS.contains(&raw.expect.result.as_str()) {
            return Err(bad(file, "expect.result", format!("{:?}: one of {}", raw.expect.result, RESULTS.join(", "))));
        }
        if let Some(tone) = raw.message.as_ref().and_then(|m| m.tone.as_deref())
            && Tone::parse(tone).is_none()
        {
            return Err(bad(file, "message.tone", format!("{tone:?}: courteous, soft, firm, final or formal")));
        }
        if !(100..=599).contains(&raw.answer.status) {
            return Err(bad(file, "answer.status", format!("{}: an HTTP status, 100 to 599", raw.answer.status)));
        }
        Ok(AdapterScenario { file: file.into(), raw })
    }

    /// Hands the message or charge to `plugin` and compares what happened with what was expected.
    pub fn play(self, plugin: &Plugin) -> Verdict {
        let raw = &self.raw;
        let script = Arc::new(HttpScript::new(raw.answer.status, raw.answer.body.clone().into_bytes()));
        let relay = Arc::new(Relay::default());
        let grants = Grants {
            mail: raw.grants.mail.then(|| relay.clone() as Arc<dyn MailRelay>),
            http_hosts: raw.grants.http.clone(),
            secrets: raw.grants.secrets.clone(),
            http: script.clone(),
            ..Grants::default()
        };
        let settings: Vec<Setting> =
            raw.settings.iter().map(|(k, v)| Setting { key: k.clone(), value: v.clone() }).collect();
        let now = 1_790_000_000; // 2026-09-21, a Monday
        let (result, says) = match (&raw.message, &raw.charge) {
            (Some(m), _) => match plugin.deliver_message(&settings, &message(m), now, grants) {
                Ok(Ok(reference)) => ("delivered", reference),
                Ok(Err(DeliveryError::Transient(why))) => ("transient", why),
                Ok(Err(DeliveryError::Permanent(why))) => ("permanent", why),
                Err(trap) => ("failed", trap),
            },
            (None, Some(c)) => match plugin.charge_invoice(&settings, &charge(c), now, grants) {
                Ok(Ok(ChargeOutcome::Succeeded { reference, .. })) => ("succeeded", reference),
                Ok(Ok(ChargeOutcome::Declined(code))) => ("declined", code),
                Ok(Err(ChargeError::Transient(why))) => ("transient", why),
                Ok(Err(ChargeError::Permanent(why))) => ("permanent", why),
                Err(trap) => ("failed", trap),
            },
            (None, None) => unreachable!("checked when read"),
        };
        let mut differences = vec![];
        if result != raw.expect.result {
            differences.push(format!("~ result: expected {}, got {result}: {says}", raw.expect.result));
        }
        if let Some(text) = &raw.expect.says
            && !says.contains(text.as_str())
        {
            differences.push(format!("~ {result} says {says:?}, expected it to contain {text:?}"));
        }
        let requests = script.requests();
        compare(&mut differences, &raw.expect.requests, &requests, request_matches, |r| {
            format!("{} {} ({} bytes)", r.method, r.url, r.body.len())
        });
        let emails = relay.0.lock().expect("relay").clone();
        compare(&mut differences, &raw.expect.emails, &emails, email_matches, |e| {
            format!("email to {} {:?}", e.to_address, e.subject)
        });
        Verdict {
            file: self.file,
            name: raw.name.clone().unwrap_or_else(|| "(unnamed)".into()),
            passed: differences.is_empty(),
            actions: requests.len() + emails.len(),
            differences,
            fuel: Default::default(),
        }
    }
}

/// Pairs expected and actual in order: `-` expected and not sent, `+` sent
/// and not expected, `~` sent otherwise than expected.
fn compare<E: Expectation, A>(
    out: &mut Vec<String>,
    expected: &[E],
    actual: &[A],
    matches: fn(&E, &A) -> Option<String>,
    show: fn(&A) -> String,
) {
    for (i, e) in expected.iter().enumerate() {
        match actual.get(i) {
            None => out.push(format!("- {}", e.said())),
            Some(a) => {
                if let Some(why) = matches(e, a) {
                    out.push(format!("~ {}: {why}", show(a)));
                }
            }
        }
    }
    out.extend(actual.iter().skip(expected.len()).map(|a| format!("+ {}", show(a))));
}

/// An expected request or email, as a difference line names it.
trait Expectation {
    fn said(&self) -> String;
}

impl Expectation for RequestFile {
    fn said(&self) -> String {
        let method = self.method.as_deref().unwrap_or("a request");
        format!("{method} {}", self.url.as_deref().unwrap_or("to a granted host"))
    }
}

impl Expectation for EmailFile {
    fn said(&self) -> String {
        format!("an email to {}", self.to.as_deref().unwrap_or("the recipient"))
    }
}

fn request_matches(e: &RequestFile, r: &crate::sandbox::HttpRequest) -> Option<String> {
    if let Some(m) = &e.method
        && !m.eq_ignore_ascii_case(&r.method)
    {
        return Some(format!("method {}, expected {m}", r.method));
    }
    if let Some(u) = &e.url
        && *u != r.url
    {
        return Some(format!("expected url {u}"));
    }
    let body = String::from_utf8_lossy(&r.body);
    if let Some(text) = e.body_contains.iter().find(|t| !body.contains(t.as_str())) {
        return Some(format!("the body does not contain {text:?}"));
    }
    let missing = e.headers.iter().find(|h| !r.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(h)));
    missing.map(|h| format!("no header {h}"))
}

fn email_matches(e: &EmailFile, m: &Email) -> Option<String> {
    if let Some(to) = &e.to
        && *to != m.to_address
    {
        return Some(format!("expected to {to}"));
    }
    match &e.subject_contains {
        Some(text) if !m.subject.contains(text.as_str()) => Some(format!("the subject does not contain {text:?}")),
        _ => None,
    }
}

/// The relay of a scenario: takes every email and keeps it.
#[derive(Default)]
struct Relay(Mutex<Vec<Email>>);

impl MailRelay for Relay {
    fn send(&self, email: &Email, _now: i64) -> Result<String, RelayError> {
        self.0.lock().expect("relay").push(email.clone());
        Ok(format!("kept {}", email.message_id))
    }
}

fn message(m: &MessageFile) -> Message {
    let or = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.to_string());
    Message {
        key: or(&m.key, "inv-1/overdue-7"),
        channel: or(&m.channel, "webhook"),
        invoice_number: or(&m.invoice_number, "2026/0001"),
        tone: m.tone.as_deref().and_then(Tone::parse).unwrap_or(Tone::Soft),
        sender: Sender { name: "ACME S.r.l.".into(), email: "crediti@acme.example".into(), phone: None },
        recipient: Recipient {
            name: or(&m.recipient_name, "Bottega Rossi"),
            email: Some(or(&m.recipient_email, "amministrazione@bottega-rossi.example")),
            phone: m.recipient_phone.clone(),
            postal_address: m.recipient_address.clone(),
            locale: or(&m.locale, "it-IT"),
        },
        subject: or(&m.subject, "Fattura 2026/0001 scaduta"),
        text: or(&m.text, "Gentile cliente, la fattura 2026/0001 di 1.200,00 EUR risulta scaduta."),
        html: m.html.clone(),
        payment_link: m.payment_link.clone(),
    }
}

fn charge(c: &ChargeFile) -> Charge {
    let or = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.to_string());
    Charge {
        key: or(&c.key, "inv-1/retry-1"),
        invoice_id: or(&c.invoice_id, "inv-1"),
        invoice_number: or(&c.invoice_number, "2026/0001"),
        refs: c.refs.clone(),
        customer_id: or(&c.customer_id, "cus-1"),
        minor: c.minor,
        currency: c.currency.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str, kind: PluginKind) -> String {
        AdapterScenario::parse("s.toml", text, kind).err().expect("refused").to_string()
    }

    #[test]
    fn malformed_adapter_scenarios_are_refused_with_the_field_named() {
        let cases = [
            (
                "[expect]\nresult = \"delivered\"\n",
                PluginKind::Channel,
                "s.toml: message: a channel adapter's scenario needs one",
            ),
            (
                "[expect]\nresult = \"succeeded\"\n",
                PluginKind::Payment,
                "s.toml: charge: a payment adapter's scenario needs one",
            ),
            (
                "[message]\n[expect]\nresult = \"sent\"\n",
                PluginKind::Channel,
                "s.toml: expect.result: \"sent\": one of delivered, succeeded, declined, transient, permanent",
            ),
            (
                "[message]\ntone = \"rude\"\n[expect]\nresult = \"delivered\"\n",
                PluginKind::Channel,
                "s.toml: message.tone: \"rude\": courteous, soft, firm, final or formal",
            ),
            (
                "[message]\n[answer]\nstatus = 42\n[expect]\nresult = \"delivered\"\n",
                PluginKind::Channel,
                "s.toml: answer.status: 42: an HTTP status, 100 to 599",
            ),
        ];
        for (text, kind, error) in cases {
            assert_eq!(refused(text, kind), error, "{text}");
        }
        let unknown = refused("[message]\nsubjct = \"x\"\n[expect]\nresult = \"delivered\"\n", PluginKind::Channel);
        assert!(unknown.starts_with("s.toml: scenario: unknown field `subjct`"), "{unknown}");
    }

    #[test]
    fn differences_are_listed_in_order() {
        let mut out = vec![];
        let expected = [RequestFile { method: Some("POST".into()), url: None, body_contains: vec![], headers: vec![] }];
        let sent = crate::sandbox::HttpRequest {
            method: "GET".into(),
            url: "https://h.example/x".into(),
            headers: vec![],
            body: vec![],
        };
        compare(&mut out, &expected, &[sent.clone(), sent], request_matches, |r| format!("{} {}", r.method, r.url));
        assert_eq!(out, ["~ GET https://h.example/x: method GET, expected POST", "+ GET https://h.example/x"]);
        let mut out = vec![];
        compare(&mut out, &expected, &[], request_matches, |r| r.url.clone());
        assert_eq!(out, ["- POST to a granted host"]);
    }
}
