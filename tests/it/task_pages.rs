//! `/view_tasks` and `/set_filters` through HTTP on every backend: statuses, CSRF, page sizes
//! (the 400s of sessions §7.3 item 8, the session's `number_to_view`), page clamping, each filter field
//! on the small seeded data set (`task_seed`), the group-visibility rules, validation messages and clearing.

use chrono::{Local, NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;

use camcops_web::db::schema::{
    _security_user_group as ugm, _security_webviewer_sessions as sess, _task_filters,
};
use camcops_web::models::user::User;

use crate::helpers::{location, new_client, TestApp};
use crate::task_seed::{self, day, task, user, Seed, Times, PW};
use crate::testdb::backend_test;

/// The seeded data set (`task_seed`), one task per day.
fn seed(app: &TestApp) -> Seed {
    task_seed::seed(&mut app.conn(), Times::OnePerDay)
}

/// The `<tbody>` of the task table ("" when there is none).
pub(crate) fn tbody(html: &str) -> &str {
    match (html.find("<tbody>"), html.find("</tbody>")) {
        (Some(a), Some(b)) if a < b => &html[a..b],
        _ => "",
    }
}

fn row_count(html: &str) -> usize {
    tbody(html).matches("<tr>").count()
}

/// The seeded tasks on the page, by number (= creation day), in page order.
fn task_days(html: &str) -> Vec<u32> {
    tbody(html)
        .split("<tr>")
        .skip(1)
        .map(|row| {
            let i = row.find("2024-01-0").expect("created date in row");
            row[i + 9..i + 10].parse().unwrap()
        })
        .collect()
}

/// A new client logged in as `name`.
async fn browser(app: &TestApp, name: &str) -> reqwest::Client {
    let c = new_client();
    let r = app.login_with(&c, name, PW).await;
    assert_eq!(r.status(), 303, "login as {name}");
    c
}

pub(crate) async fn get(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

pub(crate) async fn post(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    c.post(app.url(path)).form(form).send().await.unwrap()
}

/// POSTs "Set filters" with `fields` (and the CSRF token).
pub(crate) async fn set_filter(
    app: &TestApp,
    c: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = app.csrf_with(c, "/set_filters").await;
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token), ("set_filters", "Set filters")];
    form.extend_from_slice(fields);
    post(app, c, "/set_filters", &form).await
}

/// Sets the filter, expects the 303 to /view_tasks, and returns the task numbers shown.
async fn days_with(app: &TestApp, c: &reqwest::Client, fields: &[(&str, &str)]) -> Vec<u32> {
    let r = set_filter(app, c, fields).await;
    assert_eq!(r.status(), 303, "{fields:?}: {}", r.text().await.unwrap());
    assert_eq!(location(&r), "/view_tasks");
    let (status, body) = get(app, c, "/view_tasks?rows_per_page=100").await;
    assert_eq!(status, 200);
    task_days(&body)
}

