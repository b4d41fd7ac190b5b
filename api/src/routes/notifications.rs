//! Push notifications: the caller's devices, and their preferences per child.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use domain::StudentId;
use domain::access::{self, Operation, Principal};
use domain::notifications::{Preferences, QuietHours, QuietMode, TimeOfDay, UtcOffset};
use persistence::DbConnection;
use persistence::notifications::{self as push, NewDevice};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::common::{db, utc};
use crate::AppState;
use crate::auth::{AuthUser, Caller, enforce};
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;

/// The platform of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Android,
    Ios,
    Web,
}

impl Platform {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Android => "android",
            Self::Ios => "ios",
            Self::Web => "web",
        }
    }
}

/// The app a device runs: pushes about grades go to `my_diary` (parents and students).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientApp {
    MyDiary,
    MyJournal,
}

impl ClientApp {
    const fn as_str(self) -> &'static str {
        match self {
            Self::MyDiary => "my_diary",
            Self::MyJournal => "my_journal",
        }
    }
}

/// A device to register.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    /// The Firebase Cloud Messaging registration token of the app on this device.
    #[validate(length(min = 1, max = 4096, message = "must be 1 to 4096 characters"))]
    #[schema(example = "fGx3…:APA91bH…", min_length = 1, max_length = 4096)]
    pub token: String,
    pub platform: Platform,
    pub app: ClientApp,
}

/// A registered device (the token itself is not echoed).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// Use it to unregister the device.
    pub id: i64,
    #[schema(value_type = Platform)]
    pub platform: String,
    #[schema(value_type = ClientApp)]
    pub app: String,
    pub registered_at: DateTime<Utc>,
}

impl From<push::Device> for DeviceView {
    fn from(d: push::Device) -> Self {
        Self {
            id: d.id,
            platform: d.platform,
            app: d.app,
            registered_at: utc(d.updated_at),
        }
    }
}

/// The caller's devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub items: Vec<DeviceView>,
}

/// Register a device for push notifications
///
/// Registers the FCM registration token of the app on the caller's device under the caller's
/// current login session: pushes about the caller's children (or, for a student, themself)
/// go to it. Logging out (`POST /api/v1/auth/logout`, or a refresh-token family revoked)
/// unregisters every device registered under that session, so a phone that is handed on gets
/// nothing more. Registering a token that is already known moves it to the caller and this
/// session. Unregister with `DELETE /api/v1/devices/{device_id}`.
#[utoipa::path(
    tag = "notifications",
    request_body = RegisterDevice,
    responses(
        (status = 201, description = "The device is registered", body = DeviceView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An integrator's token: devices are a person's own", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (named)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/devices")]
pub async fn register_device(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ValidJson<RegisterDevice>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    if request.token.trim() != request.token || request.token.contains(char::is_whitespace) {
        return Err(ApiError::field(
            "token",
            "invalid",
            "a registration token holds no white space",
        ));
    }
    let device = db(&state, move |conn| {
        Ok(push::register_device(
            conn,
            &NewDevice {
                user: auth.user,
                session: auth.session,
                token: &request.token,
                platform: request.platform.as_str(),
                app: request.app.as_str(),
                at: Utc::now().naive_utc(),
            },
        )?)
    })
    .await?;
    tracing::info!(user_id = %auth.user, device_id = device.id, "device registered");
    Ok(HttpResponse::Created().json(DeviceView::from(device)))
}

/// The caller's devices
///
/// The caller's registered devices that are active (not unregistered, logged out or
/// refused by FCM).
#[utoipa::path(
    tag = "notifications",
    responses(
        (status = 200, description = "The caller's devices", body = DeviceList),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An integrator's token: devices are a person's own", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/devices")]
