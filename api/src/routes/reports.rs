//! The administration's reports: academic figures of a term (per class and subject, the class
//! summary sheet, attendance), the activity indicators of a date range, and a municipality's
//! schools side by side. Every report is JSON, or CSV with `Accept: text/csv` on the same URL
//! (UTF-8 with BOM, `;` between cells, decimal comma).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{NaiveDate, Utc};
use domain::access::{self, Operation, Principal, SchoolRef};
use domain::reports::{self, Indicator, LessonShares, Share, StudentSubject};
use domain::{ClassId, DateRange, MunicipalityId, RoundingRule, SchoolId, Sums};
use persistence::DbConnection;
use persistence::reports as rp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::averages::{TermRef, school_scale, term_ref};
use super::common::{date_param, db, municipality_for, readable_class, school_for, school_term};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::tabular::{self, AsTable, hundredths};

// ---------------------------------------------------------------------------------------------
// Access
// ---------------------------------------------------------------------------------------------

/// The school, if the caller may read its reports: 404 for a school that does not exist or
/// that the caller cannot see, 403 for a role that may not read reports.
fn reported_school(
    conn: &mut DbConnection,
    principal: &Principal,
    school: i64,
) -> Result<SchoolRef, ApiError> {
    school_for(
        conn,
        principal,
        school,
        Operation::ReadSchoolReports,
        access::read_school_reports,
    )
}

fn reported_municipality(
    conn: &mut DbConnection,
    principal: &Principal,
    municipality: MunicipalityId,
) -> Result<(), ApiError> {
    municipality_for(
        conn,
        principal,
        municipality,
        Operation::ReadMunicipalityReports,
        access::read_municipality_reports,
    )
}

/// JSON, or the CSV form with `Accept: text/csv`.
fn negotiate<T: Serialize + AsTable>(
    req: &HttpRequest,
    filename: &str,
    report: &T,
) -> HttpResponse {
    if tabular::wants_csv(req) {
        tabular::response(filename, &report.rows())
    } else {
        HttpResponse::Ok().json(report)
    }
}

fn percent(share: Share) -> Option<f64> {
    share.percent_hundredths().map(|h| h as f64 / 100.0)
}

fn decimal(h: Option<i64>) -> Option<f64> {
    h.map(|h| h as f64 / 100.0)
}

fn label(level: i16, letter: &str) -> String {
    format!("{level}{letter}")
}

// ---------------------------------------------------------------------------------------------
// Academic figures
// ---------------------------------------------------------------------------------------------

/// Which term.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportTermQuery {
    /// A term of the school; the term holding today when left out.
    pub term_id: Option<i64>,
}

/// Pass rate, quality rate, average and grades of a set of students in a subject (or of a
/// school over all its classes and subjects).
#[derive(Debug, Serialize, ToSchema)]
pub struct Figures {
    /// Students counted (of the class during the term; for totals, student-subject pairs).
    pub students: u64,
    /// Those with a term grade, or an average with enough grades to suggest one.
    pub assessed: u64,
    /// Assessed with a result of 3 or more.
    pub passed: u64,
    /// `passed` over `assessed`, in percent with two decimals; absent when none is assessed.
    #[schema(example = 92.31)]
    pub pass_rate: Option<f64>,
    /// Assessed with a result of 4 or 5.
    pub good: u64,
    /// `good` over `assessed`, in percent.
    #[schema(example = 53.85)]
    pub quality_rate: Option<f64>,
    /// The mean of the students' averages, two decimals.
    #[schema(example = 4.07)]
    pub average: Option<f64>,
    /// Averaged grades given.
    pub grades: u64,
    /// `grades` over `students`, two decimals.
    pub grades_per_student: Option<f64>,
}

impl From<&reports::ClassSubjectFigures> for Figures {
    fn from(f: &reports::ClassSubjectFigures) -> Self {
        Self {
            students: f.students,
            assessed: f.assessed,
            passed: f.pass.part,
            pass_rate: percent(f.pass),
            good: f.quality.part,
            quality_rate: percent(f.quality),
            average: decimal(f.average.map(domain::Hundredths::get)),
            grades: f.grades,
            grades_per_student: decimal(f.grades_per_student.map(domain::Hundredths::get)),
        }
    }
}

impl Figures {
    fn cells(&self) -> Vec<String> {
        let h = |v: Option<f64>| hundredths(v.map(|v| (v * 100.0).round() as i64));
        vec![
            self.students.to_string(),
            self.assessed.to_string(),
            self.passed.to_string(),
            h(self.pass_rate),
            self.good.to_string(),
            h(self.quality_rate),
            h(self.average),
            self.grades.to_string(),
            h(self.grades_per_student),
        ]
    }

    const HEADER: [&'static str; 9] = [
        "students",
        "assessed",
        "passed",
        "pass_rate",
        "good",
        "quality_rate",
        "average",
        "grades",
        "grades_per_student",
    ];
}

