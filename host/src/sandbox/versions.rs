//! What every contract version's module expands alike over its own generated
//! types: the bindings of the three worlds, and the conversions of the records
//! that have not changed between versions (settings, tones, contacts, and all
//! that channel and payment adapters exchange with the host).

/// The bindings of the `policy`, `channel` and `payment` worlds of the
/// contract at `$path`, the three sharing one `types` and one `log`.
macro_rules! contract_bindings {
    ($path:literal) => {
        pub mod policy {
            wasmtime::component::bindgen!({
                world: "policy",
                path: $path,
                additional_derives: [PartialEq],
            });
        }

        pub mod channel {
            wasmtime::component::bindgen!({
                world: "channel",
                path: $path,
                additional_derives: [PartialEq],
                with: {
                    "sollecito:plugin/types": super::policy::sollecito::plugin::types,
                    "sollecito:plugin/log": super::policy::sollecito::plugin::log,
                },
            });
        }

        pub mod payment {
            wasmtime::component::bindgen!({
                world: "payment",
                path: $path,
                additional_derives: [PartialEq],
                with: {
                    "sollecito:plugin/types": super::policy::sollecito::plugin::types,
                    "sollecito:plugin/log": super::policy::sollecito::plugin::log,
                    "sollecito:plugin/http": super::channel::sollecito::plugin::http,
                    "sollecito:plugin/secrets": super::channel::sollecito::plugin::secrets,
                },
            });
        }
    };
}

/// Between the host's outgoing records and the adapter records of the
/// contract version whose types are in scope where it is expanded.
macro_rules! adapter_conversions {
    () => {
        pub fn message(m: &outgoing::Message) -> Message {
            Message {
                key: m.key.clone(),
                channel: m.channel.clone(),
                invoice_number: m.invoice_number.clone(),
                tone: tone(m.tone),
                sender: Sender {
                    name: m.sender.name.clone(),
                    email: m.sender.email.clone(),
                    phone: m.sender.phone.clone(),
                },
                recipient: Recipient {
                    name: m.recipient.name.clone(),
                    email: m.recipient.email.clone(),
                    phone: m.recipient.phone.clone(),
                    postal_address: m.recipient.postal_address.clone(),
                    locale: m.recipient.locale.clone(),
                },
                subject: m.subject.clone(),
                text: m.text.clone(),
                html: m.html.clone(),
                payment_link: m.payment_link.clone(),
            }
        }

        /// A delivery's answer: the receipt's reference, or why it did not go.
        pub fn delivered(r: Result<Receipt, DeliveryError>) -> Result<String, outgoing::DeliveryError> {
            match r {
                Ok(receipt) => Ok(receipt.reference),
                Err(DeliveryError::Transient(why)) => Err(outgoing::DeliveryError::Transient(why)),
                Err(DeliveryError::Permanent(why)) => Err(outgoing::DeliveryError::Permanent(why)),
            }
        }

        /// What the host's relay answers, as this version says it.
        pub fn delivery_error(e: outgoing::DeliveryError) -> DeliveryError {
            match e {
                outgoing::DeliveryError::Transient(why) => DeliveryError::Transient(why),
                outgoing::DeliveryError::Permanent(why) => DeliveryError::Permanent(why),
            }
        }

        pub fn email(e: Email) -> outgoing::Email {
            outgoing::Email {
                message_id: e.message_id,
                from_address: e.from_address,
                to_address: e.to_address,
                reply_to: e.reply_to,
                subject: e.subject,
                text: e.text,
                html: e.html,
                envelope_from: None,
                headers: e.headers,
            }
        }

        pub fn task(t: Task) -> outgoing::Task {
            outgoing::Task { key: t.key, title: t.title, customer: t.customer, phone: t.phone, script: t.script }
        }

        pub fn charge(c: &outgoing::Charge) -> Charge {
            Charge {
                key: c.key.clone(),
                invoice_id: c.invoice_id.clone(),
                invoice_number: c.invoice_number.clone(),
                refs: c.refs.clone(),
                customer_id: c.customer_id.clone(),
                amount: Money { minor: c.minor, currency: c.currency.clone() },
            }
        }

        pub fn charged(
            r: Result<ChargeOutcome, ChargeError>,
        ) -> Result<outgoing::ChargeOutcome, outgoing::ChargeError> {
            match r {
                Ok(ChargeOutcome::Succeeded(p)) => Ok(outgoing::ChargeOutcome::Succeeded {
                    reference: p.reference,
                    charged: p.amount.map(|m| (m.minor, m.currency)),
                }),
                Ok(ChargeOutcome::Declined(code)) => Ok(outgoing::ChargeOutcome::Declined(code)),
                Err(ChargeError::Transient(why)) => Err(outgoing::ChargeError::Transient(why)),
                Err(ChargeError::Permanent(why)) => Err(outgoing::ChargeError::Permanent(why)),
            }
        }
    };
}

