//! What an e-invoice comes wrapped in: a CAdES signature (`.p7m`: CMS
//! SignedData, DER or BER, or the base64 of either) around the XML, and a zip
//! of many files. The content is sniffed; the file name is only a hint.
//!
//! The signature is unwrapped, not verified: the SDI verified it on the way
//! in, and what is read here is what the buyer was sent. The CMS is walked by
//! hand because signing tools write BER (indefinite lengths, the content cut
//! into pieces), which a strict DER decoder refuses.

use std::io::{Cursor, Read};

use super::Problem;

/// What a zip may hold before it is refused as a bomb.
pub(super) struct Limits {
    pub members: usize,
    /// Uncompressed, each.
    pub member_bytes: u64,
    /// Uncompressed, all members together.
    pub total_bytes: u64,
}

pub(super) const LIMITS: Limits = Limits { members: 10_000, member_bytes: 20 << 20, total_bytes: 200 << 20 };

/// Envelopes inside envelopes (a `.p7m.p7m` signed twice) before it is refused.
const ENVELOPES: usize = 3;
/// BER nesting: a SignedData is 6 deep to its content, a certificate some 10 more.
const DEEPEST: usize = 32;

/// One XML document to read, out of its envelope.
pub(super) struct Part {
    /// The file, with `!member` for a zip member.
    pub location: String,
    /// The document's own file name (the member's, without its folder).
    pub name: String,
    pub xml: Vec<u8>,
    pub in_zip: bool,
}

/// The documents in a file: itself unwrapped, or each member of a zip.
pub(super) fn open(file_name: &str, bytes: &[u8], limits: &Limits, problems: &mut Vec<Problem>) -> Vec<Part> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return members(file_name, bytes, limits, problems);
    }
    match unwrap(bytes, 0) {
        Ok(xml) => vec![Part { location: file_name.into(), name: base_name(file_name).into(), xml, in_zip: false }],
        Err((field, reason)) => {
            problems.push(Problem::malformed(file_name, field, reason));
            vec![]
        }
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

enum Sniffed {
    Xml,
    Zip,
    Der(Vec<u8>),
    Unknown,
}

fn sniff(bytes: &[u8]) -> Sniffed {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &text[i..]);
    match start {
        Some(t) if t.starts_with(b"<") => Sniffed::Xml,
        _ if bytes.starts_with(b"PK\x03\x04") => Sniffed::Zip,
        _ if bytes.first() == Some(&0x30) => Sniffed::Der(bytes.to_vec()),
        Some(t) => base64_der(t).map_or(Sniffed::Unknown, Sniffed::Der),
        None => Sniffed::Unknown,
    }
}

/// The DER a base64 text (PEM armour allowed) decodes to, if it is one.
fn base64_der(text: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = std::str::from_utf8(text).ok()?;
    let body: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("-----"))
        .flat_map(str::chars)
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    (der.first() == Some(&0x30)).then_some(der)
}

/// The XML inside `bytes`, out of as many signatures as wrap it.
fn unwrap(bytes: &[u8], depth: usize) -> Result<Vec<u8>, (&'static str, String)> {
    match sniff(bytes) {
        Sniffed::Xml => Ok(bytes.to_vec()),
        Sniffed::Der(_) if depth >= ENVELOPES => Err(("p7m", format!("signed more than {ENVELOPES} times over"))),
        Sniffed::Der(der) => unwrap(&signed_content(&der).map_err(|r| ("p7m", r))?, depth + 1),
        Sniffed::Zip => Err(("file", "a zip inside a zip or a signature is not read".into())),
        Sniffed::Unknown => Err(("file", "not XML, a signed .p7m (DER or base64) or a zip".into())),
    }
}

