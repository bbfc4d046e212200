//! What the encrypted cookie holds: session id, token, CSRF secret and flash messages — and
//! the actix-session middleware that carries it.

use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::{Key, SameSite};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use super::token::generate_token;
use crate::config::Settings;

const SESSION_ID: &str = "session_id";
const SESSION_TOKEN: &str = "session_token";
const CSRF: &str = "csrf";
const FLASH: &str = "flash";

/// The actix-session middleware: private (encrypted and authenticated) cookie content, key
/// derived from `SESSION_COOKIE_SECRET`, HttpOnly, SameSite=Lax, Secure and `__Host-` unless
/// `ALLOW_INSECURE_COOKIES`.
pub fn middleware(settings: &Settings) -> SessionMiddleware<CookieSessionStore> {
    // Key::derive_from needs >= 32 bytes; hash the secret so any accepted length works.
    let material = Sha512::digest(
        format!(
            "camcops-web cookie key\0{}",
            settings.session_cookie_secret.expose()
        )
        .as_bytes(),
    );
    let key = Key::derive_from(&material);
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name(settings.cookie_name().to_string())
        .cookie_secure(!settings.allow_insecure_cookies)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".into())
        .cookie_domain(None)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(BrowserSession::default())
        .build()
}

/// A message shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// `danger`, `warning`, `info` or `success`.
    pub level: String,
    /// The text (escaped when rendered).
    pub message: String,
}

/// Typed access to the cookie's content. A value that does not parse reads as absent.
#[derive(Clone)]
pub struct CookieData(pub Session);

impl CookieData {
    /// The id and token the cookie presents (absent or malformed → None / "").
    pub fn credentials(&self) -> (Option<i32>, String) {
        let id = self.0.get::<i32>(SESSION_ID).ok().flatten();
        let token = self
            .0
            .get::<String>(SESSION_TOKEN)
            .ok()
            .flatten()
            .filter(|t| t.len() <= 128)
            .unwrap_or_default();
        (id, token)
    }

    /// Stores id and token, touching the cookie only when they change.
    pub fn set_credentials(&self, id: i32, token: &str) {
        let (old_id, old_token) = self.credentials();
        if old_id != Some(id) || old_token != token {
            let _ = self.0.insert(SESSION_ID, id);
            let _ = self.0.insert(SESSION_TOKEN, token);
        }
    }

    /// Removes id and token (logout, or credentials that no longer resolve).
    pub fn clear_credentials(&self) {
        let (id, token) = self.credentials();
        if id.is_some() || !token.is_empty() || self.0.contains_key(SESSION_ID) {
            self.0.remove(SESSION_ID);
            self.0.remove(SESSION_TOKEN);
        }
    }

    /// The CSRF secret, created on first use.
    pub fn csrf_token(&self) -> String {
        if let Some(t) = self.0.get::<String>(CSRF).ok().flatten() {
            if t.len() == 43 {
                return t;
            }
        }
        let t = generate_token();
        let _ = self.0.insert(CSRF, &t);
        t
    }

    /// A new CSRF secret (at login and logout).
    pub fn rotate_csrf(&self) {
        let _ = self.0.insert(CSRF, generate_token());
    }

    /// Whether `presented` is this cookie's CSRF secret. Missing or empty never passes.
    pub fn csrf_ok(&self, presented: &str) -> bool {
        match self.0.get::<String>(CSRF).ok().flatten() {
            Some(t) if !t.is_empty() && !presented.is_empty() => {
                t.as_bytes().ct_eq(presented.as_bytes()).into()
            }
            _ => false,
        }
    }

    /// Queues a flash message.
    pub fn flash(&self, level: &str, message: impl Into<String>) {
        let mut all: Vec<Flash> = self.0.get(FLASH).ok().flatten().unwrap_or_default();
        all.push(Flash {
            level: level.into(),
            message: message.into(),
        });
        // Keep the cookie small whatever happens.
        let skip = all.len().saturating_sub(5);
        let _ = self.0.insert(FLASH, &all[skip..]);
    }

    /// Takes the queued flash messages, in the order danger, warning, info, success.
    pub fn take_flashes(&self) -> Vec<Flash> {
        if !self.0.contains_key(FLASH) {
            return Vec::new();
        }
        let mut all: Vec<Flash> = self.0.get(FLASH).ok().flatten().unwrap_or_default();
        self.0.remove(FLASH);
        let rank = |l: &str| match l {
            "danger" => 0,
            "warning" => 1,
            "info" => 2,
            _ => 3,
        };
        all.sort_by_key(|f| rank(&f.level));
        all
    }
}
