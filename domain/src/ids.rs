//! Identifiers are newtypes, never bare integers across crate boundaries.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The raw value, for storage and transport.
            #[must_use]
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(raw: i64) -> Self {
                Self(raw)
            }
        }
    )*};
}

id_type!(
    /// A municipality (education department) that owns several schools.
    MunicipalityId,
    /// A school: the unit of tenancy and of sharding.
    SchoolId,
    /// An academic year of one school.
    AcademicYearId,
    /// A term (quarter, trimester or half-year) of an academic year.
    TermId,
    /// A class such as "5A" in one academic year.
    ClassId,
    /// A subject taught in a school.
    SubjectId,
    /// A person with a login.
    UserId,
    /// A student of a school.
    StudentId,
    /// A third-party integrator client holding scoped credentials.
    IntegratorId,
);
