//! The demo's stand-in for the systems a business connects: a processor
//! answering Stripe's invoice-pay shape and the business's own system taking
//! suspension webhooks, on loopback, so that `sollecito demo` carries out
//! payment retries and suspensions through the real adapters and signatures.
//! Every request it gets is appended to `billing-system.log` in the demo folder.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use crate::config::{Config, PaymentsConfig};

/// The key and signing secret the demo config grants (not secrets: the demo's own).
const KEY: &str = "sk_test_sollecito_demo";
const SIGNING: &str = "whsec_sollecito_demo";

struct Standin {
    log: PathBuf,
    /// Charges asked per invoice: the first is declined, the next one paid.
    charges: Mutex<HashMap<String, u32>>,
}

impl Standin {
    fn record(&self, line: &str) {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&self.log);
        if let Ok(mut file) = file {
            let _ = writeln!(file, "{line}");
        }
    }
}

async fn pay(State(s): State<Arc<Standin>>, Path(id): Path<String>, headers: HeaderMap) -> (StatusCode, String) {
    let id = id.trim_end_matches("/pay").to_string();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}")) {
        s.record(&format!("pay {id} refused: bad key"));
        return (StatusCode::UNAUTHORIZED, r#"{"error": {"message": "Invalid API key"}}"#.into());
    }
    let tries = {
        let mut charges = s.charges.lock().expect("demo charges");
        let n = charges.entry(id.clone()).or_default();
        *n += 1;
        *n
    };
    if tries == 1 {
        s.record(&format!("pay {id} ({key}): declined, insufficient_funds"));
        let body =
            r#"{"error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"}}"#;
        return (StatusCode::PAYMENT_REQUIRED, body.into());
    }
    s.record(&format!("pay {id} ({key}): paid"));
    (StatusCode::OK, format!(r#"{{"id": "{id}", "object": "invoice", "status": "paid", "charge": "ch_demo_{id}"}}"#))
}

async fn service(State(s): State<Arc<Standin>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers.get(sollecito_signing::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !sollecito_signing::verify(SIGNING, signature, &body) {
        s.record("service: refused, bad signature");
        return StatusCode::UNAUTHORIZED;
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    s.record(&format!("service: {} for {} ({})", json["type"], json["customer_name"], json["invoice_number"]));
    StatusCode::NO_CONTENT
}

/// Starts the stand-in and points `config` at it (payments through the `stripe`
/// adapter, suspensions to its service endpoint), unless the operator configured their own.
pub(super) async fn start(config: &mut Config, log: PathBuf) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(&log);
    let state = Arc::new(Standin { log, charges: Mutex::new(HashMap::new()) });
    let app = Router::new().route("/v1/invoices/{*id}", post(pay)).route("/service", post(service)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    config.secrets.entry("stripe_secret_key".into()).or_insert_with(|| KEY.into());
    config.secrets.entry("service_webhook_signing".into()).or_insert_with(|| SIGNING.into());
    config.payments.get_or_insert_with(|| PaymentsConfig {
        adapter: "stripe".into(),
        http_hosts: vec![format!("127.0.0.1:{port}")],
        secrets: vec!["stripe_secret_key".into()],
        settings: [("api_base".to_string(), toml::Value::String(format!("http://127.0.0.1:{port}")))].into(),
    });
    config.escalations.service_url.get_or_insert_with(|| format!("http://127.0.0.1:{port}/service"));
    Ok(())
}
