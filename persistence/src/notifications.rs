//! Push notifications: devices, preferences, the transactional outbox and its delivery log.
//!
//! The journal's writes call the `enqueue_*` functions inside their own transactions, so a
//! committed grade always has its outbox rows and a rolled-back one never has. A dispatcher
//! [`claim`]s due rows (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, on SQLite under the
//! single write lock) and takes a lease on them, so several dispatchers never send one row
//! twice; it checks again, at claim time, that the recipient may still see the child.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use domain::notifications::{
    self as rules, EventKind, FinalGradeFacts, FinalPeriod, GradeFacts, HomeworkFacts, Language,
    Localized, Plan, Preferences, QuietHours, QuietMode, TimeOfDay, UtcOffset,
};
use domain::{SchoolId, StudentId, UserId};

use crate::journal::{Grade, Lesson};
use crate::schema::{
    devices, guardianships, notification_log, notification_preferences, notifications, sessions,
    students, subjects, terms, users, work_types,
};
use crate::{DbConnection, PersistenceError, Result};

/// The PostgreSQL channel a committed outbox write is announced on.
pub const CHANNEL: &str = "gradebook_outbox";

/// The app whose devices get the family's pushes.
pub const FAMILY_APP: &str = "my_diary";

// ---------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------

/// A registered device.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = devices)]
pub struct Device {
    pub id: i64,
    pub user_id: i64,
    pub session_id: i64,
    pub token: String,
    pub platform: String,
    pub app: String,
    pub active: i16,
    pub deactivated_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A device to register.
#[derive(Debug, Clone, Copy)]
pub struct NewDevice<'a> {
    pub user: UserId,
    pub session: i64,
    pub token: &'a str,
    pub platform: &'a str,
    pub app: &'a str,
    pub at: NaiveDateTime,
}

/// Registers a token for the caller's session. A token registered before (by anyone) moves to
/// the caller and becomes active again: one phone, one token, one owner.
///
/// # Errors
/// On a database failure.
pub fn register_device(conn: &mut DbConnection, new: &NewDevice<'_>) -> Result<Device> {
    conn.transaction(|conn| {
        let existing: Option<i64> = devices::table
            .filter(devices::token.eq(new.token))
            .select(devices::id)
            .first(conn)
            .optional()?;
        let id = match existing {
            Some(id) => {
                diesel::update(devices::table.find(id))
                    .set((
                        devices::user_id.eq(new.user.get()),
                        devices::session_id.eq(new.session),
                        devices::platform.eq(new.platform),
                        devices::app.eq(new.app),
                        devices::active.eq(1_i16),
                        devices::deactivated_reason.eq(None::<String>),
                        devices::updated_at.eq(new.at),
                    ))
                    .execute(conn)?;
                id
            }
            None => diesel::insert_into(devices::table)
                .values((
                    devices::user_id.eq(new.user.get()),
                    devices::session_id.eq(new.session),
                    devices::token.eq(new.token),
                    devices::platform.eq(new.platform),
                    devices::app.eq(new.app),
                    devices::active.eq(1_i16),
                    devices::created_at.eq(new.at),
                    devices::updated_at.eq(new.at),
                ))
                .returning(devices::id)
                .get_result(conn)?,
        };
        devices::table
            .find(id)
            .select(Device::as_select())
            .first(conn)
            .map_err(Into::into)
    })
}

