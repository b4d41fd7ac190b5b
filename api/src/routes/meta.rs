//! What this server is.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Problem;

/// The entry point of the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiIndex {
    /// The server's name.
    #[schema(example = "gradebook")]
    pub name: &'static str,
    /// The server's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    /// The API version of this prefix.
    #[schema(example = "v1")]
    pub api_version: &'static str,
    /// Where the OpenAPI document is served.
    #[schema(example = "/openapi.json")]
    pub openapi_url: &'static str,
    /// Where the interactive documentation is served.
    #[schema(example = "/docs/")]
    pub docs_url: &'static str,
}

/// Describe the API
///
/// The server's version and where its contract and documentation are.
#[utoipa::path(
    tag = "meta",
    responses(
        (status = 200, description = "The API's entry point", body = ApiIndex),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("")]
pub async fn get_api_index() -> web::Json<ApiIndex> {
    web::Json(ApiIndex {
        name: "gradebook",
        version: env!("CARGO_PKG_VERSION"),
        api_version: "v1",
        openapi_url: crate::openapi::SERVED_AT,
        docs_url: "/docs/",
    })
}