/// Settings, tones, contacts and the invoice view's assembly, which read the
/// same in every version (the view's own fields come from `invoice_view`).
macro_rules! policy_conversions {
    () => {
        pub fn settings(settings: &[decision::Setting]) -> Vec<Setting> {
            settings.iter().map(|s| Setting { key: s.key.clone(), value: s.value.clone() }).collect()
        }

        fn tone(t: decision::Tone) -> Tone {
            match t {
                decision::Tone::Courteous => Tone::Courteous,
                decision::Tone::Soft => Tone::Soft,
                decision::Tone::Firm => Tone::Firm,
                decision::Tone::Final => Tone::Final,
                decision::Tone::Formal => Tone::Formal,
            }
        }

        fn host_tone(t: Tone) -> decision::Tone {
            match t {
                Tone::Courteous => decision::Tone::Courteous,
                Tone::Soft => decision::Tone::Soft,
                Tone::Firm => decision::Tone::Firm,
                Tone::Final => decision::Tone::Final,
                Tone::Formal => decision::Tone::Formal,
            }
        }

        fn contact(c: &decision::Contact) -> Contact {
            Contact {
                step: c.step.clone(),
                channel: c.channel.clone(),
                tone: c.tone.map(tone),
                at: c.at,
                outcome: match c.outcome {
                    decision::ContactOutcome::Pending => Outcome::Pending,
                    decision::ContactOutcome::Sent => Outcome::Sent,
                    decision::ContactOutcome::Delivered => Outcome::Delivered,
                    decision::ContactOutcome::Failed => Outcome::Failed,
                    decision::ContactOutcome::Bounced => Outcome::Bounced,
                    decision::ContactOutcome::Cancelled => Outcome::Cancelled,
                },
            }
        }

        /// The invoice as a policy of this version sees it.
        pub fn view(r: &Review) -> InvoiceView {
            invoice_view(r.invoice, customer_view(r.customer), r.history.iter().map(contact).collect())
        }

        fn escalation_kind(k: EscalationKind) -> decision::EscalationKind {
            match k {
                EscalationKind::SuspendService => decision::EscalationKind::SuspendService,
                EscalationKind::FinalNotice => decision::EscalationKind::FinalNotice,
                EscalationKind::FormalNotice => decision::EscalationKind::FormalNotice,
                EscalationKind::Collections => decision::EscalationKind::Collections,
                EscalationKind::ManualReview => decision::EscalationKind::ManualReview,
            }
        }

        fn close_reason(r: CloseReason) -> decision::CloseReason {
            match r {
                CloseReason::Paid => decision::CloseReason::Paid,
                CloseReason::WrittenOff => decision::CloseReason::WrittenOff,
                CloseReason::Collections => decision::CloseReason::Collections,
            }
        }
    };
}

