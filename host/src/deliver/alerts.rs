//! Alerts for the operator: the tick's own (a policy failing on many
//! invoices, a relay failing on the operator's setup) are raised here; all
//! are posted signed to `[alerts] url`, each with its own idempotency key,
//! until a 2xx acknowledges it, and logged.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::actions::Posted;
use super::{DeliverReport, Delivery, backoff};
use crate::store::Store;

/// An alert of the same kind and subject is not raised again within this.
const QUIET_SECONDS: i64 = 3600;

/// Tries of an alert before it is given up (logged as failed).
const ALERT_ATTEMPTS: i64 = 10;

impl Delivery {
    /// Raises the alerts a tick's report calls for.
    pub(crate) async fn raise_tick_alerts(
        &self,
        store: &Store,
        plugin_errors: &[String],
        delivered: &DeliverReport,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let (at, quiet) = (now.timestamp(), now.timestamp() - QUIET_SECONDS);
        if plugin_errors.len() >= self.config.alerts.plugin_errors {
            let sample: Vec<&String> = plugin_errors.iter().take(5).collect();
            let body = json!({ "type": "policy-errors", "invoices": plugin_errors.len(), "errors": sample, "at": now.to_rfc3339() });
            store.raise_alert("policy-errors", "tick", &body, at, quiet).await?;
        }
        for (channel, results) in &delivered.by_channel {
            if let Some(n) = results.get("setup").filter(|n| **n > 0) {
                let body = json!({ "type": "relay-failing", "channel": channel, "messages_waiting": n, "at": now.to_rfc3339() });
                store.raise_alert("relay-failing", channel, &body, at, quiet).await?;
            }
        }
        Ok(())
    }

    /// Posts every alert due, signed; each is logged once it is acknowledged.
    pub(crate) async fn send_alerts(&self, store: &Store, now: DateTime<Utc>) -> anyhow::Result<()> {
        let Some(url) = &self.config.alerts.url else { return Ok(()) };
        for alert in store.pending_alerts(now.timestamp()).await? {
            let key = format!("alert-{}", alert.id);
            match self.post_signed(url, &self.config.alerts.secret, &alert.body, &key, now).await {
                Posted::Acknowledged(answer) => {
                    tracing::warn!(alert = %alert.kind, body = %alert.body, "alert: {answer}");
                    store.settle_alert(alert.id, "sent", now.timestamp(), None).await?;
                }
                Posted::Retry(why) if alert.attempts + 1 < ALERT_ATTEMPTS => {
                    let later = now.timestamp() + backoff(alert.attempts);
                    store.settle_alert(alert.id, "pending", later, Some(&why)).await?;
                }
                Posted::Retry(why) | Posted::Refused(why) => {
                    tracing::error!(alert = %alert.kind, body = %alert.body, "alert not delivered: {why}");
                    store.settle_alert(alert.id, "failed", now.timestamp(), Some(&why)).await?;
                }
            }
        }
        Ok(())
    }
}
