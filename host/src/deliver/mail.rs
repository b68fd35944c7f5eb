//! The host side of the `mail` capability: MIME through lettre, then an SMTP
//! relay or a folder of `.eml` files.
//!
//! The relay is driven one SMTP command at a time over lettre's
//! `SmtpConnection`, so a refusal is known by its phase: at MAIL FROM it is the
//! operator's sender (setup), at RCPT TO the recipient's, after DATA the
//! message's. Connections are kept open between messages, up to
//! `connections` at once; one that failed is closed.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::{Response, Severity};

use crate::config::TlsMode;
use crate::sandbox::v0_1::Email;
use crate::sandbox::{MailRelay, RelayError};

/// Every SMTP command, the connection and the TLS handshake included, waits at most this long.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// A connection idle longer than this is checked with NOOP before it is used again.
const IDLE_CHECK: Duration = Duration::from_secs(10);
/// A connection idle longer than this is closed rather than reused (relays drop them at 300 s).
const IDLE_MAX: Duration = Duration::from_secs(120);

pub enum LettreRelay {
    /// One file per message, named after its Message-ID: sending the same
    /// message again (after a crash) rewrites the same file.
    Folder(PathBuf),
    Smtp(Box<SmtpRelay>),
}

/// How to reach one SMTP relay, from `[email]` or `[channels.NAME]`.
#[derive(Debug, Clone)]
pub struct SmtpOptions {
    /// `smtp://[user:password@]host[:port]` (STARTTLS per `tls`) or
    /// `smtps://[user:password@]host[:port]` (TLS from the start, port 465 by default).
    pub url: String,
    /// STARTTLS on `smtp://`: `required` by default with credentials, `opportunistic` without.
    pub tls: Option<TlsMode>,
    /// A PEM file of extra certificate authorities, added to the webpki roots (path already resolved).
    pub ca_file: Option<PathBuf>,
    /// Connections open at once to the relay (and kept open between messages).
    pub connections: usize,
}

impl SmtpOptions {
    pub fn new(url: &str) -> Self {
        SmtpOptions { url: url.to_string(), tls: None, ca_file: None, connections: 4 }
    }
}

/// How the connection is secured.
enum Security {
    /// `smtps://`: TLS from the first byte.
    Implicit(TlsParameters),
    /// `smtp://` with STARTTLS: `required` fails without it; otherwise plain text when the relay does not offer it.
    StartTls { params: TlsParameters, required: bool },
    /// `smtp://` with `tls = "off"`.
    Plain,
}

pub struct SmtpRelay {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// `email` or `channels.NAME`, to name the fields in errors.
    section: String,
    pool: Mutex<Pool>,
    freed: Condvar,
    connections: usize,
}

struct Pool {
    idle: Vec<(SmtpConnection, Instant)>,
    /// Connections open or being opened, idle ones included.
    open: usize,
}

impl LettreRelay {
    pub fn folder(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(LettreRelay::Folder(dir))
    }

    /// A relay from `smtp_url`, `tls`, `ca_file` and `connections` of `section`
    /// (`email` or `channels.NAME`); errors name the field and never the password.
    pub fn smtp(section: &str, options: &SmtpOptions) -> anyhow::Result<Self> {
        Ok(LettreRelay::Smtp(Box::new(SmtpRelay::new(section, options)?)))
    }
}

/// The URL as it may be shown: the password never, the user name not either.
fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (masked, address) = match rest.rsplit_once('@') {
        Some((_, address)) => ("***@", address),
        None => ("", rest),
    };
    let authority = address.split('/').next().unwrap_or_default();
    // Without '@', "user:password" would read as host and port: show a port only if it is one.
    let authority = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') && !port.chars().all(|c| c.is_ascii_digit()) => {
            format!("{host}:***")
        }
        _ => authority.to_string(),
    };
    format!("{scheme}://{masked}{authority}")
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

