//! Plugin packages as a vendor and an operator use them: `plugin pack`,
//! `keygen`, `sign` and `install` on the real binary, with the bundled SMS
//! adapter built from source; then every kind of tampering, each refused
//! with what was wrong and nothing installed or granted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};

use crate::common::{cache_dir, root, stderr, stdout};

fn run(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sollecito"))
        .args(args)
        .env("SOLLECITO_CACHE_DIR", cache_dir())
        .current_dir(dir)
        .output()
        .unwrap()
}

fn said(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

fn sms_component() -> PathBuf {
    root().join("target/wasm/wasm32-wasip2/release/sms.wasm")
}

/// An author's folder for the SMS adapter, asking for `hosts` and, if `secret`, its token.
fn author_dir(dir: &Path, hosts: &[&str], secret: bool) -> PathBuf {
    let author = dir.join(format!("author-{}-{secret}", hosts.len()));
    std::fs::create_dir_all(&author).unwrap();
    let scenarios: Vec<String> =
        crate::author::scenarios("plugins/sms").iter().map(|s| format!("{:?}", root().join(s))).collect();
    let mut spec = format!(
        "component = {:?}\nauthors = [\"Acme SMS <dev@acme.example>\"]\nlicence = \"MIT\"\nscenarios = [{}]\n\n\
         [asks.http]\nhosts = {:?}\nreason = \"sends each SMS through the provider's API\"\n",
        sms_component(),
        scenarios.join(", "),
        hosts
    );
    if secret {
        spec.push_str("\n[asks.secrets]\nnames = [\"sms_auth\"]\nreason = \"the provider's account and token\"\n");
    }
    std::fs::write(author.join("plugin.toml"), spec).unwrap();
    author
}

/// A package of the SMS adapter, signed with `key` if given.
fn packed(dir: &Path, name: &str, hosts: &[&str], key: Option<&Path>) -> PathBuf {
    let author = author_dir(dir, hosts, true);
    let out = dir.join(name);
    let packed = run(dir, &["plugin", "pack", author.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(packed.status.success(), "{}", said(&packed));
    if let Some(key) = key {
        let signed = run(dir, &["plugin", "sign", out.to_str().unwrap(), "--key", key.to_str().unwrap()]);
        assert!(signed.status.success(), "{}", said(&signed));
    }
    out
}

/// A key pair in `dir`; returns the secret key's path and the public key's line.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let made = run(dir, &["plugin", "keygen", "--out", key.to_str().unwrap()]);
    assert!(made.status.success(), "{}", said(&made));
    let public = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    (key, public.lines().nth(1).unwrap().trim().to_string())
}

fn install(dir: &Path, config: &Path, package: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--config", config.to_str().unwrap(), "plugin", "install", package.to_str().unwrap()];
    args.extend(extra);
    run(dir, &args)
}

fn toml_of(path: &Path) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_signed_package_installs_with_its_grants_and_an_upgrade_asking_more_waits_for_a_yes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (key, public) = keygen(dir, "acme.key");
    let package = packed(dir, "sms.tar", &["api.twilio.com"], Some(&key));
    // The same folder packs to the same bytes (before signing, which adds a signature of its own).
    let author = author_dir(dir, &["api.twilio.com"], true);
    let (a, b) = (dir.join("a.tar"), dir.join("b.tar"));
    for out in [&a, &b] {
        assert!(
            run(dir, &["plugin", "pack", author.to_str().unwrap(), "--out", out.to_str().unwrap()]).status.success()
        );
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "packing is not reproducible");

    let config = dir.join("sollecito.toml");
    let before = format!("# the operator's own comment\n[plugins.trusted]\nacme = \"{public}\"\n");
    std::fs::write(&config, &before).unwrap();

    // Without --yes: shown, refused, nothing written.
    let shown = install(dir, &config, &package, &["--channel", "sms"]);
    let text = said(&shown);
    assert_eq!(shown.status.code(), Some(2), "{text}");
    assert!(text.contains("signed by acme (key "), "{text}");
    assert!(text.contains("scenarios: 2 of 2 pass"), "{text}");
    assert!(text.contains("http api.twilio.com: sends each SMS through the provider's API (NEW)"), "{text}");
    assert!(text.contains("secret sms_auth: the provider's account and token (NEW)"), "{text}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    assert!(!dir.join("plugins").exists());

    let done = install(dir, &config, &package, &["--channel", "sms", "--yes"]);
    assert!(done.status.success(), "{}", said(&done));
    assert!(said(&done).contains("still to do: give secrets.sms_auth its value"), "{}", said(&done));
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.starts_with("# the operator's own comment"), "{written}");
    let written = toml_of(&config);
    let sms = &written["channels"]["sms"];
    assert_eq!(sms["http_hosts"].as_array().unwrap(), &vec![toml::Value::from("api.twilio.com")]);
    assert_eq!(sms["secrets"].as_array().unwrap(), &vec![toml::Value::from("sms_auth")]);
    let component = dir.join(sms["adapter"].as_str().unwrap());
    let sha = |p: &Path| hex::encode(Sha256::digest(std::fs::read(p).unwrap()));
    assert_eq!(sha(&component), sha(&sms_component()), "the installed component is not the one packed");
    let pinned = written["plugins"]["installed"]["sms"]["digest"].as_str().unwrap().to_string();
    assert!(said(&done).contains(&pinned));
    assert_eq!(written["plugins"]["installed"]["sms"]["publisher"].as_str(), Some("acme"));
    // `plugins` names the installed component's publisher and the digest it is pinned by.
    let listed = run(dir, &["--config", config.to_str().unwrap(), "plugins", "--json"]);
    assert!(listed.status.success(), "{}", said(&listed));
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let installed: Vec<&serde_json::Value> = listed.iter().filter(|p| p.get("package").is_some()).collect();
    assert_eq!(installed.len(), 1, "{listed:?}");
    assert_eq!(installed[0]["package"]["digest"].as_str(), Some(pinned.as_str()));
    assert_eq!(installed[0]["package"]["publisher"].as_str(), Some("acme"));
    assert_eq!(installed[0]["sha256"].as_str(), Some(sha(&sms_component()).as_str()));

    // The next version asks for one more host: shown as more than before, and not granted without a yes.
    let upgrade = packed(dir, "sms-2.tar", &["api.twilio.com", "backup.twilio.com"], Some(&key));
    let granted = std::fs::read_to_string(&config).unwrap();
    let asked = install(dir, &config, &upgrade, &["--channel", "sms"]);
    let text = said(&asked);
    assert_eq!(asked.status.code(), Some(2), "{text}");
    assert!(text.contains("it ALSO asks for hosts backup.twilio.com"), "{text}");
    assert!(text.contains("http api.twilio.com: sends each SMS through the provider's API (granted today)"), "{text}");
    assert!(text.contains("http backup.twilio.com: sends each SMS through the provider's API (NEW)"), "{text}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), granted);
}

/// A layout tar's files, by path.
type Files = BTreeMap<String, Vec<u8>>;

fn files_of(tar: &[u8]) -> Files {
    let mut archive = tar::Archive::new(tar);
    let mut files = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let mut bytes = vec![];
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        files.insert(path, bytes);
    }
    files
}

fn tar_of(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        // The name written raw: the tar crate refuses `..`, a hostile tar does not.
        header.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        tar.append(&header, bytes.as_slice()).unwrap();
    }
    tar.into_inner().unwrap()
}

