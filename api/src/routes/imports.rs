//! The roster import from the regional roster system (АИС «Контингент»): four CSV files,
//! checked whole before anything is written, applied in one transaction or not at all.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::SchoolId;
use domain::roster::{self, ClassChange, FileKind, RowError};
use persistence::roster_import;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{db, db_write, managed_school, school_actor};
use super::people::new_code;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, FieldError, Problem};
use crate::tabular;

/// The largest import body: a school of a few thousand students with their parents.
pub const IMPORT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The four files of a roster import, each the text of a CSV file (UTF-8, with or without a
/// byte-order mark, `;` or `,` between cells, a header line first; the columns in any
/// order).
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterImportRequest {
    /// `class_id;grade;letter`: the roster system's class id, the grade level (1-11) and the
    /// letter (`А`).
    #[schema(example = "class_id;grade;letter\n\
c-5a;5;А\n")]
    pub classes: String,
    /// `student_id;last_name;first_name;middle_name;class_id[;login]`: the roster system's
    /// student id, the names (middle name may be empty), the class id of the classes file and
    /// an optional login for the student's account (else `s{school_id}.{student_id}`).
    #[schema(example = "student_id;last_name;first_name;middle_name;class_id\n\
st-1;Соколов;Максим;Андреевич;c-5a\n")]
    pub students: String,
    /// `parent_id;last_name;first_name;middle_name[;login]`: the parents (login else
    /// `p{school_id}.{parent_id}`). May be empty.
    #[serde(default)]
    #[schema(example = "parent_id;last_name;first_name;middle_name\n\
pa-1;Соколова;Ольга;Петровна\n")]
    pub parents: String,
    /// `student_id;parent_id`: who is whose parent. May be empty.
    #[serde(default)]
    #[schema(example = "student_id;parent_id\n\
st-1;pa-1\n")]
    pub links: String,
    /// The day enrolments start and end (new students, moves, leavers); today by default.
    /// Classes are those of the academic year holding it.
    #[serde(default)]
    pub on: Option<NaiveDate>,
    /// Check the files and say what would change, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What the import changed (or, with `dry_run`, would change).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportCounts {
    pub classes_created: usize,
    /// Classes that existed with the same label and took the roster id.
    pub classes_matched: usize,
    pub classes_relabelled: usize,
    pub students_created: usize,
    pub students_renamed: usize,
    /// Moved to another class (or back after leaving).
    pub students_moved: usize,
    /// No longer in the file: unenrolled from the day on, never deleted.
    pub students_left: usize,
    pub parents_created: usize,
    pub parents_renamed: usize,
    pub links_created: usize,
    pub links_removed: usize,
}

/// A new account and its activation code, to print and hand over.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedAccount {
    /// `student` or `parent`.
    #[schema(example = "student")]
    pub kind: String,
    /// The roster system's id.
    pub external_id: String,
    /// The account's id (absent in a dry run).
    pub user_id: Option<i64>,
    #[schema(example = "s17.st-1")]
    pub login: String,
    pub display_name: String,
    /// For a student: the class's roster id.
    pub class_id: Option<String>,
    /// Shown only in this answer (absent in a dry run).
    #[schema(example = "7KQ2-M9XD-4TRA")]
    pub activation_code: Option<String>,
    pub activation_expires_at: Option<DateTime<Utc>>,
}

/// The import's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterImportResult {
    pub dry_run: bool,
    /// The day the import took effect.
    pub on: NaiveDate,
    pub changes: ImportCounts,
    /// The accounts made, students first, in file order.
    pub accounts: Vec<ImportedAccount>,
}

impl tabular::AsTable for RosterImportResult {
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = vec![
            [
                "kind",
                "external_id",
                "class_id",
                "display_name",
                "login",
                "activation_code",
                "expires_at",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for a in &self.accounts {
            rows.push(vec![
                a.kind.clone(),
                a.external_id.clone(),
                a.class_id.clone().unwrap_or_default(),
                a.display_name.clone(),
                a.login.clone(),
                a.activation_code.clone().unwrap_or_default(),
                a.activation_expires_at
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            ]);
        }
        rows
    }
}

fn field_errors(errors: Vec<RowError>) -> ApiError {
    ApiError::Validation(
        errors
            .into_iter()
            .map(|e| FieldError::new(e.field(), e.code, e.message))
            .collect(),
    )
}

async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<RosterImportRequest, ApiError> {
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType {
            expected: "application/json",
        });
    }
    let body = payload
        .to_bytes_limited(IMPORT_BODY_LIMIT)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: IMPORT_BODY_LIMIT,
        })?
        .map_err(|e| crate::extract::unread(&e, IMPORT_BODY_LIMIT))?;
    let request: RosterImportRequest = crate::extract::parse(&body)?;
    request
        .validate()
        .map_err(|e| ApiError::Validation(crate::extract::field_errors(&e)))?;
    Ok(request)
}

fn counts(plan: &roster::Plan) -> ImportCounts {
    let class = |f: fn(&ClassChange) -> bool| plan.classes.iter().filter(|c| f(c)).count();
    ImportCounts {
        classes_created: class(|c| matches!(c, ClassChange::Create { .. })),
        classes_matched: class(|c| matches!(c, ClassChange::Adopt { .. })),
        classes_relabelled: class(|c| matches!(c, ClassChange::Relabel { .. })),
        students_created: plan.new_students.len(),
        students_renamed: plan.renamed_students.len(),
        students_moved: plan.moved_students.len(),
        students_left: plan.left_students.len(),
        parents_created: plan.new_parents.len(),
        parents_renamed: plan.renamed_parents.len(),
        links_created: plan.new_links.len(),
        links_removed: plan.removed_links.len(),
    }
}