impl SmtpRelay {
    fn new(section: &str, options: &SmtpOptions) -> anyhow::Result<Self> {
        let shown = shown_url(&options.url);
        let bad = |why: String| anyhow::anyhow!("{section}.smtp_url {shown:?}: {why}");
        let url = url::Url::parse(&options.url).map_err(|e| {
            bad(match e {
                url::ParseError::InvalidPort => "bad port".to_string(),
                url::ParseError::EmptyHost => "no host".to_string(),
                url::ParseError::RelativeUrlWithoutBase => {
                    "expected smtp://host:port or smtps://user:password@host".to_string()
                }
                e => e.to_string(),
            })
        })?;
        let implicit = match url.scheme() {
            "smtps" => true,
            "smtp" => false,
            _ => return Err(bad("expected smtp://host:port or smtps://user:password@host".into())),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            _ => return Err(bad("no host".into())),
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("expected nothing after host:port".into()));
        }
        let port = url.port().unwrap_or(if implicit { 465 } else { 25 });
        if port == 0 {
            return Err(bad("bad port".into()));
        }
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) if !user.is_empty() => Some(Credentials::new(decode(user), decode(password))),
            _ => return Err(bad("credentials must be user:password (percent-encoded)".into())),
        };
        let mode = match (implicit, options.tls) {
            (true, Some(TlsMode::Off)) => {
                return Err(anyhow::anyhow!("{section}.tls = \"off\" contradicts smtps:// (TLS from the start)"));
            }
            (true, _) => TlsMode::Required,
            (false, Some(mode)) => mode,
            (false, None) if credentials.is_some() => TlsMode::Required,
            (false, None) => TlsMode::Opportunistic,
        };
        let ca = match &options.ca_file {
            Some(path) if mode == TlsMode::Off => {
                return Err(anyhow::anyhow!(
                    "{section}.ca_file {}: given, but {section}.tls is \"off\"",
                    path.display()
                ));
            }
            Some(path) => Some((path, read_ca(path).map_err(|e| anyhow::anyhow!("{section}.ca_file {e}"))?)),
            None => None,
        };
        let params = || -> anyhow::Result<TlsParameters> {
            let mut builder = TlsParameters::builder(host.clone());
            if let Some((_, cert)) = &ca {
                builder = builder.add_root_certificate(cert.clone());
            }
            builder.build_rustls().map_err(|e| match &ca {
                Some((path, _)) => anyhow::anyhow!("{section}.ca_file {}: {e}", path.display()),
                None => anyhow::anyhow!("{section}: TLS for {host}: {e}"),
            })
        };
        let security = match mode {
            _ if implicit => Security::Implicit(params()?),
            TlsMode::Required => Security::StartTls { params: params()?, required: true },
            TlsMode::Opportunistic => Security::StartTls { params: params()?, required: false },
            TlsMode::Off => Security::Plain,
        };
        if options.connections == 0 {
            return Err(anyhow::anyhow!("{section}.connections: must be at least 1"));
        }
        Ok(SmtpRelay {
            host,
            port,
            security,
            credentials,
            hello: ClientId::default(),
            section: section.to_string(),
            pool: Mutex::new(Pool { idle: Vec::new(), open: 0 }),
            freed: Condvar::new(),
            connections: options.connections,
        })
    }
}

/// The certificate authorities of a PEM file, checked now so that a bad file
/// is a configuration error rather than a failure at the first message.
fn read_ca(path: &Path) -> Result<Certificate, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("{shown}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it"));
    }
    Certificate::from_pem(&pem).map_err(|e| format!("{shown}: not a PEM certificate file ({e})"))
}

fn setup(what: &str, e: impl std::fmt::Display) -> RelayError {
    RelayError::Setup(format!("{what}: {e}"))
}

/// Builds the MIME message: a plain-text and, when given, an HTML alternative.
pub fn mime(email: &Email, now: i64) -> Result<Message, RelayError> {
    let from: Mailbox = email.from_address.parse().map_err(|e| setup("bad From address", e))?;
    let to: Mailbox = email.to_address.parse().map_err(|e| RelayError::Recipient(format!("bad To address: {e}")))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(email.message_id.clone()))
        .date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.max(0) as u64));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(reply_to.parse().map_err(|e| setup("bad Reply-To address", e))?);
    }
    for (name, value) in &email.headers {
        let name = HeaderName::new_from_ascii(name.clone()).map_err(|e| setup("bad header name", e))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let built = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.text.clone(), html.clone())),
        None => builder.singlepart(SinglePart::plain(email.text.clone())),
    };
    built.map_err(|e| setup("cannot build the message", e))
}

