//! Integrator clients a school or a municipality registers: OAuth2 client credentials limited
//! to scopes and to the owner's schools.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use domain::access::{Scope, Tenancy};
use domain::{IntegratorId, MunicipalityId, SchoolId};
use persistence::DbConnection;
use persistence::integrators::{self, NewClient};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{db, managed_municipality, managed_school, utc};
use crate::AppState;
use crate::auth::Caller;
use crate::auth::credentials::new_client_credentials;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;

/// An OAuth scope an integrator can be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum ScopeName {
    /// Grades, averages and ranks.
    #[serde(rename = "grades:read")]
    GradesRead,
    /// Writing grades, and a lesson's topic and homework.
    #[serde(rename = "grades:write")]
    GradesWrite,
    /// Attendance marks.
    #[serde(rename = "attendance:read")]
    AttendanceRead,
    /// Writing attendance marks.
    #[serde(rename = "attendance:write")]
    AttendanceWrite,
    /// Students, classes and rosters.
    #[serde(rename = "roster:read")]
    RosterRead,
    /// Aggregated reports and activity indicators.
    #[serde(rename = "reports:read")]
    ReportsRead,
}

impl ScopeName {
    const fn scope(self) -> Scope {
        match self {
            Self::GradesRead => Scope::GradesRead,
            Self::GradesWrite => Scope::GradesWrite,
            Self::AttendanceRead => Scope::AttendanceRead,
            Self::AttendanceWrite => Scope::AttendanceWrite,
            Self::RosterRead => Scope::RosterRead,
            Self::ReportsRead => Scope::ReportsRead,
        }
    }
}

/// A client to register.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterClientRequest {
    /// What the service is, as the administration will recognise it.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(
        example = "Школьная столовая: питание по посещаемости",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    /// The scopes the client may ask for (at least one).
    #[validate(length(min = 1, max = 6, message = "must hold 1 to 6 scopes"))]
    #[schema(min_items = 1, max_items = 6)]
    pub scopes: Vec<ScopeName>,
}

/// A registered client (its secret is never shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct Client {
    pub id: i64,
    /// The public client id for the token endpoint.
    #[schema(example = "gbk-4k7q2m9xd4tra8ze")]
    pub client_id: String,
    pub name: String,
    /// Granted scopes, space-separated.
    #[schema(example = "attendance:read roster:read")]
    pub scopes: String,
    /// The owning school, for a school's client.
    pub school_id: Option<i64>,
    /// The owning municipality, for a municipality's client (it reaches all its schools).
    pub municipality_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// Set once revoked: its tokens stop working at once.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<integrators::Client> for Client {
    fn from(c: integrators::Client) -> Self {
        Self {
            id: c.id,
            client_id: c.client_id,
            name: c.name,
            scopes: c.scopes,
            school_id: c.school_id,
            municipality_id: c.municipality_id,
            created_at: utc(c.created_at),
            revoked_at: c.revoked_at.map(utc),
        }
    }
}

/// A newly registered client with its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredClient {
    #[serde(flatten)]
    pub client: Client,
    /// The client secret: shown only now. Store it in the integrator's secret store.
    pub client_secret: String,
}

/// The clients of a school or municipality.
#[derive(Debug, Serialize, ToSchema)]
pub struct Clients {
    pub items: Vec<Client>,
}

/// Checks that the caller may administer the tenancy's school or municipality.
fn managed(conn: &mut DbConnection, caller: &Caller, tenancy: Tenancy) -> Result<(), ApiError> {
    match tenancy {
        Tenancy::School(s) => managed_school(conn, &caller.principal, s.get()).map(drop),
        Tenancy::Municipality(m) => managed_municipality(conn, &caller.principal, m),
    }
}

async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    tenancy: Tenancy,
    request: RegisterClientRequest,
) -> Result<HttpResponse, ApiError> {
    let (client_id, secret, hash) = new_client_credentials();
    let scopes: BTreeSet<Scope> = request.scopes.iter().map(|s| s.scope()).collect();
    let scopes = scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let client = db(&state, move |conn| {
        managed(conn, &caller, tenancy)?;
        let new = NewClient {
            client_id: &client_id,
            secret_hash: &hash,
            name: &request.name,
            tenancy,
            scopes: &scopes,
            created_by: caller.person()?,
            at: Utc::now().naive_utc(),
        };
        Ok(integrators::register(conn, &new)?)
    })
    .await?;
    tracing::info!(integrator_id = client.id, "integrator registered");
    Ok(HttpResponse::Created().json(RegisteredClient {
        client: client.into(),
        client_secret: secret,
    }))
}

