//! What an outbox row carries beyond its columns: one shape per kind, the
//! action as the policy gave it with what the host added. Stored as JSON in
//! the shape the decision record uses (`{"remind": {...}}`), parsed once, by
//! the row's kind, where the row is read.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::OutboxKind;
use crate::decision::{Action, EscalationKind, Tone};
use crate::plan::Instalment;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    Remind(Remind),
    OfferPlan(OfferPlan),
    Instalment(InstalmentDue),
    RetryPayment(RetryPayment),
    Escalate(Escalate),
    ApplyFee(ApplyFee),
    ReinstateService(Reinstate),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remind {
    pub remind: Reminder,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reminder {
    pub step: String,
    pub channel: String,
    pub template: String,
    pub tone: Tone,
    #[serde(default)]
    pub deadline: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferPlan {
    #[serde(rename = "offer-plan")]
    pub asked: PlanAsked,
    /// The instalments the host worked out (none when the offer was refused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instalments: Vec<Instalment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlanAsked {
    pub step: String,
    pub instalments: u32,
    pub first_due: Option<NaiveDate>,
    pub every_days: u32,
}

/// The reminder of one instalment of an accepted plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalmentDue {
    pub instalment: InstalmentOf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstalmentOf {
    pub number: u32,
    /// The step of the offer the plan came from.
    pub plan: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPayment {
    #[serde(rename = "retry-payment")]
    pub asked: RetryAsked,
    /// What the retry answers, for the report's success by decline code and by attempt.
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryAsked {
    pub step: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalate {
    pub escalate: Escalation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub step: String,
    pub kind: EscalationKind,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyFee {
    #[serde(rename = "apply-fee")]
    pub asked: FeeAsked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeeAsked {
    pub step: String,
    pub minor: i64,
    pub currency: String,
    pub reason: String,
}

/// The host's own step undoing a suspension once the invoice is paid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reinstate {
    #[serde(rename = "reinstate-service")]
    pub asked: ReinstateAsked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReinstateAsked {
    pub step: String,
    /// The suspension's step.
    pub undoes: String,
}

impl Payload {
    /// A step's payload as its action asks it (`None` for pause and close, which are no step).
    pub(crate) fn of(action: &Action) -> Option<Payload> {
        Some(match action {
            Action::Remind(r) => Payload::Remind(Remind {
                remind: Reminder {
                    step: r.step.clone(),
                    channel: r.channel.clone(),
                    template: r.template.clone(),
                    tone: r.tone,
                    deadline: r.deadline,
                },
            }),
            Action::RetryPayment { step, at } => Payload::RetryPayment(RetryPayment {
                asked: RetryAsked { step: step.clone(), at: *at },
                decline_code: None,
                attempt: 0,
            }),
            Action::Escalate(e) => Payload::Escalate(Escalate {
                escalate: Escalation { step: e.step.clone(), kind: e.kind, reason: e.reason.clone() },
            }),
            Action::ApplyFee(f) => Payload::ApplyFee(ApplyFee {
                asked: FeeAsked {
                    step: f.step.clone(),
                    minor: f.minor,
                    currency: f.currency.clone(),
                    reason: f.reason.clone(),
                },
            }),
            Action::OfferPlan(p) => Payload::OfferPlan(OfferPlan {
                asked: PlanAsked {
                    step: p.step.clone(),
                    instalments: p.instalments,
                    first_due: p.first_due,
                    every_days: p.every_days,
                },
                instalments: vec![],
            }),
            Action::Pause(_) | Action::Close(_) => return None,
        })
    }

    /// A stored payload, read by its row's kind.
    pub(crate) fn parse(kind: OutboxKind, text: &str) -> anyhow::Result<Payload> {
        let read = || -> serde_json::Result<Payload> {
            Ok(match kind {
                OutboxKind::Remind | OutboxKind::Statement => Payload::Remind(serde_json::from_str(text)?),
                OutboxKind::OfferPlan => Payload::OfferPlan(serde_json::from_str(text)?),
                OutboxKind::Instalment => Payload::Instalment(serde_json::from_str(text)?),
                OutboxKind::RetryPayment => Payload::RetryPayment(serde_json::from_str(text)?),
                OutboxKind::Escalate => Payload::Escalate(serde_json::from_str(text)?),
                OutboxKind::ApplyFee => Payload::ApplyFee(serde_json::from_str(text)?),
                OutboxKind::ReinstateService => Payload::ReinstateService(serde_json::from_str(text)?),
            })
        };
        read().map_err(|e| anyhow::anyhow!("an outbox payload of {} that does not read: {e}", kind.as_str()))
    }

    /// As stored.
    pub(crate) fn text(&self) -> String {
        serde_json::to_string(self).expect("payloads serialize")
    }

    /// The escalation it carries out, if it is one.
    pub fn escalation(&self) -> Option<&Escalation> {
        match self {
            Payload::Escalate(e) => Some(&e.escalate),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Escalation as Asked, FeeAsked as Fee, PlanAsked as Plan, Reminder as Remind};

    /// A payload is stored in the decision record's shape, so that rows
    /// written before it was a type read back, and read back the same.
    #[test]
    fn every_payload_is_stored_as_its_action_and_reads_back() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1);
        let actions = [
            (
                OutboxKind::Remind,
                Action::Remind(Remind {
                    step: "s".into(),
                    channel: "email".into(),
                    template: "t".into(),
                    tone: Tone::Firm,
                    deadline: day,
                }),
            ),
            (OutboxKind::RetryPayment, Action::RetryPayment { step: "r".into(), at: 7 }),
            (
                OutboxKind::Escalate,
                Action::Escalate(Asked { step: "e".into(), kind: EscalationKind::SuspendService, reason: "x".into() }),
            ),
            (
                OutboxKind::ApplyFee,
                Action::ApplyFee(Fee { step: "f".into(), minor: 4_000, currency: "EUR".into(), reason: "late".into() }),
            ),
            (
                OutboxKind::OfferPlan,
                Action::OfferPlan(Plan { step: "p".into(), instalments: 3, first_due: None, every_days: 30 }),
            ),
        ];
        for (kind, action) in actions {
            let payload = Payload::of(&action).unwrap();
            let stored: serde_json::Value = serde_json::from_str(&payload.text()).unwrap();
            // The action as the decision record keeps it, and beside it only what the host adds.
            let (stored, asked) = (stored.as_object().unwrap(), action.to_json());
            for (key, value) in asked.as_object().unwrap() {
                assert_eq!(stored.get(key), Some(value), "{kind:?}");
            }
            let added: Vec<&String> = stored.keys().filter(|k| asked.get(k).is_none()).collect();
            assert!(added.iter().all(|k| ["decline_code", "attempt"].contains(&k.as_str())), "{kind:?}: {added:?}");
            assert_eq!(Payload::parse(kind, &payload.text()).unwrap(), payload, "{kind:?}");
        }
        // What the host adds reads back; a payload of another kind does not.
        let retry = r#"{"retry-payment": {"step": "r", "at": 7}, "decline_code": "expired_card", "attempt": 2}"#;
        let Payload::RetryPayment(read) = Payload::parse(OutboxKind::RetryPayment, retry).unwrap() else { panic!() };
        assert_eq!((read.decline_code.as_deref(), read.attempt), (Some("expired_card"), 2));
        let err = Payload::parse(OutboxKind::Remind, retry).unwrap_err().to_string();
        assert!(err.contains("remind"), "{err}");
        let reinstate = r#"{"reinstate-service": {"step": "s-reinstate", "undoes": "s"}}"#;
        let read = Payload::parse(OutboxKind::ReinstateService, reinstate).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), reinstate.replace(' ', ""));
    }
}
