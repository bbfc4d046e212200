//! What a task filter says in words on the task list: [`FilterNames`] (the names of the
//! ids a filter mentions, loaded in one go) and [`TaskFilter::description`].

use std::collections::HashMap;

use diesel::prelude::*;

use super::TaskFilter;
use crate::db::DbConnection;
use crate::models::device::Device;
use crate::models::group::Group;
use crate::models::idnum::IdNumDefinition;
use crate::models::task_registry;
use crate::models::user::User;

/// Names for the ids a filter mentions, for [`TaskFilter::description`].
#[derive(Debug, Clone, Default)]
pub struct FilterNames {
    /// ID number short descriptions by `which_idnum`.
    pub idnums: HashMap<i32, String>,
    /// Device display names by id.
    pub devices: HashMap<i32, String>,
    /// Usernames by id.
    pub users: HashMap<i32, String>,
    /// Group names by id.
    pub groups: HashMap<i32, String>,
}

impl FilterNames {
    /// Loads the names of everything `filter` refers to.
    pub fn load(conn: &mut DbConnection, filter: &TaskFilter) -> QueryResult<FilterNames> {
        let mut names = FilterNames::default();
        if !filter.idnum_criteria.is_empty() {
            for d in IdNumDefinition::all(conn)? {
                names.idnums.insert(d.which_idnum, d.short_name());
            }
        }
        if !filter.device_ids.is_empty() {
            for d in Device::with_ids(conn, &filter.device_ids)? {
                names.devices.insert(d.id, d.display_name());
            }
        }
        if !filter.adding_user_ids.is_empty() {
            for u in User::with_ids(conn, &filter.adding_user_ids)? {
                names.users.insert(u.id, u.username);
            }
        }
        if !filter.group_ids.is_empty() {
            for g in Group::with_ids(conn, &filter.group_ids)? {
                names.groups.insert(g.id, g.name);
            }
        }
        Ok(names)
    }
}

impl TaskFilter {
    /// One line per criterion for the task list page, or `["[No filters.]"]`. The end bound
    /// reads "Created < end" because it is exclusive (the original wrongly showed "≤").
    pub fn description(&self, names: &FilterNames) -> Vec<String> {
        let mut out = Vec::new();
        if !self.task_types.is_empty() {
            let types: Vec<&str> = self
                .task_types
                .iter()
                .map(|t| task_registry::display_name(t))
                .collect();
            out.push(format!("Task is one of: {}", types.join(", ")));
        }
        if self.tasks_offering_trackers_only.unwrap_or(false) {
            out.push("Only tasks offering trackers".to_owned());
        }
        if self.tasks_with_patient_only.unwrap_or(false) {
            out.push("Only tasks with a patient".to_owned());
        }
        if let Some(s) = self.surname_criterion() {
            out.push(format!("Surname = {s}"));
        }
        if let Some(s) = self.forename_criterion() {
            out.push(format!("Forename = {s}"));
        }
        if let Some(d) = self.dob {
            out.push(format!("DOB = {}", d.format("%Y-%m-%d")));
        }
        if let Some(s) = self.sex_criterion() {
            out.push(format!("Sex = {s}"));
        }
        if !self.idnum_criteria.is_empty() {
            let ids: Vec<String> = self
                .idnum_criteria
                .iter()
                .map(|r| {
                    let name = names
                        .idnums
                        .get(&r.which_idnum)
                        .cloned()
                        .unwrap_or_else(|| format!("ID{}", r.which_idnum));
                    format!("{name} = {}", r.idnum_value)
                })
                .collect();
            out.push(format!("ID number is one of: {}", ids.join(", ")));
        }
        let named = |ids: &[i32], map: &HashMap<i32, String>| -> String {
            let v: Vec<String> = ids
                .iter()
                .map(|id| map.get(id).cloned().unwrap_or_else(|| format!("#{id}")))
                .collect();
            v.join(", ")
        };
        if !self.device_ids.is_empty() {
            out.push(format!(
                "Device is one of: {}",
                named(&self.device_ids, &names.devices)
            ));
        }
        if !self.adding_user_ids.is_empty() {
            out.push(format!(
                "Adding user is one of: {}",
                named(&self.adding_user_ids, &names.users)
            ));
        }
        if !self.group_ids.is_empty() {
            out.push(format!(
                "Group is one of: {}",
                named(&self.group_ids, &names.groups)
            ));
        }
        if let Some(d) = self.start_datetime {
            out.push(format!("Created ≥ {}", d.format("%Y-%m-%d %H:%M:%S %:z")));
        }
        if let Some(d) = self.end_datetime {
            out.push(format!("Created < {}", d.format("%Y-%m-%d %H:%M:%S %:z")));
        }
        if !self.text_contents.is_empty() {
            out.push(format!(
                "Text contains all of: {}",
                quoted_phrases(&self.text_contents)
            ));
        }
        if self.complete_only.unwrap_or(false) {
            out.push("Only complete tasks".to_owned());
        }
        if out.is_empty() {
            out.push("[No filters.]".to_owned());
        }
        out
    }
}

/// Text phrases as the task list shows them: each in curly quotes, comma-separated.
pub fn quoted_phrases(phrases: &[String]) -> String {
    let quoted: Vec<String> = phrases.iter().map(|p| format!("“{p}”")).collect();
    quoted.join(", ")
}
