//! The user pages' field rules, as the original applies them (usernames, e-mail, lengths,
//! languages) with its messages, and the wire name of deform's group sequence. The form body
//! itself is read by [`crate::routes::form::Fields`].

use crate::routes::form::shorten;

use crate::auth::login::valid_username;
use crate::models::user::USER_NAME_FOR_SYSTEM;

/// The name of one item of deform's group sequence (`__start__=group_ids:sequence`).
pub const GROUP_ITEM: &str = "group_id_sequence";

/// Languages the original offers, with their labels.
pub const LANGUAGES: [(&str, &str); 2] = [("en_GB", "English (UK)"), ("da_DK", "Dansk")];

/// The username rules (admin §0.4), after deform's whitespace strip.
pub fn check_username(username: &str) -> Result<(), String> {
    if username.is_empty() {
        return Err("Required".into());
    }
    if username == USER_NAME_FOR_SYSTEM {
        return Err(format!(
            "Cannot use system username '{USER_NAME_FOR_SYSTEM}'"
        ));
    }
    if !valid_username(username) {
        return Err(
            "Invalid string. Minimum length = 1. Maximum length = 191. Permitted \
                    characters: A-Z, a-z, 0-9, ',', '_', '-', '{', '}'"
                .into(),
        );
    }
    Ok(())
}

/// At most 255 characters (full name, e-mail).
pub fn check_length(v: &str) -> Result<(), String> {
    if v.chars().count() > 255 {
        Err("Longer than maximum length 255".into())
    } else {
        Ok(())
    }
}

/// An e-mail address (blank allowed): one `@`, a local part and a dotted domain of the
/// characters addresses use, at most 255 characters.
pub fn check_email(v: &str) -> Result<(), String> {
    check_length(v)?;
    if v.is_empty() {
        return Ok(());
    }
    let bad = || Err("Invalid email address".to_string());
    let Some((local, domain)) = v.split_once('@') else {
        return bad();
    };
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-!#$&'*/=?^`{|}~".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        bad()
    }
}

/// A language of [`LANGUAGES`]; blank means `en_GB`.
pub fn check_language(v: &str) -> Result<&str, String> {
    if v.is_empty() {
        return Ok("en_GB");
    }
    LANGUAGES
        .iter()
        .find(|(code, _)| *code == v)
        .map(|(code, _)| *code)
        .ok_or_else(|| format!("\"{}\" is not one of en_GB, da_DK", shorten(v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::form::{bool_param, Fields};

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn repeated_fields_checkboxes_and_numbers() {
        let f = fields(&[
            ("__start__", "group_ids:sequence"),
            (GROUP_ITEM, "4"),
            (GROUP_ITEM, " 6"),
            ("__end__", "group_ids:sequence"),
            ("must_change_password", "true"),
            ("superuser", "false"),
            ("new_password-confirm", "x"),
        ]);
        assert_eq!(f.ints(GROUP_ITEM), Ok(vec![4, 6]));
        assert!(f.checked("must_change_password"));
        assert!(!f.checked("superuser") && !f.checked("absent"));
        assert_eq!(f.password_confirm(), "x");
        assert_eq!(
            fields(&[(GROUP_ITEM, "abc")]).ints(GROUP_ITEM),
            Err("\"abc\" is not a number".into())
        );
        let body: Fields =
            serde_urlencoded::from_str("group_id_sequence=1&group_id_sequence=2&x=%27").unwrap();
        assert_eq!(body.ints(GROUP_ITEM), Ok(vec![1, 2]));
        assert_eq!(body.text("x"), "'");
    }

    #[test]
    fn field_rules_and_messages() {
        assert!(check_username("alice_1").is_ok());
        assert_eq!(
            check_username("system").unwrap_err(),
            "Cannot use system username 'system'"
        );
        for bad in [
            "a b",
            "x'; DROP TABLE _security_users; --",
            &"a".repeat(192),
        ] {
            assert!(
                check_username(bad)
                    .unwrap_err()
                    .starts_with("Invalid string."),
                "{bad}"
            );
        }
        assert_eq!(check_username("").unwrap_err(), "Required");
        for good in ["", "a@b.org", "first.last+tag@mail.example.co.uk"] {
            assert!(check_email(good).is_ok(), "{good}");
        }
        for bad in [
            "a",
            "a@b",
            "@b.org",
            "a@@b.org",
            "a b@c.org",
            "a@-b.org",
            "<x>@y.org",
        ] {
            assert_eq!(
                check_email(bad).unwrap_err(),
                "Invalid email address",
                "{bad}"
            );
        }
        assert_eq!(
            check_length(&"x".repeat(256)).unwrap_err(),
            "Longer than maximum length 255"
        );
        assert_eq!(check_language(""), Ok("en_GB"));
        assert_eq!(check_language("da_DK"), Ok("da_DK"));
        assert_eq!(
            check_language("fr_FR").unwrap_err(),
            "\"fr_FR\" is not one of en_GB, da_DK"
        );
        assert!(bool_param(Some("Yes"), false) && !bool_param(Some("n"), true));
        assert!(bool_param(Some("junk"), true) && !bool_param(None, false));
    }
}
