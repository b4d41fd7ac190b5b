//! Writes on a condition: what the writer last read of a row (a lesson's plan, its
//! attendance, its individual homework) still holds when the write takes the row's lock.
//!
//! What was read is named by a fingerprint of it, which the API hands out as an `ETag`: a
//! teacher app that edited offline sends it back (`If-Match`), and an edit made meanwhile by
//! someone else is not overwritten. The fingerprint is of the content, not a counter: no
//! column and no extra write, and a change undone is the same content again.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{PersistenceError, Result};

/// The condition a write is made on.
#[derive(Debug, Clone, Copy, Default)]
pub enum Expected<'a> {
    /// None: the write goes ahead whatever is there.
    #[default]
    Anything,
    /// The row still has one of these fingerprints.
    OneOf(&'a [String]),
}

impl Expected<'_> {
    /// `Ok` when the condition holds for `current`, the fingerprint of the row as it is.
    ///
    /// # Errors
    /// [`PersistenceError::Stale`] when it does not.
    pub fn check(self, current: &str) -> Result<()> {
        match self {
            Self::Anything => Ok(()),
            Self::OneOf(read) if read.iter().any(|r| r == current) => Ok(()),
            Self::OneOf(_) => Err(PersistenceError::Stale),
        }
    }

    /// For a write that sets a lesson's whole set of per-student texts (marks, individual
    /// homework) from `current` to `wanted`: asking for what already stands is no change and
    /// goes ahead whatever was read (a retry whose first answer was lost); a change needs the
    /// condition to hold for the fingerprint of `current`.
    ///
    /// # Errors
    /// [`PersistenceError::Stale`] when it does not.
    pub(crate) fn check_change(
        self,
        current: &BTreeMap<i64, String>,
        wanted: &BTreeMap<i64, &str>,
        fingerprint: impl FnOnce() -> String,
    ) -> Result<()> {
        let already = current.len() == wanted.len()
            && current
                .iter()
                .all(|(student, text)| wanted.get(student) == Some(&text.as_str()));
        if already {
            Ok(())
        } else {
            self.check(&fingerprint())
        }
    }
}

/// The fingerprint of what a reader saw of `what` (a short tag such as `"plan"`) of row `id`:
/// the tag, the id and 16 hex digits of the SHA-256 of `content` as JSON. The same content
/// gives the same fingerprint in every process and version.
#[must_use]
pub fn fingerprint(what: &str, id: i64, content: &impl Serialize) -> String {
    let json = serde_json::to_vec(content).unwrap_or_default();
    let digest = Sha256::digest(&json);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{what}{id}-{hex}")
}

/// The fingerprint of a lesson's per-student texts (`what`: its attendance marks or its
/// individual homework), `(student id, text)` in any order.
#[must_use]
pub fn per_student(what: &str, lesson: i64, entries: &[(i64, String)]) -> String {
    let sorted: BTreeMap<i64, &str> = entries.iter().map(|(s, t)| (*s, t.as_str())).collect();
    fingerprint(what, lesson, &sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_content_gives_the_same_fingerprint_and_any_change_another() {
        let a = fingerprint("plan", 7, &("topic", Some("homework")));
        assert_eq!(a, fingerprint("plan", 7, &("topic", Some("homework"))));
        assert_ne!(a, fingerprint("plan", 7, &("topic", None::<&str>)));
        assert_ne!(a, fingerprint("plan", 8, &("topic", Some("homework"))));
        assert_ne!(a, fingerprint("marks", 7, &("topic", Some("homework"))));
        assert!(
            a.starts_with("plan7-") && a.len() == "plan7-".len() + 16,
            "{a}"
        );
    }

    #[test]
    fn a_condition_holds_only_for_a_fingerprint_read() {
        let read = ["a".to_owned(), "b".to_owned()];
        assert!(Expected::Anything.check("z").is_ok());
        assert!(Expected::OneOf(&read).check("b").is_ok());
        assert!(matches!(
            Expected::OneOf(&read).check("z"),
            Err(PersistenceError::Stale)
        ));
        assert!(Expected::OneOf(&[]).check("a").is_err());
    }
}