/// A file name from a Message-ID: letters, digits, `-`, `_`, `.` and `=` (the keys' escapes) only.
fn file_name(message_id: &str) -> String {
    let id = message_id.trim_matches(|c| c == '<' || c == '>');
    let id = id.split('@').next().unwrap_or(id);
    let safe: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.=".contains(c) { c } else { '_' }).collect();
    format!("{safe}.eml")
}

/// Where in a transaction the relay answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    MailFrom,
    RcptTo,
    Data,
}

/// A connection slot taken from the pool: holds one of the `connections`
/// until it is given back with its connection or dropped (closed).
struct Slot<'a> {
    relay: &'a SmtpRelay,
    idle: Option<(SmtpConnection, Instant)>,
    returned: bool,
}

impl Slot<'_> {
    fn give_back(mut self, conn: SmtpConnection) {
        let mut pool = self.relay.pool.lock().unwrap_or_else(|e| e.into_inner());
        pool.idle.push((conn, Instant::now()));
        self.returned = true;
        self.relay.freed.notify_one();
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.returned {
            let mut pool = self.relay.pool.lock().unwrap_or_else(|e| e.into_inner());
            pool.open -= 1;
            self.relay.freed.notify_one();
        }
    }
}

impl SmtpRelay {
    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// An idle connection, or the right to open one; waits while all are in use.
    fn slot(&self) -> Slot<'_> {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(idle) = pool.idle.pop() {
                return Slot { relay: self, idle: Some(idle), returned: false };
            }
            if pool.open < self.connections {
                pool.open += 1;
                return Slot { relay: self, idle: None, returned: false };
            }
            pool = self.freed.wait(pool).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Connects, greets, secures and authenticates. Every failure here is the
    /// setup's (unreachable relay, TLS, credentials) except a 4xx, which may pass.
    fn connect(&self) -> Result<SmtpConnection, RelayError> {
        let address = self.address();
        let section = &self.section;
        let fail = |what: &str, e: lettre::transport::smtp::Error| -> RelayError {
            let text = format!("SMTP relay {address}: {what}: {e}");
            if is_4xx(&e) { RelayError::Transient(text) } else { RelayError::Setup(text) }
        };
        // The handshake runs at the first command after STARTTLS (or the greeting):
        // a certificate the roots do not vouch for shows there.
        let tls_fail = |what: &str, e: lettre::transport::smtp::Error| -> RelayError {
            let chain = error_chain(&e);
            if chain.contains("certificate") || chain.contains("UnknownIssuer") {
                RelayError::Setup(format!(
                    "SMTP relay {address}: {what}: {e}: the relay's certificate is not trusted; \
                     if a private CA signed it, name that CA's PEM file in {section}.ca_file"
                ))
            } else {
                fail(what, e)
            }
        };
        let implicit = match &self.security {
            Security::Implicit(params) => Some(params),
            _ => None,
        };
        let mut conn = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(COMMAND_TIMEOUT),
            &self.hello,
            implicit,
            None,
        )
        .map_err(|e| match implicit {
            _ if is_connection_error(&e) => fail("cannot connect", e),
            Some(_) => tls_fail("TLS (smtps://) failed", e),
            None => fail("greeting failed", e),
        })?;
        if let Security::StartTls { params, required } = &self.security {
            if conn.can_starttls() {
                conn.starttls(params, &self.hello).map_err(|e| tls_fail("STARTTLS failed", e))?;
            } else if *required {
                conn.abort();
                return Err(RelayError::Setup(format!(
                    "SMTP relay {address} does not offer STARTTLS, and {section}.tls is \"required\" \
                     (the default with credentials): use smtps:// or set {section}.tls"
                )));
            }
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).map_err(|e| {
                fail(&format!("authentication refused (check the user and password in {section}.smtp_url)"), e)
            })?;
        }
        Ok(conn)
    }

    fn send_smtp(&self, message: &Message) -> Result<String, RelayError> {
        let envelope = message.envelope();
        let body = message.formatted();
        let mut slot = self.slot();
        loop {
            let (mut conn, reused) = match slot.idle.take() {
                Some((conn, since)) if since.elapsed() > IDLE_MAX => {
                    drop(conn);
                    (self.connect()?, false)
                }
                Some((mut conn, since)) => {
                    if since.elapsed() > IDLE_CHECK && !conn.test_connected() {
                        (self.connect()?, false)
                    } else {
                        (conn, true)
                    }
                }
                None => (self.connect()?, false),
            };
            match transaction(&mut conn, envelope, &body) {
                Ok(response) => {
                    slot.give_back(conn);
                    return Ok(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" ")));
                }
                Err(Refused::Smtp(Phase::MailFrom, e)) if reused && !is_5xx(&e) => {
                    // A kept connection the relay closed meanwhile (or a 421 "too many
                    // messages"): nothing was accepted yet, so a fresh one tries again.
                    drop(conn);
                    continue;
                }
                Err(refused) => {
                    if refused.relay_answered() {
                        conn.abort();
                    }
                    return Err(self.classify(refused, envelope));
                }
            }
        }
    }

    fn classify(&self, refused: Refused, envelope: &Envelope) -> RelayError {
        let address = self.address();
        let (phase, e) = match refused {
            Refused::Client(RelayError::Setup(why)) => {
                return RelayError::Setup(format!("SMTP relay {address}: {why}"));
            }
            Refused::Client(other) => return other,
            Refused::Smtp(phase, e) => (phase, e),
        };
        let from = envelope.from().map(|a| a.to_string()).unwrap_or_default();
        let to = envelope.to().iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
        let answered = match phase {
            Phase::MailFrom => format!("MAIL FROM:<{from}>"),
            Phase::RcptTo => format!("RCPT TO:<{to}>"),
            Phase::Data => "the message".to_string(),
        };
        if is_5xx(&e) {
            let text = format!("SMTP relay {address} refused {answered}: {e}");
            match phase {
                Phase::MailFrom => RelayError::Setup(format!(
                    "{text} (the sender is the operator's: check [email] from and what the relay lets it send as)"
                )),
                Phase::RcptTo | Phase::Data => RelayError::Recipient(text),
            }
        } else if is_4xx(&e) {
            RelayError::Transient(format!("SMTP relay {address} deferred {answered}: {e}"))
        } else {
            RelayError::Transient(format!("SMTP relay {address}: connection lost at {answered}: {e}"))
        }
    }
}

