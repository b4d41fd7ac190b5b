//! The benchmark (`cargo run --release -p gradebook-api --bin bench`): a synthetic school
//! loaded straight into a scratch database, served by the real app on a loopback port, and
//! driven over real HTTP/1.1 keep-alive connections.
//!
//! The parts are meant to be reused by later scenarios: [`BenchSchool::prepare`] loads and
//! serves a school, [`load`] drives N concurrent clients (or threads) and measures requests
//! per second and latency percentiles, [`table`] prints the rows. The scenarios of the
//! journal are [`grade_a_class`] and [`open_the_diary_week`]; of averages and ranks,
//! [`ranking::rank_the_school`].

pub mod client;
pub mod load;
pub mod push;
pub mod ranking;
pub mod rate;
pub mod table;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix_web::HttpServer;
use actix_web::dev::ServerHandle;
use chrono::{NaiveDate, Utc};
use domain::UserId;
use persistence::averages::Weighing;
use persistence::bench::{
    DirectGrade, DirectGrading, LoadedCounts, LoadedSchool, SchoolSpec, ScratchDatabase,
};
use persistence::journal::{self, Actor, Idempotency, NewGrade, StoredAnswer};
use persistence::{Backend, PersistenceError, Pool};

use self::client::{Connection, Request};
use self::load::{Budget, RequestSource, Work};
use self::table::Row;
use crate::auth::KeySet;
use crate::auth::tokens::sha256_hex;
use crate::config::{Settings, Sources};
use crate::routes::journal::{GradeView, GradedLesson};
use crate::{AppState, build_app};

/// The password of every account of the benchmark's school.
pub const BENCH_PASSWORD: &str = "bench-password";
/// Grades in one "grade a class" request.
pub const GRADES_PER_REQUEST: usize = 30;

/// What stops the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Database(#[from] PersistenceError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Setup(String),
}

fn setup(message: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(message.to_string())
}

/// A database to run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A throwaway database created on the server of this URL (and dropped afterwards).
    Postgres(String),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub targets: Vec<Target>,
    /// Students in the school (30 a class, one parent each).
    pub students: usize,
    /// Subjects (at most 15).
    pub subjects: usize,
    /// Grades per student per subject over the term.
    pub grades_per_subject: usize,
    /// Concurrent teachers grading classes.
    pub teachers: usize,
    /// Concurrent parents opening the diary.
    pub parents: usize,
    /// How long each measurement runs.
    pub measure: Duration,
    /// How long each scenario runs unmeasured first.
    pub warmup: Duration,
    /// At most this many requests per client and measurement.
    pub max_requests_per_client: u64,
    /// Connections in the server's pool; the server's default when `None`.
    pub pool_size: Option<u32>,
    /// Writers at once on PostgreSQL (`database.write_concurrency`); the server's default
    /// when `None`.
    pub write_concurrency: Option<u32>,
    /// Server worker threads; the server's default (one per core) when `None`.
    pub workers: Option<usize>,
    /// The diary's week (Monday to Sunday, in the loaded term).
    pub diary_week: (NaiveDate, NaiveDate),
    /// Also open the diary at a chosen rate: each parent once per this period (an open loop,
    /// for latency below saturation); `None` leaves that row out.
    pub diary_pace: Option<Duration>,
    /// Also grade at a chosen rate: each teacher one class per this period (an open loop, for
    /// the latency a teacher sees below saturation); `None` leaves that row out.
    pub grading_pace: Option<Duration>,
    /// Progress lines on standard error.
    pub progress: bool,
    /// Afterwards, check that the running sums of averages match the grades (all of them: slow
    /// on a big school), so every way of writing grades is known to write the same rows.
    pub verify: bool,
    /// The scenarios to run (all by default).
    pub scenarios: BTreeSet<Scenario>,
}

/// The benchmark's scenarios, which can be run on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Scenario {
    /// "Grade a class" beside its limit.
    Grading,
    /// "Open the diary week" beside the framework's ceiling.
    Diary,
    /// "Rank the school" beside the window function.
    Ranking,
    /// The school reports.
    Reports,
    /// Push latency under the grading load.
    Push,
}

impl Scenario {
    /// Every scenario.
    #[must_use]
    pub fn all() -> BTreeSet<Self> {
        [
            Self::Grading,
            Self::Diary,
            Self::Ranking,
            Self::Reports,
            Self::Push,
        ]
        .into()
    }
}

/// The loaded term (the second quarter of 2026/2027).
pub const TERM: ((i32, u32, u32), (i32, u32, u32)) = ((2026, 11, 5), (2026, 12, 28));
/// A school week inside the term, Monday to Sunday.
pub const DIARY_WEEK: ((i32, u32, u32), (i32, u32, u32)) = ((2026, 11, 16), (2026, 11, 22));
/// The day of the lessons graded during the benchmark (in the term, outside the diary week).
pub const GRADING_DAY: (i32, u32, u32) = (2026, 12, 14);

fn date((y, m, d): (i32, u32, u32)) -> Result<NaiveDate, BenchError> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| setup(format!("no date {y}-{m}-{d}")))
}

