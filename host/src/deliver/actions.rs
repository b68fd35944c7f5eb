//! One tick, the actions that are not messages, at their time: a payment
//! retry through the payment adapter (its outcome comes back as an event on
//! the invoice), a suspension and its reinstatement told to the business's
//! system, a hand-over to collections written out. Each once: the step's
//! outbox row is settled together with what it caused.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{DeliverReport, Delivery, MAX_ATTEMPTS, backoff};
use crate::event::Event;
use crate::guardrails::{self, Request};
use crate::invoice::{Customer, Invoice};
use crate::outgoing::{Charge, ChargeError, ChargeOutcome};
use crate::sandbox::{Captured, KEPT};
use crate::store::{OutboxKind, OutboxRow, OutboxState, Payload, REINSTATE, Settled, Store, Tried};

/// What became of one action in this tick.
pub(super) enum ActionOutcome {
    Done(String),
    /// A charge that was refused, with the decline code: an event for the policy.
    Declined(String),
    /// Paid: the receipt and the payment as an event (in full, or in part).
    Paid(String, Event),
    Wait(DateTime<Utc>, String),
    Cancel(String),
    Fail(String),
}

impl Delivery {
    /// Carries out every action due at `now`, in the order they were decided.
    pub(crate) async fn carry_out(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        dry_run: bool,
        report: &mut DeliverReport,
    ) -> anyhow::Result<()> {
        for row in store.pending_actions(now.timestamp()).await? {
            let result = self.carry_out_one(store, &row, now, dry_run).await?;
            let (counted, state, reason, receipt, event) = match result {
                ActionOutcome::Done(receipt) => ("done", OutboxState::Done, None, Some(receipt), None),
                ActionOutcome::Paid(receipt, event) => {
                    let what = match &event {
                        Event::PaymentReceived { .. } => "paid in part",
                        _ => "paid",
                    };
                    ("paid", OutboxState::Done, Some(what.to_string()), Some(receipt), Some(event))
                }
                ActionOutcome::Declined(code) => (
                    "declined",
                    OutboxState::Failed,
                    Some(format!("declined: {code}")),
                    None,
                    Some(Event::PaymentFailed { decline_code: code }),
                ),
                ActionOutcome::Wait(until, reason) => {
                    report.retry_later += 1;
                    report.count(row.kind.as_str(), "retry");
                    if !dry_run {
                        store.defer(row.id, until.timestamp(), &reason, Tried::Nothing).await?;
                    }
                    continue;
                }
                ActionOutcome::Cancel(reason) => {
                    report.cancelled += 1;
                    ("cancelled", OutboxState::Cancelled, Some(reason), None, None)
                }
                ActionOutcome::Fail(reason) => {
                    report.failed += 1;
                    ("failed", OutboxState::Failed, Some(reason), None, None)
                }
            };
            report.count(row.kind.as_str(), counted);
            if !dry_run {
                let settled = Settled { state, reason: reason.as_deref(), receipt: receipt.as_deref(), event };
                store.settle(&row, settled, now).await?;
            }
        }
        Ok(())
    }

