//! Push notifications: which events a family hears about, quiet hours, and the text of each
//! push in the recipient's language (Russian, the language of the apps, or English).
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
    /// A lesson's homework set or changed (the class's, or a student's own).
    HomeworkAssigned,
    /// A term or year grade set or changed.
    TermGradeSet,
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
            Self::HomeworkAssigned => "homework.assigned",
            Self::TermGradeSet => "term_grade.set",
        }
    }

    /// The preference that governs it.
    #[must_use]
    pub const fn category(self) -> Category {
        match self {
            Self::GradeCreated => Category::NewGrade,
            Self::GradeChanged | Self::GradeDeleted => Category::ChangedGrade,
            Self::AttendanceMarked => Category::Attendance,
            Self::HomeworkAssigned => Category::Homework,
            Self::TermGradeSet => Category::TermGrade,
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

/// The language a person reads their pushes in: Russian, the apps' language, by default;
/// English as the second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Language {
    #[default]
    Ru,
    En,
}

impl Language {
    /// Every language, the default first.
    pub const ALL: [Self; 2] = [Self::Ru, Self::En];

    /// The stored and transmitted code: `ru`, `en`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ru => "ru",
            Self::En => "en",
        }
    }

    /// Parses `ru` or `en`.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == raw)
    }

    const fn phrases(self) -> &'static Phrases {
        match self {
            Self::Ru => &RU,
            Self::En => &EN,
        }
    }
}

/// The words of the pushes in one language; every text below is written once, from these.
struct Phrases {
    new_grade: &'static str,
    changed_grade: &'static str,
    deleted_grade: &'static str,
    attendance: &'static str,
    homework: &'static str,
    individual_homework: &'static str,
    final_grade: &'static str,
    pass: &'static str,
    fail: &'static str,
    absent: &'static str,
    absent_valid: &'static str,
    sick: &'static str,
    late: &'static str,
    other_mark: &'static str,
    /// `{n}` is the lesson's number in the day.
    lesson_number: &'static str,
    /// `{date}` is the lesson's date.
    lesson_of: &'static str,
    /// `{term}` is the term as the language names it.
    for_term: &'static str,
    for_year: &'static str,
    date_format: &'static str,
}

const RU: Phrases = Phrases {
    new_grade: "Новая оценка",
    changed_grade: "Оценка изменена",
    deleted_grade: "Оценка удалена",
    attendance: "Посещаемость",
    homework: "Домашнее задание",
    individual_homework: "Личное домашнее задание",
    final_grade: "Итоговая оценка",
    pass: "зачёт",
    fail: "незачёт",
    absent: "отсутствие (Н)",
    absent_valid: "отсутствие по уважительной причине (УП)",
    sick: "болезнь (Б)",
    late: "опоздание (ОП)",
    other_mark: "отметка посещаемости",
    lesson_number: "{n}-й урок",
    lesson_of: "урок {date}",
    for_term: "за {term}",
    for_year: "за год",
    date_format: "%d.%m",
};

const EN: Phrases = Phrases {
    new_grade: "New grade",
    changed_grade: "Grade changed",
    deleted_grade: "Grade removed",
    attendance: "Attendance",
    homework: "Homework",
    individual_homework: "Personal homework",
    final_grade: "Final grade",
    pass: "pass",
    fail: "fail",
    absent: "absent",
    absent_valid: "absent with a valid reason",
    sick: "sick",
    late: "late",
    other_mark: "attendance mark",
    lesson_number: "lesson {n}",
    lesson_of: "lesson of {date}",
    for_term: "for {term}",
    for_year: "for the year",
    date_format: "%-d %b",
};

impl Phrases {
    fn date(&self, date: NaiveDate) -> String {
        date.format(self.date_format).to_string()
    }

    fn title(&self, what: &str, subject: &str) -> String {
        format!("{what}: {subject}")
    }
}

/// The visible part of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushText {
    pub title: String,
    pub body: String,
}

/// A push's text in every [`Language`], so each recipient gets it in their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Localized {
    ru: PushText,
    en: PushText,
}

impl Localized {
    /// Writes the text in every language.
    #[must_use]
    pub fn new(write: impl Fn(Language) -> PushText) -> Self {
        Self {
            ru: write(Language::Ru),
            en: write(Language::En),
        }
    }

