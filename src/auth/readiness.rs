//! Why a user cannot log in to the web pages or upload from a tablet: every reason that
//! applies, computed by one function that both the login and the user pages use, so that
//! what an administrator reads and what the login does can never disagree. No HTTP and no
//! database here: the caller reads the user, their memberships and their lockout.

use chrono::NaiveDateTime;

use super::principal::AuthUser;
use super::terms;
use crate::config::{MfaMethod, Settings};
use crate::models::user::USER_NAME_FOR_SYSTEM;

/// What the rules need from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// `PASSWORD_CHANGE_FREQUENCY_DAYS` (0: passwords never expire).
    pub password_change_frequency_days: i64,
    /// `MFA_METHODS`.
    pub mfa_methods: &'a [MfaMethod],
    /// Whether e-mail can be sent (`EMAIL_HOST` and friends): codes by e-mail need it. Codes by
    /// text message always have a backend (`SMS_BACKEND`, `console` by default).
    pub email_configured: bool,
}

impl<'a> Policy<'a> {
    /// The policy of these settings.
    pub fn of(settings: &'a Settings) -> Policy<'a> {
        Policy {
            password_change_frequency_days: settings.password_change_frequency_days,
            mfa_methods: &settings.mfa_methods,
            email_configured: settings.email.is_some(),
        }
    }
}

/// One of the user's group memberships, for a link to its permissions page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRef {
    /// The membership's id (`user_group_membership_id`).
    pub membership_id: i32,
    /// The group.
    pub group_id: i32,
}

/// A reason the user cannot log in to the web pages, or must do something first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The `system` user never logs in.
    SystemUser,
    /// Not a superuser and in no group (web-viewer permission is given per group).
    NoGroups,
    /// In groups, but `may_use_webviewer` in none of them.
    NoWebviewer(Vec<MembershipRef>),
    /// Locked out after failed logins, until this time (naive UTC).
    LockedOut(NaiveDateTime),
    /// The second factor is codes by e-mail and the user has no e-mail address.
    MfaEmailWithoutAddress,
    /// The second factor is codes by SMS and the user has no phone number.
    MfaSmsWithoutPhone,
    /// The second factor is one this server does not deliver (codes by e-mail or SMS).
    MfaMethodNotOffered,
    /// Must change their password at login (flag set).
    MustChangePassword,
    /// Password older than `PASSWORD_CHANGE_FREQUENCY_DAYS`: must change it at login.
    PasswordExpired,
    /// Has not agreed the current terms of use: asked to at login.
    TermsNotAgreed,
    /// `MFA_METHODS` does not allow the user's method: must set one up at login.
    MfaNotSetUp,
}

impl Reason {
    /// Whether the reason refuses the password step of the login. The others let the user in
    /// and send them to a page of their own first (change password, agree terms, set MFA).
    pub fn refuses_login(&self) -> bool {
        matches!(
            self,
            Reason::SystemUser
                | Reason::NoGroups
                | Reason::NoWebviewer(_)
                | Reason::LockedOut(_)
                | Reason::MfaEmailWithoutAddress
                | Reason::MfaSmsWithoutPhone
                | Reason::MfaMethodNotOffered
        )
    }

    /// The reason in a few words, for the audit row of a refused login and the pages.
    pub fn describe(&self) -> String {
        match self {
            Reason::SystemUser => "the system user cannot log in".into(),
            Reason::NoGroups => "not a member of any group".into(),
            Reason::NoWebviewer(_) => "no web viewer permission in any group".into(),
            Reason::LockedOut(until) => format!(
                "locked out after failed logins until {} UTC",
                until.format("%Y-%m-%d %H:%M")
            ),
            Reason::MfaEmailWithoutAddress => {
                "second factor is codes by e-mail but there is no e-mail address".into()
            }
            Reason::MfaSmsWithoutPhone => {
                "second factor is codes by SMS but there is no phone number".into()
            }
            Reason::MfaMethodNotOffered => {
                "second factor is codes by e-mail, which this server cannot send (no mail settings)".into()
            }
            Reason::MustChangePassword => "must change their password first".into(),
            Reason::PasswordExpired => {
                "password has expired (PASSWORD_CHANGE_FREQUENCY_DAYS): must change it first"
                    .into()
            }
            Reason::TermsNotAgreed => "will be asked to agree the terms of use first".into(),
            Reason::MfaNotSetUp => {
                "multi-factor authentication required by MFA_METHODS is not set up: must set it up first"
                    .into()
            }
        }
    }
}