/// A UTC time as a `datetime-local` value in the server's (this process's) time zone.
fn local_input(t: NaiveDateTime) -> String {
    Utc.from_utc_datetime(&t)
        .with_timezone(&Local)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

fn session_row(app: &TestApp) -> (Option<i32>, Option<i32>) {
    let mut conn = app.conn();
    sess::table
        .filter(sess::user_id.is_not_null())
        .select((sess::number_to_view, sess::task_filter_id))
        .first(&mut conn)
        .unwrap()
}

backend_test! {
    /// Anonymous visitors are sent to log in; a user who must change their password is sent
    /// to do that first.
    async fn anonymous_and_unpermitted_users_are_kept_out(db) {
        let app = TestApp::spawn(db).await;
        for (path, back) in [("/view_tasks", "%2Fview_tasks"), ("/set_filters", "%2Fset_filters")] {
            let r = app.get(path).await;
            assert_eq!(r.status(), 303);
            assert_eq!(location(&r), format!("/login?redirect_url={back}"));
            let r = app.post_form(path, &[("csrf_token", "x")]).await;
            assert_eq!(r.status(), 303);
            assert_eq!(location(&r), format!("/login?redirect_url={back}"));
        }
        // A logged-in user who must change their password is sent there first.
        let mut conn = app.conn();
        let uid = user(&mut conn, "mustchange", false, &[(None, true)]);
        let c = browser(&app, "mustchange").await;
        User::set_must_change_password(&mut conn, uid, true).unwrap();
        let r = c.get(app.url("/view_tasks")).send().await.unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/change_own_password");
        // Web-viewer permission withdrawn after login: 403 page.
        let uid = user(&mut conn, "revoked", false, &[(None, true)]);
        let c = browser(&app, "revoked").await;
        diesel::update(ugm::table.filter(ugm::user_id.eq(uid)))
            .set(ugm::may_use_webviewer.eq(Some(false)))
            .execute(&mut conn)
            .unwrap();
        assert_eq!(get(&app, &c, "/view_tasks").await.0, 403);
        assert_eq!(get(&app, &c, "/set_filters").await.0, 403);
    }

    /// The superuser sees every task, newest first, with its display columns; the filter is
    /// created on the first view (lazily) and described as "[No filters.]".
    async fn superuser_sees_all_tasks_newest_first(db) {
        let app = TestApp::spawn(db).await;
        seed(&app);
        let c = browser(&app, "super").await;
        assert_eq!(session_row(&app).1, None, "no filter before the first view");
        let (status, body) = get(&app, &c, "/view_tasks").await;
        assert_eq!(status, 200);
        assert_eq!(task_days(&body), vec![8, 7, 6, 5, 4, 3, 2, 1]);
        assert!(body.contains("[No filters.]"));
        assert!(body.contains("href=\"/set_filters\">Set or clear filters</a>"));
        assert!(body.contains("SMITH, Ann") && body.contains("NHS number: 9434765919"));
        assert!(body.contains("Tablet one") && body.contains(">ua<") && body.contains(">PHQ-9<"));
        assert!(!body.contains("class=\"camcops-task\""), "no CamCOPS links without CAMCOPS_TASK_VIEW_URL");
        assert!(!body.contains("No tasks found") && !body.contains("not assigned you to any groups"));
        assert!(!body.contains("isn’t configured to view all patients"));
        // sessions §2.11 makes the filter on first use; an empty filter shows the same list, so the
        // task list (a GET) writes nothing and the filter page makes it.
        assert_eq!(session_row(&app).1, None, "the task list wrote no filter");
        get(&app, &c, "/set_filters").await;
        let fid = session_row(&app).1.expect("filter created by the filter page");
        get(&app, &c, "/view_tasks").await;
        get(&app, &c, "/set_filters").await;
        assert_eq!(session_row(&app).1, Some(fid), "the same filter is reused");
        let mut conn = app.conn();
        let n: i64 = _task_filters::table.count().get_result(&mut conn).unwrap();
        assert_eq!(n, 1);
        assert!(get(&app, &c, "/view_tasks?via_index=false").await.0 == 200);
    }

    /// `rows_per_page` in the address: each choice shows that many rows; anything else is a
    /// 400 page; "Set n/page" (CSRF) saves the size in the session for later pages.
    async fn rows_per_page_choices_and_the_session_size(db) {
        let app = TestApp::spawn(db).await;
        let s = seed(&app);
        let mut conn = app.conn();
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            for i in 0..112 {
                let t = day(10, 0) + chrono::Duration::minutes(i);
                task(c, "ref_satis_gen", None, (s.groups[0], s.devices[0], None), t, true);
            }
            Ok(())
        })
        .unwrap();
        let c = browser(&app, "super").await;
        let (status, body) = get(&app, &c, "/view_tasks").await;
        assert_eq!(status, 200);
        assert_eq!(row_count(&body), 25, "default 25");
        for n in [10, 25, 50, 100] {
            let (status, body) = get(&app, &c, &format!("/view_tasks?rows_per_page={n}")).await;
            assert_eq!(status, 200);
            assert_eq!(row_count(&body), n);
        }
        for bad in ["0", "7", "-1", "abc", "", "1000"] {
            let (status, body) = get(&app, &c, &format!("/view_tasks?rows_per_page={bad}")).await;
            assert_eq!(status, 400, "{bad}");
            assert!(body.contains("rows_per_page"), "{bad}");
        }
        assert_eq!(session_row(&app).0, None, "a GET parameter is not saved");
        let token = app.csrf_with(&c, "/view_tasks").await;
        // Without or with a wrong CSRF token: 400, nothing saved.
        for t in ["", "forged"] {
            let r = post(&app, &c, "/view_tasks", &[("rows_per_page", "50"), ("submit_tpp", "x"), ("csrf_token", t)]).await;
            assert_eq!(r.status(), 400);
        }
        assert_eq!(session_row(&app).0, None);
        for bad in ["7", "0", "abc"] {
            let r = post(&app, &c, "/view_tasks", &[("rows_per_page", bad), ("submit_tpp", "x"), ("csrf_token", &token)]).await;
            assert_eq!(r.status(), 400, "{bad}");
        }
        let r = post(&app, &c, "/view_tasks", &[("rows_per_page", "50"), ("submit_tpp", "Set n/page"), ("csrf_token", &token)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/view_tasks");
        assert_eq!(session_row(&app).0, Some(50));
        let (_, body) = get(&app, &c, "/view_tasks").await;
        assert_eq!(row_count(&body), 50);
        assert!(body.contains("value=\"50\" checked"), "the saved size is ticked");
        // A GET parameter still overrides for that page only.
        assert_eq!(row_count(&get(&app, &c, "/view_tasks?rows_per_page=10").await.1), 10);
        assert_eq!(row_count(&get(&app, &c, "/view_tasks").await.1), 50);
        // Refresh: CSRF-checked, then back to the same page.
        let r = post(&app, &c, "/view_tasks?page=2", &[("refresh_tasks", "Refresh"), ("csrf_token", &token)]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/view_tasks?page=2");
        let r = post(&app, &c, "/view_tasks", &[("refresh_tasks", "Refresh")]).await;
        assert_eq!(r.status(), 400);
        let r = post(&app, &c, "/view_tasks", &[("csrf_token", &token)]).await;
        assert_eq!(r.status(), 400, "no button");
    }

    /// `page` is clamped to the pages that exist; pager links keep the parameters (sorted);
    /// a non-integer page is a 400.
    async fn pages_are_clamped_and_linked(db) {
        let app = TestApp::spawn(db).await;
        let s = seed(&app);
        let mut conn = app.conn();
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            for i in 0..17 {
                let t = day(9, 0) + chrono::Duration::minutes(i);
                task(c, "ref_satis_gen", None, (s.groups[0], s.devices[0], None), t, true);
            }
            Ok(())
        })
        .unwrap();
        let c = browser(&app, "super").await;
        let q = |page: &str| format!("/view_tasks?rows_per_page=10&page={page}&zzz=1");
        assert_eq!(row_count(&get(&app, &c, &q("1")).await.1), 10);
        let (_, p3) = get(&app, &c, &q("3")).await;
        assert_eq!(task_days(&p3), vec![5, 4, 3, 2, 1]);
        let (status, p99) = get(&app, &c, &q("99")).await;
        assert_eq!(status, 200);
        assert_eq!(task_days(&p99), vec![5, 4, 3, 2, 1], "clamped to the last page");
        assert!(p99.contains("Page 3 of 3; 25 tasks in total."));
        assert!(p99.contains("href=\"/view_tasks?page=2&#38;rows_per_page=10&#38;zzz=1\""), "{p99}");
        assert_eq!(row_count(&get(&app, &c, &q("0")).await.1), 10);
        assert_eq!(row_count(&get(&app, &c, &q("-3")).await.1), 10);
        for bad in ["abc", "2.5", "99999999999999999999"] {
            assert_eq!(get(&app, &c, &q(bad)).await.0, 400, "{bad}");
        }
        // One page only: the pager still shows, and page=5 clamps to it.
        let (_, one) = get(&app, &c, "/view_tasks?rows_per_page=100&page=5").await;
        assert_eq!(row_count(&one), 25);
        assert!(one.contains("Page 1 of 1; 25 tasks in total."));
    }
}

