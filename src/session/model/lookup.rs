//! Per-request reads of a session: resolving a presented id and token (`get_session`, sessions §2.4),
//! and the same read with the logged-in user, their memberships and (for the task list) the
//! task filter in one statement.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{truncate, CamcopsSession, Miss, Resolved, SessionExtras, SessionPolicy, SessionRow};
use crate::auth::principal::AuthUser;
use crate::db::schema::{_security_webviewer_sessions as sess, _task_filters};
use crate::db::DbConnection;
use crate::models::group::Membership;
use crate::models::task_filter::{TaskFilter, TaskFilterRow};
use crate::models::user::User;
use crate::session::form_state::FormState;
use crate::session::token::token_matches;

/// The id to look up: only a positive id that comes with a token.
fn presented_id(id: Option<i32>, token: &str) -> Option<i32> {
    id.filter(|&id| id > 0 && !token.is_empty())
}

impl CamcopsSession {
    /// `get_session` (sessions §2.4) with our rules: look up by id only, compare the token hash in
    /// constant time, check idle timeout, absolute lifetime and (if on) the IP; on a hit,
    /// write `last_activity_utc` only when older than the write interval. Otherwise a new
    /// unsaved session. Runs in the caller's transaction.
    pub fn resolve(
        conn: &mut DbConnection,
        policy: &SessionPolicy,
        id: Option<i32>,
        token: &str,
        client_ip: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Resolved> {
        let row = match presented_id(id, token) {
            // Run on every request with credentials: on the backend's own connection.
            Some(id) => crate::on_native_connection!(conn, |c| sess::table
                .find(id)
                .select(SessionRow::as_select())
                .get_result(c)
                .optional())?,
            None => None,
        };
        let mut r = Self::judge(policy, id, row, token, client_ip, now);
        if r.touched {
            r.touched = r.session.touch(conn, now)?;
        }
        Ok(r)
    }

    /// The read of [`resolve`](Self::resolve) and the logged-in user with their memberships in one
    /// statement (the session row left-joined to its user and the user's memberships, one row
    /// per membership): what every authenticated page view needs. With `task_list`, the same
    /// statement also reads what the task list needs (the `_security_group_group` rows of each
    /// membership and the session's task filter), so that no page reads them again; without,
    /// the statement stays as small as the other pages need. The user and the extras are
    /// returned only on a hit.
    pub fn lookup_with_user(
        conn: &mut DbConnection,
        policy: &SessionPolicy,
        presented: (Option<i32>, &str),
        client_ip: &str,
        now: NaiveDateTime,
        task_list: bool,
    ) -> QueryResult<(Resolved, Option<AuthUser>, SessionExtras)> {
        use crate::db::schema::{
            _security_group_group as gg, _security_user_group as ug, _security_users as users,
        };
        type Row = (
            SessionRow,
            Option<User>,
            Option<Membership>,
            Option<i32>,
            Option<TaskFilterRow>,
        );
        let (id, token) = presented;
        let rows: Vec<Row> = match presented_id(id, token) {
            Some(id) if task_list => crate::on_native_connection!(conn, |c| sess::table
                .left_join(users::table)
                .left_join(ug::table.on(ug::user_id.eq(sess::user_id)))
                .left_join(gg::table.on(gg::group_id.nullable().eq(ug::group_id)))
                .left_join(
                    _task_filters::table.on(_task_filters::id.nullable().eq(sess::task_filter_id)),
                )
                .filter(sess::id.eq(id))
                .select((
                    SessionRow::as_select(),
                    Option::<User>::as_select(),
                    Option::<Membership>::as_select(),
                    gg::can_see_group_id.nullable(),
                    Option::<TaskFilterRow>::as_select(),
                ))
                .load(c))?,
            Some(id) => {
                let rows: Vec<(SessionRow, Option<User>, Option<Membership>)> =
                    crate::on_native_connection!(conn, |c| sess::table
                        .left_join(users::table)
                        .left_join(ug::table.on(ug::user_id.eq(sess::user_id)))
                        .filter(sess::id.eq(id))
                        .select((
                            SessionRow::as_select(),
                            Option::<User>::as_select(),
                            Option::<Membership>::as_select(),
                        ))
                        .load(c))?;
                rows.into_iter()
                    .map(|(s, u, m)| (s, u, m, None, None))
                    .collect()
            }
            None => Vec::new(),
        };
        let mut rows = rows.into_iter();
        let Some((row, user, first, first_seen, filter)) = rows.next() else {
            let r = Self::judge(policy, id, None, token, client_ip, now);
            return Ok((r, None, SessionExtras::default()));
        };
        let r = Self::judge(policy, id, Some(row), token, client_ip, now);
        let (user, extras) = match (&r.miss, user) {
            (None, Some(user)) => {
                let mut memberships: Vec<Membership> = first.into_iter().collect();
                let mut seen: Vec<i32> = first_seen.into_iter().collect();
                for (_, _, m, s, _) in rows {
                    memberships.extend(m);
                    seen.extend(s);
                }
                // Sorted here rather than by the statement (no sorter for a handful of rows).
                memberships.sort_by_key(|m| (m.group_id, m.id));
                memberships.dedup_by_key(|m| m.id);
                seen.sort_unstable();
                seen.dedup();
                let extras = SessionExtras {
                    filter: filter.as_ref().map(TaskFilter::from_row),
                    seen_group_ids: seen,
                };
                (Some(AuthUser { user, memberships }), extras)
            }
            _ => (None, SessionExtras::default()),
        };
        Ok((r, user, extras))
    }

    /// The rules of `get_session` (sessions §2.4) applied to the row found for `id` (if any).
    fn judge(
        policy: &SessionPolicy,
        id: Option<i32>,
        row: Option<SessionRow>,
        token: &str,
        client_ip: &str,
        now: NaiveDateTime,
    ) -> Resolved {
        let miss = |m| Resolved {
            session: CamcopsSession::new_unsaved(client_ip, now),
            miss: Some(m),
            touched: false,
        };
        if presented_id(id, token).is_none() {
            return miss(Miss::NoCredentials);
        }
        let Some(row) = row else {
            return miss(Miss::NoSuchRow);
        };
        // CamCOPS stores its tokens in plain text: a row it made never authenticates here, so
        // that nobody who reads the table can log in with what they read.
        let Some(created_at_utc) = row.created_at_utc else {
            return miss(Miss::MadeElsewhere);
        };
        if !token_matches(token, row.token.as_deref()) {
            return miss(Miss::BadToken);
        }
        let last = row.last_activity_utc.unwrap_or(created_at_utc);
        if last < now - policy.timeout {
            return miss(Miss::IdleExpired);
        }
        if let Some(max) = policy.max_lifetime {
            if created_at_utc < now - max {
                return miss(Miss::LifetimeExpired);
            }
        }
        if policy.check_ip && row.ip_address.as_deref().unwrap_or("") != truncate(client_ip, 45) {
            return miss(Miss::IpChanged);
        }
        let due = policy.write_interval <= Duration::zero() || last < now - policy.write_interval;
        Resolved {
            session: CamcopsSession {
                id: Some(row.id),
                token: token.to_string(),
                ip_address: row.ip_address.unwrap_or_default(),
                user_id: row.user_id,
                last_activity_utc: last,
                created_at_utc,
                number_to_view: row.number_to_view,
                task_filter_id: row.task_filter_id,
                is_api_session: row.is_api_session.unwrap_or(false),
                form_state: FormState::from_column(row.form_state.as_deref()),
            },
            miss: None,
            touched: due,
        }
    }
}
