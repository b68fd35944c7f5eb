//! The sample facts every template is rendered with at start-up, with and
//! without the optional ones.

use chrono::NaiveDate;

use super::{Business, Extras, Facts};
use crate::plan::Instalment;

/// The sender for the start-up check: with every optional detail, or with none.
pub(super) fn sample_business(rich: bool) -> Business {
    let opt = |s: &str| rich.then(|| s.to_string());
    Business {
        name: "Sample Business Srl".into(),
        email: "billing@business.example".into(),
        phone: opt("+39 02 0000 0000"),
        address: opt("Via Esempio 1, 20100 Milano"),
        website: opt("https://business.example"),
        payment_methods: if rich { vec!["bank transfer IBAN IT00X0000000000000000000000".into()] } else { vec![] },
    }
}

/// Facts for the start-up check: `rich` gives every optional fact (partly paid, link, deadline).
pub(super) fn sample_facts<'a>(
    template: &'a str,
    tone: &'a str,
    lang: &'a str,
    b: &'a Business,
    overdue: bool,
) -> Facts<'a> {
    let d = |m, d| NaiveDate::from_ymd_opt(2026, m, d).expect("valid sample date");
    let rich = b.phone.is_some();
    Facts {
        template,
        tone,
        locale: lang,
        business: b,
        customer_name: "Sample Customer Spa",
        invoice_number: "SAMPLE-0042",
        currency: "EUR",
        amount_due: 125_000,
        amount_paid: if rich { 25_000 } else { 0 },
        issued: d(8, 16),
        due: d(9, 15),
        today: if overdue { d(10, 15) } else { d(9, 10) },
        payment_link: rich.then_some("https://pay.business.example/SAMPLE-0042"),
        portal_url: rich.then_some("https://pay.business.example/p/SAMPLE-TOKEN"),
        deadline: rich.then(|| d(10, 22)),
        business_customer: true,
        extras: if rich { sample_extras() } else { Extras::default() },
    }
}

/// A plan, a fee and another invoice, for the start-up check of the messages that use them.
fn sample_extras() -> Extras<'static> {
    static PLAN: std::sync::LazyLock<Vec<Instalment>> = std::sync::LazyLock::new(|| {
        crate::plan::split(100_000, 3, NaiveDate::from_ymd_opt(2026, 10, 22).expect("valid sample date"), 30)
            .expect("a valid sample plan")
    });
    static OTHERS: std::sync::LazyLock<[(&str, i64, NaiveDate); 1]> = std::sync::LazyLock::new(|| {
        [("SAMPLE-0043", 30_000, NaiveDate::from_ymd_opt(2026, 9, 30).expect("valid sample date"))]
    });
    Extras {
        instalments: &PLAN,
        instalment: Some((&PLAN[1], 33_333)),
        fees: &[(2_500, "reminder fee")],
        others: &*OTHERS,
    }
}
