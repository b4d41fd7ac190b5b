//! The access matrix: every operation of the OpenAPI document, called by every kind of caller,
//! on its own resources and on others', gets the answer the rules give.
//!
//! The operations are enumerated from the document the server serves, so an endpoint added
//! without a row here fails the test. The expected answers are written out below as tables,
//! independently of `domain::access`: they are the product's rules in one place.
//!
//! Callers: anonymous, a student, a parent, a subject teacher of 5А, the class teacher of 5А,
//! the school's administrator, an administrator of another school, the municipality's
//! administrator, and integrators of the school with and without the scope an operation needs.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::Method;
use api::auth::tokens::sha256_hex;
use chrono::Utc;
use diesel::prelude::*;
use domain::access::Tenancy;
use domain::{
    ClassId, ClassLabel, DateRange, MunicipalityId, SchoolId, StudentId, SubjectId, UserId,
};
use persistence::people::{self, NewStudent, NewUser, Role, RoleScope};
use persistence::{DbConnection, integrators, journal, schools};
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, on_both_backends};

on_both_backends!(every_operation_answers_every_caller_as_the_rules_say);

/// The kinds of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    Student,
    Parent,
    Teacher,
    ClassTeacher,
    SchoolAdmin,
    OtherSchoolAdmin,
    MunicipalityAdmin,
    IntegratorWithScope,
    IntegratorWithoutScope,
}

const EVERYONE: [Who; 10] = [
    Who::Anonymous,
    Who::Student,
    Who::Parent,
    Who::Teacher,
    Who::ClassTeacher,
    Who::SchoolAdmin,
    Who::OtherSchoolAdmin,
    Who::MunicipalityAdmin,
    Who::IntegratorWithScope,
    Who::IntegratorWithoutScope,
];

/// What an answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 200, 201 or 204.
    Ok,
    /// 401.
    Unauthenticated,
    /// 403.
    Forbidden,
    /// 404: as if the resource did not exist.
    Hidden,
}

use Expect::{Forbidden as F, Hidden as H, Ok as A, Unauthenticated as U};

/// Which rule governs an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Open to anyone; the answer does not depend on the caller.
    Public,
    /// About the calling person's own account.
    OwnAccount,
    /// A school's administration; targets: the school, a school that does not exist.
    ManageSchool,
    /// A municipality's administration; targets: the municipality, one that does not exist.
    ManageMunicipality,
    /// Reading a student's roster data; targets below.
    ReadStudent,
    /// Reading a class's roster; targets below.
    ReadClass,
    /// Writing a lesson's plan or grades; targets: 5А and 7В in the subject the teacher
    /// teaches in 5А, a class of the other school, a missing one.
    WriteLesson,
    /// Reading a school's full ranking; targets: the school, the other school, a missing one.
    ReadSchoolRanking,
    /// Following a student's events on one's phone (notification preferences, the
    /// notifications about them): the family only; targets as for [`Rule::ReadStudent`].
    FollowStudent,
    /// About the calling person's own notifications: parents and students only (the others
    /// get none).
    OwnNotifications,
    /// A school's reports; targets: the school, a school that does not exist.
    ReadSchoolReports,
    /// A municipality's reports; targets: the municipality, one that does not exist.
    ReadMunicipalityReports,
}

/// The targets of each rule, in column order.
fn targets(rule: Rule) -> &'static [&'static str] {
    match rule {
        Rule::Public | Rule::OwnAccount | Rule::OwnNotifications => &["-"],
        Rule::ManageSchool => &["school", "missing school"],
        Rule::ManageMunicipality | Rule::ReadMunicipalityReports => {
            &["municipality", "missing municipality"]
        }
        Rule::ReadSchoolReports => &["school", "missing school"],
        Rule::ReadSchoolRanking => &["school", "other school", "missing school"],
        Rule::ReadStudent | Rule::FollowStudent => &[
            "student of 5А in the family",
            "student of 7В outside the family",
            "student of the other school",
            "missing student",
        ],
        Rule::ReadClass => &["5А", "7В", "class of the other school", "missing class"],
        Rule::WriteLesson => &[
            "5А in the teacher's subject",
            "7В in that subject",
            "class of the other school",
            "missing",
        ],
    }
}

/// The rules, as tables: one row per caller, one column per target.
fn expected(rule: Rule, who: Who) -> Vec<Expect> {
    use Who::*;
    match rule {
        Rule::Public => vec![A],
        Rule::OwnAccount => match who {
            Anonymous => vec![U],
            IntegratorWithScope | IntegratorWithoutScope => vec![F],
            _ => vec![A],
        },
        Rule::OwnNotifications => match who {
            Anonymous => vec![U],
            Student | Parent => vec![A],
            _ => vec![F],
        },
        Rule::ManageSchool => match who {
            Anonymous => vec![U, U],
            SchoolAdmin => vec![A, H],
            OtherSchoolAdmin => vec![H, H],
            _ => vec![F, F],
        },
        Rule::ManageMunicipality => match who {
            Anonymous => vec![U, U],
            MunicipalityAdmin => vec![A, H],
            _ => vec![F, F],
        },
        // Both integrators of the world hold `reports:read`.
        Rule::ReadSchoolReports => match who {
            Anonymous => vec![U, U],
            SchoolAdmin | MunicipalityAdmin | IntegratorWithScope | IntegratorWithoutScope => {
                vec![A, H]
            }
            OtherSchoolAdmin => vec![H, H],
            _ => vec![F, F],
        },
        // The integrators are the school's, not the municipality's.
        Rule::ReadMunicipalityReports => match who {
            Anonymous => vec![U, U],
            MunicipalityAdmin => vec![A, H],
            IntegratorWithScope | IntegratorWithoutScope => vec![H, H],
            _ => vec![F, F],
        },
        //                                           family 7В   other missing
        Rule::ReadStudent => match who {
            Anonymous => vec![U, U, U, U],
            Student | Parent => vec![A, H, H, H],
            Teacher | ClassTeacher => vec![A, H, H, H],
            SchoolAdmin | MunicipalityAdmin | IntegratorWithScope => vec![A, A, H, H],
            OtherSchoolAdmin => vec![H, H, A, H],
            IntegratorWithoutScope => vec![F, F, F, F],
        },
        //                                            5А  7В   other missing
        Rule::ReadClass => match who {
            Anonymous => vec![U, U, U, U],
            Student | Parent | IntegratorWithoutScope => vec![F, F, F, F],
            Teacher | ClassTeacher => vec![A, H, H, H],
            SchoolAdmin | MunicipalityAdmin | IntegratorWithScope => vec![A, A, H, H],
            OtherSchoolAdmin => vec![H, H, A, H],
        },
        //                                           5А  7В   other missing
        Rule::WriteLesson => match who {
            Anonymous => vec![U, U, U, U],
            Student | Parent | MunicipalityAdmin | IntegratorWithoutScope => vec![F, F, F, F],
            Teacher => vec![A, H, H, H],
            // The class teacher of 5А sees its journal but does not teach this subject.
            ClassTeacher => vec![F, H, H, H],
            SchoolAdmin | IntegratorWithScope => vec![A, A, H, H],
            OtherSchoolAdmin => vec![H, H, A, H],
        },
        //                                           school other missing
        Rule::ReadSchoolRanking => match who {
            Anonymous => vec![U, U, U],
            Student | Parent | IntegratorWithoutScope => vec![F, F, F],
            Teacher | ClassTeacher | SchoolAdmin | MunicipalityAdmin | IntegratorWithScope => {
                vec![A, H, H]
            }
            OtherSchoolAdmin => vec![H, A, H],
        },
        //                                           family 7В   other missing
        Rule::FollowStudent => match who {
            Anonymous => vec![U, U, U, U],
            Student | Parent => vec![A, H, H, H],
            _ => vec![F, F, F, F],
        },
    }
}

