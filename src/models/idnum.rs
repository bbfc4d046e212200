//! `_idnum_definitions` (which ID number types exist) and `_idnum_index` (patients' ID numbers,
//! as used for ID-number filtering) (sessions §1.11), plus the NHS number checksum.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{_idnum_definitions, _idnum_index};
use crate::db::{last_insert_id, DbConnection, MultiBackend};

/// Validation method name for UK NHS numbers.
pub const VALIDATION_UK_NHS_NUMBER: &str = "uk_nhs_number";

/// One row of `_idnum_definitions`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = _idnum_definitions, check_for_backend(MultiBackend))]
pub struct IdNumDefinition {
    /// Which ID number this is (1, 2, ...); chosen by the administrator.
    pub which_idnum: i32,
    /// Description ("NHS number").
    pub description: Option<String>,
    /// Short description ("NHS").
    pub short_description: Option<String>,
    /// Validation method (e.g. `uk_nhs_number`), or none.
    pub validation_method: Option<String>,
}

impl IdNumDefinition {
    /// The short description, else the description, else `ID<n>`.
    pub fn short_name(&self) -> String {
        self.short_description
            .as_deref()
            .or(self.description.as_deref())
            .filter(|s| !s.is_empty())
            .map_or_else(|| format!("ID{}", self.which_idnum), str::to_owned)
    }

    /// Whether `value` passes this definition's validation method (unknown methods pass).
    pub fn is_valid_value(&self, value: i64) -> bool {
        match self.validation_method.as_deref() {
            Some(VALIDATION_UK_NHS_NUMBER) => is_valid_nhs_number(value),
            _ => value >= 0,
        }
    }

    /// All definitions, by number.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<IdNumDefinition>> {
        _idnum_definitions::table
            .order(_idnum_definitions::which_idnum.asc())
            .select(IdNumDefinition::as_select())
            .load(conn)
    }

    /// The definition for one number.
    pub fn find(conn: &mut DbConnection, which_idnum: i32) -> QueryResult<Option<IdNumDefinition>> {
        _idnum_definitions::table
            .find(which_idnum)
            .select(IdNumDefinition::as_select())
            .get_result(conn)
            .optional()
    }

    /// Inserts a definition (the key is chosen by the caller).
    pub fn insert(conn: &mut DbConnection, new: &IdNumDefinition) -> QueryResult<usize> {
        diesel::insert_into(_idnum_definitions::table)
            .values(new)
            .execute(conn)
    }
}

/// One row of `_idnum_index`: one ID number of one patient.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = _idnum_index, primary_key(idnum_pk), check_for_backend(MultiBackend))]
pub struct IdNumIndexEntry {
    /// Primary key (the original's `patient_idnum._pk`).
    pub idnum_pk: i32,
    /// When indexed (naive UTC).
    pub indexed_at_utc: NaiveDateTime,
    /// The patient (`patient._pk`).
    pub patient_pk: Option<i32>,
    /// Which ID number.
    pub which_idnum: i32,
    /// The value.
    pub idnum_value: Option<i64>,
}

/// An ID number index entry to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = _idnum_index)]
pub struct NewIdNumIndexEntry {
    /// When indexed (naive UTC).
    pub indexed_at_utc: NaiveDateTime,
    /// The patient.
    pub patient_pk: Option<i32>,
    /// Which ID number.
    pub which_idnum: i32,
    /// The value.
    pub idnum_value: Option<i64>,
}

impl IdNumIndexEntry {
    /// The ID numbers of one patient, by number.
    pub fn for_patient(
        conn: &mut DbConnection,
        patient_pk: i32,
    ) -> QueryResult<Vec<IdNumIndexEntry>> {
        _idnum_index::table
            .filter(_idnum_index::patient_pk.eq(patient_pk))
            .order(_idnum_index::which_idnum.asc())
            .select(IdNumIndexEntry::as_select())
            .load(conn)
    }

    /// Inserts an entry and returns its key.
    pub fn insert(conn: &mut DbConnection, new: &NewIdNumIndexEntry) -> QueryResult<i32> {
        diesel::insert_into(_idnum_index::table)
            .values(new)
            .execute(conn)?;
        last_insert_id(conn)
    }
}

/// The NHS number check digit for the first nine digits (`0..=999_999_999`), or `None` when
/// those digits cannot start a valid number (the modulus-11 check gives 10).
pub fn nhs_check_digit(first_nine: u64) -> Option<u64> {
    if first_nine > 999_999_999 {
        return None;
    }
    let mut rest = first_nine;
    let mut sum = 0;
    // Weights 10 (first digit) down to 2 (ninth digit).
    for weight in 2..=10 {
        sum += (rest % 10) * weight;
        rest /= 10;
    }
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        d => Some(d),
    }
}

/// Whether `n` is a ten-digit NHS number (leading zeros allowed) with a correct check digit.
pub fn is_valid_nhs_number(n: i64) -> bool {
    match u64::try_from(n) {
        Ok(n) if (1..=9_999_999_999).contains(&n) => {
            nhs_check_digit(n / 10).is_some_and(|d| d == n % 10)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhs_checksum_accepts_known_good_and_rejects_bad() {
        // Published example numbers with valid checksums.
        assert!(is_valid_nhs_number(9_434_765_919));
        assert!(is_valid_nhs_number(4_010_232_137));
        assert!(!is_valid_nhs_number(9_434_765_918));
        assert!(!is_valid_nhs_number(-1));
        assert!(!is_valid_nhs_number(12_345_678_901));
        assert_eq!(nhs_check_digit(943_476_591), Some(9));
        assert_eq!(nhs_check_digit(1_000_000_000), None);
    }

    #[test]
    fn definition_validates_with_its_method() {
        let nhs = IdNumDefinition {
            which_idnum: 1,
            description: Some("NHS number".into()),
            short_description: Some("NHS".into()),
            validation_method: Some(VALIDATION_UK_NHS_NUMBER.into()),
        };
        assert!(nhs.is_valid_value(9_434_765_919));
        assert!(!nhs.is_valid_value(123));
        assert_eq!(nhs.short_name(), "NHS");
        let other = IdNumDefinition {
            which_idnum: 7,
            description: None,
            short_description: None,
            validation_method: None,
        };
        assert!(other.is_valid_value(123));
        assert_eq!(other.short_name(), "ID7");
    }
}