impl Options {
    /// The benchmark: 2,000 students, 15 subjects, 60 grades per student per subject,
    /// 16 teachers and 64 parents, 10-second measurements after 2-second warm-ups.
    ///
    /// # Errors
    /// Never in practice (the built-in dates are valid).
    pub fn standard(targets: Vec<Target>) -> Result<Self, BenchError> {
        Ok(Self {
            targets,
            students: 2000,
            subjects: 15,
            grades_per_subject: 60,
            teachers: 16,
            parents: 64,
            measure: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            max_requests_per_client: 1_000_000,
            pool_size: None,
            write_concurrency: None,
            workers: None,
            diary_week: (date(DIARY_WEEK.0)?, date(DIARY_WEEK.1)?),
            diary_pace: Some(Duration::from_millis(250)),
            grading_pace: Some(Duration::from_millis(250)),
            progress: true,
            verify: false,
            scenarios: Scenario::all(),
        })
    }

    fn say(&self, message: &str) {
        if self.progress {
            eprintln!("bench: {message}");
        }
    }

    fn budget(&self, duration: Duration) -> Budget {
        Budget {
            duration,
            max_per_client: self.max_requests_per_client,
            pace: None,
        }
    }
}

/// A target met or missed.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// What one database's run measured.
#[derive(Debug, Clone)]
pub struct DatabaseReport {
    pub backend: Backend,
    pub students: usize,
    pub classes: usize,
    pub subjects: usize,
    pub counts: LoadedCounts,
    pub load_time: Duration,
    pub rows: Vec<Row>,
    pub verdicts: Vec<Verdict>,
}

impl DatabaseReport {
    /// The report as Markdown: a heading, the load, the table and the targets.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let name = match self.backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        let c = &self.counts;
        let _ = writeln!(out, "## {name}\n");
        let _ = writeln!(
            out,
            "Loaded {} students in {} classes, {} subjects: {} lessons, {} grades, {} grade \
             events, {} attendance marks in {:.1} s.\n",
            self.students,
            self.classes,
            self.subjects,
            c.lessons,
            c.grades,
            c.grade_events,
            c.attendance_marks,
            self.load_time.as_secs_f64()
        );
        out.push_str(&table::markdown(&self.rows));
        out.push('\n');
        for v in &self.verdicts {
            let _ = writeln!(
                out,
                "- {}: {} ({})",
                v.target,
                v.measured,
                if v.met { "met" } else { "NOT met" }
            );
        }
        for row in &self.rows {
            if let Some(error) = &row.measurement.first_error {
                let _ = writeln!(out, "- first error of \"{}\": {error}", row.scenario);
            }
        }
        out
    }
}

/// Runs every target in turn and returns their reports.
///
/// # Errors
/// When a database cannot be prepared or the server cannot start; failed requests are
/// counted in the report instead.
pub async fn run(options: &Options) -> Result<Vec<DatabaseReport>, BenchError> {
    let mut reports = Vec::new();
    for target in &options.targets {
        reports.push(run_target(target, options).await?);
    }
    Ok(reports)
}

/// Loads, serves and measures one database.
///
/// # Errors
/// As [`run`].
pub async fn run_target(target: &Target, options: &Options) -> Result<DatabaseReport, BenchError> {
    let bench = BenchSchool::prepare(target, options).await?;
    let outcome = measure_journal(&bench, options).await;
    bench.stop().await;
    let rows = outcome?;
    if options.verify {
        bench.verify_sums(options)?;
    }
    let verdicts = verdicts(&rows);
    Ok(DatabaseReport {
        backend: bench.backend(),
        students: options.students,
        classes: bench.school.classes.len(),
        subjects: bench.school.subjects.len(),
        counts: bench.school.counts,
        load_time: bench.load_time,
        rows,
        verdicts,
    })
}

async fn measure_journal(bench: &BenchSchool, options: &Options) -> Result<Vec<Row>, BenchError> {
    let run = |scenario| options.scenarios.contains(&scenario);
    let mut rows = Vec::new();
    if run(Scenario::Grading) {
        rows.extend(grade_a_class(bench, options).await?);
    }
    if run(Scenario::Diary) {
        rows.extend(open_the_diary_week(bench, options).await?);
    }
    if run(Scenario::Ranking) {
        rows.extend(ranking::rank_the_school(bench, options).await?);
    }
    if run(Scenario::Reports) {
        rows.extend(read_the_reports(bench, options).await?);
    }
    // Last: it gives the graded classes' parents phones, which the other scenarios do not have.
    if run(Scenario::Push) {
        rows.extend(push::push_latency(bench, options).await?);
    }
    Ok(rows)
}

/// The scenario names, which the verdicts look rows up by.
const GRADE_API: &str = "grade a class: API";
const GRADE_PACED: &str = "grade a class at a set rate: API";
const GRADE_CALL: &str = "grade a class: persistence call, no HTTP";
const GRADE_LIMIT: &str = "grade a class: direct writes (limit)";
const DIARY_API: &str = "open the diary week: API";
const DIARY_PACED: &str = "open the diary week at a set rate: API";
const GRADE_MOST: &str = "grade a class at the highest rate found with p99 under 50 ms: API";
const DIARY_MOST: &str = "open the diary week at the highest rate found with p99 under 10 ms: API";
/// The latency targets.
const GRADE_P99_MS: f64 = 50.0;
const DIARY_P99_MS: f64 = 10.0;

