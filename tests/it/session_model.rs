//! The session model on every backend (sessions §2.4–sessions §2.12, sessions §6.1): resolution, IP binding, timeouts
//! with an injected clock, write coalescing, fixation, logout, one human session per user,
//! races, housekeeping.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use camcops_web::db::schema::{_security_webviewer_sessions as sess, _task_filters};
use camcops_web::db::{transaction, DbConnection};
use camcops_web::session::housekeeping;
use camcops_web::session::model::{end_user_sessions, n_sessions_active_since, Miss};
use camcops_web::session::{CamcopsSession, SessionPolicy};

use crate::testdb::backend_test;

fn policy() -> SessionPolicy {
    SessionPolicy {
        timeout: Duration::minutes(30),
        max_lifetime: Some(Duration::minutes(720)),
        write_interval: Duration::seconds(60),
        check_ip: true,
    }
}

fn t0() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
        .unwrap()
        .and_hms_micro_opt(10, 0, 0, 0)
        .unwrap()
}

fn make_user(conn: &mut DbConnection, name: &str) -> i32 {
    use camcops_web::models::user::{NewUser, User};
    let new = NewUser {
        must_change_password: None,
        ..crate::helpers::plain_user(name, "x")
    };
    User::insert(conn, &new).unwrap()
}

/// A saved, logged-in session for `user` created at `now` from `ip`.
fn logged_in(
    conn: &mut DbConnection,
    user: i32,
    ip: &str,
    now: NaiveDateTime,
    api: bool,
) -> CamcopsSession {
    let mut s = CamcopsSession::new_unsaved(ip, now);
    if api {
        s.mark_api();
    }
    transaction(conn, |c| Ok(s.login(c, user, now)?)).unwrap();
    s
}

fn resolve(
    conn: &mut DbConnection,
    p: &SessionPolicy,
    s: &CamcopsSession,
    ip: &str,
    now: NaiveDateTime,
) -> camcops_web::session::Resolved {
    transaction(conn, |c| {
        Ok(CamcopsSession::resolve(c, p, s.id, &s.token, ip, now)?)
    })
    .unwrap()
}

fn stored_last_activity(conn: &mut DbConnection, id: i32) -> NaiveDateTime {
    sess::table
        .find(id)
        .select(sess::last_activity_utc)
        .first::<Option<NaiveDateTime>>(conn)
        .unwrap()
        .unwrap()
}

fn human_sessions_of(conn: &mut DbConnection, user: i32) -> i64 {
    sess::table
        .filter(sess::user_id.eq(user))
        .filter(sess::is_api_session.eq(false))
        .count()
        .get_result(conn)
        .unwrap()
}

