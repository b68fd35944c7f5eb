//! The pages that change things: signing in, policies and their rollback,
//! experiments and their promotion, tasks marked done. Every change is a
//! form with the session's CSRF token, and goes through the same functions
//! as the API.

use axum::Form;
use axum::extract::{Multipart, Path};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;

use super::session::{self, Sessions};
use super::{Access, AppState, Page, back_to, failed, reader, refuse, render, writer};
use crate::api::{ApiError, admin, reports};
use crate::sandbox::PluginKind;
use crate::store::Scope;

#[derive(Deserialize)]
pub(super) struct Login {
    token: String,
}

pub(super) async fn login_form(state: AppState, headers: HeaderMap) -> Response {
    let app = state.0;
    let access = Access::of(&app, &headers);
    render(&app, &access, "login.html", context! { wrong => false })
}

pub(super) async fn login(state: AppState, headers: HeaderMap, Form(form): Form<Login>) -> Response {
    let app = state.0;
    let sessions = Sessions::new(&app.token);
    let access = Access::of(&app, &headers);
    if !sessions.is_token(form.token.trim(), &app.token) {
        tracing::warn!("dashboard sign-in refused: wrong token");
        let mut page = render(&app, &access, "login.html", context! { wrong => true });
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return page;
    }
    let mut nonce = [0u8; 16];
    if getrandom::fill(&mut nonce).is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no randomness for a session").into_response();
    }
    let nonce = hex::encode(nonce);
    let cookie = sessions.start(Utc::now().timestamp(), &nonce);
    // Behind a proxy that ends TLS, the cookie is only sent back over TLS.
    let tls = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    let mut response = Redirect::to("/ui/overview").into_response();
    if let Ok(value) = HeaderValue::from_str(&session::set_cookie(&cookie, tls)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
pub(super) struct Csrf {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn logout(state: AppState, headers: HeaderMap, Form(form): Form<Csrf>) -> Page {
    let app = state.0;
    writer(&app, &headers, &form.csrf)?;
    let mut response = Redirect::to("/ui/login").into_response();
    if let Ok(value) = HeaderValue::from_str(&session::clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// A refusal of the API's functions, as a page.
fn refused(app: &crate::api::App, access: &Access, e: ApiError) -> Response {
    let status = if e.status().is_server_error() { StatusCode::INTERNAL_SERVER_ERROR } else { e.status() };
    let mut page = render(app, access, "refused.html", context! { reason => e.message() });
    *page.status_mut() = status;
    page
}

pub(super) async fn policies(state: AppState, headers: HeaderMap) -> Page {
    let app = state.0;
    let access = reader(&app, &headers)?;
    let v = &access.viewer;
    let store = app.runtime.store();
    let config = app.runtime.config();
    let activations = store.activations(Scope::Segment).await.map_err(failed)?;
    let catalog = app.catalog.lock().await;
    let name_of = |sha: &str| catalog.find(sha).map(|p| format!("{} {}", p.id.name, p.id.version));
    let mut segments: Vec<_> = config
        .policies
        .segments
        .iter()
        .map(|(segment, policy)| (segment.clone(), policy.clone()))
        .chain(std::iter::once(("*".to_string(), config.policies.default.clone())))
        .collect();
    for (segment, _, _) in &activations {
        if !segments.iter().any(|(s, _)| s == segment) {
            segments.push((segment.clone(), config.policies.default.clone()));
        }
    }
    let rows: Vec<_> = segments
        .iter()
        .map(|(segment, configured)| {
            let activated = activations.iter().find(|(s, _, _)| s == segment);
            context! {
                segment => segment, configured => configured,
                active => activated.map(|(_, sha, _)| name_of(sha).unwrap_or_else(|| sha[..12.min(sha.len())].to_string())),
                source => activated.map(|(_, _, path)| path.clone()),
                can_roll_back => activated.is_some() && segment != "*",
            }
        })
        .collect();
    let plugins: Vec<_> = catalog
        .plugins()
        .iter()
        .map(|p| {
            context! {
                name => p.id.name, version => p.id.version, sha256 => p.id.sha256,
                kind => format!("{:?}", p.id.kind).to_lowercase(), policy => p.id.kind == PluginKind::Policy,
            }
        })
        .collect();
    drop(catalog);
    let shadows = store.shadow_decisions(None).await.map_err(failed)?;
    let differs: Vec<_> = shadows
        .iter()
        .filter(|s| s.actions != s.active_actions)
        .take(50)
        .map(|s| {
            context! {
                invoice => s.invoice_id, segment => s.segment, at => v.moment(s.at),
                shadow => format!("{} {}", s.plugin_name, s.plugin_version), shadow_actions => s.actions,
                active => s.active_plugin, active_actions => s.active_actions,
            }
        })
        .collect();
    Ok(render(
        &app,
        &access,
        "policies.html",
        context! { segments => rows, plugins => plugins, shadows => differs, shadow_count => shadows.len() },
    ))
}

/// The confirmation page of a rollback.
pub(super) async fn confirm_rollback(state: AppState, headers: HeaderMap, Path(segment): Path<String>) -> Page {
    let app = state.0;
    let access = reader(&app, &headers)?;
    if crate::names::check("segment", &segment).is_err() {
        return Err(refuse(&app, &access, StatusCode::NOT_FOUND, "refused_not_found"));
    }
    Ok(render(&app, &access, "confirm.html", context! { segment => segment }))
}

pub(super) async fn roll_back(
    state: AppState,
    headers: HeaderMap,
    Path(segment): Path<String>,
    Form(form): Form<Csrf>,
) -> Page {
    let app = state.0;
    let access = writer(&app, &headers, &form.csrf)?;
    match admin::roll_back_segment(&app, &segment).await {
        Ok(active) => {
            tracing::info!(segment, active = ?active.map(|a| a.to_string()), "policy rolled back from the dashboard");
            Ok(back_to("/ui/policies"))
        }
        Err(e) => Err(refused(&app, &access, e)),
    }
}

#[derive(Deserialize)]
pub(super) struct ActivateForm {
    #[serde(default)]
    csrf: String,
    plugin: String,
}

pub(super) async fn activate(
    state: AppState,
    headers: HeaderMap,
    Path(segment): Path<String>,
    Form(form): Form<ActivateForm>,
) -> Page {
    let app = state.0;
    let access = writer(&app, &headers, &form.csrf)?;
    let plugin = app.catalog.lock().await.find(&form.plugin).filter(|p| p.id.kind == PluginKind::Policy);
    let Some(plugin) = plugin else {
        return Err(refuse(&app, &access, StatusCode::NOT_FOUND, "refused_not_found"));
    };
    admin::switch(&app, &segment, plugin).await.map_err(|e| refused(&app, &access, e))?;
    Ok(back_to("/ui/policies"))
}

/// A policy component from the upload form: checked, smoke-run and kept as
/// `POST /v1/plugins` does; activating it is a step of its own.
pub(super) async fn upload(state: AppState, headers: HeaderMap, mut form: Multipart) -> Page {
    let app = state.0;
    let bad_form = |access: &Access| refuse(&app, access, StatusCode::BAD_REQUEST, "refused_bad_input");
    let (mut csrf, mut component) = (String::new(), None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return Err(bad_form(&Access::of(&app, &headers))),
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            // The form puts the token first: nothing of a forged upload is read.
            Some("component") => {
                let access = writer(&app, &headers, &csrf)?;
                let bytes = field.bytes().await.map_err(|_| bad_form(&access))?;
                component = Some((access, bytes));
            }
            _ => {}
        }
    }
    let Some((access, bytes)) = component else {
        let access = writer(&app, &headers, &csrf)?;
        return Err(bad_form(&access));
    };
    if bytes.is_empty() {
        return Err(bad_form(&access));
    }
    admin::install(&app, bytes.to_vec()).await.map_err(|e| refused(&app, &access, e))?;
    Ok(back_to("/ui/policies"))
}

pub(super) async fn experiments(state: AppState, headers: HeaderMap) -> Page {
    let app = state.0;
    let access = reader(&app, &headers)?;
    let v = &access.viewer;
    let store = app.runtime.store();
    let mut shown = vec![];
    for e in store.experiments().await.map_err(failed)? {
        let Some(report) = store.experiment_report(&e.name, 0.05).await.map_err(failed)? else {
            continue;
        };
        let arms: Vec<_> = report
            .arms
            .iter()
            .map(|a| {
                context! {
                    arm => a.arm, policy => a.policy, share => a.share, invoices => a.invoices,
                    recovered => a.recovered, rate => v.percent(a.recovery_rate),
                    interval => format!("{} – {}", v.percent(a.interval.0), v.percent(a.interval.1)),
                    median_days => a.median_days_to_pay,
                }
            })
            .collect();
        let decimal = |p: f64| {
            let p = format!("{p:.3}");
            if v.lang() == "it" { p.replace('.', ",") } else { p }
        };
        let verdicts: Vec<_> = report
            .versus
            .iter()
            .map(|x| {
                let said = if v.lang() == "it" { x.finding.in_italian() } else { x.verdict.clone() };
                context! { said => said, log_rank => x.time_to_pay_log_rank_p_value.map(decimal), arm => x.arm, against => x.against }
            })
            .collect();
        shown.push(context! {
            name => e.name, segment => e.segment, running => report.running,
            started => v.moment(e.started_at), stopped => e.stopped_at.map(|t| v.moment(t)),
            arms => arms, verdicts => verdicts,
        });
    }
    Ok(render(&app, &access, "experiments.html", context! { experiments => shown }))
}

#[derive(Deserialize)]
pub(super) struct PromoteForm {
    #[serde(default)]
    csrf: String,
    arm: String,
}

pub(super) async fn promote(
    state: AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<PromoteForm>,
) -> Page {
    let app = state.0;
    let access = writer(&app, &headers, &form.csrf)?;
    reports::promote_arm(&app, &name, &form.arm).await.map_err(|e| refused(&app, &access, e))?;
    Ok(back_to("/ui/experiments"))
}

pub(super) async fn stop(
    state: AppState,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<Csrf>,
) -> Page {
    let app = state.0;
    let access = writer(&app, &headers, &form.csrf)?;
    reports::stop(&app, &name).await.map_err(|e| refused(&app, &access, e))?;
    Ok(back_to("/ui/experiments"))
}

pub(super) async fn tasks(state: AppState, headers: HeaderMap) -> Page {
    let app = state.0;
    let access = reader(&app, &headers)?;
    let v = &access.viewer;
    let rows: Vec<_> = app
        .runtime
        .store()
        .tasks(false)
        .await
        .map_err(failed)?
        .iter()
        .map(|t| {
            context! {
                key => t.key, invoice => t.invoice_id, title => t.title, customer => t.customer,
                phone => t.phone, script => t.script, opened => v.moment(t.opened_at),
            }
        })
        .collect();
    Ok(render(&app, &access, "tasks.html", context! { tasks => rows }))
}

#[derive(Deserialize)]
pub(super) struct DoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn task_done(
    state: AppState,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(form): Form<DoneForm>,
) -> Page {
    let app = state.0;
    let access = writer(&app, &headers, &form.csrf)?;
    let note: String = form.note.chars().filter(|c| !c.is_control() || *c == '\n').take(2000).collect();
    if !app.runtime.store().finish_task(&key, note.trim(), Utc::now().timestamp()).await.map_err(failed)? {
        return Err(refuse(&app, &access, StatusCode::NOT_FOUND, "refused_not_found"));
    }
    Ok(back_to("/ui/tasks"))
}
