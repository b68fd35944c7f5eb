//! The HTTP API of `sollecito serve`: customers, invoices and their events in;
//! timelines, simulations, plugins and metrics out. Writes and admin need the
//! bearer token; reads too unless `public_reads`. A bad request gets a 4xx with
//! a JSON error naming the field, and changes nothing.

pub(crate) mod admin;
mod inbound;
mod metrics;
pub(crate) mod reports;
mod stripe;
mod uploads;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify};

use crate::catalog::Catalog;
use crate::event::{Event, EventKind};
use crate::intake::{self, BadInput};
use crate::runtime::Runtime;

pub(crate) use metrics::Metrics;

/// Everything a request handler may touch.
pub(crate) struct App {
    pub runtime: Arc<Runtime>,
    pub catalog: Mutex<Catalog>,
    pub token: String,
    pub public_reads: bool,
    pub stripe_secret: Option<String>,
    /// Wakes the scheduler: an event was posted.
    pub wake: Arc<Notify>,
    pub metrics: Metrics,
    /// Where uploaded plugins are kept, by sha256.
    pub plugins_dir: PathBuf,
    pub default_locale: String,
    pub default_timezone: chrono_tz::Tz,
    /// Held from a Stripe event's ordering check to its record: two events of
    /// one object delivered at once must not both pass as the newest.
    pub stripe_order: Mutex<()>,
}

/// What a refusal is, which decides its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not a well-formed request: bad JSON, a field that does not exist, a
    /// path or query that does not parse (400).
    Malformed,
    /// No bearer token (401).
    Unauthenticated,
    /// A token, but not the service's (403).
    Forbidden,
    NotFound,
    /// The method is not served on this path (405).
    MethodNotAllowed,
    /// It contradicts what the store holds (409).
    Conflict,
    /// The body is over the route's limit (413).
    TooLarge,
    /// A body of a type the route does not take (415).
    UnsupportedMediaType,
    /// Well formed, but a value fails its check (422).
    Invalid,
    /// The service failed (500): what failed is logged, never answered.
    Internal,
    /// The service cannot serve yet: its schema is behind this binary (503).
    Unavailable,
}

impl Refusal {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Refusal::Malformed => StatusCode::BAD_REQUEST,
            Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden => StatusCode::FORBIDDEN,
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Conflict => StatusCode::CONFLICT,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The refusal a status answered by axum itself stands for.
    fn of_status(status: StatusCode) -> Refusal {
        match status {
            StatusCode::UNAUTHORIZED => Refusal::Unauthenticated,
            StatusCode::FORBIDDEN => Refusal::Forbidden,
            StatusCode::NOT_FOUND => Refusal::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Refusal::MethodNotAllowed,
            StatusCode::CONFLICT => Refusal::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => Refusal::TooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Refusal::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => Refusal::Invalid,
            StatusCode::SERVICE_UNAVAILABLE => Refusal::Unavailable,
            s if s.is_server_error() => Refusal::Internal,
            _ => Refusal::Malformed,
        }
    }
}

/// An error answer: `{"error": ..., "field": ...}`, its status from its refusal.
#[derive(Debug)]
pub(crate) struct ApiError {
    refusal: Refusal,
    error: String,
    field: Option<String>,
}

impl ApiError {
    pub(crate) fn new(refusal: Refusal, error: impl Into<String>) -> Self {
        ApiError { refusal, error: error.into(), field: None }
    }

    /// What was refused and why, in words.
    pub(crate) fn message(&self) -> &str {
        &self.error
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.refusal.status()
    }

    /// The field the refusal is about; a field whose name is empty (a JSON key
    /// `""`) is named as the body's JSON, so a client always has a name to show.
    pub(crate) fn field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.field = Some(if field.is_empty() { "json".into() } else { field });
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status(), axum::Json(json!({ "error": self.error, "field": self.field }))).into_response();
        // RFC 9110: a 401 names the scheme that would do.
        if self.refusal == Refusal::Unauthenticated {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!(error = %format!("{e:#}"), "request failed");
        ApiError::new(Refusal::Internal, "internal error")
    }
}

