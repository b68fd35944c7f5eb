//! A reply's own words: the quoted message, the attribution line before it
//! ("On ... wrote:", "Il ... ha scritto:") and the signature are cut, so that
//! a reader (a person, the reader plugin) sees what the customer wrote.

/// Lines that begin what a mailer quotes, in it, en, fr, de, es and Outlook's header block.
const QUOTE_STARTS: [&str; 12] = [
    "-----original message-----",
    "-----messaggio originale-----",
    "-----ursprüngliche nachricht-----",
    "-----message d'origine-----",
    "-----mensaje original-----",
    "________________________________",
    "from: ",
    "da: ",
    "von: ",
    "de: ",
    "sent from my ",
    "inviato da ",
];

/// Attribution lines begin like these when they run over two lines.
const ATTRIBUTION_STARTS: [&str; 5] = ["on ", "il ", "le ", "am ", "el "];

/// Attribution lines end like these, possibly over two lines.
const ATTRIBUTION_ENDS: [&str; 6] = ["wrote:", "ha scritto:", "a écrit :", "a écrit:", "schrieb:", "escribió:"];

pub(crate) fn own_words(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let lower = trimmed.to_lowercase();
        let next = lines.get(i + 1).map(|n| n.trim().to_lowercase()).unwrap_or_default();
        // "On <date>, <name> <address>" then "wrote:" on the next line.
        let attribution = ATTRIBUTION_ENDS.iter().any(|e| lower.ends_with(e))
            || (ATTRIBUTION_STARTS.iter().any(|s| lower.starts_with(s))
                && ATTRIBUTION_ENDS.iter().any(|e| next.ends_with(e)));
        if trimmed.starts_with('>')
            || trimmed == "--"
            || line.trim_end_matches(['\r']) == "-- "
            || QUOTE_STARTS.iter().any(|s| lower.starts_with(s))
            || attribution
        {
            end = i;
            break;
        }
    }
    let kept: Vec<&str> = lines[..end].iter().map(|l| l.trim_end()).collect();
    kept.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::own_words;

    #[test]
    fn the_quote_the_attribution_and_the_signature_are_cut() {
        let text = "Buongiorno,\npagheremo il 20.\n\nSaluti\n-- \nMarco\n\nIl giorno lun 12 ott 2026 Sollecito <c@x> ha scritto:\n> vecchio";
        assert_eq!(own_words(text), "Buongiorno,\npagheremo il 20.\n\nSaluti");
        let two_lines = "We paid on the 3rd.\n\nOn Mon, 12 Oct 2026 at 09:01, Sollecito Demo <crediti@sollecito.example>\nwrote:\n> Dear customer";
        assert_eq!(own_words(two_lines), "We paid on the 3rd.");
        let outlook = "Bezahlt am 3.10.\n\nVon: Sollecito Demo\nGesendet: Montag\n";
        assert_eq!(own_words(outlook), "Bezahlt am 3.10.");
        assert_eq!(own_words("> only a quote"), "");
        assert_eq!(own_words("Nessuna citazione qui."), "Nessuna citazione qui.");
    }
}
