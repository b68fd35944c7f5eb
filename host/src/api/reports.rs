//! `GET /v1/reports` and `GET /v1/experiments/{name}`: what `sollecito
//! report` and `experiment status` print, as JSON.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::{Answer, ApiError, App, Refusal, ok};
use crate::report::Dimension;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    /// Dimensions, comma-separated.
    by: Option<String>,
}

fn date(value: Option<&str>, field: &str) -> Result<Option<NaiveDate>, ApiError> {
    value
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::new(Refusal::Invalid, format!("{v:?} is not a date (YYYY-MM-DD)")).field(field))
        })
        .transpose()
}

pub(crate) async fn report(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<ReportQuery>) -> Answer {
    app.require_read(&headers)?;
    let to = date(q.to.as_deref(), "to")?.unwrap_or_else(|| Utc::now().date_naive());
    let from = date(q.from.as_deref(), "from")?.unwrap_or(to - chrono::Days::new(90));
    if from > to {
        return Err(ApiError::new(Refusal::Invalid, "`from` is after `to`").field("from"));
    }
    let by =
        q.by.iter()
            .flat_map(|b| b.split(','))
            .filter(|b| !b.is_empty())
            .map(|b| Dimension::parse(b.trim()).map_err(|e| ApiError::new(Refusal::Invalid, e).field("by")))
            .collect::<Result<Vec<_>, _>>()?;
    let config = app.runtime.config();
    ok(crate::report::from_store(app.runtime.store(), &by, &config.outcomes.costs, (from, to)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExperimentQuery {
    min_effect: Option<f64>,
}

pub(crate) async fn experiment(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<ExperimentQuery>,
) -> Answer {
    app.require_read(&headers)?;
    let minimum = q.min_effect.unwrap_or(0.05);
    if !(0.001..=0.5).contains(&minimum) {
        let why = "between 0.001 and 0.5 (0.05 is 5 points)";
        return Err(ApiError::new(Refusal::Invalid, why).field("min_effect"));
    }
    match app.runtime.store().experiment_report(&name, minimum).await? {
        Some(report) => ok(report),
        None => Err(ApiError::new(Refusal::NotFound, format!("no experiment {name:?}")).field("name")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewArm {
    name: String,
    /// A bundled policy's name, or an uploaded one's sha256.
    policy: String,
    share: u32,
    #[serde(default)]
    settings: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewExperiment {
    name: String,
    segment: String,
    arms: Vec<NewArm>,
}

fn unprocessable(field: &str, why: impl Into<String>) -> ApiError {
    ApiError::new(Refusal::Invalid, why).field(field)
}

/// `POST /v1/experiments {"name", "segment", "arms": [{"name", "policy", "share", "settings"}]}`:
/// started at once; the service's next tick puts each customer of the segment in their arm.
pub(crate) async fn start_experiment(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    app.require_write(&headers)?;
    let wanted: NewExperiment =
        serde_json::from_value(super::parse_json(&body)?).map_err(|e| unprocessable("body", e.to_string()))?;
    crate::names::check("name", &wanted.name).map_err(|e| unprocessable("name", e))?;
    crate::names::check("segment", &wanted.segment).map_err(|e| unprocessable("segment", e))?;
    if wanted.arms.len() < 2 {
        return Err(unprocessable("arms", "an experiment needs at least two arms"));
    }
    let total: u32 = wanted.arms.iter().map(|a| a.share).sum();
    if total != 100 || wanted.arms.iter().any(|a| !(1..=99).contains(&a.share)) {
        return Err(unprocessable("arms", format!("shares of 1 to 99 that make 100% (they make {total}%)")));
    }
    let mut arms = vec![];
    for (i, arm) in wanted.arms.into_iter().enumerate() {
        let field = format!("arms[{i}]");
        crate::names::check(&format!("{field}.name"), &arm.name.to_ascii_lowercase())
            .map_err(|e| unprocessable(&format!("{field}.name"), e))?;
        if arms.iter().any(|a: &crate::experiment::Arm| a.name == arm.name) {
            return Err(unprocessable(&format!("{field}.name"), format!("arm {} is given twice", arm.name)));
        }
        let plugin =
            app.catalog.lock().await.find(&arm.policy).filter(|p| p.id.kind == crate::sandbox::PluginKind::Policy);
        let Some(plugin) = plugin else {
            let why = format!("no policy {:?} (upload it first)", arm.policy);
            return Err(ApiError::new(Refusal::NotFound, why).field(format!("{field}.policy")));
        };
        // Loaded again at every start: a bundled policy by name, an uploaded one by its file.
        let policy = match &plugin.id.source {
            crate::sandbox::PluginSource::File(path) => path.display().to_string(),
            crate::sandbox::PluginSource::Bundled => plugin.id.name.clone(),
        };
        arms.push(crate::experiment::Arm { name: arm.name, policy, share: arm.share, settings: arm.settings });
    }
    let store = app.runtime.store();
    match store.start_experiment(&wanted.name, &wanted.segment, &arms, Utc::now().timestamp()).await {
        Ok(()) => {}
        Err(e) => {
            return Err(match e.downcast::<crate::store::CannotStart>() {
                Ok(refused) => ApiError::new(Refusal::Conflict, refused.0).field("name"),
                Err(other) => other.into(),
            });
        }
    }
    app.runtime.refresh_experiments(&mut *app.catalog.lock().await).await?;
    ok(store.experiment_report(&wanted.name, 0.05).await?)
}

/// `DELETE /v1/experiments/{name}`: stopped; the segment goes back to its own policy.
pub(crate) async fn stop_experiment(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Answer {
    app.require_write(&headers)?;
    stop(&app, &name).await?;
    ok(serde_json::json!({ "experiment": name, "running": false }))
}

/// Stops a running experiment; its customers go back to the segment's policy at the next tick.
pub(crate) async fn stop(app: &App, name: &str) -> Result<(), ApiError> {
    if !app.runtime.store().stop_experiment(name, Utc::now().timestamp()).await? {
        return Err(ApiError::new(Refusal::NotFound, format!("no running experiment {name:?}")).field("name"));
    }
    app.runtime.refresh_experiments(&mut *app.catalog.lock().await).await?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Promote {
    arm: String,
}

/// `POST /v1/experiments/{name}/promote {"arm"}`: the arm's policy activated
/// for the segment (an ordinary activation, which can be rolled back) and
/// the experiment stopped.
pub(crate) async fn promote(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Answer {
    app.require_write(&headers)?;
    let wanted: Promote =
        serde_json::from_value(super::parse_json(&body)?).map_err(|e| unprocessable("arm", e.to_string()))?;
    ok(promote_arm(&app, &name, &wanted.arm).await?)
}

/// Activates an arm's policy for its experiment's segment and stops the experiment.
pub(crate) async fn promote_arm(app: &App, name: &str, arm: &str) -> Result<serde_json::Value, ApiError> {
    let store = app.runtime.store();
    let (e, arm) = match store.arm_to_promote(name, arm).await {
        Ok(found) => found,
        Err(e) => {
            return Err(match e.downcast::<crate::store::CannotPromote>() {
                Ok(refused @ crate::store::CannotPromote::NotRunning(_)) => {
                    ApiError::new(Refusal::NotFound, refused.to_string()).field("name")
                }
                Ok(refused) => unprocessable("arm", refused.to_string()),
                Err(other) => other.into(),
            });
        }
    };
    let plugin = app.catalog.lock().await.policy(&arm.policy).map_err(anyhow::Error::from)?;
    let id = plugin.id.clone();
    super::admin::switch(app, &e.segment, plugin).await?;
    store.stop_experiment(name, Utc::now().timestamp()).await?;
    app.runtime.refresh_experiments(&mut *app.catalog.lock().await).await?;
    let settings = arm.settings_note(&id.name);
    Ok(
        serde_json::json!({ "segment": e.segment, "active": id, "experiment": name, "running": false, "note": settings }),
    )
}