pub async fn list_devices(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<web::Json<DeviceList>, ApiError> {
    let devices = db(&state, move |conn| Ok(push::user_devices(conn, auth.user)?)).await?;
    Ok(web::Json(DeviceList {
        items: devices.into_iter().map(DeviceView::from).collect(),
    }))
}

/// Unregister a device
///
/// The device gets no more pushes. Only the caller's own active devices can be unregistered;
/// any other id is answered 404.
#[utoipa::path(
    tag = "notifications",
    params(("device_id" = i64, Path, description = "The device")),
    responses(
        (status = 204, description = "Unregistered"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An integrator's token: devices are a person's own", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such active device of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/devices/{device_id}")]
pub async fn unregister_device(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let device = path.into_inner();
    let done = db(&state, move |conn| {
        Ok(push::unregister_device(
            conn,
            auth.user,
            device,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    if !done {
        return Err(ApiError::NotFound);
    }
    tracing::info!(user_id = %auth.user, device_id = device, "device unregistered");
    Ok(HttpResponse::NoContent().finish())
}

/// Quiet hours: pushes inside them are held until they end (`hold`) or only counted in the
/// app (`count`). Local time of the recipient (see `utc_offset_minutes`); `end` earlier than
/// `start` spans midnight.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursView {
    /// `HH:MM`, 24-hour clock.
    #[schema(example = "22:00")]
    pub start: String,
    /// `HH:MM`, 24-hour clock.
    #[schema(example = "07:00")]
    pub end: String,
    /// `hold` (deliver when they end) or `count` (do not deliver; the app counts it).
    #[schema(example = "hold")]
    pub mode: QuietModeView,
}

/// What happens inside quiet hours.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuietModeView {
    Hold,
    Count,
}

/// A person's notification preferences for one child (the defaults until they choose: every
/// event, no quiet hours, Moscow time).
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    /// A new grade.
    pub new_grade: bool,
    /// A grade changed or removed.
    pub changed_grade: bool,
    /// An absence or lateness.
    pub attendance: bool,
    /// New homework (stored; not announced yet).
    pub homework: bool,
    /// A term or year grade (stored; not announced yet).
    pub term_grade: bool,
    /// `null`: no quiet hours.
    #[serde(default)]
    pub quiet_hours: Option<QuietHoursView>,
    /// The recipient's offset from UTC in minutes, for the quiet hours (Moscow: 180).
    #[serde(default = "moscow")]
    #[schema(example = 180, minimum = -720, maximum = 840)]
    pub utc_offset_minutes: i64,
}

const fn moscow() -> i64 {
    180
}

impl From<Preferences> for NotificationPreferences {
    fn from(p: Preferences) -> Self {
        Self {
            new_grade: p.new_grade,
            changed_grade: p.changed_grade,
            attendance: p.attendance,
            homework: p.homework,
            term_grade: p.term_grade,
            quiet_hours: p.quiet.map(|q| QuietHoursView {
                start: q.start.to_string(),
                end: q.end.to_string(),
                mode: match q.mode {
                    QuietMode::Hold => QuietModeView::Hold,
                    QuietMode::Count => QuietModeView::Count,
                },
            }),
            utc_offset_minutes: i64::from(p.utc_offset.minutes()),
        }
    }
}

impl NotificationPreferences {
    /// The domain value, or 422 naming the field at fault.
    fn parse(&self) -> Result<Preferences, ApiError> {
        let time = |field: &str, raw: &str| {
            TimeOfDay::parse(raw).map_err(|e| ApiError::field(field, "invalid", e.to_string()))
        };
        let quiet = self
            .quiet_hours
            .as_ref()
            .map(|q| {
                Ok::<_, ApiError>(QuietHours {
                    start: time("quiet_hours.start", &q.start)?,
                    end: time("quiet_hours.end", &q.end)?,
                    mode: match q.mode {
                        QuietModeView::Hold => QuietMode::Hold,
                        QuietModeView::Count => QuietMode::Count,
                    },
                })
            })
            .transpose()?
            .filter(|q| q.start != q.end);
        let utc_offset = UtcOffset::from_minutes(self.utc_offset_minutes)
            .map_err(|e| ApiError::field("utc_offset_minutes", "out_of_range", e.to_string()))?;
        Ok(Preferences {
            new_grade: self.new_grade,
            changed_grade: self.changed_grade,
            attendance: self.attendance,
            homework: self.homework,
            term_grade: self.term_grade,
            quiet,
            utc_offset,
        })
    }
}

/// The student, if the caller is their family (a parent, or the student): 404 for another
/// family's child or a student that does not exist, 403 for every other role.
fn followed_student(
    conn: &mut DbConnection,
    principal: &Principal,
    student: i64,
) -> Result<access::StudentRef, ApiError> {
    let Some(found) =
        persistence::access::student(conn, StudentId(student), Utc::now().date_naive())?
    else {
        enforce(access::when_missing(principal, Operation::FollowStudent))?;
        return Err(ApiError::NotFound);
    };
    enforce(access::follow_student(principal, &found))?;
    Ok(found)
}

/// The caller's notification preferences for a child
///
/// Which events about this student the caller gets pushes for, and their quiet hours. For the
/// student's parents and the student themself.
#[utoipa::path(
    tag = "notifications",
    params(("student_id" = i64, Path, description = "The student")),
    responses(
        (status = 200, description = "The preferences (the defaults until set)", body = NotificationPreferences),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only parents and students get pushes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such student in the caller's family", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/students/{student_id}/notification-preferences")]
pub async fn get_notification_preferences(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<web::Json<NotificationPreferences>, ApiError> {
    let student = path.into_inner();
    let prefs = db(&state, move |conn| {
        let found = followed_student(conn, &caller.principal, student)?;
        let user = caller.person()?;
        Ok(push::preferences(conn, user, found.id)?)
    })
    .await?;
    Ok(web::Json(prefs.into()))
}

/// Set the caller's notification preferences for a child
///
/// Replaces them whole. Quiet hours are in the caller's local time (`utc_offset_minutes`);
/// pushes that fall inside them are held until they end (`hold`) or only counted (`count`).
#[utoipa::path(
    tag = "notifications",
    params(("student_id" = i64, Path, description = "The student")),
    request_body = NotificationPreferences,
    responses(
        (status = 200, description = "The preferences as stored", body = NotificationPreferences),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only parents and students get pushes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such student in the caller's family", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (named); nothing was changed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/students/{student_id}/notification-preferences")]
pub async fn put_notification_preferences(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    body: ValidJson<NotificationPreferences>,
) -> Result<web::Json<NotificationPreferences>, ApiError> {
    let student = path.into_inner();
    let request = body.0;
    let prefs = db(&state, move |conn| {
        let found = followed_student(conn, &caller.principal, student)?;
        let user = caller.person()?;
        let prefs = request.parse()?;
        push::set_preferences(
            conn,
            found.school.school,
            user,
            found.id,
            &prefs,
            Utc::now().naive_utc(),
        )?;
        Ok(prefs)
    })
    .await?;
    Ok(web::Json(prefs.into()))
}
