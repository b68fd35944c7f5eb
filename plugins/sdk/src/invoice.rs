//! Questions a policy asks about an invoice and its customer.

use crate::{
    Contact, ContactPoints, Customer, Date, Instalment, InvoiceView, Money, Outcome, PaymentRecord, Plan, Timestamp,
};

/// Stripe decline codes after which retrying the same card is pointless
/// (and, for a stolen or lost card, harmful).
const HARD_DECLINES: &[&str] = &[
    "stolen_card",
    "lost_card",
    "fraudulent",
    "pickup_card",
    "restricted_card",
    "security_violation",
    "revocation_of_authorization",
    "revocation_of_all_authorizations",
    "stop_payment_order",
    "invalid_account",
    "account_closed",
    "card_not_supported",
    "transaction_not_allowed",
    "do_not_try_again",
    "merchant_blacklist",
    "new_account_information_available",
];

/// True for a decline that no retry will fix: the customer must change the payment method.
pub fn is_hard_decline(code: &str) -> bool {
    let code = code.trim();
    HARD_DECLINES.iter().any(|c| c.eq_ignore_ascii_case(code))
}

/// Digits after the decimal point of an ISO 4217 currency (minor units per major: 10^n).
pub fn currency_exponent(code: &str) -> u32 {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
        "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    const FOUR: &[&str] = &["CLF", "UYW"];
    let code = code.trim().to_ascii_uppercase();
    let code = code.as_str();
    if ZERO.contains(&code) {
        0
    } else if THREE.contains(&code) {
        3
    } else if FOUR.contains(&code) {
        4
    } else {
        2
    }
}

impl Money {
    /// A whole amount in major units (euros, yen) converted to this currency's minor units.
    pub fn major_to_minor(major: i64, currency: &str) -> i64 {
        major.saturating_mul(10_i64.pow(currency_exponent(currency)))
    }
}

impl InvoiceView {
    /// Has a message on `channel` failed for good on this invoice (a hard
    /// bounce, an invalid number)? The host reports it in the history.
    pub fn channel_failed(&self, channel: &str) -> bool {
        self.history
            .iter()
            .any(|c| c.channel.as_deref() == Some(channel) && matches!(c.outcome, Outcome::Failed | Outcome::Bounced))
    }

    /// The channel for a message: the customer's fallback chain
    /// ([`Customer::channel_for`]), skipping channels that failed for good on this invoice.
    pub fn channel_for(&self, preferred: &str) -> Option<String> {
        self.usable_channel(preferred).map(String::from)
    }

    /// [`InvoiceView::channel_for`] without allocating: the ladder asks it
    /// for every step several times per invoice.
    pub(crate) fn usable_channel<'c>(&self, preferred: &'c str) -> Option<&'c str> {
        self.customer.pick_channel(preferred, |c| !self.channel_failed(c))
    }

    /// What is still owed, in minor units of `currency`.
    pub fn outstanding(&self) -> i64 {
        self.amount_due.saturating_sub(self.amount_paid)
    }

    /// Is the outstanding amount at least `major` whole units of the invoice currency?
    pub fn outstanding_at_least(&self, major: i64) -> bool {
        self.outstanding() >= Money::major_to_minor(major, &self.currency)
    }

    /// The fees policies added to this invoice, in all (minor units).
    pub fn fees_added(&self) -> i64 {
        self.fees.iter().map(|f| f.minor).fold(0, i64::saturating_add)
    }

    /// The date dunning waits for: the customer's own promise, or else the
    /// next instalment of an accepted plan. `None` when neither holds.
    pub fn promised_until(&self) -> Option<Date> {
        self.promise_to_pay.as_ref().map(|p| p.until).or_else(|| self.plan.as_ref()?.next_unpaid().map(|i| i.due))
    }

    /// Days past due on `on` (0 before or on the due date).
    pub fn days_overdue(&self, on: Date) -> i64 {
        self.due.days_until(on).max(0)
    }

    /// The contact recorded for `step`, if any (a step is sent at most once).
    pub fn contact(&self, step: &str) -> Option<&Contact> {
        self.history.iter().find(|c| c.step == step)
    }

    /// Has `step` already been done on this invoice (whatever its outcome)?
    pub fn step_done(&self, step: &str) -> bool {
        self.contact(step).is_some()
    }

    /// The UTC date `step` was done on.
    pub fn step_date(&self, step: &str) -> Option<Date> {
        self.contact(step).map(|c| Date::of(c.at))
    }

    /// The UTC date `step` took effect, as a step that follows it must see it:
    /// a message once it was sent (or delivered), another action once done;
    /// never while it waits, nor when it failed, bounced or was cancelled. A
    /// hand-over after a formal notice must not follow one that never left.
    pub fn step_effective_date(&self, step: &str) -> Option<Date> {
        let c = self.contact(step)?;
        let effective = match (&c.channel, c.outcome) {
            (_, Outcome::Failed | Outcome::Bounced | Outcome::Cancelled) => false,
            (Some(_), outcome) => matches!(outcome, Outcome::Sent | Outcome::Delivered),
            (None, _) => true,
        };
        effective.then(|| Date::of(c.at))
    }

    /// The latest message to the customer (a contact with a channel) that
    /// was not cancelled before going out.
    pub fn last_message(&self) -> Option<&Contact> {
        self.history.iter().filter(|c| c.channel.is_some() && c.outcome != Outcome::Cancelled).max_by_key(|c| c.at)
    }

    /// When the customer was last contacted about this invoice.
    pub fn last_contact_at(&self) -> Option<Timestamp> {
        self.last_message().map(|c| c.at)
    }
}

