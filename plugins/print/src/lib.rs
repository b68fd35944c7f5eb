//! Plain text set on A4 pages as PDF, in the standard Helvetica (no font is
//! embedded, so the file is small and reads the same everywhere). Shared by
//! the `letter` adapter and the host's statements of account.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

const LINE: f32 = 14.0;
const TOP: f32 = 790.0;
const BOTTOM: f32 = 60.0;
const LEFT: f32 = 64.0;
/// Characters per line at 10.5 pt Helvetica on A4 with these margins.
pub const WIDTH: usize = 92;

/// The byte of `c` in WinAnsiEncoding (what the standard PDF fonts read), or `?`.
pub fn win_ansi(c: char) -> u8 {
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

/// Wraps each paragraph of `text` at `width` characters, on spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
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

/// `lines` (each already within [`WIDTH`]) on as many A4 pages as they need.
pub fn pdf(lines: &[String]) -> Vec<u8> {
    let pages: Vec<&[String]> = lines.chunks(((TOP - BOTTOM) / LINE) as usize).collect();
    let pages = if pages.is_empty() { vec![&lines[..0]] } else { pages };
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

#[cfg(test)]
mod tests {
    #[test]
    fn wrapping_and_encoding() {
        assert_eq!(super::wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(super::win_ansi('€'), 0x80);
        assert_eq!(super::win_ansi('à'), 0xe0);
        assert_eq!(super::win_ansi('漢'), b'?');
    }

    #[test]
    fn a_long_text_takes_as_many_pages_as_it_needs() {
        let lines: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
        let pdf = super::pdf(&lines);
        let text = String::from_utf8_lossy(&pdf);
        // 52 lines fit a page: 100 lines take two.
        assert!(text.contains("/Count 2"), "{text}");
        assert!(text.contains("(line 99)") && pdf.starts_with(b"%PDF-"));
    }
}