/// Replaces a blob as a forger would: every digest and size that names it
/// is rewritten too, up to the index, so only a signature can tell.
fn forge(files: &mut BTreeMap<String, Vec<u8>>, old: &str, new: Vec<u8>) {
    files.remove(&format!("blobs/sha256/{old}")).unwrap();
    let (old_digest, new_digest) = (format!("sha256:{old}"), format!("sha256:{}", hex::encode(Sha256::digest(&new))));
    let size = new.len();
    files.insert(format!("blobs/sha256/{}", &new_digest[7..]), new);
    let referring: Vec<String> = files
        .iter()
        .filter(|(_, bytes)| String::from_utf8_lossy(bytes).contains(&old_digest))
        .map(|(path, _)| path.clone())
        .collect();
    for path in referring {
        // A signature names the digest in its comment: a forger cannot sign again, so it stays.
        let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&files[&path]) else { continue };
        renamed(&mut json, &old_digest, &new_digest, size);
        let rewritten = serde_json::to_vec(&json).unwrap();
        match path.strip_prefix("blobs/sha256/") {
            Some(blob) => forge(files, blob, rewritten),
            None => {
                files.insert(path, rewritten);
            }
        }
    }
}

/// Every mention of `old` in a JSON document made `new`, with the size beside it.
fn renamed(json: &mut serde_json::Value, old: &str, new: &str, size: usize) {
    match json {
        serde_json::Value::Object(map) => {
            if map.get("digest").and_then(|d| d.as_str()) == Some(old) {
                map.insert("size".into(), size.into());
            }
            map.values_mut().for_each(|v| renamed(v, old, new, size));
        }
        serde_json::Value::Array(list) => list.iter_mut().for_each(|v| renamed(v, old, new, size)),
        serde_json::Value::String(s) if s == old => *s = new.to_string(),
        _ => {}
    }
}

