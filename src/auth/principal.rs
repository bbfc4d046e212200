//! A logged-in user with their memberships, and the permissions derived from them (sessions §1.4,
//! sessions §2.14): `happy`, `must_change_password`, `must_set_mfa`, `superuser`, `groupadmin`.

use diesel::QueryResult;

use crate::config::{MfaMethod, Settings};
use crate::db::DbConnection;
use crate::models::group::{Group, Membership, MembershipFlags};
use crate::models::user::User;

/// The user of a request and their group memberships.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user row.
    pub user: User,
    /// Their memberships.
    pub memberships: Vec<Membership>,
}

/// The exclusive state principal of sessions §2.14 (after `may_use_webviewer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserState {
    /// May use the pages.
    Happy,
    /// Must change password first.
    MustChangePassword,
    /// Must agree the terms of use first (admin §5).
    MustAgreeTerms,
    /// Must set an allowed MFA method first.
    MustSetMfa,
    /// Logged in but without web-viewer permission.
    NoWebviewer,
}

impl AuthUser {
    /// Loads a user and their memberships.
    pub fn load(conn: &mut DbConnection, user_id: i32) -> QueryResult<Option<AuthUser>> {
        let Some(user) = User::find(conn, user_id)? else {
            return Ok(None);
        };
        let memberships = Membership::for_user(conn, user_id)?;
        Ok(Some(AuthUser { user, memberships }))
    }

    /// `user` with their memberships (read here).
    pub fn with_memberships(conn: &mut DbConnection, user: User) -> QueryResult<AuthUser> {
        let memberships = Membership::for_user(conn, user.id)?;
        Ok(AuthUser { user, memberships })
    }

    /// User id.
    pub fn id(&self) -> i32 {
        self.user.id
    }

    /// Superuser.
    pub fn is_superuser(&self) -> bool {
        self.user.is_superuser()
    }

    /// `may_use_webviewer`: superuser or any membership with the flag.
    pub fn may_use_webviewer(&self) -> bool {
        self.is_superuser() || self.member_flags().any(|f| f.may_use_webviewer)
    }

    /// `authorized_as_groupadmin`: superuser or any groupadmin membership.
    pub fn authorized_as_groupadmin(&self) -> bool {
        self.is_superuser() || self.member_flags().any(|f| f.groupadmin)
    }

    /// Ids of the groups the user belongs to.
    pub fn group_ids(&self) -> Vec<i32> {
        self.memberships.iter().filter_map(|m| m.group_id).collect()
    }

    /// Ids of the groups the user administers (not meaningful for superusers: they administer all).
    pub fn groupadmin_group_ids(&self) -> Vec<i32> {
        self.group_ids_where(|f| f.groupadmin)
    }

    /// Groups where the user sees all patients unfiltered.
    pub fn view_all_when_unfiltered_group_ids(&self) -> Vec<i32> {
        self.group_ids_where(|f| f.view_all_patients_when_unfiltered)
    }

