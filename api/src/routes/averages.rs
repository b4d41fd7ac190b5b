//! Averages, suggested term grades and ranks, read from the running sums (see
//! `domain::averages` and `domain::ranking` for the rules).
//!
//! Privacy: a student's averages and rank go to whoever may read the student's grades; the
//! rank shows the position, how many are ranked and the distribution of averages, never other
//! children's names or averages. The full table of a class goes only to those who may read the
//! class's grades (its teachers, the administration, integrators with `grades:read`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{get, put, web};
use chrono::{NaiveDate, Utc};
use domain::access::{self, Operation, Record};
use domain::averages::{
    Average, Forecast, Hundredths, OverallAverage, RoundingRule, Suggestion, Sums, forecast,
    suggest,
};
use domain::ranking::{Bucket, Ranking, Unranked, histogram, rank_overall, rank_subject};
use domain::{ClassId, Scale, SchoolId, StudentId};
use persistence::DbConnection;
use persistence::averages::{SumsRow, rounding_rule, school_sums, student_sums};
use persistence::people::EnrolledStudent;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::common::{
    PageQuery, db, db_write, readable_class, readable_student, school_for, school_subject,
    school_term,
};
use crate::AppState;
use crate::auth::{Caller, enforce};
use crate::error::{ApiError, Problem};
use crate::memo::{Generation, Memo};

/// Which term.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TermQuery {
    /// A term of the school; the term holding today when left out.
    pub term_id: Option<i64>,
}

/// A term.
#[derive(Debug, Serialize, ToSchema)]
pub struct TermRef {
    pub id: i64,
    #[schema(example = "2 четверть")]
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

/// The school's rule for suggested grades.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    /// The hundredths from which an average rounds up (50: 3.50 suggests 4).
    pub threshold: u8,
    /// Fewer grades than this: no grade is suggested and the student is not ranked.
    pub min_grades: u8,
}

impl From<RoundingRule> for RuleView {
    fn from(rule: RoundingRule) -> Self {
        Self {
            threshold: rule.threshold(),
            min_grades: rule.min_grades(),
        }
    }
}

/// A suggested grade, or why there is none.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionView {
    /// The suggested grade; absent when there is none.
    pub grade: Option<u8>,
    /// Why there is none: `not_enough_grades` or `not_averaged`.
    pub reason: Option<&'static str>,
}

impl From<Suggestion> for SuggestionView {
    fn from(s: Suggestion) -> Self {
        match s {
            Suggestion::Grade(grade) => Self {
                grade: Some(grade),
                reason: None,
            },
            Suggestion::NotEnoughGrades { .. } => Self {
                grade: None,
                reason: Some("not_enough_grades"),
            },
            Suggestion::NotAveraged => Self {
                grade: None,
                reason: Some("not_averaged"),
            },
        }
    }
}

/// A student's average in one subject.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectAverage {
    pub subject_id: i64,
    #[schema(example = "Математика")]
    pub subject_name: String,
    /// Σ(value × weight) / Σ(weight) shown with two decimals, rounded half up.
    #[schema(example = "4.67")]
    pub average: Option<String>,
    /// The number of averaged grades.
    pub grades: i64,
    /// Σ(weight) of those grades.
    pub weights: i64,
    pub suggested: SuggestionView,
}

/// A student's averages in a term.
#[derive(Debug, Serialize, ToSchema)]
pub struct AveragesView {
    pub student_id: i64,
    pub term: TermRef,
    pub rule: RuleView,
    /// The subjects the student has averaged grades in, by subject id.
    pub subjects: Vec<SubjectAverage>,
    /// The plain mean of the subject averages, two decimals.
    #[schema(example = "4.38")]
    pub overall: Option<String>,
}

/// The school's scale averages are on, and the rule.
pub(crate) fn school_scale(conn: &mut DbConnection, school: SchoolId) -> Result<Scale, ApiError> {
    Ok(persistence::journal::scales(conn, school)?
        .into_iter()
        .find(|s| s.is_default)
        .map_or(Scale::Points { min: 1, max: 5 }, |s| s.scale))
}

pub(crate) fn term_ref(t: &persistence::schools::Term) -> TermRef {
    TermRef {
        id: t.id,
        name: t.name.clone(),
        starts_on: t.starts_on,
        ends_on: t.ends_on,
    }
}

fn sums_of(row: &SumsRow) -> Result<Sums, ApiError> {
    Ok(row.sums()?)
}

