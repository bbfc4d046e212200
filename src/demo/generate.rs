//! Generation of demo patients, their ID numbers and task index rows, written with
//! [`BulkInserter`]. Everything comes from one seeded RNG, so a seed gives the same data.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use indicatif::ProgressBar;
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::Rng;

use super::bulk::{BulkInserter, Lit};
use super::names::{FEMALE_FORENAMES, MALE_FORENAMES, OTHER_FORENAMES, SURNAMES};
use super::staff::{DEVICES, GROUPS, RESEARCH, UPLOADERS};
use crate::db::DbConnection;
use crate::models::idnum::nhs_check_digit;
use crate::models::patient::ERA_NOW;

/// Most patients the generator can give distinct test-range NHS numbers.
pub const MAX_PATIENTS: u32 = 900_000;
/// Share of tasks that are anonymous (percent).
const ANONYMOUS_PERCENT: u32 = 4;
/// Share of tasks judged complete (percent).
const COMPLETE_PERCENT: u32 = 88;
/// Tasks span this many days before "now".
const SPAN_DAYS: i64 = 730;

/// A generated patient: its client id (`patient.id`), group and device indexes, and ID
/// numbers (`which`, value).
pub struct GenPatient {
    /// Client-side id, unique among demo patients.
    pub client_id: i32,
    /// Index into the demo groups.
    pub group: usize,
    /// Index into the demo devices.
    pub device: usize,
    /// `(which_idnum, value)`.
    pub idnums: Vec<(i32, i64)>,
}

fn iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// Distinct NHS numbers in the reserved test range 999 000 000x, with valid check digits.
struct NhsNumbers {
    next: u64,
}

impl NhsNumbers {
    fn take(&mut self) -> i64 {
        loop {
            // A stride coprime to 10^6 visits every 6-digit suffix once before repeating.
            let suffix = (self.next * 999_983) % 1_000_000;
            self.next += 1;
            let first_nine = 999_000_000 + suffix;
            if let Some(check) = nhs_check_digit(first_nine) {
                return i64::try_from(first_nine * 10 + check).unwrap_or(0);
            }
        }
    }
}

fn group_devices(group: usize) -> Vec<usize> {
    DEVICES
        .iter()
        .enumerate()
        .filter(|(_, d)| d.2 == group)
        .map(|(i, _)| i)
        .collect()
}

/// Generates and inserts `n` patients; returns them (for their ID numbers and tasks).
pub fn insert_patients(
    conn: &mut DbConnection,
    rng: &mut StdRng,
    n: u32,
    device_ids: &[i32],
    group_ids: &[i32],
    now: NaiveDateTime,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<GenPatient>> {
    let backend = conn.backend();
    let mut ins = BulkInserter::new(
        backend,
        "patient",
        &[
            "id",
            "forename",
            "surname",
            "dob",
            "sex",
            "_device_id",
            "_era",
            "_current",
            "_group_id",
        ],
    );
    let group_pick = WeightedIndex::new(GROUPS.iter().map(|g| g.2))?;
    let surname_pick = WeightedIndex::new((0..SURNAMES.len()).map(|i| 1.0 / (i as f64 + 30.0)))?;
    let devices_of: Vec<Vec<usize>> = (0..GROUPS.len()).map(group_devices).collect();
    let earliest_dob =
        NaiveDate::from_ymd_opt(1930, 1, 1).ok_or_else(|| anyhow::anyhow!("bad date"))?;
    let mut nhs = NhsNumbers {
        next: rng.gen_range(0..1_000_000),
    };
    let rio_base: i64 = rng.gen_range(1_000_000..2_000_000);
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let client_id = i32::try_from(i + 1)?;
        let group = group_pick.sample(rng);
        let devs = &devices_of[group];
        let device = devs[rng.gen_range(0..devs.len())];
        let r: u32 = rng.gen_range(0..100);
        let (sex, forenames) = match r {
            0 => ("X", OTHER_FORENAMES),
            1..=52 => ("F", FEMALE_FORENAMES),
            _ => ("M", MALE_FORENAMES),
        };
        let forename = forenames[rng.gen_range(0..forenames.len())];
        let surname = SURNAMES[surname_pick.sample(rng)];
        let dob = earliest_dob + Duration::days(rng.gen_range(0..29_000));
        let era = if rng.gen_range(0..100) < 5 {
            ERA_NOW.to_owned()
        } else {
            iso(now - Duration::seconds(rng.gen_range(0..SPAN_DAYS * 86_400)))
        };
        let mut idnums = vec![(1, nhs.take())];
        if group == RESEARCH {
            idnums.push((3, 5_000 + i64::from(i)));
        } else if rng.gen_bool(0.5) {
            idnums.push((2, rio_base + i64::from(i)));
        }
        let written = ins.push(
            conn,
            &[
                Lit::Int(i64::from(client_id)),
                Lit::Str(forename),
                Lit::Str(surname),
                Lit::Date(dob),
                Lit::Str(sex),
                Lit::Int(i64::from(device_ids[device])),
                Lit::Str(&era),
                Lit::Bool(true),
                Lit::Int(i64::from(group_ids[group])),
            ],
        )?;
        bar.inc(written as u64);
        out.push(GenPatient {
            client_id,
            group,
            device,
            idnums,
        });
    }
    bar.inc(ins.finish(conn)? as u64);
    Ok(out)
}

