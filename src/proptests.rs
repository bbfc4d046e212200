//! Property tests of the parsers that take outside input: the ID policy language, the task
//! filter's column codecs, the API body parser, the session cookie's content and the
//! `redirect_url` check. Arbitrary input never panics; what is written reads back the same.
//! (The INI reader's are in `config::tests`, next to the private module.)

use std::collections::HashMap;

use actix_session::Session;
use actix_web::cookie::{Cookie, CookieJar, Key};
use actix_web::{test as atest, web, App, HttpResponse};
use chrono::{DateTime, FixedOffset, TimeZone};
use proptest::prelude::*;
use sha2::{Digest, Sha512};

use crate::api::body::{parse_form, Rejected};
use crate::config::Settings;
use crate::db::DbUrl;
use crate::models::policy::{validate_policy_field, Policy};
use crate::models::task_filter::{
    decode_datetime, decode_idnum_list, decode_int_list, decode_string_list, encode_datetime,
    encode_idnum_list, encode_int_list, encode_string_list, IdNumReference,
};
use crate::routes::page::safe_redirect;
use crate::session::cookie::CookieData;

const SECRET: &str = "property-test-secret-property-test-secret";

/// Settings with the test secret and plain-HTTP cookies (named `camcops`).
fn cookie_settings() -> Settings {
    let mut s = Settings::with_defaults(
        DbUrl::parse("sqlite://unused.sqlite").expect("valid"),
        SECRET,
    );
    s.allow_insecure_cookies = true;
    s
}

/// A cookie value the middleware decrypts to this state (the same key derivation as
/// `cookie::middleware`): what a forged or older cookie could carry once decrypted.
fn sealed(state: &HashMap<String, String>) -> String {
    let material = Sha512::digest(format!("camcops-web cookie key\0{SECRET}").as_bytes());
    let key = Key::derive_from(&material);
    let mut jar = CookieJar::new();
    let json = serde_json::to_string(state).expect("serialises");
    jar.private_mut(&key).add(Cookie::new("camcops", json));
    jar.get("camcops")
        .map(|c| c.value().to_string())
        .unwrap_or_default()
}

/// Sends each cookie value through the real middleware to a handler that reads everything
/// the cookie offers, then writes `id`/`token`; returns (status, token length read, the
/// credentials read back from the cookie the response set).
fn through_middleware(
    cookie: String,
    id: i32,
    token: String,
) -> (u16, usize, (Option<i32>, String)) {
    actix_web::rt::System::new().block_on(async move {
        let app = atest::init_service(
            App::new()
                .wrap(crate::session::cookie::middleware(&cookie_settings()))
                .route(
                    "/read",
                    web::get().to(move |s: Session| {
                        let (id2, token2) = (id, token.clone());
                        async move {
                            let c = CookieData(s);
                            let (_, t) = c.credentials();
                            let _ = c.csrf_ok("anything");
                            let _ = c.take_flashes();
                            c.set_credentials(id2, &token2);
                            HttpResponse::Ok().body(t.len().to_string())
                        }
                    }),
                )
                .route(
                    "/check",
                    web::get().to(|s: Session| async move {
                        let (id, t) = CookieData(s).credentials();
                        HttpResponse::Ok().body(format!(
                            "{}|{t}",
                            id.map(|i| i.to_string()).unwrap_or_default()
                        ))
                    }),
                ),
        )
        .await;
        let req = atest::TestRequest::get()
            .uri("/read")
            .insert_header(("cookie", format!("camcops={cookie}")))
            .to_request();
        let res = atest::call_service(&app, req).await;
        let status = res.status().as_u16();
        let set = res
            .response()
            .cookies()
            .find(|c| c.name() == "camcops")
            .map(|c| c.value().to_string());
        let len: usize = String::from_utf8_lossy(&atest::read_body(res).await)
            .parse()
            .unwrap_or(usize::MAX);
        let Some(set) = set else {
            return (status, len, (None, String::new()));
        };
        let req = atest::TestRequest::get()
            .uri("/check")
            .insert_header(("cookie", format!("camcops={set}")))
            .to_request();
        let body = atest::call_and_read_body(&app, req).await;
        let text = String::from_utf8_lossy(&body).to_string();
        let (i, t) = text.split_once('|').unwrap_or(("", ""));
        (status, len, (i.parse().ok(), t.to_string()))
    })
}

