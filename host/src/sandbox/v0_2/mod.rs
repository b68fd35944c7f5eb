//! Contract `sollecito:plugin@0.2.0`: bindings generated from `wit/0.2`, and
//! the invoice as a policy of this version sees it (lean: the customer's
//! addresses, the invoice number and the payment link stay here). When the
//! contract moved on to 0.3, this module stayed.

pub mod convert;

contract_bindings!("../wit/0.2");
contract_version!("0.2.0");
no_reader_world!();
lean_policy!();
lean_view!();

/// Not the newest: benchmarks of the contract call 0.3's.
fn latest_policy(
    _: &policy::PolicyPre<crate::sandbox::CallState>,
) -> Option<&crate::sandbox::latest::policy::PolicyPre<crate::sandbox::CallState>> {
    None
}

pub use channel::sollecito::plugin::delivery::{DeliveryError, Message, Receipt, Recipient, Sender};
pub use channel::sollecito::plugin::mail::Email;
pub use channel::sollecito::plugin::tasks::Task;
pub use payment::sollecito::plugin::charges::{Charge, ChargeError, ChargeOutcome};
pub use policy::sollecito::plugin::log::Level;
pub use policy::sollecito::plugin::types::{
    Action, CloseReason, Contact, ContactPoints, Customer as CustomerView, Date, Decision, Escalation, EscalationKind,
    Fee, FeeAdded, Instalment, InvoiceKind, InvoiceStatus, InvoiceView, Money, Outcome, PaymentFailure, PaymentMethod,
    PaymentRecord, Plan, PlanOffer, PluginInfo, PolicyInfo, PromiseToPay, Setting, Tone,
};