/// The blob of the given media type in a layout (by the descriptors naming it).
fn blob_of(files: &BTreeMap<String, Vec<u8>>, media_type: &str) -> String {
    for bytes in files.values() {
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) else { continue };
        let layers = json["layers"].as_array().cloned().unwrap_or_default();
        if let Some(layer) = layers.iter().find(|l| l["mediaType"] == media_type) {
            return layer["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
        }
    }
    panic!("no {media_type} layer")
}

#[test]
fn a_package_altered_anywhere_or_signed_by_a_stranger_is_refused_and_nothing_installed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (key, public) = keygen(dir, "acme.key");
    let (stranger, _) = keygen(dir, "stranger.key");
    let package = packed(dir, "sms.tar", &["api.twilio.com"], Some(&key));
    let config = dir.join("sollecito.toml");
    let before = format!("[plugins.trusted]\nacme = \"{public}\"\n");
    std::fs::write(&config, &before).unwrap();
    let original = files_of(&std::fs::read(&package).unwrap());

    let mut cases: Vec<(&str, Files, &str)> = vec![];
    // One byte of the component, its blob left under its old name.
    let wasm = blob_of(&original, "application/wasm");
    let mut flipped = original.clone();
    let blob = flipped.get_mut(&format!("blobs/sha256/{wasm}")).unwrap();
    let middle = blob.len() / 2;
    blob[middle] ^= 1;
    cases.push(("a byte of the layer", flipped, "do not hash to its name: altered"));
    // The same byte, with every digest after it forged.
    let mut forged = original.clone();
    let mut component = original[&format!("blobs/sha256/{wasm}")].clone();
    component[middle] ^= 1;
    forge(&mut forged, &wasm, component);
    cases.push(("a forged layer", forged, "does not match this package: it was altered"));
    // What it asks for, edited in the package's own layer: one host more.
    let about = blob_of(&original, "application/vnd.sollecito.plugin.about.v1+json");
    let mut forged = original.clone();
    let text = String::from_utf8(original[&format!("blobs/sha256/{about}")].clone()).unwrap();
    forge(&mut forged, &about, text.replace("\"api.twilio.com\"", "\"api.twilio.com\",\"evil.example\"").into_bytes());
    cases.push(("a forged asks", forged, "does not match this package: it was altered"));
    // The signature itself: one character of it.
    let signature = blob_of(&original, "application/vnd.sollecito.plugin.signature.v1+minisign");
    let mut forged = original.clone();
    let text = String::from_utf8(original[&format!("blobs/sha256/{signature}")].clone()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let sig = &mut lines[1];
    let at = sig.len() / 2;
    let c = if &sig[at..at + 1] == "A" { "B" } else { "A" };
    sig.replace_range(at..at + 1, c);
    forge(&mut forged, &signature, (lines.join("\n") + "\n").into_bytes());
    cases.push(("a signature", forged, "the signature by acme (key "));
    // A link in place of a blob, and a path out of the folder.
    let mut linked = original.clone();
    linked.insert("../../etc/cron.d/evil".into(), b"* * * * * root true".to_vec());
    cases.push(("a path out of the folder", linked, "not a path of an OCI image layout"));

    for (what, files, why) in cases {
        let file = dir.join("tampered.tar");
        std::fs::write(&file, tar_of(&files)).unwrap();
        let out = install(dir, &config, &file, &["--channel", "sms", "--yes"]);
        let text = said(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {text}");
        assert!(text.contains("refused") && text.contains(why), "{what}: {text}");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), before, "{what}: the config changed");
        assert!(!dir.join("plugins").exists(), "{what}: something was installed");
    }

    // Signed by a key the config does not trust; not signed at all.
    let foreign = packed(dir, "foreign.tar", &["api.twilio.com"], Some(&stranger));
    let out = install(dir, &config, &foreign, &["--channel", "sms", "--yes"]);
    assert!(said(&out).contains("which [plugins.trusted] does not list"), "{}", said(&out));
    let unsigned = packed(dir, "unsigned.tar", &["api.twilio.com"], None);
    let out = install(dir, &config, &unsigned, &["--channel", "sms", "--yes"]);
    assert!(said(&out).contains("the package is not signed"), "{}", said(&out));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    // Unsigned is the operator's own call, named on the command line.
    let out = install(dir, &config, &unsigned, &["--channel", "sms", "--yes", "--allow-unsigned"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(toml_of(&config)["plugins"]["installed"]["sms"].get("publisher").is_none());
}

#[test]
fn a_package_asking_less_than_its_component_imports_is_not_made() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let author = author_dir(dir, &["api.twilio.com"], false);
    let out = run(dir, &["plugin", "pack", author.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("asks.secrets: the component imports this capability"), "{}", said(&out));

    // Refused where there is no config yet: none is made.
    let unsigned = packed(dir, "unsigned.tar", &["api.twilio.com"], None);
    let out = install(dir, &dir.join("none.toml"), &unsigned, &["--yes"]);
    assert!(said(&out).contains("the package is not signed"), "{}", said(&out));
    assert!(!dir.join("none.toml").exists() && !dir.join("plugins").exists());

    // A trusted key that is not one is named before anything is read.
    let config = dir.join("sollecito.toml");
    std::fs::write(&config, "[plugins.trusted]\nacme = \"RWQnot-a-key\"\n").unwrap();
    let out = install(dir, &config, &dir.join("none.tar"), &["--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("plugins.trusted.acme: not a minisign public key"), "{}", said(&out));
}

/// The CNCF distribution registry (Debian's `docker-registry`) on a loopback
/// port of its own, storing into a temporary folder; stopped when dropped.
struct Registry {
    child: std::process::Child,
    address: String,
    storage: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let storage = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let config = storage.path().join("config.yml");
        let yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
            storage.path().join("data").display()
        );
        std::fs::write(&config, yaml).unwrap();
        let mut child = std::process::Command::new("docker-registry")
            .args(["serve", config.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry (Debian's docker-registry package; ./test.sh installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(&address).is_ok() {
                return Registry { child, address, storage };
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the registry did not start on {address}");
    }

    /// Where the registry keeps a blob's bytes.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage.path().join(format!("data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_package_pushed_to_a_registry_installs_by_tag_and_digest_and_another_client_reads_the_same_bytes() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (key, public) = keygen(dir, "acme.key");
    let package = packed(dir, "sms.tar", &["api.twilio.com"], Some(&key));
    let tagged = format!("oci://{}/acme/sms:0.3.0", registry.address);
    let pushed = run(dir, &["plugin", "push", package.to_str().unwrap(), &tagged]);
    let text = said(&pushed);
    assert!(pushed.status.success(), "{text}");
    assert!(text.contains("(1 signature(s))"), "{text}");
    let digest = text.lines().find_map(|l| l.strip_prefix("digest ")).unwrap().trim().to_string();

    let config = dir.join("sollecito.toml");
    std::fs::write(&config, format!("[plugins.trusted]\nacme = \"{public}\"\n")).unwrap();
    let by_digest = format!("oci://{}/acme/sms@{digest}", registry.address);
    let shown = install(dir, &config, Path::new(&by_digest), &["--channel", "sms"]);
    assert!(said(&shown).contains("signed by acme (key "), "{}", said(&shown));
    assert!(said(&shown).contains(&format!("digest {digest}")), "{}", said(&shown));
    let done = install(dir, &config, Path::new(&tagged), &["--channel", "sms", "--yes"]);
    assert!(done.status.success(), "{}", said(&done));
    assert_eq!(toml_of(&config)["plugins"]["installed"]["sms"]["digest"].as_str(), Some(digest.as_str()));

    // skopeo, a second OCI client, copies the same tag: its component layer is the built component.
    let copy = dir.join("copy");
    let skopeo = std::process::Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", &format!("docker://{}/acme/sms:0.3.0", registry.address)])
        .arg(format!("oci:{}:sms", copy.display()))
        .output()
        .expect("skopeo (Debian's skopeo package; ./test.sh installs it)");
    assert!(skopeo.status.success(), "{}", said(&skopeo));
    let wasm = blob_of(&files_of(&std::fs::read(&package).unwrap()), "application/wasm");
    let copied = std::fs::read(copy.join(format!("blobs/sha256/{wasm}"))).unwrap();
    assert_eq!(copied, std::fs::read(sms_component()).unwrap(), "skopeo read other bytes than were pushed");
    let manifest = std::fs::read(copy.join(format!("blobs/sha256/{}", digest.trim_start_matches("sha256:")))).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&manifest)), digest.trim_start_matches("sha256:"));

    // The registry's copy of the component altered on its disk: the pull is refused, nothing changes.
    let before = std::fs::read_to_string(&config).unwrap();
    let stored = registry.blob_file(&format!("sha256:{wasm}"));
    let mut bytes = std::fs::read(&stored).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&stored, bytes).unwrap();
    let out = install(dir, &config, Path::new(&tagged), &["--channel", "sms", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("refused") && said(&out).contains("Invalid digest"), "{}", said(&out));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
}

/// `POST /v1/plugins` with `body` as `content_type`: the status and the answer.
pub(crate) fn upload(service: &crate::serve::Service, body: &[u8], content_type: &str) -> (u16, String) {
    let response = ureq::post(&format!("{}/v1/plugins", service.base))
        .set("Authorization", &format!("Bearer {}", crate::serve::TOKEN))
        .set("Content-Type", content_type)
        .send_bytes(body);
    let response = match response {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("upload: {e}"),
    };
    (response.status(), response.into_string().unwrap())
}

#[test]
fn once_a_publisher_is_trusted_the_api_takes_only_their_signed_packages() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (key, public) = keygen(dir, "acme.key");
    let (stranger, _) = keygen(dir, "stranger.key");
    let signed = packed(dir, "sms.tar", &["api.twilio.com"], Some(&key));
    let unsigned = packed(dir, "unsigned.tar", &["api.twilio.com"], None);
    let foreign = packed(dir, "foreign.tar", &["api.twilio.com"], Some(&stranger));
    let site = crate::pipeline::Site::new();
    let service = crate::serve::Service::start(&site, &format!("[plugins.trusted]\nacme = \"{public}\"\n"));
    const LAYOUT: &str = "application/vnd.oci.image.layout.v1+tar";

    let (status, body) = upload(&service, &std::fs::read(&signed).unwrap(), LAYOUT);
    assert_eq!(status, 201, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["name"], "sms");
    assert_eq!(answer["package"]["publisher"], "acme");
    let digest = files_of(&std::fs::read(&signed).unwrap())["index.json"].clone();
    let index: serde_json::Value = serde_json::from_slice(&digest).unwrap();
    assert_eq!(answer["package"]["digest"], index["manifests"][0]["digest"], "{body}");

    let refusals = [
        (std::fs::read(sms_component()).unwrap(), "application/wasm", "a bare component carries no signature"),
        (std::fs::read(&unsigned).unwrap(), LAYOUT, "the package is not signed"),
        (std::fs::read(&foreign).unwrap(), LAYOUT, "which [plugins.trusted] does not list"),
    ];
    for (body, content_type, why) in refusals {
        let (status, answer) = upload(&service, &body, content_type);
        assert_eq!(status, 422, "{why}: {answer}");
        assert!(answer.contains(why), "{why}: {answer}");
    }
}

