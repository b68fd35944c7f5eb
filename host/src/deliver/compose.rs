//! From checked reminders to messages: a customer's reminders leaving on the
//! same channel in the same tick become one message (where the config says
//! so), led by the firmest of them and listing the other invoices; then the
//! message is rendered in the customer's language.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use std::sync::Arc;

use super::ReadyMessage;
use crate::config::Config;
use crate::decision::Tone;
use crate::outgoing::{Message, Recipient, Sender};
use crate::render::{Extras, Facts, RenderError, Renderer};
use crate::store::OutboxKind;

/// Groups reminders (kind `remind`) per customer, consolidating channel and currency;
/// the firmest (then the oldest) leads, the others ride along as companions.
/// Plan offers and instalment reminders always go on their own.
pub(super) fn consolidate(sends: Vec<ReadyMessage>, channels: &[String]) -> Vec<ReadyMessage> {
    let mut out: Vec<ReadyMessage> = Vec::with_capacity(sends.len());
    // One message per customer, channel and currency (amounts are listed in the lead's currency).
    let mut groups: BTreeMap<(String, String, String), Vec<ReadyMessage>> = BTreeMap::new();
    for send in sends {
        if send.row.kind == OutboxKind::Remind && channels.contains(&send.channel) {
            let key = (send.customer.id.clone(), send.channel.clone(), send.invoice.currency.clone());
            groups.entry(key).or_default().push(send);
        } else {
            out.push(send);
        }
    }
    let level = |s: &ReadyMessage| s.row.tone.map_or(0, Tone::level);
    for (_, mut group) in groups {
        // Firmest first; among equals, the oldest row.
        group.sort_by_key(|s| (std::cmp::Reverse(level(s)), s.row.id));
        let mut members = group.into_iter();
        let Some(mut lead) = members.next() else { continue };
        lead.companions = members.map(|s| (s.row, s.invoice)).collect();
        out.push(lead);
    }
    out.sort_by_key(|s| s.row.id);
    out
}

/// What rendering a message needs, shared with the blocking task that renders
/// it and hands it to its adapter (off the task that drives every customer).
pub(crate) struct Composer {
    pub config: Arc<Config>,
    pub renderer: Renderer,
    /// The sender of emails (name, address), checked when the config was read.
    pub sender: (String, String),
    /// The customer's page (`[portal]`): each message carries a signed link to it.
    pub links: Option<Arc<crate::portal::Links>>,
}

impl Composer {
    /// Renders a message (with its companions' invoices listed) for its adapter.
    pub(super) fn compose(&self, send: &ReadyMessage, now: DateTime<Utc>) -> Result<Message, RenderError> {
        let (row, invoice, customer) = (&send.row, &send.invoice, &send.customer);
        let business = &self.config.business;
        let fees: Vec<(i64, &str)> = invoice.fees.iter().map(|f| (f.amount, f.reason.as_str())).collect();
        // A statement lists the whole account; a reminder, the invoices riding along with it.
        let listed: Vec<&crate::invoice::Invoice> = match send.account.is_empty() {
            true => send.companions.iter().map(|(_, i)| i).collect(),
            false => send.account.iter().collect(),
        };
        let others: Vec<(&str, i64, NaiveDate)> = listed
            .into_iter()
            .filter(|i| i.currency == invoice.currency)
            .map(|i| (i.number.as_str(), i.outstanding(), i.due))
            .collect();
        let key = row.key();
        let portal_url = self.links.as_ref().and_then(|l| l.url(&customer.id, Some(&key), now.timestamp()));
        let facts = Facts {
            template: row.template.as_deref().unwrap_or_default(),
            tone: row.tone.unwrap_or(Tone::Courteous).name(),
            locale: &customer.locale,
            business,
            customer_name: &customer.name,
            invoice_number: &invoice.number,
            currency: &invoice.currency,
            amount_due: invoice.amount_due,
            amount_paid: invoice.amount_paid,
            issued: invoice.issued,
            due: invoice.due,
            today: now.with_timezone(&customer.timezone).date_naive(),
            payment_link: invoice.payment_link.as_deref(),
            portal_url: portal_url.as_deref(),
            deadline: row.deadline,
            business_customer: customer.business,
            extras: Extras {
                instalments: match (&send.instalment, &invoice.plan) {
                    (Some(_), Some(plan)) => &plan.instalments,
                    _ => &send.offered,
                },
                instalment: send.instalment.as_ref().map(|(i, left)| (i, *left)),
                fees: &fees,
                others: &others,
            },
        };
        let rendered = self.renderer.render(&facts)?;
        Ok(Message {
            key,
            channel: send.channel.clone(),
            invoice_number: invoice.number.clone(),
            tone: row.tone.unwrap_or(Tone::Courteous),
            sender: Sender { name: self.sender.0.clone(), email: self.sender.1.clone(), phone: business.phone.clone() },
            recipient: Recipient {
                name: customer.name.clone(),
                // A PEC goes to the customer's PEC address, never to its ordinary mailbox.
                email: if send.channel == "pec" {
                    customer.pec.clone()
                } else {
                    customer.deliverable_email().map(str::to_string)
                },
                phone: customer.phone.clone(),
                postal_address: customer.postal_address.clone(),
                locale: customer.locale.clone(),
            },
            subject: rendered.subject,
            text: rendered.text,
            html: Some(rendered.html),
            payment_link: invoice.payment_link.clone(),
        })
    }
}
