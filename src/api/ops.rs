//! The operations (sessions §5.4): which class each belongs to, the permission checks in the
//! original's order, and the ones this server implements (`check_device_registered`,
//! `register`, `check_upload_user_and_device`, `get_id_info`). Runs inside the caller's
//! transaction; no HTTP here.

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, QueryResult};

use super::fields::ApiRequest;
use super::wire::Reply;
use crate::auth::principal::AuthUser;
use crate::db::DbConnection;
use crate::models::audit::{audit, AuditSource};
use crate::models::device::{Device, NewDevice};
use crate::models::group::Group;
use crate::models::idnum::IdNumDefinition;
use crate::models::server_settings;

/// The error for no (valid) user; also the reply to every failed or refused login.
pub const INVALID_USER: &str = "Invalid username/password (or user not authorized)";
/// The CamCOPS server version whose client API this implements (tablets check it).
pub const SERVER_CAMCOPS_VERSION: &str = "2.4.24";

/// Operations open to anyone (`OPERATIONS_ANYONE`).
pub const OPERATIONS_ANYONE: &[&str] = &["check_device_registered", "register_patient"];
/// Operations needing device-registration permission (`OPERATIONS_REGISTRATION`).
pub const OPERATIONS_REGISTRATION: &[&str] = &[
    "get_allowed_tables",
    "get_extra_strings",
    "get_task_schedules",
    "register",
];
/// Operations needing upload permission and a registered device (`OPERATIONS_UPLOAD`).
pub const OPERATIONS_UPLOAD: &[&str] = &[
    "check_upload_user_and_device",
    "delete_where_key_not",
    "end_upload",
    "get_id_info",
    "start_preservation",
    "start_upload",
    "upload_empty_tables",
    "upload_entire_database",
    "upload_record",
    "upload_table",
    "validate_patients",
    "which_keys_to_send",
];

/// Whether `op` writes to the database (so it cannot run in a read-only unit).
pub fn writes(op: &str) -> bool {
    op == "register"
}

/// Whether `op` is open to anyone.
pub fn is_anyone_op(op: &str) -> bool {
    OPERATIONS_ANYONE.contains(&op)
}

/// The reply to an operation when nobody is logged in (needs no database): the missing-user
/// error for operations that need a user, "not supported" for the rest.
pub fn without_user(op: &str) -> Reply {
    if OPERATIONS_REGISTRATION.contains(&op) || OPERATIONS_UPLOAD.contains(&op) {
        Reply::error(INVALID_USER)
    } else {
        not_supported(op)
    }
}

fn not_supported(op: &str) -> Reply {
    Reply::error(&format!("operation={op}: not supported"))
}

/// Who is calling and from where (for the operation and its audit rows).
pub struct Ctx<'a> {
    /// The request.
    pub req: &'a ApiRequest,
    /// The authenticated user, if any.
    pub user: Option<&'a AuthUser>,
    /// Request time.
    pub now: NaiveDateTime,
    /// Client address.
    pub ip: &'a str,
}

/// Runs the operation: permission checks of its class, then the operation itself.
pub fn run(conn: &mut DbConnection, ctx: &Ctx<'_>) -> QueryResult<Reply> {
    let op = ctx.req.operation.as_str();
    let not_supported = || not_supported(op);
    if is_anyone_op(op) {
        return match op {
            "check_device_registered" => Ok(match find_device(conn, ctx)? {
                Some(_) => Reply::done(op),
                None => Reply::error("Unregistered device"),
            }),
            _ => Ok(not_supported()),
        };
    }
    if OPERATIONS_REGISTRATION.contains(&op) {
        let user = match registration_user(ctx.user) {
            Ok(u) => u,
            Err(e) => return Ok(e),
        };
        return match op {
            "register" => register(conn, ctx, user),
            _ => Ok(not_supported()),
        };
    }
    if OPERATIONS_UPLOAD.contains(&op) {
        let user = match upload_user(ctx.user) {
            Ok(u) => u,
            Err(e) => return Ok(e),
        };
        if find_device(conn, ctx)?.is_none() {
            return Ok(Reply::error("Unregistered device"));
        }
        return match op {
            "check_upload_user_and_device" => Ok(Reply::done(op)),
            "get_id_info" => Ok(Reply::with_items(server_id_info(conn, user)?)),
            _ => Ok(not_supported()),
        };
    }
    Ok(not_supported())
}

