//! The demo school: synthetic people and structure for `gradebook serve --demo`.
//!
//! Every name here is made up (never taken from the source documents). Seeding is idempotent:
//! the school is found by its external id and created once, in one transaction.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::Connection;
use domain::{
    ClassId, ClassLabel, DateRange, Name, SchoolId, StudentId, SubjectId, TermDates, UserId,
};

use crate::admin::Actor;

use crate::people::{self, NewStudent, NewUser, Role, RoleScope};
use crate::schools;
use crate::{DbConnection, PersistenceError, Result};

/// The external id that marks the demo school.
pub const DEMO_SCHOOL_EXTERNAL_ID: &str = "demo-school-1";
/// The logins of the demo accounts; all share [`DEMO_PASSWORD`].
pub const DEMO_LOGINS: [&str; 4] = ["demo-admin", "demo-teacher", "demo-parent", "demo-student"];
/// The password of every demo account. Demo mode only.
pub const DEMO_PASSWORD: &str = "demo-password";

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSummary {
    pub school: SchoolId,
    /// False when the demo school was already there.
    pub created: bool,
}

const SURNAMES: [&str; 24] = [
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
    "Григорьев",
    "Романов",
    "Фролов",
    "Дмитриев",
    "Гусев",
    "Ильин",
    "Максимов",
    "Поляков",
];
const BOYS: [&str; 8] = [
    "Артём",
    "Иван",
    "Михаил",
    "Лев",
    "Матвей",
    "Егор",
    "Тимофей",
    "Кирилл",
];
const GIRLS: [&str; 8] = [
    "Софья",
    "Мария",
    "Анна",
    "Виктория",
    "Полина",
    "Алиса",
    "Ева",
    "Варвара",
];
const SUBJECTS: [&str; 8] = [
    "Русский язык",
    "Литература",
    "Математика",
    "Английский язык",
    "История",
    "Биология",
    "География",
    "Физическая культура",
];

fn date(y: i32, m: u32, d: u32) -> Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
        .ok_or_else(|| PersistenceError::Migration(format!("bad demo date {y}-{m}-{d}")))
}

fn invalid(e: impl std::fmt::Display) -> PersistenceError {
    PersistenceError::Migration(format!("demo data is invalid: {e}"))
}

