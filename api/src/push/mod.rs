//! The notification dispatcher: sends the outbox rows the journal's writes commit, through
//! FCM.
//!
//! It runs inside the server (a background task) and as its own process (`gradebook
//! dispatch`). It wakes when a write commits: in the same process through an in-process
//! signal ([`tokio::sync::Notify`], which the write handlers ring after their transaction);
//! across processes on PostgreSQL through `LISTEN gradebook_outbox` (the outbox write
//! `NOTIFY`s in its transaction, so the signal comes at commit); and, as a safety net, by a
//! short poll, which also picks up retries and quiet hours that end. Rows are claimed with a
//! lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several dispatchers never send one row
//! twice, and a dispatcher that stops leaves unsent rows for the next one.

pub mod fcm;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use persistence::notifications::{self as outbox, Claimed, Outcome};
use persistence::{DatabaseUrl, PersistenceError, Pool};
use rand::Rng;
use tokio::sync::Notify;

pub use fcm::{Credentials, Delivery, FcmClient};

use crate::config::{ConfigError, PushSettings, Settings};

/// The time the dispatcher goes by (UTC); tests move it to the end of quiet hours.
pub type Clock = Arc<dyn Fn() -> NaiveDateTime + Send + Sync>;

/// The retry policy and pacing.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub poll: Duration,
    pub batch: i64,
    pub lanes: usize,
    pub max_attempts: i32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub lease: Duration,
}

impl Policy {
    #[must_use]
    pub fn from_settings(push: &PushSettings) -> Self {
        Self {
            poll: Duration::from_millis(push.poll_interval_ms),
            batch: i64::from(push.batch_size),
            lanes: usize::try_from(push.lanes).unwrap_or(1).max(1),
            max_attempts: i32::try_from(push.max_attempts).unwrap_or(i32::MAX),
            backoff_initial: Duration::from_millis(push.backoff_initial_ms),
            backoff_max: Duration::from_millis(push.backoff_max_ms),
            lease: Duration::from_secs(push.lease_secs),
        }
    }

    /// The delay before attempt `attempts + 1`: exponential from the initial delay, capped,
    /// with "equal jitter" (between half and all of it), and never before `Retry-After`.
    #[must_use]
    pub fn backoff(&self, attempts: i32, retry_after: Option<Duration>) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let full = self
            .backoff_initial
            .saturating_mul(2_u32.saturating_pow(exponent))
            .min(self.backoff_max);
        let half = full / 2;
        let jittered = half + half.mul_f64(rand::thread_rng().gen_range(0.0..=1.0));
        retry_after.map_or(jittered, |after| after.max(jittered))
    }
}

/// Sends the outbox through FCM.
#[derive(Clone)]
pub struct Dispatcher {
    pool: Pool,
    fcm: FcmClient,
    policy: Policy,
    wake: Arc<Notify>,
    clock: Clock,
    /// PostgreSQL only: where to `LISTEN`.
    listen_url: Option<DatabaseUrl>,
    /// The server's queue of writers ([`crate::AppState::write_turn`]), which the
    /// dispatcher's own writes join, ahead of the request handlers (`None` in a dispatcher
    /// process of its own).
    write_turn: Option<Arc<crate::write_queue::WriteQueue>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Why no dispatcher runs.
#[derive(Debug, thiserror::Error)]
pub enum NotStarted {
    #[error("push notifications are disabled (push.enabled = false)")]
    Disabled,
    #[error(
        "no FCM service-account key is configured (push.service_account_key_file or \
         push.service_account_key_json): notifications are queued, not sent"
    )]
    NoKey,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Client(String),
}

impl Dispatcher {
    /// The dispatcher the configuration describes, woken by `wake` (the app's
    /// [`crate::AppState::outbox`]).
    ///
    /// # Errors
    /// [`NotStarted`] when push is disabled, no key is configured, or the key is unusable.
    pub fn from_settings(
        pool: Pool,
        settings: &Settings,
        wake: Arc<Notify>,
    ) -> Result<Self, NotStarted> {
        let push = &settings.push;
        if !push.enabled {
            return Err(NotStarted::Disabled);
        }
        let credentials = Credentials::from_settings(push)?.ok_or(NotStarted::NoKey)?;
        let fcm = FcmClient::new(
            credentials,
            &push.fcm_base_url,
            Duration::from_secs(push.request_timeout_secs),
        )
        .map_err(NotStarted::Client)?;
        let url = settings.database_url()?;
        let listen_url = matches!(url.backend(), persistence::Backend::Postgres).then_some(url);
        Ok(Self {
            pool,
            fcm,
            policy: Policy::from_settings(push),
            wake,
            clock: Arc::new(|| chrono::Utc::now().naive_utc()),
            listen_url,
            write_turn: None,
        })
    }

