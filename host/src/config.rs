//! `sollecito.toml`: who the business is, which policy serves whom, the
//! policies' settings, sending windows and caps, SMTP and templates.
//! Unknown keys are errors, named with their path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::invoice::Customer;
use crate::render::Business;

mod bank;
mod inbound;
mod plugins;
mod portal;
mod sending;
pub use bank::Bank;
pub use inbound::Inbound;
pub use plugins::{Installed, Plugins};
pub use portal::Portal;
pub use sending::{Sending, Uncertain, Window};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "demo_business")]
    pub business: Business,
    #[serde(default)]
    pub policies: Policies,
    /// Settings per policy name: `[settings.b2b-standard] soft_days = 7`.
    #[serde(default)]
    pub settings: BTreeMap<String, BTreeMap<String, toml::Value>>,
    #[serde(default)]
    pub sending: Sending,
    #[serde(default)]
    pub email: Email,
    #[serde(default)]
    pub templates: Templates,
    /// Channels and the capabilities granted to their adapters: `[channels.sms]`.
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelConfig>,
    /// The payment adapter that carries out payment retries: `[payments]`.
    pub payments: Option<PaymentsConfig>,
    /// Where escalations go: the business's system (suspension) and the collections hand-over.
    #[serde(default)]
    pub escalations: Escalations,
    /// How outcomes are tied to the contacts before them, and what a message costs.
    #[serde(default)]
    pub outcomes: Outcomes,
    /// Where the operator is told of failed payments, recoveries, failing policies and relays.
    #[serde(default)]
    pub alerts: Alerts,
    #[serde(default)]
    pub serve: Serve,
    /// What replies, bounces and complaints that come back do.
    #[serde(default)]
    pub inbound: Inbound,
    /// The customer's page and the links to it.
    #[serde(default)]
    pub portal: Portal,
    /// Bank statements that arrive in a folder.
    #[serde(default)]
    pub bank: Bank,
    /// Trusted publishers of plugin packages, and the packages installed.
    #[serde(default)]
    pub plugins: Plugins,
    /// Secrets by name: the value, or `env:NAME` to read it from the environment.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Where this worker keeps its files (outbox, letters, hand-overs,
    /// uploaded plugins, lock files): else beside the SQLite file, or for a
    /// database URL `SOLLECITO_DATA_DIR`, else the working folder.
    pub data_dir: Option<PathBuf>,
    /// Where the config was read from, to resolve relative paths.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// The sender of the demo and of a config without `[business]`.
fn demo_business() -> Business {
    Business {
        name: "Sollecito Demo S.r.l.".into(),
        email: "crediti@sollecito.example".into(),
        phone: Some("+39 02 0000 0000".into()),
        address: Some("Via dell'Esempio 1, 20100 Milano".into()),
        website: Some("https://sollecito.example".into()),
        payment_methods: vec![
            "bank transfer, IBAN IT60 X054 2811 1010 0000 0123 456".into(),
            "card, through the payment link".into(),
        ],
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    /// The policy of customers in no listed segment: a bundled name or a `.wasm` path.
    #[serde(default = "default_policy")]
    pub default: String,
    #[serde(default)]
    pub segments: BTreeMap<String, String>,
    /// Per-customer overrides, by customer id.
    #[serde(default)]
    pub customers: BTreeMap<String, String>,
}

fn default_policy() -> String {
    "b2b-standard".into()
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            default: default_policy(),
            segments: BTreeMap::from([("subscription".to_string(), "subscription-recovery".to_string())]),
            customers: BTreeMap::new(),
        }
    }
}

impl Policies {
    /// No segment or customer served by a policy of its own.
    pub fn none() -> Self {
        Policies { default: default_policy(), segments: BTreeMap::new(), customers: BTreeMap::new() }
    }

    pub fn for_customer(&self, c: &Customer) -> &str {
        self.customers.get(&c.id).or_else(|| self.segments.get(&c.segment)).unwrap_or(&self.default)
    }

