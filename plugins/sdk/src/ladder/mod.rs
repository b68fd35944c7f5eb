//! A dunning ladder: the steps of a policy, each on its date, turned into
//! one decision that follows the conventions the host relies on.
//!
//! - a step is done once (any contact with its id in the history);
//! - after downtime or a late import, several steps may be due at once. By
//!   default ([`CatchUp::Latest`]) only the latest of them fires and earlier
//!   ones are skipped for good (a step is skipped once a later step of its
//!   track is done); with [`CatchUp::FirstNotDone`] the first fires and the
//!   others follow one by one, each after the gap. Either way a step marked
//!   [`Rung::not_first`] (a formal demand, a hand-over) never opens the
//!   conversation: while no message of the invoice has gone out, the latest
//!   due step without the mark fires in its place;
//! - at most one reminder per decision, and at least `min_gap_days`
//!   (setting, default 5) between two messages: a reminder whose day has
//!   come waits until the gap has passed;
//! - channels the customer opted out of (or has no address for), or that
//!   failed for good on this invoice, are replaced by a fallback
//!   ([`Customer::channel_for`]); a step with no usable channel is skipped;
//! - an escalation ends the ladder: once it is done nothing else happens;
//! - the next review is 00:00 UTC of the first day something could happen,
//!   never earlier than tomorrow.
//!
//! [`Customer::channel_for`]: crate::Customer::channel_for

use core::cmp::Reverse;
use std::borrow::Cow;

use crate::{
    Action, CloseReason, Ctx, Date, Decision, Escalation, EscalationKind, Fee, InvoiceView, Outcome, PaymentRetry,
    PlanOffer, Reminder, Timestamp, Tone,
};

/// Text a rung holds: borrowed when the policy names it with a literal (most
/// do), owned when it builds it. Only the rung that fires turns its text into
/// the `String`s of an action, so a ladder allocates little per invoice.
type Text<'a> = Cow<'a, str>;

/// A rung's message, before it becomes a [`Reminder`].
#[derive(Clone, Debug)]
struct Message<'a> {
    step: Text<'a>,
    channel: Text<'a>,
    template: Text<'a>,
    tone: Tone,
    deadline: Option<Date>,
}

/// Which steps compete with each other: a later step supersedes an earlier
/// one of the same track only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Track {
    /// The dunning sequence proper: reminders up to the escalation.
    Main,
    /// Scheduled payment retries.
    Retry,
    /// Stand-alone notices (card expiring, unfinished setup): none supersedes another.
    Notice,
}

/// Which of several steps due at once fires (see the module's notes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CatchUp {
    /// The latest step due; the earlier ones are skipped for good.
    #[default]
    Latest,
    /// The first step due and not done; the later ones follow, one per decision.
    FirstNotDone,
}

