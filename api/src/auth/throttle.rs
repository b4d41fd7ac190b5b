//! Slowing down password guessing: after `max_failures` failed logins for one login name or
//! from one address, further attempts are refused with 429 and `Retry-After` for a lockout that
//! doubles with each further failure. Kept in memory, per server process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    failures: u32,
    blocked_until: Option<Instant>,
    last_failure: Option<Instant>,
}

/// Failure counts per key (`login:<name>` or `addr:<ip>`).
#[derive(Debug)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<String, Entry>>,
    max_failures: u32,
    lockout: Duration,
}

/// Failures are forgotten after this long without a new one.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// The longest lockout.
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);

impl LoginThrottle {
    #[must_use]
    pub fn new(max_failures: u32, lockout: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max_failures: max_failures.max(1),
            lockout,
        }
    }

    /// Seconds to wait if any of `keys` is locked out now.
    #[must_use]
    pub fn check(&self, keys: &[String], now: Instant) -> Option<u64> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.iter()
            .filter_map(|k| entries.get(k).and_then(|e| e.blocked_until))
            .filter(|until| *until > now)
            .map(|until| (until - now).as_secs().max(1))
            .max()
    }

    /// Records a failed attempt for every key.
    pub fn failed(&self, keys: &[String], now: Instant) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() > 100_000 {
            entries.retain(|_, e| {
                e.last_failure
                    .is_some_and(|t| now.duration_since(t) < FORGET_AFTER)
            });
        }
        for key in keys {
            let entry = entries.entry(key.clone()).or_default();
            if entry
                .last_failure
                .is_some_and(|t| now.duration_since(t) >= FORGET_AFTER)
            {
                *entry = Entry::default();
            }
            entry.failures += 1;
            entry.last_failure = Some(now);
            if entry.failures >= self.max_failures {
                let doublings = (entry.failures - self.max_failures).min(10);
                let lockout = self.lockout.saturating_mul(1 << doublings).min(MAX_LOCKOUT);
                entry.blocked_until = Some(now + lockout);
            }
        }
    }

    /// Forgets the failures of a login after it succeeded (the address keeps its count).
    pub fn succeeded(&self, login_key: &str) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.remove(login_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_out_after_max_failures_and_doubles() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(10));
        let keys = vec!["login:a".to_owned()];
        let t0 = Instant::now();
        throttle.failed(&keys, t0);
        throttle.failed(&keys, t0);
        assert_eq!(throttle.check(&keys, t0), None);
        throttle.failed(&keys, t0);
        assert_eq!(throttle.check(&keys, t0), Some(10));
        assert_eq!(throttle.check(&keys, t0 + Duration::from_secs(11)), None);
        throttle.failed(&keys, t0 + Duration::from_secs(11));
        assert_eq!(
            throttle.check(&keys, t0 + Duration::from_secs(11)),
            Some(20)
        );
        throttle.succeeded("login:a");
        assert_eq!(throttle.check(&keys, t0 + Duration::from_secs(11)), None);
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_period() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(10));
        let keys = vec!["addr:1.2.3.4".to_owned()];
        let t0 = Instant::now();
        throttle.failed(&keys, t0);
        throttle.failed(&keys, t0 + FORGET_AFTER + Duration::from_secs(1));
        assert_eq!(
            throttle.check(&keys, t0 + FORGET_AFTER + Duration::from_secs(1)),
            None
        );
    }
}