/// Inserts the patients' `_idnum_index` rows; returns how many.
pub fn insert_idnums(
    conn: &mut DbConnection,
    patients: &[GenPatient],
    pk_of: &HashMap<i32, i32>,
    now: NaiveDateTime,
) -> anyhow::Result<u64> {
    let mut ins = BulkInserter::new(
        conn.backend(),
        "_idnum_index",
        &["indexed_at_utc", "patient_pk", "which_idnum", "idnum_value"],
    );
    let mut n = 0u64;
    for p in patients {
        let pk = *pk_of
            .get(&p.client_id)
            .ok_or_else(|| anyhow::anyhow!("demo patient {} not found", p.client_id))?;
        for &(which, value) in &p.idnums {
            ins.push(
                conn,
                &[
                    Lit::Timestamp(now),
                    Lit::Int(i64::from(pk)),
                    Lit::Int(i64::from(which)),
                    Lit::Int(value),
                ],
            )?;
            n += 1;
        }
    }
    ins.finish(conn)?;
    Ok(n)
}

/// The common task types the demo's patients get, with their relative frequency (this order
/// keeps a seed's data as it was when these were the whole registry).
const DEMO_TYPES: [(&str, u32); 16] = [
    ("ace3", 5),
    ("audit", 8),
    ("bdi", 4),
    ("bmi", 8),
    ("cgi", 5),
    ("cope_brief", 2),
    ("diagnosis_icd10", 5),
    ("gad7", 18),
    ("hads", 6),
    ("honos", 7),
    ("moca", 5),
    ("panss", 2),
    ("photo", 1),
    ("phq9", 20),
    ("wsas", 4),
    ("ybocs", 2),
];
/// The anonymous task type of the demo.
const DEMO_ANONYMOUS_TYPE: &str = "ref_satis_gen";

/// Ids the task generator needs.
pub struct TaskContext<'a> {
    /// Demo patients.
    pub patients: &'a [GenPatient],
    /// `patient.id` → `patient._pk`.
    pub pk_of: &'a HashMap<i32, i32>,
    /// Device ids, as the demo devices.
    pub device_ids: &'a [i32],
    /// Group ids, as the demo groups.
    pub group_ids: &'a [i32],
    /// User ids, as the demo users.
    pub user_ids: &'a [i32],
}