/// A scenario measured at a set pace and then at the highest rate that keeps its target.
struct Paced<'a> {
    /// The progress line's start.
    progress: &'a str,
    /// The names of its two rows: at the set pace, at the highest rate found.
    rows: (&'a str, &'a str),
    /// Who sends, e.g. "16 teachers".
    clients: String,
    /// The target: p99 under this many milliseconds, without errors.
    p99_ms: f64,
}

/// Runs [`rate::highest_rate`] from `start` with the clients `requests` makes for each step,
/// and gives its two rows: at the set pace, and at the highest rate found that keeps the target
/// (the set pace's measurement again when even that missed it).
async fn paced_search(
    bench: &BenchSchool,
    options: &Options,
    start: Option<Duration>,
    scenario: &Paced<'_>,
    database: &str,
    requests: impl Fn(usize) -> Vec<RequestSource>,
) -> Result<Vec<Row>, BenchError> {
    let Some(start) = start else {
        return Ok(Vec::new());
    };
    let Paced {
        progress,
        rows: (paced, most),
        ref clients,
        p99_ms,
    } = *scenario;
    let found = rate::highest_rate(
        start,
        |m| m.errors == 0 && m.p99_ms() < p99_ms,
        |pace, step| {
            options.say(&format!(
                "{progress}, {clients}, each every {} ms",
                rate::pace_ms(pace)
            ));
            let budget = Budget {
                pace: Some(pace),
                ..options.budget(options.measure)
            };
            let sources = requests(step);
            async move { load::http(bench.addr, sources, budget).await }
        },
    )
    .await?;
    let (pace, best) = found
        .best
        .clone()
        .unwrap_or_else(|| (start, found.first.clone()));
    Ok(vec![
        Row::new(
            format!("{paced}, {clients} each every {} ms", rate::pace_ms(start)),
            database,
            found.first,
        ),
        Row::new(
            format!("{most}, {clients} each every {} ms", rate::pace_ms(pace)),
            database,
            best,
        ),
    ])
}

const LIVE: &str = "GET /health/live (ceiling)";
const REPORT: &str = "school report";

fn verdicts(rows: &[Row]) -> Vec<Verdict> {
    let find = |prefix: &str| rows.iter().find(|r| r.scenario.starts_with(prefix));
    let mut out = Vec::new();
    if let Some(row) = find(GRADE_API) {
        let ratio = row.ratio().unwrap_or(0.0);
        out.push(Verdict {
            target: "grade a class: at least 0.7 of the limit".into(),
            measured: format!("{ratio:.2}"),
            met: ratio >= 0.7,
        });
        let p99 = row.measurement.p99_ms();
        out.push(Verdict {
            target: format!("grade a class: p99 under {GRADE_P99_MS} ms"),
            measured: format!("{p99:.1} ms"),
            met: p99 < GRADE_P99_MS && row.measurement.errors == 0,
        });
    }
    if let Some(row) = find(DIARY_API) {
        let p99 = row.measurement.p99_ms();
        out.push(Verdict {
            target: format!("open the diary week: p99 under {DIARY_P99_MS} ms"),
            measured: format!("{p99:.1} ms"),
            met: p99 < DIARY_P99_MS && row.measurement.errors == 0,
        });
    }
    if let Some(row) = find(ranking::RANK_API) {
        let ratio = row.ratio().unwrap_or(0.0);
        let ok = row.measurement.errors == 0;
        out.push(Verdict {
            target: "rank the school: at least 50 times the window function over the grades".into(),
            measured: format!("{ratio:.0} times"),
            met: ratio >= 50.0 && ok,
        });
        for (which, ms) in [
            ("p50", row.measurement.p50_ms()),
            ("p99", row.measurement.p99_ms()),
        ] {
            out.push(Verdict {
                target: format!("rank the school: {which} under 5 ms"),
                measured: format!("{ms:.1} ms"),
                met: ms < 5.0 && ok,
            });
        }
    }
    if let Some(row) = find(push::PUSH_LATENCY) {
        let p99 = row.measurement.p99_ms();
        out.push(Verdict {
            target: "push latency: p99 under 200 ms".into(),
            measured: format!("{p99:.1} ms"),
            met: p99 < 200.0 && row.measurement.errors == 0,
        });
    }
    for row in rows.iter().filter(|r| r.scenario.starts_with(REPORT)) {
        let p99 = row.measurement.p99_ms();
        out.push(Verdict {
            target: format!("{}: p99 under 1 s", row.scenario),
            measured: format!("{p99:.1} ms"),
            met: p99 < 1000.0 && row.measurement.errors == 0,
        });
    }
    for (paced, unit, limit) in [
        (GRADE_PACED, "classes/s", GRADE_P99_MS),
        (DIARY_PACED, "rps", DIARY_P99_MS),
    ] {
        if let Some(row) = find(paced) {
            let p99 = row.measurement.p99_ms();
            out.push(Verdict {
                target: format!("{}: p99 under {limit} ms", row.scenario),
                measured: format!("{p99:.1} ms at {:.0} {unit}", row.measurement.rps()),
                met: p99 < limit && row.measurement.errors == 0,
            });
        }
    }
    for (most, flat_out, unit, limit) in [
        (GRADE_MOST, GRADE_API, "classes/s", GRADE_P99_MS),
        (DIARY_MOST, DIARY_API, "rps", DIARY_P99_MS),
    ] {
        if let Some(row) = find(most) {
            let m = &row.measurement;
            let of_flat_out = find(flat_out)
                .map(|f| f.measurement.rps())
                .filter(|rps| *rps > 0.0)
                .map_or_else(String::new, |rps| {
                    format!(", {:.2} of the flat-out rate", m.rps() / rps)
                });
            let how = row.scenario.rsplit_once(", ").map_or("", |(_, how)| how);
            out.push(Verdict {
                target: most.trim_end_matches(": API").to_owned(),
                measured: format!(
                    "{:.0} {unit}, {how} (p99 {:.1} ms{of_flat_out})",
                    m.rps(),
                    m.p99_ms()
                ),
                met: m.p99_ms() < limit && m.errors == 0,
            });
        }
    }
    out
}

