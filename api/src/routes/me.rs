//! The caller's own account.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Duration, Utc};
use domain::notifications::Language;
use persistence::admin::NewCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{db, utc};
use crate::AppState;
use crate::auth::AuthUser;
use crate::auth::credentials::new_link_code;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;

/// A school the caller belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolSummary {
    /// The school's id.
    pub id: i64,
    /// The school's name.
    pub name: String,
}

/// A child of a parent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChildSummary {
    /// The student's id (use it in `/api/v1/students/{student_id}/...`).
    pub id: i64,
    /// Last name, first name.
    #[schema(example = "Соколов Максим")]
    pub name: String,
    /// The child's school.
    pub school_id: i64,
}

/// The caller's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The user's id.
    pub id: i64,
    pub login: String,
    pub display_name: String,
    /// Role names: `teacher`, `class_teacher`, `school_admin`, `municipality_admin`, `parent`, `student`.
    #[schema(example = json!(["parent"]))]
    pub roles: Vec<String>,
    /// The schools the caller belongs to (through a role or a child).
    pub schools: Vec<SchoolSummary>,
    /// For a parent: the linked children; empty otherwise.
    pub children: Vec<ChildSummary>,
    /// The language of the caller's pushes (set with `PUT /api/v1/me/language`).
    pub language: AppLanguage,
}

/// A language of the apps and their pushes: Russian (the default) or English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppLanguage {
    Ru,
    En,
}

impl From<Language> for AppLanguage {
    fn from(language: Language) -> Self {
        match language {
            Language::Ru => Self::Ru,
            Language::En => Self::En,
        }
    }
}

impl From<AppLanguage> for Language {
    fn from(language: AppLanguage) -> Self {
        match language {
            AppLanguage::Ru => Self::Ru,
            AppLanguage::En => Self::En,
        }
    }
}

/// The caller's language.
#[derive(Debug, Serialize, Deserialize, validator::Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageSetting {
    /// `ru` or `en`.
    #[schema(example = "en")]
    pub language: AppLanguage,
}

/// Who am I
///
/// The caller's account, roles, schools and (for a parent) children.
#[utoipa::path(
    tag = "account",
    responses(
        (status = 200, description = "The caller's account", body = Me),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An integrator's token: this is a person's own account", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, auth: AuthUser) -> Result<web::Json<Me>, ApiError> {
    let pool = state.pool.clone();
    let profile = web::block(move || {
        let mut conn = pool.get()?;
        persistence::people::profile(&mut conn, auth.user)
    })
    .await??;
    Ok(web::Json(Me {
        id: profile.user.id,
        login: profile.user.login,
        display_name: profile.user.display_name,
        roles: profile.roles,
        schools: profile
            .schools
            .into_iter()
            .map(|(id, name)| SchoolSummary { id, name })
            .collect(),
        children: profile
            .children
            .into_iter()
            .map(|c| ChildSummary {
                id: c.id,
                name: format!("{} {}", c.last_name, c.first_name),
                school_id: c.school_id,
            })
            .collect(),
        language: Language::parse(&profile.user.language)
            .unwrap_or_default()
            .into(),
    }))
}

/// Set the caller's language
///
/// The language of the caller's pushes from now on: `ru` (the default) or `en`. Pushes
/// already written keep theirs.
#[utoipa::path(
    tag = "account",
    request_body = LanguageSetting,
    responses(
        (status = 200, description = "The language as stored", body = LanguageSetting),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An integrator's token: this is a person's own account", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a language of the apps (the field is named)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/me/language")]
pub async fn put_my_language(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ValidJson<LanguageSetting>,
) -> Result<web::Json<LanguageSetting>, ApiError> {
    let language = body.0.language;
    db(&state, move |conn| {
        Ok(persistence::people::set_language(
            conn,
            auth.user,
            language.into(),
        )?)
    })
    .await?;
    tracing::info!(user_id = auth.user.get(), ?language, "language set");
    Ok(web::Json(LanguageSetting { language }))
}

/// A new link code for the caller's own account.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkCode {
    /// Hand this to the administration of the school that is to link you (as the parent of a
    /// student there). It works once; earlier unused codes no longer work. Shown only here.
    #[schema(example = "7KQ2M-9XD4T")]
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// Issue a link code
///
/// A short one-time code for the caller's own account, valid for a few hours (72 by default).
/// A parent whose children are in several schools hands it to the administration of a school
/// that does not know their account yet; the administration links the account to a student
/// with it (`POST /api/v1/schools/{school_id}/students/{student_id}/guardians`). Issuing a new
/// code makes the caller's earlier unused ones stop working.
#[utoipa::path(
    tag = "account",
    responses(
        (status = 201, description = "A new code", body = LinkCode),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An integrator's token: this is a person's own account", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/link-codes")]
pub async fn create_link_code(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let (shown, hash) = new_link_code();
    let hours = i64::from(state.settings.auth.link_code_ttl_hours);
    let code = NewCode {
        hash,
        expires_at: (now + Duration::hours(hours)).naive_utc(),
    };
    let expires_at = code.expires_at;
    db(&state, move |conn| {
        Ok(persistence::link_codes::issue(
            conn,
            auth.user,
            &code,
            now.naive_utc(),
        )?)
    })
    .await?;
    tracing::info!(user_id = auth.user.get(), "link code issued");
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(LinkCode {
            code: shown,
            expires_at: utc(expires_at),
        }))
}
