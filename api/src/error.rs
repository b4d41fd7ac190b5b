//! One closed error type, rendered as `application/problem+json` (RFC 9457).
//!
//! Every answer that is not a success goes through [`ApiError`]: a stable `code` the apps can
//! localise, a human `title`, and for validation errors the fields at fault. Server errors are
//! logged with their cause and answered with a generic body.

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use persistence::PersistenceError;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem detail (RFC 9457) with this API's extensions `code` and `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:gradebook:problem:validation_failed",
    "title": "The request is not valid",
    "status": 422,
    "code": "validation_failed",
    "detail": "1 field is not valid",
    "errors": [{"field": "grades[3].value", "code": "out_of_range", "message": "must be between 1 and 5"}]
}))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:gradebook:problem:{code}`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem, the same for every occurrence.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// A stable machine-readable code, e.g. `not_found`, `validation_failed`.
    pub code: String,
    /// What went wrong in this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For `validation_failed`: each field at fault.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// On the OAuth token endpoint only: the RFC 6749 error code (`invalid_client`,
    /// `invalid_request`, `unsupported_grant_type`, `invalid_scope`), for OAuth libraries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A refusal of the OAuth token endpoint (RFC 6749, section 5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// A parameter is missing, repeated or malformed.
    InvalidRequest(String),
    /// Unknown or revoked client, or a wrong secret.
    InvalidClient,
    /// A grant other than `client_credentials`.
    UnsupportedGrantType,
    /// A scope that is unknown or not granted to the client.
    InvalidScope(String),
}

impl OAuthError {
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
        }
    }
}

/// One field at fault in a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    /// Where the field is: a body path like `grades[3].value`, or a query or path parameter name.
    pub field: String,
    /// A stable code for the rule that failed, e.g. `required`, `out_of_range`, `invalid_type`.
    pub code: String,
    /// A human explanation.
    pub message: String,
}

impl FieldError {
    #[must_use]
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Everything the API can answer with besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allowed: Vec<Method> },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("precondition required")]
    PreconditionRequired,
    #[error("payload too large (limit {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    /// The request body did not arrive within the server's request timeout.
    #[error("request timeout")]
    RequestTimeout,
    #[error("unsupported media type")]
    UnsupportedMediaType { expected: &'static str },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("oauth: {0:?}")]
    OAuth(OAuthError),
}

impl ApiError {
    /// A validation error about one field.
    #[must_use]
    pub fn field(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// The stable code of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::PreconditionFailed => "precondition_failed",
            Self::PreconditionRequired => "precondition_required",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
            Self::OAuth(e) => e.code(),
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "The request could not be read",
            Self::Unauthorized => "Authentication is required",
            Self::InvalidCredentials => "The login or the password is wrong",
            Self::Forbidden => "This operation is not allowed for you",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed { .. } => "Method not allowed",
            Self::Conflict(_) => "The request conflicts with the current state",
            Self::PreconditionFailed => "The resource has changed since you read it",
            Self::PreconditionRequired => "Send If-Match with the ETag you read",
            Self::PayloadTooLarge { .. } => "The request body is too large",
            Self::RequestTimeout => "The request body did not arrive in time",
            Self::UnsupportedMediaType { .. } => "Unsupported media type",
            Self::Validation(_) => "The request is not valid",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::Unavailable(_) => "The service is temporarily unavailable",
            Self::Internal(_) => "Internal server error",
            Self::OAuth(OAuthError::InvalidClient) => "Client authentication failed",
            Self::OAuth(OAuthError::InvalidRequest(_)) => "The token request is not valid",
            Self::OAuth(OAuthError::UnsupportedGrantType) => "Unsupported grant type",
            Self::OAuth(OAuthError::InvalidScope(_)) => "The requested scope is not granted",
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            Self::BadRequest(detail)
            | Self::Conflict(detail)
            | Self::OAuth(OAuthError::InvalidRequest(detail) | OAuthError::InvalidScope(detail)) => {
                Some(detail.clone())
            }
            Self::OAuth(OAuthError::UnsupportedGrantType) => {
                Some("the only grant type is client_credentials".to_owned())
            }
            Self::OAuth(OAuthError::InvalidClient) => None,
            Self::PayloadTooLarge { limit } => {
                Some(format!("the body may be at most {limit} bytes"))
            }
            Self::UnsupportedMediaType { expected } => Some(format!("send the body as {expected}")),
            Self::Validation(errors) => Some(match errors.len() {
                1 => "1 field is not valid".to_owned(),
                n => format!("{n} fields are not valid"),
            }),
            Self::MethodNotAllowed { allowed } => Some(format!(
                "allowed: {}",
                allowed
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Self::TooManyRequests { retry_after_secs } => {
                Some(format!("retry after {retry_after_secs} s"))
            }
            // Causes of 5xx are logged, never sent.
            Self::Unavailable(_) | Self::Internal(_) => None,
            Self::Unauthorized
            | Self::InvalidCredentials
            | Self::Forbidden
            | Self::NotFound
            | Self::PreconditionFailed => None,
            Self::PreconditionRequired => Some(
                "changing or deleting needs an If-Match header with the resource's ETag".to_owned(),
            ),
            Self::RequestTimeout => {
                Some("send the whole body within the server's request timeout".to_owned())
            }
        }
    }

    /// The body this error is answered with.
    #[must_use]
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:gradebook:problem:{}", self.code()),
            title: self.title().to_owned(),
            status: self.status_code().as_u16(),
            code: self.code().to_owned(),
            detail: self.detail(),
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
            error: match self {
                Self::OAuth(e) => Some(e.code().to_owned()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::OAuth(OAuthError::InvalidClient) => StatusCode::UNAUTHORIZED,
            Self::OAuth(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(code = self.code(), %cause, "request failed"),
            Self::Unavailable(cause) => {
                tracing::warn!(code = self.code(), %cause, "service unavailable")
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            Self::MethodNotAllowed { allowed } => {
                let allow = allowed
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                response.insert_header((header::ALLOW, allow));
            }
            Self::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            // The rest of the body would never be read: the connection ends with the answer.
            Self::RequestTimeout => {
                response.force_close();
            }
            Self::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::OAuth(_) => {
                response.insert_header((header::CACHE_CONTROL, "no-store"));
                if matches!(self, Self::OAuth(OAuthError::InvalidClient)) {
                    response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"gradebook\""));
                }
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<PersistenceError> for ApiError {
    fn from(err: PersistenceError) -> Self {
        match err {
            PersistenceError::NotFound => Self::NotFound,
            PersistenceError::Conflict(cause) => {
                tracing::info!(%cause, "write refused by a constraint");
                Self::Conflict("the change conflicts with existing data".to_owned())
            }
            PersistenceError::Unavailable(cause) => Self::Unavailable(cause),
            PersistenceError::Stale => Self::PreconditionFailed,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Self::Internal(err.to_string())
    }
}

/// Maps the JSON body extractor's failures to problems.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
    limit: usize,
) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::Overflow { .. } | E::OverflowKnownLength { .. } => ApiError::PayloadTooLarge { limit },
        E::ContentType => ApiError::UnsupportedMediaType {
            expected: "application/json",
        },
        E::Deserialize(e) if e.is_data() => ApiError::field("body", "invalid_type", e.to_string()),
        E::Deserialize(e) => ApiError::BadRequest(format!("malformed JSON: {e}")),
        E::Payload(e) if crate::body_deadline::passed(&e) => ApiError::RequestTimeout,
        other => ApiError::BadRequest(other.to_string()),
    }
}

/// Maps form-body failures (the OAuth token endpoint's body) to problems.
pub fn form_error(
    err: actix_web::error::UrlencodedError,
    _req: &actix_web::HttpRequest,
    limit: usize,
) -> ApiError {
    use actix_web::error::UrlencodedError as E;
    match err {
        E::Overflow { .. } | E::UnknownLength => ApiError::PayloadTooLarge { limit },
        E::ContentType => ApiError::UnsupportedMediaType {
            expected: "application/x-www-form-urlencoded",
        },
        E::Payload(e) if crate::body_deadline::passed(&e) => ApiError::RequestTimeout,
        other => ApiError::OAuth(OAuthError::InvalidRequest(other.to_string())),
    }
}

/// Maps query-string failures to a validation problem naming the query.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> ApiError {
    ApiError::field("query", "invalid", err.to_string())
}

/// A path that does not parse (e.g. a non-numeric id) names no resource.
pub fn path_error(_err: actix_web::error::PathError, _req: &actix_web::HttpRequest) -> ApiError {
    ApiError::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(err: &ApiError) -> (u16, Option<String>, serde_json::Value) {
        let response = err.error_response();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.into_body().try_into_bytes().unwrap_or_default();
        let json = serde_json::from_slice(&bytes).unwrap_or_default();
        (status, content_type, json)
    }

    #[test]
    fn validation_problems_pin_their_shape() {
        let err = ApiError::Validation(vec![
            FieldError::new("grades[3].value", "out_of_range", "must be between 1 and 5"),
            FieldError::new("lesson_id", "required", "is required"),
        ]);
        let (status, content_type, json) = body_of(&err);
        assert_eq!(status, 422);
        assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON));
        assert_eq!(
            json,
            serde_json::json!({
                "type": "urn:gradebook:problem:validation_failed",
                "title": "The request is not valid",
                "status": 422,
                "code": "validation_failed",
                "detail": "2 fields are not valid",
                "errors": [
                    {"field": "grades[3].value", "code": "out_of_range", "message": "must be between 1 and 5"},
                    {"field": "lesson_id", "code": "required", "message": "is required"}
                ]
            })
        );
    }

    #[test]
    fn server_errors_never_leak_their_cause() {
        let err = ApiError::from(PersistenceError::Migration(
            "relation \"grades\" does not exist".into(),
        ));
        let (status, _, json) = body_of(&err);
        assert_eq!(status, 500);
        assert_eq!(json["code"], "internal_error");
        assert!(!json.to_string().contains("grades"));
        let (status, _, json) = body_of(&ApiError::from(PersistenceError::Unavailable(
            "pool timed out".into(),
        )));
        assert_eq!(status, 503);
        assert!(!json.to_string().contains("pool"));
    }

    #[test]
    fn conflicts_do_not_echo_the_constraint() {
        let (status, _, json) = body_of(&ApiError::from(PersistenceError::Conflict(
            "UniqueViolation: duplicate key value violates unique constraint \"users_login_key\""
                .into(),
        )));
        assert_eq!(status, 409);
        assert!(!json.to_string().contains("users_login_key"));
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let response = ApiError::MethodNotAllowed {
            allowed: vec![Method::GET, Method::PUT],
        }
        .error_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            response
                .headers()
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok()),
            Some("GET, PUT")
        );
    }
}
