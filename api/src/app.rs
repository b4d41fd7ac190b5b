//! Assembling the actix-web application: shared state, extractor limits, routes, the docs,
//! and one answer for every path or method that does not exist.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{App, HttpRequest, HttpResponse, middleware, web};
use persistence::Pool;
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::{KeySet, LoginThrottle, TokenIssuer};
use crate::config::Settings;
use crate::error::{self, ApiError};
use crate::{openapi, routes};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: Pool,
    pub settings: Arc<Settings>,
    pub tokens: Arc<TokenIssuer>,
    pub login_throttle: LoginThrottle,
    /// The queue writers take turns in (see [`crate::routes::common::db_write`] and
    /// [`crate::write_queue`]): one at a time on SQLite, `database.write_concurrency` at a
    /// time on PostgreSQL.
    pub write_turn: Arc<crate::write_queue::WriteQueue>,
    /// Rankings computed from the running sums, until a write of this process commits.
    pub rankings: Arc<crate::routes::averages::Rankings>,
    /// Rung after every write that may have queued notifications: wakes this process's
    /// dispatcher at once (see [`crate::push`]).
    pub outbox: Arc<tokio::sync::Notify>,
    /// People's grants by the version the database gives them (see [`crate::auth::grants`]).
    pub grants: Arc<crate::auth::GrantsCache>,
    /// Schools' scales and work types (only ever added), as this process last read them.
    pub grading: Arc<crate::routes::journal::GradingSetups>,
    /// SQLite: grading requests' writes, committed together (see [`crate::group_commit`]);
    /// `None` on PostgreSQL.
    pub group_writer: Option<crate::group_commit::GroupWriter>,
}

impl AppState {
    #[must_use]
    pub fn new(pool: Pool, settings: Settings, keys: KeySet) -> Self {
        let tokens = TokenIssuer::new(keys, &settings.auth);
        let login_throttle = LoginThrottle::new(
            settings.auth.login_max_failures,
            std::time::Duration::from_secs(settings.auth.login_lockout_secs),
        );
        // SQLite has one write lock for the whole file. A failed peek queues one writer at a
        // time, which is always safe.
        let postgres = pool
            .get()
            .is_ok_and(|conn| conn.backend() == persistence::Backend::Postgres);
        let writers = if postgres {
            usize::try_from(settings.database.write_concurrency).unwrap_or(1)
        } else {
            1
        };
        let write_turn = Arc::new(crate::write_queue::WriteQueue::new(writers));
        let rankings: Arc<crate::routes::averages::Rankings> = Arc::default();
        // Without its thread, grading requests write one at a time, as on PostgreSQL.
        let group_writer = if postgres {
            None
        } else {
            crate::group_commit::GroupWriter::start(
                pool.clone(),
                Arc::clone(&write_turn),
                Arc::clone(&rankings),
            )
            .inspect_err(|e| tracing::warn!(error = %e, "grading requests will write one by one"))
            .ok()
        };
        Self {
            pool,
            settings: Arc::new(settings),
            tokens: Arc::new(tokens),
            login_throttle,
            write_turn,
            rankings,
            grants: Arc::default(),
            grading: Arc::default(),
            outbox: Arc::new(tokio::sync::Notify::new()),
            group_writer,
        }
    }

    /// Tells this process's dispatcher that notifications may have been queued.
    pub fn wake_dispatcher(&self) {
        self.outbox.notify_one();
    }
}

/// Builds the application; the server calls it once per worker and tests call it directly.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = state.settings.server.body_limit_bytes;
    let body_time = std::time::Duration::from_secs(state.settings.server.request_timeout_secs);
    let (app, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(move |e, req| error::json_error(e, req, limit).into()),
        )
        .app_data(web::PayloadConfig::new(limit))
        .app_data(
            web::FormConfig::default()
                .limit(limit)
                .error_handler(move |e, req| error::form_error(e, req, limit).into()),
        )
        .app_data(
            web::QueryConfig::default().error_handler(|e, req| error::query_error(e, req).into()),
        )
        .app_data(
            web::PathConfig::default().error_handler(|e, req| error::path_error(e, req).into()),
        )
        .configure(routes::configure)
        .split_for_parts();
    openapi::add_body_timeouts(&mut doc);
    let route_table = RouteTable::from_openapi(&doc);
    app.service(web::redirect("/docs", "/docs/"))
        .service(SwaggerUi::new("/docs/{_:.*}").url(openapi::SERVED_AT, doc))
        .app_data(web::Data::new(route_table))
        .default_service(web::to(fallback))
        .wrap(middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
        // Every request's body within the request timeout (see `crate::body_deadline`).
        .wrap_fn(move |mut req, service| {
            let unread = crate::body_deadline::guard(&mut req, body_time);
            let answer = service.call(req);
            async move {
                // (The handlers answer their errors themselves: an `Err` here is the framework's
                // own, answered by it. The request cannot be kept to answer it here: routing
                // needs the only reference to it.)
                let response = answer.await?.map_into_boxed_body();
                Ok(crate::body_deadline::answer_then_close(response, unread))
            }
        })
        .wrap(TracingLogger::default())
}

/// 404 for a path that names nothing; 405 (with `Allow`) for a known path and a wrong method.
async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    match routes.allowed_methods(req.path()) {
        Some(allowed) => Err(ApiError::MethodNotAllowed { allowed }),
        None => Err(ApiError::NotFound),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

/// Path templates of the document with their methods, to tell 405 from 404.
#[derive(Debug, Default)]
struct RouteTable {
    routes: Vec<(Vec<Segment>, Vec<Method>)>,
}

impl RouteTable {
    fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let mut routes: Vec<_> = doc
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let methods = [
                    (item.get.is_some(), Method::GET),
                    (item.put.is_some(), Method::PUT),
                    (item.post.is_some(), Method::POST),
                    (item.delete.is_some(), Method::DELETE),
                    (item.patch.is_some(), Method::PATCH),
                ]
                .into_iter()
                .filter_map(|(present, method)| present.then_some(method))
                .collect();
                (parse_template(template), methods)
            })
            .collect();
        routes.push((parse_template(openapi::SERVED_AT), vec![Method::GET]));
        Self { routes }
    }

    fn allowed_methods(&self, path: &str) -> Option<Vec<Method>> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.routes
            .iter()
            .find(|(template, _)| {
                template.len() == segments.len()
                    && template.iter().zip(&segments).all(|(t, s)| match t {
                        Segment::Literal(lit) => lit == s,
                        Segment::Parameter => !s.is_empty(),
                    })
            })
            .map(|(_, methods)| methods.clone())
    }
}

fn parse_template(template: &str) -> Vec<Segment> {
    template
        .trim_end_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Parameter
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_concrete_paths() {
        let table = RouteTable {
            routes: vec![
                (
                    parse_template("/api/v1/grades/{grade_id}"),
                    vec![Method::PATCH, Method::DELETE],
                ),
                (parse_template("/health/live"), vec![Method::GET]),
            ],
        };
        assert_eq!(
            table.allowed_methods("/api/v1/grades/17"),
            Some(vec![Method::PATCH, Method::DELETE])
        );
        assert_eq!(
            table.allowed_methods("/health/live/"),
            Some(vec![Method::GET])
        );
        assert_eq!(table.allowed_methods("/api/v1/grades"), None);
        assert_eq!(table.allowed_methods("/api/v1/grades/17/history"), None);
        assert_eq!(table.allowed_methods("/nothing"), None);
    }
}
