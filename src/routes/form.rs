//! The one form-body reader: every field of an url-encoded body in order, repeated names kept
//! (deform's sequences and multi-selects need them), with the original's true/false words.
//! Handlers take `web::Form<Fields>` and ask it for what they need; page-specific rules
//! (usernames, group names, dates) live beside their pages.

use serde::Deserialize;

/// A form body as `(name, value)` pairs (`web::Form<Fields>`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, or "".
    pub fn text(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name` as sent (untrimmed, blanks kept), in order: rows of fields that
    /// pair up by position.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every non-blank value of `name`, trimmed, in order (a multi-select, a list of ids).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.all_of(&[name])
    }

    /// [`Fields::all`] for a list sent under any of `names` (an old and a new wire name), in
    /// the order sent.
    pub fn all_of(&self, names: &[&str]) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Whether `name` was sent at all (a pressed button).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// A checkbox: ticked when sent with a true value (deform sends `true`); absent = false.
    pub fn checked(&self, name: &str) -> bool {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .any(|(_, v)| is_true(v))
    }

    /// Every value of `name` as integers; a non-number gives the original's message.
    pub fn ints(&self, name: &str) -> Result<Vec<i32>, String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| {
                v.trim()
                    .parse::<i32>()
                    .map_err(|_| format!("\"{}\" is not a number", shorten(v)))
            })
            .collect()
    }

    /// The CSRF token field.
    pub fn csrf(&self) -> &str {
        self.text("csrf_token")
    }

    /// The new password's confirmation (deform's `new_password-confirm`, or
    /// `new_password_confirm`).
    pub fn password_confirm(&self) -> &str {
        match self.text("new_password-confirm") {
            "" => self.text("new_password_confirm"),
            v => v,
        }
    }
}

/// The original's boolean words (`true/t/1/yes/y`, and a checkbox's `on`).
pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "t" | "1" | "yes" | "y" | "on"
    )
}

/// The original's boolean query parameter: true/false words, anything else → `default`.
pub fn bool_param(v: Option<&str>, default: bool) -> bool {
    match v.map(|s| s.trim().to_ascii_lowercase()) {
        Some(s) if matches!(s.as_str(), "true" | "t" | "1" | "yes" | "y" | "on") => true,
        Some(s) if matches!(s.as_str(), "false" | "f" | "0" | "no" | "n") => false,
        _ => default,
    }
}

/// At most 40 characters of `v`, for echoing bad input in a message.
pub fn shorten(v: &str) -> String {
    v.chars().take(40).collect()
}
