//! The EPC QR code of a SEPA credit transfer (EPC069-12, version 002): what
//! a banking app scans to fill in the payee, the IBAN, the amount and the
//! creditor reference. Only euros: the standard knows no other currency.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// A transfer to ask for.
pub(crate) struct Transfer<'a> {
    /// The payee, as the bank knows them (at most 70 characters).
    pub name: &'a str,
    pub iban: &'a str,
    pub bic: Option<&'a str>,
    /// Euro cents.
    pub cents: i64,
    /// The ISO 11649 reference (`RF...`).
    pub reference: &'a str,
}

/// The QR code's text, or why the transfer cannot be one.
pub(crate) fn payload(t: &Transfer<'_>) -> Result<String, String> {
    let name = t.name.trim();
    if name.is_empty() || name.chars().count() > 70 || name.chars().any(char::is_control) {
        return Err("the payee's name: 1 to 70 characters".into());
    }
    let iban: String = t.iban.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if !super::rf::iban_ok(&iban) {
        return Err("the IBAN's check digits are wrong".into());
    }
    if !(1..=99_999_999_999).contains(&t.cents) {
        return Err("the amount: 0.01 to 999999999.99 EUR".into());
    }
    let bic = t.bic.unwrap_or_default().trim();
    let amount = format!("EUR{}.{:02}", t.cents / 100, t.cents % 100);
    // Service tag, version, UTF-8, SEPA credit transfer, BIC, name, IBAN,
    // amount, purpose (none), structured reference, no free text.
    Ok(["BCD", "002", "1", "SCT", bic, name, &iban, &amount, "", t.reference].join("\n"))
}

/// The code as an SVG image (error correction M, as the EPC asks).
pub(crate) fn svg(payload: &str) -> Result<String, String> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M).map_err(|e| e.to_string())?;
    Ok(code.render::<svg::Color<'_>>().min_dimensions(220, 220).quiet_zone(true).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(cents: i64) -> Transfer<'static> {
        Transfer {
            name: "Sollecito Demo S.r.l.",
            iban: "IT60 X054 2811 1010 0000 0123 456",
            bic: None,
            cents,
            reference: "RF18539007547034",
        }
    }

    #[test]
    fn the_payload_has_the_epc_fields_in_order() {
        let text = payload(&transfer(125_000)).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(
            lines,
            [
                "BCD",
                "002",
                "1",
                "SCT",
                "",
                "Sollecito Demo S.r.l.",
                "IT60X0542811101000000123456",
                "EUR1250.00",
                "",
                "RF18539007547034"
            ]
        );
        assert_eq!(payload(&transfer(5)).unwrap().split('\n').nth(7), Some("EUR0.05"));
        assert!(svg(&text).unwrap().starts_with("<?xml"));
    }

    #[test]
    fn what_a_bank_would_refuse_is_refused_here() {
        assert!(payload(&transfer(0)).unwrap_err().contains("amount"));
        let bad_iban = Transfer { iban: "IT61X0542811101000000123456", ..transfer(100) };
        assert!(payload(&bad_iban).unwrap_err().contains("IBAN"));
        let long_name = "x".repeat(71);
        assert!(payload(&Transfer { name: &long_name, ..transfer(100) }).unwrap_err().contains("name"));
    }
}
