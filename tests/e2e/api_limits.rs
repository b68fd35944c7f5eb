//! The service's edges as clients meet them: large uploads and the upload
//! limit, refusals always in the documented `{error, field}` shape, the bearer
//! scheme in any case, and metrics that count messages as the relay sees them.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::pipeline::{Site, customer, invoice};
use crate::serve::{Service, TOKEN};

const MB: usize = 1024 * 1024;

/// LEB128, as the wasm binary format writes sizes.
fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = vec![];
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A real component grown to `size` bytes by a custom section at its end
/// (id 0, size, name length, name, payload): still the same component.
fn padded(path: &str, size: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let name = b"padding";
    // Section id, then the size of name-length + name + payload.
    let overhead = 1 + 5 + 1 + name.len();
    let payload = size - bytes.len() - overhead;
    let content = 1 + name.len() + payload;
    let mut size_field = leb128(content);
    // A fixed five-byte size field, so the total is exact.
    while size_field.len() < 5 {
        let last = size_field.len() - 1;
        size_field[last] |= 0x80;
        size_field.push(0);
    }
    bytes.push(0);
    bytes.extend(size_field);
    bytes.extend(leb128(name.len()));
    bytes.extend(name);
    bytes.extend((0..payload).map(|i| (i * 7 + i / 251) as u8));
    assert_eq!(bytes.len(), size);
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

/// How a raw request's body goes.
enum Body {
    /// `Content-Length`, and the bytes sent while the answer is read.
    Length(usize),
    /// `Content-Length` and `Expect: 100-continue`; the body is sent only after a `100 Continue`.
    Expect(usize),
    /// `Transfer-Encoding: chunked`: the size is known only as the bytes come.
    Chunked(usize),
}

/// An answer as it came: status, header lines (lowercased names), body as JSON.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A request over a bare socket, reading the answer while the body is still
/// being sent (as a client must, to see a refusal that comes early).
fn raw(svc: &Service, method: &str, path: &str, headers: &[(&str, &str)], body: Body) -> Answer {
    let address = svc.base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let (size, chunked, expect) = match body {
        Body::Length(n) => (n, false, false),
        Body::Expect(n) => (n, false, true),
        Body::Chunked(n) => (n, true, false),
    };
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    } else {
        head.push_str(&format!("Content-Length: {size}\r\n"));
    }
    if expect {
        head.push_str("Expect: 100-continue\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let writer = if expect {
        None
    } else {
        let mut out = stream.try_clone().unwrap();
        Some(std::thread::spawn(move || {
            let block = vec![b'x'; MB];
            let mut left = size;
            while left > 0 {
                let n = left.min(MB);
                let sent = if chunked {
                    out.write_all(format!("{n:x}\r\n").as_bytes())
                        .and_then(|_| out.write_all(&block[..n]))
                        .and_then(|_| out.write_all(b"\r\n"))
                } else {
                    out.write_all(&block[..n])
                };
                if sent.is_err() {
                    return;
                }
                left -= n;
            }
            if chunked {
                let _ = out.write_all(b"0\r\n\r\n");
            }
        }))
    };
    // Whatever came before the server closed (a reset after the answer is fine).
    let mut received = vec![];
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    if let Some(writer) = writer {
        writer.join().unwrap();
    }
    let text = String::from_utf8_lossy(&received).to_string();
    // An interim 100 Continue may come first; the answer is the last head.
    let start = text.rfind("HTTP/1.1 ").unwrap_or_else(|| panic!("no answer to {method} {path}: {text:?}"));
    let (head, body) = text[start..].split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {status} {body:?}"));
    Answer { status, headers, body }
}

/// Uploads bytes through ureq, as a client with the whole file at hand does.
fn upload(svc: &Service, bytes: &[u8], content_type: &str) -> (u16, Value) {
    let response = ureq::post(&format!("{}/v1/plugins", svc.base))
        .timeout(Duration::from_secs(120))
        .set("Authorization", &format!("Bearer {TOKEN}"))
        .set("Content-Type", content_type)
        .send_bytes(bytes);
    let r = match response {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("upload: {e}"),
    };
    (r.status(), serde_json::from_str(&r.into_string().unwrap()).unwrap())
}

/// The files of the plugins folder beside the database, by name.
fn plugin_files(site: &Site) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(site.path("plugins")) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect(),
        Err(_) => vec![],
    };
    names.sort();
    names
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_18_mb_component_uploads_and_activates_and_100_mb_gets_a_json_413() {
    let site = Site::new();
    let svc = Service::start(&site, "");
    let component = padded(sollecito_test_artifacts::OUTSIDER, 18 * MB);
    let started = Instant::now();
    let (status, uploaded) = upload(&svc, &component, "application/wasm");
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(uploaded["name"], "outsider", "{uploaded}");
    assert_eq!(uploaded["sha256"], sha256(&component), "the file as sent, custom section and all");
    let took = started.elapsed();
    svc.admin("POST", "/v1/segments/default/policy", &json!({ "plugin": uploaded["sha256"] }).to_string());
    let plugins = svc.admin("GET", "/v1/plugins", "");
    assert_eq!(plugins["activated"]["default"]["sha256"], uploaded["sha256"], "{plugins}");
    // Kept by sha256, whole; nothing else left in the folder.
    let kept = format!("{}.wasm", uploaded["sha256"].as_str().unwrap());
    assert_eq!(plugin_files(&site), std::slice::from_ref(&kept));
    assert_eq!(std::fs::read(site.path("plugins").join(&kept)).unwrap(), component);
    eprintln!("18 MB component uploaded and checked in {took:?}");

    // 100 MB: refused in the documented shape, however the client sends it.
    let auth = format!("Bearer {TOKEN}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/wasm")];
    for body in [Body::Expect(100 * MB), Body::Length(100 * MB), Body::Chunked(100 * MB)] {
        let how = match body {
            Body::Expect(_) => "Expect: 100-continue",
            Body::Length(_) => "Content-Length",
            Body::Chunked(_) => "chunked",
        };
        let answer = raw(&svc, "POST", "/v1/plugins", &headers, body);
        assert_eq!((answer.status, answer.body["field"].as_str()), (413, Some("body")), "{how}: {}", answer.body);
        assert!(answer.body["error"].as_str().unwrap().contains("64 MB"), "{how}: {}", answer.body);
        assert!(answer.header("content-type").unwrap().starts_with("application/json"), "{how}");
    }
    // Nothing changed: the catalog, the activation, the folder (no partial file).
    assert_eq!(svc.admin("GET", "/v1/plugins", ""), plugins);
    assert_eq!(plugin_files(&site), [kept]);
    // And the service still takes uploads.
    let (status, again) = upload(&svc, &component, "application/octet-stream");
    assert_eq!((status, &again["sha256"]), (201, &uploaded["sha256"]));
    svc.terminate();
}

