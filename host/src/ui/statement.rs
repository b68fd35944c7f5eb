//! The statement of account on the customer's page, as PDF and as CSV:
//! every open invoice with what was paid and what is left, its payment
//! reference, and the total still owed per currency. In the customer's
//! language, with the amounts as a spreadsheet reads them in the CSV.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::invoice::{Customer, Invoice};
use crate::portal::rf;

use crate::portal::words::Words;

/// What a statement is made of.
pub(super) struct Statement<'a> {
    pub business: &'a str,
    pub customer: &'a Customer,
    pub invoices: &'a [Invoice],
    pub today: NaiveDate,
    /// (IBAN, beneficiary) when the business takes transfers.
    pub account: Option<(&'a str, &'a str)>,
}

impl Statement<'_> {
    /// Still owed, per currency, in minor units.
    fn owed(&self) -> BTreeMap<&str, i64> {
        let mut owed: BTreeMap<&str, i64> = BTreeMap::new();
        for i in self.invoices {
            *owed.entry(i.currency.as_str()).or_default() += i.outstanding();
        }
        owed
    }

    fn money(&self, minor: i64, currency: &str) -> String {
        crate::render::amount_for(minor, currency, &self.customer.locale)
    }

    /// One row per invoice; amounts as plain decimals (`1250.00`) with their
    /// currency in a column of its own, so a spreadsheet sums them.
    pub(super) fn csv(&self, t: &Words) -> Vec<u8> {
        let word = |k: &str| t.get(k).cloned().unwrap_or_default();
        let plain = |minor: i64, currency: &str| {
            crate::money::format_money(minor, currency).split(' ').next().unwrap_or_default().to_string()
        };
        let mut out = csv::Writer::from_writer(vec![]);
        let header = [
            word("invoice"),
            word("statement_issued"),
            word("due"),
            word("statement_late"),
            word("total"),
            word("paid"),
            word("outstanding"),
            word("statement_currency"),
            word("reference"),
        ];
        let mut rows = vec![header.to_vec()];
        for i in self.invoices {
            rows.push(vec![
                i.number.clone(),
                i.issued.to_string(),
                i.due.to_string(),
                (self.today - i.due).num_days().max(0).to_string(),
                plain(i.total(), &i.currency),
                plain(i.amount_paid, &i.currency),
                plain(i.outstanding(), &i.currency),
                i.currency.clone(),
                rf::of_invoice(&i.number),
            ]);
        }
        for mut row in rows {
            // An invoice number a spreadsheet would run as a formula is written as text.
            if row[0].starts_with(['=', '+', '-', '@']) {
                row[0] = format!("'{}", row[0]);
            }
            out.write_record(&row).expect("writing to memory");
        }
        out.into_inner().unwrap_or_default()
    }

    /// The same as A4 pages.
    pub(super) fn pdf(&self, t: &Words) -> Vec<u8> {
        let word = |k: &str| t.get(k).cloned().unwrap_or_default();
        let date = |d: NaiveDate| crate::render::format_date(d, &self.customer.locale);
        let mut lines = vec![
            self.business.to_string(),
            String::new(),
            format!("{} {}", word("statement_heading"), self.customer.name),
            format!("{} {}", word("statement_on"), date(self.today)),
            String::new(),
        ];
        for i in self.invoices {
            let late = (self.today - i.due).num_days();
            let late = if late > 0 { format!(" ({late} {})", word("days_late")) } else { String::new() };
            lines.push(format!("{} {}", word("invoice"), i.number));
            lines.push(format!(
                "    {} {} · {} {}{late}",
                word("statement_issued"),
                date(i.issued),
                word("due"),
                date(i.due)
            ));
            lines.push(format!(
                "    {} {} · {} {} · {} {}",
                word("total"),
                self.money(i.total(), &i.currency),
                word("paid"),
                self.money(i.amount_paid, &i.currency),
                word("outstanding"),
                self.money(i.outstanding(), &i.currency)
            ));
            lines.push(format!("    {} {}", word("reference"), rf::grouped(&rf::of_invoice(&i.number))));
            lines.push(String::new());
        }
        for (currency, minor) in self.owed() {
            lines.push(format!("{}: {}", word("statement_total_owed"), self.money(minor, currency)));
        }
        if let Some((iban, beneficiary)) = self.account {
            lines.push(String::new());
            lines.push(format!("{}: {beneficiary}", word("beneficiary")));
            lines.push(format!("IBAN {}", rf::grouped(iban)));
        }
        let wrapped: Vec<String> =
            lines.iter().flat_map(|l| sollecito_print::wrap(l, sollecito_print::WIDTH)).collect();
        sollecito_print::pdf(&wrapped)
    }
}