/// A subject in a class.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectFigures {
    pub subject_id: i64,
    #[schema(example = "Русский язык")]
    pub subject: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A class and its subjects.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassFigures {
    pub class_id: i64,
    #[schema(example = "5А")]
    pub class: String,
    /// Students of the class during the term.
    pub students: u64,
    pub subjects: Vec<SubjectFigures>,
}

/// A school's academic figures for a term.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcademicReport {
    pub school_id: i64,
    pub term: TermRef,
    /// Over every student-subject pair of the school.
    pub totals: Figures,
    pub classes: Vec<ClassFigures>,
}

impl AsTable for AcademicReport {
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = vec![
            ["class", "subject"]
                .into_iter()
                .chain(Figures::HEADER)
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        ];
        for class in &self.classes {
            for subject in &class.subjects {
                let mut row = vec![class.class.clone(), subject.subject.clone()];
                row.extend(subject.figures.cells());
                rows.push(row);
            }
        }
        let mut total = vec!["total".to_owned(), String::new()];
        total.extend(self.totals.cells());
        rows.push(total);
        rows
    }
}

/// What the academic reports of one school and term read.
struct TermData {
    term: persistence::schools::Term,
    scale: domain::Scale,
    classes: Vec<rp::ClassRow>,
    subjects: BTreeMap<i64, String>,
    students: Vec<rp::ClassStudent>,
    class_subjects: Vec<(i64, i64)>,
    sums: HashMap<(i64, i64), Sums>,
    term_grades: BTreeMap<(i64, i64), u8>,
}

impl TermData {
    fn load(
        conn: &mut DbConnection,
        school: SchoolId,
        term: persistence::schools::Term,
    ) -> Result<Self, ApiError> {
        let (from, to) = (term.starts_on, term.ends_on);
        let mut sums = HashMap::new();
        for row in persistence::averages::school_sums(conn, school, term.id)? {
            sums.insert((row.student_id, row.subject_id), row.sums()?);
        }
        Ok(Self {
            scale: school_scale(conn, school)?,
            classes: rp::classes_of_year(
                conn,
                school,
                domain::AcademicYearId(term.academic_year_id),
            )?,
            subjects: rp::subjects(conn, school)?.into_iter().collect(),
            students: rp::class_students(conn, school, from, to)?,
            class_subjects: rp::class_subjects(conn, school, from, to)?,
            term_grades: rp::term_grades(conn, school, term.id)?,
            sums,
            term,
        })
    }

    fn students_of(&self, class: i64) -> impl Iterator<Item = &rp::ClassStudent> {
        self.students.iter().filter(move |s| s.class_id == class)
    }

    fn standing(&self, student: i64, subject: i64) -> StudentSubject {
        StudentSubject {
            sums: self
                .sums
                .get(&(student, subject))
                .copied()
                .unwrap_or_default(),
            term_grade: self.term_grades.get(&(student, subject)).copied(),
        }
    }

    fn academic(&self, school: SchoolId) -> AcademicReport {
        let rule = RoundingRule::STANDARD;
        let mut all = Vec::new();
        let mut classes = Vec::new();
        for class in &self.classes {
            let students: Vec<i64> = self.students_of(class.id).map(|s| s.student_id).collect();
            let mut subjects = Vec::new();
            for (_, subject) in self.class_subjects.iter().filter(|(c, _)| *c == class.id) {
                let standings: Vec<StudentSubject> = students
                    .iter()
                    .map(|s| self.standing(*s, *subject))
                    .collect();
                all.extend(standings.iter().copied());
                subjects.push(SubjectFigures {
                    subject_id: *subject,
                    subject: self.subjects.get(subject).cloned().unwrap_or_default(),
                    figures: Figures::from(&reports::class_subject(&standings, self.scale, rule)),
                });
            }
            subjects.sort_by(|a, b| a.subject.cmp(&b.subject));
            classes.push(ClassFigures {
                class_id: class.id,
                class: label(class.grade_level, &class.letter),
                students: students.len() as u64,
                subjects,
            });
        }
        AcademicReport {
            school_id: school.get(),
            term: term_ref(&self.term),
            totals: Figures::from(&reports::class_subject(&all, self.scale, rule)),
            classes,
        }
    }
}

fn school_term_data(
    conn: &mut DbConnection,
    caller: &Caller,
    school: i64,
    term: Option<i64>,
) -> Result<(SchoolId, TermData), ApiError> {
    let found = reported_school(conn, &caller.principal, school)?;
    let term = school_term(conn, found.school, term)?;
    Ok((found.school, TermData::load(conn, found.school, term)?))
}

