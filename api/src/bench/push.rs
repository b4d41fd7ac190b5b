//! Push latency: under the "grade a class" load, the time from the HTTP response of a grade
//! request (as its client reads it) to the moment a fake FCM server on the loopback interface
//! receives the push about that grade. Every parent of the graded classes has one phone, so
//! each grade is one push; the server's own dispatcher sends them, woken by the commit.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use persistence::PersistenceError;

use super::client::Connection;
use super::load::Measurement;
use super::table::Row;
use super::{BenchError, BenchSchool, Options, graders, grading_requests, setup};
use crate::config::{Settings, Sources};

/// The service account the benchmark's dispatcher signs with: the test suite's throwaway key
/// (it grants nothing anywhere; the fake server does not check it).
const BENCH_KEY: &str = include_str!("../../../tests/fixtures/fcm-test-service-account.json");

/// When each grade's push arrived.
type Arrivals = Arc<Mutex<HashMap<i64, Instant>>>;

/// A minimal FCM: hands out an access token and records the arrival of each message by its
/// `data.grade_id`.
struct Receiver {
    url: String,
    arrivals: Arrivals,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    fn start() -> Result<Self, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let arrivals: Arrivals = Arc::default();
        let seen = arrivals.clone();
        let server = HttpServer::new(move || {
            let seen = seen.clone();
            App::new()
                .route(
                    "/token",
                    web::post().to(|| async {
                        HttpResponse::Ok().json(serde_json::json!({
                            "access_token": "bench", "expires_in": 3600, "token_type": "Bearer"
                        }))
                    }),
                )
                .route(
                    "/v1/projects/{project}/messages:send",
                    web::post().to(move |body: web::Json<serde_json::Value>| {
                        let at = Instant::now();
                        let seen = seen.clone();
                        async move {
                            let grade = body["message"]["data"]["grade_id"]
                                .as_str()
                                .and_then(|g| g.parse::<i64>().ok())
                                .unwrap_or(0);
                            let mut map = seen
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            map.entry(grade).or_insert(at);
                            HttpResponse::Ok().json(serde_json::json!({
                                "name": format!("projects/bench/messages/{grade}")
                            }))
                        }
                    }),
                )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Ok(Self {
            url,
            arrivals,
            handle,
        })
    }

    fn arrived(&self) -> HashMap<i64, Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// "Push latency": 16 teachers grade classes back to back (as in "grade a class") while the
/// server's dispatcher sends each grade's push to the fake FCM; the latency is from each
/// response to its push's arrival (0 when the push came first).
///
/// # Errors
/// When setting up fails or a connection cannot be opened.
pub async fn push_latency(bench: &BenchSchool, options: &Options) -> Result<Vec<Row>, BenchError> {
    let database = bench.backend().to_string();
    let graders = graders(bench);
    let teachers = graders.len();
    let (work_type, _) = bench
        .school
        .work_types
        .first()
        .copied()
        .ok_or_else(|| setup("the school has no work types"))?;
    let graded: std::collections::BTreeSet<i64> = graders
        .iter()
        .flat_map(|g| g.lessons.iter().flat_map(|l| l.roster.iter().copied()))
        .collect();
    let parents: Vec<domain::UserId> = bench
        .school
        .parents
        .iter()
        .filter(|p| graded.contains(&p.child.get()))
        .map(|p| p.user)
        .collect();
    {
        let mut conn = bench.pool().get().map_err(PersistenceError::from)?;
        persistence::bench::register_family_devices(
            &mut conn,
            &parents,
            chrono::Utc::now().naive_utc(),
        )?;
    }
    let receiver = Receiver::start()?;
    let settings = Settings::load(&Sources {
        file: None,
        env: vec![
            ("DATABASE_URL".to_owned(), super::url_string(bench.db.url())),
            (
                "APP__PUSH__SERVICE_ACCOUNT_KEY_JSON".to_owned(),
                BENCH_KEY.to_owned(),
            ),
            (
                "APP__PUSH__TOKEN_URI".to_owned(),
                format!("{}/token", receiver.url),
            ),
            ("APP__PUSH__FCM_BASE_URL".to_owned(), receiver.url.clone()),
        ],
        bind: None,
    })
    .map_err(setup)?;
    let dispatcher = crate::push::Dispatcher::from_settings(
        bench.pool().clone(),
        &settings,
        bench.state.outbox.clone(),
    )
    .map_err(setup)?
    .sharing_writes_with(&bench.state)
    .spawn();

    options.say(&format!(
        "push latency: {teachers} teachers grading, {} phones",
        parents.len()
    ));
    // A first request, and its pushes, warm the dispatcher up (its access token, its
    // connections).
    if let Some(mut first) =
        grading_requests(graders.get(..1).unwrap_or_default(), "push-warm", work_type).pop()
    {
        let answer = Connection::open(bench.addr).await?.send(&first(0)).await?;
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        let expected = json["grades"].as_array().map_or(0, Vec::len);
        let waited = Instant::now();
        while receiver.arrived().len() < expected && waited.elapsed() < Duration::from_secs(30) {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // A warm-up under the full load, whose pushes are all delivered before the measurement;
    // then fresh statistics of the outbox tables (see `refresh_statistics`).
    let warm_until = Instant::now() + options.warmup;
    let warm = grade_until(
        bench,
        &graders,
        "push-warmup",
        work_type,
        warm_until,
        options,
    )
    .await?;
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(60) {
        let arrived = receiver.arrived();
        if warm.iter().all(|(_, id)| arrived.contains_key(id)) {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    {
        let mut conn = bench.pool().get().map_err(PersistenceError::from)?;
        persistence::bench::refresh_statistics(&mut conn)?;
    }
    let started = Instant::now();
    let measured = grade_until(
        bench,
        &graders,
        "push",
        work_type,
        started + options.measure,
        options,
    )
    .await;
    let elapsed = started.elapsed();
    // Every grade's push, or a minute at most.
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(60) {
        let arrived = receiver.arrived();
        let responses = measured.as_deref().unwrap_or_default();
        if responses.iter().all(|(_, id)| arrived.contains_key(id)) {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    dispatcher.stop().await;
    receiver.handle.stop(false).await;
    let measured = measured?;
    let arrived = receiver.arrived();
    let latencies: Vec<Duration> = measured
        .iter()
        .filter_map(|(at, id)| {
            arrived
                .get(id)
                .map(|pushed| pushed.saturating_duration_since(*at))
        })
        .collect();
    let missing = u64::try_from(measured.len() - latencies.len()).unwrap_or(u64::MAX);
    let measurement = Measurement::of_latencies(&latencies, missing, elapsed);
    Ok(vec![Row::new(
        format!("{PUSH_LATENCY}, {teachers} teachers"),
        &database,
        measurement,
    )])
}

/// The teachers grade back to back until `deadline`: when each grade's response came.
async fn grade_until(
    bench: &BenchSchool,
    graders: &[super::Grader],
    prefix: &'static str,
    work_type: i64,
    deadline: Instant,
    options: &Options,
) -> Result<Vec<(Instant, i64)>, BenchError> {
    let mut tasks = Vec::new();
    for mut source in grading_requests(graders, prefix, work_type) {
        let addr = bench.addr;
        let max = options.max_requests_per_client;
        tasks.push(actix_web::rt::spawn(async move {
            let mut connection = Connection::open(addr).await?;
            let mut answered: Vec<(Instant, Vec<i64>)> = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline && n < max {
                let answer = connection.send(&source(n)).await?;
                let at = Instant::now();
                n += 1;
                if answer.status != 201 {
                    return Err(setup(format!("grading answered {}", answer.status)));
                }
                let json: serde_json::Value =
                    serde_json::from_slice(&answer.body).unwrap_or_default();
                let ids = json["grades"]
                    .as_array()
                    .map(|g| g.iter().filter_map(|g| g["id"].as_i64()).collect())
                    .unwrap_or_default();
                answered.push((at, ids));
            }
            Ok::<_, BenchError>(answered)
        }));
    }
    let mut responses: Vec<(Instant, i64)> = Vec::new();
    let mut failure = None;
    for task in tasks {
        match task.await.map_err(setup) {
            Ok(Ok(answered)) => responses.extend(
                answered
                    .into_iter()
                    .flat_map(|(at, ids)| ids.into_iter().map(move |id| (at, id))),
            ),
            Ok(Err(e)) | Err(e) => failure = Some(e),
        }
    }
    failure.map_or(Ok(responses), Err)
}

/// The scenario's name, which its verdict looks it up by.
pub const PUSH_LATENCY: &str = "push latency: grade response → fake FCM";