impl From<BadInput> for ApiError {
    fn from(e: BadInput) -> Self {
        let first = &e.problems[0];
        // Syntax and unknown fields are malformed requests; the rest is content that fails a check.
        let refusal = if first.malformed { Refusal::Malformed } else { Refusal::Invalid };
        let error = e.problems.iter().map(|p| format!("{}: {}", p.field, p.reason)).collect::<Vec<_>>().join("; ");
        ApiError::new(refusal, error).field(first.field.clone())
    }
}

pub(crate) type Answer = Result<Response, ApiError>;

pub(crate) fn ok(value: impl serde::Serialize) -> Answer {
    Ok(axum::Json(value).into_response())
}

impl App {
    /// The bearer token, compared without leaking its length or content through timing.
    fn authorized(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer);
        let Some(given) = given else {
            return Err(ApiError::new(
                Refusal::Unauthenticated,
                "missing bearer token (Authorization: Bearer <token>)",
            )
            .field("Authorization"));
        };
        use sha2::Digest;
        let (a, b) = (sha2::Sha256::digest(given.as_bytes()), sha2::Sha256::digest(self.token.as_bytes()));
        if a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) != 0 {
            return Err(ApiError::new(Refusal::Forbidden, "wrong token").field("Authorization"));
        }
        Ok(())
    }

    /// The largest body `POST /v1/plugins` takes (`[serve] upload_limit_mb`), in bytes.
    pub(crate) fn upload_limit(&self) -> usize {
        let mb = self.runtime.config().serve.upload_limit_mb.max(1);
        usize::try_from(mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    pub(crate) fn require_write(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        self.authorized(headers)
    }

    pub(crate) fn require_read(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.public_reads { Ok(()) } else { self.authorized(headers) }
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is
/// case-insensitive (RFC 9110, 11.1): `bearer` and `BEARER` do as well.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Parses a JSON body; malformed JSON is a 400 naming where it broke.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(Refusal::Malformed, format!("malformed JSON at line {}, column {}: {e}", e.line(), e.column()))
            .field("json")
    })
}

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(admin::ready))
        .route("/metrics", get(admin::metrics))
        .route("/v1/customers/{id}", put(put_customer))
        .route("/v1/invoices/{id}", put(put_invoice))
        .route("/v1/invoices/{id}/events", post(post_event))
        .route("/v1/invoices/{id}/history", get(get_history))
        .route("/v1/invoices/{id}/plan/accept", post(accept_plan))
        .route("/v1/simulate", post(admin::simulate))
        .route("/v1/stripe/webhook", post(stripe::webhook))
        .route(
            "/v1/inbound/email",
            post(inbound::email).layer(axum::extract::DefaultBodyLimit::max(inbound::BODY_LIMIT)),
        )
        .route(
            "/v1/einvoices",
            post(inbound::einvoices).layer(axum::extract::DefaultBodyLimit::max(inbound::EINVOICE_LIMIT)),
        )
        .route(
            "/v1/bank/statements",
            post(inbound::statement).layer(axum::extract::DefaultBodyLimit::max(inbound::STATEMENT_LIMIT)),
        )
        // The upload streams its body and counts it against `upload_limit` itself; other routes keep axum's 2 MB.
        .route("/v1/plugins", get(admin::list_plugins).post(admin::upload_plugin))
        .route("/v1/segments/{segment}/policy", post(admin::activate))
        .route("/v1/segments/{segment}/rollback", post(admin::roll_back))
        .route("/v1/segments/{segment}/shadow", post(admin::start_shadow).delete(admin::stop_shadow))
        .route("/v1/shadow/report", get(admin::shadow_report))
        .route("/v1/reports", get(reports::report))
        .route("/v1/experiments", post(reports::start_experiment))
        .route("/v1/experiments/{name}", get(reports::experiment).delete(reports::stop_experiment))
        .route("/v1/experiments/{name}/promote", post(reports::promote))
        .route("/v1/channels/{channel}/adapter", post(admin::activate_adapter))
        .route("/v1/channels/{channel}/rollback", post(admin::roll_back_adapter))
        .fallback(no_route)
        .layer(axum::middleware::from_fn(json_refusals))
        .with_state(app)
}

