//! Derived data kept in memory until a write of this process, or a short time, says it may be
//! stale: the rankings, which are recomputed from every running sum of a school.
//!
//! Every journal write of this process ([`crate::routes::common::db_write`]) moves the
//! [`Generation`] on once it has committed; an entry computed under an older generation is
//! recomputed. A write through another server process (several behind a load balancer) is not
//! seen here, so an entry also expires after [`Memo::ttl`]: such a write shows within that time.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many writes this process has committed (it only grows).
#[derive(Debug, Default)]
pub struct Generation(AtomicU64);

impl Generation {
    /// The generation now.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// A write has committed: everything computed before is stale.
    pub fn advance(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A kept value: the generation and the time it was computed at, and the value.
type Entry<V> = (u64, Instant, Arc<V>);

/// Values by key, each with the generation and the time it was computed at.
#[derive(Debug)]
pub struct Memo<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    ttl: Duration,
    capacity: usize,
}

impl<K: Hash + Eq, V> Memo<K, V> {
    /// Entries live for at most `ttl`; beyond `capacity` entries the memo starts afresh.
    #[must_use]
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity,
        }
    }

    /// How long an entry is trusted without a write of this process.
    #[must_use]
    pub const fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The value of `key` computed under the generation `generation` (read it before reading
    /// the database), or `compute`d now and kept.
    ///
    /// # Errors
    /// Whatever `compute` answers; nothing is kept then.
    pub fn get_or<E>(
        &self,
        key: K,
        generation: u64,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((made_in, at, value)) = entries.get(&key)
                && *made_in == generation
                && at.elapsed() < self.ttl
            {
                return Ok(Arc::clone(value));
            }
        }
        let value = Arc::new(compute()?);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, (generation, Instant::now(), Arc::clone(&value)));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(memo: &Memo<u8, u32>, key: u8, generation: u64, calls: &mut u32) -> u32 {
        let value = memo.get_or(key, generation, || {
            *calls += 1;
            Ok::<_, ()>(*calls)
        });
        value.map(|v| *v).unwrap_or_default()
    }

    #[test]
    fn a_value_is_kept_until_the_generation_moves_on() {
        let memo = Memo::new(Duration::from_secs(60), 8);
        let generation = Generation::default();
        let mut calls = 0;
        assert_eq!(count(&memo, 1, generation.current(), &mut calls), 1);
        assert_eq!(count(&memo, 1, generation.current(), &mut calls), 1);
        assert_eq!(count(&memo, 2, generation.current(), &mut calls), 2);
        generation.advance();
        assert_eq!(count(&memo, 1, generation.current(), &mut calls), 3);
        assert_eq!(count(&memo, 1, generation.current(), &mut calls), 3);
    }

    #[test]
    fn an_expired_value_is_recomputed_and_an_error_is_not_kept() {
        let memo: Memo<u8, u32> = Memo::new(Duration::ZERO, 8);
        let mut calls = 0;
        assert_eq!(count(&memo, 1, 0, &mut calls), 1);
        assert_eq!(count(&memo, 1, 0, &mut calls), 2);
        let failing = Memo::<u8, u32>::new(Duration::from_secs(60), 8);
        assert!(failing.get_or(1, 0, || Err::<u32, _>("down")).is_err());
        assert_eq!(failing.get_or(1, 0, || Ok::<_, ()>(7)).map(|v| *v), Ok(7));
    }

    #[test]
    fn beyond_its_capacity_the_memo_starts_afresh() {
        let memo = Memo::new(Duration::from_secs(60), 2);
        let mut calls = 0;
        count(&memo, 1, 0, &mut calls);
        count(&memo, 2, 0, &mut calls);
        count(&memo, 3, 0, &mut calls);
        assert_eq!(count(&memo, 3, 0, &mut calls), 3, "the newest is kept");
        assert_eq!(count(&memo, 1, 0, &mut calls), 4, "the older ones went");
    }
}
