//! Authentication: Ed25519-signed access tokens (JWT) with pinned validation, rotating refresh
//! tokens, integrator client credentials, and the extractors that turn a bearer token into the
//! caller.

pub mod credentials;
pub mod grants;
pub mod keys;
pub mod throttle;
pub mod tokens;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use domain::access::{Decision, Principal, Scope};
use domain::{IntegratorId, UserId};

pub use grants::GrantsCache;
pub use keys::KeySet;
pub use throttle::LoginThrottle;
pub use tokens::{Claims, Subject, TokenIssuer};

use crate::{ApiError, AppState};

/// An authenticated person: a valid access token whose session is still active. An
/// integrator's token is refused with 403 on the endpoints that take this (they concern a
/// person's own account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub user: UserId,
    pub session: i64,
}

/// Any authenticated caller, with the facts the access rules of `domain::access` need: a
/// person's grants, or an integrator's tenancy and the scopes of this token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
}

impl Caller {
    /// The person behind the call, if it is a person.
    #[must_use]
    pub fn user(&self) -> Option<UserId> {
        match &self.principal {
            Principal::Person { user, .. } => Some(*user),
            Principal::Integrator { .. } => None,
        }
    }

    /// The person behind the call, or 403 for an integrator (administration is done by people).
    ///
    /// # Errors
    /// [`ApiError::Forbidden`] for an integrator.
    pub fn person(&self) -> Result<UserId, ApiError> {
        self.user().ok_or(ApiError::Forbidden)
    }
}

/// Enforces a decision of `domain::access`.
///
/// # Errors
/// 403 or 404 as the decision says.
pub fn enforce(decision: Decision) -> Result<(), ApiError> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Forbidden => Err(ApiError::Forbidden),
        Decision::NotFound => Err(ApiError::NotFound),
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn verified(req: &HttpRequest) -> Result<(web::Data<AppState>, Subject), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("no application state".into()))?;
    let token = bearer(req).ok_or(ApiError::Unauthorized)?;
    let subject = state
        .tokens
        .verify(token)?
        .subject()
        .ok_or(ApiError::Unauthorized)?;
    Ok((state, subject))
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let verified = verified(req);
        Box::pin(async move {
            let (state, subject) = verified?;
            let Subject::Person { user, session } = subject else {
                return Err(ApiError::Forbidden);
            };
            let user = UserId(user);
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

/// A valid access token whose caller is not looked up yet: for a handler that looks the
/// caller up ([`Bearer::caller`]) in the same trip to the database as its own work, one hop to
/// the blocking pool and one pooled connection instead of two (the diary, opened by every
/// parent every evening, is one).
#[derive(Debug)]
pub struct Bearer {
    subject: Subject,
    grants: std::sync::Arc<GrantsCache>,
}

impl Bearer {
    /// The caller, as [`Caller`]'s extractor finds it: 401 for a session that has ended or an
    /// integrator that is gone.
    ///
    /// # Errors
    /// 401 as above; a database failure.
    pub fn caller(self, conn: &mut persistence::DbConnection) -> Result<Caller, ApiError> {
        principal(conn, &self.grants, self.subject)?
            .map(|principal| Caller { principal })
            .ok_or(ApiError::Unauthorized)
    }
}

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(verified(req).map(|(state, subject)| Self {
            subject,
            grants: std::sync::Arc::clone(&state.grants),
        }))
    }
}

/// The principal behind a verified token: a person with a live session (their grants kept
/// by version, [`GrantsCache`]), or an integrator with the scopes it still has. `None`: 401.
fn principal(
    conn: &mut persistence::DbConnection,
    grants: &GrantsCache,
    subject: Subject,
) -> Result<Option<Principal>, ApiError> {
    match subject {
        Subject::Person { user, session } => {
            let user = UserId(user);
            let Some(version) = persistence::auth::session_grants_version(conn, session, user)?
            else {
                return Ok(None);
            };
            if let Some(principal) = grants.get(user, version) {
                return Ok(Some(principal));
            }
            let principal = persistence::access::person(conn, user)?;
            grants.keep(user, version, &principal);
            Ok(Some(principal))
        }
        Subject::Integrator { client, scope } => {
            let Some(grant) = persistence::access::integrator(conn, IntegratorId(client))? else {
                return Ok(None);
            };
            // The token carries what was granted then; a scope the client has lost since no
            // longer counts.
            let granted: BTreeSet<Scope> = Scope::parse_list(&scope)
                .map_err(|_| ApiError::Unauthorized)?
                .intersection(&grant.scopes)
                .copied()
                .collect();
            Ok(Some(Principal::integrator(
                grant.id,
                grant.tenancy,
                granted,
            )))
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let verified = verified(req);
        Box::pin(async move {
            let (state, subject) = verified?;
            let pool = state.pool.clone();
            let grants = std::sync::Arc::clone(&state.grants);
            let principal = web::block(move || -> Result<Option<Principal>, ApiError> {
                let mut conn = pool.get().map_err(persistence::PersistenceError::from)?;
                principal(&mut conn, &grants, subject)
            })
            .await??;
            principal
                .map(|principal| Self { principal })
                .ok_or(ApiError::Unauthorized)
        })
    }
}