/// A school's academic report
///
/// For a term: per class and subject the pass rate (assessed students with a result of 3 or
/// more), the quality rate (4 or 5), the mean of the students' averages and the grades per
/// student, and the same over the whole school. A student's result is the term grade set, or
/// else the grade their average suggests. For the school's administration, its municipality
/// and integrators with `reports:read`. `Accept: text/csv` gives one row per class and subject.
#[utoipa::path(
    tag = "reports",
    params(("school_id" = i64, Path, description = "The school"), ReportTermQuery),
    responses(
        (status = 200, description = "The report", content(
            (AcademicReport = "application/json"),
            (String = "text/csv", example = "\u{feff}class;subject;students;assessed;passed;pass_rate;good;quality_rate;average;grades;grades_per_student\r\n5А;Русский язык;25;24;23;95,83;15;62,50;4,07;310;12,40\r\n"),
        )),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not read reports", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`term_id` is not a term of the school", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["reports:read"]))
)]
#[get("/schools/{school_id}/reports/academic")]
pub async fn get_academic_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<ReportTermQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (school, term) = (path.into_inner(), query.term_id);
    let report = db(&state, move |conn| {
        let (school, data) = school_term_data(conn, &caller, school, term)?;
        Ok(data.academic(school))
    })
    .await?;
    Ok(negotiate(&req, "academic-report.csv", &report))
}

// ---------------------------------------------------------------------------------------------
// The class summary sheet
// ---------------------------------------------------------------------------------------------

/// Which class and term.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClassSummaryQuery {
    /// A class of the school.
    pub class_id: Option<i64>,
    /// A term of the school; the term holding today when left out.
    pub term_id: Option<i64>,
}

/// A subject's column.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectColumn {
    pub subject_id: i64,
    pub subject: String,
}

/// One student's standing in one subject.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryCell {
    pub subject_id: i64,
    /// The weighted average, two decimals.
    pub average: Option<f64>,
    /// Averaged grades.
    pub grades: u64,
    /// The term grade the teacher set.
    pub term_grade: Option<u8>,
    /// The grade the average suggests (school's rule).
    pub suggested: Option<u8>,
}

/// A student's row.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryRow {
    pub student_id: i64,
    #[schema(example = "Соколов Максим")]
    pub name: String,
    /// One cell per subject column, in the columns' order.
    pub cells: Vec<SummaryCell>,
}

/// The class summary sheet (сводная ведомость): students × subjects.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassSummarySheet {
    pub class_id: i64,
    pub class: String,
    pub term: TermRef,
    pub subjects: Vec<SubjectColumn>,
    pub students: Vec<SummaryRow>,
}

impl AsTable for ClassSummarySheet {
    fn rows(&self) -> Vec<Vec<String>> {
        let mut header = vec!["student".to_owned()];
        for s in &self.subjects {
            header.push(format!("{}: average", s.subject));
            header.push(format!("{}: term grade", s.subject));
        }
        let mut rows = vec![header];
        for student in &self.students {
            let mut row = vec![student.name.clone()];
            for cell in &student.cells {
                row.push(hundredths(cell.average.map(|v| (v * 100.0).round() as i64)));
                row.push(cell.term_grade.map(|g| g.to_string()).unwrap_or_default());
            }
            rows.push(row);
        }
        rows
    }
}

/// A class's summary sheet
///
/// For a class and term: every student of the class during the term × every subject the class
/// had lessons in, with the average, the number of grades, the term grade set and the grade
/// suggested. For the school's administration, its municipality and integrators with
/// `reports:read`. `Accept: text/csv` gives a student per row, two columns per subject.
#[utoipa::path(
    tag = "reports",
    params(("school_id" = i64, Path, description = "The school"), ClassSummaryQuery),
    responses(
        (status = 200, description = "The summary sheet", content(
            (ClassSummarySheet = "application/json"),
            (String = "text/csv", example = "\u{feff}student;Русский язык: average;Русский язык: term grade\r\nСоколов Максим;4,50;5\r\n"),
        )),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not read reports", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`class_id` or `term_id` is missing or not of the school", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["reports:read"]))
)]
#[get("/schools/{school_id}/reports/class-summary")]
pub async fn get_class_summary(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<ClassSummaryQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (school, term, class) = (path.into_inner(), query.term_id, query.class_id);
    let report = db(&state, move |conn| {
        let (school, data) = school_term_data(conn, &caller, school, term)?;
        let class =
            class.ok_or_else(|| ApiError::field("class_id", "required", "name the class"))?;
        if !persistence::admin::class_in_school(conn, school, ClassId(class))? {
            return Err(ApiError::field(
                "class_id",
                "not_found",
                "no such class in this school",
            ));
        }
        let class_row = data.classes.iter().find(|c| c.id == class);
        let rule = RoundingRule::STANDARD;
        let subjects: Vec<SubjectColumn> = {
            let mut s: Vec<SubjectColumn> = data
                .class_subjects
                .iter()
                .filter(|(c, _)| *c == class)
                .map(|(_, id)| SubjectColumn {
                    subject_id: *id,
                    subject: data.subjects.get(id).cloned().unwrap_or_default(),
                })
                .collect();
            s.sort_by(|a, b| a.subject.cmp(&b.subject));
            s
        };
        let students = data
            .students_of(class)
            .map(|s| SummaryRow {
                student_id: s.student_id,
                name: format!("{} {}", s.last_name, s.first_name),
                cells: subjects
                    .iter()
                    .map(|subject| {
                        let standing = data.standing(s.student_id, subject.subject_id);
                        SummaryCell {
                            subject_id: subject.subject_id,
                            average: decimal(
                                standing.sums.average().map(domain::Average::hundredths),
                            ),
                            grades: standing.sums.count().unsigned_abs(),
                            term_grade: standing.term_grade,
                            suggested: domain::averages::suggest(standing.sums, data.scale, rule)
                                .grade(),
                        }
                    })
                    .collect(),
            })
            .collect();
        Ok(ClassSummarySheet {
            class_id: class,
            class: class_row
                .map(|c| label(c.grade_level, &c.letter))
                .unwrap_or_default(),
            term: term_ref(&data.term),
            subjects,
            students,
        })
    })
    .await?;
    Ok(negotiate(&req, "class-summary.csv", &report))
}