    #[must_use]
    pub const fn get(&self, language: Language) -> &PushText {
        match language {
            Language::Ru => &self.ru,
            Language::En => &self.en,
        }
    }
}

/// A grade value as a parent reads it: `5`, `зачёт`, `незачёт` (`pass`, `fail`).
#[must_use]
pub fn grade_shown(language: Language, stored: &str) -> String {
    let words = language.phrases();
    match stored {
        "pass" => words.pass.to_owned(),
        "fail" => words.fail.to_owned(),
        other => other.to_owned(),
    }
}

/// An attendance mark as a parent reads it.
#[must_use]
pub fn mark_shown(language: Language, mark: &str) -> &'static str {
    let words = language.phrases();
    match mark {
        "absent" => words.absent,
        "absent_valid" => words.absent_valid,
        "sick" => words.sick,
        "late" => words.late,
        _ => words.other_mark,
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

impl GradeFacts<'_> {
    /// `{title}: {subject}` over `{first name}: {shown} ({work type}), {date}`.
    fn text(&self, language: Language, title: &str, shown: &str) -> PushText {
        let words = language.phrases();
        PushText {
            title: words.title(title, self.subject),
            body: format!(
                "{}: {shown} ({}), {}",
                self.first_name,
                self.work_type,
                words.date(self.lesson_date)
            ),
        }
    }
}

/// A new grade.
#[must_use]
pub fn grade_created_text(language: Language, facts: &GradeFacts<'_>, value: &str) -> PushText {
    let shown = grade_shown(language, value);
    facts.text(language, language.phrases().new_grade, &shown)
}

/// A changed grade.
#[must_use]
pub fn grade_changed_text(
    language: Language,
    facts: &GradeFacts<'_>,
    old: &str,
    new: &str,
) -> PushText {
    let shown = format!(
        "{} → {}",
        grade_shown(language, old),
        grade_shown(language, new)
    );
    facts.text(language, language.phrases().changed_grade, &shown)
}

/// A removed grade.
#[must_use]
pub fn grade_deleted_text(language: Language, facts: &GradeFacts<'_>, old: &str) -> PushText {
    let shown = grade_shown(language, old);
    facts.text(language, language.phrases().deleted_grade, &shown)
}

/// An absence or lateness mark.
#[must_use]
pub fn attendance_text(
    language: Language,
    first_name: &str,
    subject: &str,
    mark: &str,
    lesson_date: NaiveDate,
    number: i16,
) -> PushText {
    let words = language.phrases();
    PushText {
        title: words.title(words.attendance, subject),
        body: format!(
            "{first_name}: {}, {}, {}",
            mark_shown(language, mark),
            words.date(lesson_date),
            words.lesson_number.replace("{n}", &number.to_string())
        ),
    }
}

/// The most characters of a homework's text a push shows.
pub const HOMEWORK_EXCERPT_CHARS: usize = 100;

/// The start of a text for a push: white space (line breaks too) collapsed to single spaces,
/// at most `max` characters (never cut inside a character), with `…` when cut.
#[must_use]
pub fn excerpt(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// The facts a homework push is written from.
#[derive(Debug, Clone, Copy)]
pub struct HomeworkFacts<'a> {
    pub first_name: &'a str,
    pub subject: &'a str,
    pub lesson_date: NaiveDate,
    pub homework: &'a str,
    /// Set for this student alone, not for the class.
    pub individual: bool,
}

/// New or changed homework: `Домашнее задание: {subject}` over
/// `{first name}, урок {date}: {excerpt}`.
#[must_use]
pub fn homework_text(language: Language, facts: &HomeworkFacts<'_>) -> PushText {
    let words = language.phrases();
    let what = if facts.individual {
        words.individual_homework
    } else {
        words.homework
    };
    PushText {
        title: words.title(what, facts.subject),
        body: format!(
            "{}, {}: {}",
            facts.first_name,
            words
                .lesson_of
                .replace("{date}", &words.date(facts.lesson_date)),
            excerpt(facts.homework, HOMEWORK_EXCERPT_CHARS)
        ),
    }
}

