//! The schema the migrations must make (spec sessions §1, plus `created_at_utc`, deliberate
//! difference 7): tables with their columns in order, foreign keys, indexes.

use std::fmt;

/// A column type as all three backends should agree on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    Int,
    BigInt,
    Varchar(u32),
    Text,
    Bool,
    Timestamp,
    Date,
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Varchar(n) => write!(f, "VARCHAR({n})"),
            other => write!(f, "{}", format!("{other:?}").to_uppercase()),
        }
    }
}

use Ty::{Bool, Date, Int, Text, Timestamp, Varchar as V};
const TS: Ty = Timestamp;

#[derive(Clone, Copy)]
pub(super) struct Col {
    pub(super) name: &'static str,
    pub(super) ty: Ty,
    pub(super) nullable: bool,
    pub(super) default: Option<&'static str>,
    pub(super) autoinc: bool,
}

/// A nullable column.
pub(super) const fn null(name: &'static str, ty: Ty) -> Col {
    Col {
        name,
        ty,
        nullable: true,
        default: None,
        autoinc: false,
    }
}

/// A NOT NULL column.
pub(super) const fn req(name: &'static str, ty: Ty) -> Col {
    Col {
        nullable: false,
        ..null(name, ty)
    }
}

/// An autoincrementing INTEGER primary key.
pub(super) const fn serial(name: &'static str) -> Col {
    Col {
        autoinc: true,
        ..req(name, Int)
    }
}

impl Col {
    pub(super) const fn default(self, value: &'static str) -> Col {
        Col {
            default: Some(value),
            ..self
        }
    }

    pub(super) fn describe(&self) -> String {
        describe(
            self.name,
            &self.ty.to_string(),
            self.nullable,
            self.default,
            self.autoinc,
        )
    }
}

pub(super) fn describe(
    name: &str,
    ty: &str,
    nullable: bool,
    default: Option<&str>,
    autoinc: bool,
) -> String {
    let mut s = format!("{name} {ty} {}", if nullable { "NULL" } else { "NOT NULL" });
    if let Some(d) = default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    if autoinc {
        s.push_str(" AUTOINCREMENT");
    }
    s
}

pub(super) struct Table {
    pub(super) name: &'static str,
    pub(super) pk: &'static [&'static str],
    pub(super) cols: &'static [Col],
}

const BOOLS: [&str; 10] = [
    "groupadmin",
    "may_upload",
    "may_register_devices",
    "may_use_webviewer",
    "view_all_patients_when_unfiltered",
    "may_dump_data",
    "may_run_reports",
    "may_add_notes",
    "may_manage_patients",
    "may_email_patients",
];

