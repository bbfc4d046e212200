//! Rate-limited warnings, so that an outage does not flood the log: the first line of each
//! distinct cause in a [`WINDOW`] is written; repeats are counted and summarised in one line
//! ("… and N more like this in the last 10 s") when the window has passed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long repeats of one cause are counted before their summary.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Distinct causes remembered at once (beyond that, the oldest windows are summarised early).
const MAX_KEYS: usize = 256;

struct Entry {
    started: Instant,
    repeats: u64,
}

static ENTRIES: Mutex<Option<HashMap<String, Entry>>> = Mutex::new(None);

/// Logs `line()` at warn level unless `key` was logged less than [`WINDOW`] ago; then it is
/// only counted. `line` is not called for a counted repeat.
pub fn warn(key: &str, line: impl FnOnce() -> String) {
    let now = Instant::now();
    let mut summaries = Vec::new();
    let log_it = {
        let mut guard = ENTRIES.lock().unwrap_or_else(|p| p.into_inner());
        let map = guard.get_or_insert_with(HashMap::new);
        match map.get_mut(key) {
            Some(e) if now.duration_since(e.started) < WINDOW => {
                e.repeats += 1;
                false
            }
            Some(e) => {
                if e.repeats > 0 {
                    summaries.push((key.to_string(), e.repeats, now.duration_since(e.started)));
                }
                e.started = now;
                e.repeats = 0;
                true
            }
            None => {
                if map.len() >= MAX_KEYS {
                    take_summaries(map, now, Duration::ZERO, &mut summaries);
                }
                map.insert(
                    key.to_string(),
                    Entry {
                        started: now,
                        repeats: 0,
                    },
                );
                true
            }
        }
    };
    write_summaries(summaries);
    if log_it {
        let text = line();
        log::warn!("{text}");
    }
}

/// Writes the summaries of windows that have passed (called every few seconds by the server,
/// so that a burst that stopped is still reported).
pub fn flush() {
    let mut summaries = Vec::new();
    {
        let mut guard = ENTRIES.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(map) = guard.as_mut() {
            take_summaries(map, Instant::now(), WINDOW, &mut summaries);
        }
    }
    write_summaries(summaries);
}

/// Moves out the entries older than `age` (with their repeat counts, when non-zero).
fn take_summaries(
    map: &mut HashMap<String, Entry>,
    now: Instant,
    age: Duration,
    out: &mut Vec<(String, u64, Duration)>,
) {
    map.retain(|key, e| {
        let elapsed = now.duration_since(e.started);
        if elapsed < age {
            return true;
        }
        if e.repeats > 0 {
            out.push((key.clone(), e.repeats, elapsed));
        }
        false
    });
}

fn write_summaries(summaries: Vec<(String, u64, Duration)>) {
    for (key, n, over) in summaries {
        log::warn!(
            "{key}: {n} more like this in the last {} s",
            over.as_secs().max(1)
        );
    }
}

/// How many repeats of `key` are being counted now (tests).
pub fn pending_repeats(key: &str) -> u64 {
    let guard = ENTRIES.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .as_ref()
        .and_then(|m| m.get(key))
        .map_or(0, |e| e.repeats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_window_are_counted_not_written() {
        let key = "log_limit test cause";
        let mut written = 0;
        for _ in 0..100 {
            warn(key, || {
                written += 1;
                "a line".into()
            });
        }
        assert_eq!(written, 1);
        assert_eq!(pending_repeats(key), 99);
    }
}
