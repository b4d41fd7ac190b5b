//! The benchmark's synthetic school and its scratch databases.
//!
//! [`load_school`] builds a whole school directly in the database: its structure (municipality,
//! school, year, terms, scales, subjects, classes, teachers, students, parents) through the
//! ordinary persistence functions, and the volume (a term of lessons, the grades with their
//! `created` history events, attendance marks with theirs, the running sums of averages) through
//! multi-row `INSERT`s and `INSERT ... SELECT`, one transaction per class. Every name is made up.
//!
//! [`ScratchDatabase`] is a database made for one run (a SQLite file in a temporary folder, or
//! a fresh database on a PostgreSQL server) and removed when it is dropped.
//!
//! [`write_graded_lesson`] is the benchmark's "limit" for grading a class: the rows the API
//! writes for one graded lesson, written straight in one transaction.

use std::path::PathBuf;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use diesel::prelude::*;
use domain::{ClassId, ClassLabel, DateRange, Name, SchoolId, StudentId, SubjectId, TermDates};

use crate::journal::coalesce;
use crate::people::{self, NewStudent, NewUser, Role, RoleScope};
use crate::schema::{
    attendance_marks, grade_events, grade_scales, grades, idempotency_records, lessons, work_types,
};
use crate::{DatabaseUrl, DbConnection, PersistenceError, PoolOptions, Result, schools};

/// Subjects of the synthetic school, in timetable order.
pub const SUBJECTS: [&str; 15] = [
    "Русский язык",
    "Литература",
    "Математика",
    "Алгебра",
    "Геометрия",
    "Информатика",
    "Английский язык",
    "История",
    "Обществознание",
    "География",
    "Биология",
    "Физика",
    "Химия",
    "Музыка",
    "Физическая культура",
];

const LETTERS: [&str; 12] = ["А", "Б", "В", "Г", "Д", "Е", "Ж", "З", "И", "К", "Л", "М"];
const SURNAMES: [&str; 16] = [
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Новиков",
    "Фёдоров",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Зайцев",
    "Борисов",
    "Яковлев",
];
const FIRST_NAMES: [&str; 16] = [
    "Артём",
    "Иван",
    "Михаил",
    "Лев",
    "Матвей",
    "Егор",
    "Тимофей",
    "Кирилл",
    "Софья",
    "Мария",
    "Анна",
    "Виктория",
    "Полина",
    "Алиса",
    "Ева",
    "Варвара",
];
const MARKS: [&str; 4] = ["absent", "sick", "late", "absent_valid"];

/// The first lesson of a day starts at this hour; each further lesson an hour later.
const FIRST_LESSON_HOUR: u32 = 8;
/// The number of the extra lesson each teacher grades during the benchmark.
const GRADING_LESSON_NUMBER: i16 = 7;

/// What to load.
#[derive(Debug, Clone)]
pub struct SchoolSpec {
    /// Students in the school (each with one parent account).
    pub students: usize,
    /// Students per class; the last classes may have one fewer.
    pub class_size: usize,
    /// Subjects, at most [`SUBJECTS`]' length.
    pub subjects: usize,
    /// Lessons a class has each school day (Monday to Friday).
    pub lessons_per_day: usize,
    /// Grades each student gets in each subject over the term.
    pub grades_per_subject: usize,
    /// Classes a teacher teaches their subject in.
    pub classes_per_teacher: usize,
    /// One student-lesson in this many has an attendance mark (0: none).
    pub absence_one_in: u64,
    /// The loaded term's first and last day (lessons and grades fall in it).
    pub term: (NaiveDate, NaiveDate),
    /// The day of the extra lessons teachers grade during the benchmark (in the term).
    pub grading_day: NaiveDate,
    /// The stored hash every account gets (hash one password once: argon2 is slow on purpose).
    pub password_hash: String,
    /// The creation time of every row.
    pub now: NaiveDateTime,
}

/// A class as loaded.
#[derive(Debug, Clone)]
pub struct LoadedClass {
    pub id: ClassId,
    /// Its students, by id.
    pub students: Vec<StudentId>,
}

/// A teacher as loaded: one subject in a few classes.
#[derive(Debug, Clone)]
pub struct LoadedTeacher {
    pub login: String,
    pub user: domain::UserId,
    pub subject: SubjectId,
    /// Indexes into [`LoadedSchool::classes`].
    pub classes: Vec<usize>,
    /// One extra lesson per class taught, on the grading day, with no grades yet.
    pub grading_lessons: Vec<i64>,
}

/// A parent as loaded: one child.
#[derive(Debug, Clone)]
pub struct LoadedParent {
    pub login: String,
    pub user: domain::UserId,
    pub child: StudentId,
}

/// How many rows of the volume tables were loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadedCounts {
    pub lessons: u64,
    pub grades: u64,
    pub grade_events: u64,
    pub attendance_marks: u64,
}

