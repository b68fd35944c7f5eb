//! The customer's link: a token the service signs (HMAC-SHA256) over the
//! customer, the message that carried it and when it expires. No login, and
//! nothing to guess: without a key of `[portal] keys` no token verifies.
//! The first key signs; every key verifies, so a key is rotated by adding a
//! new one first and removing the old one once its links have expired.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a link grants: one customer's page, until `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub customer: String,
    /// The outbox key of the message the link came in (its step, tone,
    /// template and arm are what brought the customer to the page).
    pub message: Option<String>,
    /// Unix seconds.
    pub expires: i64,
}

/// Why a token opens nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not a token of this service at all (or altered).
    Forged,
    /// Signed by us, and expired: the page offers a fresh one by email.
    Expired(String),
}

/// The keys: (name, secret), the first one signing.
pub(crate) struct Keys(pub Vec<(String, Vec<u8>)>);

impl Keys {
    pub(crate) fn sign(&self, link: &Link) -> Option<String> {
        let (name, key) = self.0.first()?;
        let payload = format!("{}\n{}\n{}", link.customer, link.message.as_deref().unwrap_or_default(), link.expires);
        let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        mac.update(name.as_bytes());
        mac.update(b"\n");
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        Some(format!("{}.{}.{}", B64.encode(payload), B64.encode(name), B64.encode(&tag[..])))
    }

    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Link, Refused> {
        // Short and plain: a token of 2 KB or with other characters is nobody's.
        if token.len() > 1024 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(Refused::Forged);
        }
        let mut parts = token.split('.');
        let (Some(payload), Some(name), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refused::Forged);
        };
        let decode = |p: &str| B64.decode(p).map_err(|_| Refused::Forged);
        let (payload, name, tag) = (decode(payload)?, decode(name)?, decode(tag)?);
        let key = self.0.iter().find(|(n, _)| n.as_bytes() == name.as_slice()).ok_or(Refused::Forged)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key.1).map_err(|_| Refused::Forged)?;
        mac.update(&name);
        mac.update(b"\n");
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| Refused::Forged)?;
        let text = String::from_utf8(payload).map_err(|_| Refused::Forged)?;
        let mut fields = text.split('\n');
        let (Some(customer), Some(message), Some(expires)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(Refused::Forged);
        };
        let expires: i64 = expires.parse().map_err(|_| Refused::Forged)?;
        if expires <= now {
            return Err(Refused::Expired(customer.to_string()));
        }
        let message = (!message.is_empty()).then(|| message.to_string());
        Ok(Link { customer: customer.to_string(), message, expires })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Keys {
        Keys(names.iter().map(|n| (n.to_string(), format!("secret of {n}").into_bytes())).collect())
    }

    fn link() -> Link {
        Link { customer: "cus-rossi".into(), message: Some("inv-1001/overdue-7".into()), expires: 2_000 }
    }

    #[test]
    fn a_link_verifies_until_it_expires_and_across_a_rotation() {
        let token = keys(&["k1"]).sign(&link()).unwrap();
        assert_eq!(keys(&["k1"]).verify(&token, 1_999), Ok(link()));
        assert_eq!(keys(&["k1"]).verify(&token, 2_000), Err(Refused::Expired("cus-rossi".into())));
        // A new key signs; the old one still verifies what it signed, until it is removed.
        let rotated = keys(&["k2", "k1"]);
        assert_eq!(rotated.verify(&token, 1_000), Ok(link()));
        assert_ne!(rotated.sign(&link()).unwrap(), token);
        assert_eq!(keys(&["k2"]).verify(&token, 1_000), Err(Refused::Forged));
    }

    #[test]
    fn an_altered_token_opens_nothing() {
        let k = keys(&["k1"]);
        let token = k.sign(&link()).unwrap();
        let (payload, rest) = token.split_once('.').unwrap();
        // Another customer's id under the same signature.
        let other = B64.encode("cus-nordwind\ninv-1003/overdue-7\n2000");
        assert_eq!(k.verify(&format!("{other}.{rest}"), 1_000), Err(Refused::Forged));
        // A later expiry under the same signature.
        let later = B64.encode("cus-rossi\ninv-1001/overdue-7\n9999999999");
        assert_eq!(k.verify(&format!("{later}.{rest}"), 1_000), Err(Refused::Forged));
        for bad in ["", "x", "a.b.c.d", &format!("{payload}.{rest}x"), "<script>", &"A".repeat(2000)] {
            assert_eq!(k.verify(bad, 1_000), Err(Refused::Forged), "{bad:?}");
        }
    }
}
