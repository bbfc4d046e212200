//! The `CamcopsSession` lifecycle over `_security_webviewer_sessions` (§2): resolve by id and
//! token, activity touch, login, logout, per-session settings. No HTTP in here.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::form_state::FormState;
use super::token::{generate_token, hash_token, token_matches};
use crate::auth::principal::AuthUser;
use crate::config::Settings;
use crate::db::schema::{_security_webviewer_sessions as sess, _task_filters};
use crate::db::{last_insert_id, Backend, DbConnection, MultiBackend};
use crate::models::group::Membership;
use crate::models::task_filter::{TaskFilter, TaskFilterRow};
use crate::models::user::User;

/// The session row filtered by id and token hash.
type GuardedRow = diesel::dsl::Filter<
    diesel::dsl::Filter<sess::table, diesel::dsl::Eq<sess::id, i32>>,
    diesel::dsl::Eq<sess::token, String>,
>;

/// The id to look up: only a positive id that comes with a token.
fn presented_id(id: Option<i32>, token: &str) -> Option<i32> {
    id.filter(|&id| id > 0 && !token.is_empty())
}

/// Default tasks per page when the session has none stored (§2.13).
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

    /// `get_session` (§2.4) with our rules: look up by id only, compare the token hash in
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
        let mut r = Self::lookup(conn, policy, id, token, client_ip, now)?;
        if r.touched {
            r.touched = r.session.touch(conn, now)?;
        }
        Ok(r)
    }

    /// The read half of [`resolve`](Self::resolve): everything but the activity write. On a
    /// hit, `touched` says whether the write is due; call [`touch`](Self::touch) to do it.
    pub fn lookup(
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
        Ok(Self::judge(policy, id, row, token, client_ip, now))
    }

    /// [`lookup`](Self::lookup) and the logged-in user with their memberships in one
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

    /// The rules of `get_session` (§2.4) applied to the row found for `id` (if any).
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

    /// `login(user)` (§2.7): fresh token (against fixation), the user set, and, unless this is
    /// an API session, every other human session of the user deleted (with its filter), all in
    /// the caller's transaction. The user's row is locked first so that two concurrent logins
    /// leave exactly one human session.
    pub fn login(
        &mut self,
        conn: &mut DbConnection,
        user_id: i32,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        lock_user_row(conn, user_id)?;
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

    /// `logout()` (§2.8): the row keeps its id but loses its user and its token, so no cookie
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

    /// Stores tasks per page (§2.13).
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

    /// `get_task_filter()` (§2.11): the session's filter id, creating an empty filter row and
    /// linking it on first use.
    pub fn get_task_filter_id(&mut self, conn: &mut DbConnection) -> QueryResult<i32> {
        if let Some(fid) = self.task_filter_id {
            return Ok(fid);
        }
        diesel::insert_into(_task_filters::table)
            .values((
                _task_filters::task_types.eq(Some("")),
                _task_filters::idnum_criteria.eq(Some("")),
                _task_filters::device_ids.eq(Some("")),
                _task_filters::user_ids.eq(Some("")),
                _task_filters::group_ids.eq(Some("")),
                _task_filters::text_contents.eq(Some("")),
            ))
            .execute(conn)?;
        let fid = last_insert_id(conn)?;
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

/// Ends every session of a user except `keep` (password change, disabling): returns how many.
pub fn end_user_sessions(
    conn: &mut DbConnection,
    user_id: i32,
    keep: Option<i32>,
) -> QueryResult<usize> {
    let rows: Vec<(i32, Option<i32>)> = sess::table
        .filter(sess::user_id.eq(user_id))
        .filter(sess::id.ne(keep.unwrap_or(0)))
        .select((sess::id, sess::task_filter_id))
        .load(conn)?;
    delete_sessions(conn, &rows)
}

/// One session row by id (admin page).
pub fn find_row(conn: &mut DbConnection, id: i32) -> QueryResult<Option<SessionRow>> {
    sess::table
        .find(id)
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()
}

/// Ends one session by id (admin page); returns whether it existed.
pub fn end_session(conn: &mut DbConnection, id: i32) -> QueryResult<bool> {
    let rows: Vec<(i32, Option<i32>)> = sess::table
        .filter(sess::id.eq(id))
        .select((sess::id, sess::task_filter_id))
        .load(conn)?;
    Ok(delete_sessions(conn, &rows)? > 0)
}

/// `n_sessions_active_since(when)` (§2.10): all rows, logged in or not, human or API.
pub fn n_sessions_active_since(conn: &mut DbConnection, when: NaiveDateTime) -> QueryResult<i64> {
    sess::table
        .filter(sess::last_activity_utc.ge(when))
        .count()
        .get_result(conn)
}

/// Live (logged-in, unexpired) sessions, newest activity first; for the admin page.
pub fn list_active(
    conn: &mut DbConnection,
    policy: &SessionPolicy,
    now: NaiveDateTime,
    user_ids: Option<&[i32]>,
) -> QueryResult<Vec<SessionRow>> {
    let mut q = sess::table
        .filter(sess::user_id.is_not_null())
        .filter(sess::token.ne(""))
        .filter(sess::last_activity_utc.ge(now - policy.timeout))
        .select(SessionRow::as_select())
        .order(sess::last_activity_utc.desc())
        .into_boxed();
    if let Some(max) = policy.max_lifetime {
        // Rows CamCOPS made have no creation time: only its idle timeout applies to them.
        q = q.filter(
            sess::created_at_utc
                .ge(now - max)
                .or(sess::created_at_utc.is_null()),
        );
    }
    if let Some(ids) = user_ids {
        q = q.filter(sess::user_id.eq_any(ids.to_vec()));
    }
    q.limit(1000).load(conn)
}

/// Locks the user's row until the transaction ends (PostgreSQL, MariaDB). SQLite units already
/// hold the database write lock (`BEGIN IMMEDIATE`).
fn lock_user_row(conn: &mut DbConnection, user_id: i32) -> QueryResult<()> {
    let sql = match conn.backend() {
        Backend::Sqlite => return Ok(()),
        Backend::Postgres => "SELECT id FROM _security_users WHERE id = $1 FOR UPDATE",
        Backend::Mysql => "SELECT id FROM _security_users WHERE id = ? FOR UPDATE",
    };
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Integer, _>(user_id)
        .execute(conn)
        .map(|_| ())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