/// A student's averages
///
/// The student's weighted average in every subject they have averaged grades in this term,
/// with the grade it suggests by the school's rule, and the overall average. Read from the
/// running sums kept with every grade change. For whoever may read the student's grades.
#[utoipa::path(
    tag = "averages",
    params(("student_id" = i64, Path, description = "The student"), TermQuery),
    responses(
        (status = 200, description = "The averages", body = AveragesView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not read grades", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such student visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such term, or no term holds today", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read"]))
)]
#[get("/students/{student_id}/averages")]
pub async fn get_student_averages(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<TermQuery>,
) -> Result<web::Json<AveragesView>, ApiError> {
    let student = StudentId(path.into_inner());
    let term_id = query.term_id;
    let view = db(&state, move |conn| {
        let found = readable_student(conn, &caller.principal, student, Record::Grades)?;
        let school = found.school.school;
        let term = school_term(conn, school, term_id)?;
        let scale = school_scale(conn, school)?;
        let rule = rounding_rule(conn, school)?;
        let names: BTreeMap<i64, String> = persistence::schools::list_subjects(conn, school)?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let mut subjects = Vec::new();
        let mut averages = Vec::new();
        for row in student_sums(conn, student, term.id)? {
            let sums = sums_of(&row)?;
            let average = sums.average();
            averages.extend(average);
            subjects.push(SubjectAverage {
                subject_id: row.subject_id,
                subject_name: names.get(&row.subject_id).cloned().unwrap_or_default(),
                average: average.map(|a| a.to_string()),
                grades: sums.count(),
                weights: sums.weights(),
                suggested: suggest(sums, scale, rule).into(),
            });
        }
        Ok(AveragesView {
            student_id: student.get(),
            term: term_ref(&term),
            rule: rule.into(),
            subjects,
            overall: domain::OverallAverage::mean(averages).map(|a| a.to_string()),
        })
    })
    .await?;
    Ok(web::Json(view))
}

/// One bucket of the distribution of averages.
#[derive(Debug, Serialize, ToSchema)]
pub struct BucketView {
    #[schema(example = "4.50")]
    pub from: String,
    /// Not included, except in the last bucket.
    #[schema(example = "5.00")]
    pub to: String,
    pub count: usize,
}

impl From<Bucket> for BucketView {
    fn from(b: Bucket) -> Self {
        Self {
            from: b.from.to_string(),
            to: b.to.to_string(),
            count: b.count,
        }
    }
}

/// A student's place among others: no names, no other averages.
#[derive(Debug, Serialize, ToSchema)]
pub struct Standing {
    /// 1 for the best; equal averages share a position (1, 2, 2, 4). Absent when unranked.
    pub position: Option<usize>,
    /// How many students are ranked.
    pub out_of: usize,
    /// The student's overall average, two decimals.
    pub average: Option<String>,
    /// When unranked: the fewest grades the student has in a subject, and the minimum.
    pub grades_have: Option<u32>,
    pub grades_need: Option<u32>,
    /// How the ranked students' overall averages are spread.
    pub distribution: Vec<BucketView>,
}

/// A student's rank in their class and school.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankView {
    pub student_id: i64,
    pub term: TermRef,
    /// Ranked by this subject's average; by the overall average when absent.
    pub subject_id: Option<i64>,
    /// Among the students of the student's class (their first class, if several); absent
    /// when the student is in no class that day.
    pub class: Option<Standing>,
    /// Among the students of the same grade level (every class of the parallel).
    pub grade_level: Option<Standing>,
    /// Among the students of the school.
    pub school: Standing,
}

/// Each student's sums per subject.
pub(crate) type SumsByStudent = BTreeMap<i64, Vec<(i64, Sums)>>;

fn by_student(rows: &[SumsRow]) -> Result<SumsByStudent, ApiError> {
    let mut out: SumsByStudent = BTreeMap::new();
    for row in rows {
        out.entry(row.student_id)
            .or_default()
            .push((row.subject_id, sums_of(row)?));
    }
    Ok(out)
}

/// A ranking reduced to what the views show: positions and shown averages.
#[derive(Debug)]
pub(crate) struct Table {
    /// Best first: (student, position, shown average).
    pub(crate) ranked: Vec<(i64, usize, Hundredths)>,
    pub(crate) unranked: Vec<Unranked>,
}

impl Table {
    fn of<A>(ranking: &Ranking<A>, shown: impl Fn(&A) -> Hundredths) -> Self {
        Self {
            ranked: ranking
                .ranked()
                .iter()
                .map(|r| (r.student.get(), r.position, shown(&r.average)))
                .collect(),
            unranked: ranking.unranked().to_vec(),
        }
    }
}

/// Ranks `among` by their overall average, or by their average in `subject`.
fn rank_by(among: &[i64], sums: &SumsByStudent, subject: Option<i64>, rule: RoundingRule) -> Table {
    let of = |id: &i64| sums.get(id).map(Vec::as_slice).unwrap_or_default();
    match subject {
        None => {
            let students: Vec<(StudentId, Vec<Sums>)> = among
                .iter()
                .map(|id| (StudentId(*id), of(id).iter().map(|(_, s)| *s).collect()))
                .collect();
            Table::of(&rank_overall(&students, rule), OverallAverage::shown)
        }
        Some(subject) => {
            let students: Vec<(StudentId, Sums)> = among
                .iter()
                .map(|id| {
                    let mine = of(id).iter().find(|(s, _)| *s == subject);
                    (StudentId(*id), mine.map_or(Sums::EMPTY, |(_, s)| *s))
                })
                .collect();
            Table::of(&rank_subject(&students, rule), |a: &Average| a.shown())
        }
    }
}

