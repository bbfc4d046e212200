//! The task types this server knows by name: base table name, short and long display names,
//! whether a type offers trackers and whether it is anonymous (has no patient).
//!
//! The original server derives this from its task classes; camcops-web has no task tables,
//! so the registry is a static list of common CamCOPS tasks used for display, the task-type
//! filter and the demo data.

/// One task type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskType {
    /// Base table name, as stored in `_task_index.task_table_name` and in filters.
    pub table: &'static str,
    /// Short display name ("PHQ-9").
    pub short_name: &'static str,
    /// Long display name.
    pub long_name: &'static str,
    /// Whether the task offers trackers (used by "tasks offering trackers only").
    pub provides_trackers: bool,
    /// Whether the task is anonymous (never has a patient).
    pub is_anonymous: bool,
}

const fn t(
    table: &'static str,
    short_name: &'static str,
    long_name: &'static str,
    provides_trackers: bool,
    is_anonymous: bool,
) -> TaskType {
    TaskType {
        table,
        short_name,
        long_name,
        provides_trackers,
        is_anonymous,
    }
}

/// Every known task type, ordered by short name (case-insensitively).
pub static TASK_TYPES: &[TaskType] = &[
    t(
        "ace3",
        "ACE-III",
        "Addenbrooke’s Cognitive Examination III",
        true,
        false,
    ),
    t(
        "audit",
        "AUDIT",
        "WHO Alcohol Use Disorders Identification Test",
        true,
        false,
    ),
    t(
        "bdi",
        "BDI",
        "Beck Depression Inventory (data collection only)",
        true,
        false,
    ),
    t("bmi", "BMI", "Body mass index", true, false),
    t("cgi", "CGI", "Clinical Global Impressions", true, false),
    t("cope_brief", "COPE", "Brief COPE Inventory", false, false),
    t(
        "diagnosis_icd10",
        "Diagnosis (ICD-10)",
        "Diagnostic codes, ICD-10",
        false,
        false,
    ),
    t(
        "gad7",
        "GAD-7",
        "Generalized Anxiety Disorder Assessment",
        true,
        false,
    ),
    t(
        "hads",
        "HADS",
        "Hospital Anxiety and Depression Scale (data collection only)",
        true,
        false,
    ),
    t(
        "honos",
        "HoNOS",
        "Health of the Nation Outcome Scales, working age adults",
        true,
        false,
    ),
    t("moca", "MoCA", "Montreal Cognitive Assessment", true, false),
    t(
        "panss",
        "PANSS",
        "Positive and Negative Syndrome Scale (data collection only)",
        true,
        false,
    ),
    t("photo", "Photo", "Photograph", false, false),
    t(
        "phq9",
        "PHQ-9",
        "Patient Health Questionnaire-9",
        true,
        false,
    ),
    t(
        "ref_satis_gen",
        "ReferrerSatisfaction",
        "Referrer Satisfaction Scale, survey (anonymous)",
        false,
        true,
    ),
    t(
        "wsas",
        "WSAS",
        "Work and Social Adjustment Scale",
        true,
        false,
    ),
    t(
        "ybocs",
        "Y-BOCS",
        "Yale–Brown Obsessive Compulsive Scale",
        true,
        false,
    ),
];

/// All task types, ordered by short name.
pub fn all() -> &'static [TaskType] {
    TASK_TYPES
}

/// The task type with this base table name.
pub fn lookup(table: &str) -> Option<&'static TaskType> {
    TASK_TYPES.iter().find(|tt| tt.table == table)
}

/// The short name to show for a table name (the table name itself when unknown).
pub fn display_name(table: &str) -> &str {
    lookup(table).map_or(table, |tt| tt.short_name)
}

/// Table names of the task types that offer trackers.
pub fn tracker_tables() -> impl Iterator<Item = &'static str> {
    TASK_TYPES
        .iter()
        .filter(|tt| tt.provides_trackers)
        .map(|tt| tt.table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_known_and_rejects_unknown() {
        assert_eq!(lookup("phq9").map(|t| t.short_name), Some("PHQ-9"));
        assert_eq!(lookup("gad7").map(|t| t.short_name), Some("GAD-7"));
        assert!(lookup("PHQ9").is_none());
        assert!(lookup("nonesuch").is_none());
        assert_eq!(display_name("nonesuch"), "nonesuch");
        assert_eq!(display_name("ace3"), "ACE-III");
    }

    #[test]
    fn registry_is_unique_sorted_and_has_one_anonymous_type() {
        let mut tables: Vec<_> = all().iter().map(|t| t.table).collect();
        let n = tables.len();
        tables.sort_unstable();
        tables.dedup();
        assert_eq!(tables.len(), n);
        assert!(n >= 15);
        let shorts: Vec<String> = all().iter().map(|t| t.short_name.to_lowercase()).collect();
        let mut sorted = shorts.clone();
        sorted.sort();
        assert_eq!(shorts, sorted);
        assert_eq!(all().iter().filter(|t| t.is_anonymous).count(), 1);
        assert!(tracker_tables().any(|t| t == "phq9"));
        assert!(!tracker_tables().any(|t| t == "photo"));
    }
}
