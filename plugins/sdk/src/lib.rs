//! Write a sollecito dunning policy as a few rules.
//!
//! ```
//! use sollecito_sdk::prelude::*;
//!
//! struct Gentle;
//!
//! impl Policy for Gentle {
//!     fn info() -> PolicyInfo {
//!         PolicyInfo::new("gentle", "0.1.0", "One reminder a week after due.")
//!             .templates(&["overdue-soft"])
//!             .channels(&["email", "letter"])
//!     }
//!
//!     fn decide(inv: &InvoiceView, ctx: &Ctx) -> Result<Decision, String> {
//!         let mut ladder = Ladder::new(inv, ctx)?;
//!         ladder.remind("overdue-7", inv.due.add_days(7), "email", "overdue-soft", Tone::Soft);
//!         Ok(ladder.decide())
//!     }
//! }
//!
//! sollecito_sdk::policy!(Gentle);
//! ```
//!
//! The SDK runs the conventions every policy shares before and after `decide`:
//! closed, paid, disputed and promised invoices are handled by
//! [`Policy::guard`] (see [`standard_guard`]), and a next review that is not
//! in the future is moved to tomorrow 00:00 UTC.

// Test amounts are written in cents as 100_00 (euros_cents) on purpose.
#![cfg_attr(test, allow(clippy::inconsistent_digit_grouping))]

/// The bindings generated from `wit/` (world `policy`). Use the re-exports
/// at the crate root; this module is public for the export macro.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "policy",
        pub_export_macro: true,
        default_bindings_module: "sollecito_sdk::bindings",
        // Equality lets tests compare whole decisions.
        additional_derives: [PartialEq, Eq],
    });
}

#[cfg(all(feature = "bump-alloc", target_arch = "wasm32"))]
mod bump;
mod ctx;
mod date;
mod decision;
mod guard;
mod invoice;
mod ladder;
pub mod log;
pub mod testing;

pub use bindings::sollecito::plugin::types::{
    Action, CloseReason, Contact, ContactPoints, Customer, Date, Decision, Dispute, Escalation, EscalationKind, Fee,
    FeeAdded, Instalment, InvoiceKind, InvoiceStatus, InvoiceView, Money, Outcome, PaymentFailure, PaymentMethod,
    PaymentRecord, PaymentRetry, Plan, PlanOffer, PolicyInfo, PromiseToPay, Reminder, Reply, ReplyIntent, Setting,
    Timestamp, Tone,
};
pub use ctx::Ctx;
pub use date::{DAY, HOUR};
pub use guard::standard_guard;
pub use invoice::{currency_exponent, is_hard_decline};
pub use ladder::{CatchUp, Ladder, Rung};

#[cfg(all(feature = "bump-alloc", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: bump::Bump = bump::Bump::new();

/// Everything a policy usually needs: `use sollecito_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Action, CloseReason, ContactPoints, Ctx, Date, Decision, EscalationKind, InvoiceKind, InvoiceStatus,
        InvoiceView, Ladder, Policy, PolicyInfo, Timestamp, Tone, currency_exponent, is_hard_decline, log,
    };
}

/// A dunning policy: what to do about one open invoice, given the time and settings.
pub trait Policy {
    /// Name, version, a one-line summary and the templates and channels the
    /// policy may name, as `describe` returns them. The host refuses a
    /// decision naming one not declared here.
    fn info() -> PolicyInfo;

    /// The rules proper. Runs only when [`Policy::guard`] returned `None`.
    /// An `Err` fails this invoice alone; the host retries it later.
    fn decide(invoice: &InvoiceView, ctx: &Ctx) -> Result<Decision, String>;

    /// What every policy does before its own rules (closed, paid, disputed,
    /// promised invoices). Override only to handle those cases differently.
    fn guard(invoice: &InvoiceView, ctx: &Ctx) -> Result<Option<Decision>, String> {
        standard_guard(invoice, ctx)
    }
}

impl PolicyInfo {
    pub fn new(name: &str, version: &str, summary: &str) -> Self {
        PolicyInfo {
            name: name.into(),
            version: version.into(),
            summary: summary.into(),
            templates: Vec::new(),
            channels: Vec::new(),
        }
    }

