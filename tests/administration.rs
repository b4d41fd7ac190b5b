//! A school's administration through HTTP: accounts in bulk with activation codes, roles,
//! parents' links (by id, and with a link code the parent issued), teaching assignments, the
//! people list, the audit trail, and integrator clients with their client-credentials tokens.

use std::collections::BTreeSet;
use std::future::Future;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use api::auth::tokens::sha256_hex;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{NaiveDate, Utc};
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use domain::{ClassId, ClassLabel, DateRange, MunicipalityId, SchoolId, UserId};
use persistence::people::{self, NewStudent, NewUser, Role, RoleScope};
use persistence::schema::{account_link_codes, classes};
use persistence::schools;
use serde_json::{Value, json};

use crate::support::app::Reply;
use crate::support::{Backend, TestApp, on_both_backends};

on_both_backends!(
    bulk_creation_is_all_or_nothing,
    activation_sets_the_password_once,
    a_new_code_supersedes_the_old_one_and_resets_a_password,
    roles_are_granted_once_and_revoked_once,
    guardians_are_linked_and_unlinked,
    a_teaching_assignment_opens_the_class_to_its_teacher,
    the_people_list_pages_without_repeats_or_gaps,
    the_audit_trail_names_every_change_newest_first,
    school_integrators_reach_their_school_within_their_scopes,
    the_token_endpoint_refuses_by_the_oauth_rules,
    municipality_integrators_reach_every_school_of_the_municipality,
    an_administrator_cannot_take_over_an_account_beyond_the_school,
    another_schools_account_is_answered_as_missing,
    a_kept_code_resets_nothing_once_the_account_reaches_beyond_the_school,
    failed_token_requests_do_not_lock_out_logins,
    a_parent_of_another_school_is_linked_with_their_code,
    wrong_used_and_expired_link_codes_are_refused_alike,
    every_list_in_the_contract_refuses_a_page_over_its_maximum,
);

/// The demo school, its administrator's token, and the ids the tests need.
struct Demo {
    app: TestApp,
    admin: String,
    admin_id: i64,
    school: i64,
    municipality: i64,
    /// 5А, 5Б, 7В.
    classes: Vec<i64>,
    /// Each class's students today: (student id, account id), by name.
    rosters: Vec<Vec<(i64, Option<i64>)>>,
    math: i64,
}

fn must<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

async fn demo(backend: Backend) -> Demo {
    let app = TestApp::new(backend).with_demo();
    let (admin, _) = app.tokens("demo-admin").await;
    let me = read(&app, &admin, "/api/v1/me").await;
    let school = num(&me["schools"][0], "id");
    let mut conn = must(app.pool().get());
    let municipality = must(schools::find_school(&mut conn, SchoolId(school))).municipality_id;
    let classes: Vec<i64> = must(schools::list_classes(&mut conn, SchoolId(school)))
        .iter()
        .map(|c| c.id)
        .collect();
    let today = Utc::now().date_naive();
    let rosters = classes
        .iter()
        .map(|&c| {
            let students = must(people::class_students(&mut conn, ClassId(c), today));
            students.iter().map(|s| (s.id, s.user_id)).collect()
        })
        .collect();
    let subjects = must(schools::list_subjects(&mut conn, SchoolId(school)));
    let math = subjects
        .iter()
        .find(|s| s.name == "Математика")
        .map(|s| s.id);
    drop(conn);
    assert_eq!(classes.len(), 3);
    Demo {
        admin_id: num(&me, "id"),
        math: math.unwrap_or_else(|| panic!("no maths")),
        app,
        admin,
        school,
        municipality,
        classes,
        rosters,
    }
}

impl Demo {
    fn at(&self, rest: &str) -> String {
        format!("/api/v1/schools/{}{rest}", self.school)
    }

    /// A student of 5Б: nobody there has an account or a parent with one.
    fn free_student(&self, n: usize) -> i64 {
        self.rosters[1][n].0
    }

    async fn get(&self, rest: &str) -> Reply {
        self.app.get_as(&self.admin, &self.at(rest)).await
    }

    async fn send(&self, method: Method, rest: &str, body: Option<&Value>) -> Reply {
        let path = self.at(rest);
        self.app.send_as(&self.admin, method, &path, body).await
    }

    async fn delete(&self, rest: &str) -> Reply {
        self.send(Method::DELETE, rest, None).await
    }

    async fn put(&self, rest: &str) -> Reply {
        self.send(Method::PUT, rest, None).await
    }

    async fn post(&self, rest: &str, body: &Value) -> Reply {
        self.send(Method::POST, rest, Some(body)).await
    }

    async fn create(&self, people: Value) -> Reply {
        self.post("/people", &json!({ "people": people })).await
    }

    /// Creates one account and returns its entry (id, login, activation code).
    async fn create_one(&self, person: Value) -> Value {
        ok(self.create(json!([person])), 201).await["people"][0].clone()
    }

    async fn new_code(&self, user: i64) -> String {
        let rest = format!("/people/{user}/activation-code");
        let issued = ok(self.send(Method::POST, &rest, None), 201).await;
        text(&issued, "activation_code")
    }

    /// The whole audit trail, newest first.
    async fn audit(&self) -> Vec<Value> {
        items(&ok(self.get("/audit-events?limit=200"), 200).await)
    }

    /// Every person of the school, from one page as large as can be.
    async fn people_ids(&self) -> Vec<i64> {
        let page = ok(self.get("/people?limit=200"), 200).await;
        assert!(page["next_cursor"].is_null());
        items(&page).iter().map(|p| num(p, "id")).collect()
    }
}

/// Awaits a reply, asserts its status (showing the body if it differs), returns its JSON.
async fn ok(reply: impl Future<Output = Reply>, status: u16) -> Value {
    let reply = reply.await;
    let body = String::from_utf8_lossy(&reply.body).into_owned();
    assert_eq!(reply.status.as_u16(), status, "{body}");
    if body.is_empty() {
        Value::Null
    } else {
        reply.json()
    }
}

/// Awaits a reply and asserts it is the problem `code` with `status`.
async fn problem(reply: impl Future<Output = Reply>, status: u16, code: &str) -> Value {
    reply.await.assert_problem(status, code)
}

/// Awaits a reply and asserts it is a validation problem.
async fn invalid(reply: impl Future<Output = Reply>) -> Value {
    reply.await.assert_problem(422, "validation_failed")
}

/// GETs `path` with `token` and asserts the problem `code` with `status`.
async fn refused(app: &TestApp, token: &str, path: &str, status: u16, code: &str) -> Value {
    app.get_as(token, path).await.assert_problem(status, code)
}

/// GETs `path` with `token` and returns the JSON of its 200.
async fn read(app: &TestApp, token: &str, path: &str) -> Value {
    ok(app.get_as(token, path), 200).await
}

fn text(v: &Value, key: &str) -> String {
    let found = v[key].as_str().map(str::to_owned);
    found.unwrap_or_else(|| panic!("no {key} in {v}"))
}