    /// The same dispatcher queueing its writes with the server's handlers, ahead of them (so
    /// SQLite's single writer is taken in turn, not by retrying on `SQLITE_BUSY`, and a stream
    /// of grades does not starve their pushes).
    #[must_use]
    pub fn sharing_writes_with(mut self, state: &crate::AppState) -> Self {
        self.write_turn = Some(state.write_turn.clone());
        self
    }

    /// The same dispatcher going by another clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Claims one batch of due rows, sends them concurrently and records each outcome.
    /// Returns how many it sent or tried to send (rows cancelled at claim time, whose
    /// recipient may no longer get them, are not counted).
    ///
    /// # Errors
    /// When the database fails (the rows then stay leased until the lease ends).
    pub async fn dispatch_due(&self) -> Result<usize, PersistenceError> {
        let now = (self.clock)();
        let lease = chrono::Duration::from_std(self.policy.lease)
            .unwrap_or_else(|_| chrono::Duration::seconds(60));
        let batch = self.policy.batch;
        let claimed = self
            .blocking_write(move |conn| outbox::claim(conn, now, batch, lease))
            .await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let count = claimed.len();
        let mut sends = tokio::task::JoinSet::new();
        for row in claimed {
            let fcm = self.fcm.clone();
            sends.spawn(async move {
                let delivery = fcm.send(&row.token, &row.payload, row.id).await;
                (row, delivery)
            });
        }
        let mut outcomes = Vec::with_capacity(count);
        while let Some(joined) = sends.join_next().await {
            match joined {
                Ok((row, delivery)) => {
                    let outcome = self.outcome(&row, delivery);
                    outcomes.push((row, outcome));
                }
                Err(e) => tracing::error!(error = %e, "a push send task failed"),
            }
        }
        for (row, outcome) in &outcomes {
            match outcome {
                Outcome::Sent(_) => {
                    tracing::info!(notification_id = row.id, "push sent");
                }
                Outcome::Retry { reason, .. } => {
                    tracing::warn!(notification_id = row.id, attempts = row.attempts, %reason, "push to retry");
                }
                Outcome::TokenGone(reason) => {
                    tracing::info!(notification_id = row.id, device_id = row.device_id, %reason, "device token gone: deactivated");
                }
                Outcome::Failed(reason) => {
                    tracing::warn!(notification_id = row.id, %reason, "push failed");
                }
            }
        }
        let at = (self.clock)();
        self.blocking_write(move |conn| outbox::record(conn, &outcomes, at))
            .await?;
        Ok(count)
    }

