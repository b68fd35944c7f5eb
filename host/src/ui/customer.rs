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
use crate::portal::act::{self, Act, PROBLEMS, Posted};
use crate::portal::token::{Link, Refused};
use crate::portal::{epc, rf};

const CSP: &str = "default-src 'none'; style-src 'self'; img-src data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = include_str!("../../ui/static/portal.css");

type Words = HashMap<String, String>;

/// The page's languages, English the fallback: (language, words).
const LANGUAGES: [(&str, &str); 5] = [
    ("en", include_str!("../../ui/i18n/portal-en.toml")),
    ("it", include_str!("../../ui/i18n/portal-it.toml")),
    ("fr", include_str!("../../ui/i18n/portal-fr.toml")),
    ("de", include_str!("../../ui/i18n/portal-de.toml")),
    ("es", include_str!("../../ui/i18n/portal-es.toml")),
];

/// The language of a locale the page speaks (`it-IT` -> `it`), else English.
fn language(locale: &str) -> &'static str {
    let lang = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    LANGUAGES.iter().map(|(l, _)| *l).find(|l| *l == lang).unwrap_or("en")
}

fn words(locale: &str) -> &'static Words {
    static WORDS: OnceLock<HashMap<&'static str, Words>> = OnceLock::new();
    let all = WORDS.get_or_init(|| {
        LANGUAGES.iter().map(|(l, text)| (*l, toml::from_str::<Words>(text).expect("the page's words parse"))).collect()
    });
    &all[language(locale)]
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
        .layer(axum::middleware::from_fn(headers))
        .with_state(app)
}

async fn headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // The path is a key: it must not travel to another site in a Referer.
    let mut response = super::secured(next.run(request).await, CSP, "no-referrer");
    response.headers_mut().insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    response
}

/// A page with only a sentence: a refusal, or what was noted.
fn said(locale: &str, status: StatusCode, key: &str) -> Response {
    let (t, lang) = (words(locale), language(locale));
    let html = templates()
        .get_template("portal.html")
        .and_then(|p| p.render(context! { t => t, lang => lang, said => t.get(key).cloned().unwrap_or_default() }));
    match html {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be drawn").into_response(),
    }
}

/// Requests one link may make in a minute: a person clicks a few times; a
/// script trying dates or invoice ids is stopped.
const PER_MINUTE: u32 = 30;

/// Whether the link (or what claims to be one) still has requests this minute.
fn within_rate(token: &str, now: i64) -> bool {
    use std::sync::Mutex;
    static SEEN: OnceLock<Mutex<HashMap<String, (i64, u32)>>> = OnceLock::new();
    let mut seen = SEEN.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    let minute = now / 60;
    // Old minutes are forgotten, so the map holds at most a minute of links.
    if seen.len() > 10_000 {
        seen.retain(|_, (m, _)| *m == minute);
    }
    let key: String = token.chars().take(256).collect();
    let (m, count) = seen.entry(key).or_insert((minute, 0));
    if *m != minute {
        *m = minute;
        *count = 0;
    }
    *count += 1;
    *count <= PER_MINUTE
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
            return Err(said(&locale, StatusCode::GONE, "expired"));
        }
    };
    let store = app.runtime.store();
    let failed = |_| said(&locale, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let Some(customer) = store.customer(&link.customer).await.map_err(failed)? else {
        return Err(said(&locale, StatusCode::NOT_FOUND, "unknown"));
    };
    let invoices = store.open_invoices_of(&customer.id).await.map_err(failed)?;
    Ok((link, customer, invoices))
}

async fn show(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    match opened(&app, &token).await {
        Ok((_, customer, invoices)) => page(&app, &customer, &invoices, None),
        Err(refused) => refused,
    }
}

/// The customer's invoices, how to pay them and the forms; `note` on top.
fn page(app: &App, customer: &Customer, invoices: &[Invoice], note: Option<&str>) -> Response {
    let (t, lang) = (words(&customer.locale), language(&customer.locale));
    let today = Utc::now().with_timezone(&customer.timezone).date_naive();
    let account = app.runtime.links().and_then(|l| l.account.as_ref());
    let rows: Vec<minijinja::Value> = invoices
        .iter()
        .map(|i| {
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
            context! {
                id => i.id, number => i.number, total => money(i.total()), paid => money(i.amount_paid),
                outstanding => money(i.outstanding()), due => i.due.to_string(),
                late => (today - i.due).num_days().max(0), reference => rf::grouped(&reference), qr => qr,
                promised => i.promise_to_pay.as_ref().map(|p| p.until.to_string()),
                disputed => i.dispute.is_some(),
            }
        })
        .collect();
    let values = context! {
        t => t, lang => lang, customer => customer.name, invoices => rows, note => note,
        account => account.map(|a| context! { iban => rf::grouped(&a.iban), bic => a.bic, beneficiary => a.beneficiary }),
        today => today.to_string(), problems => PROBLEMS,
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
        tracing::error!(error = %format!("{e:#}"), "a form of the customer's page could not be kept");
        return said(&locale, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    }
    app.wake.notify_one();
    let note = match act {
        Act::Promise(_) => "noted_promise",
        Act::Paid { .. } => "noted_paid",
        Act::Problem { .. } => "noted_problem",
    };
    let invoices = app.runtime.store().open_invoices_of(&customer.id).await.unwrap_or(invoices);
    page(&app, &customer, &invoices, words(&locale).get(note).map(String::as_str))
}

fn same_origin(app: &App, origin: &HeaderValue) -> bool {
    let base = app.runtime.config().portal.base_url.as_deref().unwrap_or_default();
    let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
    url::Url::parse(base).is_ok_and(|u| u.origin().ascii_serialization() == origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_word_of_the_english_page() {
        let english = words("en");
        for (lang, _) in LANGUAGES {
            let t = words(lang);
            let missing: Vec<&String> = english.keys().filter(|k| !t.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            assert_eq!(t.len(), english.len(), "{lang} has words English has not");
        }
        assert_eq!((language("de-AT"), language("pt-BR"), language("")), ("de", "en", "en"));
    }
}
