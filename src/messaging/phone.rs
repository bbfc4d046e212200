//! Phone numbers as CamCOPS keeps them: parsed with the region of `REGION_CODE` when written
//! without `+country`, checked as a real number, and stored in E.164 (`+447700900123`).

use std::str::FromStr;

/// Why a phone number was refused (the text is safe to show on a page).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Not a phone number at all.
    #[error("Invalid phone number")]
    Unparseable,
    /// Parsed, but not a number that can exist.
    #[error("Invalid phone number")]
    Invalid,
}

/// Longest input considered (longer text is not a phone number).
const MAX_INPUT: usize = 64;

/// Parses `input` (with `region`, e.g. `GB`, for numbers without a country code) and returns
/// it in E.164.
pub fn parse(input: &str, region: &str) -> Result<String, PhoneError> {
    let input = input.trim();
    if input.is_empty() || input.len() > MAX_INPUT || input.chars().any(char::is_control) {
        return Err(PhoneError::Unparseable);
    }
    let region = phonenumber::country::Id::from_str(&region.to_ascii_uppercase()).ok();
    let number = phonenumber::parse(region, input).map_err(|_| PhoneError::Unparseable)?;
    if !phonenumber::is_valid(&number) {
        return Err(PhoneError::Invalid);
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_e164() {
        // A national number takes the region's country code; a +country number keeps its own.
        assert_eq!(parse("07400 123456", "GB").unwrap(), "+447400123456");
        assert_eq!(parse("+44 7400 123456", "US").unwrap(), "+447400123456");
        assert_eq!(parse("(201) 234-5678", "US").unwrap(), "+12012345678");
        assert_eq!(parse(" +447400123456 ", "gb").unwrap(), "+447400123456");
        // The same national number is another country's under another region.
        assert_ne!(parse("07400 123456", "DE"), Ok("+447400123456".to_string()));
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "abc",
            "123",
            "'; DROP TABLE x; --",
            "+44 7700\u{0} 900123",
            &"9".repeat(100),
        ] {
            assert!(parse(bad, "GB").is_err(), "{bad:?}");
        }
    }
}