/// A loaded school served by the real app on a loopback port, with its users logged in.
#[derive(Debug)]
pub struct BenchSchool {
    pub state: AppState,
    pub school: LoadedSchool,
    pub load_time: Duration,
    /// Where the server listens.
    pub addr: SocketAddr,
    server: ServerHandle,
    /// Access tokens of the first `options.teachers` teachers.
    pub teacher_tokens: Vec<String>,
    /// Access tokens of the first `options.parents` parents.
    pub parent_tokens: Vec<String>,
    /// The last field, so it is dropped last: the database goes after the pool.
    pub db: ScratchDatabase,
}

impl BenchSchool {
    /// Makes a scratch database, migrates it, loads the school, serves the app on
    /// 127.0.0.1 (a free port) and logs in the teachers and parents the scenarios use.
    /// Must run inside an actix system.
    ///
    /// # Errors
    /// When any step fails.
    pub async fn prepare(target: &Target, options: &Options) -> Result<Self, BenchError> {
        let db = match target {
            Target::Sqlite => ScratchDatabase::sqlite()?,
            Target::Postgres(url) => ScratchDatabase::postgres(url)?,
        };
        options.say(&format!(
            "{}: scratch database {}",
            db.url().backend(),
            db.url().redacted()
        ));
        let settings = bench_settings(db.url(), options)?;
        let mut conn = persistence::connection::connect_one(db.url(), settings.pool_options())?;
        persistence::migrations::run_pending(&mut conn)?;
        let hash = crate::password::hash(BENCH_PASSWORD).map_err(setup)?;
        let spec = SchoolSpec {
            students: options.students,
            class_size: 30,
            subjects: options.subjects,
            lessons_per_day: 6,
            grades_per_subject: options.grades_per_subject,
            classes_per_teacher: 5,
            absence_one_in: 25,
            term: (date(TERM.0)?, date(TERM.1)?),
            grading_day: date(GRADING_DAY)?,
            password_hash: hash,
            now: Utc::now().naive_utc(),
        };
        options.say("loading the school");
        let started = Instant::now();
        let school = persistence::bench::load_school(&mut conn, &spec, &mut |line| {
            options.say(line);
        })?;
        let load_time = started.elapsed();
        drop(conn);
        options.say(&format!("loaded in {:.1} s", load_time.as_secs_f64()));

        let pool = persistence::connection::connect_pool(db.url(), settings.pool_options())?;
        let state = AppState::new(pool, settings.clone(), KeySet::generate("bench"));
        let (addr, server) = serve(&settings, state.clone())?;
        let mut bench = Self {
            state,
            school,
            load_time,
            addr,
            server,
            teacher_tokens: Vec::new(),
            parent_tokens: Vec::new(),
            db,
        };
        options.say(&format!("serving on http://{addr}; logging in"));
        let teachers: Vec<String> = bench
            .school
            .teachers
            .iter()
            .take(options.teachers)
            .map(|t| t.login.clone())
            .collect();
        let parents: Vec<String> = bench
            .school
            .parents
            .iter()
            .take(options.parents)
            .map(|p| p.login.clone())
            .collect();
        let logged_in = async {
            Ok::<_, BenchError>((
                log_in(addr, &teachers).await?,
                log_in(addr, &parents).await?,
            ))
        };
        match logged_in.await {
            Ok((teacher_tokens, parent_tokens)) => {
                bench.teacher_tokens = teacher_tokens;
                bench.parent_tokens = parent_tokens;
                Ok(bench)
            }
            Err(e) => {
                bench.stop().await;
                Err(e)
            }
        }
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        self.db.url().backend()
    }

    #[must_use]
    pub fn pool(&self) -> &Pool {
        &self.state.pool
    }

    /// Checks that the running sums of averages match a recomputation from all the grades.
    ///
    /// # Errors
    /// Naming the first mismatch, or on a database failure.
    pub fn verify_sums(&self, options: &Options) -> Result<(), BenchError> {
        let mut conn = self.pool().get().map_err(PersistenceError::from)?;
        let mismatches = persistence::averages::inconsistencies(&mut conn, self.school.school)?;
        if let Some(first) = mismatches.first() {
            return Err(setup(format!(
                "{} running sums differ from the grades; the first (student, subject, term) \
                 {:?}: stored {:?}, recomputed {:?}",
                mismatches.len(),
                first.0,
                first.1,
                first.2
            )));
        }
        options.say("the running sums of averages match the grades");
        Ok(())
    }

