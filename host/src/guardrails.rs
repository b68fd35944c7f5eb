//! Rules the host enforces whatever a policy says. A policy can ask; only
//! what passes here is carried out.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::Window;

use crate::invoice::{Customer, Invoice, InvoiceStatus};
use crate::plan::Standing;

/// Why an action was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    /// The invoice is paid, void or written off: the action is cancelled.
    Closed(InvoiceStatus),
    Disputed,
    /// Under a promise to pay that has not lapsed.
    Promised(chrono::NaiveDate),
    /// The customer replied; a person reads it before anything more goes out.
    Answered(chrono::NaiveDate),
    /// A bank transfer may have paid it; a person matches it before anything more goes out.
    TransferToConfirm(chrono::NaiveDate),
    /// The email address bounced for good.
    Undeliverable(String),
    /// On a payment plan that is kept: the next instalment is due then.
    OnPlan(chrono::NaiveDate),
    Stopped,
    OptedOut(String),
    /// This step was already carried out on this invoice.
    StepDone(String),
    /// Another reminder already leaves for this invoice in this tick.
    OnePerTick,
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Block::Closed(s) => {
                write!(f, "invoice is {}", serde_json::to_value(s).unwrap().as_str().unwrap_or("closed"))
            }
            Block::Disputed => f.write_str("invoice is disputed"),
            Block::Promised(until) => write!(f, "promise to pay until {until}"),
            Block::Answered(until) => write!(f, "the customer replied: held until {until} for the reply to be read"),
            Block::TransferToConfirm(until) => {
                write!(f, "a bank transfer may have paid it: held until {until} for a person to match it")
            }
            Block::Undeliverable(address) => write!(f, "{address} bounced for good: no email to it"),
            Block::OnPlan(next) => write!(f, "on a payment plan, next instalment due {next}"),
            Block::Stopped => f.write_str("dunning stopped for the customer"),
            Block::OptedOut(ch) => write!(f, "customer opted out of {ch}"),
            Block::StepDone(step) => write!(f, "step {step} already done"),
            Block::OnePerTick => f.write_str("one reminder per invoice per tick"),
        }
    }
}

/// What the host is asked to do, reduced to what the guardrails look at.
pub(crate) struct Request<'a> {
    pub step: &'a str,
    /// `Some` for a message to the customer.
    pub channel: Option<&'a str>,
    /// Whether the customer feels it (a message, a charge, a fee, a suspension)
    /// rather than work inside the business (a review, a hand-over).
    pub touches_customer: bool,
    /// A reminder of a payment plan's own instalment, which the plan does not hold back.
    pub of_plan: bool,
    /// A message the customer (or a person for them) asked for, like their
    /// statement: no dunning hold keeps it back; an opt-out still does.
    pub asked: bool,
}

impl<'a> Request<'a> {
    pub(crate) fn message(step: &'a str, channel: &'a str) -> Self {
        Request { step, channel: Some(channel), touches_customer: true, of_plan: false, asked: false }
    }
}

/// Checks a request against the invoice's state at `now`. `steps_done` are the
/// steps already carried out on the invoice; `reminded_this_tick` says whether
/// a message already left for it in this tick.
pub(crate) fn check<'s>(
    request: &Request<'_>,
    invoice: &Invoice,
    customer: &Customer,
    steps_done: impl IntoIterator<Item = &'s str>,
    reminded_this_tick: bool,
    now: DateTime<Utc>,
) -> Result<(), Block> {
    if steps_done.into_iter().any(|s| s == request.step) {
        return Err(Block::StepDone(request.step.to_string()));
    }
    // Statuses hold back every contact with the customer; internal actions
    // (a manual review, a hand-over) may go on for an open invoice.
    if invoice.status != InvoiceStatus::Open {
        return Err(Block::Closed(invoice.status));
    }
    if !request.touches_customer {
        return Ok(());
    }
    if !request.asked {
        holds(request, invoice, customer, now)?;
    }
    let Some(channel) = request.channel else {
        return Ok(());
    };
    if customer.opted_out.iter().any(|c| c == channel) {
        return Err(Block::OptedOut(channel.to_string()));
    }
    if channel == "email"
        && let (Some(address), None) = (&customer.email, customer.deliverable_email())
    {
        return Err(Block::Undeliverable(address.clone()));
    }
    if reminded_this_tick {
        return Err(Block::OnePerTick);
    }
    Ok(())
}

/// What holds back dunning: a dispute, a promise, a reply being read, a plan kept, a stop.
fn holds(request: &Request<'_>, invoice: &Invoice, customer: &Customer, now: DateTime<Utc>) -> Result<(), Block> {
    if invoice.dispute.is_some() {
        return Err(Block::Disputed);
    }
    let today = now.with_timezone(&customer.timezone).date_naive();
    if let Some(p) = &invoice.promise_to_pay
        && p.until >= today
    {
        return Err(Block::Promised(p.until));
    }
    if let Some(a) = &invoice.answered
        && a.until >= today
    {
        return Err(Block::Answered(a.until));
    }
    if let Some(until) = invoice.transfer_to_confirm.filter(|u| *u >= today) {
        return Err(Block::TransferToConfirm(until));
    }
    if let Some(plan) = &invoice.plan
        && let Standing::OnTrack(next) = plan.standing(invoice.amount_paid, today)
        && !request.of_plan
    {
        return Err(Block::OnPlan(next.due));
    }
    if customer.dunning_stop {
        return Err(Block::Stopped);
    }
    Ok(())
}

