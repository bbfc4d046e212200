//! The group forms as plain HTML fields: reading a submission and validating it with the
//! original's rules and messages (admin §0.4, admin §4.2, admin §4.3). No database here: the
//! caller passes what the checks need (other groups, defined ID numbers, whether the name is
//! taken).

use crate::models::group_admin::GroupFields;
use crate::models::ip_use::IpUseFlags;
use crate::models::policy::validate_policy_field;
use crate::routes::form::{shorten, Fields};

/// Longest description (the column is VARCHAR(255)).
pub const MAX_DESCRIPTION_CHARS: usize = 255;
/// Longest group name (the original's rule).
pub const MAX_NAME_CHARS: usize = 191;
/// The original's message for a bad group name.
pub const BAD_NAME: &str = "Invalid string. Minimum length = 1. Maximum length = 191. \
                            Permitted characters: A-Z, a-z, 0-9, '_', '-'";
/// The original's message for a name another group has.
pub const NAME_TAKEN: &str = "Name is used by another group!";

/// A submission of the add or edit form, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupForm {
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `upload_policy`.
    pub upload_policy: String,
    /// `finalize_policy`.
    pub finalize_policy: String,
    /// `clinical`, `commercial`, `educational`, `research` ticked.
    pub ip_use: IpUseFlags,
    /// `group_ids`: the other groups this group may see.
    pub group_ids: Vec<String>,
}

/// A value shown back in a message, cut short.
fn shown(v: &str) -> String {
    let mut s = shorten(v);
    if v.chars().count() > 40 {
        s.push('…');
    }
    s
}

/// Checks a group name: the original's pattern `^[A-Za-z0-9_\-]{1,191}$`.
pub fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl GroupForm {
    /// Reads the fields of a submission (unknown fields are ignored).
    pub fn from_fields(f: &Fields) -> GroupForm {
        GroupForm {
            name: f.text("name").trim().to_owned(),
            description: f.text("description").trim().to_owned(),
            upload_policy: f.text("upload_policy").to_owned(),
            finalize_policy: f.text("finalize_policy").to_owned(),
            ip_use: IpUseFlags {
                clinical: f.checked("clinical"),
                commercial: f.checked("commercial"),
                educational: f.checked("educational"),
                research: f.checked("research"),
            },
            // `group_id_sequence` is the original's wire name for each item.
            group_ids: f.all_of(&["group_ids", "group_id_sequence"]),
        }
    }

    /// Validates the name alone (the add form): its messages, or nothing.
    pub fn name_errors(&self, name_taken: bool) -> Vec<String> {
        if !name_ok(&self.name) {
            vec![format!("Group name: {BAD_NAME}")]
        } else if name_taken {
            vec![NAME_TAKEN.to_owned()]
        } else {
            Vec::new()
        }
    }

    /// Validates the edit form. `others` are the groups this one may be allowed to see
    /// (`(id, name)`, every group but itself); `idnums` the ID numbers defined here. Returns
    /// the fields to store and the ids of the groups it may see, or every message.
    pub fn validate(
        &self,
        name_taken: bool,
        others: &[(i32, String)],
        idnums: &[i32],
    ) -> Result<(GroupFields, Vec<i32>), Vec<String>> {
        let mut errors = self.name_errors(name_taken);
        if self.description.is_empty() {
            errors.push("Description: Required".to_owned());
        } else if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.push(format!(
                "Description: Longer than maximum length {MAX_DESCRIPTION_CHARS}"
            ));
        } else if self.description.chars().any(char::is_control) {
            errors.push("Description: contains control characters".to_owned());
        }
        let mut policy = |label: &str, raw: &str| match validate_policy_field(raw, idnums) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(format!("{label}: {e}"));
                None
            }
        };
        let upload = policy("Upload ID policy", &self.upload_policy);
        let finalize = policy("Finalize ID policy", &self.finalize_policy);
        let mut can_see: Vec<i32> = Vec::new();
        let mut duplicate = false;
        for raw in &self.group_ids {
            match raw.parse::<i32>() {
                Ok(id) if others.iter().any(|(o, _)| *o == id) => {
                    if can_see.contains(&id) {
                        duplicate = true;
                    } else {
                        can_see.push(id);
                    }
                }
                _ => {
                    let ids: Vec<String> = others.iter().map(|(id, _)| id.to_string()).collect();
                    errors.push(format!(
                        "Other groups this group may see: \"{}\" is not one of {}",
                        shown(raw),
                        ids.join(", ")
                    ));
                }
            }
        }
        if duplicate {
            errors.push(
                "Other groups this group may see: You have specified duplicate groups".to_owned(),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        can_see.sort_unstable();
        Ok((
            GroupFields {
                name: self.name.clone(),
                description: Some(self.description.clone()),
                upload_policy: upload,
                finalize_policy: finalize,
            },
            can_see,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Fields {
        Fields(
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn names_follow_the_original_pattern() {
        for ok in ["a", "G-1_x", &"n".repeat(191)] {
            assert!(name_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "x'; DROP TABLE _security_groups; --",
            "é",
            &"n".repeat(192),
        ] {
            assert!(!name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn every_field_is_checked_and_all_four_ip_flags_are_read() {
        let f = GroupForm::from_fields(&pairs(&[
            ("name", " grp "),
            ("description", "d"),
            ("upload_policy", "sex AND idnum1"),
            ("finalize_policy", "sex AND idnum1"),
            ("educational", "true"),
            ("research", "on"),
            ("group_ids", "3"),
            ("group_id_sequence", "4"),
        ]));
        assert_eq!(f.name, "grp");
        assert_eq!(
            f.ip_use,
            IpUseFlags {
                clinical: false,
                commercial: false,
                educational: true,
                research: true
            }
        );
        let others = vec![(3, "c".to_owned()), (4, "d".to_owned())];
        let (fields, can_see) = f.validate(false, &others, &[1]).unwrap();
        assert_eq!(fields.upload_policy.as_deref(), Some("sex AND idnum1"));
        assert_eq!(can_see, vec![3, 4]);
        let errs = f.validate(true, &others, &[]).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0] == NAME_TAKEN);
        let mut bad = f.clone();
        bad.group_ids = vec!["3".into(), "3".into(), "9".into()];
        bad.description = String::new();
        let errs = bad.validate(false, &others, &[1]).unwrap_err();
        assert!(errs.contains(&"Description: Required".to_owned()));
        assert!(errs.iter().any(|e| e.ends_with("\"9\" is not one of 3, 4")));
        assert!(errs
            .iter()
            .any(|e| e.ends_with("You have specified duplicate groups")));
    }
}
