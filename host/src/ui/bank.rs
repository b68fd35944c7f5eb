//! The bank credits a person has to look at: unsure matches with their
//! candidates, credits nothing names, money for invoices paid already; and
//! the form that says which invoice a credit pays (as `sollecito bank confirm`).

use axum::Form;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use minijinja::context;
use serde::Deserialize;

use super::{AppState, Page, back_to, failed, reader, refuse, render, writer};
use crate::store::CannotConfirm;

pub(super) async fn credits(state: AppState, headers: HeaderMap) -> Page {
    let app = state.0;
    let access = reader(&app, &headers)?;
    let v = &access.viewer;
    let entries = app.runtime.store().bank_entries(false, 200).await.map_err(failed)?;
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            let candidates: Vec<_> = e
                .candidates
                .iter()
                .map(|c| context! { invoice => c.invoice_id, customer => c.customer_id, owed => v.money(c.owed, &c.currency) })
                .collect();
            context! {
                key => e.key, booked => e.booked, amount => v.money(e.amount, &e.currency), debtor => e.debtor,
                words => e.remittance, state => v.word(&format!("bank_{}", e.state.name().replace('-', "_"))),
                why => e.evidence, received => v.moment(e.received_at), candidates => candidates,
            }
        })
        .collect();
    Ok(render(&app, &access, "bank.html", context! { entries => rows }))
}

#[derive(Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    /// The entry's key, in the body: a key may hold a `/` (one made of an entry's facts).
    #[serde(default)]
    key: String,
    /// A candidate picked, or another invoice typed.
    #[serde(default)]
    invoice: String,
    #[serde(default)]
    other: String,
}

pub(super) async fn confirm(state: AppState, headers: HeaderMap, Form(form): Form<ConfirmForm>) -> Page {
    let app = state.0;
    let access = writer(&app, &headers, &form.csrf)?;
    let key = form.key.trim();
    let typed = form.other.trim();
    let invoice = if typed.is_empty() { form.invoice.trim() } else { typed };
    let bad = |text: &str| text.is_empty() || text.len() > 300 || text.chars().any(char::is_control);
    if bad(invoice) || bad(key) {
        return Err(refuse(&app, &access, StatusCode::BAD_REQUEST, "refused_bad_input"));
    }
    let store = app.runtime.store();
    if store.invoice(invoice).await.map_err(failed)?.is_none() {
        return Err(refuse(&app, &access, StatusCode::NOT_FOUND, "refused_not_found"));
    }
    match store.confirm_bank_entry(key, invoice, Utc::now()).await {
        Ok(_) => {}
        // Matched meanwhile (another person, the command line): nothing is paid twice.
        Err(e) if e.downcast_ref::<CannotConfirm>().is_some_and(|c| c.0.starts_with("no entry")) => {
            return Err(refuse(&app, &access, StatusCode::CONFLICT, "refused_bank_settled"));
        }
        // Another currency, or an invoice that owes nothing: nothing recorded.
        Err(e) if e.downcast_ref::<CannotConfirm>().is_some() => {
            return Err(refuse(&app, &access, StatusCode::CONFLICT, "refused_bank_invoice"));
        }
        Err(e) => return Err(failed(e)),
    }
    app.wake.notify_one();
    Ok(back_to("/ui/bank"))
}