/// Generates and inserts `n` task index rows over two years ending at `now`, oldest first.
pub fn insert_tasks(
    conn: &mut DbConnection,
    rng: &mut StdRng,
    n: u32,
    ctx: &TaskContext<'_>,
    now: NaiveDateTime,
    bar: &ProgressBar,
) -> anyhow::Result<u64> {
    let mut ins = BulkInserter::new(
        conn.backend(),
        "_task_index",
        &[
            "indexed_at_utc",
            "task_table_name",
            "task_pk",
            "patient_pk",
            "device_id",
            "era",
            "when_created_utc",
            "when_created_iso",
            "when_added_batch_utc",
            "adding_user_id",
            "group_id",
            "task_is_complete",
        ],
    );
    let type_pick = WeightedIndex::new(DEMO_TYPES.iter().map(|t| t.1))?;
    let anonymous = DEMO_ANONYMOUS_TYPE;
    let group_pick = WeightedIndex::new(GROUPS.iter().map(|g| g.2))?;
    let devices_of: Vec<Vec<usize>> = (0..GROUPS.len()).map(group_devices).collect();
    let span = SPAN_DAYS * 86_400;
    let mut ages: Vec<i64> = (0..n).map(|_| rng.gen_range(0..span)).collect();
    ages.sort_unstable_by(|a, b| b.cmp(a));
    let mut task_pks: HashMap<&str, i32> = HashMap::new();
    let mut written = 0u64;
    for age in ages {
        let created = now - Duration::seconds(age);
        let patient = if ctx.patients.is_empty() || rng.gen_range(0..100) < ANONYMOUS_PERCENT {
            None
        } else {
            Some(&ctx.patients[rng.gen_range(0..ctx.patients.len())])
        };
        let (table, patient_pk, group, device) = match patient {
            Some(p) => (
                DEMO_TYPES[type_pick.sample(rng)].0,
                ctx.pk_of.get(&p.client_id).copied(),
                p.group,
                p.device,
            ),
            None => {
                let g = group_pick.sample(rng);
                let devs = &devices_of[g];
                (anonymous, None, g, devs[rng.gen_range(0..devs.len())])
            }
        };
        let task_pk = task_pks.entry(table).or_insert(0);
        *task_pk += 1;
        let batch_delay = rng.gen_range(0..7 * 86_400).min(age);
        let added = created + Duration::seconds(batch_delay);
        let era = if age < 14 * 86_400 && rng.gen_range(0..100) < 30 {
            ERA_NOW.to_owned()
        } else {
            iso(added)
        };
        let uploaders = UPLOADERS[group];
        let user = uploaders[rng.gen_range(0..uploaders.len())];
        let complete = matches!(table, "photo" | "diagnosis_icd10")
            || rng.gen_range(0..100) < COMPLETE_PERCENT;
        written += ins.push(
            conn,
            &[
                Lit::Timestamp(now),
                Lit::Str(table),
                Lit::Int(i64::from(*task_pk)),
                patient_pk.into(),
                Lit::Int(i64::from(ctx.device_ids[device])),
                Lit::Str(&era),
                Lit::Timestamp(created),
                Lit::Str(&iso(created)),
                Lit::Timestamp(added),
                Lit::Int(i64::from(ctx.user_ids[user])),
                Lit::Int(i64::from(ctx.group_ids[group])),
                Lit::Bool(complete),
            ],
        )? as u64;
        bar.set_position(written);
    }
    written += ins.finish(conn)? as u64;
    bar.set_position(written);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::{DEMO_ANONYMOUS_TYPE, DEMO_TYPES};
    use crate::models::task_registry::lookup;

    #[test]
    fn demo_task_types_are_camcops_types() {
        for (table, _) in DEMO_TYPES {
            assert!(lookup(table).is_some_and(|t| !t.is_anonymous), "{table}");
        }
        assert!(lookup(DEMO_ANONYMOUS_TYPE).is_some_and(|t| t.is_anonymous));
    }
}
