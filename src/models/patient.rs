//! `patient`: the patient records tasks refer to (only the columns the task list needs).

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::patient;
use crate::db::{last_insert_id, DbConnection, MultiBackend};

/// The `_era` of a record still live on its tablet.
pub const ERA_NOW: &str = "NOW";

/// One row of `patient`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = patient, check_for_backend(MultiBackend))]
pub struct Patient {
    /// Server primary key.
    pub _pk: i32,
    /// Client-side id (unique per device and era).
    pub id: i32,
    /// Forename.
    pub forename: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Date of birth.
    pub dob: Option<NaiveDate>,
    /// Sex (`F`, `M`, `X`).
    pub sex: Option<String>,
    /// Source device.
    pub _device_id: i32,
    /// Era (`NOW` while live on the tablet).
    pub _era: String,
    /// Whether this is the current version of the record.
    pub _current: bool,
    /// Owning group.
    pub _group_id: i32,
}

/// A patient to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = patient)]
pub struct NewPatient<'a> {
    /// Client-side id.
    pub id: i32,
    /// Forename.
    pub forename: Option<&'a str>,
    /// Surname.
    pub surname: Option<&'a str>,
    /// Date of birth.
    pub dob: Option<NaiveDate>,
    /// Sex.
    pub sex: Option<&'a str>,
    /// Source device.
    pub _device_id: i32,
    /// Era.
    pub _era: &'a str,
    /// Current flag.
    pub _current: bool,
    /// Owning group.
    pub _group_id: i32,
}

impl Patient {
    /// "SURNAME, Forename" as the task list shows it ("?" for missing parts).
    pub fn display_name(&self) -> String {
        format_patient_name(self.surname.as_deref(), self.forename.as_deref())
    }

    /// Finds a patient by server primary key.
    pub fn find(conn: &mut DbConnection, pk: i32) -> QueryResult<Option<Patient>> {
        patient::table
            .find(pk)
            .select(Patient::as_select())
            .get_result(conn)
            .optional()
    }

    /// Current patients of a group, by surname then forename (for pickers; limited).
    pub fn in_group(
        conn: &mut DbConnection,
        group_id: i32,
        limit: i64,
    ) -> QueryResult<Vec<Patient>> {
        patient::table
            .filter(patient::_group_id.eq(group_id))
            .filter(patient::_current.eq(true))
            .order((
                patient::surname.asc(),
                patient::forename.asc(),
                patient::_pk.asc(),
            ))
            .limit(limit)
            .select(Patient::as_select())
            .load(conn)
    }

    /// Inserts a patient and returns its server primary key.
    pub fn insert(conn: &mut DbConnection, new: &NewPatient<'_>) -> QueryResult<i32> {
        diesel::insert_into(patient::table)
            .values(new)
            .execute(conn)?;
        last_insert_id(conn)
    }

    /// Number of patient rows.
    pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        patient::table.count().get_result(conn)
    }
}

/// "SURNAME, Forename" with "?" for a missing part.
pub fn format_patient_name(surname: Option<&str>, forename: Option<&str>) -> String {
    let s = surname.filter(|s| !s.is_empty()).unwrap_or("?");
    let f = forename.filter(|s| !s.is_empty()).unwrap_or("?");
    format!("{}, {}", s.to_uppercase(), f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_format_like_the_task_list() {
        assert_eq!(
            format_patient_name(Some("Smith"), Some("Ann")),
            "SMITH, Ann"
        );
        assert_eq!(format_patient_name(None, Some("")), "?, ?");
    }
}