    /// Every policy the config names.
    pub fn all(&self) -> Vec<&str> {
        let mut all: Vec<&str> = std::iter::once(self.default.as_str())
            .chain(self.segments.values().map(String::as_str))
            .chain(self.customers.values().map(String::as_str))
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// `smtp://host:port` or `smtps://user:pass@host`; without it, messages go to the outbox folder.
    pub smtp_url: Option<String>,
    /// STARTTLS on `smtp://`: `required` (the default with credentials), `opportunistic`
    /// (the default without), or `off`. `smtps://` is always TLS.
    pub tls: Option<TlsMode>,
    /// A PEM file of extra certificate authorities the relay's certificate may chain to.
    pub ca_file: Option<PathBuf>,
    /// Connections kept open to the relay (default: `[sending] concurrency`).
    pub connections: Option<usize>,
    /// The From address, `addr` or `Name <addr>` (default: the business name and email).
    pub from: Option<String>,
    /// Folder of `.eml` files (default: `outbox/` beside the database).
    pub outbox_dir: Option<PathBuf>,
    /// The envelope sender of each message, with the message's key in it (VERP):
    /// `bounces+{key}@acme.example`. A bounce to it names the very message.
    pub return_path: Option<String>,
}

/// STARTTLS on a plain `smtp://` relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    Required,
    Opportunistic,
    Off,
}

/// `sollecito serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serve {
    /// Seconds between ticks (an event wakes the scheduler at once as well).
    #[serde(default = "sixty")]
    pub tick_seconds: u64,
    /// The secret (from `[secrets]`) holding the bearer token of write and admin endpoints.
    #[serde(default = "admin_token")]
    pub token: String,
    /// Whether reads (history, plugins) need no token.
    #[serde(default)]
    pub public_reads: bool,
    /// The secret holding Stripe's webhook signing secret (`whsec_...`).
    pub stripe_secret: Option<String>,
    /// Locale and timezone of customers Stripe creates (it sends neither reliably).
    #[serde(default = "en")]
    pub default_locale: String,
    #[serde(default = "utc")]
    pub default_timezone: String,
    /// A folder watched for new policy `.wasm` files (activated for their file's segment: `SEGMENT.wasm`).
    pub watch: Option<PathBuf>,
    /// The largest plugin `POST /v1/plugins` takes, in MB (a component built from Python is about 18).
    #[serde(default = "sixty_four")]
    pub upload_limit_mb: u64,
}

fn sixty() -> u64 {
    60
}
fn sixty_four() -> u64 {
    64
}
fn admin_token() -> String {
    "admin_token".into()
}
fn en() -> String {
    "en".into()
}
fn utc() -> String {
    "UTC".into()
}

impl Default for Serve {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

/// One channel: which adapter delivers it and what that adapter may use.
/// Nothing is granted unless named here (the `email` channel gets the mail relay by default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// A bundled adapter name or a `.wasm` path (default: the channel's name).
    pub adapter: Option<String>,
    /// Grant sending email (through `smtp_url`, else the `[email]` relay or outbox).
    #[serde(default)]
    pub mail: bool,
    /// This channel's own relay, e.g. a PEC provider with its own credentials.
    pub smtp_url: Option<String>,
    /// STARTTLS on this channel's `smtp_url` (as `[email] tls`).
    pub tls: Option<TlsMode>,
    /// Extra certificate authorities for this channel's relay (as `[email] ca_file`).
    pub ca_file: Option<PathBuf>,
    /// Hosts (`host` or `host:port`) the adapter may call over HTTP(S).
    #[serde(default)]
    pub http_hosts: Vec<String>,
    /// Names of secrets (from `[secrets]`) handed to the adapter.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// A folder the adapter may write into (printed letters).
    pub folder: Option<PathBuf>,
    /// Grant opening tasks for people (`sollecito tasks`).
    #[serde(default)]
    pub tasks: bool,
    /// The adapter's own settings.
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
}

