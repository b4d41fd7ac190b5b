//! The administration's reports: shares (pass rate, quality rate, the activity indicators)
//! and the academic figures of a class in a subject, from counts and sums the database
//! returns. Exact: a share is a fraction of whole numbers, shown as a percentage with two
//! decimals, rounded half up; an indicator is met when the exact share reaches its target.
//!
//! # Academic figures (per class and subject, for a term, on the school's 5-point scale)
//! - A student's **result** in a subject is the term grade the teacher set, or else the grade
//!   the average suggests (the school's rounding rule, at least its minimum number of grades);
//!   a student with neither is **not assessed**.
//! - **Pass rate** (успеваемость): assessed students whose result is 3 or more, over the
//!   assessed students.
//! - **Quality rate** (качество знаний): assessed students whose result is 4 or 5, over the
//!   assessed students.
//! - **Average**: the plain mean of the students' exact averages (each student with at least
//!   one grade counts once), shown with two decimals.
//! - **Grades per student**: the number of averaged grades over the number of students of
//!   the class in the term, shown with two decimals.
//!
//! # Activity indicators (seed 001, table 1)
//! See [`Indicator`]: each is a share with a target, met when the share reaches the target's
//! lower bound.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::averages::{Average, Hundredths, OverallAverage, RoundingRule, Sums, suggest};
use crate::grading::Scale;

/// A part of a whole (e.g. 7 lessons out of 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Share {
    pub part: u64,
    pub whole: u64,
}

impl Share {
    #[must_use]
    pub const fn new(part: u64, whole: u64) -> Self {
        Self { part, whole }
    }

    /// The share in hundredths of a percent, rounded half up (2 of 3 is 6667, shown
    /// `66.67`); `None` for an empty whole.
    #[must_use]
    pub fn percent_hundredths(self) -> Option<i64> {
        if self.whole == 0 {
            return None;
        }
        let part = u128::from(self.part) * 20_000 + u128::from(self.whole);
        let value = part / (2 * u128::from(self.whole));
        i64::try_from(value).ok()
    }

    /// Whether the share is at least `percent` %, exactly (an empty whole reaches nothing).
    #[must_use]
    pub fn reaches(self, percent: u8) -> bool {
        self.whole > 0
            && u128::from(self.part) * 100 >= u128::from(percent) * u128::from(self.whole)
    }

    /// The sum of two shares' parts and wholes.
    #[must_use]
    pub const fn plus(self, other: Self) -> Self {
        Self {
            part: self.part + other.part,
            whole: self.whole + other.whole,
        }
    }
}

/// A count over a count, shown with two decimals (grades per student).
#[must_use]
pub fn ratio(count: u64, over: u64) -> Option<Hundredths> {
    if over == 0 {
        return None;
    }
    let value = (u128::from(count) * 200 + u128::from(over)) / (2 * u128::from(over));
    i64::try_from(value).ok().map(Hundredths::new)
}

/// The lowest result that passes, and the lowest of "quality", on the 5-point scale.
pub const PASS_FROM: u8 = 3;
pub const QUALITY_FROM: u8 = 4;

/// One student's standing in a subject for a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StudentSubject {
    /// The running sums of the student's averaged grades.
    pub sums: Sums,
    /// The term grade the teacher set, if any.
    pub term_grade: Option<u8>,
}

impl StudentSubject {
    /// The term grade, or else the suggested one; `None`: not assessed.
    #[must_use]
    pub fn result(&self, scale: Scale, rule: RoundingRule) -> Option<u8> {
        self.term_grade
            .or_else(|| suggest(self.sums, scale, rule).grade())
    }
}

/// The academic figures of one class in one subject.
#[derive(Debug, Clone)]
pub struct ClassSubjectFigures {
    pub students: u64,
    pub assessed: u64,
    pub pass: Share,
    pub quality: Share,
    /// The mean of the students' averages as shown (two decimals, half up).
    pub average: Option<Hundredths>,
    pub grades: u64,
    pub grades_per_student: Option<Hundredths>,
}

