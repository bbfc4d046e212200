//! The `CamcopsSession` lifecycle over `_security_webviewer_sessions` (sessions §2): resolve by id and
//! token, activity touch, login, logout, per-session settings. No HTTP in here.
//!
//! This file holds the types and the lifecycle of one session (save, touch, login, logout,
//! per-session settings); `lookup` the per-request reads (resolving a presented id and token,
//! with the user in the same statement); `admin` the queries over many sessions (the admin
//! page, ending a user's sessions, counting active ones).

mod admin;
mod lookup;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

pub use admin::{end_session, end_user_sessions, find_row, list_active, n_sessions_active_since};

use super::form_state::FormState;
use super::token::{generate_token, hash_token};
use crate::config::Settings;
use crate::db::lock::{lock_rows, Locked};
use crate::db::schema::{_security_webviewer_sessions as sess, _task_filters};
use crate::db::{last_insert_id, DbConnection, MultiBackend};
use crate::models::task_filter::TaskFilter;

/// The session row filtered by id and token hash.
type GuardedRow = diesel::dsl::Filter<
    diesel::dsl::Filter<sess::table, diesel::dsl::Eq<sess::id, i32>>,
    diesel::dsl::Eq<sess::token, String>,
>;

/// Default tasks per page when the session has none stored (sessions §2.13).
pub const DEFAULT_NUMBER_TO_VIEW: i32 = 25;

/// The session settings that govern resolution.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Idle timeout.
    pub timeout: Duration,
    /// Absolute lifetime (None = off).
    pub max_lifetime: Option<Duration>,
    /// Rewrite `last_activity_utc` only when older than this (zero = every request).
    pub write_interval: Duration,
    /// Bind sessions to the client IP.
    pub check_ip: bool,
}

impl SessionPolicy {
    /// The policy the settings describe.
    pub fn from_settings(s: &Settings) -> SessionPolicy {
        SessionPolicy {
            timeout: Duration::minutes(s.session_timeout_minutes),
            max_lifetime: (s.session_max_lifetime_minutes > 0)
                .then(|| Duration::minutes(s.session_max_lifetime_minutes)),
            write_interval: Duration::seconds(s.session_activity_write_interval_s),
            check_ip: s.session_check_user_ip,
        }
    }
}

/// One row of `_security_webviewer_sessions`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sess, check_for_backend(MultiBackend))]
pub struct SessionRow {
    /// Primary key.
    pub id: i32,
    /// SHA-256 hex of the token; "" once logged out.
    pub token: Option<String>,
    /// Client IP at creation.
    pub ip_address: Option<String>,
    /// Logged-in user.
    pub user_id: Option<i32>,
    /// Last activity (naive UTC).
    pub last_activity_utc: Option<NaiveDateTime>,
    /// Tasks per page.
    pub number_to_view: Option<i32>,
    /// The session's task filter.
    pub task_filter_id: Option<i32>,
    /// Tablet/API session.
    pub is_api_session: Option<bool>,
    /// Wizard state JSON.
    pub form_state: Option<String>,
    /// Creation time (naive UTC); NULL for a row CamCOPS made on a shared database (it does
    /// not know the column).
    pub created_at_utc: Option<NaiveDateTime>,
}

/// A session as the request sees it: saved (`id` set) or new and not yet written.
#[derive(Debug, Clone)]
pub struct CamcopsSession {
    /// Row id once saved.
    pub id: Option<i32>,
    /// The plaintext token (only ever in the cookie or the API reply, never stored).
    pub token: String,
    /// Client IP at creation.
    pub ip_address: String,
    /// Logged-in user.
    pub user_id: Option<i32>,
    /// Last activity.
    pub last_activity_utc: NaiveDateTime,
    /// Creation time.
    pub created_at_utc: NaiveDateTime,
    /// Tasks per page, if set.
    pub number_to_view: Option<i32>,
    /// Task filter id, if created.
    pub task_filter_id: Option<i32>,
    /// Tablet/API session.
    pub is_api_session: bool,
    /// Wizard state.
    pub form_state: FormState,
}

/// Why a presented id/token did not resolve (for logs and tests; never shown to users).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// No credentials presented.
    NoCredentials,
    /// No row with that id.
    NoSuchRow,
    /// Token wrong or row logged out.
    BadToken,
    /// Idle timeout passed.
    IdleExpired,
    /// Absolute lifetime passed.
    LifetimeExpired,
    /// A row CamCOPS made (no `created_at_utc`): never a session of this server.
    MadeElsewhere,
    /// Client IP differs and IP checking is on.
    IpChanged,
}

