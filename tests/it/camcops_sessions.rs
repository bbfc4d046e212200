//! Sessions on an adopted CamCOPS database, beside CamCOPS' own rows (sessions §2.4,
//! sessions §2.7, sessions §2.9; issue "Run on an existing CamCOPS 2.4 database", items 2 and 5): ours are
//! written and resolved; a row CamCOPS made (plain token, no `created_at_utc`) never
//! authenticates and is ended by the idle timeout only; a login here ends the user's human
//! sessions of either server, not the tablet ones.

use camcops_web::db::{self, DbConnection};
use camcops_web::models::user::User;
use camcops_web::session::housekeeping;
use camcops_web::session::model::{CamcopsSession, Miss, SessionPolicy};
use chrono::{Duration, NaiveDateTime};
use diesel::sql_types::{BigInt, Integer, Nullable, Timestamp};
use diesel::{QueryableByName, RunQueryDsl};

use crate::camcops_fixture::{adopt, camcops_test, schema_db};
use crate::helpers::plain_user;

const IP: &str = "127.0.0.1";

fn policy() -> SessionPolicy {
    SessionPolicy {
        timeout: Duration::minutes(30),
        max_lifetime: Some(Duration::minutes(720)),
        write_interval: Duration::seconds(60),
        check_ip: true,
    }
}

fn now() -> NaiveDateTime {
    camcops_web::clock::Clock::system().now()
}

fn staff_user(conn: &mut DbConnection, name: &str) -> i32 {
    User::insert(conn, &plain_user(name, "x")).expect("a user row in CamCOPS' table")
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct MaxId {
    #[diesel(sql_type = Integer)]
    id: i32,
}

#[derive(QueryableByName)]
struct Created {
    #[diesel(sql_type = Nullable<Timestamp>)]
    created_at_utc: Option<NaiveDateTime>,
}

/// A row as CamCOPS 2.4.24 writes it: a plain token, no `created_at_utc`.
fn camcops_row(
    conn: &mut DbConnection,
    user: i32,
    token: &str,
    last: NaiveDateTime,
    api: &str,
) -> i32 {
    diesel::sql_query(format!(
        "INSERT INTO _security_webviewer_sessions \
         (token, ip_address, user_id, last_activity_utc, number_to_view, is_api_session) \
         VALUES ('{token}', '{IP}', {user}, '{}', 25, {api})",
        last.format("%Y-%m-%d %H:%M:%S")
    ))
    .execute(conn)
    .expect("CamCOPS-style session row");
    diesel::sql_query(format!(
        "SELECT MAX(id) AS id FROM _security_webviewer_sessions WHERE token = '{token}'"
    ))
    .get_result::<MaxId>(conn)
    .expect("its id")
    .id
}

fn exists(conn: &mut DbConnection, id: i32) -> bool {
    diesel::sql_query(format!(
        "SELECT COUNT(*) AS id FROM _security_webviewer_sessions WHERE id = {id}"
    ))
    .get_result::<Id>(conn)
    .expect("count")
    .id == 1
}

camcops_test! {
    /// Our sessions are written and resolved on CamCOPS' table; CamCOPS' rows never
    /// authenticate here, whatever token is presented (sessions §2.4 "made elsewhere").
    fn sessions_on_an_adopted_database(backend) {
        let Some(db) = schema_db(backend) else { return };
        adopt(&db);
        let mut conn = db.conn();
        let uid = staff_user(&mut conn, "clinician");
        let t = now();
        let mut ours = CamcopsSession::new_unsaved(IP, t);
        db::transaction(&mut conn, |c| Ok(ours.login(c, uid, t)?)).expect("login");
        let id = ours.id.expect("saved");
        let r = CamcopsSession::resolve(&mut conn, &policy(), Some(id), &ours.token, IP, t)
            .expect("resolve");
        assert_eq!(r.miss, None);
        assert_eq!(r.session.user_id, Some(uid));
        let created = diesel::sql_query(format!(
            "SELECT created_at_utc FROM _security_webviewer_sessions WHERE id = {id}"
        ))
        .get_result::<Created>(&mut conn)
        .expect("row");
        assert!(created.created_at_utc.is_some(), "our rows carry their creation time");

        // CamCOPS' row: its own plain token, presented as is, and a token of our format.
        let theirs = camcops_row(&mut conn, uid, "cGxhaW4tY2FtY29wcy10b2tlbg==", t, "FALSE");
        for token in ["cGxhaW4tY2FtY29wcy10b2tlbg==", ours.token.as_str()] {
            let r = CamcopsSession::resolve(&mut conn, &policy(), Some(theirs), token, IP, t)
                .expect("resolve");
            assert_eq!(r.miss, Some(Miss::MadeElsewhere), "a CamCOPS row authenticated");
            assert_eq!(r.session.id, None);
        }
    }

    /// Housekeeping (sessions §2.9): the absolute lifetime ends our old sessions but not CamCOPS'
    /// (which have no creation time); CamCOPS' idle ones go by the idle timeout.
    fn housekeeping_applies_only_the_idle_timeout_to_camcops_rows(backend) {
        let Some(db) = schema_db(backend) else { return };
        adopt(&db);
        let mut conn = db.conn();
        let uid = staff_user(&mut conn, "u1");
        let other = staff_user(&mut conn, "u2");
        let t = now();
        let third = staff_user(&mut conn, "u3");
        let active = camcops_row(&mut conn, uid, "active", t - Duration::minutes(5), "FALSE");
        let idle = camcops_row(&mut conn, other, "idle", t - Duration::minutes(31), "FALSE");
        // Ours, logged in 13 hours ago and active a minute ago: over the 12-hour lifetime.
        let mut old = CamcopsSession::new_unsaved(IP, t - Duration::hours(13));
        db::transaction(&mut conn, |c| Ok(old.login(c, third, t - Duration::hours(13))?))
            .expect("login");
        old.touch(&mut conn, t - Duration::minutes(1)).expect("touch");
        let old_id = old.id.expect("saved");

        let report = housekeeping::run(&mut conn, &policy(), t).expect("housekeeping");
        assert_eq!(report.sessions, 2);
        assert!(exists(&mut conn, active), "an active CamCOPS session was ended early");
        assert!(!exists(&mut conn, idle), "an idle CamCOPS session was kept");
        assert!(!exists(&mut conn, old_id), "our session outlived its lifetime");
    }

    /// One human session per user across both servers (sessions §2.7): logging in here deletes the
    /// user's other human rows, CamCOPS' (is_api_session 0 or NULL) included; API rows stay.
    fn login_ends_the_users_camcops_human_sessions(backend) {
        let Some(db) = schema_db(backend) else { return };
        adopt(&db);
        let mut conn = db.conn();
        let uid = staff_user(&mut conn, "clinician");
        let bystander = staff_user(&mut conn, "other");
        let t = now();
        let human = camcops_row(&mut conn, uid, "human", t, "FALSE");
        let legacy = camcops_row(&mut conn, uid, "legacy", t, "NULL");
        let tablet = camcops_row(&mut conn, uid, "tablet", t, "TRUE");
        let someone_else = camcops_row(&mut conn, bystander, "else", t, "FALSE");
        let mut ours = CamcopsSession::new_unsaved(IP, t);
        db::transaction(&mut conn, |c| Ok(ours.login(c, uid, t)?)).expect("login");
        assert!(!exists(&mut conn, human));
        assert!(!exists(&mut conn, legacy));
        assert!(exists(&mut conn, tablet), "the tablet session must stay");
        assert!(exists(&mut conn, someone_else));
        assert!(exists(&mut conn, ours.id.expect("saved")));
    }
}
