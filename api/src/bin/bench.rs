//! `bench`: the journal's benchmark (see the README's Benchmarks section).
//!
//! ```sh
//! cargo run --release -p gradebook-api --bin bench -- --students 2000 \
//!     --postgres postgres://postgres@127.0.0.1:5432/postgres
//! ```
//!
//! Loads a synthetic school into a scratch database (a SQLite file in a temporary folder, and a
//! throwaway database on the PostgreSQL server given), serves it with the real app on a
//! loopback port, and prints one Markdown table per database on standard output.

use std::process::ExitCode;
use std::time::Duration;

use api::bench::{self, Options, Scenario, Target};
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Databases {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Benchmark the journal: grading a class and opening the diary week, on SQLite and PostgreSQL"
)]
struct Args {
    /// Students in the synthetic school (30 a class, 15 subjects, one parent each).
    #[arg(long, default_value_t = 2000)]
    students: usize,
    /// A PostgreSQL server whose user may create databases; a throwaway database is created
    /// on it and dropped afterwards.
    #[arg(long, env = "BENCH_POSTGRES_URL", value_name = "URL")]
    postgres: Option<String>,
    /// Which databases to run on (default: both with --postgres, SQLite otherwise).
    #[arg(long, value_enum)]
    databases: Option<Databases>,
    /// Grades per student per subject over the term.
    #[arg(long, default_value_t = 60)]
    grades_per_subject: usize,
    /// Concurrent teachers grading classes.
    #[arg(long, default_value_t = 16)]
    teachers: usize,
    /// Concurrent parents opening the diary.
    #[arg(long, default_value_t = 64)]
    parents: usize,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds each scenario runs unmeasured first.
    #[arg(long, default_value_t = 2.0)]
    warmup_seconds: f64,
    /// Also open the diary at a set rate, each parent once per this many milliseconds
    /// (0: leave that row out).
    #[arg(long, default_value_t = 250)]
    diary_pace_ms: u64,
    /// Also grade at a set rate, each teacher one class per this many milliseconds (0: leave
    /// that row out).
    #[arg(long, default_value_t = 250)]
    grading_pace_ms: u64,
    /// Connections in the server's pool (default: the server's default).
    #[arg(long)]
    pool_size: Option<u32>,
    /// Writers at once on PostgreSQL (default: the server's default).
    #[arg(long)]
    write_concurrency: Option<u32>,
    /// Server worker threads (default: the server's default, one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Afterwards, check that the running sums of averages match all the grades.
    #[arg(long)]
    verify: bool,
    /// No progress lines on standard error.
    #[arg(long)]
    quiet: bool,
    /// Run only these scenarios (comma-separated; all by default).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scenario>,
}

fn seconds(value: f64, name: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("--{name} must be a number of seconds"))
}

fn options(args: Args) -> Result<Options, String> {
    let which = args.databases.unwrap_or(if args.postgres.is_some() {
        Databases::Both
    } else {
        Databases::Sqlite
    });
    let postgres = || {
        args.postgres.clone().map(Target::Postgres).ok_or_else(|| {
            "give --postgres postgres://user@host:5432/db (or BENCH_POSTGRES_URL)".to_owned()
        })
    };
    let targets = match which {
        Databases::Sqlite => vec![Target::Sqlite],
        Databases::Postgres => vec![postgres()?],
        Databases::Both => vec![Target::Sqlite, postgres()?],
    };
    if args.students == 0 || args.teachers == 0 || args.parents == 0 {
        return Err("--students, --teachers and --parents must be at least 1".into());
    }
    let mut options = Options::standard(targets).map_err(|e| e.to_string())?;
    options.students = args.students;
    options.grades_per_subject = args.grades_per_subject;
    options.teachers = args.teachers;
    options.parents = args.parents;
    options.measure = seconds(args.seconds, "seconds")?;
    options.warmup = seconds(args.warmup_seconds, "warmup-seconds")?;
    options.diary_pace =
        (args.diary_pace_ms > 0).then(|| Duration::from_millis(args.diary_pace_ms));
    options.grading_pace =
        (args.grading_pace_ms > 0).then(|| Duration::from_millis(args.grading_pace_ms));
    options.pool_size = args.pool_size;
    options.write_concurrency = args.write_concurrency;
    options.workers = args.workers;
    options.progress = !args.quiet;
    options.verify = args.verify;
    if !args.only.is_empty() {
        options.scenarios = args.only.into_iter().collect();
    }
    Ok(options)
}

/// "load average 1.02 0.80 0.60" (1, 5 and 15 minutes), where Linux tells it: other work on
/// the machine moves the figures.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| {
            let fields: Vec<&str> = l.split_whitespace().take(3).collect();
            (fields.len() == 3).then(|| format!("load average {}", fields.join(" ")))
        })
        .unwrap_or_else(|| "load average unknown".to_owned())
}

fn main() -> ExitCode {
    let options = match options(Args::parse()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("bench: {message}");
            return ExitCode::from(2);
        }
    };
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!("# Benchmark: {}\n", bench::describe(&options));
    println!(
        "Machine: {cores} cores, {} before the run.\n",
        load_average()
    );
    let system = actix_web::rt::System::new();
    for target in &options.targets {
        match system.block_on(bench::run_target(target, &options)) {
            Ok(report) => println!(
                "{}\nThe machine's {} after it.\n",
                report.render(),
                load_average()
            ),
            Err(e) => {
                eprintln!("bench: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
