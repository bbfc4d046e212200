//! Recovery codes: ten one-time codes a user with a second factor can make, to log in when
//! the phone or e-mail account is lost. Each is 12 characters from an alphabet without look-alike
//! characters (about 59 bits), shown once, stored only as a SHA-256 of the user id and the code,
//! and usable once in place of a second-factor code. Making a new set voids the old one.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use rand::rngs::OsRng;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::DbConnection;
use crate::models::recovery_code;

/// Codes in a set.
pub const CODES_PER_SET: usize = 10;
/// Characters of a code (without the hyphens shown between groups of four).
pub const CODE_CHARS: usize = 12;
/// The characters a code is made of: lower-case letters and digits without `0 1 i l o`.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A fresh code, shown as `xxxx-xxxx-xxxx`.
fn new_code() -> String {
    let mut rng = OsRng;
    let chars: String = (0..CODE_CHARS)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// What the user typed, as compared: lower case, without spaces and hyphens. `None` when it
/// cannot be a recovery code (so a six-digit second-factor code is never hashed here).
pub fn normalise(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\t'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (s.len() == CODE_CHARS && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// Whether `typed` looks like a recovery code rather than a six-digit code.
pub fn looks_like_code(typed: &str) -> bool {
    normalise(typed).is_some()
}

/// The stored form of a (normalised) code: hex SHA-256 of `user_id:code`, so equal codes of
/// two users never share a hash.
fn hash(user_id: i32, normalised: &str) -> String {
    hex::encode(Sha256::digest(format!("{user_id}:{normalised}").as_bytes()))
}

/// Makes a new set for the user, voiding the old one; returns the codes to show once.
pub fn make_set(
    conn: &mut DbConnection,
    user_id: i32,
    now: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    let codes: Vec<String> = (0..CODES_PER_SET).map(|_| new_code()).collect();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| normalise(c))
        .map(|n| hash(user_id, &n))
        .collect();
    recovery_code::replace_all(conn, user_id, &hashes, now)?;
    Ok(codes)
}

/// Uses one of the user's codes: `true` if `typed` is an unused code of theirs, which is then
/// used up (in the caller's transaction; a concurrent use of the same code gets `false`).
pub fn consume(
    conn: &mut DbConnection,
    user_id: i32,
    typed: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let Some(n) = normalise(typed) else {
        return Ok(false);
    };
    let wanted = hash(user_id, &n);
    // Compared in constant time against every unused code (at most ten).
    let mut found = None;
    for (id, stored) in recovery_code::unused(conn, user_id)? {
        if bool::from(stored.as_bytes().ct_eq(wanted.as_bytes())) {
            found = Some(id);
        }
    }
    match found {
        Some(id) => recovery_code::mark_used(conn, id, now),
        None => Ok(false),
    }
}

/// How many unused codes the user has left.
pub fn remaining(conn: &mut DbConnection, user_id: i32) -> QueryResult<i64> {
    recovery_code::count_unused(conn, user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_documented_shape_and_normalise() {
        let c = new_code();
        assert_eq!(c.len(), CODE_CHARS + 2);
        assert_eq!(c.matches('-').count(), 2);
        let n = normalise(&c).unwrap();
        assert_eq!(n.len(), CODE_CHARS);
        assert_eq!(
            normalise(&c.to_uppercase().replace('-', " ")),
            Some(n.clone())
        );
        // Six-digit codes and look-alike characters are never recovery codes.
        assert_eq!(normalise("123456"), None);
        assert_eq!(
            normalise("abcd-efgh-ijkl"),
            None,
            "i and l are not in the alphabet"
        );
        assert_eq!(normalise(&format!("{n}a")), None);
        assert_ne!(hash(1, &n), hash(2, &n));
        assert_ne!(new_code(), new_code());
    }
}
