//! The failed-login budget per client address (`LOGIN_FAILURES_PER_ADDRESS` within
//! `LOGIN_FAILURES_PER_ADDRESS_WINDOW_MINUTES`): a sliding window kept in this process's
//! memory, bounded in size. The lockout is per account; this stops one address trying a
//! password against every account (password spraying).
//!
//! This module holds only the budget itself (what `AppState` keeps). The login service uses
//! it: `crate::auth::login::check_address` before a password (or code) is tried,
//! `record_address_failure` after a failure (`failed_login` records for every failure kind
//! that goes through it).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::NaiveDateTime;

/// At most this many failure times are kept across all addresses (8 bytes each).
pub const MAX_FAILURE_TIMES: usize = 1_000_000;
/// However low the per-address limit, this many addresses may be tracked.
const MIN_TRACKED_ADDRESSES: usize = 1_000;

/// The failures of one address: times (Unix seconds, oldest first, at most `limit`).
#[derive(Debug, Default)]
struct Entry {
    times: VecDeque<i64>,
}

/// The per-address failure windows of this process.
#[derive(Debug)]
pub struct Throttle {
    limit: usize,
    window_s: i64,
    max_addresses: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

/// What recording a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Still within the budget (or no limit configured).
    Counted,
    /// This failure used up the budget: the address is refused for this many seconds.
    Exhausted(i64),
}

impl Throttle {
    /// `limit` failures (0: no limit) per `window_minutes`.
    pub fn new(limit: i64, window_minutes: i64) -> Throttle {
        let limit = usize::try_from(limit).unwrap_or(0);
        Throttle {
            limit,
            window_s: window_minutes.max(1) * 60,
            max_addresses: (MAX_FAILURE_TIMES / limit.max(1)).max(MIN_TRACKED_ADDRESSES),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves the map consistent (every update is one
        // push or pop): carry on with it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds until `ip` may try again, or `None` when it is within its budget.
    pub fn blocked_for(&self, ip: &str, now: NaiveDateTime) -> Option<i64> {
        if self.limit == 0 {
            return None;
        }
        let now = now.and_utc().timestamp();
        let mut map = self.lock();
        let entry = map.get_mut(&address_key(ip))?;
        expire(entry, now, self.window_s);
        (entry.times.len() >= self.limit).then(|| {
            entry
                .times
                .front()
                .map_or(1, |t| (t + self.window_s - now).max(1))
        })
    }

    /// Counts one failure from `ip`.
    pub fn note_failure(&self, ip: &str, now: NaiveDateTime) -> Recorded {
        if self.limit == 0 {
            return Recorded::Counted;
        }
        let now = now.and_utc().timestamp();
        let key = address_key(ip);
        let mut map = self.lock();
        if !map.contains_key(&key) && map.len() >= self.max_addresses {
            make_room(&mut map, now, self.window_s, self.max_addresses);
        }
        let entry = map.entry(key).or_default();
        expire(entry, now, self.window_s);
        let was_full = entry.times.len() >= self.limit;
        while entry.times.len() >= self.limit {
            // Already refused (a caller that did not check first): keep the newest times.
            entry.times.pop_front();
        }
        entry.times.push_back(now);
        if !was_full && entry.times.len() >= self.limit {
            let first = entry.times.front().copied().unwrap_or(now);
            Recorded::Exhausted((first + self.window_s - now).max(1))
        } else {
            Recorded::Counted
        }
    }

    /// Number of addresses tracked (tests of the memory bound).
    pub fn tracked_addresses(&self) -> usize {
        self.lock().len()
    }
}

/// Drops the times that have left the window.
fn expire(entry: &mut Entry, now: i64, window_s: i64) {
    while entry.times.front().is_some_and(|t| *t + window_s <= now) {
        entry.times.pop_front();
    }
}

/// Frees a slot: forgets addresses whose failures have all left the window, or else the one
/// whose latest failure is oldest.
fn make_room(map: &mut HashMap<String, Entry>, now: i64, window_s: i64, max: usize) {
    map.retain(|_, e| e.times.back().is_some_and(|t| t + window_s > now));
    if map.len() < max {
        return;
    }
    let stalest = map
        .iter()
        .min_by_key(|(_, e)| e.times.back().copied().unwrap_or(i64::MIN))
        .map(|(k, _)| k.clone());
    if let Some(k) = stalest {
        map.remove(&k);
    }
}

/// The key an address counts under: the address itself, but an IPv6 address by its /64
/// prefix (one subscriber usually holds a whole /64). Anything unparsable counts as itself.
pub fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t0() -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn budget_is_a_sliding_window_per_address() {
        // 3 failures per minute: the third uses up the budget; the address is refused until
        // the first failure leaves the window; other addresses are unaffected.
        let t = Throttle::new(3, 1);
        let now = t0();
        assert_eq!(t.note_failure("192.0.2.1", now), Recorded::Counted);
        assert_eq!(
            t.note_failure("192.0.2.1", now + Duration::seconds(10)),
            Recorded::Counted
        );
        assert_eq!(t.blocked_for("192.0.2.1", now), None);
        assert_eq!(
            t.note_failure("192.0.2.1", now + Duration::seconds(20)),
            Recorded::Exhausted(40)
        );
        assert_eq!(
            t.blocked_for("192.0.2.1", now + Duration::seconds(30)),
            Some(30)
        );
        assert_eq!(t.blocked_for("192.0.2.2", now), None);
        // More failures while refused do not report a new exhaustion (one audit row).
        assert_eq!(
            t.note_failure("192.0.2.1", now + Duration::seconds(30)),
            Recorded::Counted
        );
        assert_eq!(
            t.blocked_for("192.0.2.1", now + Duration::seconds(75)),
            None
        );
    }

    #[test]
    fn zero_means_no_limit() {
        let t = Throttle::new(0, 10);
        for _ in 0..100 {
            assert_eq!(t.note_failure("192.0.2.1", t0()), Recorded::Counted);
        }
        assert_eq!(t.blocked_for("192.0.2.1", t0()), None);
        assert_eq!(t.tracked_addresses(), 0);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1"),
            address_key("2001:db8:1:2:bbbb::2")
        );
        assert_ne!(
            address_key("2001:db8:1:2::1"),
            address_key("2001:db8:1:3::1")
        );
        assert_eq!(address_key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(address_key("unknown"), "unknown");
    }

    #[test]
    fn memory_is_bounded() {
        // 2,000 addresses failing within an hour at a limit of 1,000: at most 1,000 are
        // tracked; the stalest go.
        let t = Throttle::new(1_000, 60);
        let now = t0();
        for i in 0..2_000i64 {
            let ip = format!("10.0.{}.{}", i / 256, i % 256);
            t.note_failure(&ip, now + Duration::seconds(i));
        }
        assert_eq!(t.tracked_addresses(), 1_000);
        assert_eq!(t.max_addresses, 1_000);
        let last = now + Duration::seconds(1_999);
        assert!(t.entries.lock().unwrap().contains_key("10.0.7.207"));
        assert!(!t.entries.lock().unwrap().contains_key("10.0.0.0"));
        // Failures that have left the window make room without evicting anyone recent.
        let later = last + Duration::minutes(61);
        t.note_failure("192.0.2.1", later);
        assert_eq!(t.tracked_addresses(), 1);
    }
}
