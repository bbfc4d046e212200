//! Passwords: bcrypt hashing at `BCRYPT_COST`, verification (any cost, `$2a$`/`$2b$`), the
//! dummy hash for unknown users, and the rules for new passwords (sessions §1.4).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use zxcvbn::matching::patterns::MatchPattern;
use zxcvbn::matching::Match;

/// Minimum length of a new password.
pub const MINIMUM_PASSWORD_LENGTH: usize = 10;

/// Hashes `password` at `cost`, in the `$2a$` form: CamCOPS 2.4 verifies passwords with
/// py-bcrypt 0.4, which rejects `$2b$` hashes, so any other form would lock the user out of
/// CamCOPS on a shared database. (`$2a$` and `$2b$` differ only for passwords of over 255
/// bytes, which bcrypt truncates to 72 bytes anyway.)
pub fn hash(password: &str, cost: u32) -> anyhow::Result<String> {
    Ok(bcrypt::hash_with_result(password, cost)?.format_for_version(bcrypt::Version::TwoA))
}

/// Whether `password` matches `hashed`; an invalid or empty stored hash never matches.
/// Increments `counter` (the bcrypt counter tests read).
pub fn verify(password: &str, hashed: &str, counter: &AtomicU64) -> bool {
    counter.fetch_add(1, Ordering::Relaxed);
    if hashed.is_empty() {
        return false;
    }
    bcrypt::verify(password, hashed).unwrap_or(false)
}

/// Spends one verification's time at `cost` (an unknown username, or a stored hash cheaper
/// than `cost`), so that a failure costs the same whoever it is for (no timing oracle).
pub fn dummy_verify(password: &str, cost: u32, counter: &AtomicU64) {
    // One dummy hash per cost (a process uses one cost; tests may use several).
    static DUMMIES: OnceLock<Mutex<Vec<(u32, String)>>> = OnceLock::new();
    let cached = DUMMIES.get_or_init(|| Mutex::new(Vec::new()));
    let known = cached
        .lock()
        .ok()
        .and_then(|v| v.iter().find(|(c, _)| *c == cost).map(|(_, h)| h.clone()));
    let dummy = match known {
        Some(h) => h,
        None => {
            let h = bcrypt::hash("dummy!", cost).unwrap_or_default();
            if let Ok(mut v) = cached.lock() {
                v.push((cost, h.clone()));
            }
            h
        }
    };
    let _ = verify(password, &dummy, counter);
}

/// A login's password check (blocking: call it inside `web::block`): verifies against the
/// stored hash, or spends a dummy verification for an unknown user. A failure against a
/// stored hash cheaper than `cost` also spends a dummy verification at `cost`, so a failed
/// login takes as long for an unknown user as for one with a CamCOPS cost-6 hash (no timing
/// oracle). On success with a hash weaker than `cost`, also returns a new hash at `cost`.
pub fn check_login_password(
    password: &str,
    stored: Option<&str>,
    cost: u32,
    counter: &AtomicU64,
) -> anyhow::Result<(bool, Option<String>)> {
    match stored {
        Some(h) => {
            let ok = verify(password, h, counter);
            if !ok && hash_cost(h).is_none_or(|c| c < cost) {
                // A failure against a cheap (or unusable) stored hash would answer sooner
                // than one for an unknown user: pay for a check at `cost` as well, so every
                // failure costs at least one hash at `cost`.
                dummy_verify(password, cost, counter);
            }
            let upgraded = if ok && needs_upgrade(h, cost) {
                Some(hash(password, cost)?)
            } else {
                None
            };
            Ok((ok, upgraded))
        }
        None => {
            dummy_verify(password, cost, counter);
            Ok((false, None))
        }
    }
}

/// The cost a bcrypt hash was made with.
pub fn hash_cost(hashed: &str) -> Option<u32> {
    let mut parts = hashed.split('$');
    parts.next()?;
    let _version = parts.next()?;
    parts.next()?.parse().ok()
}

/// Whether the stored hash should be replaced by one at `cost`: made at a lower cost than
/// configured, or in a form CamCOPS cannot read (anything but `$2a$`, see [`hash`]).
pub fn needs_upgrade(hashed: &str, cost: u32) -> bool {
    hash_cost(hashed).is_some_and(|c| c < cost || !hashed.starts_with("$2a$"))
}

/// Whether the password is one of the well-known common passwords (the ranked password list
/// zxcvbn ships, matched as a whole, case-insensitively).
pub fn is_common(password: &str) -> bool {
    if password.is_empty() {
        return false;
    }
    let entropy = zxcvbn::zxcvbn(password, &[]);
    let n = password.chars().count();
    entropy.sequence().iter().any(|m: &Match| {
        m.i == 0
            && m.j + 1 == n
            && matches!(&m.pattern, MatchPattern::Dictionary(d)
                // zxcvbn's DictionaryType is not exported; its default is the password list.
                if d.dictionary_name == Default::default() && !d.reversed && !d.l33t)
    })
}