    /// Stops the server (its running requests finish first).
    pub async fn stop(&self) {
        self.server.stop(true).await;
    }
}

fn bench_settings(
    url: &persistence::DatabaseUrl,
    options: &Options,
) -> Result<Settings, BenchError> {
    let mut env = vec![
        ("DATABASE_URL".to_owned(), url_string(url)),
        // Long enough for a long run on a slow machine.
        (
            "APP__AUTH__ACCESS_TOKEN_TTL_SECS".to_owned(),
            "7200".to_owned(),
        ),
    ];
    if let Some(writers) = options.write_concurrency {
        env.push((
            "APP__DATABASE__WRITE_CONCURRENCY".to_owned(),
            writers.to_string(),
        ));
    }
    if let Some(size) = options.pool_size {
        env.push(("APP__DATABASE__POOL_MAX_SIZE".to_owned(), size.to_string()));
    }
    if let Some(workers) = options.workers {
        env.push(("APP__SERVER__WORKERS".to_owned(), workers.to_string()));
    }
    Settings::load(&Sources {
        file: None,
        env,
        bind: Some("127.0.0.1:0".to_owned()),
    })
    .map_err(setup)
}

/// The URL as `DATABASE_URL` takes it.
fn url_string(url: &persistence::DatabaseUrl) -> String {
    match url {
        persistence::DatabaseUrl::Postgres(u) => u.clone(),
        persistence::DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
    }
}

/// Starts the real HTTP server as `gradebook serve` does, on a free loopback port.
fn serve(settings: &Settings, state: AppState) -> Result<(SocketAddr, ServerHandle), BenchError> {
    let mut server = HttpServer::new(move || build_app(state.clone()))
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(settings.server.request_timeout_secs))
        .client_disconnect_timeout(Duration::from_secs(5))
        .disable_signals();
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    let addr = settings.bind_addr().map_err(setup)?;
    let server = server.bind(addr)?;
    let bound = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| setup("the server bound no address"))?;
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);
    Ok((bound, handle))
}

/// Logs the accounts in through `POST /api/v1/auth/login`, a few at a time, and returns their
/// access tokens in order.
async fn log_in(addr: SocketAddr, logins: &[String]) -> Result<Vec<String>, BenchError> {
    let mut tokens = Vec::with_capacity(logins.len());
    for group in logins.chunks(4) {
        let tasks: Vec<_> = group
            .iter()
            .cloned()
            .map(|login| {
                actix_web::rt::spawn(async move {
                    let body = serde_json::json!({"login": login, "password": BENCH_PASSWORD});
                    let mut connection = Connection::open(addr).await?;
                    let answer = connection
                        .send(&Request::post_json(
                            "/api/v1/auth/login",
                            body.to_string().into_bytes(),
                            200,
                        ))
                        .await?;
                    let json: serde_json::Value = serde_json::from_slice(&answer.body)
                        .map_err(|e| setup(format!("login {login}: {e}: {}", answer.text())))?;
                    json["access_token"]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| setup(format!("login {login}: {}", answer.text())))
                })
            })
            .collect();
        for task in tasks {
            tokens.push(task.await.map_err(setup)??);
        }
    }
    Ok(tokens)
}

/// A lesson a teacher grades during the benchmark, with its class's students.
#[derive(Debug, Clone)]
struct GradingLesson {
    id: i64,
    roster: Vec<i64>,
}

/// One benchmark teacher.
#[derive(Debug, Clone)]
struct Grader {
    user: UserId,
    subject: domain::SubjectId,
    token: String,
    lessons: Vec<GradingLesson>,
}

/// The 30 grades of request `n` of teacher `t`: every student of the class once (the first
/// ones twice when the class has fewer than 30), client ids unique to `tag`, `t` and `n`.
fn class_grades(lesson: &GradingLesson, tag: &str, t: usize, n: u64) -> Vec<(i64, String, i64)> {
    (0..GRADES_PER_REQUEST)
        .filter_map(|i| {
            let len = lesson.roster.len();
            let student = *lesson.roster.get(i % len.max(1))?;
            let value = 2 + i64::try_from((n + i as u64) % 4).unwrap_or(0);
            Some((student, format!("{tag}-{t}-{n}-{i}"), value))
        })
        .collect()
}

fn graders(bench: &BenchSchool) -> Vec<Grader> {
    bench
        .school
        .teachers
        .iter()
        .zip(&bench.teacher_tokens)
        .map(|(teacher, token)| Grader {
            user: teacher.user,
            subject: teacher.subject,
            token: token.clone(),
            lessons: teacher
                .grading_lessons
                .iter()
                .zip(&teacher.classes)
                .filter_map(|(&id, &class)| {
                    let roster = bench.school.classes.get(class)?;
                    Some(GradingLesson {
                        id,
                        roster: roster.students.iter().map(|s| s.get()).collect(),
                    })
                })
                .collect(),
        })
        .filter(|g| !g.lessons.is_empty())
        .collect()
}

fn pick_lesson(grader: &Grader, n: u64) -> Option<&GradingLesson> {
    let len = u64::try_from(grader.lessons.len()).unwrap_or(1).max(1);
    grader.lessons.get(usize::try_from(n % len).unwrap_or(0))
}

