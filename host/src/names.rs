//! The names an operator gives things: segments, channels and plugins. They
//! reach URLs, file names, metrics labels and the store, so each is a short
//! slug: 1 to 64 of `a-z`, `0-9`, `-` and `_`, starting with a letter or a
//! digit. `channel:email`, `../../etc`, names with CR/LF or NUL, and names of
//! 10,000 characters are all refused, with the field named.

/// Whether `name` is a slug as above.
pub(crate) fn is_slug(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && name.len() <= 64
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

/// `Ok` for a slug; otherwise why not, for the field `field`.
pub(crate) fn check(field: &str, name: &str) -> Result<(), String> {
    if is_slug(name) {
        return Ok(());
    }
    let shown: String = name.chars().take(40).flat_map(char::escape_default).collect();
    let more = if name.chars().count() > 40 { "..." } else { "" };
    Err(format!(
        "{field}: \"{shown}{more}\" is not a name: use 1 to 64 of a-z, 0-9, '-' and '_', starting with a letter or digit"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_what_is_refused() {
        for good in ["default", "b2b", "subscription", "retail-it", "sms_2", "0day"] {
            assert!(is_slug(good), "{good}");
        }
        let long = "x".repeat(10_000);
        for bad in ["", "channel:email", "../../etc", "a/b", "CR\r\nLF", "nul\0", "-lead", "Retail", "é", long.as_str()]
        {
            assert!(!is_slug(bad), "{bad:?}");
        }
        let err = check("segment", "bad\r\nname").unwrap_err();
        assert!(err.starts_with("segment: \"bad\\r\\nname\""), "{err}");
        assert!(check("segment", &long).unwrap_err().contains("..."));
    }
}