// ---------------------------------------------------------------------------------------------
// Attendance
// ---------------------------------------------------------------------------------------------

/// Marks counted by reason.
#[derive(Debug, Default, Clone, Copy, Serialize, ToSchema)]
pub struct MarkCounts {
    /// Н: absent without a valid reason.
    pub absent: u64,
    /// УП: absent with a valid reason.
    pub absent_valid: u64,
    /// Б: sick.
    pub sick: u64,
    /// ОП: late (not a missed lesson).
    pub late: u64,
    /// Lessons missed: absent, absent with a valid reason and sick.
    pub missed: u64,
}

impl MarkCounts {
    fn add(&mut self, mark: &str, n: u64) {
        match mark {
            "absent" => self.absent += n,
            "absent_valid" => self.absent_valid += n,
            "sick" => self.sick += n,
            "late" => self.late += n,
            _ => return,
        }
        if mark != "late" {
            self.missed += n;
        }
    }

    fn plus(mut self, other: Self) -> Self {
        self.absent += other.absent;
        self.absent_valid += other.absent_valid;
        self.sick += other.sick;
        self.late += other.late;
        self.missed += other.missed;
        self
    }

    fn cells(&self) -> Vec<String> {
        [
            self.missed,
            self.absent,
            self.absent_valid,
            self.sick,
            self.late,
        ]
        .map(|n| n.to_string())
        .to_vec()
    }
}

/// A student's attendance in a class.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentAttendance {
    pub student_id: i64,
    pub name: String,
    #[serde(flatten)]
    pub marks: MarkCounts,
}

/// A class's attendance.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassAttendance {
    pub class_id: i64,
    pub class: String,
    #[serde(flatten)]
    pub marks: MarkCounts,
    pub students: Vec<StudentAttendance>,
}

/// A school's attendance summary for a term.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceReport {
    pub school_id: i64,
    pub term: TermRef,
    pub totals: MarkCounts,
    pub classes: Vec<ClassAttendance>,
}

impl AsTable for AttendanceReport {
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = vec![
            [
                "class",
                "student",
                "missed",
                "absent",
                "absent_valid",
                "sick",
                "late",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for class in &self.classes {
            for s in &class.students {
                let mut row = vec![class.class.clone(), s.name.clone()];
                row.extend(s.marks.cells());
                rows.push(row);
            }
            let mut row = vec![class.class.clone(), "total".to_owned()];
            row.extend(class.marks.cells());
            rows.push(row);
        }
        let mut row = vec!["total".to_owned(), String::new()];
        row.extend(self.totals.cells());
        rows.push(row);
        rows
    }
}

/// A school's attendance summary
///
/// For a term: lessons missed per student and class, by reason (absent, absent with a valid
/// reason, sick; late is counted apart and is not a missed lesson), counted over the term's
/// lessons that were not cancelled, under the class of the lesson. For the school's
/// administration, its municipality and integrators with `reports:read`.
#[utoipa::path(
    tag = "reports",
    params(("school_id" = i64, Path, description = "The school"), ReportTermQuery),
    responses(
        (status = 200, description = "The summary", content(
            (AttendanceReport = "application/json"),
            (String = "text/csv", example = "\u{feff}class;student;missed;absent;absent_valid;sick;late\r\n5А;Соколов Максим;3;1;0;2;1\r\n"),
        )),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not read reports", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`term_id` is not a term of the school", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["reports:read"]))
)]
#[get("/schools/{school_id}/reports/attendance")]
pub async fn get_attendance_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<ReportTermQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (school, term) = (path.into_inner(), query.term_id);
    let report = db(&state, move |conn| {
        let found = reported_school(conn, &caller.principal, school)?;
        let term = school_term(conn, found.school, term)?;
        let classes = rp::classes_of_year(
            conn,
            found.school,
            domain::AcademicYearId(term.academic_year_id),
        )?;
        let students = rp::class_students(conn, found.school, term.starts_on, term.ends_on)?;
        let mut counts: HashMap<(i64, i64), MarkCounts> = HashMap::new();
        for (class, student, mark, n) in
            rp::attendance_counts(conn, found.school, term.starts_on, term.ends_on)?
        {
            counts
                .entry((class, student))
                .or_default()
                .add(&mark, n.unsigned_abs());
        }
        let mut totals = MarkCounts::default();
        let classes = classes
            .into_iter()
            .map(|class| {
                let students: Vec<StudentAttendance> = students
                    .iter()
                    .filter(|s| s.class_id == class.id)
                    .map(|s| StudentAttendance {
                        student_id: s.student_id,
                        name: format!("{} {}", s.last_name, s.first_name),
                        marks: counts
                            .get(&(class.id, s.student_id))
                            .copied()
                            .unwrap_or_default(),
                    })
                    .collect();
                let marks = students
                    .iter()
                    .fold(MarkCounts::default(), |a, s| a.plus(s.marks));
                totals = totals.plus(marks);
                ClassAttendance {
                    class_id: class.id,
                    class: label(class.grade_level, &class.letter),
                    marks,
                    students,
                }
            })
            .collect();
        Ok(AttendanceReport {
            school_id: found.school.get(),
            term: term_ref(&term),
            totals,
            classes,
        })
    })
    .await?;
    Ok(negotiate(&req, "attendance-report.csv", &report))
}

