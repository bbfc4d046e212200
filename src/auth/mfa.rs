//! TOTP (the MFA method this server supports): secrets, code checks and the setup QR code.

use qrcode::render::svg;
use qrcode::QrCode;
use totp_rs::{Algorithm, Secret, TOTP};

/// A fresh random base32 secret (32 characters, as pyotp's `random_base32`).
pub fn new_secret() -> String {
    Secret::generate_secret()
        .to_encoded()
        .to_string()
        .chars()
        .take(32)
        .collect()
}

fn totp(secret_b32: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string()).to_bytes().ok()?;
    // new_unchecked: accepts any secret length CamCOPS may have stored.
    Some(TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes))
}

/// Whether `code` is the current TOTP code for the secret at `unix_time` (±1 step of 30 s).
pub fn verify_totp(secret_b32: &str, code: &str, unix_time: i64) -> bool {
    let code = code.trim();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let Ok(t) = u64::try_from(unix_time) else {
        return false;
    };
    totp(secret_b32).is_some_and(|totp| totp.check(code, t))
}

/// The current code (tests and the demo use it).
pub fn current_code(secret_b32: &str, unix_time: i64) -> Option<String> {
    let t = u64::try_from(unix_time).ok()?;
    totp(secret_b32).map(|totp| totp.generate(t))
}

/// The `otpauth://` URL an authenticator app scans.
pub fn otpauth_url(secret_b32: &str, username: &str) -> Option<String> {
    totp(secret_b32)?;
    let label = crate::error::url_encode(&format!("CamCOPS:{username}"));
    Some(format!(
        "otpauth://totp/{label}?secret={secret_b32}&issuer=CamCOPS&algorithm=SHA1&digits=6&period=30"
    ))
}

/// The QR code of the otpauth URL, as an inline SVG element.
pub fn qr_svg(secret_b32: &str, username: &str) -> Option<String> {
    let url = otpauth_url(secret_b32, username)?;
    let code = QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_code_round_trip() {
        let s = new_secret();
        assert_eq!(s.len(), 32);
        let t = 1_700_000_000;
        let code = current_code(&s, t).unwrap();
        assert!(verify_totp(&s, &code, t));
        assert!(verify_totp(&s, &code, t + 30));
        assert!(!verify_totp(&s, &code, t + 120));
        assert!(!verify_totp(&s, "12345", t));
        assert!(!verify_totp(&s, "abcdef", t));
        assert!(qr_svg(&s, "alice").unwrap().contains("<svg"));
    }
}
