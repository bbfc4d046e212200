//! Tests of the policy language: the cases of the original's own policy tests (ID numbers 1
//! to 10 defined), the observations of the admin §4.3, and the tokenizer's edges.

use super::*;

const DEFINED: [i32; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/// `(policy, well formed, valid, critical single ID number)`.
const CASES: &[(&str, bool, bool, Option<u64>)] = &[
    ("", false, false, None),
    ("sex AND (failure", false, false, None),
    ("sex AND NOT", false, false, None),
    ("OR OR", false, false, None),
    ("idnum99", true, false, None),
    ("sex AND idnum1", true, true, Some(1)),
    ("sex AND NOT idnum1", true, false, None),
    ("sex AND NOT idnum2", true, false, None),
    ("sex AND NOT idnum1 AND idnum3", true, true, Some(3)),
    ("sex AND NOT idnum2 AND idnum10", true, true, Some(10)),
    ("sex AND NOT idnum1 AND NOT idnum2 AND NOT idnum3", true, false, None),
    ("sex AND NOT (idnum1 OR idnum2 OR idnum3)", true, false, None),
    ("NOT (sex OR forename OR surname OR dob OR anyidnum)", true, false, None),
    (
        "\n  NOT (sex OR forename OR surname OR dob OR\n       idnum1 OR idnum2 OR idnum3)\n",
        true,
        false,
        None,
    ),
    ("sex AND idnum1 AND otheridnum AND NOT address", true, true, None),
    (
        "sex AND idnum1 AND NOT (otheridnum OR forename OR surname OR dob OR address OR gp OR otherdetails)",
        true,
        true,
        Some(1),
    ),
    ("forename AND surname AND dob AND sex AND anyidnum", true, true, None),
    // The tablet's own policy is valid, and is the weakest valid one.
    (TABLET_ID_POLICY, true, true, None),
    // Spec admin §4.3 observations.
    ("sex", true, false, None),
    ("forename", true, false, None),
    ("sex AND anyidnum", true, true, None),
    ("sex AND idnum77", true, false, None),
    ("SEX and FORENAME and Surname AND dob", true, true, None),
];

#[test]
fn the_original_cases_parse_validate_and_find_the_principal_id() {
    for &(text, well_formed, valid, critical) in CASES {
        let parsed = Policy::parse(text);
        assert_eq!(parsed.is_ok(), well_formed, "well formed: {text:?}");
        let checked = Policy::parse_valid(text, &DEFINED);
        assert_eq!(checked.is_ok(), valid, "valid: {text:?}");
        if !well_formed {
            assert_eq!(checked, Err(PolicyError::Syntax), "{text:?}");
        } else if !valid {
            assert_eq!(checked, Err(PolicyError::Invalid), "{text:?}");
        }
        if let Ok(p) = parsed {
            assert_eq!(
                p.critical_single_idnum(&DEFINED),
                critical,
                "critical: {text:?}"
            );
        }
    }
}

#[test]
fn and_and_or_apply_left_to_right() {
    let p = |t: &str| Policy::parse(t).unwrap();
    assert_eq!(
        p("sex OR forename AND idnum1"),
        p("(sex OR forename) AND idnum1")
    );
    assert_ne!(
        p("sex OR forename AND idnum1"),
        p("sex OR (forename AND idnum1)")
    );
    assert_eq!(p("NOT sex AND dob"), p("(NOT sex) AND dob"));
    // The original's four-valued "requires" (unknown gives way to the other operand) judges
    // this as requiring sex and idnum1, so it is accepted, as CamCOPS accepts it.
    assert!(Policy::parse_valid("sex OR (forename AND idnum1)", &DEFINED).is_ok());
}

#[test]
fn tokens_are_case_insensitive_and_anything_else_is_a_syntax_error() {
    for ok in [
        "Sex And IdNum1",
        "sex\tAND\r\nidnum001",
        "(sex)AND(idnum1)",
        "NOT NOT sex",
    ] {
        assert!(Policy::parse(ok).is_ok(), "{ok:?}");
    }
    for bad in [
        "sex AND idnum",
        "sex AND idnum0",
        "sex AND idnum 1",
        "sex AND idnum-1",
        "sex AND idnum1.5",
        "sex && idnum1",
        "sex AND idnum1; DROP TABLE _security_groups; --",
        "sex' OR '1'='1",
        "sex AND ()",
        "(sex",
        "sex)",
        "sex AND idnum1 (forename)",
        "sex AND idnum1 #comment",
        "séx AND idnum1",
        "sex AND idnum1_0",
    ] {
        assert_eq!(Policy::parse(bad), Err(PolicyError::Syntax), "{bad:?}");
    }
}

#[test]
fn unknown_or_huge_id_numbers_are_invalid_not_errors() {
    let huge = format!("sex AND idnum{}", "9".repeat(40));
    assert_eq!(
        Policy::parse_valid(&huge, &DEFINED),
        Err(PolicyError::Invalid)
    );
    assert_eq!(
        Policy::parse("sex AND idnum1").unwrap().mentioned_idnums(),
        vec![1]
    );
    assert_eq!(
        Policy::parse_valid("sex AND idnum1", &[]),
        Err(PolicyError::Invalid)
    );
    assert_eq!(
        Policy::parse("sex AND idnum1 AND idnum1")
            .unwrap()
            .critical_single_idnum(&DEFINED),
        Some(1)
    );
}

#[test]
fn deeply_nested_or_long_input_does_not_overflow() {
    let deep = format!("{}sex{}", "(".repeat(120), ")".repeat(120));
    assert!(Policy::parse(&deep).is_ok());
    let deeper = format!("{}sex{}", "(".repeat(20_000), ")".repeat(20_000));
    assert_eq!(Policy::parse(&deeper), Err(PolicyError::Syntax));
    // The form refuses long text before parsing; parsing itself stays safe at 10,000 chars.
    let long = "sex AND ".repeat(1250);
    assert_eq!(Policy::parse(&long), Err(PolicyError::Syntax));
    assert_eq!(
        validate_policy_field(&"x".repeat(10_000), &DEFINED),
        Err("Longer than maximum length 255".to_owned())
    );
}

#[test]
fn the_form_field_messages_are_the_originals() {
    assert_eq!(
        validate_policy_field("  ", &DEFINED),
        Err("Required".into())
    );
    assert_eq!(
        validate_policy_field("sex AND", &DEFINED),
        Err("Syntactically invalid policy".into())
    );
    assert_eq!(
        validate_policy_field("sex", &DEFINED),
        Err("Invalid policy. Have you referred to non-existent ID numbers? Is the policy less restrictive than the tablet’s minimum ID policy? ['sex AND ((forename AND surname AND dob) OR anyidnum)']".into())
    );
    assert_eq!(
        validate_policy_field(" sex AND idnum1\n", &DEFINED),
        Ok("sex AND idnum1".into())
    );
}
