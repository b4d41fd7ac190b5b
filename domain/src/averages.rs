//! Weighted averages, the term and year grades they suggest, and forecasts of what a student
//! needs.
//!
//! Every number here is exact: sums are whole numbers, an average is a fraction of two whole
//! numbers, and what is shown is a whole number of hundredths. No floating point is involved
//! anywhere, so the same grades give the same result on every machine and in both databases.
//!
//! # The rules
//!
//! 1. **Weighted average.** A student's average in one subject and term is
//!    `Σ(value × weight) / Σ(weight)` over that subject's grades on a points scale. Pass/fail
//!    grades never count, nor do absences or missing work (they are not grades). It is kept as
//!    running [`Sums`]: `Σ(value × weight)`, `Σ(weight)` and the number of grades, which a
//!    database row can hold and which a new or deleted grade updates with [`Sums::add`] and
//!    [`Sums::remove`].
//! 2. **Exact, shown with two decimals.** The [`Average`] is the exact fraction. It is shown
//!    with two decimals, rounding half up: `22/6 = 3.666…` is shown `3.67`, `3.125` is shown
//!    `3.13`. Two averages are compared exactly (by cross-multiplication), never by what is
//!    shown: `3.666…` is above `3.665`, though both are shown `3.67`.
//! 3. **Suggested term grade.** The school sets a [`RoundingRule`]: a threshold in hundredths
//!    and a minimum number of grades. With fewer grades than the minimum no grade is
//!    suggested ([`Suggestion::NotEnoughGrades`]). Otherwise the suggested grade is the whole
//!    part of the average *as shown*, plus one when the shown hundredths reach the threshold:
//!    with threshold 50, `3.50` suggests 4 and `3.49` suggests 3; with threshold 60, `3.59`
//!    suggests 3 and `3.60` suggests 4; threshold 100 never rounds up. The decision uses the
//!    shown average so that anyone can check it by eye: an exact average of `3.5952…`, shown
//!    `3.60`, suggests 4 under threshold 60. The suggestion always lies within the scale.
//!    Pass/fail subjects get no suggestion ([`Suggestion::NotAveraged`]).
//! 4. **Suggested year grade.** The plain (unweighted) mean of the term grades, rounded by the
//!    same rule (same threshold, on the mean as shown). It needs a grade for every term the
//!    caller counts (for example 4 quarters); until then it is
//!    [`Suggestion::NotEnoughGrades`]. Terms 4, 4, 5, 5 give `4.50`: 5 with threshold 50, 4
//!    with threshold 60.
//! 5. **Forecast.** [`forecast`] answers "what does the student need for a target grade": the
//!    smallest number `n` (at most [`MAX_FORECAST_GRADES`]) of further grades of one work
//!    type's weight, each of the best value (the scale's top unless the caller names a lower
//!    one), after which the suggested grade is the target or better; and for that `n`, the
//!    lowest value that still suffices when all `n` grades have it ("two more 5s", "one more
//!    4"). [`Forecast::AlreadyReached`] when the current suggestion already reaches it,
//!    [`Forecast::NotReachable`] when no `n` up to the cap does (or the target is above the
//!    scale).
//! 6. **Overall average** (for ranks across subjects): the plain mean of the student's exact
//!    subject averages, every subject counting once whatever its number of grades. It is an
//!    [`OverallAverage`], kept exact and compared exactly, and shown like an [`Average`]. It
//!    is meaningful only over subjects on one scale (the school's 5-point scale); the caller
//!    passes those.
//!
//! Ranks and the distribution of averages are in [`crate::ranking`].

use std::cmp::Ordering;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::grading::{GradeValue, Scale, Weight};

/// The running sums of one student's averaged grades in one subject and term: what a database
/// row holds so that the average never needs all the grades again.
///
/// The sums are always consistent: every grade has a weight from 1 to 10 and a value of at most
/// 255 points, so `count <= Σweight <= 10 × count` and `0 <= Σ(value × weight) <= 255 ×
/// Σweight`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Sums {
    weighted: i64,
    weights: i64,
    count: i64,
}

/// Why sums cannot be read or a grade cannot be taken out of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SumsError {
    #[error(
        "inconsistent sums: {weighted} weighted points over {weights} weights and {count} grades"
    )]
    Inconsistent {
        weighted: i64,
        weights: i64,
        count: i64,
    },
    #[error("the grade cannot be removed: the sums do not hold it")]
    NotInSums,
}

impl Sums {
    /// No grades.
    pub const EMPTY: Self = Self {
        weighted: 0,
        weights: 0,
        count: 0,
    };
    /// The most grades one student's sums may hold (far beyond any term, and small enough that
    /// no sum can overflow).
    pub const MAX_COUNT: i64 = 1_000_000_000;

    /// Sums read back from storage.
    ///
    /// # Errors
    /// [`SumsError::Inconsistent`] when no set of grades has these sums (a corrupt row).
    pub fn from_stored(weighted: i64, weights: i64, count: i64) -> Result<Self, SumsError> {
        if Self::consistent(weighted, weights, count) {
            Ok(Self {
                weighted,
                weights,
                count,
            })
        } else {
            Err(SumsError::Inconsistent {
                weighted,
                weights,
                count,
            })
        }
    }

    /// Sums of the given grades: points and weights.
    #[must_use]
    pub fn of(grades: impl IntoIterator<Item = (u8, Weight)>) -> Self {
        grades
            .into_iter()
            .fold(Self::EMPTY, |sums, (points, weight)| {
                sums.with(points, weight)
            })
    }

    fn consistent(weighted: i64, weights: i64, count: i64) -> bool {
        (0..=Self::MAX_COUNT).contains(&count)
            && weights >= count
            && weights <= i64::from(Weight::MAX) * count
            && weighted >= 0
            && weighted <= i64::from(u8::MAX) * weights
    }

    /// `Σ(value × weight)`, for storage.
    #[must_use]
    pub const fn weighted(self) -> i64 {
        self.weighted
    }

    /// `Σ(weight)`, for storage.
    #[must_use]
    pub const fn weights(self) -> i64 {
        self.weights
    }

    /// The number of averaged grades.
    #[must_use]
    pub const fn count(self) -> i64 {
        self.count
    }

    /// Adds a grade of `points` with the work type's `weight`.
    pub fn add(&mut self, points: u8, weight: Weight) {
        *self = self.with(points, weight);
    }

    /// These sums with one more grade.
    #[must_use]
    pub fn with(self, points: u8, weight: Weight) -> Self {
        self.with_many(points, i64::from(weight.get()), 1)
    }

