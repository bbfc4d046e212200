//! The `/set_filters` form as plain HTML fields (repeated names for lists): reading the
//! submission, validating it against what the requester may choose (the original's
//! messages), and the values each widget shows.

use chrono::{DateTime, FixedOffset};

use super::choices::FilterChoices;
use super::hidden::HiddenCriteria;
use crate::models::idnum::VALIDATION_UK_NHS_NUMBER;
use crate::models::task_filter::{IdNumReference, TaskFilter};
use crate::models::task_registry;
use crate::routes::datetime::{local_input, parse_date, parse_datetime};
use crate::routes::form::Fields;

/// Longest surname or forename (the columns are 255 characters).
pub const MAX_NAME_CHARS: usize = 255;
/// The sexes offered (besides "Any").
pub const SEX_CHOICES: [&str; 3] = ["F", "M", "X"];

/// A submission as the browser sent it (all fields as text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterForm {
    /// Surname.
    pub surname: String,
    /// Forename.
    pub forename: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub dob: String,
    /// Sex ("" = any).
    pub sex: String,
    /// ID number rows: `(which_idnum, idnum_value)`, paired by position.
    pub idnums: Vec<(String, String)>,
    /// "Only completed tasks?" ticked.
    pub complete_only: bool,
    /// Task table names ticked.
    pub tasks: Vec<String>,
    /// Start (local, inclusive), `YYYY-MM-DDTHH:MM[:SS]`.
    pub start_datetime: String,
    /// End (local, exclusive).
    pub end_datetime: String,
    /// Devices chosen.
    pub device_ids: Vec<String>,
    /// Adding users chosen.
    pub user_ids: Vec<String>,
    /// Groups chosen.
    pub group_ids: Vec<String>,
}

impl FilterForm {
    /// Reads the fields of a submission (unknown fields are ignored).
    pub fn from_fields(f: &Fields) -> FilterForm {
        let which = f.values("which_idnum");
        let values = f.values("idnum_value");
        let rows = which.len().max(values.len());
        let idnums = (0..rows)
            .map(|i| {
                let at = |v: &[&str]| v.get(i).copied().unwrap_or_default().to_owned();
                (at(&which), at(&values))
            })
            .collect();
        let text = |name: &str| f.text(name).to_owned();
        FilterForm {
            surname: text("surname"),
            forename: text("forename"),
            dob: text("dob"),
            sex: text("sex"),
            idnums,
            complete_only: f.checked("complete_only"),
            tasks: f.all("tasks"),
            start_datetime: text("start_datetime"),
            end_datetime: text("end_datetime"),
            device_ids: f.all("device_ids"),
            user_ids: f.all("user_ids"),
            group_ids: f.all("group_ids"),
        }
    }

    /// The form showing a stored filter.
    pub fn from_filter(f: &TaskFilter) -> FilterForm {
        let ids = |v: &[i32]| v.iter().map(i32::to_string).collect();
        FilterForm {
            surname: f.surname.clone().unwrap_or_default(),
            forename: f.forename.clone().unwrap_or_default(),
            dob: f
                .dob
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            sex: f.sex.clone().unwrap_or_default(),
            idnums: f
                .idnum_criteria
                .iter()
                .map(|r| (r.which_idnum.to_string(), r.idnum_value.to_string()))
                .collect(),
            complete_only: f.complete_only.unwrap_or(false),
            tasks: f.task_types.clone(),
            start_datetime: f
                .start_datetime
                .as_ref()
                .map(local_input)
                .unwrap_or_default(),
            end_datetime: f.end_datetime.as_ref().map(local_input).unwrap_or_default(),
            device_ids: ids(&f.device_ids),
            user_ids: ids(&f.adding_user_ids),
            group_ids: ids(&f.group_ids),
        }
    }

