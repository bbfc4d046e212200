//! `_security_devices`: tablets and other clients that upload tasks.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::_security_devices;
use crate::db::{last_insert_id, DbConnection, MultiBackend};

/// One row of `_security_devices`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = _security_devices, check_for_backend(MultiBackend))]
pub struct Device {
    /// Primary key.
    pub id: i32,
    /// Unique device name (as the client reports it).
    pub name: Option<String>,
    /// Friendly name chosen by the user.
    pub friendly_name: Option<String>,
    /// CamCOPS client version.
    pub camcops_version: Option<String>,
    /// User who registered the device.
    pub registered_by_user_id: Option<i32>,
    /// When it was registered (naive UTC).
    pub when_registered_utc: Option<NaiveDateTime>,
    /// Start time of the last completed upload batch (naive UTC).
    pub last_upload_batch_utc: Option<NaiveDateTime>,
    /// Whether the device is in the middle of a "preserve" operation.
    pub currently_preserving: Option<bool>,
    /// Start time of an upload in progress (naive UTC).
    pub ongoing_upload_batch_utc: Option<NaiveDateTime>,
    /// User doing the upload in progress.
    pub uploading_user_id: Option<i32>,
}

/// A device to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = _security_devices)]
pub struct NewDevice<'a> {
    /// Unique device name.
    pub name: &'a str,
    /// Friendly name.
    pub friendly_name: Option<&'a str>,
    /// Client version.
    pub camcops_version: Option<&'a str>,
    /// Registering user.
    pub registered_by_user_id: Option<i32>,
    /// Registration time (naive UTC).
    pub when_registered_utc: Option<NaiveDateTime>,
    /// Not preserving.
    pub currently_preserving: Option<bool>,
}

impl Device {
    /// The name to show: the friendly name if set, else the device name, else `#id`.
    pub fn display_name(&self) -> String {
        self.friendly_name
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.name.as_deref())
            .map_or_else(|| format!("#{}", self.id), str::to_owned)
    }

    /// Finds a device by id.
    pub fn find(conn: &mut DbConnection, id: i32) -> QueryResult<Option<Device>> {
        _security_devices::table
            .find(id)
            .select(Device::as_select())
            .get_result(conn)
            .optional()
    }

    /// Finds a device by its unique name.
    pub fn find_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<Device>> {
        _security_devices::table
            .filter(_security_devices::name.eq(name))
            .select(Device::as_select())
            .get_result(conn)
            .optional()
    }

    /// All devices, by name.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<Device>> {
        _security_devices::table
            .order((_security_devices::name.asc(), _security_devices::id.asc()))
            .select(Device::as_select())
            .load(conn)
    }

    /// Devices with the given ids, by name.
    pub fn with_ids(conn: &mut DbConnection, ids: &[i32]) -> QueryResult<Vec<Device>> {
        _security_devices::table
            .filter(_security_devices::id.eq_any(ids))
            .order((_security_devices::name.asc(), _security_devices::id.asc()))
            .select(Device::as_select())
            .load(conn)
    }

    /// Accepts a re-registration (the tablet API's `register` for an existing name): new
    /// friendly name, client version, registering user and time.
    pub fn reregister(
        conn: &mut DbConnection,
        id: i32,
        friendly_name: Option<&str>,
        camcops_version: Option<&str>,
        registered_by_user_id: Option<i32>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(_security_devices::table.find(id))
            .set((
                _security_devices::friendly_name.eq(friendly_name),
                _security_devices::camcops_version.eq(camcops_version),
                _security_devices::registered_by_user_id.eq(registered_by_user_id),
                _security_devices::when_registered_utc.eq(Some(now)),
            ))
            .execute(conn)
    }

    /// Inserts a device and returns its id.
    pub fn insert(conn: &mut DbConnection, new: &NewDevice<'_>) -> QueryResult<i32> {
        diesel::insert_into(_security_devices::table)
            .values(new)
            .execute(conn)?;
        last_insert_id(conn)
    }
}
