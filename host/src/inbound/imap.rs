//! The mailbox door: an IMAP folder polled for what came back. Each message
//! goes through the one pipeline, and once kept it is moved to
//! `[inbound] imap_done`, so the folder holds only what is still to read.
//! A message the store could not keep (the database down) stays where it is.

use std::fmt::Debug;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use super::Handled;
use crate::config::{Config, Inbound};

/// Messages read at most per poll: the rest wait for the next one.
const PER_POLL: usize = 500;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Stream for T {}

/// Where the mailbox is, read from `imap_url` (`imaps://user@host:993/INBOX`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mailbox {
    tls: bool,
    host: String,
    port: u16,
    user: String,
    folder: String,
}

impl Mailbox {
    /// The mailbox of `[inbound] imap_url`, if set. Plain `imap://` is only for a
    /// server on this machine: a password never crosses a network in clear.
    pub(crate) fn of(inbound: &Inbound) -> Result<Option<Mailbox>, String> {
        let Some(text) = &inbound.imap_url else { return Ok(None) };
        let bad = |why: &str| format!("inbound.imap_url: {why}");
        let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" => false,
            other => return Err(bad(&format!("{other}:// is not imaps:// or imap://"))),
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?.to_string();
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !tls && !loopback {
            return Err(bad("imap:// sends the password in clear: use imaps:// (plain IMAP only on this machine)"));
        }
        if url.password().is_some() {
            return Err(bad("no password in the URL: name a secret in inbound.imap_password"));
        }
        let user = percent_encoding::percent_decode_str(url.username()).decode_utf8_lossy().into_owned();
        if user.is_empty() {
            return Err(bad("no user (imaps://USER@host/INBOX)"));
        }
        let folder = url.path().trim_start_matches('/');
        let folder = if folder.is_empty() { "INBOX".to_string() } else { folder.to_string() };
        Ok(Some(Mailbox { tls, port: url.port().unwrap_or(if tls { 993 } else { 143 }), host, user, folder }))
    }
}

/// How long one poll may take: a mailbox that stops answering must not hold `serve`'s ticks.
const POLL_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// One poll: every message in the folder, through the pipeline, then moved.
pub(crate) async fn poll(intake: &super::Intake<'_>, now: DateTime<Utc>) -> anyhow::Result<Vec<Handled>> {
    match tokio::time::timeout(POLL_LIMIT, poll_unbounded(intake, now)).await {
        Ok(read) => read,
        Err(_) => anyhow::bail!(
            "the mailbox did not answer within {} s: what was not moved is read again",
            POLL_LIMIT.as_secs()
        ),
    }
}

async fn poll_unbounded(intake: &super::Intake<'_>, now: DateTime<Utc>) -> anyhow::Result<Vec<Handled>> {
    let (config, inbound) = (intake.config, &intake.config.inbound);
    let (mut session, _) = open(config).await?;
    // The folder for what was handled; "already exists" is fine.
    let _ = session.create(&inbound.imap_done).await;
    let mut uids: Vec<u32> = session.uid_search("ALL").await?.into_iter().collect();
    uids.sort_unstable();
    uids.truncate(PER_POLL);
    let mut handled = vec![];
    for uid in uids {
        let fetched: Vec<_> = session.uid_fetch(uid.to_string(), "BODY.PEEK[]").await?.try_collect().await?;
        let Some(raw) = fetched.iter().find_map(|f| f.body().map(<[u8]>::to_vec)) else { continue };
        // One message the store cannot keep stays for the next poll; the others go on.
        match super::receive(intake, &raw, "imap", now).await {
            Ok(h) => handled.push(h),
            Err(e) => {
                tracing::error!(uid, error = %format!("{e:#}"), "a message of the mailbox could not be kept; it stays there");
                continue;
            }
        }
        move_out(&mut session, uid, &inbound.imap_done).await?;
    }
    session.logout().await.ok();
    Ok(handled)
}

type Session = async_imap::Session<Box<dyn Stream>>;

/// Logged in to the mailbox of `[inbound] imap_url`, its folder selected.
async fn open(config: &Config) -> anyhow::Result<(Session, Mailbox)> {
    let inbound = &config.inbound;
    let Some(mailbox) = Mailbox::of(inbound).map_err(anyhow::Error::msg)? else {
        anyhow::bail!("inbound.imap_url is not set: no mailbox to read");
    };
    let secret = inbound.imap_password.as_deref().context("inbound.imap_password: name the secret of the mailbox")?;
    // The field names a secret; its value is never repeated, in case it is the password itself.
    let password = config.secret(secret).map_err(|_| {
        anyhow::anyhow!(
            "inbound.imap_password: names no secret of [secrets] (it holds a secret's name, not the password)"
        )
    })?;
    let stream = connect(&mailbox, inbound, config).await?;
    let mut client = async_imap::Client::new(stream);
    client.read_response().await?.context("the IMAP server closed the connection before its greeting")?;
    let mut session = client
        .login(&mailbox.user, &password)
        .await
        .map_err(|(e, _)| anyhow::anyhow!("IMAP login as {} refused: {e}", mailbox.user))?;
    session.select(&mailbox.folder).await.with_context(|| format!("selecting {}", mailbox.folder))?;
    Ok((session, mailbox))
}