/// Import the roster
///
/// Takes the roster system's four CSV files as texts in one JSON body (up to 8 MiB):
///
/// - `classes`: `class_id;grade;letter`
/// - `students`: `student_id;last_name;first_name;middle_name;class_id` and optionally `login`
/// - `parents`: `parent_id;last_name;first_name;middle_name` and optionally `login`
/// - `links`: `student_id;parent_id`
///
/// Every row and column is checked first (required cells, grade 1-11, ids unique in their
/// file, each student's class in the classes file, each link's student and parent in their
/// files, logins free, class labels free); any fault refuses the whole import with 422
/// listing each one as `students[4].class_id` (file, line number counting the header as line
/// 1, column), and nothing is written. Otherwise everything is applied in one transaction.
/// Rows are matched on the roster ids, so importing the same files again changes nothing; a
/// changed file renames, moves and relabels; a student no longer in the file is unenrolled
/// from `on` (never deleted), and parent links no longer in the file are removed. Each new
/// student and parent gets an account with a one-time activation code, listed in the answer;
/// with `Accept: text/csv` the answer is that list as CSV (UTF-8 with BOM, `;`), to print.
#[utoipa::path(
    tag = "administration",
    params(("school_id" = i64, Path, description = "The school")),
    request_body = RosterImportRequest,
    responses(
        (status = 200, description = "The import was applied (or checked, with `dry_run`)", content(
            (RosterImportResult = "application/json"),
            (String = "text/csv", example = "\u{feff}kind;external_id;class_id;display_name;login;activation_code;expires_at\r\nstudent;st-1;c-5a;Соколов Максим Андреевич;s17.st-1;7KQ2-M9XD-4TRA;2026-12-23\r\n"),
        )),
        (status = 400, description = "Malformed JSON (a JSON body that is not the import)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The school changed during the import; nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 8 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every bad row and column; nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/imports/roster")]
pub async fn import_roster(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let school = path.into_inner();
    // Who may import is decided before the body is read.
    let check = caller.principal.clone();
    db(&state, move |conn| {
        managed_school(conn, &check, school).map(|_| ())
    })
    .await?;
    let request = read_body(&req, payload).await?;
    let mut tables = BTreeMap::new();
    let mut errors = Vec::new();
    for (kind, text) in [
        (FileKind::Classes, &request.classes),
        (FileKind::Students, &request.students),
        (FileKind::Parents, &request.parents),
        (FileKind::Links, &request.links),
    ] {
        match tabular::read(text) {
            Ok(table) => {
                tables.insert(kind, table);
            }
            Err(message) => errors.push(FieldError::new(kind.as_str(), "invalid_csv", message)),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let parsed = roster::parse(&tables).map_err(field_errors)?;
    let now = Utc::now();
    let on = request.on.unwrap_or_else(|| now.date_naive());
    let actor = school_actor(&caller, SchoolId(school))?;
    let dry_run = request.dry_run;
    let state_for_codes = state.clone();
    let result = db_write(&state, move |conn| {
        let school = SchoolId(school);
        let year = roster_import::year_on(conn, school, on)?.ok_or_else(|| {
            ApiError::field(
                "on",
                "not_found",
                "no academic year of the school holds this day",
            )
        })?;
        let logins: Vec<String> = parsed
            .students
            .iter()
            .filter_map(|s| {
                roster::login_for('s', school.get(), &s.external_id, s.login.as_deref())
            })
            .chain(parsed.parents.iter().filter_map(|p| {
                roster::login_for('p', school.get(), &p.external_id, p.login.as_deref())
            }))
            .collect();
        let known = roster_import::known(conn, school, year, on, &logins)?;
        let plan = roster::plan(&parsed, &known, school.get(), on).map_err(field_errors)?;
        let changes = counts(&plan);
        if dry_run {
            let accounts = plan
                .new_students
                .iter()
                .map(|s| {
                    (
                        ("student", &s.external_id, &s.account),
                        Some(s.class.clone()),
                    )
                })
                .chain(
                    plan.new_parents
                        .iter()
                        .map(|p| (("parent", &p.external_id, &p.account), None)),
                )
                .map(|((kind, external_id, account), class_id)| ImportedAccount {
                    kind: kind.to_owned(),
                    external_id: external_id.clone(),
                    user_id: None,
                    login: account.login.clone(),
                    display_name: account.display_name.clone(),
                    class_id,
                    activation_code: None,
                    activation_expires_at: None,
                })
                .collect();
            return Ok(RosterImportResult {
                dry_run,
                on,
                changes,
                accounts,
            });
        }
        let mut shown = Vec::new();
        let mut code = || {
            let (text, code) = new_code(&state_for_codes, now);
            shown.push((text, code.expires_at));
            code
        };
        let created = roster_import::apply(conn, actor, year, on, &plan, &mut code)?;
        let accounts = created
            .into_iter()
            .zip(shown)
            .map(|(a, (code, expires))| ImportedAccount {
                kind: a.kind.to_owned(),
                external_id: a.external_id,
                user_id: Some(a.user.get()),
                login: a.login,
                display_name: a.display_name,
                class_id: a.class,
                activation_code: Some(code),
                activation_expires_at: Some(expires.and_utc()),
            })
            .collect();
        Ok(RosterImportResult {
            dry_run,
            on,
            changes,
            accounts,
        })
    })
    .await?;
    if tabular::wants_csv(&req) {
        return Ok(tabular::response(
            "activation-codes.csv",
            &tabular::AsTable::rows(&result),
        ));
    }
    Ok(HttpResponse::Ok().json(result))
}
