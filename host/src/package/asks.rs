//! What a package asks the operator for, each with a reason: the capabilities
//! its component imports, and nothing it does not.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Refused;
use crate::sandbox::Capability;

/// The grants a package asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HostsAsk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretsAsk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Reason>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostsAsk {
    /// `host` or `host:port`.
    pub hosts: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsAsk {
    pub names: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: String,
}

/// Hosts and secrets a package may name, at most.
const MAX_NAMED: usize = 32;

impl Asks {
    /// The capabilities asked for.
    pub fn capabilities(&self) -> BTreeSet<Capability> {
        let asked = [
            (Capability::Http, self.http.is_some()),
            (Capability::Secrets, self.secrets.is_some()),
            (Capability::Mail, self.mail.is_some()),
            (Capability::Folder, self.folder.is_some()),
            (Capability::Tasks, self.tasks.is_some()),
        ];
        asked.into_iter().filter(|(_, asked)| *asked).map(|(c, _)| c).collect()
    }

    pub fn hosts(&self) -> &[String] {
        self.http.as_ref().map_or(&[], |h| &h.hosts)
    }

    pub fn secrets(&self) -> &[String] {
        self.secrets.as_ref().map_or(&[], |s| &s.names)
    }

    /// Well formed, and exactly what the component imports: a package that
    /// asks for less would be granted less than it uses, one that asks for
    /// more would show the operator a grant it never uses.
    pub(crate) fn check(&self, imports: &BTreeSet<Capability>) -> Result<(), Refused> {
        let reasons = [
            ("asks.http.reason", self.http.as_ref().map(|a| &a.reason)),
            ("asks.secrets.reason", self.secrets.as_ref().map(|a| &a.reason)),
            ("asks.mail.reason", self.mail.as_ref().map(|a| &a.reason)),
            ("asks.folder.reason", self.folder.as_ref().map(|a| &a.reason)),
            ("asks.tasks.reason", self.tasks.as_ref().map(|a| &a.reason)),
        ];
        for (field, reason) in reasons.into_iter().filter_map(|(f, r)| Some((f, r?))) {
            if reason.trim().is_empty() || reason.chars().count() > 300 || reason.chars().any(char::is_control) {
                return Err(Refused::new(field, "give one line, up to 300 characters, of why it is needed"));
            }
        }
        check_named("asks.http.hosts", self.hosts(), is_host)?;
        check_named("asks.secrets.names", self.secrets(), crate::names::is_slug)?;
        let asked = self.capabilities();
        if let Some(missing) = imports.difference(&asked).next() {
            return Err(Refused::new(
                &format!("asks.{}", missing.name()),
                "the component imports this capability and the package does not ask for it",
            ));
        }
        if let Some(unused) = asked.difference(imports).next() {
            return Err(Refused::new(
                &format!("asks.{}", unused.name()),
                "asked for, but the component does not import it: ask only for what it uses",
            ));
        }
        Ok(())
    }
}

fn check_named(field: &str, names: &[String], valid: fn(&str) -> bool) -> Result<(), Refused> {
    if names.len() > MAX_NAMED {
        return Err(Refused::new(field, &format!("at most {MAX_NAMED}")));
    }
    if let Some(bad) = names.iter().find(|n| !valid(n)) {
        let shown: String = bad.chars().take(40).flat_map(char::escape_default).collect();
        return Err(Refused::new(field, &format!("\"{shown}\" is not a valid name")));
    }
    Ok(())
}

/// `host` or `host:port`, lowercase: what `http_hosts` in the config holds.
fn is_host(s: &str) -> bool {
    let (host, port) = s.split_once(':').map_or((s, None), |(h, p)| (h, Some(p)));
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

/// What a grant would add, for an operator to read before saying yes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Difference {
    pub capabilities: Vec<Capability>,
    pub hosts: Vec<String>,
    pub secrets: Vec<String>,
}

impl Difference {
    /// What `asks` asks beyond `before`.
    pub fn between(before: &Asks, asks: &Asks) -> Difference {
        let more = |now: &[String], then: &[String]| now.iter().filter(|n| !then.contains(n)).cloned().collect();
        Difference {
            capabilities: asks.capabilities().difference(&before.capabilities()).copied().collect(),
            hosts: more(asks.hosts(), before.hosts()),
            secrets: more(asks.secrets(), before.secrets()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.capabilities.is_empty() && self.hosts.is_empty() && self.secrets.is_empty()
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = vec![];
        if !self.capabilities.is_empty() {
            parts.push(self.capabilities.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "));
        }
        if !self.hosts.is_empty() {
            parts.push(format!("hosts {}", self.hosts.join(", ")));
        }
        if !self.secrets.is_empty() {
            parts.push(format!("secrets {}", self.secrets.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asks(hosts: &[&str]) -> Asks {
        Asks {
            http: Some(HostsAsk { hosts: hosts.iter().map(|h| h.to_string()).collect(), reason: "the API".into() }),
            ..Asks::default()
        }
    }

    #[test]
    fn a_package_asks_for_exactly_what_its_component_imports() {
        let http = BTreeSet::from([Capability::Http]);
        assert!(asks(&["api.sms.example", "api.sms.example:8443"]).check(&http).is_ok());
        let less = asks(&["api.sms.example"]).check(&BTreeSet::from([Capability::Http, Capability::Secrets]));
        assert_eq!(less.unwrap_err().at, "asks.secrets");
        let more = asks(&["api.sms.example"]).check(&BTreeSet::new());
        assert_eq!(more.unwrap_err().at, "asks.http");
        for bad in ["", "API.example", "a..b", "host:0", "host:99999", "evil.example/path", "x\ny"] {
            assert_eq!(asks(&[bad]).check(&http).unwrap_err().at, "asks.http.hosts", "{bad:?}");
        }
        let mut blank = asks(&["api.sms.example"]);
        blank.http.as_mut().unwrap().reason = " ".into();
        assert_eq!(blank.check(&http).unwrap_err().at, "asks.http.reason");
    }

    #[test]
    fn an_upgrade_shows_what_it_asks_beyond_the_last() {
        let before = asks(&["api.sms.example"]);
        let mut after = asks(&["api.sms.example", "backup.sms.example"]);
        after.secrets = Some(SecretsAsk { names: vec!["sms_token".into()], reason: "the token".into() });
        let more = Difference::between(&before, &after);
        assert_eq!(more.capabilities, vec![Capability::Secrets]);
        assert_eq!(more.hosts, vec!["backup.sms.example".to_string()]);
        assert_eq!(more.to_string(), "secrets; hosts backup.sms.example; secrets sms_token");
        assert!(Difference::between(&after, &before).is_empty());
    }
}
