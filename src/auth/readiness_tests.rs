//! Unit tests of `readiness`: every reason a user cannot log in or upload.

use chrono::{Duration, NaiveDate};

use super::*;
use crate::models::group::{Membership, StoredFlags};
use crate::models::user::User;

fn now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 12, 7)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .unwrap()
}

fn ready_user() -> AuthUser {
    AuthUser {
        user: User {
            last_password_change_utc: Some(now() - Duration::days(3)),
            must_change_password: Some(false),
            when_agreed_terms_of_use: Some("2026-12-01T12:00:00.000000+00:00".into()),
            upload_group_id: Some(1),
            ..crate::auth::test_users::user(5, "alice")
        },
        memberships: vec![Membership {
            id: 9,
            user_id: Some(5),
            group_id: Some(1),
            flags: StoredFlags {
                may_use_webviewer: Some(true),
                may_upload: Some(true),
                may_register_devices: Some(true),
                ..Default::default()
            },
        }],
    }
}

const NO_MFA: &[MfaMethod] = &[MfaMethod::NoMfa, MfaMethod::Totp];

fn policy(days: i64, methods: &[MfaMethod]) -> Policy<'_> {
    Policy {
        password_change_frequency_days: days,
        mfa_methods: methods,
        email_configured: false,
    }
}

// Each case changes one thing of a ready user and names the reasons it must give.
#[test]
fn each_reason_alone() {
    let ready = ready_user();
    assert_eq!(web_login(&ready, None, policy(0, NO_MFA), now()), vec![]);
    assert_eq!(tablet_upload(&ready, None, now()), vec![]);
    type Change = fn(&mut AuthUser);
    let cases: Vec<(Change, Reason)> = vec![
        (|u| u.user.username = "system".into(), Reason::SystemUser),
        (|u| u.memberships.clear(), Reason::NoGroups),
        (
            |u| u.memberships[0].flags.may_use_webviewer = Some(false),
            Reason::NoWebviewer(vec![MembershipRef {
                membership_id: 9,
                group_id: 1,
            }]),
        ),
        (
            |u| u.user.must_change_password = Some(true),
            Reason::MustChangePassword,
        ),
        (
            |u| u.user.when_agreed_terms_of_use = None,
            Reason::TermsNotAgreed,
        ),
    ];
    for (change, reason) in cases {
        let mut u = ready_user();
        change(&mut u);
        assert_eq!(
            web_login(&u, None, policy(0, NO_MFA), now()),
            vec![reason.clone()]
        );
        assert_eq!(
            !refusals(std::slice::from_ref(&reason)).is_empty(),
            !matches!(reason, Reason::MustChangePassword | Reason::TermsNotAgreed)
        );
    }
    let until = now() + Duration::minutes(10);
    assert_eq!(
        web_login(&ready, Some(until), policy(0, NO_MFA), now()),
        vec![Reason::LockedOut(until)]
    );
    // A lockout that has ended is no reason.
    assert_eq!(
        web_login(&ready, Some(now()), policy(0, NO_MFA), now()),
        vec![]
    );
    assert_eq!(
        web_login(&ready, None, policy(3, NO_MFA), now()),
        vec![Reason::PasswordExpired]
    );
    assert_eq!(web_login(&ready, None, policy(4, NO_MFA), now()), vec![]);
    assert_eq!(
        web_login(&ready, None, policy(0, &[MfaMethod::Totp]), now()),
        vec![Reason::MfaNotSetUp]
    );
}

#[test]
fn second_factor_by_message() {
    let mut u = ready_user();
    u.user.mfa_method = "hotp_email".into();
    let all = [MfaMethod::NoMfa, MfaMethod::HotpEmail, MfaMethod::HotpSms];
    let with_email = |u: &AuthUser| web_login(u, None, policy(0, &all), now());
    // Without mail settings, codes by e-mail cannot be sent; SMS always has a backend.
    let expected_unsent = |r: Vec<Reason>| [r, vec![Reason::MfaMethodNotOffered]].concat();
    assert_eq!(
        with_email(&u),
        expected_unsent(vec![Reason::MfaEmailWithoutAddress])
    );
    u.user.email = Some("a@example.org".into());
    assert_eq!(with_email(&u), expected_unsent(vec![]));
    // With mail settings the e-mail method is only refused without an address.
    let mailing = Policy {
        email_configured: true,
        ..policy(0, &all)
    };
    assert_eq!(web_login(&u, None, mailing, now()), vec![]);
    u.user.email = None;
    assert_eq!(
        web_login(&u, None, mailing, now()),
        vec![Reason::MfaEmailWithoutAddress]
    );
    u.user.mfa_method = "hotp_sms".into();
    assert_eq!(with_email(&u), vec![Reason::MfaSmsWithoutPhone]);
    assert!(Reason::MfaSmsWithoutPhone.refuses_login());
    assert_eq!(
        refusal_audit_text("x", &[&Reason::NoWebviewer(vec![])]),
        "Failed login for x: no web viewer permission in any group"
    );
}

#[test]
fn superuser_needs_no_group() {
    let mut u = ready_user();
    u.user.superuser = Some(true);
    u.memberships.clear();
    assert_eq!(web_login(&u, None, policy(0, NO_MFA), now()), vec![]);
}

#[test]
fn upload_reasons() {
    let mut u = ready_user();
    u.memberships[0].flags.may_register_devices = Some(false);
    let r = tablet_upload(&u, None, now());
    assert_eq!(r, vec![UploadReason::NoRegisterDevices(9)]);
    assert!(!r[0].refuses_upload());
    u.memberships[0].flags.may_upload = Some(false);
    assert_eq!(
        tablet_upload(&u, None, now()),
        vec![UploadReason::NoMayUpload(9)]
    );
    u.user.upload_group_id = Some(2);
    assert_eq!(
        tablet_upload(&u, None, now()),
        vec![UploadReason::NotInUploadGroup]
    );
    u.user.upload_group_id = None;
    assert_eq!(
        tablet_upload(&u, None, now()),
        vec![UploadReason::NoUploadGroup]
    );
}
