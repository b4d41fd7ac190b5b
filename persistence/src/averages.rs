//! The running sums behind averages and ranks: one row per (student, subject, term) holding
//! `Σ(value × weight)`, `Σ(weight)` and the number of grades, kept up to date in the same
//! transaction as every grade change (see `domain::averages` for the rules).
//!
//! Which grades count: not deleted, on the school's default points scale (grades on other
//! scales it adds are shown, not averaged, so that one average never mixes scales), of a
//! lesson dated inside one of the school's terms; the weight is the grade's work type's. A lesson moved into another term
//! takes its grades' contributions with it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use domain::averages::{RoundingRule, Sums};
use domain::{SchoolId, StudentId};

use crate::journal::{Grade, Lesson};
use crate::schema::{
    grade_scales, grades, lessons, school_grading_rules, subject_sums, terms, work_types,
};
use crate::{DbConnection, PersistenceError, Result};

/// Where a contribution goes.
pub type SumsKey = (i64, i64, i64);

/// What a school's grades weigh (its work types' weights) and which of its scales are
/// averaged (the default points scale). Work types and scales are only ever added, never
/// changed or removed, so what a handler read to check a request still holds when it writes.
#[derive(Debug, Clone, Default)]
pub struct Weighing {
    weights: HashMap<i64, i64>,
    averaged: HashSet<i64>,
}

impl Weighing {
    /// From the school's scales and work types as read.
    #[must_use]
    pub fn of(
        scales: &[crate::journal::ScaleRow],
        work_types: &[crate::journal::WorkType],
    ) -> Self {
        Self {
            weights: work_types
                .iter()
                .map(|w| (w.id, i64::from(w.weight)))
                .collect(),
            averaged: scales
                .iter()
                .filter(|s| {
                    s.is_default && matches!(s.scale, domain::grading::Scale::Points { .. })
                })
                .map(|s| s.id)
                .collect(),
        }
    }

    /// The school's, read now: two queries.
    ///
    /// # Errors
    /// On a database failure.
    pub fn load(conn: &mut DbConnection, school: i64) -> Result<Self> {
        let weights = work_types::table
            .filter(work_types::school_id.eq(school))
            .select((work_types::id, work_types::weight))
            .load::<(i64, i16)>(conn)?
            .into_iter()
            .map(|(id, w)| (id, i64::from(w)))
            .collect();
        let averaged = grade_scales::table
            .filter(grade_scales::school_id.eq(school))
            .filter(grade_scales::kind.eq("points"))
            .filter(grade_scales::is_default.eq(1_i16))
            .select(grade_scales::id)
            .load::<i64>(conn)?
            .into_iter()
            .collect();
        Ok(Self { weights, averaged })
    }
}

/// What the grades of one lesson contribute to: the lesson's term, the school's work type
/// weights and which scales are averaged.
#[derive(Debug, Clone)]
pub(crate) struct LessonSums {
    school: i64,
    subject: i64,
    term: Option<i64>,
    /// Whether the term was locked when read.
    term_locked: bool,
    weights: HashMap<i64, i64>,
    averaged: HashSet<i64>,
}

impl LessonSums {
    /// For the lesson as dated on `date`.
    pub(crate) fn load(conn: &mut DbConnection, lesson: &Lesson, date: NaiveDate) -> Result<Self> {
        let weighing = Weighing::load(conn, lesson.school_id)?;
        Self::weighed(conn, lesson, date, weighing)
    }

    /// For the lesson as dated on `date`, with the school's weighing already read.
    pub(crate) fn weighed(
        conn: &mut DbConnection,
        lesson: &Lesson,
        date: NaiveDate,
        weighing: Weighing,
    ) -> Result<Self> {
        let term = crate::schools::term_on(conn, SchoolId(lesson.school_id), date)?;
        Ok(Self::in_term(
            lesson,
            term.map(|t| (t.id, t.locked_at.is_some())),
            weighing,
        ))
    }

    /// For a lesson whose term (id, locked) was read with it, with the school's weighing
    /// already read.
    pub(crate) fn in_term(lesson: &Lesson, term: Option<(i64, bool)>, weighing: Weighing) -> Self {
        Self {
            school: lesson.school_id,
            subject: lesson.subject_id,
            term: term.map(|(id, _)| id),
            term_locked: term.is_some_and(|(_, locked)| locked),
            weights: weighing.weights,
            averaged: weighing.averaged,
        }
    }

