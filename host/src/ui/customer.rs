//! The customer's page under `/p/{token}`: what they owe, how to pay it by
//! transfer (a creditor reference per invoice, the EPC QR code), and three
//! forms: "I will pay on...", "I have paid", "There is a problem". Server
//! rendered, no script, everything escaped, a strict CSP, and the token
//! never sent on as a Referer. A token that is not ours answers exactly as
//! one that does not exist.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use chrono::Utc;
use minijinja::{AutoEscape, Environment, context};

use crate::api::App;
use crate::invoice::{Customer, Invoice};
use crate::portal::act::{self, PROBLEMS, Posted};
use crate::portal::token::{Link, Refused};
use crate::portal::{epc, rf};

const CSP: &str = "default-src 'none'; style-src 'self'; img-src data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = include_str!("../../ui/static/portal.css");

use crate::portal::words::{Words, built_in as words, language};

/// The page's words for a customer, the business's own where it has some.
fn words_of(app: &App, locale: &str) -> std::borrow::Cow<'static, Words> {
    match app.runtime.links() {
        Some(links) => links.words.words(locale),
        None => std::borrow::Cow::Borrowed(words(locale)),
    }
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.add_template("portal.html", include_str!("../../ui/templates/portal.html")).expect("the page parses");
        env
    })
}

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/p/static/portal.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }))
        .route("/p/{token}", get(show).post(post))
        .route("/p/{token}/statement.pdf", get(|s, p| statement(s, p, Format::Pdf)))
        .route("/p/{token}/statement.csv", get(|s, p| statement(s, p, Format::Csv)))
        .layer(axum::middleware::from_fn_with_state(app.clone(), per_address))
        .layer(axum::middleware::from_fn(headers))
        .with_state(app)
}

/// Requests from one address in a minute, past `[portal] per_address_minute`,
/// are refused before anything is read: a flood trying tokens from one host.
async fn per_address(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = app.runtime.config().portal.per_address_minute;
    let peer = request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    if let Some(ip) = peer
        && limit > 0
        && !within(&ADDRESSES, &ip.to_string(), limit, Utc::now().timestamp())
    {
        return said(&app.default_locale, StatusCode::TOO_MANY_REQUESTS, "refused_rate");
    }
    next.run(request).await
}

async fn headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // The path is a key: it must not travel to another site in a Referer.
    // `same-origin`, not `no-referrer`: with the latter a browser posts the
    // page's own forms with `Origin: null`, and the origin check cannot tell
    // them from a form on another site.
    let mut response = super::secured(next.run(request).await, CSP, "same-origin");
    response.headers_mut().insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    response
}

/// A page with only a sentence: a refusal, or what was noted.
fn said(locale: &str, status: StatusCode, key: &str) -> Response {
    sentence(locale, status, key, false)
}

/// The sentence, and for an expired link the button that sends a fresh one.
fn sentence(locale: &str, status: StatusCode, key: &str, fresh: bool) -> Response {
    let (t, lang) = (words(locale), language(locale));
    let said = t.get(key).cloned().unwrap_or_default();
    let html = templates().get_template("portal.html").and_then(|p| p.render(context! { t, lang, said, fresh }));
    match html {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be drawn").into_response(),
    }
}

/// Requests one link may make in a minute: a person clicks a few times; a
/// script trying dates or invoice ids is stopped.
const PER_MINUTE: u32 = 30;

/// Requests in the current minute, per link or per address.
type Counts = std::sync::Mutex<HashMap<String, (i64, u32)>>;

static LINKS: OnceLock<Counts> = OnceLock::new();
static ADDRESSES: OnceLock<Counts> = OnceLock::new();

/// Whether the link (or what claims to be one) still has requests this minute.
fn within_rate(token: &str, now: i64) -> bool {
    within(&LINKS, token, PER_MINUTE, now)
}