/// Seeds the demo school unless it exists. `hash_password` is called once per demo account
/// with [`DEMO_PASSWORD`] and returns the stored hash.
///
/// # Errors
/// On a database failure; nothing is left half written.
pub fn seed(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    hash_password: &dyn Fn(&str) -> String,
) -> Result<DemoSummary> {
    conn.transaction(|conn| {
        if let Some(school) = schools::find_school_by_external_id(conn, DEMO_SCHOOL_EXTERNAL_ID)? {
            return Ok(DemoSummary {
                school: SchoolId(school.id),
                created: false,
            });
        }
        let municipality =
            schools::insert_municipality(conn, "Демонстрационный муниципальный округ")?;
        let school = schools::insert_school(
            conn,
            municipality,
            "Демонстрационная школа № 1",
            Some(DEMO_SCHOOL_EXTERNAL_ID),
        )?;
        let year_dates =
            DateRange::new(date(2026, 9, 1)?, date(2027, 5, 31)?, 366).map_err(invalid)?;
        let year = schools::insert_academic_year(conn, school, "2026/2027", year_dates)?;
        let quarters = [
            (date(2026, 9, 1)?, date(2026, 10, 25)?),
            (date(2026, 11, 5)?, date(2026, 12, 28)?),
            (date(2027, 1, 12)?, date(2027, 3, 21)?),
            (date(2027, 4, 1)?, date(2027, 5, 31)?),
        ];
        for (ordinal, (from, to)) in (1_i16..).zip(quarters) {
            let dates = TermDates::new(from, to).map_err(invalid)?;
            schools::insert_term(
                conn,
                school,
                year,
                ordinal,
                &format!("{ordinal} четверть"),
                dates,
            )?;
        }
        crate::journal::ensure_grading_defaults(conn, school)?;
        let mut subjects = Vec::new();
        for subject in SUBJECTS {
            subjects.push(schools::insert_subject(
                conn,
                school,
                &Name::parse(subject).map_err(invalid)?,
            )?);
        }
        let mut classes = Vec::new();
        for (level, letter) in [(5, "А"), (5, "Б"), (7, "В")] {
            let label = ClassLabel::new(level, letter).map_err(invalid)?;
            classes.push(schools::insert_class(conn, school, year, &label)?);
        }
        let enrolled_on = year_dates.from();

        let account = |conn: &mut DbConnection, login: &str, name: &str| {
            let hash = hash_password(DEMO_PASSWORD);
            people::insert_user(
                conn,
                NewUser {
                    login,
                    display_name: name,
                    password_hash: Some(&hash),
                    now,
                },
            )
        };
        let admin = account(conn, "demo-admin", "Ольга Викторовна Орлова")?;
        people::assign_role(conn, admin, Role::SchoolAdmin, RoleScope::School(school))?;
        let teacher = account(conn, "demo-teacher", "Анна Сергеевна Лебедева")?;
        people::assign_role(conn, teacher, Role::Teacher, RoleScope::School(school))?;
        if let Some(&first_class) = classes.first() {
            people::assign_role(
                conn,
                teacher,
                Role::ClassTeacher,
                RoleScope::Class(school, first_class),
            )?;
        }
        // demo-teacher teaches the first subject in every class: a working day end to end.
        if let Some(&subject) = subjects.first() {
            for &class in &classes {
                people::assign_teaching(conn, school, teacher, class, subject, now)?;
            }
        }
        let parent = account(conn, "demo-parent", "Дмитрий Павлович Соколов")?;
        people::assign_role(conn, parent, Role::Parent, RoleScope::School(school))?;
        let student_user = account(conn, "demo-student", "Максим Соколов")?;
        people::assign_role(conn, student_user, Role::Student, RoleScope::School(school))?;

        // demo-student in 5A, and a sibling in 7V: a parent of two children.
        let family = [(0_usize, "Максим", Some(student_user)), (2, "Алиса", None)];
        for (class_index, first_name, user) in family {
            let last_name = if user.is_some() {
                "Соколов"
            } else {
                "Соколова"
            };
            let student = people::insert_student(
                conn,
                NewStudent {
                    school,
                    user,
                    last_name,
                    first_name,
                    middle_name: Some(if user.is_some() {
                        "Дмитриевич"
                    } else {
                        "Дмитриевна"
                    }),
                    external_id: None,
                },
            )?;
            if let Some(&class) = classes.get(class_index) {
                people::enroll(conn, school, class, student, enrolled_on)?;
            }
            people::link_guardian(conn, school, parent, student)?;
        }

        // Other teachers and classmates have accounts that are not yet activated.
        let mut teachers = vec![(subjects.first().copied(), teacher)];
        for (n, subject) in SUBJECTS.iter().enumerate().skip(1).step_by(2) {
            let login = format!("teacher-{n}");
            let name = format!("Учитель ({subject})");
            let user = people::insert_user(
                conn,
                NewUser {
                    login: &login,
                    display_name: &name,
                    password_hash: None,
                    now,
                },
            )?;
            people::assign_role(conn, user, Role::Teacher, RoleScope::School(school))?;
            teachers.push((subjects.get(n).copied(), user));
            if let Some(&subject) = subjects.get(n) {
                for &class in &classes {
                    people::assign_teaching(conn, school, user, class, subject, now)?;
                }
            }
        }
        let mut n = 0_usize;
        for &class in &classes {
            for i in 0..12_usize {
                n += 1;
                let surname = SURNAMES[(n * 7) % SURNAMES.len()];
                let girl = i % 2 == 1;
                let (first, last) = if girl {
                    (GIRLS[n % GIRLS.len()], format!("{surname}а"))
                } else {
                    (BOYS[n % BOYS.len()], surname.to_owned())
                };
                let external_id = format!("demo-student-{n}");
                let student = people::insert_student(
                    conn,
                    NewStudent {
                        school,
                        user: None,
                        last_name: &last,
                        first_name: first,
                        middle_name: None,
                        external_id: Some(&external_id),
                    },
                )?;
                people::enroll(conn, school, class, student, enrolled_on)?;
                let parent_login = format!("parent-{n}");
                let parent_name = format!("Родитель: {last} {first}");
                let parent = people::insert_user(
                    conn,
                    NewUser {
                        login: &parent_login,
                        display_name: &parent_name,
                        password_hash: None,
                        now,
                    },
                )?;
                people::assign_role(conn, parent, Role::Parent, RoleScope::School(school))?;
                people::link_guardian(conn, school, parent, student)?;
            }
        }
        let demo_student = people::children_of(conn, parent)?
            .into_iter()
            .find(|s| s.user_id == Some(student_user.get()))
            .map(|s| StudentId(s.id));
        let timetable = DemoTimetable {
            school,
            admin,
            classes: [classes.first().copied(), classes.get(2).copied()],
            teachers,
            student: demo_student,
        };
        timetable.seed(conn, now)?;
        // The demo is the school's starting point, not a change anyone made: its audit trail
        // starts empty.
        {
            use crate::schema::audit_events;
            use diesel::prelude::*;
            diesel::delete(audit_events::table.filter(audit_events::school_id.eq(school.get())))
                .execute(conn)?;
        }
        Ok(DemoSummary {
            school,
            created: true,
        })
    })
}