    /// The templates the policy's reminders may name.
    pub fn templates(mut self, names: &[&str]) -> Self {
        self.templates = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// The channels the policy's reminders may name (fallbacks included: the
    /// SDK turns `email` into `letter` for a customer without an address).
    pub fn channels(mut self, names: &[&str]) -> Self {
        self.channels = names.iter().map(|n| n.to_string()).collect();
        self
    }
}

/// The `evaluate` export: one result per invoice, in the same order.
pub fn evaluate_batch<P: Policy>(
    now: Timestamp,
    settings: Vec<Setting>,
    batch: Vec<InvoiceView>,
) -> Vec<Result<Decision, String>> {
    let ctx = Ctx::new(now, settings);
    batch.iter().map(|inv| evaluate::<P>(inv, &ctx)).collect()
}

/// One invoice through guard, rules and the checks the host relies on.
pub fn evaluate<P: Policy>(invoice: &InvoiceView, ctx: &Ctx) -> Result<Decision, String> {
    let mut decision = match P::guard(invoice, ctx)? {
        Some(decision) => decision,
        None => P::decide(invoice, ctx)?,
    };
    // A review in the past would make the host evaluate again at once.
    if decision.next_review.is_some_and(|at| at <= ctx.now) {
        decision.next_review = Some(ctx.today.add_days(1).midnight());
    }
    let reminders = decision.reminders().count();
    if reminders > 1 {
        return Err(format!("policy bug: {reminders} reminders in one decision"));
    }
    Ok(decision)
}

/// Exports a type implementing [`Policy`] as the component's `policy` world.
///
/// `sollecito_sdk::policy!(MyPolicy);` once, at the crate root.
#[macro_export]
macro_rules! policy {
    ($ty:ident) => {
        impl $crate::bindings::Guest for $ty {
            fn describe() -> $crate::PolicyInfo {
                <$ty as $crate::Policy>::info()
            }

            fn evaluate(
                now: $crate::Timestamp,
                settings: ::std::vec::Vec<$crate::Setting>,
                batch: ::std::vec::Vec<$crate::InvoiceView>,
            ) -> ::std::vec::Vec<::core::result::Result<$crate::Decision, ::std::string::String>>
            {
                $crate::evaluate_batch::<$ty>(now, settings, batch)
            }
        }

        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, invoice};

    /// Answers according to the invoice number, to exercise `evaluate`.
    struct Scripted;

    impl Policy for Scripted {
        fn info() -> PolicyInfo {
            PolicyInfo::new("scripted", "0.0.0", "test")
        }

        fn decide(inv: &InvoiceView, ctx: &Ctx) -> Result<Decision, String> {
            match inv.id.as_str() {
                "past-review" => Ok(Decision::done().review_at(ctx.now - 1)),
                "two-reminders" => {
                    Ok(Decision::done().remind("a", "email", "t", Tone::Soft).remind("b", "email", "t", Tone::Soft))
                }
                other => Err(other.into()),
            }
        }
    }

    #[test]
    fn evaluate_enforces_the_host_conventions() {
        let ctx = Ctx::new(at(2025, 3, 10, 9), vec![]);
        let mut inv = invoice(Date::new(2025, 3, 1), 100_00, "EUR");
        inv.id = "past-review".into();
        let d = evaluate::<Scripted>(&inv, &ctx).unwrap();
        assert_eq!(d.next_review, Some(Date::new(2025, 3, 11).midnight()));
        inv.id = "two-reminders".into();
        assert!(evaluate::<Scripted>(&inv, &ctx).is_err());
        // The guard runs first: a paid invoice never reaches the rules.
        inv.amount_paid = 100_00;
        assert_eq!(evaluate::<Scripted>(&inv, &ctx), Ok(Decision::done().close(CloseReason::Paid)));
    }

    #[test]
    fn batch_is_one_result_per_invoice_in_order() {
        let mut a = invoice(Date::new(2025, 3, 1), 100_00, "EUR");
        a.id = "first".into();
        let mut b = a.clone();
        b.id = "second".into();
        let results = evaluate_batch::<Scripted>(at(2025, 3, 10, 9), vec![], vec![a, b]);
        assert_eq!(results, [Err("first".into()), Err("second".into())]);
    }
}
