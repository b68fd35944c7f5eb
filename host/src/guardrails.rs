//! Rules the host enforces whatever a policy says. A policy can ask; only
//! what passes here is carried out.

use chrono::{DateTime, Utc};

use crate::invoice::{Customer, Invoice, InvoiceStatus};

/// Why an action was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// The invoice is paid, void or written off: the action is cancelled.
    Closed(InvoiceStatus),
    Disputed,
    /// Under a promise to pay that has not lapsed.
    Promised(chrono::NaiveDate),
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
            Block::Closed(s) => write!(
                f,
                "invoice is {}",
                serde_json::to_value(s)
                    .unwrap()
                    .as_str()
                    .unwrap_or("closed")
            ),
            Block::Disputed => f.write_str("invoice is disputed"),
            Block::Promised(until) => write!(f, "promise to pay until {until}"),
            Block::Stopped => f.write_str("dunning stopped for the customer"),
            Block::OptedOut(ch) => write!(f, "customer opted out of {ch}"),
            Block::StepDone(step) => write!(f, "step {step} already done"),
            Block::OnePerTick => f.write_str("one reminder per invoice per tick"),
        }
    }
}

/// What the host is asked to do, reduced to what the guardrails look at.
pub struct Request<'a> {
    pub step: &'a str,
    /// `Some` for a message to the customer.
    pub channel: Option<&'a str>,
}

/// Checks a request against the invoice's state at `now`. `steps_done` are the
/// steps already carried out on the invoice; `reminded_this_tick` says whether
/// a message already left for it in this tick.
pub fn check<'s>(
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
    let Some(channel) = request.channel else {
        return Ok(());
    };
    if invoice.dispute.is_some() {
        return Err(Block::Disputed);
    }
    if let Some(p) = &invoice.promise_to_pay
        && p.until >= now.with_timezone(&customer.timezone).date_naive()
    {
        return Err(Block::Promised(p.until));
    }
    if customer.dunning_stop {
        return Err(Block::Stopped);
    }
    if customer.opted_out.iter().any(|c| c == channel) {
        return Err(Block::OptedOut(channel.to_string()));
    }
    if reminded_this_tick {
        return Err(Block::OnePerTick);
    }
    Ok(())
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
        };
        (invoice, customer)
    }

    fn remind(inv: &Invoice, cust: &Customer, done: &[&str], ticked: bool) -> Result<(), Block> {
        let now = "2026-02-10T09:00:00Z".parse().unwrap();
        let req = Request {
            step: "overdue-7",
            channel: Some("email"),
        };
        check(&req, inv, cust, done.iter().copied(), ticked, now)
    }

    #[test]
    fn each_guardrail_blocks_a_reminder() {
        let (mut inv, mut cust) = fixtures();
        assert_eq!(remind(&inv, &cust, &[], false), Ok(()));
        assert_eq!(
            remind(&inv, &cust, &["overdue-7"], false),
            Err(Block::StepDone("overdue-7".into()))
        );
        assert_eq!(remind(&inv, &cust, &[], true), Err(Block::OnePerTick));
        cust.opted_out.push("email".into());
        assert_eq!(
            remind(&inv, &cust, &[], false),
            Err(Block::OptedOut("email".into()))
        );
        cust.dunning_stop = true;
        assert_eq!(remind(&inv, &cust, &[], false), Err(Block::Stopped));
        let until = NaiveDate::from_ymd_opt(2026, 2, 10).unwrap();
        inv.promise_to_pay = Some(PromiseToPay {
            until,
            amount: None,
        });
        assert_eq!(remind(&inv, &cust, &[], false), Err(Block::Promised(until)));
        inv.dispute = Some(Dispute {
            opened: "2026-02-01T00:00:00Z".parse().unwrap(),
            reason: String::new(),
        });
        assert_eq!(remind(&inv, &cust, &[], false), Err(Block::Disputed));
        inv.status = InvoiceStatus::Paid;
        assert_eq!(
            remind(&inv, &cust, &[], false),
            Err(Block::Closed(InvoiceStatus::Paid))
        );
        assert_eq!(
            Block::Closed(InvoiceStatus::WrittenOff).to_string(),
            "invoice is written-off"
        );
    }

    #[test]
    fn a_lapsed_promise_no_longer_holds_reminders() {
        let (mut inv, cust) = fixtures();
        inv.promise_to_pay = Some(PromiseToPay {
            until: NaiveDate::from_ymd_opt(2026, 2, 9).unwrap(),
            amount: None,
        });
        assert_eq!(remind(&inv, &cust, &[], false), Ok(()));
    }

    #[test]
    fn internal_actions_pass_a_dispute_but_not_a_closed_invoice() {
        let (mut inv, cust) = fixtures();
        inv.dispute = Some(Dispute {
            opened: "2026-02-01T00:00:00Z".parse().unwrap(),
            reason: String::new(),
        });
        let now = "2026-02-10T09:00:00Z".parse().unwrap();
        let review = Request {
            step: "dispute-review",
            channel: None,
        };
        assert_eq!(check(&review, &inv, &cust, [], false, now), Ok(()));
        inv.status = InvoiceStatus::Void;
        assert_eq!(
            check(&review, &inv, &cust, [], false, now),
            Err(Block::Closed(InvoiceStatus::Void))
        );
    }
}
