//! The dashboard's sign-in: the service token, typed once into a form, becomes
//! a session cookie, and every form carries a CSRF token bound to it. Both
//! are MACs under a key derived from the token, so any worker sharing the
//! token checks them without a session table, and changing the token signs
//! everyone out.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub(super) const COOKIE: &str = "sollecito_session";
/// How long a session lasts.
pub(super) const LIFETIME_SECS: i64 = 12 * 3600;

/// Signs and checks sessions and CSRF tokens under one service token.
#[derive(Clone)]
pub(super) struct Sessions {
    key: [u8; 32],
}

fn mac(key: &[u8], parts: &[&str]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for p in parts {
        mac.update(p.as_bytes());
        mac.update(b"\x1f");
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Equal without telling, through timing, where they differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    pub(super) fn new(token: &str) -> Self {
        Sessions { key: Sha256::digest(format!("sollecito dashboard sessions\x1f{token}").as_bytes()).into() }
    }

    /// The token typed into the sign-in form is the service's.
    pub(super) fn is_token(&self, given: &str, token: &str) -> bool {
        !given.is_empty() && same(given, token)
    }

    /// A new session's cookie value, valid until `now + LIFETIME_SECS`.
    pub(super) fn start(&self, now: i64, nonce: &str) -> String {
        let until = now + LIFETIME_SECS;
        format!("{until}.{nonce}.{}", mac(&self.key, &["session", &until.to_string(), nonce]))
    }

    /// A cookie value that this service signed and that has not expired.
    pub(super) fn valid(&self, cookie: &str, now: i64) -> bool {
        let mut parts = cookie.splitn(3, '.');
        let (Some(until), Some(nonce), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let Ok(expires) = until.parse::<i64>() else { return false };
        expires > now && same(sig, &mac(&self.key, &["session", until, nonce]))
    }

    /// The CSRF token of a session's forms.
    pub(super) fn csrf(&self, cookie: &str) -> String {
        mac(&self.key, &["csrf", cookie])
    }

    pub(super) fn csrf_ok(&self, cookie: &str, given: &str) -> bool {
        !given.is_empty() && same(given, &self.csrf(cookie))
    }
}

/// The session cookie's value among a request's `Cookie` headers.
pub(super) fn cookie_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

/// `Set-Cookie` for a session: not readable by scripts, never sent from
/// another site, and only over TLS when the request came over it.
pub(super) fn set_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={LIFETIME_SECS}{secure}")
}

pub(super) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "a-service-token-of-some-length";

    #[test]
    fn a_session_is_valid_until_it_expires_and_only_under_its_token() {
        let s = Sessions::new(TOKEN);
        let cookie = s.start(1_000, "n1");
        assert!(s.valid(&cookie, 1_000));
        assert!(s.valid(&cookie, 1_000 + LIFETIME_SECS - 1));
        assert!(!s.valid(&cookie, 1_000 + LIFETIME_SECS));
        assert!(!Sessions::new("another-token-entirely").valid(&cookie, 1_000));
        // A later expiry written by hand breaks the signature.
        let forged = cookie.replacen(&(1_000 + LIFETIME_SECS).to_string(), "99999999999", 1);
        assert!(!s.valid(&forged, 1_000));
        for junk in ["", "x", "1.2", "abc.n1.00", "..."] {
            assert!(!s.valid(junk, 0), "{junk:?}");
        }
    }

    #[test]
    fn a_csrf_token_belongs_to_one_session() {
        let s = Sessions::new(TOKEN);
        let (a, b) = (s.start(0, "a"), s.start(0, "b"));
        assert!(s.csrf_ok(&a, &s.csrf(&a)));
        assert!(!s.csrf_ok(&a, &s.csrf(&b)));
        assert!(!s.csrf_ok(&a, ""));
        assert!(s.is_token(TOKEN, TOKEN));
        assert!(!s.is_token("", TOKEN));
        assert!(!s.is_token("a-service-token-of-some-lengtH", TOKEN));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_on_tls() {
        let c = set_cookie("v", true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("; Secure"), "{c}");
        assert!(!set_cookie("v", false).contains("Secure"));
        let mut headers = axum::http::HeaderMap::new();
        headers.append("cookie", "other=1; sollecito_session=abc.d.ef".parse().unwrap());
        assert_eq!(cookie_of(&headers).as_deref(), Some("abc.d.ef"));
    }
}
