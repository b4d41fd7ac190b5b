//! Push notifications: which events a family hears about, quiet hours, and the text of each
//! push (Russian, the language of the apps).
//!
//! The persistence layer writes one outbox row per (event, recipient device) in the same
//! transaction as the change; [`plan`] decides for each recipient whether the push goes out
//! at once, is held until the recipient's quiet hours end, is only counted in the app, or is
//! not wanted at all.

use chrono::{Duration, NaiveDate, NaiveDateTime, Timelike};

/// The kinds of event a parent (or the student) may choose to hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// A new grade.
    NewGrade,
    /// A grade changed or removed.
    ChangedGrade,
    /// An absence or lateness mark.
    Attendance,
    /// New homework.
    Homework,
    /// A term or year grade.
    TermGrade,
}

/// An event that yields a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    GradeCreated,
    GradeChanged,
    GradeDeleted,
    AttendanceMarked,
}

impl EventKind {
    /// The stored and transmitted name (`data.type` of the push).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GradeCreated => "grade.created",
            Self::GradeChanged => "grade.changed",
            Self::GradeDeleted => "grade.deleted",
            Self::AttendanceMarked => "attendance.marked",
        }
    }

    /// The preference that governs it.
    #[must_use]
    pub const fn category(self) -> Category {
        match self {
            Self::GradeCreated => Category::NewGrade,
            Self::GradeChanged | Self::GradeDeleted => Category::ChangedGrade,
            Self::AttendanceMarked => Category::Attendance,
        }
    }
}

/// What to do with a push that falls inside quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuietMode {
    /// Deliver it when the quiet hours end.
    Hold,
    /// Do not deliver it; the app only counts it.
    Count,
}

impl QuietMode {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::Count => "count",
        }
    }

    /// Parses `hold` or `count`.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "hold" => Some(Self::Hold),
            "count" => Some(Self::Count),
            _ => None,
        }
    }
}

/// Why a preference cannot be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PreferenceError {
    #[error("a time of day is written as HH:MM, from 00:00 to 23:59")]
    TimeOfDay,
    #[error("the UTC offset must be between -720 and 840 minutes")]
    UtcOffset,
}

/// A time of day in minutes after midnight, 0 to 1439.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    const MINUTES_PER_DAY: u16 = 24 * 60;

    /// # Errors
    /// [`PreferenceError::TimeOfDay`] outside 0..1440.
    pub fn from_minutes(minutes: i64) -> Result<Self, PreferenceError> {
        u16::try_from(minutes)
            .ok()
            .filter(|m| *m < Self::MINUTES_PER_DAY)
            .map(Self)
            .ok_or(PreferenceError::TimeOfDay)
    }

    /// Parses `HH:MM` (24-hour clock).
    ///
    /// # Errors
    /// [`PreferenceError::TimeOfDay`] for anything else.
    pub fn parse(raw: &str) -> Result<Self, PreferenceError> {
        let (h, m) = raw.split_once(':').ok_or(PreferenceError::TimeOfDay)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(PreferenceError::TimeOfDay);
        }
        let h: u16 = h.parse().map_err(|_| PreferenceError::TimeOfDay)?;
        let m: u16 = m.parse().map_err(|_| PreferenceError::TimeOfDay)?;
        if h > 23 || m > 59 {
            return Err(PreferenceError::TimeOfDay);
        }
        Ok(Self(h * 60 + m))
    }

    #[must_use]
    pub const fn minutes(self) -> u16 {
        self.0
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A recipient's local offset from UTC, in minutes (Moscow: +180).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UtcOffset(i16);

impl UtcOffset {
    /// Moscow time, the default.
    pub const MOSCOW: Self = Self(180);

    /// # Errors
    /// [`PreferenceError::UtcOffset`] outside -12:00..+14:00.
    pub fn from_minutes(minutes: i64) -> Result<Self, PreferenceError> {
        i16::try_from(minutes)
            .ok()
            .filter(|m| (-720..=840).contains(m))
            .map(Self)
            .ok_or(PreferenceError::UtcOffset)
    }

    #[must_use]
    pub const fn minutes(self) -> i16 {
        self.0
    }
}

/// Quiet hours: from `start` to `end` local time (wrapping midnight when `end` is earlier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuietHours {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    pub mode: QuietMode,
}

