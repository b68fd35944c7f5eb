//! What a plugin can reach, one module a capability, each denied unless
//! granted and each checking its own grant: the mail relay, HTTP to named
//! hosts, named secrets, a folder, tasks for people. A denial is logged and
//! answered inside the plugin as an error; nothing leaves the machine.
//!
//! The modules work in the host's own types. `link!` joins them to one
//! contract version's generated imports, the only code here that knows a
//! version: a new capability is one module and its lines in `link!`, a new
//! contract version one `link!(v0_N)`.

mod files;
pub(super) mod http;
mod mail;
mod secrets;
mod tasks;

use super::CallState;

/// A capability a component imports, by its interface: what a package must
/// ask for, with a reason, and what an operator grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// The operator's mail relay.
    Mail,
    /// HTTP(S) to hosts the operator names.
    Http,
    /// Secrets the operator names.
    Secrets,
    /// One folder to write files into.
    Folder,
    /// Tasks for people.
    Tasks,
}

impl Capability {
    pub const ALL: [Capability; 5] =
        [Capability::Mail, Capability::Http, Capability::Secrets, Capability::Folder, Capability::Tasks];

    /// The capability an import names (`sollecito:plugin/http@0.3.0`), if it is one.
    pub(crate) fn of_import(import: &str) -> Option<Capability> {
        let interface = import.strip_prefix("sollecito:plugin/")?.split('@').next()?;
        match interface {
            "mail" => Some(Capability::Mail),
            "http" => Some(Capability::Http),
            "secrets" => Some(Capability::Secrets),
            "files" => Some(Capability::Folder),
            "tasks" => Some(Capability::Tasks),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Capability::Mail => "mail",
            Capability::Http => "http",
            Capability::Secrets => "secrets",
            Capability::Folder => "folder",
            Capability::Tasks => "tasks",
        }
    }
}

/// The host's side of one contract version's imports.
macro_rules! link {
    ($v:ident) => {
        mod $v {
            use super::super::$v;
            use super::super::$v::channel::sollecito::plugin::{files, http, mail, secrets, tasks};
            use super::super::$v::{DeliveryError, Email, convert};
            use super::CallState;
            use super::http::HttpRequest;

            impl mail::Host for CallState {
                fn send(&mut self, email: Email) -> Result<String, DeliveryError> {
                    super::mail::send(self, &convert::email(email)).map_err(convert::delivery_error)
                }
            }

            impl secrets::Host for CallState {
                fn get(&mut self, name: String) -> Option<String> {
                    super::secrets::get(self, &name)
                }
            }

            impl http::Host for CallState {
                fn send(&mut self, req: http::Request) -> Result<http::Response, String> {
                    let request =
                        HttpRequest { method: req.method, url: req.url, headers: req.headers, body: req.body };
                    let r = super::http::send(self, request)?;
                    Ok(http::Response { status: r.status, headers: r.headers, body: r.body })
                }
            }

            impl files::Host for CallState {
                fn write(&mut self, name: String, contents: Vec<u8>) -> Result<String, String> {
                    super::files::write(self, &name, &contents)
                }
            }

            impl tasks::Host for CallState {
                fn open(&mut self, task: tasks::Task) -> Result<String, String> {
                    super::tasks::open(self, convert::task(task))
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

link!(v0_1);
link!(v0_2);
link!(v0_3);

// The reader world's one interface of its own holds only types.
impl super::v0_3::reader::sollecito::plugin::reading::Host for CallState {}
