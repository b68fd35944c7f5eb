//! What a policy sees of an invoice's past and what it decides, in the host's
//! own terms. Whatever contract version a policy speaks, the sandbox converts
//! its answer to these at the edge; nothing else knows the generated bindings.

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::invoice::{Customer, Invoice};

/// How a message sounds, from the first nudge to the legal demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tone {
    Courteous,
    Soft,
    Firm,
    Final,
    Formal,
}

impl Tone {
    pub const ALL: [Tone; 5] = [Tone::Courteous, Tone::Soft, Tone::Firm, Tone::Final, Tone::Formal];

    pub fn name(self) -> &'static str {
        match self {
            Tone::Courteous => "courteous",
            Tone::Soft => "soft",
            Tone::Firm => "firm",
            Tone::Final => "final",
            Tone::Formal => "formal",
        }
    }

    /// Its place from the mildest (0): `level` in the templates.
    pub fn level(self) -> usize {
        self as usize
    }

    /// The tone a stored name stands for.
    pub fn parse(name: &str) -> Option<Tone> {
        Tone::ALL.into_iter().find(|t| t.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EscalationKind {
    SuspendService,
    FinalNotice,
    FormalNotice,
    Collections,
    ManualReview,
}

impl EscalationKind {
    pub fn name(self) -> &'static str {
        match self {
            EscalationKind::SuspendService => "suspend-service",
            EscalationKind::FinalNotice => "final-notice",
            EscalationKind::FormalNotice => "formal-notice",
            EscalationKind::Collections => "collections",
            EscalationKind::ManualReview => "manual-review",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    Paid,
    WrittenOff,
    Collections,
}

impl CloseReason {
    pub fn name(self) -> &'static str {
        match self {
            CloseReason::Paid => "paid",
            CloseReason::WrittenOff => "written-off",
            CloseReason::Collections => "collections",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reminder {
    pub step: String,
    pub channel: String,
    pub template: String,
    pub tone: Tone,
    /// None also when the policy gave a date that does not exist.
    pub deadline: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub step: String,
    pub kind: EscalationKind,
    pub reason: String,
}

/// A fee a policy asks for; the host checks it before adding it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeeAsked {
    pub step: String,
    pub minor: i64,
    pub currency: String,
    pub reason: String,
}

/// A payment plan a policy offers; the host splits what is outstanding.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanAsked {
    pub step: String,
    pub instalments: u32,
    /// None when the policy gave a date that does not exist.
    pub first_due: Option<NaiveDate>,
    pub every_days: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Remind(Reminder),
    /// Charge again at a time (seconds since the epoch).
    RetryPayment {
        step: String,
        at: i64,
    },
    Escalate(Escalation),
    ApplyFee(FeeAsked),
    OfferPlan(PlanAsked),
    /// Nothing on this invoice until then.
    Pause(i64),
    Close(CloseReason),
}

impl Action {
    /// Whether the customer feels the action (held back by a dispute, a
    /// promise, a plan, a stop): everything but a review inside the business.
    /// A hand-over to collections is felt: no debt goes to an agency while disputed.
    pub fn touches_customer(&self) -> bool {
        !matches!(
            self,
            Action::Escalate(Escalation { kind: EscalationKind::ManualReview, .. })
                | Action::Pause(_)
                | Action::Close(_)
        )
    }

    /// The step id that makes the action happen at most once, if it has one.
    pub fn step(&self) -> Option<&str> {
        match self {
            Action::Remind(r) => Some(&r.step),
            Action::RetryPayment { step, .. } => Some(step),
            Action::Escalate(e) => Some(&e.step),
            Action::ApplyFee(f) => Some(&f.step),
            Action::OfferPlan(p) => Some(&p.step),
            Action::Pause(_) | Action::Close(_) => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Action::Remind(_) => "remind",
            Action::RetryPayment { .. } => "retry-payment",
            Action::Escalate(_) => "escalate",
            Action::ApplyFee(_) => "apply-fee",
            Action::OfferPlan(_) => "offer-plan",
            Action::Pause(_) => "pause",
            Action::Close(_) => "close",
        }
    }

    /// The action as JSON, for the decision record and the outbox payload.
    pub fn to_json(&self) -> Value {
        let date = |d: Option<NaiveDate>| d.map(|d| d.to_string());
        match self {
            Action::Remind(r) => json!({
                "remind": { "step": r.step, "channel": r.channel, "template": r.template, "tone": r.tone.name(),
                            "deadline": date(r.deadline) }
            }),
            Action::RetryPayment { step, at } => json!({ "retry-payment": { "step": step, "at": at } }),
            Action::Escalate(e) => json!({ "escalate": { "step": e.step, "kind": e.kind.name(), "reason": e.reason } }),
            Action::ApplyFee(f) => json!({
                "apply-fee": { "step": f.step, "minor": f.minor, "currency": f.currency, "reason": f.reason }
            }),
            Action::OfferPlan(p) => json!({
                "offer-plan": { "step": p.step, "instalments": p.instalments, "first-due": date(p.first_due),
                                "every-days": p.every_days }
            }),
            Action::Pause(t) => json!({ "pause": t }),
            Action::Close(r) => json!({ "close": r.name() }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub actions: Vec<Action>,
    /// When the policy wants to look again; None waits for an event.
    pub next_review: Option<i64>,
}

impl Decision {
    /// The actions as one JSON array, as the decision log keeps them.
    pub fn actions_json(&self) -> String {
        Value::Array(self.actions.iter().map(Action::to_json).collect()).to_string()
    }
}

/// An action of a policy's answer that the host refused outright, kept with
/// its decision so that the policy's author can see it and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refused {
    /// The action's kind (`remind`, `apply-fee`...).
    pub action: String,
    pub step: String,
    pub why: RefusedWhy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusedWhy {
    /// The step was carried out on this invoice already: a step happens once.
    StepDone,
    /// Another reminder of the same decision goes in this tick: one per invoice per tick.
    OnePerTick,
    /// The customer replied and a person has yet to read it: asked again after the hold.
    AwaitingReply,
    /// A bank credit may have paid it and a person has yet to match it: asked again after the hold.
    AwaitingBankMatch,
}

impl RefusedWhy {
    /// Its name as the record and the UI's words know it.
    pub fn name(self) -> &'static str {
        match self {
            RefusedWhy::StepDone => "step-done",
            RefusedWhy::OnePerTick => "one-per-tick",
            RefusedWhy::AwaitingReply => "awaiting-reply",
            RefusedWhy::AwaitingBankMatch => "awaiting-bank-match",
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.why {
            RefusedWhy::StepDone => {
                write!(f, "{} {}: refused, the step was already carried out", self.action, self.step)
            }
            RefusedWhy::OnePerTick => write!(
                f,
                "{} {}: refused, another reminder of this invoice goes in this tick (one per tick)",
                self.action, self.step
            ),
            RefusedWhy::AwaitingReply => write!(
                f,
                "{} {}: held, the customer replied and a person reads it first; asked again after the hold",
                self.action, self.step
            ),
            RefusedWhy::AwaitingBankMatch => write!(
                f,
                "{} {}: held, a bank credit may have paid it and a person matches it first; asked again after the hold",
                self.action, self.step
            ),
        }
    }
}

/// What became of a contact, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactOutcome {
    Pending,
    Sent,
    Delivered,
    Failed,
    Bounced,
    Cancelled,
}

/// A step already taken on an invoice, oldest first in its history.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub step: String,
    pub channel: Option<String>,
    pub tone: Option<Tone>,
    /// When it was done, or decided if it is not yet.
    pub at: i64,
    pub outcome: ContactOutcome,
}

/// A policy setting from the operator's config.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Setting {
    pub key: String,
    pub value: String,
}

/// One invoice put to a policy: as stored, with its customer and its history.
#[derive(Debug, Clone, Copy)]
pub struct Review<'a> {
    pub invoice: &'a Invoice,
    pub customer: &'a Customer,
    pub history: &'a [Contact],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_review_pauses_and_closes_are_internal() {
        let escalation = |kind| Action::Escalate(Escalation { step: "s".into(), kind, reason: "r".into() });
        assert!(!escalation(EscalationKind::ManualReview).touches_customer());
        // A debt goes to an agency only when the customer could be contacted about it.
        assert!(escalation(EscalationKind::Collections).touches_customer());
        assert!(escalation(EscalationKind::SuspendService).touches_customer());
        assert!(!Action::Pause(0).touches_customer());
        assert!(!Action::Close(CloseReason::Paid).touches_customer());
    }

    #[test]
    fn tones_read_back_from_their_names_and_nothing_else_does() {
        for tone in Tone::ALL {
            assert_eq!(Tone::parse(tone.name()), Some(tone));
        }
        assert_eq!(Tone::parse("Soft"), None);
        assert_eq!(Tone::parse(""), None);
    }
}
