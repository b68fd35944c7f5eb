//! Admin and read endpoints: plugins (list, upload, activate, roll back),
//! simulations, readiness and metrics.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use chrono::{NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Answer, ApiError, App, Refusal, ok, parse_json};
use crate::intake;
use crate::sandbox::{Plugin, PluginKind, PluginSource};
use crate::simulate;
use crate::store::Scope;

pub(crate) async fn ready(State(app): State<Arc<App>>) -> impl IntoResponse {
    match app.runtime.store().not_ready().await {
        None => (StatusCode::OK, "ready".to_string()),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

pub(crate) async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Answer {
    app.require_read(&headers)?;
    if let Ok(depth) = app.runtime.store().outbox_depth().await {
        app.metrics.outbox_depth.set(depth);
    }
    Ok(([("content-type", "text/plain; version=0.0.4")], app.metrics.text()).into_response())
}

pub(crate) async fn list_plugins(State(app): State<Arc<App>>, headers: HeaderMap) -> Answer {
    app.require_read(&headers)?;
    let catalog = app.catalog.lock().await;
    let plugins: Vec<_> = catalog.plugins().iter().map(|p| &p.id).collect();
    let active: serde_json::Map<String, Value> = app
        .runtime
        .policies()
        .activated
        .iter()
        .map(|(segment, p)| {
            (segment.clone(), json!({ "name": p.id.name, "version": p.id.version, "sha256": p.id.sha256 }))
        })
        .collect();
    ok(json!({ "plugins": plugins, "activated": active }))
}

/// Evaluates the built-in example invoices: a candidate must answer for every one of them.
fn smoke_run(plugin: &Plugin) -> Result<(), String> {
    if plugin.id.kind != PluginKind::Policy {
        return Ok(());
    }
    let now = "2026-10-08T09:00:00Z".parse::<chrono::DateTime<Utc>>().unwrap().timestamp();
    for (name, text) in intake::EXAMPLES {
        let data = intake::parse_dataset(name, text).map_err(|e| e.to_string())?;
        if let Some(Err(e)) = plugin.decide(now, &[], &data.fresh_reviews()).into_iter().find(Result::is_err) {
            return Err(format!("smoke run on {name} failed: {e}"));
        }
    }
    Ok(())
}

/// `POST /v1/plugins` with the component's bytes: streamed to a file in the
/// plugins folder, up to `[serve] upload_limit_mb`, then compiled, checked
/// against its world, smoke-run and kept by sha256. Activating it is a separate step.
pub(crate) async fn upload_plugin(State(app): State<Arc<App>>, request: axum::extract::Request) -> Answer {
    app.require_write(request.headers())?;
    let limit = app.upload_limit();
    // A declared length over the limit is refused before a byte is read
    // (a client that sent `Expect: 100-continue` never sends the body).
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    if let Err(refused) = component_type(request.headers()) {
        // Read (not kept) first, so that a client that sends its whole body before reading sees why.
        drain(request.into_body(), limit).await;
        return Err(refused);
    }
    let received = receive(&app.plugins_dir, request.into_body(), limit).await?;
    // The one copy in memory: the component is compiled from it.
    let bytes = tokio::fs::read(&received.path).await.map_err(anyhow::Error::from)?;
    let admitted = super::uploads::admit(app.runtime.config(), bytes)?;
    // A bare component's file is the component, kept by moving it; a package's is not.
    let received = admitted.package.is_none().then_some(received);
    let package = admitted
        .package
        .as_ref()
        .map(|(digest, _, publisher)| json!({ "digest": digest, "publisher": publisher.as_ref().map(|p| &p.name) }));
    let plugin = install_received(&app, admitted, received).await?;
    let mut answer = serde_json::to_value(&plugin.id).map_err(anyhow::Error::from)?;
    if let Some(package) = package {
        answer["package"] = package;
    }
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

/// The body is the component itself: `application/wasm`, `application/octet-stream`,
/// none, or curl's `--data-binary` default (`application/x-www-form-urlencoded`).
/// A multipart form, JSON or text is refused before anything is read.
fn component_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(()) };
    let given = value.to_str().unwrap_or_default();
    let essence = given.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let accepted = [
        "application/wasm",
        "application/octet-stream",
        "application/x-www-form-urlencoded",
        // A package: an OCI image layout as a tar.
        "application/x-tar",
        "application/vnd.oci.image.layout.v1+tar",
    ];
    if accepted.contains(&essence.as_str()) {
        return Ok(());
    }
    Err(ApiError::new(
        Refusal::UnsupportedMediaType,
        format!(
            "Content-Type {given:?}: send the component's bytes as the body, as application/wasm, \
             or a package as application/vnd.oci.image.layout.v1+tar"
        ),
    )
    .field("Content-Type"))
}

fn too_large(limit: usize) -> ApiError {
    let mb = limit / (1024 * 1024);
    ApiError::new(
        Refusal::TooLarge,
        format!("the component is over the upload limit of {mb} MB ([serve] upload_limit_mb)"),
    )
    .field("body")
}

/// A body received into a file in the plugins folder; the file is removed when
/// this is dropped, unless it was moved into place first.
struct Received {
    path: std::path::PathBuf,
}

impl Drop for Received {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Streams a body to a new file in `dir`, refusing it once it runs over `limit` bytes.
async fn receive(dir: &std::path::Path, body: axum::body::Body, limit: usize) -> Result<Received, ApiError> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    tokio::fs::create_dir_all(dir).await.map_err(anyhow::Error::from)?;
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let received = Received { path: dir.join(format!(".upload-{}-{n}.part", std::process::id())) };
    let mut file = tokio::fs::File::create(&received.path).await.map_err(anyhow::Error::from)?;
    let mut stream = body.into_data_stream();
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::new(Refusal::Malformed, format!("the body could not be read: {e}")).field("body"))?;
        size = size.saturating_add(chunk.len());
        if size > limit {
            return Err(too_large(limit));
        }
        file.write_all(&chunk).await.map_err(anyhow::Error::from)?;
    }
    file.flush().await.map_err(anyhow::Error::from)?;
    Ok(received)
}

