//! `GET /v1/reports` and `GET /v1/experiments/{name}`: what `sollecito
//! report` and `experiment status` print, as JSON.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::{Answer, ApiError, App, ok};
use crate::report::Dimension;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    /// Dimensions, comma-separated.
    by: Option<String>,
}

fn date(value: Option<&str>, field: &str) -> Result<Option<NaiveDate>, ApiError> {
    value
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{v:?} is not a date (YYYY-MM-DD)"))
                    .field(field)
            })
        })
        .transpose()
}

pub async fn report(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<ReportQuery>) -> Answer {
    app.require_read(&headers)?;
    let to = date(q.to.as_deref(), "to")?.unwrap_or_else(|| Utc::now().date_naive());
    let from = date(q.from.as_deref(), "from")?.unwrap_or(to - chrono::Days::new(90));
    if from > to {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "`from` is after `to`").field("from"));
    }
    let by = q
        .by
        .iter()
        .flat_map(|b| b.split(','))
        .filter(|b| !b.is_empty())
        .map(|b| Dimension::parse(b.trim()).map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e).field("by")))
        .collect::<Result<Vec<_>, _>>()?;
    let config = app.runtime.config();
    ok(crate::report::from_store(app.runtime.store(), &by, &config.outcomes.costs, (from, to)).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentQuery {
    min_effect: Option<f64>,
}

pub async fn experiment(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<ExperimentQuery>,
) -> Answer {
    app.require_read(&headers)?;
    let minimum = q.min_effect.unwrap_or(0.05);
    if !(0.001..=0.5).contains(&minimum) {
        let why = "between 0.001 and 0.5 (0.05 is 5 points)";
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why).field("min_effect"));
    }
    match crate::experiment::from_store(app.runtime.store(), &name, minimum).await? {
        Some(report) => ok(report),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no experiment {name:?}")).field("name")),
    }
}
