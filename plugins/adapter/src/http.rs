//! HTTP through the granted `http` capability, signed requests, and what an
//! answer's status means.

use crate::Fault;
use crate::bindings::sollecito::plugin::http::{self, Request, Response};

/// What an answer's status says about the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// 2xx: done.
    Success,
    /// 408 (timeout), 429 (rate limited), 5xx: worth another try later.
    Transient,
    /// Anything else (1xx, redirects, which are not followed, other 4xx): final.
    Permanent,
}

/// The [`Class`] of an HTTP status.
pub fn classify(status: u16) -> Class {
    match status {
        200..=299 => Class::Success,
        408 | 429 | 500..=599 => Class::Transient,
        _ => Class::Permanent,
    }
}

/// `Ok` for a 2xx, else a [`Fault`] of the status's [`Class`] carrying `message`.
pub fn check(status: u16, message: &str) -> Result<(), Fault> {
    match classify(status) {
        Class::Success => Ok(()),
        Class::Transient => Err(Fault::Transient(message.to_string())),
        Class::Permanent => Err(Fault::Permanent(message.to_string())),
    }
}

/// Sends `request` and returns the answer whatever its status. A denial (the
/// host is not granted: nothing left the machine) is permanent; any other
/// transport error (a timeout, a refused connection) transient.
pub fn send(request: &Request) -> Result<Response, Fault> {
    http::send(request).map_err(transport_fault)
}

fn transport_fault(error: String) -> Fault {
    if error.starts_with("denied") { Fault::Permanent(error) } else { Fault::Transient(error) }
}

/// The call's time in seconds since the epoch: the host sets every call's clock to the tick.
pub fn unix_time() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// POSTs `body` (JSON) to `url` with an `Idempotency-Key` and the
/// `X-Sollecito-Signature` of `secret` at the call's time (see `sollecito-signing`).
pub fn post_signed_json(url: &str, idempotency_key: &str, secret: &str, body: Vec<u8>) -> Result<Response, Fault> {
    send(&signed_json_request(url, idempotency_key, secret, unix_time(), body))
}

/// The request [`post_signed_json`] sends, signed as of `t`.
pub fn signed_json_request(url: &str, idempotency_key: &str, secret: &str, t: u64, body: Vec<u8>) -> Request {
    Request {
        method: "POST".into(),
        url: url.into(),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Idempotency-Key".into(), idempotency_key.into()),
            (sollecito_signing::HEADER.into(), sollecito_signing::header(secret, t, &body)),
        ],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        let table = [
            (Class::Success, &[200, 204, 299][..]),
            (Class::Transient, &[408, 429, 500, 503, 599]),
            // Redirects are not followed, so they are final too.
            (Class::Permanent, &[100, 301, 302, 304, 400, 401, 402, 404, 409, 422, 600]),
        ];
        for (class, statuses) in table {
            for &status in statuses {
                assert_eq!(classify(status), class, "HTTP {status}");
            }
        }
        assert_eq!(check(204, "x"), Ok(()));
        assert_eq!(check(503, "HTTP 503"), Err(Fault::Transient("HTTP 503".into())));
        assert_eq!(check(302, "HTTP 302"), Err(Fault::Permanent("HTTP 302".into())));
    }

    #[test]
    fn a_denial_is_permanent_and_other_transport_errors_transient() {
        let denied = "denied: 127.0.0.1:9 is not granted to this adapter".to_string();
        assert_eq!(transport_fault(denied.clone()), Fault::Permanent(denied));
        assert_eq!(transport_fault("timed out".into()), Fault::Transient("timed out".into()));
    }

    #[test]
    fn a_signed_request_verifies() {
        let r = signed_json_request("https://h.example/x", "inv-1/overdue-7", "whsec", 1_700_000_000, b"{}".to_vec());
        assert_eq!((r.method.as_str(), r.url.as_str(), r.body.as_slice()), ("POST", "https://h.example/x", &b"{}"[..]));
        let names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["Content-Type", "Idempotency-Key", "X-Sollecito-Signature"]);
        assert_eq!(r.headers[1].1, "inv-1/overdue-7");
        assert!(r.headers[2].1.starts_with("t=1700000000,v1="));
        assert!(sollecito_signing::verify("whsec", &r.headers[2].1, b"{}"));
    }
}
