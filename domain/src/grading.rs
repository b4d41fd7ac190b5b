//! Grades on a school's scales, and the weights of work types.
//!
//! A school configures its scales: the 5-point scale (1-5) every school has, pass/fail, and
//! others such as a 10- or 100-point scale. A grade's value is checked against its scale when
//! it is given, and stored in one canonical text form (`"5"`, `"pass"`, `"fail"`) that both
//! databases hold alike. Pass/fail grades are never averaged.

use std::fmt;

use serde::Serialize;

/// A grading scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scale {
    /// Whole points from `min` to `max` (the 5-point scale is 1 to 5).
    Points { min: u8, max: u8 },
    /// Pass or fail (зачёт / незачёт): never averaged.
    PassFail,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    #[error("a points scale runs from a lower to a higher whole number, at most {max}; got {min}-{got_max}", max = Scale::MAX_POINTS, got_max = .max)]
    InvalidRange { min: i64, max: i64 },
    #[error("unknown scale kind {0:?}; the kinds are points and pass_fail")]
    UnknownKind(String),
}

/// A value as the client sent it, before its scale is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    Number(i64),
    Text(String),
}

/// A grade's value, valid on its scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GradeValue {
    Points(u8),
    Pass,
    Fail,
}

/// Why a value does not fit its scale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GradeError {
    #[error("must be a whole number from {min} to {max}")]
    OutOfRange { min: u8, max: u8 },
    #[error("must be \"pass\" or \"fail\"")]
    NotPassFail,
}

impl GradeError {
    /// A stable code for the API's field errors.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::OutOfRange { .. } => "out_of_range",
            Self::NotPassFail => "invalid_value",
        }
    }
}

impl Scale {
    /// The 5-point scale of Russian schools.
    pub const FIVE_POINT: Self = Self::Points { min: 1, max: 5 };
    /// The largest top of a points scale.
    pub const MAX_POINTS: u8 = 100;

    /// A points scale from `min` to `max`.
    ///
    /// # Errors
    /// [`ScaleError::InvalidRange`] unless `0 <= min < max <= 100`.
    pub fn points(min: i64, max: i64) -> Result<Self, ScaleError> {
        match (u8::try_from(min), u8::try_from(max)) {
            (Ok(lo), Ok(hi)) if lo < hi && hi <= Self::MAX_POINTS => {
                Ok(Self::Points { min: lo, max: hi })
            }
            _ => Err(ScaleError::InvalidRange { min, max }),
        }
    }

    /// A scale from its stored form: the kind and, for points, the bounds.
    ///
    /// # Errors
    /// For an unknown kind or invalid bounds.
    pub fn from_stored(kind: &str, min: Option<i64>, max: Option<i64>) -> Result<Self, ScaleError> {
        match kind {
            "points" => Self::points(min.unwrap_or(-1), max.unwrap_or(-1)),
            "pass_fail" => Ok(Self::PassFail),
            other => Err(ScaleError::UnknownKind(other.chars().take(32).collect())),
        }
    }

    /// The stored kind: `points` or `pass_fail`.
    #[must_use]
    pub const fn kind(self) -> &'static str {
        match self {
            Self::Points { .. } => "points",
            Self::PassFail => "pass_fail",
        }
    }

    /// Whether grades on this scale count towards averages.
    #[must_use]
    pub const fn is_averaged(self) -> bool {
        matches!(self, Self::Points { .. })
    }

    /// Checks a value against the scale.
    ///
    /// # Errors
    /// [`GradeError`] when the value does not fit.
    pub fn check(self, raw: &RawValue) -> Result<GradeValue, GradeError> {
        match (self, raw) {
            (Self::Points { min, max }, RawValue::Number(n)) => u8::try_from(*n)
                .ok()
                .filter(|v| (min..=max).contains(v))
                .map(GradeValue::Points)
                .ok_or(GradeError::OutOfRange { min, max }),
            (Self::Points { min, max }, RawValue::Text(_)) => {
                Err(GradeError::OutOfRange { min, max })
            }
            (Self::PassFail, RawValue::Text(t)) if t == "pass" => Ok(GradeValue::Pass),
            (Self::PassFail, RawValue::Text(t)) if t == "fail" => Ok(GradeValue::Fail),
            (Self::PassFail, _) => Err(GradeError::NotPassFail),
        }
    }
}

impl GradeValue {
    /// The canonical stored form: the number, `pass` or `fail`.
    #[must_use]
    pub fn to_stored(self) -> String {
        self.to_string()
    }

    /// Reads a stored value back on its scale; `None` if it does not fit (a corrupt row).
    #[must_use]
    pub fn from_stored(stored: &str, scale: Scale) -> Option<Self> {
        let raw = stored
            .parse::<i64>()
            .map_or_else(|_| RawValue::Text(stored.to_owned()), RawValue::Number);
        scale.check(&raw).ok()
    }

    /// The points, for averaging; `None` for pass/fail.
    #[must_use]
    pub const fn points(self) -> Option<u8> {
        match self {
            Self::Points(p) => Some(p),
            Self::Pass | Self::Fail => None,
        }
    }
}

impl fmt::Display for GradeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Points(p) => write!(f, "{p}"),
            Self::Pass => f.write_str("pass"),
            Self::Fail => f.write_str("fail"),
        }
    }
}

/// The weight of a work type in averages: a whole number from 1 to 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Weight(u8);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a weight must be a whole number from {min} to {max}, got {got}", min = Weight::MIN, max = Weight::MAX)]
pub struct WeightError {
    pub got: i64,
}

impl Weight {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 10;

