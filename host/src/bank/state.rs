//! What became of a bank entry, as the store keeps it and the report and
//! the dashboard read it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryState {
    /// A credit the host matched to the invoices it pays.
    Matched,
    /// A credit a person matched.
    Confirmed,
    /// A credit that may pay one of several invoices: a person picks.
    Unsure,
    /// A credit nothing names: listed for a person.
    Unmatched,
    /// A credit naming invoices paid already: a second payment, for a person.
    AlreadyPaid,
    /// A card processor's payout: its payments came through the processor.
    Payout,
    /// Money out.
    Debit,
    /// A debit that reverses a credit of ours.
    Reversal,
    /// A credit the bank took back (by a reversal).
    Reversed,
    /// A credit that reverses a debit of ours: our money sent back.
    Returned,
}

impl EntryState {
    pub const ALL: [EntryState; 10] = [
        EntryState::Matched,
        EntryState::Confirmed,
        EntryState::Unsure,
        EntryState::Unmatched,
        EntryState::AlreadyPaid,
        EntryState::Payout,
        EntryState::Debit,
        EntryState::Reversal,
        EntryState::Reversed,
        EntryState::Returned,
    ];
    /// Listed for a person to match.
    pub const WAITING: [EntryState; 3] = [EntryState::Unsure, EntryState::Unmatched, EntryState::AlreadyPaid];
    /// A person may still say which invoice it pays (a payout taken for one by mistake too).
    pub const CONFIRMABLE: [EntryState; 4] =
        [EntryState::Unsure, EntryState::Unmatched, EntryState::AlreadyPaid, EntryState::Payout];
    /// It paid invoices, by the host or a person.
    pub const PAID: [EntryState; 2] = [EntryState::Matched, EntryState::Confirmed];

    pub fn name(self) -> &'static str {
        match self {
            EntryState::Matched => "matched",
            EntryState::Confirmed => "confirmed",
            EntryState::Unsure => "unsure",
            EntryState::Unmatched => "unmatched",
            EntryState::AlreadyPaid => "already-paid",
            EntryState::Payout => "payout",
            EntryState::Debit => "debit",
            EntryState::Reversal => "reversal",
            EntryState::Reversed => "reversed",
            EntryState::Returned => "returned",
        }
    }

    pub fn parse(name: &str) -> Option<EntryState> {
        EntryState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// `'unsure', 'unmatched'`: the states as an SQL `IN` list.
    pub(crate) fn sql(states: &[EntryState]) -> String {
        states.iter().map(|s| format!("'{}'", s.name())).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_by_its_name() {
        for s in EntryState::ALL {
            assert_eq!(EntryState::parse(s.name()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
        assert_eq!(EntryState::parse("paid"), None);
        assert_eq!(EntryState::sql(&EntryState::PAID), "'matched', 'confirmed'");
    }
}
