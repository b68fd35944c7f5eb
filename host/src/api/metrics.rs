//! Prometheus metrics of the service.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use crate::runtime::TickReport;

pub(crate) struct Metrics {
    registry: Registry,
    evaluations: IntCounter,
    decisions: IntCounterVec,
    /// Outbox rows by channel and result: a consolidated message counts each reminder it carries.
    reminders: IntCounterVec,
    /// Messages the channels took, as the relay sees them: a consolidated message once.
    messages_sent: IntCounterVec,
    actions: IntCounterVec,
    /// What came back (the mailbox, the API), by kind and what became of it.
    inbound: IntCounterVec,
    plugin_errors: IntCounter,
    ticks: IntCounter,
    fuel: IntCounter,
    tick_seconds: Histogram,
    pub outbox_depth: IntGauge,
    pub swaps: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let m = Metrics {
            evaluations: counter("sollecito_evaluations_total", "Invoices evaluated by a policy."),
            decisions: IntCounterVec::new(
                Opts::new("sollecito_decisions_total", "Actions decided, by kind."),
                &["action"],
            )
            .expect("valid metric"),
            reminders: IntCounterVec::new(
                Opts::new(
                    "sollecito_reminders_total",
                    "Reminders (one per invoice and step), by channel and result; a consolidated message carries several.",
                ),
                &["channel", "result"],
            )
            .expect("valid metric"),
            messages_sent: IntCounterVec::new(
                Opts::new(
                    "sollecito_messages_sent_total",
                    "Messages the channels took, by channel, as the relay sees them: a consolidated message once.",
                ),
                &["channel"],
            )
            .expect("valid metric"),
            actions: IntCounterVec::new(
                Opts::new(
                    "sollecito_actions_total",
                    "Actions other than messages carried out (retries, suspensions, hand-overs), by kind and result.",
                ),
                &["kind", "result"],
            )
            .expect("valid metric"),
            inbound: IntCounterVec::new(
                Opts::new(
                    "sollecito_inbound_messages_total",
                    "Messages that came back through the mailbox or the API, by kind (reply, bounce, soft-bounce, \
                     auto-reply, complaint, delivery-report, unreadable, duplicate) and state (applied, task, recorded, \
                     quarantined, duplicate).",
                ),
                &["kind", "state"],
            )
            .expect("valid metric"),
            fuel: counter("sollecito_plugin_fuel_used_total", "Fuel (about one per wasm instruction) plugins used."),
            plugin_errors: counter("sollecito_plugin_errors_total", "Invoices a policy failed on."),
            ticks: counter("sollecito_ticks_total", "Scheduler ticks."),
            tick_seconds: Histogram::with_opts(HistogramOpts::new("sollecito_tick_seconds", "Duration of a tick."))
                .expect("valid metric"),
            outbox_depth: IntGauge::new("sollecito_outbox_depth", "Messages waiting in the outbox.")
                .expect("valid metric"),
            swaps: counter("sollecito_policy_swaps_total", "Policy activations and rollbacks."),
            registry,
        };
        for c in [&m.evaluations, &m.plugin_errors, &m.ticks, &m.swaps, &m.fuel] {
            m.registry.register(Box::new(c.clone())).expect("unique metric");
        }
        m.registry.register(Box::new(m.decisions.clone())).expect("unique metric");
        m.registry.register(Box::new(m.reminders.clone())).expect("unique metric");
        m.registry.register(Box::new(m.messages_sent.clone())).expect("unique metric");
        m.registry.register(Box::new(m.actions.clone())).expect("unique metric");
        m.registry.register(Box::new(m.inbound.clone())).expect("unique metric");
        m.registry.register(Box::new(m.tick_seconds.clone())).expect("unique metric");
        m.registry.register(Box::new(m.outbox_depth.clone())).expect("unique metric");
        m
    }
}

