//! The lean invoice view (contract 0.2 on), expanded alike over each
//! version's own generated types: amounts in the invoice's minor units, the
//! customer's addresses and the payment link kept by the host. A version
//! that adds fields to the view names them and how each is made from the
//! invoice (`lean_view!(reply: reply_of)`).

/// `customer_view`, `invoice_view` and `views_of` of a lean version, with
/// its own extra fields of the view.
macro_rules! lean_view {
    ($($field:ident: $make:path),* $(,)?) => {
        pub fn date(d: chrono::NaiveDate) -> Date {
            use chrono::Datelike;
            Date { year: d.year(), month: d.month() as u8, day: d.day() as u8 }
        }

        pub fn naive_date(d: &Date) -> Option<chrono::NaiveDate> {
            chrono::NaiveDate::from_ymd_opt(d.year, d.month.into(), d.day.into())
        }

        pub fn customer_view(c: &crate::invoice::Customer) -> CustomerView {
            let mut reachable = ContactPoints::empty();
            for (known, point) in [
                (c.deliverable_email().is_some(), ContactPoints::EMAIL),
                (c.phone.is_some(), ContactPoints::PHONE),
                (c.postal_address.is_some(), ContactPoints::POSTAL_ADDRESS),
            ] {
                if known {
                    reachable |= point;
                }
            }
            CustomerView {
                id: c.id.clone(),
                locale: c.locale.clone(),
                segment: c.segment.clone(),
                business: c.business,
                reachable,
                tags: c.tags.clone(),
                payment_record: PaymentRecord {
                    customer_since: date(c.customer_since),
                    invoices_paid: c.invoices_paid,
                    paid_on_time: c.paid_on_time,
                },
                opted_out: c.opted_out.clone(),
            }
        }

        /// Every invoice of a dataset as a policy of this version sees it, with no
        /// contact made yet (for tests and benchmarks of the contract itself).
        pub fn views_of(data: &crate::intake::Dataset) -> Vec<InvoiceView> {
            data.fresh_reviews().iter().map(convert::view).collect()
        }

        /// The invoice as a policy of this contract version sees it.
        pub fn invoice_view(i: &crate::invoice::Invoice, customer: CustomerView, history: Vec<Contact>) -> InvoiceView {
            use crate::invoice;
            InvoiceView {
                id: i.id.clone(),
                status: match i.status {
                    invoice::InvoiceStatus::Open => InvoiceStatus::Open,
                    invoice::InvoiceStatus::Paid => InvoiceStatus::Paid,
                    invoice::InvoiceStatus::Void => InvoiceStatus::Void,
                    invoice::InvoiceStatus::WrittenOff => InvoiceStatus::WrittenOff,
                },
                kind: match i.kind {
                    invoice::InvoiceKind::OneOff => InvoiceKind::OneOff,
                    invoice::InvoiceKind::SubscriptionRenewal => InvoiceKind::SubscriptionRenewal,
                },
                currency: i.currency.clone(),
                amount_due: i.total(),
                amount_paid: i.amount_paid,
                issued: date(i.issued),
                due: date(i.due),
                fees: i.fees.iter().map(|f| FeeAdded { step: f.step.clone(), minor: f.amount }).collect(),
                plan: i.plan.as_ref().map(|p| Plan {
                    step: p.step.clone(),
                    accepted: p.accepted.timestamp(),
                    instalments: p
                        .instalments
                        .iter()
                        .map(|k| Instalment { due: date(k.due), minor: k.amount, left: p.left_on(k.number, i.amount_paid) })
                        .collect(),
                }),
                payment_failure: i.payment_failure.as_ref().map(|f| PaymentFailure {
                    decline_code: f.decline_code.clone(),
                    attempts: f.attempts,
                    first_failed: f.first_failed.timestamp(),
                    last_attempt: f.last_attempt.timestamp(),
                }),
                dispute: i.dispute.as_ref().map(|d| policy::sollecito::plugin::types::Dispute {
                    opened: d.opened.timestamp(),
                    reason: d.reason.clone(),
                }),
                promise_to_pay: i.promise_to_pay.as_ref().map(|p| PromiseToPay { until: date(p.until), amount: p.amount }),
                has_payment_link: i.payment_link.is_some(),
                payment_method: i
                    .payment_method
                    .as_ref()
                    .map(|m| PaymentMethod { setup_complete: m.setup_complete, expires: m.expires.map(date) }),
                customer,
                history,
                $($field: $make(i),)*
            }
        }
    };
}

