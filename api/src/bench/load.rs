//! The load generator: N concurrent clients, each sending its own requests one after another
//! over one keep-alive connection (or, for work straight on the database, N threads), for a
//! bounded time and a bounded number of requests; it reports requests per second and latency
//! percentiles.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::BenchError;
use super::client::{Connection, Request};

/// How long a measurement runs: until `duration` has passed or each client has sent
/// `max_per_client` requests, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub duration: Duration,
    pub max_per_client: u64,
    /// `None`: each client sends its next request as soon as the last is answered (a closed
    /// loop: the rate is the most the server gives, and latency follows from it). `Some(p)`:
    /// each client starts a request every `p` (an open loop at a chosen rate, the clients'
    /// starts spread over the period); a request's latency counts from when it was due, so a
    /// server that falls behind is not hidden by the clients waiting for it.
    pub pace: Option<Duration>,
}

/// What one measurement saw.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    /// Requests answered as expected.
    pub requests: u64,
    /// Requests answered otherwise, or that failed.
    pub errors: u64,
    /// From the start to the end of the last request.
    pub elapsed: Duration,
    /// The first error, for the report.
    pub first_error: Option<String>,
    /// Latencies of the successful requests, in microseconds, sorted after [`Self::finish`].
    latencies_us: Vec<u32>,
}

impl Measurement {
    fn record(&mut self, latency: Duration) {
        self.requests += 1;
        self.latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    fn fail(&mut self, error: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error);
        }
    }

    fn absorb(&mut self, other: Self) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.latencies_us.extend(other.latencies_us);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn finish(mut self, elapsed: Duration) -> Self {
        self.elapsed = elapsed;
        self.latencies_us.sort_unstable();
        self
    }

    /// A measurement of latencies taken elsewhere (e.g. from a response to a push), with
    /// `errors` that never completed.
    #[must_use]
    pub fn of_latencies(latencies: &[Duration], errors: u64, elapsed: Duration) -> Self {
        let mut m = Self::default();
        for latency in latencies {
            m.record(*latency);
        }
        m.errors = errors;
        if errors > 0 {
            m.first_error = Some(format!("{errors} never arrived"));
        }
        m.finish(elapsed)
    }

    /// Successful requests per second.
    #[must_use]
    pub fn rps(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.requests as f64 / seconds
        } else {
            0.0
        }
    }

    /// The latency below which `percent` of the successful requests fell (nearest rank), in
    /// milliseconds; 0 when there were none.
    #[must_use]
    pub fn percentile_ms(&self, percent: f64) -> f64 {
        let n = self.latencies_us.len();
        if n == 0 {
            return 0.0;
        }
        let rank = ((percent / 100.0) * n as f64).ceil() as usize;
        let index = rank.clamp(1, n) - 1;
        self.latencies_us
            .get(index)
            .map_or(0.0, |&us| f64::from(us) / 1000.0)
    }

    #[must_use]
    pub fn p50_ms(&self) -> f64 {
        self.percentile_ms(50.0)
    }

    #[must_use]
    pub fn p99_ms(&self) -> f64 {
        self.percentile_ms(99.0)
    }
}

/// A client's requests: called with 0, 1, 2, ... for the next one.
pub type RequestSource = Box<dyn FnMut(u64) -> Request>;

/// Drives `clients` concurrently against the server at `addr`, each over its own keep-alive
/// connection, within `budget`. Must run inside an actix (tokio local) runtime.
///
/// # Errors
/// When a connection cannot be opened at the start.
pub async fn http(
    addr: SocketAddr,
    clients: Vec<RequestSource>,
    budget: Budget,
) -> Result<Measurement, BenchError> {
    let mut connections = Vec::with_capacity(clients.len());
    for _ in 0..clients.len() {
        connections.push(Connection::open(addr).await?);
    }
    let start = Instant::now();
    let deadline = start + budget.duration;
    let count = u32::try_from(clients.len()).unwrap_or(u32::MAX).max(1);
    let tasks: Vec<_> = clients
        .into_iter()
        .zip(connections)
        .zip(0_u32..)
        .map(|((mut next, mut connection), index)| {
            actix_web::rt::spawn(async move {
                let mut seen = Measurement::default();
                let mut n = 0;
                let mut due = start;
                if let Some(pace) = budget.pace {
                    due += pace * index / count;
                }
                while n < budget.max_per_client && due < deadline && Instant::now() < deadline {
                    let request = next(n);
                    n += 1;
                    let sent = match budget.pace {
                        Some(pace) => {
                            actix_web::rt::time::sleep_until(due.into()).await;
                            let was_due = due;
                            due += pace;
                            was_due
                        }
                        None => Instant::now(),
                    };
                    match connection.send(&request).await {
                        Ok(answer) if answer.status == request.expect => {
                            seen.record(sent.elapsed());
                        }
                        Ok(answer) => seen.fail(format!(
                            "{} {}: {} {}",
                            request.method,
                            request.path,
                            answer.status,
                            answer.text().chars().take(300).collect::<String>()
                        )),
                        Err(e) => seen.fail(format!("{} {}: {e}", request.method, request.path)),
                    }
                }
                seen
            })
        })
        .collect();
    let mut total = Measurement::default();
    for task in tasks {
        match task.await {
            Ok(seen) => total.absorb(seen),
            Err(e) => total.fail(format!("a client task failed: {e}")),
        }
    }
    Ok(total.finish(start.elapsed()))
}

/// A worker's unit of work straight on the database: called with 0, 1, 2, ...
pub type Work<'a> = Box<dyn FnMut(u64) -> Result<(), String> + Send + 'a>;

/// Runs `workers` on their own threads within `budget` (blocking).
#[must_use]
pub fn threads(workers: Vec<Work<'_>>, budget: Budget) -> Measurement {
    let start = Instant::now();
    let deadline = start + budget.duration;
    let mut total = Measurement::default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .into_iter()
            .map(|mut work| {
                scope.spawn(move || {
                    let mut seen = Measurement::default();
                    let mut n = 0;
                    while n < budget.max_per_client && Instant::now() < deadline {
                        let began = Instant::now();
                        match work(n) {
                            Ok(()) => seen.record(began.elapsed()),
                            Err(e) => seen.fail(e),
                        }
                        n += 1;
                    }
                    seen
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(seen) => total.absorb(seen),
                Err(_) => total.fail("a worker thread panicked".into()),
            }
        }
    });
    total.finish(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut m = Measurement::default();
        for ms in 1..=100_u64 {
            m.record(Duration::from_millis(ms));
        }
        let m = m.finish(Duration::from_secs(2));
        assert!((m.p50_ms() - 50.0).abs() < 1e-9);
        assert!((m.p99_ms() - 99.0).abs() < 1e-9);
        assert!((m.percentile_ms(100.0) - 100.0).abs() < 1e-9);
        assert!((m.rps() - 50.0).abs() < 1e-9);
        assert!(Measurement::default().p99_ms().abs() < 1e-9);
    }

    #[test]
    fn threads_stop_at_the_request_budget_and_count_errors() {
        let workers: Vec<Work<'_>> = (0..3)
            .map(|w| -> Work<'_> {
                Box::new(move |n| {
                    if w == 0 && n == 0 {
                        Err("first".into())
                    } else {
                        Ok(())
                    }
                })
            })
            .collect();
        let m = threads(
            workers,
            Budget {
                duration: Duration::from_secs(5),
                max_per_client: 4,
                pace: None,
            },
        );
        assert_eq!((m.requests, m.errors), (11, 1));
        assert_eq!(m.first_error.as_deref(), Some("first"));
    }
}
