//! One-time codes: TOTP (RFC 6238, authenticator apps) and HOTP (RFC 4226, codes sent by
//! e-mail or text message), secrets, code checks and the TOTP setup QR code. Both are what
//! CamCOPS' pyotp computes: HMAC-SHA-1, 6 digits, the user's base32 secret.

use qrcode::render::svg;
use qrcode::QrCode;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::config::MfaMethod;

/// What a user's `mfa_method` means, in words (own account page, user pages, MFA pages).
pub fn mfa_description(method: &str) -> &'static str {
    match MfaMethod::parse(method) {
        Some(MfaMethod::NoMfa) => "None",
        Some(MfaMethod::Totp) => "Authentication app (TOTP)",
        Some(MfaMethod::HotpEmail) => "Code by e-mail (HOTP)",
        Some(MfaMethod::HotpSms) => "Code by text message (HOTP)",
        None => "Unknown",
    }
}

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

/// Whether `code` has the shape of a code: six ASCII digits (after trimming spaces).
fn well_formed(code: &str) -> Option<&str> {
    let code = code.trim();
    (code.len() == 6 && code.chars().all(|c| c.is_ascii_digit())).then_some(code)
}

/// Equality in constant time (no early exit on the first differing digit).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The TOTP time step (unix time / 30) whose code `code` is, among the steps one before,
/// at and one after `unix_time`; `None` if none. Every candidate is compared, in constant
/// time. The caller must still make sure a step is accepted only once (replay).
pub fn totp_matching_step(secret_b32: &str, code: &str, unix_time: i64) -> Option<i64> {
    let code = well_formed(code)?;
    let totp = totp(secret_b32)?;
    let now_step = unix_time.div_euclid(30);
    let mut found = None;
    for step in [now_step - 1, now_step, now_step + 1] {
        let Ok(t) = u64::try_from(step * 30) else {
            continue;
        };
        if same(&totp.generate(t), code) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The HOTP code of `counter` for the base32 secret (pyotp's `HOTP(secret).at(counter)`);
/// `None` for a secret that is not base32 or a negative counter.
pub fn hotp(secret_b32: &str, counter: i64) -> Option<String> {
    let bytes = Secret::Encoded(secret_b32.to_string()).to_bytes().ok()?;
    let counter = u64::try_from(counter).ok()?;
    // A TOTP with a one-second step at "time" n is exactly HOTP at counter n.
    Some(TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 1, bytes).generate(counter))
}

/// Whether `code` is the HOTP code of `counter` (constant-time comparison).
pub fn verify_hotp(secret_b32: &str, code: &str, counter: i64) -> bool {
    match (well_formed(code), hotp(secret_b32, counter)) {
        (Some(code), Some(expected)) => same(&expected, code),
        _ => false,
    }
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

    /// RFC 4226 Appendix D: the secret "12345678901234567890" (ASCII), counters 0 to 9.
    #[test]
    fn hotp_rfc4226_appendix_d() {
        // base32 of b"12345678901234567890"
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(
                hotp(secret, counter as i64).as_deref(),
                Some(*code),
                "{counter}"
            );
            assert!(verify_hotp(secret, code, counter as i64));
            assert!(!verify_hotp(secret, code, counter as i64 + 1));
        }
        assert!(hotp("not base32!", 1).is_none());
        assert!(hotp(secret, -1).is_none());
        assert!(!verify_hotp(secret, " 755224 x", 0));
    }

    #[test]
    fn totp_step_is_found_within_one_step() {
        let s = new_secret();
        let t = 1_700_000_010;
        let code = current_code(&s, t).unwrap();
        assert_eq!(totp_matching_step(&s, &code, t), Some(t / 30));
        assert_eq!(totp_matching_step(&s, &code, t + 30), Some(t / 30));
        assert_eq!(totp_matching_step(&s, &code, t + 90), None);
        assert_eq!(totp_matching_step(&s, "12a456", t), None);
    }

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