/// The payment adapter and what it may use; nothing is granted unless named.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsConfig {
    /// A bundled adapter (`stripe`, `billing-webhook`) or a `.wasm` path.
    pub adapter: String,
    /// Hosts (`host` or `host:port`) the adapter may call.
    #[serde(default)]
    pub http_hosts: Vec<String>,
    /// Names of secrets (from `[secrets]`) handed to the adapter.
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalations {
    /// The business's system, told (signed JSON) to suspend and to reinstate a customer's service.
    pub service_url: Option<String>,
    /// The secret (from `[secrets]`) that signs those requests.
    #[serde(default = "service_secret")]
    pub service_secret: String,
    /// Folder for collections hand-over files (default: `handovers/` beside the database).
    pub handover_dir: Option<PathBuf>,
    /// An endpoint that also receives each hand-over (signed JSON, with `handover_secret`).
    pub handover_url: Option<String>,
    #[serde(default = "handover_secret")]
    pub handover_secret: String,
}

impl Default for Escalations {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn service_secret() -> String {
    "service_webhook_signing".into()
}
fn handover_secret() -> String {
    "handover_signing".into()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    /// A folder whose templates replace or add to the built-in ones.
    pub dir: Option<PathBuf>,
}

/// A config that cannot be used: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct BadConfig {
    pub file: String,
    pub reason: String,
}

/// `[outcomes]`: the attribution window, and per-message costs for the report.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    /// Days before a payment (promise, dispute...) in which a contact counts as its cause.
    #[serde(default = "attribution_days")]
    pub attribution_days: i64,
    /// What one message costs on a channel, in the business's minor units (`sms = 7`).
    #[serde(default)]
    pub costs: BTreeMap<String, i64>,
}

/// `[alerts]`: signed JSON to the operator's URL (and a log line each).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    pub url: Option<String>,
    /// The secret (from `[secrets]`) that signs them.
    #[serde(default = "alerts_secret")]
    pub secret: String,
    /// Invoices a policy failed on in one tick that make an alert.
    #[serde(default = "plugin_errors")]
    pub plugin_errors: usize,
}

fn alerts_secret() -> String {
    "alerts_signing".into()
}

fn plugin_errors() -> usize {
    10
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts { url: None, secret: alerts_secret(), plugin_errors: plugin_errors() }
    }
}

/// Adapter calls in flight at once per channel, at most (`[sending] concurrency`).
pub(crate) const MAX_CONCURRENCY: usize = 64;

/// Days before an outcome in which a contact counts as its cause, by default.
pub const ATTRIBUTION_DAYS: i64 = 7;

fn attribution_days() -> i64 {
    ATTRIBUTION_DAYS
}

impl Default for Outcomes {
    fn default() -> Self {
        Outcomes { attribution_days: attribution_days(), costs: BTreeMap::new() }
    }
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("the empty config is valid")
    }
}