fn num(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

fn items(v: &Value) -> Vec<Value> {
    let found = v["items"].as_array().cloned();
    found.unwrap_or_else(|| panic!("no items in {v}"))
}

/// The (field, code) pairs of a validation problem, sorted.
fn fields(problem: &Value) -> Vec<(String, String)> {
    let errors = problem["errors"].as_array().cloned().unwrap_or_default();
    let mut out: Vec<_> = errors
        .iter()
        .map(|e| (text(e, "field"), text(e, "code")))
        .collect();
    out.sort();
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let owned = |(a, b): &(&str, &str)| ((*a).to_owned(), (*b).to_owned());
    list.iter().map(owned).collect()
}

/// An account to create, with these roles.
fn person(login: &str, roles: Value) -> Value {
    json!({ "login": login, "display_name": format!("Имя {login}"), "roles": roles })
}

fn teacher(login: &str) -> Value {
    person(login, json!([{ "role": "teacher" }]))
}

fn roster(class: i64) -> String {
    format!("/api/v1/classes/{class}/students")
}

fn student(id: i64) -> String {
    format!("/api/v1/students/{id}")
}

const ACTIVATE: &str = "/api/v1/auth/activate";
const TOKEN: &str = "/api/v1/auth/token";

async fn activate(app: &TestApp, code: &str, password: &str) -> Reply {
    let body = json!({ "code": code, "password": password });
    app.call(TestRequest::post().uri(ACTIVATE).set_json(body))
        .await
}

/// Activates with `code` and returns the access token.
async fn activated(app: &TestApp, code: &str, password: &str) -> String {
    let tokens = ok(activate(app, code, password), 200).await;
    text(&tokens, "access_token")
}

/// Another school with one class (in `municipality`, or in a new one); returns the class.
fn other_school(app: &TestApp, municipality: Option<i64>, name: &str) -> i64 {
    let mut conn = must(app.pool().get());
    let municipality = match municipality {
        Some(m) => MunicipalityId(m),
        None => must(schools::insert_municipality(&mut conn, name)),
    };
    let school = must(schools::insert_school(&mut conn, municipality, name, None));
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let dates = must(DateRange::new(date(2026, 9, 1), date(2027, 5, 31), 366));
    let year = must(schools::insert_academic_year(
        &mut conn,
        school,
        "2026/2027",
        dates,
    ));
    let label = must(ClassLabel::new(6, "А"));
    must(schools::insert_class(&mut conn, school, year, &label)).get()
}

/// A municipality administrator with the password `pw-123456`; returns the user id.
fn municipality_admin(app: &TestApp, municipality: i64, login: &str) -> i64 {
    let mut conn = must(app.pool().get());
    let hash = must(api::password::hash("pw-123456"));
    let now = Utc::now().naive_utc();
    let (display_name, password_hash) = ("Администратор округа", Some(hash.as_str()));
    let new = NewUser {
        login,
        display_name,
        password_hash,
        now,
    };
    let user = must(people::insert_user(&mut conn, new));
    let scope = RoleScope::Municipality(MunicipalityId(municipality));
    must(people::assign_role(
        &mut conn,
        user,
        Role::MunicipalityAdmin,
        scope,
    ));
    user.get()
}

fn user_id(app: &TestApp, login: &str) -> Option<i64> {
    let mut conn = must(app.pool().get());
    must(people::find_user_by_login(&mut conn, login)).map(|u| u.id)
}

/// Registers an integrator at `path` and returns the 201 body (with the secret).
async fn register(app: &TestApp, token: &str, path: &str, scopes: &[&str]) -> Value {
    let body = json!({ "name": "Школьная столовая", "scopes": scopes });
    ok(app.post_as(token, path, &body), 201).await
}

/// A token of a registered client (asserting `Cache-Control: no-store`), and the answer.
async fn client_access(app: &TestApp, client: &Value, scope: Option<&str>) -> (String, Value) {
    let (id, secret) = (text(client, "client_id"), text(client, "client_secret"));
    let reply = app.client_token(&id, &secret, scope).await;
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = ok(async { reply }, 200).await;
    (text(&body, "access_token"), body)
}

async fn bulk_creation_is_all_or_nothing(backend: Backend) {
    let d = demo(backend).await;
    let before = d.people_ids().await;
    let own_record = d.rosters[0].iter().find_map(|&(s, u)| u.map(|_| s));
    let lead = |class: Option<i64>| json!([{ "role": "class_teacher", "class_id": class }]);
    let pupil_of = |id: Option<i64>| json!([{ "role": "student", "student_id": id }]);
    // Faults found against the database: all are named, and the valid entries stay uncreated.
    let faulty = d
        .create(json!([
            teacher("new.teacher"),
            teacher("lonely.one"),
            teacher("new.teacher"),
            teacher("demo-teacher"),
            person("lead.x", lead(Some(999_999))),
            person("lead.y", lead(None)),
            person("pupil.z", pupil_of(own_record)),
        ]))
        .await
        .assert_problem(422, "validation_failed");
    let expected = pairs(&[
        ("people[2].login", "duplicate"),
        ("people[3].login", "taken"),
        ("people[4].roles[0].class_id", "not_found"),
        ("people[5].roles[0].class_id", "required"),
        ("people[6].roles[0].student_id", "taken"),
    ]);
    assert_eq!(fields(&faulty), expected);
    assert_eq!(user_id(&d.app, "new.teacher"), None);
    assert_eq!(d.people_ids().await, before);
    assert!(d.audit().await.is_empty(), "no event");

    // Faults in an entry itself, after a valid one.
    for (entry, field) in [
        (teacher("Bad Login"), "people[1].login"),
        (teacher("ab"), "people[1].login"),
        (person("no.roles", json!([])), "people[1].roles"),
        (
            person("x.y", json!([{ "role": "municipality_admin" }])),
            "people[1].roles[0].role",
        ),
    ] {
        let reply = d.create(json!([teacher("fine.one"), entry]));
        let found = invalid(reply).await;
        assert!(fields(&found).iter().any(|(f, _)| f == field), "{found}");
    }
    // Mass assignment: fields the administration may not set are refused by name.
    for extra in ["school_id", "password_hash"] {
        let mut entry = teacher("sneaky.one");
        entry[extra] = json!(1);
        let found = invalid(d.create(json!([entry]))).await;
        let field = format!("people[0].{extra}");
        assert_eq!(fields(&found), pairs(&[(field.as_str(), "unknown_field")]));
    }
    assert_eq!(user_id(&d.app, "fine.one"), None);
    assert_eq!(user_id(&d.app, "sneaky.one"), None);

    // A valid batch: created in order, each with its own code.
    let (pupil, child) = (d.free_student(0), d.free_student(1));
    let roles =
        json!([{ "role": "teacher" }, { "role": "class_teacher", "class_id": d.classes[1] }]);
    let mut mother = person("mother.5b", json!([{ "role": "parent" }]));
    mother["children"] = json!([child]);
    let batch = json!([
        teacher("ivanova.ma"),
        person("lead.5b", roles),
        person("pupil.5b", pupil_of(Some(pupil))),
        mother,
    ]);
    let created = ok(d.create(batch), 201).await;
    let created = created["people"].as_array().cloned().unwrap_or_default();
    let logins: Vec<String> = created.iter().map(|p| text(p, "login")).collect();
    assert_eq!(logins, ["ivanova.ma", "lead.5b", "pupil.5b", "mother.5b"]);
    let codes: BTreeSet<String> = created.iter().map(|p| text(p, "activation_code")).collect();
    assert_eq!(codes.len(), 4, "every code differs");
    for p in &created {
        let code = text(p, "activation_code");
        assert!(code.len() == 14 && code.matches('-').count() == 2, "{code}");
        let expires = text(p, "activation_expires_at");
        let expires = must(chrono::DateTime::parse_from_rfc3339(&expires));
        let days = (expires.with_timezone(&Utc) - Utc::now()).num_days();
        assert!((29..=30).contains(&days), "expires in {days} days");
    }
    let paths: Vec<String> = created
        .iter()
        .map(|p| format!("/people/{}", p["id"]))
        .collect();
    let lead = ok(d.get(&paths[1]), 200).await;
    assert_eq!(lead["roles"][1]["role"], "class_teacher");
    assert_eq!(lead["roles"][1]["class_id"], d.classes[1]);
    assert_eq!(ok(d.get(&paths[2]), 200).await["student_id"], pupil);
    assert_eq!(ok(d.get(&paths[3]), 200).await["children"][0]["id"], child);
    // The student record has its account now: a second one is refused.
    let again = d.create(json!([person("pupil.again", pupil_of(Some(pupil)))]));
    let again = invalid(again).await;
    let expected = pairs(&[("people[0].roles[0].student_id", "taken")]);
    assert_eq!(fields(&again), expected);
    assert_eq!(d.people_ids().await.len(), before.len() + 4);
}

async fn activation_sets_the_password_once(backend: Backend) {
    let d = demo(backend).await;
    let created = d.create_one(teacher("ivanova.ma")).await;
    let (user, code) = (num(&created, "id"), text(&created, "activation_code"));
    let shown = ok(d.get(&format!("/people/{user}")), 200).await;
    assert_eq!(shown["activated"], false);
    assert!(shown["activated_at"].is_null() && shown["last_login_at"].is_null());

    let attempt = d.app.login("ivanova.ma", "any-password");
    problem(attempt, 401, "invalid_credentials").await;
    let short = invalid(activate(&d.app, &code, "short")).await;
    assert_eq!(short["errors"][0]["field"], "password");
    // The code forgives case; the refused short password did not use it up.
    let reply = activate(&d.app, &code.to_lowercase(), "correct-horse-1").await;
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let tokens = ok(async { reply }, 200).await;
    let me = read(&d.app, &text(&tokens, "access_token"), "/api/v1/me").await;
    assert_eq!(num(&me, "id"), user);
    assert_eq!(me["roles"], json!(["teacher"]));
    ok(d.app.login("ivanova.ma", "correct-horse-1"), 200).await;

    let shown = ok(d.get(&format!("/people/{user}")), 200).await;
    assert_eq!(shown["activated"], true);
    assert!(shown["activated_at"].is_string() && shown["last_login_at"].is_string());
    // Used once: the same code again, or an unknown one, is refused and changes nothing.
    for code in [code.as_str(), "AAAA-BBBB-CCCC"] {
        let reply = activate(&d.app, code, "another-pass-1");
        problem(reply, 401, "invalid_credentials").await;
    }
    ok(d.app.login("ivanova.ma", "correct-horse-1"), 200).await;
}

async fn a_new_code_supersedes_the_old_one_and_resets_a_password(backend: Backend) {
    let d = demo(backend).await;
    let created = d.create_one(teacher("petrov.pp")).await;
    let (user, first) = (num(&created, "id"), text(&created, "activation_code"));
    let second = d.new_code(user).await;
    assert_ne!(first, second);
    let stale = activate(&d.app, &first, "first-password");
    problem(stale, 401, "invalid_credentials").await;
    let before_reset = activated(&d.app, &second, "first-password").await;
    let activated_at = ok(d.get(&format!("/people/{user}")), 200).await["activated_at"].clone();

    // A code for an activated account resets the password; issuing it locks nobody out.
    let third = d.new_code(user).await;
    ok(d.app.login("petrov.pp", "first-password"), 200).await;
    activated(&d.app, &third, "second-password").await;
    // The reset ends the sessions of the old password.
    let me = d.app.get_as(&before_reset, "/api/v1/me");
    problem(me, 401, "unauthorized").await;
    let old = d.app.login("petrov.pp", "first-password");
    problem(old, 401, "invalid_credentials").await;
    ok(d.app.login("petrov.pp", "second-password"), 200).await;
    let shown = ok(d.get(&format!("/people/{user}")), 200).await;
    assert_eq!(shown["activated_at"], activated_at, "the first one is kept");

    let events = d.audit().await;
    let actors = |action: &str| -> Vec<Value> {
        let of = events.iter().filter(|e| e["action"] == action);
        of.map(|e| e["actor_id"].clone()).collect()
    };
    assert_eq!(actors("person.activated"), [json!(user)]);
    assert_eq!(actors("person.password_reset"), [json!(user)]);
    assert_eq!(actors("activation_code.issued"), vec![json!(d.admin_id); 3]);
    // No code for someone outside the school.
    let outside = d.send(Method::POST, "/people/999999/activation-code", None);
    problem(outside, 404, "not_found").await;
}

async fn roles_are_granted_once_and_revoked_once(backend: Backend) {
    let d = demo(backend).await;
    let created = d.create_one(teacher("lead.teacher")).await;
    let user = num(&created, "id");
    let token = activated(&d.app, &text(&created, "activation_code"), "lead-pass-1").await;
    let class = d.classes[1];
    refused(&d.app, &token, &roster(class), 404, "not_found").await;

    let roles = format!("/people/{user}/roles");
    let lead = json!({ "role": "class_teacher", "class_id": class });
    let granted = ok(d.post(&roles, &lead), 201).await;
    assert_eq!(granted["role"], "class_teacher");
    assert_eq!(granted["class_id"], class);
    let role_id = num(&granted, "id");
    read(&d.app, &token, &roster(class)).await;
    let again = json!({ "role": "class_teacher", "class_id": d.classes[2] });
    problem(d.post(&roles, &again), 409, "conflict").await;
    for (body, field) in [
        (json!({ "role": "class_teacher" }), "class_id"),
        (json!({ "role": "parent", "class_id": class }), "class_id"),
        (json!({ "role": "parent", "student_id": 1 }), "student_id"),
        (json!({ "role": "municipality_admin" }), "role"),
    ] {
        let found = invalid(d.post(&roles, &body)).await;
        assert_eq!(found["errors"][0]["field"], field, "{body}");
    }
    let parent = json!({ "role": "parent" });
    problem(d.post("/people/999999/roles", &parent), 404, "not_found").await;
    let shown = ok(d.get(&format!("/people/{user}")), 200).await;
    assert_eq!(shown["roles"].as_array().map(Vec::len), Some(2));
    assert_eq!(shown["roles"][1]["id"], role_id);
    assert_eq!(shown["roles"][1]["role"], "class_teacher");

    // The role is this person's: not revocable through another person's path.
    let other = user_id(&d.app, "demo-teacher").unwrap_or_default();
    let wrong = format!("/people/{other}/roles/{role_id}");
    problem(d.delete(&wrong), 404, "not_found").await;
    let revoke = format!("{roles}/{role_id}");
    ok(d.delete(&revoke), 204).await;
    refused(&d.app, &token, &roster(class), 404, "not_found").await;
    problem(d.delete(&revoke), 404, "not_found").await;
    let events = d.audit().await;
    let actions = (&events[0]["action"], &events[1]["action"]);
    assert_eq!(actions, (&json!("role.revoked"), &json!("role.granted")));
}

async fn guardians_are_linked_and_unlinked(backend: Backend) {
    let d = demo(backend).await;
    let (first, second) = (d.free_student(0), d.free_student(1));
    let mut mother = person("mother.x", json!([{ "role": "parent" }]));
    mother["children"] = json!([first]);
    let created = d.create_one(mother).await;
    let user = num(&created, "id");
    let token = activated(&d.app, &text(&created, "activation_code"), "mother-pass").await;
    let (app, token) = (&d.app, token.as_str());
    let children = move || async move {
        let me = read(app, token, "/api/v1/me").await;
        let list = me["children"].as_array().cloned().unwrap_or_default();
        list.iter().map(|c| num(c, "id")).collect::<BTreeSet<i64>>()
    };
    assert_eq!(children().await, BTreeSet::from([first]));
    refused(app, token, &student(second), 404, "not_found").await;

    let link = format!("/students/{second}/guardians/{user}");
    ok(d.put(&link), 204).await;
    ok(d.put(&link), 204).await;
    assert_eq!(children().await, BTreeSet::from([first, second]));
    let card = read(app, token, &student(second)).await;
    assert_eq!(card["school_id"], d.school);
    let shown = ok(d.get(&format!("/people/{user}")), 200).await;
    assert_eq!(shown["children"].as_array().map(Vec::len), Some(2));
    let events = d.audit().await;
    let linked: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "guardian.linked" && e["target_id"] == second)
        .collect();
    assert_eq!(linked.len(), 1, "linking again records nothing");
    assert_eq!(linked[0]["details"]["parent_id"], user);
    for missing in [
        format!("/students/999999/guardians/{user}"),
        format!("/students/{second}/guardians/999999"),
    ] {
        problem(d.put(&missing), 404, "not_found").await;
    }

    ok(d.delete(&link), 204).await;
    problem(d.delete(&link), 404, "not_found").await;
    assert_eq!(children().await, BTreeSet::from([first]));
    refused(app, token, &student(second), 404, "not_found").await;
    // The last child unlinked: still a parent of the school (the role stays), asking about a
    // student who is not theirs. That is 404, as for any other family's child, not 403.
    let last = format!("/students/{first}/guardians/{user}");
    ok(d.delete(&last), 204).await;
    assert_eq!(children().await, BTreeSet::new());
    refused(app, token, &student(first), 404, "not_found").await;
}

