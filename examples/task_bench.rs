//! Benchmark of demo seeding and of the task list query (figures in BENCHMARKS.md,
//! "Demo data and task queries").
//!
//! ```text
//! cargo run --release --example task_bench -- seed  <DB_URL> --patients 20000 --tasks 1000000
//! cargo run --release --example task_bench -- query <DB_URL> [--runs 40] [--explain]
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use camcops_web::db::schema::{_idnum_index, _task_index, patient};
use camcops_web::db::{self, Backend, DbConnection, DbUrl};
use camcops_web::demo::{seed_demo_data, DemoOptions};
use camcops_web::models::task_filter::{IdNumReference, TaskFilter};
use camcops_web::models::task_index::{query_tasks, Visibility};
use camcops_web::models::user::User;
use chrono::{Duration as Days, NaiveDateTime};
use clap::{Parser, Subcommand};
use diesel::connection::InstrumentationEvent;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Migrate and seed demo data, timing it.
    Seed {
        db_url: String,
        #[arg(long, default_value_t = 20_000)]
        patients: u32,
        #[arg(long, default_value_t = 1_000_000)]
        tasks: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 4)]
        bcrypt_cost: u32,
    },
    /// Time query_tasks variants on seeded data.
    Query {
        db_url: String,
        #[arg(long, default_value_t = 40)]
        runs: usize,
        /// Print the SQL and the query plan of each variant.
        #[arg(long)]
        explain: bool,
        /// SQL to run on the connection first (e.g. a PRAGMA).
        #[arg(long)]
        setup: Option<String>,
    },
    /// Time and explain literal SQL statements (no binds).
    Sql { db_url: String, sql: Vec<String> },
}

fn open(url: &str) -> anyhow::Result<DbConnection> {
    let url = DbUrl::parse(url).map_err(|e| anyhow::anyhow!(e))?;
    Ok(DbConnection::open(&url)?)
}

struct Variant {
    name: String,
    vis: Visibility,
    filter: TaskFilter,
    page: i64,
}

fn vis_of(conn: &mut DbConnection, username: &str) -> anyhow::Result<Visibility> {
    let u =
        User::find_by_username(conn, username)?.with_context(|| format!("no user {username}"))?;
    Ok(Visibility::for_user(conn, &u)?)
}