/// The first moment of the day after `date` in the customer's own timezone:
/// when a hold that lasts until `date` has ended there.
pub(crate) fn day_after(date: chrono::NaiveDate, tz: Tz) -> DateTime<Utc> {
    local_instant(tz, date.succ_opt().unwrap_or(date).and_time(chrono::NaiveTime::MIN))
}

/// The first moment at or after `now` inside the sending window, in the
/// customer's own timezone. Across a daylight-saving change the local hours hold.
pub(crate) fn next_in_window(window: &Window, tz: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&tz);
    for offset in 0..8 {
        let day = local.date_naive() + chrono::Days::new(offset);
        if !window.days.contains(&day.weekday()) {
            continue;
        }
        let start = local_instant(tz, day.and_time(window.from));
        let end = local_instant(tz, day.and_time(window.to));
        if now < start {
            return start;
        }
        if now < end {
            return now;
        }
    }
    unreachable!("a window has at least one day a week")
}

/// A local wall-clock time as an instant; in a spring-forward gap, the first
/// instant after it; in a fall-back overlap, the earlier one.
fn local_instant(tz: Tz, local: chrono::NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    loop {
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
        probe += chrono::Duration::minutes(15);
    }
}

/// With `sent` the times of the contacts of the last 7 days, when the next one
/// may go: `None` if now, else when the oldest falls out of the window.
pub(crate) fn cap_wait(sent: &[i64], cap: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let week = 7 * 86_400;
    let recent: Vec<i64> = sent.iter().copied().filter(|&t| t > now.timestamp() - week).collect();
    if recent.len() < cap as usize {
        return None;
    }
    let oldest_that_must_expire = recent[recent.len() - cap as usize];
    DateTime::from_timestamp(oldest_that_must_expire + week, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::*;
    use chrono::NaiveDate;

    fn fixtures() -> (Invoice, Customer) {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let customer = Customer {
            id: "c".into(),
            name: "C".into(),
            email: Some("c@example.com".into()),
            phone: None,
            postal_address: None,
            locale: "it-IT".into(),
            timezone: chrono_tz::Europe::Rome,
            segment: "b2b".into(),
            business: true,
            tags: vec![],
            customer_since: d("2020-01-01"),
            invoices_paid: 0,
            paid_on_time: 0,
            opted_out: vec![],
            dunning_stop: false,
            email_bounces: None,
            pec: None,
        };
        let invoice = Invoice {
            id: "i".into(),
            number: "1".into(),
            customer_id: "c".into(),
            status: InvoiceStatus::Open,
            kind: InvoiceKind::OneOff,
            currency: "EUR".into(),
            amount_due: 100,
            amount_paid: 0,
            issued: d("2026-01-01"),
            due: d("2026-01-31"),
            payment_link: None,
            payment_failure: None,
            dispute: None,
            promise_to_pay: None,
            payment_method: None,
            refs: vec![],
            plan: None,
            fees: vec![],
            answered: None,
            transfer_to_confirm: None,
        };
        (invoice, customer)
    }

    fn remind(inv: &Invoice, cust: &Customer, done: &[&str], ticked: bool) -> Result<(), Block> {
        let now = "2026-02-10T09:00:00Z".parse().unwrap();
        let req = Request::message("overdue-7", "email");
        check(&req, inv, cust, done.iter().copied(), ticked, now)
    }

    #[test]
    fn each_guardrail_blocks_a_reminder() {
        let (mut inv, mut cust) = fixtures();
        assert_eq!(remind(&inv, &cust, &[], false), Ok(()));
        assert_eq!(remind(&inv, &cust, &["overdue-7"], false), Err(Block::StepDone("overdue-7".into())));
        assert_eq!(remind(&inv, &cust, &[], true), Err(Block::OnePerTick));
        cust.opted_out.push("email".into());
        assert_eq!(remind(&inv, &cust, &[], false), Err(Block::OptedOut("email".into())));
        cust.dunning_stop = true;
        assert_eq!(remind(&inv, &cust, &[], false), Err(Block::Stopped));
        let until = NaiveDate::from_ymd_opt(2026, 2, 10).unwrap();
        inv.promise_to_pay = Some(PromiseToPay { until, amount: None });
        assert_eq!(remind(&inv, &cust, &[], false), Err(Block::Promised(until)));
        inv.dispute = Some(Dispute { opened: "2026-02-01T00:00:00Z".parse().unwrap(), reason: String::new() });
        assert_eq!(remind(&inv, &cust, &[], false), Err(Block::Disputed));
        inv.status = InvoiceStatus::Paid;
        assert_eq!(remind(&inv, &cust, &[], false), Err(Block::Closed(InvoiceStatus::Paid)));
        assert_eq!(Block::Closed(InvoiceStatus::WrittenOff).to_string(), "invoice is written-off");
    }

    #[test]
    fn a_lapsed_promise_no_longer_holds_reminders() {
        let (mut inv, cust) = fixtures();
        inv.promise_to_pay = Some(PromiseToPay { until: NaiveDate::from_ymd_opt(2026, 2, 9).unwrap(), amount: None });
        assert_eq!(remind(&inv, &cust, &[], false), Ok(()));
    }

    #[test]
    fn internal_actions_pass_a_dispute_but_not_a_closed_invoice() {
        let (mut inv, cust) = fixtures();
        inv.dispute = Some(Dispute { opened: "2026-02-01T00:00:00Z".parse().unwrap(), reason: String::new() });
        let now = "2026-02-10T09:00:00Z".parse().unwrap();
        let review =
            Request { step: "dispute-review", channel: None, touches_customer: false, of_plan: false, asked: false };
        assert_eq!(check(&review, &inv, &cust, [], false, now), Ok(()));
        // A charge is felt by the customer: not while they dispute.
        let retry = Request { step: "retry-1", channel: None, touches_customer: true, of_plan: false, asked: false };
        assert_eq!(check(&retry, &inv, &cust, [], false, now), Err(Block::Disputed));
        inv.status = InvoiceStatus::Void;
        assert_eq!(check(&review, &inv, &cust, [], false, now), Err(Block::Closed(InvoiceStatus::Void)));
    }

    fn window() -> Window {
        Window::default()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_window_is_in_the_customers_own_timezone() {
        let w = window();
        // Tuesday 2026-11-24 09:00 UTC.
        let now = utc("2026-11-24T09:00:00Z");
        // Rome (UTC+1): 10:00, inside.
        assert_eq!(next_in_window(&w, chrono_tz::Europe::Rome, now), now);
        // Los Angeles (UTC-8): 01:00, opens at 08:00 local = 16:00 UTC.
        assert_eq!(next_in_window(&w, chrono_tz::America::Los_Angeles, now), utc("2026-11-24T16:00:00Z"));
        // Tokyo (UTC+9): 18:00, inside until 19:00.
        assert_eq!(next_in_window(&w, chrono_tz::Asia::Tokyo, now), now);
        // Auckland (UTC+13 in summer): 22:00 Tuesday, next is Wednesday 08:00 = Tuesday 19:00 UTC.
        assert_eq!(next_in_window(&w, chrono_tz::Pacific::Auckland, now), utc("2026-11-24T19:00:00Z"));
        // Friday 20:00 in Rome waits for Monday 08:00.
        let friday_evening = utc("2026-11-27T19:00:00Z");
        assert_eq!(next_in_window(&w, chrono_tz::Europe::Rome, friday_evening), utc("2026-11-30T07:00:00Z"));
    }

    #[test]
    fn the_window_holds_across_daylight_saving_changes() {
        let w = window();
        // Rome leaves summer time on Sunday 2026-10-25: 08:00 is 06:00 UTC on Friday the 23rd, 07:00 UTC on Monday the 26th.
        assert_eq!(
            next_in_window(&w, chrono_tz::Europe::Rome, utc("2026-10-23T05:00:00Z")),
            utc("2026-10-23T06:00:00Z")
        );
        assert_eq!(
            next_in_window(&w, chrono_tz::Europe::Rome, utc("2026-10-24T05:00:00Z")),
            utc("2026-10-26T07:00:00Z")
        );
        // Los Angeles leaves it on 2026-11-01: 08:00 PDT = 15:00 UTC before, 08:00 PST = 16:00 UTC after.
        assert_eq!(
            next_in_window(&w, chrono_tz::America::Los_Angeles, utc("2026-10-30T10:00:00Z")),
            utc("2026-10-30T15:00:00Z")
        );
        assert_eq!(
            next_in_window(&w, chrono_tz::America::Los_Angeles, utc("2026-11-02T10:00:00Z")),
            utc("2026-11-02T16:00:00Z")
        );
        // Auckland enters summer time on 2026-09-27 (02:00 -> 03:00); a window opening at 02:30 opens at 03:00.
        let odd = Window {
            from: chrono::NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
            days: vec![chrono::Weekday::Sun],
            ..Window::default()
        };
        // Sunday 27th 03:00 NZDT = Saturday 26th 14:00 UTC.
        assert_eq!(
            next_in_window(&odd, chrono_tz::Pacific::Auckland, utc("2026-09-26T12:00:00Z")),
            utc("2026-09-26T14:00:00Z")
        );
    }

    #[test]
    fn the_weekly_cap_waits_for_the_oldest_contact_to_age_out() {
        let now = utc("2026-11-24T09:00:00Z");
        let day = 86_400;
        let t = now.timestamp();
        assert_eq!(cap_wait(&[t - 6 * day, t - 2 * day], 3, now), None);
        assert_eq!(cap_wait(&[t - 8 * day, t - 6 * day, t - 2 * day], 3, now), None, "one is older than a week");
        let wait = cap_wait(&[t - 6 * day, t - 5 * day, t - 2 * day], 3, now);
        assert_eq!(wait, DateTime::from_timestamp(t + day, 0));
    }
}
