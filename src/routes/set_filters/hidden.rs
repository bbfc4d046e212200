//! Criteria of a stored filter that the `/set_filters` form has no field or choice for: task
//! types outside the registry, text phrases, ID numbers of undefined types, and devices, users
//! or groups the requester may not choose (the filter may have been set by CamCOPS, or before
//! the requester's groups changed). "Set filters" keeps them; the page lists them; "Clear"
//! removes them.

use super::choices::FilterChoices;
use crate::models::task_filter::{IdNumReference, TaskFilter};
use crate::models::task_registry;

/// The criteria of a stored filter that the form cannot show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HiddenCriteria {
    /// Task types that are not in the registry.
    pub task_types: Vec<String>,
    /// ID number criteria whose type is not defined.
    pub idnums: Vec<IdNumReference>,
    /// Device ids that are not offered (no such device).
    pub device_ids: Vec<i32>,
    /// Adding user ids the requester may not choose.
    pub user_ids: Vec<i32>,
    /// Group ids the requester may not choose.
    pub group_ids: Vec<i32>,
    /// Text phrases (the form has no field for them).
    pub text_contents: Vec<String>,
}

fn not_offered(ids: &[i32], offered: &[(i32, String)]) -> Vec<i32> {
    ids.iter()
        .copied()
        .filter(|id| !offered.iter().any(|(o, _)| o == id))
        .collect()
}

fn add_missing<T: PartialEq + Clone>(to: &mut Vec<T>, items: &[T]) {
    for item in items {
        if !to.contains(item) {
            to.push(item.clone());
        }
    }
}

fn ids(v: &[i32]) -> String {
    let v: Vec<String> = v.iter().map(|id| format!("#{id}")).collect();
    v.join(", ")
}

impl HiddenCriteria {
    /// What of `base` the form cannot show, given what the requester may choose.
    pub fn of(base: &TaskFilter, choices: &FilterChoices) -> HiddenCriteria {
        HiddenCriteria {
            task_types: base
                .task_types
                .iter()
                .filter(|t| task_registry::lookup(t).is_none())
                .cloned()
                .collect(),
            idnums: base
                .idnum_criteria
                .iter()
                .copied()
                .filter(|r| {
                    !choices
                        .idnum_defs
                        .iter()
                        .any(|d| d.which_idnum == r.which_idnum)
                })
                .collect(),
            device_ids: not_offered(&base.device_ids, &choices.devices),
            user_ids: not_offered(&base.adding_user_ids, &choices.users),
            group_ids: not_offered(&base.group_ids, &choices.groups),
            text_contents: base.text_contents.clone(),
        }
    }

    /// Whether there is nothing hidden.
    pub fn is_empty(&self) -> bool {
        *self == HiddenCriteria::default()
    }

    /// Adds these criteria to `filter` (after the ones the form set, without repeats).
    pub fn merge_into(&self, filter: &mut TaskFilter) {
        add_missing(&mut filter.task_types, &self.task_types);
        add_missing(&mut filter.idnum_criteria, &self.idnums);
        add_missing(&mut filter.device_ids, &self.device_ids);
        add_missing(&mut filter.adding_user_ids, &self.user_ids);
        add_missing(&mut filter.group_ids, &self.group_ids);
        add_missing(&mut filter.text_contents, &self.text_contents);
    }

    /// One line per kind of hidden criterion, for the page.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.task_types.is_empty() {
            out.push(format!(
                "Task types this server does not know: {}",
                self.task_types.join(", ")
            ));
        }
        if !self.text_contents.is_empty() {
            let phrases: Vec<String> = self
                .text_contents
                .iter()
                .map(|p| format!("“{p}”"))
                .collect();
            out.push(format!(
                "Text contains all of: {} (this server holds no task contents and cannot apply \
                 them)",
                phrases.join(", ")
            ));
        }
        if !self.idnums.is_empty() {
            let v: Vec<String> = self
                .idnums
                .iter()
                .map(|r| format!("ID{} = {}", r.which_idnum, r.idnum_value))
                .collect();
            out.push(format!(
                "ID numbers of types not defined here: {}",
                v.join(", ")
            ));
        }
        if !self.device_ids.is_empty() {
            out.push(format!(
                "Devices that do not exist: {}",
                ids(&self.device_ids)
            ));
        }
        if !self.user_ids.is_empty() {
            out.push(format!(
                "Uploading users you may not choose: {}",
                ids(&self.user_ids)
            ));
        }
        if !self.group_ids.is_empty() {
            out.push(format!(
                "Groups you may not choose: {}",
                ids(&self.group_ids)
            ));
        }
        out
    }
}