#[test]
fn the_upload_limit_is_configurable_and_a_form_is_not_a_component() {
    let site = Site::new();
    let svc = Service::start_with(&site, "upload_limit_mb = 1\n", "");
    let auth = format!("Bearer {TOKEN}");
    let headers = [("Authorization", auth.as_str())];
    let answer = raw(&svc, "POST", "/v1/plugins", &headers, Body::Chunked(2 * MB));
    assert_eq!((answer.status, answer.body["field"].as_str()), (413, Some("body")), "{}", answer.body);
    assert!(answer.body["error"].as_str().unwrap().contains("1 MB"), "{}", answer.body);
    // A component under the limit goes through.
    let small = std::fs::read(sollecito_test_artifacts::OUTSIDER).unwrap();
    assert!(small.len() < MB);
    let (status, uploaded) = upload(&svc, &small, "application/wasm");
    assert_eq!(status, 201, "{uploaded}");
    // A multipart form or JSON is refused before its body is read.
    for content_type in ["multipart/form-data; boundary=x", "application/json", "text/plain"] {
        let (status, body) = upload(&svc, &small, content_type);
        assert_eq!((status, body["field"].as_str()), (415, Some("Content-Type")), "{content_type}: {body}");
    }
    // Not a component at all: a 422 naming the body.
    let (status, body) = upload(&svc, b"hello", "application/wasm");
    assert_eq!((status, body["field"].as_str()), (422, Some("body")), "{body}");
    // Without a token nothing is read.
    let answer = raw(&svc, "POST", "/v1/plugins", &[], Body::Expect(100 * MB));
    assert_eq!((answer.status, answer.body["field"].as_str()), (401, Some("Authorization")), "{}", answer.body);
    assert_eq!(
        svc.admin("GET", "/v1/plugins", "")["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["sha256"] == uploaded["sha256"])
            .count(),
        1
    );
    svc.terminate();
}

#[test]
fn every_refusal_is_the_documented_json_error() {
    let site = Site::new();
    let svc = Service::start(&site, "");
    let auth = format!("Bearer {TOKEN}");
    let headers = [("Authorization", auth.as_str())];
    // No such route.
    let answer = raw(&svc, "GET", "/v1/nothing-here", &headers, Body::Length(0));
    assert_eq!((answer.status, answer.body["field"].as_str()), (404, Some("path")), "{}", answer.body);
    assert!(answer.body["error"].as_str().unwrap().contains("/v1/nothing-here"), "{}", answer.body);
    // A route, not that method: the Allow header stays.
    let answer = raw(&svc, "DELETE", "/v1/plugins", &headers, Body::Length(0));
    assert_eq!((answer.status, answer.body["field"].as_str()), (405, Some("method")), "{}", answer.body);
    let allow = answer.header("allow").unwrap_or_default().to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert!(answer.body["error"].as_str().unwrap().contains("DELETE"), "{}", answer.body);
    // Over the 2 MB of a JSON route.
    let answer = raw(&svc, "PUT", "/v1/customers/c1", &headers, Body::Length(3 * MB));
    assert_eq!((answer.status, answer.body["field"].as_str()), (413, Some("body")), "{}", answer.body);
    assert!(answer.body["error"].as_str().unwrap().contains("2 MB"), "{}", answer.body);
    // A query that does not parse.
    let answer = raw(&svc, "GET", "/v1/shadow/report?segment=a&segment=b", &headers, Body::Length(0));
    assert_eq!((answer.status, answer.body["field"].as_str()), (400, Some("query")), "{}", answer.body);
    // A refusal of the handler itself keeps its own shape.
    let (status, body) = svc.call("GET", "/v1/invoices/x/history", Some(TOKEN), "");
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("unknown invoice"), "{body}");
    svc.terminate();
}

