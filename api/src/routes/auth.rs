//! Login, token refresh and logout.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::Utc;
use domain::UserId;
use persistence::auth::{NewRefreshToken, Refresh};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::AuthUser;
use crate::auth::tokens::hash_refresh_token;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::{AppState, password};

/// A login with a password.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The account's login.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "demo-teacher", min_length = 1, max_length = 200)]
    pub login: String,
    /// The account's password.
    #[validate(length(min = 1, max = 1024, message = "must be 1 to 1024 characters"))]
    #[schema(example = "demo-password", format = Password, min_length = 1, max_length = 1024)]
    pub password: String,
}

/// A refresh token to exchange.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh; it is used up by this call.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub refresh_token: String,
}

/// A pair of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer ...`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// Exchanged for a new pair at `POST /api/v1/auth/refresh`; each is valid once.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    #[schema(example = 2_592_000)]
    pub refresh_expires_in: i64,
}

fn tokens_for(
    state: &AppState,
    user: i64,
    session: i64,
    refresh: String,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    Ok(TokenResponse {
        access_token: state.tokens.issue_access(user, session, now)?,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl(),
        refresh_token: refresh,
        refresh_expires_in: state.tokens.refresh_ttl(),
    })
}

/// Log in
///
/// Exchanges a login and password for an access token and a refresh token. A wrong password and
/// an unknown login get the same answer; repeated failures for a login or from an address are
/// refused for a while with 429 and `Retry-After`.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The login or the password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/login")]
pub async fn post_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ValidJson<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let LoginRequest { login, password } = body.0;
    let address = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let keys = [
        format!("login:{}", login.to_lowercase()),
        format!("addr:{address}"),
    ];
    if let Some(retry_after_secs) = state.login_throttle.check(&keys, Instant::now()) {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    let pool = state.pool.clone();
    let user = web::block(move || -> Result<Option<i64>, ApiError> {
        let mut conn = pool.get().map_err(persistence::PersistenceError::from)?;
        let account = persistence::auth::credentials(&mut conn, &login)?;
        let stored = account.as_ref().and_then(|a| a.password_hash.as_deref());
        Ok(password::verify_account(&password, stored)
            .then(|| account.map(|a| a.user))
            .flatten())
    })
    .await??;
    let Some(user) = user else {
        state.login_throttle.failed(&keys, Instant::now());
        return Err(ApiError::InvalidCredentials);
    };
    state.login_throttle.succeeded(&keys[0]);

    let now = Utc::now();
    let refresh = state.tokens.new_refresh_token(now);
    let (pool, hash, expires_at) = (state.pool.clone(), refresh.hash.clone(), refresh.expires_at);
    let session = web::block(move || {
        let mut conn = pool.get()?;
        let token = NewRefreshToken {
            hash: &hash,
            expires_at,
        };
        persistence::auth::start_session(&mut conn, UserId(user), token, now.naive_utc())
    })
    .await??;
    tracing::info!(user_id = user, session_id = session, "login");
    Ok(web::Json(tokens_for(
        &state,
        user,
        session,
        refresh.value,
        now.timestamp(),
    )?))
}

/// Refresh the tokens
///
/// Exchanges a refresh token for a new pair. Each refresh token works once: presenting one that
/// was already exchanged revokes the whole session (every token from that login).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair of tokens", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown, expired, reused or revoked refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/refresh")]
pub async fn post_refresh(
    state: web::Data<AppState>,
    body: ValidJson<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let presented = hash_refresh_token(&body.refresh_token);
    let now = Utc::now();
    let next = state.tokens.new_refresh_token(now);
    let (pool, hash, expires_at) = (state.pool.clone(), next.hash.clone(), next.expires_at);
    let outcome = web::block(move || {
        let mut conn = pool.get()?;
        let token = NewRefreshToken {
            hash: &hash,
            expires_at,
        };
        persistence::auth::rotate_refresh(&mut conn, &presented, token, now.naive_utc())
    })
    .await??;
    match outcome {
        Refresh::Rotated { session, user } => Ok(web::Json(tokens_for(
            &state,
            user.get(),
            session,
            next.value,
            now.timestamp(),
        )?)),
        Refresh::Reused { session } => {
            tracing::warn!(
                session_id = session,
                "a used refresh token was presented again; session revoked"
            );
            Err(ApiError::Unauthorized)
        }
        Refresh::Invalid => Err(ApiError::Unauthorized),
    }
}

/// Log out
///
/// Revokes the caller's session: its access and refresh tokens stop working at once.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/auth/logout")]
pub async fn post_logout(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        persistence::auth::revoke_session(&mut conn, auth.session, "logout", Utc::now().naive_utc())
    })
    .await??;
    tracing::info!(user_id = %auth.user, session_id = auth.session, "logout");
    Ok(HttpResponse::NoContent().finish())
}