/// Reads a body to its end, up to `limit` bytes, and drops it.
async fn drain(body: axum::body::Body, limit: usize) {
    use futures_util::StreamExt;
    let (mut stream, mut size) = (body.into_data_stream(), 0usize);
    while let Some(Ok(chunk)) = stream.next().await {
        size = size.saturating_add(chunk.len());
        if size > limit {
            return;
        }
    }
}

/// Loads, checks and smoke-runs a plugin, keeps its file by sha256 and adds it to the catalog.
pub(crate) async fn install(app: &Arc<App>, bytes: Vec<u8>) -> Result<Arc<Plugin>, ApiError> {
    let admitted = super::uploads::admit(app.runtime.config(), bytes)?;
    install_received(app, admitted, None).await
}

/// `install`; bytes already `received` into a file are kept by moving that file, not by writing them again.
async fn install_received(
    app: &Arc<App>,
    admitted: super::uploads::Admitted,
    received: Option<Received>,
) -> Result<Arc<Plugin>, ApiError> {
    let (bytes, about) = (admitted.component, admitted.package.map(|(_, about, _)| about));
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    if let Some(known) = app.catalog.lock().await.find(&sha) {
        return Ok(known);
    }
    let path = app.plugins_dir.join(format!("{sha}.wasm"));
    let worker = app.clone();
    let source = PluginSource::File(path.clone());
    let plugin = tokio::task::spawn_blocking(move || {
        let catalog = worker.catalog.blocking_lock();
        let plugin = catalog.sandbox().load(&bytes, source).map_err(|e| e.reason)?;
        drop(catalog);
        // A package says what it is and asks for: the component must agree.
        if let Some(about) = &about {
            about.check_against(&plugin).map_err(|e| format!("the package: {e}"))?;
        }
        smoke_run(&plugin)?;
        // A template it names must exist: found now, not at delivery, step by step.
        if plugin.id.kind == PluginKind::Policy
            && let Some(why) = crate::preflight::unknown_template(&plugin, &[], &worker.runtime.templates())
        {
            return Err(format!("{} {why}", plugin.id.name));
        }
        Ok::<_, String>((plugin, bytes))
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    let (plugin, bytes) = plugin.map_err(|e| ApiError::new(Refusal::Invalid, e).field("body"))?;
    std::fs::create_dir_all(&app.plugins_dir).map_err(anyhow::Error::from)?;
    match received {
        Some(received) => std::fs::rename(&received.path, &path).map_err(anyhow::Error::from)?,
        None => {
            let tmp = path.with_extension("wasm.tmp");
            std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, &path)).map_err(anyhow::Error::from)?;
        }
    }
    app.runtime.store().keep_plugin(&sha, &bytes).await?;
    let plugin = Arc::new(plugin);
    app.catalog.lock().await.add(plugin.clone());
    Ok(plugin)
}