/// A version's `ContractVersion` (`Version`), and the adapter worlds'
/// `Prepared`, alike in every version; its policy world's `Prepared` is the
/// version's own (what a policy sees and answers changes between versions).
macro_rules! contract_version {
    ($version:literal) => {
        /// This version's side of the sandbox.
        pub struct Version;

        impl crate::sandbox::contracts::ContractVersion for Version {
            fn world(&self, kind: crate::sandbox::PluginKind) -> &'static str {
                match kind {
                    crate::sandbox::PluginKind::Policy => concat!("sollecito:plugin/policy@", $version),
                    crate::sandbox::PluginKind::Channel => concat!("sollecito:plugin/channel@", $version),
                    crate::sandbox::PluginKind::Payment => concat!("sollecito:plugin/payment@", $version),
                    crate::sandbox::PluginKind::Reader => concat!("sollecito:plugin/reader@", $version),
                }
            }

            fn speaks(&self, kind: crate::sandbox::PluginKind) -> bool {
                kind != crate::sandbox::PluginKind::Reader || reader_world::SPOKEN
            }

            fn link(
                &self,
                kind: crate::sandbox::PluginKind,
                linker: &mut wasmtime::component::Linker<crate::sandbox::CallState>,
            ) -> wasmtime::Result<()> {
                use wasmtime::component::HasSelf;
                match kind {
                    crate::sandbox::PluginKind::Policy => policy::Policy::add_to_linker::<_, HasSelf<_>>(linker, |s| s),
                    crate::sandbox::PluginKind::Channel => {
                        channel::Channel::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
                    }
                    crate::sandbox::PluginKind::Payment => {
                        payment::Payment::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
                    }
                    crate::sandbox::PluginKind::Reader => reader_world::link(linker),
                }
            }

            fn prepare(
                &self,
                kind: crate::sandbox::PluginKind,
                pre: wasmtime::component::InstancePre<crate::sandbox::CallState>,
            ) -> wasmtime::Result<Box<dyn crate::sandbox::contracts::Prepared>> {
                Ok(match kind {
                    crate::sandbox::PluginKind::Policy => Box::new(policy::PolicyPre::new(pre)?),
                    crate::sandbox::PluginKind::Channel => Box::new(channel::ChannelPre::new(pre)?),
                    crate::sandbox::PluginKind::Payment => Box::new(payment::PaymentPre::new(pre)?),
                    crate::sandbox::PluginKind::Reader => reader_world::prepare(pre)?,
                })
            }
        }

        fn described(i: PluginInfo) -> crate::sandbox::contracts::Described {
            crate::sandbox::contracts::Described {
                name: i.name,
                version: i.version,
                summary: i.summary,
                declared: None,
            }
        }

        impl crate::sandbox::contracts::Prepared for channel::ChannelPre<crate::sandbox::CallState> {
            fn describe(
                &self,
                store: &mut wasmtime::Store<crate::sandbox::CallState>,
            ) -> wasmtime::Result<crate::sandbox::contracts::Described> {
                self.instantiate(&mut *store).and_then(|c| c.call_describe(store)).map(described)
            }

            fn deliver(
                &self,
                store: &mut wasmtime::Store<crate::sandbox::CallState>,
                settings: &[crate::decision::Setting],
                message: &crate::outgoing::Message,
            ) -> Option<wasmtime::Result<Result<String, crate::outgoing::DeliveryError>>> {
                let (settings, message) = (convert::settings(settings), convert::message(message));
                let answer = self.instantiate(&mut *store).and_then(|c| c.call_deliver(store, &settings, &message));
                Some(answer.map(convert::delivered))
            }
        }

        impl crate::sandbox::contracts::Prepared for payment::PaymentPre<crate::sandbox::CallState> {
            fn describe(
                &self,
                store: &mut wasmtime::Store<crate::sandbox::CallState>,
            ) -> wasmtime::Result<crate::sandbox::contracts::Described> {
                self.instantiate(&mut *store).and_then(|p| p.call_describe(store)).map(described)
            }

            fn charge(
                &self,
                store: &mut wasmtime::Store<crate::sandbox::CallState>,
                settings: &[crate::decision::Setting],
                charge: &crate::outgoing::Charge,
            ) -> Option<wasmtime::Result<Result<crate::outgoing::ChargeOutcome, crate::outgoing::ChargeError>>> {
                let (settings, charge) = (convert::settings(settings), convert::charge(charge));
                let answer = self.instantiate(&mut *store).and_then(|p| p.call_charge(store, &settings, &charge));
                Some(answer.map(convert::charged))
            }
        }
    };
}

/// For a version before the `reader` world (0.3): it has none.
macro_rules! no_reader_world {
    () => {
        mod reader_world {
            pub(in crate::sandbox) const SPOKEN: bool = false;

            pub(in crate::sandbox) fn link(
                _: &mut wasmtime::component::Linker<crate::sandbox::CallState>,
            ) -> wasmtime::Result<()> {
                Err(wasmtime::format_err!("this contract version has no reader world"))
            }

            pub(in crate::sandbox) fn prepare(
                _: wasmtime::component::InstancePre<crate::sandbox::CallState>,
            ) -> wasmtime::Result<Box<dyn crate::sandbox::contracts::Prepared>> {
                Err(wasmtime::format_err!("this contract version has no reader world"))
            }
        }
    };
}