async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    tenancy: Tenancy,
) -> Result<web::Json<Clients>, ApiError> {
    let clients = db(&state, move |conn| {
        managed(conn, &caller, tenancy)?;
        Ok(integrators::list(conn, tenancy)?)
    })
    .await?;
    Ok(web::Json(Clients {
        items: clients.into_iter().map(Client::from).collect(),
    }))
}

async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    tenancy: Tenancy,
    id: i64,
) -> Result<HttpResponse, ApiError> {
    db(&state, move |conn| {
        managed(conn, &caller, tenancy)?;
        let actor = caller.person()?;
        Ok(integrators::revoke(
            conn,
            tenancy,
            IntegratorId(id),
            actor,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Register a school's integrator
///
/// Registers a third-party service with OAuth2 client credentials that reach this school only,
/// within the scopes given. The secret is in this answer only.
#[utoipa::path(
    tag = "integrators",
    params(("school_id" = i64, Path, description = "The school")),
    request_body = RegisterClientRequest,
    responses(
        (status = 201, description = "Registered; keep the secret", body = RegisteredClient),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/schools/{school_id}/integrators")]
pub async fn register_school_integrator(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<RegisterClientRequest>,
) -> Result<HttpResponse, ApiError> {
    let tenancy = Tenancy::School(SchoolId(path.into_inner()));
    register(state, caller, tenancy, body.0).await
}

/// List a school's integrators
#[utoipa::path(
    tag = "integrators",
    params(("school_id" = i64, Path, description = "The school")),
    responses(
        (status = 200, description = "The school's clients, revoked ones included", body = Clients),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/schools/{school_id}/integrators")]
pub async fn list_school_integrators(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<Clients>, ApiError> {
    list(state, caller, Tenancy::School(SchoolId(path.into_inner()))).await
}

/// Revoke a school's integrator
///
/// Its tokens stop working at once.
#[utoipa::path(
    tag = "integrators",
    params(
        ("school_id" = i64, Path, description = "The school"),
        ("integrator_id" = i64, Path, description = "The client's `id`"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the school's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such school or active client", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/schools/{school_id}/integrators/{integrator_id}")]
pub async fn revoke_school_integrator(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (school, id) = path.into_inner();
    revoke(state, caller, Tenancy::School(SchoolId(school)), id).await
}

/// Register a municipality's integrator
///
/// Registers a third-party service whose credentials reach every school of the municipality,
/// within the scopes given. The secret is in this answer only.
#[utoipa::path(
    tag = "integrators",
    params(("municipality_id" = i64, Path, description = "The municipality")),
    request_body = RegisterClientRequest,
    responses(
        (status = 201, description = "Registered; keep the secret", body = RegisteredClient),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the municipality's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such municipality", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/municipalities/{municipality_id}/integrators")]
pub async fn register_municipality_integrator(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<RegisterClientRequest>,
) -> Result<HttpResponse, ApiError> {
    let tenancy = Tenancy::Municipality(MunicipalityId(path.into_inner()));
    register(state, caller, tenancy, body.0).await
}

/// List a municipality's integrators
#[utoipa::path(
    tag = "integrators",
    params(("municipality_id" = i64, Path, description = "The municipality")),
    responses(
        (status = 200, description = "The municipality's clients, revoked ones included", body = Clients),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the municipality's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such municipality", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/municipalities/{municipality_id}/integrators")]
pub async fn list_municipality_integrators(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<Clients>, ApiError> {
    list(
        state,
        caller,
        Tenancy::Municipality(MunicipalityId(path.into_inner())),
    )
    .await
}

/// Revoke a municipality's integrator
///
/// Its tokens stop working at once.
#[utoipa::path(
    tag = "integrators",
    params(
        ("municipality_id" = i64, Path, description = "The municipality"),
        ("integrator_id" = i64, Path, description = "The client's `id`"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the municipality's administration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such municipality or active client", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/municipalities/{municipality_id}/integrators/{integrator_id}")]
pub async fn revoke_municipality_integrator(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (municipality, id) = path.into_inner();
    revoke(
        state,
        caller,
        Tenancy::Municipality(MunicipalityId(municipality)),
        id,
    )
    .await
}
