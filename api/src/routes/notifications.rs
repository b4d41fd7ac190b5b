//! Push notifications: the caller's devices, their preferences per child, and the list of
//! what they were notified of.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use domain::access::{self, Operation, Principal};
use domain::notifications::{Delivery, Preferences, QuietHours, QuietMode, TimeOfDay, UtcOffset};
use domain::{StudentId, UserId};
use persistence::notifications::{self as push, NewDevice};
use persistence::{DbConnection, inbox};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::common::{PageQuery, db, paginate, utc};
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
    /// New or changed homework (the class's, or the student's own).
    pub homework: bool,
    /// A term or year grade set or changed.
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

/// The student, if `rule` lets the caller use `op` on them (the family: a parent, or the
/// student): 404 for another family's child or a student that does not exist, 403 for every
/// other role.
fn family_student(
    conn: &mut DbConnection,
    principal: &Principal,
    student: i64,
    op: Operation,
    rule: fn(&Principal, &access::StudentRef) -> access::Decision,
) -> Result<access::StudentRef, ApiError> {
    let Some(found) =
        persistence::access::student(conn, StudentId(student), Utc::now().date_naive())?
    else {
        enforce(access::when_missing(principal, op))?;
        return Err(ApiError::NotFound);
    };
    enforce(rule(principal, &found))?;
    Ok(found)
}

/// The student, if the caller may follow them (see [`access::follow_student`]).
fn followed_student(
    conn: &mut DbConnection,
    principal: &Principal,
    student: i64,
) -> Result<access::StudentRef, ApiError> {
    family_student(
        conn,
        principal,
        student,
        Operation::FollowStudent,
        access::follow_student,
    )
}

/// 403 unless the caller's role gets notifications at all (parents and students).
fn notified_person(caller: &Caller) -> Result<UserId, ApiError> {
    if !access::may_use(&caller.principal, Operation::ReadNotifications) {
        return Err(ApiError::Forbidden);
    }
    caller.person()
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

/// What became of a notification on the caller's devices (the best any of them reached).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationDelivery {
    /// Sent to the caller's phone.
    Delivered,
    /// Being sent.
    Pending,
    /// Held until the caller's quiet hours end.
    Held,
    /// Inside quiet hours in `count` mode: not sent, only counted here.
    Counted,
    /// Refused by FCM for good.
    Failed,
    /// Not sent: the device was unregistered or logged out.
    Cancelled,
}

impl From<Delivery> for NotificationDelivery {
    fn from(d: Delivery) -> Self {
        match d {
            Delivery::Delivered => Self::Delivered,
            Delivery::Pending => Self::Pending,
            Delivery::Held => Self::Held,
            Delivery::Counted => Self::Counted,
            Delivery::Failed => Self::Failed,
            Delivery::Cancelled => Self::Cancelled,
        }
    }
}

/// One event the caller was notified of (once, however many devices got it).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    /// Pass as `up_to` to `POST /api/v1/notifications/read`.
    pub id: i64,
    pub student_id: i64,
    /// `grade.created`, `grade.changed`, `grade.deleted`, `attendance.marked`,
    /// `homework.assigned`, `term_grade.set`.
    #[schema(example = "homework.assigned")]
    pub kind: String,
    /// In the caller's language when it was written.
    #[schema(example = "Домашнее задание: Русский язык")]
    pub title: String,
    #[schema(example = "Максим, урок 23.11: Упр. 125, стр. 60")]
    pub body: String,
    /// The push's data: the screen to open and the ids to open it with (string values).
    #[schema(value_type = Object, example = json!({"type": "homework.assigned", "screen": "diary", "lesson_id": "812", "student_id": "17"}))]
    pub data: BTreeMap<String, String>,
    pub status: NotificationDelivery,
    /// Whether the caller has marked it read.
    pub read: bool,
    pub created_at: DateTime<Utc>,
}

/// A page of the caller's notifications, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
    /// How many events (of the students asked about) were only counted, not sent (quiet
    /// hours in `count` mode), since the caller last marked their notifications read.
    pub counted: i64,
    /// The id up to which the caller has read (0: nothing yet).
    pub read_up_to: i64,
}

/// Whose notifications to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationsFilter {
    /// Only those about this student (a child of the caller's, or the caller as a student);
    /// all of the caller's children when left out.
    pub student_id: Option<i64>,
}

/// The caller's notifications
///
/// What the caller was notified of in the family app, one item per event however many of
/// their devices got it, newest first, with what became of it: `delivered`, `held` (quiet
/// hours), `counted` (quiet hours in `count` mode: never sent), `failed`... A parent who
/// chose `count` sees here what happened meanwhile; `counted` says how many such events came
/// since they last marked their notifications read. Only the caller's own notifications, and
/// only about children they are still linked to. Notifications are written per registered
/// device: a caller who never registered one has none.
#[utoipa::path(
    tag = "notifications",
    params(NotificationsFilter, PageQuery),
    responses(
        (status = 200, description = "A page of notifications", body = NotificationPage),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only parents and students get notifications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such student in the caller's family", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A query parameter is invalid (named)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/notifications")]
pub async fn list_notifications(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<NotificationsFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<NotificationPage>, ApiError> {
    let (limit, before) = page.parse()?;
    let student = filter.student_id;
    let page = db(&state, move |conn| {
        let students: BTreeSet<i64> = match student {
            Some(id) => {
                let found = family_student(
                    conn,
                    &caller.principal,
                    id,
                    Operation::ReadNotifications,
                    access::read_notifications,
                )?;
                BTreeSet::from([found.id.get()])
            }
            None => access::family_of(&caller.principal)
                .into_iter()
                .map(StudentId::get)
                .collect(),
        };
        let user = notified_person(&caller)?;
        let read_up_to = inbox::read_up_to(conn, user)?;
        let items = inbox::list(conn, user, &students, before, limit + 1)?;
        let counted = inbox::counted_since(conn, user, &students, read_up_to)?;
        let (items, next_cursor) = paginate(items, limit, |i| i.id);
        Ok(NotificationPage {
            items: items
                .into_iter()
                .map(|i| NotificationView {
                    id: i.id,
                    student_id: i.student_id,
                    kind: i.kind,
                    title: i.payload.title,
                    body: i.payload.body,
                    data: i.payload.data,
                    status: i.delivery.into(),
                    read: i.id <= read_up_to,
                    created_at: utc(i.created_at),
                })
                .collect(),
            next_cursor,
            counted,
            read_up_to,
        })
    })
    .await?;
    Ok(web::Json(page))
}

/// How far the caller has read.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadNotifications {
    /// The id of the newest notification read: it and every older one count as read.
    #[validate(range(min = 1, message = "must be a notification's id"))]
    #[schema(example = 120, minimum = 1)]
    pub up_to: i64,
}

/// Mark the caller's notifications read
///
/// Every notification up to `up_to` (an item's `id`) counts as read, and `counted` starts
/// again from there. A mark is never taken back by an older `up_to`.
#[utoipa::path(
    tag = "notifications",
    request_body = ReadNotifications,
    responses(
        (status = 204, description = "Marked"),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only parents and students get notifications", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (named)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/notifications/read")]
pub async fn mark_notifications_read(
    state: web::Data<AppState>,
    caller: Caller,
    body: ValidJson<ReadNotifications>,
) -> Result<HttpResponse, ApiError> {
    let user = notified_person(&caller)?;
    let up_to = body.0.up_to;
    db(&state, move |conn| {
        Ok(inbox::mark_read(conn, user, up_to, Utc::now().naive_utc())?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
