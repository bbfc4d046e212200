//! `_security_users`: staff and tablet users (sessions §1.4).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::_security_users;
use crate::db::{last_insert_id, DbConnection, MultiBackend};

/// The username reserved for command-line work; nobody may log in with it.
pub const USER_NAME_FOR_SYSTEM: &str = "system";

/// One row of `_security_users`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = _security_users, check_for_backend(MultiBackend))]
pub struct User {
    /// Primary key.
    pub id: i32,
    /// Unique login name.
    pub username: String,
    /// Full name.
    pub fullname: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number (E.164).
    pub phone_number: Option<String>,
    /// bcrypt hash.
    pub hashedpw: String,
    /// Base32 MFA secret.
    pub mfa_secret_key: Option<String>,
    /// `no_mfa`, `totp`, `hotp_email` or `hotp_sms`.
    pub mfa_method: String,
    /// HOTP counter.
    pub hotp_counter: i32,
    /// Last successful web login (naive UTC).
    pub last_login_at_utc: Option<NaiveDateTime>,
    /// Last password change (naive UTC).
    pub last_password_change_utc: Option<NaiveDateTime>,
    /// Superuser flag (NULL = false).
    pub superuser: Option<bool>,
    /// Must change password at next login (NULL = false).
    pub must_change_password: Option<bool>,
    /// When the user agreed the terms of use (ISO text).
    pub when_agreed_terms_of_use: Option<String>,
    /// Group into which the user uploads.
    pub upload_group_id: Option<i32>,
    /// Preferred UI language.
    pub language: Option<String>,
    /// Auto-created single-patient user.
    pub auto_generated: bool,
    /// The patient of an auto-created user.
    pub single_patient_pk: Option<i32>,
}

/// A user to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = _security_users)]
pub struct NewUser<'a> {
    /// Login name.
    pub username: &'a str,
    /// Full name.
    pub fullname: Option<&'a str>,
    /// E-mail.
    pub email: Option<&'a str>,
    /// bcrypt hash.
    pub hashedpw: &'a str,
    /// MFA method name.
    pub mfa_method: &'a str,
    /// HOTP counter.
    pub hotp_counter: i32,
    /// Superuser flag.
    pub superuser: Option<bool>,
    /// Forced password change flag.
    pub must_change_password: Option<bool>,
    /// Set when the password was set.
    pub last_password_change_utc: Option<NaiveDateTime>,
    /// When terms were agreed.
    pub when_agreed_terms_of_use: Option<String>,
    /// Upload group.
    pub upload_group_id: Option<i32>,
    /// Auto-generated flag.
    pub auto_generated: bool,
}

/// The fields of the user edit page (blank text is stored as "", as CamCOPS does).
#[derive(Debug, Clone, Copy)]
pub struct UserDetails<'a> {
    /// Login name.
    pub username: &'a str,
    /// Full name.
    pub fullname: &'a str,
    /// E-mail.
    pub email: &'a str,
    /// Phone number in E.164 (`None`: no number).
    pub phone_number: Option<&'a str>,
    /// Forced password change.
    pub must_change_password: bool,
    /// UI language (`en_GB`, `da_DK`).
    pub language: &'a str,
}

impl User {
    /// Whether the superuser flag is set.
    pub fn is_superuser(&self) -> bool {
        self.superuser.unwrap_or(false)
    }

    /// The TOTP secret when TOTP is the method and a secret is stored: what a step-up page
    /// (own password, own MFA, an administrator's own code) checks a code against, so it asks
    /// for one exactly then.
    pub fn totp_secret(&self) -> Option<&str> {
        self.mfa_secret_key
            .as_deref()
            .filter(|s| self.mfa_method == "totp" && !s.is_empty())
    }

    /// Whether a password change is forced.
    pub fn must_change_password(&self) -> bool {
        self.must_change_password.unwrap_or(false)
    }

    /// Finds a user by primary key.
    pub fn find(conn: &mut DbConnection, id: i32) -> QueryResult<Option<User>> {
        // Run on every authenticated request: on the backend's own connection.
        crate::on_native_connection!(conn, |c| _security_users::table
            .find(id)
            .select(User::as_select())
            .get_result(c)
            .optional())
    }

    /// Finds a user by exact username.
    pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<User>> {
        _security_users::table
            .filter(_security_users::username.eq(username))
            .select(User::as_select())
            .get_result(conn)
            .optional()
    }