enum Refused {
    /// Before anything was sent: what lettre's client checks refuse.
    Client(RelayError),
    Smtp(Phase, lettre::transport::smtp::Error),
}

impl Refused {
    /// The relay is still there to be told QUIT.
    fn relay_answered(&self) -> bool {
        match self {
            Refused::Client(_) => true,
            Refused::Smtp(_, e) => e.status().is_some(),
        }
    }
}

/// MAIL FROM, RCPT TO for each recipient, DATA: as lettre's own `send`, one
/// phase at a time.
fn transaction(conn: &mut SmtpConnection, envelope: &Envelope, body: &[u8]) -> Result<Response, Refused> {
    let info = conn.server_info();
    let mut options = vec![];
    let from_ascii = envelope.from().is_none_or(|a| AsRef::<str>::as_ref(a).is_ascii());
    let to_ascii = envelope.to().iter().all(|a| AsRef::<str>::as_ref(a).is_ascii());
    if !from_ascii || !to_ascii {
        if !info.supports_feature(Extension::SmtpUtfEight) {
            let why = "the relay does not take non-ASCII addresses (no SMTPUTF8)".to_string();
            return Err(Refused::Client(if from_ascii {
                RelayError::Recipient(why)
            } else {
                RelayError::Setup(format!("the From address: {why}"))
            }));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !body.is_ascii() {
        if !info.supports_feature(Extension::EightBitMime) {
            return Err(Refused::Client(RelayError::Setup(
                "the relay does not take 8-bit messages (no 8BITMIME)".into(),
            )));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(envelope.from().cloned(), options)).map_err(|e| Refused::Smtp(Phase::MailFrom, e))?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), vec![])).map_err(|e| Refused::Smtp(Phase::RcptTo, e))?;
    }
    conn.command(Data).map_err(|e| Refused::Smtp(Phase::Data, e))?;
    conn.message(body).map_err(|e| Refused::Smtp(Phase::Data, e))
}

fn is_5xx(e: &lettre::transport::smtp::Error) -> bool {
    e.status().is_some_and(|c| c.severity == Severity::PermanentNegativeCompletion)
}

fn is_4xx(e: &lettre::transport::smtp::Error) -> bool {
    e.status().is_some_and(|c| c.severity == Severity::TransientNegativeCompletion)
}