/// Policy text from a random tree: names in random case, random spacing and parentheses.
fn policy_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("sex".to_string()),
        Just("forename".to_string()),
        Just("surname".to_string()),
        Just("dob".to_string()),
        Just("address".to_string()),
        Just("gp".to_string()),
        Just("otherdetails".to_string()),
        Just("anyidnum".to_string()),
        Just("otheridnum".to_string()),
        (1u32..200).prop_map(|n| format!("idnum{n}")),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("NOT {e}")),
            inner.clone().prop_map(|e| format!("({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a} OR {b})")),
        ]
    })
}

fn respace(text: &str, upper: bool) -> String {
    let t = text
        .replace('(', " ( ")
        .replace(')', "\t)\n")
        .replace(' ', "  ");
    if upper {
        t.to_uppercase()
    } else {
        t.to_lowercase()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Any text given as a policy never panics (parse, checks and the form's validation).
    #[test]
    fn policy_arbitrary_text_never_panics(text in "\\PC{0,80}|[()a-zA-Z0-9 \n]{0,300}") {
        if let Ok(p) = Policy::parse(&text) {
            let _ = p.mentioned_idnums();
            let _ = p.is_valid_for(&[1, 2, 3]);
            let _ = p.critical_single_idnum(&[1, 2, 3]);
        }
        let _ = validate_policy_field(&text, &[1, 2]);
    }

    /// Deeply nested input is refused or parsed, never a stack overflow.
    #[test]
    fn policy_deep_nesting_never_panics(depth in 0usize..5000, not in any::<bool>()) {
        let open = if not { "NOT (" } else { "(" };
        let text = format!("{}sex{}", open.repeat(depth), ")".repeat(depth));
        let _ = Policy::parse(&text);
    }

    /// A policy reads the same whatever the case and spacing; the text the group form stores
    /// reads back as the same policy.
    #[test]
    fn policy_round_trips(text in policy_text(), upper in any::<bool>()) {
        let p = Policy::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?;
        prop_assert_eq!(Policy::parse(&respace(&text, upper)).ok(), Some(p.clone()));
        if let Ok(stored) = validate_policy_field(&format!("  {text}\n"), &[]) {
            prop_assert_eq!(Policy::parse(&stored).ok(), Some(p));
        }
    }

    /// The task filter's string lists (CSV, every item quoted) read back the same, whatever
    /// the items (quotes, commas, line breaks included); any stored text never panics.
    #[test]
    fn string_list_round_trips(items in prop::collection::vec("\\PC{0,12}|[\",\n\r ]{0,4}", 0..6)) {
        // One empty item is written as `""` and reads back as one empty item.
        prop_assert_eq!(decode_string_list(&encode_string_list(&items)), items);
    }

    #[test]
    fn string_list_arbitrary_text_never_panics(text in "\\PC{0,60}|[\",\n\r a]{0,20}") {
        let _ = decode_string_list(&text);
    }

    /// Integer and ID-number lists, and dates, read back the same; garbage never panics.
    #[test]
    fn int_and_idnum_lists_round_trip(
        ints in prop::collection::vec(any::<i32>(), 0..8),
        refs in prop::collection::vec((0i32..=i32::MAX, 0i64..=i64::MAX), 0..6),
        garbage in "\\PC{0,40}|[0-9, -]{0,30}",
    ) {
        prop_assert_eq!(decode_int_list(&encode_int_list(&ints)), ints);
        let refs: Vec<IdNumReference> = refs
            .into_iter()
            .map(|(which_idnum, idnum_value)| IdNumReference { which_idnum, idnum_value })
            .collect();
        prop_assert_eq!(decode_idnum_list(&encode_idnum_list(&refs)), refs);
        let _ = decode_int_list(&garbage);
        let _ = decode_idnum_list(&garbage);
        let _ = decode_datetime(&garbage);
    }

    #[test]
    fn datetime_round_trips(secs in -62_000_000_000i64..250_000_000_000, micros in 0u32..1_000_000, offset_min in -1439i32..=1439) {
        let tz = FixedOffset::east_opt(offset_min * 60).expect("in range");
        let Some(utc) = DateTime::from_timestamp(secs, micros * 1000) else { return Ok(()) };
        let dt = tz.from_utc_datetime(&utc.naive_utc());
        prop_assert_eq!(decode_datetime(&encode_datetime(&dt)), Some(dt));
    }

    /// The API's body parser: any bytes never panic; fields encoded as a client would read
    /// back the same.
    #[test]
    fn api_body_arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_form(&body);
    }

    #[test]
    fn api_body_round_trips(
        fields in prop::collection::btree_map("\\PC{1,12}", "\\PC{0,30}", 0..6)
    ) {
        let encoded = serde_urlencoded::to_string(&fields).expect("encodes");
        let parsed = parse_form(encoded.as_bytes());
        prop_assert!(!matches!(parsed, Err(Rejected::TooLarge)));
        let parsed = parsed.map_err(|_| TestCaseError::fail(encoded.clone()))?;
        prop_assert_eq!(parsed.len(), fields.len());
        for (k, v) in &fields {
            prop_assert_eq!(parsed.get(k), Some(v));
        }
    }

    /// The session cookie: any cookie text (garbage, or a correctly sealed cookie whose
    /// content is anything under the keys we read) never panics or fails the request and
    /// never yields an over-long token; credentials written read back the same.
    #[test]
    fn cookie_never_panics_and_round_trips(
        garbage in "[!#-+\\--:<-\\[\\]-~]{0,80}",
        raw in prop::collection::vec(
            (prop_oneof![Just("session_id"), Just("session_token"), Just("csrf"), Just("flash"), Just("other")],
             "\\PC{0,40}|[0-9\\[\\]{}\",:a-z]{0,40}"),
            0..6,
        ),
        sealed_or_garbage in any::<bool>(),
        id in any::<i32>(),
        token in "[A-Za-z0-9_-]{0,128}",
    ) {
        let cookie = if sealed_or_garbage {
            sealed(&raw.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        } else {
            garbage
        };
        let (status, len, back) = through_middleware(cookie, id, token.clone());
        prop_assert_eq!(status, 200);
        prop_assert!(len <= 128);
        prop_assert_eq!(back, (Some(id), token));
    }

    /// `redirect_url`: anything never panics; what is accepted is a path on this site (one
    /// leading slash, no backslash or control character) and comes back unchanged.
    #[test]
    fn redirect_check_accepts_only_local_paths(raw in "\\PC{0,60}|[/\\\\ \t\na-z:.?#%]{0,20}") {
        if let Ok(url) = safe_redirect(Some(&raw), "/") {
            prop_assert!(url == "/" || url == raw.trim(), "{url:?} from {raw:?}");
            prop_assert!(url.starts_with('/'));
            prop_assert!(!url.starts_with("//") && !url.contains('\\'));
            prop_assert!(!url.chars().any(char::is_control));
        }
    }

    /// Any path made of safe characters is accepted unchanged.
    #[test]
    fn redirect_check_keeps_local_paths(path in "/[a-z0-9_]{1,10}(/[a-z0-9_.-]{0,10}){0,3}(\\?[a-z0-9_=&%]{0,20})?") {
        prop_assert_eq!(safe_redirect(Some(&path), "/").ok(), Some(path));
    }
}

/// The sealing above matches the middleware's key (otherwise the forged-content cases would
/// only ever test an undecryptable cookie): a sealed token is read.
#[test]
fn sealed_cookie_content_is_read() {
    let state = HashMap::from([
        ("session_id".to_string(), "7".to_string()),
        ("session_token".to_string(), "\"abc\"".to_string()),
    ]);
    let (status, len, _) = through_middleware(sealed(&state), 1, "t".into());
    assert_eq!((status, len), (200, 3));
    let long = HashMap::from([(
        "session_token".to_string(),
        format!("\"{}\"", "x".repeat(129)),
    )]);
    assert_eq!(through_middleware(sealed(&long), 1, "t".into()).1, 0);
}
