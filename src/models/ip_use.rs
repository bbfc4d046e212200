//! `_security_ip_use`: what a group's data may be used for (clinical, commercial,
//! educational, research), one row per group that has settings (`_security_groups.ip_use_id`).

use diesel::prelude::*;

use crate::db::schema::_security_ip_use;
use crate::db::{last_insert_id, DbConnection, MultiBackend};

/// The four flags of a group's intellectual-property settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = _security_ip_use, check_for_backend(MultiBackend))]
pub struct IpUseFlags {
    /// Applicable to a clinical context.
    pub clinical: bool,
    /// Applicable to a commercial context.
    pub commercial: bool,
    /// Applicable to an educational context.
    pub educational: bool,
    /// Applicable to a research context.
    pub research: bool,
}

impl IpUseFlags {
    /// `clinical, research` style list of the flags set ("none" if none).
    pub fn describe(&self) -> String {
        let names: Vec<&str> = [
            (self.clinical, "clinical"),
            (self.commercial, "commercial"),
            (self.educational, "educational"),
            (self.research, "research"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }

    /// The flags of row `id`, if it exists.
    pub fn find(conn: &mut DbConnection, id: i32) -> QueryResult<Option<IpUseFlags>> {
        _security_ip_use::table
            .find(id)
            .select(IpUseFlags::as_select())
            .get_result(conn)
            .optional()
    }

    /// The flags of the given rows: `(id, flags)`.
    pub fn for_ids(conn: &mut DbConnection, ids: &[i32]) -> QueryResult<Vec<(i32, IpUseFlags)>> {
        _security_ip_use::table
            .filter(_security_ip_use::id.eq_any(ids))
            .select((_security_ip_use::id, IpUseFlags::as_select()))
            .load(conn)
    }

    /// Writes the flags: over row `existing` when it exists (as the original reuses a
    /// group's row), else into a new row. Returns the row's id.
    pub fn save(&self, conn: &mut DbConnection, existing: Option<i32>) -> QueryResult<i32> {
        use _security_ip_use::dsl as u;
        let values = (
            u::clinical.eq(self.clinical),
            u::commercial.eq(self.commercial),
            u::educational.eq(self.educational),
            u::research.eq(self.research),
        );
        // Found first: MariaDB counts only rows whose values changed as updated.
        let found = match existing {
            Some(id) => IpUseFlags::find(conn, id)?.map(|_| id),
            None => None,
        };
        if let Some(id) = found {
            diesel::update(u::_security_ip_use.find(id))
                .set(values)
                .execute(conn)?;
            return Ok(id);
        }
        diesel::insert_into(u::_security_ip_use)
            .values(values)
            .execute(conn)?;
        last_insert_id(conn)
    }

    /// Deletes row `id` (a deleted group's settings).
    pub fn delete(conn: &mut DbConnection, id: i32) -> QueryResult<usize> {
        diesel::delete(_security_ip_use::table.find(id)).execute(conn)
    }
}