fn grading_requests(graders: &[Grader], tag: &str, work_type: i64) -> Vec<RequestSource> {
    graders
        .iter()
        .cloned()
        .enumerate()
        .map(|(t, grader)| -> RequestSource {
            let tag = tag.to_owned();
            Box::new(move |n| {
                let Some(lesson) = pick_lesson(&grader, n) else {
                    return Request::get("/no-lesson");
                };
                let grades: Vec<serde_json::Value> = class_grades(lesson, &tag, t, n)
                    .into_iter()
                    .map(|(student, client_id, value)| {
                        serde_json::json!({
                            "client_id": client_id, "student_id": student,
                            "work_type_id": work_type, "value": value,
                        })
                    })
                    .collect();
                let body = serde_json::json!({ "grades": grades }).to_string();
                Request::post_json(
                    format!("/api/v1/lessons/{}/grades", lesson.id),
                    body.into_bytes(),
                    201,
                )
                .bearer(&grader.token)
                .header("Idempotency-Key", format!("{tag}-{t}-{n}"))
            })
        })
        .collect()
}

/// The limit: the same rows written straight on the pool, one thread per teacher.
fn direct_writes<'a>(
    bench: &'a BenchSchool,
    graders: &'a [Grader],
    tag: &'static str,
    (work_type, weight): (i64, i16),
) -> Vec<Work<'a>> {
    let school = bench.school.school;
    let term = bench.school.term;
    let scale = bench.school.default_scale;
    graders
        .iter()
        .enumerate()
        .map(|(t, grader)| -> Work<'a> {
            let pool = bench.pool().clone();
            Box::new(move |n| {
                let lesson = pick_lesson(grader, n).ok_or("no lesson")?;
                let grades: Vec<DirectGrade> = class_grades(lesson, tag, t, n)
                    .into_iter()
                    .map(|(student, client_id, value)| DirectGrade {
                        student,
                        work_type,
                        weight: i64::from(weight),
                        scale,
                        value,
                        client_id,
                    })
                    .collect();
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                persistence::bench::write_graded_lesson(
                    &mut conn,
                    &DirectGrading {
                        school,
                        lesson: lesson.id,
                        subject: grader.subject,
                        term,
                        teacher: grader.user,
                        key: &format!("{tag}-{t}-{n}"),
                        request_hash: &format!("{:064x}", u128::from(n) << 64 | t as u128),
                        grades: &grades,
                        at: Utc::now().naive_utc(),
                    },
                )
                .map_err(|e| e.to_string())
            })
        })
        .collect()
}

/// The persistence function the API calls, without HTTP, authentication or checks.
fn persistence_calls<'a>(
    bench: &'a BenchSchool,
    graders: &'a [Grader],
    lessons: &'a [Vec<journal::Lesson>],
    tag: &'static str,
    work_type: i64,
) -> Vec<Work<'a>> {
    let scale = bench.school.default_scale;
    graders
        .iter()
        .zip(lessons)
        .enumerate()
        .map(|(t, (grader, loaded))| -> Work<'a> {
            let pool = bench.pool().clone();
            Box::new(move |n| {
                let lesson = pick_lesson(grader, n).ok_or("no lesson")?;
                let stored = loaded
                    .iter()
                    .find(|l| l.id == lesson.id)
                    .ok_or("lesson not loaded")?;
                let grades: Vec<NewGrade> = class_grades(lesson, tag, t, n)
                    .into_iter()
                    .map(|(student, client_id, value)| NewGrade {
                        student: domain::StudentId(student),
                        work_type,
                        scale,
                        value: value.to_string(),
                        comment: None,
                        client_id,
                    })
                    .collect();
                let key = format!("{tag}-{t}-{n}");
                let idempotency = Idempotency {
                    request_hash: sha256_hex(&key),
                    key,
                };
                let respond = |written: &[journal::Grade]| StoredAnswer {
                    status: 201,
                    body: serde_json::to_string(&GradedLesson {
                        lesson_id: lesson.id,
                        grades: written.iter().cloned().map(GradeView::from).collect(),
                    })
                    .unwrap_or_default(),
                };
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                let weighing =
                    Weighing::load(&mut conn, stored.school_id).map_err(|e| e.to_string())?;
                journal::give_grades(
                    &mut conn,
                    stored,
                    Actor::Person(grader.user),
                    &journal::GradeRequest {
                        idempotency: &idempotency,
                        grades: &grades,
                        weighing: &weighing,
                        reason: None,
                        locked_term_cleared: false,
                    },
                    Utc::now().naive_utc(),
                    &respond,
                )
                .map(|_| ())
                .map_err(|e| e.to_string())
            })
        })
        .collect()
}