// ---------------------------------------------------------------------------------------------
// Activity indicators
// ---------------------------------------------------------------------------------------------

/// The reporting period.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First day, `YYYY-MM-DD` (required).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (required; at most 366 days after `from`).
    pub to: Option<String>,
}

impl PeriodQuery {
    fn range(&self) -> Result<DateRange, ApiError> {
        let from = date_param("from", self.from.as_deref())?
            .ok_or_else(|| ApiError::field("from", "required", "give the first day"))?;
        let to = date_param("to", self.to.as_deref())?
            .ok_or_else(|| ApiError::field("to", "required", "give the last day"))?;
        DateRange::new(from, to, 366)
            .map_err(|e| ApiError::field("to", "out_of_range", e.to_string()))
    }
}

/// One indicator's value.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorValue {
    #[schema(example = "planning")]
    pub indicator: String,
    /// What is counted (lessons with a topic or homework, …).
    pub part: u64,
    /// Out of how many.
    pub whole: u64,
    /// `part` over `whole` in percent, two decimals; absent when `whole` is 0.
    #[schema(example = 82.5)]
    pub value: Option<f64>,
    /// The target's lower bound, in percent.
    pub target: u8,
    /// Whether the value reaches the target (exactly; never with an empty whole).
    pub met: bool,
}

fn value(indicator: Indicator, share: Share) -> IndicatorValue {
    IndicatorValue {
        indicator: indicator.as_str().to_owned(),
        part: share.part,
        whole: share.whole,
        value: percent(share),
        target: indicator.target(),
        met: indicator.met(share),
    }
}

fn lesson_values(shares: &LessonShares) -> Vec<IndicatorValue> {
    [
        Indicator::Planning,
        Indicator::JournalKeeping,
        Indicator::OnlineJournal,
    ]
    .into_iter()
    .filter_map(|i| shares.of(i).map(|s| value(i, s)))
    .collect()
}

/// A class's indicators.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassIndicators {
    pub class_id: i64,
    pub class: String,
    /// Timetable fullness (1 of 1 when the class has a timetable), planning, journal keeping,
    /// online journal.
    pub indicators: Vec<IndicatorValue>,
}

/// A teacher's indicators, over the lessons they teach.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeacherIndicators {
    pub teacher_id: i64,
    pub name: String,
    /// Planning, journal keeping, online journal.
    pub indicators: Vec<IndicatorValue>,
}

/// A school's activity indicators for a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityReport {
    pub school_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// All six indicators for the school.
    pub indicators: Vec<IndicatorValue>,
    pub classes: Vec<ClassIndicators>,
    pub teachers: Vec<TeacherIndicators>,
}

fn indicator_rows(rows: &mut Vec<Vec<String>>, scope: &str, name: &str, values: &[IndicatorValue]) {
    for v in values {
        rows.push(vec![
            scope.to_owned(),
            name.to_owned(),
            v.indicator.clone(),
            v.part.to_string(),
            v.whole.to_string(),
            hundredths(v.value.map(|v| (v * 100.0).round() as i64)),
            v.target.to_string(),
            if v.met { "yes" } else { "no" }.to_owned(),
        ]);
    }
}

const INDICATOR_HEADER: [&str; 8] = [
    "scope",
    "name",
    "indicator",
    "part",
    "whole",
    "value",
    "target",
    "met",
];

impl AsTable for ActivityReport {
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = vec![INDICATOR_HEADER.map(str::to_owned).to_vec()];
        indicator_rows(&mut rows, "school", "", &self.indicators);
        for c in &self.classes {
            indicator_rows(&mut rows, "class", &c.class, &c.indicators);
        }
        for t in &self.teachers {
            indicator_rows(&mut rows, "teacher", &t.name, &t.indicators);
        }
        rows
    }
}