/// What the pages need besides the session and its user, read with them in one statement
/// by [`CamcopsSession::lookup_with_user`].
#[derive(Debug, Clone, Default)]
pub struct SessionExtras {
    /// The session's task filter, if it has one.
    pub filter: Option<TaskFilter>,
    /// The groups whose data the user's groups may also see (`_security_group_group`),
    /// sorted, without duplicates.
    pub seen_group_ids: Vec<i32>,
}

/// Outcome of [`CamcopsSession::resolve`].
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The session (found, or a new unsaved one).
    pub session: CamcopsSession,
    /// None if found; otherwise why not.
    pub miss: Option<Miss>,
    /// Whether the activity time was written.
    pub touched: bool,
}

impl CamcopsSession {
    /// A new, unsaved, anonymous session with a fresh token.
    pub fn new_unsaved(client_ip: &str, now: NaiveDateTime) -> CamcopsSession {
        CamcopsSession {
            id: None,
            token: generate_token(),
            ip_address: truncate(client_ip, 45),
            user_id: None,
            last_activity_utc: now,
            created_at_utc: now,
            number_to_view: None,
            task_filter_id: None,
            is_api_session: false,
            form_state: FormState::default(),
        }
    }

    /// Tasks per page: the stored value or 25.
    pub fn number_to_view(&self) -> i32 {
        self.number_to_view.unwrap_or(DEFAULT_NUMBER_TO_VIEW)
    }

