//! Grading requests written together: the requests that arrive while others are being written
//! wait for the next turn and are written in it, in one transaction with one commit (a group
//! commit).
//!
//! A class's grades are about thirty rows in seven B-trees, and each transaction commits its
//! own copy of the pages it touched: on SQLite a write-ahead-log frame per page, on PostgreSQL a
//! flush of the log to disk. At the bell, when a dozen teachers grade at once, a turn per request
//! writes the same index pages again and again, and each request waits for every commit before
//! it. Written together, the pages go out once and the requests wait for one commit.
//!
//! Each request's work runs in a savepoint of its own, so one refused request (a bad entry, a
//! term locked meanwhile, a duplicate) rolls back alone and the others commit. A request that
//! fails on the database itself (a full disk, an I/O error: SQLite may have rolled back the
//! whole transaction) abandons the group, rolled back whole. Nothing is answered before the
//! commit: if the group is abandoned or its commit fails, every request of it is answered
//! with the failure and none of their writes stays (the teacher app retries with the same
//! `Idempotency-Key`).
//!
//! One thread per process writes the groups, in the process's queue of writers
//! ([`crate::write_queue`]) like every other writer, so the groups and the other writes take
//! turns; a writer that queues behind a group waits for up to [`MOST_AT_ONCE`] requests'
//! writes (about 40 ms) instead of one. The push dispatcher's turns still wait for one
//! request's write at most: a group stops between two requests when one is waiting, commits
//! what it wrote, and the rest of it goes first among the grading requests in the next turn.
//!
//! Only on SQLite, whose one writer at a time is what the requests queue for. PostgreSQL writes
//! several transactions at once and already flushes the log once for the commits that wait
//! together; there one thread writing the groups halved the grading rate (174 classes a second
//! against 331 in the same benchmark run), so its requests write as every other writer does.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use actix_web::ResponseError;
use persistence::{DbConnection, PersistenceError, Pool};
use tokio::sync::oneshot;

use crate::ApiError;
use crate::routes::averages::Rankings;
use crate::write_queue::WriteQueue;

/// At most this many requests are written in one transaction, so a long queue is written in
/// several turns and the other writers get theirs between them.
const MOST_AT_ONCE: usize = 32;

/// The handle the request handlers send their writes to; the writing thread stops when the
/// last handle is dropped.
#[derive(Debug, Clone)]
pub struct GroupWriter {
    jobs: Sender<Box<dyn Job>>,
    /// Requests sent whose group has not been written yet.
    pending: Arc<AtomicUsize>,
}

/// A request's write, waiting to run in a group.
trait Job: Send {
    /// Runs the work in a savepoint, keeping what it answered.
    ///
    /// # Errors
    /// When the work failed on the database itself rather than refusing the request: SQLite
    /// may then have rolled back the whole transaction (a full disk, an I/O error), so the
    /// group is abandoned, every request of it answered with the failure.
    fn run(&mut self, conn: &mut DbConnection) -> Result<(), ApiError>;
    /// Answers the request once the group has committed (or failed to).
    fn finish(self: Box<Self>, committed: Result<(), &ApiError>);
}

struct Pending<T, F> {
    work: Option<F>,
    answer: Option<Result<T, ApiError>>,
    reply: oneshot::Sender<Result<T, ApiError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send,
{
    fn run(&mut self, conn: &mut DbConnection) -> Result<(), ApiError> {
        let Some(work) = self.work.take() else {
            return Ok(());
        };
        let answer = conn.in_transaction(work);
        // A refusal (4xx: a constraint, a lesson moved, a key reused) undoes its own statement
        // or savepoint only; a failure of the database (5xx) may have undone more.
        let fault = match &answer {
            Err(failure) if failure.status_code().is_server_error() => Err(again(failure)),
            _ => Ok(()),
        };
        self.answer = Some(answer);
        fault
    }

    fn finish(self: Box<Self>, committed: Result<(), &ApiError>) {
        let answer = match (committed, self.answer) {
            (Ok(()), Some(answer)) => answer,
            (Ok(()), None) => Err(ApiError::Internal("a write was not run".into())),
            (Err(failure), _) => Err(again(failure)),
        };
        // The request may have gone (its client hung up): nothing to answer then.
        let _ = self.reply.send(answer);
    }
}

/// The group's failure, for each of its requests.
fn again(failure: &ApiError) -> ApiError {
    match failure {
        ApiError::Unavailable(cause) => ApiError::Unavailable(cause.clone()),
        other => ApiError::Internal(other.to_string()),
    }
}

impl GroupWriter {
    /// Starts the writing thread.
    ///
    /// # Errors
    /// When the thread cannot be started (the process is out of threads).
    pub fn start(
        pool: Pool,
        queue: Arc<WriteQueue>,
        rankings: Arc<Rankings>,
    ) -> std::io::Result<Self> {
        let (jobs, received) = channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let written = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || serve(&received, &written, &pool, &queue, &rankings))?;
        Ok(Self { jobs, pending })
    }

