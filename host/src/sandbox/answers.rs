//! What a policy answers, checked before the host takes it: the number of
//! actions, the next review after now, step ids, channels and template
//! names as plain tokens (and declared, from contract 0.2 on), and the size
//! of the whole answer.

use super::Plugin;
use crate::decision::{Action, Decision};

impl Plugin {
    /// Rejects decisions the host could not carry out safely.
    pub(super) fn check(&self, d: &Decision, now: i64) -> Result<(), String> {
        if d.actions.len() > self.limits.actions_per_decision {
            return Err(format!(
                "{} actions in one decision (at most {})",
                d.actions.len(),
                self.limits.actions_per_decision
            ));
        }
        if let Some(next) = d.next_review
            && next <= now
        {
            return Err(format!("next review {next} is not after now ({now})"));
        }
        for action in &d.actions {
            if let Some(step) = action.step()
                && !is_token(step)
            {
                return Err(format!(
                    "{} has an invalid step id {step:?} (1-64 of a-z, 0-9, '-', '_', '.')",
                    action.kind()
                ));
            }
            if let Action::Remind(r) = action {
                if !is_token(&r.channel) {
                    return Err(format!("remind has an invalid channel {:?}", r.channel));
                }
                if !is_token(&r.template) {
                    return Err(format!("remind has an invalid template name {:?}", r.template));
                }
                if let Some(declared) = &self.declared {
                    if !declared.templates.contains(&r.template) {
                        return Err(format!("remind names template {:?}, which describe did not declare", r.template));
                    }
                    if !declared.channels.contains(&r.channel) {
                        return Err(format!("remind names channel {:?}, which describe did not declare", r.channel));
                    }
                }
            }
        }
        Ok(())
    }
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

pub(super) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub(super) fn answer_size(r: &Result<Decision, String>) -> usize {
    match r {
        Ok(d) => 16 + d.actions.iter().map(|a| 32 + text_len(a)).sum::<usize>(),
        Err(e) => e.len(),
    }
}

/// Bytes of text an action carries, for the cap on a plugin's answer.
fn text_len(action: &Action) -> usize {
    match action {
        Action::Remind(r) => r.step.len() + r.channel.len() + r.template.len(),
        Action::RetryPayment { step, .. } => step.len(),
        Action::Escalate(e) => e.step.len() + e.reason.len(),
        Action::ApplyFee(f) => f.step.len() + f.reason.len() + f.currency.len(),
        Action::OfferPlan(p) => p.step.len(),
        Action::Pause(_) | Action::Close(_) => 0,
    }
}