async fn a_teaching_assignment_opens_the_class_to_its_teacher(backend: Backend) {
    let d = demo(backend).await;
    let class = d.classes[2];
    let created = d.create_one(teacher("new.teacher")).await;
    let user = num(&created, "id");
    let token = activated(&d.app, &text(&created, "activation_code"), "teach-pass-1").await;
    let pupil = d.rosters[2][0].0;
    refused(&d.app, &token, &roster(class), 404, "not_found").await;

    let body = json!({ "teacher_id": user, "class_id": class, "subject_id": d.math });
    let assignment = ok(d.post("/teaching-assignments", &body), 201).await;
    assert_eq!(assignment["subject_name"], "Математика");
    assert_eq!(assignment["teacher_name"], "Имя new.teacher");
    let id = num(&assignment, "id");
    let seen = read(&d.app, &token, &roster(class)).await;
    assert_eq!(items(&seen).len(), d.rosters[2].len());
    read(&d.app, &token, &student(pupil)).await;
    let listed = items(&ok(d.get("/teaching-assignments"), 200).await);
    let mine = listed
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (num(&mine, "teacher_id"), num(&mine, "class_id")),
        (user, class)
    );

    problem(d.post("/teaching-assignments", &body), 409, "conflict").await;
    let parent = user_id(&d.app, "demo-parent").unwrap_or_default();
    let wrong = json!({ "teacher_id": parent, "class_id": 999_999, "subject_id": 999_999 });
    let found = invalid(d.post("/teaching-assignments", &wrong)).await;
    let named: Vec<String> = fields(&found).into_iter().map(|(f, _)| f).collect();
    assert_eq!(named, ["class_id", "subject_id", "teacher_id"]);

    let remove = format!("/teaching-assignments/{id}");
    ok(d.delete(&remove), 204).await;
    refused(&d.app, &token, &roster(class), 404, "not_found").await;
    problem(d.delete(&remove), 404, "not_found").await;
    // Revoking the teacher role takes the teacher's assignments with it.
    ok(d.post("/teaching-assignments", &body), 201).await;
    let shown = ok(d.get(&format!("/people/{user}")), 200).await;
    let role = num(&shown["roles"][0], "id");
    ok(d.delete(&format!("/people/{user}/roles/{role}")), 204).await;
    let listed = items(&ok(d.get("/teaching-assignments"), 200).await);
    assert!(listed.iter().all(|a| a["teacher_id"] != user));
    // With no role left the account may not read rosters at all; the role granted again does
    // not bring the class back.
    refused(&d.app, &token, &roster(class), 403, "forbidden").await;
    let role = json!({ "role": "teacher" });
    ok(d.post(&format!("/people/{user}/roles"), &role), 201).await;
    refused(&d.app, &token, &roster(class), 404, "not_found").await;
}