fn standing(student: StudentId, table: &Table, scale: Scale) -> Standing {
    let mine = table.ranked.iter().find(|r| r.0 == student.get());
    let unranked = table.unranked.iter().find(|u| u.student == student);
    Standing {
        position: mine.map(|r| r.1),
        out_of: table.ranked.len(),
        average: mine.map(|r| r.2.to_string()),
        grades_have: unranked.map(|u| u.have),
        grades_need: unranked.map(|u| u.need),
        distribution: histogram(scale, table.ranked.iter().map(|r| r.2))
            .into_iter()
            .map(BucketView::from)
            .collect(),
    }
}

/// Which term, and by what to rank.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankQuery {
    /// A term of the school; the term holding today when left out.
    pub term_id: Option<i64>,
    /// Rank by the average in this subject; by the overall average when left out.
    pub subject_id: Option<i64>,
}

/// The subject to rank by, checked to be the school's.
fn rank_subject_of(
    conn: &mut DbConnection,
    school: SchoolId,
    subject: Option<i64>,
) -> Result<Option<i64>, ApiError> {
    subject
        .map(|id| school_subject(conn, school, Some(id)).map(domain::SubjectId::get))
        .transpose()
}

/// A student's rank
///
/// The student's position in their class, among the students of their grade level (the
/// parallel: every 5th class) and in the school, out of how many are ranked, and the
/// distribution of averages (counts only: no other child's name or average). By the overall
/// average, or with `subject_id` by the average in one subject. A student with fewer grades
/// than the school's minimum (in a subject, or overall in any subject) is unranked, never
/// ranked last. For whoever may read the student's grades.
#[utoipa::path(
    tag = "averages",
    params(("student_id" = i64, Path, description = "The student"), RankQuery),
    responses(
        (status = 200, description = "The rank", body = RankView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not read grades", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such student visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such term or subject, or no term holds today", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read"]))
)]
#[get("/students/{student_id}/rank")]
pub async fn get_student_rank(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<RankQuery>,
) -> Result<web::Json<RankView>, ApiError> {
    let student = StudentId(path.into_inner());
    let RankQuery {
        term_id,
        subject_id,
    } = query.into_inner();
    let rankings = Arc::clone(&state.rankings);
    let view = db(&state, move |conn| {
        let found = readable_student(conn, &caller.principal, student, Record::Grades)?;
        let school = found.school.school;
        let term = school_term(conn, school, term_id)?;
        let subject = rank_subject_of(conn, school, subject_id)?;
        let scale = school_scale(conn, school)?;
        let rule = rounding_rule(conn, school)?;
        let sums = SumsKey {
            school,
            term: term.id,
            on: Utc::now().date_naive().min(term.ends_on),
        };
        let key = |among| TableKey {
            sums,
            among,
            subject,
            rule,
        };
        let (base, everyone) = rankings.ranking(conn, key(Among::School))?;
        let mine = base
            .roster
            .get(&student.get())
            .map(|s| (s.class_id, s.grade_level));
        let mut place = |among: Among| -> Result<Standing, ApiError> {
            let (_, table) = rankings.ranking(conn, key(among))?;
            Ok(standing(student, &table, scale))
        };
        Ok(RankView {
            student_id: student.get(),
            term: term_ref(&term),
            subject_id: subject,
            class: mine
                .map(|(class, _)| place(Among::Class(class)))
                .transpose()?,
            grade_level: mine
                .map(|(_, level)| place(Among::Level(level)))
                .transpose()?,
            school: standing(student, &everyone, scale),
        })
    })
    .await?;
    Ok(web::Json(view))
}

/// A row of a class's ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankingRow {
    pub student_id: i64,
    pub last_name: String,
    pub first_name: String,
    /// Absent when unranked.
    pub position: Option<usize>,
    #[schema(example = "4.38")]
    pub overall: Option<String>,
    /// The student's average in each subject they have grades in, by subject id.
    pub subjects: Vec<SubjectCell>,
}

/// A student's average in one subject, in a table.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectCell {
    pub subject_id: i64,
    #[schema(example = "4.67")]
    pub average: String,
}

fn subject_cells(sums: &SumsByStudent, student: i64) -> Vec<SubjectCell> {
    sums.get(&student)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|(subject, sums)| {
            sums.average().map(|average| SubjectCell {
                subject_id: *subject,
                average: average.to_string(),
            })
        })
        .collect()
}

/// The table's students, best first and the unranked after, as (student, position, shown
/// average).
fn table_order(table: &Table) -> impl Iterator<Item = (i64, Option<usize>, Option<Hundredths>)> {
    table
        .ranked
        .iter()
        .map(|&(id, position, shown)| (id, Some(position), Some(shown)))
        .chain(table.unranked.iter().map(|u| (u.student.get(), None, None)))
}

/// A class's full ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassRankingView {
    pub class_id: i64,
    pub term: TermRef,
    pub rule: RuleView,
    /// Ranked students best first, then the unranked by id.
    pub rows: Vec<RankingRow>,
    pub out_of: usize,
}

