//! The door a change came in through, kept beside the record's line and the
//! outcome it wrote: the finance team asks how the money arrived.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Door {
    /// A bank statement's credit, matched or confirmed by a person.
    Bank,
    /// Stripe's webhooks.
    Stripe,
    /// An import from the accounting system (JSON, CSV, e-invoices).
    Import,
    /// `POST /v1/invoices/{id}/events`, or the command line's events.
    Api,
    /// The customer on their own page.
    Portal,
    /// A reply, a bounce or a complaint by email.
    Mail,
    /// The result of a step carried out (a card retried, a fee added, a service suspended).
    Step,
    /// A simulation's or the demo's scripted events.
    Script,
}

impl Door {
    pub const ALL: [Door; 8] =
        [Door::Bank, Door::Stripe, Door::Import, Door::Api, Door::Portal, Door::Mail, Door::Step, Door::Script];

    pub fn name(self) -> &'static str {
        match self {
            Door::Bank => "bank",
            Door::Stripe => "stripe",
            Door::Import => "import",
            Door::Api => "api",
            Door::Portal => "portal",
            Door::Mail => "mail",
            Door::Step => "step",
            Door::Script => "script",
        }
    }

    pub fn parse(name: &str) -> Option<Door> {
        Door::ALL.into_iter().find(|d| d.name() == name)
    }
}