/// A lean version's decisions in the host's terms (in `convert`): a fee is
/// in the currency of the invoice decided on.
macro_rules! lean_decisions {
    () => {
        pub fn decision(d: Decision, currency: &str) -> decision::Decision {
            decision::Decision {
                actions: d.actions.into_iter().map(|a| action(a, currency)).collect(),
                next_review: d.next_review,
            }
        }

        fn action(a: Action, currency: &str) -> decision::Action {
            match a {
                Action::Remind(r) => decision::Action::Remind(decision::Reminder {
                    step: r.step,
                    channel: r.channel,
                    template: r.template,
                    tone: host_tone(r.tone),
                    deadline: r.deadline.as_ref().and_then(naive_date),
                }),
                Action::RetryPayment(r) => decision::Action::RetryPayment { step: r.step, at: r.at },
                Action::Escalate(e) => decision::Action::Escalate(decision::Escalation {
                    step: e.step,
                    kind: escalation_kind(e.kind),
                    reason: e.reason,
                }),
                Action::ApplyFee(f) => decision::Action::ApplyFee(decision::FeeAsked {
                    step: f.step,
                    minor: f.minor,
                    currency: currency.to_string(),
                    reason: f.reason,
                }),
                Action::OfferPlan(p) => decision::Action::OfferPlan(decision::PlanAsked {
                    step: p.step,
                    instalments: p.instalments,
                    first_due: naive_date(&p.first_due),
                    every_days: p.every_days,
                }),
                Action::Close(reason) => decision::Action::Close(close_reason(reason)),
            }
        }
    };
}

/// A lean version's policy world (`describe` declares templates and
/// channels; fees are read in the invoice's currency).
macro_rules! lean_policy {
    () => {
        impl crate::sandbox::contracts::Prepared for policy::PolicyPre<crate::sandbox::CallState> {
            fn describe(
                &self,
                store: &mut wasmtime::Store<crate::sandbox::CallState>,
            ) -> wasmtime::Result<crate::sandbox::contracts::Described> {
                let info = self.instantiate(&mut *store).and_then(|p| p.call_describe(store))?;
                Ok(crate::sandbox::contracts::Described {
                    name: info.name,
                    version: info.version,
                    summary: info.summary,
                    declared: Some(crate::sandbox::Declared {
                        templates: info.templates.into_iter().collect(),
                        channels: info.channels.into_iter().collect(),
                    }),
                })
            }

            fn decide(
                &self,
                store: &mut wasmtime::Store<crate::sandbox::CallState>,
                now: i64,
                settings: &[crate::decision::Setting],
                batch: &[crate::decision::Review<'_>],
            ) -> Option<wasmtime::Result<Vec<Result<crate::decision::Decision, String>>>> {
                let (settings, views): (_, Vec<_>) =
                    (convert::settings(settings), batch.iter().map(convert::view).collect());
                let answer = self.instantiate(&mut *store).and_then(|p| p.call_evaluate(store, now, &settings, &views));
                Some(answer.map(|a| {
                    a.into_iter().zip(&views).map(|(r, view)| r.map(|d| convert::decision(d, &view.currency))).collect()
                }))
            }

            fn as_latest_policy(
                &self,
            ) -> Option<&crate::sandbox::latest::policy::PolicyPre<crate::sandbox::CallState>> {
                latest_policy(self)
            }
        }
    };
}