async fn the_people_list_pages_without_repeats_or_gaps(backend: Backend) {
    let d = demo(backend).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=abc", "cursor"),
        ("cursor=-5", "cursor"),
    ] {
        let found = invalid(d.get(&format!("/people?{query}"))).await;
        assert_eq!(found["errors"][0]["field"], field, "{query}");
    }
    invalid(d.get("/people?role=municipality_admin")).await;
    let mut expected = d.people_ids().await;
    // 4 demo accounts, 4 other teachers, 36 classmates' parents.
    assert_eq!(expected.len(), 44);

    // Walk with a small page; a person added mid-walk is found at the end, nobody twice.
    let limit = 7;
    let mut seen: Vec<i64> = Vec::new();
    let mut query = format!("/people?limit={limit}");
    for page_number in 0..20 {
        let page = ok(d.get(&query), 200).await;
        let page_items = items(&page);
        seen.extend(page_items.iter().map(|p| num(p, "id")));
        if page_number == 1 {
            let late = person("late.comer", json!([{ "role": "parent" }]));
            let late = d.create_one(late).await;
            expected.push(num(&late, "id"));
        }
        let Some(next) = page["next_cursor"].as_str() else {
            assert!(
                !page_items.is_empty() && page_items.len() <= limit,
                "no empty last page"
            );
            break;
        };
        assert_eq!(page_items.len(), limit, "only a full page has a next page");
        query = format!("/people?limit={limit}&cursor={next}");
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen, expected);

    // The role filter pages too.
    let logins = "demo-teacher teacher-1 teacher-3 teacher-5 teacher-7".split(' ');
    let teachers: BTreeSet<i64> = logins.filter_map(|l| user_id(&d.app, l)).collect();
    let mut found = BTreeSet::new();
    let mut query = "/people?role=teacher&limit=2".to_owned();
    for _ in 0..10 {
        let page = ok(d.get(&query), 200).await;
        for p in items(&page) {
            let roles = p["roles"].as_array().cloned().unwrap_or_default();
            assert!(roles.iter().any(|r| r["role"] == "teacher"), "{p}");
            assert!(found.insert(num(&p, "id")), "{p} twice");
        }
        let Some(next) = page["next_cursor"].as_str() else {
            break;
        };
        query = format!("/people?role=teacher&limit=2&cursor={next}");
    }
    assert_eq!(found, teachers);
    let leads = items(&ok(d.get("/people?role=class_teacher"), 200).await);
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["login"], "demo-teacher");
}

