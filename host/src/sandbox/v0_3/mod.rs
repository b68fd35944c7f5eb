//! Contract `sollecito:plugin@0.3.0`, the newest: bindings generated from
//! `wit/`; the lean invoice view with the customer's latest reply; and the
//! `reader` world, which reads what a reply says.

pub mod convert;

contract_bindings!("../wit");
contract_version!("0.3.0");
lean_policy!();
lean_view!(reply: reply_of);

pub mod reader {
    wasmtime::component::bindgen!({
        world: "reader",
        path: "../wit",
        additional_derives: [PartialEq],
        with: {
            "sollecito:plugin/types": super::policy::sollecito::plugin::types,
            "sollecito:plugin/log": super::policy::sollecito::plugin::log,
        },
    });
}

/// The `reader` world, new in this version.
mod reader_world {
    use super::{convert, reader};
    use crate::sandbox::CallState;
    use crate::sandbox::contracts::Prepared;
    use wasmtime::component::{HasSelf, InstancePre, Linker};

    pub(in crate::sandbox) const SPOKEN: bool = true;

    pub(in crate::sandbox) fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
        reader::Reader::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
    }

    pub(in crate::sandbox) fn prepare(pre: InstancePre<CallState>) -> wasmtime::Result<Box<dyn Prepared>> {
        Ok(Box::new(reader::ReaderPre::new(pre)?))
    }

    impl Prepared for reader::ReaderPre<CallState> {
        fn describe(
            &self,
            store: &mut wasmtime::Store<CallState>,
        ) -> wasmtime::Result<crate::sandbox::contracts::Described> {
            self.instantiate(&mut *store).and_then(|r| r.call_describe(store)).map(super::described)
        }

        fn read(
            &self,
            store: &mut wasmtime::Store<CallState>,
            settings: &[crate::decision::Setting],
            replies: &[crate::reading::WrittenReply],
        ) -> Option<wasmtime::Result<Vec<Result<crate::reading::Reading, String>>>> {
            let settings = convert::settings(settings);
            let replies: Vec<_> = replies.iter().map(convert::written_reply).collect();
            let answer = self.instantiate(&mut *store).and_then(|r| r.call_read_replies(store, &settings, &replies));
            Some(answer.map(|a| a.into_iter().map(|r| r.and_then(convert::reading)).collect()))
        }
    }
}

/// The newest: benchmarks of the contract call it with its own types.
fn latest_policy(
    pre: &policy::PolicyPre<crate::sandbox::CallState>,
) -> Option<&policy::PolicyPre<crate::sandbox::CallState>> {
    Some(pre)
}

/// The customer's latest reply, as a policy sees it.
fn reply_of(i: &crate::invoice::Invoice) -> Option<Reply> {
    use crate::invoice::ReplyIntent as Host;
    i.answered.as_ref().map(|a| Reply {
        at: a.at.timestamp(),
        step: a.step.clone(),
        intent: match a.intent {
            Host::SaysPaid => ReplyIntent::SaysPaid,
            Host::Promise => ReplyIntent::Promise,
            Host::Dispute => ReplyIntent::Dispute,
            Host::Question => ReplyIntent::Question,
            Host::Other => ReplyIntent::Other,
        },
    })
}

pub use channel::sollecito::plugin::delivery::{DeliveryError, Message, Receipt, Recipient, Sender};
pub use channel::sollecito::plugin::mail::Email;
pub use channel::sollecito::plugin::tasks::Task;
pub use payment::sollecito::plugin::charges::{Charge, ChargeError, ChargeOutcome};
pub use policy::sollecito::plugin::log::Level;
pub use policy::sollecito::plugin::types::{
    Action, CloseReason, Contact, ContactPoints, Customer as CustomerView, Date, Decision, Escalation, EscalationKind,
    Fee, FeeAdded, Instalment, InvoiceKind, InvoiceStatus, InvoiceView, Money, Outcome, PaymentFailure, PaymentMethod,
    PaymentRecord, Plan, PlanOffer, PluginInfo, PolicyInfo, PromiseToPay, Reply, ReplyIntent, Setting, Tone,
};
pub use reader::sollecito::plugin::reading::{Intent, SaysPaid, WrittenReply};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::{Customer, Fee, Invoice};
    use crate::plan::{Plan as HostPlan, split};
    use chrono::NaiveDate;

    fn customer() -> Customer {
        serde_json::from_value(serde_json::json!({
            "id": "c", "name": "Bottega Rossi", "email": "c@example.com", "phone": null,
            "postal_address": "Via Roma 1, Torino", "locale": "it-IT", "timezone": "Europe/Rome",
            "segment": "default", "business": true, "tags": [], "customer_since": "2020-01-01",
            "invoices_paid": 0, "paid_on_time": 0, "opted_out": [], "dunning_stop": false
        }))
        .unwrap()
    }

    fn invoice() -> Invoice {
        serde_json::from_value(serde_json::json!({
            "id": "i", "number": "2026/17", "customer_id": "c", "status": "open", "kind": "one-off",
            "currency": "EUR", "amount_due": 30_000, "amount_paid": 0, "issued": "2026-01-01",
            "due": "2026-01-31", "payment_link": "https://pay.example/i", "payment_failure": null,
            "dispute": null, "promise_to_pay": null, "payment_method": null
        }))
        .unwrap()
    }

    #[test]
    fn the_view_says_what_exists_without_the_addresses() {
        let view = invoice_view(&invoice(), customer_view(&customer()), vec![]);
        assert_eq!(view.customer.reachable, ContactPoints::EMAIL | ContactPoints::POSTAL_ADDRESS);
        assert!(view.has_payment_link);
        assert_eq!((view.currency.as_str(), view.amount_due, view.amount_paid), ("EUR", 30_000, 0));
        assert_eq!((view.fees.len(), view.plan.is_none(), view.promise_to_pay.is_none()), (0, true, true));
    }

    #[test]
    fn fees_and_an_accepted_plan_are_visible_and_the_plan_is_not_a_promise() {
        let mut i = invoice();
        i.fees.push(Fee { step: "late-compensation".into(), amount: 4_000, reason: "costi di recupero".into() });
        let first_due = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        // 240.00 EUR left after 100.00 paid, in three instalments a month apart; 150.00 EUR paid since.
        i.amount_paid = 25_000;
        i.plan = Some(HostPlan {
            step: "plan-offer".into(),
            accepted: "2026-02-20T10:00:00Z".parse().unwrap(),
            paid_before: 10_000,
            instalments: split(24_000, 3, first_due, 30).unwrap(),
        });
        let view = invoice_view(&i, customer_view(&customer()), vec![]);
        assert_eq!(view.amount_due, 34_000, "the fee is owed too");
        assert_eq!(view.fees, [FeeAdded { step: "late-compensation".into(), minor: 4_000 }]);
        let plan = view.plan.expect("the plan is visible");
        assert_eq!(plan.step, "plan-offer");
        let left: Vec<(i64, i64)> = plan.instalments.iter().map(|k| (k.minor, k.left)).collect();
        assert_eq!(left, [(8_000, 0), (8_000, 1_000), (8_000, 8_000)]);
        assert_eq!(plan.instalments[1].due, date(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()));
        assert!(view.promise_to_pay.is_none(), "0.1 showed the plan as a promise; 0.2 shows it as itself");
    }
}
