//! Unit tests of the `/set_filters` form: parsing, each validation message, round trips.

use super::*;
use crate::models::idnum::IdNumDefinition;
use chrono::NaiveDate;

fn pairs(v: &[(&str, &str)]) -> Fields {
    Fields(
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn choices() -> FilterChoices {
    FilterChoices {
        idnum_defs: vec![
            IdNumDefinition {
                which_idnum: 1,
                description: Some("NHS number".into()),
                short_description: Some("NHS".into()),
                validation_method: Some(VALIDATION_UK_NHS_NUMBER.into()),
            },
            IdNumDefinition {
                which_idnum: 2,
                description: Some("RiO number".into()),
                short_description: None,
                validation_method: None,
            },
        ],
        devices: vec![(1, "d1".into()), (2, "d2".into())],
        users: vec![(5, "ua".into())],
        groups: vec![(7, "A".into()), (8, "B".into())],
    }
}

fn check(v: &[(&str, &str)]) -> Result<TaskFilter, Vec<String>> {
    FilterForm::from_fields(&pairs(v)).validate(&choices(), &TaskFilter::default())
}

#[test]
fn a_full_valid_submission_builds_the_filter() {
    let f = check(&[
        ("surname", " Smith "),
        ("forename", "Ann"),
        ("dob", "1970-01-01"),
        ("sex", "F"),
        ("which_idnum", "1"),
        ("idnum_value", "9434765919"),
        ("which_idnum", "2"),
        ("idnum_value", "222"),
        ("which_idnum", ""),
        ("idnum_value", ""),
        ("complete_only", "true"),
        ("tasks", "phq9"),
        ("tasks", "gad7"),
        ("start_datetime", "2024-01-02T00:00+00:00"),
        ("end_datetime", "2024-01-05T00:00:00Z"),
        ("device_ids", "2"),
        ("user_ids", "5"),
        ("group_ids", "7"),
        ("group_ids", "8"),
    ])
    .unwrap();
    assert_eq!(f.surname.as_deref(), Some("Smith"));
    assert_eq!(f.dob, NaiveDate::from_ymd_opt(1970, 1, 1));
    assert_eq!(f.idnum_criteria.len(), 2);
    assert_eq!(f.task_types, vec!["phq9", "gad7"]);
    assert_eq!(f.complete_only, Some(true));
    assert_eq!((f.device_ids, f.adding_user_ids), (vec![2], vec![5]));
    assert_eq!(f.group_ids, vec![7, 8]);
    assert!(f.start_datetime.is_some() && f.end_datetime.is_some());
    let empty = check(&[]).unwrap();
    assert_eq!(empty.complete_only, Some(false));
    assert!(TaskFilter {
        complete_only: None,
        ..empty
    }
    .is_empty());
}

#[test]
fn each_bad_field_gives_its_message() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("dob", "1970-13-01")], "Date of birth: Invalid date"),
        (
            &[("start_datetime", "soon")],
            "Start date/time: Invalid date",
        ),
        (
            &[("end_datetime", "20240101")],
            "End date/time: Invalid date",
        ),
        (&[("sex", "Q")], "Sex: “Q” is not one of F, M, X"),
        (
            &[("which_idnum", "9"), ("idnum_value", "1")],
            "Bad ID number type",
        ),
        (
            &[("which_idnum", "1"), ("idnum_value", "123")],
            "Invalid NHS number",
        ),
        (
            &[("which_idnum", "2"), ("idnum_value", "x")],
            "is not a number",
        ),
        (
            &[("which_idnum", "2"), ("idnum_value", "-4")],
            "less than minimum",
        ),
        (
            &[("which_idnum", ""), ("idnum_value", "4")],
            "choose the type",
        ),
        (
            &[("which_idnum", "2"), ("idnum_value", "")],
            "enter a value for RiO number",
        ),
        (
            &[
                ("which_idnum", "2"),
                ("idnum_value", "4"),
                ("which_idnum", "2"),
                ("idnum_value", "4"),
            ],
            "You have specified duplicate ID definitions",
        ),
        (&[("tasks", "nonesuch")], "unknown task type “nonesuch”"),
        (
            &[("device_ids", "1"), ("device_ids", "1")],
            "You have specified duplicate devices",
        ),
        (
            &[("user_ids", "5"), ("user_ids", "5")],
            "You have specified duplicate users",
        ),
        (
            &[("group_ids", "7"), ("group_ids", "7")],
            "You have specified duplicate groups",
        ),
        (
            &[("device_ids", "99")],
            "“99” is not one of the devices you may choose",
        ),
        (
            &[("user_ids", "6")],
            "“6” is not one of the users you may choose",
        ),
        (
            &[("group_ids", "x")],
            "“x” is not one of the groups you may choose",
        ),
        (
            &[
                ("start_datetime", "2024-02-01T00:00+00:00"),
                ("end_datetime", "2024-01-01T00:00:00Z"),
            ],
            "Start date/time must be before end date/time",
        ),
        (
            &[("surname", &"x".repeat(256))],
            "Surname: Longer than maximum length 255",
        ),
        (
            &[("forename", "a\u{0}b")],
            "Forename: contains control characters",
        ),
    ];
    for (fields, want) in cases {
        let errors = check(fields).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{fields:?}: {errors:?} lacks {want}"
        );
    }
    assert!(check(&[("surname", &"é".repeat(255))]).is_ok());
}