/// "Grade a class": each teacher posts 30 grades for a lesson of one of their classes (new
/// client ids and a new idempotency key each time), beside the same rows written straight on
/// the database (the limit) and through the persistence function alone.
///
/// # Errors
/// When the first request is not answered as expected, or a connection cannot be opened.
pub async fn grade_a_class(bench: &BenchSchool, options: &Options) -> Result<Vec<Row>, BenchError> {
    let database = bench.backend().to_string();
    let graders = graders(bench);
    let teachers = graders.len();
    let (work_type, weight) = bench
        .school
        .work_types
        .first()
        .copied()
        .ok_or_else(|| setup("the school has no work types"))?;

    // One request first: it must be answered with the 30 grades.
    let mut first = grading_requests(graders.get(..1).unwrap_or_default(), "check", work_type);
    if let Some(next) = first.first_mut() {
        let request = next(0);
        let answer = Connection::open(bench.addr).await?.send(&request).await?;
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        let graded = json["grades"].as_array().map_or(0, Vec::len);
        if answer.status != 201 || graded != GRADES_PER_REQUEST {
            return Err(setup(format!(
                "grading a class answered {}: {}",
                answer.status,
                answer.text()
            )));
        }
    }

    options.say(&format!("grade a class: API, {teachers} teachers"));
    load::http(
        bench.addr,
        grading_requests(&graders, "warm", work_type),
        options.budget(options.warmup),
    )
    .await?;
    let api = load::http(
        bench.addr,
        grading_requests(&graders, "api", work_type),
        options.budget(options.measure),
    )
    .await?;

    let paced = {
        let scenario = Paced {
            progress: "grade a class: API",
            rows: (GRADE_PACED, GRADE_MOST),
            clients: format!("{teachers} teachers"),
            p99_ms: GRADE_P99_MS,
        };
        paced_search(
            bench,
            options,
            options.grading_pace,
            &scenario,
            &database,
            |step| grading_requests(&graders, &format!("paced{step}"), work_type),
        )
        .await?
    };

    options.say(&format!("grade a class: direct writes, {teachers} threads"));
    let _ = load::threads(
        direct_writes(bench, &graders, "warm-direct", (work_type, weight)),
        options.budget(options.warmup),
    );
    let limit = load::threads(
        direct_writes(bench, &graders, "direct", (work_type, weight)),
        options.budget(options.measure),
    );

    options.say(&format!(
        "grade a class: persistence call, {teachers} threads"
    ));
    let lessons = {
        let mut conn = bench.pool().get().map_err(PersistenceError::from)?;
        let mut lessons = Vec::with_capacity(graders.len());
        for grader in &graders {
            let mut loaded = Vec::with_capacity(grader.lessons.len());
            for lesson in &grader.lessons {
                loaded.push(journal::find_lesson(&mut conn, lesson.id)?);
            }
            lessons.push(loaded);
        }
        lessons
    };
    let _ = load::threads(
        persistence_calls(bench, &graders, &lessons, "warm-call", work_type),
        options.budget(options.warmup),
    );
    let call = load::threads(
        persistence_calls(bench, &graders, &lessons, "call", work_type),
        options.budget(options.measure),
    );

    let mut rows =
        vec![Row::new(format!("{GRADE_API}, {teachers} teachers"), &database, api).against(&limit)];
    rows.extend(paced);
    rows.extend([
        Row::new(format!("{GRADE_CALL}, {teachers} threads"), &database, call).against(&limit),
        Row::new(
            format!("{GRADE_LIMIT}, {teachers} threads"),
            &database,
            limit,
        ),
    ]);
    Ok(rows)
}

/// The diary's path for a student and a week.
#[must_use]
pub fn diary_path(student: i64, week: (NaiveDate, NaiveDate)) -> String {
    format!(
        "/api/v1/students/{student}/diary?from={}&to={}",
        week.0, week.1
    )
}

/// "Open the diary week": each parent opens their child's diary for the week, beside the
/// server's no-op JSON endpoint at the same concurrency (the framework's ceiling).
///
/// # Errors
/// When the first diary is not answered as expected, or a connection cannot be opened.
pub async fn open_the_diary_week(
    bench: &BenchSchool,
    options: &Options,
) -> Result<Vec<Row>, BenchError> {
    let database = bench.backend().to_string();
    let week = options.diary_week;
    let families: Vec<(String, i64)> = bench
        .parent_tokens
        .iter()
        .zip(&bench.school.parents)
        .map(|(token, parent)| (token.clone(), parent.child.get()))
        .collect();
    let parents = families.len();
    let diaries = |families: &[(String, i64)]| -> Vec<RequestSource> {
        families
            .iter()
            .map(|(token, child)| -> RequestSource {
                let request = Request::get(diary_path(*child, week)).bearer(token);
                Box::new(move |_| request.clone())
            })
            .collect()
    };
    let lives = || -> Vec<RequestSource> {
        (0..parents)
            .map(|_| -> RequestSource { Box::new(|_| Request::get("/health/live")) })
            .collect()
    };

    if let Some((token, child)) = families.first() {
        let request = Request::get(diary_path(*child, week)).bearer(token);
        let answer = Connection::open(bench.addr).await?.send(&request).await?;
        let (lessons, grades) = check_diary(&answer)?;
        options.say(&format!(
            "the first diary: {lessons} lessons, {grades} grades, {} bytes",
            answer.body.len()
        ));
    }

    options.say(&format!("open the diary week: API, {parents} parents"));
    load::http(
        bench.addr,
        diaries(&families),
        options.budget(options.warmup),
    )
    .await?;
    let diary = load::http(
        bench.addr,
        diaries(&families),
        options.budget(options.measure),
    )
    .await?;
    let paced = {
        let scenario = Paced {
            progress: "open the diary week: API",
            rows: (DIARY_PACED, DIARY_MOST),
            clients: format!("{parents} parents"),
            p99_ms: DIARY_P99_MS,
        };
        paced_search(
            bench,
            options,
            options.diary_pace,
            &scenario,
            &database,
            |_| diaries(&families),
        )
        .await?
    };
    options.say(&format!("GET /health/live, {parents} clients"));
    load::http(bench.addr, lives(), options.budget(options.warmup)).await?;
    let live = load::http(bench.addr, lives(), options.budget(options.measure)).await?;
    let mut rows =
        vec![Row::new(format!("{DIARY_API}, {parents} parents"), &database, diary).against(&live)];
    rows.extend(paced);
    rows.push(Row::new(
        format!("{LIVE}, {parents} clients"),
        &database,
        live,
    ));
    Ok(rows)
}