    /// These sums with `n` more grades of `points` and `weight`.
    fn with_many(self, points: u8, weight: i64, n: i64) -> Self {
        Self {
            weighted: self.weighted + i64::from(points) * weight * n,
            weights: self.weights + weight * n,
            count: self.count + n,
        }
    }

    /// Takes out a grade that was added (its value or weight changed, or it was deleted).
    ///
    /// # Errors
    /// [`SumsError::NotInSums`] when the sums cannot hold such a grade (for example they hold no
    /// grade at all); the sums are then unchanged. Sums cannot tell every wrong removal: the
    /// caller removes only what it added.
    pub fn remove(&mut self, points: u8, weight: Weight) -> Result<(), SumsError> {
        let w = i64::from(weight.get());
        let weighted = self.weighted - i64::from(points) * w;
        let weights = self.weights - w;
        let count = self.count - 1;
        if Self::consistent(weighted, weights, count) {
            *self = Self {
                weighted,
                weights,
                count,
            };
            Ok(())
        } else {
            Err(SumsError::NotInSums)
        }
    }

    /// Adds a grade if it counts towards averages (points do, pass/fail does not); tells
    /// whether it counted.
    pub fn add_grade(&mut self, grade: GradeValue, weight: Weight) -> bool {
        grade.points().is_some_and(|points| {
            self.add(points, weight);
            true
        })
    }

    /// Takes out a grade added with [`Sums::add_grade`]; `Ok(false)` for pass/fail, which was
    /// never in.
    ///
    /// # Errors
    /// As [`Sums::remove`].
    pub fn remove_grade(&mut self, grade: GradeValue, weight: Weight) -> Result<bool, SumsError> {
        match grade.points() {
            Some(points) => self.remove(points, weight).map(|()| true),
            None => Ok(false),
        }
    }

    /// The weighted average; `None` without grades.
    #[must_use]
    pub fn average(self) -> Option<Average> {
        (self.count > 0).then(|| Average::new(self.weighted, self.weights))
    }

    /// The number of grades, for "have 2, need 3".
    fn have(self) -> u32 {
        u32::try_from(self.count).unwrap_or(u32::MAX)
    }
}

/// A number shown with two decimals, held as whole hundredths: `367` is shown `3.67`.
///
/// It serializes as the same text, so no client ever sees a binary fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hundredths(i64);

impl Hundredths {
    #[must_use]
    pub const fn new(hundredths: i64) -> Self {
        Self(hundredths)
    }

    /// The number of hundredths.
    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }

    /// Whole points, rounded down.
    #[must_use]
    pub const fn whole(self) -> i64 {
        self.0.div_euclid(100)
    }

    /// The hundredths after the whole points: 0 to 99.
    #[must_use]
    pub const fn fraction(self) -> i64 {
        self.0.rem_euclid(100)
    }
}

impl fmt::Display for Hundredths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Hundredths {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `num / den` rounded half up to whole hundredths, for `num >= 0`, `den > 0`.
fn hundredths_of(num: i64, den: i64) -> Hundredths {
    let (num, den) = (i128::from(num), i128::from(den));
    let rounded = (200 * num + den) / (2 * den);
    Hundredths(i64::try_from(rounded).unwrap_or(i64::MAX))
}

/// An exact weighted average: a fraction in lowest terms.
///
/// Ordered and compared exactly; [`Average::shown`] is only for showing (and for the rounding
/// rule, see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Average {
    num: i64,
    den: i64,
}

impl Average {
    /// `num / den` in lowest terms; `num >= 0`, `den > 0`.
    fn new(num: i64, den: i64) -> Self {
        let divisor = gcd(num.unsigned_abs(), den.unsigned_abs()).max(1);
        let divisor = i64::try_from(divisor).unwrap_or(1);
        Self {
            num: num / divisor,
            den: den / divisor,
        }
    }

    /// The numerator in lowest terms: `22/6` is `11/3`.
    #[must_use]
    pub const fn numerator(self) -> i64 {
        self.num
    }

    /// The denominator in lowest terms (positive).
    #[must_use]
    pub const fn denominator(self) -> i64 {
        self.den
    }

    /// The average as shown: two decimals, rounded half up.
    #[must_use]
    pub fn shown(self) -> Hundredths {
        hundredths_of(self.num, self.den)
    }

    /// The average as shown, in hundredths: `11/3` gives `367`.
    #[must_use]
    pub fn hundredths(self) -> i64 {
        self.shown().get()
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ord for Average {
    fn cmp(&self, other: &Self) -> Ordering {
        (i128::from(self.num) * i128::from(other.den))
            .cmp(&(i128::from(other.num) * i128::from(self.den)))
    }
}

impl PartialOrd for Average {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Average {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shown().fmt(f)
    }
}

impl Serialize for Average {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.shown().serialize(serializer)
    }
}

/// The mean of a student's subject averages, exact.
///
/// The subject averages are summed over their least common denominator. That usually fits a
/// machine integer (`u128`), and then the mean is worked out and compared in machine
/// arithmetic; when it does not (fifteen subjects with unlucky denominators can outgrow any
/// machine integer), the fraction is held as natural numbers of any size. Either way it is
/// ordered and compared exactly.
#[derive(Debug, Clone)]
pub struct OverallAverage {
    exact: Fraction,
    shown: Hundredths,
    subjects: usize,
}

/// A non-negative fraction, not necessarily in lowest terms.
#[derive(Debug, Clone)]
enum Fraction {
    Small { num: u128, den: u128 },
    Big { num: Nat, den: Nat },
}

impl Fraction {
    fn big(&self) -> (Nat, Nat) {
        match self {
            Self::Small { num, den } => (Nat::from_u128(*num), Nat::from_u128(*den)),
            Self::Big { num, den } => (num.clone(), den.clone()),
        }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        if let (Self::Small { num: a, den: b }, Self::Small { num: c, den: d }) = (self, other)
            && let (Some(left), Some(right)) = (a.checked_mul(*d), c.checked_mul(*b))
        {
            return left.cmp(&right);
        }
        let ((a, b), (c, d)) = (self.big(), other.big());
        a.times(&d).cmp(&c.times(&b))
    }
}

impl OverallAverage {
    /// The plain mean of the subject averages, each counting once; `None` without any.
    #[must_use]
    pub fn mean(averages: impl IntoIterator<Item = Average>) -> Option<Self> {
        let averages: Vec<Average> = averages.into_iter().collect();
        if averages.is_empty() {
            return None;
        }
        let subjects = averages.len();
        let (exact, shown) = Self::small_mean(&averages).unwrap_or_else(|| {
            let (num, den) = Self::big_mean(&averages);
            let shown = Self::round(&num, &den);
            (Fraction::Big { num, den }, shown)
        });
        Some(Self {
            exact,
            shown,
            subjects,
        })
    }