impl Config {
    /// Reads `path`, or the defaults when `path` is None.
    pub fn load(path: Option<&Path>) -> Result<Config, BadConfig> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let bad = |reason: String| BadConfig { file: path.display().to_string(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| bad(e.to_string().trim().replace('\n', " ")))?;
        config.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for (name, w) in &config.sending.windows {
            if w.from >= w.to {
                return Err(bad(format!("sending.windows.{name}: `from` must be before `to`")));
            }
            if w.days.is_empty() {
                return Err(bad(format!("sending.windows.{name}.days: no day to send on")));
            }
        }
        // Segments and channels are names that reach URLs, files and labels: slugs only.
        let named = config.policies.segments.keys().map(|k| ("policies.segments", k)).chain(
            config.channels.keys().map(|k| ("channels", k)).chain(
                config
                    .sending
                    .windows
                    .keys()
                    .map(|k| ("sending.windows", k))
                    .chain(config.sending.consolidate.iter().map(|k| ("sending.consolidate", k))),
            ),
        );
        for (table, name) in named {
            crate::names::check(table, name).map_err(bad)?;
        }
        if let Some(rp) = &config.email.return_path {
            let (local, domain) = rp.rsplit_once('@').unwrap_or_default();
            if rp.matches("{key}").count() != 1
                || !local.contains("{key}")
                || domain.is_empty()
                || domain.contains("{key}")
            {
                return Err(bad(format!(
                    "email.return_path: {rp:?} must be an address with {{key}} once before the @ (bounces+{{key}}@acme.example)"
                )));
            }
        }
        config.plugins.check().map_err(bad)?;
        if config.inbound.pause_days > 60 {
            return Err(bad("inbound.pause_days: at most 60 working days".into()));
        }
        if config.sending.cap_per_week == 0 {
            return Err(bad("sending.cap_per_week: must be at least 1".into()));
        }
        if config.sending.concurrency == 0 || config.sending.concurrency > MAX_CONCURRENCY {
            return Err(bad(format!("sending.concurrency: must be between 1 and {MAX_CONCURRENCY}")));
        }
        if !(1..=90).contains(&config.outcomes.attribution_days) {
            return Err(bad("outcomes.attribution_days: must be between 1 and 90".into()));
        }
        if let Some((channel, _)) = config.outcomes.costs.iter().find(|(_, cost)| **cost < 0) {
            return Err(bad(format!("outcomes.costs.{channel}: a cost cannot be negative")));
        }
        if let Some(url) = &config.alerts.url {
            let parsed = url::Url::parse(url).map_err(|e| bad(format!("alerts.url: {url:?} is not a URL ({e})")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(bad(format!("alerts.url: {url:?} must be an http(s) URL with a host")));
            }
            config.secret(&config.alerts.secret).map_err(|e| bad(format!("alerts.secret: {}", e.reason)))?;
        }
        if config.alerts.plugin_errors == 0 {
            return Err(bad("alerts.plugin_errors: must be at least 1".into()));
        }
        if config.sending.claim_seconds < 1 {
            return Err(bad("sending.claim_seconds: must be at least 1".into()));
        }
        config.sender().map_err(bad)?;
        crate::intake::fields::locale(&config.serve.default_locale)
            .map_err(|why| bad(format!("serve.default_locale: {why}")))?;
        Ok(config)
    }

    /// The sender of every email, as (name, address): `[email] from`, written
    /// `addr` or `Name <addr>`, else the business's name and email.
    pub fn sender(&self) -> Result<(String, String), String> {
        let (field, text) = match &self.email.from {
            Some(from) => ("email.from", from.as_str()),
            None => ("business.email", self.business.email.as_str()),
        };
        let mailbox: lettre::message::Mailbox = text.trim().parse().map_err(|e| {
            format!("{field}: {text:?} is not an email address, expected `addr` or `Name <addr>` ({e})")
        })?;
        let name = mailbox.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| self.business.name.clone());
        Ok((name, mailbox.email.to_string()))
    }

    /// Settings of one policy as the contract's key/value pairs.
    pub fn settings_for(&self, policy: &str) -> Vec<crate::decision::Setting> {
        self.settings.get(policy).map(settings).unwrap_or_default()
    }

    /// The value of a named secret (`env:NAME` reads the environment).
    pub fn secret(&self, name: &str) -> Result<String, BadConfig> {
        let bad = |reason: String| BadConfig { file: "config".into(), reason };
        let value = self.secrets.get(name).ok_or_else(|| bad(format!("secrets.{name}: not defined")))?;
        match value.strip_prefix("env:") {
            Some(var) => {
                std::env::var(var).map_err(|_| bad(format!("secrets.{name}: environment variable {var} is not set")))
            }
            None => Ok(value.clone()),
        }
    }

    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { self.dir.join(p) }
    }

    /// The folder for what is kept beside the database `db` (see `data_dir`).
    pub fn data_dir_for(&self, db: &Path) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return self.resolve(dir);
        }
        if db.to_str().is_some_and(|d| d.contains("://")) {
            return std::env::var_os("SOLLECITO_DATA_DIR").filter(|d| !d.is_empty()).map_or(".".into(), PathBuf::from);
        }
        db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
    }
}