/// A class's ranking
///
/// Every student of the class with their overall and subject averages and position, best
/// first; students with too few grades are listed after, unranked. For the class's teachers,
/// the administration and integrators with `grades:read`: never for parents or students.
#[utoipa::path(
    tag = "averages",
    params(("class_id" = i64, Path, description = "The class"), TermQuery),
    responses(
        (status = 200, description = "The ranking", body = ClassRankingView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not read class tables", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such term, or no term holds today", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read"]))
)]
#[get("/classes/{class_id}/ranking")]
pub async fn get_class_ranking(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<TermQuery>,
) -> Result<web::Json<ClassRankingView>, ApiError> {
    let class = ClassId(path.into_inner());
    let term_id = query.term_id;
    let view = db(&state, move |conn| {
        let found = readable_class(conn, &caller.principal, class, Record::Grades)?;
        let school = found.school.school;
        let term = school_term(conn, school, term_id)?;
        let rule = rounding_rule(conn, school)?;
        let on = Utc::now().date_naive().min(term.ends_on);
        let members = persistence::people::class_students(conn, class, on)?;
        let ids: Vec<i64> = members.iter().map(|s| s.id).collect();
        let rows: Vec<SumsRow> = school_sums(conn, school, term.id)?
            .into_iter()
            .filter(|r| ids.contains(&r.student_id))
            .collect();
        let sums = by_student(&rows)?;
        let table = rank_by(&ids, &sums, None, rule);
        let rows = table_order(&table)
            .map(|(id, position, shown)| {
                let person = members.iter().find(|s| s.id == id);
                RankingRow {
                    student_id: id,
                    last_name: person.map(|p| p.last_name.clone()).unwrap_or_default(),
                    first_name: person.map(|p| p.first_name.clone()).unwrap_or_default(),
                    position,
                    overall: shown.map(|s| s.to_string()),
                    subjects: subject_cells(&sums, id),
                }
            })
            .collect();
        Ok(ClassRankingView {
            class_id: class.get(),
            term: term_ref(&term),
            rule: rule.into(),
            out_of: table.ranked.len(),
            rows,
        })
    })
    .await?;
    Ok(web::Json(view))
}

/// A school's students enrolled on a day of a term, and their running sums in that term.
#[derive(Debug)]
pub(crate) struct SchoolSums {
    pub(crate) roster: BTreeMap<i64, EnrolledStudent>,
    pub(crate) sums: SumsByStudent,
}

/// Which [`SchoolSums`]: the school, the term and the day of enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SumsKey {
    pub(crate) school: SchoolId,
    pub(crate) term: i64,
    pub(crate) on: NaiveDate,
}

/// Whom a ranking is among.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Among {
    School,
    Level(i16),
    Class(i64),
}

/// Which ranking: among whom, by what, by which rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TableKey {
    pub(crate) sums: SumsKey,
    pub(crate) among: Among,
    pub(crate) subject: Option<i64>,
    pub(crate) rule: RoundingRule,
}

/// The rankings this process computed, kept until one of its journal writes commits (or, for
/// a write through another server process, for [`RANKINGS_TTL`]): a school's ranking sorts
/// 2,000 students by exact means of 15 fractions, which is worth doing once per change, not
/// once per parent.
#[derive(Debug)]
pub struct Rankings {
    pub generation: Generation,
    sums: Memo<SumsKey, SchoolSums>,
    tables: Memo<TableKey, Table>,
}

/// How long a ranking is trusted without a write of this process.
pub const RANKINGS_TTL: Duration = Duration::from_secs(5);

impl Default for Rankings {
    fn default() -> Self {
        Self {
            generation: Generation::default(),
            sums: Memo::new(RANKINGS_TTL, 64),
            tables: Memo::new(RANKINGS_TTL, 1024),
        }
    }
}

impl Rankings {
    /// The ranking `key` names, with the school's sums it comes from.
    ///
    /// # Errors
    /// On a database failure.
    pub(crate) fn ranking(
        &self,
        conn: &mut DbConnection,
        key: TableKey,
    ) -> Result<(Arc<SchoolSums>, Arc<Table>), ApiError> {
        // Read before the database: a write committing meanwhile leaves what is kept stale.
        let generation = self.generation.current();
        let base = self
            .sums
            .get_or(key.sums, generation, || load_school_sums(conn, key.sums))?;
        let table = self.tables.get_or(key, generation, || {
            Ok::<_, ApiError>(rank_among(&base, key))
        })?;
        Ok((base, table))
    }
}

/// Reads a school's roster on the day and its running sums in the term: two queries.
///
/// # Errors
/// On a database failure.
pub(crate) fn load_school_sums(
    conn: &mut DbConnection,
    key: SumsKey,
) -> Result<SchoolSums, ApiError> {
    let roster = persistence::people::enrolled_students(conn, key.school, key.on)?
        .into_iter()
        .map(|s| (s.student_id, s))
        .collect();
    let sums = by_student(&school_sums(conn, key.school, key.term)?)?;
    Ok(SchoolSums { roster, sums })
}

/// Ranks the students `key` names among by their running sums: one sort.
pub(crate) fn rank_among(base: &SchoolSums, key: TableKey) -> Table {
    let ids: Vec<i64> = base
        .roster
        .values()
        .filter(|s| match key.among {
            Among::School => true,
            Among::Level(level) => s.grade_level == level,
            Among::Class(class) => s.class_id == class,
        })
        .map(|s| s.student_id)
        .collect();
    rank_by(&ids, &base.sums, key.subject, key.rule)
}