async fn the_audit_trail_names_every_change_newest_first(backend: Backend) {
    let d = demo(backend).await;
    assert!(d.audit().await.is_empty(), "seeding is no change");
    let (first, second) = (d.free_student(0), d.free_student(1));
    let mut parent = person("audit.parent", json!([{ "role": "parent" }]));
    parent["children"] = json!([first, 999_999]);
    let found = invalid(d.create(json!([parent.clone()]))).await;
    let expected = pairs(&[("people[0].children[1]", "not_found")]);
    assert_eq!(fields(&found), expected);
    assert!(d.audit().await.is_empty(), "no event");
    assert_eq!(user_id(&d.app, "audit.parent"), None);

    parent["children"] = json!([first]);
    let created = d.create_one(parent).await;
    let user = num(&created, "id");
    let code = d.new_code(user).await;
    activated(&d.app, &code, "secret-password-1").await;
    ok(d.put(&format!("/students/{second}/guardians/{user}")), 204).await;
    let client = register(&d.app, &d.admin, &d.at("/integrators"), &["roster:read"]).await;
    let integrator = num(&client, "id");
    ok(d.delete(&format!("/integrators/{integrator}")), 204).await;

    let events = d.audit().await;
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    let expected = [
        "integrator.revoked",
        "integrator.registered",
        "guardian.linked",
        "person.activated",
        "activation_code.issued",
        "activation_code.issued",
        "guardian.linked",
        "role.granted",
        "person.created",
    ];
    assert_eq!(actions, expected);
    let ids: Vec<i64> = events.iter().map(|e| num(e, "id")).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let targets = [
        integrator, integrator, second, user, user, user, first, user, user,
    ];
    for (event, target) in events.iter().zip(targets) {
        let activation = event["action"] == "person.activated";
        let actor = if activation { user } else { d.admin_id };
        assert_eq!(num(event, "actor_id"), actor, "{event}");
        assert_eq!(num(event, "target_id"), target, "{event}");
        assert!(event["occurred_at"].is_string());
    }
    assert_eq!(events[1]["details"]["client_id"], client["client_id"]);
    assert_eq!(events[1]["details"]["scopes"], "roster:read");
    assert_eq!(events[2]["details"]["parent_id"], user);
    assert_eq!(events[7]["details"]["role"], "parent");
    let body = serde_json::to_string(&events).unwrap_or_default();
    let secrets = [
        text(&client, "client_secret"),
        text(&created, "activation_code"),
    ];
    for secret in [&secrets[0], &secrets[1], &code, "secret-password-1"] {
        assert!(!body.contains(secret), "the trail holds a secret");
    }

    // Paged with a cursor: the same events, in the same order.
    let mut paged = Vec::new();
    let mut query = "/audit-events?limit=4".to_owned();
    for _ in 0..5 {
        let page = ok(d.get(&query), 200).await;
        paged.extend(items(&page).iter().map(|e| num(e, "id")));
        let Some(next) = page["next_cursor"].as_str() else {
            break;
        };
        query = format!("/audit-events?limit=4&cursor={next}");
    }
    assert_eq!(paged, ids);
    let (teacher, _) = d.app.tokens("demo-teacher").await;
    refused(&d.app, &teacher, &d.at("/audit-events"), 403, "forbidden").await;
}

async fn school_integrators_reach_their_school_within_their_scopes(backend: Backend) {
    let d = demo(backend).await;
    let foreign_class = other_school(&d.app, None, "Школа № 2");
    let scopes = ["roster:read", "attendance:read"];
    let client = register(&d.app, &d.admin, &d.at("/integrators"), &scopes).await;
    assert_eq!(client["scopes"], "attendance:read roster:read");
    assert_eq!(client["school_id"], d.school);
    assert!(client["municipality_id"].is_null() && client["revoked_at"].is_null());
    let secret = text(&client, "client_secret");
    let listed = d.get("/integrators").await;
    let listed_body = String::from_utf8_lossy(&listed.body).into_owned();
    assert!(!listed_body.contains(&secret), "shown once only");
    let listed = items(&ok(async { listed }, 200).await);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["client_id"], client["client_id"]);
    assert!(listed[0].get("client_secret").is_none());

    let (token, answer) = client_access(&d.app, &client, None).await;
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["expires_in"].as_i64().is_some_and(|s| s > 0));
    assert_eq!(answer["scope"], "attendance:read roster:read");
    let own = read(&d.app, &token, &roster(d.classes[0])).await;
    assert_eq!(items(&own).len(), d.rosters[0].len());
    read(&d.app, &token, &student(d.rosters[0][0].0)).await;
    refused(&d.app, &token, &roster(foreign_class), 404, "not_found").await;
    refused(&d.app, &token, "/api/v1/me", 403, "forbidden").await;
    refused(&d.app, &token, &d.at("/people"), 403, "forbidden").await;

    // A token asking for less carries only that.
    let (narrow, answer) = client_access(&d.app, &client, Some("attendance:read")).await;
    assert_eq!(answer["scope"], "attendance:read");
    refused(&d.app, &narrow, &roster(d.classes[0]), 403, "forbidden").await;

    // HTTP Basic instead of the body.
    let basic = STANDARD.encode(format!("{}:{secret}", text(&client, "client_id")));
    let request = TestRequest::post()
        .uri(TOKEN)
        .insert_header(("Authorization", format!("Basic {basic}")))
        .set_form([
            ("grant_type", "client_credentials"),
            ("scope", "roster:read"),
        ]);
    let answer = ok(d.app.call(request), 200).await;
    assert_eq!(answer["scope"], "roster:read");
    let via_basic = text(&answer, "access_token");
    read(&d.app, &via_basic, &roster(d.classes[0])).await;
}