/// The caller's active devices, by id.
///
/// # Errors
/// On a database failure.
pub fn user_devices(conn: &mut DbConnection, user: UserId) -> Result<Vec<Device>> {
    devices::table
        .filter(devices::user_id.eq(user.get()))
        .filter(devices::active.eq(1_i16))
        .order(devices::id.asc())
        .select(Device::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// Unregisters one of the caller's devices. Returns `false` for a device that is not the
/// caller's or is no longer active.
///
/// # Errors
/// On a database failure.
pub fn unregister_device(
    conn: &mut DbConnection,
    user: UserId,
    device: i64,
    at: NaiveDateTime,
) -> Result<bool> {
    let n = diesel::update(
        devices::table
            .filter(devices::id.eq(device))
            .filter(devices::user_id.eq(user.get()))
            .filter(devices::active.eq(1_i16)),
    )
    .set((
        devices::active.eq(0_i16),
        devices::deactivated_reason.eq("unregistered"),
        devices::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// Deactivates the devices registered under a session (logout, a revoked token family).
///
/// # Errors
/// On a database failure.
pub fn deactivate_session_devices(
    conn: &mut DbConnection,
    session: i64,
    reason: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        devices::table
            .filter(devices::session_id.eq(session))
            .filter(devices::active.eq(1_i16)),
    )
    .set((
        devices::active.eq(0_i16),
        devices::deactivated_reason.eq(reason),
        devices::updated_at.eq(at),
    ))
    .execute(conn)
}

// ---------------------------------------------------------------------------------------------
// Preferences
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = notification_preferences)]
struct StoredPreferences {
    new_grade: i16,
    changed_grade: i16,
    attendance: i16,
    homework: i16,
    term_grade: i16,
    quiet_start: i16,
    quiet_end: i16,
    quiet_mode: String,
    utc_offset_minutes: i16,
}

impl StoredPreferences {
    fn into_domain(self) -> Preferences {
        let quiet = match (
            TimeOfDay::from_minutes(i64::from(self.quiet_start)),
            TimeOfDay::from_minutes(i64::from(self.quiet_end)),
            QuietMode::parse(&self.quiet_mode),
        ) {
            (Ok(start), Ok(end), Some(mode)) if start != end => {
                Some(QuietHours { start, end, mode })
            }
            _ => None,
        };
        Preferences {
            new_grade: self.new_grade != 0,
            changed_grade: self.changed_grade != 0,
            attendance: self.attendance != 0,
            homework: self.homework != 0,
            term_grade: self.term_grade != 0,
            quiet,
            utc_offset: UtcOffset::from_minutes(i64::from(self.utc_offset_minutes))
                .unwrap_or(UtcOffset::MOSCOW),
        }
    }
}

/// A person's preferences for one child; the defaults when they never chose.
///
/// # Errors
/// On a database failure.
pub fn preferences(
    conn: &mut DbConnection,
    user: UserId,
    student: StudentId,
) -> Result<Preferences> {
    let stored: Option<StoredPreferences> = notification_preferences::table
        .filter(notification_preferences::user_id.eq(user.get()))
        .filter(notification_preferences::student_id.eq(student.get()))
        .select(StoredPreferences::as_select())
        .first(conn)
        .optional()?;
    Ok(stored.map_or_else(Preferences::default, StoredPreferences::into_domain))
}

/// Replaces a person's preferences for one child.
///
/// # Errors
/// On a database failure.
pub fn set_preferences(
    conn: &mut DbConnection,
    school: SchoolId,
    user: UserId,
    student: StudentId,
    prefs: &Preferences,
    at: NaiveDateTime,
) -> Result<()> {
    let flag = |b: bool| i16::from(b);
    let (start, end, mode) = prefs.quiet.map_or((0, 0, QuietMode::Hold), |q| {
        (
            i16::try_from(q.start.minutes()).unwrap_or(0),
            i16::try_from(q.end.minutes()).unwrap_or(0),
            q.mode,
        )
    });
    let values = (
        notification_preferences::new_grade.eq(flag(prefs.new_grade)),
        notification_preferences::changed_grade.eq(flag(prefs.changed_grade)),
        notification_preferences::attendance.eq(flag(prefs.attendance)),
        notification_preferences::homework.eq(flag(prefs.homework)),
        notification_preferences::term_grade.eq(flag(prefs.term_grade)),
        notification_preferences::quiet_start.eq(start),
        notification_preferences::quiet_end.eq(end),
        notification_preferences::quiet_mode.eq(mode.as_str()),
        notification_preferences::utc_offset_minutes.eq(prefs.utc_offset.minutes()),
        notification_preferences::updated_at.eq(at),
    );
    conn.transaction(|conn| {
        let updated = diesel::update(
            notification_preferences::table
                .filter(notification_preferences::user_id.eq(user.get()))
                .filter(notification_preferences::student_id.eq(student.get())),
        )
        .set(values)
        .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(notification_preferences::table)
                .values((
                    notification_preferences::school_id.eq(school.get()),
                    notification_preferences::user_id.eq(user.get()),
                    notification_preferences::student_id.eq(student.get()),
                    values,
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// The outbox: writing
// ---------------------------------------------------------------------------------------------

/// One event about one student, before it is fanned out to the family's devices.
#[derive(Debug, Clone)]
pub struct Event {
    pub school: i64,
    pub student: i64,
    pub kind: EventKind,
    /// Names the event; with the device it is the dedup key (`grade:17:v2`): a second event
    /// with a key already written for a device writes nothing for it.
    pub key: String,
    /// The text in every language; each recipient gets theirs.
    pub text: Localized,
    /// The data payload the app opens the right screen with (string values, as FCM wants).
    pub data: BTreeMap<String, String>,
    /// One per student and subject: a newer push replaces an older one still undelivered.
    pub collapse_key: String,
}

impl Event {
    /// The outbox row's payload for a recipient reading `language`.
    fn payload(&self, language: Language) -> Result<String> {
        let text = self.text.get(language);
        serde_json::to_string(&Payload {
            title: text.title.clone(),
            body: text.body.clone(),
            data: self.data.clone(),
            collapse_key: self.collapse_key.clone(),
        })
        .map_err(|e| PersistenceError::Conflict(format!("payload: {e}")))
    }
}

/// What the dispatcher sends: stored as the outbox row's `payload`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Payload {
    pub title: String,
    pub body: String,
    pub data: BTreeMap<String, String>,
    pub collapse_key: String,
}

/// The people who get pushes about a student: their active guardians and the student's own
/// account, each with the devices of the family app under a live session.
fn recipients(conn: &mut DbConnection, students_: &BTreeSet<i64>) -> Result<Vec<(i64, i64, i64)>> {
    // One statement: the parents' devices and the students' own, each a live family-app
    // device of a session not revoked.
    let live = devices::active
        .eq(1_i16)
        .and(devices::app.eq(FAMILY_APP))
        .and(sessions::revoked_at.is_null());
    let parents = guardianships::table
        .inner_join(devices::table.on(devices::user_id.eq(guardianships::parent_user_id)))
        .inner_join(sessions::table.on(sessions::id.eq(devices::session_id)))
        .filter(guardianships::student_id.eq_any(students_))
        .filter(live)
        .select((guardianships::student_id, devices::user_id, devices::id));
    let own = students::table
        .inner_join(devices::table.on(students::user_id.eq(devices::user_id.nullable())))
        .inner_join(sessions::table.on(sessions::id.eq(devices::session_id)))
        .filter(students::id.eq_any(students_))
        .filter(live)
        .select((students::id, devices::user_id, devices::id));
    let mut found: Vec<(i64, i64, i64)> = on_backend!(conn, load, parents.union(own))?;
    found.sort_unstable();
    Ok(found)
}

/// Fans events about `students_` out to their families' devices by their preferences and
/// writes the outbox rows with a `queued` (or `held`, `counted`) entry in the delivery log, in
/// the caller's transaction. `events` builds the events of the students that have a device to
/// tell (only those: a class without registered phones costs one query per table). On
/// PostgreSQL it also `NOTIFY`s the dispatchers, which hear it at commit. Returns how many
/// rows were written.
///
/// # Errors
/// On a database failure.
pub fn enqueue(
    conn: &mut DbConnection,
    students_: &BTreeSet<i64>,
    events: impl FnOnce(&mut DbConnection, &BTreeSet<i64>) -> Result<Vec<Event>>,
    at: NaiveDateTime,
) -> Result<usize> {
    if students_.is_empty() {
        return Ok(0);
    }
    let recipients = recipients(conn, students_)?;
    if recipients.is_empty() {
        return Ok(0);
    }
    let reached: BTreeSet<i64> = recipients.iter().map(|(s, _, _)| *s).collect();
    let events = events(conn, &reached)?;
    let people: BTreeSet<i64> = recipients.iter().map(|(_, u, _)| *u).collect();
    let stored: Vec<(i64, i64, StoredPreferences)> = notification_preferences::table
        .filter(notification_preferences::user_id.eq_any(&people))
        .filter(notification_preferences::student_id.eq_any(&reached))
        .select((
            notification_preferences::user_id,
            notification_preferences::student_id,
            StoredPreferences::as_select(),
        ))
        .load(conn)?;
    let prefs: HashMap<(i64, i64), Preferences> = stored
        .into_iter()
        .map(|(u, s, p)| ((u, s), p.into_domain()))
        .collect();
    let languages: HashMap<i64, Language> = users::table
        .filter(users::id.eq_any(&people))
        .select((users::id, users::language))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(u, l)| (u, Language::parse(&l).unwrap_or_default()))
        .collect();
    let mut rows = Vec::new();
    for event in &events {
        let payloads = Language::ALL
            .into_iter()
            .map(|l| Ok((l, event.payload(l)?)))
            .collect::<Result<HashMap<Language, String>>>()?;
        for (student, user, device) in &recipients {
            if *student != event.student {
                continue;
            }
            let chosen = prefs.get(&(*user, *student)).copied().unwrap_or_default();
            let (status, due) = match rules::plan(&chosen, event.kind.category(), at) {
                Plan::Skip => continue,
                Plan::Now => ("queued", at),
                Plan::HoldUntil(end) => ("held", end),
                Plan::Count => ("counted", at),
            };
            let language = languages.get(user).copied().unwrap_or_default();
            let payload = payloads.get(&language).cloned().unwrap_or_default();
            rows.push((
                notifications::school_id.eq(event.school),
                notifications::event_key.eq(event.key.clone()),
                notifications::device_id.eq(*device),
                notifications::user_id.eq(*user),
                notifications::student_id.eq(*student),
                notifications::kind.eq(event.kind.as_str()),
                notifications::payload.eq(payload),
                notifications::status.eq(status),
                notifications::next_attempt_at.eq(due),
                notifications::created_at.eq(at),
            ));
        }
    }
    if rows.is_empty() {
        return Ok(0);
    }
    // An event already written for a device (the same homework written again) is skipped,
    // not refused: the key makes the duplicate impossible without failing the write.
    let written: Vec<(i64, i64, String)> = on_backend!(
        conn,
        get_results,
        diesel::insert_into(notifications::table)
            .values(&rows)
            .on_conflict((notifications::event_key, notifications::device_id))
            .do_nothing()
            .returning((
                notifications::id,
                notifications::school_id,
                notifications::status
            ))
    )?;
    if written.is_empty() {
        return Ok(0);
    }
    let log: Vec<_> = written
        .iter()
        .map(|(id, school, status)| {
            (
                notification_log::school_id.eq(*school),
                notification_log::notification_id.eq(*id),
                notification_log::status.eq(status.as_str()),
                notification_log::occurred_at.eq(at),
            )
        })
        .collect();
    on_backend!(
        conn,
        execute,
        diesel::insert_into(notification_log::table).values(&log)
    )?;
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query(format!("NOTIFY {CHANNEL}")).execute(pg)?;
    }
    Ok(written.len())
}

/// The names a push is written with.
struct Names {
    subject: String,
    work_types: HashMap<i64, String>,
    first_names: HashMap<i64, String>,
}

impl Names {
    fn load(
        conn: &mut DbConnection,
        school: i64,
        subject: i64,
        students_: &BTreeSet<i64>,
    ) -> Result<Self> {
        let subject: String = subjects::table
            .find(subject)
            .select(subjects::name)
            .first(conn)?;
        let work_types: HashMap<i64, String> = work_types::table
            .filter(work_types::school_id.eq(school))
            .select((work_types::id, work_types::name))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
        let first_names: HashMap<i64, String> = students::table
            .filter(students::id.eq_any(students_))
            .select((students::id, students::first_name))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
        Ok(Self {
            subject,
            work_types,
            first_names,
        })
    }

    fn of_lesson(
        conn: &mut DbConnection,
        lesson: &Lesson,
        students_: &BTreeSet<i64>,
    ) -> Result<Self> {
        Self::load(conn, lesson.school_id, lesson.subject_id, students_)
    }

    fn first_name(&self, student: i64) -> &str {
        self.first_names.get(&student).map_or("", String::as_str)
    }

    fn facts<'a>(&'a self, lesson: &Lesson, grade: &'a Grade) -> GradeFacts<'a> {
        GradeFacts {
            first_name: self.first_name(grade.student_id),
            subject: &self.subject,
            work_type: self
                .work_types
                .get(&grade.work_type_id)
                .map_or("", String::as_str),
            lesson_date: lesson.lesson_date,
        }
    }
}

/// An event about a student in a subject, with the data every push carries; a newer push of
/// the student and subject replaces an older one still undelivered.
fn event_in_subject(
    school: i64,
    (student, subject): (i64, i64),
    kind: EventKind,
    key: String,
    text: Localized,
    extra: &[(&str, String)],
) -> Event {
    let data: BTreeMap<String, String> = [
        ("type", kind.as_str().to_owned()),
        ("event_id", key.clone()),
        ("student_id", student.to_string()),
        ("subject_id", subject.to_string()),
    ]
    .into_iter()
    .chain(extra.iter().map(|(k, v)| (*k, v.clone())))
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Event {
        school,
        student,
        kind,
        key,
        text,
        data,
        collapse_key: format!("student-{student}-subject-{subject}"),
    }
}

/// An event about a student in a lesson.
fn event_about(
    lesson: &Lesson,
    student: i64,
    kind: EventKind,
    key: String,
    text: Localized,
    extra: &[(&str, String)],
) -> Event {
    let mut all = vec![
        ("lesson_id", lesson.id.to_string()),
        ("lesson_date", lesson.lesson_date.to_string()),
    ];
    all.extend(extra.iter().cloned());
    event_in_subject(
        lesson.school_id,
        (student, lesson.subject_id),
        kind,
        key,
        text,
        &all,
    )
}

/// The outbox rows of a lesson's new grades.
///
/// # Errors
/// On a database failure.
pub fn enqueue_grades_created(
    conn: &mut DbConnection,
    lesson: &Lesson,
    grades: &[Grade],
    at: NaiveDateTime,
) -> Result<usize> {
    if grades.is_empty() {
        return Ok(0);
    }
    let students_: BTreeSet<i64> = grades.iter().map(|g| g.student_id).collect();
    let events = |conn: &mut DbConnection, reached: &BTreeSet<i64>| {
        let names = Names::of_lesson(conn, lesson, reached)?;
        Ok(grades
            .iter()
            .filter(|grade| reached.contains(&grade.student_id))
            .map(|grade| {
                let facts = names.facts(lesson, grade);
                event_about(
                    lesson,
                    grade.student_id,
                    EventKind::GradeCreated,
                    format!("grade:{}:v{}", grade.id, grade.version),
                    Localized::new(|l| rules::grade_created_text(l, &facts, &grade.value)),
                    &[
                        ("grade_id", grade.id.to_string()),
                        ("screen", "grades".to_owned()),
                    ],
                )
            })
            .collect())
    };
    enqueue(conn, &students_, events, at)
}

/// The outbox rows of a changed (`now` is `Some`) or deleted grade.
///
/// # Errors
/// On a database failure.
pub fn enqueue_grade_changed(
    conn: &mut DbConnection,
    lesson: &Lesson,
    before: &Grade,
    now: Option<&Grade>,
    version: i32,
    at: NaiveDateTime,
) -> Result<usize> {
    let events = |conn: &mut DbConnection, reached: &BTreeSet<i64>| {
        let names = Names::of_lesson(conn, lesson, reached)?;
        let (kind, text) = match now {
            Some(after) => {
                let facts = names.facts(lesson, after);
                (
                    EventKind::GradeChanged,
                    Localized::new(|l| {
                        rules::grade_changed_text(l, &facts, &before.value, &after.value)
                    }),
                )
            }
            None => {
                let facts = names.facts(lesson, before);
                (
                    EventKind::GradeDeleted,
                    Localized::new(|l| rules::grade_deleted_text(l, &facts, &before.value)),
                )
            }
        };
        let event = event_about(
            lesson,
            before.student_id,
            kind,
            format!("grade:{}:v{version}", before.id),
            text,
            &[
                ("grade_id", before.id.to_string()),
                ("screen", "grades".to_owned()),
            ],
        );
        Ok(vec![event])
    };
    enqueue(conn, &BTreeSet::from([before.student_id]), events, at)
}

/// The outbox rows of attendance marks set on a lesson: (student, mark, the mark's event id).
///
/// # Errors
/// On a database failure.
pub fn enqueue_attendance(
    conn: &mut DbConnection,
    lesson: &Lesson,
    marks: &[(i64, String, i64)],
    at: NaiveDateTime,
) -> Result<usize> {
    if marks.is_empty() {
        return Ok(0);
    }
    let students_: BTreeSet<i64> = marks.iter().map(|(s, _, _)| *s).collect();
    let events = |conn: &mut DbConnection, reached: &BTreeSet<i64>| {
        let names = Names::of_lesson(conn, lesson, reached)?;
        Ok(marks
            .iter()
            .filter(|(student, _, _)| reached.contains(student))
            .map(|(student, mark, event)| {
                let name = names.first_name(*student);
                event_about(
                    lesson,
                    *student,
                    EventKind::AttendanceMarked,
                    format!("attendance:{event}"),
                    Localized::new(|l| {
                        rules::attendance_text(
                            l,
                            name,
                            &names.subject,
                            mark,
                            lesson.lesson_date,
                            lesson.number,
                        )
                    }),
                    &[("mark", mark.clone()), ("screen", "diary".to_owned())],
                )
            })
            .collect())
    };
    enqueue(conn, &students_, events, at)
}

/// A short stable digest of a text (the first 16 hex digits of its SHA-256), for event keys.
fn digest(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Which homework of a lesson is announced.
#[derive(Debug, Clone, Copy)]
pub enum Homework<'a> {
    /// The class's homework, to every student of the lesson.
    Class {
        students: &'a BTreeSet<i64>,
        text: &'a str,
    },
    /// Homework for single students, each told only of their own: (student, text).
    Individual(&'a [(i64, String)]),
}

/// The outbox rows of a lesson's new or changed homework. The event key holds the student
/// and a digest of the text, so the same homework written again (a retry, or changed back)
/// is never announced twice to a device.
///
/// # Errors
/// On a database failure.
pub fn enqueue_homework(
    conn: &mut DbConnection,
    lesson: &Lesson,
    homework: Homework<'_>,
    at: NaiveDateTime,
) -> Result<usize> {
    let (items, individual): (Vec<(i64, &str)>, bool) = match homework {
        Homework::Class { students, text } => {
            (students.iter().map(|s| (*s, text)).collect(), false)
        }
        Homework::Individual(items) => {
            (items.iter().map(|(s, t)| (*s, t.as_str())).collect(), true)
        }
    };
    let students_: BTreeSet<i64> = items.iter().map(|(s, _)| *s).collect();
    let events = |conn: &mut DbConnection, reached: &BTreeSet<i64>| {
        let names = Names::of_lesson(conn, lesson, reached)?;
        let scope = if individual { "own" } else { "class" };
        Ok(items
            .iter()
            .filter(|(student, _)| reached.contains(student))
            .map(|(student, text)| {
                let facts = HomeworkFacts {
                    first_name: names.first_name(*student),
                    subject: &names.subject,
                    lesson_date: lesson.lesson_date,
                    homework: text,
                    individual,
                };
                Event {
                    collapse_key: format!("student-{student}-homework-{}", lesson.id),
                    ..event_about(
                        lesson,
                        *student,
                        EventKind::HomeworkAssigned,
                        format!("homework:{}:{scope}:{student}:{}", lesson.id, digest(text)),
                        Localized::new(|l| rules::homework_text(l, &facts)),
                        &[
                            ("homework", scope.to_owned()),
                            ("screen", "diary".to_owned()),
                        ],
                    )
                }
            })
            .collect())
    };
    enqueue(conn, &students_, events, at)
}

/// The outbox rows of term or year grades set or changed: (student, the grade before, the
/// grade now). Each write is its own event (the key holds the write's time), so a grade
/// changed back is announced again; a grade written again unchanged is no change and never
/// gets here.
///
/// # Errors
/// On a database failure.
pub fn enqueue_final_grades(
    conn: &mut DbConnection,
    school: SchoolId,
    subject: i64,
    period: crate::averages::Period,
    changes: &[(i64, Option<i16>, i16)],
    at: NaiveDateTime,
) -> Result<usize> {
    if changes.is_empty() {
        return Ok(0);
    }
    let students_: BTreeSet<i64> = changes.iter().map(|(s, _, _)| *s).collect();
    let events = |conn: &mut DbConnection, reached: &BTreeSet<i64>| {
        let names = Names::load(conn, school.get(), subject, reached)?;
        let term: Option<(i16, String)> = period
            .term
            .map(|term| {
                terms::table
                    .find(term)
                    .select((terms::ordinal, terms::name))
                    .first(conn)
            })
            .transpose()?;
        let (period_key, mut extra) = match period.term {
            Some(term) => (format!("term-{term}"), vec![("term_id", term.to_string())]),
            None => (format!("year-{}", period.year), Vec::new()),
        };
        extra.extend([
            ("academic_year_id", period.year.to_string()),
            ("screen", "grades".to_owned()),
        ]);
        let written = at.and_utc().timestamp_micros();
        Ok(changes
            .iter()
            .filter(|(student, _, _)| reached.contains(student))
            .map(|&(student, old, new)| {
                let facts = FinalGradeFacts {
                    first_name: names.first_name(student),
                    subject: &names.subject,
                    period: term.as_ref().map_or(FinalPeriod::Year, |(ordinal, name)| {
                        FinalPeriod::Term {
                            ordinal: *ordinal,
                            name,
                        }
                    }),
                    old,
                    new,
                };
                let mut data = extra.clone();
                data.push(("grade", new.to_string()));
                event_in_subject(
                    school.get(),
                    (student, subject),
                    EventKind::TermGradeSet,
                    format!("term_grade:{student}:{subject}:{period_key}:{written}"),
                    Localized::new(|l| rules::final_grade_text(l, &facts)),
                    &data,
                )
            })
            .collect())
    };
    enqueue(conn, &students_, events, at)
}

// ---------------------------------------------------------------------------------------------
// The outbox: dispatching
// ---------------------------------------------------------------------------------------------

/// An outbox row a dispatcher has claimed (holds its lease) and may send.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub school_id: i64,
    pub event_key: String,
    pub device_id: i64,
    pub token: String,
    pub payload: Payload,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

#[derive(Debug, Queryable)]
struct DueRow {
    id: i64,
    school_id: i64,
    event_key: String,
    device_id: i64,
    user_id: i64,
    student_id: i64,
    payload: String,
    attempts: i32,
}

fn log(
    conn: &mut DbConnection,
    school: i64,
    id: i64,
    status: &str,
    detail: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(notification_log::table)
        .values((
            notification_log::school_id.eq(school),
            notification_log::notification_id.eq(id),
            notification_log::status.eq(status),
            notification_log::detail.eq(detail),
            notification_log::occurred_at.eq(at),
        ))
        .execute(conn)
}

/// The token of each claimed row whose recipient may still get it: the device is active,
/// still theirs and under a live session, and they are still a guardian of the student (or
/// the student). Three queries for the whole batch.
fn allowed_tokens(conn: &mut DbConnection, rows: &[DueRow]) -> QueryResult<HashMap<i64, String>> {
    let device_ids: BTreeSet<i64> = rows.iter().map(|r| r.device_id).collect();
    let users: BTreeSet<i64> = rows.iter().map(|r| r.user_id).collect();
    let students_: BTreeSet<i64> = rows.iter().map(|r| r.student_id).collect();
    let live: HashMap<i64, (String, i64)> = devices::table
        .inner_join(sessions::table)
        .filter(devices::id.eq_any(&device_ids))
        .filter(devices::active.eq(1_i16))
        .filter(sessions::revoked_at.is_null())
        .select((devices::id, devices::token, devices::user_id))
        .load::<(i64, String, i64)>(conn)?
        .into_iter()
        .map(|(id, token, owner)| (id, (token, owner)))
        .collect();
    let mut family: BTreeSet<(i64, i64)> = guardianships::table
        .filter(guardianships::parent_user_id.eq_any(&users))
        .filter(guardianships::student_id.eq_any(&students_))
        .select((guardianships::parent_user_id, guardianships::student_id))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let own: Vec<(Option<i64>, i64)> = students::table
        .filter(students::id.eq_any(&students_))
        .filter(students::user_id.eq_any(&users))
        .select((students::user_id, students::id))
        .load(conn)?;
    family.extend(own.into_iter().filter_map(|(u, s)| u.map(|u| (u, s))));
    Ok(rows
        .iter()
        .filter_map(|row| {
            let (token, owner) = live.get(&row.device_id)?;
            (*owner == row.user_id && family.contains(&(row.user_id, row.student_id)))
                .then(|| (row.id, token.clone()))
        })
        .collect())
}

/// Claims up to `limit` due rows (queued or held, due by `now`, not leased) for `lease`:
/// they get `attempts + 1` and `locked_until = now + lease`. On PostgreSQL the rows are
/// picked with `FOR UPDATE SKIP LOCKED`, so concurrent dispatchers take disjoint rows; on
/// SQLite the transaction holds the single write lock. Rows whose recipient may no longer
/// see them are cancelled instead (logged), never returned.
///
/// # Errors
/// On a database failure.
pub fn claim(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
    lease: Duration,
) -> Result<Vec<Claimed>> {
    conn.transaction(|conn| {
        if let DbConnection::Sqlite(sqlite) = conn {
            // Take the write lock before reading, so two dispatchers claim one after the
            // other and the second sees the first one's leases.
            diesel::sql_query("UPDATE notifications SET attempts = attempts WHERE id = -1")
                .execute(sqlite)?;
        }
        // Queued rows first, then held ones whose quiet hours ended: each status is walked in
        // due order along its index, stopping after the batch.
        let mut rows: Vec<DueRow> = Vec::new();
        for status in ["queued", "held"] {
            let room = limit - i64::try_from(rows.len()).unwrap_or(limit);
            if room <= 0 {
                break;
            }
            let due = notifications::table
                .filter(notifications::status.eq(status))
                .filter(notifications::next_attempt_at.le(now))
                .filter(
                    notifications::locked_until
                        .is_null()
                        .or(notifications::locked_until.le(now)),
                )
                .order((
                    notifications::next_attempt_at.asc(),
                    notifications::id.asc(),
                ))
                .limit(room)
                .select((
                    notifications::id,
                    notifications::school_id,
                    notifications::event_key,
                    notifications::device_id,
                    notifications::user_id,
                    notifications::student_id,
                    notifications::payload,
                    notifications::attempts,
                ));
            rows.extend(match conn {
                DbConnection::Pg(pg) => due.for_update().skip_locked().load::<DueRow>(pg)?,
                DbConnection::Sqlite(sqlite) => due.load::<DueRow>(sqlite)?,
            });
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        diesel::update(notifications::table.filter(notifications::id.eq_any(&ids)))
            .set((
                notifications::locked_until.eq(now + lease),
                notifications::attempts.eq(notifications::attempts + 1),
            ))
            .execute(conn)?;
        let mut allowed = allowed_tokens(conn, &rows)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let payload = serde_json::from_str::<Payload>(&row.payload);
            match (allowed.remove(&row.id), payload) {
                (Some(token), Ok(payload)) => claimed.push(Claimed {
                    id: row.id,
                    school_id: row.school_id,
                    event_key: row.event_key,
                    device_id: row.device_id,
                    token,
                    payload,
                    attempts: row.attempts + 1,
                }),
                (None, _) => finish(
                    conn,
                    row.id,
                    row.school_id,
                    "cancelled",
                    None,
                    Some(
                        "the recipient may no longer get it (unlinked, logged out or unregistered)",
                    ),
                    now,
                )?,
                (Some(_), Err(e)) => finish(
                    conn,
                    row.id,
                    row.school_id,
                    "failed",
                    None,
                    Some(&format!("unreadable payload: {e}")),
                    now,
                )?,
            }
        }
        Ok(claimed)
    })
}

fn finish(
    conn: &mut DbConnection,
    id: i64,
    school: i64,
    status: &str,
    message: Option<&str>,
    error: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    set_finished(conn, id, status, message, error, at)?;
    log(conn, school, id, status, message.or(error), at)?;
    Ok(())
}

fn set_finished(
    conn: &mut DbConnection,
    id: i64,
    status: &str,
    message: Option<&str>,
    error: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(notifications::table.find(id))
        .set((
            notifications::status.eq(status),
            notifications::fcm_message.eq(message),
            notifications::last_error.eq(error),
            notifications::locked_until.eq(None::<NaiveDateTime>),
            notifications::finished_at.eq(Some(at)),
        ))
        .execute(conn)
}

/// What sending a claimed row led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// FCM accepted it: its message name.
    Sent(String),
    /// A transient fault: try again at `next`.
    Retry { next: NaiveDateTime, reason: String },
    /// The token is dead (`UNREGISTERED`, invalid): the device is deactivated.
    TokenGone(String),
    /// Refused for good (another 4xx, or too many attempts).
    Failed(String),
}

/// Records what sending each claimed row led to, with its delivery-log entries (one
/// multi-row insert), and releases the leases, in one transaction.
///
/// # Errors
/// On a database failure.
pub fn record(
    conn: &mut DbConnection,
    outcomes: &[(Claimed, Outcome)],
    at: NaiveDateTime,
) -> Result<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    conn.transaction(|conn| {
        let sent: Vec<(i64, &str)> = outcomes
            .iter()
            .filter_map(|(claimed, outcome)| match outcome {
                Outcome::Sent(name) => Some((claimed.id, name.as_str())),
                _ => None,
            })
            .collect();
        mark_sent(conn, &sent, at)?;
        let mut entries = Vec::with_capacity(outcomes.len());
        for (claimed, outcome) in outcomes {
            let (status, detail) = record_one(conn, claimed, outcome, at)?;
            entries.push((
                notification_log::school_id.eq(claimed.school_id),
                notification_log::notification_id.eq(claimed.id),
                notification_log::status.eq(status),
                notification_log::detail.eq(detail),
                notification_log::occurred_at.eq(at),
            ));
        }
        on_backend!(
            conn,
            execute,
            diesel::insert_into(notification_log::table).values(&entries)
        )?;
        Ok(())
    })
}

/// Marks the rows FCM accepted as sent, each with its message name: on PostgreSQL in one
/// statement (the ids and names as arrays), on SQLite row by row (no round trips there).
fn mark_sent(conn: &mut DbConnection, sent: &[(i64, &str)], at: NaiveDateTime) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt, Text, Timestamp};
    if sent.is_empty() {
        return Ok(());
    }
    match conn {
        DbConnection::Pg(pg) => {
            let ids: Vec<i64> = sent.iter().map(|(id, _)| *id).collect();
            let names: Vec<&str> = sent.iter().map(|(_, name)| *name).collect();
            diesel::sql_query(
                "UPDATE notifications AS n SET status = 'sent', fcm_message = v.name, \
                 last_error = NULL, locked_until = NULL, finished_at = $3 \
                 FROM (SELECT unnest($1::bigint[]) AS id, unnest($2::text[]) AS name) AS v \
                 WHERE n.id = v.id",
            )
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Array<Text>, _>(names)
            .bind::<Timestamp, _>(at)
            .execute(pg)?;
        }
        DbConnection::Sqlite(_) => {
            for (id, name) in sent {
                set_finished(conn, *id, "sent", Some(name), None, at)?;
            }
        }
    }
    Ok(())
}

/// Updates one row not sent (the sent ones are marked together by [`mark_sent`]); returns its
/// delivery-log entry (status, detail).
fn record_one<'a>(
    conn: &mut DbConnection,
    claimed: &Claimed,
    outcome: &'a Outcome,
    at: NaiveDateTime,
) -> QueryResult<(&'static str, &'a str)> {
    match outcome {
        Outcome::Sent(name) => Ok(("sent", name)),
        Outcome::Failed(reason) => {
            set_finished(conn, claimed.id, "failed", None, Some(reason), at)?;
            Ok(("failed", reason))
        }
        Outcome::TokenGone(reason) => {
            set_finished(conn, claimed.id, "failed", None, Some(reason), at)?;
            diesel::update(devices::table.find(claimed.device_id))
                .set((
                    devices::active.eq(0_i16),
                    devices::deactivated_reason.eq(reason.as_str()),
                    devices::updated_at.eq(at),
                ))
                .execute(conn)?;
            Ok(("failed", reason))
        }
        Outcome::Retry { next, reason } => {
            diesel::update(notifications::table.find(claimed.id))
                .set((
                    notifications::status.eq("queued"),
                    notifications::next_attempt_at.eq(*next),
                    notifications::last_error.eq(reason.as_str()),
                    notifications::locked_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            Ok(("retry", reason))
        }
    }
}

/// The earliest time a row becomes claimable after `now`'s claim: the earliest due time of
/// the queued or held rows no one holds, or the end of the earliest lease of those someone
/// holds (a dispatcher that died leaves them at its lease's end).
///
/// # Errors
/// On a database failure.
pub fn next_due(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Option<NaiveDateTime>> {
    let mut earliest: Option<NaiveDateTime> = None;
    for status in ["queued", "held"] {
        // The first free row in due order (a walk along the due index, not an aggregate over
        // every waiting row).
        let free: Option<NaiveDateTime> = notifications::table
            .filter(notifications::status.eq(status))
            .filter(
                notifications::locked_until
                    .is_null()
                    .or(notifications::locked_until.le(now)),
            )
            .order(notifications::next_attempt_at.asc())
            .select(notifications::next_attempt_at)
            .first(conn)
            .optional()?;
        earliest = earlier(earliest, free);
    }
    // Only rows being sent hold a lease (finishing or retrying one clears it).
    let leased: Option<NaiveDateTime> = notifications::table
        .filter(notifications::locked_until.gt(now))
        .select(diesel::dsl::min(notifications::locked_until))
        .first(conn)?;
    Ok(earlier(earliest, leased))
}

fn earlier(a: Option<NaiveDateTime>, b: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// PostgreSQL: `LISTEN`s on [`CHANNEL`] on a dedicated connection (a no-op on SQLite, whose
/// dispatchers are woken in process).
///
/// # Errors
/// On a database failure.
pub fn listen(conn: &mut DbConnection) -> Result<()> {
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(pg)?;
    }
    Ok(())
}

/// PostgreSQL: how many notifications arrived on a [`listen`]ing connection since the last
/// call, without blocking (0 on SQLite).
///
/// # Errors
/// When the connection is lost.
pub fn notified(conn: &mut DbConnection) -> Result<usize> {
    let mut count = 0;
    if let DbConnection::Pg(pg) = conn {
        for notification in pg.notifications_iter() {
            notification?;
            count += 1;
        }
    }
    Ok(count)
}
