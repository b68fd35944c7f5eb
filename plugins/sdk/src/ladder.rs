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
        }
    }

    /// Never the first message of the invoice: after a late import, an earlier
    /// step goes out first, and this one follows after the gap.
    pub fn not_first(&mut self) -> &mut Self {
        self.not_first = true;
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
mod tests {
    use super::*;
    use crate::testing::{at, contact, invoice};

    const DUE: Date = Date::new(2025, 3, 3);

    fn day(n: i64) -> Date {
        DUE.add_days(n)
    }

    /// A three-step sequence ending in an escalation, evaluated `n` days after due.
    fn run(n: i64, inv: &InvoiceView) -> Decision {
        let ctx = Ctx::new(day(n).at_hour(9), vec![]);
        let mut l = Ladder::new(inv, &ctx).unwrap();
        l.remind("pre", day(-4), "email", "pre-due", Tone::Courteous).until(day(-1));
        l.remind("soft", day(7), "email", "overdue-soft", Tone::Soft);
        l.remind("firm", day(15), "email", "overdue-firm", Tone::Firm).deadline(day(30));
        l.escalate("hand", day(30), EscalationKind::Collections, "unpaid")
            .after("firm", 10)
            .close(CloseReason::Collections);
        l.decide()
    }

    fn sent(inv: &mut InvoiceView, step: &str, n: i64) {
        inv.history.push(contact(step, Some("email"), day(n)));
    }

    #[test]
    fn waits_for_the_first_step() {
        let inv = invoice(DUE, 100_00, "EUR");
        let d = run(-10, &inv);
        assert!(d.actions.is_empty());
        assert_eq!(d.review_date(), Some(day(-4)));
    }

    #[test]
    fn windowed_step_is_dropped_after_its_window() {
        let inv = invoice(DUE, 100_00, "EUR");
        assert_eq!(run(-2, &inv).steps(), ["pre"]);
        let d = run(0, &inv);
        assert!(d.actions.is_empty());
        assert_eq!(d.review_date(), Some(day(7)));
    }

    #[test]
    fn fires_once_then_schedules_the_next() {
        let mut inv = invoice(DUE, 100_00, "EUR");
        let d = run(7, &inv);
        assert_eq!(d.steps(), ["soft"]);
        assert_eq!(d.review_date(), Some(day(15)));
        sent(&mut inv, "soft", 7);
        let d = run(8, &inv);
        assert!(d.actions.is_empty());
        assert_eq!(d.review_date(), Some(day(15)));
        let d = run(15, &inv);
        assert_eq!(d.steps(), ["firm"]);
        assert_eq!(d.reminder().and_then(|r| r.deadline), Some(day(30)));
        // The escalation waits for its prerequisite's delay (15 + 10 < 30).
        assert_eq!(d.review_date(), Some(day(30)));
    }

    #[test]
    fn a_step_after_another_waits_until_that_one_was_sent() {
        // Firm was decided on day 15; the hand-over (firm + 10) waits while firm has not left...
        let mut inv = invoice(DUE, 100_00, "EUR");
        sent(&mut inv, "soft", 7);
        sent(&mut inv, "firm", 15);
        inv.history[1].outcome = crate::Outcome::Pending;
        let waiting = run(31, &inv);
        assert!(waiting.steps().is_empty());
        // It looks again the next day, to see whether firm has left by then.
        assert_eq!(waiting.review_date(), Some(day(32)));
        // ...never follows one that failed, bounced or was cancelled...
        for never in [crate::Outcome::Failed, crate::Outcome::Bounced, crate::Outcome::Cancelled] {
            inv.history[1].outcome = never;
            assert!(!run(31, &inv).steps().contains(&"hand"), "{never:?}");
        }
        // ...and goes once it was sent (or delivered).
        for left in [crate::Outcome::Sent, crate::Outcome::Delivered] {
            inv.history[1].outcome = left;
            assert_eq!(run(31, &inv).steps(), ["hand"], "{left:?}");
        }
    }

    /// soft (7), firm (15), a formal demand (25) that never opens, evaluated `n` days after due.
    fn formal_ladder(n: i64, inv: &InvoiceView, how: CatchUp) -> Decision {
        let ctx = Ctx::new(day(n).at_hour(9), vec![]);
        let mut l = Ladder::new(inv, &ctx).unwrap();
        l.catch_up(how);
        l.remind("soft", day(7), "email", "overdue-soft", Tone::Soft);
        l.remind("firm", day(15), "email", "overdue-firm", Tone::Firm);
        l.remind("formal", day(25), "pec", "formal-notice", Tone::Formal).not_first();
        l.decide()
    }

    #[test]
    fn a_not_first_step_never_opens_the_conversation() {
        let mut inv = invoice(DUE, 100_00, "EUR");
        // 30 days late, nothing sent: the formal demand is the latest due, yet firm goes first.
        let d = formal_ladder(30, &inv, CatchUp::Latest);
        assert_eq!(d.steps(), ["firm"]);
        // The formal demand follows after the gap (5 days by default).
        assert_eq!(d.review_date(), Some(day(35)));
        sent(&mut inv, "firm", 30);
        assert!(formal_ladder(33, &inv, CatchUp::Latest).actions.is_empty());
        assert_eq!(formal_ladder(35, &inv, CatchUp::Latest).steps(), ["formal"]);
        // Once a message went out, the mark changes nothing: latest due fires.
        let mut reminded = invoice(DUE, 100_00, "EUR");
        sent(&mut reminded, "soft", 7);
        assert_eq!(formal_ladder(30, &reminded, CatchUp::Latest).steps(), ["formal"]);
    }

    #[test]
    fn catching_up_from_the_first_step_walks_the_ladder_with_the_gap() {
        let mut inv = invoice(DUE, 100_00, "EUR");
        let d = formal_ladder(30, &inv, CatchUp::FirstNotDone);
        assert_eq!(d.steps(), ["soft"]);
        assert_eq!(d.review_date(), Some(day(35)));
        sent(&mut inv, "soft", 30);
        assert_eq!(formal_ladder(35, &inv, CatchUp::FirstNotDone).steps(), ["firm"]);
        sent(&mut inv, "firm", 35);
        assert_eq!(formal_ladder(40, &inv, CatchUp::FirstNotDone).steps(), ["formal"]);
    }

    #[test]
    fn late_import_fires_only_the_latest_due_step() {
        let mut inv = invoice(DUE, 100_00, "EUR");
        // 20 days late: soft and firm are both due, only firm goes out.
        let d = run(20, &inv);
        assert_eq!(d.steps(), ["firm"]);
        // The escalation needs the firm step 10 days back, and is not before day 30.
        assert_eq!(d.review_date(), Some(day(30)));
        // 40 days late: the escalation is due but needs "firm" first.
        let d = run(40, &inv);
        assert_eq!(d.steps(), ["firm"]);
        assert_eq!(d.review_date(), Some(day(50)));
        sent(&mut inv, "firm", 40);
        // "soft" is never sent once "firm" is done.
        let d = run(45, &inv);
        assert!(d.actions.is_empty());
        assert_eq!(d.review_date(), Some(day(50)));
        let d = run(50, &inv);
        assert_eq!(d.steps(), ["hand"]);
        assert_eq!(d.actions.last(), Some(&Action::Close(CloseReason::Collections)));
        assert_eq!(d.next_review, None);
        // Once escalated, nothing more.
        inv.history.push(contact("hand", None, day(50)));
        assert_eq!(run(60, &inv), Decision::done());
    }

    #[test]
    fn keeps_the_gap_between_messages() {
        let mut inv = invoice(DUE, 100_00, "EUR");
        sent(&mut inv, "soft", 12);
        let d = run(15, &inv);
        assert!(d.actions.is_empty());
        assert_eq!(d.review_date(), Some(day(17)));
        assert_eq!(run(17, &inv).steps(), ["firm"]);
        // A cancelled message never reached the customer: no gap.
        inv.history[0].outcome = crate::Outcome::Cancelled;
        assert_eq!(run(15, &inv).steps(), ["firm"]);
    }

    #[test]
    fn opted_out_channel_falls_back_and_unreachable_is_skipped() {
        let mut inv = invoice(DUE, 100_00, "EUR");
        inv.customer.opted_out = vec!["email".into()];
        let d = run(7, &inv);
        assert_eq!(d.reminder().map(|r| r.channel.as_str()), Some("letter"));
        inv.customer.opted_out = vec!["email".into(), "letter".into()];
        let d = run(7, &inv);
        assert!(d.actions.is_empty());
    }

    #[test]
    fn notices_and_retries() {
        let mut inv = invoice(DUE, 100_00, "EUR");
        let ctx = Ctx::new(day(5).at_hour(9), vec![]);
        let build = |inv: &InvoiceView, ctx: &Ctx| {
            let mut l = Ladder::new(inv, ctx).unwrap();
            l.remind("failed", day(0), "email", "payment-failed", Tone::Courteous);
            l.retry_payment("retry-1", day(3), day(3).at_hour(10));
            l.retry_payment("retry-2", day(5), day(5).at_hour(10));
            l.retry_payment("retry-3", day(7), day(7).at_hour(10));
            l.notice("setup", day(0), "email", "setup-incomplete", Tone::Courteous);
            l.notice("setup-2", day(0), "email", "setup-incomplete", Tone::Courteous).after("setup", 3);
            l.decide()
        };
        // Day 5, nothing done: one message (the sequence first), one retry (the latest).
        let d = build(&inv, &ctx);
        assert_eq!(d.steps(), ["failed", "retry-2"]);
        assert_eq!(d.actions[1], Action::RetryPayment(PaymentRetry { step: "retry-2".into(), at: day(5).at_hour(10) }));
        assert_eq!(d.review_date(), Some(day(7)));
        sent(&mut inv, "failed", 5);
        inv.history.push(contact("retry-2", None, day(5)));
        // Day 10: the notice waited for the gap; retry-3 is late and asked for now.
        let ctx = Ctx::new(day(10).at_hour(9), vec![]);
        let d = build(&inv, &ctx);
        assert_eq!(d.steps(), ["retry-3", "setup"]);
        assert_eq!(d.actions[0].step(), Some("retry-3"));
        assert!(matches!(&d.actions[0], Action::RetryPayment(r) if r.at == ctx.now));
        assert_eq!(d.review_date(), Some(day(15)));
    }

    #[test]
    fn never_reviews_today_or_earlier() {
        let inv = invoice(DUE, 100_00, "EUR");
        let ctx = Ctx::new(day(3).at_hour(9), vec![]);
        let mut l = Ladder::new(&inv, &ctx).unwrap();
        l.review_on(day(3));
        l.review_on(day(1));
        assert_eq!(l.decide().next_review, None);
        l.review_on(day(4));
        assert_eq!(l.decide().review_date(), Some(day(4)));
        let _ = at(2025, 1, 1, 0);
    }
}
