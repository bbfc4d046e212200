//! The audit trail through HTTP on every backend (admin §6): each filter alone
//! and combined against a reference query in the test, paging newest first, long details
//! on request, bad input (400 or an empty page, never a 500), and that reading the trail is
//! not itself audited.

use chrono::{Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;

use camcops_web::db::schema::_security_audit as a;
use camcops_web::db::DbConnection;

use crate::helpers::{get_with, logged_in, unescape, TestApp};
use crate::testdb::backend_test;

const PW: &str = "correct horse battery";

/// A seeded row: `(when, source, remote_addr, user_id, table_name, server_pk, details)`.
type Seed = (
    NaiveDateTime,
    String,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<i32>,
    String,
);

fn at(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 3, day)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap()
}

/// 60 rows over 10 days with every column varied; users `root` and `alice`.
fn seed(app: &TestApp) -> (i32, i32) {
    let root = app.create_user_with("root", PW, true, |m| m.may_use_webviewer = Some(true));
    let alice = app.create_user("alice", PW);
    let mut conn = app.conn();
    let sources = ["webviewer", "tablet", "console"];
    let ips = [
        Some("10.0.0.1"),
        Some("10.0.0.2"),
        Some("2001:db8::1"),
        None,
    ];
    let users = [Some(root), Some(alice), None];
    let tables = [Some("phq9"), Some("_security_groups"), None];
    for i in 0..60_i32 {
        let n = usize::try_from(i).unwrap();
        let details = if i % 7 == 0 {
            format!("Special 100%_done row {i}")
        } else {
            format!("Login row {i}")
        };
        diesel::insert_into(a::table)
            .values((
                a::when_access_utc.eq(at(
                    1 + u32::try_from(i / 6).unwrap(),
                    u32::try_from(i % 6).unwrap() * 3,
                )),
                a::source.eq(sources[n % 3]),
                a::remote_addr.eq(ips[n % 4]),
                a::user_id.eq(users[n % 3]),
                a::table_name.eq(tables[n % 3]),
                a::server_pk.eq(if i % 5 == 0 { None } else { Some(i % 4) }),
                a::details.eq(details),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    (root, alice)
}

/// A stored row: `(id, when, source, remote_addr, user_id, table_name, server_pk, details)`.
type Stored = (
    i32,
    NaiveDateTime,
    String,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<i32>,
    Option<String>,
);

/// The reference: every row of the table, filtered here in Rust, newest first.
fn reference(conn: &mut DbConnection, keep: impl Fn(&Seed) -> bool) -> Vec<i32> {
    let rows: Vec<Stored> = a::table
        .order(a::id.desc())
        .select((
            a::id,
            a::when_access_utc,
            a::source,
            a::remote_addr,
            a::user_id,
            a::table_name,
            a::server_pk,
            a::details,
        ))
        .load(conn)
        .unwrap();
    rows.into_iter()
        .filter(|r| {
            keep(&(
                r.1,
                r.2.clone(),
                r.3.clone(),
                r.4,
                r.5.clone(),
                r.6,
                r.7.clone().unwrap_or_default(),
            ))
        })
        .map(|r| r.0)
        .collect()
}

/// The audit ids on a page, in page order.
fn ids(html: &str) -> Vec<i32> {
    let (Some(s), Some(e)) = (html.find("<tbody>"), html.find("</tbody>")) else {
        return Vec::new();
    };
    html[s..e]
        .split("<tr>\n<td>")
        .skip(1)
        .map(|r| r[..r.find("</td>").unwrap()].parse().unwrap())
        .collect()
}

fn audit_count(conn: &mut DbConnection) -> i64 {
    a::table.count().get_result(conn).unwrap()
}

/// A naive UTC time as the form's local `datetime-local` value.
fn local(t: NaiveDateTime) -> String {
    Utc.from_utc_datetime(&t)
        .with_timezone(&Local)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

backend_test! {
    /// admin §6.3: every filter alone and combined gives exactly the rows of the reference query,
    /// newest first; the conditions are listed; an unknown username matches nothing.
    async fn each_filter_alone_and_combined_matches_the_reference(db) {
        let app = TestApp::spawn(db).await;
        let (root, alice) = seed(&app);
        let c = logged_in(&app, "root", PW).await;
        let mut conn = app.conn();
        let (d3, d5) = (at(3, 0), at(5, 12));
        let (s3, s5) = (local(d3), local(d5));
        type Keep = Box<dyn Fn(&Seed) -> bool>;
        let cases: Vec<(String, Keep)> = vec![
            ("".into(), Box::new(|_: &Seed| true)),
            (format!("start_datetime={s3}"), Box::new(move |r: &Seed| r.0 >= d3)),
            (format!("end_datetime={s5}"), Box::new(move |r: &Seed| r.0 < d5)),
            ("source=tablet".into(), Box::new(|r: &Seed| r.1 == "tablet")),
            ("remote_ip_addr=10.0.0.2".into(), Box::new(|r: &Seed| r.2.as_deref() == Some("10.0.0.2"))),
            ("remote_ip_addr=2001:db8:0:0:0:0:0:1".into(), Box::new(|r: &Seed| r.2.as_deref() == Some("2001:db8::1"))),
            ("username=alice".into(), Box::new(move |r: &Seed| r.3 == Some(alice))),
            ("table_name=phq9".into(), Box::new(|r: &Seed| r.4.as_deref() == Some("phq9"))),
            ("table_name=_security_groups".into(), Box::new(|r: &Seed| r.4.as_deref() == Some("_security_groups"))),
            ("server_pk=2".into(), Box::new(|r: &Seed| r.5 == Some(2))),
            ("text_contains=special".into(), Box::new(|r: &Seed| r.6.to_lowercase().contains("special"))),
            ("text_contains=100%25_".into(), Box::new(|r: &Seed| r.6.contains("100%_"))),
            ("text_contains=_".into(), Box::new(|r: &Seed| r.6.contains('_'))),
            (format!("start_datetime={s3}&end_datetime={s5}&source=webviewer"), Box::new(move |r: &Seed| r.0 >= d3 && r.0 < d5 && r.1 == "webviewer")),
            ("username=root&table_name=phq9&server_pk=1".into(), Box::new(move |r: &Seed| r.3 == Some(root) && r.4.as_deref() == Some("phq9") && r.5 == Some(1))),
            ("source=console&remote_ip_addr=10.0.0.1&text_contains=ROW".into(), Box::new(|r: &Seed| r.1 == "console" && r.2.as_deref() == Some("10.0.0.1") && r.6.contains("row"))),
            ("username=nobody_here".into(), Box::new(|_: &Seed| false)),
        ];
        for (q, keep) in cases {
            let want = reference(&mut conn, keep);
            let (status, body) = get_with(&app, &c, &format!("/view_audit_trail?rows_per_page=1000&{q}")).await;
            assert_eq!(status, 200, "{q}");
            assert_eq!(ids(&body), want, "{q}");
            if !q.is_empty() {
                assert!(body.contains("<h2>Conditions</h2>"), "{q}");
            }
        }
        let (_, body) = get_with(&app, &c, "/view_audit_trail?username=alice&source=tablet").await;
        assert!(body.contains("source = tablet; username = alice"), "conditions in the form's order");
    }

    /// admin §0.6, admin §6.3: pages of `rows_per_page`, newest first, clamped to the last page, with
    /// the pager keeping the other parameters; long details whole on request.
    async fn paging_newest_first_and_details_on_request(db) {
        let app = TestApp::spawn(db).await;
        seed(&app);
        let mut conn = app.conn();
        let long = format!("{}END", "é".repeat(170));
        diesel::insert_into(a::table)
            .values((a::when_access_utc.eq(at(20, 0)), a::source.eq("tablet"), a::details.eq(&long)))
            .execute(&mut conn)
            .unwrap();
        let c = logged_in(&app, "root", PW).await;
        let tablet = reference(&mut conn, |r| r.1 == "tablet");
        assert_eq!(tablet.len(), 21);
        let (_, p1) = get_with(&app, &c, "/view_audit_trail?source=tablet&rows_per_page=10").await;
        assert_eq!(ids(&p1), tablet[..10].to_vec());
        assert!(p1.contains("Page 1 of 3; 21 records in total."), "{p1}");
        assert!(unescape(&p1).contains("href=\"/view_audit_trail?page=2&rows_per_page=10&source=tablet\""), "{p1}");
        assert!(p1.contains("Details (truncated)") && !p1.contains("END"));
        assert!(p1.contains(&"é".repeat(100)) && !p1.contains(&"é".repeat(101)));
        let (_, p3) = get_with(&app, &c, "/view_audit_trail?source=tablet&rows_per_page=10&page=3").await;
        assert_eq!(ids(&p3), tablet[20..].to_vec());
        let (_, p9) = get_with(&app, &c, "/view_audit_trail?source=tablet&rows_per_page=10&page=9").await;
        assert_eq!(ids(&p9), tablet[20..].to_vec(), "clamped to the last page");
        assert!(unescape(&p1).contains("href=\"/view_audit_trail?page=1&rows_per_page=10&source=tablet&truncate=False\">Show details in full"), "{p1}");
        let (_, whole) = get_with(&app, &c, "/view_audit_trail?source=tablet&rows_per_page=10&truncate=False").await;
        assert!(whole.contains(&long) && whole.contains("<th scope=\"col\">Details</th>"));
    }

    /// Bad input in every filter (garbage, SQL-looking, 10,000 characters): a 400 page or an
    /// empty result, never a 500; and viewing (good or bad) writes no audit row.
    async fn bad_filters_are_refused_and_viewing_is_not_audited(db) {
        let app = TestApp::spawn(db).await;
        seed(&app);
        let c = logged_in(&app, "root", PW).await;
        let mut conn = app.conn();
        let before = audit_count(&mut conn);
        let long = "x".repeat(10_000);
        let sql = "x' OR '1'='1'; DROP TABLE _security_audit; --";
        let enc = |s: &str| camcops_web::error::url_encode(s);
        for field in ["start_datetime", "end_datetime", "source", "remote_ip_addr", "username", "table_name", "server_pk", "text_contains", "rows_per_page", "page", "truncate"] {
            for value in [sql, long.as_str(), "\u{0}", "-1"] {
                let path = format!("/view_audit_trail?{field}={}", enc(value));
                let (status, body) = get_with(&app, &c, &path).await;
                assert!(status == 400 || (status == 200 && ids(&body).is_empty()), "{field}={value:.30}: {status}");
                if status == 400 {
                    assert!(unescape(&body).contains(&format!("Bad '{field}' parameter")), "{field}: {body}");
                }
            }
        }
        let (status, body) = get_with(&app, &c, &format!("/view_audit_trail?text_contains={}", enc(sql))).await;
        assert_eq!((status, ids(&body)), (200, Vec::new()), "SQL-looking text matches nothing");
        for page in ["/audit_menu", "/offer_audit_trail", "/view_audit_trail", "/view_audit_trail?source=tablet"] {
            assert_eq!(get_with(&app, &c, page).await.0, 200, "{page}");
        }
        assert_eq!(audit_count(&mut conn), before, "viewing the trail is not audited");
        let (_, offer) = get_with(&app, &c, "/offer_audit_trail").await;
        for name in ["rows_per_page", "start_datetime", "end_datetime", "source", "remote_ip_addr", "username", "table_name", "server_pk", "text_contains", "truncate"] {
            assert!(offer.contains(&format!("name=\"{name}\"")), "offer form lacks {name}");
        }
        assert!(offer.contains("<option value=\"alice\">alice</option>"));
    }
}