    /// The mean over the least common denominator in `u128`, with its rounding; `None` when
    /// some step would overflow.
    fn small_mean(averages: &[Average]) -> Option<(Fraction, Hundredths)> {
        let (mut num, mut den) = (0_u128, 1_u128);
        for average in averages {
            let b = u128::from(average.den.unsigned_abs());
            let a = u128::from(average.num.unsigned_abs());
            let lcm = den.checked_mul(b / gcd_u128(den, b))?;
            num = num
                .checked_mul(lcm / den)?
                .checked_add(a.checked_mul(lcm / b)?)?;
            den = lcm;
        }
        let den = den.checked_mul(u128::try_from(averages.len()).ok()?)?;
        // Half up to hundredths: floor((200·num + den) / (2·den)).
        let hundredths = num.checked_mul(200)?.checked_add(den)? / den.checked_mul(2)?;
        let shown = Hundredths(i64::try_from(hundredths).ok()?);
        Some((Fraction::Small { num, den }, shown))
    }

    /// The mean as natural numbers of any size.
    fn big_mean(averages: &[Average]) -> (Nat, Nat) {
        let mut num = Nat::ZERO;
        let mut den = Nat::from_u64(1);
        for average in averages {
            let b = Nat::from_u64(average.den.unsigned_abs());
            let a = Nat::from_u64(average.num.unsigned_abs());
            num = num.times(&b).plus(&a.times(&den));
            den = den.times(&b);
        }
        let den = den.times(&Nat::from_u64(averages.len() as u64));
        (num, den)
    }

    /// `num / den` rounded half up to hundredths: the largest `h` with
    /// `2·den·h <= 200·num + den`, found by bisection (the mean of averages of at most 255
    /// points is at most 25 500 hundredths).
    fn round(num: &Nat, den: &Nat) -> Hundredths {
        let bound = num.times(&Nat::from_u64(200)).plus(den);
        let twice = den.times(&Nat::from_u64(2));
        let (mut lo, mut hi) = (0_u64, u64::from(u8::MAX) * 100);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if twice.times(&Nat::from_u64(mid)) <= bound {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Hundredths(i64::try_from(lo).unwrap_or(i64::MAX))
    }

    /// The mean as shown: two decimals, rounded half up.
    #[must_use]
    pub const fn shown(&self) -> Hundredths {
        self.shown
    }

    /// The mean as shown, in hundredths.
    #[must_use]
    pub const fn hundredths(&self) -> i64 {
        self.shown.get()
    }

    /// How many subject averages the mean is of.
    #[must_use]
    pub const fn subjects(&self) -> usize {
        self.subjects
    }
}

fn gcd_u128(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ord for OverallAverage {
    fn cmp(&self, other: &Self) -> Ordering {
        // Rounding never reverses an order, so different shown values already decide.
        self.shown
            .cmp(&other.shown)
            .then_with(|| self.exact.cmp(&other.exact))
    }
}

impl PartialOrd for OverallAverage {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for OverallAverage {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for OverallAverage {}

impl fmt::Display for OverallAverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shown.fmt(f)
    }
}

impl Serialize for OverallAverage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.shown.serialize(serializer)
    }
}

/// A natural number of any size: base 2³² digits, least significant first, without leading
/// zero digits (so equal numbers have equal digits). Just the arithmetic exact means need.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Nat(Vec<u32>);

impl Nat {
    const ZERO: Self = Self(Vec::new());

    fn from_u64(value: u64) -> Self {
        Self(vec![low_digit(value), low_digit(value >> 32)]).trimmed()
    }

    fn from_u128(value: u128) -> Self {
        Self(
            (0..4)
                .map(|i| low_digit(u64::try_from((value >> (32 * i)) & 0xFFFF_FFFF).unwrap_or(0)))
                .collect(),
        )
        .trimmed()
    }

    fn trimmed(mut self) -> Self {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }

    fn plus(&self, other: &Self) -> Self {
        let (long, short) = if self.0.len() >= other.0.len() {
            (&self.0, &other.0)
        } else {
            (&other.0, &self.0)
        };
        let mut digits = Vec::with_capacity(long.len() + 1);
        let mut carry = 0_u64;
        for (i, &digit) in long.iter().enumerate() {
            let sum = u64::from(digit) + u64::from(short.get(i).copied().unwrap_or(0)) + carry;
            digits.push(low_digit(sum));
            carry = sum >> 32;
        }
        digits.push(low_digit(carry));
        Self(digits).trimmed()
    }

    fn times(&self, other: &Self) -> Self {
        let mut digits = vec![0_u32; self.0.len() + other.0.len()];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry = 0_u64;
            for (j, &b) in other.0.iter().enumerate() {
                // At most (2³² − 1)² + 2·(2³² − 1) = 2⁶⁴ − 1: no overflow.
                let product = u64::from(a) * u64::from(b) + u64::from(digits[i + j]) + carry;
                digits[i + j] = low_digit(product);
                carry = product >> 32;
            }
            digits[i + other.0.len()] = low_digit(carry);
        }
        Self(digits).trimmed()
    }
}

/// The low 32 bits.
const fn low_digit(value: u64) -> u32 {
    (value & 0xFFFF_FFFF) as u32
}

impl Ord for Nat {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

impl PartialOrd for Nat {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The school's rule for turning averages into grades: the rounding threshold and the
/// minimum number of grades (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoundingRule {
    threshold: u8,
    min_grades: u8,
}

/// Why a rounding rule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundingRuleError {
    #[error("the rounding threshold is a number of hundredths from 1 to 100, got {got}")]
    Threshold { got: i64 },
    #[error("the minimum number of grades is from 1 to {max}, got {got}", max = RoundingRule::MAX_MIN_GRADES)]
    MinGrades { got: i64 },
}

impl RoundingRuleError {
    /// A stable code for the API's field errors.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        "out_of_range"
    }
}

impl RoundingRule {
    /// x.50 rounds up; at least three grades for a term grade.
    pub const STANDARD: Self = Self {
        threshold: 50,
        min_grades: 3,
    };
    /// The largest minimum number of grades a school may require.
    pub const MAX_MIN_GRADES: u8 = 20;

