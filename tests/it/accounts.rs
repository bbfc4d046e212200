//! What the account and second-factor tests ask of the database and of a browser, written
//! once: a user's stored row and wizard state, failed logins and audit rows, TOTP codes by the
//! app's clock, and who a browser is logged in as.

use diesel::prelude::*;

use camcops_web::auth::mfa;
use camcops_web::db::schema::{
    _security_audit as au, _security_login_failures as lf, _security_users as u,
    _security_webviewer_sessions as sess,
};
use camcops_web::models::user::User;
use camcops_web::session::FormState;

use crate::helpers::{unescape, TestApp};

/// The user's row as stored.
pub fn user_row(app: &TestApp, uid: i32) -> User {
    User::find(&mut app.conn(), uid).unwrap().unwrap()
}

/// Gives `uid` TOTP with a fresh secret, which is returned.
pub fn set_totp(app: &TestApp, uid: i32) -> String {
    let secret = mfa::new_secret();
    User::set_mfa(&mut app.conn(), uid, "totp", Some(&secret), 0).unwrap();
    secret
}

/// Makes `uid` a user of `method` as CamCOPS' set_mfa_method does (new secret, counter 0),
/// with the given address and number; returns the secret.
pub fn set_hotp(
    app: &TestApp,
    uid: i32,
    method: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> String {
    let secret = mfa::new_secret();
    User::set_mfa(&mut app.conn(), uid, method, Some(&secret), 0).unwrap();
    diesel::update(u::table.find(uid))
        .set((u::email.eq(email), u::phone_number.eq(phone)))
        .execute(&mut app.conn())
        .unwrap();
    secret
}

/// Gives `uid` the e-mail address `email`.
pub fn set_email(app: &TestApp, uid: i32, email: &str) {
    diesel::update(u::table.find(uid))
        .set(u::email.eq(Some(email)))
        .execute(&mut app.conn())
        .unwrap();
}

/// The wizard state of the user's (human) session.
pub fn form_state(app: &TestApp, uid: i32) -> FormState {
    let fs: Option<String> = sess::table
        .filter(sess::user_id.eq(uid))
        .filter(sess::is_api_session.eq(false))
        .select(sess::form_state)
        .first(&mut app.conn())
        .unwrap();
    FormState::from_column(fs.as_deref())
}

/// Failed logins recorded for `username`.
pub fn failures(app: &TestApp, username: &str) -> i64 {
    lf::table
        .filter(lf::username.eq(username))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// Audit rows whose details match the SQL `LIKE` pattern.
pub fn audits_like(app: &TestApp, pattern: &str) -> i64 {
    au::table
        .filter(au::details.like(pattern))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// The current TOTP code by the app's clock.
pub fn code(app: &TestApp, secret: &str) -> String {
    mfa::current_code(secret, app.clock().now().and_utc().timestamp()).unwrap()
}

/// A code that is not valid around the app's current time.
pub fn wrong_code(app: &TestApp, secret: &str) -> String {
    let t = app.clock().now().and_utc().timestamp();
    let near: Vec<String> = (-3..=3)
        .map(|k| mfa::current_code(secret, t + 30 * k).unwrap())
        .collect();
    (0..1000)
        .map(|i| format!("{:06}", 123_456 + i))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// Who the browser is logged in as (from the user bar), if anyone.
pub async fn whoami(app: &TestApp, c: &reqwest::Client) -> Option<String> {
    let r = c.get(app.url("/view_own_user_info")).send().await.unwrap();
    if r.status() != 200 {
        return None;
    }
    let body = unescape(&r.text().await.unwrap());
    let i = body.find("Logged in as <strong>")? + "Logged in as <strong>".len();
    Some(body[i..i + body[i..].find("</strong>")?].to_string())
}

/// The login page as a browser sees it next (with any flashed message), unescaped.
pub async fn login_page(app: &TestApp, c: &reqwest::Client) -> String {
    let r = c.get(app.url("/login")).send().await.unwrap();
    unescape(&r.text().await.unwrap())
}
