//! The highest rate at which a latency target holds.
//!
//! With a fixed number of clients sending back to back (a closed loop), latency is set by the
//! rate: each client waits for the requests of all the others, so the mean latency is the
//! clients divided by the requests per second. A latency target therefore says how much load
//! the server takes while keeping it: here, the clients keep their number and each sends at a
//! set pace (an open loop, latency counted from when a request was due), the pace halves while
//! the target holds, and the first pace at which it fails is then narrowed down.

use std::future::Future;
use std::time::Duration;

use super::BenchError;
use super::load::Measurement;

/// How many times the rate is doubled at most.
const DOUBLINGS: usize = 6;
/// How many times the bracket between the last pace that held and the first that failed is
/// halved (geometrically): three give the rate within about a tenth.
const NARROWINGS: usize = 3;

/// What [`highest_rate`] found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The measurement at the starting pace.
    pub first: Measurement,
    /// The fastest pace at which the target held, and its measurement; `None` when it did not
    /// hold even at the starting pace.
    pub best: Option<(Duration, Measurement)>,
}

/// Measures at `start`, then at ever faster paces while `holds`, then narrows the bracket.
/// `measure` is called with the pace and the step's number (for unique request keys).
///
/// # Errors
/// When a measurement fails to run.
pub async fn highest_rate<F, Fut>(
    start: Duration,
    holds: impl Fn(&Measurement) -> bool,
    mut measure: F,
) -> Result<Found, BenchError>
where
    F: FnMut(Duration, usize) -> Fut,
    Fut: Future<Output = Result<Measurement, BenchError>>,
{
    let first = measure(start, 0).await?;
    if !holds(&first) {
        return Ok(Found { first, best: None });
    }
    let mut step = 1;
    let mut good = (start, first.clone());
    let mut bad = None;
    while bad.is_none() && step <= DOUBLINGS {
        let pace = good.0 / 2;
        let m = measure(pace, step).await?;
        step += 1;
        if holds(&m) {
            good = (pace, m);
        } else {
            bad = Some(pace);
        }
    }
    if let Some(mut bad) = bad {
        for _ in 0..NARROWINGS {
            let pace = Duration::from_secs_f64((good.0.as_secs_f64() * bad.as_secs_f64()).sqrt());
            let m = measure(pace, step).await?;
            step += 1;
            if holds(&m) {
                good = (pace, m);
            } else {
                bad = pace;
            }
        }
    }
    Ok(Found {
        first,
        best: Some(good),
    })
}

/// A pace in milliseconds as the table shows it.
#[must_use]
pub fn pace_ms(pace: Duration) -> String {
    let ms = pace.as_secs_f64() * 1000.0;
    if (ms - ms.round()).abs() < 0.05 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that keeps the target up to `capacity` requests a second, for one client.
    fn fake(
        capacity: f64,
    ) -> impl FnMut(Duration, usize) -> std::future::Ready<Result<Measurement, BenchError>> {
        move |pace, _| {
            let rate = 1.0 / pace.as_secs_f64();
            let latency = if rate <= capacity { 5 } else { 500 };
            std::future::ready(Ok(Measurement::of_latencies(
                &[Duration::from_millis(latency)],
                0,
                Duration::from_secs(1),
            )))
        }
    }

    fn under_50_ms(m: &Measurement) -> bool {
        m.errors == 0 && m.p99_ms() < 50.0
    }

    #[actix_web::test]
    async fn the_rate_is_found_within_a_tenth() {
        // Starting at 4 a second: 8, 16, 32 hold, 64 fails, then 45 fails, 38 holds, 41 fails.
        let found = highest_rate(Duration::from_millis(250), under_50_ms, fake(40.0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (pace, _) = found.best.unwrap_or_else(|| panic!("nothing held"));
        let rate = 1.0 / pace.as_secs_f64();
        assert!((36.0..=40.0).contains(&rate), "{rate}");
    }

    #[actix_web::test]
    async fn nothing_is_found_when_the_start_fails() {
        let found = highest_rate(Duration::from_millis(250), under_50_ms, fake(1.0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(found.best.is_none());
        assert!(found.first.p99_ms() >= 50.0);
    }

    #[actix_web::test]
    async fn the_doublings_stop_at_their_limit() {
        let found = highest_rate(Duration::from_millis(256), under_50_ms, fake(1e9))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (pace, _) = found.best.unwrap_or_else(|| panic!("nothing held"));
        assert_eq!(pace, Duration::from_millis(4));
    }
}
