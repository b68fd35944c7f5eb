//! The HTML part of a message, written from its plain text: escaped word by
//! word, web and mail addresses made links, paragraphs, line breaks and lists.

pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

/// `s` escaped for HTML text and attributes, onto `out` (one pass: this runs for every word sent).
fn push_escaped(out: &mut String, s: &str) {
    let mut plain = 0;
    // By byte: an ASCII byte is always a whole character in UTF-8.
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#x27;",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        out.push_str(escaped);
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
}

/// One line of text as HTML onto `out`: escaped, with web and mail addresses made links.
fn push_line_html(out: &mut String, line: &str) {
    // Most lines hold no address: escaped whole, not word by word.
    if !line.contains("http") && !line.contains('@') {
        push_escaped(out, line);
        return;
    }
    for (n, word) in line.split(' ').enumerate() {
        if n > 0 {
            out.push(' ');
        }
        let core = word.trim_end_matches(['.', ',', ';', ':', ')', '!', '?', '»', '"']);
        let (start, rest) = word.split_at(core.len());
        let url = start.trim_start_matches(['(', '«', '"']);
        let lead = &start[..start.len() - url.len()];
        let web = url.starts_with("https://") || url.starts_with("http://");
        let mail = url.split_once('@').is_some_and(|(_, d)| d.contains('.') && !url.contains('/'));
        if !web && !mail {
            push_escaped(out, word);
            continue;
        }
        push_escaped(out, lead);
        out.push_str("<a href=\"");
        if !web {
            out.push_str("mailto:");
        }
        push_escaped(out, url);
        out.push_str("\">");
        push_escaped(out, url);
        out.push_str("</a>");
        push_escaped(out, rest);
    }
}

/// The body of the HTML part, from the normalized text: paragraphs, line breaks and lists.
pub(super) fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().collect();
        for group in lines.chunk_by(|a, b| a.starts_with("- ") == b.starts_with("- ")) {
            if group[0].starts_with("- ") {
                out.push_str("<ul style=\"margin:0 0 16px;padding-left:24px\">");
                for line in group {
                    out.push_str("<li>");
                    push_line_html(&mut out, &line[2..]);
                    out.push_str("</li>");
                }
                out.push_str("</ul>\n");
            } else {
                out.push_str("<p style=\"margin:0 0 16px\">");
                for (n, line) in group.iter().enumerate() {
                    if n > 0 {
                        out.push_str("<br>\n");
                    }
                    push_line_html(&mut out, line);
                }
                out.push_str("</p>\n");
            }
        }
    }
    out
}