/// The figures of a class in a subject from each student's standing (one entry per student
/// of the class, an empty default for a student without grades).
#[must_use]
pub fn class_subject(
    students: &[StudentSubject],
    scale: Scale,
    rule: RoundingRule,
) -> ClassSubjectFigures {
    let results: Vec<u8> = students
        .iter()
        .filter_map(|s| s.result(scale, rule))
        .collect();
    let assessed = results.len() as u64;
    let passed = results.iter().filter(|r| **r >= PASS_FROM).count() as u64;
    let quality = results.iter().filter(|r| **r >= QUALITY_FROM).count() as u64;
    let grades: u64 = students.iter().map(|s| s.sums.count().unsigned_abs()).sum();
    let count = students.len() as u64;
    ClassSubjectFigures {
        students: count,
        assessed,
        pass: Share::new(passed, assessed),
        quality: Share::new(quality, assessed),
        average: mean_shown(
            &students
                .iter()
                .filter_map(|s| s.sums.average())
                .collect::<Vec<_>>(),
        ),
        grades,
        grades_per_student: ratio(grades, count),
    }
}

/// The plain mean of exact averages, shown with two decimals (rounded half up), as
/// [`OverallAverage::mean`] shows it, but fast for thousands of averages: each is summed as a
/// fixed-point number of 10^-12 (rounded down), which brackets the exact sum between the sum
/// and the sum plus the number of inexact terms; when both ends show the same hundredths that
/// is the answer, and only when they straddle a rounding point is the exact mean computed.
#[must_use]
pub fn mean_shown(averages: &[Average]) -> Option<Hundredths> {
    const SCALE: i128 = 1_000_000_000_000;
    let n = i128::try_from(averages.len()).ok().filter(|n| *n > 0)?;
    let (mut low, mut inexact) = (0_i128, 0_i128);
    for a in averages {
        let num = i128::from(a.numerator()) * SCALE;
        let den = i128::from(a.denominator());
        low += num / den;
        inexact += i128::from(num % den != 0);
    }
    // floor(sum / n × 100 + 1/2) with sum in units of 1/SCALE.
    let shown = |sum: i128| (200 * sum + n * SCALE) / (2 * n * SCALE);
    let (lo, hi) = (shown(low), shown(low + inexact));
    if lo == hi {
        i64::try_from(lo).ok().map(Hundredths::new)
    } else {
        OverallAverage::mean(averages.iter().copied()).map(|m| m.shown())
    }
}

/// The activity indicators the administration watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// Classes with a timetable, over the school's classes of the year. Target 100 %.
    TimetableFullness,
    /// Lessons with a topic or homework, over the lessons (not cancelled) of the range.
    /// Target 70-100 %.
    Planning,
    /// Lessons with at least one grade, attendance mark, held mark or comment, over the
    /// lessons. Target 70-100 %.
    JournalKeeping,
    /// Accounts of the school (people holding a role in it) that are activated, over all of
    /// them, as they stand when the report is made. Target ≥ 50 %.
    ActivatedAccounts,
    /// Per Monday-to-Sunday week of the range: the activated accounts that logged in that
    /// week (each once), over the activated accounts; summed over the weeks. Target ≥ 10 %.
    UniqueLogins,
    /// Lessons whose first entry was made within 24 hours after the lesson's day ended, over
    /// the lessons. Target ≥ 20 %.
    OnlineJournal,
}

impl Indicator {
    pub const ALL: [Self; 6] = [
        Self::TimetableFullness,
        Self::Planning,
        Self::JournalKeeping,
        Self::ActivatedAccounts,
        Self::UniqueLogins,
        Self::OnlineJournal,
    ];

    /// The target's lower bound in percent.
    #[must_use]
    pub const fn target(self) -> u8 {
        match self {
            Self::TimetableFullness => 100,
            Self::Planning | Self::JournalKeeping => 70,
            Self::ActivatedAccounts => 50,
            Self::UniqueLogins => 10,
            Self::OnlineJournal => 20,
        }
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TimetableFullness => "timetable_fullness",
            Self::Planning => "planning",
            Self::JournalKeeping => "journal_keeping",
            Self::ActivatedAccounts => "activated_accounts",
            Self::UniqueLogins => "unique_logins",
            Self::OnlineJournal => "online_journal",
        }
    }

    /// Whether `share` meets the target.
    #[must_use]
    pub fn met(self, share: Share) -> bool {
        share.reaches(self.target())
    }
}