/// "Read the reports": the school's administrator asks for each report of the loaded term, one
/// request after another (a single client: an administrator reading reports, not a crowd).
///
/// # Errors
/// When the administrator cannot be made or logged in, a report is not answered 200 at
/// first, or a connection cannot be opened.
pub async fn read_the_reports(
    bench: &BenchSchool,
    options: &Options,
) -> Result<Vec<Row>, BenchError> {
    let database = bench.backend().to_string();
    let login = "bench-admin".to_owned();
    {
        let mut conn = bench.pool().get().map_err(PersistenceError::from)?;
        let hash = crate::password::hash(BENCH_PASSWORD).map_err(setup)?;
        let admin = persistence::people::insert_user(
            &mut conn,
            persistence::people::NewUser {
                login: &login,
                display_name: "Администратор",
                password_hash: Some(&hash),
                now: Utc::now().naive_utc(),
            },
        )?;
        persistence::people::assign_role(
            &mut conn,
            admin,
            persistence::people::Role::SchoolAdmin,
            persistence::people::RoleScope::School(bench.school.school),
        )?;
    }
    let token = log_in(bench.addr, &[login])
        .await?
        .pop()
        .ok_or_else(|| setup("the administrator was not logged in"))?;
    let school = bench.school.school.get();
    let term = bench.school.term;
    let class = bench.school.classes.first().map_or(0, |c| c.id.get());
    let (from, to) = (date(TERM.0)?, date(TERM.1)?);
    let reports = [
        (
            "academic, the term",
            format!("/api/v1/schools/{school}/reports/academic?term_id={term}"),
        ),
        (
            "class summary sheet, the term",
            format!(
                "/api/v1/schools/{school}/reports/class-summary?term_id={term}&class_id={class}"
            ),
        ),
        (
            "attendance, the term",
            format!("/api/v1/schools/{school}/reports/attendance?term_id={term}"),
        ),
        (
            "activity indicators, the term's dates",
            format!("/api/v1/schools/{school}/reports/activity?from={from}&to={to}"),
        ),
    ];
    let mut rows = Vec::new();
    for (name, path) in reports {
        let request = Request::get(path.clone()).bearer(&token);
        let answer = Connection::open(bench.addr).await?.send(&request).await?;
        if answer.status != 200 {
            return Err(setup(format!(
                "{path} answered {}: {}",
                answer.status,
                answer.text().chars().take(300).collect::<String>()
            )));
        }
        options.say(&format!("{REPORT}: {name} ({} bytes)", answer.body.len()));
        let source = || -> Vec<RequestSource> {
            let request = request.clone();
            vec![Box::new(move |_| request.clone())]
        };
        let m = load::http(bench.addr, source(), options.budget(options.measure)).await?;
        rows.push(Row::new(
            format!("{REPORT}: {name}, 1 client"),
            &database,
            m,
        ));
    }
    Ok(rows)
}

/// The diary answers 200 with the week's lessons; returns how many lessons and grades it shows.
fn check_diary(answer: &client::Response) -> Result<(usize, usize), BenchError> {
    let refused = || {
        setup(format!(
            "the diary answered {}: {}",
            answer.status,
            answer.text().chars().take(500).collect::<String>()
        ))
    };
    if answer.status != 200 {
        return Err(refused());
    }
    let diary: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| refused())?;
    let lessons: Vec<&serde_json::Value> = diary["days"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|day| day["lessons"].as_array())
        .flatten()
        .collect();
    let grades = lessons
        .iter()
        .filter_map(|lesson| lesson["grades"].as_array())
        .map(Vec::len)
        .sum();
    if lessons.is_empty() {
        return Err(refused());
    }
    Ok((lessons.len(), grades))
}

/// One line saying what the run does.
#[must_use]
pub fn describe(options: &Options) -> String {
    let targets: Vec<String> = options
        .targets
        .iter()
        .map(|t| match t {
            Target::Sqlite => "sqlite".to_owned(),
            Target::Postgres(url) => persistence::DatabaseUrl::parse(url)
                .map_or_else(|_| "postgres".to_owned(), |u| u.redacted()),
        })
        .collect();
    format!(
        "{} students, {} subjects, {} grades per student per subject; {} teachers, {} parents; \
         {:.1} s measurements after {:.1} s warm-ups; on {}",
        options.students,
        options.subjects,
        options.grades_per_subject,
        options.teachers,
        options.parents,
        options.measure.as_secs_f64(),
        options.warmup.as_secs_f64(),
        targets.join(" and ")
    )
}