/// lettre's "Connection error": the TCP connection (or the name) failed, before any byte.
fn is_connection_error(e: &lettre::transport::smtp::Error) -> bool {
    e.to_string().starts_with("Connection error")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl MailRelay for LettreRelay {
    fn send(&self, email: &Email, now: i64) -> Result<String, RelayError> {
        let message = mime(email, now)?;
        match self {
            LettreRelay::Folder(dir) => {
                let path = dir.join(file_name(&email.message_id));
                let tmp = path.with_extension("eml.tmp");
                std::fs::write(&tmp, message.formatted())
                    .and_then(|_| std::fs::rename(&tmp, &path))
                    .map_err(|e| RelayError::Setup(format!("writing {}: {e}", path.display())))?;
                Ok(path.display().to_string())
            }
            LettreRelay::Smtp(relay) => relay.send_smtp(&message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(url: &str, tls: Option<TlsMode>, ca_file: Option<PathBuf>) -> anyhow::Result<SmtpRelay> {
        SmtpRelay::new("email", &SmtpOptions { url: url.into(), tls, ca_file, connections: 2 })
    }

    #[test]
    fn a_bad_relay_url_is_named_without_its_password() {
        let err = LettreRelay::smtp("email", &SmtpOptions::new("smtp://user:s3cret@relay:notaport")).err().unwrap();
        let err = err.to_string();
        assert!(err.contains("email.smtp_url") && err.contains("bad port") && !err.contains("s3cret"), "{err}");
        // Without '@' a "user:password" reads as host and port: still not echoed.
        let err = relay("smtps://user:s3cret", None, None).err().unwrap().to_string();
        assert!(!err.contains("s3cret"), "{err}");
        let err = relay("smtp://us%3Aer:s3%40cret@relay:99999", None, None).err().unwrap().to_string();
        assert!(err.contains("bad port") && !err.contains("s3") && !err.contains("us%3Aer"), "{err}");
        for url in ["http://relay:25", "relay:25", "smtp:relay", "smtp://", "smtp://relay:25/x", "smtp://user@relay"] {
            let err = relay(url, None, None).err().unwrap().to_string();
            assert!(err.starts_with("email.smtp_url"), "{url}: {err}");
        }
        let err = SmtpRelay::new("channels.pec", &SmtpOptions::new("ftp://relay")).err().unwrap().to_string();
        assert!(err.contains("channels.pec.smtp_url") && err.contains("smtp://"), "{err}");
    }

    #[test]
    fn smtps_is_tls_from_the_start_and_smtp_uses_starttls_by_the_tls_mode() {
        let r = relay("smtps://user:p%40ss%2Fw@mail.example.com", None, None).unwrap();
        assert!(matches!(r.security, Security::Implicit(_)));
        assert_eq!((r.host.as_str(), r.port), ("mail.example.com", 465));
        let r = relay("smtps://mail.example.com:2465/", Some(TlsMode::Required), None).unwrap();
        assert!(matches!(r.security, Security::Implicit(_)) && r.port == 2465 && r.credentials.is_none());
        let err = relay("smtps://mail.example.com", Some(TlsMode::Off), None).err().unwrap().to_string();
        assert!(err.contains("email.tls"), "{err}");

        // With credentials STARTTLS is required unless said otherwise; without, opportunistic.
        let r = relay("smtp://user:pass@mail.example.com:587", None, None).unwrap();
        assert!(matches!(r.security, Security::StartTls { required: true, .. }) && r.port == 587);
        let r = relay("smtp://127.0.0.1:2525", None, None).unwrap();
        assert!(matches!(r.security, Security::StartTls { required: false, .. }));
        assert_eq!(r.address(), "127.0.0.1:2525");
        let r = relay("smtp://user:pass@relay", Some(TlsMode::Opportunistic), None).unwrap();
        assert!(matches!(r.security, Security::StartTls { required: false, .. }) && r.port == 25);
        let r = relay("smtp://relay", Some(TlsMode::Required), None).unwrap();
        assert!(matches!(r.security, Security::StartTls { required: true, .. }));
        let r = relay("smtp://user:pass@[::1]:2525", Some(TlsMode::Off), None).unwrap();
        assert!(matches!(r.security, Security::Plain));
        assert_eq!(r.address(), "[::1]:2525");
        let err = SmtpRelay::new("email", &SmtpOptions { connections: 0, ..SmtpOptions::new("smtp://relay") });
        assert!(err.err().unwrap().to_string().contains("email.connections"));
    }

    #[test]
    fn a_percent_encoded_password_is_decoded() {
        let r = relay("smtps://crediti%40acme.example:p%40ss%3Aw@mail.example.com", None, None).unwrap();
        let expected = Credentials::new("crediti@acme.example".into(), "p@ss:w".into());
        assert!(r.credentials == Some(expected));
    }

    #[test]
    fn a_missing_or_bad_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = relay("smtp://relay:587", None, Some(missing.clone())).err().unwrap().to_string();
        assert!(err.contains("email.ca_file") && err.contains("missing.pem"), "{err}");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let err = relay("smtps://user:s3cret@relay", None, Some(junk.clone())).err().unwrap().to_string();
        assert!(err.contains("email.ca_file") && err.contains("junk.pem") && !err.contains("s3cret"), "{err}");
        let broken = dir.path().join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        let err = relay("smtps://relay", None, Some(broken)).err().unwrap().to_string();
        assert!(err.contains("email.ca_file") && err.contains("broken.pem"), "{err}");
        let err = relay("smtp://relay", Some(TlsMode::Off), Some(junk)).err().unwrap().to_string();
        assert!(err.contains("email.ca_file") && err.contains("off"), "{err}");
    }

    #[test]
    fn an_unreachable_relay_is_the_setups_fault() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let r = relay(&format!("smtp://user:s3cret@127.0.0.1:{port}"), None, None).unwrap();
        match r.connect() {
            Err(RelayError::Setup(why)) => {
                assert!(why.contains("cannot connect") && !why.contains("s3cret"), "{why}")
            }
            other => panic!("{:?}", other.err()),
        }
    }

    /// A scripted SMTP server on loopback: `reply` answers each command by its
    /// verb (`EHLO`, `MAIL`, `RCPT`, `AUTH`, `.` for the end of the data...);
    /// an empty answer closes the connection. Returns the port and a count of
    /// the connections accepted.
    fn scripted(
        reply: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (count, reply) = (accepted.clone(), std::sync::Arc::new(reply));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let reply = reply.clone();
                std::thread::spawn(move || -> std::io::Result<()> {
                    let mut out = stream.try_clone()?;
                    let mut lines = BufReader::new(stream);
                    out.write_all(b"220 scripted ESMTP\r\n")?;
                    let (mut line, mut in_data) = (String::new(), false);
                    loop {
                        line.clear();
                        if lines.read_line(&mut line)? == 0 {
                            return Ok(());
                        }
                        let verb = match in_data {
                            true if line == ".\r\n" => ".".to_string(),
                            true => continue,
                            false => line.split([' ', '\r']).next().unwrap_or_default().to_ascii_uppercase(),
                        };
                        in_data = verb == "DATA";
                        let answer = match verb.as_str() {
                            "QUIT" => "221 bye".to_string(),
                            "DATA" => "354 go on".to_string(),
                            _ => reply(&verb),
                        };
                        if answer.is_empty() {
                            return Ok(());
                        }
                        out.write_all(format!("{answer}\r\n").as_bytes())?;
                    }
                });
            }
        });
        (port, accepted)
    }

    fn sample() -> Email {
        Email {
            message_id: "<k1@example.com>".into(),
            from_address: "Crediti <crediti@example.com>".into(),
            to_address: "Mario Rossi <mario@example.it>".into(),
            reply_to: None,
            subject: "Fattura 12".into(),
            text: "Testo".into(),
            html: None,
            headers: vec![],
        }
    }

    fn plain(port: u16, credentials: &str, connections: usize) -> LettreRelay {
        let url = format!("smtp://{credentials}127.0.0.1:{port}");
        LettreRelay::smtp("email", &SmtpOptions { tls: Some(TlsMode::Off), connections, ..SmtpOptions::new(&url) })
            .unwrap()
    }

    fn answering(verb: &'static str, answer: &'static str) -> impl Fn(&str) -> String + Send + Sync + 'static {
        move |v: &str| match v {
            v if v == verb => answer.to_string(),
            "EHLO" => "250-scripted\r\n250 AUTH PLAIN LOGIN".to_string(),
            _ => "250 ok".to_string(),
        }
    }

    #[test]
    fn a_refusal_is_classified_by_its_phase() {
        let send = |verb, answer| plain(scripted(answering(verb, answer)).0, "", 1).send(&sample(), 0);
        match send("MAIL", "553 5.7.1 sender not allowed") {
            Err(RelayError::Setup(why)) => assert!(why.contains("MAIL FROM:<crediti@example.com>"), "{why}"),
            other => panic!("{other:?}"),
        }
        match send("RCPT", "550 5.1.1 user unknown") {
            Err(RelayError::Recipient(why)) => assert!(why.contains("user unknown"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(send("RCPT", "451 4.7.1 greylisted"), Err(RelayError::Transient(_))));
        assert!(matches!(send("MAIL", "452 4.3.1 full"), Err(RelayError::Transient(_))));
        assert!(matches!(send(".", "554 5.7.1 spam"), Err(RelayError::Recipient(_))));
        assert!(matches!(send(".", "451 4.3.0 try later"), Err(RelayError::Transient(_))));
        // The connection dropped mid-transaction: worth another try.
        assert!(matches!(send("RCPT", ""), Err(RelayError::Transient(_))));
        assert!(matches!(send("EHLO", "421 4.3.2 shutting down"), Err(RelayError::Transient(_))));
        assert_eq!(send("NONE", "").unwrap(), "250 ok");
    }

    #[test]
    fn refused_credentials_are_the_setups_and_not_echoed() {
        let (port, _) = scripted(answering("AUTH", "535 5.7.8 authentication credentials invalid"));
        match plain(port, "crediti:s3cret@", 1).send(&sample(), 0) {
            Err(RelayError::Setup(why)) => {
                assert!(why.contains("authentication") && !why.contains("s3cret"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        let (port, _) = scripted(answering("AUTH", "235 2.7.0 ok"));
        assert!(plain(port, "crediti:s3cret@", 1).send(&sample(), 0).is_ok());
    }

    #[test]
    fn required_starttls_that_is_not_offered_is_the_setups() {
        let (port, _) = scripted(answering("NONE", ""));
        let relay = LettreRelay::smtp("email", &SmtpOptions::new(&format!("smtp://u:p@127.0.0.1:{port}"))).unwrap();
        match relay.send(&sample(), 0) {
            Err(RelayError::Setup(why)) => assert!(why.contains("STARTTLS") && why.contains("email.tls"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn connections_are_kept_and_one_the_relay_closed_is_replaced() {
        let (port, accepted) = scripted(answering("NONE", ""));
        let relay = plain(port, "", 2);
        for _ in 0..5 {
            relay.send(&sample(), 0).unwrap();
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1, "one connection for five messages");

        // A relay that closes the connection after each message (or answers 421 to
        // the next MAIL): the kept one fails at MAIL FROM and a fresh one sends.
        for closing in ["", "421 4.7.0 too many messages"] {
            let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let seen = n.clone();
            let (port, accepted) = scripted(move |v: &str| match v {
                "MAIL" if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 2 == 1 => closing.to_string(),
                _ => "250 ok".to_string(),
            });
            let relay = plain(port, "", 1);
            for _ in 0..3 {
                relay.send(&sample(), 0).unwrap();
            }
            assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3, "{closing:?}");
        }
    }

    #[test]
    fn file_names_follow_the_message_id() {
        assert_eq!(file_name("<inv-1001.overdue-7@sollecito.example>"), "inv-1001.overdue-7.eml");
        assert_eq!(file_name("<a/b c@x>"), "a_b_c.eml");
    }

    #[test]
    fn a_message_has_both_parts_and_the_headers() {
        let email = Email {
            message_id: "<k1@example.com>".into(),
            from_address: "Crediti <crediti@example.com>".into(),
            to_address: "Mario Rossi <mario@example.it>".into(),
            reply_to: None,
            subject: "Fattura 12".into(),
            text: "Testo".into(),
            html: Some("<p>Testo</p>".into()),
            headers: vec![("X-Sollecito-Key".into(), "inv/1".into())],
        };
        let raw = String::from_utf8(mime(&email, 0).unwrap().formatted()).unwrap();
        assert!(raw.contains("Message-ID: <k1@example.com>"), "{raw}");
        assert!(raw.contains("X-Sollecito-Key: inv/1"));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/html"));
        let bad = Email { to_address: "not an address".into(), ..email };
        assert!(matches!(mime(&bad, 0), Err(RelayError::Recipient(_))));
    }
}