/// One step of a [`Ladder`], configured with its builder methods.
#[derive(Clone, Debug)]
pub struct Rung<'a> {
    step: Text<'a>,
    on: Date,
    track: Track,
    until: Option<Date>,
    after: Option<(Text<'a>, i64)>,
    reminder: Option<Message<'a>>,
    /// The kind and reason of an escalation (its step is the rung's).
    escalation: Option<(EscalationKind, Text<'a>)>,
    retry_at: Option<Timestamp>,
    /// Instalments, the first due date, days between them.
    offer: Option<(u32, Date, u32)>,
    /// Fees added when the rung fires, before its message (which then shows
    /// them): step, minor units, reason.
    fees: Vec<(Text<'a>, i64, Text<'a>)>,
    close: Option<CloseReason>,
    not_first: bool,
    unless_answered: bool,
}

impl<'a> Rung<'a> {
    fn new(step: Text<'a>, on: Date, track: Track) -> Self {
        Rung {
            step,
            on,
            track,
            until: None,
            after: None,
            reminder: None,
            escalation: None,
            retry_at: None,
            offer: None,
            fees: Vec::new(),
            close: None,
            not_first: false,
            unless_answered: false,
        }
    }

    /// Never the first message of the invoice: after a late import, an earlier
    /// step goes out first, and this one follows after the gap.
    pub fn not_first(&mut self) -> &mut Self {
        self.not_first = true;
        self
    }

    /// Not if the customer answered: the step is dropped once they replied on
    /// or after the day the step it follows ([`Rung::after`]) took effect,
    /// or, without one, the day of the latest message before it ("a letter
    /// if the email got no answer").
    pub fn unless_answered(&mut self) -> &mut Self {
        self.unless_answered = true;
        self
    }

    /// The settle-by date printed in this step's message.
    pub fn deadline(&mut self, date: Date) -> &mut Self {
        if let Some(r) = &mut self.reminder {
            r.deadline = Some(date);
        }
        self
    }

    /// The last day this step may fire; after it the step is dropped.
    pub fn until(&mut self, date: Date) -> &mut Self {
        self.until = Some(date);
        self
    }

    /// Fire only once `step` took effect (a message sent or delivered, not
    /// one waiting, failed, bounced or cancelled), and `days` days after it at the earliest.
    pub fn after(&mut self, step: impl Into<Text<'a>>, days: i64) -> &mut Self {
        self.after = Some((step.into(), days));
        self
    }

    /// Also close the invoice when this step fires.
    pub fn close(&mut self, reason: CloseReason) -> &mut Self {
        self.close = Some(reason);
        self
    }

    /// Adds a fee of `minor` units of the invoice currency when this rung
    /// fires (its own step, so it is added once).
    pub fn and_fee(&mut self, step: impl Into<Text<'a>>, minor: i64, reason: impl Into<Text<'a>>) -> &mut Self {
        self.fees.push((step.into(), minor, reason.into()));
        self
    }

    /// Also send a message when this step fires (for example the notice
    /// that goes with a suspension). Its step id counts as this step's too.
    pub fn and_remind(
        &mut self,
        step: impl Into<Text<'a>>,
        channel: impl Into<Text<'a>>,
        template: impl Into<Text<'a>>,
        tone: Tone,
    ) -> &mut Self {
        self.reminder = Some(message(step.into(), channel.into(), template.into(), tone));
        self
    }

    fn ids(&self) -> impl Iterator<Item = &str> {
        core::iter::once(&*self.step).chain(self.reminder.as_ref().map(|r| &*r.step))
    }

    fn terminal(&self) -> bool {
        self.escalation.is_some()
    }
}

fn message<'a>(step: Text<'a>, channel: Text<'a>, template: Text<'a>, tone: Tone) -> Message<'a> {
    Message { step, channel, template, tone, deadline: None }
}

/// The steps of a policy for one invoice; [`Ladder::decide`] turns them into a decision.
pub struct Ladder<'a> {
    inv: &'a InvoiceView,
    ctx: &'a Ctx,
    min_gap: i64,
    rungs: Vec<Rung<'a>>,
    checkpoints: Vec<Date>,
    catch_up: CatchUp,
}

/// What is known about the invoice while deciding: the history, plus what
/// this decision emits.
struct State<'s> {
    inv: &'s InvoiceView,
    today: Date,
    emitted: Vec<usize>,
    /// Date of the latest message, this decision's included.
    last_message: Option<Date>,
}