    /// Whether the lesson's term was locked when these were read.
    pub(crate) const fn term_locked(&self) -> bool {
        self.term_locked
    }

    pub(crate) fn same_term(&self, other: &Self) -> bool {
        self.term == other.term
    }

    /// The grade's (points, weight) if it counts.
    fn counted(&self, work_type: i64, scale: i64, value: &str) -> Option<(i64, i64)> {
        if !self.averaged.contains(&scale) {
            return None;
        }
        Some((value.parse().ok()?, *self.weights.get(&work_type)?))
    }

    /// Adds (`sign` 1) or takes out (`sign` -1) one grade's contribution.
    pub(crate) fn apply(
        &self,
        conn: &mut DbConnection,
        sign: i64,
        student: i64,
        work_type: i64,
        scale: i64,
        value: &str,
    ) -> Result<()> {
        let Some((points, weight)) = self.counted(work_type, scale, value) else {
            return Ok(());
        };
        if sign > 0 {
            return self.upsert(
                conn,
                &BTreeMap::from([(student, (points * weight, weight, 1))]),
            );
        }
        // Taking out: the row exists (the grade went in through it). Not an upsert, whose
        // proposed row would have to pass the table's CHECKs with negative sums.
        let Some(term) = self.term else {
            return Ok(());
        };
        let updated = diesel::update(
            subject_sums::table
                .filter(subject_sums::student_id.eq(student))
                .filter(subject_sums::subject_id.eq(self.subject))
                .filter(subject_sums::term_id.eq(term)),
        )
        .set((
            subject_sums::weighted.eq(subject_sums::weighted - points * weight),
            subject_sums::weights.eq(subject_sums::weights - weight),
            subject_sums::grade_count.eq(subject_sums::grade_count - 1),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Err(PersistenceError::Conflict(format!(
                "no running sums for student {student}, subject {}, term {term}",
                self.subject
            )));
        }
        Ok(())
    }

    /// Adds new grades' contributions, one row per student.
    pub(crate) fn add_all(&self, conn: &mut DbConnection, grades: &[Grade]) -> Result<()> {
        let mut per_student: BTreeMap<i64, (i64, i64, i64)> = BTreeMap::new();
        for grade in grades {
            if let Some((points, weight)) =
                self.counted(grade.work_type_id, grade.scale_id, &grade.value)
            {
                let sums = per_student.entry(grade.student_id).or_default();
                sums.0 += points * weight;
                sums.1 += weight;
                sums.2 += 1;
            }
        }
        self.upsert(conn, &per_student)
    }

    /// Adds each student's (Σ(value × weight), Σ(weight), count) to their row of the lesson's
    /// subject and term, creating the row on a first grade: one multi-row upsert (numbers
    /// only, so the statement is written out), which concurrent writers cannot race.
    fn upsert(
        &self,
        conn: &mut DbConnection,
        per_student: &BTreeMap<i64, (i64, i64, i64)>,
    ) -> Result<()> {
        let Some(term) = self.term else {
            return Ok(());
        };
        if per_student.is_empty() {
            return Ok(());
        }
        let values: Vec<String> = per_student
            .iter()
            .map(|(student, (weighted, weights, count))| {
                format!(
                    "({}, {student}, {}, {term}, {weighted}, {weights}, {count})",
                    self.school, self.subject
                )
            })
            .collect();
        diesel::sql_query(format!(
            "INSERT INTO subject_sums (school_id, student_id, subject_id, term_id, weighted, \
             weights, grade_count) VALUES {} \
             ON CONFLICT (student_id, subject_id, term_id) DO UPDATE SET \
             weighted = subject_sums.weighted + excluded.weighted, \
             weights = subject_sums.weights + excluded.weights, \
             grade_count = subject_sums.grade_count + excluded.grade_count",
            values.join(", ")
        ))
        .execute(conn)?;
        Ok(())
    }

    /// Adds or takes out a stored grade's contribution.
    pub(crate) fn apply_grade(
        &self,
        conn: &mut DbConnection,
        sign: i64,
        grade: &Grade,
    ) -> Result<()> {
        self.apply(
            conn,
            sign,
            grade.student_id,
            grade.work_type_id,
            grade.scale_id,
            &grade.value,
        )
    }
}

/// A stored row of sums.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct SumsRow {
    pub student_id: i64,
    pub subject_id: i64,
    pub term_id: i64,
    pub weighted: i64,
    pub weights: i64,
    pub grade_count: i64,
}