    /// All users, by username.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<User>> {
        _security_users::table
            .order(_security_users::username.asc())
            .select(User::as_select())
            .load(conn)
    }

    /// Users with the given ids, by username.
    pub fn with_ids(conn: &mut DbConnection, ids: &[i32]) -> QueryResult<Vec<User>> {
        _security_users::table
            .filter(_security_users::id.eq_any(ids))
            .order(_security_users::username.asc())
            .select(User::as_select())
            .load(conn)
    }

    /// Ids of the users an admin page lists, by username: never the system user, no
    /// auto-generated users unless asked; with `admin_group_ids` (a group administrator, not a
    /// superuser) only users in one of those groups who are neither superusers nor group
    /// administrators anywhere (`managed_users`, admin §2.1). Each user once, however many groups
    /// they share with the administrator (the original counted them once per group, admin §8.11).
    pub fn ids_for_admin(
        conn: &mut DbConnection,
        admin_group_ids: Option<&[i32]>,
        include_auto_generated: bool,
    ) -> QueryResult<Vec<i32>> {
        use crate::db::schema::_security_user_group as ugm;
        use diesel::dsl::{exists, not};
        let mut q = _security_users::table
            .filter(_security_users::username.ne(USER_NAME_FOR_SYSTEM))
            .order(_security_users::username.asc())
            .select(_security_users::id)
            .into_boxed();
        if !include_auto_generated {
            q = q.filter(_security_users::auto_generated.eq(false));
        }
        if let Some(gids) = admin_group_ids {
            let members = ugm::table
                .filter(ugm::group_id.eq_any(gids.to_vec()))
                .select(ugm::user_id);
            // NOT EXISTS, not NOT IN: orphan memberships have a NULL user_id.
            let admin_somewhere = ugm::table
                .filter(ugm::user_id.eq(_security_users::id.nullable()))
                .filter(ugm::groupadmin.eq(true));
            q = q
                .filter(_security_users::id.nullable().eq_any(members))
                .filter(
                    _security_users::superuser
                        .eq(false)
                        .or(_security_users::superuser.is_null()),
                )
                .filter(not(exists(admin_somewhere)));
        }
        q.load(conn)
    }

    /// The id of the user called `username` (exact match in the database's collation, so
    /// case-insensitive on MySQL/MariaDB as in CamCOPS).
    pub fn id_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<i32>> {
        _security_users::table
            .filter(_security_users::username.eq(username))
            .select(_security_users::id)
            .first(conn)
            .optional()
    }

    /// The id of a user whose name equals `username` regardless of case (`ADMIN` and `admin`
    /// would read as the same person), other than `except`.
    pub fn id_by_username_any_case(
        conn: &mut DbConnection,
        username: &str,
        except: Option<i32>,
    ) -> QueryResult<Option<i32>> {
        let mut q = _security_users::table
            .filter(crate::db::lower(_security_users::username).eq(crate::db::lower(username)))
            .into_boxed();
        if let Some(id) = except {
            q = q.filter(_security_users::id.ne(id));
        }
        q.select(_security_users::id)
            .order(_security_users::id.asc())
            .first(conn)
            .optional()
    }

    /// Rewrites what the edit page edits: username, full name, e-mail, forced password
    /// change, language.
    pub fn set_details(
        conn: &mut DbConnection,
        id: i32,
        details: &UserDetails<'_>,
    ) -> QueryResult<usize> {
        diesel::update(_security_users::table.find(id))
            .set((
                _security_users::username.eq(details.username),
                _security_users::fullname.eq(Some(details.fullname)),
                _security_users::email.eq(Some(details.email)),
                _security_users::phone_number.eq(details.phone_number),
                _security_users::must_change_password.eq(Some(details.must_change_password)),
                _security_users::language.eq(Some(details.language)),
            ))
            .execute(conn)
    }

    /// Sets or clears the superuser flag.
    pub fn set_superuser(conn: &mut DbConnection, id: i32, value: bool) -> QueryResult<usize> {
        diesel::update(_security_users::table.find(id))
            .set(_security_users::superuser.eq(Some(value)))
            .execute(conn)
    }

    /// Sets the group the user uploads into (None: no upload group).
    pub fn set_upload_group(
        conn: &mut DbConnection,
        id: i32,
        group_id: Option<i32>,
    ) -> QueryResult<usize> {
        diesel::update(_security_users::table.find(id))
            .set(_security_users::upload_group_id.eq(group_id))
            .execute(conn)
    }

    /// Inserts a user and returns its id.
    pub fn insert(conn: &mut DbConnection, new: &NewUser<'_>) -> QueryResult<i32> {
        diesel::insert_into(_security_users::table)
            .values(new)
            .execute(conn)?;
        last_insert_id(conn)
    }

    /// Stores a new password hash, records the change time and clears the forced-change flag.
    pub fn set_password_hash(
        conn: &mut DbConnection,
        id: i32,
        hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(_security_users::table.find(id))
            .set((
                _security_users::hashedpw.eq(hash),
                _security_users::last_password_change_utc.eq(Some(now)),
                _security_users::must_change_password.eq(Some(false)),
            ))
            .execute(conn)
    }

    /// Replaces the hash without counting it as a password change (cost upgrade at login).
    pub fn upgrade_hash(conn: &mut DbConnection, id: i32, hash: &str) -> QueryResult<usize> {
        diesel::update(_security_users::table.find(id))
            .set(_security_users::hashedpw.eq(hash))
            .execute(conn)
    }

    /// Sets or clears the forced password change flag.
    pub fn set_must_change_password(
        conn: &mut DbConnection,
        id: i32,
        value: bool,
    ) -> QueryResult<usize> {
        diesel::update(_security_users::table.find(id))
            .set(_security_users::must_change_password.eq(Some(value)))
            .execute(conn)
    }

    /// Records a successful web login.
    pub fn set_last_login(
        conn: &mut DbConnection,
        id: i32,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(_security_users::table.find(id))
            .set(_security_users::last_login_at_utc.eq(Some(now)))
            .execute(conn)
    }

    /// Moves the HOTP counter from `expected` to `expected + 1`, only if it still is
    /// `expected` (compare and set): 1 if it moved, 0 if another request (or CamCOPS) moved
    /// it first.
    pub fn advance_hotp_counter(
        conn: &mut DbConnection,
        id: i32,
        expected: i32,
    ) -> QueryResult<usize> {
        diesel::update(
            _security_users::table
                .find(id)
                .filter(_security_users::hotp_counter.eq(expected)),
        )
        .set(_security_users::hotp_counter.eq(_security_users::hotp_counter + 1))
        .execute(conn)
    }

    /// Increments the HOTP counter (as CamCOPS before it sends a code) and returns the new
    /// value, read back in the same transaction (the update holds the row, so racing
    /// requests each get their own value). `None` if the user is gone.
    pub fn increment_hotp_counter(conn: &mut DbConnection, id: i32) -> QueryResult<Option<i32>> {
        diesel::update(_security_users::table.find(id))
            .set(_security_users::hotp_counter.eq(_security_users::hotp_counter + 1))
            .execute(conn)?;
        _security_users::table
            .find(id)
            .select(_security_users::hotp_counter)
            .first(conn)
            .optional()
    }

    /// Sets the MFA method, secret and HOTP counter together.
    pub fn set_mfa(
        conn: &mut DbConnection,
        id: i32,
        method: &str,
        secret: Option<&str>,
        counter: i32,
    ) -> QueryResult<usize> {
        if method == "no_mfa" {
            // No second factor, no recovery codes: switched on again later, old codes stay void.
            crate::models::recovery_code::delete_for_user(conn, id)?;
        }
        diesel::update(_security_users::table.find(id))
            .set((
                _security_users::mfa_method.eq(method),
                _security_users::mfa_secret_key.eq(secret),
                _security_users::hotp_counter.eq(counter),
            ))
            .execute(conn)
    }

    /// Sets the MFA method, secret and HOTP counter together with where its codes go: the
    /// e-mail address (`hotp_email`) or phone number (`hotp_sms`); the other is left as is.
    pub fn set_mfa_sending_to(
        conn: &mut DbConnection,
        id: i32,
        method: &str,
        secret: &str,
        counter: i32,
        to: &str,
    ) -> QueryResult<usize> {
        let n = Self::set_mfa(conn, id, method, Some(secret), counter)?;
        let target = _security_users::table.find(id);
        if method == "hotp_sms" {
            diesel::update(target)
                .set(_security_users::phone_number.eq(Some(to)))
                .execute(conn)?;
        } else {
            diesel::update(target)
                .set(_security_users::email.eq(Some(to)))
                .execute(conn)?;
        }
        Ok(n)
    }

    /// Records that the user agreed the terms of use (`when` as CamCOPS stores it, see
    /// `auth::terms::agreed_at`).
    pub fn set_agreed_terms(conn: &mut DbConnection, id: i32, when: &str) -> QueryResult<usize> {
        diesel::update(_security_users::table.find(id))
            .set(_security_users::when_agreed_terms_of_use.eq(Some(when)))
            .execute(conn)
    }

    /// Deletes a user (their sessions go by ON DELETE CASCADE).
    pub fn delete(conn: &mut DbConnection, id: i32) -> QueryResult<usize> {
        diesel::delete(_security_users::table.find(id)).execute(conn)
    }
}
