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


def day_of(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).date()


def as_date(d):
    return datetime.date(d.year, d.month, d.day)


def wit_date(d):
    return t.Date(d.year, d.month, d.day)


def midnight(d):
    return int(datetime.datetime(d.year, d.month, d.day, tzinfo=datetime.timezone.utc).timestamp())


def add_working_days(d, n):
    while n > 0:
        d += datetime.timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


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


def contact(inv, step):
    return next((c for c in inv.history if c.step == step), None)


def last_message(inv):
    sent = [c for c in inv.history if c.channel is not None and c.outcome != t.Outcome.CANCELLED]
    return max((c.at for c in sent), default=None)


def reachable(customer, channel):
    if channel in [c.strip().lower() for c in customer.opted_out]:
        return False
    if channel in ("sms", "phone"):
        return customer.phone is not None
    if channel in ("email", "pec"):
        return customer.email is not None
    return True


def guard(inv, today):
    """The SDK's standard guard: closed, paid, disputed, promised."""
    if inv.status != t.InvoiceStatus.OPEN:
        return t.Decision([], None)
    if inv.amount_due.minor - inv.amount_paid.minor <= 0:
        return t.Decision([t.Action_Close(t.CloseReason.PAID)], None)
    if inv.dispute is not None:
        review = midnight(today + datetime.timedelta(days=7))
        if contact(inv, DISPUTE_STEP):
            return t.Decision([], review)
        reason = f"disputed: {inv.dispute.reason}"
        escalation = t.Escalation(DISPUTE_STEP, t.EscalationKind.MANUAL_REVIEW, reason)
        return t.Decision([t.Action_Escalate(escalation)], review)
    promise = inv.promise_to_pay
    if promise is not None and as_date(promise.until) >= today:
        resume = midnight(as_date(promise.until) + datetime.timedelta(days=1))
        return t.Decision([t.Action_Pause(resume)], resume)
    return None


def ladder(inv, today, min_gap):
    customer = inv.customer
    due = as_date(inv.due)
    since = as_date(customer.payment_record.customer_since)
    years = today.year - since.year - ((today.month, today.day) < (since.month, since.day))
    record = customer.payment_record
    trusted = years >= 3 and record.invoices_paid >= 1 and record.paid_on_time >= record.invoices_paid
    outstanding = inv.amount_due.minor - inv.amount_paid.minor
    call_first = inv.amount_due.currency == "EUR" and outstanding > BIG_AMOUNT_EUR_CENTS and reachable(customer, "phone")

    def on(days):
        return due + datetime.timedelta(days=days)

    steps = []
    if call_first:
        steps.append(Step("call-first", on(3), "phone", "phone-call", t.Tone.SOFT))
    else:
        steps.append(Step("nudge", on(3), "email", "overdue-soft", t.Tone.COURTEOUS))
    steps.append(Step("reminder", on(10), "email", "overdue-soft", t.Tone.SOFT))
    steps.append(Step("firm", on(20), "email", "overdue-firm", t.Tone.FIRM))
    final = Step("final", on(35), "email", "final-notice", t.Tone.FIRM if trusted else t.Tone.FINAL)
    final.deadline = add_working_days(today, 5)
    steps.append(final)
    if not trusted:
        reason = "still unpaid after the final notice"
        steps.append(Step("review", on(50), escalation=(t.EscalationKind.MANUAL_REVIEW, reason), after=("final", 7)))
    return decide(inv, today, min_gap, steps)


def decide(inv, today, min_gap, steps):
    """One decision from the steps, with the conventions of the SDK's ladder."""
    if any(s.escalation and contact(inv, s.step) for s in steps):
        return t.Decision([], None)
    emitted = set()
    last = last_message(inv)
    gap_ends = day_of(last) + datetime.timedelta(days=min_gap) if last is not None else None

    def step_day(name):
        """When a step was done, this decision's counting as today."""
        if name in emitted:
            return today
        done = contact(inv, name)
        return day_of(done.at) if done is not None else None

    def sendable(s):
        return s.escalation is not None or reachable(inv.customer, s.channel)

    def done(i):
        return step_day(steps[i].step) is not None

    def superseded(i):
        return any(done(j) and steps[j].on > steps[i].on for j in range(len(steps)))

    def ready_on(i, earliest):
        s = steps[i]
        day = max(s.on, earliest)
        if s.after is not None:
            before = step_day(s.after[0])
            if before is None:
                return None
            day = max(day, before + datetime.timedelta(days=s.after[1]))
        if s.escalation is None and gap_ends is not None:
            day = max(day, gap_ends)
        return day

    def open_steps():
        return [i for i in range(len(steps)) if sendable(steps[i]) and not done(i) and not superseded(i)]

    due_now = [i for i in open_steps() if steps[i].on <= today and (steps[i].after is None or step_day(steps[i].after[0]))]
    actions = []
    if due_now:
        # The latest step due; the earlier ones are skipped for good.
        i = max(due_now, key=lambda k: (steps[k].on, -k))
        if ready_on(i, today) <= today:
            s = steps[i]
            if s.escalation is not None:
                kind, reason = s.escalation
                return t.Decision([t.Action_Escalate(t.Escalation(s.step, kind, reason))], None)
            deadline = wit_date(s.deadline) if s.deadline else None
            actions.append(t.Action_Remind(t.Reminder(s.step, s.channel, s.template, s.tone, deadline)))
            emitted.add(s.step)
            gap_ends = today + datetime.timedelta(days=min_gap)
    tomorrow = today + datetime.timedelta(days=1)
    later = [d for d in (ready_on(k, tomorrow) for k in open_steps()) if d is not None]
    return t.Decision(actions, midnight(min(later)) if later else None)


class WitWorld(wit_world.WitWorld):
    def describe(self):
        return t.PluginInfo("acme-gentle-py", "0.1.0", "ACME's gentle ladder, in Python: the twin of acme-gentle.")

    def evaluate(self, now, settings, batch):
        today = day_of(now)
        given = {s.key: s.value for s in settings}
        min_gap = days_setting(given, "min_gap_days", 5)
        results = []
        for inv in batch:
            decision = guard(inv, today) or ladder(inv, today, min_gap)
            results.append(Ok(decision))
        return results