pub(super) const TABLES: &[Table] = &[
    Table {
        name: "_security_webviewer_sessions",
        pk: &["id"],
        cols: &[
            serial("id"),
            null("token", V(88)),
            null("ip_address", V(45)),
            null("user_id", Int),
            null("last_activity_utc", TS),
            null("number_to_view", Int),
            null("task_filter_id", Int),
            null("is_api_session", Bool),
            null("form_state", Text),
            null("created_at_utc", TS),
        ],
    },
    Table {
        name: "_security_users",
        pk: &["id"],
        cols: &[
            serial("id"),
            req("username", V(191)),
            null("fullname", V(255)),
            null("email", V(255)),
            null("phone_number", V(128)),
            req("hashedpw", V(60)),
            null("mfa_secret_key", V(32)),
            req("mfa_method", V(20)).default("no_mfa"),
            req("hotp_counter", Int).default("0"),
            null("last_login_at_utc", TS),
            null("last_password_change_utc", TS),
            null("superuser", Bool),
            null("must_change_password", Bool),
            null("when_agreed_terms_of_use", V(32)),
            null("upload_group_id", Int),
            null("language", V(6)),
            req("auto_generated", Bool),
            null("single_patient_pk", Int),
        ],
    },
    Table {
        name: "_security_login_failures",
        pk: &["id"],
        cols: &[
            serial("id"),
            req("username", V(191)),
            req("login_failure_at", TS),
        ],
    },
    Table {
        name: "_security_account_lockouts",
        pk: &["id"],
        cols: &[
            serial("id"),
            req("username", V(191)),
            req("locked_until", TS),
        ],
    },
    Table {
        name: "_task_filters",
        pk: &["id"],
        cols: &[
            serial("id"),
            null("task_types", Text),
            null("tasks_offering_trackers_only", Bool),
            null("tasks_with_patient_only", Bool),
            null("surname", V(255)),
            null("forename", V(255)),
            null("dob", Date),
            null("sex", V(1)),
            null("idnum_criteria", Text),
            null("device_ids", Text),
            null("user_ids", Text),
            null("group_ids", Text),
            null("start_datetime_iso8601", V(32)),
            null("end_datetime_iso8601", V(32)),
            null("text_contents", Text),
            null("complete_only", Bool),
        ],
    },
    Table {
        name: "_security_groups",
        pk: &["id"],
        cols: &[
            serial("id"),
            req("name", V(191)),
            null("description", V(255)),
            null("upload_policy", V(255)),
            null("finalize_policy", V(255)),
            null("ip_use_id", Int),
        ],
    },
    Table {
        name: "_security_ip_use",
        pk: &["id"],
        cols: &[
            serial("id"),
            req("clinical", Bool),
            req("commercial", Bool),
            req("educational", Bool),
            req("research", Bool),
        ],
    },
    Table {
        name: "cw_totp_last_step",
        pk: &["user_id"],
        cols: &[req("user_id", Int), req("last_step", Ty::BigInt)],
    },
    Table {
        name: "_security_group_group",
        pk: &["group_id", "can_see_group_id"],
        cols: &[req("group_id", Int), req("can_see_group_id", Int)],
    },
    Table {
        name: "_security_user_group",
        pk: &["id"],
        cols: &[
            serial("id"),
            null("user_id", Int),
            null("group_id", Int),
            null(BOOLS[0], Bool),
            null(BOOLS[1], Bool),
            null(BOOLS[2], Bool),
            null(BOOLS[3], Bool),
            null(BOOLS[4], Bool),
            null(BOOLS[5], Bool),
            null(BOOLS[6], Bool),
            null(BOOLS[7], Bool),
            null(BOOLS[8], Bool),
            null(BOOLS[9], Bool),
        ],
    },
    Table {
        name: "_server_settings",
        pk: &["id"],
        cols: &[
            req("id", Int),
            null("database_title", V(255)),
            null("last_dummy_login_failure_clearance_at_utc", TS),
        ],
    },
    Table {
        name: "_security_audit",
        pk: &["id"],
        cols: &[
            serial("id"),
            req("when_access_utc", TS),
            req("source", V(20)),
            null("remote_addr", V(45)),
            null("user_id", Int),
            null("device_id", Int),
            null("table_name", V(128)),
            null("server_pk", Int),
            null("patient_server_pk", Int),
            null("details", Text),
        ],
    },
    Table {
        name: "_security_devices",
        pk: &["id"],
        cols: &[
            serial("id"),
            null("name", V(191)),
            null("friendly_name", V(255)),
            null("camcops_version", V(32)),
            null("registered_by_user_id", Int),
            null("when_registered_utc", TS),
            null("last_upload_batch_utc", TS),
            null("currently_preserving", Bool),
            null("ongoing_upload_batch_utc", TS),
            null("uploading_user_id", Int),
        ],
    },
    Table {
        name: "_task_index",
        pk: &["index_entry_pk"],
        cols: &[
            serial("index_entry_pk"),
            req("indexed_at_utc", TS),
            null("task_table_name", V(128)),
            null("task_pk", Int),
            null("patient_pk", Int),
            req("device_id", Int),
            req("era", V(32)),
            req("when_created_utc", TS),
            req("when_created_iso", V(32)),
            req("when_added_batch_utc", TS),
            null("adding_user_id", Int),
            req("group_id", Int),
            req("task_is_complete", Bool),
        ],
    },
    Table {
        name: "_idnum_index",
        pk: &["idnum_pk"],
        cols: &[
            serial("idnum_pk"),
            req("indexed_at_utc", TS),
            null("patient_pk", Int),
            req("which_idnum", Int),
            null("idnum_value", Ty::BigInt),
        ],
    },
    Table {
        name: "_idnum_definitions",
        pk: &["which_idnum"],
        cols: &[
            req("which_idnum", Int),
            null("description", V(255)),
            null("short_description", V(255)),
            null("validation_method", V(255)),
        ],
    },
    Table {
        name: "cw_mfa_recovery_codes",
        pk: &["id"],
        cols: &[
            serial("id"),
            req("user_id", Int),
            req("code_hash", V(64)),
            req("created_at_utc", TS),
            null("used_at_utc", TS),
        ],
    },
    Table {
        name: "patient",
        pk: &["_pk"],
        cols: &[
            serial("_pk"),
            req("id", Int),
            null("forename", V(255)),
            null("surname", V(255)),
            null("dob", Date),
            null("sex", V(1)),
            req("_device_id", Int),
            req("_era", V(32)),
            req("_current", Bool),
            req("_group_id", Int),
        ],
    },
];

