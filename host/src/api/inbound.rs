//! `POST /v1/inbound/email`: a raw message (RFC 5322) from a provider's
//! inbound webhook or a mail server's pipe, taken in through the one inbound
//! pipeline; `POST /v1/bank/statements`: a camt.053 or camt.054 from the bank
//! or its connector; `POST /v1/einvoices`: FatturaPA (signed or not, a zip of
//! them) or Peppol UBL from the SDI channel or an access point. The token is
//! required; the answer says what it did.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use chrono::Utc;

use super::{Answer, ApiError, App, Refusal, ok};

/// Raw messages up to the pipeline's own cap, which quarantines what is larger.
pub(super) const BODY_LIMIT: usize = crate::inbound::read::MAX_BYTES + 1024 * 1024;

pub(super) async fn email(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Answer {
    app.require_write(&headers)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !["", "message/rfc822", "application/octet-stream", "text/plain"].contains(&media.as_str()) {
        let why = format!("{media} is not a raw message: send it as message/rfc822");
        return Err(ApiError::new(Refusal::UnsupportedMediaType, why).field("Content-Type"));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(Refusal::Malformed, "the body is empty: a raw message was expected").field("body"));
    }
    let runtime = &app.runtime;
    let handled = crate::inbound::receive(&runtime.intake(), &body, "api", Utc::now()).await?;
    app.metrics.inbound(&handled);
    app.wake.notify_one();
    ok(handled)
}

/// Statements up to 64 MB in one request.
pub(super) const STATEMENT_LIMIT: usize = 64 * 1024 * 1024;

pub(super) async fn statement(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Answer {
    app.require_write(&headers)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !["", "application/xml", "text/xml", "application/octet-stream"].contains(&media.as_str()) {
        let why = format!("{media} is not a statement: send the camt.053 or camt.054 as application/xml");
        return Err(ApiError::new(Refusal::UnsupportedMediaType, why).field("Content-Type"));
    }
    match crate::bank::import(app.runtime.store(), crate::bank::Source::Bytes(body.as_ref().into()), Utc::now()).await?
    {
        Ok(done) => {
            app.wake.notify_one();
            ok(done)
        }
        Err(refused) => Err(ApiError::new(Refusal::Invalid, refused.reason).field(refused.path)),
    }
}

/// E-invoices in one request: the same limit as statements (a day's zip from the SDI).
pub(super) const EINVOICE_LIMIT: usize = STATEMENT_LIMIT;

pub(super) async fn einvoices(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Answer {
    app.require_write(&headers)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let taken =
        ["", "application/xml", "text/xml", "application/octet-stream", "application/zip", "application/pkcs7-mime"];
    if !taken.contains(&media.as_str()) {
        let why = format!("{media} is not an e-invoice: send the XML, the signed .p7m or a zip of them");
        return Err(ApiError::new(Refusal::UnsupportedMediaType, why).field("Content-Type"));
    }
    let docs = crate::intake::einvoice::read("request", &body)?;
    let report = app.runtime.store().import_documents(&docs, Utc::now()).await?;
    app.wake.notify_one();
    ok(report)
}