impl Metrics {
    pub(crate) fn record(&self, r: &TickReport, seconds: f64) {
        self.ticks.inc();
        self.tick_seconds.observe(seconds);
        self.evaluations.inc_by(r.decided.evaluated as u64);
        self.plugin_errors.inc_by(r.decided.plugin_errors as u64);
        for (action, n) in [
            ("remind", r.decided.reminders_queued),
            ("other", r.decided.actions_recorded),
            ("blocked", r.decided.blocked),
            ("refused", r.decided.refused),
        ] {
            self.decisions.with_label_values(&[action]).inc_by(n as u64);
        }
        for (channel, results) in &r.delivered.by_channel {
            for (result, n) in results {
                self.reminders.with_label_values(&[channel.as_str(), result]).inc_by(*n as u64);
            }
        }
        for (channel, n) in &r.delivered.messages {
            self.messages_sent.with_label_values(&[channel.as_str()]).inc_by(*n as u64);
        }
        for (kind, results) in &r.delivered.actions {
            for (result, n) in results {
                self.actions.with_label_values(&[kind.as_str(), result]).inc_by(*n as u64);
            }
        }
        let used = crate::sandbox::fuel_used();
        self.fuel.inc_by(used.saturating_sub(self.fuel.get()));
    }

    /// A message that came back, counted by what it was and what became of it.
    pub(crate) fn inbound(&self, handled: &crate::inbound::Handled) {
        let state = handled.state.map_or("duplicate", |s| s.as_str());
        self.inbound.with_label_values(&[handled.kind.as_str(), state]).inc();
    }

    pub(crate) fn text(&self) -> String {
        let mut out = vec![];
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding");
        String::from_utf8(out).expect("utf-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_came_back_is_counted_by_kind_and_state() {
        let metrics = Metrics::default();
        let handled = |kind: &str, state| crate::inbound::Handled {
            message_id: None,
            kind: kind.into(),
            state,
            reason: String::new(),
            customer: None,
            invoices: vec![],
            reading: None,
        };
        metrics.inbound(&handled("bounce", Some(crate::store::InboundState::Applied)));
        metrics.inbound(&handled("bounce", Some(crate::store::InboundState::Applied)));
        metrics.inbound(&handled("duplicate", None));
        let text = metrics.text();
        assert!(text.contains(r#"sollecito_inbound_messages_total{kind="bounce",state="applied"} 2"#), "{text}");
        assert!(text.contains(r#"sollecito_inbound_messages_total{kind="duplicate",state="duplicate"} 1"#), "{text}");
    }

    #[test]
    fn actions_are_counted_by_kind_and_result() {
        let metrics = Metrics::default();
        let mut report = TickReport::default();
        report.delivered.actions.entry("retry-payment".into()).or_default().insert("declined", 2);
        report.delivered.actions.entry("escalate".into()).or_default().insert("retry", 1);
        metrics.record(&report, 0.1);
        metrics.record(&report, 0.1);
        let text = metrics.text();
        assert!(text.contains(r#"sollecito_actions_total{kind="retry-payment",result="declined"} 4"#), "{text}");
        assert!(text.contains(r#"sollecito_actions_total{kind="escalate",result="retry"} 2"#), "{text}");
    }

    #[test]
    fn messages_are_counted_as_the_relay_sees_them_and_reminders_apart() {
        let metrics = Metrics::default();
        let mut report = TickReport::default();
        // One consolidated email carrying two reminders, and one letter.
        report.delivered.by_channel.entry("email".into()).or_default().insert("sent", 2);
        report.delivered.by_channel.entry("letter".into()).or_default().insert("sent", 1);
        report.delivered.messages.insert("email".into(), 1);
        report.delivered.messages.insert("letter".into(), 1);
        metrics.record(&report, 0.1);
        let text = metrics.text();
        assert!(text.contains(r#"sollecito_messages_sent_total{channel="email"} 1"#), "{text}");
        assert!(text.contains(r#"sollecito_messages_sent_total{channel="letter"} 1"#), "{text}");
        assert!(text.contains(r#"sollecito_reminders_total{channel="email",result="sent"} 2"#), "{text}");
        assert!(!text.contains("sollecito_messages_total"), "the old name, which counted reminders, is gone: {text}");
    }
}