/// The rules of sessions §1.4 for a new password. `old` is given for a change of one's own password.
pub fn validate_new_password(new: &str, old: Option<&str>) -> Result<(), String> {
    if new.trim().is_empty() {
        return Err("Passwords can't be blank".into());
    }
    if new.chars().count() < MINIMUM_PASSWORD_LENGTH {
        return Err(format!(
            "Passwords can't be shorter than {MINIMUM_PASSWORD_LENGTH} characters"
        ));
    }
    if is_common(new) {
        return Err("That password is used too commonly; try again".into());
    }
    if old == Some(new) {
        return Err("New password must differ from old".into());
    }
    Ok(())
}

/// The password-expiry rule run at web login (`set_password_change_flag_if_necessary`).
pub fn expired(
    user: &crate::models::user::User,
    frequency_days: i64,
    now: chrono::NaiveDateTime,
) -> bool {
    if user.must_change_password() || frequency_days <= 0 {
        return false;
    }
    match user.last_password_change_utc {
        None => true,
        Some(t) => (now - t) >= chrono::Duration::days(frequency_days),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verify_and_cost() {
        let c = AtomicU64::new(0);
        let h = hash("correct horse battery", 4).unwrap();
        assert!(verify("correct horse battery", &h, &c));
        assert!(!verify("wrong", &h, &c));
        assert!(!verify("x", "", &c));
        assert!(!verify("x", "not a hash", &c));
        assert_eq!(c.load(Ordering::Relaxed), 4);
        assert_eq!(hash_cost(&h), Some(4));
        assert!(needs_upgrade(&h, 5));
        assert!(!needs_upgrade(&h, 4));
    }

    #[test]
    fn every_failed_login_pays_for_a_hash_at_the_configured_cost() {
        // A failure against a hash cheaper than the configured cost (CamCOPS' cost 6), or an
        // unusable one, also runs a check at the configured cost, as an unknown user does:
        // the time of a failure does not tell whether the user exists.
        let count = |stored: Option<&str>, pw: &str| {
            let c = AtomicU64::new(0);
            let (ok, up) = check_login_password(pw, stored, 5, &c).unwrap();
            (ok, up.is_some(), c.load(Ordering::Relaxed))
        };
        let cheap = hash("correct horse battery", 4).unwrap();
        let same = hash("correct horse battery", 5).unwrap();
        assert_eq!(count(None, "wrong"), (false, false, 1));
        assert_eq!(count(Some(&cheap), "wrong"), (false, false, 2));
        assert_eq!(count(Some(""), "wrong"), (false, false, 2));
        assert_eq!(count(Some(&same), "wrong"), (false, false, 1));
        // Success is not slowed: the cheap hash is replaced (one hash at the cost) instead.
        assert_eq!(
            count(Some(&cheap), "correct horse battery"),
            (true, true, 1)
        );
        assert_eq!(
            count(Some(&same), "correct horse battery"),
            (true, false, 1)
        );
    }

    #[test]
    fn camcops_2a_hashes_verify() {
        // The `admin` user's hash as CamCOPS 2.4.24 wrote it (the fixture databases' README).
        let c = AtomicU64::new(0);
        let camcops = "$2a$06$oj5CQnhXtKYng4izhf2n9usFTh7aJu06NXLrioO2N5gFpFnZiftFG";
        assert_eq!(hash_cost(camcops), Some(6));
        assert!(verify("Admin-Passw0rd-123", camcops, &c));
        assert!(!verify("Admin-Passw0rd-124", camcops, &c));
    }

    #[test]
    fn hashes_written_are_2a_and_2b_is_upgraded() {
        // CamCOPS 2.4.24 (py-bcrypt 0.4) rejects `$2b$`: everything written is `$2a$`.
        let h = hash("monkeybusiness", 4).unwrap();
        assert!(h.starts_with("$2a$04$"), "{h}");
        let c = AtomicU64::new(0);
        assert!(verify("monkeybusiness", &h, &c));
        // A `$2b$` hash (as older camcops-web versions wrote) is rewritten at the next login.
        let b = h.replacen("$2a$", "$2b$", 1);
        assert!(verify("monkeybusiness", &b, &c));
        assert!(needs_upgrade(&b, 4));
        assert!(!needs_upgrade(&h, 4));
    }

    #[test]
    fn new_password_rules() {
        assert_eq!(
            validate_new_password("   ", None).unwrap_err(),
            "Passwords can't be blank"
        );
        assert!(validate_new_password("short", None)
            .unwrap_err()
            .contains("shorter than 10"));
        assert!(validate_new_password("qwertyuiop", None)
            .unwrap_err()
            .contains("too commonly"));
        assert!(validate_new_password("Password123", None)
            .unwrap_err()
            .contains("too commonly"));
        assert!(
            validate_new_password("monkeybusiness", Some("monkeybusiness"))
                .unwrap_err()
                .contains("differ")
        );
        assert!(validate_new_password("plum-tractor-violin-42", None).is_ok());
    }
}