    /// The flags of each membership (NULL read as false).
    fn member_flags(&self) -> impl Iterator<Item = MembershipFlags> + '_ {
        self.memberships.iter().map(|m| m.flags.or_false())
    }

    /// Ids of the groups whose membership has `which` flag set.
    fn group_ids_where(&self, which: impl Fn(&MembershipFlags) -> bool) -> Vec<i32> {
        self.memberships
            .iter()
            .filter(|m| which(&m.flags.or_false()))
            .filter_map(|m| m.group_id)
            .collect()
    }

    /// `may_view_all_patients_when_unfiltered`: superuser, or every membership has the flag
    /// (vacuously true with none).
    pub fn may_view_all_patients_when_unfiltered(&self) -> bool {
        self.is_superuser()
            || self
                .member_flags()
                .all(|f| f.view_all_patients_when_unfiltered)
    }

    /// `may_view_no_patients_when_unfiltered`: not superuser and no membership has the flag.
    pub fn may_view_no_patients_when_unfiltered(&self) -> bool {
        !self.is_superuser()
            && !self
                .member_flags()
                .any(|f| f.view_all_patients_when_unfiltered)
    }

    /// Upload group set and (superuser or the membership of that group has `which` flag set).
    fn upload_group_allows(&self, which: impl Fn(&MembershipFlags) -> bool) -> bool {
        let Some(g) = self.user.upload_group_id else {
            return false;
        };
        self.is_superuser()
            || self
                .memberships
                .iter()
                .find(|m| m.group_id == Some(g))
                .is_some_and(|m| which(&m.flags.or_false()))
    }

    /// `may_upload`: upload group set and (superuser or membership of it with `may_upload`).
    pub fn may_upload(&self) -> bool {
        self.upload_group_allows(|f| f.may_upload)
    }

    /// `may_register_devices`: upload group set and (superuser or flag on that membership).
    pub fn may_register_devices(&self) -> bool {
        self.upload_group_allows(|f| f.may_register_devices)
    }

    /// `must_set_mfa_method`: the user's method is not among `MFA_METHODS`.
    pub fn must_set_mfa(&self, settings: &Settings) -> bool {
        match MfaMethod::parse(&self.user.mfa_method) {
            Some(m) => !settings.mfa_methods.contains(&m),
            None => true,
        }
    }

    /// The state principal, in the original's priority order.
    pub fn state(&self, settings: &Settings) -> UserState {
        if !self.may_use_webviewer() {
            UserState::NoWebviewer
        } else if self.user.must_change_password() {
            UserState::MustChangePassword
        } else if super::terms::must_agree(self.user.when_agreed_terms_of_use.as_deref()) {
            UserState::MustAgreeTerms
        } else if self.must_set_mfa(settings) {
            UserState::MustSetMfa
        } else {
            UserState::Happy
        }
    }

    /// Ids of groups the user may see: own groups plus those they can see; None = all
    /// (superuser).
    pub fn ids_of_groups_user_may_see(
        &self,
        conn: &mut DbConnection,
    ) -> QueryResult<Option<Vec<i32>>> {
        if self.is_superuser() {
            return Ok(None);
        }
        let mut ids = self.group_ids();
        ids.extend(Group::ids_seen_by(conn, &ids)?);
        ids.sort_unstable();
        ids.dedup();
        Ok(Some(ids))
    }

    /// Whether this user may administer `other` (superuser; or group admin of a group `other`
    /// belongs to). Nobody administers the system user or superusers except superusers.
    pub fn may_administer(&self, other: &AuthUser) -> bool {
        if self.is_superuser() {
            return true;
        }
        if other.is_superuser() || other.user.username == crate::models::user::USER_NAME_FOR_SYSTEM
        {
            return false;
        }
        let mine = self.groupadmin_group_ids();
        other.group_ids().iter().any(|g| mine.contains(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::group::StoredFlags;

    fn user(superuser: bool) -> User {
        User {
            superuser: Some(superuser),
            when_agreed_terms_of_use: Some("2026-12-01T12:00:00.000000+00:00".into()),
            upload_group_id: Some(1),
            ..crate::auth::test_users::user(1, "u")
        }
    }

    fn member(group: i32, webviewer: bool, view_all: bool, admin: bool) -> Membership {
        Membership {
            group_id: Some(group),
            flags: StoredFlags {
                may_use_webviewer: Some(webviewer),
                view_all_patients_when_unfiltered: Some(view_all),
                groupadmin: Some(admin),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn settings(methods: Vec<MfaMethod>) -> Settings {
        let mut s =
            Settings::with_defaults(crate::db::DbUrl::parse("x.sqlite").unwrap(), "x".repeat(40));
        s.mfa_methods = methods;
        s
    }

    // sessions §6.4 CamcopsAuthenticationPolicyTests re-expressed.
    #[test]
    fn principals_follow_the_original_priority() {
        let s = settings(vec![MfaMethod::NoMfa]);
        let mut u = AuthUser {
            user: user(false),
            memberships: vec![member(1, true, false, false)],
        };
        assert_eq!(u.state(&s), UserState::Happy);
        u.user.must_change_password = Some(true);
        assert_eq!(u.state(&s), UserState::MustChangePassword);
        u.user.must_change_password = Some(false);
        // Terms (admin §5): after the password, before MFA.
        u.user.when_agreed_terms_of_use = Some("2020-06-28T10:00:00.000000+01:00".into());
        assert_eq!(u.state(&s), UserState::MustAgreeTerms);
        assert_eq!(
            u.state(&settings(vec![MfaMethod::HotpEmail])),
            UserState::MustAgreeTerms
        );
        u.user.must_change_password = Some(true);
        assert_eq!(u.state(&s), UserState::MustChangePassword);
        u.user.must_change_password = Some(false);
        u.user.when_agreed_terms_of_use = None;
        assert_eq!(u.state(&s), UserState::MustAgreeTerms);
        u.user.when_agreed_terms_of_use = Some("2020-06-29T00:00:00.000000+00:00".into());
        assert_eq!(
            u.state(&settings(vec![MfaMethod::HotpEmail])),
            UserState::MustSetMfa
        );
        u.memberships[0].flags.may_use_webviewer = Some(false);
        assert_eq!(u.state(&s), UserState::NoWebviewer);
        assert!(!u.authorized_as_groupadmin());
        u.memberships[0].flags.groupadmin = Some(true);
        assert!(u.authorized_as_groupadmin());
        let su = AuthUser {
            user: user(true),
            memberships: vec![],
        };
        assert!(su.may_use_webviewer() && su.authorized_as_groupadmin());
    }

    // sessions §6.3 UserPermissionTests (view-all / view-none when unfiltered).
    #[test]
    fn unfiltered_patient_rules() {
        let none = AuthUser {
            user: user(false),
            memberships: vec![],
        };
        assert!(none.may_view_all_patients_when_unfiltered());
        assert!(none.may_view_no_patients_when_unfiltered());
        let mixed = AuthUser {
            user: user(false),
            memberships: vec![member(1, true, true, false), member(2, true, false, false)],
        };
        assert!(!mixed.may_view_all_patients_when_unfiltered());
        assert!(!mixed.may_view_no_patients_when_unfiltered());
        let su = AuthUser {
            user: user(true),
            memberships: vec![],
        };
        assert!(su.may_view_all_patients_when_unfiltered());
        assert!(!su.may_view_no_patients_when_unfiltered());
    }
}