fn activity(
    conn: &mut DbConnection,
    school: SchoolId,
    range: DateRange,
) -> Result<ActivityReport, ApiError> {
    let (from, to) = (range.from(), range.to());
    let year = persistence::roster_import::year_on(conn, school, to)?
        .or(persistence::roster_import::year_on(conn, school, from)?);
    let classes = match year {
        Some(year) => rp::classes_of_year(conn, school, year)?,
        None => Vec::new(),
    };
    let with_timetable: BTreeSet<i64> = rp::classes_with_timetable(conn, school)?
        .into_iter()
        .collect();
    let lessons = rp::lesson_facts(conn, school, from, to)?;
    let mut all = LessonShares::default();
    let mut per_class: HashMap<i64, LessonShares> = HashMap::new();
    let mut per_teacher: BTreeMap<i64, LessonShares> = BTreeMap::new();
    for lesson in &lessons {
        all.add(&lesson.facts);
        per_class
            .entry(lesson.class_id)
            .or_default()
            .add(&lesson.facts);
        per_teacher
            .entry(lesson.teacher_id)
            .or_default()
            .add(&lesson.facts);
    }
    let timetabled = classes
        .iter()
        .filter(|c| with_timetable.contains(&c.id))
        .count() as u64;
    let accounts = rp::accounts(conn, school)?;
    let activated = accounts.iter().filter(|(_, a)| *a).count() as u64;
    let activated_ids: BTreeSet<i64> = accounts
        .iter()
        .filter(|(_, a)| *a)
        .map(|(id, _)| *id)
        .collect();
    let logins: Vec<(i64, NaiveDate)> = rp::logins(conn, school, from, to)?
        .into_iter()
        .filter(|(user, _)| activated_ids.contains(user))
        .collect();
    let mut indicators = vec![value(
        Indicator::TimetableFullness,
        Share::new(timetabled, classes.len() as u64),
    )];
    indicators.extend(lesson_values(&all));
    indicators.push(value(
        Indicator::ActivatedAccounts,
        Share::new(activated, accounts.len() as u64),
    ));
    indicators.push(value(
        Indicator::UniqueLogins,
        reports::unique_logins(&logins, activated, from, to),
    ));
    indicators.sort_by_key(|v| {
        Indicator::ALL
            .iter()
            .position(|i| i.as_str() == v.indicator)
    });
    let teacher_ids: Vec<i64> = per_teacher.keys().copied().collect();
    let names = rp::display_names(conn, &teacher_ids)?;
    Ok(ActivityReport {
        school_id: school.get(),
        from,
        to,
        indicators,
        classes: classes
            .iter()
            .map(|c| {
                let mut indicators = vec![value(
                    Indicator::TimetableFullness,
                    Share::new(u64::from(with_timetable.contains(&c.id)), 1),
                )];
                indicators.extend(lesson_values(
                    &per_class.get(&c.id).copied().unwrap_or_default(),
                ));
                ClassIndicators {
                    class_id: c.id,
                    class: label(c.grade_level, &c.letter),
                    indicators,
                }
            })
            .collect(),
        teachers: per_teacher
            .iter()
            .map(|(id, shares)| TeacherIndicators {
                teacher_id: *id,
                name: names.get(id).cloned().unwrap_or_default(),
                indicators: lesson_values(shares),
            })
            .collect(),
    })
}

/// A school's activity indicators
///
/// For a period (`from`, `to`, at most 366 days): timetable fullness, planning, journal
/// keeping, activated accounts, weekly unique logins and the online journal, each with its
/// target and whether it is met; the lesson indicators also per class and per teacher. How
/// each is counted is in the README. For the school's administration, its municipality and
/// integrators with `reports:read`.
#[utoipa::path(
    tag = "reports",
    params(("school_id" = i64, Path, description = "The school"), PeriodQuery),
    responses(
        (status = 200, description = "The indicators", content(
            (ActivityReport = "application/json"),
            (String = "text/csv", example = "\u{feff}scope;name;indicator;part;whole;value;target;met\r\nschool;;planning;33;40;82,50;70;yes\r\n"),
        )),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not read reports", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`from` or `to` is missing, not a date, or the range is reversed or too long", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["reports:read"]))
)]
#[get("/schools/{school_id}/reports/activity")]
pub async fn get_activity_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<PeriodQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let school = path.into_inner();
    let range = query.range();
    let report = db(&state, move |conn| {
        let found = reported_school(conn, &caller.principal, school)?;
        activity(conn, found.school, range?)
    })
    .await?;
    Ok(negotiate(&req, "activity-report.csv", &report))
}

// ---------------------------------------------------------------------------------------------
// A municipality's schools side by side
// ---------------------------------------------------------------------------------------------

/// The day whose term each school reports.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnQuery {
    /// Each school reports the term holding this day (`YYYY-MM-DD`; today when left out).
    pub on: Option<String>,
}

/// One school's totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolAcademic {
    pub school_id: i64,
    pub school: String,
    /// The school's term holding the day; absent (and no figures) when none does.
    pub term: Option<TermRef>,
    pub totals: Option<Figures>,
}

/// A municipality's schools' academic totals, side by side.
#[derive(Debug, Serialize, ToSchema)]
pub struct MunicipalityAcademic {
    pub municipality_id: i64,
    pub on: NaiveDate,
    pub schools: Vec<SchoolAcademic>,
}