    /// How many requests were sent whose group has not been written yet.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Runs `work` in the next group written: in a savepoint of the group's transaction, in a
    /// turn of the queue of writers. Answers once the group has committed.
    ///
    /// # Errors
    /// Whatever `work` answers (its writes are rolled back then); 503 when no connection can
    /// be had; the commit's failure.
    pub async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.pending.fetch_add(1, Ordering::SeqCst);
        let sent = self.jobs.send(Box::new(Pending {
            work: Some(work),
            answer: None,
            reply,
        }));
        if sent.is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::Internal(
                "the group-commit thread has stopped".into(),
            ));
        }
        answer
            .await
            .map_err(|_| ApiError::Internal("a group's write failed unexpectedly".into()))?
    }
}

/// Takes every request waiting, up to [`MOST_AT_ONCE`] in the group.
fn gather(received: &Receiver<Box<dyn Job>>, group: &mut Vec<Box<dyn Job>>) {
    while group.len() < MOST_AT_ONCE {
        let Ok(job) = received.try_recv() else {
            break;
        };
        group.push(job);
    }
}

fn serve(
    received: &Receiver<Box<dyn Job>>,
    pending: &AtomicUsize,
    pool: &Pool,
    queue: &WriteQueue,
    rankings: &Rankings,
) {
    // Requests taken but not written yet: a group ended early for the dispatcher leaves the
    // rest for the next turn, ahead of those that came later.
    let mut group: Vec<Box<dyn Job>> = Vec::new();
    loop {
        if group.is_empty() {
            match received.recv() {
                Ok(first) => group.push(first),
                Err(_) => return,
            }
        }
        let mut ran = 0;
        // A panic in a request's work drops the group: their handlers are answered 500 (their
        // reply is dropped unsent) and the open transaction is rolled back with its
        // connection, which the pool discards as broken.
        let written = catch_unwind(AssertUnwindSafe(|| {
            let _turn = queue.turn();
            // Those that came while this waited for its turn join it.
            gather(received, &mut group);
            let committed = pool
                .get()
                .map_err(|e| ApiError::from(PersistenceError::from(e)))
                .and_then(|mut conn| {
                    conn.in_transaction(|conn| {
                        for job in &mut group {
                            // The dispatcher's turn goes first, as behind any one request.
                            if ran > 0 && queue.urgent_waiting() {
                                break;
                            }
                            ran += 1;
                            job.run(conn)?;
                        }
                        Ok::<_, ApiError>(())
                    })
                });
            // Committed (or rolled back): rankings computed before may no longer hold.
            rankings.generation.advance();
            committed
        }));
        let Ok(committed) = written else {
            tracing::error!("a grading write panicked; its group was rolled back");
            pending.fetch_sub(group.len(), Ordering::SeqCst);
            group.clear();
            continue;
        };
        // Without a connection none ran, and all of them are answered with the failure.
        let rest = if committed.is_ok() {
            group.split_off(ran)
        } else {
            Vec::new()
        };
        pending.fetch_sub(group.len(), Ordering::SeqCst);
        for job in group.drain(..) {
            job.finish(committed.as_ref().copied());
        }
        group = rest;
    }
}