/// The timetables of 5А and 7В (demo-teacher's Russian every day, other subjects around it,
/// one alternating-week slot), the year's holidays, and the lessons of the term holding
/// `now`; demo-teacher's past lessons in 5А are filled in and demo-student graded, so the
/// diary has something to show.
struct DemoTimetable {
    school: SchoolId,
    admin: UserId,
    classes: [Option<ClassId>; 2],
    /// (subject, teacher), demo-teacher's subject first.
    teachers: Vec<(Option<SubjectId>, UserId)>,
    student: Option<StudentId>,
}

impl DemoTimetable {
    /// Per weekday, lessons 1 to 4 of 5А as indexes into `teachers`; 7В swaps lessons 1 and 2
    /// and lessons 3 and 4, so that no teacher is in two places at once.
    const WEEK: [[usize; 4]; 5] = [
        [0, 1, 2, 3],
        [0, 4, 1, 2],
        [0, 3, 1, 4],
        [0, 2, 1, 3],
        [0, 4, 1, 2],
    ];

    fn seed(&self, conn: &mut DbConnection, now: NaiveDateTime) -> Result<()> {
        use crate::timetable::{self as tt, NewSlot};
        use domain::timetable::Weeks;
        let actor = Actor {
            school: self.school,
            user: self.admin,
            at: now,
        };
        for (name, from, to) in [
            ("Осенние каникулы", date(2026, 10, 26)?, date(2026, 11, 4)?),
            ("Зимние каникулы", date(2026, 12, 29)?, date(2027, 1, 11)?),
            ("Весенние каникулы", date(2027, 3, 22)?, date(2027, 3, 31)?),
        ] {
            tt::add_holiday(
                conn,
                &actor,
                name,
                DateRange::new(from, to, 30).map_err(invalid)?,
            )?;
        }
        let term = schools::term_on(conn, self.school, now.date())?;
        for (index, class) in self.classes.iter().enumerate() {
            let Some(class) = *class else { continue };
            let mut slots = Vec::new();
            for (day, lessons) in (1_i16..).zip(Self::WEEK) {
                for (position, teacher) in lessons.into_iter().enumerate() {
                    let number = if index == 0 { position } else { position ^ 1 };
                    let (weeks, teacher) = match (day, position) {
                        // Friday's third lesson alternates between two subjects.
                        (5, 3) => (Weeks::Odd, teacher),
                        _ => (Weeks::Every, teacher),
                    };
                    slots.extend(self.slot(teacher, day, number, weeks));
                    if day == 5 && position == 3 {
                        slots.extend(self.slot(3, day, number, Weeks::Even));
                    }
                }
            }
            let slots: Vec<NewSlot> = slots;
            tt::replace_timetable(conn, &actor, class, &slots, now.date())?;
            if let Some(term) = &term {
                let range = DateRange::new(term.starts_on, term.ends_on, 366).map_err(invalid)?;
                tt::generate_lessons(conn, &actor, class, range)?;
            }
        }
        if let (Some(class), Some(term), Some((Some(subject), teacher))) =
            (self.classes[0], &term, self.teachers.first())
        {
            self.fill_past(conn, class, *subject, *teacher, term.starts_on, now)?;
        }
        Ok(())
    }