fn variants(conn: &mut DbConnection) -> anyhow::Result<Vec<Variant>> {
    let newest: NaiveDateTime = _task_index::table
        .select(diesel::dsl::max(_task_index::when_created_utc))
        .first::<Option<NaiveDateTime>>(conn)?
        .context("no tasks")?;
    let at = |d: NaiveDateTime| Some(d.and_utc().fixed_offset());
    let nhs: i64 = _idnum_index::table
        .filter(_idnum_index::which_idnum.eq(1))
        .select(_idnum_index::idnum_value.assume_not_null())
        .order(_idnum_index::idnum_pk)
        .offset(1000)
        .first(conn)?;
    let (rare_s, rare_f): (Option<String>, Option<String>) = patient::table
        .filter(patient::surname.eq("Fitzgerald"))
        .select((patient::surname, patient::forename))
        .order(patient::_pk)
        .first(conn)?;
    // The surname on the fewest tasks: the walk in creation order passes the most rows.
    let rarest: String = diesel::sql_query(
        "SELECT p.surname AS detail FROM _task_index t JOIN patient p ON p._pk = t.patient_pk \
         GROUP BY p.surname ORDER BY COUNT(*), p.surname LIMIT 1",
    )
    .get_result::<PlanRow>(conn)?
    .detail;
    let sup = Visibility::superuser();
    let f = TaskFilter::default;
    let month = TaskFilter {
        start_datetime: at(newest - Days::days(90)),
        end_datetime: at(newest - Days::days(60)),
        ..f()
    };
    let v = |name: &str, vis: &Visibility, filter: TaskFilter, page: i64| Variant {
        name: name.to_owned(),
        vis: vis.clone(),
        filter,
        page,
    };
    let clinician = vis_of(conn, "demo_clinician")?;
    let researcher = vis_of(conn, "demo_researcher")?;
    let nurse = vis_of(conn, "demo_ward_nurse")?;
    Ok(vec![
        v("superuser, no filter", &sup, f(), 1),
        v("superuser, no filter, page 400", &sup, f(), 400),
        v(
            "superuser, surname Smith (commonest)",
            &sup,
            TaskFilter {
                surname: Some("smith".into()),
                ..f()
            },
            1,
        ),
        v(
            &format!("superuser, surname {rarest} (rarest)"),
            &sup,
            TaskFilter {
                surname: Some(rarest.clone()),
                ..f()
            },
            1,
        ),
        v(
            "superuser, surname+forename (rare)",
            &sup,
            TaskFilter {
                surname: rare_s,
                forename: rare_f,
                ..f()
            },
            1,
        ),
        v("superuser, date range (30 days)", &sup, month.clone(), 1),
        v("superuser, date range, page 20", &sup, month, 20),
        v(
            "superuser, NHS number",
            &sup,
            TaskFilter {
                idnum_criteria: vec![IdNumReference {
                    which_idnum: 1,
                    idnum_value: nhs,
                }],
                ..f()
            },
            1,
        ),
        v(
            "superuser, PHQ-9 complete only",
            &sup,
            TaskFilter {
                task_types: vec!["phq9".into()],
                complete_only: Some(true),
                ..f()
            },
            1,
        ),
        v(
            "superuser, sex F",
            &sup,
            TaskFilter {
                sex: Some("F".into()),
                ..f()
            },
            1,
        ),
        v("clinician (anon + 1 group), no filter", &clinician, f(), 1),
        v("ward nurse (2 groups), no filter", &nurse, f(), 1),
        v(
            "researcher (anonymous only), no filter",
            &researcher,
            f(),
            1,
        ),
        v(
            "researcher, surname Smith",
            &researcher,
            TaskFilter {
                surname: Some("smith".into()),
                ..f()
            },
            1,
        ),
    ])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[derive(QueryableByName)]
struct PlanRow {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Renders one entry of diesel's debug bind list as an SQL literal for `EXPLAIN` on
/// PostgreSQL (benchmark only: strings, numbers, booleans, timestamps and arrays of them).
fn literal(bind: &str) -> String {
    let b = bind.trim();
    if let Some(inner) = b.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        let items: Vec<String> = split_top(inner).iter().map(|i| literal(i)).collect();
        return format!("ARRAY[{}]", items.join(","));
    }
    if let Some(s) = b.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    if b.contains('T') && b.contains(':') {
        return format!("'{b}'");
    }
    b.to_owned()
}

/// Splits at commas outside strings and brackets.
fn split_top(inner: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut in_str, mut depth) = (String::new(), false, 0);
    for c in inner.chars() {
        match c {
            '"' => in_str = !in_str,
            '[' if !in_str => depth += 1,
            ']' if !in_str => depth -= 1,
            ',' if !in_str && depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

fn split_binds(list: &str) -> Vec<String> {
    let list = list.trim();
    let inner = list
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(list);
    split_top(inner)
}

fn explain(conn: &mut DbConnection, statements: &[String]) -> anyhow::Result<()> {
    for stmt in statements {
        let mut stmt = stmt.as_str();
        while stmt.starts_with('[') {
            let Some((took, rest)) = stmt.split_once("] ") else {
                break;
            };
            println!("    took {took}]");
            stmt = rest;
        }
        let (sql, binds) = stmt.split_once(" -- binds: ").unwrap_or((stmt, "[]"));
        println!("    SQL: {sql}");
        println!("    binds: {binds}");
        match conn.backend() {
            Backend::Postgres => {
                let binds = split_binds(binds);
                let mut q = sql.to_owned();
                for (i, b) in binds.iter().enumerate().rev() {
                    q = q.replace(&format!("${}", i + 1), &literal(b));
                }
                let rows: Vec<PgPlanRow> =
                    diesel::sql_query(format!("EXPLAIN (ANALYZE, BUFFERS) {q}")).load(conn)?;
                for r in rows {
                    println!("      {}", r.line);
                }
            }
            _ => {
                let rows: Vec<PlanRow> =
                    diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")).load(conn)?;
                for r in rows {
                    println!("      {}", r.detail);
                }
            }
        }
    }
    Ok(())
}

fn run_queries(
    url: &str,
    runs: usize,
    show_plans: bool,
    setup: Option<&str>,
) -> anyhow::Result<()> {
    let mut conn = open(url)?;
    if let Some(sql) = setup {
        diesel::connection::SimpleConnection::batch_execute(&mut conn, sql)?;
    }
    let captured: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = captured.clone();
    let variants = variants(&mut conn)?;
    let total: i64 = _task_index::table.count().get_result(&mut conn)?;
    println!(
        "{total} tasks in _task_index; {runs} timed runs per variant (after 3 warm-up runs)\n"
    );
    println!("| variant | page | rows | total | p50 ms | p90 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for v in &variants {
        for _ in 0..3 {
            query_tasks(&mut conn, &v.vis, &v.filter, v.page, 25)?;
        }
        let mut times = Vec::with_capacity(runs);
        let mut last = None;
        for _ in 0..runs {
            let t = Instant::now();
            let p = query_tasks(&mut conn, &v.vis, &v.filter, v.page, 25)?;
            times.push(t.elapsed());
            last = Some(p);
        }
        times.sort();
        let p = last.context("no runs")?;
        let total = if p.total_is_exact {
            p.total.to_string()
        } else {
            format!(">{}", p.total)
        };
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} |",
            v.name,
            p.page,
            p.rows.len(),
            total,
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(percentile(&times, 1.0)),
        );
    }
    // Reference: what an exact count would cost.
    println!();
    for (name, sql) in [
        (
            "exact COUNT(*) of _task_index",
            "SELECT COUNT(*) AS n FROM _task_index".to_owned(),
        ),
        (
            "exact count, researcher's rule (anonymous in group 4)",
            "SELECT COUNT(*) AS n FROM _task_index WHERE group_id IN (4) AND patient_pk IS NULL"
                .to_owned(),
        ),
        (
            "exact count, clinician's rule",
            "SELECT COUNT(*) AS n FROM _task_index WHERE group_id IN (1, 3) AND \
             (patient_pk IS NULL OR group_id IN (1))"
                .to_owned(),
        ),
    ] {
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..10 {
            let t = Instant::now();
            n = diesel::sql_query(&sql).get_result::<CountRow>(&mut conn)?.n;
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{name}: {n} rows, p50 {:.1} ms",
            ms(percentile(&times, 0.5))
        );
    }
    if show_plans {
        let mut started = Instant::now();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                if let Ok(mut v) = sink.lock() {
                    v.push(query.to_string());
                }
                started = Instant::now();
            }
            InstrumentationEvent::FinishQuery { .. } => {
                if let Ok(mut v) = sink.lock() {
                    if let Some(last) = v.last_mut() {
                        last.insert_str(0, &format!("[{:.2} ms] ", ms(started.elapsed())));
                    }
                }
            }
            _ => {}
        });
        for v in &variants {
            if let Ok(mut c) = captured.lock() {
                c.clear();
            }
            query_tasks(&mut conn, &v.vis, &v.filter, v.page, 25)?;
            let statements: Vec<String> = captured.lock().map(|c| c.clone()).unwrap_or_default();
            println!("\n### {} (page {})", v.name, v.page);
            // The capped count, the page's keys, the display columns, the ID numbers.
            explain(&mut conn, &statements[..statements.len().min(4)])?;
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Args::parse().cmd {
        Cmd::Seed {
            db_url,
            patients,
            tasks,
            seed,
            bcrypt_cost,
        } => {
            let mut conn = open(&db_url)?;
            db::run_migrations(&mut conn)?;
            let opts = DemoOptions {
                patients,
                tasks,
                seed,
                bcrypt_cost,
                progress: true,
            };
            let t = Instant::now();
            let report = seed_demo_data(&mut conn, &opts)?;
            println!(
                "seeded {} patients, {} ID numbers, {} tasks in {:.1} s (report: {:.1} s)",
                report.patients,
                report.idnums,
                report.tasks,
                t.elapsed().as_secs_f64(),
                report.elapsed.as_secs_f64()
            );
        }
        Cmd::Query {
            db_url,
            runs,
            explain,
            setup,
        } => run_queries(&db_url, runs, explain, setup.as_deref())?,
        Cmd::Sql { db_url, sql } => {
            let mut conn = open(&db_url)?;
            for s in sql {
                explain(&mut conn, std::slice::from_ref(&s))?;
                let mut times = Vec::new();
                for _ in 0..5 {
                    let t = Instant::now();
                    diesel::sql_query(&s).execute(&mut conn)?;
                    times.push(t.elapsed());
                }
                times.sort();
                println!("    p50 {:.2} ms", ms(percentile(&times, 0.5)));
            }
        }
    }
    Ok(())
}
