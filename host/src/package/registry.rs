//! Packages in an OCI registry (the distribution API): pushed blob by blob
//! with their manifest under a tag, each signature under the tag
//! `sha256-<hex>.sig` (as cosign names them, for registries without the
//! referrers API); pulled by resolving the tag to a digest once, then every
//! blob by digest, into the same layout a package file is, so a pulled
//! package goes through exactly the checks a file does.

use std::str::FromStr;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use oci_spec::image::{ImageIndex, ImageManifest, MediaType};

use super::layout::{Layout, MAX_BYTES, digest_of};
use super::pack::index_of;
use super::{Package, Refused};

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// A manifest's bytes at most.
const MAX_MANIFEST: usize = 256 << 10;
/// Signatures looked for beside a package, at most.
const MAX_SIGNATURES: usize = 8;

/// `oci://registry[:port]/repository(:tag|@sha256:...)`.
pub fn reference(url: &str) -> Result<Reference, Refused> {
    let rest = url.strip_prefix("oci://").ok_or_else(|| Refused::new("reference", "must start with oci://"))?;
    let reference = Reference::from_str(rest).map_err(|e| Refused::new("reference", &e.to_string()))?;
    if reference.tag().is_none() && reference.digest().is_none() {
        return Err(Refused::new("reference", "name a tag (:1.2.0) or a digest (@sha256:...)"));
    }
    Ok(reference)
}

/// HTTPS, except a registry on this machine's loopback; bounded waits.
fn client(reference: &Reference) -> Client {
    // rustls is built with two providers here (ring for the relay, aws-lc for others): name one.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let registry = reference.resolve_registry().to_string();
    let host = registry.rsplit_once(':').map_or(registry.as_str(), |(h, _)| h);
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    Client::new(ClientConfig {
        protocol: if loopback { ClientProtocol::HttpsExcept(vec![registry.clone()]) } else { ClientProtocol::Https },
        read_timeout: Some(Duration::from_secs(30)),
        connect_timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    })
}

fn failed(at: &str) -> impl Fn(oci_client::errors::OciDistributionError) -> Refused + '_ {
    move |e| Refused::new(at, &format!("the registry: {e}"))
}

/// Pushes a package (and its signatures) to `reference`'s tag; returns the digest it is pinned by.
pub async fn push(package: &Package, reference: &Reference) -> Result<String, Refused> {
    let client = client(reference);
    let auth = RegistryAuth::Anonymous;
    client.store_auth_if_needed(reference.resolve_registry(), &auth).await;
    let index: ImageIndex = serde_json::from_slice(&package.layout.index).expect("a package's index was read");
    let mut signatures = 0;
    for entry in index.manifests() {
        let digest = entry.digest().to_string();
        let bytes = package.layout.blob(&digest)?;
        let manifest: ImageManifest = serde_json::from_slice(bytes).expect("a package's manifest was read");
        let blobs = std::iter::once(manifest.config()).chain(manifest.layers());
        for blob in blobs {
            let name = blob.digest().to_string();
            let data = package.layout.blob(&name)?.to_vec();
            client.push_blob(reference, data, &name).await.map_err(failed("push"))?;
        }
        let at = if digest == package.digest {
            reference.clone()
        } else {
            signatures += 1;
            signature_tag(reference, &package.digest, signatures - 1)
        };
        let kind = MANIFEST_TYPE.parse().expect("a media type");
        client.push_manifest_raw(&at, bytes.to_vec(), kind).await.map_err(failed("push"))?;
    }
    Ok(package.digest.clone())
}

/// Where the `n`th signature of the package `digest` is tagged.
fn signature_tag(reference: &Reference, digest: &str, n: usize) -> Reference {
    let base = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    let tag = if n == 0 { base } else { format!("{base}.{}", n + 1) };
    Reference::with_tag(reference.registry().to_string(), reference.repository().to_string(), tag)
}

/// Pulls the package `reference` names: the tag resolved to a digest once,
/// then everything by digest, each blob bounded and checked.
pub async fn pull(reference: &Reference) -> Result<Package, Refused> {
    let client = client(reference);
    let auth = RegistryAuth::Anonymous;
    let (bytes, digest) = client.pull_manifest_raw(reference, &auth, &[MANIFEST_TYPE]).await.map_err(failed("pull"))?;
    if bytes.len() > MAX_MANIFEST {
        return Err(Refused::new("manifest", "larger than 256 KB"));
    }
    let digest_now = digest_of(&bytes);
    if digest != digest_now || reference.digest().is_some_and(|d| d != digest_now) {
        return Err(Refused::new("manifest", &format!("the registry answered {digest_now} for {}", reference.whole())));
    }
    let pinned = reference.clone_with_digest(digest_now.clone());
    let mut layout = Layout::default();
    let mut listed = vec![(digest_now.clone(), bytes.len(), reference.tag().map(str::to_string))];
    pull_manifest(&client, &pinned, bytes.to_vec(), &mut layout).await?;
    for n in 0..MAX_SIGNATURES {
        let tag = signature_tag(reference, &digest_now, n);
        let Ok((bytes, digest)) = client.pull_manifest_raw(&tag, &auth, &[MANIFEST_TYPE]).await else { break };
        if bytes.len() > MAX_MANIFEST || digest_of(&bytes) != digest {
            return Err(Refused::new("signature", "its manifest is not what the registry says it is"));
        }
        listed.push((digest, bytes.len(), None));
        pull_manifest(&client, &tag.clone_with_digest(digest_of(&bytes)), bytes.to_vec(), &mut layout).await?;
    }
    let entries: Vec<_> =
        listed.iter().map(|(d, s, t)| (MediaType::ImageManifest, d.as_str(), *s, t.as_deref())).collect();
    layout.index = index_of(&entries);
    Package::read(&layout.to_tar())
}

/// A manifest and the blobs it names, into `layout`, the whole within the size a package may have.
async fn pull_manifest(client: &Client, at: &Reference, bytes: Vec<u8>, layout: &mut Layout) -> Result<(), Refused> {
    let manifest: ImageManifest = serde_json::from_slice(&bytes)
        .map_err(|e| Refused::new("manifest", &format!("not an OCI image manifest: {e}")))?;
    let blobs: Vec<_> = std::iter::once(manifest.config()).chain(manifest.layers()).cloned().collect();
    let total: u64 =
        blobs.iter().map(|b| b.size()).sum::<u64>() + layout.blobs.values().map(|b| b.len() as u64).sum::<u64>();
    if total > MAX_BYTES {
        return Err(Refused::new("manifest", &format!("its blobs come to more than {} MB", MAX_BYTES >> 20)));
    }
    for blob in blobs {
        let digest = blob.digest().to_string();
        let mut data = Vec::with_capacity(blob.size() as usize);
        client
            .pull_blob(at, digest.as_str(), Bounded { into: &mut data, left: blob.size() })
            .await
            .map_err(failed("pull"))?;
        layout.blobs.insert(digest, data);
    }
    layout.add(bytes);
    Ok(())
}

/// A writer that takes no more than the size a descriptor gave.
struct Bounded<'a> {
    into: &'a mut Vec<u8>,
    left: u64,
}

impl tokio::io::AsyncWrite for Bounded<'_> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if buf.len() as u64 > self.left {
            let e = std::io::Error::other("the registry sent more bytes than the manifest gives");
            return std::task::Poll::Ready(Err(e));
        }
        self.left -= buf.len() as u64;
        self.into.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