/// A recipient's choices for one child. The default: every event, no quiet hours, Moscow time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Preferences {
    pub new_grade: bool,
    pub changed_grade: bool,
    pub attendance: bool,
    pub homework: bool,
    pub term_grade: bool,
    /// `None`: none (a start equal to the end is stored for none).
    pub quiet: Option<QuietHours>,
    pub utc_offset: UtcOffset,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            new_grade: true,
            changed_grade: true,
            attendance: true,
            homework: true,
            term_grade: true,
            quiet: None,
            utc_offset: UtcOffset::MOSCOW,
        }
    }
}

impl Preferences {
    /// Whether the recipient wants to hear about this category.
    #[must_use]
    pub const fn wants(&self, category: Category) -> bool {
        match category {
            Category::NewGrade => self.new_grade,
            Category::ChangedGrade => self.changed_grade,
            Category::Attendance => self.attendance,
            Category::Homework => self.homework,
            Category::TermGrade => self.term_grade,
        }
    }
}

/// What happens to one recipient's push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plan {
    /// Not wanted: no outbox row.
    Skip,
    /// Send at once.
    Now,
    /// Inside quiet hours: send at this UTC instant, when they end.
    HoldUntil(NaiveDateTime),
    /// Inside quiet hours: only counted in the app, never sent.
    Count,
}

/// What to do with an event of `category` that happens at `at` (UTC) for a recipient with
/// these preferences.
#[must_use]
pub fn plan(preferences: &Preferences, category: Category, at: NaiveDateTime) -> Plan {
    if !preferences.wants(category) {
        return Plan::Skip;
    }
    let Some(quiet) = preferences.quiet else {
        return Plan::Now;
    };
    let (start, end) = (quiet.start.minutes(), quiet.end.minutes());
    if start == end {
        return Plan::Now;
    }
    let offset = Duration::minutes(i64::from(preferences.utc_offset.minutes()));
    let local = at + offset;
    let minute = u16::try_from(local.hour() * 60 + local.minute()).unwrap_or(0);
    let inside = if start < end {
        start <= minute && minute < end
    } else {
        minute >= start || minute < end
    };
    if !inside {
        return Plan::Now;
    }
    match quiet.mode {
        QuietMode::Count => Plan::Count,
        QuietMode::Hold => {
            let day = if minute < end {
                local.date()
            } else {
                local.date() + Duration::days(1)
            };
            let end_local =
                day.and_hms_opt(0, 0, 0).unwrap_or(local) + Duration::minutes(i64::from(end));
            Plan::HoldUntil(end_local - offset)
        }
    }
}

/// The visible part of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushText {
    pub title: String,
    pub body: String,
}

/// A grade value as a parent reads it: `5`, `зачёт`, `незачёт`.
#[must_use]
pub fn grade_shown(stored: &str) -> String {
    match stored {
        "pass" => "зачёт".to_owned(),
        "fail" => "незачёт".to_owned(),
        other => other.to_owned(),
    }
}

/// An attendance mark as a parent reads it.
#[must_use]
pub fn mark_shown(mark: &str) -> &'static str {
    match mark {
        "absent" => "отсутствие (Н)",
        "absent_valid" => "отсутствие по уважительной причине (УП)",
        "sick" => "болезнь (Б)",
        "late" => "опоздание (ОП)",
        _ => "отметка посещаемости",
    }
}

/// The facts a grade push is written from.
#[derive(Debug, Clone, Copy)]
pub struct GradeFacts<'a> {
    pub first_name: &'a str,
    pub subject: &'a str,
    pub work_type: &'a str,
    pub lesson_date: NaiveDate,
}

/// A new grade.
#[must_use]
pub fn grade_created_text(facts: &GradeFacts<'_>, value: &str) -> PushText {
    PushText {
        title: format!("Новая оценка: {}", facts.subject),
        body: format!(
            "{}: {} ({}), {}",
            facts.first_name,
            grade_shown(value),
            facts.work_type,
            facts.lesson_date.format("%d.%m")
        ),
    }
}

/// A changed grade.
#[must_use]
pub fn grade_changed_text(facts: &GradeFacts<'_>, old: &str, new: &str) -> PushText {
    PushText {
        title: format!("Оценка изменена: {}", facts.subject),
        body: format!(
            "{}: {} → {} ({}), {}",
            facts.first_name,
            grade_shown(old),
            grade_shown(new),
            facts.work_type,
            facts.lesson_date.format("%d.%m")
        ),
    }
}

