//! A small builder over the WIT `decision`, plus readers for tests.

use crate::{Action, CloseReason, Date, Decision, Escalation, EscalationKind, PaymentRetry, Reminder, Timestamp, Tone};

impl Decision {
    /// Nothing to do, and no review planned: the invoice waits for an event (or is finished).
    pub fn done() -> Self {
        Decision { actions: Vec::new(), next_review: None }
    }

    /// Nothing to do now; look again on `date` (00:00 UTC, so that day's tick sees it).
    pub fn wait_until(date: Date) -> Self {
        Decision::done().review_on(date)
    }

    /// Look again at 00:00 UTC of `date`.
    pub fn review_on(self, date: Date) -> Self {
        self.review_at(date.midnight())
    }

    pub fn review_at(mut self, at: Timestamp) -> Self {
        self.next_review = Some(at);
        self
    }

    /// Look again no later than 00:00 UTC of `date` (keeps an earlier review).
    pub fn review_by(mut self, date: Date) -> Self {
        let at = date.midnight();
        self.next_review = Some(self.next_review.map_or(at, |r| r.min(at)));
        self
    }

    pub fn no_review(mut self) -> Self {
        self.next_review = None;
        self
    }

    /// Send a message. Set its deadline with [`Decision::deadline`].
    pub fn remind(mut self, step: &str, channel: &str, template: &str, tone: Tone) -> Self {
        self.actions.push(Action::Remind(Reminder {
            step: step.into(),
            channel: channel.into(),
            template: template.into(),
            tone,
            deadline: None,
        }));
        self
    }

    /// The settle-by date of the last reminder added (ignored if there is none).
    pub fn deadline(mut self, date: Date) -> Self {
        if let Some(Action::Remind(r)) = self.actions.iter_mut().rev().find(|a| matches!(a, Action::Remind(_))) {
            r.deadline = Some(date);
        }
        self
    }

    pub fn retry_payment(mut self, step: &str, at: Timestamp) -> Self {
        self.actions.push(Action::RetryPayment(PaymentRetry { step: step.into(), at }));
        self
    }

    pub fn escalate(mut self, step: &str, kind: EscalationKind, reason: &str) -> Self {
        self.actions.push(Action::Escalate(Escalation { step: step.into(), kind, reason: reason.into() }));
        self
    }

    pub fn close(mut self, reason: CloseReason) -> Self {
        self.actions.push(Action::Close(reason));
        self
    }

    pub fn push(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }

    /// The reminders in this decision (at most one from a well-behaved policy).
    pub fn reminders(&self) -> impl Iterator<Item = &Reminder> {
        self.actions.iter().filter_map(|a| match a {
            Action::Remind(r) => Some(r),
            _ => None,
        })
    }

    pub fn reminder(&self) -> Option<&Reminder> {
        self.reminders().next()
    }

    /// The step ids of the actions, in order (close has none).
    pub fn steps(&self) -> Vec<&str> {
        self.actions.iter().filter_map(Action::step).collect()
    }

    /// The date of the next review, if any.
    pub fn review_date(&self) -> Option<Date> {
        self.next_review.map(Date::of)
    }
}

impl Action {
    /// The step id this action carries, if it has one.
    pub fn step(&self) -> Option<&str> {
        match self {
            Action::Remind(r) => Some(&r.step),
            Action::RetryPayment(r) => Some(&r.step),
            Action::Escalate(e) => Some(&e.step),
            Action::ApplyFee(f) => Some(&f.step),
            Action::OfferPlan(p) => Some(&p.step),
            Action::Close(_) => None,
        }
    }
}

impl Tone {
    /// The lower-case WIT name, for logs and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Tone::Courteous => "courteous",
            Tone::Soft => "soft",
            Tone::Firm => "firm",
            Tone::Final => "final",
            Tone::Formal => "formal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder() {
        let d = Date::new(2025, 3, 10);
        let decision = Decision::wait_until(d)
            .remind("overdue-30", "email", "final-notice", Tone::Final)
            .deadline(d.add_working_days(5))
            .retry_payment("retry-1", d.at_hour(10))
            .escalate("handover", EscalationKind::Collections, "60 days")
            .close(CloseReason::Collections);
        assert_eq!(decision.next_review, Some(d.midnight()));
        assert_eq!(decision.steps(), ["overdue-30", "retry-1", "handover"]);
        assert_eq!(decision.reminder().and_then(|r| r.deadline), Some(Date::new(2025, 3, 17)));
        assert_eq!(decision.clone().no_review().next_review, None);
        let earlier = decision.review_by(Date::new(2025, 3, 1));
        assert_eq!(earlier.review_date(), Some(Date::new(2025, 3, 1)));
        let kept = earlier.review_by(Date::new(2025, 4, 1));
        assert_eq!(kept.review_date(), Some(Date::new(2025, 3, 1)));
        assert_eq!(Decision::done().actions.len(), 0);
    }
}
