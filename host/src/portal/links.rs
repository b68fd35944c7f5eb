//! `[portal]` checked at start and made ready: the keys read from their
//! secrets, the base address, and where a transfer goes.

use super::token::{Keys, Link};
use crate::config::{BadConfig, Config};

/// What a link and the page need, checked.
pub(crate) struct Links {
    base: String,
    keys: Keys,
    days: u32,
    pub(crate) account: Option<Account>,
    /// The business's words for the page.
    pub(crate) words: super::words::Overrides,
}

/// The business's bank account, for a transfer.
pub(crate) struct Account {
    pub iban: String,
    pub bic: Option<String>,
    pub beneficiary: String,
}

impl Links {
    /// `None` when `[portal] base_url` is not set; a refusal naming the field when it is wrong.
    pub(crate) fn of(config: &Config) -> Result<Option<Links>, BadConfig> {
        let portal = &config.portal;
        let bad = |reason: String| BadConfig { file: "config".into(), reason };
        let Some(base) = &portal.base_url else { return Ok(None) };
        let url = url::Url::parse(base).map_err(|e| bad(format!("portal.base_url: {e}")))?;
        let loopback = url.host_str().is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(bad("portal.base_url: https:// (plain http only on this machine): the link is a key".into()));
        }
        if portal.keys.is_empty() {
            return Err(bad("portal.keys: name at least one secret to sign the links with".into()));
        }
        let mut keys = vec![];
        for name in &portal.keys {
            let value = config.secret(name).map_err(|e| bad(format!("portal.keys: {}", e.reason)))?;
            if value.len() < 32 {
                return Err(bad(format!("portal.keys: the secret {name} is shorter than 32 bytes")));
            }
            keys.push((name.clone(), value.into_bytes()));
        }
        if !(1..=366).contains(&portal.link_days) {
            return Err(bad("portal.link_days: 1 to 366".into()));
        }
        let account = match &portal.iban {
            None => None,
            Some(iban) if !super::rf::iban_ok(iban) => {
                return Err(bad("portal.iban: its check digits are wrong".into()));
            }
            Some(iban) => Some(Account {
                iban: iban.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase(),
                bic: portal.bic.clone(),
                beneficiary: portal.beneficiary.clone().unwrap_or_else(|| config.business.name.clone()),
            }),
        };
        let words = match &portal.words_dir {
            None => Default::default(),
            Some(dir) => super::words::Overrides::read(&config.resolve(dir))
                .map_err(|e| bad(format!("portal.words_dir: {e}")))?,
        };
        Ok(Some(Links {
            words,
            base: base.trim_end_matches('/').to_string(),
            keys: Keys(keys),
            days: portal.link_days,
            account,
        }))
    }

    /// The customer's link, carried by the message `message` (its outbox key).
    pub(crate) fn url(&self, customer: &str, message: Option<&str>, now: i64) -> Option<String> {
        let expires = now + i64::from(self.days) * 86_400;
        let link = Link { customer: customer.to_string(), message: message.map(str::to_string), expires };
        Some(format!("{}/p/{}", self.base, self.keys.sign(&link)?))
    }

    pub(crate) fn open(&self, token: &str, now: i64) -> Result<Link, super::token::Refused> {
        self.keys.verify(token, now)
    }

    /// When a link was signed: its expiry less the days a link lasts (as configured now).
    pub(crate) fn signed_at(&self, link: &Link) -> i64 {
        link.expires - i64::from(self.days) * 86_400
    }
}