impl Plan {
    /// The first instalment not paid in full, if any.
    pub fn next_unpaid(&self) -> Option<&Instalment> {
        self.instalments.iter().find(|i| i.left > 0)
    }
}

impl PaymentRecord {
    /// Share of past invoices paid on time, 0.0 to 1.0 (1.0 with no history).
    pub fn on_time_ratio(&self) -> f64 {
        if self.invoices_paid == 0 { 1.0 } else { f64::from(self.paid_on_time) / f64::from(self.invoices_paid) }
    }

    /// At least `percent` % of the paid invoices were paid on time (exact, no rounding).
    pub fn on_time_at_least(&self, percent: i64) -> bool {
        i64::from(self.paid_on_time) * 100 >= percent.saturating_mul(i64::from(self.invoices_paid))
    }

    /// Has paid at least one invoice, and every one on time.
    pub fn always_on_time(&self) -> bool {
        self.invoices_paid >= 1 && self.paid_on_time >= self.invoices_paid
    }
}

impl Customer {
    /// Whole years since `customer_since`, on `today`.
    pub fn years_as_customer(&self, today: Date) -> i64 {
        self.payment_record.customer_since.years_until(today)
    }

    pub fn opted_out_of(&self, channel: &str) -> bool {
        self.opted_out.iter().any(|c| c.trim().eq_ignore_ascii_case(channel))
    }

    /// Can a message go out on `channel`: not opted out, and an address known for it.
    pub fn reachable_by(&self, channel: &str) -> bool {
        if self.opted_out_of(channel) {
            return false;
        }
        match channel {
            "email" | "pec" => self.reachable.contains(ContactPoints::EMAIL),
            "sms" | "phone" => self.reachable.contains(ContactPoints::PHONE),
            _ => true,
        }
    }

    /// The channel to use when `preferred` is wanted: `preferred` itself if
    /// reachable, else the next in its fallback chain (email and pec -> letter;
    /// sms and webhook -> email -> letter). A phone call has no written
    /// substitute: `None` then, and the step is skipped.
    pub fn channel_for(&self, preferred: &str) -> Option<String> {
        self.channel_where(preferred, |_| true)
    }

    /// `channel_for`, also skipping the channels `usable` refuses.
    pub fn channel_where(&self, preferred: &str, usable: impl Fn(&str) -> bool) -> Option<String> {
        self.pick_channel(preferred, usable).map(String::from)
    }