/// Which school ranking, and which page of it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchoolRankingQuery {
    /// A term of the school; the term holding today when left out.
    pub term_id: Option<i64>,
    /// Rank by the average in this subject; by the overall average when left out.
    pub subject_id: Option<i64>,
    /// Rank only the students of this grade level (the parallel, e.g. 5 for every 5th class).
    #[param(minimum = 1, maximum = 11)]
    pub grade_level: Option<i16>,
    /// Rows per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; leave out for the first page.
    #[param(max_length = 32)]
    pub cursor: Option<String>,
}

/// A row of the school's ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolRankingRow {
    pub student_id: i64,
    pub last_name: String,
    pub first_name: String,
    pub class_id: i64,
    #[schema(example = "5А")]
    pub class_name: String,
    /// Absent when unranked.
    pub position: Option<usize>,
    /// What the student is ranked by: the overall average, or the subject's; absent when
    /// unranked.
    #[schema(example = "4.38")]
    pub average: Option<String>,
    /// The student's average in each subject they have grades in, by subject id.
    pub subjects: Vec<SubjectCell>,
}

/// A page of the school's full ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolRankingView {
    pub school_id: i64,
    pub term: TermRef,
    pub rule: RuleView,
    /// Ranked by this subject's average; by the overall average when absent.
    pub subject_id: Option<i64>,
    /// Only this grade level; the whole school when absent.
    pub grade_level: Option<i16>,
    /// How many students are ranked (over all pages).
    pub out_of: usize,
    /// Ranked students best first, then the unranked by id.
    pub rows: Vec<SchoolRankingRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A school's ranking
///
/// Every student of the school (or of one grade level) with their class, position, the
/// average they are ranked by and their subject averages: best first, students with too few
/// grades after, unranked. By the overall average, or with `subject_id` by one subject's.
/// Paginated; the ranking is computed afresh for each page from the running sums, so a grade
/// given between two pages can shift rows across them. For the school's teachers, its
/// administration, its municipality and integrators with `grades:read`: never for parents or
/// students, who see their own position only.
#[utoipa::path(
    tag = "averages",
    params(("school_id" = i64, Path, description = "The school"), SchoolRankingQuery),
    responses(
        (status = 200, description = "A page of the ranking", body = SchoolRankingView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not read rankings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad term, subject, grade level, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read"]))
)]
#[get("/schools/{school_id}/ranking")]
pub async fn get_school_ranking(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<SchoolRankingQuery>,
) -> Result<web::Json<SchoolRankingView>, ApiError> {
    let school_id = path.into_inner();
    let query = query.into_inner();
    let (limit, after) = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    if let Some(level) = query.grade_level
        && !(1..=11).contains(&level)
    {
        return Err(ApiError::field(
            "grade_level",
            "out_of_range",
            "must be between 1 and 11",
        ));
    }
    let rankings = Arc::clone(&state.rankings);
    let view = db(&state, move |conn| {
        let school = school_for(
            conn,
            &caller.principal,
            school_id,
            Operation::ReadSchoolRanking,
            access::read_school_ranking,
        )?
        .school;
        let term = school_term(conn, school, query.term_id)?;
        let subject = rank_subject_of(conn, school, query.subject_id)?;
        let rule = rounding_rule(conn, school)?;
        let key = TableKey {
            sums: SumsKey {
                school,
                term: term.id,
                on: Utc::now().date_naive().min(term.ends_on),
            },
            among: query.grade_level.map_or(Among::School, Among::Level),
            subject,
            rule,
        };
        let (base, table) = rankings.ranking(conn, key)?;
        let skip = usize::try_from(after.unwrap_or(0)).unwrap_or(usize::MAX);
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        let rows: Vec<SchoolRankingRow> = table_order(&table)
            .skip(skip)
            .take(take)
            .filter_map(|(id, position, shown)| {
                let student = base.roster.get(&id)?;
                Some(SchoolRankingRow {
                    student_id: id,
                    last_name: student.last_name.clone(),
                    first_name: student.first_name.clone(),
                    class_id: student.class_id,
                    class_name: student.class_name(),
                    position,
                    average: shown.map(|s| s.to_string()),
                    subjects: subject_cells(&base.sums, id),
                })
            })
            .collect();
        let shown = skip.saturating_add(take);
        let listed = table.ranked.len() + table.unranked.len();
        let next_cursor = (shown < listed).then(|| shown.to_string());
        Ok(SchoolRankingView {
            school_id: school.get(),
            term: term_ref(&term),
            rule: rule.into(),
            subject_id: subject,
            grade_level: query.grade_level,
            out_of: table.ranked.len(),
            rows,
            next_cursor,
        })
    })
    .await?;
    Ok(web::Json(view))
}

/// What to forecast.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// The subject (required).
    pub subject_id: Option<i64>,
    /// The term grade wanted (required), e.g. 5.
    pub target: Option<u8>,
    /// The kind of work the further grades would be (its weight counts); an oral answer
    /// (weight 1) when left out.
    pub work_type_id: Option<i64>,
    /// A term of the school; the term holding today when left out.
    pub term_id: Option<i64>,
}