impl AsTable for MunicipalityAcademic {
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = vec![
            ["school", "term"]
                .into_iter()
                .chain(Figures::HEADER)
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        ];
        for s in &self.schools {
            let mut row = vec![
                s.school.clone(),
                s.term.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
            ];
            row.extend(s.totals.as_ref().map(Figures::cells).unwrap_or_default());
            rows.push(row);
        }
        rows
    }
}

/// A municipality's academic report
///
/// Every school of the municipality side by side: the pass rate, quality rate, average and
/// grades over all its classes and subjects, for the school's term holding `on`. For the
/// municipality's administration and its integrators with `reports:read`.
#[utoipa::path(
    tag = "reports",
    params(("municipality_id" = i64, Path, description = "The municipality"), OnQuery),
    responses(
        (status = 200, description = "The schools' figures", content(
            (MunicipalityAcademic = "application/json"),
            (String = "text/csv", example = "\u{feff}school;term;students;assessed;passed;pass_rate;good;quality_rate;average;grades;grades_per_student\r\nШкола № 1;2 четверть;1950;1900;1850;97,37;1000;52,63;4,01;90000;46,15\r\n"),
        )),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not read municipality reports", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such municipality visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`on` is not a date", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["reports:read"]))
)]
#[get("/municipalities/{municipality_id}/reports/academic")]
pub async fn get_municipality_academic_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<OnQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let municipality = MunicipalityId(path.into_inner());
    let on = date_param("on", query.on.as_deref());
    let report = db(&state, move |conn| {
        reported_municipality(conn, &caller.principal, municipality)?;
        let on = on?.unwrap_or_else(|| Utc::now().date_naive());
        let mut schools = Vec::new();
        for (id, name) in rp::municipality_schools(conn, municipality)? {
            let school = SchoolId(id);
            let (term, totals) = match persistence::schools::term_on(conn, school, on)? {
                Some(term) => {
                    let data = TermData::load(conn, school, term)?;
                    let report = data.academic(school);
                    (Some(report.term), Some(report.totals))
                }
                None => (None, None),
            };
            schools.push(SchoolAcademic {
                school_id: id,
                school: name,
                term,
                totals,
            });
        }
        Ok(MunicipalityAcademic {
            municipality_id: municipality.get(),
            on,
            schools,
        })
    })
    .await?;
    Ok(negotiate(&req, "municipality-academic-report.csv", &report))
}

/// One school's indicators.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolActivity {
    pub school_id: i64,
    pub school: String,
    pub indicators: Vec<IndicatorValue>,
}

/// A municipality's schools' activity indicators, side by side.
#[derive(Debug, Serialize, ToSchema)]
pub struct MunicipalityActivity {
    pub municipality_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub schools: Vec<SchoolActivity>,
}

impl AsTable for MunicipalityActivity {
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = vec![INDICATOR_HEADER.map(str::to_owned).to_vec()];
        for s in &self.schools {
            indicator_rows(&mut rows, "school", &s.school, &s.indicators);
        }
        rows
    }
}

/// A municipality's activity indicators
///
/// Every school of the municipality side by side: the six activity indicators for the period
/// with targets and whether they are met. For the municipality's administration and its
/// integrators with `reports:read`.
#[utoipa::path(
    tag = "reports",
    params(("municipality_id" = i64, Path, description = "The municipality"), PeriodQuery),
    responses(
        (status = 200, description = "The schools' indicators", content(
            (MunicipalityActivity = "application/json"),
            (String = "text/csv", example = "\u{feff}scope;name;indicator;part;whole;value;target;met\r\nschool;Школа № 1;planning;33;40;82,50;70;yes\r\n"),
        )),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not read municipality reports", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such municipality visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`from` or `to` is missing, not a date, or the range is reversed or too long", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["reports:read"]))
)]
#[get("/municipalities/{municipality_id}/reports/activity")]
pub async fn get_municipality_activity_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<PeriodQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let municipality = MunicipalityId(path.into_inner());
    let range = query.range();
    let report = db(&state, move |conn| {
        reported_municipality(conn, &caller.principal, municipality)?;
        let range = range?;
        let mut schools = Vec::new();
        for (id, name) in rp::municipality_schools(conn, municipality)? {
            let report = activity(conn, SchoolId(id), range)?;
            schools.push(SchoolActivity {
                school_id: id,
                school: name,
                indicators: report.indicators,
            });
        }
        Ok(MunicipalityActivity {
            municipality_id: municipality.get(),
            from: range.from(),
            to: range.to(),
            schools,
        })
    })
    .await?;
    Ok(negotiate(&req, "municipality-activity-report.csv", &report))
}

// ---------------------------------------------------------------------------------------------
// The class journal for the archive
// ---------------------------------------------------------------------------------------------

/// The short code of an attendance mark in the paper journal.
fn mark_code(mark: &str) -> &'static str {
    match mark {
        "absent" => "Н",
        "absent_valid" => "УП",
        "sick" => "Б",
        "late" => "ОП",
        _ => "?",
    }
}

/// A stored grade value as written in the journal.
fn grade_text(value: &str) -> &str {
    match value {
        "pass" => "зач",
        "fail" => "незач",
        other => other,
    }
}

