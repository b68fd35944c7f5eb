//! The transport of a simulation: what would have left is kept here instead
//! of reaching a relay, a processor or someone's system. Everything up to it
//! (claims, checks, rendering, the adapters themselves) runs as it does for
//! real; the mail relay and HTTP answer as a willing receiver would.

use std::sync::Mutex;

use serde::Serialize;

use super::{HttpRequest, HttpResponse, HttpTransport};

/// One thing that would have left, as its receiver would have got it.
#[derive(Debug, Clone, Serialize)]
pub struct Captured {
    /// The outbox key of the step (the lead's, for a consolidated message).
    pub key: String,
    /// `email`, `sms`... for a message; `charge` or `post` otherwise.
    pub channel: String,
    pub at: i64,
    /// A message's subject, or the URL a signed request went to. The body
    /// is not kept: the message stays in the scratch store's outbox, and a
    /// copy of every text here held a book's worth of them in memory.
    pub subject: String,
}

#[derive(Debug, Default)]
pub struct Capture(Mutex<Vec<Captured>>);

/// The receipt a captured message or action is settled with.
pub const KEPT: &str = "kept by the simulation, nothing left";

impl Capture {
    pub fn keep(&self, item: Captured) {
        self.0.lock().expect("capture").push(item);
    }

    /// What an HTTP receiver that takes everything answers.
    pub fn accepted() -> (u16, Vec<u8>) {
        (202, b"{}".to_vec())
    }

    /// Everything kept so far, in the order it would have left, taken out.
    pub fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.0.lock().expect("capture"))
    }
}

/// HTTP in a simulation: a granted host takes everything, nothing leaves.
impl HttpTransport for Capture {
    fn send(&self, _request: HttpRequest) -> Result<HttpResponse, String> {
        let (status, body) = Capture::accepted();
        Ok(HttpResponse { status, headers: vec![], body })
    }
}

impl super::MailRelay for Capture {
    fn send(&self, _email: &crate::outgoing::Email, _now: i64) -> Result<String, super::RelayError> {
        Ok(KEPT.into())
    }
}

/// The HTTP of an author's scenario: every granted host answers the same,
/// and every request is recorded. Nothing leaves the machine.
#[derive(Debug)]
pub struct HttpScript {
    status: u16,
    body: Vec<u8>,
    requests: Mutex<Vec<HttpRequest>>,
}

impl HttpScript {
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        HttpScript { status, body, requests: Mutex::new(vec![]) }
    }

    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests.lock().expect("script").clone()
    }
}

/// Records each request and answers it as scripted.
impl HttpTransport for HttpScript {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        self.requests.lock().expect("script").push(request);
        Ok(HttpResponse { status: self.status, headers: vec![], body: self.body.clone() })
    }
}
