//! Demo data: groups, staff users with different permissions, devices, ID number definitions,
//! patients with ID numbers and a task index, generated from a seed and bulk-loaded.
//!
//! Used by the `demo` command and by the benchmarks; everything but the password and "now" is
//! deterministic for a seed.

mod bulk;
mod generate;
pub mod names;
pub mod staff;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::{OsRng, StdRng};
use rand::SeedableRng;

use crate::db::schema::patient;
use crate::db::{Backend, DbConnection};
use crate::secret::Secret;

pub use generate::MAX_PATIENTS;

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Number of patients (at most [`MAX_PATIENTS`]).
    pub patients: u32,
    /// Number of task index rows.
    pub tasks: u32,
    /// Seed for the generator.
    pub seed: u64,
    /// bcrypt cost for the users' password hashes (4..=31).
    pub bcrypt_cost: u32,
    /// Show progress bars on the terminal.
    pub progress: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            patients: 2_000,
            tasks: 50_000,
            seed: 1,
            bcrypt_cost: 12,
            progress: false,
        }
    }
}

/// What was created. `Debug` does not show the password.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The password of every demo user (16 letters and digits from the OS RNG); show it once.
    pub password: Secret,
    /// Demo usernames, with what each may see.
    pub users: Vec<(String, String)>,
    /// Demo group names.
    pub group_names: Vec<String>,
    /// Devices created.
    pub devices: usize,
    /// ID number definitions that were missing and were added.
    pub idnum_definitions_added: usize,
    /// Patients created.
    pub patients: u64,
    /// `_idnum_index` rows created.
    pub idnums: u64,
    /// `_task_index` rows created.
    pub tasks: u64,
    /// Time taken.
    pub elapsed: Duration,
}

fn bar(show: bool, len: u64, what: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_message(what);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>9} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// SQLite page cache while loading (negative: KiB).
const LOAD_CACHE_KIB: i64 = -131_072;

#[derive(QueryableByName)]
struct CacheSize {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    cache_size: i64,
}

/// Patients, their ID numbers and the tasks; returns how many of each were written.
fn load(
    conn: &mut DbConnection,
    opts: &DemoOptions,
    now: NaiveDateTime,
    ids: &staff::StaffIds,
) -> anyhow::Result<(u64, u64, u64)> {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let pbar = bar(opts.progress, u64::from(opts.patients), "patients");
    let patients = generate::insert_patients(
        conn,
        &mut rng,
        opts.patients,
        &ids.devices,
        &ids.groups,
        now,
        &pbar,
    )?;
    pbar.finish_and_clear();
    let pk_of: HashMap<i32, i32> = patient::table
        .filter(patient::_device_id.eq_any(&ids.devices))
        .select((patient::id, patient::_pk))
        .load::<(i32, i32)>(conn)?
        .into_iter()
        .collect();
    let idnums = generate::insert_idnums(conn, &patients, &pk_of, now)?;

    let tbar = bar(opts.progress, u64::from(opts.tasks), "tasks");
    let ctx = generate::TaskContext {
        patients: &patients,
        pk_of: &pk_of,
        device_ids: &ids.devices,
        group_ids: &ids.groups,
        user_ids: &ids.users,
    };
    let tasks = generate::insert_tasks(conn, &mut rng, opts.tasks, &ctx, now, &tbar)?;
    tbar.finish_and_clear();
    Ok((patients.len() as u64, idnums, tasks))
}

/// Runs `f` (the bulk load) with a bigger SQLite page cache, then restores the previous one:
/// the task index's indexes are updated at scattered places, and the default 2 MB cache makes
/// every insert re-read pages. Other backends run `f` as it is.
fn with_load_cache<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let sqlite_cache = match conn.backend() {
        Backend::Sqlite => {
            let previous = diesel::sql_query("PRAGMA cache_size")
                .get_result::<CacheSize>(conn)?
                .cache_size;
            conn.batch_execute(&format!("PRAGMA cache_size = {LOAD_CACHE_KIB}"))?;
            Some(previous)
        }
        _ => None,
    };
    let loaded = f(conn);
    if let Some(previous) = sqlite_cache {
        conn.batch_execute(&format!("PRAGMA cache_size = {previous}"))?;
    }
    loaded
}

/// Adds demo data ending now; see [`seed_demo_data_at`].
pub fn seed_demo_data(conn: &mut DbConnection, opts: &DemoOptions) -> anyhow::Result<DemoReport> {
    seed_demo_data_at(conn, opts, Utc::now().naive_utc())
}

/// Adds demo data whose task dates span the two years up to `now`, in one transaction: all or
/// nothing (the batches of a few thousand rows are savepoints inside it). Refuses a CamCOPS
/// database (demo rows have no place among real patients, and CamCOPS' `patient` table has
/// columns the demo does not fill) and fails, adding nothing, if a demo group or user already
/// exists. Ends with `ANALYZE` (SQLite) or `VACUUM ANALYZE` (PostgreSQL) of the loaded tables,
/// for the query planner.
pub fn seed_demo_data_at(
    conn: &mut DbConnection,
    opts: &DemoOptions,
    now: NaiveDateTime,
) -> anyhow::Result<DemoReport> {
    let started = Instant::now();
    let now = now.trunc_subsecs(0);
    if !(4..=31).contains(&opts.bcrypt_cost) {
        anyhow::bail!("bcrypt cost must be between 4 and 31");
    }
    if opts.patients > MAX_PATIENTS {
        anyhow::bail!("at most {MAX_PATIENTS} demo patients");
    }
    if let crate::db::adopt::Kind::Camcops(_) = crate::db::adopt::detect(conn)? {
        anyhow::bail!(
            "this is a CamCOPS database: demo-data adds made-up patients and tasks only to a \
             database of camcops-web's own (nothing was written)"
        );
    }
    staff::check_absent(conn)?;

    let password = Alphanumeric.sample_string(&mut OsRng, 16);
    let hashes = staff::USERS
        .iter()
        .map(|_| crate::auth::password::hash(&password, opts.bcrypt_cost))
        .collect::<Result<Vec<_>, _>>()?;
    let ((patients, idnums, tasks), ids) = conn.transaction::<_, anyhow::Error, _>(|conn| {
        let ids = staff::create_staff(conn, &hashes, now)?;
        let counts = with_load_cache(conn, |conn| load(conn, opts, now, &ids))?;
        Ok((counts, ids))
    })?;

    match conn.backend() {
        Backend::Sqlite => conn.batch_execute("ANALYZE")?,
        // VACUUM also sets the visibility map, which index-only scans (the task list's counts)
        // need; on a live server autovacuum does this after bulk inserts.
        Backend::Postgres => {
            conn.batch_execute("VACUUM ANALYZE patient, _idnum_index, _task_index")?
        }
        // InnoDB keeps persistent statistics up to date by itself.
        Backend::Mysql => {}
    }

    Ok(DemoReport {
        password: password.into(),
        users: staff::USERS
            .iter()
            .map(|u| (u.username.to_owned(), u.fullname.to_owned()))
            .collect(),
        group_names: staff::GROUPS.iter().map(|g| g.0.to_owned()).collect(),
        devices: ids.devices.len(),
        idnum_definitions_added: ids.idnum_definitions_added,
        patients,
        idnums,
        tasks,
        elapsed: started.elapsed(),
    })
}
