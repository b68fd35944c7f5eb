//! An adapter's settings, looked up by key, and the secrets they name.

use std::str::FromStr;

use crate::Fault;
use crate::Setting;
use crate::bindings::sollecito::plugin::secrets;

/// The operator's settings for one adapter, as the host passed them. A key
/// given twice reads as its first value; values are used as written (not
/// trimmed), as the bundled adapters always read them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings(Vec<Setting>);

impl Settings {
    pub fn new(settings: Vec<Setting>) -> Self {
        Settings(settings)
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|s| s.key == key).map(|s| s.value.as_str())
    }

    /// The value of `key`, else `default`.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// The value of `key`; unset is a permanent fault naming it
    /// (`setting `url` is missing`).
    pub fn required(&self, key: &str) -> Result<&str, Fault> {
        self.get(key).ok_or_else(|| Fault::Permanent(format!("setting `{key}` is missing")))
    }

    /// `Some(true)` for exactly `true`, `Some(false)` for any other value,
    /// `None` when unset (so the caller picks the default).
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| v == "true")
    }

    /// The value of `key` as a `T` (a number, `true`/`false`), `default` when
    /// unset. A value that does not parse is a permanent fault naming the key.
    pub fn parse_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, Fault> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                let kind = std::any::type_name::<T>().rsplit("::").next().unwrap_or_default();
                Fault::Permanent(format!("setting `{key}` is {v:?}, not a valid {kind}"))
            }),
        }
    }

    /// The secret the `secret` setting names (else `default`); one not granted
    /// is a permanent fault: `the secret "sms_auth" is not granted`.
    pub fn secret(&self, default: &str) -> Result<String, Fault> {
        granted(self.get_or("secret", default), "secret")
    }

    /// [`Settings::secret`] for a signing key: `the signing secret "x" is not granted`.
    pub fn signing_secret(&self, default: &str) -> Result<String, Fault> {
        granted(self.get_or("secret", default), "signing secret")
    }
}

fn granted(name: &str, what: &str) -> Result<String, Fault> {
    secrets::get(name).ok_or_else(|| not_granted(name, what))
}

fn not_granted(name: &str, what: &str) -> Fault {
    Fault::Permanent(format!("the {what} {name:?} is not granted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::new(pairs.iter().map(|(k, v)| Setting { key: k.to_string(), value: v.to_string() }).collect())
    }

    #[test]
    fn lookups_read_the_first_value_as_written() {
        let s = settings(&[("url", " https://a.example "), ("url", "https://b.example"), ("empty", "")]);
        assert_eq!(s.get("url"), Some(" https://a.example "));
        assert_eq!(s.get("empty"), Some(""));
        assert_eq!(s.get("nope"), None);
        assert_eq!(s.get_or("nope", "dflt"), "dflt");
        assert_eq!(s.get_or("empty", "dflt"), "");
    }

    #[test]
    fn errors_name_the_key() {
        let s = settings(&[("max_length", "abc"), ("on", "yes"), ("n", "70")]);
        assert_eq!(s.required("url"), Err(Fault::Permanent("setting `url` is missing".into())));
        assert_eq!(s.required("n"), Ok("70"));
        assert_eq!(
            s.parse_or::<usize>("max_length", 160),
            Err(Fault::Permanent("setting `max_length` is \"abc\", not a valid usize".into()))
        );
        assert_eq!(
            s.parse_or::<bool>("on", false),
            Err(Fault::Permanent("setting `on` is \"yes\", not a valid bool".into()))
        );
        assert_eq!(s.parse_or::<usize>("n", 160), Ok(70));
        assert_eq!(s.parse_or::<usize>("unset", 160), Ok(160));
    }

    #[test]
    fn a_flag_is_true_only_as_true() {
        let s = settings(&[("a", "true"), ("b", "yes"), ("c", "TRUE")]);
        assert_eq!((s.flag("a"), s.flag("b"), s.flag("c"), s.flag("d")), (Some(true), Some(false), Some(false), None));
    }

    #[test]
    fn a_secret_not_granted_is_named() {
        assert_eq!(
            not_granted("hook", "signing secret"),
            Fault::Permanent("the signing secret \"hook\" is not granted".into())
        );
        assert_eq!(
            not_granted("sms_auth", "secret"),
            Fault::Permanent("the secret \"sms_auth\" is not granted".into())
        );
    }
}
