"""ACME's gentle dunning policy, in Python: the twin of examples/custom-policy.

Built into a component with componentize-py (see README.md):

    componentize-py -d ../../wit -w policy componentize app -o acme_gentle_py.wasm

The rules, as in the Rust twin:
- a courteous nudge 3 days after the due date (a phone call from the accounts
  team instead, for more than 10,000 EUR when the customer can be called);
- a soft reminder at 10 days, a firm one at 20, the final notice at 35 with
  five working days to pay (firm, not final, for trusted customers: three
  years or more, always on time);
- a review by hand at 50 days, a week after the final notice at the
  earliest, never for trusted customers.

Paid, closed, disputed and promised invoices are handled first, as the Rust
SDK's guard does. At most one message per decision, and at least
`min_gap_days` (default 5) between two messages; after a late import only the
latest step due goes out; an escalation ends the ladder.
"""

import datetime

import wit_world
from componentize_py_types import Ok
from wit_world.imports import types as t

DAY = 86_400
BIG_AMOUNT_EUR_CENTS = 1_000_000
DISPUTE_STEP = "dispute-review"
# Days are counted from 1970-01-01 (a Thursday): whole numbers are cheaper than dates.
EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def day_of(timestamp):
    return timestamp // DAY


def as_day(d):
    return datetime.date(d.year, d.month, d.day).toordinal() - EPOCH_ORDINAL


def wit_date(day):
    d = datetime.date.fromordinal(day + EPOCH_ORDINAL)
    return t.Date(d.year, d.month, d.day)


def midnight(day):
    return day * DAY


def add_working_days(day, n):
    while n > 0:
        day += 1
        if (day + 3) % 7 < 5:  # Monday is 0
            n -= 1
    return day


def days_setting(settings, key, default):
    """A whole number of days from the operator's settings. A value that is not
    one raises: the host reports the exception's type and message."""
    value = settings.get(key)
    if value is None:
        return default
    days = int(value.strip())
    if not 0 <= days <= 3650:
        raise ValueError(f"{key}: {days} is outside 0 to 3650 days")
    return days


class Step:
    def __init__(self, step, on, channel=None, template=None, tone=None, escalation=None, after=None):
        self.step, self.on, self.after = step, on, after
        self.channel, self.template, self.tone = channel, template, tone
        self.escalation = escalation
        self.deadline = None


def last_message(inv):
    sent = [c.at for c in inv.history if c.channel is not None and c.outcome != t.Outcome.CANCELLED]
    return max(sent, default=None)


def reachable(customer, channel):
    if any(c.strip().lower() == channel for c in customer.opted_out):
        return False
    if channel in ("sms", "phone"):
        return t.ContactPoints.PHONE in customer.reachable
    if channel in ("email", "pec"):
        return t.ContactPoints.EMAIL in customer.reachable
    return True


def promised_until(inv):
    """The customer's own promise, or else the next instalment of an accepted plan."""
    if inv.promise_to_pay is not None:
        return inv.promise_to_pay.until
    if inv.plan is not None:
        return next((i.due for i in inv.plan.instalments if i.left > 0), None)
    return None


def guard(inv, today, done):
    """The SDK's standard guard: closed, paid, disputed, promised."""
    if inv.status != t.InvoiceStatus.OPEN:
        return t.Decision([], None)
    if inv.amount_due - inv.amount_paid <= 0:
        return t.Decision([t.Action_Close(t.CloseReason.PAID)], None)
    if inv.dispute is not None:
        review = midnight(today + 7)
        if DISPUTE_STEP in done:
            return t.Decision([], review)
        reason = f"disputed: {inv.dispute.reason}"
        escalation = t.Escalation(DISPUTE_STEP, t.EscalationKind.MANUAL_REVIEW, reason)
        return t.Decision([t.Action_Escalate(escalation)], review)
    until = promised_until(inv)
    if until is not None and as_day(until) >= today:
        return t.Decision([], midnight(as_day(until) + 1))
    return None