async fn the_token_endpoint_refuses_by_the_oauth_rules(backend: Backend) {
    let d = demo(backend).await;
    let client = register(&d.app, &d.admin, &d.at("/integrators"), &["roster:read"]).await;
    let (id, secret) = (text(&client, "client_id"), text(&client, "client_secret"));
    for reply in [
        d.app.client_token(&id, "not-the-secret", None).await,
        d.app.client_token("gbk-nosuchclient", &secret, None).await,
    ] {
        let found = reply.assert_problem(401, "invalid_client");
        assert_eq!(found["error"], "invalid_client");
    }
    let grant = format!("grant_type=password&client_id={id}&client_secret={secret}");
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let request = TestRequest::post()
        .uri(TOKEN)
        .insert_header(form)
        .set_payload(grant);
    let found = problem(d.app.call(request), 400, "unsupported_grant_type").await;
    assert_eq!(found["error"], "unsupported_grant_type");
    for scope in ["grades:read", "roster:read reports:read", "roster:x"] {
        let reply = d.app.client_token(&id, &secret, Some(scope));
        let found = problem(reply, 400, "invalid_scope").await;
        assert_eq!(found["error"], "invalid_scope");
    }
    // An empty scope is taken as left out: every scope of the client.
    let everything = d.app.client_token(&id, &secret, None).await.json();
    let empty = d.app.client_token(&id, &secret, Some(" ")).await.json();
    assert_eq!(empty["scope"], everything["scope"]);
    assert!(everything["scope"].as_str().is_some_and(|s| !s.is_empty()));
    let body =
        json!({ "grant_type": "client_credentials", "client_id": id, "client_secret": secret });
    let request = TestRequest::post().uri(TOKEN).set_json(body);
    problem(d.app.call(request), 415, "unsupported_media_type").await;
    let (teacher, _) = d.app.tokens("demo-teacher").await;
    let body = json!({ "name": "Чужой", "scopes": ["roster:read"] });
    let own = d.at("/integrators");
    problem(d.app.post_as(&teacher, &own, &body), 403, "forbidden").await;

    // Revoked: the token it holds and any new request stop working at once.
    let (token, _) = client_access(&d.app, &client, None).await;
    read(&d.app, &token, &roster(d.classes[0])).await;
    let revoke = format!("/integrators/{}", num(&client, "id"));
    ok(d.delete(&revoke), 204).await;
    refused(&d.app, &token, &roster(d.classes[0]), 401, "unauthorized").await;
    let again = d.app.client_token(&id, &secret, None);
    let found = problem(again, 401, "invalid_client").await;
    assert_eq!(found["error"], "invalid_client");
    problem(d.delete(&revoke), 404, "not_found").await;
    let listed = items(&ok(d.get("/integrators"), 200).await);
    assert!(listed[0]["revoked_at"].is_string());
}

async fn municipality_integrators_reach_every_school_of_the_municipality(backend: Backend) {
    let d = demo(backend).await;
    let municipality = d.municipality;
    let sister_class = other_school(&d.app, Some(municipality), "Школа № 2 того же округа");
    let foreign_class = other_school(&d.app, None, "Школа другого округа");
    let official = municipality_admin(&d.app, municipality, "okrug.admin");
    let login = ok(d.app.login("okrug.admin", "pw-123456"), 200).await;
    let token = text(&login, "access_token");
    let path = format!("/api/v1/municipalities/{municipality}/integrators");

    let body = json!({ "name": "Региональная система", "scopes": ["roster:read"] });
    problem(d.app.post_as(&d.admin, &path, &body), 403, "forbidden").await;
    let school_path = d.at("/integrators");
    problem(d.app.post_as(&token, &school_path, &body), 403, "forbidden").await;
    let client = register(&d.app, &token, &path, &["roster:read"]).await;
    assert_eq!(client["municipality_id"], municipality);
    assert!(client["school_id"].is_null());
    let (access, _) = client_access(&d.app, &client, None).await;
    for class in [d.classes[0], d.classes[2], sister_class] {
        read(&d.app, &access, &roster(class)).await;
    }
    refused(&d.app, &access, &roster(foreign_class), 404, "not_found").await;

    // The municipality's own trail holds the change; the school's does not.
    let trail = format!("/api/v1/municipalities/{municipality}/audit-events");
    let trail = items(&read(&d.app, &token, &trail).await);
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0]["action"], "integrator.registered");
    assert_eq!(num(&trail[0], "actor_id"), official);
    assert!(d.audit().await.is_empty());

    let revoke = format!("{path}/{}", num(&client, "id"));
    ok(d.app.send_as(&token, Method::DELETE, &revoke, None), 204).await;
    refused(&d.app, &access, &roster(sister_class), 401, "unauthorized").await;
}

/// A school's administration may issue activation codes that reset passwords. That must not
/// let it set the password of an account that holds roles beyond the school: here the
/// municipality's administrator.
async fn an_administrator_cannot_take_over_an_account_beyond_the_school(backend: Backend) {
    let d = demo(backend).await;
    let victim = municipality_admin(&d.app, d.municipality, "okrug.admin");
    let parent = json!({ "role": "parent" });
    let granted = d.post(&format!("/people/{victim}/roles"), &parent).await;
    if granted.status == 201 {
        let rest = format!("/people/{victim}/activation-code");
        let issued = d.send(Method::POST, &rest, None).await;
        if issued.status == 201 {
            let code = text(&issued.json(), "activation_code");
            let _ = activate(&d.app, &code, "taken-over-1").await;
        }
    }
    let stolen = d.app.login("okrug.admin", "taken-over-1");
    problem(stolen, 401, "invalid_credentials").await;
    ok(d.app.login("okrug.admin", "pw-123456"), 200).await;
}

/// An account of another school cannot be given a role, linked as a parent or looked at: the
/// answers are exactly those for an id that does not exist, so they reveal nothing.
async fn another_schools_account_is_answered_as_missing(backend: Backend) {
    let d = demo(backend).await;
    let outsider = municipality_admin(&d.app, d.municipality, "okrug.outsider");
    let missing = 987_654_321_i64;
    let parent = json!({ "role": "parent" });
    let child = d.free_student(0);
    for user in [outsider, missing] {
        let granted = d.post(&format!("/people/{user}/roles"), &parent).await;
        let linked = d.put(&format!("/students/{child}/guardians/{user}")).await;
        let shown = d.get(&format!("/people/{user}")).await;
        let rest = format!("/people/{user}/activation-code");
        let code = d.send(Method::POST, &rest, None).await;
        for reply in [granted, linked, shown, code] {
            let body = reply.assert_problem(404, "not_found");
            assert_eq!(body.get("detail"), None, "{body}");
        }
    }
    let me = d.app.login("okrug.outsider", "pw-123456").await.json();
    let token = me["access_token"].as_str().unwrap_or_default();
    let mine = read(&d.app, token, "/api/v1/me").await;
    assert_eq!(
        mine["roles"],
        json!(["municipality_admin"]),
        "nothing was attached"
    );
}

/// A code issued while the account belonged to this school alone resets nothing once the
/// account also reaches elsewhere (here it became a municipality administrator meanwhile).
async fn a_kept_code_resets_nothing_once_the_account_reaches_beyond_the_school(backend: Backend) {
    let d = demo(backend).await;
    let created = d.create_one(teacher("rising.star")).await;
    let user = num(&created, "id");
    activated(&d.app, &text(&created, "activation_code"), "own-password-1").await;
    let kept = d.new_code(user).await;
    {
        let mut conn = must(d.app.pool().get());
        let scope = RoleScope::Municipality(MunicipalityId(d.municipality));
        must(people::assign_role(
            &mut conn,
            UserId(user),
            Role::MunicipalityAdmin,
            scope,
        ));
    }
    problem(
        activate(&d.app, &kept, "taken-over-2"),
        401,
        "invalid_credentials",
    )
    .await;
    ok(d.app.login("rising.star", "own-password-1"), 200).await;
    let rest = format!("/people/{user}/activation-code");
    problem(d.send(Method::POST, &rest, None), 409, "conflict").await;
}

