//! The OpenAPI 3.1 contract. Routes and the document come from one registration
//! (`utoipa-actix-web`); this module adds what is common to every operation.

use domain::access::Scope;
use utoipa::OpenApi;
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, Problem};
use crate::routes;

/// Where the running server serves the document.
pub const SERVED_AT: &str = "/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gradebook API",
        description = "The school e-journal behind \"My Journal\" (teachers), \"My Diary\" (parents and students) \
and third-party integrations. Every error is `application/problem+json` (RFC 9457) with a stable `code`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "health", description = "Liveness and readiness for orchestrators"),
        (name = "meta", description = "What this server is"),
        (name = "auth", description = "Logging in, refreshing tokens, logging out"),
        (name = "account", description = "The caller's own account and language"),
        (name = "roster", description = "Students and class rosters"),
        (name = "journal", description = "Lessons, grades, attendance and their history; the diary and the journal page"),
        (name = "averages", description = "Averages, suggested term grades and ranks, from running sums kept with every grade change"),
        (name = "timetable", description = "Groups within classes, weekly timetables, holidays, and generating a term's lessons"),
        (name = "administration", description = "A school's people, roles, parent links, teaching assignments and audit trail"),
        (name = "notifications", description = "Push notifications: the caller's devices (FCM registration tokens), their preferences per child, and the list of what they were notified of (also what quiet hours only counted)"),
        (name = "reports", description = "The administration's reports: academic figures of a term, the class summary sheet, attendance, the activity indicators, and a municipality's schools side by side; JSON, or CSV with `Accept: text/csv`"),
        (name = "integrators", description = "Third-party clients a school or municipality registers (OAuth2 client credentials)"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A person's access token from `POST /api/v1/auth/login` (or \
                         `/auth/refresh`, `/auth/activate`).",
                    ))
                    .build(),
            ),
        );
        let scopes = Scopes::from_iter(Scope::ALL.map(|scope| {
            let what = match scope {
                Scope::GradesRead => "Read grades, averages and ranks",
                Scope::GradesWrite => "Write grades, and a lesson's topic and homework",
                Scope::AttendanceRead => "Read attendance marks",
                Scope::AttendanceWrite => "Write attendance marks",
                Scope::RosterRead => "Read students, classes and rosters",
                Scope::ReportsRead => "Read a school's reports and activity indicators",
            };
            (scope.as_str(), what)
        }));
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::ClientCredentials(ClientCredentials::new(
                    "/api/v1/auth/token",
                    scopes,
                ))],
                "For integrator clients a school or municipality registered: the \
                 client-credentials grant. The token reaches only the owner's schools and the \
                 scopes granted; it is sent as `Authorization: Bearer ...`.",
            )),
        );
    }
}

/// The document before the routes are added.
#[must_use]
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The whole document, as the server serves it.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = actix_web::App::new()
        .into_utoipa_app()
        .openapi(base())
        .configure(routes::configure)
        .split_for_parts()
        .1;
    add_body_timeouts(&mut doc);
    doc
}

/// Every operation that takes a body may answer 408 when the body does not arrive in time
/// (`crate::body_deadline`): listed once here rather than in each operation.
pub(crate) fn add_body_timeouts(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let timeout = ResponseBuilder::new()
        .description(
            "The request body did not arrive in time (`server.request_timeout_secs`, more for a \
             large body); the connection is closed",
        )
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            if operation.request_body.is_some() {
                operation
                    .responses
                    .responses
                    .entry("408".to_owned())
                    .or_insert_with(|| timeout.clone().into());
            }
        }
    }
}

/// The document as committed in `openapi/openapi.json`: pretty JSON with a final newline.
///
/// # Errors
/// When serialisation fails.
pub fn document_json() -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&document()).map(|mut s| {
        s.push('\n');
        s
    })
}