/// What the student needs for the target grade.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastView {
    pub student_id: i64,
    pub subject_id: i64,
    pub term: TermRef,
    pub target: u8,
    /// The average now, two decimals; absent without grades.
    pub average: Option<String>,
    pub suggested: SuggestionView,
    /// `already_reached`, `needs`, `not_reachable` (not within 30 more grades) or
    /// `not_averaged`.
    pub outcome: &'static str,
    /// With `needs`: how many more grades of the work type…
    pub count: Option<u32>,
    /// …each of at least this value.
    pub value: Option<u8>,
    /// The weight of the work type assumed.
    pub weight: i16,
}

/// What a student needs
///
/// For a subject and a target term grade: the fewest further grades of the given work type,
/// and the lowest value each must have, that bring the suggested grade to the target ("two
/// more 5s"), or that it is not reachable within 30 more grades. For whoever may read the
/// student's grades.
#[utoipa::path(
    tag = "averages",
    params(("student_id" = i64, Path, description = "The student"), ForecastQuery),
    responses(
        (status = 200, description = "The forecast", body = ForecastView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not read grades", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such student visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The subject, target, work type or term is missing or unknown", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read"]))
)]
#[get("/students/{student_id}/forecast")]
pub async fn get_student_forecast(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<ForecastQuery>,
) -> Result<web::Json<ForecastView>, ApiError> {
    let student = StudentId(path.into_inner());
    let query = query.into_inner();
    let view = db(&state, move |conn| {
        let found = readable_student(conn, &caller.principal, student, Record::Grades)?;
        let school = found.school.school;
        let subject = school_subject(conn, school, query.subject_id)?.get();
        let scale = school_scale(conn, school)?;
        let target = query
            .target
            .ok_or_else(|| ApiError::field("target", "required", "name the grade wanted"))?;
        let within = matches!(scale, Scale::Points { min, max } if (min..=max).contains(&target));
        if !within {
            return Err(ApiError::field(
                "target",
                "out_of_range",
                "must be a grade of the school's scale",
            ));
        }
        let work_types = persistence::journal::work_types(conn, school)?;
        let weight = match query.work_type_id {
            Some(id) => work_types
                .iter()
                .find(|w| w.id == id)
                .map(|w| w.weight)
                .ok_or_else(|| {
                    ApiError::field(
                        "work_type_id",
                        "not_found",
                        "no such work type in this school",
                    )
                })?,
            None => 1,
        };
        let term = school_term(conn, school, query.term_id)?;
        let rule = rounding_rule(conn, school)?;
        let sums = match student_sums(conn, student, term.id)?
            .iter()
            .find(|r| r.subject_id == subject)
        {
            Some(row) => sums_of(row)?,
            None => Sums::default(),
        };
        let w = domain::Weight::new(i64::from(weight))
            .map_err(|e| ApiError::field("work_type_id", "invalid", e.to_string()))?;
        let (outcome, count, value) = match forecast(sums, scale, rule, target, w, None) {
            Forecast::AlreadyReached => ("already_reached", None, None),
            Forecast::Needs { count, value } => ("needs", Some(count), Some(value)),
            Forecast::NotReachable => ("not_reachable", None, None),
            Forecast::NotAveraged => ("not_averaged", None, None),
        };
        Ok(ForecastView {
            student_id: student.get(),
            subject_id: subject,
            term: term_ref(&term),
            target,
            average: sums.average().map(|a| a.to_string()),
            suggested: suggest(sums, scale, rule).into(),
            outcome,
            count,
            value,
            weight,
        })
    })
    .await?;
    Ok(web::Json(view))
}

/// Which final grades.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FinalGradesQuery {
    /// The subject (required).
    pub subject_id: Option<i64>,
    /// The term of the term grades; the term holding today when neither it nor `year` is
    /// given.
    pub term_id: Option<i64>,
    /// `true`: the year grades of the class's academic year instead.
    pub year: Option<bool>,
}

/// One student's final grade beside its suggestion.
#[derive(Debug, Serialize, ToSchema)]
pub struct FinalGradeRow {
    pub student_id: i64,
    pub last_name: String,
    pub first_name: String,
    /// Term grades: the subject's average in the term. Year grades: the mean of the term
    /// grades.
    pub average: Option<String>,
    /// What the school's rule suggests.
    pub suggested: SuggestionView,
    /// The grade the teacher set; absent until set.
    pub grade: Option<i16>,
}

/// A class's term (or year) grades in a subject.
#[derive(Debug, Serialize, ToSchema)]
pub struct FinalGradesView {
    pub class_id: i64,
    pub subject_id: i64,
    /// The term; absent for year grades.
    pub term: Option<TermRef>,
    pub academic_year_id: i64,
    pub rule: RuleView,
    /// Whether only the administration may still change them (the term, or for year grades
    /// the year's last term, is locked).
    pub locked: bool,
    /// The class's students, by name.
    pub rows: Vec<FinalGradeRow>,
}

/// One final grade to set.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinalGradeItem {
    pub student_id: i64,
    /// A grade of the school's scale; `null` clears it.
    pub grade: Option<i16>,
}