    /// A rule rounding up from `threshold` hundredths (1 to 100; 100 never rounds up) and
    /// suggesting a grade from `min_grades` grades on (1 to 20).
    ///
    /// # Errors
    /// [`RoundingRuleError`] outside those ranges.
    pub fn new(threshold: i64, min_grades: i64) -> Result<Self, RoundingRuleError> {
        let threshold = u8::try_from(threshold)
            .ok()
            .filter(|t| (1..=100).contains(t))
            .ok_or(RoundingRuleError::Threshold { got: threshold })?;
        let min_grades = u8::try_from(min_grades)
            .ok()
            .filter(|m| (1..=Self::MAX_MIN_GRADES).contains(m))
            .ok_or(RoundingRuleError::MinGrades { got: min_grades })?;
        Ok(Self {
            threshold,
            min_grades,
        })
    }

    /// The hundredths from which a shown average rounds up.
    #[must_use]
    pub const fn threshold(self) -> u8 {
        self.threshold
    }

    /// The fewest grades from which a term grade is suggested (and a student is ranked).
    #[must_use]
    pub const fn min_grades(self) -> u8 {
        self.min_grades
    }

    /// The whole grade a shown average rounds to: its whole part, plus one when its hundredths
    /// reach the threshold.
    #[must_use]
    pub const fn round(self, shown: Hundredths) -> i64 {
        if shown.fraction() >= self.threshold as i64 {
            shown.whole() + 1
        } else {
            shown.whole()
        }
    }

    /// The rounded grade of `shown`, kept within the scale.
    fn grade_within(self, shown: Hundredths, min: u8, max: u8) -> u8 {
        let grade = self.round(shown).clamp(i64::from(min), i64::from(max));
        u8::try_from(grade).unwrap_or(max)
    }
}

impl Default for RoundingRule {
    fn default() -> Self {
        Self::STANDARD
    }
}

/// A suggested term or year grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suggestion {
    /// The grade the average rounds to, within the scale.
    Grade(u8),
    /// Too few grades (or term grades) to suggest one.
    NotEnoughGrades { have: u32, need: u32 },
    /// The subject's scale is pass/fail: its grades are never averaged.
    NotAveraged,
}

impl Suggestion {
    /// The suggested grade, if any.
    #[must_use]
    pub const fn grade(self) -> Option<u8> {
        match self {
            Self::Grade(grade) => Some(grade),
            Self::NotEnoughGrades { .. } | Self::NotAveraged => None,
        }
    }
}

/// The term grade suggested by a student's sums in a subject on `scale` (rule 3 of the module
/// documentation).
#[must_use]
pub fn suggest(sums: Sums, scale: Scale, rule: RoundingRule) -> Suggestion {
    let Scale::Points { min, max } = scale else {
        return Suggestion::NotAveraged;
    };
    let need = u32::from(rule.min_grades);
    match sums.average() {
        Some(average) if sums.have() >= need => {
            Suggestion::Grade(rule.grade_within(average.shown(), min, max))
        }
        _ => Suggestion::NotEnoughGrades {
            have: sums.have(),
            need,
        },
    }
}

/// The year grade suggested by the term grades on `scale` (rule 4 of the module
/// documentation): the plain mean of `term_grades`, rounded by `rule`, once there are at least
/// `terms` of them (at least one).
#[must_use]
pub fn suggest_year(
    term_grades: &[u8],
    terms: u32,
    scale: Scale,
    rule: RoundingRule,
) -> Suggestion {
    let Scale::Points { min, max } = scale else {
        return Suggestion::NotAveraged;
    };
    let need = terms.max(1);
    let have = u32::try_from(term_grades.len()).unwrap_or(u32::MAX);
    let sums = term_grades
        .iter()
        .fold(Sums::EMPTY, |sums, &grade| sums.with_many(grade, 1, 1));
    match sums.average() {
        Some(average) if have >= need => {
            Suggestion::Grade(rule.grade_within(average.shown(), min, max))
        }
        _ => Suggestion::NotEnoughGrades { have, need },
    }
}

/// The most further grades a forecast considers: beyond that the target is out of reach.
pub const MAX_FORECAST_GRADES: u32 = 30;

/// What a student needs for a target grade (rule 5 of the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forecast {
    /// The current suggestion is already the target or better.
    AlreadyReached,
    /// `count` more grades of the work type's weight, each of at least `value`, reach the
    /// target; `count - 1` grades of the best value do not, nor do `count` grades of
    /// `value - 1`.
    Needs { count: u32, value: u8 },
    /// No number of grades up to [`MAX_FORECAST_GRADES`] reaches the target, or it is above
    /// the scale.
    NotReachable,
    /// The subject's scale is pass/fail.
    NotAveraged,
}

