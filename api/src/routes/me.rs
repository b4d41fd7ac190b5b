//! The caller's own account.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, Problem};

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
    }))
}