    async fn carry_out_one(
        &self,
        store: &Store,
        row: &OutboxRow,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> anyhow::Result<ActionOutcome> {
        let Some((invoice, customer)) = store.invoice(&row.invoice_id).await? else {
            return Ok(ActionOutcome::Cancel("the invoice no longer exists".into()));
        };
        let escalation = row.payload.escalation();
        let reason = escalation.map_or("", |e| e.reason.as_str());
        let what = match escalation {
            Some(e) if row.kind == OutboxKind::Escalate => e.kind.name(),
            _ => row.kind.as_str(),
        };
        // Checked again now: the invoice may have been paid or disputed since the decision.
        // A reinstatement is owed whatever the invoice's state; a suspension
        // already sent once goes on until acknowledged, so that its
        // reinstatement never overtakes it.
        let checked = !(what == REINSTATE || (what == "suspend-service" && row.attempts > 0));
        let request = Request { step: &row.step, channel: None, touches_customer: true, of_plan: false, asked: false };
        if checked && let Err(block) = guardrails::check(&request, &invoice, &customer, [], false, now) {
            return Ok(ActionOutcome::Cancel(block.to_string()));
        }
        if dry_run {
            return Ok(ActionOutcome::Done("dry run".into()));
        }
        Ok(match what {
            "retry-payment" => {
                // Counted before the request leaves: a run stopped meanwhile knows it may have gone out.
                store.mark_attempt(row.id).await?;
                self.charge(row, &invoice, now).await?
            }
            "suspend-service" => {
                store.mark_attempt(row.id).await?;
                self.tell_service("suspend-service", row, &invoice, &customer, reason, now).await
            }
            REINSTATE => {
                // In order: never before the suspension it undoes is settled.
                let undoes = match &row.payload {
                    Payload::ReinstateService(r) => r.asked.undoes.as_str(),
                    _ => "",
                };
                let outbox = store.outbox_of(&row.invoice_id).await?;
                if outbox.iter().any(|o| o.step == undoes && o.state == OutboxState::Pending) {
                    let later = now + chrono::Duration::seconds(60);
                    return Ok(ActionOutcome::Wait(later, "waits for the suspension to be acknowledged".into()));
                }
                store.mark_attempt(row.id).await?;
                self.tell_service(REINSTATE, row, &invoice, &customer, reason, now).await
            }
            "collections" => {
                store.mark_attempt(row.id).await?;
                self.hand_over(store, row, &invoice, &customer, reason, now).await?
            }
            // A notice escalation is carried by the step's message; the host only records the mark.
            "final-notice" | "formal-notice" => ActionOutcome::Done(format!("invoice marked: {what}")),
            other => ActionOutcome::Fail(format!("{other} is not carried out by this version")),
        })
    }

    /// A payment retry through the payment adapter.
    async fn charge(&self, row: &OutboxRow, invoice: &Invoice, now: DateTime<Utc>) -> anyhow::Result<ActionOutcome> {
        // A simulation's stand-in processor takes no money: whether the
        // invoice is paid is for the scripted events to say.
        if let Some(capture) = &self.capture {
            let (key, at) = (row.key(), now.timestamp());
            capture.keep(Captured { key, channel: "charge".into(), at, subject: invoice.number.clone() });
            return Ok(ActionOutcome::Done(KEPT.into()));
        }
        let Some(route) = &self.payments else {
            return Ok(ActionOutcome::Fail("no payment adapter is configured (add [payments] to the config)".into()));
        };
        let charge = Charge {
            key: row.key(),
            invoice_id: invoice.id.clone(),
            invoice_number: invoice.number.clone(),
            refs: invoice.refs.clone(),
            customer_id: invoice.customer_id.clone(),
            minor: invoice.outstanding(),
            currency: invoice.currency.clone(),
        };
        let (adapter, settings, grants) = (route.adapter.clone(), route.settings.clone(), route.grants.clone());
        let answer =
            tokio::task::spawn_blocking(move || adapter.charge_invoice(&settings, &charge, now.timestamp(), grants))
                .await?;
        let retry = |reason: String| {
            if row.attempts + 1 >= MAX_ATTEMPTS {
                ActionOutcome::Fail(format!("gave up after {MAX_ATTEMPTS} tries: {reason}"))
            } else {
                ActionOutcome::Wait(
                    now + chrono::Duration::seconds(backoff(row.attempts)),
                    format!("will try again: {reason}"),
                )
            }
        };
        Ok(match answer {
            Ok(Ok(ChargeOutcome::Succeeded { reference, charged })) => {
                // A processor that charged less than what is owed (it knows nothing of
                // fees added here) leaves the rest open; without an amount, all is paid.
                let part = charged.filter(|(_, currency)| currency.eq_ignore_ascii_case(&invoice.currency));
                let event = match part {
                    Some((minor, _)) if minor > 0 && minor < invoice.outstanding() => {
                        Event::PaymentReceived { amount: minor }
                    }
                    _ => Event::Paid,
                };
                ActionOutcome::Paid(reference, event)
            }
            Ok(Ok(ChargeOutcome::Declined(code))) => ActionOutcome::Declined(code),
            Ok(Err(ChargeError::Permanent(reason))) => ActionOutcome::Fail(reason),
            Ok(Err(ChargeError::Transient(reason))) => retry(reason),
            Err(trap) => retry(format!("adapter failed: {trap}")),
        })
    }

    /// Suspension and reinstatement: signed JSON to the business's system,
    /// tried until it answers 2xx (with backoff), the same key every time.
    async fn tell_service(
        &self,
        what: &str,
        row: &OutboxRow,
        invoice: &Invoice,
        customer: &Customer,
        reason: &str,
        now: DateTime<Utc>,
    ) -> ActionOutcome {
        let config = &self.config.escalations;
        let Some(url) = &config.service_url else {
            return ActionOutcome::Fail(format!(
                "no service_url in [escalations]: the business's system was not told to {}",
                if what == REINSTATE { "reinstate the service" } else { "suspend the service" }
            ));
        };
        let body = serde_json::json!({
            "type": what,
            "key": row.key(),
            "customer_id": customer.id,
            "customer_name": customer.name,
            "invoice_id": invoice.id,
            "invoice_number": invoice.number,
            "reason": if what == REINSTATE { "the invoice is paid" } else { reason },
            "at": now.to_rfc3339(),
        });
        self.post_signed(url, &config.service_secret, &body, &row.key(), now).await.result(row, now)
    }

    /// Posts signed JSON to someone's system, off the async threads. Only a
    /// 2xx answer acknowledges; a redirect, a 4xx or a missing secret will not
    /// change by trying again.
    pub(super) async fn post_signed(
        &self,
        url: &str,
        secret_name: &str,
        body: &serde_json::Value,
        key: &str,
        now: DateTime<Utc>,
    ) -> Posted {
        let secret = match self.config.secret(secret_name) {
            Ok(secret) => secret,
            Err(e) => return Posted::Refused(e.reason),
        };
        if let Some(capture) = &self.capture {
            let item = Captured {
                key: key.to_string(),
                channel: "post".into(),
                at: now.timestamp(),
                subject: url.to_string(),
            };
            capture.keep(item);
            return Posted::Acknowledged(format!("{url}: {}", KEPT));
        }
        let (url, body, key) = (url.to_string(), body.to_string(), key.to_string());
        let t = now.timestamp().max(0) as u64;
        let post = move || {
            let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(15)).redirects(0).build();
            let answer = agent
                .post(&url)
                .set("Content-Type", "application/json")
                .set("Idempotency-Key", &key)
                .set(sollecito_signing::HEADER, &sollecito_signing::header(&secret, t, body.as_bytes()))
                .send_string(&body);
            match answer {
                Ok(r) if (200..300).contains(&r.status()) => {
                    Posted::Acknowledged(format!("{url}: HTTP {}", r.status()))
                }
                Ok(r) => Posted::Refused(format!("{url} answered HTTP {}, which does not acknowledge", r.status())),
                Err(ureq::Error::Status(code @ (408 | 429 | 500..=599), _)) => {
                    Posted::Retry(format!("{url} answered HTTP {code}; tried again later"))
                }
                Err(ureq::Error::Status(code, _)) => Posted::Refused(format!("{url} refused it: HTTP {code}")),
                Err(e) => Posted::Retry(format!("{url}: {e}; tried again later")),
            }
        };
        tokio::task::spawn_blocking(post).await.unwrap_or_else(|e| Posted::Retry(e.to_string()))
    }
}

/// What became of a signed request.
pub(super) enum Posted {
    Acknowledged(String),
    Retry(String),
    Refused(String),
}

impl Posted {
    /// The action's result: done, tried again after the backoff, or failed.
    pub(super) fn result(self, row: &OutboxRow, now: DateTime<Utc>) -> ActionOutcome {
        match self {
            Posted::Acknowledged(answer) => ActionOutcome::Done(answer),
            Posted::Retry(reason) => {
                ActionOutcome::Wait(now + chrono::Duration::seconds(backoff(row.attempts)), reason)
            }
            Posted::Refused(reason) => ActionOutcome::Fail(reason),
        }
    }
}