/// The class's journal for a term as CSV rows: a heading, then a block per subject.
fn journal_rows(
    conn: &mut DbConnection,
    class: ClassId,
    data: &TermData,
) -> Result<Vec<Vec<String>>, ApiError> {
    let range = DateRange::new(data.term.starts_on, data.term.ends_on, 366)
        .map_err(|e| ApiError::field("term_id", "invalid", e.to_string()))?;
    let label = data
        .classes
        .iter()
        .find(|c| c.id == class.get())
        .map(|c| label(c.grade_level, &c.letter))
        .unwrap_or_default();
    let mut rows = vec![vec![
        "class".to_owned(),
        label,
        "term".to_owned(),
        data.term.name.clone(),
        data.term.starts_on.to_string(),
        data.term.ends_on.to_string(),
    ]];
    let mut subjects: Vec<(String, i64)> = data
        .class_subjects
        .iter()
        .filter(|(c, _)| *c == class.get())
        .map(|(_, s)| (data.subjects.get(s).cloned().unwrap_or_default(), *s))
        .collect();
    subjects.sort();
    for (name, subject) in subjects {
        let page =
            persistence::lessons::journal_page(conn, class, domain::SubjectId(subject), range)?;
        let lessons: Vec<&persistence::lessons::DiaryLesson> = page
            .lessons
            .iter()
            .filter(|l| l.cancelled_at.is_none())
            .collect();
        rows.push(Vec::new());
        rows.push(vec!["subject".to_owned(), name]);
        let mut header = vec!["student".to_owned()];
        header.extend(
            lessons
                .iter()
                .map(|l| format!("{} №{}", l.lesson_date.format("%d.%m"), l.number)),
        );
        header.extend(["average".to_owned(), "term grade".to_owned()]);
        rows.push(header);
        let mut students: Vec<&persistence::lessons::PageStudent> = page.students.iter().collect();
        students.dedup_by_key(|s| s.id);
        for student in students {
            let mut row = vec![format!("{} {}", student.last_name, student.first_name)];
            for lesson in &lessons {
                let mut cell: Vec<&str> = page
                    .grades
                    .iter()
                    .filter(|g| g.lesson_id == lesson.id && g.student_id == student.id)
                    .map(|g| grade_text(&g.value))
                    .collect();
                cell.extend(
                    page.attendance
                        .iter()
                        .filter(|(l, s, _)| *l == lesson.id && *s == student.id)
                        .map(|(_, _, mark)| mark_code(mark)),
                );
                row.push(cell.join(" "));
            }
            let standing = data.standing(student.id, subject);
            row.push(hundredths(
                standing.sums.average().map(domain::Average::hundredths),
            ));
            row.push(
                standing
                    .term_grade
                    .map(|g| g.to_string())
                    .unwrap_or_default(),
            );
            rows.push(row);
        }
        let mut topics = vec!["topic".to_owned()];
        topics.extend(lessons.iter().map(|l| l.topic.clone().unwrap_or_default()));
        rows.push(topics);
        let mut homework = vec!["homework".to_owned()];
        homework.extend(
            lessons
                .iter()
                .map(|l| l.homework.clone().unwrap_or_default()),
        );
        rows.push(homework);
    }
    Ok(rows)
}

/// Which term.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// A term of the class's school; the term holding today when left out.
    pub term_id: Option<i64>,
}

/// Export a class's journal
///
/// The whole journal of a class for a term, for the school's archive, as CSV (UTF-8 with BOM,
/// `;`): a heading line (class, term, dates), then for each subject the class had lessons in
/// a block: the subject, a header of the lessons (`10.11 №1`), a line per student who was in
/// the class during the term with their grades and attendance marks (Н, УП, Б, ОП) in each
/// lesson, the average and the term grade, and the lines `topic` and `homework`. Cancelled
/// lessons are left out. For the class's teachers, the administration and integrators with
/// `grades:read` and `attendance:read`.
#[utoipa::path(
    tag = "reports",
    params(("class_id" = i64, Path, description = "The class"), ExportQuery),
    responses(
        (status = 200, description = "The journal", content_type = "text/csv", body = String,
         example = "\u{feff}class;5А;term;2 четверть;2026-11-05;2026-12-28\r\n\r\nsubject;Математика\r\nstudent;10.11 №1;11.11 №1;average;term grade\r\nБелова Анна;3 ОП;4;3,50;4\r\ntopic;Дроби;\r\nhomework;;№ 5\r\n"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not read class journals", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such class visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`term_id` is not a term of the class's school", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = ["grades:read", "attendance:read"]))
)]
#[get("/classes/{class_id}/journal/export")]
pub async fn export_class_journal(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (class, term) = (ClassId(path.into_inner()), query.term_id);
    let rows = db(&state, move |conn| {
        let found = readable_class(conn, &caller.principal, class, access::Record::Journal)?;
        let term = school_term(conn, found.school.school, term)?;
        let data = TermData::load(conn, found.school.school, term)?;
        journal_rows(conn, class, &data)
    })
    .await?;
    Ok(tabular::response(
        &format!("journal-{}.csv", class.get()),
        &rows,
    ))
}