/// Logs in as the superuser, sets `fields` and checks which seeded tasks are listed.
async fn check_filter(db: crate::testdb::TestDb, fields: &[(&str, &str)], want: &[u32]) {
    let app = TestApp::spawn(db).await;
    seed(&app);
    let c = browser(&app, "super").await;
    assert_eq!(days_with(&app, &c, fields).await, want, "{fields:?}");
}

backend_test! {
    /// Surname: exact, case-insensitive.
    async fn filter_surname(db) {
        check_filter(db, &[("surname", "smith")], &[7, 6, 2, 1]).await;
    }

    /// Forename: exact, case-insensitive.
    async fn filter_forename(db) {
        check_filter(db, &[("forename", "ANN")], &[8, 6, 3, 1]).await;
    }

    /// Date of birth: exact.
    async fn filter_dob(db) {
        check_filter(db, &[("dob", "1980-05-05")], &[7, 2]).await;
    }

    /// Sex (anonymous tasks drop out).
    async fn filter_sex(db) {
        check_filter(db, &[("sex", "M")], &[7, 2]).await;
    }

    /// ID numbers: criteria OR-ed; empty rows ignored.
    async fn filter_idnums(db) {
        check_filter(
            db,
            &[
                ("which_idnum", "2"), ("idnum_value", "222"),
                ("which_idnum", "1"), ("idnum_value", "9434765919"),
                ("which_idnum", ""), ("idnum_value", ""),
            ],
            &[8, 6, 3, 1],
        )
        .await;
    }

    /// "Only completed tasks?".
    async fn filter_complete_only(db) {
        check_filter(db, &[("complete_only", "true")], &[8, 7, 5, 4, 3, 1]).await;
    }

    /// Task types.
    async fn filter_task_types(db) {
        check_filter(db, &[("tasks", "phq9"), ("tasks", "bmi")], &[8, 6, 3, 1]).await;
    }

    /// Start inclusive, end exclusive (local time inputs).
    async fn filter_dates(db) {
        let start = local_input(day(3, 10));
        let end = local_input(day(5, 10));
        check_filter(db, &[("start_datetime", &start), ("end_datetime", &end)], &[4, 3]).await;
    }

    /// Start alone, and end alone.
    async fn filter_open_ended_dates(db) {
        let app = TestApp::spawn(db).await;
        seed(&app);
        let c = browser(&app, "super").await;
        let start = local_input(day(7, 10));
        assert_eq!(days_with(&app, &c, &[("start_datetime", &start)]).await, vec![8, 7]);
        let end = local_input(day(2, 10));
        assert_eq!(days_with(&app, &c, &[("end_datetime", &end)]).await, vec![1]);
    }

    /// Devices.
    async fn filter_devices(db) {
        let app = TestApp::spawn(db).await;
        let s = seed(&app);
        let c = browser(&app, "super").await;
        let d2 = s.devices[1].to_string();
        assert_eq!(days_with(&app, &c, &[("device_ids", &d2)]).await, vec![8, 6, 5, 2]);
        let d1 = s.devices[0].to_string();
        assert_eq!(days_with(&app, &c, &[("device_ids", &d1), ("device_ids", &d2)]).await.len(), 8);
    }

    /// Adding (uploading) users.
    async fn filter_adding_users(db) {
        let app = TestApp::spawn(db).await;
        let s = seed(&app);
        let c = browser(&app, "super").await;
        let ub = s.users[2].to_string();
        assert_eq!(days_with(&app, &c, &[("user_ids", &ub)]).await, vec![6, 5, 2]);
    }

    /// Groups.
    async fn filter_groups(db) {
        let app = TestApp::spawn(db).await;
        let s = seed(&app);
        let c = browser(&app, "super").await;
        let b = s.groups[1].to_string();
        assert_eq!(days_with(&app, &c, &[("group_ids", &b)]).await, vec![7, 5, 2]);
    }

    /// Several criteria are AND-ed; the description lists each.
    async fn filter_combined_and_described(db) {
        let app = TestApp::spawn(db).await;
        seed(&app);
        let c = browser(&app, "super").await;
        let got = days_with(&app, &c, &[("surname", "Smith"), ("complete_only", "true"), ("tasks", "phq9"), ("tasks", "photo")]).await;
        assert_eq!(got, vec![7, 1]);
        let (_, body) = get(&app, &c, "/view_tasks").await;
        assert!(body.contains("Surname = Smith") && body.contains("Only complete tasks"), "{body}");
        assert!(body.contains("Task is one of: PHQ-9, Photo"));
        let mut conn = app.conn();
        let stored: Option<String> = _task_filters::table.select(_task_filters::task_types).first(&mut conn).unwrap();
        assert_eq!(stored.as_deref(), Some("\"phq9\",\"photo\""));
    }
}