/// The rule of each operation of the document, by operationId. A new operation must be added
/// here, with a request that exercises it.
fn rule_of(operation: &str) -> Option<Rule> {
    Some(match operation {
        "get_liveness" | "get_readiness" | "get_api_index" | "post_login" | "post_refresh"
        | "post_token" | "post_activate" => Rule::Public,
        "get_me" | "create_link_code" | "post_logout" | "list_my_lessons" | "register_device"
        | "list_devices" | "unregister_device" | "put_my_language" => Rule::OwnAccount,
        "get_notification_preferences" | "put_notification_preferences" | "list_notifications" => {
            Rule::FollowStudent
        }
        "mark_notifications_read" => Rule::OwnNotifications,
        "get_student"
        | "get_grade_history"
        | "get_grade"
        | "get_diary"
        | "get_student_averages"
        | "get_student_rank"
        | "get_student_forecast" => Rule::ReadStudent,
        "list_class_students"
        | "get_lesson"
        | "get_attendance_history"
        | "get_journal_page"
        | "list_class_groups"
        | "get_timetable"
        | "get_class_ranking"
        | "get_final_grades"
        | "export_class_journal" => Rule::ReadClass,
        "create_lesson"
        | "grade_lesson"
        | "patch_grade"
        | "delete_grade"
        | "put_attendance"
        | "patch_lesson"
        | "put_individual_homework"
        | "put_final_grades" => Rule::WriteLesson,
        "list_people"
        | "create_people"
        | "get_person"
        | "grant_role"
        | "revoke_role"
        | "issue_activation_code"
        | "link_guardian"
        | "link_guardian_by_code"
        | "unlink_guardian"
        | "list_teaching_assignments"
        | "create_teaching_assignment"
        | "delete_teaching_assignment"
        | "register_school_integrator"
        | "list_school_integrators"
        | "revoke_school_integrator"
        | "list_school_audit_events"
        | "lock_term"
        | "unlock_term"
        | "create_class_group"
        | "put_group_members"
        | "put_timetable"
        | "generate_lessons"
        | "list_holidays"
        | "create_holiday"
        | "delete_holiday"
        | "move_student"
        | "get_grading"
        | "create_grade_scale"
        | "create_work_type"
        | "put_grading_rule"
        | "import_roster" => Rule::ManageSchool,
        "get_school_ranking" => Rule::ReadSchoolRanking,
        "get_academic_report"
        | "get_class_summary"
        | "get_attendance_report"
        | "get_activity_report" => Rule::ReadSchoolReports,
        "get_municipality_academic_report" | "get_municipality_activity_report" => {
            Rule::ReadMunicipalityReports
        }
        "register_municipality_integrator"
        | "list_municipality_integrators"
        | "revoke_municipality_integrator"
        | "list_municipality_audit_events" => Rule::ManageMunicipality,
        _ => return None,
    })
}

const MISSING: i64 = 987_654_321;

/// The world the matrix runs in.
struct World {
    school: SchoolId,
    other_school: SchoolId,
    municipality: MunicipalityId,
    class_5a: ClassId,
    class_7v: ClassId,
    other_class: ClassId,
    family_student: StudentId,
    outside_student: StudentId,
    other_student: StudentId,
    subject: SubjectId,
    other_subject: SubjectId,
    other_teacher: UserId,
    /// Lessons in 5А, 7В (the teacher's subject) and in the other school.
    lessons: [i64; 3],
    /// A grade of the family's student, of the 7В student, of the other school's student.
    grades: [i64; 3],
    /// The demo's last term (no lesson of the world falls in it), to lock and unlock.
    last_term: i64,
    /// The other school's term.
    other_term: i64,
    /// The term of the world's lessons (never locked by the matrix).
    open_term: i64,
    /// A person of the school to look at.
    some_teacher: UserId,
    admin: UserId,
    muni_admin: UserId,
    tokens: BTreeMap<Who, String>,
}

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn user(conn: &mut DbConnection, login: &str, password: Option<&str>) -> UserId {
    let hash = password.map(|pw| ok(api::password::hash(pw)));
    ok(people::insert_user(
        conn,
        NewUser {
            login,
            display_name: login,
            password_hash: hash.as_deref(),
            now: Utc::now().naive_utc(),
        },
    ))
}