    /// Validates against `choices` and builds the new filter from `base`, keeping what of it
    /// the form does not show: the two "only" flags and the [`HiddenCriteria`] (added after
    /// the form's own). On failure, every message, in form order.
    pub fn validate(
        &self,
        choices: &FilterChoices,
        base: &TaskFilter,
    ) -> Result<TaskFilter, Vec<String>> {
        let mut errors = Vec::new();
        let hidden = HiddenCriteria::of(base, choices);
        let surname = name_field("Surname", &self.surname, &mut errors);
        let forename = name_field("Forename", &self.forename, &mut errors);
        let dob = match self.dob.trim() {
            "" => None,
            s => parse_date(s).or_else(|| {
                errors.push("Date of birth: Invalid date".to_owned());
                None
            }),
        };
        let sex = match self.sex.trim() {
            "" => None,
            s if SEX_CHOICES.contains(&s) => Some(s.to_owned()),
            s => {
                errors.push(format!("Sex: “{s}” is not one of F, M, X"));
                None
            }
        };
        let idnum_criteria = self.idnum_criteria(choices, &hidden, &mut errors);
        let task_types = self.task_types(&hidden, &mut errors);
        let start_datetime = datetime_field("Start date/time", &self.start_datetime, &mut errors);
        let end_datetime = datetime_field("End date/time", &self.end_datetime, &mut errors);
        if let (Some(s), Some(e)) = (start_datetime, end_datetime) {
            if e <= s {
                errors.push(
                    "Start date/time must be before end date/time (the end is exclusive)"
                        .to_owned(),
                );
            }
        }
        let device_ids = id_list(
            &self.device_ids,
            (&choices.devices, &hidden.device_ids),
            "devices",
            &mut errors,
        );
        let adding_user_ids = id_list(
            &self.user_ids,
            (&choices.users, &hidden.user_ids),
            "users",
            &mut errors,
        );
        let group_ids = id_list(
            &self.group_ids,
            (&choices.groups, &hidden.group_ids),
            "groups",
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut filter = TaskFilter {
            task_types,
            tasks_offering_trackers_only: base.tasks_offering_trackers_only,
            tasks_with_patient_only: base.tasks_with_patient_only,
            surname,
            forename,
            dob,
            sex,
            idnum_criteria,
            device_ids,
            adding_user_ids,
            group_ids,
            start_datetime,
            end_datetime,
            text_contents: Vec::new(),
            complete_only: Some(self.complete_only),
        };
        hidden.merge_into(&mut filter);
        Ok(filter)
    }

    fn idnum_criteria(
        &self,
        choices: &FilterChoices,
        hidden: &HiddenCriteria,
        errors: &mut Vec<String>,
    ) -> Vec<IdNumReference> {
        let mut out: Vec<IdNumReference> = Vec::new();
        let mut duplicate = false;
        for (which, value) in &self.idnums {
            let (which, value) = (which.trim(), value.trim());
            if which.is_empty() && value.is_empty() {
                continue;
            }
            let def = which
                .parse::<i32>()
                .ok()
                .and_then(|w| choices.idnum_defs.iter().find(|d| d.which_idnum == w));
            let Some(def) = def else {
                let kept = hidden.idnums.iter().any(|r| {
                    (r.which_idnum.to_string(), r.idnum_value.to_string())
                        == (which.to_owned(), value.to_owned())
                });
                if kept {
                    // A stored criterion of an undefined type, sent back: merged as hidden.
                    continue;
                }
                if which.is_empty() {
                    errors.push(format!(
                        "ID numbers: choose the type of ID number for the value “{value}”"
                    ));
                } else {
                    errors.push("ID numbers: Bad ID number type".to_owned());
                }
                continue;
            };
            let name = def.short_name();
            if value.is_empty() {
                errors.push(format!("ID numbers: enter a value for {name}"));
                continue;
            }
            let Ok(n) = value.parse::<i64>() else {
                errors.push(format!("ID numbers: “{value}” is not a number"));
                continue;
            };
            if n < 0 {
                errors.push(format!("ID numbers: {n} is less than minimum value 0"));
                continue;
            }
            if !def.is_valid_value(n) {
                if def.validation_method.as_deref() == Some(VALIDATION_UK_NHS_NUMBER) {
                    errors.push(format!("ID numbers: Invalid NHS number ({name}: {n})"));
                } else {
                    errors.push(format!("ID numbers: invalid value for {name}: {n}"));
                }
                continue;
            }
            let r = IdNumReference {
                which_idnum: def.which_idnum,
                idnum_value: n,
            };
            if out.contains(&r) {
                duplicate = true;
            } else {
                out.push(r);
            }
        }
        if duplicate {
            errors.push("You have specified duplicate ID definitions".to_owned());
        }
        out
    }

    /// The ticked types: registry types, or (sent back by a script) a stored unknown one.
    fn task_types(&self, hidden: &HiddenCriteria, errors: &mut Vec<String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.tasks {
            if task_registry::lookup(t).is_none() && !hidden.task_types.contains(t) {
                errors.push(format!("Task types: unknown task type “{t}”"));
            } else if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }
}

fn name_field(label: &str, raw: &str, errors: &mut Vec<String>) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if s.chars().count() > MAX_NAME_CHARS {
        errors.push(format!(
            "{label}: Longer than maximum length {MAX_NAME_CHARS}"
        ));
        return None;
    }
    if s.chars().any(char::is_control) {
        errors.push(format!("{label}: contains control characters"));
        return None;
    }
    Some(s.to_owned())
}

fn datetime_field(
    label: &str,
    raw: &str,
    errors: &mut Vec<String>,
) -> Option<DateTime<FixedOffset>> {
    match raw.trim() {
        "" => None,
        s => parse_datetime(s).or_else(|| {
            errors.push(format!("{label}: Invalid date"));
            None
        }),
    }
}

/// Ids picked from `offered` (or, sent back by a script, ones the stored filter already had
/// that are not offered): integers, no duplicates.
fn id_list(
    raw: &[String],
    (offered, kept): (&[(i32, String)], &[i32]),
    what: &str,
    errors: &mut Vec<String>,
) -> Vec<i32> {
    let mut out: Vec<i32> = Vec::new();
    let mut duplicate = false;
    for v in raw {
        match v.parse::<i32>() {
            Ok(id) if offered.iter().any(|(o, _)| *o == id) || kept.contains(&id) => {
                if out.contains(&id) {
                    duplicate = true;
                } else {
                    out.push(id);
                }
            }
            _ => errors.push(format!(
                "{}: “{v}” is not one of the {what} you may choose",
                capitalised(what)
            )),
        }
    }
    if duplicate {
        errors.push(format!("You have specified duplicate {what}"));
    }
    out
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
#[path = "form_tests.rs"]
mod tests;