fn select_section<'a>(html: &'a str, id: &str) -> &'a str {
    let a = html.find(&format!("<select id=\"{id}\"")).unwrap();
    let b = a + html[a..].find("</select>").unwrap();
    &html[a..b]
}

backend_test! {
    /// A user whose only membership has no group sees nothing, with the original's warning.
    async fn user_without_groups_sees_nothing(db) {
        let app = TestApp::spawn(db).await;
        seed(&app);
        let c = browser(&app, "unone").await;
        let (status, body) = get(&app, &c, "/view_tasks").await;
        assert_eq!(status, 200);
        assert_eq!(row_count(&body), 0);
        assert!(body.contains("Your administrator has not assigned you to any groups. You won’t be able to see any tasks."));
        assert!(body.contains("No tasks found for your search criteria!"));
        assert!(days_with(&app, &c, &[("surname", "smith")]).await.is_empty());
        let (status, form) = get(&app, &c, "/set_filters").await;
        assert_eq!(status, 200);
        assert!(!select_section(&form, "group_ids").contains("<option"));
    }

    /// Without `view_all_patients_when_unfiltered`, only anonymous tasks show until a
    /// specific patient is filtered (sex alone is not enough); then the patient's tasks in
    /// visible groups show, including groups their group can see (B sees C).
    async fn restricted_user_needs_a_patient_filter(db) {
        let app = TestApp::spawn(db).await;
        seed(&app);
        let c = browser(&app, "ub").await;
        let (_, body) = get(&app, &c, "/view_tasks").await;
        assert_eq!(task_days(&body), vec![5]);
        assert!(body.contains("Your user isn’t configured to view all patients’ records when no patient filters are applied"));
        assert!(!body.contains("not assigned you to any groups"));
        assert!(days_with(&app, &c, &[("sex", "F")]).await.is_empty());
        assert!(get(&app, &c, "/view_tasks").await.1.contains("isn’t configured to view all patients"));
        assert_eq!(days_with(&app, &c, &[("surname", "smith")]).await, vec![7, 2]);
        let (_, body) = get(&app, &c, "/view_tasks").await;
        assert!(!body.contains("isn’t configured to view all patients"));
        assert_eq!(days_with(&app, &c, &[("surname", "jones")]).await, vec![8, 3], "group-can-see-group");
        assert_eq!(days_with(&app, &c, &[("which_idnum", "2"), ("idnum_value", "222")]).await, vec![8, 3]);
    }

    /// With the flag, a user sees all of their group's tasks unfiltered, and nothing of
    /// groups they cannot see.
    async fn unrestricted_user_sees_own_group_only(db) {
        let app = TestApp::spawn(db).await;
        seed(&app);
        let c = browser(&app, "ua").await;
        let (_, body) = get(&app, &c, "/view_tasks").await;
        assert_eq!(task_days(&body), vec![6, 4, 1]);
        assert!(!body.contains("isn’t configured to view all patients"));
        assert!(days_with(&app, &c, &[("surname", "jones")]).await.is_empty());
    }

    /// Users and groups offered are those the requester may see (groups they can see
    /// included: sessions §7.3 item 14); others are refused with a message and nothing is saved.
    async fn choices_are_limited_to_what_the_user_may_see(db) {
        let app = TestApp::spawn(db).await;
        let s = seed(&app);
        let c = browser(&app, "ub").await;
        let (_, form) = get(&app, &c, "/set_filters").await;
        let groups = select_section(&form, "group_ids");
        assert!(groups.contains(">B<") && groups.contains(">C<") && !groups.contains(">A<"), "{groups}");
        let users = select_section(&form, "user_ids");
        assert!(users.contains(">ub<") && !users.contains(">ua<") && !users.contains(">super<"), "{users}");
        assert!(select_section(&form, "device_ids").contains("Tablet one"));
        let a = s.groups[0].to_string();
        let r = set_filter(&app, &c, &[("group_ids", &a)]).await;
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("is not one of the groups you may choose"));
        let ua = s.users[1].to_string();
        let r = set_filter(&app, &c, &[("user_ids", &ua)]).await;
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("is not one of the users you may choose"));
        assert!(get(&app, &c, "/view_tasks").await.1.contains("[No filters.]"));
        let su = browser(&app, "super").await;
        let (_, form) = get(&app, &su, "/set_filters").await;
        let groups = select_section(&form, "group_ids");
        assert!(groups.contains(">A<") && groups.contains(">B<") && groups.contains(">C<"));
        assert!(select_section(&form, "user_ids").contains(">ua<"));
    }

    /// Each invalid submission re-renders the form (200) with the original's message, echoes
    /// what was typed, and leaves the stored filter as it was.
    async fn set_filters_validation_messages(db) {
        let app = TestApp::spawn(db).await;
        let s = seed(&app);
        let c = browser(&app, "super").await;
        assert_eq!(days_with(&app, &c, &[("surname", "jones")]).await, vec![8, 3]);
        let d1 = s.devices[0].to_string();
        let long = "x".repeat(256);
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("which_idnum", "2"), ("idnum_value", "5"), ("which_idnum", "2"), ("idnum_value", "5")], "You have specified duplicate ID definitions"),
            (vec![("which_idnum", "1"), ("idnum_value", "1234567890")], "Invalid NHS number"),
            (vec![("which_idnum", "9"), ("idnum_value", "5")], "Bad ID number type"),
            (vec![("which_idnum", "2"), ("idnum_value", "five")], "is not a number"),
            (vec![("dob", "1970-02-30")], "Date of birth: Invalid date"),
            (vec![("start_datetime", "yesterday")], "Start date/time: Invalid date"),
            (vec![("start_datetime", "2024-01-05T00:00"), ("end_datetime", "2024-01-04T00:00")], "Start date/time must be before end date/time"),
            (vec![("tasks", "nonesuch")], "unknown task type “nonesuch”"),
            (vec![("device_ids", &d1), ("device_ids", &d1)], "You have specified duplicate devices"),
            (vec![("device_ids", "999999")], "is not one of the devices you may choose"),
            (vec![("sex", "Q")], "is not one of F, M, X"),
            (vec![("surname", &long)], "Surname: Longer than maximum length 255"),
        ];
        for (fields, want) in cases {
            let mut fields = fields;
            fields.push(("tasks", "bmi"));
            let r = set_filter(&app, &c, &fields).await;
            assert_eq!(r.status(), 200, "{fields:?}");
            let body = r.text().await.unwrap();
            assert!(body.contains(want), "{fields:?} lacks {want}: {body}");
            assert!(body.contains("Task filters (criteria)") && body.contains("value=\"bmi\" checked"));
        }
        // A control character in any field is refused before the form is read: 400 naming
        // the field, nothing saved.
        let r = set_filter(&app, &c, &[("forename", "Ann\u{0}"), ("tasks", "bmi")]).await;
        assert_eq!(r.status(), 400);
        let body = r.text().await.unwrap();
        assert!(body.contains("forename") && body.contains("control character"), "{body}");
        let (_, body) = get(&app, &c, "/view_tasks").await;
        assert!(body.contains("Surname = jones") && !body.contains("Task is one of"), "nothing saved");
        assert_eq!(task_days(&body), vec![8, 3]);
    }

    /// The form shows the current filter; "Clear" (CSRF) empties it and comes back here;
    /// "Set filters" goes to the validated `redirect_url`; CSRF is required for both.
    async fn set_and_clear_with_csrf_and_redirects(db) {
        let app = TestApp::spawn(db).await;
        seed(&app);
        let c = browser(&app, "super").await;
        let (status, form) = get(&app, &c, "/set_filters").await;
        assert_eq!(status, 200);
        assert!(form.contains("Task filters (criteria)"));
        assert_eq!(form.matches("name=\"which_idnum\"").count(), 3);
        assert!(form.contains("If none are selected, all task types will be offered."));
        assert!(form.contains("Only completed tasks?"));
        assert!(form.contains("Start date/time (local timezone; inclusive)") && form.contains("End date/time (local timezone; exclusive)"));
        // Without CSRF: 400, nothing saved.
        let r = post(&app, &c, "/set_filters", &[("set_filters", "x"), ("surname", "smith")]).await;
        assert_eq!(r.status(), 400);
        assert!(get(&app, &c, "/view_tasks").await.1.contains("[No filters.]"));
        let token = app.csrf_with(&c, "/set_filters").await;
        let r = post(&app, &c, "/set_filters", &[("csrf_token", &token), ("set_filters", "x"), ("surname", "smith"), ("tasks", "phq9"), ("redirect_url", "/")]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/");
        let (_, form) = get(&app, &c, "/set_filters").await;
        assert!(form.contains("id=\"surname\" name=\"surname\" value=\"smith\""));
        assert!(form.contains("value=\"phq9\" checked"));
        assert_eq!(task_days(&get(&app, &c, "/view_tasks").await.1), vec![6, 1]);
        for bad in ["https://evil.example/", "//evil.example/x"] {
            let r = post(&app, &c, "/set_filters", &[("csrf_token", &token), ("set_filters", "x"), ("redirect_url", bad)]).await;
            assert_eq!(r.status(), 400, "{bad}");
            let enc = camcops_web::error::url_encode(bad);
            assert_eq!(get(&app, &c, &format!("/set_filters?redirect_url={enc}")).await.0, 400);
        }
        // Clear without CSRF: 400, filter kept.
        let r = post(&app, &c, "/set_filters", &[("clear_filters", "Clear")]).await;
        assert_eq!(r.status(), 400);
        assert_eq!(task_days(&get(&app, &c, "/view_tasks").await.1), vec![6, 1]);
        let r = post(&app, &c, "/set_filters", &[("csrf_token", &token), ("clear_filters", "Clear"), ("redirect_url", "/")]).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/set_filters?redirect_url=%2F");
        let (_, body) = get(&app, &c, "/view_tasks").await;
        assert!(body.contains("[No filters.]"));
        assert_eq!(task_days(&body).len(), 8);
        let r = post(&app, &c, "/set_filters", &[("csrf_token", &token), ("clear_filters", "Clear")]).await;
        assert_eq!(location(&r), "/set_filters");
        let r = post(&app, &c, "/set_filters", &[("csrf_token", &token)]).await;
        assert_eq!(r.status(), 400, "no button");
    }
}