/// The loaded school, with what the benchmark needs to drive it.
#[derive(Debug, Clone)]
pub struct LoadedSchool {
    pub school: SchoolId,
    pub subjects: Vec<SubjectId>,
    pub classes: Vec<LoadedClass>,
    /// Interleaved by subject: the first ones teach different subjects.
    pub teachers: Vec<LoadedTeacher>,
    /// One per student, in student order.
    pub parents: Vec<LoadedParent>,
    /// The school's work types with their weights, by id (weights 1, 1, 2, 3).
    pub work_types: Vec<(i64, i16)>,
    /// The loaded term.
    pub term: i64,
    /// The school's default (5-point) scale.
    pub default_scale: i64,
    pub counts: LoadedCounts,
}

fn invalid(e: impl std::fmt::Display) -> PersistenceError {
    PersistenceError::Migration(format!("benchmark school: {e}"))
}

/// A well-mixed 64-bit hash (SplitMix64), for reproducible made-up data.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn index_u64(i: usize) -> u64 {
    u64::try_from(i).unwrap_or(u64::MAX)
}

fn pick<T: Copy>(items: &[T], seed: u64) -> Option<T> {
    let len = index_u64(items.len());
    if len == 0 {
        return None;
    }
    usize::try_from(mix(seed) % len)
        .ok()
        .and_then(|i| items.get(i).copied())
}

/// The school days (Monday to Friday) from `from` to `to`.
fn school_days(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect()
}

fn lesson_start(day: NaiveDate, number: i16) -> Result<NaiveDateTime> {
    let hour = FIRST_LESSON_HOUR + u32::try_from(number).map_err(invalid)?;
    day.and_hms_opt(hour, 0, 0)
        .ok_or_else(|| invalid(format!("no lesson time {day} {hour}:00")))
}

/// Loads the synthetic school into a migrated, empty database. `progress` hears one line per
/// stage.
///
/// # Errors
/// On a database failure or a spec that cannot be loaded (no students, a term outside its
/// year, more subjects than [`SUBJECTS`]).
pub fn load_school(
    conn: &mut DbConnection,
    spec: &SchoolSpec,
    progress: &mut dyn FnMut(&str),
) -> Result<LoadedSchool> {
    if spec.students == 0 || spec.class_size == 0 || spec.classes_per_teacher == 0 {
        return Err(invalid(
            "students, class size and classes per teacher must be positive",
        ));
    }
    if spec.subjects == 0 || spec.subjects > SUBJECTS.len() {
        return Err(invalid(format!("subjects must be 1 to {}", SUBJECTS.len())));
    }
    if !(1..=6).contains(&spec.lessons_per_day) {
        return Err(invalid("lessons per day must be 1 to 6"));
    }
    if let DbConnection::Pg(pg) = conn {
        // A scratch database: losing the last commits in a crash costs nothing.
        diesel::sql_query("SET synchronous_commit TO OFF").execute(pg)?;
        // The loaded rows are consistent by construction: a superuser skips the foreign-key
        // triggers while loading them (anyone else just loads more slowly).
        let _not_superuser =
            diesel::sql_query("SET session_replication_role = replica").execute(pg);
    }
    let mut school = conn.transaction(|conn| load_structure(conn, spec))?;
    progress(&format!(
        "structure: {} classes, {} subjects, {} teachers, {} students, {} parents",
        school.classes.len(),
        school.subjects.len(),
        school.teachers.len(),
        spec.students,
        school.parents.len()
    ));
    let days = school_days(spec.term.0, spec.term.1);
    let mut stages = [std::time::Duration::ZERO; 4];
    for class_index in 0..school.classes.len() {
        let counts = conn
            .transaction(|conn| load_class(conn, spec, &school, class_index, &days, &mut stages))?;
        school.counts.lessons += counts.lessons;
        school.counts.grades += counts.grades;
        school.counts.grade_events += counts.grade_events;
        school.counts.attendance_marks += counts.attendance_marks;
        if (class_index + 1) % 10 == 0 || class_index + 1 == school.classes.len() {
            progress(&format!(
                "classes loaded: {}/{} ({} grades so far)",
                class_index + 1,
                school.classes.len(),
                school.counts.grades
            ));
        }
    }
    progress(&format!(
        "time in lessons {:.1} s, grades {:.1} s, their events and sums {:.1} s, attendance {:.1} s",
        stages[0].as_secs_f64(),
        stages[1].as_secs_f64(),
        stages[2].as_secs_f64(),
        stages[3].as_secs_f64()
    ));
    conn.transaction(|conn| add_grading_lessons(conn, spec, &mut school))?;
    settle(conn, progress)?;
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query("SET synchronous_commit TO DEFAULT").execute(pg)?;
        diesel::sql_query("SET session_replication_role = DEFAULT").execute(pg)?;
    }
    Ok(school)
}