/// A removed grade.
#[must_use]
pub fn grade_deleted_text(facts: &GradeFacts<'_>, old: &str) -> PushText {
    PushText {
        title: format!("Оценка удалена: {}", facts.subject),
        body: format!(
            "{}: {} ({}), {}",
            facts.first_name,
            grade_shown(old),
            facts.work_type,
            facts.lesson_date.format("%d.%m")
        ),
    }
}

/// An absence or lateness mark.
#[must_use]
pub fn attendance_text(
    first_name: &str,
    subject: &str,
    mark: &str,
    lesson_date: NaiveDate,
    number: i16,
) -> PushText {
    PushText {
        title: format!("Посещаемость: {subject}"),
        body: format!(
            "{first_name}: {}, {}, {number}-й урок",
            mark_shown(mark),
            lesson_date.format("%d.%m")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .unwrap_or_default()
    }

    fn quiet(start: &str, end: &str, mode: QuietMode) -> Preferences {
        Preferences {
            quiet: Some(QuietHours {
                start: TimeOfDay::parse(start).unwrap_or_else(|e| panic!("{e}")),
                end: TimeOfDay::parse(end).unwrap_or_else(|e| panic!("{e}")),
                mode,
            }),
            ..Preferences::default()
        }
    }

    #[test]
    fn unwanted_categories_are_skipped_and_wanted_ones_go_at_once() {
        let prefs = Preferences {
            attendance: false,
            ..Preferences::default()
        };
        assert_eq!(plan(&prefs, Category::Attendance, at(10, 0)), Plan::Skip);
        assert_eq!(plan(&prefs, Category::NewGrade, at(10, 0)), Plan::Now);
    }

    #[test]
    fn quiet_hours_over_midnight_hold_until_the_local_morning() {
        // 22:00-07:00 Moscow (UTC+3). 20:30 UTC is 23:30 local: held to 07:00 local, 04:00 UTC
        // the next day.
        let prefs = quiet("22:00", "07:00", QuietMode::Hold);
        let next_morning = NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(4, 0, 0))
            .unwrap_or_default();
        assert_eq!(
            plan(&prefs, Category::NewGrade, at(20, 30)),
            Plan::HoldUntil(next_morning)
        );
        // 01:00 UTC is 04:00 local on the 23rd: held to 07:00 local the same day (04:00 UTC).
        assert_eq!(
            plan(&prefs, Category::NewGrade, at(1, 0)),
            Plan::HoldUntil(at(4, 0))
        );
        // 04:00 UTC is 07:00 local: the quiet hours are over.
        assert_eq!(plan(&prefs, Category::NewGrade, at(4, 0)), Plan::Now);
        assert_eq!(plan(&prefs, Category::NewGrade, at(12, 0)), Plan::Now);
    }

    #[test]
    fn quiet_hours_within_a_day_and_count_only() {
        let prefs = quiet("13:00", "15:00", QuietMode::Count);
        assert_eq!(plan(&prefs, Category::NewGrade, at(10, 30)), Plan::Count);
        assert_eq!(plan(&prefs, Category::NewGrade, at(12, 0)), Plan::Now);
        assert_eq!(plan(&prefs, Category::NewGrade, at(9, 59)), Plan::Now);
        let none = quiet("13:00", "13:00", QuietMode::Hold);
        assert_eq!(plan(&none, Category::NewGrade, at(10, 0)), Plan::Now);
    }

    #[test]
    fn times_and_offsets_are_parsed() {
        assert_eq!(TimeOfDay::parse("07:05").map(|t| t.minutes()), Ok(425));
        assert_eq!(TimeOfDay::parse("24:00"), Err(PreferenceError::TimeOfDay));
        assert_eq!(TimeOfDay::parse("7:05"), Err(PreferenceError::TimeOfDay));
        assert_eq!(
            TimeOfDay::parse("07:05").map(|t| t.to_string()).as_deref(),
            Ok("07:05")
        );
        assert!(UtcOffset::from_minutes(900).is_err());
        assert!(UtcOffset::from_minutes(-180).is_ok());
    }

    #[test]
    fn texts_are_russian_and_name_the_grade() {
        let facts = GradeFacts {
            first_name: "Максим",
            subject: "Русский язык",
            work_type: "Контрольная работа",
            lesson_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default(),
        };
        let text = grade_created_text(&facts, "5");
        assert_eq!(text.title, "Новая оценка: Русский язык");
        assert_eq!(text.body, "Максим: 5 (Контрольная работа), 23.11");
        assert_eq!(
            grade_changed_text(&facts, "4", "pass").body,
            "Максим: 4 → зачёт (Контрольная работа), 23.11"
        );
    }
}
