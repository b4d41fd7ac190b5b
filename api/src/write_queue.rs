//! The writers of one process taking turns.
//!
//! SQLite has one write lock for the whole file; writers that race for it through its busy
//! handler sleep and retry, and a few of them wait very long. In one process they queue here
//! instead, one at a time. PostgreSQL writes concurrently, but more write transactions at once
//! than the machine has cores only contend for them, so its writers queue here too, a few at a
//! time (`database.write_concurrency`).
//!
//! Turns are given in the order they were asked for, except that the notification
//! dispatcher's turns (short: claim or record one batch) go before the waiting request
//! handlers', so the pushes of committed grades are not starved by a stream of new grades; a
//! handler waits at most for the dispatcher turns already waiting.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The queue; see the module documentation.
#[derive(Debug)]
pub struct WriteQueue {
    /// Turns at once.
    capacity: usize,
    state: Mutex<State>,
    released: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Turns being taken.
    held: usize,
    /// The tickets of the dispatcher's turns waiting, first come first: they go first.
    urgent: VecDeque<u64>,
    /// The tickets of the handlers' turns waiting, first come first.
    normal: VecDeque<u64>,
    next_ticket: u64,
}

impl State {
    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }
}

/// A turn: the holder may write until it is dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    queue: &'a WriteQueue,
}

impl WriteQueue {
    /// A queue of `capacity` turns at once (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::default(),
            released: Condvar::new(),
        }
    }

    /// How many turns can be held at once.
    #[must_use]
    pub const fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many request handlers wait for a turn.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.lock().normal.len()
    }

    /// Whether a dispatcher's turn is waiting: a holder writing several requests' work in one
    /// turn ([`crate::group_commit`]) ends it early then, so the dispatcher waits for one
    /// request's write at most, as it does behind any other handler.
    #[must_use]
    pub fn urgent_waiting(&self) -> bool {
        !self.lock().urgent.is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.released
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A request handler's turn: after the handlers that asked before and any dispatcher
    /// turns waiting.
    pub fn turn(&self) -> Turn<'_> {
        self.take(false)
    }

    /// The dispatcher's turn: the next one free.
    pub fn urgent_turn(&self) -> Turn<'_> {
        self.take(true)
    }

    fn take(&self, urgent: bool) -> Turn<'_> {
        let mut state = self.lock();
        let ticket = state.ticket();
        if urgent {
            state.urgent.push_back(ticket);
        } else {
            state.normal.push_back(ticket);
        }
        loop {
            let first = if urgent {
                state.urgent.front() == Some(&ticket)
            } else {
                state.urgent.is_empty() && state.normal.front() == Some(&ticket)
            };
            if first && state.held < self.capacity {
                break;
            }
            state = self.wait(state);
        }
        if urgent {
            state.urgent.pop_front();
        } else {
            state.normal.pop_front();
        }
        state.held += 1;
        drop(state);
        // The next in line may fit too.
        self.released.notify_all();
        Turn { queue: self }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.queue.lock().held -= 1;
        self.queue.released.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn one_writer_at_a_time_and_urgent_turns_go_first() {
        let queue = Arc::new(WriteQueue::new(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = queue.turn();
        let mut threads = Vec::new();
        for (name, urgent) in [("handler", false), ("dispatcher", true)] {
            let (queue, inside, order) = (queue.clone(), inside.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                if urgent {
                    // The handler is already waiting when the dispatcher asks.
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _turn = if urgent {
                    queue.urgent_turn()
                } else {
                    queue.turn()
                };
                assert_eq!(
                    inside.fetch_add(1, Ordering::SeqCst),
                    0,
                    "two writers at once"
                );
                order
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(name);
                std::thread::sleep(Duration::from_millis(5));
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        std::thread::sleep(Duration::from_millis(400));
        drop(first);
        for thread in threads {
            thread
                .join()
                .unwrap_or_else(|_| panic!("a writer panicked"));
        }
        assert_eq!(
            *order.lock().unwrap_or_else(PoisonError::into_inner),
            ["dispatcher", "handler"]
        );
    }

    #[test]
    fn several_writers_at_once_up_to_the_capacity() {
        let queue = Arc::new(WriteQueue::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (queue, inside, most) = (queue.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _turn = queue.turn();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(1));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread
                .join()
                .unwrap_or_else(|_| panic!("a writer panicked"));
        }
        let most = most.load(Ordering::SeqCst);
        assert!(
            (2..=3).contains(&most),
            "at most 3 at once, and more than one: {most}"
        );
    }
}