#[test]
fn the_bearer_scheme_is_case_insensitive_and_the_token_is_still_checked() {
    let site = Site::new();
    let svc = Service::start(&site, "");
    let get = |authorization: Option<&str>| {
        let mut request = ureq::get(&format!("{}/v1/plugins", svc.base));
        if let Some(a) = authorization {
            request = request.set("Authorization", a);
        }
        let r = match request.call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let challenge = r.header("www-authenticate").map(String::from);
        (r.status(), challenge, serde_json::from_str::<Value>(&r.into_string().unwrap()).unwrap())
    };
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (status, _, body) = get(Some(&format!("{scheme} {TOKEN}")));
        assert_eq!(status, 200, "{scheme}: {body}");
        assert!(body["plugins"].is_array(), "{scheme}: {body}");
    }
    // More than one space before the token is allowed too (1*SP).
    assert_eq!(get(Some(&format!("Bearer  {TOKEN}"))).0, 200);
    for wrong in [format!("bearer {TOKEN}x"), "BEARER wrong-token-0000000000".into(), format!("bearer {}", &TOKEN[1..])]
    {
        let (status, _, body) = get(Some(&wrong));
        assert_eq!((status, body["field"].as_str()), (403, Some("Authorization")), "{wrong}: {body}");
    }
    for missing in [
        None,
        Some(format!("Basic {TOKEN}")),
        Some(format!("Token {TOKEN}")),
        Some(TOKEN.to_string()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some(format!("Bearer{TOKEN}")),
    ] {
        let (status, challenge, body) = get(missing.as_deref());
        assert_eq!((status, body["field"].as_str()), (401, Some("Authorization")), "{missing:?}: {body}");
        assert_eq!(challenge.as_deref(), Some("Bearer"), "{missing:?}: a 401 names the scheme");
    }
    svc.terminate();
}

#[test]
fn a_consolidated_email_counts_once_as_a_message_and_twice_as_reminders() {
    let site = Site::new();
    // Two invoices of one customer, eight days overdue: one email lists both.
    let today = chrono::Utc::now().date_naive();
    let (issued, due) = (today - chrono::Days::new(38), today - chrono::Days::new(8));
    let dated = |id: &str| {
        invoice(id, "rome", "").replace("2026-10-01", &issued.to_string()).replace("2026-10-28", &due.to_string())
    };
    let data = format!(
        r#"{{"customers": [{}], "invoices": [{}, {}]}}"#,
        customer("rome", "Europe/Rome", ""),
        dated("a-1"),
        dated("a-2")
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap()]);
    let svc = Service::start(&site, "");
    let metrics = || svc.call("GET", "/metrics", Some(TOKEN), "").1.as_str().unwrap().to_string();
    wait_for("the email counted", || metrics().contains("sollecito_messages_sent_total{"));
    let text = metrics();
    assert_eq!(site.emails().len(), 1, "one consolidated email");
    assert!(text.contains(r#"sollecito_messages_sent_total{channel="email"} 1"#), "{text}");
    assert!(text.contains(r#"sollecito_reminders_total{channel="email",result="sent"} 2"#), "{text}");
    assert!(!text.contains("sollecito_messages_total"), "the old, misleading name is gone: {text}");
    for id in ["a-1", "a-2"] {
        assert!(site.actions(id).iter().any(|a| a.1 == "sent"), "{id}: {:?}", site.actions(id));
    }
    svc.terminate();
}