/// TOML settings as the contract's key/value pairs.
pub fn settings(table: &BTreeMap<String, toml::Value>) -> Vec<crate::decision::Setting> {
    table
        .iter()
        .map(|(k, v)| crate::decision::Setting {
            key: k.clone(),
            value: match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, BadConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sollecito.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path))
    }

    #[test]
    fn defaults_are_weekdays_eight_to_seven_and_three_a_week() {
        let c = Config::default();
        assert_eq!(c.sending.cap_per_week, 3);
        assert_eq!(c.sending.window("email"), Window::default());
        assert_eq!(c.policies.default, "b2b-standard");
    }

    #[test]
    fn bad_keys_are_named() {
        let err = parse("[sending]\ncap_per_wek = 2\n").unwrap_err().to_string();
        assert!(err.contains("cap_per_wek"), "{err}");
        let err = parse("[sending.windows.sms]\nfrom = \"25:00\"\n").unwrap_err().to_string();
        assert!(err.contains("bad time \"25:00\""), "{err}");
        let err = parse("[sending.windows.email]\nfrom = \"18:00\"\nto = \"09:00\"\n").unwrap_err().to_string();
        assert!(err.contains("sending.windows.email"), "{err}");
    }

    #[test]
    fn the_return_path_holds_the_key_once_before_the_at() {
        assert!(parse("[email]\nreturn_path = \"bounces+{key}@acme.example\"\n").is_ok());
        for bad in ["bounces@acme.example", "bounces+{key}{key}@acme.example", "bounces@{key}.example", "{key}"] {
            let err = parse(&format!("[email]\nreturn_path = {bad:?}\n")).unwrap_err().to_string();
            assert!(err.contains("email.return_path"), "{bad}: {err}");
        }
        let err = parse("[inbound]\npause_days = 90\n").unwrap_err().to_string();
        assert!(err.contains("inbound.pause_days"), "{err}");
    }

    #[test]
    fn the_from_address_is_addr_or_name_and_addr() {
        let c = parse("[email]\nfrom = \"Acme Crediti <crediti@acme.example>\"\n").unwrap();
        assert_eq!(c.sender().unwrap(), ("Acme Crediti".to_string(), "crediti@acme.example".to_string()));
        let c = parse(
            "[business]\nname = \"Acme\"\nemail = \"a@acme.example\"\n[email]\nfrom = \"crediti@acme.example\"\n",
        )
        .unwrap();
        assert_eq!(c.sender().unwrap(), ("Acme".to_string(), "crediti@acme.example".to_string()));
        let err = parse("[email]\nfrom = \"Acme <crediti at acme>\"\n").unwrap_err().to_string();
        assert!(err.contains("email.from") && err.contains("Name <addr>"), "{err}");
        let err = parse("[sending]\nuncertain = \"maybe\"\n").unwrap_err().to_string();
        assert!(err.contains("uncertain") && err.contains("resend"), "{err}");
    }

    #[test]
    fn settings_and_policy_choice() {
        let c = parse(
            "[policies]\ndefault = \"b2b-standard\"\n[policies.segments]\nretail = \"x.wasm\"\n[policies.customers]\nc1 = \"y.wasm\"\n\
             [settings.b2b-standard]\nsoft_days = 5\nformal_channel = \"letter\"\n",
        )
        .unwrap();
        let s = c.settings_for("b2b-standard");
        assert_eq!(s.len(), 2);
        assert!(s.iter().any(|s| s.key == "soft_days" && s.value == "5"));
        assert_eq!(c.policies.all(), ["b2b-standard", "x.wasm", "y.wasm"]);
    }
}