/// Every reason that applies to `user` logging in to the web pages at `now`, refusals first
/// (in the order the login meets them), then what the user must do at login.
pub fn web_login(
    user: &AuthUser,
    locked_until: Option<NaiveDateTime>,
    policy: Policy<'_>,
    now: NaiveDateTime,
) -> Vec<Reason> {
    let u = &user.user;
    let mut reasons = Vec::new();
    if u.username == USER_NAME_FOR_SYSTEM {
        reasons.push(Reason::SystemUser);
    }
    if let Some(until) = locked_until.filter(|t| *t > now) {
        reasons.push(Reason::LockedOut(until));
    }
    if !user.may_use_webviewer() {
        let groups: Vec<MembershipRef> = user
            .memberships
            .iter()
            .filter_map(|m| {
                Some(MembershipRef {
                    membership_id: m.id,
                    group_id: m.group_id?,
                })
            })
            .collect();
        reasons.push(if groups.is_empty() {
            Reason::NoGroups
        } else {
            Reason::NoWebviewer(groups)
        });
    }
    let method = MfaMethod::parse(&u.mfa_method);
    // A missing address or number first: it is what the user can be told to get fixed.
    let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
    match method {
        Some(MfaMethod::HotpEmail) if blank(&u.email) => {
            reasons.push(Reason::MfaEmailWithoutAddress)
        }
        Some(MfaMethod::HotpSms) if blank(&u.phone_number) => {
            reasons.push(Reason::MfaSmsWithoutPhone)
        }
        _ => {}
    }
    if method == Some(MfaMethod::HotpEmail) && !policy.email_configured {
        reasons.push(Reason::MfaMethodNotOffered);
    }
    if u.must_change_password() {
        reasons.push(Reason::MustChangePassword);
    } else if super::password::expired(u, policy.password_change_frequency_days, now) {
        reasons.push(Reason::PasswordExpired);
    }
    if terms::must_agree(u.when_agreed_terms_of_use.as_deref()) {
        reasons.push(Reason::TermsNotAgreed);
    }
    if method.is_none_or(|m| !policy.mfa_methods.contains(&m)) {
        reasons.push(Reason::MfaNotSetUp);
    }
    reasons
}

/// The reasons that refuse the password step (what the login acts on: it refuses when there
/// is any, with the message of the first).
pub fn refusals(reasons: &[Reason]) -> Vec<&Reason> {
    reasons.iter().filter(|r| r.refuses_login()).collect()
}

/// The audit text of a login refused for `refusals` (not empty).
pub fn refusal_audit_text(username: &str, refusals: &[&Reason]) -> String {
    let why: Vec<String> = refusals.iter().map(|r| r.describe()).collect();
    format!("Failed login for {username}: {}", why.join("; "))
}

/// A reason the user cannot upload from a tablet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadReason {
    /// The `system` user never logs in.
    SystemUser,
    /// Locked out after failed logins, until this time (naive UTC).
    LockedOut(NaiveDateTime),
    /// No upload group chosen.
    NoUploadGroup,
    /// The upload group is not one of the user's groups.
    NotInUploadGroup,
    /// No `may_upload` in the upload group (the membership, for its permissions page).
    NoMayUpload(i32),
    /// May upload but not register a new tablet (`may_register_devices`): informational,
    /// an already registered tablet can upload.
    NoRegisterDevices(i32),
}

impl UploadReason {
    /// Whether the reason stops uploads (the others are informational).
    pub fn refuses_upload(&self) -> bool {
        !matches!(self, UploadReason::NoRegisterDevices(_))
    }

    /// The reason in a few words.
    pub fn describe(&self) -> String {
        match self {
            UploadReason::SystemUser => "the system user cannot log in".into(),
            UploadReason::LockedOut(until) => format!(
                "locked out after failed logins until {} UTC",
                until.format("%Y-%m-%d %H:%M")
            ),
            UploadReason::NoUploadGroup => "no upload group".into(),
            UploadReason::NotInUploadGroup => "not a member of the upload group".into(),
            UploadReason::NoMayUpload(_) => "no upload permission in the upload group".into(),
            UploadReason::NoRegisterDevices(_) => {
                "may not register new tablets in the upload group (a registered one can upload)"
                    .into()
            }
        }
    }
}

/// Every reason that applies to `user` uploading from a tablet: the tablet login's lockout
/// and the API's `may_upload` / `may_register_devices` rules.
pub fn tablet_upload(
    user: &AuthUser,
    locked_until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Vec<UploadReason> {
    let mut reasons = Vec::new();
    if user.user.username == USER_NAME_FOR_SYSTEM {
        reasons.push(UploadReason::SystemUser);
    }
    if let Some(until) = locked_until.filter(|t| *t > now) {
        reasons.push(UploadReason::LockedOut(until));
    }
    let Some(group) = user.user.upload_group_id else {
        reasons.push(UploadReason::NoUploadGroup);
        return reasons;
    };
    let membership = user
        .memberships
        .iter()
        .find(|m| m.group_id == Some(group))
        .map(|m| m.id);
    if !user.may_upload() {
        match membership {
            Some(id) => reasons.push(UploadReason::NoMayUpload(id)),
            None => reasons.push(UploadReason::NotInUploadGroup),
        }
    } else if !user.may_register_devices() {
        if let Some(id) = membership {
            reasons.push(UploadReason::NoRegisterDevices(id));
        }
    }
    reasons
}

#[cfg(test)]
#[path = "readiness_tests.rs"]
mod tests;