backend_test! {
    /// sessions §6.1 GetSessionTests: same IP → same session; other IP with checking off → same
    /// session; with checking on → a new session.
    fn ip_binding_as_the_original(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "alice");
        let s = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        let now = t0() + Duration::seconds(5);
        let r = resolve(&mut conn, &policy(), &s, "192.0.2.1", now);
        assert_eq!((r.session.id, r.miss), (s.id, None));
        let off = SessionPolicy { check_ip: false, ..policy() };
        let r = resolve(&mut conn, &off, &s, "192.0.2.2", now);
        assert_eq!((r.session.id, r.session.user_id), (s.id, Some(u)));
        let r = resolve(&mut conn, &policy(), &s, "192.0.2.2", now);
        assert_eq!(r.miss, Some(Miss::IpChanged));
        assert_ne!(r.session.id, s.id);
        assert!(r.session.id.is_none() && r.session.user_id.is_none());
    }

    /// The token is stored only as a SHA-256 hash; lookup is by id then hash.
    fn tokens_are_stored_hashed(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "bob");
        let s = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        let stored: Option<String> = sess::table.find(s.id.unwrap()).select(sess::token).first(&mut conn).unwrap();
        let stored = stored.unwrap();
        assert_eq!(stored.len(), 64);
        assert_ne!(stored, s.token);
        assert!(!stored.contains(&s.token));
    }

    /// Fixation: the token changes at login; the pre-login id/token no longer resolve; a
    /// guessed token for a real id never resolves.
    fn login_rotates_token_and_old_credentials_die(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "carol");
        let mut s = CamcopsSession::new_unsaved("192.0.2.1", t0());
        transaction(&mut conn, |c| Ok(s.ensure_saved(c)?)).unwrap();
        let before = s.clone();
        transaction(&mut conn, |c| Ok(s.login(c, u, t0())?)).unwrap();
        assert_eq!(s.id, before.id, "the id is kept");
        assert_ne!(s.token, before.token, "the token changes");
        let r = resolve(&mut conn, &policy(), &before, "192.0.2.1", t0());
        assert_eq!(r.miss, Some(Miss::BadToken));
        let mut planted = s.clone();
        planted.token = "A".repeat(43);
        assert_eq!(resolve(&mut conn, &policy(), &planted, "192.0.2.1", t0()).miss, Some(Miss::BadToken));
        let r = resolve(&mut conn, &policy(), &s, "192.0.2.1", t0());
        assert_eq!(r.session.user_id, Some(u));
    }

    /// Logout: user NULL and token "" on the row; the old cookie is anonymous; an empty-token
    /// row never matches, whatever token is presented.
    fn logout_ends_the_session_server_side(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "dave");
        let mut s = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        let old = s.clone();
        transaction(&mut conn, |c| Ok(s.logout(c)?)).unwrap();
        let (tok, uid): (Option<String>, Option<i32>) =
            sess::table.find(old.id.unwrap()).select((sess::token, sess::user_id)).first(&mut conn).unwrap();
        assert_eq!((tok.as_deref(), uid), (Some(""), None));
        assert_eq!(resolve(&mut conn, &policy(), &old, "192.0.2.1", t0()).miss, Some(Miss::BadToken));
        let mut empty = old.clone();
        empty.token = String::new();
        assert_eq!(resolve(&mut conn, &policy(), &empty, "192.0.2.1", t0()).miss, Some(Miss::NoCredentials));
    }

    /// Idle timeout at its boundary (injected times, no sleeps).
    fn idle_timeout_boundary(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "erin");
        let s = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        let p = policy();
        let at_limit = t0() + Duration::minutes(30);
        assert_eq!(resolve(&mut conn, &p, &s, "192.0.2.1", at_limit).miss, None);
        // That request wrote activity at the limit; the next limit is 30 min later.
        let just_after = at_limit + Duration::minutes(30) + Duration::microseconds(1);
        assert_eq!(resolve(&mut conn, &p, &s, "192.0.2.1", just_after).miss, Some(Miss::IdleExpired));
    }

    /// Absolute lifetime at its boundary, even for a session kept busy.
    fn absolute_lifetime_boundary(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "fay");
        let s = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        let p = SessionPolicy { max_lifetime: Some(Duration::minutes(60)), ..policy() };
        let mut now = t0();
        while now < t0() + Duration::minutes(60) {
            now += Duration::minutes(10);
            assert_eq!(resolve(&mut conn, &p, &s, "192.0.2.1", now).miss, None, "at {now}");
        }
        let r = resolve(&mut conn, &p, &s, "192.0.2.1", now + Duration::microseconds(1));
        assert_eq!(r.miss, Some(Miss::LifetimeExpired));
        let off = SessionPolicy { max_lifetime: None, ..p };
        assert_eq!(resolve(&mut conn, &off, &s, "192.0.2.1", now + Duration::minutes(5)).miss, None);
    }

    /// Coalescing: with interval 60 s a hit within 60 s does not write; after it does; with
    /// interval 0 every hit writes; expiry still holds.
    fn activity_writes_are_coalesced(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "gus");
        let s = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        let id = s.id.unwrap();
        let p = policy();
        let r = resolve(&mut conn, &p, &s, "192.0.2.1", t0() + Duration::seconds(59));
        assert!(!r.touched);
        assert_eq!(stored_last_activity(&mut conn, id), t0());
        let later = t0() + Duration::seconds(61);
        let r = resolve(&mut conn, &p, &s, "192.0.2.1", later);
        assert!(r.touched);
        assert_eq!(stored_last_activity(&mut conn, id), later);
        let every = SessionPolicy { write_interval: Duration::zero(), ..p };
        let next = later + Duration::seconds(1);
        assert!(resolve(&mut conn, &every, &s, "192.0.2.1", next).touched);
        assert_eq!(stored_last_activity(&mut conn, id), next);
        let r = resolve(&mut conn, &p, &s, "192.0.2.1", next + Duration::minutes(31));
        assert_eq!(r.miss, Some(Miss::IdleExpired));
    }

    /// One human session per user; API sessions exempt both ways (sessions §2.7).
    fn one_human_session_per_user(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "hal");
        let first = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        let api = logged_in(&mut conn, u, "192.0.2.1", t0(), true);
        assert_eq!(human_sessions_of(&mut conn, u), 1, "an API login ends no human session");
        let second = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        assert_eq!(human_sessions_of(&mut conn, u), 1);
        assert_eq!(resolve(&mut conn, &policy(), &first, "192.0.2.1", t0()).miss, Some(Miss::NoSuchRow));
        assert_eq!(resolve(&mut conn, &policy(), &second, "192.0.2.1", t0()).miss, None);
        assert_eq!(resolve(&mut conn, &policy(), &api, "192.0.2.1", t0()).miss, None, "the API session survives");
    }

    /// A password change ends all the user's other sessions, API ones included.
    fn password_change_ends_other_sessions(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "ian");
        let keep = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        let api = logged_in(&mut conn, u, "192.0.2.1", t0(), true);
        let n = transaction(&mut conn, |c| Ok(end_user_sessions(c, u, keep.id)?)).unwrap();
        assert_eq!(n, 1);
        assert_eq!(resolve(&mut conn, &policy(), &api, "192.0.2.1", t0()).miss, Some(Miss::NoSuchRow));
        assert_eq!(resolve(&mut conn, &policy(), &keep, "192.0.2.1", t0()).miss, None);
    }

    /// Deleting a user deletes their sessions (ON DELETE CASCADE).
    fn deleting_a_user_ends_their_sessions(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "jo");
        let s = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        camcops_web::models::user::User::delete(&mut conn, u).unwrap();
        assert_eq!(resolve(&mut conn, &policy(), &s, "192.0.2.1", t0()).miss, Some(Miss::NoSuchRow));
    }

    /// get_task_filter creates one filter lazily and reuses it; number_to_view defaults to 25.
    fn task_filter_and_number_to_view(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "kim");
        let mut s = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        assert_eq!(s.number_to_view(), 25);
        let f1 = transaction(&mut conn, |c| Ok(s.get_task_filter_id(c)?)).unwrap();
        let f2 = transaction(&mut conn, |c| Ok(s.get_task_filter_id(c)?)).unwrap();
        assert_eq!(f1, f2);
        transaction(&mut conn, |c| Ok(s.set_number_to_view(c, 50)?)).unwrap();
        let r = resolve(&mut conn, &policy(), &s, "192.0.2.1", t0());
        assert_eq!((r.session.task_filter_id, r.session.number_to_view()), (Some(f1), 50));
        let n: i64 = _task_filters::table.count().get_result(&mut conn).unwrap();
        assert_eq!(n, 1);
    }

    /// Housekeeping: expired sessions and their filters go, live ones stay, orphan filters go
    /// (NOT EXISTS, even with NULL task_filter_id rows present — sessions §7.3 item 1).
    fn housekeeping_deletes_expired_and_orphans(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "lee");
        let v = make_user(&mut conn, "mo");
        let mut old = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
        transaction(&mut conn, |c| Ok(old.get_task_filter_id(c)?)).unwrap();
        let now = t0() + Duration::minutes(45);
        let mut live = logged_in(&mut conn, v, "192.0.2.1", now, false);
        let live_filter = transaction(&mut conn, |c| Ok(live.get_task_filter_id(c)?)).unwrap();
        let _null_filter_row = logged_in(&mut conn, v, "192.0.2.1", now, true);
        diesel::insert_into(_task_filters::table)
            .values(_task_filters::surname.eq(Some("ORPHAN")))
            .execute(&mut conn)
            .unwrap();
        let r = housekeeping::run(&mut conn, &policy(), now).unwrap();
        assert_eq!(r.sessions, 1);
        assert_eq!(r.filters, 2, "the expired session's filter and the orphan");
        let filters: Vec<i32> = _task_filters::table.select(_task_filters::id).load(&mut conn).unwrap();
        assert_eq!(filters, vec![live_filter]);
        assert_eq!(resolve(&mut conn, &policy(), &live, "192.0.2.1", now).miss, None);
        assert_eq!(n_sessions_active_since(&mut conn, now - Duration::minutes(1)).unwrap(), 2);
    }

    /// Housekeeping deletes in batches and keeps going past one batch.
    fn housekeeping_batches(db) {
        let mut conn = db.conn();
        let n = housekeeping::BATCH as usize + 7;
        transaction(&mut conn, |c| {
            for _ in 0..n {
                let mut s = CamcopsSession::new_unsaved("192.0.2.1", t0());
                s.ensure_saved(c)?;
            }
            Ok(())
        })
        .unwrap();
        let r = housekeeping::run(&mut conn, &policy(), t0() + Duration::hours(2)).unwrap();
        assert_eq!(r.sessions, n);
        assert_eq!(crate::helpers::count_sessions(&mut conn), 0);
    }

    /// A logout racing in-flight requests never brings the session back.
    fn logout_racing_requests_does_not_resurrect(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "ned");
        for round in 0..10 {
            let s = logged_in(&mut conn, u, "192.0.2.1", t0(), false);
            let every = SessionPolicy { write_interval: Duration::zero(), ..policy() };
            let readers: Vec<_> = (0..3)
                .map(|i| {
                    let (db_url, s) = (db.db_url(), s.clone());
                    std::thread::spawn(move || {
                        let mut c = DbConnection::open(&db_url).unwrap();
                        for k in 0..5 {
                            let now = t0() + Duration::seconds(i * 10 + k);
                            let _ = transaction(&mut c, |c| Ok(CamcopsSession::resolve(c, &every, s.id, &s.token, "192.0.2.1", now)?));
                        }
                    })
                })
                .collect();
            let mut out = s.clone();
            transaction(&mut conn, |c| Ok(out.logout(c)?)).unwrap();
            for r in readers {
                r.join().unwrap();
            }
            let (tok, uid): (Option<String>, Option<i32>) =
                sess::table.find(s.id.unwrap()).select((sess::token, sess::user_id)).first(&mut conn).unwrap();
            assert_eq!((tok.as_deref(), uid), (Some(""), None), "round {round}");
            assert!(resolve(&mut conn, &every, &s, "192.0.2.1", t0()).miss.is_some());
        }
    }

    /// Two concurrent human logins of one user leave exactly one human session.
    fn concurrent_logins_leave_one_human_session(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "olga");
        for round in 0..8 {
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let db_url = db.db_url();
                    std::thread::spawn(move || {
                        let mut c = DbConnection::open(&db_url).unwrap();
                        let mut s = CamcopsSession::new_unsaved("192.0.2.1", t0());
                        loop {
                            match transaction(&mut c, |c| Ok(s.login(c, u, t0())?)) {
                                Ok(()) => break,
                                // MariaDB may pick one of two lockers as a deadlock victim: retry.
                                Err(e) if format!("{e:?}").contains("Deadlock") => continue,
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(human_sessions_of(&mut conn, u), 1, "round {round}");
        }
    }
}

backend_test! {
    /// Unsaved sessions: touching writes nothing; saving settings or a filter first writes the
    /// row; saving twice keeps one id.
    fn unsaved_session_writes_only_when_needed(db) {
        let mut conn = db.conn();
        let mut s = CamcopsSession::new_unsaved("192.0.2.1", t0());
        assert!(!transaction(&mut conn, |c| Ok(s.touch(c, t0())?)).unwrap());
        assert_eq!(crate::helpers::count_sessions(&mut conn), 0);
        transaction(&mut conn, |c| Ok(s.set_number_to_view(c, 10)?)).unwrap();
        let id = s.id.unwrap();
        assert_eq!(transaction(&mut conn, |c| Ok(s.ensure_saved(c)?)).unwrap(), id);
        let mut f = CamcopsSession::new_unsaved("192.0.2.1", t0());
        transaction(&mut conn, |c| Ok(f.get_task_filter_id(c)?)).unwrap();
        assert!(f.id.is_some());
        assert_eq!(crate::helpers::count_sessions(&mut conn), 2);
        let n: Option<i32> = sess::table.find(id).select(sess::number_to_view).first(&mut conn).unwrap();
        assert_eq!(n, Some(10));
    }

    /// A login on a row that was logged out meanwhile starts a fresh row (never revives it).
    fn login_on_a_row_logged_out_meanwhile_makes_a_new_row(db) {
        let mut conn = db.conn();
        let u = make_user(&mut conn, "pat");
        let mut s = CamcopsSession::new_unsaved("192.0.2.1", t0());
        transaction(&mut conn, |c| Ok(s.ensure_saved(c)?)).unwrap();
        let old_id = s.id.unwrap();
        let mut other = s.clone();
        transaction(&mut conn, |c| Ok(other.logout(c)?)).unwrap();
        transaction(&mut conn, |c| Ok(s.login(c, u, t0())?)).unwrap();
        assert_ne!(s.id, Some(old_id));
        let (tok, uid): (Option<String>, Option<i32>) =
            sess::table.find(old_id).select((sess::token, sess::user_id)).first(&mut conn).unwrap();
        assert_eq!((tok.as_deref(), uid), (Some(""), None));
        assert_eq!(resolve(&mut conn, &policy(), &s, "192.0.2.1", t0()).session.user_id, Some(u));
    }

    /// Failures of unknown usernames are cleared at most once a week.
    fn dummy_failures_are_cleared_weekly(db) {
        let mut conn = db.conn();
        make_user(&mut conn, "real");
        camcops_web::models::lockout::record_failure(&mut conn, "ghost", t0(), 10, 10).unwrap();
        camcops_web::models::lockout::record_failure(&mut conn, "real", t0(), 10, 10).unwrap();
        let r = housekeeping::run(&mut conn, &policy(), t0()).unwrap();
        assert_eq!(r.dummy_failures, 1);
        camcops_web::models::lockout::record_failure(&mut conn, "ghost", t0(), 10, 10).unwrap();
        let r = housekeeping::run(&mut conn, &policy(), t0() + Duration::days(6)).unwrap();
        assert_eq!(r.dummy_failures, 0, "not yet a week");
        let r = housekeeping::run(&mut conn, &policy(), t0() + Duration::days(7)).unwrap();
        assert_eq!(r.dummy_failures, 1);
        assert_eq!(camcops_web::models::lockout::failure_count(&mut conn, "real").unwrap(), 1);
    }
}