impl State<'_> {
    fn done(&self, rungs: &[Rung<'_>], i: usize) -> bool {
        self.emitted.contains(&i) || rungs[i].ids().any(|id| self.inv.step_done(id))
    }

    /// When `step` took effect (a message sent, not only decided or failed),
    /// counting this decision's steps as done today.
    fn step_date(&self, rungs: &[Rung<'_>], step: &str) -> Option<Date> {
        let now = self.emitted.iter().any(|&i| rungs[i].ids().any(|id| id == step));
        if now { Some(self.today) } else { self.inv.step_effective_date(step) }
    }

    /// `step` was tried and will never take effect: failed, bounced or cancelled.
    fn failed(&self, step: &str) -> bool {
        self.inv
            .contact(step)
            .is_some_and(|c| matches!(c.outcome, Outcome::Failed | Outcome::Bounced | Outcome::Cancelled))
    }

    /// The rung waits for no answer, and the customer answered what it follows.
    fn answered(&self, rungs: &[Rung<'_>], i: usize) -> bool {
        let r = &rungs[i];
        let Some(reply) = self.inv.reply.as_ref().filter(|_| r.unless_answered) else { return false };
        let since = match &r.after {
            Some((step, _)) => match self.step_date(rungs, step) {
                Some(day) => Some(day),
                // What it follows has not happened: nothing of it is answered yet.
                None => return false,
            },
            None => self.inv.last_message().map(|c| Date::of(c.at)),
        };
        since.is_none_or(|since| Date::of(reply.at) >= since)
    }

    /// A later step of the same track is done: this one will never fire.
    fn superseded(&self, rungs: &[Rung<'_>], i: usize) -> bool {
        let r = &rungs[i];
        r.track != Track::Notice
            && rungs.iter().enumerate().any(|(j, o)| o.track == r.track && o.on > r.on && self.done(rungs, j))
    }
}

impl<'a> Ladder<'a> {
    /// An empty ladder; reads `min_gap_days` (default 5) from the settings.
    pub fn new(inv: &'a InvoiceView, ctx: &'a Ctx) -> Result<Self, String> {
        Ok(Ladder {
            inv,
            ctx,
            min_gap: ctx.min_gap_days()?,
            rungs: Vec::with_capacity(8),
            checkpoints: Vec::new(),
            catch_up: CatchUp::Latest,
        })
    }

    /// Which of several steps due at once fires (default [`CatchUp::Latest`]).
    pub fn catch_up(&mut self, how: CatchUp) -> &mut Self {
        self.catch_up = how;
        self
    }

    fn push(&mut self, rung: Rung<'a>) -> &mut Rung<'a> {
        self.rungs.push(rung);
        let last = self.rungs.len() - 1;
        &mut self.rungs[last]
    }

    /// A reminder of the dunning sequence, due `on`.
    pub fn remind(
        &mut self,
        step: impl Into<Text<'a>>,
        on: Date,
        channel: impl Into<Text<'a>>,
        template: impl Into<Text<'a>>,
        tone: Tone,
    ) -> &mut Rung<'a> {
        self.message_rung(step.into(), on, Track::Main, channel.into(), template.into(), tone)
    }

    /// The escalation that ends the sequence, due `on`; nothing follows it.
    pub fn escalate(
        &mut self,
        step: impl Into<Text<'a>>,
        on: Date,
        kind: EscalationKind,
        reason: impl Into<Text<'a>>,
    ) -> &mut Rung<'a> {
        let mut rung = Rung::new(step.into(), on, Track::Main);
        rung.escalation = Some((kind, reason.into()));
        self.push(rung)
    }

    /// A stand-alone message outside the sequence (it neither skips nor is
    /// skipped by other steps), still one message per decision and within the gap.
    pub fn notice(
        &mut self,
        step: impl Into<Text<'a>>,
        on: Date,
        channel: impl Into<Text<'a>>,
        template: impl Into<Text<'a>>,
        tone: Tone,
    ) -> &mut Rung<'a> {
        self.message_rung(step.into(), on, Track::Notice, channel.into(), template.into(), tone)
    }

    fn message_rung(
        &mut self,
        step: Text<'a>,
        on: Date,
        track: Track,
        channel: Text<'a>,
        template: Text<'a>,
        tone: Tone,
    ) -> &mut Rung<'a> {
        let mut rung = Rung::new(step.clone(), on, track);
        rung.reminder = Some(message(step, channel, template, tone));
        self.push(rung)
    }

    /// A payment retry at `at`, emitted from `on`; a retry whose time has
    /// passed is asked for now. Retries are not messages: they go with a reminder.
    pub fn retry_payment(&mut self, step: impl Into<Text<'a>>, on: Date, at: Timestamp) -> &mut Rung<'a> {
        let mut rung = Rung::new(step.into(), on, Track::Retry);
        rung.retry_at = Some(at);
        self.push(rung)
    }

    /// Offer a payment plan from `on`: the host splits what is outstanding into
    /// `instalments` due `every_days` apart from `first_due`, sends the offer,
    /// and, once the customer accepts, holds dunning while the plan is kept.
    pub fn offer_plan(
        &mut self,
        step: impl Into<Text<'a>>,
        on: Date,
        instalments: u32,
        first_due: Date,
        every_days: u32,
    ) -> &mut Rung<'a> {
        let mut rung = Rung::new(step.into(), on, Track::Main);
        rung.offer = Some((instalments, first_due, every_days));
        self.push(rung)
    }

    /// Look at the invoice again on `date` even if no step is due then.
    pub fn review_on(&mut self, date: Date) {
        self.checkpoints.push(date);
    }

    /// The channel this rung's message would use, if it has a message and a usable channel.
    fn channel<'r>(&self, rung: &'r Rung<'_>) -> Option<Option<&'r str>> {
        rung.reminder.as_ref().map(|r| self.inv.usable_channel(&r.channel))
    }

    /// Could this rung ever be sent (a message needs a usable channel)?
    fn sendable(&self, rung: &Rung<'_>) -> bool {
        !matches!(self.channel(rung), Some(None))
    }

    fn gap_ends(&self, state: &State) -> Option<Date> {
        state.last_message.map(|d| d.add_days(self.min_gap))
    }

    /// The first day from `earliest` on that `rung` may fire given the state,
    /// or `None` if it cannot be known yet (it waits for a step not done) or
    /// its window closes before.
    fn ready_on(&self, state: &State, i: usize, earliest: Date) -> Option<Date> {
        let r = &self.rungs[i];
        if state.answered(&self.rungs, i) {
            return None;
        }
        let mut day = r.on.max(earliest);
        if let Some((step, days)) = &r.after {
            match state.step_date(&self.rungs, step) {
                Some(done) => day = day.max(done.add_days(*days)),
                // Decided and not yet sent (a sending window, a retry): look again tomorrow.
                None if state.inv.step_done(step) && !state.failed(step) => day = day.max(state.today.add_days(1)),
                None => return None,
            }
        }
        if r.reminder.is_some()
            && let Some(gap) = self.gap_ends(state)
        {
            day = day.max(gap);
        }
        match r.until {
            Some(until) if day > until => None,
            _ => Some(day),
        }
    }

    /// Of a track, the one step due today that may fire (not done, not
    /// skipped, its window open and its prerequisite done): the latest or the
    /// first, as the ladder catches up; never a `not_first` step before any message.
    fn candidate(&self, state: &State, track: Track) -> Option<usize> {
        let today = state.today;
        let opening = state.last_message.is_none();
        let due = self.rungs.iter().enumerate().filter(|(i, r)| {
            r.track == track
                && r.on <= today
                && r.until.is_none_or(|u| today <= u)
                && r.after.as_ref().is_none_or(|(s, _)| state.step_date(&self.rungs, s).is_some())
                && self.sendable(r)
                && !state.done(&self.rungs, *i)
                && !state.superseded(&self.rungs, *i)
                && !state.answered(&self.rungs, *i)
                && !(opening && r.not_first)
        });
        match self.catch_up {
            CatchUp::Latest => due.max_by_key(|(i, r)| (r.on, Reverse(*i))),
            CatchUp::FirstNotDone => due.min_by_key(|(i, r)| (r.on, *i)),
        }
        .map(|(i, _)| i)
    }

    /// The actions of the rung that fires: its text becomes `String`s only here.
    fn emit(&self, i: usize, mut decision: Decision) -> Decision {
        let r = &self.rungs[i];
        if let Some((kind, reason)) = &r.escalation {
            let escalation = Escalation { step: r.step.to_string(), kind: *kind, reason: reason.to_string() };
            decision.actions.push(Action::Escalate(escalation));
        }
        for (step, minor, reason) in &r.fees {
            let fee = Fee { step: step.to_string(), minor: *minor, reason: reason.to_string() };
            decision.actions.push(Action::ApplyFee(fee));
        }
        if let (Some(m), Some(Some(channel))) = (&r.reminder, self.channel(r)) {
            decision.actions.push(Action::Remind(Reminder {
                step: m.step.to_string(),
                channel: channel.to_string(),
                template: m.template.to_string(),
                tone: m.tone,
                deadline: m.deadline,
            }));
        }
        if let Some(at) = r.retry_at {
            decision
                .actions
                .push(Action::RetryPayment(PaymentRetry { step: r.step.to_string(), at: at.max(self.ctx.now) }));
        }
        if let Some((instalments, first_due, every_days)) = r.offer {
            let offer = PlanOffer { step: r.step.to_string(), instalments, first_due, every_days };
            decision.actions.push(Action::OfferPlan(offer));
        }
        if let Some(reason) = r.close {
            decision.actions.push(Action::Close(reason));
        }
        decision
    }

    /// The decision for today: the step to take now (if any) and the next review.
    pub fn decide(&self) -> Decision {
        let today = self.ctx.today;
        let mut state = State {
            inv: self.inv,
            today,
            emitted: Vec::new(),
            last_message: self.inv.last_message().map(|c| Date::of(c.at)),
        };
        // An escalation hands the invoice over: nothing follows it.
        if (0..self.rungs.len()).any(|i| self.rungs[i].terminal() && state.done(&self.rungs, i)) {
            return Decision::done();
        }

        // Say why a due step will not go out: the host cannot see it otherwise.
        for (i, r) in self.rungs.iter().enumerate() {
            if r.on <= today && !self.sendable(r) && !state.done(&self.rungs, i) && !state.superseded(&self.rungs, i) {
                crate::log::debug(&format!("invoice {}: step {} skipped: no usable channel", self.inv.id, r.step));
            }
        }

        let ready_today = |state: &State, i: usize| self.ready_on(state, i, today).is_some_and(|d| d <= today);
        let mut decision = Decision::done();
        let mut reminded = false;
        for track in [Track::Main, Track::Retry] {
            if let Some(i) = self.candidate(&state, track)
                && ready_today(&state, i)
            {
                decision = self.emit(i, decision);
                state.emitted.push(i);
                reminded |= self.rungs[i].reminder.is_some();
            }
        }
        if !reminded {
            // The oldest notice that may go out today.
            let notice = (0..self.rungs.len())
                .filter(|&i| {
                    let r = &self.rungs[i];
                    r.track == Track::Notice
                        && r.on <= today
                        && self.sendable(r)
                        && !state.done(&self.rungs, i)
                        && ready_today(&state, i)
                })
                .min_by_key(|&i| (self.rungs[i].on, i));
            if let Some(i) = notice {
                decision = self.emit(i, decision);
                state.emitted.push(i);
                reminded = true;
            }
        }
        if reminded {
            state.last_message = Some(today);
        }
        if state.emitted.iter().any(|&i| self.rungs[i].terminal()) {
            return decision;
        }

        let tomorrow = today.add_days(1);
        let next = (0..self.rungs.len())
            .filter(|&i| {
                self.sendable(&self.rungs[i]) && !state.done(&self.rungs, i) && !state.superseded(&self.rungs, i)
            })
            .filter_map(|i| self.ready_on(&state, i, tomorrow))
            .chain(self.checkpoints.iter().copied().filter(|d| *d > today))
            .min();
        match next {
            Some(day) => decision.review_on(day),
            None => decision,
        }
    }
}

#[cfg(test)]
mod tests;