    /// Writes `last_activity_utc = now`, guarded by the token's hash so that a logout (or a
    /// login elsewhere) committed meanwhile wins. Returns whether the row was written.
    pub fn touch(&mut self, conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<bool> {
        let Some(row) = self.guarded_row() else {
            return Ok(false);
        };
        // Every request when the write interval is 0: on the backend's own connection.
        let n = crate::on_native_connection!(conn, |c| diesel::update(row)
            .set(sess::last_activity_utc.eq(Some(now)))
            .execute(c))?;
        if n > 0 {
            self.last_activity_utc = now;
        }
        Ok(n > 0)
    }

    /// Writes a new session row (no-op if already saved). Returns the id.
    pub fn ensure_saved(&mut self, conn: &mut DbConnection) -> QueryResult<i32> {
        if let Some(id) = self.id {
            return Ok(id);
        }
        diesel::insert_into(sess::table)
            .values((
                sess::token.eq(Some(hash_token(&self.token))),
                sess::ip_address.eq(Some(&self.ip_address)),
                sess::user_id.eq(self.user_id),
                sess::last_activity_utc.eq(Some(self.last_activity_utc)),
                sess::number_to_view.eq(self.number_to_view),
                sess::task_filter_id.eq(self.task_filter_id),
                sess::is_api_session.eq(Some(self.is_api_session)),
                sess::form_state.eq(Some(self.form_state.to_column())),
                sess::created_at_utc.eq(Some(self.created_at_utc)),
            ))
            .execute(conn)?;
        let id = last_insert_id(conn)?;
        self.id = Some(id);
        Ok(id)
    }

    /// This saved session's row, only while its token is still the stored one (so a logout
    /// committed meanwhile wins over any later write).
    fn guarded_row(&self) -> Option<GuardedRow> {
        self.guarded().map(|(id, hash)| {
            sess::table
                .filter(sess::id.eq(id))
                .filter(sess::token.eq(hash))
        })
    }

    /// The id and token hash of this saved session.
    fn guarded(&self) -> Option<(i32, String)> {
        self.id.map(|id| (id, hash_token(&self.token)))
    }

    /// `login(user)` (sessions §2.7): fresh token (against fixation), the user set, and, unless this is
    /// an API session, every other human session of the user deleted (with its filter), all in
    /// the caller's transaction. The user's row is locked first so that two concurrent logins
    /// leave exactly one human session.
    pub fn login(
        &mut self,
        conn: &mut DbConnection,
        user_id: i32,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        lock_rows(conn, Locked::Users, &[user_id])?;
        let old_hash = self.guarded().map(|(_, h)| h);
        self.token = generate_token();
        self.user_id = Some(user_id);
        self.last_activity_utc = now;
        match self.id {
            None => {
                self.created_at_utc = now;
                self.ensure_saved(conn)?;
            }
            Some(id) => {
                let n = diesel::update(
                    sess::table
                        .filter(sess::id.eq(id))
                        .filter(sess::token.eq(old_hash.unwrap_or_default())),
                )
                .set((
                    sess::token.eq(Some(hash_token(&self.token))),
                    sess::user_id.eq(Some(user_id)),
                    sess::last_activity_utc.eq(Some(now)),
                    sess::is_api_session.eq(Some(self.is_api_session)),
                    sess::form_state.eq(Some(self.form_state.to_column())),
                ))
                .execute(conn)?;
                if n == 0 {
                    // The row was logged out or deleted meanwhile: start a fresh row.
                    self.id = None;
                    self.created_at_utc = now;
                    self.ensure_saved(conn)?;
                }
            }
        }
        if !self.is_api_session {
            let keep = self.id.unwrap_or(0);
            let others: Vec<(i32, Option<i32>)> = sess::table
                .filter(sess::user_id.eq(user_id))
                .filter(sess::id.ne(keep))
                .filter(
                    sess::is_api_session
                        .eq(false)
                        .or(sess::is_api_session.is_null()),
                )
                .select((sess::id, sess::task_filter_id))
                .load(conn)?;
            delete_sessions(conn, &others)?;
        }
        Ok(())
    }

    /// `logout()` (sessions §2.8): the row keeps its id but loses its user and its token, so no cookie
    /// can match it again. Returns whether a live row was changed.
    pub fn logout(&mut self, conn: &mut DbConnection) -> QueryResult<bool> {
        let changed = match self.id {
            Some(id) => {
                diesel::update(sess::table.filter(sess::id.eq(id)))
                    .set((
                        sess::user_id.eq(None::<i32>),
                        sess::token.eq(Some("")),
                        sess::form_state.eq(None::<String>),
                    ))
                    .execute(conn)?
                    > 0
            }
            None => false,
        };
        self.user_id = None;
        self.token = String::new();
        self.form_state = FormState::default();
        Ok(changed)
    }

    /// Stores the wizard state (saving the session first if it is new).
    pub fn save_form_state(&mut self, conn: &mut DbConnection) -> QueryResult<()> {
        if self.id.is_none() {
            self.ensure_saved(conn)?;
            return Ok(());
        }
        if let Some(row) = self.guarded_row() {
            diesel::update(row)
                .set(sess::form_state.eq(Some(self.form_state.to_column())))
                .execute(conn)?;
        }
        Ok(())
    }

    /// Stores tasks per page (sessions §2.13).
    pub fn set_number_to_view(&mut self, conn: &mut DbConnection, n: i32) -> QueryResult<()> {
        self.number_to_view = Some(n);
        if self.id.is_none() {
            self.ensure_saved(conn)?;
            return Ok(());
        }
        if let Some(row) = self.guarded_row() {
            diesel::update(row)
                .set(sess::number_to_view.eq(Some(n)))
                .execute(conn)?;
        }
        Ok(())
    }

    /// `get_task_filter()` (sessions §2.11): the session's filter id, creating an empty filter row and
    /// linking it on first use.
    pub fn get_task_filter_id(&mut self, conn: &mut DbConnection) -> QueryResult<i32> {
        if let Some(fid) = self.task_filter_id {
            return Ok(fid);
        }
        let fid = TaskFilter::insert_empty(conn)?;
        self.task_filter_id = Some(fid);
        if self.id.is_none() {
            self.ensure_saved(conn)?;
        } else if let Some(row) = self.guarded_row() {
            diesel::update(row)
                .set(sess::task_filter_id.eq(Some(fid)))
                .execute(conn)?;
        }
        Ok(fid)
    }

    /// Marks this (unsaved) session as a tablet/API session.
    pub fn mark_api(&mut self) {
        self.is_api_session = true;
    }
}

/// Deletes the given sessions and then their task filters.
pub(crate) fn delete_sessions(
    conn: &mut DbConnection,
    rows: &[(i32, Option<i32>)],
) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i32> = rows.iter().map(|(id, _)| *id).collect();
    let filters: Vec<i32> = rows.iter().filter_map(|(_, f)| *f).collect();
    let n = diesel::delete(sess::table.filter(sess::id.eq_any(&ids))).execute(conn)?;
    if !filters.is_empty() {
        diesel::delete(_task_filters::table.filter(_task_filters::id.eq_any(&filters)))
            .execute(conn)?;
    }
    Ok(n)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