/// A path no route serves: a 404 in the documented error shape.
async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(Refusal::NotFound, format!("no route for {method} {}", uri.path())).field("path")
}

/// Every refusal is `{"error", "field"}`, also the ones axum answers itself
/// (405 from the router, 413 over a body limit, a path or query that does not
/// parse), which come as plain text or empty. Their other headers (`Allow`) stay.
async fn json_refusals(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    let json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let field = match status {
        StatusCode::PAYLOAD_TOO_LARGE => Some("body"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Some("Content-Type"),
        StatusCode::METHOD_NOT_ALLOWED => Some("method"),
        StatusCode::NOT_FOUND => Some("path"),
        _ if text.starts_with("Invalid URL") => Some("path"),
        _ if text.contains("query string") => Some("query"),
        _ => None,
    };
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default();
            format!("{method} is not allowed here (allowed: {allowed})")
        }
        StatusCode::PAYLOAD_TOO_LARGE if text.is_empty() || text.contains("length limit") => {
            "the request body is over the limit of this route (2 MB)".into()
        }
        _ if text.is_empty() => status.canonical_reason().unwrap_or("refused").to_lowercase(),
        _ => text,
    };
    let mut refusal =
        ApiError { refusal: Refusal::of_status(status), error, field: field.map(String::from) }.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            refusal.headers_mut().append(name, value.clone());
        }
    }
    refusal
}

/// Puts the path's id into the body (or checks it matches).
fn with_id(mut body: Value, id: &str) -> Result<Value, ApiError> {
    let Some(object) = body.as_object_mut() else {
        return Err(ApiError::new(Refusal::Malformed, "expected a JSON object").field("json"));
    };
    match object.get("id").and_then(Value::as_str) {
        Some(given) if given != id => {
            return Err(ApiError::new(Refusal::Invalid, format!("id {given:?} differs from the path")).field("id"));
        }
        _ => {
            object.insert("id".into(), Value::String(id.into()));
        }
    }
    Ok(body)
}

