//! Security notices: an e-mail to a user about a change to their own account (password,
//! second factor, recovery code used, account locked). They carry no secret and no link, only
//! what happened to which account and whom to contact.

use super::Headers;
use crate::state::AppState;

/// A security notice to a user about their own account (never contains a secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Their password was changed (by themselves, or by an administrator when `by_admin`).
    PasswordChanged {
        /// Changed by an administrator.
        by_admin: bool,
    },
    /// Their second factor was set up or changed.
    MfaChanged,
    /// Their second factor was switched off (by themselves, or by an administrator).
    MfaDisabled {
        /// Switched off by an administrator.
        by_admin: bool,
    },
    /// One of their recovery codes was used to log in.
    RecoveryCodeUsed,
    /// Their account was locked after failed logins.
    AccountLocked,
}

impl Notice {
    /// The label used in logs.
    pub fn name(self) -> &'static str {
        match self {
            Notice::PasswordChanged { .. } => "password_changed",
            Notice::MfaChanged => "mfa_changed",
            Notice::MfaDisabled { .. } => "mfa_disabled",
            Notice::RecoveryCodeUsed => "recovery_code_used",
            Notice::AccountLocked => "account_locked",
        }
    }
}

const IF_NOT_YOU: &str = "If you did not expect this, contact your CamCOPS administrator at once.";

/// The subject and body of `notice` for the account `username`.
pub fn notice_text(notice: Notice, username: &str) -> (String, String) {
    // Control characters never reach a header or the text (usernames are checked on entry;
    // this keeps any older row harmless).
    let user: String = username.chars().filter(|c| !c.is_control()).collect();
    let (subject, what) = match notice {
        Notice::PasswordChanged { by_admin: false } => (
            "CamCOPS: your password was changed",
            "The password of your CamCOPS account was changed.".to_string(),
        ),
        Notice::PasswordChanged { by_admin: true } => (
            "CamCOPS: your password was changed",
            "An administrator changed the password of your CamCOPS account.".to_string(),
        ),
        Notice::MfaChanged => (
            "CamCOPS: your multi-factor authentication was changed",
            "The multi-factor authentication (second factor) of your CamCOPS account was set up \
             or changed."
                .to_string(),
        ),
        Notice::MfaDisabled { by_admin: false } => (
            "CamCOPS: multi-factor authentication switched off",
            "Multi-factor authentication was switched off for your CamCOPS account.".to_string(),
        ),
        Notice::MfaDisabled { by_admin: true } => (
            "CamCOPS: multi-factor authentication switched off",
            "An administrator switched off multi-factor authentication for your CamCOPS account."
                .to_string(),
        ),
        Notice::RecoveryCodeUsed => (
            "CamCOPS: a recovery code was used",
            "One of the recovery codes of your CamCOPS account was used to log in. Each code \
             works once; make new ones on your multi-factor authentication page if few are left."
                .to_string(),
        ),
        Notice::AccountLocked => (
            "CamCOPS: your account was locked",
            "Your CamCOPS account was locked for a while after too many failed login attempts."
                .to_string(),
        ),
    };
    let body = format!("Account: {user}\n\n{what}\n\n{IF_NOT_YOU}\n");
    (subject.to_string(), body)
}

/// Sends `notice` to `email` when notices are on and mail is configured; a failure is logged
/// and counted, never passed to the caller (the change it reports has already happened).
pub async fn send_notice(state: &AppState, email: Option<&str>, username: &str, notice: Notice) {
    if !state.settings.security_notices || !state.messenger.email_configured() {
        return;
    }
    let Some(to) = email.map(str::trim).filter(|e| !e.is_empty()) else {
        log::info!(
            "security notice {} for user {username:?}: no e-mail address",
            notice.name()
        );
        return;
    };
    let (subject, body) = notice_text(notice, username);
    match super::send_email(state, to, &subject, &body, Headers::WithReply).await {
        Ok(()) => log::info!(
            "security notice {} sent to user {username:?}",
            notice.name()
        ),
        // Already logged and counted by the sender.
        Err(e) => log::warn!(
            "security notice {} to user {username:?} not sent: {e}",
            notice.name()
        ),
    }
}

/// [`send_notice`] in the background, so the page that made the change answers at once.
pub fn spawn_notice(
    state: actix_web::web::Data<AppState>,
    email: Option<String>,
    username: String,
    notice: Notice,
) {
    actix_web::rt::spawn(async move {
        send_notice(&state, email.as_deref(), &username, notice).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_the_account_and_hold_no_secret() {
        for n in [
            Notice::PasswordChanged { by_admin: false },
            Notice::PasswordChanged { by_admin: true },
            Notice::MfaChanged,
            Notice::MfaDisabled { by_admin: false },
            Notice::MfaDisabled { by_admin: true },
            Notice::RecoveryCodeUsed,
            Notice::AccountLocked,
        ] {
            let (subject, body) = notice_text(n, "alice\r\nBcc: x@y");
            assert!(subject.starts_with("CamCOPS: "));
            assert!(body.contains("Account: aliceBcc: x@y"));
            assert!(!body.contains('\r'));
        }
    }
}