/// Wrong client secrets count against the token endpoint only: a school's people behind the
/// same address still log in, and the client id itself is never locked out.
async fn failed_token_requests_do_not_lock_out_logins(backend: Backend) {
    let d = demo(backend).await;
    let path = d.at("/integrators");
    let client = register(&d.app, &d.admin, &path, &["roster:read"]).await;
    let id = text(&client, "client_id");
    for _ in 0..6 {
        let reply = d.app.client_token(&id, "not-the-secret", None).await;
        assert!(
            matches!(reply.status.as_u16(), 401 | 429),
            "{}",
            reply.status
        );
    }
    ok(d.app.login("demo-teacher", "demo-password"), 200).await;
    let codes = d.app.client_token(&id, "still-not-it", None).await;
    assert_eq!(codes.status.as_u16(), 429, "the address is slowed down");
}

const LINK_CODES: &str = "/api/v1/me/link-codes";

/// A second school, in another municipality: one student in its one class, an administrator
/// and a teacher (password `pw-123456`).
struct Second {
    school: i64,
    student: i64,
    admin: String,
    admin_id: i64,
    teacher: String,
}

async fn second_school(app: &TestApp) -> Second {
    let class = other_school(app, None, "Школа № 2");
    let (school, student, admin_id) = {
        let mut conn = must(app.pool().get());
        let school = classes::table.find(class).select(classes::school_id);
        let school = SchoolId(must(school.first::<i64>(&mut conn)));
        let new = NewStudent {
            school,
            user: None,
            last_name: "Петрова",
            first_name: "Анна",
            middle_name: None,
            external_id: None,
        };
        let student = must(people::insert_student(&mut conn, new));
        let since = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or_default();
        must(people::enroll(
            &mut conn,
            school,
            ClassId(class),
            student,
            since,
        ));
        let hash = must(api::password::hash("pw-123456"));
        let mut ids = Vec::new();
        for (login, role) in [
            ("second.admin", Role::SchoolAdmin),
            ("second.teacher", Role::Teacher),
        ] {
            let new = NewUser {
                login,
                display_name: login,
                password_hash: Some(hash.as_str()),
                now: Utc::now().naive_utc(),
            };
            let user = must(people::insert_user(&mut conn, new));
            let scope = RoleScope::School(school);
            must(people::assign_role(&mut conn, user, role, scope));
            ids.push(user.get());
        }
        (school.get(), student.get(), ids[0])
    };
    let admin = ok(app.login("second.admin", "pw-123456"), 200).await;
    let teacher = ok(app.login("second.teacher", "pw-123456"), 200).await;
    Second {
        school,
        student,
        admin: text(&admin, "access_token"),
        admin_id,
        teacher: text(&teacher, "access_token"),
    }
}

/// Issues a link code as the holder of `token` and returns it.
async fn link_code(app: &TestApp, token: &str) -> String {
    let reply = app.send_as(token, Method::POST, LINK_CODES, None).await;
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    text(&ok(async { reply }, 201).await, "code")
}

/// Links the holder of `code` as a parent of `student` of `school`, as the holder of `token`.
async fn link_by_code(app: &TestApp, token: &str, school: i64, student: i64, code: &str) -> Reply {
    let path = format!("/api/v1/schools/{school}/students/{student}/guardians");
    app.post_as(token, &path, &json!({ "link_code": code }))
        .await
}

/// The stored form of a shown link code.
fn link_code_hash(code: &str) -> String {
    sha256_hex(code.replace('-', "").to_uppercase())
}

fn ids_of(list: &Value) -> BTreeSet<i64> {
    let list = list.as_array().cloned().unwrap_or_default();
    list.iter().map(|v| num(v, "id")).collect()
}

/// A parent whose account the first school created, with a child there, gets a child in a
/// second school too: the second school cannot reach the account by id, but the parent issues
/// a link code, hands it over, and the second school links them with it.
async fn a_parent_of_another_school_is_linked_with_their_code(backend: Backend) {
    let d = demo(backend).await;
    let b = second_school(&d.app).await;
    let first = d.free_student(0);
    let mut mother = person("mother.two", json!([{ "role": "parent" }]));
    mother["children"] = json!([first]);
    let created = d.create_one(mother).await;
    let user = num(&created, "id");
    let token = activated(&d.app, &text(&created, "activation_code"), "mother-pass").await;
    let by_id = format!(
        "/api/v1/schools/{}/students/{}/guardians/{user}",
        b.school, b.student
    );
    let by_id = d.app.send_as(&b.admin, Method::PUT, &by_id, None);
    problem(by_id, 404, "not_found").await;

    // The parent issues a code, then another: the first one stops working.
    let reply = d.app.send_as(&token, Method::POST, LINK_CODES, None).await;
    let issued = ok(async { reply }, 201).await;
    let stale = text(&issued, "code");
    assert!(
        stale.len() == 11 && stale.matches('-').count() == 1,
        "{stale}"
    );
    let expires = must(chrono::DateTime::parse_from_rfc3339(&text(
        &issued,
        "expires_at",
    )));
    let hours = (expires.with_timezone(&Utc) - Utc::now()).num_minutes() / 60;
    assert!((71..=72).contains(&hours), "expires in {hours} hours");
    let code = link_code(&d.app, &token).await;
    assert_ne!(code, stale);
    let found = invalid(link_by_code(&d.app, &b.admin, b.school, b.student, &stale)).await;
    assert_eq!(fields(&found), pairs(&[("link_code", "invalid")]));

    // Only hashes are stored.
    let stored: Vec<String> = {
        let mut conn = must(d.app.pool().get());
        let mine = account_link_codes::table.filter(account_link_codes::user_id.eq(user));
        must(mine.select(account_link_codes::code_hash).load(&mut conn))
    };
    assert_eq!(stored.len(), 2);
    assert!(stored.contains(&link_code_hash(&code)));
    let plain = [code.clone(), code.replace('-', "")];
    for hash in &stored {
        assert!(plain.iter().all(|p| !hash.contains(p.as_str())), "{hash}");
    }

    // The second school links them with the code as typed (case, dash or space: no matter).
    let typed = code.to_lowercase().replace('-', " ");
    let linked = link_by_code(&d.app, &b.admin, b.school, b.student, &typed);
    let linked = ok(linked, 201).await;
    assert_eq!(num(&linked, "id"), user);
    assert_eq!(linked["login"], "mother.two");
    assert_eq!(linked["roles"][0]["role"], "parent");
    assert_eq!(linked["roles"].as_array().map(Vec::len), Some(1));
    assert_eq!(ids_of(&linked["children"]), BTreeSet::from([b.student]));
    let seen = format!("/api/v1/schools/{}/people/{user}", b.school);
    assert_eq!(read(&d.app, &b.admin, &seen).await, linked);

    // The parent has both children, in both schools, and reads the new one's card.
    let me = read(&d.app, &token, "/api/v1/me").await;
    assert_eq!(ids_of(&me["children"]), BTreeSet::from([first, b.student]));
    assert_eq!(ids_of(&me["schools"]), BTreeSet::from([d.school, b.school]));
    let card = read(&d.app, &token, &student(b.student)).await;
    assert_eq!(card["school_id"], b.school);

    // Used once.
    let again = invalid(link_by_code(&d.app, &b.admin, b.school, b.student, &code)).await;
    assert_eq!(fields(&again), pairs(&[("link_code", "invalid")]));
    let used: Option<i64> = {
        let mut conn = must(d.app.pool().get());
        let row = account_link_codes::table
            .filter(account_link_codes::code_hash.eq(link_code_hash(&code)))
            .select(account_link_codes::used_by_school_id);
        must(row.first(&mut conn))
    };
    assert_eq!(used, Some(b.school));

    // The second school's trail holds the link; the first school's does not.
    let trail = format!("/api/v1/schools/{}/audit-events", b.school);
    let trail = items(&read(&d.app, &b.admin, &trail).await);
    let actions: Vec<&str> = trail.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["guardian.linked_by_code", "role.granted"]);
    assert_eq!(num(&trail[0], "target_id"), b.student);
    assert_eq!(num(&trail[0], "actor_id"), b.admin_id);
    assert_eq!(num(&trail[0]["details"], "parent_id"), user);
    assert!(trail[0]["details"]["link_code_id"].is_i64(), "{}", trail[0]);
    let body = serde_json::to_string(&trail).unwrap_or_default();
    assert!(!body.contains(&code) && !body.contains(&link_code_hash(&code)));
    let own = d.audit().await;
    assert!(own.iter().all(|e| e["action"] != "guardian.linked_by_code"));
    // The account reaches two schools now: neither may reset its password any more.
    let reset = format!("/people/{user}/activation-code");
    let reset = d.send(Method::POST, &reset, None);
    problem(reset, 409, "conflict").await;
}