async fn put_customer(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Answer {
    app.require_write(&headers)?;
    let customer = with_id(parse_json(&body)?, &id)?;
    let data = intake::parse_dataset("request", &json!({ "customers": [customer] }).to_string())?;
    let report = app.runtime.store().import(&data, Utc::now()).await?;
    app.wake.notify_one();
    ok(report)
}

async fn put_invoice(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Answer {
    app.require_write(&headers)?;
    let invoice = with_id(parse_json(&body)?, &id)?;
    let customer_id = invoice.get("customer").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(customer) = app.runtime.store().customer(&customer_id).await? else {
        return Err(ApiError::new(Refusal::Invalid, format!("unknown customer {customer_id:?}")).field("customer"));
    };
    let text = json!({ "customers": [customer], "invoices": [invoice] }).to_string();
    let data = intake::parse_dataset("request", &text)?;
    let report = app.runtime.store().import(&data, Utc::now()).await?;
    app.wake.notify_one();
    ok(report)
}

async fn post_event(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Answer {
    app.require_write(&headers)?;
    let body = parse_json(&body)?;
    let Some(object) = body.as_object() else {
        return Err(ApiError::new(Refusal::Malformed, "expected a JSON object").field("json"));
    };
    // Plans and fees are the host's to record, checked: not events a client may post.
    let kind = object.get("type").and_then(Value::as_str).and_then(EventKind::parse);
    if kind.is_some_and(|k| k.fields().is_some() && !k.posted_by_clients()) {
        let why = "plan-accepted and fee-added are recorded by the host (accept a plan with POST /v1/invoices/{id}/plan/accept)";
        return Err(ApiError::new(Refusal::Invalid, why).field("type"));
    }
    // The same rules as an imported file's events: a known type, only its fields, each checked.
    let event: Event = intake::fields::event(object).map_err(|bad| {
        let refusal = if bad.unknown { Refusal::Malformed } else { Refusal::Invalid };
        ApiError::new(refusal, format!("{}: {}", bad.field, bad.reason)).field(bad.field)
    })?;
    if app.runtime.store().invoice(&id).await?.is_none() {
        return Err(ApiError::new(Refusal::NotFound, format!("unknown invoice {id:?}")));
    }
    let applied = app.runtime.store().apply_event(&id, &event, crate::event::Door::Api, Utc::now()).await?;
    app.wake.notify_one();
    ok(json!({ "invoice": id, "applied": applied }))
}

async fn accept_plan(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    app.require_write(&headers)?;
    if app.runtime.store().invoice(&id).await?.is_none() {
        return Err(ApiError::new(Refusal::NotFound, format!("unknown invoice {id:?}")));
    }
    let plan = match app.runtime.store().accept_plan(&id, crate::event::Door::Api, Utc::now()).await {
        Ok(plan) => plan,
        Err(e) if e.is::<crate::store::CannotAccept>() => {
            return Err(ApiError::new(Refusal::Invalid, e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    app.wake.notify_one();
    ok(json!({ "invoice": id, "plan": plan }))
}

async fn get_history(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    app.require_read(&headers)?;
    let store = &app.runtime.store();
    let Some((invoice, _)) = store.invoice(&id).await? else {
        return Err(ApiError::new(Refusal::NotFound, format!("unknown invoice {id:?}")));
    };
    ok(json!({
        "invoice": id,
        "status": invoice.status,
        "events": store.events_of(&id).await?,
        "decisions": store.decisions_of(&id).await?,
        "actions": store.outbox_of(&id).await?,
        "received": store.inbound_of(&id).await?,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR abc", "Bearer   abc"] {
            assert_eq!(super::bearer(value), Some("abc"), "{value:?}");
        }
        for value in ["Basic abc", "Bearerabc", "Bearer", "Bearer ", "abc", "", "Bearer\tabc", "Bearers abc"] {
            assert_eq!(super::bearer(value), None, "{value:?}");
        }
    }

    #[test]
    fn every_route_is_in_the_openapi_file() {
        let spec = include_str!("../../openapi.yaml");
        let code = include_str!("mod.rs");
        let routes: Vec<&str> = code
            .lines()
            .filter_map(|l| l.trim().strip_prefix(".route(\""))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert!(routes.len() >= 14, "{routes:?}");
        for route in routes {
            assert!(spec.contains(&format!("  {route}:")), "{route} is not documented in host/openapi.yaml");
        }
    }

    /// The event types a client may post, as the file documents them, are
    /// the vocabulary's (`crate::event::EventKind`), no more and no fewer.
    #[test]
    fn the_openapi_files_event_types_are_the_vocabularys() {
        let spec = include_str!("../../openapi.yaml");
        let at = spec.find("    Event:").expect("an Event schema");
        let line = spec[at..].lines().find(|l| l.trim_start().starts_with("enum: [")).expect("its type's enum");
        let listed: std::collections::BTreeSet<&str> =
            line.split('[').nth(1).unwrap().trim_end_matches(']').split(',').map(str::trim).collect();
        let posted: std::collections::BTreeSet<&str> =
            crate::event::EventKind::ALL.into_iter().filter(|k| k.posted_by_clients()).map(|k| k.name()).collect();
        assert_eq!(listed, posted);
    }

    /// Every status axum answers itself comes back as the refusal that has it.
    #[test]
    fn a_refusal_keeps_the_status_it_stands_for() {
        use super::Refusal;
        use axum::http::StatusCode;
        for status in [400, 401, 403, 404, 405, 409, 413, 415, 422, 500, 503] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(Refusal::of_status(status).status(), status);
        }
        assert_eq!(Refusal::of_status(StatusCode::IM_A_TEAPOT), Refusal::Malformed);
        assert_eq!(Refusal::of_status(StatusCode::BAD_GATEWAY), Refusal::Internal);
    }
}
