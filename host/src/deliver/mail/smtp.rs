//! An SMTP relay driven one command at a time over lettre's
//! `SmtpConnection`, so a refusal is known by its phase: at MAIL FROM it is the
//! operator's sender (setup), at RCPT TO the recipient's, after DATA the
//! message's. Connections are kept open between messages, up to
//! `connections` at once; one that failed is closed.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::message::Message;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::{Response, Severity};

use crate::config::TlsMode;
use crate::sandbox::RelayError;

/// Every SMTP command, the connection and the TLS handshake included, waits at most this long.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// A connection idle longer than this is checked with NOOP before it is used again.
const IDLE_CHECK: Duration = Duration::from_secs(10);
/// A connection idle longer than this is closed rather than reused (relays drop them at 300 s).
const IDLE_MAX: Duration = Duration::from_secs(120);

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
    pub(super) fn new(section: &str, options: &SmtpOptions) -> anyhow::Result<Self> {
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
            if chain.contains("UnknownIssuer") {
                RelayError::Setup(format!(
                    "SMTP relay {address}: {what}: {e}: the relay's certificate is not signed by a known \
                     authority; if a private CA signed it, name that CA's PEM file in {section}.ca_file"
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

    pub(super) fn send_smtp(&self, message: &Message, envelope: &Envelope) -> Result<String, RelayError> {
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

// The tests reach into the relay's fields, so they live under this module.
#[cfg(test)]
#[path = "tests.rs"]
mod tests;
