//! The pure rules of the school journal.
//!
//! Nothing here performs I/O or knows about HTTP or databases: every value is parsed from
//! plain data into a type that cannot hold an invalid state, and every rule is a function of
//! plain values. A CI step (`.ci/check-domain-boundary`) proves that this crate depends on no
//! web, database, async or I/O crate.

pub mod access;
pub mod averages;
pub mod calendar;
pub mod grading;
pub mod ids;
pub mod notifications;
pub mod ranking;
pub mod reports;
pub mod roster;
pub mod school;
pub mod timetable;

pub use averages::{
    Average, Forecast, Hundredths, OverallAverage, RoundingRule, RoundingRuleError, Suggestion,
    Sums, SumsError,
};
pub use calendar::{DateRange, DateRangeError, TermDates};
pub use grading::{GradeError, GradeValue, RawValue, Scale, ScaleError, Weight, WeightError};
pub use ids::*;
pub use ranking::{Bucket, Ranked, Ranking, Unranked};
pub use school::{ClassLabel, ClassLabelError, GradeLevel, GradeLevelError, Name, NameError};
pub use timetable::{Slot, TimetableError, Weeks};