/// The period a final grade closes.
#[derive(Debug, Clone, Copy)]
pub enum FinalPeriod<'a> {
    /// A term: its number in the year and the school's name for it (`1 полугодие`).
    Term { ordinal: i16, name: &'a str },
    /// The academic year.
    Year,
}

/// The facts a term or year grade push is written from.
#[derive(Debug, Clone, Copy)]
pub struct FinalGradeFacts<'a> {
    pub first_name: &'a str,
    pub subject: &'a str,
    pub period: FinalPeriod<'a>,
    /// The grade before, when it changed.
    pub old: Option<i16>,
    pub new: i16,
}

/// A term or year grade set or changed: `Итоговая оценка: {subject}` over
/// `{first name}: {old →} {new} за {term}`. In English a term is `term {n}`.
#[must_use]
pub fn final_grade_text(language: Language, facts: &FinalGradeFacts<'_>) -> PushText {
    let words = language.phrases();
    let period = match (facts.period, language) {
        (FinalPeriod::Year, _) => words.for_year.to_owned(),
        (FinalPeriod::Term { name, .. }, Language::Ru) => words.for_term.replace("{term}", name),
        (FinalPeriod::Term { ordinal, .. }, Language::En) => {
            words.for_term.replace("{term}", &format!("term {ordinal}"))
        }
    };
    let shown = facts.old.map_or_else(
        || facts.new.to_string(),
        |old| format!("{old} → {}", facts.new),
    );
    PushText {
        title: words.title(words.final_grade, facts.subject),
        body: format!("{}: {shown} {period}", facts.first_name),
    }
}

/// What became of one event for one person, over the outbox rows of their devices: the
/// family app shows it beside the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Delivery {
    /// Sent to at least one of the person's devices.
    Delivered,
    /// Waiting to be sent (or being retried).
    Pending,
    /// Held until the person's quiet hours end.
    Held,
    /// Inside quiet hours in `count` mode: never sent, only counted in the app.
    Counted,
    /// Refused for good on every device.
    Failed,
    /// Not sent: the device went away or the person may no longer get it.
    Cancelled,
}

impl Delivery {
    /// The stored and transmitted name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Pending => "pending",
            Self::Held => "held",
            Self::Counted => "counted",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The event's state from its outbox rows' statuses (`queued`, `held`, `counted`,
    /// `sent`, `failed`, `cancelled`): the best any device reached, in the order above.
    #[must_use]
    pub fn of<'a>(statuses: impl IntoIterator<Item = &'a str>) -> Self {
        statuses
            .into_iter()
            .map(|status| match status {
                "sent" => Self::Delivered,
                "queued" => Self::Pending,
                "held" => Self::Held,
                "counted" => Self::Counted,
                "failed" => Self::Failed,
                _ => Self::Cancelled,
            })
            .min()
            .unwrap_or(Self::Cancelled)
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

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
    }

    #[test]
    fn texts_are_russian_and_name_the_grade() {
        let facts = GradeFacts {
            first_name: "Максим",
            subject: "Русский язык",
            work_type: "Контрольная работа",
            lesson_date: day(),
        };
        let text = grade_created_text(Language::Ru, &facts, "5");
        assert_eq!(text.title, "Новая оценка: Русский язык");
        assert_eq!(text.body, "Максим: 5 (Контрольная работа), 23.11");
        assert_eq!(
            grade_changed_text(Language::Ru, &facts, "4", "pass").body,
            "Максим: 4 → зачёт (Контрольная работа), 23.11"
        );
        assert_eq!(
            grade_deleted_text(Language::Ru, &facts, "fail").title,
            "Оценка удалена: Русский язык"
        );
        assert_eq!(
            attendance_text(Language::Ru, "Максим", "Русский язык", "late", day(), 2).body,
            "Максим: опоздание (ОП), 23.11, 2-й урок"
        );
    }

