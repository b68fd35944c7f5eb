//! The operator's dashboard under `/ui`: pages rendered on the server from
//! templates shipped in the binary, a vendored chart library, no inline
//! script and a strict Content-Security-Policy. Reading needs a session (or
//! `public_reads`); every change needs a session and the form's CSRF token.

// A refusal here is the page answered, returned once per request: boxing it buys nothing.
#![allow(clippy::result_large_err)]

mod actions;
mod bank;
/// The customer's page under `/p/` (no session: the signed link is the key).
pub(crate) mod customer;
mod i18n;
mod operate;
mod pages;
mod session;
mod standing;
mod statement;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use minijinja::{AutoEscape, Environment, Value};

use crate::api::App;
pub(crate) use i18n::Viewer;
use session::Sessions;

/// What every page sends: scripts, styles and images from this origin only,
/// no inline code, no framing, forms only back here.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Files under `/ui/static/`: (name, content type, bytes).
const STATIC: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../ui/static/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../ui/static/app.js")),
    ("chart.umd.min.js", "text/javascript; charset=utf-8", include_bytes!("../../ui/static/chart.umd.min.js")),
    ("chart.js-LICENSE.md", "text/plain; charset=utf-8", include_bytes!("../../ui/static/chart.js-LICENSE.md")),
];

/// The page templates: (name, source).
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../ui/templates/layout.html")),
    ("login.html", include_str!("../../ui/templates/login.html")),
    ("overview.html", include_str!("../../ui/templates/overview.html")),
    ("invoices.html", include_str!("../../ui/templates/invoices.html")),
    ("invoice.html", include_str!("../../ui/templates/invoice.html")),
    ("policies.html", include_str!("../../ui/templates/policies.html")),
    ("confirm.html", include_str!("../../ui/templates/confirm.html")),
    ("experiments.html", include_str!("../../ui/templates/experiments.html")),
    ("tasks.html", include_str!("../../ui/templates/tasks.html")),
    ("bank.html", include_str!("../../ui/templates/bank.html")),
    ("refused.html", include_str!("../../ui/templates/refused.html")),
];

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Everything is escaped, whatever the template's name: names and reasons are hostile.
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).expect("the dashboard's templates parse");
        }
        env
    })
}

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/overview") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/overview") }))
        .route("/ui/login", get(operate::login_form).post(operate::login))
        .route("/ui/logout", post(operate::logout))
        .route("/ui/overview", get(pages::overview))
        .route("/ui/invoices", get(pages::invoices))
        .route("/ui/invoices/{id}", get(pages::invoice))
        .route("/ui/policies", get(operate::policies))
        .route("/ui/policies/{segment}/rollback", get(operate::confirm_rollback).post(operate::roll_back))
        .route("/ui/policies/{segment}/activate", post(operate::activate))
        .route(
            "/ui/policies/upload",
            post(operate::upload).layer(axum::extract::DefaultBodyLimit::max(app.upload_limit())),
        )
        .route("/ui/experiments", get(operate::experiments))
        .route("/ui/experiments/{name}/promote", post(operate::promote))
        .route("/ui/experiments/{name}/stop", post(operate::stop))
        .route("/ui/tasks", get(operate::tasks))
        .route("/ui/tasks/{key}/done", post(operate::task_done))
        .route("/ui/bank", get(bank::credits))
        .route("/ui/bank/confirm", post(bank::confirm))
        .route("/ui/static/{file}", get(static_file))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    secured(next.run(request).await, CSP, "same-origin")
}

/// What every page of this service sends: its CSP and Referrer-Policy, no
/// sniffing, no framing, and not kept in a cache unless the route says so.
pub(crate) fn secured(mut response: Response, csp: &'static str, referrer: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn static_file(Path(file): Path<String>) -> Response {
    match STATIC.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, bytes)) => {
            ([(header::CONTENT_TYPE, *kind), (header::CACHE_CONTROL, "public, max-age=3600")], *bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// Who is looking, and what they may do.
pub(crate) struct Access {
    pub viewer: Viewer,
    /// The session cookie, when signed in.
    session: Option<String>,
}

impl Access {
    pub(super) fn of(app: &App, headers: &HeaderMap) -> Access {
        let sessions = Sessions::new(&app.token);
        let now = Utc::now().timestamp();
        let session = session::cookie_of(headers).filter(|c| sessions.valid(c, now));
        Access { viewer: Viewer::of(headers), session }
    }

    fn signed_in(&self) -> bool {
        self.session.is_some()
    }

    /// The page's context: what every template reads beside its own values.
    fn context(&self, app: &App, page: &str, values: Value) -> Value {
        let csrf = self.session.as_ref().map(|c| Sessions::new(&app.token).csrf(c));
        minijinja::context! {
            page => page,
            t => self.viewer.words(),
            lang => self.viewer.lang(),
            signed_in => self.signed_in(),
            csrf => csrf,
            ..values
        }
    }
}

/// A page for a reader: signed in, or `public_reads`; otherwise to the sign-in form.
pub(super) fn reader(app: &App, headers: &HeaderMap) -> Result<Access, Response> {
    let access = Access::of(app, headers);
    if access.signed_in() || app.public_reads { Ok(access) } else { Err(Redirect::to("/ui/login").into_response()) }
}

/// A change: a session and the CSRF token of its forms, or a refusal page.
pub(super) fn writer(app: &App, headers: &HeaderMap, csrf: &str) -> Result<Access, Response> {
    let access = Access::of(app, headers);
    let sessions = Sessions::new(&app.token);
    match &access.session {
        Some(cookie) if sessions.csrf_ok(cookie, csrf) => Ok(access),
        Some(_) => Err(refuse(app, &access, StatusCode::FORBIDDEN, "refused_csrf")),
        None => Err(refuse(app, &access, StatusCode::FORBIDDEN, "refused_signed_out")),
    }
}

/// A refusal as a page of its own, in the viewer's language.
pub(super) fn refuse(app: &App, access: &Access, status: StatusCode, why: &str) -> Response {
    let reason = access.viewer.word(why);
    let mut page = render(app, access, "refused.html", minijinja::context! { reason => reason });
    *page.status_mut() = status;
    page
}

pub(super) fn render(app: &App, access: &Access, template: &str, values: Value) -> Response {
    let page = template.trim_end_matches(".html");
    let context = access.context(app, page, values);
    match templates().get_template(template).and_then(|t| t.render(context)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, template, "a dashboard page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be drawn").into_response()
        }
    }
}

/// Back to a page after a change, with a note of what was done.
pub(super) fn back_to(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// A request's answer with its page or a response already made.
pub(super) type Page = Result<Response, Response>;

pub(super) fn failed(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "a dashboard page failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be read from the store").into_response()
}

/// State for routes, re-exported for handlers.
pub(super) type AppState = State<Arc<App>>;
