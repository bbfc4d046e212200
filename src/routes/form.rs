//! The one form-body reader: every field of an url-encoded body in order, repeated names kept
//! (deform's sequences and multi-selects need them), with the original's true/false words.
//! A POST handler takes [`Posted<W>`] (who posted, the form, its CSRF token checked) and asks
//! the form for what it needs; page-specific rules (usernames, group names, dates) live beside
//! their pages.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::Deserialize;

use crate::session::extract::Requester;

/// The opening of a POST as one extractor, so that no POST handler can forget the CSRF check:
/// who posted (`W`: `CurrentSession`, `LoggedIn`, `HappyUser`) and the form are extracted as
/// handler arguments `(W, web::Form<Fields>)` would be (the same polling, so the same refusal
/// wins: `W`'s, or a 400 for a bad body), then the form's CSRF token is checked against `W`'s
/// session (a 400). (The admin pages open their POSTs with `routes::admin::open_post`.)
pub struct Posted<W> {
    /// Who posted.
    pub who: W,
    /// The form.
    pub form: Fields,
}

impl<W: FromRequest + Requester + 'static> FromRequest for Posted<W> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parts = <(W, web::Form<Fields>)>::from_request(req, payload);
        Box::pin(async move {
            let (who, form) = parts.await?;
            who.session().check_csrf(form.csrf())?;
            Ok(Posted {
                who,
                form: form.into_inner(),
            })
        })
    }
}

/// A form body as `(name, value)` pairs (read by [`Posted`], or as `web::Form<Fields>`).
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