/// A zip's documents, member by member, within the limits. A member that is
/// neither XML nor a signature and not named `.xml` or `.p7m` (the PDF copy
/// beside the invoice) is passed over; so are folders and hidden files.
fn members(file_name: &str, bytes: &[u8], limits: &Limits, problems: &mut Vec<Problem>) -> Vec<Part> {
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(archive) => archive,
        Err(e) => {
            let (location, reason) = match last_member(bytes) {
                Some(name) => {
                    (format!("{file_name}!{name}"), format!("not a whole zip ({e}): cut short in this member?"))
                }
                None => (file_name.to_string(), format!("not a whole zip ({e}): cut short?")),
            };
            problems.push(Problem::malformed(location, "zip", reason));
            return vec![];
        }
    };
    if archive.len() > limits.members {
        let reason = format!("{} members, more than {}", archive.len(), limits.members);
        problems.push(Problem::malformed(file_name, "zip", reason));
        return vec![];
    }
    let (mut parts, mut total) = (vec![], 0u64);
    for i in 0..archive.len() {
        let mut refuse = |name: &str, reason: String| {
            problems.push(Problem::malformed(format!("{file_name}!{name}"), "zip", reason));
        };
        let mut member = match archive.by_index(i) {
            Ok(member) => member,
            Err(e) => {
                refuse(&format!("#{}", i + 1), format!("cannot be read: {e}"));
                continue;
            }
        };
        let name = String::from_utf8_lossy(member.name_raw()).into_owned();
        if !safe(&name) {
            refuse(&name, "a member named with .. or an absolute path is refused".into());
            continue;
        }
        if member.is_dir() || passed_over(&name) {
            continue;
        }
        let bomb = format!("more than {} uncompressed: refused as a zip bomb", size(limits.member_bytes));
        if member.size() > limits.member_bytes {
            refuse(&name, bomb);
            continue;
        }
        // The size a member declares can lie: read one byte past the limit at most.
        let mut data = vec![];
        let read = (&mut member).take(limits.member_bytes + 1).read_to_end(&mut data);
        if data.len() as u64 > limits.member_bytes {
            refuse(&name, bomb);
            continue;
        }
        if let Err(e) = read {
            refuse(&name, format!("cannot be read: {e}"));
            continue;
        }
        total += data.len() as u64;
        if total > limits.total_bytes {
            let reason = format!("the members reach more than {} uncompressed here", size(limits.total_bytes));
            refuse(&name, reason);
            break;
        }
        let location = format!("{file_name}!{name}");
        match unwrap(&data, 0) {
            Ok(xml) => parts.push(Part { location, name: base_name(&name).into(), xml, in_zip: true }),
            Err(_) if !document_name(&name) && matches!(sniff(&data), Sniffed::Unknown) => {}
            Err((field, reason)) => problems.push(Problem::malformed(location, field, reason)),
        }
    }
    parts
}

/// `20 MB`, or bytes when under a megabyte.
fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 { format!("{} MB", bytes >> 20) } else { format!("{bytes} bytes") }
}

/// No `..` component, no absolute path (`/x`, `\x`, `C:x`), no NUL.
fn safe(name: &str) -> bool {
    let absolute = name.starts_with(['/', '\\']) || name.as_bytes().get(1) == Some(&b':');
    !absolute && !name.contains('\0') && !name.split(['/', '\\']).any(|part| part == "..")
}

/// Hidden files and the folder macOS adds to every zip it makes.
fn passed_over(name: &str) -> bool {
    name.starts_with("__MACOSX/") || base_name(name).starts_with('.')
}

fn document_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".xml") || lower.ends_with(".p7m")
}

/// The name of the last member a cut zip begins, read from its local header.
fn last_member(bytes: &[u8]) -> Option<String> {
    let at = bytes.windows(4).rposition(|w| w == b"PK\x03\x04")?;
    let header = bytes.get(at..at + 30)?;
    let length = usize::from(u16::from_le_bytes([header[26], header[27]]));
    let name = bytes.get(at + 30..at + 30 + length)?;
    Some(String::from_utf8_lossy(name).into_owned())
}

/// `1.2.840.113549.1.7.2` (signedData) and `.1` (data), as DER contents.
const SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
const DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];

