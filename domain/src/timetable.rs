//! The weekly timetable: which dates a template's slot falls on.
//!
//! A slot is a weekday and a lesson number, every week or only in the odd or even weeks of the
//! academic year. Weeks run Monday to Sunday; week 1 is the one holding the academic year's
//! first day (so a year starting on a Tuesday, 1 September, has that Monday in week 1 too).
//! Days the school declares as holidays hold no lessons.

use chrono::{Datelike, NaiveDate, Weekday};

use crate::DateRange;

/// Which weeks a slot takes place in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weeks {
    Every,
    /// Weeks 1, 3, 5, … of the academic year.
    Odd,
    /// Weeks 2, 4, 6, … of the academic year.
    Even,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimetableError {
    #[error("must be `every`, `odd` or `even`")]
    UnknownWeeks,
    #[error("must be between 1 (Monday) and 7 (Sunday)")]
    UnknownWeekday,
}

impl Weeks {
    /// Parses the stored and wire form.
    ///
    /// # Errors
    /// For anything but `every`, `odd` and `even`.
    pub fn parse(raw: &str) -> Result<Self, TimetableError> {
        match raw {
            "every" => Ok(Self::Every),
            "odd" => Ok(Self::Odd),
            "even" => Ok(Self::Even),
            _ => Err(TimetableError::UnknownWeeks),
        }
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Every => "every",
            Self::Odd => "odd",
            Self::Even => "even",
        }
    }
}

/// The ISO weekday for 1 (Monday) to 7 (Sunday).
///
/// # Errors
/// For any other number.
pub fn weekday(number: i16) -> Result<Weekday, TimetableError> {
    match number {
        1 => Ok(Weekday::Mon),
        2 => Ok(Weekday::Tue),
        3 => Ok(Weekday::Wed),
        4 => Ok(Weekday::Thu),
        5 => Ok(Weekday::Fri),
        6 => Ok(Weekday::Sat),
        7 => Ok(Weekday::Sun),
        _ => Err(TimetableError::UnknownWeekday),
    }
}

/// The week of the academic year `date` lies in: 1 for the week (Monday to Sunday) holding
/// `year_start`, 0 or less before it.
#[must_use]
pub fn week_of_year(year_start: NaiveDate, date: NaiveDate) -> i64 {
    let monday =
        |d: NaiveDate| d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()));
    (monday(date) - monday(year_start)).num_days().div_euclid(7) + 1
}

/// One slot of a weekly template, as far as dates are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub weekday: Weekday,
    pub weeks: Weeks,
}

impl Slot {
    /// Whether the slot takes place on `date` (holidays aside).
    #[must_use]
    pub fn falls_on(&self, year_start: NaiveDate, date: NaiveDate) -> bool {
        if date.weekday() != self.weekday {
            return false;
        }
        let week = week_of_year(year_start, date);
        match self.weeks {
            Weeks::Every => true,
            Weeks::Odd => week.rem_euclid(2) == 1,
            Weeks::Even => week.rem_euclid(2) == 0,
        }
    }

    /// The dates in `range` the slot takes place on, skipping every day inside a holiday.
    #[must_use]
    pub fn dates(
        &self,
        year_start: NaiveDate,
        range: DateRange,
        holidays: &[DateRange],
    ) -> Vec<NaiveDate> {
        range
            .from()
            .iter_days()
            .take_while(|d| *d <= range.to())
            .filter(|d| self.falls_on(year_start, *d))
            .filter(|d| !holidays.iter().any(|h| h.contains(*d)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn range(from: NaiveDate, to: NaiveDate) -> DateRange {
        DateRange::new(from, to, 400).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn weeks_are_counted_from_the_monday_of_the_first_day() {
        // 1 September 2026 is a Tuesday.
        let start = date(2026, 9, 1);
        assert_eq!(week_of_year(start, date(2026, 8, 31)), 1);
        assert_eq!(week_of_year(start, date(2026, 9, 6)), 1);
        assert_eq!(week_of_year(start, date(2026, 9, 7)), 2);
        assert_eq!(week_of_year(start, date(2026, 8, 30)), 0);
        assert_eq!(week_of_year(start, date(2026, 11, 23)), 13);
    }

    #[test]
    fn alternating_slots_take_turns() {
        let start = date(2026, 9, 1);
        let odd = Slot {
            weekday: Weekday::Mon,
            weeks: Weeks::Odd,
        };
        let even = Slot {
            weekday: Weekday::Mon,
            weeks: Weeks::Even,
        };
        let september = range(date(2026, 9, 1), date(2026, 9, 30));
        assert_eq!(
            odd.dates(start, september, &[]),
            vec![date(2026, 9, 14), date(2026, 9, 28)]
        );
        assert_eq!(
            even.dates(start, september, &[]),
            vec![date(2026, 9, 7), date(2026, 9, 21)]
        );
    }

    #[test]
    fn holidays_hold_no_lessons() {
        let start = date(2026, 9, 1);
        let friday = Slot {
            weekday: Weekday::Fri,
            weeks: Weeks::Every,
        };
        let autumn_break = range(date(2026, 10, 26), date(2026, 11, 3));
        let dates = friday.dates(
            start,
            range(date(2026, 10, 19), date(2026, 11, 8)),
            &[autumn_break],
        );
        assert_eq!(dates, vec![date(2026, 10, 23), date(2026, 11, 6)]);
    }

    #[test]
    fn weeks_and_weekdays_parse_strictly() {
        assert_eq!(Weeks::parse("odd"), Ok(Weeks::Odd));
        assert_eq!(Weeks::parse("Odd"), Err(TimetableError::UnknownWeeks));
        for w in [Weeks::Every, Weeks::Odd, Weeks::Even] {
            assert_eq!(Weeks::parse(w.as_str()), Ok(w));
        }
        assert_eq!(weekday(1), Ok(Weekday::Mon));
        assert_eq!(weekday(7), Ok(Weekday::Sun));
        assert_eq!(weekday(0), Err(TimetableError::UnknownWeekday));
        assert_eq!(weekday(8), Err(TimetableError::UnknownWeekday));
    }

    proptest! {
        #[test]
        fn odd_and_even_split_every_week(offset in 0u64..300, length in 1u64..120, day in 1i16..=7) {
            let start = date(2026, 9, 1);
            let from = start + chrono::Days::new(offset);
            let span = range(from, from + chrono::Days::new(length));
            let weekday = weekday(day).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let every = Slot { weekday, weeks: Weeks::Every }.dates(start, span, &[]);
            let mut halves = Slot { weekday, weeks: Weeks::Odd }.dates(start, span, &[]);
            halves.extend(Slot { weekday, weeks: Weeks::Even }.dates(start, span, &[]));
            halves.sort();
            prop_assert_eq!(&every, &halves);
            prop_assert!(every.iter().all(|d| d.weekday() == weekday && span.contains(*d)));
            prop_assert!(every.windows(2).all(|w| (w[1] - w[0]).num_days() == 7));
        }
    }
}