fn find_user(conn: &mut DbConnection, login: &str) -> UserId {
    UserId(
        ok(people::find_user_by_login(conn, login))
            .unwrap_or_else(|| panic!("no {login}"))
            .id,
    )
}

fn client(
    conn: &mut DbConnection,
    name: &str,
    tenancy: Tenancy,
    scopes: &str,
    by: UserId,
) -> (String, String) {
    let client_id = format!("matrix-{name}");
    let secret = format!("secret-of-{name}-0123456789abcdef");
    ok(integrators::register(
        conn,
        &integrators::NewClient {
            client_id: &client_id,
            secret_hash: &sha256_hex(&secret),
            name,
            tenancy,
            scopes,
            created_by: by,
            at: Utc::now().naive_utc(),
        },
    ));
    (client_id, secret)
}

async fn world(app: &TestApp) -> World {
    let mut conn = ok(app.pool().get());
    let conn = &mut conn;
    use persistence::schema::classes;
    let school = ok(schools::find_school_by_external_id(conn, "demo-school-1"))
        .unwrap_or_else(|| panic!("no demo school"));
    let municipality = MunicipalityId(school.municipality_id);
    let school = SchoolId(school.id);
    let class_ids: Vec<(i64, i16, String)> = ok(classes::table
        .filter(classes::school_id.eq(school.get()))
        .select((classes::id, classes::grade_level, classes::letter))
        .load(conn));
    let class = |level: i16, letter: &str| {
        ClassId(
            class_ids
                .iter()
                .find(|(_, l, x)| *l == level && x == letter)
                .unwrap_or_else(|| panic!("no class {level}{letter}"))
                .0,
        )
    };
    let (class_5a, class_7v) = (class(5, "А"), class(7, "В"));
    let today = Utc::now().date_naive();
    let parent = find_user(conn, "demo-parent");
    let family: BTreeSet<i64> = ok(people::children_of(conn, parent))
        .iter()
        .map(|s| s.id)
        .collect();
    let student_user = find_user(conn, "demo-student");
    let family_student = ok(people::children_of(conn, parent))
        .into_iter()
        .find(|s| s.user_id == Some(student_user.get()))
        .map(|s| StudentId(s.id))
        .unwrap_or_else(|| panic!("demo-student is no child of demo-parent"));
    let outside_student = ok(people::class_students(conn, class_7v, today))
        .into_iter()
        .find(|s| !family.contains(&s.id))
        .map(|s| StudentId(s.id))
        .unwrap_or_else(|| panic!("7В is empty"));
    let subject: SubjectId = SubjectId(ok(persistence::schema::subjects::table
        .filter(persistence::schema::subjects::school_id.eq(school.get()))
        .select(persistence::schema::subjects::id)
        .order(persistence::schema::subjects::id.desc())
        .first(conn)));

    // The other school, in another municipality.
    let other_municipality = ok(schools::insert_municipality(conn, "Другой округ"));
    let other_school = ok(schools::insert_school(
        conn,
        other_municipality,
        "Другая школа",
        None,
    ));
    // Fixed dates inside the demo's second term, whatever day the test runs.
    let from = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or_default();
    let lesson_day = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
    let year = ok(schools::insert_academic_year(
        conn,
        other_school,
        "2026/2027",
        ok(DateRange::new(
            from,
            from + chrono::Duration::days(300),
            366,
        )),
    ));
    let other_term = ok(schools::insert_term(
        conn,
        other_school,
        year,
        1,
        "1 полугодие",
        ok(domain::TermDates::new(
            from,
            from + chrono::Duration::days(150),
        )),
    ))
    .get();
    let other_class = ok(schools::insert_class(
        conn,
        other_school,
        year,
        &ok(ClassLabel::new(6, "А")),
    ));
    let other_student = ok(people::insert_student(
        conn,
        NewStudent {
            school: other_school,
            user: None,
            last_name: "Тестова",
            first_name: "Вера",
            middle_name: None,
            external_id: None,
        },
    ));
    ok(people::enroll(
        conn,
        other_school,
        other_class,
        other_student,
        from,
    ));
    ok(journal::ensure_grading_defaults(conn, other_school));
    let other_subject = ok(schools::insert_subject(
        conn,
        other_school,
        &ok(domain::Name::parse("История")),
    ));
    let other_teacher = user(conn, "matrix-other-teacher", None);
    ok(people::assign_role(
        conn,
        other_teacher,
        Role::Teacher,
        RoleScope::School(other_school),
    ));

    // The callers the demo lacks.
    let password = "matrix-password";
    let teacher = user(conn, "matrix-teacher", Some(password));
    ok(people::assign_role(
        conn,
        teacher,
        Role::Teacher,
        RoleScope::School(school),
    ));
    ok(people::assign_teaching(
        conn,
        school,
        teacher,
        class_5a,
        subject,
        Utc::now().naive_utc(),
    ));
    let class_teacher = user(conn, "matrix-class-teacher", Some(password));
    ok(people::assign_role(
        conn,
        class_teacher,
        Role::ClassTeacher,
        RoleScope::Class(school, class_5a),
    ));
    let other_admin = user(conn, "matrix-other-admin", Some(password));
    ok(people::assign_role(
        conn,
        other_admin,
        Role::SchoolAdmin,
        RoleScope::School(other_school),
    ));
    let muni_admin = user(conn, "matrix-muni-admin", Some(password));
    ok(people::assign_role(
        conn,
        muni_admin,
        Role::MunicipalityAdmin,
        RoleScope::Municipality(municipality),
    ));
    let admin = find_user(conn, "demo-admin");
    let lesson = |conn: &mut DbConnection, school, class, subject, teacher| {
        ok(journal::insert_lesson(
            conn,
            &journal::NewLesson {
                school,
                class,
                subject,
                teacher,
                date: lesson_day,
                number: 1,
                room: None,
                topic: None,
                homework: None,
                group: None,
                at: Utc::now().naive_utc(),
            },
        ))
    };
    let lessons = [
        lesson(conn, school, class_5a, subject, teacher),
        lesson(conn, school, class_7v, subject, teacher),
        lesson(
            conn,
            other_school,
            other_class,
            other_subject,
            other_teacher,
        ),
    ];
    let mut grades = [0_i64; 3];
    for (i, (lesson, student)) in lessons
        .iter()
        .zip([family_student, outside_student, other_student])
        .enumerate()
    {
        let graded = grade_four(conn, lesson, admin, &format!("world-{i}"), student);
        assert!(matches!(graded, journal::Graded::Written(_)));
        grades[i] = ok(journal::lesson_grades(conn, lesson.id))[0].id;
    }
    let lessons = lessons.map(|l| l.id);
    let with_scope = client(
        conn,
        "with-scope",
        Tenancy::School(school),
        "grades:read grades:write attendance:read attendance:write roster:read reports:read",
        admin,
    );
    let without_scope = client(
        conn,
        "without-scope",
        Tenancy::School(school),
        "reports:read",
        admin,
    );

    let mut tokens = BTreeMap::new();
    for (who, login, pw) in [
        (Who::Student, "demo-student", "demo-password"),
        (Who::Parent, "demo-parent", "demo-password"),
        (Who::SchoolAdmin, "demo-admin", "demo-password"),
        (Who::Teacher, "matrix-teacher", password),
        (Who::ClassTeacher, "matrix-class-teacher", password),
        (Who::OtherSchoolAdmin, "matrix-other-admin", password),
        (Who::MunicipalityAdmin, "matrix-muni-admin", password),
    ] {
        let reply = app.login(login, pw).await;
        assert_eq!(reply.status, 200, "login {login}");
        tokens.insert(
            who,
            reply.json()["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    for (who, (id, secret)) in [
        (Who::IntegratorWithScope, with_scope),
        (Who::IntegratorWithoutScope, without_scope),
    ] {
        let reply = app.client_token(&id, &secret, None).await;
        assert_eq!(reply.status, 200, "token for {id}");
        tokens.insert(
            who,
            reply.json()["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    tokens.insert(Who::Anonymous, String::new());
    World {
        school,
        other_school,
        municipality,
        class_5a,
        class_7v,
        other_class,
        family_student,
        outside_student,
        other_student,
        subject,
        other_subject,
        other_teacher,
        lessons,
        grades,
        last_term: ok(schools::list_terms(conn, school))
            .last()
            .map(|t| t.id)
            .unwrap_or_else(|| panic!("the demo has no terms")),
        other_term,
        open_term: ok(schools::term_on(conn, school, lesson_day))
            .map(|t| t.id)
            .unwrap_or_else(|| panic!("no term holds the lesson day")),
        some_teacher: teacher,
        admin,
        muni_admin,
        tokens,
    }
}

/// A request for one operation on one target; `n` makes fresh names unique. Resources an
/// allowed call would use up (a role to revoke, a client to revoke) are made fresh each time.
fn request(
    operation: &str,
    target: usize,
    world: &World,
    conn: &mut DbConnection,
    n: usize,
) -> (String, Option<Value>) {
    let s = if target == 0 {
        world.school.get()
    } else {
        MISSING
    };
    let m = if target == 0 {
        world.municipality.get()
    } else {
        MISSING
    };
    let now = Utc::now().naive_utc();
    let fresh_user = |conn: &mut DbConnection, role: Option<Role>| {
        let u = user(conn, &format!("matrix-fresh-{n}"), None);
        if let Some(role) = role {
            ok(people::assign_role(
                conn,
                u,
                role,
                RoleScope::School(world.school),
            ));
        }
        u
    };
    let v1 = "/api/v1";
    match operation {
        "get_liveness" => ("/health/live".into(), None),
        "get_readiness" => ("/health/ready".into(), None),
        "get_api_index" => (v1.into(), None),
        // Bodies that are refused before any credential is checked, so that the throttle of
        // failed logins does not change the answer between callers.
        "post_login" => (format!("{v1}/auth/login"), Some(json!({"login": ""}))),
        "post_refresh" => (
            format!("{v1}/auth/refresh"),
            Some(json!({"refresh_token": "not-a-token"})),
        ),
        "post_activate" => (format!("{v1}/auth/activate"), Some(json!({"code": ""}))),
        "post_token" => (format!("{v1}/auth/token"), None),
        "get_me" => (format!("{v1}/me"), None),
        "create_link_code" => (format!("{v1}/me/link-codes"), None),
        "put_my_language" => (
            format!("{v1}/me/language"),
            Some(json!({"language": "ru"})),
        ),
        "mark_notifications_read" => (
            format!("{v1}/notifications/read"),
            Some(json!({"up_to": 1})),
        ),
        "post_logout" => (format!("{v1}/auth/logout"), None),
        "register_device" => (
            format!("{v1}/devices"),
            Some(json!({"token": format!("matrix-device-{n}"), "platform": "android", "app": "my_diary"})),
        ),
        "list_devices" => (format!("{v1}/devices"), None),
        // The caller's own device id is put in by the loop, which registers one first.
        "unregister_device" => (format!("{v1}/devices/{MISSING}"), None),
        "get_notification_preferences" | "put_notification_preferences" | "list_notifications" => {
            let id = [
                world.family_student.get(),
                world.outside_student.get(),
                world.other_student.get(),
                MISSING,
            ][target];
            if operation == "list_notifications" {
                return (format!("{v1}/notifications?student_id={id}"), None);
            }
            (
                format!("{v1}/students/{id}/notification-preferences"),
                (operation == "put_notification_preferences").then(|| {
                    json!({"new_grade": true, "changed_grade": true, "attendance": false,
                           "homework": true, "term_grade": true, "quiet_hours": null})
                }),
            )
        }
        "get_student" => {
            let id = [
                world.family_student.get(),
                world.outside_student.get(),
                world.other_student.get(),
                MISSING,
            ][target];
            (format!("{v1}/students/{id}"), None)
        }
        "list_class_students" => {
            let id = [
                world.class_5a.get(),
                world.class_7v.get(),
                world.other_class.get(),
                MISSING,
            ][target];
            (format!("{v1}/classes/{id}/students"), None)
        }
        "list_people" => (format!("{v1}/schools/{s}/people"), None),
        "create_people" => (
            format!("{v1}/schools/{s}/people"),
            Some(json!({"people": [{
                "login": format!("matrix-new-{n}"),
                "display_name": "Новый сотрудник",
                "roles": [{"role": "teacher"}]
            }]})),
        ),
        "get_person" => (
            format!("{v1}/schools/{s}/people/{}", world.some_teacher.get()),
            None,
        ),
        "grant_role" => {
            let u = fresh_user(conn, Some(Role::Parent));
            (
                format!("{v1}/schools/{s}/people/{}/roles", u.get()),
                Some(json!({"role": "teacher"})),
            )
        }
        "revoke_role" => {
            let u = fresh_user(conn, Some(Role::Teacher));
            let role: i64 = ok(persistence::schema::role_assignments::table
                .filter(persistence::schema::role_assignments::user_id.eq(u.get()))
                .select(persistence::schema::role_assignments::id)
                .first(conn));
            (
                format!("{v1}/schools/{s}/people/{}/roles/{role}", u.get()),
                None,
            )
        }
        "issue_activation_code" => (
            format!(
                "{v1}/schools/{s}/people/{}/activation-code",
                world.some_teacher.get()
            ),
            None,
        ),
        "link_guardian" => {
            let u = fresh_user(conn, Some(Role::Parent));
            (
                format!(
                    "{v1}/schools/{s}/students/{}/guardians/{}",
                    world.outside_student.get(),
                    u.get()
                ),
                None,
            )
        }
        "link_guardian_by_code" => {
            // A fresh code of a fresh account, as its holder would issue it.
            let u = fresh_user(conn, None);
            let (code, hash) = api::auth::credentials::new_link_code();
            let expires_at = now + chrono::Duration::hours(1);
            let code_row = persistence::admin::NewCode { hash, expires_at };
            ok(persistence::link_codes::issue(conn, u, &code_row, now));
            (
                format!(
                    "{v1}/schools/{s}/students/{}/guardians",
                    world.outside_student.get()
                ),
                Some(json!({ "link_code": code })),
            )
        }
        "unlink_guardian" => {
            let u = fresh_user(conn, Some(Role::Parent));
            ok(people::link_guardian(
                conn,
                world.school,
                u,
                world.outside_student,
            ));
            (
                format!(
                    "{v1}/schools/{s}/students/{}/guardians/{}",
                    world.outside_student.get(),
                    u.get()
                ),
                None,
            )
        }
        "list_teaching_assignments" => (format!("{v1}/schools/{s}/teaching-assignments"), None),
        "create_teaching_assignment" => {
            let u = fresh_user(conn, Some(Role::Teacher));
            (
                format!("{v1}/schools/{s}/teaching-assignments"),
                Some(json!({
                    "teacher_id": u.get(),
                    "class_id": world.class_7v.get(),
                    "subject_id": world.subject.get()
                })),
            )
        }
        "delete_teaching_assignment" => {
            let u = fresh_user(conn, Some(Role::Teacher));
            ok(people::assign_teaching(
                conn,
                world.school,
                u,
                world.class_7v,
                world.subject,
                now,
            ));
            let id: i64 = ok(persistence::schema::teaching_assignments::table
                .filter(persistence::schema::teaching_assignments::teacher_user_id.eq(u.get()))
                .select(persistence::schema::teaching_assignments::id)
                .first(conn));
            (format!("{v1}/schools/{s}/teaching-assignments/{id}"), None)
        }
        "register_school_integrator" => (
            format!("{v1}/schools/{s}/integrators"),
            Some(json!({"name": "Столовая", "scopes": ["attendance:read"]})),
        ),
        "list_school_integrators" => (format!("{v1}/schools/{s}/integrators"), None),
        "revoke_school_integrator" => {
            let name = format!("fresh-{n}");
            let (client_id, _) = client(
                conn,
                &name,
                Tenancy::School(world.school),
                "roster:read",
                world.admin,
            );
            (
                format!(
                    "{v1}/schools/{s}/integrators/{}",
                    client_pk(conn, &client_id)
                ),
                None,
            )
        }
        "list_school_audit_events" => (format!("{v1}/schools/{s}/audit-events"), None),
        "register_municipality_integrator" => (
            format!("{v1}/municipalities/{m}/integrators"),
            Some(json!({"name": "Региональная система", "scopes": ["reports:read"]})),
        ),
        "list_municipality_integrators" => (format!("{v1}/municipalities/{m}/integrators"), None),
        "revoke_municipality_integrator" => {
            let name = format!("fresh-{n}");
            let (client_id, _) = client(
                conn,
                &name,
                Tenancy::Municipality(world.municipality),
                "reports:read",
                world.muni_admin,
            );
            (
                format!(
                    "{v1}/municipalities/{m}/integrators/{}",
                    client_pk(conn, &client_id)
                ),
                None,
            )
        }
        "list_municipality_audit_events" => (format!("{v1}/municipalities/{m}/audit-events"), None),
        "get_lesson" => {
            let id = world.lessons.get(target).copied().unwrap_or(MISSING);
            (format!("{v1}/lessons/{id}"), None)
        }
        "lock_term" | "unlock_term" => (
            format!("{v1}/schools/{s}/terms/{}/lock", world.last_term),
            None,
        ),
        "get_attendance_history" => {
            let id = world.lessons.get(target).copied().unwrap_or(MISSING);
            (format!("{v1}/lessons/{id}/attendance/history"), None)
        }
        "put_attendance" => {
            let (lesson, student) = match target {
                0 => (world.lessons[0], world.family_student),
                1 => (world.lessons[1], world.outside_student),
                2 => (world.lessons[2], world.other_student),
                _ => (MISSING, world.family_student),
            };
            let mark = ["absent", "late"][n % 2];
            (
                format!("{v1}/lessons/{lesson}/attendance"),
                Some(json!({"marks": [{"student_id": student.get(), "mark": mark}]})),
            )
        }
        "get_grade" => {
            let id = world.grades.get(target).copied().unwrap_or(MISSING);
            (format!("{v1}/grades/{id}"), None)
        }
        "patch_grade" | "delete_grade" => {
            let id = if target < 3 {
                fresh_grade(conn, world, target, n)
            } else {
                MISSING
            };
            let body = (operation == "patch_grade").then(|| json!({"value": 3}));
            (format!("{v1}/grades/{id}"), body)
        }
        "get_grade_history" => {
            // Targets: the family's student, the 7В student, the other school's, missing.
            let id = world.grades.get(target).copied().unwrap_or(MISSING);
            (format!("{v1}/grades/{id}/history"), None)
        }
        "create_lesson" => {
            let (class, subject, teacher) = match target {
                0 => (world.class_5a.get(), world.subject, world.some_teacher),
                1 => (world.class_7v.get(), world.subject, world.some_teacher),
                2 => (
                    world.other_class.get(),
                    world.other_subject,
                    world.other_teacher,
                ),
                _ => (MISSING, world.subject, world.some_teacher),
            };
            (
                format!("{v1}/classes/{class}/lessons"),
                Some(json!({
                    "date": "2026-11-24",
                    "number": 3,
                    "subject_id": subject.get(),
                    "teacher_id": teacher.get()
                })),
            )
        }
        "grade_lesson" => {
            let (lesson, student) = match target {
                0 => (world.lessons[0], world.family_student),
                1 => (world.lessons[1], world.outside_student),
                2 => (world.lessons[2], world.other_student),
                _ => (MISSING, world.family_student),
            };
            let school = if target == 2 {
                ok(journal::find_lesson(conn, lesson)).school_id
            } else {
                world.school.get()
            };
            let work_type = ok(journal::work_types(conn, SchoolId(school)))[0].id;
            (
                format!("{v1}/lessons/{lesson}/grades"),
                Some(json!({"grades": [{
                    "client_id": format!("matrix-{n}"),
                    "student_id": student.get(),
                    "work_type_id": work_type,
                    "value": 5
                }]})),
            )
        }
        "list_my_lessons" => (format!("{v1}/me/lessons?from=2026-11-23&to=2026-11-29"), None),
        "get_diary" => {
            let id = [
                world.family_student.get(),
                world.outside_student.get(),
                world.other_student.get(),
                MISSING,
            ][target];
            (
                format!("{v1}/students/{id}/diary?from=2026-11-23&to=2026-11-29"),
                None,
            )
        }
        "get_journal_page" | "list_class_groups" | "get_timetable" => {
            let (class, subject) = match target {
                0 => (world.class_5a.get(), world.subject),
                1 => (world.class_7v.get(), world.subject),
                2 => (world.other_class.get(), world.other_subject),
                _ => (MISSING, world.subject),
            };
            let path = match operation {
                "get_journal_page" => format!(
                    "{v1}/classes/{class}/journal?subject_id={}&from=2026-11-01&to=2026-11-30",
                    subject.get()
                ),
                "list_class_groups" => format!("{v1}/classes/{class}/groups"),
                _ => format!("{v1}/classes/{class}/timetable"),
            };
            (path, None)
        }
        "patch_lesson" => {
            let id = world.lessons.get(target).copied().unwrap_or(MISSING);
            (
                format!("{v1}/lessons/{id}"),
                Some(json!({"topic": format!("Тема {n}")})),
            )
        }
        "put_individual_homework" => {
            let (lesson, student) = match target {
                0 => (world.lessons[0], world.family_student),
                1 => (world.lessons[1], world.outside_student),
                2 => (world.lessons[2], world.other_student),
                _ => (MISSING, world.family_student),
            };
            (
                format!("{v1}/lessons/{lesson}/individual-homework"),
                Some(json!({"items": [{"student_id": student.get(), "homework": format!("Упражнение {n}")}]})),
            )
        }
        "create_class_group" | "put_group_members" | "put_timetable" | "generate_lessons" => {
            let class = if target == 0 {
                world.class_5a.get()
            } else {
                MISSING
            };
            match operation {
                "create_class_group" => (
                    format!("{v1}/classes/{class}/groups"),
                    Some(json!({"subject_id": world.subject.get(), "name": format!("Группа {n}")})),
                ),
                "put_group_members" => {
                    let actor = persistence::admin::Actor {
                        school: world.school,
                        user: world.admin,
                        at: now,
                    };
                    let group = ok(persistence::timetable::create_group(
                        conn,
                        &actor,
                        world.class_5a,
                        world.subject,
                        &format!("Группа {n}"),
                        &[],
                    ));
                    (
                        format!("{v1}/classes/{class}/groups/{}/members", group.id),
                        Some(json!({"student_ids": [world.family_student.get()]})),
                    )
                }
                "put_timetable" => (
                    format!("{v1}/classes/{class}/timetable"),
                    Some(json!({
                        "effective_from": "2027-06-01",
                        "slots": [{
                            "weekday": 1 + (n % 5),
                            "number": 2,
                            "subject_id": world.subject.get(),
                            "teacher_id": world.some_teacher.get()
                        }]
                    })),
                ),
                _ => (
                    format!("{v1}/classes/{class}/timetable/lessons"),
                    Some(json!({"term_id": world.last_term})),
                ),
            }
        }
        "list_holidays" | "create_holiday" => (
            format!("{v1}/schools/{s}/holidays"),
            (operation == "create_holiday").then(|| {
                json!({"name": format!("Каникулы {n}"), "starts_on": "2027-01-01", "ends_on": "2027-01-08"})
            }),
        ),
        "delete_holiday" => {
            let actor = persistence::admin::Actor {
                school: world.school,
                user: world.admin,
                at: now,
            };
            let (holiday, _) = ok(persistence::timetable::add_holiday(
                conn,
                &actor,
                &format!("Каникулы {n}"),
                ok(DateRange::new(
                    chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default(),
                    chrono::NaiveDate::from_ymd_opt(2027, 1, 8).unwrap_or_default(),
                    30,
                )),
            ));
            (format!("{v1}/schools/{s}/holidays/{}", holiday.id), None)
        }
        "move_student" => {
            let student = ok(people::insert_student(
                conn,
                NewStudent {
                    school: world.school,
                    user: None,
                    last_name: "Новенький",
                    first_name: "Пётр",
                    middle_name: None,
                    external_id: None,
                },
            ));
            ok(people::enroll(
                conn,
                world.school,
                world.class_7v,
                student,
                chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or_default(),
            ));
            (
                format!("{v1}/schools/{s}/students/{}/enrollments", student.get()),
                Some(json!({"class_id": world.class_5a.get(), "from": "2026-12-01"})),
            )
        }
        "get_student_averages" | "get_student_rank" => {
            let (id, term) = [
                (world.family_student.get(), world.last_term),
                (world.outside_student.get(), world.last_term),
                (world.other_student.get(), world.other_term),
                (MISSING, world.last_term),
            ][target];
            let what = if operation == "get_student_rank" {
                "rank"
            } else {
                "averages"
            };
            (format!("{v1}/students/{id}/{what}?term_id={term}"), None)
        }
        "get_student_forecast" => {
            let (id, term, subject) = [
                (world.family_student.get(), world.last_term, world.subject),
                (world.outside_student.get(), world.last_term, world.subject),
                (world.other_student.get(), world.other_term, world.other_subject),
                (MISSING, world.last_term, world.subject),
            ][target];
            (
                format!(
                    "{v1}/students/{id}/forecast?term_id={term}&subject_id={}&target=5",
                    subject.get()
                ),
                None,
            )
        }
        "get_final_grades" | "put_final_grades" => {
            let (class, term, subject, student) = [
                (world.class_5a.get(), world.open_term, world.subject, world.family_student),
                (world.class_7v.get(), world.open_term, world.subject, world.outside_student),
                (world.other_class.get(), world.other_term, world.other_subject, world.other_student),
                (MISSING, world.open_term, world.subject, world.family_student),
            ][target];
            if operation == "get_final_grades" {
                (
                    format!(
                        "{v1}/classes/{class}/final-grades?subject_id={}&term_id={term}",
                        subject.get()
                    ),
                    None,
                )
            } else {
                (
                    format!("{v1}/classes/{class}/final-grades"),
                    Some(json!({"subject_id": subject.get(), "term_id": term, "reason": "matrix",
                                "grades": [{"student_id": student.get(), "grade": 3 + (n % 3)}]})),
                )
            }
        }
        "get_class_ranking" => {
            let (class, term) = [
                (world.class_5a.get(), world.last_term),
                (world.class_7v.get(), world.last_term),
                (world.other_class.get(), world.other_term),
                (MISSING, world.last_term),
            ][target];
            (format!("{v1}/classes/{class}/ranking?term_id={term}"), None)
        }
        "get_grading" => (format!("{v1}/schools/{s}/grading"), None),
        "put_grading_rule" => (
            format!("{v1}/schools/{s}/grading/rule"),
            Some(json!({"threshold": 50, "min_grades": 3})),
        ),
        "get_school_ranking" => {
            let (school, term) = [
                (world.school.get(), world.last_term),
                (world.other_school.get(), world.other_term),
                (MISSING, world.last_term),
            ][target];
            (format!("{v1}/schools/{school}/ranking?term_id={term}"), None)
        }
        "create_grade_scale" => (
            format!("{v1}/schools/{s}/grade-scales"),
            Some(json!({"name": format!("Шкала {n}"), "min_points": 1, "max_points": 10})),
        ),
        "create_work_type" => (
            format!("{v1}/schools/{s}/work-types"),
            Some(json!({"name": format!("Работа {n}"), "weight": 2})),
        ),
        // A dry run: the demo's students carry roster ids, and a real import of one student
        // would unenrol all the others.
        "import_roster" => (
            format!("{v1}/schools/{s}/imports/roster"),
            Some(json!({
                "classes": "class_id;grade;letter\nmatrix-5a;5;А\n",
                "students": "student_id;last_name;first_name;middle_name;class_id\nmatrix-1;Тестов;Тест;;matrix-5a\n",
                "on": "2026-11-23",
                "dry_run": true,
            })),
        ),
        "export_class_journal" => {
            let (class, term) = [
                (world.class_5a.get(), world.open_term),
                (world.class_7v.get(), world.open_term),
                (world.other_class.get(), world.other_term),
                (MISSING, world.open_term),
            ][target];
            (
                format!("{v1}/classes/{class}/journal/export?term_id={term}"),
                None,
            )
        }
        "get_academic_report" => (
            format!("{v1}/schools/{s}/reports/academic?term_id={}", world.open_term),
            None,
        ),
        "get_attendance_report" => (
            format!("{v1}/schools/{s}/reports/attendance?term_id={}", world.open_term),
            None,
        ),
        "get_class_summary" => (
            format!(
                "{v1}/schools/{s}/reports/class-summary?term_id={}&class_id={}",
                world.open_term,
                world.class_5a.get()
            ),
            None,
        ),
        "get_activity_report" => (
            format!("{v1}/schools/{s}/reports/activity?from=2026-11-16&to=2026-11-22"),
            None,
        ),
        "get_municipality_academic_report" => (
            format!("{v1}/municipalities/{m}/reports/academic?on=2026-11-23"),
            None,
        ),
        "get_municipality_activity_report" => (
            format!("{v1}/municipalities/{m}/reports/activity?from=2026-11-16&to=2026-11-22"),
            None,
        ),
        other => panic!("no request is written for operation {other}"),
    }
}

/// A new grade in the world's lesson `target` (of its student); returns its id.
fn fresh_grade(conn: &mut DbConnection, world: &World, target: usize, n: usize) -> i64 {
    let lesson = ok(journal::find_lesson(conn, world.lessons[target]));
    let student = [
        world.family_student,
        world.outside_student,
        world.other_student,
    ][target];
    grade_four(conn, &lesson, world.admin, &format!("fresh-{n}"), student);
    ok(journal::lesson_grades(conn, lesson.id))
        .iter()
        .find(|g| g.client_id == format!("fresh-{n}"))
        .map(|g| g.id)
        .unwrap_or_else(|| panic!("no fresh grade"))
}

/// Gives `student` a 4 in `lesson` (the school's first work type and scale), as `by`, with
/// `key` as both the idempotency key and the client id.
fn grade_four(
    conn: &mut DbConnection,
    lesson: &journal::Lesson,
    by: UserId,
    key: &str,
    student: StudentId,
) -> journal::Graded {
    let school = SchoolId(lesson.school_id);
    let work_type = ok(journal::work_types(conn, school))[0].id;
    let scale = ok(journal::scales(conn, school))[0].id;
    let weighing = ok(persistence::averages::Weighing::load(
        conn,
        lesson.school_id,
    ));
    ok(journal::give_grades(
        conn,
        lesson,
        journal::Actor::Person(by),
        &journal::GradeRequest {
            idempotency: &journal::Idempotency {
                key: key.to_owned(),
                request_hash: String::new(),
            },
            grades: &[journal::NewGrade {
                student,
                work_type,
                scale,
                value: "4".into(),
                comment: None,
                client_id: key.to_owned(),
            }],
            weighing: &weighing,
            reason: None,
            locked_term_cleared: false,
        },
        Utc::now().naive_utc(),
        &|_| journal::StoredAnswer {
            status: 201,
            body: String::new(),
        },
    ))
}

fn client_pk(conn: &mut DbConnection, client_id: &str) -> i64 {
    use persistence::schema::integrator_clients as ic;
    ok(ic::table
        .filter(ic::client_id.eq(client_id))
        .select(ic::id)
        .first(conn))
}

/// (method, path template, operationId) of every operation of the served document.
fn operations() -> Vec<(Method, String, String)> {
    let doc = ok(serde_json::to_value(api::openapi::document()));
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().cloned().unwrap_or_default() {
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            out.push((method, path.clone(), id));
        }
    }
    // Logging out ends the caller's session: it goes last.
    out.sort_by_key(|(_, _, id)| (id == "post_logout", id.clone()));
    out
}

fn matches(expect: Expect, status: u16) -> bool {
    match expect {
        Expect::Ok => matches!(status, 200 | 201 | 204),
        Expect::Unauthenticated => status == 401,
        Expect::Forbidden => status == 403,
        Expect::Hidden => status == 404,
    }
}

async fn every_operation_answers_every_caller_as_the_rules_say(backend: Backend) {
    let app = TestApp::new(backend).with_demo();
    let world = world(&app).await;
    let operations = operations();
    assert!(
        operations.len() >= 30,
        "the document lists {} operations",
        operations.len()
    );

    let unruled: Vec<&str> = operations
        .iter()
        .filter(|(_, _, id)| rule_of(id).is_none())
        .map(|(_, _, id)| id.as_str())
        .collect();
    assert!(
        unruled.is_empty(),
        "operations without a rule in the access matrix: {unruled:?}"
    );

    let mut failures = Vec::new();
    let mut checked = 0_usize;
    let mut n = 0_usize;
    for (method, template, id) in &operations {
        let Some(rule) = rule_of(id) else { continue };
        for (column, target) in targets(rule).iter().enumerate() {
            let mut public_answer = None;
            for who in EVERYONE {
                n += 1;
                let (path, body) = {
                    let mut conn = ok(app.pool().get());
                    request(id, column, &world, &mut conn, n)
                };
                let token = &world.tokens[&who];
                let reply = if id == "post_token" {
                    app.call(
                        actix_web::test::TestRequest::post()
                            .uri(&path)
                            .set_form([("grant_type", "password")]),
                    )
                    .await
                } else if matches!(id.as_str(), "grade_lesson" | "patch_grade" | "delete_grade") {
                    let grade = path.rsplit('/').next().unwrap_or_default();
                    let mut request = actix_web::test::TestRequest::default()
                        .method(method.clone())
                        .uri(&path)
                        .insert_header(("Idempotency-Key", format!("matrix-{n}")))
                        .insert_header(("If-Match", format!("\"g{grade}v1\"")));
                    if !token.is_empty() {
                        request =
                            request.insert_header(("Authorization", format!("Bearer {token}")));
                    }
                    if let Some(body) = &body {
                        request = request.set_json(body);
                    }
                    app.call(request).await
                } else if id == "unregister_device" {
                    // The caller's own device: registered first (a caller who cannot register
                    // one asks for a missing id).
                    let registered = app
                        .post_as(
                            token,
                            "/api/v1/devices",
                            &json!({"token": format!("matrix-own-{n}"), "platform": "ios", "app": "my_diary"}),
                        )
                        .await;
                    let device = if registered.status == 201 {
                        registered.json()["id"].as_i64().unwrap_or(MISSING)
                    } else {
                        MISSING
                    };
                    app.send_as(
                        token,
                        method.clone(),
                        &format!("/api/v1/devices/{device}"),
                        None,
                    )
                    .await
                } else {
                    app.send_as(token, method.clone(), &path, body.as_ref())
                        .await
                };
                let status = reply.status.as_u16();
                checked += 1;
                if status >= 400 {
                    assert_eq!(
                        reply.header("content-type"),
                        Some("application/problem+json"),
                        "{id} as {who:?}: an error must be a problem"
                    );
                }
                let expect = expected(rule, who)[column];
                if rule == Rule::Public {
                    // The same answer for everyone, whatever it is.
                    let first = *public_answer.get_or_insert(status);
                    if first != status {
                        failures.push(format!(
                            "{method} {template} ({id}) as {who:?}: {status}, the others {first}"
                        ));
                    }
                    continue;
                }
                if !matches(expect, status) {
                    failures.push(format!(
                        "{method} {template} ({id}) on {target} as {who:?}: expected {expect:?}, got {status}: {}",
                        String::from_utf8_lossy(&reply.body)
                    ));
                }
                if matches!(expect, Expect::Hidden) && status == 404 {
                    // A hidden resource is answered exactly like a missing one.
                    let body = reply.json();
                    if body["code"] != "not_found" || body.get("detail").is_some() {
                        failures.push(format!("{id} as {who:?}: the 404 says more: {body}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} calls answered against the rules:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