    fn slot(
        &self,
        teacher: usize,
        weekday: i16,
        position: usize,
        weeks: domain::timetable::Weeks,
    ) -> Option<crate::timetable::NewSlot> {
        let (subject, teacher) = self.teachers.get(teacher)?;
        Some(crate::timetable::NewSlot {
            group: None,
            subject: (*subject)?,
            teacher: *teacher,
            weekday,
            number: i16::try_from(position).ok()? + 1,
            weeks,
            room: Some(format!("{}", 201 + position)),
        })
    }

    /// Topics, homework and held marks for demo-teacher's past lessons in the class, and a
    /// grade for demo-student in every other one.
    fn fill_past(
        &self,
        conn: &mut DbConnection,
        class: ClassId,
        subject: SubjectId,
        teacher: UserId,
        from: NaiveDate,
        now: NaiveDateTime,
    ) -> Result<()> {
        use crate::journal::{self, Actor as By, Idempotency, NewGrade, StoredAnswer};
        use crate::lessons::{LessonPatch, update_lesson};
        use crate::schema::lessons;
        use diesel::prelude::*;
        let past: Vec<i64> = lessons::table
            .filter(lessons::class_id.eq(class.get()))
            .filter(lessons::subject_id.eq(subject.get()))
            .filter(lessons::lesson_date.ge(from))
            .filter(lessons::lesson_date.lt(now.date()))
            .order((lessons::lesson_date, lessons::number))
            .select(lessons::id)
            .load(conn)?;
        let work_type = journal::work_types(conn, self.school)?
            .first()
            .map(|w| w.id);
        let scale = journal::scales(conn, self.school)?
            .into_iter()
            .find(|s| s.is_default)
            .map(|s| s.id);
        for (n, id) in past.into_iter().enumerate() {
            let lesson = journal::find_lesson(conn, id)?;
            let patch = LessonPatch {
                topic: Some(Some(format!("Тема урока {}", n + 1))),
                homework: Some(Some(format!("Упражнение {}", 100 + n))),
                held: Some(true),
                ..LessonPatch::default()
            };
            update_lesson(
                conn,
                &lesson,
                &patch,
                None,
                crate::Expected::Anything,
                By::Person(teacher),
                now,
            )?;
            let (Some(student), Some(work_type), Some(scale)) = (self.student, work_type, scale)
            else {
                continue;
            };
            if n % 2 == 1 {
                continue;
            }
            let weighing = crate::averages::Weighing::load(conn, lesson.school_id)?;
            journal::give_grades(
                conn,
                &lesson,
                By::Person(teacher),
                &journal::GradeRequest {
                    idempotency: &Idempotency {
                        key: format!("demo-{id}"),
                        request_hash: String::new(),
                    },
                    grades: &[NewGrade {
                        student,
                        work_type,
                        scale,
                        value: if n % 4 == 0 { "5" } else { "4" }.to_owned(),
                        comment: None,
                        client_id: format!("demo-{id}"),
                    }],
                    weighing: &weighing,
                    reason: None,
                    locked_term_cleared: false,
                },
                now,
                &|_| StoredAnswer {
                    status: 201,
                    body: String::new(),
                },
            )?;
        }
        Ok(())
    }
}