    #[test]
    fn english_texts_say_the_same() {
        let facts = GradeFacts {
            first_name: "Максим",
            subject: "Русский язык",
            work_type: "Контрольная работа",
            lesson_date: day(),
        };
        let text = grade_changed_text(Language::En, &facts, "4", "pass");
        assert_eq!(text.title, "Grade changed: Русский язык");
        assert_eq!(text.body, "Максим: 4 → pass (Контрольная работа), 23 Nov");
        assert_eq!(
            attendance_text(Language::En, "Максим", "Русский язык", "sick", day(), 3).body,
            "Максим: sick, 23 Nov, lesson 3"
        );
        let both = Localized::new(|l| grade_created_text(l, &facts, "5"));
        assert_eq!(both.get(Language::Ru).title, "Новая оценка: Русский язык");
        assert_eq!(both.get(Language::En).title, "New grade: Русский язык");
    }

    #[test]
    fn an_event_is_as_delivered_as_its_best_device() {
        assert_eq!(Delivery::of(["failed", "sent"]), Delivery::Delivered);
        assert_eq!(Delivery::of(["held", "held"]), Delivery::Held);
        assert_eq!(Delivery::of(["counted"]), Delivery::Counted);
        assert_eq!(Delivery::of(["cancelled", "failed"]), Delivery::Failed);
        assert_eq!(Delivery::of(["queued", "failed"]), Delivery::Pending);
        assert_eq!(Delivery::of([]), Delivery::Cancelled);
    }

    #[test]
    fn languages_are_parsed() {
        assert_eq!(Language::parse("en"), Some(Language::En));
        assert_eq!(Language::parse("ru"), Some(Language::Ru));
        assert_eq!(Language::parse("EN"), None);
        assert_eq!(Language::default().as_str(), "ru");
    }

    #[test]
    fn homework_texts_name_the_subject_and_the_day() {
        let facts = HomeworkFacts {
            first_name: "Максим",
            subject: "Русский язык",
            lesson_date: day(),
            homework: "Упр. 125,\n  стр. 60",
            individual: false,
        };
        let text = homework_text(Language::Ru, &facts);
        assert_eq!(text.title, "Домашнее задание: Русский язык");
        assert_eq!(text.body, "Максим, урок 23.11: Упр. 125, стр. 60");
        let own = homework_text(
            Language::En,
            &HomeworkFacts {
                individual: true,
                ..facts
            },
        );
        assert_eq!(own.title, "Personal homework: Русский язык");
        assert_eq!(own.body, "Максим, lesson of 23 Nov: Упр. 125, стр. 60");
        assert_eq!(EventKind::HomeworkAssigned.as_str(), "homework.assigned");
        assert_eq!(EventKind::HomeworkAssigned.category(), Category::Homework);
    }

    #[test]
    fn a_long_homework_is_cut_on_a_character_boundary() {
        // Cyrillic letters take two bytes each: a cut by bytes would split one.
        let long = "ж".repeat(150);
        let cut = excerpt(&long, HOMEWORK_EXCERPT_CHARS);
        assert_eq!(cut.chars().count(), HOMEWORK_EXCERPT_CHARS);
        assert!(cut.ends_with("ж…"));
        assert_eq!(excerpt("коротко", 100), "коротко");
        assert_eq!(excerpt("a b c d e", 5), "a b…");
        assert_eq!(excerpt("", 5), "");
        let emoji = "👍".repeat(10);
        assert_eq!(excerpt(&emoji, 4), "👍👍👍…");
    }

    #[test]
    fn final_grade_texts_name_the_period() {
        let facts = FinalGradeFacts {
            first_name: "Максим",
            subject: "Математика",
            period: FinalPeriod::Term {
                ordinal: 1,
                name: "1 полугодие",
            },
            old: None,
            new: 5,
        };
        let text = final_grade_text(Language::Ru, &facts);
        assert_eq!(text.title, "Итоговая оценка: Математика");
        assert_eq!(text.body, "Максим: 5 за 1 полугодие");
        let changed = FinalGradeFacts {
            old: Some(4),
            ..facts
        };
        assert_eq!(
            final_grade_text(Language::En, &changed).body,
            "Максим: 4 → 5 for term 1"
        );
        let year = FinalGradeFacts {
            period: FinalPeriod::Year,
            ..facts
        };
        assert_eq!(
            final_grade_text(Language::Ru, &year).body,
            "Максим: 5 за год"
        );
        assert_eq!(
            final_grade_text(Language::En, &year).title,
            "Final grade: Математика"
        );
        assert_eq!(EventKind::TermGradeSet.category(), Category::TermGrade);
    }
}
