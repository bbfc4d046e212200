//! The task types of CamCOPS 2.4.24 (all 138): base table name, short and long display names,
//! whether a type offers trackers and whether it is anonymous (has no patient).
//!
//! The original derives this from its task classes; here it is data: `build.rs` generates the
//! tables below from `data/camcops-2.4.24-tasks.tsv` and `data/camcops-2.4.24-trackers.txt`
//! (where they come from: data/README.md). A table name that is not here (a task type of a
//! newer CamCOPS, say) is shown by its table name.

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

include!(concat!(env!("OUT_DIR"), "/task_registry_data.rs"));

/// All task types, ordered by short name (code point order, as CamCOPS sorts them).
pub fn all() -> &'static [TaskType] {
    &BY_SHORT_NAME
}

/// The task type with this base table name.
pub fn lookup(table: &str) -> Option<&'static TaskType> {
    BY_TABLE
        .binary_search_by(|t| t.table.cmp(table))
        .ok()
        .map(|i| &BY_TABLE[i])
}

/// The short name to show for a table name (the table name itself when unknown).
pub fn display_name(table: &str) -> &str {
    lookup(table).map_or(table, |tt| tt.short_name)
}

/// The long name to show for a table name (the table name itself when unknown).
pub fn long_name(table: &str) -> &str {
    lookup(table).map_or(table, |tt| tt.long_name)
}

/// Table names of the task types that offer trackers.
pub fn tracker_tables() -> impl Iterator<Item = &'static str> {
    BY_SHORT_NAME
        .iter()
        .filter(|tt| tt.provides_trackers)
        .map(|tt| tt.table)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSV: &str = include_str!("../../data/camcops-2.4.24-tasks.tsv");
    const TRACKERS: &str = include_str!("../../data/camcops-2.4.24-trackers.txt");

    // Issue 10 item 3: all of CamCOPS 2.4.24's task types, with its short names.
    #[test]
    fn registry_has_camcops_138_types_69_trackers_and_its_short_names() {
        assert_eq!(all().len(), 138);
        assert_eq!(tracker_tables().count(), 69);
        assert_eq!(all().iter().filter(|t| t.is_anonymous).count(), 6);
        assert_eq!(display_name("cope_brief"), "COPE-Brief");
        assert_eq!(display_name("diagnosis_icd10"), "Diagnosis_ICD10");
        assert_eq!(display_name("ref_satis_gen"), "ReferrerSatisfactionSurvey");
        assert!(lookup("ref_satis_gen").is_some_and(|t| t.is_anonymous));
        assert_eq!(long_name("ace3"), "Addenbrooke’s Cognitive Examination III");
        for tracker in [
            "phq9",
            "gad7",
            "hads",
            "hads_respondent",
            "honos65",
            "pcls",
            "wsas",
        ] {
            assert!(
                lookup(tracker).is_some_and(|t| t.provides_trackers),
                "{tracker}"
            );
        }
        for other in [
            "photo",
            "diagnosis_icd10",
            "audit_c",
            "cope_brief",
            "ref_satis_gen",
        ] {
            assert!(
                lookup(other).is_some_and(|t| !t.provides_trackers),
                "{other}"
            );
        }
    }

    // The generated tables hold exactly the lines of the data files.
    #[test]
    fn registry_matches_the_data_files_line_by_line() {
        let trackers: Vec<&str> = TRACKERS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let mut n = 0;
        for line in TSV.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            let t = lookup(f[0]).unwrap_or_else(|| panic!("{} missing", f[0]));
            assert_eq!(
                (t.short_name, t.long_name, t.is_anonymous),
                (f[1], f[2], f[3] == "1")
            );
            assert_eq!(t.provides_trackers, trackers.contains(&f[0]), "{}", f[0]);
            n += 1;
        }
        assert_eq!(n, all().len());
    }

    #[test]
    fn lookup_finds_known_and_rejects_unknown() {
        assert_eq!(lookup("phq9").map(|t| t.short_name), Some("PHQ-9"));
        assert!(lookup("PHQ9").is_none());
        assert!(lookup("nonesuch").is_none());
        assert!(lookup("").is_none());
        assert_eq!(display_name("nonesuch"), "nonesuch");
        assert_eq!(long_name("nonesuch"), "nonesuch");
        // Every entry is found by its own table name.
        assert!(all().iter().all(|t| lookup(t.table) == Some(t)));
    }

    #[test]
    fn registry_is_unique_and_ordered_by_short_name_as_camcops() {
        let mut tables: Vec<_> = all().iter().map(|t| t.table).collect();
        tables.sort_unstable();
        tables.dedup();
        assert_eq!(tables.len(), all().len());
        let shorts: Vec<&str> = all().iter().map(|t| t.short_name).collect();
        let mut sorted = shorts.clone();
        sorted.sort_unstable();
        assert_eq!(shorts, sorted);
        // Code point order: upper case before lower case, as Python sorts.
        let pos = |s: &str| shorts.iter().position(|x| *x == s);
        assert!(pos("PHQ-9") < pos("Photo"));
    }
}