/// The signed content of a CMS `ContentInfo { signedData, SignedData { version,
/// digestAlgorithms, encapContentInfo { data, [0] OCTET STRING } ... } }`.
pub(super) fn signed_content(der: &[u8]) -> Result<Vec<u8>, String> {
    let (info, _) = expect(der, 0x30, "ContentInfo", 0)?;
    let (kind, rest) = expect(info, 0x06, "ContentInfo contentType", 1)?;
    if kind != SIGNED_DATA {
        return Err("not a CMS SignedData".into());
    }
    let (explicit, _) = expect(rest, 0xA0, "ContentInfo content", 1)?;
    let (signed, _) = expect(explicit, 0x30, "SignedData", 2)?;
    let (_, rest) = expect(signed, 0x02, "SignedData version", 3)?;
    let (_, rest) = expect(rest, 0x31, "SignedData digestAlgorithms", 3)?;
    let (encapsulated, _) = expect(rest, 0x30, "SignedData encapContentInfo", 3)?;
    let (kind, rest) = expect(encapsulated, 0x06, "eContentType", 4)?;
    if kind != DATA {
        return Err("the signed content is not data".into());
    }
    if rest.is_empty() {
        return Err("a detached signature: the document is not inside".into());
    }
    let (explicit, _) = expect(rest, 0xA0, "eContent", 4)?;
    let (tag, content, _) = element(explicit, 5)?;
    let mut out = vec![];
    octets(tag, content, 5, &mut out)?;
    Ok(out)
}

/// The content of the element at the start of `input`, which must have `tag`, and what follows it.
fn expect<'a>(input: &'a [u8], tag: u8, what: &str, depth: usize) -> Result<(&'a [u8], &'a [u8]), String> {
    let (found, content, rest) = element(input, depth)?;
    if found != tag {
        return Err(format!("{what}: tag 0x{found:02X} where 0x{tag:02X} was expected"));
    }
    Ok((content, rest))
}

/// An OCTET STRING's bytes: whole (primitive) or in pieces (constructed, as BER writes it).
fn octets(tag: u8, content: &[u8], depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match tag {
        0x04 => out.extend_from_slice(content),
        0x24 => {
            let mut rest = content;
            while !rest.is_empty() {
                let (tag, piece, after) = element(rest, depth + 1)?;
                octets(tag, piece, depth + 1, out)?;
                rest = after;
            }
        }
        _ => return Err(format!("eContent: tag 0x{tag:02X} is not an OCTET STRING")),
    }
    Ok(())
}

/// One BER element at the start of `input`: its first tag byte, its content
/// (for an indefinite length, the children before the end-of-contents) and what follows.
fn element(input: &[u8], depth: usize) -> Result<(u8, &[u8], &[u8]), String> {
    if depth > DEEPEST {
        return Err(format!("the signature nests deeper than {DEEPEST}"));
    }
    let cut = || "the signature is cut short".to_string();
    let tag = *input.first().ok_or_else(cut)?;
    let mut at = 1;
    // A tag number of 31 or more takes the bytes that follow, 7 bits each.
    if tag & 0x1F == 0x1F {
        while input.get(at).ok_or_else(cut)? & 0x80 != 0 {
            at += 1;
        }
        at += 1;
    }
    let first = *input.get(at).ok_or_else(cut)?;
    at += 1;
    if first == 0x80 {
        if tag & 0x20 == 0 {
            return Err("an indefinite length on a primitive element".into());
        }
        let start = at;
        loop {
            match input.get(at..at + 2) {
                Some([0, 0]) => return Ok((tag, &input[start..at], &input[at + 2..])),
                Some(_) => {
                    let (_, _, rest) = element(&input[at..], depth + 1)?;
                    at = input.len() - rest.len();
                }
                None => return Err(cut()),
            }
        }
    }
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7F);
        if count > 4 {
            return Err("a length of more than 4 bytes".into());
        }
        let bytes = input.get(at..at + count).ok_or_else(cut)?;
        at += count;
        bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
    };
    let end = at.checked_add(length).filter(|&end| end <= input.len()).ok_or_else(cut)?;
    Ok((tag, &input[at..end], &input[end..]))
}