fn find_device(conn: &mut DbConnection, ctx: &Ctx<'_>) -> QueryResult<Option<Device>> {
    Device::find_by_name(conn, &ctx.req.device)
}

/// `ensure_valid_user_for_device_registration`.
fn registration_user(user: Option<&AuthUser>) -> Result<&AuthUser, Reply> {
    user_with_upload_group(
        user,
        AuthUser::may_register_devices,
        "User not authorized to register devices for selected group",
    )
}

/// `ensure_valid_device_and_user_for_uploading`, without the device (checked last).
fn upload_user(user: Option<&AuthUser>) -> Result<&AuthUser, Reply> {
    user_with_upload_group(
        user,
        AuthUser::may_upload,
        "User not authorized to upload to selected group",
    )
}

/// A user with an upload group who may do what `allowed` says there, else the error reply
/// (`refusal` when not allowed).
fn user_with_upload_group<'u>(
    user: Option<&'u AuthUser>,
    allowed: fn(&AuthUser) -> bool,
    refusal: &str,
) -> Result<&'u AuthUser, Reply> {
    let user = user.ok_or_else(|| Reply::error(INVALID_USER))?;
    if user.user.upload_group_id.is_none() {
        return Err(no_upload_group(user));
    }
    if !allowed(user) {
        return Err(Reply::error(refusal));
    }
    Ok(user)
}

fn no_upload_group(user: &AuthUser) -> Reply {
    Reply::error(&format!(
        "No upload group set for user {}",
        user.user.username
    ))
}

/// `op_register`: inserts the device, or accepts a re-registration by updating it; audits;
/// replies with the server's ID information.
fn register(conn: &mut DbConnection, ctx: &Ctx<'_>, user: &AuthUser) -> QueryResult<Reply> {
    let friendly = ctx.req.friendly_name.as_deref();
    let version = Some(ctx.req.camcops_version.as_str());
    let existing = find_device(conn, ctx)?;
    let id = match existing {
        Some(d) => {
            Device::reregister(conn, d.id, friendly, version, Some(user.id()), ctx.now)?;
            d.id
        }
        None => {
            let new = NewDevice {
                name: &ctx.req.device,
                friendly_name: friendly,
                camcops_version: version,
                registered_by_user_id: Some(user.id()),
                when_registered_utc: Some(ctx.now),
                currently_preserving: Some(false),
            };
            // A savepoint, so that losing a race with another registration of the same
            // name leaves our transaction usable (PostgreSQL aborts it otherwise).
            match conn.transaction(|c| Device::insert(c, &new)) {
                Ok(id) => id,
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                    return Ok(Reply::error("Failed to insert record"));
                }
                Err(e) => return Err(e),
            }
        }
    };
    audit(
        conn,
        ctx.now,
        AuditSource::Tablet,
        Some(ctx.ip),
        Some(user.id()),
        Some(id),
        &format!(
            "register, device_id={id}, friendly_name={}",
            friendly.unwrap_or("None")
        ),
    )?;
    log::info!(
        "API: device {:?} (id {id}) registered by user {}",
        ctx.req.device,
        user.user.username
    );
    Ok(Reply::with_items(server_id_info(conn, user)?))
}

/// `get_server_id_info`: database title, the upload group's ID policies, the server version
/// and each ID number's descriptions and validation method.
pub fn server_id_info(
    conn: &mut DbConnection,
    user: &AuthUser,
) -> QueryResult<Vec<(String, String)>> {
    let group = match user.user.upload_group_id {
        Some(g) => Group::find(conn, g)?,
        None => None,
    };
    let (upload, finalize) = group
        .map(|g| (g.upload_policy, g.finalize_policy))
        .unwrap_or_default();
    let mut items = vec![
        (
            "databaseTitle".to_string(),
            server_settings::database_title(conn)?,
        ),
        ("idPolicyUpload".into(), upload.unwrap_or_default()),
        ("idPolicyFinalize".into(), finalize.unwrap_or_default()),
        ("serverCamcopsVersion".into(), SERVER_CAMCOPS_VERSION.into()),
    ];
    for d in IdNumDefinition::all(conn)? {
        let n = d.which_idnum;
        items.push((
            format!("idDescription{n}"),
            d.description.unwrap_or_default(),
        ));
        items.push((
            format!("idShortDescription{n}"),
            d.short_description.unwrap_or_default(),
        ));
        items.push((
            format!("idValidationMethod{n}"),
            d.validation_method.unwrap_or_default(),
        ));
    }
    Ok(items)
}
