//! Table-driven tests of the capability matrix (admin §2.2, admin §3.10, admin §7).

use super::*;
use crate::models::group::{Membership, StoredFlags};
use crate::models::user::User;

fn user(id: i32, name: &str, superuser: bool) -> User {
    User {
        superuser: Some(superuser),
        ..crate::auth::test_users::user(id, name)
    }
}

/// `(group, groupadmin, may_use_webviewer)` per membership.
fn au(id: i32, name: &str, superuser: bool, groups: &[(i32, bool, bool)]) -> AuthUser {
    AuthUser {
        user: user(id, name, superuser),
        memberships: groups
            .iter()
            .map(|&(g, admin, web)| Membership {
                id: id * 100 + g,
                user_id: Some(id),
                group_id: Some(g),
                flags: StoredFlags {
                    groupadmin: Some(admin),
                    may_use_webviewer: Some(web),
                    ..Default::default()
                },
            })
            .collect(),
    }
}

/// Actors: SU (1), GA of group 1 (2), ordinary user in group 1 (3).
fn actors() -> [(&'static str, AuthUser); 3] {
    [
        ("SU", au(1, "su", true, &[])),
        ("GA", au(2, "ga", false, &[(1, true, true)])),
        ("user", au(3, "plain", false, &[(1, false, true)])),
    ]
}

/// Targets by kind; "self" is filled in per actor.
fn targets() -> [(&'static str, AuthUser); 5] {
    [
        ("superuser", au(10, "su2", true, &[(1, false, true)])),
        (
            "group admin",
            au(11, "ga2", false, &[(1, false, true), (2, true, true)]),
        ),
        (
            "own group",
            au(12, "alice", false, &[(1, false, true), (3, false, false)]),
        ),
        ("other group", au(13, "bob", false, &[(3, false, true)])),
        ("system", au(14, "system", false, &[(1, false, false)])),
    ]
}

const OK: Result<(), Denial> = Ok(());
const fn no(reason: &'static str) -> Result<(), Denial> {
    Err(Denial::Forbidden(reason))
}

/// admin §2.2: every action of the user pages for each actor on each kind of target.
#[test]
fn matrix_of_actor_action_and_target() {
    use Action::*;
    let plain = [View, Edit, EditMembership, Unlock, Delete];
    for (actor, me) in actors() {
        let mut all: Vec<(&str, AuthUser)> = vec![("self", me.clone())];
        all.extend(targets());
        for (kind, target) in &all {
            let expected_plain = match (actor, *kind) {
                (_, "system") => no(SYSTEM_USER),
                ("SU", _) => OK,
                (_, "superuser") => no(TARGET_SUPERUSER),
                ("GA", "self") | (_, "group admin") => no(TARGET_GROUPADMIN),
                ("GA", "own group") => OK,
                _ => no(NO_SHARED_GROUP),
            };
            for action in plain {
                assert_eq!(
                    check(&me, action, target),
                    expected_plain,
                    "{actor} {action:?} {kind}"
                );
            }
            // Sessions: one's own always; anyone else's as for editing them (a group
            // administrator never sees or ends another group administrator's).
            let sessions = if *kind == "self" { OK } else { expected_plain };
            for action in [ViewSessions, EndSessions] {
                assert_eq!(
                    check(&me, action, target),
                    sessions,
                    "{actor} {action:?} {kind}"
                );
            }
            let upload = if *kind == "self" { OK } else { expected_plain };
            assert_eq!(
                check(&me, SetUploadGroup, target),
                upload,
                "{actor} upload {kind}"
            );
            for (action, own_page) in [
                (ChangePassword, "/change_own_password"),
                (EditMfa, "/edit_own_user_mfa"),
            ] {
                let expected = match (actor, *kind) {
                    ("SU", "self") => Err(Denial::UseOwnPage(own_page)),
                    _ => expected_plain,
                };
                assert_eq!(
                    check(&me, action, target),
                    expected,
                    "{actor} {action:?} {kind}"
                );
            }
        }
    }
}

#[test]
fn only_superusers_grant_superuser_or_groupadmin() {
    let [(_, su), (_, ga), (_, plain)] = actors();
    assert!(may_set_superuser(&su) && may_set_groupadmin(&su));
    for me in [&ga, &plain] {
        assert!(!may_set_superuser(me) && !may_set_groupadmin(me));
    }
    assert!(may_administer_group(&su, 99));
    assert!(may_administer_group(&ga, 1) && !may_administer_group(&ga, 3));
    assert!(!may_administer_group(&plain, 1));
    assert_eq!(assignable_groups(&ga, &[1, 2, 3]), vec![1]);
    assert_eq!(assignable_groups(&su, &[1, 2, 3]), vec![1, 2, 3]);
    assert!(assignable_groups(&plain, &[1, 2, 3]).is_empty());
}

/// (actor, offered, submitted, frozen, expected final groups).
type GroupCase<'a> = (
    &'a AuthUser,
    &'a [i32],
    &'a [i32],
    &'a [i32],
    Result<Vec<i32>, GroupsError>,
);

/// admin §2.1: fluid/frozen groups, duplicates, choices, at least one own group for a GA.
#[test]
fn group_lists() {
    let [(_, su), (_, ga), _] = actors();
    let (fluid, frozen) = fluid_and_frozen(&ga, &[1, 3]);
    assert_eq!((fluid.clone(), frozen.clone()), (vec![1], vec![3]));
    let cases: [GroupCase<'_>; 7] = [
        (&ga, &[1], &[1], &[3], Ok(vec![1, 3])),
        (&ga, &[1], &[], &[3], Err(GroupsError::TooFew(1))),
        (&ga, &[1], &[1, 1], &[], Err(GroupsError::Duplicate)),
        (
            &ga,
            &[1],
            &[3],
            &[3],
            Err(GroupsError::NotOffered(3, vec![1])),
        ),
        (&su, &[1, 2, 3], &[], &[], Ok(vec![])),
        (&su, &[1, 2, 3], &[3, 2], &[], Ok(vec![2, 3])),
        (
            &su,
            &[1, 2],
            &[7],
            &[],
            Err(GroupsError::NotOffered(7, vec![1, 2])),
        ),
    ];
    for (i, (me, offered, submitted, frozen, expected)) in cases.into_iter().enumerate() {
        assert_eq!(
            final_groups(me, offered, submitted, frozen),
            expected,
            "case {i}"
        );
    }
    assert_eq!(
        GroupsError::NotOffered(7, vec![4, 6]).to_string(),
        "\"7\" is not one of 4, 6"
    );
    assert_eq!(
        GroupsError::TooFew(1).to_string(),
        "You must specify at least 1 group(s)"
    );
}

/// admin §3.10's refusals in their order.
#[test]
fn delete_refusals_in_order() {
    let [(_, su), (_, ga), _] = actors();
    let idle_own = au(20, "idle", false, &[(1, false, false)]);
    let idle_mixed = au(21, "idle2", false, &[(1, false, false), (3, false, false)]);
    let active = au(22, "active", false, &[(1, false, true)]);
    let other_su = au(23, "su3", true, &[]);
    let cases: [(&AuthUser, &AuthUser, bool, Option<&str>); 9] = [
        (&su, &su, false, Some(DELETE_SELF)),
        (&ga, &active, false, Some(DELETE_PERMITTED)),
        (&su, &other_su, false, Some(DELETE_PERMITTED)),
        (&ga, &idle_mixed, false, Some(DELETE_OTHER_GROUPS)),
        (&su, &idle_mixed, false, None),
        (&ga, &idle_own, true, Some(DELETE_RECORDS)),
        (&ga, &idle_own, false, None),
        (&su, &idle_own, true, Some(DELETE_RECORDS)),
        (&ga, &idle_mixed, true, Some(DELETE_OTHER_GROUPS)),
    ];
    for (i, (me, target, records, expected)) in cases.into_iter().enumerate() {
        assert_eq!(delete_refusal(me, target, records), expected, "case {i}");
    }
}

/// Lists of users a requester manages: everyone for a superuser, the groups they administer
/// for a group administrator (users there who are neither superusers nor group administrators).
#[test]
fn managed_users_scope_follows_the_matrix() {
    let su = au(1, "su", true, &[(7, false, true)]);
    assert_eq!(managed_users_scope(&su), None);
    let ga = au(
        2,
        "ga",
        false,
        &[(5, true, true), (6, false, true), (8, true, false)],
    );
    assert_eq!(managed_users_scope(&ga), Some(vec![5, 8]));
    let plain = au(3, "plain", false, &[(5, false, true)]);
    assert_eq!(managed_users_scope(&plain), Some(vec![]));
}
