//! `letter`: a printable A4 PDF of the message for ordinary or registered post,
//! written to the letters folder the operator granted. A formal notice goes by
//! registered post unless the setting `registered` says otherwise.

wit_bindgen::generate!({
    world: "channel",
    path: "../../wit",
    with: { "sollecito:plugin/types@0.3.0": sollecito_adapter::types },
});

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use sollecito::plugin::files;
use sollecito_adapter::{Settings, Tone};

pub struct Letter;

const LINE: f32 = 14.0;
const TOP: f32 = 790.0;
const BOTTOM: f32 = 60.0;
const LEFT: f32 = 64.0;
/// Characters per line at 10.5 pt Helvetica on A4 with these margins.
const WIDTH: usize = 92;

/// The byte of `c` in WinAnsiEncoding (what the standard PDF fonts read), or `?`.
fn win_ansi(c: char) -> u8 {
    match c {
        '\u{20}'..='\u{7e}' => c as u8,
        '\u{a0}'..='\u{ff}' => c as u32 as u8,
        '€' => 0x80,
        '‚' => 0x82,
        '„' => 0x84,
        '…' => 0x85,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '\u{202f}' => b' ',
        _ => b'?',
    }
}

/// Wraps a paragraph at `width` characters, on spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![];
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

/// The letter as PDF bytes: sender, recipient's address, date line, subject, body.
pub fn pdf(msg: &Message, registered: bool) -> Vec<u8> {
    let mut lines = vec![msg.sender.name.clone(), msg.sender.email.clone(), String::new()];
    lines.push(msg.recipient.name.clone());
    lines.extend(msg.recipient.postal_address.iter().flat_map(|a| a.split(',').map(|p| p.trim().to_string())));
    lines.push(String::new());
    if registered {
        lines.push("RACCOMANDATA A/R - REGISTERED MAIL".into());
    }
    lines.push(msg.subject.clone());
    lines.push(String::new());
    lines.extend(wrap(&msg.text, WIDTH));

    let pages: Vec<&[String]> = lines.chunks(((TOP - BOTTOM) / LINE) as usize).collect();
    let mut pdf = Pdf::new();
    let (catalog, tree, font) = (Ref::new(1), Ref::new(2), Ref::new(3));
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(10 + 2 * i as i32)).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(pages.len() as i32);
    pdf.type1_font(font).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    for (i, page_lines) in pages.iter().enumerate() {
        let content_id = Ref::new(11 + 2 * i as i32);
        let mut page = pdf.page(page_ids[i]);
        page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
        page.parent(tree);
        page.contents(content_id);
        page.resources().fonts().pair(Name(b"F1"), font);
        page.finish();
        let mut content = Content::new();
        content.begin_text();
        content.set_font(Name(b"F1"), 10.5);
        content.next_line(LEFT, TOP);
        for line in page_lines.iter() {
            let bytes: Vec<u8> = line.chars().map(win_ansi).collect();
            content.show(Str(&bytes));
            content.next_line(0.0, -LINE);
        }
        content.end_text();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

impl Letter {
    fn deliver(settings: &Settings, msg: Message) -> Result<Receipt, DeliveryError> {
        if msg.recipient.postal_address.as_deref().unwrap_or_default().trim().is_empty() {
            return Err(DeliveryError::Permanent(format!("{} has no postal address", msg.recipient.name)));
        }
        let registered = settings.flag("registered").unwrap_or(msg.tone == Tone::Formal);
        let name: String =
            msg.key.chars().map(|c| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '.' }).collect();
        let path = files::write(&format!("{name}.pdf"), &pdf(&msg, registered)).map_err(DeliveryError::Transient)?;
        let post = if registered { "registered post" } else { "ordinary post" };
        Ok(Receipt { reference: format!("{path} ({post})") })
    }
}

sollecito_adapter::channel_adapter!(Letter);

#[cfg(test)]
mod tests {
    #[test]
    fn wrapping_and_encoding() {
        assert_eq!(super::wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(super::win_ansi('€'), 0x80);
        assert_eq!(super::win_ansi('à'), 0xe0);
        assert_eq!(super::win_ansi('漢'), b'?');
    }
}