/// Counts a request of `key` and says whether it is within `limit` this minute.
fn within(counts: &OnceLock<Counts>, key: &str, limit: u32, now: i64) -> bool {
    let mut seen = counts.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    let minute = now / 60;
    // Old minutes are forgotten, so the map holds at most a minute of keys.
    if seen.len() > 10_000 {
        seen.retain(|_, (m, _)| *m == minute);
    }
    let key: String = key.chars().take(256).collect();
    let (m, count) = seen.entry(key).or_insert((minute, 0));
    if *m != minute {
        *m = minute;
        *count = 0;
    }
    *count += 1;
    *count <= limit
}

/// The customer of a token, with their open invoices; or the page that says why not.
async fn opened(app: &App, token: &str) -> Result<(Link, Customer, Vec<Invoice>), Response> {
    let locale = app.default_locale.clone();
    if !within_rate(token, Utc::now().timestamp()) {
        return Err(said(&locale, StatusCode::TOO_MANY_REQUESTS, "refused_rate"));
    }
    let Some(links) = app.runtime.links() else { return Err(said(&locale, StatusCode::NOT_FOUND, "unknown")) };
    let link = match links.open(token, Utc::now().timestamp()) {
        Ok(link) => link,
        Err(Refused::Forged) => return Err(said(&locale, StatusCode::NOT_FOUND, "unknown")),
        Err(Refused::Expired(customer)) => {
            let locale = app.runtime.store().customer(&customer).await.ok().flatten().map_or(locale, |c| c.locale);
            return Err(sentence(&locale, StatusCode::GONE, "expired", true));
        }
    };
    let store = app.runtime.store();
    let failed = |_| said(&locale, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    // Revoked by the business: as if it never existed.
    if store.links_revoked(&link.customer).await.map_err(failed)?.is_some_and(|before| links.signed_at(&link) <= before)
    {
        return Err(said(&locale, StatusCode::NOT_FOUND, "unknown"));
    }
    let Some(customer) = store.customer(&link.customer).await.map_err(failed)? else {
        return Err(said(&locale, StatusCode::NOT_FOUND, "unknown"));
    };
    let invoices = store.open_invoices_of(&customer.id).await.map_err(failed)?;
    Ok((link, customer, invoices))
}

async fn show(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    match opened(&app, &token).await {
        Ok((link, customer, invoices)) => {
            // A visit that cannot be kept does not keep the customer from their page.
            if let Err(e) = act::visited(app.runtime.store(), &link, &customer, Utc::now()).await {
                tracing::warn!(error = %format!("{e:#}"), "a visit to the customer's page could not be kept");
            }
            page(&app, &token, &customer, &invoices, None).await
        }
        Err(refused) => refused,
    }
}

#[derive(Clone, Copy)]
enum Format {
    Pdf,
    Csv,
}

/// The statement of account, as a file to keep.
async fn statement(State(app): State<Arc<App>>, Path(token): Path<String>, format: Format) -> Response {
    let (_, customer, invoices) = match opened(&app, &token).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let account = app.runtime.links().and_then(|l| l.account.as_ref());
    let statement = super::statement::Statement {
        business: &app.runtime.config().business.name,
        customer: &customer,
        invoices: &invoices,
        today: Utc::now().with_timezone(&customer.timezone).date_naive(),
        account: account.map(|a| (a.iban.as_str(), a.beneficiary.as_str())),
    };
    let t = words_of(&app, &customer.locale);
    let (body, kind, name) = match format {
        Format::Pdf => (statement.pdf(&t), "application/pdf", "statement.pdf"),
        Format::Csv => (statement.csv(&t), "text/csv; charset=utf-8", "statement.csv"),
    };
    let disposition = format!("attachment; filename=\"{name}\"");
    ([(header::CONTENT_TYPE, kind.to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}

/// What the page shows of one invoice beyond the invoice itself: the plan
/// offered on it (accepted from the page), the channels it was sent on.
struct Offered {
    plan: Vec<crate::plan::Instalment>,
    channels: Vec<String>,
}

async fn offered(app: &App, invoice: &Invoice) -> anyhow::Result<Offered> {
    use crate::store::{OutboxKind, OutboxState, Payload};
    let outbox = app.runtime.store().outbox_of(&invoice.id).await?;
    let plan = match outbox.iter().rev().find(|o| o.kind == OutboxKind::OfferPlan) {
        Some(o) if o.state == OutboxState::Sent && invoice.plan.is_none() => match &o.payload {
            Payload::OfferPlan(offer) => offer.instalments.clone(),
            _ => vec![],
        },
        _ => vec![],
    };
    let channels = outbox.iter().filter(|o| o.state == OutboxState::Sent).filter_map(|o| o.channel.clone()).collect();
    Ok(Offered { plan, channels })
}

/// The customer's invoices, how to pay them and the forms; `note` on top.
async fn page(app: &App, token: &str, customer: &Customer, invoices: &[Invoice], note: Option<&str>) -> Response {
    let (t, lang) = (words_of(app, &customer.locale), language(&customer.locale));
    let today = Utc::now().with_timezone(&customer.timezone).date_naive();
    let account = app.runtime.links().and_then(|l| l.account.as_ref());
    let mut rows: Vec<minijinja::Value> = vec![];
    let mut contacted: Vec<String> = vec![];
    for i in invoices {
        let Ok(offer) = offered(app, i).await else {
            return said(&customer.locale, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        };
        contacted.extend(offer.channels);
        let reference = rf::of_invoice(&i.number);
        let qr = account.filter(|_| i.currency == "EUR").and_then(|a| {
            let transfer = epc::Transfer {
                name: &a.beneficiary,
                iban: &a.iban,
                bic: a.bic.as_deref(),
                cents: i.outstanding(),
                reference: &reference,
            };
            let svg = epc::svg(&epc::payload(&transfer).ok()?).ok()?;
            Some(format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)))
        });
        let money = |minor: i64| crate::render::amount_for(minor, &i.currency, &customer.locale);
        let date = |d: chrono::NaiveDate| crate::render::format_date(d, &customer.locale);
        let plan: Vec<minijinja::Value> =
            offer.plan.iter().map(|p| context! { due => date(p.due), amount => money(p.amount) }).collect();
        rows.push(context! {
            id => i.id, number => i.number, total => money(i.total()), paid => money(i.amount_paid),
            outstanding => money(i.outstanding()), due => date(i.due),
            late => (today - i.due).num_days().max(0), reference => rf::grouped(&reference), qr => qr,
            promised => i.promise_to_pay.as_ref().map(|p| date(p.until)),
            disputed => i.dispute.is_some(), plan => plan,
            // Only a web address the customer can open: never a script or a data URL.
            link => i.payment_link.as_deref().filter(|l| l.starts_with("https://") || l.starts_with("http://")),
        });
    }
    // The channels the customer can stop: those we wrote to them on, not yet stopped.
    let stoppable: Vec<&str> = act::STOPPABLE
        .into_iter()
        .filter(|c| contacted.iter().any(|s| s == c) && !customer.opted_out.iter().any(|o| o == c))
        .collect();
    let values = context! {
        t => t, lang => lang, customer => customer.name, invoices => rows, note => note,
        account => account.map(|a| context! { iban => rf::grouped(&a.iban), bic => a.bic, beneficiary => a.beneficiary }),
        today => today.to_string(), problems => PROBLEMS, stoppable => stoppable,
        first => invoices.first().map(|i| i.id.clone()), here => format!("/p/{token}"),
        methods => app.runtime.config().business.payment_methods.clone(),
    };
    match templates().get_template("portal.html").and_then(|p| p.render(values)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the customer's page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be drawn").into_response()
        }
    }
}

async fn post(State(app): State<Arc<App>>, Path(token): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(answer) = fresh_link(&app, &token, &headers, &body).await {
        return answer;
    }
    let (link, customer, invoices) = match opened(&app, &token).await {
        Ok(opened) => opened,
        Err(refused) => return refused,
    };
    let locale = customer.locale.clone();
    // A form from another site (the token leaked into one) is not the customer's.
    if headers.get(header::ORIGIN).is_some_and(|o| !same_origin(&app, o)) {
        return said(&locale, StatusCode::FORBIDDEN, "refused_origin");
    }
    if body.len() > 16 * 1024 {
        return said(&locale, StatusCode::PAYLOAD_TOO_LARGE, "refused_size");
    }
    let Ok(form) = serde_urlencoded::from_bytes::<Posted>(&body) else {
        return said(&locale, StatusCode::BAD_REQUEST, "refused_action");
    };
    // Only one of this customer's open invoices: any other id is as if it did not exist.
    let Some(invoice) = invoices.iter().find(|i| Some(&i.id) == form.invoice.as_ref()) else {
        return said(&locale, StatusCode::NOT_FOUND, "refused_invoice");
    };
    let now = Utc::now();
    let today = now.with_timezone(&customer.timezone).date_naive();
    let portal = &app.runtime.config().portal;
    let act = match act::read(&form, today, portal.max_promise_days) {
        Ok(act) => act,
        Err(act::Refused(key)) => return said(&locale, StatusCode::UNPROCESSABLE_ENTITY, key),
    };
    let applied =
        act::apply(app.runtime.store(), (&link, &customer, invoice), (&act, &body), (portal.verify_days, now));
    if let Err(e) = applied.await {
        if let Some(crate::store::CannotAccept(_)) = e.downcast_ref() {
            return said(&locale, StatusCode::CONFLICT, "refused_plan");
        }
        tracing::error!(error = %format!("{e:#}"), "a form of the customer's page could not be kept");
        return said(&locale, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    }
    app.wake.notify_one();
    let store = app.runtime.store();
    let invoices = store.open_invoices_of(&customer.id).await.unwrap_or(invoices);
    let customer = store.customer(&customer.id).await.ok().flatten().unwrap_or(customer);
    let noted = words_of(&app, &locale).get(act.noted()).cloned();
    page(&app, &token, &customer, &invoices, noted.as_deref()).await
}

/// "Send me a new link" from an expired one: the statement of account, with
/// a fresh link, to the address on file (never one the form names), at most
/// once a day. The answer is the same whether there is an address or not.
async fn fresh_link(app: &App, token: &str, headers: &HeaderMap, body: &[u8]) -> Option<Response> {
    let form = serde_urlencoded::from_bytes::<Posted>(body).ok()?;
    if form.action.as_deref() != Some("fresh-link") {
        return None;
    }
    let locale = app.default_locale.clone();
    if headers.get(header::ORIGIN).is_some_and(|o| !same_origin(app, o)) {
        return Some(said(&locale, StatusCode::FORBIDDEN, "refused_origin"));
    }
    if !within_rate(token, Utc::now().timestamp()) {
        return Some(said(&locale, StatusCode::TOO_MANY_REQUESTS, "refused_rate"));
    }
    let links = app.runtime.links()?;
    let Err(Refused::Expired(customer)) = links.open(token, Utc::now().timestamp()) else {
        return Some(said(&locale, StatusCode::NOT_FOUND, "unknown"));
    };
    let store = app.runtime.store();
    let locale = store.customer(&customer).await.ok().flatten().map_or(locale, |c| c.locale);
    if let Err(e) = store.ask_statement(&customer, "the customer's page (a new link)", Utc::now()).await {
        tracing::error!(error = %format!("{e:#}"), "a new link could not be asked for");
        return Some(said(&locale, StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    }
    app.wake.notify_one();
    Some(said(&locale, StatusCode::OK, "noted_fresh"))
}

fn same_origin(app: &App, origin: &HeaderValue) -> bool {
    let base = app.runtime.config().portal.base_url.as_deref().unwrap_or_default();
    let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
    url::Url::parse(base).is_ok_and(|u| u.origin().ascii_serialization() == origin)
}