/// `(table, constraint name, column, referenced table, referenced column, ON DELETE)`.
#[rustfmt::skip]
pub(super) const FOREIGN_KEYS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("_security_webviewer_sessions", "fk__security_webviewer_sessions_user_id", "user_id", "_security_users", "id", "CASCADE"),
    ("_security_webviewer_sessions", "fk__security_webviewer_sessions_task_filter_id", "task_filter_id", "_task_filters", "id", "NO ACTION"),
    ("_security_users", "fk__security_users_upload_group_id", "upload_group_id", "_security_groups", "id", "NO ACTION"),
    ("_security_users", "fk__security_users_single_patient_pk", "single_patient_pk", "patient", "_pk", "SET NULL"),
    ("_security_user_group", "fk__security_user_group_user_id", "user_id", "_security_users", "id", "NO ACTION"),
    ("_security_user_group", "fk__security_user_group_group_id", "group_id", "_security_groups", "id", "NO ACTION"),
    ("_security_group_group", "fk__security_group_group_group_id", "group_id", "_security_groups", "id", "NO ACTION"),
    ("_security_group_group", "fk__security_group_group_can_see_group_id", "can_see_group_id", "_security_groups", "id", "NO ACTION"),
    ("_security_devices", "fk__security_devices_registered_by_user_id", "registered_by_user_id", "_security_users", "id", "NO ACTION"),
    ("_security_devices", "fk__security_devices_uploading_user_id", "uploading_user_id", "_security_users", "id", "NO ACTION"),
    ("_security_audit", "fk__security_audit_user_id", "user_id", "_security_users", "id", "SET NULL"),
    ("_security_audit", "fk__security_audit_device_id", "device_id", "_security_devices", "id", "NO ACTION"),
    ("patient", "fk_patient__device_id", "_device_id", "_security_devices", "id", "NO ACTION"),
    ("patient", "fk_patient__group_id", "_group_id", "_security_groups", "id", "NO ACTION"),
    ("_idnum_index", "fk__idnum_index_patient_pk", "patient_pk", "patient", "_pk", "NO ACTION"),
    ("_idnum_index", "fk__idnum_index_which_idnum", "which_idnum", "_idnum_definitions", "which_idnum", "NO ACTION"),
    ("_task_index", "fk__task_index_patient_pk", "patient_pk", "patient", "_pk", "NO ACTION"),
    ("_task_index", "fk__task_index_device_id", "device_id", "_security_devices", "id", "NO ACTION"),
    ("_task_index", "fk__task_index_adding_user_id", "adding_user_id", "_security_users", "id", "NO ACTION"),
    ("_task_index", "fk__task_index_group_id", "group_id", "_security_groups", "id", "NO ACTION"),
    ("cw_mfa_recovery_codes", "fk_cw_mfa_recovery_codes_user_id", "user_id", "_security_users", "id", "CASCADE"),
    ("cw_totp_last_step", "fk_cw_totp_last_step_user_id", "user_id", "_security_users", "id", "CASCADE"),
];

