//! An invoice's state as the operator understands it: not only the status
//! the accounting system gave it, but what holds the dunning back (a
//! promise, a dispute, a plan) and where it went (collections).

use chrono::NaiveDate;

use super::i18n::Viewer;
use crate::invoice::{Invoice, InvoiceStatus};
use crate::plan::Standing as PlanStanding;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    Open,
    PromisedUntil(NaiveDate),
    /// The customer replied; reminders wait for a person to read it.
    RepliedHeldUntil(NaiveDate),
    /// A bank transfer may pay it; reminders wait for a person to match it.
    TransferHeldUntil(NaiveDate),
    Disputed,
    OnPlan,
    Collections,
    Paid,
    Void,
    WrittenOff,
}

impl Standing {
    /// `closed` is the reason its review was closed with, if it was.
    pub(crate) fn of(invoice: &Invoice, closed: Option<&str>, today: NaiveDate) -> Standing {
        match invoice.status {
            InvoiceStatus::Paid => return Standing::Paid,
            InvoiceStatus::Void => return Standing::Void,
            InvoiceStatus::WrittenOff => return Standing::WrittenOff,
            InvoiceStatus::Open => {}
        }
        if closed == Some(crate::decision::CloseReason::Collections.name()) {
            return Standing::Collections;
        }
        if invoice.dispute.is_some() {
            return Standing::Disputed;
        }
        if let Some(p) = invoice.promise_to_pay.as_ref().filter(|p| p.until >= today) {
            return Standing::PromisedUntil(p.until);
        }
        if let Some(a) = invoice.answered.as_ref().filter(|a| a.until >= today) {
            return Standing::RepliedHeldUntil(a.until);
        }
        if let Some(until) = invoice.transfer_to_confirm.filter(|u| *u >= today) {
            return Standing::TransferHeldUntil(until);
        }
        if let Some(plan) = &invoice.plan
            && matches!(plan.standing(invoice.amount_paid, today), PlanStanding::OnTrack(_))
        {
            return Standing::OnPlan;
        }
        Standing::Open
    }

    /// Whether it is still owed, so days past due and what is outstanding mean something.
    pub(crate) fn owed(self) -> bool {
        !matches!(self, Standing::Paid | Standing::Void | Standing::WrittenOff)
    }

    /// In the viewer's words.
    pub(crate) fn words(self, v: &Viewer) -> String {
        let key = match self {
            Standing::Open => "state_open",
            Standing::PromisedUntil(_) => "state_promised",
            Standing::RepliedHeldUntil(_) => "state_replied",
            Standing::TransferHeldUntil(_) => "state_transfer",
            Standing::Disputed => "state_disputed",
            Standing::OnPlan => "state_on_plan",
            Standing::Collections => "state_collections",
            Standing::Paid => "state_paid",
            Standing::Void => "state_void",
            Standing::WrittenOff => "state_written-off",
        };
        match self {
            Standing::PromisedUntil(until) | Standing::RepliedHeldUntil(until) | Standing::TransferHeldUntil(until) => {
                v.word(key).replace("{until}", &v.date(until))
            }
            _ => v.word(key),
        }
    }
}
