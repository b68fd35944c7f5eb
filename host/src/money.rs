//! Amounts in minor units with their ISO 4217 currency: how many decimals a
//! currency has, and the plain form records use (`1250.00 EUR`). Messages
//! to customers format money per locale (render/locale.rs).

/// Minor-unit exponent of an ISO 4217 code, or None if the code is unknown.
pub fn currency_exponent(code: &str) -> Option<u16> {
    iso_currency::Currency::from_code(code).map(|c| c.exponent().unwrap_or(0))
}

/// `1250.00 EUR`, `5000 JPY`, `1.250 KWD`: the form of history and records.
pub(crate) fn format_money(minor: i64, currency: &str) -> String {
    let exp = currency_exponent(currency).unwrap_or(2) as u32;
    if exp == 0 {
        return format!("{minor} {currency}");
    }
    let scale = 10i64.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let (units, cents) = (minor.unsigned_abs() / scale as u64, minor.unsigned_abs() % scale as u64);
    format!("{sign}{units}.{cents:0width$} {currency}", width = exp as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_shown_with_the_currency_decimals() {
        assert_eq!(format_money(125_050, "EUR"), "1250.50 EUR");
        assert_eq!(format_money(5000, "JPY"), "5000 JPY");
        assert_eq!(format_money(1250, "KWD"), "1.250 KWD");
        assert_eq!(format_money(7, "EUR"), "0.07 EUR");
        assert_eq!(format_money(-7, "EUR"), "-0.07 EUR");
        assert_eq!(format_money(i64::MIN, "EUR"), "-92233720368547758.08 EUR");
        assert_eq!(currency_exponent("JPY"), Some(0));
        assert_eq!(currency_exponent("EUX"), None);
    }
}