    /// # Errors
    /// [`WeightError`] outside 1 to 10 (a weight of 0 would hide a grade from the average).
    pub fn new(value: i64) -> Result<Self, WeightError> {
        u8::try_from(value)
            .ok()
            .filter(|v| (Self::MIN..=Self::MAX).contains(v))
            .map(Self)
            .ok_or(WeightError { got: value })
    }

    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// The work types and weights a new school starts with (the demo's too): oral answer 1,
/// homework 1, test 2, exam 3.
pub const DEFAULT_WORK_TYPES: [(&str, u8); 4] = [
    ("Ответ на уроке", 1),
    ("Домашняя работа", 1),
    ("Контрольная работа", 2),
    ("Экзамен", 3),
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_five_point_scale_takes_one_to_five() {
        let scale = Scale::FIVE_POINT;
        for n in 1..=5 {
            assert_eq!(
                scale.check(&RawValue::Number(n)),
                Ok(GradeValue::Points(u8::try_from(n).unwrap_or(0)))
            );
        }
        for n in [0, 6, -1, 255, 256, i64::MIN, i64::MAX] {
            assert_eq!(
                scale.check(&RawValue::Number(n)),
                Err(GradeError::OutOfRange { min: 1, max: 5 }),
                "{n}"
            );
        }
        assert_eq!(
            scale.check(&RawValue::Text("5".into())),
            Err(GradeError::OutOfRange { min: 1, max: 5 }),
            "a number sent as text is refused, not guessed"
        );
        assert!(scale.is_averaged());
    }

    #[test]
    fn pass_fail_takes_only_its_two_words_and_is_never_averaged() {
        let scale = Scale::PassFail;
        assert_eq!(
            scale.check(&RawValue::Text("pass".into())),
            Ok(GradeValue::Pass)
        );
        assert_eq!(
            scale.check(&RawValue::Text("fail".into())),
            Ok(GradeValue::Fail)
        );
        for bad in ["Pass", "зачёт", "", "5"] {
            assert_eq!(
                scale.check(&RawValue::Text(bad.into())),
                Err(GradeError::NotPassFail)
            );
        }
        assert_eq!(
            scale.check(&RawValue::Number(1)),
            Err(GradeError::NotPassFail)
        );
        assert!(!scale.is_averaged());
        assert_eq!(GradeValue::Pass.points(), None);
    }

    #[test]
    fn scales_are_built_and_stored_safely() {
        assert_eq!(Scale::points(1, 10), Ok(Scale::Points { min: 1, max: 10 }));
        assert_eq!(
            Scale::points(0, 100),
            Ok(Scale::Points { min: 0, max: 100 })
        );
        for (min, max) in [(5, 5), (5, 1), (-1, 5), (1, 101), (1, 1000)] {
            assert!(Scale::points(min, max).is_err(), "{min}-{max}");
        }
        for scale in [
            Scale::FIVE_POINT,
            Scale::PassFail,
            Scale::Points { min: 0, max: 100 },
        ] {
            let (min, max) = match scale {
                Scale::Points { min, max } => (Some(i64::from(min)), Some(i64::from(max))),
                Scale::PassFail => (None, None),
            };
            assert_eq!(Scale::from_stored(scale.kind(), min, max), Ok(scale));
        }
        assert!(Scale::from_stored("letters", None, None).is_err());
        assert!(Scale::from_stored("points", None, Some(5)).is_err());
    }

    #[test]
    fn weights_run_from_one_to_ten() {
        assert_eq!(Weight::new(1).map(Weight::get), Ok(1));
        assert_eq!(Weight::new(10).map(Weight::get), Ok(10));
        for bad in [0, -1, 11, 256] {
            assert_eq!(Weight::new(bad), Err(WeightError { got: bad }));
        }
        for (name, weight) in DEFAULT_WORK_TYPES {
            assert!(Weight::new(i64::from(weight)).is_ok(), "{name}");
        }
    }

    fn any_scale() -> impl Strategy<Value = Scale> {
        prop_oneof![
            Just(Scale::PassFail),
            (0_u8..100)
                .prop_flat_map(|min| (Just(min), (min + 1)..=100))
                .prop_map(|(min, max)| Scale::Points { min, max }),
        ]
    }

    proptest! {
        /// Whatever is accepted lies within the scale and survives storage unchanged.
        #[test]
        fn accepted_values_lie_within_the_scale_and_round_trip(
            scale in any_scale(),
            n in -300_i64..300,
            word in prop_oneof![Just("pass".to_owned()), Just("fail".to_owned()), "[a-z]{0,6}"],
        ) {
            for raw in [RawValue::Number(n), RawValue::Text(word.clone())] {
                if let Ok(value) = scale.check(&raw) {
                    match (scale, value) {
                        (Scale::Points { min, max }, GradeValue::Points(p)) => {
                            prop_assert!(min <= p && p <= max);
                        }
                        (Scale::PassFail, GradeValue::Pass | GradeValue::Fail) => {}
                        other => prop_assert!(false, "{other:?}"),
                    }
                    prop_assert_eq!(GradeValue::from_stored(&value.to_stored(), scale), Some(value));
                    prop_assert_eq!(value.points().is_some(), scale.is_averaged());
                }
            }
        }

        /// Every whole number inside a points scale is accepted.
        #[test]
        fn every_point_inside_the_scale_is_accepted(scale in any_scale(), offset in 0_u8..=100) {
            if let Scale::Points { min, max } = scale {
                let n = min.saturating_add(offset % (max - min + 1));
                prop_assert_eq!(scale.check(&RawValue::Number(i64::from(n))), Ok(GradeValue::Points(n)));
            }
        }
    }
}