    fn outcome(&self, row: &Claimed, delivery: Delivery) -> Outcome {
        match delivery {
            Delivery::Sent(name) => Outcome::Sent(name),
            Delivery::TokenGone(reason) => Outcome::TokenGone(reason),
            Delivery::Failed(reason) => Outcome::Failed(reason),
            Delivery::Retry { reason, .. } if row.attempts >= self.policy.max_attempts => {
                Outcome::Failed(format!("gave up after {} attempts: {reason}", row.attempts))
            }
            Delivery::Retry { after, reason } => {
                let delay = self.policy.backoff(row.attempts, after);
                let next = (self.clock)()
                    + chrono::Duration::from_std(delay)
                        .unwrap_or_else(|_| chrono::Duration::zero());
                Outcome::Retry { next, reason }
            }
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut persistence::DbConnection) -> Result<T, PersistenceError>
        + Send
        + 'static,
    ) -> Result<T, PersistenceError> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
        .map_err(|e| PersistenceError::Unavailable(format!("blocking task: {e}")))?
    }

    /// As [`Self::blocking`], in the server's queue of writers when there is one.
    async fn blocking_write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut persistence::DbConnection) -> Result<T, PersistenceError>
        + Send
        + 'static,
    ) -> Result<T, PersistenceError> {
        let turn = self.write_turn.clone();
        self.blocking(move |conn| {
            let _turn = turn.as_ref().map(|queue| queue.urgent_turn());
            work(conn)
        })
        .await
    }

    /// How long to sleep when nothing is due: until the next row is due, at most the poll.
    async fn idle_wait(&self) -> Duration {
        let now = (self.clock)();
        let next = self
            .blocking(move |conn| outbox::next_due(conn, now))
            .await
            .ok()
            .flatten();
        next.map_or(self.policy.poll, |due| {
            (due - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(self.policy.poll)
        })
    }

    /// Runs [`Policy::lanes`] lanes until [`DispatcherHandle::stop`].
    async fn run(self, stopping: Arc<AtomicBool>, stopped: Arc<Notify>) {
        let mut lanes = tokio::task::JoinSet::new();
        for _ in 0..self.policy.lanes {
            lanes.spawn(self.clone().lane(stopping.clone(), stopped.clone()));
        }
        while lanes.join_next().await.is_some() {}
    }

    /// One lane: sends what is due, then sleeps until woken, until the next row is due, or
    /// for the poll interval. A lane that claimed a full batch goes on at once and wakes
    /// another lane, so a backlog is sent by every lane in parallel.
    async fn lane(self, stopping: Arc<AtomicBool>, stopped: Arc<Notify>) {
        while !stopping.load(Ordering::SeqCst) {
            match self.dispatch_due().await {
                Ok(n) if i64::try_from(n).unwrap_or(0) >= self.policy.batch => {
                    self.wake.notify_one();
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "the dispatcher cannot reach the database"),
            }
            let wait = self.idle_wait().await;
            if wait.is_zero() {
                // Due now (a concurrent commit, or another dispatcher's lease just ended).
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = stopped.notified() => {
                    // Pass the stop on to the next lane.
                    stopped.notify_one();
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Starts the dispatcher on a thread of its own, with its own single-threaded runtime, so
    /// its sends never wait behind the server's request handling or a load generator (and, on
    /// PostgreSQL, a listener thread).
    #[must_use]
    pub fn spawn(self) -> DispatcherHandle {
        let stopping = Arc::new(AtomicBool::new(false));
        let stopped = Arc::new(Notify::new());
        if let Some(url) = self.listen_url.clone() {
            let wake = self.wake.clone();
            let stop = stopping.clone();
            let spawned = std::thread::Builder::new()
                .name("outbox-listen".into())
                .spawn(move || listen(&url, &wake, &stop));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the LISTEN thread; polling only");
            }
        }
        let (stop, done) = (stopping.clone(), stopped.clone());
        let thread = std::thread::Builder::new()
            .name("outbox-dispatch".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(self.run(stop, done)),
                    Err(e) => tracing::error!(error = %e, "cannot start the dispatcher's runtime"),
                }
            })
            .map_err(|e| tracing::error!(error = %e, "cannot start the dispatcher's thread"))
            .ok();
        DispatcherHandle {
            stopping,
            stopped,
            thread,
        }
    }
}

/// PostgreSQL: holds a connection that `LISTEN`s for committed outbox writes of any process
/// and rings `wake`. diesel reads notifications without blocking, so the connection's input is
/// checked every few milliseconds (a local read of the socket, no query to the server).
fn listen(url: &DatabaseUrl, wake: &Notify, stopping: &AtomicBool) {
    const CHECK: Duration = Duration::from_millis(5);
    while !stopping.load(Ordering::SeqCst) {
        let mut conn =
            match persistence::connection::connect_one(url, persistence::PoolOptions::default()) {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection failed; retrying in 1 s");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
        if let Err(e) = outbox::listen(&mut conn) {
            tracing::warn!(error = %e, "LISTEN failed; retrying in 1 s");
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        while !stopping.load(Ordering::SeqCst) {
            match outbox::notified(&mut conn) {
                Ok(0) => std::thread::sleep(CHECK),
                Ok(_) => wake.notify_one(),
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                    break;
                }
            }
        }
    }
}

/// A running dispatcher.
#[derive(Debug)]
pub struct DispatcherHandle {
    stopping: Arc<AtomicBool>,
    stopped: Arc<Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DispatcherHandle {
    /// Stops after the batch in flight is recorded (so no claimed row is left leased).
    pub async fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stopped.notify_one();
        if let Some(thread) = self.thread {
            match tokio::task::spawn_blocking(move || thread.join()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => tracing::error!("the dispatcher's thread panicked"),
                Err(e) => tracing::error!(error = %e, "cannot wait for the dispatcher's thread"),
            }
        }
    }
}