/// What the database knows of one lesson, for the lesson indicators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LessonFacts {
    pub date: NaiveDate,
    /// A topic or homework is set.
    pub planned: bool,
    /// A grade, attendance mark, held mark or comment is there.
    pub kept: bool,
    /// When the lesson got its first entry of any kind.
    pub first_entry_at: Option<NaiveDateTime>,
}

impl LessonFacts {
    /// Whether the first entry came within 24 hours after the lesson's day ended (lessons
    /// carry a date, not a time): before midnight at the end of the next day.
    #[must_use]
    pub fn online(&self) -> bool {
        let deadline = self
            .date
            .checked_add_days(chrono::Days::new(2))
            .and_then(|d| d.and_hms_opt(0, 0, 0));
        matches!((self.first_entry_at, deadline), (Some(at), Some(deadline)) if at < deadline)
    }
}

/// The three lesson indicators of a set of lessons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LessonShares {
    pub planning: Share,
    pub journal_keeping: Share,
    pub online_journal: Share,
}

impl LessonShares {
    /// Adds one lesson.
    pub fn add(&mut self, lesson: &LessonFacts) {
        self.planning = self.planning.plus(Share::new(u64::from(lesson.planned), 1));
        self.journal_keeping = self
            .journal_keeping
            .plus(Share::new(u64::from(lesson.kept), 1));
        self.online_journal = self
            .online_journal
            .plus(Share::new(u64::from(lesson.online()), 1));
    }

    /// The share of `indicator`, if it is one of the three.
    #[must_use]
    pub const fn of(&self, indicator: Indicator) -> Option<Share> {
        match indicator {
            Indicator::Planning => Some(self.planning),
            Indicator::JournalKeeping => Some(self.journal_keeping),
            Indicator::OnlineJournal => Some(self.online_journal),
            _ => None,
        }
    }
}

