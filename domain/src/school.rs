//! Names and labels of the school structure.

use serde::Serialize;

/// A grade level (параллель): 1 to 11 in Russian schools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct GradeLevel(u8);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GradeLevelError {
    #[error("grade level must be between {min} and {max}, got {got}", min = GradeLevel::MIN, max = GradeLevel::MAX)]
    OutOfRange { got: i64 },
}

impl GradeLevel {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 11;

    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for GradeLevel {
    type Error = GradeLevelError;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        u8::try_from(value)
            .ok()
            .filter(|v| (Self::MIN..=Self::MAX).contains(v))
            .map(Self)
            .ok_or(GradeLevelError::OutOfRange { got: value })
    }
}

/// A display name (of a school, subject, person...): trimmed, not empty, at most 200
/// characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Name(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters", max = Name::MAX_CHARS)]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl Name {
    pub const MAX_CHARS: usize = 200;

    /// Parses a name, trimming surrounding white space.
    ///
    /// # Errors
    /// When the trimmed name is empty, too long or holds control characters.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(NameError::TooLong);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The label of a class: its grade level and a letter or short suffix, e.g. "5A" or "10Б".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClassLabel {
    level: GradeLevel,
    letter: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassLabelError {
    #[error(transparent)]
    Level(#[from] GradeLevelError),
    #[error("class letter must be 1 to 4 letters, got {0:?}")]
    Letter(String),
}

impl ClassLabel {
    /// Builds a label from a grade level and a letter.
    ///
    /// # Errors
    /// When the level is outside 1-11 or the letter is not 1 to 4 alphabetic characters.
    pub fn new(level: i64, letter: &str) -> Result<Self, ClassLabelError> {
        let level = GradeLevel::try_from(level)?;
        let letter = letter.trim();
        let count = letter.chars().count();
        if count == 0 || count > 4 || !letter.chars().all(char::is_alphabetic) {
            return Err(ClassLabelError::Letter(letter.to_owned()));
        }
        Ok(Self {
            level,
            letter: letter.to_uppercase(),
        })
    }

    #[must_use]
    pub fn level(&self) -> GradeLevel {
        self.level
    }

    #[must_use]
    pub fn letter(&self) -> &str {
        &self.letter
    }
}

impl std::fmt::Display for ClassLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.level.get(), self.letter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grade_levels_outside_one_to_eleven_are_refused() {
        assert!(GradeLevel::try_from(0).is_err());
        assert!(GradeLevel::try_from(12).is_err());
        assert!(GradeLevel::try_from(-1).is_err());
        assert!(GradeLevel::try_from(i64::from(u8::MAX) + 2).is_err());
        assert_eq!(GradeLevel::try_from(1).map(GradeLevel::get), Ok(1));
        assert_eq!(GradeLevel::try_from(11).map(GradeLevel::get), Ok(11));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::parse("  Школа  ").map(|n| n.as_str().to_owned()),
            Ok("Школа".into())
        );
        assert_eq!(Name::parse("   "), Err(NameError::Empty));
        assert_eq!(Name::parse(&"я".repeat(201)), Err(NameError::TooLong));
        assert!(Name::parse(&"я".repeat(200)).is_ok());
        assert_eq!(Name::parse("a\u{0}b"), Err(NameError::ControlCharacter));
    }

    #[test]
    fn class_labels_render_level_and_upper_case_letter() {
        let label = ClassLabel::new(5, "а").map(|l| l.to_string());
        assert_eq!(label, Ok("5А".to_owned()));
        assert!(matches!(
            ClassLabel::new(5, ""),
            Err(ClassLabelError::Letter(_))
        ));
        assert!(matches!(
            ClassLabel::new(5, "A1"),
            Err(ClassLabelError::Letter(_))
        ));
        assert!(matches!(
            ClassLabel::new(12, "A"),
            Err(ClassLabelError::Level(_))
        ));
    }
}