/// Final grades to set.
#[derive(Debug, Deserialize, validator::Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinalGradesRequest {
    pub subject_id: i64,
    /// The term of the term grades (leave out with `year: true`).
    #[serde(default)]
    pub term_id: Option<i64>,
    /// `true`: the year grades.
    #[serde(default)]
    pub year: bool,
    #[validate(length(min = 1, max = 60, message = "must hold 1 to 60 grades"))]
    #[schema(min_items = 1, max_items = 60)]
    pub grades: Vec<FinalGradeItem>,
    /// Why: kept in the audit trail; required when the period is locked.
    #[serde(default)]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// What a final-grades request is about, resolved.
struct Sheet {
    class: ClassId,
    school: SchoolId,
    subject: i64,
    year: i64,
    term: Option<persistence::schools::Term>,
    terms_in_year: Vec<persistence::schools::Term>,
    on: NaiveDate,
}

impl Sheet {
    fn resolve(
        conn: &mut DbConnection,
        class: ClassId,
        school: SchoolId,
        subject: Option<i64>,
        term_id: Option<i64>,
        year: bool,
    ) -> Result<Self, ApiError> {
        let subject = school_subject(conn, school, subject)?.get();
        let academic_year = persistence::schools::list_classes(conn, school)?
            .into_iter()
            .find(|c| c.id == class.get())
            .map(|c| c.academic_year_id)
            .ok_or(ApiError::NotFound)?;
        let terms_in_year: Vec<persistence::schools::Term> =
            persistence::schools::list_terms(conn, school)?
                .into_iter()
                .filter(|t| t.academic_year_id == academic_year)
                .collect();
        let today = Utc::now().date_naive();
        let (term, on) = if year {
            let end = terms_in_year
                .iter()
                .map(|t| t.ends_on)
                .max()
                .unwrap_or(today);
            (None, today.min(end))
        } else {
            let term = school_term(conn, school, term_id)?;
            if term.academic_year_id != academic_year {
                return Err(ApiError::field(
                    "term_id",
                    "not_found",
                    "no such term in the class's year",
                ));
            }
            let on = today.min(term.ends_on);
            (Some(term), on)
        };
        Ok(Self {
            class,
            school,
            subject,
            year: academic_year,
            term,
            terms_in_year,
            on,
        })
    }

    fn period(&self) -> persistence::averages::Period {
        persistence::averages::Period {
            year: self.year,
            term: self.term.as_ref().map(|t| t.id),
        }
    }

    fn locked(&self) -> bool {
        match &self.term {
            Some(term) => term.locked_at.is_some(),
            None => self
                .terms_in_year
                .iter()
                .max_by_key(|t| t.ends_on)
                .is_some_and(|t| t.locked_at.is_some()),
        }
    }

    fn view(&self, conn: &mut DbConnection) -> Result<FinalGradesView, ApiError> {
        let scale = school_scale(conn, self.school)?;
        let rule = rounding_rule(conn, self.school)?;
        let students = persistence::people::class_students(conn, self.class, self.on)?;
        let ids: Vec<i64> = students.iter().map(|s| s.id).collect();
        let set = persistence::averages::final_grades(conn, &ids, self.subject, self.period())?;
        let mut sums: BTreeMap<i64, Sums> = BTreeMap::new();
        let mut term_grades = std::collections::HashMap::new();
        match &self.term {
            Some(term) => {
                for row in school_sums(conn, self.school, term.id)? {
                    if row.subject_id == self.subject && ids.contains(&row.student_id) {
                        sums.insert(row.student_id, sums_of(&row)?);
                    }
                }
            }
            None => {
                term_grades = persistence::averages::term_grades_of_year(
                    conn,
                    &ids,
                    self.subject,
                    self.year,
                )?;
            }
        }
        let terms = u32::try_from(self.terms_in_year.len()).unwrap_or(u32::MAX);
        let rows = students
            .into_iter()
            .map(|s| {
                let (average, suggested) = match &self.term {
                    Some(_) => {
                        let own = sums.get(&s.id).copied().unwrap_or_default();
                        (
                            own.average().map(|a| a.to_string()),
                            suggest(own, scale, rule),
                        )
                    }
                    None => {
                        let grades = term_grades.get(&s.id).cloned().unwrap_or_default();
                        let mean = grades.iter().map(|g| i64::from(*g)).sum::<i64>() * 100;
                        let average = (!grades.is_empty()).then(|| {
                            let n = i64::try_from(grades.len()).unwrap_or(1);
                            domain::averages::Hundredths::new((mean + n / 2) / n).to_string()
                        });
                        (
                            average,
                            domain::averages::suggest_year(&grades, terms, scale, rule),
                        )
                    }
                };
                FinalGradeRow {
                    student_id: s.id,
                    grade: set.get(&s.id).copied(),
                    last_name: s.last_name,
                    first_name: s.first_name,
                    average,
                    suggested: suggested.into(),
                }
            })
            .collect();
        Ok(FinalGradesView {
            class_id: self.class.get(),
            subject_id: self.subject,
            term: self.term.as_ref().map(term_ref),
            academic_year_id: self.year,
            rule: rule.into(),
            locked: self.locked(),
            rows,
        })
    }
}

