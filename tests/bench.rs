//! The benchmark's harness on a tiny school, so it cannot rot: the loader, the real server on a
//! loopback port, the keep-alive client, the load generator and the table, in about a second.
//! The figures themselves come from `cargo run --release -p gradebook-api --bin bench` (see the
//! README's Benchmarks).

use std::time::Duration;

use api::bench::{self, Options, Target};

use crate::support::{Backend, on_both_backends};

on_both_backends!(the_benchmark_runs_end_to_end_on_a_tiny_school);

async fn the_benchmark_runs_end_to_end_on_a_tiny_school(backend: Backend) {
    let target = match backend {
        Backend::Sqlite => Target::Sqlite,
        Backend::Postgres => {
            Target::Postgres(std::env::var("TEST_DATABASE_URL").unwrap_or_default())
        }
    };
    let mut options = Options::standard(vec![target.clone()]).unwrap_or_else(|e| panic!("{e}"));
    // Two classes of 16 and 15: a "grade a class" request still carries 30 grades.
    options.students = 31;
    options.grades_per_subject = 4;
    options.teachers = 2;
    options.parents = 3;
    options.measure = Duration::from_millis(150);
    options.warmup = Duration::from_millis(30);
    options.max_requests_per_client = 4;
    options.diary_pace = Some(Duration::from_millis(20));
    options.grading_pace = Some(Duration::from_millis(20));
    options.progress = false;
    // The loader, the API, the persistence call and the limit all keep the running sums.
    options.verify = true;

    let report = bench::run_target(&target, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!((report.classes, report.subjects), (2, 15));
    assert_eq!(report.counts.grades, 31 * 15 * 4);
    assert_eq!(report.counts.grade_events, report.counts.grades);
    assert!(report.counts.lessons > 0 && report.counts.attendance_marks > 0);
    // Grading (5 rows: flat out, at a set rate, at the highest rate found, the persistence
    // call, the limit), the diary (4), the ranking (4), the four school reports, the pushes.
    assert_eq!(report.rows.len(), 18, "{}", report.render());
    for row in &report.rows {
        let m = &row.measurement;
        assert!(
            m.requests > 0 && m.errors == 0,
            "{}: {:?}\n{}",
            row.scenario,
            m.first_error,
            report.render()
        );
        assert!(m.p50_ms() <= m.p99_ms());
    }
    // The API rows are compared with the limit and the ceiling, the rankings from the
    // running sums with the window function over the raw grades (which agreed on who is
    // ranked, or the run would have stopped).
    assert!(report.rows.iter().filter(|r| r.ratio().is_some()).count() == 6);
    assert_eq!(report.verdicts.len(), 15);
    let rendered = report.render();
    assert!(
        rendered.contains("| scenario | database | requests |"),
        "{rendered}"
    );
    assert!(
        rendered.contains("open the diary week: p99 under 10 ms"),
        "{rendered}"
    );
    assert!(
        rendered.contains("grade a class at a set rate: API, 2 teachers each every 20 ms"),
        "{rendered}"
    );
    assert!(
        rendered.contains("rank the school: at least 50 times"),
        "{rendered}"
    );
    // Every grade of the push scenario reached the fake FCM (no errors above).
    assert!(
        rendered.contains("push latency: p99 under 200 ms"),
        "{rendered}"
    );
    assert!(
        rendered.contains("school report: academic, the term, 1 client: p99 under 1 s"),
        "{rendered}"
    );
}