impl SumsRow {
    /// The domain's sums.
    ///
    /// # Errors
    /// When the stored sums are inconsistent.
    pub fn sums(&self) -> Result<Sums> {
        Sums::from_stored(self.weighted, self.weights, self.grade_count)
            .map_err(|e| PersistenceError::Conflict(e.to_string()))
    }
}

fn select_rows() -> (
    subject_sums::student_id,
    subject_sums::subject_id,
    subject_sums::term_id,
    subject_sums::weighted,
    subject_sums::weights,
    subject_sums::grade_count,
) {
    (
        subject_sums::student_id,
        subject_sums::subject_id,
        subject_sums::term_id,
        subject_sums::weighted,
        subject_sums::weights,
        subject_sums::grade_count,
    )
}

/// A student's sums in a term, one row per subject with grades.
///
/// # Errors
/// On a database failure.
pub fn student_sums(
    conn: &mut DbConnection,
    student: StudentId,
    term: i64,
) -> Result<Vec<SumsRow>> {
    subject_sums::table
        .filter(subject_sums::student_id.eq(student.get()))
        .filter(subject_sums::term_id.eq(term))
        .order(subject_sums::subject_id)
        .select(select_rows())
        .load(conn)
        .map_err(Into::into)
}

/// Every row of sums of a school's term.
///
/// # Errors
/// On a database failure.
pub fn school_sums(conn: &mut DbConnection, school: SchoolId, term: i64) -> Result<Vec<SumsRow>> {
    subject_sums::table
        .filter(subject_sums::school_id.eq(school.get()))
        .filter(subject_sums::term_id.eq(term))
        .order((subject_sums::student_id, subject_sums::subject_id))
        .select(select_rows())
        .load(conn)
        .map_err(Into::into)
}

/// The stored sums of a school, keyed by (student, subject, term); rows with no grade left are
/// left out.
///
/// # Errors
/// On a database failure.
pub fn stored(conn: &mut DbConnection, school: SchoolId) -> Result<BTreeMap<SumsKey, Sums>> {
    let rows: Vec<SumsRow> = subject_sums::table
        .filter(subject_sums::school_id.eq(school.get()))
        .select(select_rows())
        .load(conn)?;
    let mut out = BTreeMap::new();
    for row in rows {
        if row.grade_count != 0 || row.weighted != 0 || row.weights != 0 {
            out.insert((row.student_id, row.subject_id, row.term_id), row.sums()?);
        }
    }
    Ok(out)
}

/// The sums recomputed from every grade of the school, keyed like [`stored`].
///
/// # Errors
/// On a database failure.
pub fn recompute(conn: &mut DbConnection, school: SchoolId) -> Result<BTreeMap<SumsKey, Sums>> {
    let terms: Vec<(i64, NaiveDate, NaiveDate)> = terms::table
        .filter(terms::school_id.eq(school.get()))
        .select((terms::id, terms::starts_on, terms::ends_on))
        .load(conn)?;
    let rows: Vec<(i64, i64, NaiveDate, String, i16)> = grades::table
        .inner_join(lessons::table.on(lessons::id.eq(grades::lesson_id)))
        .inner_join(work_types::table.on(work_types::id.eq(grades::work_type_id)))
        .inner_join(grade_scales::table.on(grade_scales::id.eq(grades::scale_id)))
        .filter(grades::school_id.eq(school.get()))
        .filter(grades::deleted_at.is_null())
        .filter(grade_scales::kind.eq("points"))
        .filter(grade_scales::is_default.eq(1_i16))
        .select((
            grades::student_id,
            lessons::subject_id,
            lessons::lesson_date,
            grades::value,
            work_types::weight,
        ))
        .load(conn)?;
    let mut out: BTreeMap<SumsKey, Sums> = BTreeMap::new();
    for (student, subject, date, value, weight) in rows {
        let Some((term, _, _)) = terms.iter().find(|(_, a, b)| *a <= date && date <= *b) else {
            continue;
        };
        let (Ok(points), Ok(weight)) =
            (value.parse::<u8>(), domain::Weight::new(i64::from(weight)))
        else {
            continue;
        };
        out.entry((student, subject, *term))
            .or_default()
            .add(points, weight);
    }
    Ok(out)
}

