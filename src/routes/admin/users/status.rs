//! The "Can log in to the web pages" and "Can upload from a tablet" lines of the user pages:
//! the reasons of [`crate::auth::readiness`], each with a link to the page that fixes it
//! (only links the administrator may follow).

use std::collections::HashMap;

use crate::auth::capability::{self, Action, Denial};
use crate::auth::principal::AuthUser;
use crate::auth::readiness::{Reason, UploadReason};

/// A way to fix a reason: a page to open, or the unlock button (a POST form).
pub struct Fix {
    /// The link text.
    pub label: String,
    /// The page (for the unlock button: the form's action).
    pub href: String,
    /// The unlock button rather than a link.
    pub unlock: bool,
}

/// One reason, in words, with its fixes.
pub struct ReasonLine {
    /// What stops the user.
    pub text: String,
    /// Where to fix it.
    pub fixes: Vec<Fix>,
}

/// A status line: yes or no, the reasons that make it "no", and what the user will be asked
/// to do first when it is "yes" (or once the others are fixed).
pub struct Status {
    /// The user can do it now.
    pub yes: bool,
    /// Reasons that refuse.
    pub refusing: Vec<ReasonLine>,
    /// Steps at login or notes that do not refuse.
    pub notes: Vec<ReasonLine>,
}

impl Status {
    /// The line of `reasons`: those that `refuses` make it "no", the others are notes; each
    /// reason shown by `line`.
    fn of<R>(
        reasons: &[R],
        refuses: impl Fn(&R) -> bool,
        line: impl Fn(&R) -> ReasonLine,
    ) -> Status {
        let (refusing, notes): (Vec<&R>, Vec<&R>) = reasons.iter().partition(|r| refuses(r));
        Status {
            yes: refusing.is_empty(),
            refusing: refusing.into_iter().map(&line).collect(),
            notes: notes.into_iter().map(&line).collect(),
        }
    }

    /// Every reason's text, for the compact list column.
    pub fn all(&self) -> impl Iterator<Item = &ReasonLine> {
        self.refusing.iter().chain(self.notes.iter())
    }
}

fn link(label: impl Into<String>, href: String) -> Fix {
    Fix {
        label: label.into(),
        href,
        unlock: false,
    }
}

/// The page `me` uses for `action` on `target`: the "other user" page, the own page, or none.
fn page_for(me: &AuthUser, target: &AuthUser, action: Action, other: &str) -> Option<String> {
    match capability::check(me, action, target) {
        Ok(()) => Some(format!("{other}?user_id={}", target.id())),
        Err(Denial::UseOwnPage(own)) => Some(own.to_string()),
        Err(Denial::Forbidden(_)) => None,
    }
}

fn membership_link(
    me: &AuthUser,
    group: i32,
    membership: i32,
    names: &HashMap<i32, String>,
) -> Option<Fix> {
    capability::may_administer_group(me, group).then(|| {
        let name = names.get(&group).map_or("the group", String::as_str);
        link(
            format!("Permissions in {name}"),
            format!("/edit_user_group_membership?user_group_membership_id={membership}"),
        )
    })
}

fn web_fixes(
    me: &AuthUser,
    target: &AuthUser,
    reason: &Reason,
    names: &HashMap<i32, String>,
) -> Vec<Fix> {
    let page = |action, other: &str, label: &str| {
        page_for(me, target, action, other).map(|href| link(label, href))
    };
    let password = || {
        page(
            Action::ChangePassword,
            "/change_other_password",
            "Change password",
        )
    };
    let mfa = || {
        page(
            Action::EditMfa,
            "/edit_other_user_mfa",
            "Change multi-factor authentication",
        )
    };
    let edit = |label: &str| page(Action::Edit, "/edit_user", label);
    match reason {
        Reason::SystemUser | Reason::TermsNotAgreed => vec![],
        Reason::NoGroups => edit("Edit user (groups)").into_iter().collect(),
        Reason::NoWebviewer(groups) => groups
            .iter()
            .filter_map(|m| membership_link(me, m.group_id, m.membership_id, names))
            .collect(),
        Reason::LockedOut(_) => capability::check(me, Action::Unlock, target)
            .ok()
            .map(|()| Fix {
                label: "Unlock".into(),
                href: "/unlock_user".into(),
                unlock: true,
            })
            .into_iter()
            .collect(),
        Reason::MfaEmailWithoutAddress => edit("Edit user (e-mail address)")
            .into_iter()
            .chain(mfa())
            .collect(),
        Reason::MfaSmsWithoutPhone => edit("Edit user (phone number)")
            .into_iter()
            .chain(mfa())
            .collect(),
        Reason::MfaMethodNotOffered | Reason::MfaNotSetUp => mfa().into_iter().collect(),
        Reason::MustChangePassword | Reason::PasswordExpired => password().into_iter().collect(),
    }
}

fn sentence(text: String) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => text,
    }
}

/// The web login line of `target`, as `me` sees it.
pub fn web(
    me: &AuthUser,
    target: &AuthUser,
    reasons: &[Reason],
    names: &HashMap<i32, String>,
) -> Status {
    Status::of(reasons, Reason::refuses_login, |r| ReasonLine {
        text: sentence(r.describe()),
        fixes: web_fixes(me, target, r, names),
    })
}

/// The tablet upload line of `target`, as `me` sees it.
pub fn upload(
    me: &AuthUser,
    target: &AuthUser,
    reasons: &[UploadReason],
    names: &HashMap<i32, String>,
) -> Status {
    let group = target.user.upload_group_id;
    let line = |r: &UploadReason| {
        let fixes = match r {
            UploadReason::SystemUser => vec![],
            UploadReason::LockedOut(_) => {
                web_fixes(me, target, &Reason::LockedOut(Default::default()), names)
            }
            UploadReason::NoUploadGroup | UploadReason::NotInUploadGroup => page_for(
                me,
                target,
                Action::SetUploadGroup,
                "/set_other_user_upload_group",
            )
            .map(|href| link("Set upload group", href))
            .into_iter()
            .collect(),
            UploadReason::NoMayUpload(m) | UploadReason::NoRegisterDevices(m) => group
                .and_then(|g| membership_link(me, g, *m, names))
                .into_iter()
                .collect(),
        };
        ReasonLine {
            text: sentence(r.describe()),
            fixes,
        }
    };
    Status::of(reasons, UploadReason::refuses_upload, line)
}