#[test]
fn stored_filter_round_trips_through_the_form() {
    let f = check(&[
        ("surname", "Smith"),
        ("which_idnum", "2"),
        ("idnum_value", "222"),
        ("tasks", "bmi"),
        ("start_datetime", "2024-01-02T10:30"),
        ("group_ids", "8"),
    ])
    .unwrap();
    let again = FilterForm::from_filter(&f)
        .validate(&choices(), &TaskFilter::default())
        .unwrap();
    assert_eq!(again, f);
    assert_eq!(
        FilterForm::from_filter(&f).start_datetime,
        "2024-01-02T10:30"
    );
}

#[test]
fn fields_the_form_does_not_show_are_kept() {
    let base = TaskFilter {
        tasks_with_patient_only: Some(true),
        text_contents: vec!["x".into()],
        surname: Some("Old".into()),
        ..TaskFilter::default()
    };
    let f = FilterForm::default().validate(&choices(), &base).unwrap();
    assert_eq!(f.tasks_with_patient_only, Some(true));
    assert_eq!(f.text_contents, vec!["x".to_string()]);
    assert!(f.surname.is_none());
}

// Issue 10 item 2: a stored filter may name criteria the page cannot show (set by CamCOPS, or
// before the requester's groups changed); saving must keep them all.
#[test]
fn criteria_the_page_cannot_show_survive_a_save() {
    let base = TaskFilter {
        task_types: vec!["phq9".into(), "newer_camcops_task".into()],
        idnum_criteria: vec![
            IdNumReference {
                which_idnum: 2,
                idnum_value: 5,
            },
            IdNumReference {
                which_idnum: 99,
                idnum_value: 123,
            },
        ],
        device_ids: vec![1, 404],
        adding_user_ids: vec![5, 77],
        group_ids: vec![66],
        text_contents: vec!["paracetamol".into(), "say \"hi\", ok".into()],
        ..TaskFilter::default()
    };
    let hidden = HiddenCriteria::of(&base, &choices());
    assert_eq!(hidden.task_types, vec!["newer_camcops_task"]);
    assert_eq!(hidden.idnums.len(), 1);
    assert_eq!(
        (
            hidden.device_ids.clone(),
            hidden.user_ids.clone(),
            hidden.group_ids.clone()
        ),
        (vec![404], vec![77], vec![66])
    );
    assert_eq!(hidden.lines().len(), 6);
    // What a browser sends back: only what the page shows (here with phq9 and user 5 unticked).
    let shown = FilterForm {
        tasks: vec!["gad7".into()],
        device_ids: vec!["1".into()],
        group_ids: vec!["7".into()],
        ..FilterForm::default()
    };
    let f = shown.validate(&choices(), &base).unwrap();
    assert_eq!(f.task_types, vec!["gad7", "newer_camcops_task"]);
    assert_eq!(
        f.idnum_criteria,
        vec![IdNumReference {
            which_idnum: 99,
            idnum_value: 123
        }]
    );
    assert_eq!(f.device_ids, vec![1, 404]);
    assert_eq!(f.adding_user_ids, vec![77]);
    assert_eq!(f.group_ids, vec![7, 66]);
    assert_eq!(f.text_contents, base.text_contents);
    // A script that sends the stored values back as they are changes nothing.
    let again = FilterForm::from_filter(&base)
        .validate(&choices(), &base)
        .unwrap();
    assert_eq!(
        TaskFilter {
            complete_only: None,
            ..again
        },
        base
    );
    // An unknown type or id that the filter did not have is still refused.
    let errors = FilterForm {
        tasks: vec!["other_unknown".into()],
        group_ids: vec!["67".into()],
        ..FilterForm::default()
    }
    .validate(&choices(), &base)
    .unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
}
