//! "Rank the school": the school's ranking and a student's rank served from the running sums,
//! beside the straightforward query that ranks the school from the raw grades with a window
//! function, in the same run.

use chrono::NaiveDate;
use persistence::PersistenceError;
use persistence::bench::rank_from_grades;

use super::client::{Connection, Request};
use super::load::{self, RequestSource, Work};
use super::table::Row;
use super::{BenchError, BenchSchool, Options, TERM, date, setup};
use crate::routes::averages::{Among, SumsKey, TableKey, load_school_sums, rank_among};

/// The scenario names, which the verdicts look rows up by.
pub const RANK_SUMS: &str = "rank the school: running sums computed each time, no HTTP";
pub const RANK_RAW: &str = "rank the school: window function over the raw grades (baseline)";
pub const RANK_API: &str = "rank the school: API, first page of 200 (kept until a write)";
pub const STUDENT_RANK_API: &str =
    "a student's rank (class, level, school): API (kept until a write)";

/// Measures the four rows, one client each (a ranking is one request at a time).
///
/// # Errors
/// When the two ways disagree on who is ranked, or a connection cannot be opened.
pub async fn rank_the_school(
    bench: &BenchSchool,
    options: &Options,
) -> Result<Vec<Row>, BenchError> {
    let database = bench.backend().to_string();
    let school = bench.school.school;
    let term_dates: (NaiveDate, NaiveDate) = (date(TERM.0)?, date(TERM.1)?);
    let term = bench.school.term;
    let pool = bench.pool().clone();
    let rule = {
        let mut conn = pool.get().map_err(PersistenceError::from)?;
        persistence::averages::rounding_rule(&mut conn, school)?
    };

    let key = TableKey {
        sums: SumsKey {
            school,
            term,
            on: term_dates.1,
        },
        among: Among::School,
        subject: None,
        rule,
    };
    // Both ways must rank the same students, the same one first.
    {
        let mut conn = pool.get().map_err(PersistenceError::from)?;
        let base = load_school_sums(&mut conn, key.sums)
            .map_err(|e| setup(format!("ranking from the running sums: {e}")))?;
        let from_sums = rank_among(&base, key);
        let raw = rank_from_grades(&mut conn, school, term_dates, i64::from(rule.min_grades()))?;
        let sums_first = from_sums.ranked.first().map(|r| r.0);
        let raw_first = raw.first().map(|r| r.student_id);
        if from_sums.ranked.len() != raw.len() || sums_first != raw_first {
            return Err(setup(format!(
                "the rankings disagree: {} ranked from the sums (first {sums_first:?}), {} from \
                 the grades (first {raw_first:?})",
                from_sums.ranked.len(),
                raw.len()
            )));
        }
        options.say(&format!(
            "rank the school: {} of {} students ranked, both ways agree",
            raw.len(),
            base.roster.len()
        ));
    }

    let sums_work = || -> Vec<Work<'_>> {
        let pool = pool.clone();
        vec![Box::new(move |_| {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let base = load_school_sums(&mut conn, key.sums).map_err(|e| e.to_string())?;
            std::hint::black_box(rank_among(&base, key));
            Ok(())
        })]
    };
    options.say("rank the school: running sums, computed each time");
    let _warm = load::threads(sums_work(), options.budget(options.warmup));
    let sums = load::threads(sums_work(), options.budget(options.measure));

    options.say("rank the school: the window function over the raw grades");
    let raw_work = || -> Vec<Work<'_>> {
        let pool = pool.clone();
        let min_grades = i64::from(rule.min_grades());
        vec![Box::new(move |_| {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            rank_from_grades(&mut conn, school, term_dates, min_grades)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })]
    };
    let raw = load::threads(raw_work(), options.budget(options.measure));

    let teacher = bench
        .teacher_tokens
        .first()
        .ok_or_else(|| setup("no teacher is logged in"))?
        .clone();
    let ranking = Request::get(format!(
        "/api/v1/schools/{}/ranking?term_id={term}&limit=200",
        school.get()
    ))
    .bearer(&teacher);
    let first = Connection::open(bench.addr).await?.send(&ranking).await?;
    if first.status != 200 {
        return Err(setup(format!(
            "the school ranking answered {}: {}",
            first.status,
            first.text().chars().take(300).collect::<String>()
        )));
    }
    let rankings = || -> Vec<RequestSource> {
        let request = ranking.clone();
        vec![Box::new(move |_| request.clone())]
    };
    options.say("rank the school: API");
    load::http(bench.addr, rankings(), options.budget(options.warmup)).await?;
    let api = load::http(bench.addr, rankings(), options.budget(options.measure)).await?;

    let (parent, child) = bench
        .parent_tokens
        .first()
        .zip(bench.school.parents.first())
        .map(|(token, parent)| (token.clone(), parent.child.get()))
        .ok_or_else(|| setup("no parent is logged in"))?;
    let rank =
        Request::get(format!("/api/v1/students/{child}/rank?term_id={term}")).bearer(&parent);
    let ranks = || -> Vec<RequestSource> {
        let request = rank.clone();
        vec![Box::new(move |_| request.clone())]
    };
    options.say("a student's rank: API");
    load::http(bench.addr, ranks(), options.budget(options.warmup)).await?;
    let student = load::http(bench.addr, ranks(), options.budget(options.measure)).await?;

    Ok(vec![
        Row::new(RANK_SUMS, &database, sums.clone()).against(&raw),
        Row::new(RANK_API, &database, api).against(&raw),
        Row::new(STUDENT_RANK_API, &database, student).against(&raw),
        Row::new(RANK_RAW, &database, raw),
    ])
}
