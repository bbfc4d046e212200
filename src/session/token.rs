//! Session tokens: 32 random bytes from the OS, URL-safe base64 in the cookie, SHA-256 hex in
//! the database, compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of a token's random part in bytes.
pub const TOKEN_BYTES: usize = 32;

/// A fresh random token (43 URL-safe base64 characters).
pub fn generate_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the `token` column stores: lowercase hex SHA-256 of the token (64 characters).
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` hashes to `stored`. An empty stored value (a logged-out row) or an empty
/// token never matches.
pub fn token_matches(token: &str, stored: Option<&str>) -> bool {
    let Some(stored) = stored else { return false };
    if stored.is_empty() || token.is_empty() {
        return false;
    }
    let computed = hash_token(token);
    computed.as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_match() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let h = hash_token(&a);
        assert_eq!(h.len(), 64);
        assert!(token_matches(&a, Some(&h)));
        assert!(!token_matches(&b, Some(&h)));
    }

    #[test]
    fn empty_stored_or_given_token_never_matches() {
        assert!(!token_matches("", Some("")));
        assert!(!token_matches("x", Some("")));
        assert!(!token_matches("x", None));
        assert!(!token_matches("", Some(&hash_token(""))));
    }
}