/// A registry that answers every manifest with `manifest` (and `/v2/` with
/// 200), counting the blob requests it gets.
fn hostile_registry(manifest: Vec<u8>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let address = server.server_addr().to_ip().unwrap().to_string();
    let blobs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = blobs.clone();
    std::thread::spawn(move || {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
        for request in server.incoming_requests() {
            let url = request.url().to_string();
            let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k, v).unwrap();
            let response = if url.contains("/manifests/") {
                tiny_http::Response::from_data(manifest.clone())
                    .with_header(header("Content-Type", "application/vnd.oci.image.manifest.v1+json"))
                    .with_header(header("Docker-Content-Digest", &digest))
            } else if url.contains("/blobs/") {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tiny_http::Response::from_data(vec![0u8; 16]).with_status_code(200)
            } else {
                tiny_http::Response::from_data(b"{}".to_vec())
            };
            let _ = request.respond(response);
        }
    });
    (address, blobs)
}

#[test]
fn a_registry_sending_a_huge_manifest_or_naming_a_huge_layer_is_refused_before_any_blob() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = dir.join("sollecito.toml");
    std::fs::write(&config, "").unwrap();
    let layer = |size: u64| serde_json::json!({ "mediaType": "application/wasm", "digest": format!("sha256:{}", "a".repeat(64)), "size": size });
    let manifest = |layers: Vec<serde_json::Value>, padding: usize| {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.wasm.config.v0+json", "digest": format!("sha256:{}", "b".repeat(64)), "size": 2 },
            "layers": layers,
            "annotations": { "padding": "x".repeat(padding) },
        }))
        .unwrap()
    };
    let cases = [
        ("a manifest of 10 MB", manifest(vec![layer(16)], 10 << 20), "larger than 256 KB"),
        ("a layer of 100 MB", manifest(vec![layer(100 << 20)], 0), "more than 64 MB"),
    ];
    for (what, body, why) in cases {
        let (address, blobs) = hostile_registry(body);
        let out = install(dir, &config, Path::new(&format!("oci://{address}/acme/sms:1.0")), &["--yes"]);
        let text = said(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {text}");
        assert!(text.contains(why), "{what}: {text}");
        assert_eq!(blobs.load(std::sync::atomic::Ordering::SeqCst), 0, "{what}: a blob was pulled");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "", "{what}: the config changed");
    }
}
