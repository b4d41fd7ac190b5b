//! The school structure and the demo school through the persistence API, on both backends.

use chrono::NaiveDate;
use domain::{ClassLabel, DateRange, Name, SchoolId, TermDates, UserId};
use persistence::people::{self, NewUser};
use persistence::{PersistenceError, demo, schools};

use crate::support::{Backend, TestDb, on_both_backends};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("bad date"))
}

fn now() -> chrono::NaiveDateTime {
    date(2026, 11, 23).and_hms_opt(9, 0, 0).unwrap_or_default()
}

on_both_backends!(
    the_demo_school_is_seeded_once,
    the_structure_reads_back_in_order,
    duplicates_and_dangling_references_are_conflicts,
);

async fn the_demo_school_is_seeded_once(backend: Backend) {
    let db = TestDb::migrated(backend);
    let pool = db.pool();
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    let calls = std::cell::Cell::new(0);
    let hash = |pw: &str| {
        calls.set(calls.get() + 1);
        format!("hashed:{pw}")
    };
    let first = demo::seed(&mut conn, now(), &hash).unwrap_or_else(|e| panic!("{e}"));
    assert!(first.created);
    assert_eq!(
        calls.get(),
        demo::DEMO_LOGINS.len(),
        "one hash per demo account"
    );
    let again = demo::seed(&mut conn, now(), &hash).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        again,
        demo::DemoSummary {
            school: first.school,
            created: false
        }
    );

    for login in demo::DEMO_LOGINS {
        let user = people::find_user_by_login(&mut conn, login)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{login} missing"));
        assert_eq!(user.password_hash.as_deref(), Some("hashed:demo-password"));
        assert!(user.activated_at.is_some(), "{login} is activated");
    }
    let parent = people::find_user_by_login(&mut conn, "demo-parent")
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!());
    let children =
        people::children_of(&mut conn, UserId(parent.id)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(children.len(), 2, "demo-parent has two children");
    let student = people::find_user_by_login(&mut conn, "demo-student")
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!());
    assert!(
        children.iter().any(|c| c.user_id == Some(student.id)),
        "demo-student is demo-parent's child"
    );
    let teacher = people::find_user_by_login(&mut conn, "demo-teacher")
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!());
    assert_eq!(
        people::role_names(&mut conn, UserId(teacher.id)).unwrap_or_default(),
        vec!["class_teacher".to_owned(), "teacher".to_owned()]
    );

    let classes = schools::list_classes(&mut conn, first.school).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(classes.len(), 3);
    for class in &classes {
        let roster =
            people::class_students(&mut conn, domain::ClassId(class.id), date(2026, 11, 23))
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            roster.len() >= 12,
            "class {} has {} students",
            class.id,
            roster.len()
        );
        assert!(
            people::class_students(&mut conn, domain::ClassId(class.id), date(2026, 8, 31))
                .unwrap_or_default()
                .is_empty(),
            "nobody is enrolled before the year starts"
        );
    }
    let term = schools::term_on(&mut conn, first.school, date(2026, 11, 23))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(term.map(|t| t.ordinal), Some(2));
    assert!(
        schools::term_on(&mut conn, first.school, date(2026, 11, 1))
            .unwrap_or_default()
            .is_none(),
        "autumn holidays"
    );
}

async fn the_structure_reads_back_in_order(backend: Backend) {
    let db = TestDb::migrated(backend);
    let pool = db.pool();
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    let municipality =
        schools::insert_municipality(&mut conn, "Округ").unwrap_or_else(|e| panic!("{e}"));
    let school = schools::insert_school(&mut conn, municipality, "Школа", None)
        .unwrap_or_else(|e| panic!("{e}"));
    let year = schools::insert_academic_year(
        &mut conn,
        school,
        "2026/2027",
        DateRange::new(date(2026, 9, 1), date(2027, 5, 31), 366).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for (ordinal, from, to) in [
        (2, date(2027, 1, 10), date(2027, 5, 31)),
        (1, date(2026, 9, 1), date(2026, 12, 28)),
    ] {
        let dates = TermDates::new(from, to).unwrap_or_else(|e| panic!("{e}"));
        schools::insert_term(
            &mut conn,
            school,
            year,
            ordinal,
            &format!("{ordinal} полугодие"),
            dates,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    for (level, letter) in [(10, "б"), (5, "А"), (10, "А")] {
        let label = ClassLabel::new(level, letter).unwrap_or_else(|e| panic!("{e}"));
        schools::insert_class(&mut conn, school, year, &label).unwrap_or_else(|e| panic!("{e}"));
    }
    for subject in ["Химия", "Алгебра"] {
        schools::insert_subject(
            &mut conn,
            school,
            &Name::parse(subject).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let terms: Vec<i16> = schools::list_terms(&mut conn, school)
        .unwrap_or_default()
        .iter()
        .map(|t| t.ordinal)
        .collect();
    assert_eq!(terms, vec![1, 2]);
    let classes: Vec<String> = schools::list_classes(&mut conn, school)
        .unwrap_or_default()
        .iter()
        .map(|c| format!("{}{}", c.grade_level, c.letter))
        .collect();
    assert_eq!(classes, vec!["5А", "10А", "10Б"]);
    let subjects: Vec<String> = schools::list_subjects(&mut conn, school)
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(subjects, vec!["Алгебра", "Химия"]);
    assert!(matches!(
        schools::find_school(&mut conn, SchoolId(school.get() + 1000)),
        Err(PersistenceError::NotFound)
    ));
}

async fn duplicates_and_dangling_references_are_conflicts(backend: Backend) {
    let db = TestDb::migrated(backend);
    let pool = db.pool();
    let mut conn = pool.get().unwrap_or_else(|e| panic!("{e}"));
    let municipality =
        schools::insert_municipality(&mut conn, "Округ").unwrap_or_else(|e| panic!("{e}"));
    let school = schools::insert_school(&mut conn, municipality, "Школа", None)
        .unwrap_or_else(|e| panic!("{e}"));
    let name = Name::parse("Физика").unwrap_or_else(|e| panic!("{e}"));
    schools::insert_subject(&mut conn, school, &name).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        schools::insert_subject(&mut conn, school, &name),
        Err(PersistenceError::Conflict(_))
    ));
    // Foreign keys are enforced on SQLite too (the pragma is set on every connection).
    let missing = SchoolId(school.get() + 1000);
    assert!(matches!(
        schools::insert_subject(&mut conn, missing, &name),
        Err(PersistenceError::Conflict(_))
    ));
    let new = NewUser {
        login: "same",
        display_name: "A",
        password_hash: None,
        now: now(),
    };
    people::insert_user(&mut conn, new).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        people::insert_user(&mut conn, new),
        Err(PersistenceError::Conflict(_))
    ));
}