/// A key whose stored sums (first) differ from the recomputed ones (second).
pub type Mismatch = (SumsKey, Option<Sums>, Option<Sums>);

/// The keys whose stored sums differ from a full recomputation: empty when consistent.
///
/// # Errors
/// On a database failure.
pub fn inconsistencies(conn: &mut DbConnection, school: SchoolId) -> Result<Vec<Mismatch>> {
    let stored = stored(conn, school)?;
    let recomputed = recompute(conn, school)?;
    let keys: std::collections::BTreeSet<&SumsKey> =
        stored.keys().chain(recomputed.keys()).collect();
    Ok(keys
        .into_iter()
        .filter(|k| stored.get(*k) != recomputed.get(*k))
        .map(|k| (*k, stored.get(k).copied(), recomputed.get(k).copied()))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Term and year grades
// ---------------------------------------------------------------------------------------------

/// Which final grade: of a term, or of the academic year (`term: None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub year: i64,
    pub term: Option<i64>,
}

/// The final grades set for these students in the subject and period: student → value.
///
/// # Errors
/// On a database failure.
pub fn final_grades(
    conn: &mut DbConnection,
    students: &[i64],
    subject: i64,
    period: Period,
) -> Result<HashMap<i64, i16>> {
    use crate::schema::final_grades as fg;
    let mut query = fg::table
        .filter(fg::student_id.eq_any(students))
        .filter(fg::subject_id.eq(subject))
        .filter(fg::academic_year_id.eq(period.year))
        .into_boxed();
    query = match period.term {
        Some(term) => query.filter(fg::term_id.eq(term)),
        None => query.filter(fg::term_id.is_null()),
    };
    Ok(query
        .select((fg::student_id, fg::value))
        .load::<(i64, i16)>(conn)?
        .into_iter()
        .collect())
}

/// Every term grade of these students in the subject and year: student → values, by term.
///
/// # Errors
/// On a database failure.
pub fn term_grades_of_year(
    conn: &mut DbConnection,
    students: &[i64],
    subject: i64,
    year: i64,
) -> Result<HashMap<i64, Vec<u8>>> {
    use crate::schema::final_grades as fg;
    let rows: Vec<(i64, i16)> = fg::table
        .filter(fg::student_id.eq_any(students))
        .filter(fg::subject_id.eq(subject))
        .filter(fg::academic_year_id.eq(year))
        .filter(fg::term_id.is_not_null())
        .order((fg::student_id, fg::term_id))
        .select((fg::student_id, fg::value))
        .load(conn)?;
    let mut out: HashMap<i64, Vec<u8>> = HashMap::new();
    for (student, value) in rows {
        out.entry(student)
            .or_default()
            .extend(u8::try_from(value).ok());
    }
    Ok(out)
}

/// Sets (or, with `None`, clears) final grades in one transaction, auditing each change with
/// its old and new value and the reason, and announcing each grade set or changed to the
/// student's family (outbox rows in the same transaction). Setting the same again changes
/// nothing and announces nothing. Returns how many changed.
///
/// # Errors
/// On a database failure; nothing is written then.
#[expect(clippy::too_many_arguments, reason = "one transaction's whole context")]
pub fn set_final_grades(
    conn: &mut DbConnection,
    school: SchoolId,
    subject: i64,
    period: Period,
    grades: &[(i64, Option<i16>)],
    reason: Option<&str>,
    actor: crate::journal::Actor,
    at: chrono::NaiveDateTime,
) -> Result<usize> {
    use crate::schema::final_grades as fg;
    conn.transaction(|conn| {
        let students: Vec<i64> = grades.iter().map(|g| g.0).collect();
        let current = final_grades(conn, &students, subject, period)?;
        let (user, client) = match actor {
            crate::journal::Actor::Person(u) => (Some(u), None),
            crate::journal::Actor::Integrator(c) => (None, Some(c.get())),
        };
        let mut changed = 0;
        let mut announced = Vec::new();
        for &(student, value) in grades {
            let old = current.get(&student).copied();
            if old == value {
                continue;
            }
            changed += 1;
            if let Some(new) = value {
                announced.push((student, old, new));
            }
            let row = || {
                let q = fg::table
                    .filter(fg::student_id.eq(student))
                    .filter(fg::subject_id.eq(subject))
                    .filter(fg::academic_year_id.eq(period.year))
                    .into_boxed();
                match period.term {
                    Some(term) => q.filter(fg::term_id.eq(term)),
                    None => q.filter(fg::term_id.is_null()),
                }
            };
            match (old, value) {
                (Some(_), None) => {
                    let ids: Vec<i64> = row().select(fg::id).load(conn)?;
                    diesel::delete(fg::table.filter(fg::id.eq_any(ids))).execute(conn)?;
                }
                (Some(_), Some(v)) => {
                    let ids: Vec<i64> = row().select(fg::id).load(conn)?;
                    diesel::update(fg::table.filter(fg::id.eq_any(ids)))
                        .set((
                            fg::value.eq(v),
                            fg::set_by.eq(user.map(domain::UserId::get)),
                            fg::set_at.eq(at),
                        ))
                        .execute(conn)?;
                }
                (None, Some(v)) => {
                    diesel::insert_into(fg::table)
                        .values((
                            fg::school_id.eq(school.get()),
                            fg::student_id.eq(student),
                            fg::subject_id.eq(subject),
                            fg::academic_year_id.eq(period.year),
                            fg::term_id.eq(period.term),
                            fg::value.eq(v),
                            fg::set_by.eq(user.map(domain::UserId::get)),
                            fg::set_at.eq(at),
                        ))
                        .execute(conn)?;
                }
                (None, None) => {}
            }
            let mut details = serde_json::json!({
                "student_id": student, "subject_id": subject, "term_id": period.term,
                "academic_year_id": period.year, "old": old, "new": value, "reason": reason,
            });
            if let Some(client) = client {
                details["integrator_id"] = serde_json::json!(client);
            }
            crate::audit::record(
                conn,
                &crate::audit::Entry {
                    owner: crate::audit::Owner::School(school),
                    actor: user,
                    action: "final_grade.set",
                    target_type: "student",
                    target_id: student,
                    details,
                    at,
                },
            )?;
        }
        crate::notifications::enqueue_final_grades(conn, school, subject, period, &announced, at)?;
        Ok(changed)
    })
}

/// The school's rounding rule: its own, or the standard one (x.50 rounds up, three grades)
/// until it sets one.
///
/// # Errors
/// On a database failure or a stored rule outside the domain's bounds.
pub fn rounding_rule(conn: &mut DbConnection, school: SchoolId) -> Result<RoundingRule> {
    let stored: Option<(i16, i16)> = school_grading_rules::table
        .find(school.get())
        .select((
            school_grading_rules::round_up_from,
            school_grading_rules::min_grades,
        ))
        .first(conn)
        .optional()?;
    match stored {
        None => Ok(RoundingRule::STANDARD),
        Some((threshold, min_grades)) => {
            RoundingRule::new(i64::from(threshold), i64::from(min_grades))
                .map_err(|e| PersistenceError::Conflict(e.to_string()))
        }
    }
}

/// Sets the school's rounding rule (audited with the old and the new rule). Suggestions and
/// ranks read it on every request, so the change shows at once; term grades already set stay.
///
/// # Errors
/// On a database failure.
pub fn set_rounding_rule(
    conn: &mut DbConnection,
    actor: &crate::admin::Actor,
    rule: RoundingRule,
) -> Result<()> {
    conn.transaction(|conn| {
        let old = rounding_rule(conn, actor.school)?;
        let values = (
            school_grading_rules::round_up_from.eq(i16::from(rule.threshold())),
            school_grading_rules::min_grades.eq(i16::from(rule.min_grades())),
            school_grading_rules::updated_by.eq(Some(actor.user.get())),
            school_grading_rules::updated_at.eq(actor.at),
        );
        let updated = diesel::update(school_grading_rules::table.find(actor.school.get()))
            .set(values)
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(school_grading_rules::table)
                .values((
                    school_grading_rules::school_id.eq(actor.school.get()),
                    values,
                ))
                .execute(conn)?;
        }
        crate::audit::record(
            conn,
            &crate::audit::Entry {
                owner: crate::audit::Owner::School(actor.school),
                actor: Some(actor.user),
                action: "grading_rule.set",
                target_type: "school",
                target_id: actor.school.get(),
                details: serde_json::json!({
                    "old": { "round_up_from": old.threshold(), "min_grades": old.min_grades() },
                    "new": { "round_up_from": rule.threshold(), "min_grades": rule.min_grades() },
                }),
                at: actor.at,
            },
        )?;
        Ok(())
    })
}