/// A wrong, used or expired code gets one and the same answer (so codes cannot be probed),
/// and failures slow the administrator down. Only the school's own administration links,
/// only its own students.
async fn wrong_used_and_expired_link_codes_are_refused_alike(backend: Backend) {
    let d = demo(backend).await;
    let b = second_school(&d.app).await;
    let (parent, _) = d.app.tokens("demo-parent").await;
    let used = link_code(&d.app, &parent).await;
    ok(
        link_by_code(&d.app, &b.admin, b.school, b.student, &used),
        201,
    )
    .await;
    let expired = link_code(&d.app, &parent).await;
    {
        let mut conn = must(d.app.pool().get());
        let past = Utc::now().naive_utc() - chrono::Duration::minutes(1);
        let row = account_link_codes::table
            .filter(account_link_codes::code_hash.eq(link_code_hash(&expired)));
        let changed = diesel::update(row).set(account_link_codes::expires_at.eq(past));
        assert_eq!(must(changed.execute(&mut conn)), 1);
    }
    let mut answers = Vec::new();
    for code in [
        used.as_str(),
        expired.as_str(),
        "ZZZZZ-ZZZZZ",
        "not a code!",
    ] {
        let found = invalid(link_by_code(&d.app, &b.admin, b.school, b.student, code)).await;
        assert_eq!(fields(&found), pairs(&[("link_code", "invalid")]), "{code}");
        answers.push(found);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    let empty = invalid(link_by_code(&d.app, &b.admin, b.school, b.student, "")).await;
    assert_eq!(empty["errors"][0]["field"], "link_code");

    // Not the school's administration, or not its student: refused, and the code is kept.
    let code = link_code(&d.app, &parent).await;
    let cases = [
        (&b.teacher, b.school, b.student, 403, "forbidden"),
        (&parent, b.school, b.student, 403, "forbidden"),
        (&d.admin, b.school, b.student, 404, "not_found"),
        (&d.admin, d.school, b.student, 404, "not_found"),
        (&d.admin, d.school, 999_999, 404, "not_found"),
    ];
    for (token, school, pupil, status, what) in cases {
        let reply = link_by_code(&d.app, token, school, pupil, &code);
        problem(reply, status, what).await;
    }
    let own = d.free_student(2);
    let linked = ok(link_by_code(&d.app, &d.admin, d.school, own, &code), 201).await;
    assert!(ids_of(&linked["children"]).contains(&own));
    // Linked already: nothing changes, and the code is used up all the same.
    let again = link_code(&d.app, &parent).await;
    let same = ok(link_by_code(&d.app, &d.admin, d.school, own, &again), 200).await;
    assert_eq!(same, linked);
    let reused = link_by_code(&d.app, &d.admin, d.school, own, &again);
    invalid(reused).await;
    let trail = d.audit().await;
    let by_code = trail
        .iter()
        .filter(|e| e["action"] == "guardian.linked_by_code");
    assert_eq!(by_code.count(), 1);

    // The fifth failure locks the second school's administrator out for a while, even with a
    // good code; the first school's administrator (one failure) is not.
    invalid(link_by_code(
        &d.app,
        &b.admin,
        b.school,
        b.student,
        "AAAAA-AAAAA",
    ))
    .await;
    let good = link_code(&d.app, &parent).await;
    let locked = link_by_code(&d.app, &b.admin, b.school, b.student, &good).await;
    assert!(locked.header("retry-after").is_some());
    locked.assert_problem(429, "too_many_requests");
    let other = link_by_code(&d.app, &d.admin, d.school, d.free_student(3), &good);
    ok(other, 201).await;
}

/// Every operation of the contract with a `limit` has a maximum page size, and a larger page
/// is refused naming `limit` (not served whole): read from the committed contract, so a new
/// list is held to it at once (and needs a caller below).
async fn every_list_in_the_contract_refuses_a_page_over_its_maximum(backend: Backend) {
    let d = demo(backend).await;
    let (teacher, _) = d.app.tokens("demo-teacher").await;
    let (parent, _) = d.app.tokens("demo-parent").await;
    municipality_admin(&d.app, d.municipality, "okrug-lists");
    let okrug = text(
        &d.app
            .login("okrug-lists", "pw-123456")
            .await
            .expect(200)
            .json(),
        "access_token",
    );
    let contract: Value = must(serde_json::from_str(include_str!(
        "../openapi/openapi.json"
    )));
    let mut lists = 0;
    for (path, operations) in contract["paths"].as_object().into_iter().flatten() {
        let Some(limit) = operations["get"]["parameters"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "limit"))
        else {
            continue;
        };
        lists += 1;
        let most = limit["schema"]["maximum"]
            .as_i64()
            .unwrap_or_else(|| panic!("{path}: limit has no maximum"));
        assert!((1..=200).contains(&most), "{path}: maximum {most}");
        let (caller, uri) = match path.as_str() {
            "/api/v1/me/lessons" => (&teacher, path.clone()),
            "/api/v1/notifications" => (&parent, path.clone()),
            p if p.starts_with("/api/v1/schools/{school_id}/") => {
                (&d.admin, p.replace("{school_id}", &d.school.to_string()))
            }
            p if p.starts_with("/api/v1/municipalities/{municipality_id}/") => (
                &okrug,
                p.replace("{municipality_id}", &d.municipality.to_string()),
            ),
            other => panic!("{other}: a list with no caller in this test"),
        };
        let page = |n: i64| format!("{uri}?limit={n}");
        let _ = d.app.get_as(caller, &page(most)).await.expect(200);
        for over in [most + 1, 1_000_000] {
            let reply = d.app.get_as(caller, &page(over)).await;
            let problem = reply.assert_problem(422, "validation_failed");
            assert_eq!(
                problem["errors"][0]["field"], "limit",
                "{path}?limit={over}"
            );
        }
    }
    assert!(lists >= 6, "the contract's lists: {lists}");
}
