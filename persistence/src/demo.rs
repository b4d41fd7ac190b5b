//! The demo school: synthetic people and structure for `gradebook serve --demo`.
//!
//! Every name here is made up (never taken from the source documents). Seeding is idempotent:
//! the school is found by its external id and created once, in one transaction.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::Connection;
use domain::{ClassLabel, DateRange, Name, SchoolId, TermDates};

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
        Ok(DemoSummary {
            school,
            created: true,
        })
    })
}
