//! Date ranges: terms, academic years and the `from`/`to` of every query.

use chrono::NaiveDate;

/// An inclusive range of dates whose start is not after its end and whose length is capped,
/// so that no query can ask for ten years at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    from: NaiveDate,
    to: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateRangeError {
    #[error("`from` ({from}) is after `to` ({to})")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("the range spans {days} days; at most {max} are allowed")]
    TooLong { days: i64, max: i64 },
}

impl DateRange {
    /// Builds a range of at most `max_days` days (inclusive of both ends).
    ///
    /// # Errors
    /// When `from` is after `to` or the range is longer than `max_days`.
    pub fn new(from: NaiveDate, to: NaiveDate, max_days: i64) -> Result<Self, DateRangeError> {
        if from > to {
            return Err(DateRangeError::Reversed { from, to });
        }
        let days = (to - from).num_days() + 1;
        if days > max_days {
            return Err(DateRangeError::TooLong {
                days,
                max: max_days,
            });
        }
        Ok(Self { from, to })
    }

    #[must_use]
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    #[must_use]
    pub fn to(&self) -> NaiveDate {
        self.to
    }

    #[must_use]
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }

    /// Number of days in the range, both ends included.
    #[must_use]
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}

/// The dates of a term: a range of at most a year that must lie inside its academic year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermDates(DateRange);

impl TermDates {
    pub const MAX_DAYS: i64 = 366;

    /// # Errors
    /// When the dates are reversed or span more than a year.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, DateRangeError> {
        DateRange::new(from, to, Self::MAX_DAYS).map(Self)
    }

    #[must_use]
    pub fn range(&self) -> DateRange {
        self.0
    }

    /// Whether this term lies inside `year` (an academic year's dates).
    #[must_use]
    pub fn within(&self, year: &DateRange) -> bool {
        year.contains(self.0.from()) && year.contains(self.0.to())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or_default()
            + chrono::Days::new(n.unsigned_abs())
    }

    #[test]
    fn reversed_and_overlong_ranges_are_refused() {
        assert!(matches!(
            DateRange::new(day(2), day(1), 10),
            Err(DateRangeError::Reversed { .. })
        ));
        assert!(matches!(
            DateRange::new(day(0), day(10), 10),
            Err(DateRangeError::TooLong { days: 11, max: 10 })
        ));
        assert_eq!(DateRange::new(day(0), day(9), 10).map(|r| r.days()), Ok(10));
        assert_eq!(DateRange::new(day(3), day(3), 1).map(|r| r.days()), Ok(1));
    }

    #[test]
    fn a_term_must_lie_inside_its_year() {
        let year = DateRange::new(day(0), day(300), 366).unwrap_or_else(|e| panic!("{e}"));
        let inside = TermDates::new(day(10), day(60)).unwrap_or_else(|e| panic!("{e}"));
        let across = TermDates::new(day(290), day(310)).unwrap_or_else(|e| panic!("{e}"));
        assert!(inside.within(&year));
        assert!(!across.within(&year));
    }

    proptest! {
        #[test]
        fn a_valid_range_contains_exactly_its_days(a in 0i64..400, b in 0i64..400) {
            let (from, to) = (day(a.min(b)), day(a.max(b)));
            let range = DateRange::new(from, to, 400).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(range.days(), (a - b).abs() + 1);
            prop_assert!(range.contains(from) && range.contains(to));
            prop_assert!(!range.contains(to + chrono::Days::new(1)));
            prop_assert!(!range.contains(from - chrono::Days::new(1)));
        }
    }
}