def ladder(inv, today, min_gap, done):
    customer = inv.customer
    due = as_day(inv.due)
    since, now = inv.customer.payment_record.customer_since, datetime.date.fromordinal(today + EPOCH_ORDINAL)
    years = now.year - since.year - ((now.month, now.day) < (since.month, since.day))
    record = customer.payment_record
    trusted = years >= 3 and record.invoices_paid >= 1 and record.paid_on_time >= record.invoices_paid
    outstanding = inv.amount_due - inv.amount_paid
    call_first = inv.currency == "EUR" and outstanding > BIG_AMOUNT_EUR_CENTS and reachable(customer, "phone")

    steps = []
    if call_first:
        steps.append(Step("call-first", due + 3, "phone", "phone-call", t.Tone.SOFT))
    else:
        steps.append(Step("nudge", due + 3, "email", "overdue-soft", t.Tone.COURTEOUS))
    steps.append(Step("reminder", due + 10, "email", "overdue-soft", t.Tone.SOFT))
    steps.append(Step("firm", due + 20, "email", "overdue-firm", t.Tone.FIRM))
    final = Step("final", due + 35, "email", "final-notice", t.Tone.FIRM if trusted else t.Tone.FINAL)
    final.deadline = add_working_days(today, 5)
    steps.append(final)
    if not trusted:
        reason = "still unpaid after the final notice"
        steps.append(Step("review", due + 50, escalation=(t.EscalationKind.MANUAL_REVIEW, reason), after=("final", 7)))
    return decide(inv, today, min_gap, steps, done)


def decide(inv, today, min_gap, steps, done):
    """One decision from the steps, with the conventions of the SDK's ladder.
    `done` maps each step of the history to the day it was done."""
    if any(s.escalation and s.step in done for s in steps):
        return t.Decision([], None)
    last = last_message(inv)
    gap_ends = day_of(last) + min_gap if last is not None else None

    def sendable(s):
        return s.escalation is not None or reachable(inv.customer, s.channel)

    def superseded(s):
        return any(o.step in done and o.on > s.on for o in steps)

    def ready_on(s, earliest):
        day = max(s.on, earliest)
        if s.after is not None:
            before = done.get(s.after[0])
            if before is None:
                return None
            day = max(day, before + s.after[1])
        if s.escalation is None and gap_ends is not None:
            day = max(day, gap_ends)
        return day

    open_steps = [s for s in steps if s.step not in done and sendable(s) and not superseded(s)]
    due_now = [s for s in open_steps if s.on <= today and (s.after is None or s.after[0] in done)]
    actions = []
    if due_now:
        # The latest step due (the first of equals); the earlier ones are skipped for good.
        s = max(due_now, key=lambda s: s.on)
        if ready_on(s, today) <= today:
            if s.escalation is not None:
                kind, reason = s.escalation
                return t.Decision([t.Action_Escalate(t.Escalation(s.step, kind, reason))], None)
            deadline = wit_date(s.deadline) if s.deadline is not None else None
            actions.append(t.Action_Remind(t.Reminder(s.step, s.channel, s.template, s.tone, deadline)))
            done = {**done, s.step: today}
            gap_ends = today + min_gap
            open_steps = [o for o in open_steps if o is not s and not superseded(o)]
    later = [d for d in (ready_on(o, today + 1) for o in open_steps) if d is not None]
    return t.Decision(actions, midnight(min(later)) if later else None)


class WitWorld(wit_world.WitWorld):
    def describe(self):
        return t.PolicyInfo(
            "acme-gentle-py",
            "0.1.0",
            "ACME's gentle ladder, in Python: the twin of acme-gentle.",
            ["phone-call", "overdue-soft", "overdue-firm", "final-notice"],
            ["phone", "email", "letter"],
        )

    def evaluate(self, now, settings, batch):
        today = day_of(now)
        given = {s.key: s.value for s in settings}
        min_gap = days_setting(given, "min_gap_days", 5)
        results = []
        for inv in batch:
            done = {c.step: day_of(c.at) for c in inv.history}
            decision = guard(inv, today, done) or ladder(inv, today, min_gap, done)
            results.append(Ok(decision))
        return results
