//! ISO 11649 structured creditor references ("RF18 5390 0754 7034"): one
//! per invoice, made from its number, printed in groups of four, and read
//! back however a person or a bank types it (spaces, lower case).

/// The reference of an invoice: `RF`, two check digits, and the number's
/// letters and digits (at most 21). A longer number is replaced by 21
/// characters of its digest, the same every time.
pub(crate) fn of_invoice(number: &str) -> String {
    let mut body: String = number.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_uppercase();
    if body.is_empty() || body.len() > 21 {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(number.as_bytes());
        // Base 36 of the digest's first 13 bytes: 21 characters at most.
        let mut n = digest[..13].iter().fold(0u128, |n, b| (n << 8) | u128::from(*b));
        body.clear();
        while body.len() < 21 {
            body.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0').to_ascii_uppercase());
            n /= 36;
        }
    }
    format!("RF{:02}{body}", 98 - remainder(&format!("{body}RF00")))
}

/// A reference as typed, in its canonical form, if it is one: letters and
/// digits, 5 to 25 of them after spaces are removed, and its check digits right.
pub(crate) fn parse(typed: &str) -> Option<String> {
    let compact: String = typed.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let ok = compact.starts_with("RF")
        && (5..=25).contains(&compact.len())
        && compact.chars().all(|c| c.is_ascii_alphanumeric())
        && compact[2..4].chars().all(|c| c.is_ascii_digit())
        && remainder(&format!("{}{}", &compact[4..], &compact[..4])) == 1;
    ok.then_some(compact)
}

/// In groups of four, as printed for people.
pub(crate) fn grouped(reference: &str) -> String {
    let chars: Vec<char> = reference.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// The text mod 97, letters counted as 10 (A) to 35 (Z), as ISO 7064 reads them.
fn remainder(text: &str) -> u32 {
    text.chars().fold(0u32, |r, c| {
        let value = c.to_digit(36).unwrap_or(0);
        if value >= 10 { (r * 100 + value) % 97 } else { (r * 10 + value) % 97 }
    })
}

/// Whether an IBAN's check digits are right (the same mod 97, ISO 13616).
pub(crate) fn iban_ok(iban: &str) -> bool {
    let compact: String = iban.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    (15..=34).contains(&compact.len())
        && compact.chars().all(|c| c.is_ascii_alphanumeric())
        && compact[..2].chars().all(|c| c.is_ascii_uppercase())
        && remainder(&format!("{}{}", &compact[4..], &compact[..4])) == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_references_check_and_ours_are_made_alike() {
        // The example of ISO 11649 as the European Payments Council quotes it.
        assert_eq!(parse("RF18 5390 0754 7034").as_deref(), Some("RF18539007547034"));
        assert_eq!(parse("rf18539007547034").as_deref(), Some("RF18539007547034"), "typed in lower case");
        assert_eq!(parse("RF19 5390 0754 7034"), None, "a wrong check digit");
        assert_eq!(parse("RF18 5390 0754 7034 !"), None);
        assert_eq!(of_invoice("539007547034"), "RF18539007547034");
        // An invoice number with separators keeps its letters and digits.
        let made = of_invoice("FT-2026/1001");
        assert!(made.ends_with("FT20261001"), "{made}");
        assert_eq!(parse(&grouped(&made).to_lowercase()), Some(made.clone()), "read back from print");
        let long = of_invoice("A VERY LONG INVOICE NUMBER 2026/000000001");
        assert_eq!((long.len(), parse(&long).is_some()), (25, true), "{long}");
        assert_eq!(of_invoice("A VERY LONG INVOICE NUMBER 2026/000000001"), long, "the same every time");
    }

    #[test]
    fn ibans_are_checked() {
        assert!(iban_ok("IT60 X054 2811 1010 0000 0123 456"));
        assert!(iban_ok("DE89370400440532013000"));
        assert!(!iban_ok("IT61X0542811101000000123456"));
        assert!(!iban_ok("IT60X05428111010000001234"));
    }
}