/// What waiting on the mailbox came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// Something changed in the folder: read it now.
    NewMail,
    /// Nothing for a while: wait again (servers drop an IDLE after 30 minutes).
    Quiet,
    /// The server has no IDLE: the ticks' polls are all there is.
    NotOffered,
}

/// Waits on the mailbox with IMAP IDLE (RFC 2177) until something arrives,
/// so `serve` reads a reply within seconds rather than at its next tick.
pub(crate) async fn wait_for_mail(config: &Config, quiet_after: std::time::Duration) -> anyhow::Result<Waited> {
    let (mut session, _) = open(config).await?;
    if !session.capabilities().await?.has_str("IDLE") {
        session.logout().await.ok();
        return Ok(Waited::NotOffered);
    }
    let mut idle = session.idle();
    idle.init().await.context("starting IDLE")?;
    let (wait, _stop) = idle.wait_with_timeout(quiet_after);
    let waited = match wait.await? {
        async_imap::extensions::idle::IdleResponse::NewData(_) => Waited::NewMail,
        _ => Waited::Quiet,
    };
    if let Ok(mut session) = idle.done().await {
        session.logout().await.ok();
    }
    Ok(waited)
}

/// Moves a kept message out of the folder: MOVE, or where a server lacks it, COPY and expunge.
async fn move_out(session: &mut Session, uid: u32, to: &str) -> anyhow::Result<()> {
    if session.uid_mv(uid.to_string(), to).await.is_ok() {
        return Ok(());
    }
    session.uid_copy(uid.to_string(), to).await.with_context(|| format!("copying to {to}"))?;
    let _: Vec<_> = session.uid_store(uid.to_string(), "+FLAGS.SILENT (\\Deleted)").await?.try_collect().await?;
    let _: Vec<_> = session.uid_expunge(uid.to_string()).await?.try_collect().await?;
    Ok(())
}

async fn connect(mailbox: &Mailbox, inbound: &Inbound, config: &Config) -> anyhow::Result<Box<dyn Stream>> {
    let address = format!("{}:{}", mailbox.host, mailbox.port);
    let tcp = tokio::time::timeout(std::time::Duration::from_secs(20), TcpStream::connect(&address))
        .await
        .with_context(|| format!("connecting to {address}: timed out"))?
        .with_context(|| format!("connecting to {address}"))?;
    if !mailbox.tls {
        return Ok(Box::new(tcp));
    }
    let mut roots = rustls::RootCertStore::empty();
    match &inbound.imap_ca_file {
        Some(file) => {
            use rustls_pki_types::pem::PemObject;
            let path = config.resolve(file);
            let pem = std::fs::read(&path).with_context(|| format!("inbound.imap_ca_file: {}", path.display()))?;
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
                roots.add(cert.with_context(|| format!("inbound.imap_ca_file: {}", path.display()))?)?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(mailbox.host.clone())?;
    let stream =
        tokio_rustls::TlsConnector::from(Arc::new(tls)).connect(name, tcp).await.context("TLS with the IMAP server")?;
    Ok(Box::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(url: &str) -> Result<Option<Mailbox>, String> {
        Mailbox::of(&Inbound { imap_url: Some(url.into()), ..Inbound::default() })
    }

    #[test]
    fn the_mailbox_url_is_checked_and_never_carries_a_password() {
        let m = of("imaps://crediti%40acme.example@imap.acme.example/Risposte").unwrap().unwrap();
        assert_eq!(
            (m.user.as_str(), m.host.as_str(), m.port, m.folder.as_str(), m.tls),
            ("crediti@acme.example", "imap.acme.example", 993, "Risposte", true)
        );
        assert_eq!(of("imap://u@127.0.0.1:1143").unwrap().unwrap().folder, "INBOX");
        assert!(of("imap://u@imap.acme.example").unwrap_err().contains("in clear"));
        assert!(of("imaps://u:secret@imap.acme.example").unwrap_err().contains("no password in the URL"));
        assert!(of("pop3://u@host").unwrap_err().contains("pop3://"));
        assert!(of("imaps://imap.acme.example").unwrap_err().contains("no user"));
    }
}