/// Foreign keys only PostgreSQL and MariaDB have: SQLite cannot add a constraint to an
/// existing table (the 2026-12-01 migration's comment).
#[rustfmt::skip]
pub(super) const SERVER_ONLY_FOREIGN_KEYS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("_security_groups", "fk__security_groups_ip_use_id", "ip_use_id", "_security_ip_use", "id", "NO ACTION"),
];

/// `(table, index name, columns, unique)`: these must exist (backends may add more, e.g.
/// MariaDB's own indexes for foreign keys).
#[rustfmt::skip]
pub(super) const INDEXES: &[(&str, &str, &[&str], bool)] = &[
    ("_security_webviewer_sessions", "ix__security_webviewer_sessions_user_id", &["user_id"], false),
    ("_security_webviewer_sessions", "ix__security_webviewer_sessions_last_activity_utc", &["last_activity_utc"], false),
    ("_security_webviewer_sessions", "ix__security_webviewer_sessions_task_filter_id", &["task_filter_id"], false),
    ("_security_users", "ix__security_users_username", &["username"], true),
    ("_security_groups", "ix__security_groups_name", &["name"], true),
    ("_security_devices", "ix__security_devices_name", &["name"], true),
    ("_security_user_group", "ix__security_user_group_user_id", &["user_id"], false),
    ("_security_user_group", "ix__security_user_group_group_id", &["group_id"], false),
    ("_security_user_group", "ux__security_user_group_user_group", &["user_id", "group_id"], true),
    ("_security_login_failures", "ix__security_login_failures_username", &["username"], false),
    ("_security_login_failures", "ix__security_login_failures_login_failure_at", &["login_failure_at"], false),
    ("_security_account_lockouts", "ix__security_account_lockouts_username", &["username"], false),
    ("_security_account_lockouts", "ix__security_account_lockouts_locked_until", &["locked_until"], false),
    ("_security_audit", "ix__security_audit_when_access_utc", &["when_access_utc"], false),
    ("_security_audit", "cw_ix__security_audit_source_id", &["source", "id"], false),
    ("_security_audit", "cw_ix__security_audit_remote_addr_id", &["remote_addr", "id"], false),
    ("_security_audit", "cw_ix__security_audit_table_pk_id", &["table_name", "server_pk", "id"], false),
    ("_security_audit", "cw_ix__security_audit_server_pk_id", &["server_pk", "id"], false),
    ("patient", "ix_patient_surname", &["surname"], false),
    ("patient", "ix_patient_forename", &["forename"], false),
    ("patient", "ix_patient_dob", &["dob"], false),
    ("_idnum_index", "ix__idnum_index_patient_pk", &["patient_pk"], false),
    ("_idnum_index", "ix__idnum_index_which_idnum", &["which_idnum", "idnum_value"], false),
    ("_task_index", "ix__task_index_task_table_name", &["task_table_name"], false),
    ("_task_index", "ix__task_index_task_pk", &["task_pk"], false),
    ("_task_index", "ix__task_index_patient_pk", &["patient_pk"], false),
    ("_task_index", "ix__task_index_device_id", &["device_id"], false),
    ("_task_index", "ix__task_index_era", &["era"], false),
    ("_task_index", "ix__task_index_when_created_utc", &["when_created_utc"], false),
    ("_task_index", "ix__task_index_when_created_iso", &["when_created_iso"], false),
    ("_task_index", "ix__task_index_group_id", &["group_id"], false),
    ("_task_index", "ix__task_index_group_created", &["group_id", "when_created_utc"], false),
    ("_task_index", "ix__task_index_created_batch", &["when_created_utc", "when_added_batch_utc", "index_entry_pk", "patient_pk", "group_id"], false),
    ("_task_index", "ix__task_index_patient_group", &["patient_pk", "group_id"], false),
    ("_task_index", "ix__task_index_adding_user_id", &["adding_user_id"], false),
    ("cw_mfa_recovery_codes", "cw_ix_cw_mfa_recovery_codes_user_id", &["user_id"], false),
];
