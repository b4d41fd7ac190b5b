//! Authentication: Ed25519-signed access tokens (JWT) with pinned validation, rotating refresh
//! tokens, and the extractor that turns a bearer token into the caller.

pub mod keys;
pub mod throttle;
pub mod tokens;

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use domain::UserId;

pub use keys::KeySet;
pub use throttle::LoginThrottle;
pub use tokens::{Claims, TokenIssuer};

use crate::{ApiError, AppState};

/// An authenticated person: a valid access token whose session is still active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub user: UserId,
    pub session: i64,
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req).map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no application state".into()))?;
            let token = token.ok_or(ApiError::Unauthorized)?;
            let claims = state.tokens.verify(&token)?;
            let user = UserId(claims.sub.parse().map_err(|_| ApiError::Unauthorized)?);
            let session = claims.sid;
            let pool = state.pool.clone();
            let active = web::block(move || {
                let mut conn = pool.get()?;
                persistence::auth::session_active(&mut conn, session, user)
            })
            .await??;
            if !active {
                return Err(ApiError::Unauthorized);
            }
            Ok(Self { user, session })
        })
    }
}