/// The Monday of the week holding `date`.
#[must_use]
pub fn week_of(date: NaiveDate) -> NaiveDate {
    date - chrono::Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// The Monday-to-Sunday weeks that meet the range `from..=to`, by their Mondays.
#[must_use]
pub fn weeks(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut monday = week_of(from);
    while monday <= to {
        out.push(monday);
        monday += chrono::Duration::days(7);
    }
    out
}

/// The unique-logins share: `logins` are (user, day) pairs of activated users' logins within
/// the range; each user counts once per week, over `activated` users in each week.
#[must_use]
pub fn unique_logins(
    logins: &[(i64, NaiveDate)],
    activated: u64,
    from: NaiveDate,
    to: NaiveDate,
) -> Share {
    let mut seen = std::collections::BTreeSet::new();
    for (user, day) in logins {
        if (from..=to).contains(day) {
            seen.insert((week_of(*day), *user));
        }
    }
    let weeks = weeks(from, to).len() as u64;
    Share::new(seen.len() as u64, activated * weeks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default()
    }

    #[test]
    fn shares_are_shown_rounded_half_up_and_compared_exactly() {
        assert_eq!(Share::new(2, 3).percent_hundredths(), Some(6667));
        assert_eq!(Share::new(1, 8).percent_hundredths(), Some(1250));
        assert_eq!(Share::new(0, 0).percent_hundredths(), None);
        // 69.995 % is shown 70.00 but does not reach 70 %.
        assert!(!Share::new(13_999, 20_000).reaches(70));
        assert!(Share::new(7, 10).reaches(70));
        assert!(!Share::new(0, 0).reaches(0));
    }

    #[test]
    fn the_fast_mean_shows_what_the_exact_mean_shows() {
        let avg = |grades: &[(u8, u8)]| {
            Sums::of(grades.iter().map(|(g, w)| {
                (
                    *g,
                    crate::grading::Weight::new(i64::from(*w)).unwrap_or_else(|e| panic!("{e}")),
                )
            }))
            .average()
            .unwrap_or_else(|| panic!("no average"))
        };
        // 25/8 = 3.125 exactly: half up to 3.13, on the rounding point itself.
        let cases: Vec<Vec<Average>> = vec![
            vec![avg(&[(3, 7), (4, 1)])],
            vec![
                avg(&[(5, 1), (4, 2)]),
                avg(&[(2, 3), (3, 1)]),
                avg(&[(5, 1)]),
            ],
            (1..=200_u16)
                .map(|i| {
                    avg(&[
                        ((i % 5 + 1) as u8, (i % 3 + 1) as u8),
                        ((i % 4 + 2) as u8, (i % 7 + 1) as u8),
                    ])
                })
                .collect(),
        ];
        assert_eq!(mean_shown(&cases[0]), Some(Hundredths::new(313)));
        for averages in &cases {
            let exact = OverallAverage::mean(averages.iter().copied()).map(|m| m.shown());
            assert_eq!(mean_shown(averages), exact);
        }
        assert_eq!(mean_shown(&[]), None);
    }

    #[test]
    fn every_indicator_has_its_target() {
        let targets: Vec<u8> = Indicator::ALL.iter().map(|i| i.target()).collect();
        assert_eq!(targets, [100, 70, 70, 50, 10, 20]);
        assert!(Indicator::ActivatedAccounts.met(Share::new(1, 2)));
        assert!(!Indicator::TimetableFullness.met(Share::new(66, 67)));
    }

    #[test]
    fn pass_and_quality_count_assessed_students_only() {
        let sums = |grades: &[u8]| {
            Sums::of(grades.iter().map(|g| {
                (
                    *g,
                    crate::grading::Weight::new(1).unwrap_or_else(|e| panic!("{e}")),
                )
            }))
        };
        let students = [
            StudentSubject {
                sums: sums(&[5, 5, 4]),
                term_grade: None,
            }, // 4.67 → 5
            StudentSubject {
                sums: sums(&[3, 3, 4]),
                term_grade: None,
            }, // 3.33 → 3
            StudentSubject {
                sums: sums(&[2, 2, 3]),
                term_grade: None,
            }, // 2.33 → 2
            StudentSubject {
                sums: sums(&[5]),
                term_grade: Some(4),
            }, // set: 4
            StudentSubject {
                sums: sums(&[5, 5]),
                term_grade: None,
            }, // too few: not assessed
        ];
        let f = class_subject(&students, Scale::FIVE_POINT, RoundingRule::STANDARD);
        assert_eq!((f.students, f.assessed), (5, 4));
        assert_eq!(f.pass, Share::new(3, 4));
        assert_eq!(f.quality, Share::new(2, 4));
        assert_eq!(f.grades, 12);
        assert_eq!(f.grades_per_student, Some(Hundredths::new(240)));
        // Mean of 14/3, 10/3, 7/3, 5, 5 = (14 + 10 + 7 + 15 + 15) / 15 = 61/15 = 4.0666…
        assert_eq!(f.average, Some(Hundredths::new(407)));
    }

    #[test]
    fn online_means_by_the_end_of_the_next_day() {
        let at = |d: u32, h: u32| day(d).and_hms_opt(h, 0, 0);
        let lesson = |first| LessonFacts {
            date: day(23),
            planned: false,
            kept: true,
            first_entry_at: first,
        };
        assert!(lesson(at(23, 9)).online());
        assert!(lesson(at(24, 23)).online());
        assert!(!lesson(at(25, 0)).online());
        assert!(!lesson(None).online());
    }

    #[test]
    fn a_user_counts_once_a_week() {
        // 23-29 Nov is one week, 30 Nov starts the next.
        let logins = [(1, day(23)), (1, day(24)), (2, day(25)), (1, day(30))];
        assert_eq!(
            unique_logins(&logins, 4, day(23), day(30)),
            Share::new(3, 8)
        );
        assert_eq!(weeks(day(25), day(25)), vec![day(23)]);
    }
}
