//! What a channel adapter can reach, each denied unless granted: the mail
//! relay, HTTP to named hosts, named secrets. A denial is logged and answered
//! inside the plugin as an error; nothing leaves the machine.

use super::{CallState, RelayError};

/// The most of a response body an adapter is handed.
const MAX_RESPONSE: u64 = 1 << 20;

/// `host` and `host:port` of a URL, for the allow-list.
fn authority(url: &url::Url) -> Option<(String, String)> {
    let host = url.host_str()?.to_string();
    let port = url.port_or_known_default()?;
    Some((host.clone(), format!("{host}:{port}")))
}

/// The host's side of one contract version's imports. Every version grants
/// the same capabilities in the same way: only the generated types differ.
macro_rules! grant_capabilities {
    ($v:ident) => {
        mod $v {
        use std::io::Read;
        use std::time::Duration;

        use super::super::$v;
        use super::super::$v::channel::sollecito::plugin::{files, http, mail, secrets, tasks};
        use super::super::$v::{DeliveryError, Email, convert};
        use super::{CallState, MAX_RESPONSE, RelayError, authority};

        impl mail::Host for CallState {
            fn send(&mut self, email: Email) -> Result<String, DeliveryError> {
                match &self.grants.mail {
                    Some(relay) => relay.send(&convert::email(email), self.now).map_err(|e| match e {
                        RelayError::Recipient(reason) => DeliveryError::Permanent(reason),
                        RelayError::Transient(reason) => DeliveryError::Transient(reason),
                        RelayError::Setup(reason) => {
                            if let Some(slot) = &self.grants.setup_fault {
                                *slot.lock().expect("setup fault slot") = Some(reason.clone());
                            }
                            DeliveryError::Transient(format!("the relay's setup: {reason}"))
                        }
                    }),
                    None => {
                        tracing::warn!(plugin = %self.plugin, "denied: email was not granted to this plugin");
                        Err(DeliveryError::Permanent("email is not granted to this plugin".into()))
                    }
                }
            }
        }

        impl secrets::Host for CallState {
            fn get(&mut self, name: String) -> Option<String> {
                let value = self.grants.secrets.get(&name).cloned();
                if value.is_none() {
                    // The name only: a secret's value never reaches a log.
                    tracing::warn!(plugin = %self.plugin, secret = %name, "denied: secret not granted to this plugin");
                }
                value
            }
        }

        impl http::Host for CallState {
            fn send(&mut self, req: http::Request) -> Result<http::Response, String> {
                let url = url::Url::parse(&req.url).map_err(|e| format!("bad url {:?}: {e}", req.url))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(format!("denied: scheme {} (http and https only)", url.scheme()));
                }
                let Some((host, host_port)) = authority(&url) else { return Err(format!("bad url {:?}: no host", req.url)) };
                if !self.grants.http_hosts.iter().any(|h| *h == host || *h == host_port) {
                    tracing::warn!(plugin = %self.plugin, host = %host_port, "denied: HTTP to a host not granted to this plugin");
                    return Err(format!("denied: {host_port} is not granted to this adapter"));
                }
                if self.grants.capture.is_some() {
                    let (status, body) = super::super::Capture::accepted();
                    return Ok(http::Response { status, headers: vec![], body });
                }
                if let Some(script) = &self.grants.http_script {
                    let (status, body) = script.answer(super::super::RecordedRequest {
                        method: req.method,
                        url: req.url,
                        headers: req.headers,
                        body: req.body,
                    });
                    return Ok(http::Response { status, headers: vec![], body });
                }
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(15)).redirects(0).build();
                let mut request = agent.request(&req.method, url.as_str());
                for (k, v) in &req.headers {
                    request = request.set(k, v);
                }
                let response = match request.send_bytes(&req.body) {
                    Ok(r) | Err(ureq::Error::Status(_, r)) => r,
                    Err(e) => return Err(format!("{host_port}: {e}")),
                };
                let status = response.status();
                let headers = response
                    .headers_names()
                    .into_iter()
                    .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_string())))
                    .collect();
                let mut body = vec![];
                response.into_reader().take(MAX_RESPONSE).read_to_end(&mut body).map_err(|e| format!("{host_port}: {e}"))?;
                Ok(http::Response { status, headers, body })
            }
        }

        impl files::Host for CallState {
            fn write(&mut self, name: String, contents: Vec<u8>) -> Result<String, String> {
                let Some(folder) = &self.grants.folder else {
                    tracing::warn!(plugin = %self.plugin, "denied: no folder granted to this plugin");
                    return Err("denied: no folder is granted to this adapter".into());
                };
                // A bare file name: no separators, no "..", nothing hidden.
                let ok = !name.is_empty()
                    && name.len() <= 128
                    && !name.starts_with('.')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !ok {
                    return Err(format!("denied: {name:?} is not a plain file name"));
                }
                if contents.len() > 16 << 20 {
                    return Err("denied: a file may not exceed 16 MiB".into());
                }
                let path = folder.join(&name);
                let tmp = folder.join(format!(".{name}.tmp"));
                std::fs::create_dir_all(folder)
                    .and_then(|_| std::fs::write(&tmp, &contents))
                    .and_then(|_| std::fs::rename(&tmp, &path))
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                Ok(path.display().to_string())
            }
        }

        impl tasks::Host for CallState {
            fn open(&mut self, task: tasks::Task) -> Result<String, String> {
                let Some(inbox) = &self.grants.tasks else {
                    tracing::warn!(plugin = %self.plugin, "denied: tasks not granted to this plugin");
                    return Err("denied: opening tasks is not granted to this adapter".into());
                };
                let key = task.key.clone();
                inbox.lock().expect("task inbox").push(convert::task(task));
                Ok(format!("task {key}"))
            }
        }

        impl $v::policy::sollecito::plugin::types::Host for CallState {}
        impl $v::channel::sollecito::plugin::delivery::Host for CallState {}
        impl $v::payment::sollecito::plugin::charges::Host for CallState {}

        impl $v::policy::sollecito::plugin::log::Host for CallState {
            fn log(&mut self, level: $v::Level, message: String) {
                let level = match level {
                    $v::Level::Debug => tracing::Level::DEBUG,
                    $v::Level::Info => tracing::Level::INFO,
                    $v::Level::Warn => tracing::Level::WARN,
                    $v::Level::Error => tracing::Level::ERROR,
                };
                self.log_line(level, &message);
            }
        }
        }
    };
}

grant_capabilities!(v0_1);
grant_capabilities!(v0_2);
