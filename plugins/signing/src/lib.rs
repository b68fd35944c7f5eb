//! The signature every request sollecito sends to someone's system carries:
//! `X-Sollecito-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//! the scheme Stripe uses for its own webhooks, so receivers know it.

use hmac::{Hmac, Mac};

/// The header's name.
pub const HEADER: &str = "X-Sollecito-Signature";

/// The `v1` signature of a body sent at `t`.
pub fn signature(secret: &str, t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The header's value for a body sent at `t`.
pub fn header(secret: &str, t: u64, body: &[u8]) -> String {
    format!("t={t},v1={}", signature(secret, t, body))
}

/// Checks a header against the body (for receivers and tests).
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    let Ok(given) = hex::decode(v1) else { return false };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let h = super::header("whsec", 1_700_000_000, b"{\"a\":1}");
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(super::verify("whsec", &h, b"{\"a\":1}"));
        assert!(!super::verify("whsec", &h, b"{\"a\":2}"));
        assert!(!super::verify("other", &h, b"{\"a\":1}"));
        assert!(!super::verify("whsec", "t=1,v1=zz", b""));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Computed independently: Python's hmac.new(b"Jefe", b"12.what do ya want for nothing?", sha256).
        assert_eq!(
            super::signature("Jefe", 12, b"what do ya want for nothing?"),
            "884f387af4fab053210fff358c2ae1ceb946a70c677f05c2b731ca65c7769498"
        );
    }
}