    fn pick_channel<'c>(&self, preferred: &'c str, usable: impl Fn(&str) -> bool) -> Option<&'c str> {
        let chain: &[&'static str] = match preferred {
            "email" | "pec" => &["letter"],
            "phone" | "letter" => &[],
            _ => &["email", "letter"],
        };
        core::iter::once(preferred).chain(chain.iter().copied()).find(|c| self.reachable_by(c) && usable(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{contact, invoice};
    use crate::{Date, Tone};

    #[test]
    fn hard_declines() {
        assert!(is_hard_decline("stolen_card"));
        assert!(is_hard_decline("do_not_try_again"));
        assert!(!is_hard_decline("insufficient_funds"));
        assert!(!is_hard_decline(""));
    }

    #[test]
    fn currencies() {
        assert_eq!(currency_exponent("EUR"), 2);
        assert_eq!(currency_exponent("jpy"), 0);
        assert_eq!(currency_exponent("KWD"), 3);
        assert_eq!(Money::major_to_minor(10_000, "EUR"), 1_000_000);
        assert_eq!(Money::major_to_minor(10_000, "JPY"), 10_000);
        assert_eq!(Money::major_to_minor(10_000, "BHD"), 10_000_000);
        assert_eq!(Money::major_to_minor(i64::MAX, "BHD"), i64::MAX);
    }

    #[test]
    fn amounts_history_and_customer() {
        let mut inv = invoice(Date::new(2025, 3, 1), 120_00, "EUR");
        inv.amount_paid = 20_00;
        assert_eq!(inv.outstanding(), 100_00);
        assert!(inv.outstanding_at_least(100));
        assert!(!inv.outstanding_at_least(101));
        assert_eq!(inv.days_overdue(Date::new(2025, 3, 8)), 7);
        assert_eq!(inv.days_overdue(Date::new(2025, 2, 20)), 0);

        inv.history.push(contact("overdue-7", Some("email"), Date::new(2025, 3, 8)));
        let mut cancelled = contact("x", Some("sms"), Date::new(2025, 3, 9));
        cancelled.outcome = Outcome::Cancelled;
        inv.history.push(cancelled);
        inv.history.push(contact("retry-1", None, Date::new(2025, 3, 10)));
        assert!(inv.step_done("overdue-7"));
        assert!(!inv.step_done("overdue-15"));
        assert_eq!(inv.step_date("overdue-7"), Some(Date::new(2025, 3, 8)));
        assert_eq!(inv.last_message().map(|c| c.step.as_str()), Some("overdue-7"));
        assert_eq!(inv.last_message().and_then(|c| c.tone), Some(Tone::Soft));

        let c = &mut inv.customer;
        c.payment_record.invoices_paid = 10;
        c.payment_record.paid_on_time = 9;
        assert!(c.payment_record.on_time_at_least(90));
        assert!(!c.payment_record.on_time_at_least(91));
        assert!((c.payment_record.on_time_ratio() - 0.9).abs() < 1e-9);
        assert!(!c.payment_record.always_on_time());
        c.payment_record.customer_since = Date::new(2022, 3, 10);
        assert_eq!(c.years_as_customer(Date::new(2025, 3, 9)), 2);
        assert_eq!(c.years_as_customer(Date::new(2025, 3, 10)), 3);
    }

    #[test]
    fn channels_fall_back_when_opted_out_or_unknown() {
        let mut c = invoice(Date::new(2025, 3, 1), 1, "EUR").customer;
        assert_eq!(c.channel_for("email").as_deref(), Some("email"));
        c.opted_out = vec!["Email".into()];
        assert_eq!(c.channel_for("email").as_deref(), Some("letter"));
        assert_eq!(c.channel_for("sms").as_deref(), Some("sms"));
        c.opted_out = vec!["sms".into()];
        assert_eq!(c.channel_for("sms").as_deref(), Some("email"));
        c.reachable.remove(ContactPoints::PHONE);
        assert_eq!(c.channel_for("phone"), None);
        c.opted_out = vec!["letter".into(), "email".into()];
        assert_eq!(c.channel_for("email"), None);
        // PEC is its own channel: opting out of email does not opt out of it.
        assert_eq!(c.channel_for("pec").as_deref(), Some("pec"));
    }
}