/// A class's term or year grades
///
/// Every student of the class with the suggested grade (from the term's average, or for the
/// year from the term grades) beside the grade the teacher set. For the class's teachers, the
/// administration and integrators with `grades:read`.
#[utoipa::path(
    tag = "averages",
    params(("class_id" = i64, Path, description = "The class"), FinalGradesQuery),
    responses(
        (status = 200, description = "The grades and suggestions", body = FinalGradesView),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not read class tables", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The subject or term is missing or unknown", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read"]))
)]
#[get("/classes/{class_id}/final-grades")]
pub async fn get_final_grades(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<FinalGradesQuery>,
) -> Result<web::Json<FinalGradesView>, ApiError> {
    let class = ClassId(path.into_inner());
    let query = query.into_inner();
    let view = db(&state, move |conn| {
        let found = readable_class(conn, &caller.principal, class, Record::Grades)?;
        let sheet = Sheet::resolve(
            conn,
            class,
            found.school.school,
            query.subject_id,
            query.term_id,
            query.year.unwrap_or(false),
        )?;
        sheet.view(conn)
    })
    .await?;
    Ok(web::Json(view))
}

/// Set term or year grades
///
/// Sets (or, with `null`, clears) the term grades (or, with `year: true`, the year grades) of
/// students of the class in a subject, all or nothing; each must be a grade of the school's
/// scale. Setting the same again changes nothing; every change is audited with the old and
/// new grade. For the subject's teacher in the class and the administration; once the term
/// (for year grades, the year's last term) is locked, only the administration, with a reason.
#[utoipa::path(
    tag = "averages",
    params(("class_id" = i64, Path, description = "The class")),
    request_body = FinalGradesRequest,
    responses(
        (status = 200, description = "The grades and suggestions as they now are", body = FinalGradesView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not grade this subject in this class", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The period is locked and the caller is not its administration", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A grade is off the scale, a student not of the class, or the reason missing in a locked period; each is named, as `grades[2].grade`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:write"]))
)]
#[put("/classes/{class_id}/final-grades")]
pub async fn put_final_grades(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: crate::extract::ValidJson<FinalGradesRequest>,
) -> Result<web::Json<FinalGradesView>, ApiError> {
    use domain::access::{LessonEntry, LessonRef};
    let class = ClassId(path.into_inner());
    let request = body.0;
    let view = db_write(&state, move |conn| {
        let Some(found) = persistence::access::class(conn, class)? else {
            enforce(access::when_missing(
                &caller.principal,
                Operation::WriteLesson(LessonEntry::Grades),
            ))?;
            return Err(ApiError::NotFound);
        };
        let lesson = LessonRef {
            class: found,
            subject: domain::SubjectId(request.subject_id),
        };
        enforce(access::write_lesson(
            &caller.principal,
            &lesson,
            LessonEntry::Grades,
        ))?;
        let sheet = Sheet::resolve(
            conn,
            class,
            found.school.school,
            Some(request.subject_id),
            request.term_id,
            request.year,
        )?;
        let reason = request
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if sheet.locked() {
            if !access::change_locked(&caller.principal, &lesson).is_allowed() {
                return Err(ApiError::Conflict(
                    "the period is locked: only the school's administration may change it, \
                     with a reason"
                        .into(),
                ));
            }
            if reason.is_none() {
                return Err(ApiError::field(
                    "reason",
                    "required",
                    "a change in a locked period needs a reason",
                ));
            }
        }
        let scale = school_scale(conn, sheet.school)?;
        let ids: Vec<i64> = request.grades.iter().map(|g| g.student_id).collect();
        let enrolled = persistence::timetable::enrolled_in_class(conn, class, &ids, sheet.on)?;
        let mut errors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, item) in request.grades.iter().enumerate() {
            if !seen.insert(item.student_id) {
                errors.push(crate::error::FieldError::new(
                    format!("grades[{i}].student_id"),
                    "duplicate",
                    "this student is listed twice",
                ));
            } else if !enrolled.contains(&item.student_id) {
                errors.push(crate::error::FieldError::new(
                    format!("grades[{i}].student_id"),
                    "not_found",
                    "no such student in this class",
                ));
            }
            if let Some(grade) = item.grade {
                let fits = u8::try_from(grade).is_ok_and(
                    |g| matches!(scale, Scale::Points { min, max } if (min..=max).contains(&g)),
                );
                if !fits {
                    errors.push(crate::error::FieldError::new(
                        format!("grades[{i}].grade"),
                        "out_of_range",
                        "must be a grade of the school's scale",
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let grades: Vec<(i64, Option<i16>)> = request
            .grades
            .iter()
            .map(|g| (g.student_id, g.grade))
            .collect();
        persistence::averages::set_final_grades(
            conn,
            sheet.school,
            sheet.subject,
            sheet.period(),
            &grades,
            reason,
            super::journal::actor_of(&caller),
            Utc::now().naive_utc(),
        )?;
        sheet.view(conn)
    })
    .await?;
    Ok(web::Json(view))
}
