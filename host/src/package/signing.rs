//! Signatures: minisign (Ed25519) over the bytes of a package's manifest,
//! carried as an artifact whose `subject` is that manifest. Keys are
//! minisign's own format, so `minisign -V` can check a signature too.

use std::collections::BTreeMap;
use std::io::Cursor;

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};
use oci_spec::image::{ImageManifestBuilder, MediaType, SCHEMA_VERSION};

use super::pack::{canonical, descriptor, index_of};
use super::{EMPTY_CONFIG, Package, Refused, SIGNATURE_ARTIFACT, SIGNATURE_LAYER};

/// A new key pair, as minisign writes them: the secret key (not encrypted:
/// keep it where the build keeps its secrets) and the public key.
pub struct Keys {
    pub secret: String,
    pub public: String,
    /// The public key's one line, as `[plugins.trusted]` lists it.
    pub public_line: String,
}

pub fn keygen() -> Result<Keys, Refused> {
    let failed = |e: minisign::PError| Refused::new("keygen", &e.to_string());
    let pair = KeyPair::generate_unencrypted_keypair().map_err(failed)?;
    let secret = pair.sk.to_box(Some("sollecito plugin signing key")).map_err(failed)?.into_string();
    let public_line = pair.pk.to_base64();
    let public = pair.pk.to_box().map_err(failed)?.into_string();
    Ok(Keys { secret, public, public_line })
}

/// `package` with one more signature, by `secret_key` (minisign's text).
pub fn sign(package: &Package, secret_key: &str) -> Result<Package, Refused> {
    let bad_key = |e: minisign::PError| Refused::new("key", &format!("not a minisign secret key: {e}"));
    let secret = SecretKeyBox::from_string(secret_key).map_err(bad_key)?;
    // Unencrypted (as `plugin keygen` writes, for a build machine): a password is never prompted for.
    let secret = SecretKey::from_unencrypted_box(secret).map_err(bad_key)?;
    let comment = format!("sollecito plugin {} {} {}", package.about.name, package.about.version, package.digest);
    let signature = minisign::sign(None, &secret, Cursor::new(&package.manifest), Some(&comment), None)
        .map_err(|e| Refused::new("key", &e.to_string()))?
        .into_string()
        .into_bytes();
    let mut layout = package.layout.clone();
    let (signature_len, empty) = (signature.len(), b"{}".to_vec());
    let signature_digest = layout.add(signature);
    let empty_digest = layout.add(empty);
    let mut subject = descriptor("", &package.digest, package.manifest.len());
    subject.set_media_type(MediaType::ImageManifest);
    let manifest = ImageManifestBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageManifest)
        .artifact_type(MediaType::Other(SIGNATURE_ARTIFACT.into()))
        .config(descriptor(EMPTY_CONFIG, &empty_digest, 2))
        .layers(vec![descriptor(SIGNATURE_LAYER, &signature_digest, signature_len)])
        .subject(subject)
        .build()
        .expect("a manifest with every field");
    let manifest = canonical(&manifest);
    let manifest_len = manifest.len();
    let signature_manifest = layout.add(manifest);
    // The index lists the package first, then every signature so far.
    let old: oci_spec::image::ImageIndex =
        serde_json::from_slice(&layout.index).expect("an index this package was read from");
    let mut listed: Vec<(MediaType, String, usize, Option<String>)> = old
        .manifests()
        .iter()
        .map(|d| {
            let tag = d.annotations().as_ref().and_then(|a| a.get("org.opencontainers.image.ref.name").cloned());
            (d.media_type().clone(), d.digest().to_string(), d.size() as usize, tag)
        })
        .collect();
    listed.push((MediaType::ImageManifest, signature_manifest, manifest_len, None));
    let entries: Vec<_> = listed.iter().map(|(k, d, s, t)| (k.clone(), d.as_str(), *s, t.as_deref())).collect();
    layout.index = index_of(&entries);
    Package::read(&layout.to_tar())
}

/// The publishers whose packages are installed: name -> minisign public key
/// (its base64 line), from `[plugins.trusted]`.
pub type Trusted = BTreeMap<String, String>;

/// Who signed a package, by the name the operator gave their key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    pub name: String,
    /// minisign's key id, as `minisign -V` prints it.
    pub key_id: String,
}

impl Package {
    /// The publisher among `trusted` whose signature holds. Unsigned, or
    /// signed by none of them, or a signature that does not match: refused,
    /// unless `allow_unsigned` (then `None`).
    pub fn verify(&self, trusted: &Trusted, allow_unsigned: bool) -> Result<Option<Publisher>, Refused> {
        let mut unknown = vec![];
        for text in &self.signatures {
            let signature = SignatureBox::from_string(text)
                .map_err(|e| Refused::new("signature", &format!("not a minisign signature: {e}")))?;
            let key_id = key_id(signature.keynum());
            let Some((name, key)) = trusted.iter().find_map(|(name, line)| {
                let key = public_key(line).ok()?;
                (key.keynum() == signature.keynum()).then_some((name, key))
            }) else {
                unknown.push(key_id);
                continue;
            };
            return match minisign::verify(&key, &signature, Cursor::new(&self.manifest), true, false, false) {
                Ok(()) => Ok(Some(Publisher { name: name.clone(), key_id })),
                Err(_) => Err(Refused::new(
                    "signature",
                    &format!("the signature by {name} (key {key_id}) does not match this package: it was altered"),
                )),
            };
        }
        match (allow_unsigned, unknown.is_empty()) {
            (true, _) => Ok(None),
            (false, true) => Err(Refused::new(
                "signature",
                "the package is not signed; install it with --allow-unsigned only if you built it yourself",
            )),
            (false, false) => Err(Refused::new(
                "signature",
                &format!("signed by key {}, which [plugins.trusted] does not list", unknown.join(", ")),
            )),
        }
    }
}

/// A public key from its base64 line or minisign's two-line file.
pub(crate) fn public_key(text: &str) -> Result<PublicKey, String> {
    let text = text.trim();
    let key = if text.contains('\n') {
        PublicKeyBox::from_string(text).and_then(PublicKeyBox::into_public_key)
    } else {
        PublicKey::from_base64(text)
    };
    key.map_err(|e| format!("not a minisign public key: {e}"))
}

/// minisign's key id: the key number, little-endian, in hex.
fn key_id(keynum: &[u8]) -> String {
    keynum.iter().rev().map(|b| format!("{b:02X}")).collect()
}