/// Switches a segment to a policy: recorded (it survives a restart), then swapped in at once.
pub(crate) async fn switch(app: &App, segment: &str, plugin: Arc<Plugin>) -> Result<(), ApiError> {
    name(segment, "segment")?;
    // Held from the store's write to the swap: the follower, which holds it
    // while it reads the store, must not take up this change halfway and swap it twice.
    let _following = app.catalog.lock().await;
    let (sha, source) = (&plugin.id.sha256, plugin.id.source.to_string());
    app.runtime.store().activate(Scope::Segment, segment, sha, &source, Utc::now().timestamp()).await?;
    tracing::info!(segment, plugin = %plugin.id, "policy activated");
    app.runtime.swap_policies(|p| {
        p.activated.insert(segment.to_string(), plugin);
    });
    app.metrics.swaps.inc();
    app.wake.notify_one();
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activate {
    /// A plugin's sha256 (an uploaded one) or a bundled name.
    plugin: String,
}

/// The plugin a `{"plugin": sha256|name}` body names, of the kind wanted.
async fn named_plugin(app: &App, body: &[u8], kind: PluginKind) -> Result<Arc<Plugin>, ApiError> {
    let wanted: Activate = serde_json::from_value(parse_json(body)?)
        .map_err(|e| ApiError::new(Refusal::Invalid, e.to_string()).field("plugin"))?;
    let plugin = app.catalog.lock().await.find(&wanted.plugin).filter(|p| p.id.kind == kind);
    plugin.ok_or_else(|| {
        let what = if kind == PluginKind::Policy { "policy" } else { "channel adapter" };
        ApiError::new(Refusal::NotFound, format!("no {what} {:?} (upload it first)", wanted.plugin)).field("plugin")
    })
}

/// `POST /v1/segments/{segment}/policy {"plugin": sha256|name}`: switched in at once;
/// evaluations already running finish on the version they started with.
pub(crate) async fn activate(
    State(app): State<Arc<App>>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    app.require_write(&headers)?;
    name(&segment, "segment")?;
    let plugin = named_plugin(&app, &body, PluginKind::Policy).await?;
    let id = plugin.id.clone();
    switch(&app, &segment, plugin).await?;
    ok(json!({ "segment": segment, "active": id }))
}

/// `POST /v1/segments/{segment}/rollback`: the activation before the last one (or the config's policy).
pub(crate) async fn roll_back(State(app): State<Arc<App>>, Path(segment): Path<String>, headers: HeaderMap) -> Answer {
    app.require_write(&headers)?;
    let active = roll_back_segment(&app, &segment).await?;
    ok(json!({ "segment": segment, "active": active }))
}

/// Rolls a segment back to its activation before the last (or the config's
/// policy), swapped in at once; the plugin now active, if an activation.
pub(crate) async fn roll_back_segment(app: &App, segment: &str) -> Result<Option<crate::sandbox::PluginId>, ApiError> {
    name(segment, "segment")?;
    // Held from the store's write to the swap (see `switch`).
    let catalog = app.catalog.lock().await;
    if !app.runtime.store().roll_back(Scope::Segment, segment).await? {
        return Err(ApiError::new(Refusal::Conflict, format!("nothing to roll back for segment {segment:?}")));
    }
    let previous = app.runtime.store().activations(Scope::Segment).await?.into_iter().find(|(s, _, _)| s == segment);
    let plugin = match &previous {
        Some((_, sha, _)) => catalog.find(sha),
        None => None,
    };
    let active = plugin.as_ref().map(|p| p.id.clone());
    app.runtime.swap_policies(|p| match plugin {
        Some(plugin) => {
            p.activated.insert(segment.to_string(), plugin);
        }
        None => {
            p.activated.remove(segment);
        }
    });
    app.metrics.swaps.inc();
    Ok(active)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulateRequest {
    data: Value,
    #[serde(default = "b2b")]
    policy: String,
    from: NaiveDate,
    to: NaiveDate,
    #[serde(default)]
    settings: std::collections::BTreeMap<String, String>,
}

fn b2b() -> String {
    "b2b-standard".into()
}

/// `sollecito simulate` over HTTP: nothing is stored or sent.
pub(crate) async fn simulate(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Answer {
    app.require_read(&headers)?;
    let request: SimulateRequest = serde_json::from_value(parse_json(&body)?)
        .map_err(|e| ApiError::new(Refusal::Invalid, e.to_string()).field("body"))?;
    if request.to < request.from || (request.to - request.from).num_days() > 730 {
        return Err(ApiError::new(Refusal::Invalid, "the range must run forward, two years at most").field("to"));
    }
    let data = intake::parse_dataset("data", &request.data.to_string())?;
    let policy = app.catalog.lock().await.find(&request.policy).filter(|p| p.id.kind == PluginKind::Policy);
    let Some(policy) = policy else {
        return Err(ApiError::new(Refusal::NotFound, format!("no policy {:?}", request.policy)).field("policy"));
    };
    let opts = simulate::Options {
        from: request.from,
        to: request.to,
        tick: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        schedule: crate::schedule::Schedule::Service,
        settings: request.settings,
        progress: None,
        responses: None,
    };
    let id = policy.id.clone();
    let config = app.runtime.config().clone();
    let mut catalog = app.catalog.lock().await;
    let simulation = simulate::run(config, &mut catalog, policy, data, &opts).await?;
    let timelines = simulation.timelines;
    ok(json!({ "policy": id, "timelines": timelines }))
}

/// `POST /v1/segments/{segment}/shadow {"plugin": sha256|name}`: evaluate a
/// candidate beside the active policy; its decisions are stored, never carried out.
pub(crate) async fn start_shadow(
    State(app): State<Arc<App>>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    app.require_write(&headers)?;
    name(&segment, "segment")?;
    let plugin = named_plugin(&app, &body, PluginKind::Policy).await?;
    app.runtime
        .store()
        .start_shadow(&segment, &plugin.id.sha256, &plugin.id.source.to_string(), Utc::now().timestamp())
        .await?;
    let id = plugin.id.clone();
    app.runtime.swap_policies(|p| {
        p.shadows.insert(segment.clone(), plugin);
    });
    ok(json!({ "segment": segment, "shadow": id }))
}

/// `DELETE /v1/segments/{segment}/shadow`.
pub(crate) async fn stop_shadow(
    State(app): State<Arc<App>>,
    Path(segment): Path<String>,
    headers: HeaderMap,
) -> Answer {
    app.require_write(&headers)?;
    name(&segment, "segment")?;
    if !app.runtime.store().stop_shadow(&segment).await? {
        return Err(ApiError::new(Refusal::NotFound, format!("no shadow run for segment {segment:?}")));
    }
    app.runtime.swap_policies(|p| {
        p.shadows.remove(&segment);
    });
    ok(json!({ "segment": segment, "shadow": null }))
}

#[derive(Deserialize)]
pub(crate) struct ReportQuery {
    segment: Option<String>,
}

/// `GET /v1/shadow/report[?segment=S]`: where the candidate and the active policy differ.
pub(crate) async fn shadow_report(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<ReportQuery>,
) -> Answer {
    app.require_read(&headers)?;
    let rows = app.runtime.store().shadow_decisions(q.segment.as_deref()).await?;
    ok(crate::shadow::report(&rows))
}

/// The key an adapter activation is stored under, beside the segments' policies.
/// A segment or channel from the path: a slug, or a 422 naming it.
fn name(value: &str, field: &str) -> Result<(), ApiError> {
    crate::names::check(field, value).map_err(|why| ApiError::new(Refusal::Invalid, why).field(field))
}

/// `POST /v1/channels/{channel}/adapter {"plugin": sha256|name}`: a new adapter
/// version behind a channel, with the channel's grants and settings.
pub(crate) async fn activate_adapter(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    app.require_write(&headers)?;
    name(&channel, "channel")?;
    let plugin = named_plugin(&app, &body, PluginKind::Channel).await?;
    if !app.runtime.channels().contains_key(&channel) {
        return Err(ApiError::new(Refusal::NotFound, format!("no channel {channel:?} is configured")));
    }
    let source = plugin.id.source.to_string();
    // Held from the store's write to the swap (see `switch`).
    let _following = app.catalog.lock().await;
    app.runtime.store().activate(Scope::Channel, &channel, &plugin.id.sha256, &source, Utc::now().timestamp()).await?;
    let id = plugin.id.clone();
    app.runtime.swap_adapter(&channel, plugin);
    app.metrics.swaps.inc();
    ok(json!({ "channel": channel, "adapter": id }))
}

/// `POST /v1/channels/{channel}/rollback`: the adapter before the last activation (or the configured one).
pub(crate) async fn roll_back_adapter(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
) -> Answer {
    app.require_write(&headers)?;
    name(&channel, "channel")?;
    // Held from the store's write to the swap (see `switch`).
    let catalog = app.catalog.lock().await;
    if !app.runtime.store().roll_back(Scope::Channel, &channel).await? {
        return Err(ApiError::new(Refusal::Conflict, format!("nothing to roll back for channel {channel:?}")));
    }
    let previous = app.runtime.store().activations(Scope::Channel).await?.into_iter().find(|(s, _, _)| *s == channel);
    let plugin = match previous {
        Some((_, sha, _)) => catalog.find(&sha),
        // Back to the adapter the config names (by default the channel's own name).
        None => {
            let configured = app.runtime.config().channels.get(&channel).and_then(|c| c.adapter.clone());
            catalog.find(configured.as_deref().unwrap_or(&channel))
        }
    };
    let Some(plugin) = plugin else { return Err(anyhow::anyhow!("the previous adapter of {channel} is gone").into()) };
    let id = plugin.id.clone();
    app.runtime.swap_adapter(&channel, plugin);
    drop(catalog);
    app.metrics.swaps.inc();
    ok(json!({ "channel": channel, "adapter": id }))
}