/// The fewest further grades of `weight` that bring the suggested term grade to `target` or
/// better, and the lowest value that suffices for that many.
///
/// The grades considered are at most `best` (the scale's top when `None`; a value outside the
/// scale is taken as the nearest bound).
#[must_use]
pub fn forecast(
    sums: Sums,
    scale: Scale,
    rule: RoundingRule,
    target: u8,
    weight: Weight,
    best: Option<u8>,
) -> Forecast {
    let Scale::Points { min, max } = scale else {
        return Forecast::NotAveraged;
    };
    let reaches = |sums: Sums| {
        suggest(sums, scale, rule)
            .grade()
            .is_some_and(|grade| grade >= target)
    };
    if reaches(sums) {
        return Forecast::AlreadyReached;
    }
    if target > max {
        return Forecast::NotReachable;
    }
    let best = best.unwrap_or(max).clamp(min, max);
    let weight = i64::from(weight.get());
    for count in 1..=MAX_FORECAST_GRADES {
        let n = i64::from(count);
        if reaches(sums.with_many(best, weight, n)) {
            // The suggestion never falls as the value rises, so the first value that reaches
            // is the lowest; `best` itself does.
            let value = (min..=best)
                .find(|&value| reaches(sums.with_many(value, weight, n)))
                .unwrap_or(best);
            return Forecast::Needs { count, value };
        }
    }
    Forecast::NotReachable
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn weight(w: u8) -> Weight {
        Weight::new(i64::from(w)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn sums(grades: &[(u8, u8)]) -> Sums {
        Sums::of(grades.iter().map(|&(points, w)| (points, weight(w))))
    }

    fn rule(threshold: i64, min_grades: i64) -> RoundingRule {
        RoundingRule::new(threshold, min_grades).unwrap_or_else(|e| panic!("{e}"))
    }

    fn average(grades: &[(u8, u8)]) -> Average {
        sums(grades)
            .average()
            .unwrap_or_else(|| panic!("no grades in {grades:?}"))
    }

    fn mean(subjects: &[&[(u8, u8)]]) -> OverallAverage {
        OverallAverage::mean(subjects.iter().map(|grades| average(grades)))
            .unwrap_or_else(|| panic!("no subjects"))
    }

    /// Grades as points and weights.
    type Grades = &'static [(u8, u8)];

    /// 5×1 + 4×2 + 3×3 = 22 over 6 weights: 3.666…
    const EXAMPLE: Grades = &[(5, 1), (4, 2), (3, 3)];
    /// 4×25 + 3×17 = 151 over 42 weights: 3.5952…, shown 3.60.
    const JUST_UNDER: Grades = &[(4, 10), (4, 10), (4, 5), (3, 10), (3, 7)];
    /// 3×99 + 4×1 = 301 over 100 weights: 3.01.
    const THREE_OH_ONE: Grades = &[
        (3, 10),
        (3, 10),
        (3, 10),
        (3, 10),
        (3, 10),
        (3, 10),
        (3, 10),
        (3, 10),
        (3, 10),
        (3, 9),
        (4, 1),
    ];

    #[test]
    fn the_weighted_average_is_exact_and_shown_half_up() {
        let s = sums(EXAMPLE);
        assert_eq!((s.weighted(), s.weights(), s.count()), (22, 6, 3));
        let a = average(EXAMPLE);
        assert_eq!((a.numerator(), a.denominator()), (11, 3));
        assert_eq!(a.hundredths(), 367);
        assert_eq!(a.to_string(), "3.67");
        for (grades, shown) in [
            (&[(5, 1)][..], "5.00"),
            (&[(4, 1), (5, 1)][..], "4.50"),
            // 25/8 = 3.125: half up.
            (&[(3, 7), (4, 1)][..], "3.13"),
            // 31/9 = 3.444…
            (&[(3, 5), (4, 4)][..], "3.44"),
            // 2/3 on a scale from 0.
            (&[(0, 1), (1, 2)][..], "0.67"),
            (&[(0, 3)][..], "0.00"),
            (&[(100, 10), (99, 1)][..], "99.91"),
            (JUST_UNDER, "3.60"),
            (THREE_OH_ONE, "3.01"),
        ] {
            assert_eq!(average(grades).to_string(), shown, "{grades:?}");
        }
        assert_eq!(Sums::EMPTY.average(), None);
        assert_eq!(Hundredths::new(-5).to_string(), "-0.05");
        assert_eq!(Hundredths::new(1234).to_string(), "12.34");
    }

    #[test]
    fn averages_compare_exactly_not_by_what_is_shown() {
        // 11/3 = 3.6667 and 733/200 = 3.665 are both shown 3.67.
        let exact = average(EXAMPLE);
        // Nineteen grades of weight 10 and ten of weight 1.
        let s = Sums::from_stored(733, 200, 29).unwrap_or_else(|e| panic!("{e}"));
        let close = s.average().unwrap_or_else(|| panic!("no grades"));
        assert_eq!(close.to_string(), exact.to_string());
        assert!(close < exact);
        // 22/6 equals 11/3.
        assert_eq!(average(&[(4, 1), (3, 1), (4, 1)]), exact);
    }

    #[test]
    fn sums_are_read_from_storage_only_when_consistent() {
        for (weighted, weights, count) in [(0, 0, 0), (22, 6, 3), (5, 1, 1), (2550, 10, 1)] {
            let s = Sums::from_stored(weighted, weights, count).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (s.weighted(), s.weights(), s.count()),
                (weighted, weights, count)
            );
        }
        for (weighted, weights, count) in [
            (1, 0, 0),
            (0, 1, 0),
            (5, 0, 1),
            (5, 11, 1),
            (-1, 1, 1),
            (256, 1, 1),
            (0, 0, -1),
            (0, i64::MAX, 1),
            (i64::MAX, i64::MAX, i64::MAX),
        ] {
            assert_eq!(
                Sums::from_stored(weighted, weights, count),
                Err(SumsError::Inconsistent {
                    weighted,
                    weights,
                    count
                })
            );
        }
    }

    #[test]
    fn pass_fail_grades_never_count_and_removing_what_is_not_there_fails() {
        let mut s = Sums::EMPTY;
        assert!(!s.add_grade(GradeValue::Pass, weight(2)));
        assert!(!s.add_grade(GradeValue::Fail, weight(2)));
        assert_eq!(s, Sums::EMPTY);
        assert!(s.add_grade(GradeValue::Points(4), weight(2)));
        assert_eq!(s, sums(&[(4, 2)]));
        assert_eq!(s.remove_grade(GradeValue::Pass, weight(2)), Ok(false));
        assert_eq!(s.remove(5, weight(2)), Err(SumsError::NotInSums), "8 < 10");
        assert_eq!(s.remove(4, weight(3)), Err(SumsError::NotInSums));
        assert_eq!(s, sums(&[(4, 2)]), "unchanged after a refused removal");
        assert_eq!(s.remove_grade(GradeValue::Points(4), weight(2)), Ok(true));
        assert_eq!(s, Sums::EMPTY);
        assert_eq!(s.remove(1, weight(1)), Err(SumsError::NotInSums));
    }

    #[test]
    fn term_grades_are_suggested_by_the_threshold_on_the_shown_average() {
        let five = Scale::FIVE_POINT;
        let cases: &[(Grades, i64, i64, Suggestion)] = &[
            // 3.67
            (EXAMPLE, 50, 3, Suggestion::Grade(4)),
            (EXAMPLE, 67, 3, Suggestion::Grade(4)),
            (EXAMPLE, 68, 3, Suggestion::Grade(3)),
            (EXAMPLE, 70, 3, Suggestion::Grade(3)),
            (EXAMPLE, 100, 3, Suggestion::Grade(3)),
            (
                EXAMPLE,
                50,
                4,
                Suggestion::NotEnoughGrades { have: 3, need: 4 },
            ),
            // 3.5952… is shown 3.60, and the shown value decides.
            (JUST_UNDER, 60, 1, Suggestion::Grade(4)),
            (JUST_UNDER, 61, 1, Suggestion::Grade(3)),
            (THREE_OH_ONE, 1, 3, Suggestion::Grade(4)),
            (THREE_OH_ONE, 2, 3, Suggestion::Grade(3)),
            // 4.50
            (&[(4, 1), (5, 1)], 50, 2, Suggestion::Grade(5)),
            (&[(4, 1), (5, 1)], 51, 2, Suggestion::Grade(4)),
            (
                &[(5, 1), (5, 1)],
                50,
                3,
                Suggestion::NotEnoughGrades { have: 2, need: 3 },
            ),
            (&[], 50, 1, Suggestion::NotEnoughGrades { have: 0, need: 1 }),
            (&[(5, 1), (5, 3), (5, 10)], 1, 3, Suggestion::Grade(5)),
            (&[(1, 1), (1, 3), (1, 10)], 50, 3, Suggestion::Grade(1)),
        ];
        for &(grades, threshold, min, expected) in cases {
            assert_eq!(
                suggest(sums(grades), five, rule(threshold, min)),
                expected,
                "{grades:?} threshold {threshold} min {min}"
            );
        }
        // Sums from another scale are kept within this one.
        assert_eq!(
            suggest(sums(&[(9, 1)]), five, rule(50, 1)),
            Suggestion::Grade(5)
        );
        assert_eq!(
            suggest(sums(&[(0, 1)]), five, rule(50, 1)),
            Suggestion::Grade(1)
        );
        assert_eq!(
            suggest(sums(EXAMPLE), Scale::PassFail, RoundingRule::STANDARD),
            Suggestion::NotAveraged
        );
        assert_eq!(Suggestion::NotAveraged.grade(), None);
    }

    #[test]
    fn year_grades_round_the_plain_mean_of_the_term_grades() {
        let five = Scale::FIVE_POINT;
        let cases: &[(&[u8], u32, i64, Suggestion)] = &[
            (&[4, 4, 5, 5], 4, 50, Suggestion::Grade(5)),
            (&[4, 4, 5, 5], 4, 60, Suggestion::Grade(4)),
            (&[3, 4, 4], 3, 50, Suggestion::Grade(4)),
            (&[3, 4, 4], 3, 70, Suggestion::Grade(3)),
            (&[5, 4], 2, 50, Suggestion::Grade(5)),
            (&[2, 2, 3], 3, 50, Suggestion::Grade(2)),
            (
                &[5, 5, 5],
                4,
                50,
                Suggestion::NotEnoughGrades { have: 3, need: 4 },
            ),
            (&[], 0, 50, Suggestion::NotEnoughGrades { have: 0, need: 1 }),
        ];
        for &(terms, count, threshold, expected) in cases {
            assert_eq!(
                suggest_year(terms, count, five, rule(threshold, 3)),
                expected,
                "{terms:?} of {count}, threshold {threshold}"
            );
        }
        assert_eq!(
            suggest_year(&[4], 1, Scale::PassFail, RoundingRule::STANDARD),
            Suggestion::NotAveraged
        );
    }

    #[test]
    fn rounding_rules_are_checked() {
        assert_eq!(RoundingRule::default(), rule(50, 3));
        assert_eq!(rule(100, 20).threshold(), 100);
        assert_eq!(rule(1, 1).min_grades(), 1);
        for bad in [0, 101, -1, 256] {
            assert_eq!(
                RoundingRule::new(bad, 3),
                Err(RoundingRuleError::Threshold { got: bad })
            );
        }
        for bad in [0, 21, -1, 256] {
            assert_eq!(
                RoundingRule::new(50, bad),
                Err(RoundingRuleError::MinGrades { got: bad })
            );
        }
        assert_eq!(
            RoundingRuleError::Threshold { got: 0 }.code(),
            "out_of_range"
        );
    }

    #[test]
    fn forecasts_give_the_fewest_grades_and_the_lowest_value() {
        let five = Scale::FIVE_POINT;
        let threes: Grades = &[(3, 1), (3, 1), (3, 1)];
        let twos: Grades = &[(2, 1), (2, 1), (2, 1)];
        let cases: &[(Grades, u8, u8, Option<u8>, Forecast)] = &[
            // (9 + 5) / 4 = 3.50: one 5 (a 4 gives 3.25).
            (threes, 4, 1, None, Forecast::Needs { count: 1, value: 5 }),
            // (9 + 5n) / (3 + n) >= 4.5 from n = 9.
            (threes, 5, 1, None, Forecast::Needs { count: 9, value: 5 }),
            // An exam (weight 3): (9 + 3×4) / 6 = 3.50, so one 4 suffices.
            (threes, 4, 3, None, Forecast::Needs { count: 1, value: 4 }),
            // At most 4s: (9 + 4n) / (3 + n) >= 3.5 from n = 3.
            (
                threes,
                4,
                1,
                Some(4),
                Forecast::Needs { count: 3, value: 4 },
            ),
            (threes, 3, 1, None, Forecast::AlreadyReached),
            (threes, 1, 1, None, Forecast::AlreadyReached),
            // (6 + 5n) / (3 + n) >= 4.5 from n = 15.
            (
                twos,
                5,
                1,
                None,
                Forecast::Needs {
                    count: 15,
                    value: 5,
                },
            ),
            (twos, 5, 10, None, Forecast::Needs { count: 2, value: 5 }),
            (threes, 6, 1, None, Forecast::NotReachable),
            (threes, 4, 1, Some(3), Forecast::NotReachable),
            // Without grades, the minimum of three decides the count.
            (&[], 5, 1, None, Forecast::Needs { count: 3, value: 5 }),
            (&[], 3, 1, None, Forecast::Needs { count: 3, value: 3 }),
            (
                &[(5, 1)],
                5,
                1,
                Some(9),
                Forecast::Needs { count: 2, value: 5 },
            ),
            // More 3s only lower 5, 5: never a 5.
            (&[(5, 1), (5, 1)], 5, 1, Some(3), Forecast::NotReachable),
        ];
        for &(grades, target, w, best, expected) in cases {
            assert_eq!(
                forecast(
                    sums(grades),
                    five,
                    RoundingRule::STANDARD,
                    target,
                    weight(w),
                    best
                ),
                expected,
                "{grades:?} target {target} weight {w} best {best:?}"
            );
        }
        // (20 + 5n) / (10 + n) >= 4.5 needs 50 grades: beyond the cap.
        assert_eq!(
            forecast(
                sums(&[(2, 1); 10]),
                five,
                RoundingRule::STANDARD,
                5,
                weight(1),
                None
            ),
            Forecast::NotReachable
        );
        assert_eq!(
            forecast(
                sums(threes),
                Scale::PassFail,
                RoundingRule::STANDARD,
                4,
                weight(1),
                None
            ),
            Forecast::NotAveraged
        );
    }

    #[test]
    fn overall_averages_are_exact_means_of_subject_averages() {
        // (11/3 + 9/2) / 2 = 49/12 = 4.083…
        assert_eq!(mean(&[EXAMPLE, &[(4, 1), (5, 1)]]).to_string(), "4.08");
        assert_eq!(mean(&[&[(5, 1)]]).to_string(), "5.00");
        // (3 + 13/4) / 2 = 3.125: half up.
        assert_eq!(mean(&[&[(3, 1)], &[(3, 3), (4, 1)]]).to_string(), "3.13");
        // (7/2 + 23/6) / 2 = 11/3 exactly.
        let same = mean(&[&[(3, 1), (4, 1)], &[(3, 1), (4, 5)]]);
        assert_eq!(same, mean(&[EXAMPLE]));
        assert_eq!(same.subjects(), 2);
        // (37/10 + 11/3) / 2 = 3.6833… and (18/5 + 15/4) / 2 = 3.675 are both shown 3.68.
        let higher = mean(&[&[(3, 3), (4, 7)], EXAMPLE]);
        let lower = mean(&[&[(3, 2), (4, 3)], &[(3, 1), (4, 3)]]);
        assert_eq!(
            (higher.to_string(), lower.to_string()),
            ("3.68".into(), "3.68".into())
        );
        assert!(higher > lower);
        assert_ne!(higher, lower);
        assert!(OverallAverage::mean([]).is_none());
    }

    #[test]
    fn means_too_big_for_machine_integers_stay_exact() {
        // Fifteen distinct prime denominators near 1000: their product, the common
        // denominator, is about 10^45, past u128.
        let primes = [
            983, 991, 997, 1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069,
        ];
        let averages: Vec<Average> = primes.iter().map(|&p| Average::new(4 * p - 1, p)).collect();
        assert!(OverallAverage::small_mean(&averages).is_none());
        let mean =
            OverallAverage::mean(averages.iter().copied()).unwrap_or_else(|| panic!("empty"));
        assert!(matches!(mean.exact, Fraction::Big { .. }));
        // Each is just under 4, so the mean is too, and shows 4.00.
        assert_eq!(mean.to_string(), "4.00");
        let four = OverallAverage::mean([Average::new(4, 1)]).unwrap_or_else(|| panic!("empty"));
        assert!(matches!(four.exact, Fraction::Small { .. }));
        assert_eq!(mean.cmp(&four), Ordering::Less);
        assert_eq!(four.cmp(&mean), Ordering::Greater);
        assert_ne!(mean, four);
        let higher: Vec<Average> = primes
            .iter()
            .map(|&p| Average::new(4 * p - 1, p))
            .chain([Average::new(4, 1)])
            .collect();
        let higher = OverallAverage::mean(higher).unwrap_or_else(|| panic!("empty"));
        assert!(mean < higher && higher < four);
    }

    fn nat_value(n: &Nat) -> u128 {
        n.0.iter()
            .rev()
            .fold(0_u128, |acc, &digit| (acc << 32) | u128::from(digit))
    }

    /// A points scale and grades on it.
    fn graded() -> impl Strategy<Value = (Scale, Vec<(u8, u8)>)> {
        (0_u8..100)
            .prop_flat_map(|min| (Just(min), (min + 1)..=100))
            .prop_flat_map(|(min, max)| {
                (
                    Just(Scale::Points { min, max }),
                    prop::collection::vec((min..=max, 1_u8..=10), 0..40),
                )
            })
    }

    fn any_rule() -> impl Strategy<Value = RoundingRule> {
        (1_i64..=100, 1_i64..=5).prop_map(|(t, m)| rule(t, m))
    }

    fn bounds(scale: Scale) -> (u8, u8) {
        match scale {
            Scale::Points { min, max } => (min, max),
            Scale::PassFail => (0, 0),
        }
    }

    proptest! {
        /// The average lies within the scale and is shown rounded half up.
        #[test]
        fn averages_lie_within_the_scale((scale, grades) in graded()) {
            let (min, max) = bounds(scale);
            let Some(a) = sums(&grades).average() else {
                prop_assert!(grades.is_empty());
                return Ok(());
            };
            let (num, den) = (i128::from(a.numerator()), i128::from(a.denominator()));
            prop_assert!(i128::from(min) * den <= num && num <= i128::from(max) * den);
            let h = i128::from(a.hundredths());
            prop_assert!(den * (2 * h - 1) <= 200 * num && 200 * num < den * (2 * h + 1));
            prop_assert!(i64::from(min) * 100 <= a.hundredths());
            prop_assert!(a.hundredths() <= i64::from(max) * 100);
        }

        /// The order of the grades does not matter.
        #[test]
        fn averages_ignore_the_order_of_grades(
            (grades, shuffled) in graded().prop_flat_map(|(_, g)| (Just(g.clone()), Just(g).prop_shuffle())),
        ) {
            prop_assert_eq!(sums(&grades), sums(&shuffled));
            let mut reversed = grades.clone();
            reversed.reverse();
            prop_assert_eq!(sums(&grades).average(), sums(&reversed).average());
        }

        /// Adding a grade and removing it leaves the sums unchanged; the sums survive storage.
        #[test]
        fn add_then_remove_leaves_the_sums_unchanged(
            (_, grades) in graded(), points in 0_u8..=100, w in 1_u8..=10,
        ) {
            let before = sums(&grades);
            let mut after = before;
            after.add(points, weight(w));
            prop_assert_eq!(
                Sums::from_stored(after.weighted(), after.weights(), after.count()),
                Ok(after)
            );
            prop_assert_eq!(after.remove(points, weight(w)), Ok(()));
            prop_assert_eq!(after, before);
            for &(p, w) in &grades {
                prop_assert_eq!(after.remove(p, weight(w)), Ok(()));
            }
            prop_assert_eq!(after, Sums::EMPTY);
        }

        /// Suggestions stay within the scale, round the shown average to a neighbouring whole
        /// number, and a higher threshold never suggests more.
        #[test]
        fn suggestions_stay_within_the_scale(
            (scale, grades) in graded(), r in any_rule(), higher in 1_i64..=100,
        ) {
            let (min, max) = bounds(scale);
            let s = sums(&grades);
            match suggest(s, scale, r) {
                Suggestion::Grade(g) => {
                    prop_assert!(min <= g && g <= max);
                    let shown = s.average().map_or(0, Average::hundredths);
                    prop_assert!(i64::from(g) * 100 >= shown - 99 && i64::from(g) * 100 <= shown + 100);
                    let stricter = rule(higher.max(i64::from(r.threshold())), i64::from(r.min_grades()));
                    prop_assert!(suggest(s, scale, stricter).grade().is_some_and(|h| h <= g));
                }
                Suggestion::NotEnoughGrades { have, need } => {
                    prop_assert!(have < need);
                    prop_assert_eq!(need, u32::from(r.min_grades()));
                }
                Suggestion::NotAveraged => prop_assert!(false, "a points scale"),
            }
            let terms: Vec<u8> = grades.iter().map(|&(p, _)| p).take(4).collect();
            if let Suggestion::Grade(g) = suggest_year(&terms, 4, scale, r) {
                prop_assert!(min <= g && g <= max && terms.len() == 4);
            }
        }

        /// The forecast's grades reach the target; one grade fewer, or the next lower value,
        /// does not.
        #[test]
        fn forecasts_reach_the_target_with_no_fewer_grades(
            (scale, grades) in graded(), r in any_rule(), target_offset in 0_u8..=101,
            w in 1_u8..=10, best_offset in prop::option::of(0_u8..=101),
        ) {
            let (min, max) = bounds(scale);
            let target = min.saturating_add(target_offset);
            let best = best_offset.map(|o| min.saturating_add(o));
            let s = sums(&grades);
            let wt = i64::from(w);
            let reaches = |sums: Sums| suggest(sums, scale, r).grade().is_some_and(|g| g >= target);
            let top = best.unwrap_or(max).clamp(min, max);
            match forecast(s, scale, r, target, weight(w), best) {
                Forecast::AlreadyReached => prop_assert!(reaches(s)),
                Forecast::Needs { count, value } => {
                    prop_assert!(!reaches(s));
                    prop_assert!((1..=MAX_FORECAST_GRADES).contains(&count));
                    prop_assert!(min <= value && value <= top);
                    prop_assert!(reaches(s.with_many(value, wt, i64::from(count))));
                    for fewer in 0..count {
                        prop_assert!(!reaches(s.with_many(top, wt, i64::from(fewer))));
                    }
                    if value > min {
                        prop_assert!(!reaches(s.with_many(value - 1, wt, i64::from(count))));
                    }
                }
                Forecast::NotReachable => {
                    prop_assert!(!reaches(s));
                    for n in 0..=MAX_FORECAST_GRADES {
                        prop_assert!(!reaches(s.with_many(top, wt, i64::from(n))));
                    }
                }
                Forecast::NotAveraged => prop_assert!(false, "a points scale"),
            }
        }

        /// The exact mean of averages agrees with plain integer arithmetic where that fits.
        #[test]
        fn overall_averages_agree_with_integer_arithmetic(
            a in prop::collection::vec((0_i64..=500, 1_i64..=60), 1..4),
            b in prop::collection::vec((0_i64..=500, 1_i64..=60), 1..4),
        ) {
            let to_average = |v: &[(i64, i64)]| -> Vec<Average> {
                v.iter().map(|&(n, d)| Average::new(n.min(d * 5), d)).collect()
            };
            let (xs, ys) = (to_average(&a), to_average(&b));
            // Σ n_i / d_i / k as one fraction in i128.
            let exact = |v: &[Average]| -> (i128, i128) {
                let (mut num, mut den) = (0_i128, 1_i128);
                for x in v {
                    num = num * i128::from(x.den) + i128::from(x.num) * den;
                    den *= i128::from(x.den);
                }
                (num, den * i128::try_from(v.len()).unwrap_or(1))
            };
            let (x, y) = (
                OverallAverage::mean(xs.clone()).unwrap_or_else(|| panic!("empty")),
                OverallAverage::mean(ys.clone()).unwrap_or_else(|| panic!("empty")),
            );
            let ((xn, xd), (yn, yd)) = (exact(&xs), exact(&ys));
            prop_assert_eq!(x.cmp(&y), (xn * yd).cmp(&(yn * xd)));
            prop_assert_eq!(x.hundredths(), hundredths_of_i128(xn, xd));
            if let [single] = xs.as_slice() {
                prop_assert_eq!(x.shown(), single.shown());
            }
        }

        /// The machine-integer mean and the mean of any size agree: the same shown value and
        /// the same order, also between a mean that fits and one that does not.
        #[test]
        fn machine_and_unbounded_means_agree(
            a in prop::collection::vec((0_i64..=1000, 1_i64..=400), 1..=15),
            b in prop::collection::vec((0_i64..=1000, 1_i64..=400), 1..=15),
        ) {
            let to_average = |v: &[(i64, i64)]| -> Vec<Average> {
                v.iter().map(|&(n, d)| Average::new(n.min(d * 5), d)).collect()
            };
            let (xs, ys) = (to_average(&a), to_average(&b));
            let unbounded = |v: &[Average]| {
                let (num, den) = OverallAverage::big_mean(v);
                let shown = OverallAverage::round(&num, &den);
                OverallAverage { exact: Fraction::Big { num, den }, shown, subjects: v.len() }
            };
            let (x, y) = (
                OverallAverage::mean(xs.clone()).unwrap_or_else(|| panic!("empty")),
                OverallAverage::mean(ys.clone()).unwrap_or_else(|| panic!("empty")),
            );
            let (bx, by) = (unbounded(&xs), unbounded(&ys));
            prop_assert_eq!(x.shown(), bx.shown());
            prop_assert_eq!(x.cmp(&y), bx.cmp(&by));
            prop_assert_eq!(x.cmp(&by), bx.cmp(&y));
        }

        /// Natural numbers add, multiply and compare as machine integers do.
        #[test]
        fn naturals_agree_with_u128(a in any::<u64>(), b in any::<u64>(), c in any::<u64>()) {
            let (na, nb, nc) = (Nat::from_u64(a), Nat::from_u64(b), Nat::from_u64(c));
            let product = na.times(&nb);
            prop_assert_eq!(nat_value(&product), u128::from(a) * u128::from(b));
            let sum = na.plus(&nc);
            prop_assert_eq!(nat_value(&sum), u128::from(a) + u128::from(c));
            prop_assert_eq!(na.cmp(&nb), a.cmp(&b));
            prop_assert_eq!(product.cmp(&sum), (u128::from(a) * u128::from(b)).cmp(&(u128::from(a) + u128::from(c))));
            prop_assert!(product.0.last() != Some(&0) && sum.0.last() != Some(&0));
        }
    }

    fn hundredths_of_i128(num: i128, den: i128) -> i64 {
        i64::try_from((200 * num + den) / (2 * den)).unwrap_or(i64::MAX)
    }
}