/// Leaves the freshly loaded database as a database that has been running a while is, so
/// that the measurements do not share the machine with the load's aftermath: on PostgreSQL
/// every table vacuumed (which also sets the rows' hint bits, otherwise written by the first
/// reads) and analyzed, as autovacuum would do during the run, then a checkpoint (the load's
/// dirty pages written out now, not by the checkpointer during a measurement); on SQLite the
/// write-ahead log checkpointed and emptied. A checkpoint the user may not ask for is skipped,
/// and said.
fn settle(conn: &mut DbConnection, progress: &mut dyn FnMut(&str)) -> Result<()> {
    let started = std::time::Instant::now();
    let done = match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query("VACUUM (ANALYZE)").execute(pg)?;
            match diesel::sql_query("CHECKPOINT").execute(pg) {
                Ok(_) => "VACUUM (ANALYZE), CHECKPOINT".to_owned(),
                Err(e) => format!("VACUUM (ANALYZE), no CHECKPOINT ({e})"),
            }
        }
        DbConnection::Sqlite(sqlite) => {
            diesel::connection::SimpleConnection::batch_execute(
                sqlite,
                "PRAGMA wal_checkpoint(TRUNCATE);",
            )?;
            "the write-ahead log checkpointed".to_owned()
        }
    };
    progress(&format!(
        "settled: {done}, in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn load_structure(conn: &mut DbConnection, spec: &SchoolSpec) -> Result<LoadedSchool> {
    let now = spec.now;
    let municipality = schools::insert_municipality(conn, "Синтетический округ (бенчмарк)")?;
    let school =
        schools::insert_school(conn, municipality, "Синтетическая школа (бенчмарк)", None)?;
    let (term_from, term_to) = spec.term;
    let year_from =
        NaiveDate::from_ymd_opt(term_from.year() - i32::from(term_from.month() < 9), 9, 1)
            .ok_or_else(|| invalid("no year start"))?;
    let year_to = NaiveDate::from_ymd_opt(year_from.year() + 1, 8, 31)
        .ok_or_else(|| invalid("no year end"))?;
    let year_dates = DateRange::new(year_from, year_to, 366).map_err(invalid)?;
    let year_name = format!("{}/{}", year_from.year(), year_to.year());
    let year = schools::insert_academic_year(conn, school, &year_name, year_dates)?;
    let term = TermDates::new(term_from, term_to).map_err(invalid)?;
    if !term.within(&year_dates) {
        return Err(invalid(
            "the term is not within one school year (Sep 1 to Aug 31)",
        ));
    }
    let term_id = schools::insert_term(conn, school, year, 1, "Четверть (бенчмарк)", term)?;
    crate::journal::ensure_grading_defaults(conn, school)?;
    let work_types: Vec<(i64, i16)> = work_types::table
        .filter(work_types::school_id.eq(school.get()))
        .order(work_types::id.asc())
        .select((work_types::id, work_types::weight))
        .load(conn)?;
    let default_scale: i64 = grade_scales::table
        .filter(grade_scales::school_id.eq(school.get()))
        .filter(grade_scales::is_default.eq(1))
        .select(grade_scales::id)
        .first(conn)?;

    let mut subjects = Vec::with_capacity(spec.subjects);
    for name in SUBJECTS.iter().take(spec.subjects) {
        subjects.push(schools::insert_subject(
            conn,
            school,
            &Name::parse(name).map_err(invalid)?,
        )?);
    }

    let class_count = spec.students.div_ceil(spec.class_size);
    let mut classes = Vec::with_capacity(class_count);
    for c in 0..class_count {
        let level = i64::try_from(c % 11 + 1).map_err(invalid)?;
        let letter = LETTERS
            .get(c / 11)
            .ok_or_else(|| invalid("too many classes for the letters"))?;
        let label = ClassLabel::new(level, letter).map_err(invalid)?;
        classes.push(LoadedClass {
            id: schools::insert_class(conn, school, year, &label)?,
            students: Vec::new(),
        });
    }

    let hash = Some(spec.password_hash.as_str());
    let mut parents = Vec::with_capacity(spec.students);
    for i in 0..spec.students {
        let seed = index_u64(i);
        let last = pick(&SURNAMES, seed).unwrap_or("Иванов");
        let first = pick(&FIRST_NAMES, seed ^ 0xA5A5).unwrap_or("Иван");
        let external_id = format!("bench-student-{i}");
        let student = people::insert_student(
            conn,
            NewStudent {
                school,
                user: None,
                last_name: last,
                first_name: first,
                middle_name: None,
                external_id: Some(&external_id),
            },
        )?;
        let class = classes
            .get_mut(i % class_count)
            .ok_or_else(|| invalid("no class"))?;
        people::enroll(conn, school, class.id, student, year_from)?;
        class.students.push(student);
        let login = format!("bench-parent-{i}");
        let user = people::insert_user(
            conn,
            NewUser {
                login: &login,
                display_name: &format!("Родитель: {last} {first}"),
                password_hash: hash,
                now,
            },
        )?;
        people::assign_role(conn, user, Role::Parent, RoleScope::School(school))?;
        people::link_guardian(conn, school, user, student)?;
        parents.push(LoadedParent {
            login,
            user,
            child: student,
        });
    }

    // Teachers interleaved by subject: teacher k*subjects + s teaches subject s in the k-th
    // group of classes.
    let groups = class_count.div_ceil(spec.classes_per_teacher);
    let mut teachers = Vec::with_capacity(groups * subjects.len());
    for group in 0..groups {
        for (s, &subject) in subjects.iter().enumerate() {
            let n = teachers.len();
            let login = format!("bench-teacher-{n}");
            let name = format!(
                "Учитель {n} ({})",
                SUBJECTS.get(s).copied().unwrap_or_default()
            );
            let user = people::insert_user(
                conn,
                NewUser {
                    login: &login,
                    display_name: &name,
                    password_hash: hash,
                    now,
                },
            )?;
            people::assign_role(conn, user, Role::Teacher, RoleScope::School(school))?;
            let first = group * spec.classes_per_teacher;
            let taught: Vec<usize> =
                (first..class_count.min(first + spec.classes_per_teacher)).collect();
            for &c in &taught {
                let class = classes.get(c).ok_or_else(|| invalid("no class"))?;
                people::assign_teaching(conn, school, user, class.id, subject, now)?;
            }
            teachers.push(LoadedTeacher {
                login,
                user,
                subject,
                classes: taught,
                grading_lessons: Vec::new(),
            });
        }
    }
    Ok(LoadedSchool {
        school,
        subjects,
        classes,
        teachers,
        parents,
        work_types,
        term: term_id.get(),
        default_scale,
        counts: LoadedCounts::default(),
    })
}

/// The teacher of a subject (by index) in a class (by index).
fn teacher_of(school: &LoadedSchool, spec: &SchoolSpec, class: usize, subject: usize) -> i64 {
    let n = (class / spec.classes_per_teacher) * school.subjects.len() + subject;
    school.teachers.get(n).map_or(0, |t| t.user.get())
}

fn max_id(conn: &mut DbConnection, table: &str) -> Result<i64> {
    #[derive(QueryableByName)]
    struct Max {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let row: Max = diesel::sql_query(format!("SELECT COALESCE(MAX(id), 0) AS id FROM {table}"))
        .get_result(conn)?;
    Ok(row.id)
}

/// Rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const BATCH_ROWS: usize = 2000;

/// A class's term: its lessons, every student's grades in every subject (each with its
/// `created` event) and their running sums, and attendance marks (each with its event).
fn load_class(
    conn: &mut DbConnection,
    spec: &SchoolSpec,
    school: &LoadedSchool,
    class_index: usize,
    days: &[NaiveDate],
    stages: &mut [std::time::Duration; 4],
) -> Result<LoadedCounts> {
    let mut clock = std::time::Instant::now();
    let mut lap = |stage: usize| {
        if let Some(total) = stages.get_mut(stage) {
            *total += clock.elapsed();
        }
        clock = std::time::Instant::now();
    };
    let class = school
        .classes
        .get(class_index)
        .ok_or_else(|| invalid("no class"))?;
    let school_id = school.school.get();
    let subject_count = school.subjects.len();
    let class_seed = index_u64(class_index);

    // The timetable: lesson p of day d is subject (d * lessons_per_day + p + class) mod n.
    let mut new_lessons = Vec::with_capacity(days.len() * spec.lessons_per_day);
    for (d, &day) in days.iter().enumerate() {
        for p in 0..spec.lessons_per_day {
            let s = (d * spec.lessons_per_day + p + class_index) % subject_count;
            let subject = school
                .subjects
                .get(s)
                .ok_or_else(|| invalid("no subject"))?;
            let number = i16::try_from(p + 1).map_err(invalid)?;
            let at = lesson_start(day, number)?;
            new_lessons.push((
                lessons::school_id.eq(school_id),
                lessons::class_id.eq(class.id.get()),
                lessons::subject_id.eq(subject.get()),
                lessons::teacher_user_id.eq(teacher_of(school, spec, class_index, s)),
                lessons::lesson_date.eq(day),
                lessons::number.eq(number),
                lessons::room.eq(Some(format!("{}", 100 + (class_index % 40)))),
                lessons::topic.eq(Some(format!("Тема урока {}", d + 1))),
                lessons::homework.eq(Some(format!("§{}, упражнения {}-{}", d + 1, p + 1, p + 4))),
                lessons::first_entry_at.eq(Some(at)),
                lessons::created_at.eq(spec.now),
            ));
        }
    }
    let mut counts = LoadedCounts::default();
    for chunk in new_lessons.chunks(BATCH_ROWS) {
        counts.lessons += index_u64(on_backend!(
            conn,
            execute,
            diesel::insert_into(lessons::table).values(chunk)
        )?);
    }
    // Read them back by subject, in date order: (id, subject, date, number).
    let loaded: Vec<(i64, i64, NaiveDate, i16)> = lessons::table
        .filter(lessons::class_id.eq(class.id.get()))
        .order((lessons::lesson_date.asc(), lessons::number.asc()))
        .select((
            lessons::id,
            lessons::subject_id,
            lessons::lesson_date,
            lessons::number,
        ))
        .load(conn)?;

    lap(0);
    let grades_before = max_id(conn, "grades")?;
    for (s, subject) in school.subjects.iter().enumerate() {
        let of_subject: Vec<&(i64, i64, NaiveDate, i16)> =
            loaded.iter().filter(|l| l.1 == subject.get()).collect();
        if of_subject.is_empty() {
            continue;
        }
        let teacher = teacher_of(school, spec, class_index, s);
        let mut rows = Vec::with_capacity(class.students.len() * spec.grades_per_subject);
        for student in &class.students {
            for j in 0..spec.grades_per_subject {
                // Spread evenly over the term's lessons of the subject.
                let at_lesson = j * of_subject.len() / spec.grades_per_subject;
                let Some(&&(lesson, _, day, number)) = of_subject.get(at_lesson) else {
                    continue;
                };
                let seed =
                    mix(index_u64(j) ^ (student.get().unsigned_abs() << 20) ^ (index_u64(s) << 48));
                // Mostly 4s and 5s, some 3s, a few 2s; mostly oral answers and homework.
                let value = match seed % 20 {
                    0 => "2",
                    1..=4 => "3",
                    5..=11 => "4",
                    _ => "5",
                };
                let work_type = match (seed >> 8) % 10 {
                    0..=4 => school.work_types.first(),
                    5..=7 => school.work_types.get(1),
                    8 => school.work_types.get(2),
                    _ => school.work_types.get(3),
                }
                .map_or(0, |w| w.0);
                let at = lesson_start(day, number)? + Duration::minutes(40);
                rows.push((
                    grades::school_id.eq(school_id),
                    grades::lesson_id.eq(lesson),
                    grades::student_id.eq(student.get()),
                    grades::work_type_id.eq(work_type),
                    grades::scale_id.eq(school.default_scale),
                    grades::value.eq(value),
                    grades::client_id.eq(format!("load-{}-{j}", student.get())),
                    grades::created_by.eq(Some(teacher)),
                    grades::created_at.eq(at),
                    grades::updated_at.eq(at),
                ));
            }
        }
        counts.grades += index_u64(match conn {
            // PostgreSQL takes the bulk of the rows fastest as binary COPY.
            DbConnection::Pg(pg) => diesel::copy_from(grades::table)
                .from_insertable(&rows)
                .execute(pg)?,
            DbConnection::Sqlite(sqlite) => {
                let mut n = 0;
                for chunk in rows.chunks(BATCH_ROWS) {
                    n += diesel::insert_into(grades::table)
                        .values(chunk)
                        .execute(sqlite)?;
                }
                n
            }
        });
    }
    lap(1);
    // Every grade's history starts with its creation, by the teacher who gave it.
    counts.grade_events = index_u64(
        diesel::sql_query(format!(
            "INSERT INTO grade_events (school_id, grade_id, version, action, new_value, \
             new_comment, actor_user_id, occurred_at) \
             SELECT school_id, id, 1, 'created', value, comment, created_by, created_at \
             FROM grades WHERE id > {grades_before} ORDER BY id"
        ))
        .execute(conn)?,
    );

    // The running sums of averages, as the journal keeps them with every grade: the loaded
    // grades are all on the 5-point scale, in the one term.
    let (term_from, term_to) = spec.term;
    diesel::sql_query(format!(
        "INSERT INTO subject_sums (school_id, student_id, subject_id, term_id, weighted, \
         weights, grade_count) \
         SELECT g.school_id, g.student_id, l.subject_id, {term}, \
         SUM(CAST(g.value AS BIGINT) * w.weight), SUM(w.weight), COUNT(*) \
         FROM grades g JOIN lessons l ON l.id = g.lesson_id \
         JOIN work_types w ON w.id = g.work_type_id \
         JOIN grade_scales s ON s.id = g.scale_id \
         WHERE g.id > {grades_before} AND g.deleted_at IS NULL AND s.kind = 'points' \
         AND l.lesson_date >= '{term_from}' AND l.lesson_date <= '{term_to}' \
         GROUP BY g.school_id, g.student_id, l.subject_id",
        term = school.term
    ))
    .execute(conn)?;
    lap(2);
    if spec.absence_one_in > 0 {
        let marks_before = max_id(conn, "attendance_marks")?;
        let mut marks = Vec::new();
        for &(lesson, _, day, number) in &loaded {
            for student in &class.students {
                let seed =
                    mix(lesson.unsigned_abs() ^ (student.get().unsigned_abs() << 24) ^ class_seed);
                if seed.is_multiple_of(spec.absence_one_in) {
                    let mark = pick(&MARKS, seed >> 16).unwrap_or("absent");
                    marks.push((
                        attendance_marks::school_id.eq(school_id),
                        attendance_marks::lesson_id.eq(lesson),
                        attendance_marks::student_id.eq(student.get()),
                        attendance_marks::mark.eq(mark),
                        attendance_marks::updated_at.eq(lesson_start(day, number)?),
                    ));
                }
            }
        }
        for chunk in marks.chunks(BATCH_ROWS) {
            counts.attendance_marks += index_u64(on_backend!(
                conn,
                execute,
                diesel::insert_into(attendance_marks::table).values(chunk)
            )?);
        }
        diesel::sql_query(format!(
            "INSERT INTO attendance_events (school_id, lesson_id, student_id, old_mark, \
             new_mark, actor_user_id, occurred_at) \
             SELECT m.school_id, m.lesson_id, m.student_id, NULL, m.mark, l.teacher_user_id, \
             m.updated_at FROM attendance_marks m JOIN lessons l ON l.id = m.lesson_id \
             WHERE m.id > {marks_before} ORDER BY m.id"
        ))
        .execute(conn)?;
    }
    lap(3);
    Ok(counts)
}

/// One extra lesson per (teacher, class) on the grading day, for the benchmark to grade.
fn add_grading_lessons(
    conn: &mut DbConnection,
    spec: &SchoolSpec,
    school: &mut LoadedSchool,
) -> Result<()> {
    let at = spec.now;
    let school_id = school.school;
    let classes: Vec<ClassId> = school.classes.iter().map(|c| c.id).collect();
    for teacher in &mut school.teachers {
        for &c in &teacher.classes {
            let class = *classes.get(c).ok_or_else(|| invalid("no class"))?;
            let lesson = crate::journal::insert_lesson(
                conn,
                &crate::journal::NewLesson {
                    school: school_id,
                    class,
                    subject: teacher.subject,
                    group: None,
                    teacher: teacher.user,
                    date: spec.grading_day,
                    number: GRADING_LESSON_NUMBER,
                    room: None,
                    topic: Some("Урок для бенчмарка"),
                    homework: None,
                    at,
                },
            )?;
            teacher.grading_lessons.push(lesson.id);
        }
    }
    Ok(())
}

/// One grade of a [`write_graded_lesson`], on a points scale.
#[derive(Debug, Clone)]
pub struct DirectGrade {
    pub student: i64,
    pub work_type: i64,
    /// The work type's weight.
    pub weight: i64,
    pub scale: i64,
    /// Points.
    pub value: i64,
    pub client_id: String,
}

/// A lesson graded straight on the database: what [`write_graded_lesson`] writes.
#[derive(Debug, Clone)]
pub struct DirectGrading<'a> {
    pub school: SchoolId,
    pub lesson: i64,
    pub subject: SubjectId,
    /// The term the lesson falls in.
    pub term: i64,
    pub teacher: domain::UserId,
    pub key: &'a str,
    pub request_hash: &'a str,
    pub grades: &'a [DirectGrade],
    pub at: NaiveDateTime,
}

/// The rows the API writes when a teacher grades a lesson, written straight: in one
/// transaction, the lesson's lock and first-entry mark (one `UPDATE`), the grades (one
/// multi-row `INSERT ... RETURNING`), their `created` events (one multi-row `INSERT`), the
/// running sums of the students' averages (one multi-row upsert) and the idempotency record
/// with an answer of the same size as the API's.
///
/// # Errors
/// On a database failure; nothing is written then.
pub fn write_graded_lesson(conn: &mut DbConnection, graded: &DirectGrading<'_>) -> Result<()> {
    let DirectGrading {
        school,
        lesson,
        at,
        teacher,
        ..
    } = *graded;
    conn.transaction(|conn| {
        diesel::update(lessons::table.filter(lessons::id.eq(lesson)))
            .set(lessons::first_entry_at.eq(coalesce(lessons::first_entry_at, Some(at))))
            .execute(conn)?;
        let rows: Vec<_> = graded
            .grades
            .iter()
            .map(|g| {
                (
                    grades::school_id.eq(school.get()),
                    grades::lesson_id.eq(lesson),
                    grades::student_id.eq(g.student),
                    grades::work_type_id.eq(g.work_type),
                    grades::scale_id.eq(g.scale),
                    grades::value.eq(g.value.to_string()),
                    grades::client_id.eq(&g.client_id),
                    grades::created_by.eq(Some(teacher.get())),
                    grades::created_at.eq(at),
                    grades::updated_at.eq(at),
                )
            })
            .collect();
        let ids: Vec<i64> = on_backend!(
            conn,
            get_results,
            diesel::insert_into(grades::table)
                .values(&rows)
                .returning(grades::id)
        )?;
        let events: Vec<_> = ids
            .iter()
            .zip(graded.grades)
            .map(|(&id, g)| {
                (
                    grade_events::school_id.eq(school.get()),
                    grade_events::grade_id.eq(id),
                    grade_events::version.eq(1),
                    grade_events::action.eq("created"),
                    grade_events::new_value.eq(Some(g.value.to_string())),
                    grade_events::actor_user_id.eq(Some(teacher.get())),
                    grade_events::occurred_at.eq(at),
                )
            })
            .collect();
        on_backend!(
            conn,
            execute,
            diesel::insert_into(grade_events::table).values(&events)
        )?;
        add_to_sums(conn, graded)?;
        let body = answer_like_the_api(lesson, &ids, graded.grades, at);
        diesel::insert_into(idempotency_records::table)
            .values((
                idempotency_records::school_id.eq(school.get()),
                idempotency_records::caller.eq(format!("user:{}", teacher.get())),
                idempotency_records::idempotency_key.eq(graded.key),
                idempotency_records::request_hash.eq(graded.request_hash),
                idempotency_records::status.eq(201_i16),
                idempotency_records::response_body.eq(&body),
                idempotency_records::created_at.eq(at),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Adds the grades to their students' running sums with one multi-row upsert (numbers only,
/// so the statement is written out).
fn add_to_sums(conn: &mut DbConnection, graded: &DirectGrading<'_>) -> Result<()> {
    use std::collections::BTreeMap;
    let mut per_student: BTreeMap<i64, (i64, i64, i64)> = BTreeMap::new();
    for g in graded.grades {
        let sums = per_student.entry(g.student).or_default();
        sums.0 += g.value * g.weight;
        sums.1 += g.weight;
        sums.2 += 1;
    }
    if per_student.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = per_student
        .iter()
        .map(|(student, (weighted, weights, count))| {
            format!(
                "({}, {student}, {}, {}, {weighted}, {weights}, {count})",
                graded.school.get(),
                graded.subject.get(),
                graded.term
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

/// A JSON answer with the fields the API's grading answer has, so the stored record is as big.
fn answer_like_the_api(lesson: i64, ids: &[i64], new: &[DirectGrade], at: NaiveDateTime) -> String {
    let grades: Vec<serde_json::Value> = ids
        .iter()
        .zip(new)
        .map(|(id, g)| {
            serde_json::json!({
                "id": id, "client_id": g.client_id, "student_id": g.student,
                "work_type_id": g.work_type, "scale_id": g.scale, "value": g.value,
                "comment": null, "version": 1, "etag": format!("\"g{id}v1\""),
                "created_at": at.and_utc().to_rfc3339(),
            })
        })
        .collect();
    serde_json::json!({"lesson_id": lesson, "grades": grades}).to_string()
}

/// A database that lives for one benchmark run: removed when dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    url: DatabaseUrl,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    SqliteFolder(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl ScratchDatabase {
    /// A SQLite file in a new folder under the system's temporary folder.
    ///
    /// # Errors
    /// When the folder cannot be made.
    pub fn sqlite() -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("gradebook-bench-{}-{nanos:09}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| PersistenceError::Connect {
            target: dir.display().to_string(),
            cause: format!("cannot create the folder: {e}"),
        })?;
        Ok(Self {
            url: DatabaseUrl::Sqlite(dir.join("bench.db")),
            cleanup: Cleanup::SqliteFolder(dir),
        })
    }

    /// A new, empty database on the PostgreSQL server of `admin_url` (whose user may create
    /// databases), dropped afterwards.
    ///
    /// # Errors
    /// When the server cannot be reached or refuses to create the database.
    pub fn postgres(admin_url: &str) -> Result<Self> {
        let parsed = DatabaseUrl::parse(admin_url)?;
        let DatabaseUrl::Postgres(admin_url) = parsed else {
            return Err(PersistenceError::InvalidUrl(format!(
                "{} is not a PostgreSQL URL",
                parsed.redacted()
            )));
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("gradebook_bench_{}_{nanos:09}", std::process::id());
        let mut admin = crate::connection::connect_one(
            &DatabaseUrl::Postgres(admin_url.clone()),
            PoolOptions::default(),
        )?;
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
        Ok(Self {
            url: DatabaseUrl::Postgres(with_database(&admin_url, &name)),
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    #[must_use]
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteFolder(dir) => {
                let _ignored = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut admin) = crate::connection::connect_one(
                    &DatabaseUrl::Postgres(admin_url.clone()),
                    PoolOptions::default(),
                ) {
                    let _ignored =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin);
                }
            }
        }
    }
}

/// `url` with its database name replaced.
#[must_use]
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base.get(after_scheme..).and_then(|rest| rest.find('/')) {
        Some(slash) => base.get(..after_scheme + slash).unwrap_or(base),
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Gives each of these people a login session and one registered `my_diary` device (token
/// `bench-device-<user>`), so that grading their children queues pushes; returns how many.
///
/// # Errors
/// On a database failure.
pub fn register_family_devices(
    conn: &mut DbConnection,
    users: &[domain::UserId],
    at: NaiveDateTime,
) -> Result<usize> {
    use crate::schema::{devices, sessions};
    if users.is_empty() {
        return Ok(0);
    }
    conn.transaction(|conn| {
        let new_sessions: Vec<_> = users
            .iter()
            .map(|u| (sessions::user_id.eq(u.get()), sessions::created_at.eq(at)))
            .collect();
        let opened: Vec<(i64, i64)> = on_backend!(
            conn,
            get_results,
            diesel::insert_into(sessions::table)
                .values(&new_sessions)
                .returning((sessions::id, sessions::user_id))
        )?;
        let rows: Vec<_> = opened
            .iter()
            .map(|(session, user)| {
                (
                    devices::user_id.eq(*user),
                    devices::session_id.eq(*session),
                    devices::token.eq(format!("bench-device-{user}")),
                    devices::platform.eq("android"),
                    devices::app.eq("my_diary"),
                    devices::active.eq(1_i16),
                    devices::created_at.eq(at),
                    devices::updated_at.eq(at),
                )
            })
            .collect();
        Ok(on_backend!(
            conn,
            execute,
            diesel::insert_into(devices::table).values(&rows)
        )?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }

    #[test]
    fn school_days_skip_weekends() {
        let from = NaiveDate::from_ymd_opt(2026, 11, 13);
        let to = NaiveDate::from_ymd_opt(2026, 11, 17);
        let days = from
            .zip(to)
            .map(|(f, t)| school_days(f, t))
            .unwrap_or_default();
        // Friday 13th, Monday 16th, Tuesday 17th.
        assert_eq!(days.len(), 3);
    }
}

/// One student's place in [`rank_from_grades`].
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct RawRank {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub student_id: i64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub overall: f64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub position: i64,
}

/// The benchmark's baseline: the school's ranking as a straightforward query computes it,
/// from the raw grades of the term with a window function, not from the running sums. Each
/// student's weighted average per subject over the default points scale, the mean of those,
/// ranked with `RANK()` among the students with at least `min_grades` grades in every subject
/// they have grades in.
///
/// # Errors
/// On a database failure.
pub fn rank_from_grades(
    conn: &mut DbConnection,
    school: SchoolId,
    term: (NaiveDate, NaiveDate),
    min_grades: i64,
) -> Result<Vec<RawRank>> {
    // Only numbers and dates formatted here go into the text: nothing from a user.
    let query = diesel::sql_query(format!(
        "WITH per_subject AS ( \
           SELECT g.student_id, l.subject_id, \
                  SUM(CAST(g.value AS INTEGER) * w.weight) * 1.0 / SUM(w.weight) AS average, \
                  COUNT(*) AS n \
           FROM grades g \
           JOIN lessons l ON l.id = g.lesson_id \
           JOIN work_types w ON w.id = g.work_type_id \
           JOIN grade_scales s ON s.id = g.scale_id \
           WHERE g.school_id = {school} AND g.deleted_at IS NULL \
             AND s.kind = 'points' AND s.is_default = 1 \
             AND l.lesson_date >= '{from}' AND l.lesson_date <= '{to}' \
           GROUP BY g.student_id, l.subject_id \
         ), overall AS ( \
           SELECT student_id, AVG(average) AS overall, MIN(n) AS fewest \
           FROM per_subject GROUP BY student_id \
         ) \
         SELECT student_id, CAST(overall AS DOUBLE PRECISION) AS overall, \
                RANK() OVER (ORDER BY overall DESC) AS position \
         FROM overall WHERE fewest >= {min_grades} ORDER BY position, student_id",
        school = school.get(),
        from = term.0.format("%Y-%m-%d"),
        to = term.1.format("%Y-%m-%d"),
    ));
    Ok(on_backend!(conn, load, query)?)
}

/// PostgreSQL: fresh statistics of the outbox tables, which the benchmark's fresh database
/// starts empty and then fills within seconds. In service autovacuum analyzes a table soon
/// after it grows; until then the planner, and the foreign-key checks' cached plans, take a
/// table of thousands of rows for a few pages and scan it whole. A no-op on SQLite.
///
/// # Errors
/// On a database failure.
pub fn refresh_statistics(conn: &mut DbConnection) -> Result<()> {
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query("ANALYZE notifications, notification_log, devices").execute(pg)?;
    }
    Ok(())
}
