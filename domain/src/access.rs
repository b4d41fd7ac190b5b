//! Who may do what: the pure access-control rules of the journal.
//!
//! The persistence layer loads plain facts about the caller (a [`Principal`]: a person with
//! their [`Grant`]s, or an integrator client with its [`Tenancy`] and [`Scope`]s) and about the
//! resource ([`StudentRef`], [`ClassRef`], [`LessonRef`], [`SchoolRef`]); the rule functions
//! of this module turn them into a [`Decision`]. Nothing here performs I/O.
//!
//! # How a decision is reached
//!
//! 1. **Forbidden** (HTTP 403) when none of the caller's roles may use the operation at all
//!    (a parent posting a grade, an integrator without `grades:write` posting one). This
//!    depends only on the caller and the operation, never on the resource, so it reveals
//!    nothing; [`may_use`] and [`when_missing`] answer it before anything is loaded.
//! 2. **Allow** when one of the caller's grants permits the operation on this resource.
//! 3. **Forbidden** when the caller can see the resource through one of its grants but no
//!    grant permits the operation on it: the class teacher of 7B may read 7B's maths lesson
//!    but not grade it unless they teach maths there. The resource is no secret to them.
//! 4. **NotFound** (HTTP 404) otherwise: the resource is answered as if it did not exist
//!    (a parent of another family, an administrator of another school, an integrator scoped
//!    to another school).
//!
//! A person's grants are a union: each grant reaches its own verdict and the strongest one
//! wins (allowed, then visible, then hidden, then not eligible). Adding a grant or a scope
//! therefore never takes a permission away.
//!
//! A resource that does not exist at all must be answered with [`when_missing`], so that a
//! caller whose role may not use the operation gets the same 403 whether the id exists or
//! not.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{ClassId, IntegratorId, MunicipalityId, SchoolId, StudentId, SubjectId, UserId};

// ---------------------------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------------------------

/// The answer of an access rule.
#[must_use = "an access decision must be enforced"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The caller may perform the operation on the resource.
    Allow,
    /// The caller's role may never use this operation, or may see the resource but not act on
    /// it (HTTP 403).
    Forbidden,
    /// The resource is not visible to the caller: answered as if it did not exist (HTTP 404).
    NotFound,
}

/// A refused [`Decision`], as an error for `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denied {
    #[error("the caller's role may not perform this operation")]
    Forbidden,
    #[error("not found")]
    NotFound,
}

impl Decision {
    #[must_use]
    pub const fn is_allowed(self) -> bool {
        matches!(self, Self::Allow)
    }

    /// `Ok(())` for [`Decision::Allow`], the refusal otherwise.
    ///
    /// # Errors
    /// [`Denied::Forbidden`] or [`Denied::NotFound`], matching the decision.
    pub const fn into_result(self) -> Result<(), Denied> {
        match self {
            Self::Allow => Ok(()),
            Self::Forbidden => Err(Denied::Forbidden),
            Self::NotFound => Err(Denied::NotFound),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Integrator scopes and tenancy
// ---------------------------------------------------------------------------------------------

/// A permission of an integrator's credentials, written as in OAuth (`grades:read`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Scope {
    /// `grades:read`: grades, averages and ranks.
    GradesRead,
    /// `grades:write`: grades, and the lesson's topic and homework.
    GradesWrite,
    /// `attendance:read`: attendance marks.
    AttendanceRead,
    /// `attendance:write`: attendance marks.
    AttendanceWrite,
    /// `roster:read`: students, classes and their rosters.
    RosterRead,
    /// `reports:read`: a school's aggregated reports and activity indicators.
    ReportsRead,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error(
        "unknown scope {0:?}; the scopes are grades:read, grades:write, attendance:read, \
         attendance:write, roster:read and reports:read"
    )]
    Unknown(String),
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Self; 6] = [
        Self::GradesRead,
        Self::GradesWrite,
        Self::AttendanceRead,
        Self::AttendanceWrite,
        Self::RosterRead,
        Self::ReportsRead,
    ];

    /// The longest part of a refused scope that is echoed back in the error.
    const MAX_ECHO_CHARS: usize = 64;

    /// Parses one scope; the spelling is exact (lower case, no white space).
    ///
    /// # Errors
    /// [`ScopeError::Unknown`] for anything that is not one of the six scopes.
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == raw)
            .ok_or_else(|| ScopeError::Unknown(raw.chars().take(Self::MAX_ECHO_CHARS).collect()))
    }

    /// Parses an OAuth scope list: scopes separated by white space, duplicates allowed.
    ///
    /// # Errors
    /// [`ScopeError::Unknown`] naming the first scope that is not known.
    pub fn parse_list(raw: &str) -> Result<BTreeSet<Self>, ScopeError> {
        raw.split_whitespace().map(Self::parse).collect()
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GradesRead => "grades:read",
            Self::GradesWrite => "grades:write",
            Self::AttendanceRead => "attendance:read",
            Self::AttendanceWrite => "attendance:write",
            Self::RosterRead => "roster:read",
            Self::ReportsRead => "reports:read",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for Scope {
    type Error = ScopeError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Scope> for &'static str {
    fn from(scope: Scope) -> Self {
        scope.as_str()
    }
}

/// The schools an integrator's credentials reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tenancy {
    /// One school.
    School(SchoolId),
    /// Every school of one municipality.
    Municipality(MunicipalityId),
}

impl Tenancy {
    /// Whether `school` lies inside this tenancy.
    #[must_use]
    pub fn covers(&self, school: &SchoolRef) -> bool {
        match *self {
            Self::School(id) => id == school.school,
            Self::Municipality(id) => id == school.municipality,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Principals
// ---------------------------------------------------------------------------------------------

/// A teaching assignment: this teacher teaches `subject` in `class`. A group of a class (e.g.
/// English group 2 of 5A) counts as its class here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Teaching {
    pub class: ClassId,
    pub subject: SubjectId,
}

/// One role a person holds. A person may hold several (a teacher who is also a parent).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Grant {
    /// Director or deputy director of a school: the school's administration.
    SchoolAdmin(SchoolId),
    /// The education department of a municipality: reads its schools.
    MunicipalityAdmin(MunicipalityId),
    /// A subject teacher of `school` with their teaching assignments. An assignment naming a
    /// class of another school grants nothing.
    Teacher {
        school: SchoolId,
        teaches: Vec<Teaching>,
    },
    /// The class teacher (классный руководитель) of `class` in `school`.
    ClassTeacher { school: SchoolId, class: ClassId },
    /// A parent (legal representative) of these students.
    Parent { children: Vec<StudentId> },
    /// A student: sees only themself.
    Student(StudentId),
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person with a login and their roles. No grants means no access at all.
    Person { user: UserId, grants: Vec<Grant> },
    /// A third-party client with scoped credentials limited to its tenancy.
    Integrator {
        client: IntegratorId,
        tenancy: Tenancy,
        scopes: BTreeSet<Scope>,
    },
}

impl Principal {
    #[must_use]
    pub fn person(user: UserId, grants: Vec<Grant>) -> Self {
        Self::Person { user, grants }
    }

    #[must_use]
    pub fn integrator(client: IntegratorId, tenancy: Tenancy, scopes: BTreeSet<Scope>) -> Self {
        Self::Integrator {
            client,
            tenancy,
            scopes,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Resources: the plain facts the persistence layer loads
// ---------------------------------------------------------------------------------------------

/// A school and the municipality that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SchoolRef {
    pub school: SchoolId,
    pub municipality: MunicipalityId,
}

/// A student, their school and their current classes (a group counts as its class).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StudentRef {
    pub id: StudentId,
    pub school: SchoolRef,
    pub classes: Vec<ClassId>,
}

/// A class and its school.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClassRef {
    pub id: ClassId,
    pub school: SchoolRef,
}

/// A lesson, or any journal entry of one: the class (or the group's class) and the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LessonRef {
    pub class: ClassRef,
    pub subject: SubjectId,
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

/// Which records a read touches. People see every kind alike; it matters only for the scopes
/// an integrator needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Record {
    /// Names, classes, rosters: needs `roster:read`.
    Roster,
    /// Grades, averages, ranks: needs `grades:read`.
    Grades,
    /// Attendance marks: needs `attendance:read`.
    Attendance,
    /// The whole diary or journal page (grades, attendance, topics, homework): needs both
    /// `grades:read` and `attendance:read`.
    Journal,
}

impl Record {
    pub const ALL: [Self; 4] = [Self::Roster, Self::Grades, Self::Attendance, Self::Journal];

    /// The scopes an integrator must hold, all of them, to read these records.
    #[must_use]
    pub const fn required_scopes(self) -> &'static [Scope] {
        match self {
            Self::Roster => &[Scope::RosterRead],
            Self::Grades => &[Scope::GradesRead],
            Self::Attendance => &[Scope::AttendanceRead],
            Self::Journal => &[Scope::GradesRead, Scope::AttendanceRead],
        }
    }
}

/// What a write to a lesson changes. People may write every kind alike; it matters only for
/// the scope an integrator needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LessonEntry {
    /// Grades: needs `grades:write`.
    Grades,
    /// Attendance marks: needs `attendance:write`.
    Attendance,
    /// Topic, homework (also per student), held mark, lesson comment: needs `grades:write`,
    /// the journal's write scope.
    Plan,
}

impl LessonEntry {
    pub const ALL: [Self; 3] = [Self::Grades, Self::Attendance, Self::Plan];

    /// The scope an integrator must hold to write this entry.
    #[must_use]
    pub const fn required_scope(self) -> Scope {
        match self {
            Self::Grades | Self::Plan => Scope::GradesWrite,
            Self::Attendance => Scope::AttendanceWrite,
        }
    }
}

/// The operations the rules know, for the resource-free questions [`may_use`] and
/// [`when_missing`]. Each has a rule function of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// [`read_student`].
    ReadStudent(Record),
    /// [`read_class`].
    ReadClass(Record),
    /// [`write_lesson`].
    WriteLesson(LessonEntry),
    /// [`manage_school`].
    ManageSchool,
    /// [`manage_municipality`].
    ManageMunicipality,
    /// [`read_school_reports`].
    ReadSchoolReports,
    /// [`read_school_ranking`].
    ReadSchoolRanking,
    /// [`read_municipality_reports`].
    ReadMunicipalityReports,
    /// [`lock_term`].
    LockTerm,
    /// [`change_locked`].
    ChangeLocked,
    /// [`follow_student`].
    FollowStudent,
    /// [`read_notifications`].
    ReadNotifications,
}

impl Operation {
    /// Whether a person's `grant` is a role that may use this operation at all.
    fn eligible(self, grant: &Grant) -> bool {
        match self {
            Self::ReadStudent(_) => true,
            Self::ReadClass(_) => matches!(
                grant,
                Grant::Teacher { .. }
                    | Grant::ClassTeacher { .. }
                    | Grant::SchoolAdmin(_)
                    | Grant::MunicipalityAdmin(_)
            ),
            Self::WriteLesson(_) => matches!(
                grant,
                Grant::Teacher { .. } | Grant::ClassTeacher { .. } | Grant::SchoolAdmin(_)
            ),
            Self::ManageSchool | Self::LockTerm | Self::ChangeLocked => {
                matches!(grant, Grant::SchoolAdmin(_))
            }
            Self::ManageMunicipality | Self::ReadMunicipalityReports => {
                matches!(grant, Grant::MunicipalityAdmin(_))
            }
            Self::FollowStudent | Self::ReadNotifications => {
                matches!(grant, Grant::Parent { .. } | Grant::Student(_))
            }
            Self::ReadSchoolReports => {
                matches!(grant, Grant::SchoolAdmin(_) | Grant::MunicipalityAdmin(_))
            }
            Self::ReadSchoolRanking => matches!(
                grant,
                Grant::Teacher { .. }
                    | Grant::ClassTeacher { .. }
                    | Grant::SchoolAdmin(_)
                    | Grant::MunicipalityAdmin(_)
            ),
        }
    }

    /// Whether an integrator holding `scopes` may use this operation at all.
    fn integrator_eligible(self, scopes: &BTreeSet<Scope>) -> bool {
        let holds_all = |needed: &[Scope]| {
            !needed.is_empty() && needed.iter().all(|scope| scopes.contains(scope))
        };
        match self {
            Self::ReadStudent(record) | Self::ReadClass(record) => {
                holds_all(record.required_scopes())
            }
            Self::WriteLesson(entry) => scopes.contains(&entry.required_scope()),
            Self::ReadSchoolReports | Self::ReadMunicipalityReports => {
                scopes.contains(&Scope::ReportsRead)
            }
            Self::ReadSchoolRanking => holds_all(Record::Grades.required_scopes()),
            Self::ManageSchool
            | Self::ManageMunicipality
            | Self::LockTerm
            | Self::ChangeLocked
            | Self::FollowStudent
            | Self::ReadNotifications => false,
        }
    }
}

/// Whether any of the caller's roles may use `op` at all, whatever the resource. When it is
/// `false`, every rule function answers [`Decision::Forbidden`] for `op`.
#[must_use]
pub fn may_use(principal: &Principal, op: Operation) -> bool {
    match principal {
        Principal::Person { grants, .. } => grants.iter().any(|grant| op.eligible(grant)),
        Principal::Integrator { scopes, .. } => op.integrator_eligible(scopes),
    }
}

/// The answer for a resource that does not exist: [`Decision::Forbidden`] when the caller's
/// roles may not use `op` at all (the same answer as for an existing resource, so nothing is
/// revealed), [`Decision::NotFound`] otherwise.
pub fn when_missing(principal: &Principal, op: Operation) -> Decision {
    if may_use(principal, op) {
        Decision::NotFound
    } else {
        Decision::Forbidden
    }
}

// ---------------------------------------------------------------------------------------------
// What one grant reaches
// ---------------------------------------------------------------------------------------------

impl Grant {
    /// The school's administration.
    fn administers(&self, school: &SchoolRef) -> bool {
        matches!(*self, Self::SchoolAdmin(id) if id == school.school)
    }

    /// The school's administration or its municipality.
    fn governs(&self, school: &SchoolRef) -> bool {
        match *self {
            Self::SchoolAdmin(id) => id == school.school,
            Self::MunicipalityAdmin(id) => id == school.municipality,
            _ => false,
        }
    }

    /// Whether this grant knows the school: it governs it or works in it. Parents and students
    /// reach students, not schools.
    fn sees_school(&self, school: &SchoolRef) -> bool {
        match self {
            Self::Teacher { school: id, .. } | Self::ClassTeacher { school: id, .. } => {
                *id == school.school
            }
            _ => self.governs(school),
        }
    }

    /// Whether this grant teaches or leads `class` (any subject), in the class's own school.
    fn works_in(&self, class: ClassId, school: &SchoolRef) -> bool {
        match self {
            Self::Teacher {
                school: id,
                teaches,
            } => *id == school.school && teaches.iter().any(|t| t.class == class),
            Self::ClassTeacher {
                school: id,
                class: led,
            } => *id == school.school && *led == class,
            _ => false,
        }
    }

    /// Whether this grant reads `class`'s roster and journal page.
    fn sees_class(&self, class: &ClassRef) -> bool {
        self.governs(&class.school) || self.works_in(class.id, &class.school)
    }

    /// Whether this grant reads `student`'s diary, grades, attendance, averages and rank.
    fn sees_student(&self, student: &StudentRef) -> bool {
        match self {
            Self::Student(id) => *id == student.id,
            Self::Parent { children } => children.contains(&student.id),
            _ => {
                self.governs(&student.school)
                    || student
                        .classes
                        .iter()
                        .any(|class| self.works_in(*class, &student.school))
            }
        }
    }

    /// Whether this grant teaches the lesson's subject in the lesson's class.
    fn teaches(&self, lesson: &LessonRef) -> bool {
        match self {
            Self::Teacher { school, teaches } => {
                *school == lesson.class.school.school
                    && teaches.contains(&Teaching {
                        class: lesson.class.id,
                        subject: lesson.subject,
                    })
            }
            _ => false,
        }
    }
}

/// One grant's verdict; a person's verdict is the strongest of their grants'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    /// The role may not use the operation.
    Ineligible,
    /// The role may use the operation, but the resource is not visible through it.
    Hidden,
    /// The resource is visible through the role, which may not perform the operation on it.
    Visible,
    /// The role permits the operation on the resource.
    Allowed,
}

impl Verdict {
    const fn decision(self) -> Decision {
        match self {
            Self::Allowed => Decision::Allow,
            Self::Hidden => Decision::NotFound,
            Self::Visible | Self::Ineligible => Decision::Forbidden,
        }
    }
}

/// Applies the decision order of the module documentation.
///
/// `permits` says whether an eligible grant may perform `op` on the resource, `sees` whether
/// a grant can see the resource at all; `school` is the resource's school, which an
/// integrator's tenancy must cover.
fn decide(
    principal: &Principal,
    op: Operation,
    school: &SchoolRef,
    permits: impl Fn(&Grant) -> bool,
    sees: impl Fn(&Grant) -> bool,
) -> Decision {
    match principal {
        Principal::Person { grants, .. } => grants
            .iter()
            .map(|grant| {
                let eligible = op.eligible(grant);
                if eligible && permits(grant) {
                    Verdict::Allowed
                } else if sees(grant) {
                    Verdict::Visible
                } else if eligible {
                    Verdict::Hidden
                } else {
                    Verdict::Ineligible
                }
            })
            .fold(Verdict::Ineligible, Ord::max)
            .decision(),
        Principal::Integrator {
            tenancy, scopes, ..
        } => {
            if !op.integrator_eligible(scopes) {
                Decision::Forbidden
            } else if tenancy.covers(school) {
                Decision::Allow
            } else {
                Decision::NotFound
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

/// Reading one student's diary, grades, attendance, averages and rank.
///
/// Allowed to: the student themself; their parents; a teacher who teaches one of the
/// student's current classes (any subject); the class teacher of one of those classes; the
/// administration of the student's school; the municipality of that school; an integrator
/// holding the scopes `record` needs ([`Record::required_scopes`]) whose tenancy covers the
/// school. Every person's role may ask, so anyone else with a role gets
/// [`Decision::NotFound`] (a parent asking for another family's child, a student for a
/// classmate); a person without roles or an integrator without the scopes gets
/// [`Decision::Forbidden`].
pub fn read_student(principal: &Principal, student: &StudentRef, record: Record) -> Decision {
    decide(
        principal,
        Operation::ReadStudent(record),
        &student.school,
        |grant| grant.sees_student(student),
        |grant| grant.sees_student(student),
    )
}

/// Whether `grant` makes its holder one of the student's family: the student themself or one
/// of their (still linked) parents.
fn in_family(grant: &Grant, student: &StudentRef) -> bool {
    match grant {
        Grant::Student(id) => *id == student.id,
        Grant::Parent { children } => children.contains(&student.id),
        _ => false,
    }
}

/// Following a student on one's phone: choosing which of their events to be notified of.
///
/// Allowed to: the student themself and their parents, the family that gets the pushes.
/// Another family's parent or another student gets [`Decision::NotFound`]; teachers, the
/// administration and integrators get [`Decision::Forbidden`] (they get no pushes about
/// students).
pub fn follow_student(principal: &Principal, student: &StudentRef) -> Decision {
    let family = |grant: &Grant| in_family(grant, student);
    decide(
        principal,
        Operation::FollowStudent,
        &student.school,
        family,
        family,
    )
}

/// The students whose family the caller is: themself as a student, their linked children as
/// a parent. Their notifications about anyone else are not shown.
#[must_use]
pub fn family_of(principal: &Principal) -> BTreeSet<StudentId> {
    let Principal::Person { grants, .. } = principal else {
        return BTreeSet::new();
    };
    grants
        .iter()
        .flat_map(|grant| match grant {
            Grant::Student(id) => vec![*id],
            Grant::Parent { children } => children.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// Reading one's own notifications about a student in the family app (what was sent, held
/// or only counted).
///
/// Allowed to: the student themself and their parents while they are linked; a parent who
/// has been unlinked gets [`Decision::NotFound`] like any other family, and their earlier
/// notifications about the child are no longer shown. Every other role gets
/// [`Decision::Forbidden`] (they get no pushes about students).
pub fn read_notifications(principal: &Principal, student: &StudentRef) -> Decision {
    let family = |grant: &Grant| in_family(grant, student);
    decide(
        principal,
        Operation::ReadNotifications,
        &student.school,
        family,
        family,
    )
}

/// Reading a class's roster and journal page.
///
/// Allowed to: a teacher who teaches the class (any subject); its class teacher; the
/// administration of its school; the municipality of that school; an integrator holding the
/// scopes `record` needs whose tenancy covers the school. Other teachers and administrators
/// get [`Decision::NotFound`]. Parents and students get [`Decision::Forbidden`]: they read
/// students (their own), never a class journal.
pub fn read_class(principal: &Principal, class: &ClassRef, record: Record) -> Decision {
    decide(
        principal,
        Operation::ReadClass(record),
        &class.school,
        |grant| grant.sees_class(class),
        |grant| grant.sees_class(class),
    )
}

/// Writing a lesson's journal: grades, attendance, topic, homework, held mark, comment.
///
/// Allowed to: the teacher assigned to the lesson's (class, subject); the administration of
/// the school; an integrator holding the scope `entry` needs
/// ([`LessonEntry::required_scope`]) whose tenancy covers the school.
///
/// A teacher or class teacher who may read the class but does not teach this subject in it
/// (the class teacher of 7B, the Russian teacher of 7B looking at maths) gets
/// [`Decision::Forbidden`]: they see the lesson and may not write it. A teacher who cannot
/// even read the class gets [`Decision::NotFound`], as does an administrator of another
/// school. Parents, students and municipalities never write lessons: [`Decision::Forbidden`].
///
/// When the lesson's term is locked, [`change_locked`] must allow the write as well.
pub fn write_lesson(principal: &Principal, lesson: &LessonRef, entry: LessonEntry) -> Decision {
    let school = &lesson.class.school;
    decide(
        principal,
        Operation::WriteLesson(entry),
        school,
        |grant| grant.teaches(lesson) || grant.administers(school),
        |grant| grant.sees_class(&lesson.class),
    )
}

/// Administering a school: accounts, roster import, timetable, teaching assignments.
///
/// Allowed to the school's administration only. An administrator of another school gets
/// [`Decision::NotFound`]; every other role, including the municipality and integrators,
/// [`Decision::Forbidden`].
pub fn manage_school(principal: &Principal, school: &SchoolRef) -> Decision {
    decide(
        principal,
        Operation::ManageSchool,
        school,
        |grant| grant.administers(school),
        |grant| grant.sees_school(school),
    )
}

/// A person's verdict on something only a municipality's administrators reach: allowed to
/// its own, hidden from those of other municipalities, forbidden to every other role.
fn by_municipality_admins(grants: &[Grant], municipality: MunicipalityId) -> Decision {
    grants
        .iter()
        .map(|grant| match *grant {
            Grant::MunicipalityAdmin(id) if id == municipality => Verdict::Allowed,
            Grant::MunicipalityAdmin(_) => Verdict::Hidden,
            _ => Verdict::Ineligible,
        })
        .fold(Verdict::Ineligible, Ord::max)
        .decision()
}

/// Administering a municipality: the integrator clients it registers for all its schools.
///
/// Allowed to the municipality's administrators only. An administrator of another
/// municipality gets [`Decision::NotFound`]; every other role, including school
/// administrators and integrators, [`Decision::Forbidden`].
pub fn manage_municipality(principal: &Principal, municipality: MunicipalityId) -> Decision {
    match principal {
        Principal::Person { grants, .. } => by_municipality_admins(grants, municipality),
        Principal::Integrator { .. } => Decision::Forbidden,
    }
}

/// Reading a school's aggregated reports and activity indicators.
///
/// Allowed to: the school's administration; its municipality; an integrator holding
/// `reports:read` whose tenancy covers the school. Administrators of other schools and other
/// municipalities get [`Decision::NotFound`]; teachers, parents and students
/// [`Decision::Forbidden`].
pub fn read_school_reports(principal: &Principal, school: &SchoolRef) -> Decision {
    decide(
        principal,
        Operation::ReadSchoolReports,
        school,
        |grant| grant.governs(school),
        |grant| grant.sees_school(school),
    )
}

/// Reading a school's full ranking table: every student's name, averages and position.
///
/// Allowed to: the school's teachers and class teachers (whatever they teach); its
/// administration; its municipality; an integrator holding `grades:read` whose tenancy covers
/// the school. Teachers and administrators of other schools get [`Decision::NotFound`];
/// parents and students [`Decision::Forbidden`]: they see a position and a distribution,
/// never other children's names or averages.
pub fn read_school_ranking(principal: &Principal, school: &SchoolRef) -> Decision {
    decide(
        principal,
        Operation::ReadSchoolRanking,
        school,
        |grant| grant.sees_school(school),
        |grant| grant.sees_school(school),
    )
}

/// Reading a municipality's reports: the figures of all its schools side by side.
///
/// Allowed to: the municipality's administrators; an integrator holding `reports:read` whose
/// tenancy is the municipality. Administrators of other municipalities, and integrators with
/// the scope but another tenancy, get [`Decision::NotFound`]; every other role (school
/// administrators included) [`Decision::Forbidden`].
pub fn read_municipality_reports(principal: &Principal, municipality: MunicipalityId) -> Decision {
    match principal {
        Principal::Person { grants, .. } => by_municipality_admins(grants, municipality),
        Principal::Integrator {
            tenancy, scopes, ..
        } => {
            if !scopes.contains(&Scope::ReportsRead) {
                Decision::Forbidden
            } else if *tenancy == Tenancy::Municipality(municipality) {
                Decision::Allow
            } else {
                Decision::NotFound
            }
        }
    }
}

/// Locking or unlocking a term of a school.
///
/// Allowed to the school's administration only; decided like [`manage_school`].
pub fn lock_term(principal: &Principal, school: &SchoolRef) -> Decision {
    decide(
        principal,
        Operation::LockTerm,
        school,
        |grant| grant.administers(school),
        |grant| grant.sees_school(school),
    )
}

/// Changing a lesson's journal in a locked term (with a reason, recorded by the caller).
///
/// Allowed to the administration of the lesson's school only: a locked term's grades change
/// only through the administration. Teachers, even of that lesson, municipalities and
/// integrators get [`Decision::Forbidden`]; an administrator of another school
/// [`Decision::NotFound`]. Checked in addition to [`write_lesson`].
pub fn change_locked(principal: &Principal, lesson: &LessonRef) -> Decision {
    let school = &lesson.class.school;
    decide(
        principal,
        Operation::ChangeLocked,
        school,
        |grant| grant.administers(school),
        |grant| grant.sees_class(&lesson.class),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::{Allow as A, Forbidden as F, NotFound as N};
    use proptest::prelude::*;

    // -----------------------------------------------------------------------------------------
    // A small world: two municipalities, three schools.
    //
    //   municipality 1: school 1 (classes 5A, 7B), school 2 (class 6A)
    //   municipality 2: school 3 (class 8A)
    //
    //   students: Ann and Boris in 5A, Vera in 7B (school 1), Gleb in 6A (school 2),
    //             Dina in 8A (school 3)
    // -----------------------------------------------------------------------------------------

    const M1: MunicipalityId = MunicipalityId(1);
    const M2: MunicipalityId = MunicipalityId(2);
    const S1: SchoolRef = SchoolRef {
        school: SchoolId(11),
        municipality: M1,
    };
    const S2: SchoolRef = SchoolRef {
        school: SchoolId(12),
        municipality: M1,
    };
    const S3: SchoolRef = SchoolRef {
        school: SchoolId(13),
        municipality: M2,
    };
    const C5A: ClassRef = ClassRef {
        id: ClassId(105),
        school: S1,
    };
    const C7B: ClassRef = ClassRef {
        id: ClassId(107),
        school: S1,
    };
    const C6A: ClassRef = ClassRef {
        id: ClassId(206),
        school: S2,
    };
    const C8A: ClassRef = ClassRef {
        id: ClassId(308),
        school: S3,
    };
    const MATH: SubjectId = SubjectId(1);
    const RUSSIAN: SubjectId = SubjectId(2);
    const ANN: StudentId = StudentId(1001);
    const BORIS: StudentId = StudentId(1002);
    const VERA: StudentId = StudentId(1003);
    const GLEB: StudentId = StudentId(1004);
    const DINA: StudentId = StudentId(1005);

    fn student(id: StudentId, class: ClassRef) -> StudentRef {
        StudentRef {
            id,
            school: class.school,
            classes: vec![class.id],
        }
    }

    fn lesson(class: ClassRef, subject: SubjectId) -> LessonRef {
        LessonRef { class, subject }
    }

    fn students() -> Vec<(&'static str, StudentRef)> {
        vec![
            ("ann", student(ANN, C5A)),
            ("boris", student(BORIS, C5A)),
            ("vera", student(VERA, C7B)),
            ("gleb", student(GLEB, C6A)),
            ("dina", student(DINA, C8A)),
        ]
    }

    fn classes() -> Vec<(&'static str, ClassRef)> {
        vec![("5A", C5A), ("7B", C7B), ("6A", C6A), ("8A", C8A)]
    }

    fn lessons() -> Vec<(&'static str, LessonRef)> {
        vec![
            ("5A-math", lesson(C5A, MATH)),
            ("5A-rus", lesson(C5A, RUSSIAN)),
            ("7B-math", lesson(C7B, MATH)),
            ("7B-rus", lesson(C7B, RUSSIAN)),
            ("6A-math", lesson(C6A, MATH)),
            ("8A-math", lesson(C8A, MATH)),
        ]
    }

    fn schools() -> Vec<(&'static str, SchoolRef)> {
        vec![("S1", S1), ("S2", S2), ("S3", S3)]
    }

    fn teacher(school: SchoolRef, teaches: &[(ClassRef, SubjectId)]) -> Grant {
        Grant::Teacher {
            school: school.school,
            teaches: teaches
                .iter()
                .map(|&(class, subject)| Teaching {
                    class: class.id,
                    subject,
                })
                .collect(),
        }
    }

    fn scopes(list: &[Scope]) -> BTreeSet<Scope> {
        list.iter().copied().collect()
    }

    /// Every principal of the world, in the order of the decision tables' rows.
    fn principals() -> Vec<(&'static str, Principal)> {
        use Scope::{AttendanceRead, GradesRead, ReportsRead, RosterRead};
        let person = |user: i64, grants: Vec<Grant>| Principal::person(UserId(user), grants);
        let integrator = |client: i64, tenancy: Tenancy, list: &[Scope]| {
            Principal::integrator(IntegratorId(client), tenancy, scopes(list))
        };
        vec![
            ("nobody", person(1, vec![])),
            ("pupil_ann", person(2, vec![Grant::Student(ANN)])),
            (
                "parent_ann",
                person(
                    3,
                    vec![Grant::Parent {
                        children: vec![ANN],
                    }],
                ),
            ),
            (
                "parent_boris",
                person(
                    4,
                    vec![Grant::Parent {
                        children: vec![BORIS],
                    }],
                ),
            ),
            (
                "parent_vera_gleb",
                person(
                    5,
                    vec![Grant::Parent {
                        children: vec![VERA, GLEB],
                    }],
                ),
            ),
            (
                "teacher_5a_math",
                person(6, vec![teacher(S1, &[(C5A, MATH)])]),
            ),
            (
                "teacher_7b_rus",
                person(7, vec![teacher(S1, &[(C7B, RUSSIAN)])]),
            ),
            (
                "class_teacher_7b",
                person(
                    8,
                    vec![Grant::ClassTeacher {
                        school: S1.school,
                        class: C7B.id,
                    }],
                ),
            ),
            (
                "teacher_6a_math_s2",
                person(9, vec![teacher(S2, &[(C6A, MATH)])]),
            ),
            (
                "teacher_7b_math_and_parent_dina",
                person(
                    10,
                    vec![
                        teacher(S1, &[(C7B, MATH)]),
                        Grant::Parent {
                            children: vec![DINA],
                        },
                    ],
                ),
            ),
            // An assignment naming a class of another school (stale or corrupt) grants nothing.
            (
                "teacher_s2_claiming_5a",
                person(11, vec![teacher(S2, &[(C5A, MATH)])]),
            ),
            ("admin_s1", person(12, vec![Grant::SchoolAdmin(S1.school)])),
            ("admin_s2", person(13, vec![Grant::SchoolAdmin(S2.school)])),
            (
                "admin_s2_teacher_5a_math",
                person(
                    14,
                    vec![Grant::SchoolAdmin(S2.school), teacher(S1, &[(C5A, MATH)])],
                ),
            ),
            ("muni_1", person(15, vec![Grant::MunicipalityAdmin(M1)])),
            ("muni_2", person(16, vec![Grant::MunicipalityAdmin(M2)])),
            (
                "int_s1_all",
                integrator(1, Tenancy::School(S1.school), &Scope::ALL),
            ),
            (
                "int_s1_read",
                integrator(
                    2,
                    Tenancy::School(S1.school),
                    &[GradesRead, AttendanceRead, RosterRead],
                ),
            ),
            (
                "int_s1_none",
                integrator(3, Tenancy::School(S1.school), &[]),
            ),
            (
                "int_m1_all",
                integrator(4, Tenancy::Municipality(M1), &Scope::ALL),
            ),
            (
                "int_m2_reports",
                integrator(5, Tenancy::Municipality(M2), &[ReportsRead]),
            ),
        ]
    }

    fn find<'a, T>(items: &'a [(&'static str, T)], name: &str) -> &'a T {
        items
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, item)| item)
            .unwrap_or_else(|| panic!("{name} is not in the world"))
    }

    /// Expands a decision matrix (one row per principal, one column per resource) into rows
    /// `(principal, resource, expected)` and checks each, reporting every mismatch by name.
    /// Returns how many rows were checked.
    fn check<R, const COLUMNS: usize>(
        rule: &str,
        columns: [&str; COLUMNS],
        matrix: &[(&str, [Decision; COLUMNS])],
        resources: &[(&'static str, R)],
        decide: impl Fn(&Principal, &R) -> Decision,
    ) -> usize {
        let world = principals();
        let row_names: Vec<&str> = matrix.iter().map(|(name, _)| *name).collect();
        let world_names: Vec<&str> = world.iter().map(|(name, _)| *name).collect();
        assert_eq!(row_names, world_names, "{rule}: one row per principal");
        let resource_names: Vec<&str> = resources.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            columns.to_vec(),
            resource_names,
            "{rule}: one column per resource"
        );

        let rows: Vec<(&str, &str, Decision)> = matrix
            .iter()
            .flat_map(|(principal, row)| {
                columns
                    .iter()
                    .zip(row)
                    .map(move |(resource, expected)| (*principal, *resource, *expected))
            })
            .collect();
        let failures: Vec<String> = rows
            .iter()
            .filter_map(|&(principal, resource, expected)| {
                let got = decide(find(&world, principal), find(resources, resource));
                (got != expected).then(|| {
                    format!("{rule}: {principal} on {resource}: expected {expected:?}, got {got:?}")
                })
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} rows differ:\n{}",
            failures.len(),
            rows.len(),
            failures.join("\n")
        );
        rows.len()
    }

    // -----------------------------------------------------------------------------------------
    // The decision tables
    // -----------------------------------------------------------------------------------------

    #[test]
    fn read_student_table() {
        #[rustfmt::skip]
        let matrix = [
            //                                 ann boris vera gleb dina
            ("nobody",                         [F,  F,    F,   F,   F]),
            ("pupil_ann",                      [A,  N,    N,   N,   N]),
            ("parent_ann",                     [A,  N,    N,   N,   N]),
            ("parent_boris",                   [N,  A,    N,   N,   N]),
            ("parent_vera_gleb",               [N,  N,    A,   A,   N]),
            ("teacher_5a_math",                [A,  A,    N,   N,   N]),
            ("teacher_7b_rus",                 [N,  N,    A,   N,   N]),
            ("class_teacher_7b",               [N,  N,    A,   N,   N]),
            ("teacher_6a_math_s2",             [N,  N,    N,   A,   N]),
            ("teacher_7b_math_and_parent_dina",[N,  N,    A,   N,   A]),
            ("teacher_s2_claiming_5a",         [N,  N,    N,   N,   N]),
            ("admin_s1",                       [A,  A,    A,   N,   N]),
            ("admin_s2",                       [N,  N,    N,   A,   N]),
            ("admin_s2_teacher_5a_math",       [A,  A,    N,   A,   N]),
            ("muni_1",                         [A,  A,    A,   A,   N]),
            ("muni_2",                         [N,  N,    N,   N,   A]),
            ("int_s1_all",                     [A,  A,    A,   N,   N]),
            ("int_s1_read",                    [A,  A,    A,   N,   N]),
            ("int_s1_none",                    [F,  F,    F,   F,   F]),
            ("int_m1_all",                     [A,  A,    A,   A,   N]),
            ("int_m2_reports",                 [F,  F,    F,   F,   F]),
        ];
        let columns = ["ann", "boris", "vera", "gleb", "dina"];
        for record in Record::ALL {
            // The integrators of the table hold every read scope or none, so the table holds
            // for every kind of record.
            check(
                &format!("read_student({record:?})"),
                columns,
                &matrix,
                &students(),
                |p, s| read_student(p, s, record),
            );
        }
    }

    #[test]
    fn read_class_table() {
        #[rustfmt::skip]
        let matrix = [
            //                                 5A  7B  6A  8A
            ("nobody",                         [F,  F,  F,  F]),
            ("pupil_ann",                      [F,  F,  F,  F]),
            ("parent_ann",                     [F,  F,  F,  F]),
            ("parent_boris",                   [F,  F,  F,  F]),
            ("parent_vera_gleb",               [F,  F,  F,  F]),
            ("teacher_5a_math",                [A,  N,  N,  N]),
            ("teacher_7b_rus",                 [N,  A,  N,  N]),
            ("class_teacher_7b",               [N,  A,  N,  N]),
            ("teacher_6a_math_s2",             [N,  N,  A,  N]),
            ("teacher_7b_math_and_parent_dina",[N,  A,  N,  N]),
            ("teacher_s2_claiming_5a",         [N,  N,  N,  N]),
            ("admin_s1",                       [A,  A,  N,  N]),
            ("admin_s2",                       [N,  N,  A,  N]),
            ("admin_s2_teacher_5a_math",       [A,  N,  A,  N]),
            ("muni_1",                         [A,  A,  A,  N]),
            ("muni_2",                         [N,  N,  N,  A]),
            ("int_s1_all",                     [A,  A,  N,  N]),
            ("int_s1_read",                    [A,  A,  N,  N]),
            ("int_s1_none",                    [F,  F,  F,  F]),
            ("int_m1_all",                     [A,  A,  A,  N]),
            ("int_m2_reports",                 [F,  F,  F,  F]),
        ];
        let columns = ["5A", "7B", "6A", "8A"];
        for record in Record::ALL {
            check(
                &format!("read_class({record:?})"),
                columns,
                &matrix,
                &classes(),
                |p, c| read_class(p, c, record),
            );
        }
    }

    #[test]
    fn write_lesson_table() {
        #[rustfmt::skip]
        let matrix = [
            //                                 5A-math 5A-rus 7B-math 7B-rus 6A-math 8A-math
            ("nobody",                         [F,      F,     F,      F,     F,      F]),
            ("pupil_ann",                      [F,      F,     F,      F,     F,      F]),
            ("parent_ann",                     [F,      F,     F,      F,     F,      F]),
            ("parent_boris",                   [F,      F,     F,      F,     F,      F]),
            ("parent_vera_gleb",               [F,      F,     F,      F,     F,      F]),
            ("teacher_5a_math",                [A,      F,     N,      N,     N,      N]),
            ("teacher_7b_rus",                 [N,      N,     F,      A,     N,      N]),
            ("class_teacher_7b",               [N,      N,     F,      F,     N,      N]),
            ("teacher_6a_math_s2",             [N,      N,     N,      N,     A,      N]),
            ("teacher_7b_math_and_parent_dina",[N,      N,     A,      F,     N,      N]),
            ("teacher_s2_claiming_5a",         [N,      N,     N,      N,     N,      N]),
            ("admin_s1",                       [A,      A,     A,      A,     N,      N]),
            ("admin_s2",                       [N,      N,     N,      N,     A,      N]),
            ("admin_s2_teacher_5a_math",       [A,      F,     N,      N,     A,      N]),
            ("muni_1",                         [F,      F,     F,      F,     F,      F]),
            ("muni_2",                         [F,      F,     F,      F,     F,      F]),
            ("int_s1_all",                     [A,      A,     A,      A,     N,      N]),
            ("int_s1_read",                    [F,      F,     F,      F,     F,      F]),
            ("int_s1_none",                    [F,      F,     F,      F,     F,      F]),
            ("int_m1_all",                     [A,      A,     A,      A,     A,      N]),
            ("int_m2_reports",                 [F,      F,     F,      F,     F,      F]),
        ];
        let columns = [
            "5A-math", "5A-rus", "7B-math", "7B-rus", "6A-math", "8A-math",
        ];
        for entry in LessonEntry::ALL {
            check(
                &format!("write_lesson({entry:?})"),
                columns,
                &matrix,
                &lessons(),
                |p, l| write_lesson(p, l, entry),
            );
        }
    }

    #[test]
    fn change_locked_table() {
        #[rustfmt::skip]
        let matrix = [
            //                                 5A-math 5A-rus 7B-math 7B-rus 6A-math 8A-math
            ("nobody",                         [F,      F,     F,      F,     F,      F]),
            ("pupil_ann",                      [F,      F,     F,      F,     F,      F]),
            ("parent_ann",                     [F,      F,     F,      F,     F,      F]),
            ("parent_boris",                   [F,      F,     F,      F,     F,      F]),
            ("parent_vera_gleb",               [F,      F,     F,      F,     F,      F]),
            ("teacher_5a_math",                [F,      F,     F,      F,     F,      F]),
            ("teacher_7b_rus",                 [F,      F,     F,      F,     F,      F]),
            ("class_teacher_7b",               [F,      F,     F,      F,     F,      F]),
            ("teacher_6a_math_s2",             [F,      F,     F,      F,     F,      F]),
            ("teacher_7b_math_and_parent_dina",[F,      F,     F,      F,     F,      F]),
            ("teacher_s2_claiming_5a",         [F,      F,     F,      F,     F,      F]),
            ("admin_s1",                       [A,      A,     A,      A,     N,      N]),
            ("admin_s2",                       [N,      N,     N,      N,     A,      N]),
            ("admin_s2_teacher_5a_math",       [F,      F,     N,      N,     A,      N]),
            ("muni_1",                         [F,      F,     F,      F,     F,      F]),
            ("muni_2",                         [F,      F,     F,      F,     F,      F]),
            ("int_s1_all",                     [F,      F,     F,      F,     F,      F]),
            ("int_s1_read",                    [F,      F,     F,      F,     F,      F]),
            ("int_s1_none",                    [F,      F,     F,      F,     F,      F]),
            ("int_m1_all",                     [F,      F,     F,      F,     F,      F]),
            ("int_m2_reports",                 [F,      F,     F,      F,     F,      F]),
        ];
        let columns = [
            "5A-math", "5A-rus", "7B-math", "7B-rus", "6A-math", "8A-math",
        ];
        check("change_locked", columns, &matrix, &lessons(), change_locked);
    }

    /// `manage_school` and `lock_term` are the administration's alone.
    #[rustfmt::skip]
    const ADMINISTRATION_ONLY: [(&str, [Decision; 3]); 21] = [
        //                                 S1  S2  S3
        ("nobody",                         [F,  F,  F]),
        ("pupil_ann",                      [F,  F,  F]),
        ("parent_ann",                     [F,  F,  F]),
        ("parent_boris",                   [F,  F,  F]),
        ("parent_vera_gleb",               [F,  F,  F]),
        ("teacher_5a_math",                [F,  F,  F]),
        ("teacher_7b_rus",                 [F,  F,  F]),
        ("class_teacher_7b",               [F,  F,  F]),
        ("teacher_6a_math_s2",             [F,  F,  F]),
        ("teacher_7b_math_and_parent_dina",[F,  F,  F]),
        ("teacher_s2_claiming_5a",         [F,  F,  F]),
        ("admin_s1",                       [A,  N,  N]),
        ("admin_s2",                       [N,  A,  N]),
        // Works in school 1 as a teacher: knows it, so 403 rather than 404.
        ("admin_s2_teacher_5a_math",       [F,  A,  N]),
        ("muni_1",                         [F,  F,  F]),
        ("muni_2",                         [F,  F,  F]),
        ("int_s1_all",                     [F,  F,  F]),
        ("int_s1_read",                    [F,  F,  F]),
        ("int_s1_none",                    [F,  F,  F]),
        ("int_m1_all",                     [F,  F,  F]),
        ("int_m2_reports",                 [F,  F,  F]),
    ];

    #[test]
    fn manage_school_table() {
        let columns = ["S1", "S2", "S3"];
        check(
            "manage_school",
            columns,
            &ADMINISTRATION_ONLY,
            &schools(),
            manage_school,
        );
    }

    #[test]
    fn lock_term_table() {
        let columns = ["S1", "S2", "S3"];
        check(
            "lock_term",
            columns,
            &ADMINISTRATION_ONLY,
            &schools(),
            lock_term,
        );
    }

    #[test]
    fn manage_municipality_table() {
        #[rustfmt::skip]
        let matrix = [
            //                                 M1  M2
            ("nobody",                         [F,  F]),
            ("pupil_ann",                      [F,  F]),
            ("parent_ann",                     [F,  F]),
            ("parent_boris",                   [F,  F]),
            ("parent_vera_gleb",               [F,  F]),
            ("teacher_5a_math",                [F,  F]),
            ("teacher_7b_rus",                 [F,  F]),
            ("class_teacher_7b",               [F,  F]),
            ("teacher_6a_math_s2",             [F,  F]),
            ("teacher_7b_math_and_parent_dina",[F,  F]),
            ("teacher_s2_claiming_5a",         [F,  F]),
            ("admin_s1",                       [F,  F]),
            ("admin_s2",                       [F,  F]),
            ("admin_s2_teacher_5a_math",       [F,  F]),
            ("muni_1",                         [A,  N]),
            ("muni_2",                         [N,  A]),
            ("int_s1_all",                     [F,  F]),
            ("int_s1_read",                    [F,  F]),
            ("int_s1_none",                    [F,  F]),
            ("int_m1_all",                     [F,  F]),
            ("int_m2_reports",                 [F,  F]),
        ];
        check(
            "manage_municipality",
            ["M1", "M2"],
            &matrix,
            &[("M1", M1), ("M2", M2)],
            |principal, municipality| manage_municipality(principal, *municipality),
        );
    }

    #[test]
    fn read_school_reports_table() {
        #[rustfmt::skip]
        let matrix = [
            //                                 S1  S2  S3
            ("nobody",                         [F,  F,  F]),
            ("pupil_ann",                      [F,  F,  F]),
            ("parent_ann",                     [F,  F,  F]),
            ("parent_boris",                   [F,  F,  F]),
            ("parent_vera_gleb",               [F,  F,  F]),
            ("teacher_5a_math",                [F,  F,  F]),
            ("teacher_7b_rus",                 [F,  F,  F]),
            ("class_teacher_7b",               [F,  F,  F]),
            ("teacher_6a_math_s2",             [F,  F,  F]),
            ("teacher_7b_math_and_parent_dina",[F,  F,  F]),
            ("teacher_s2_claiming_5a",         [F,  F,  F]),
            ("admin_s1",                       [A,  N,  N]),
            ("admin_s2",                       [N,  A,  N]),
            ("admin_s2_teacher_5a_math",       [F,  A,  N]),
            ("muni_1",                         [A,  A,  N]),
            ("muni_2",                         [N,  N,  A]),
            ("int_s1_all",                     [A,  N,  N]),
            ("int_s1_read",                    [F,  F,  F]),
            ("int_s1_none",                    [F,  F,  F]),
            ("int_m1_all",                     [A,  A,  N]),
            ("int_m2_reports",                 [N,  N,  A]),
        ];
        let columns = ["S1", "S2", "S3"];
        check(
            "read_school_reports",
            columns,
            &matrix,
            &schools(),
            read_school_reports,
        );
    }

    #[test]
    fn read_school_ranking_table() {
        #[rustfmt::skip]
        let matrix = [
            //                                 S1  S2  S3
            ("nobody",                         [F,  F,  F]),
            ("pupil_ann",                      [F,  F,  F]),
            ("parent_ann",                     [F,  F,  F]),
            ("parent_boris",                   [F,  F,  F]),
            ("parent_vera_gleb",               [F,  F,  F]),
            ("teacher_5a_math",                [A,  N,  N]),
            ("teacher_7b_rus",                 [A,  N,  N]),
            ("class_teacher_7b",               [A,  N,  N]),
            ("teacher_6a_math_s2",             [N,  A,  N]),
            ("teacher_7b_math_and_parent_dina",[A,  N,  N]),
            ("teacher_s2_claiming_5a",         [N,  A,  N]),
            ("admin_s1",                       [A,  N,  N]),
            ("admin_s2",                       [N,  A,  N]),
            ("admin_s2_teacher_5a_math",       [A,  A,  N]),
            ("muni_1",                         [A,  A,  N]),
            ("muni_2",                         [N,  N,  A]),
            ("int_s1_all",                     [A,  N,  N]),
            ("int_s1_read",                    [A,  N,  N]),
            ("int_s1_none",                    [F,  F,  F]),
            ("int_m1_all",                     [A,  A,  N]),
            ("int_m2_reports",                 [F,  F,  F]),
        ];
        let columns = ["S1", "S2", "S3"];
        check(
            "read_school_ranking",
            columns,
            &matrix,
            &schools(),
            read_school_ranking,
        );
    }

    /// Following a student (notification preferences) and reading one's notifications about
    /// them: the family only; other families and students see nothing (404), every other
    /// role is refused (403), whatever the student.
    #[test]
    fn follow_student_table() {
        let all = principals();
        let pupils = students();
        #[rustfmt::skip]
        let matrix = [
            //                                  ann boris vera gleb dina
            ("nobody",                          [F, F, F, F, F]),
            ("pupil_ann",                       [A, N, N, N, N]),
            ("parent_ann",                      [A, N, N, N, N]),
            ("parent_vera_gleb",                [N, N, A, A, N]),
            ("teacher_5a_math",                 [F, F, F, F, F]),
            ("teacher_7b_math_and_parent_dina", [N, N, N, N, A]),
            ("admin_s1",                        [F, F, F, F, F]),
            ("muni_1",                          [F, F, F, F, F]),
            ("int_s1_all",                      [F, F, F, F, F]),
        ];
        type StudentRule = fn(&Principal, &StudentRef) -> Decision;
        let rules: [(Operation, StudentRule); 2] = [
            (Operation::FollowStudent, follow_student),
            (Operation::ReadNotifications, read_notifications),
        ];
        for (op, rule) in rules {
            for (who, row) in matrix {
                for ((name, student), expected) in pupils.iter().zip(row) {
                    assert_eq!(
                        rule(find(&all, who), student),
                        expected,
                        "{op:?}: {who} on {name}"
                    );
                }
                let missing = if may_use(find(&all, who), op) { N } else { F };
                assert_eq!(
                    when_missing(find(&all, who), op),
                    missing,
                    "{op:?}: {who} on a missing student"
                );
            }
        }
    }

    /// Whose notifications a caller reads: their own children, or themself as a student.
    #[test]
    fn family_of_is_the_callers_children_or_themself() {
        let all = principals();
        let family = |who: &str| family_of(find(&all, who));
        assert_eq!(family("parent_vera_gleb"), BTreeSet::from([VERA, GLEB]));
        assert_eq!(family("pupil_ann"), BTreeSet::from([ANN]));
        assert_eq!(
            family("teacher_7b_math_and_parent_dina"),
            BTreeSet::from([DINA])
        );
        assert!(family("admin_s1").is_empty());
        assert!(family("int_s1_all").is_empty());
    }

    /// The resource-free answer: 404 for an id that does not exist when the role may use the
    /// operation, 403 otherwise.
    #[test]
    fn when_missing_table() {
        let operations = [
            ("read_student", Operation::ReadStudent(Record::Journal)),
            ("read_class", Operation::ReadClass(Record::Journal)),
            ("write_lesson", Operation::WriteLesson(LessonEntry::Grades)),
            ("manage_school", Operation::ManageSchool),
            ("manage_municipality", Operation::ManageMunicipality),
            ("read_school_reports", Operation::ReadSchoolReports),
            ("read_school_ranking", Operation::ReadSchoolRanking),
            ("lock_term", Operation::LockTerm),
            ("change_locked", Operation::ChangeLocked),
        ];
        #[rustfmt::skip]
        let matrix = [
            //                       read_student read_class write_lesson manage muni reports ranking lock change_locked
            ("nobody",                         [F, F, F, F, F, F, F, F, F]),
            ("pupil_ann",                      [N, F, F, F, F, F, F, F, F]),
            ("parent_ann",                     [N, F, F, F, F, F, F, F, F]),
            ("parent_boris",                   [N, F, F, F, F, F, F, F, F]),
            ("parent_vera_gleb",               [N, F, F, F, F, F, F, F, F]),
            ("teacher_5a_math",                [N, N, N, F, F, F, N, F, F]),
            ("teacher_7b_rus",                 [N, N, N, F, F, F, N, F, F]),
            ("class_teacher_7b",               [N, N, N, F, F, F, N, F, F]),
            ("teacher_6a_math_s2",             [N, N, N, F, F, F, N, F, F]),
            ("teacher_7b_math_and_parent_dina",[N, N, N, F, F, F, N, F, F]),
            ("teacher_s2_claiming_5a",         [N, N, N, F, F, F, N, F, F]),
            ("admin_s1",                       [N, N, N, N, F, N, N, N, N]),
            ("admin_s2",                       [N, N, N, N, F, N, N, N, N]),
            ("admin_s2_teacher_5a_math",       [N, N, N, N, F, N, N, N, N]),
            ("muni_1",                         [N, N, F, F, N, N, N, F, F]),
            ("muni_2",                         [N, N, F, F, N, N, N, F, F]),
            ("int_s1_all",                     [N, N, N, F, F, N, N, F, F]),
            ("int_s1_read",                    [N, N, F, F, F, F, N, F, F]),
            ("int_s1_none",                    [F, F, F, F, F, F, F, F, F]),
            ("int_m1_all",                     [N, N, N, F, F, N, N, F, F]),
            ("int_m2_reports",                 [F, F, F, F, F, N, F, F, F]),
        ];
        let columns = operations.map(|(name, _)| name);
        check("when_missing", columns, &matrix, &operations, |p, op| {
            when_missing(p, *op)
        });
        for (name, principal) in principals() {
            for (op_name, op) in operations {
                assert_eq!(
                    may_use(&principal, op),
                    when_missing(&principal, op) == N,
                    "may_use: {name} on {op_name}"
                );
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Integrator scopes, per kind of record and entry
    // -----------------------------------------------------------------------------------------

    #[test]
    fn an_integrator_needs_the_scopes_of_what_it_reads() {
        use Scope::{AttendanceRead, GradesRead, RosterRead};
        #[rustfmt::skip]
        let cases: [(&[Scope], [Decision; 4]); 6] = [
            //                                      Roster Grades Attendance Journal
            (&[],                                   [F,     F,     F,         F]),
            (&[GradesRead],                         [F,     A,     F,         F]),
            (&[AttendanceRead],                     [F,     F,     A,         F]),
            (&[RosterRead],                         [A,     F,     F,         F]),
            (&[GradesRead, AttendanceRead],         [F,     A,     A,         A]),
            (&Scope::ALL,                           [A,     A,     A,         A]),
        ];
        let ann = student(ANN, C5A);
        for (held, expected) in cases {
            let inside =
                Principal::integrator(IntegratorId(9), Tenancy::School(S1.school), scopes(held));
            let outside =
                Principal::integrator(IntegratorId(9), Tenancy::Municipality(M2), scopes(held));
            for (record, expected) in Record::ALL.into_iter().zip(expected) {
                let hidden = if expected == A { N } else { expected };
                assert_eq!(
                    read_student(&inside, &ann, record),
                    expected,
                    "{held:?} {record:?}"
                );
                assert_eq!(
                    read_class(&inside, &C5A, record),
                    expected,
                    "{held:?} {record:?}"
                );
                assert_eq!(
                    read_student(&outside, &ann, record),
                    hidden,
                    "{held:?} {record:?}"
                );
                assert_eq!(
                    read_class(&outside, &C5A, record),
                    hidden,
                    "{held:?} {record:?}"
                );
            }
        }
    }

    #[test]
    fn an_integrator_needs_the_scope_of_what_it_writes() {
        use Scope::{AttendanceWrite, GradesRead, GradesWrite};
        #[rustfmt::skip]
        let cases: [(&[Scope], [Decision; 3]); 5] = [
            //                                 Grades Attendance Plan
            (&[],                              [F,     F,         F]),
            (&[GradesRead],                    [F,     F,         F]),
            (&[GradesWrite],                   [A,     F,         A]),
            (&[AttendanceWrite],               [F,     A,         F]),
            (&[GradesWrite, AttendanceWrite],  [A,     A,         A]),
        ];
        let maths = lesson(C5A, MATH);
        for (held, expected) in cases {
            let inside =
                Principal::integrator(IntegratorId(9), Tenancy::Municipality(M1), scopes(held));
            let outside =
                Principal::integrator(IntegratorId(9), Tenancy::School(S2.school), scopes(held));
            for (entry, expected) in LessonEntry::ALL.into_iter().zip(expected) {
                let hidden = if expected == A { N } else { expected };
                assert_eq!(
                    write_lesson(&inside, &maths, entry),
                    expected,
                    "{held:?} {entry:?}"
                );
                assert_eq!(
                    write_lesson(&outside, &maths, entry),
                    hidden,
                    "{held:?} {entry:?}"
                );
                assert_eq!(change_locked(&inside, &maths), F, "{held:?}");
            }
        }
    }

    #[test]
    fn people_read_and_write_every_kind_of_record_alike() {
        for (name, principal) in principals() {
            if matches!(principal, Principal::Integrator { .. }) {
                continue;
            }
            for (student_name, s) in students() {
                let journal = read_student(&principal, &s, Record::Journal);
                for record in Record::ALL {
                    assert_eq!(
                        read_student(&principal, &s, record),
                        journal,
                        "{name} {student_name}"
                    );
                }
            }
            for (class_name, c) in classes() {
                let journal = read_class(&principal, &c, Record::Journal);
                for record in Record::ALL {
                    assert_eq!(
                        read_class(&principal, &c, record),
                        journal,
                        "{name} {class_name}"
                    );
                }
            }
            for (lesson_name, l) in lessons() {
                let grades = write_lesson(&principal, &l, LessonEntry::Grades);
                for entry in LessonEntry::ALL {
                    assert_eq!(
                        write_lesson(&principal, &l, entry),
                        grades,
                        "{name} {lesson_name}"
                    );
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // The scenarios of reliability.md, spelt out
    // -----------------------------------------------------------------------------------------

    #[test]
    fn the_authorization_scenarios_of_the_reliability_brief() {
        let world = principals();
        let who = |name: &str| find(&world, name);
        let boris = student(BORIS, C5A);
        let vera = student(VERA, C7B);

        // A parent asks for another family's child → 404.
        assert_eq!(read_student(who("parent_ann"), &boris, Record::Journal), N);
        // A student asks for a classmate → 404.
        assert_eq!(read_student(who("pupil_ann"), &boris, Record::Grades), N);
        // A teacher of 5A asks for 7B they do not teach → 404; the class teacher of 7B reads it.
        assert_eq!(read_class(who("teacher_5a_math"), &C7B, Record::Journal), N);
        assert_eq!(
            read_student(who("teacher_5a_math"), &vera, Record::Journal),
            N
        );
        assert_eq!(
            read_class(who("class_teacher_7b"), &C7B, Record::Journal),
            A
        );
        assert_eq!(
            read_student(who("class_teacher_7b"), &vera, Record::Journal),
            A
        );
        // An administrator of school 1 asks for school 2 → 404; a municipality sees its schools.
        assert_eq!(read_school_reports(who("admin_s1"), &S2), N);
        assert_eq!(manage_school(who("admin_s1"), &S2), N);
        assert_eq!(read_school_reports(who("muni_1"), &S2), A);
        assert_eq!(read_school_reports(who("muni_1"), &S3), N);
        // A student or parent grades, locks a term or imports → 403.
        for name in ["pupil_ann", "parent_ann"] {
            assert_eq!(
                write_lesson(who(name), &lesson(C5A, MATH), LessonEntry::Grades),
                F
            );
            assert_eq!(lock_term(who(name), &S1), F);
            assert_eq!(manage_school(who(name), &S1), F);
        }
        // An integrator without grades:write posts a grade → 403; one scoped to school 1 reads
        // school 2 → 404.
        assert_eq!(
            write_lesson(who("int_s1_read"), &lesson(C5A, MATH), LessonEntry::Grades),
            F
        );
        assert_eq!(read_class(who("int_s1_read"), &C6A, Record::Roster), N);
        // Teacher and parent at once: the union of both.
        let both = who("teacher_7b_math_and_parent_dina");
        assert_eq!(read_student(both, &student(DINA, C8A), Record::Journal), A);
        assert_eq!(
            write_lesson(both, &lesson(C7B, MATH), LessonEntry::Grades),
            A
        );
        assert_eq!(
            write_lesson(both, &lesson(C8A, MATH), LessonEntry::Grades),
            N
        );
    }

    // -----------------------------------------------------------------------------------------
    // Scopes and decisions
    // -----------------------------------------------------------------------------------------

    #[test]
    fn scopes_parse_exactly_their_names() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Ok(scope));
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            assert_eq!(scope.to_string(), scope.as_str());
        }
        for bad in [
            "",
            "grades",
            "Grades:Read",
            " grades:read",
            "grades:read ",
            "grades:*",
        ] {
            assert_eq!(Scope::parse(bad), Err(ScopeError::Unknown(bad.to_owned())));
        }
        let long = "x".repeat(1000);
        assert_eq!(
            Scope::parse(&long),
            Err(ScopeError::Unknown("x".repeat(64)))
        );
        let message = Scope::parse("grades:delete")
            .map_err(|e| e.to_string())
            .err()
            .unwrap_or_default();
        assert!(message.contains("\"grades:delete\""), "{message}");
    }

    #[test]
    fn scope_lists_are_split_on_white_space() {
        assert_eq!(
            Scope::parse_list("grades:read  roster:read grades:read"),
            Ok(scopes(&[Scope::GradesRead, Scope::RosterRead]))
        );
        assert_eq!(Scope::parse_list(""), Ok(BTreeSet::new()));
        assert_eq!(
            Scope::parse_list("grades:read admin"),
            Err(ScopeError::Unknown("admin".to_owned()))
        );
    }

    #[test]
    fn scopes_deserialize_from_their_names_only() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};
        let de = |raw: &'static str| -> StrDeserializer<'static, Error> { raw.into_deserializer() };
        assert_eq!(
            Scope::deserialize(de("attendance:write")),
            Ok(Scope::AttendanceWrite)
        );
        assert!(Scope::deserialize(de("attendance")).is_err());
    }

    #[test]
    fn decisions_convert_to_results() {
        assert_eq!(A.into_result(), Ok(()));
        assert_eq!(F.into_result(), Err(Denied::Forbidden));
        assert_eq!(N.into_result(), Err(Denied::NotFound));
        assert!(A.is_allowed() && !F.is_allowed() && !N.is_allowed());
    }

    // -----------------------------------------------------------------------------------------
    // Properties over random worlds
    //
    // Schools 1 and 2 are in municipality 1, school 3 in municipality 2. Classes 1 and 2 are in
    // school 1, class 3 in school 2, class 4 in school 3. Grants are drawn freely, including
    // inconsistent ones (a teacher of school 3 assigned to class 1).
    // -----------------------------------------------------------------------------------------

    fn school_ref(school: i64) -> SchoolRef {
        SchoolRef {
            school: SchoolId(school),
            municipality: MunicipalityId(if school == 3 { 2 } else { 1 }),
        }
    }

    fn class_ref(class: i64) -> ClassRef {
        ClassRef {
            id: ClassId(class),
            school: school_ref(match class {
                1 | 2 => 1,
                3 => 2,
                _ => 3,
            }),
        }
    }

    fn classes_of(school: i64) -> Vec<i64> {
        match school {
            1 => vec![1, 2],
            2 => vec![3],
            _ => vec![4],
        }
    }

    fn arb_grant() -> impl Strategy<Value = Grant> {
        prop_oneof![
            (1i64..=3).prop_map(|s| Grant::SchoolAdmin(SchoolId(s))),
            (1i64..=2).prop_map(|m| Grant::MunicipalityAdmin(MunicipalityId(m))),
            (1i64..=3, prop::collection::vec((1i64..=4, 1i64..=2), 0..=3)).prop_map(
                |(school, teaches)| Grant::Teacher {
                    school: SchoolId(school),
                    teaches: teaches
                        .into_iter()
                        .map(|(class, subject)| Teaching {
                            class: ClassId(class),
                            subject: SubjectId(subject),
                        })
                        .collect(),
                }
            ),
            (1i64..=3, 1i64..=4).prop_map(|(school, class)| Grant::ClassTeacher {
                school: SchoolId(school),
                class: ClassId(class),
            }),
            prop::collection::vec(1i64..=5, 0..=3).prop_map(|children| Grant::Parent {
                children: children.into_iter().map(StudentId).collect(),
            }),
            (1i64..=5).prop_map(|s| Grant::Student(StudentId(s))),
        ]
    }

    fn arb_grants() -> impl Strategy<Value = Vec<Grant>> {
        prop::collection::vec(arb_grant(), 0..=4)
    }

    fn arb_scopes() -> impl Strategy<Value = BTreeSet<Scope>> {
        prop::sample::subsequence(Scope::ALL.to_vec(), 0..=Scope::ALL.len())
            .prop_map(|list| list.into_iter().collect())
    }

    fn arb_tenancy() -> impl Strategy<Value = Tenancy> {
        prop_oneof![
            (1i64..=3).prop_map(|s| Tenancy::School(SchoolId(s))),
            (1i64..=2).prop_map(|m| Tenancy::Municipality(MunicipalityId(m))),
        ]
    }

    fn arb_principal() -> impl Strategy<Value = Principal> {
        prop_oneof![
            arb_grants().prop_map(|grants| Principal::person(UserId(1), grants)),
            (arb_tenancy(), arb_scopes()).prop_map(|(t, s)| Principal::integrator(
                IntegratorId(1),
                t,
                s
            )),
        ]
    }

    fn arb_student() -> impl Strategy<Value = StudentRef> {
        (1i64..=5, 1i64..=3).prop_flat_map(|(id, school)| {
            let all = classes_of(school);
            let most = all.len();
            prop::sample::subsequence(all, 0..=most).prop_map(move |classes| StudentRef {
                id: StudentId(id),
                school: school_ref(school),
                classes: classes.into_iter().map(ClassId).collect(),
            })
        })
    }

    fn arb_class() -> impl Strategy<Value = ClassRef> {
        (1i64..=4).prop_map(class_ref)
    }

    fn arb_lesson() -> impl Strategy<Value = LessonRef> {
        (arb_class(), 1i64..=2).prop_map(|(class, subject)| lesson(class, SubjectId(subject)))
    }

    fn arb_school() -> impl Strategy<Value = SchoolRef> {
        (1i64..=3).prop_map(school_ref)
    }

    /// One call of one rule.
    #[derive(Debug, Clone)]
    enum Call {
        Student(StudentRef, Record),
        Class(ClassRef, Record),
        Write(LessonRef, LessonEntry),
        Manage(SchoolRef),
        Reports(SchoolRef),
        Ranking(SchoolRef),
        Lock(SchoolRef),
        ChangeLocked(LessonRef),
        Follow(StudentRef),
        Notifications(StudentRef),
    }

    impl Call {
        fn run(&self, p: &Principal) -> Decision {
            match self {
                Self::Student(s, record) => read_student(p, s, *record),
                Self::Class(c, record) => read_class(p, c, *record),
                Self::Write(l, entry) => write_lesson(p, l, *entry),
                Self::Manage(s) => manage_school(p, s),
                Self::Reports(s) => read_school_reports(p, s),
                Self::Ranking(s) => read_school_ranking(p, s),
                Self::Lock(s) => lock_term(p, s),
                Self::ChangeLocked(l) => change_locked(p, l),
                Self::Follow(s) => follow_student(p, s),
                Self::Notifications(s) => read_notifications(p, s),
            }
        }

        fn op(&self) -> Operation {
            match self {
                Self::Student(_, record) => Operation::ReadStudent(*record),
                Self::Class(_, record) => Operation::ReadClass(*record),
                Self::Write(_, entry) => Operation::WriteLesson(*entry),
                Self::Manage(_) => Operation::ManageSchool,
                Self::Reports(_) => Operation::ReadSchoolReports,
                Self::Ranking(_) => Operation::ReadSchoolRanking,
                Self::Lock(_) => Operation::LockTerm,
                Self::ChangeLocked(_) => Operation::ChangeLocked,
                Self::Follow(_) => Operation::FollowStudent,
                Self::Notifications(_) => Operation::ReadNotifications,
            }
        }

        fn school(&self) -> SchoolRef {
            match self {
                Self::Student(s, _) | Self::Follow(s) | Self::Notifications(s) => s.school,
                Self::Class(c, _) => c.school,
                Self::Write(l, _) | Self::ChangeLocked(l) => l.class.school,
                Self::Manage(s) | Self::Reports(s) | Self::Ranking(s) | Self::Lock(s) => *s,
            }
        }
    }

    fn arb_call() -> impl Strategy<Value = Call> {
        let record = prop::sample::select(Record::ALL.to_vec());
        let entry = prop::sample::select(LessonEntry::ALL.to_vec());
        prop_oneof![
            (arb_student(), record.clone()).prop_map(|(s, r)| Call::Student(s, r)),
            (arb_class(), record).prop_map(|(c, r)| Call::Class(c, r)),
            (arb_lesson(), entry).prop_map(|(l, e)| Call::Write(l, e)),
            arb_school().prop_map(Call::Manage),
            arb_school().prop_map(Call::Reports),
            arb_school().prop_map(Call::Ranking),
            arb_school().prop_map(Call::Lock),
            arb_lesson().prop_map(Call::ChangeLocked),
            arb_student().prop_map(Call::Follow),
            arb_student().prop_map(Call::Notifications),
        ]
    }

    fn person(grants: Vec<Grant>) -> Principal {
        Principal::person(UserId(1), grants)
    }

    proptest! {
        #[test]
        fn adding_a_grant_never_takes_a_permission_away(
            grants in arb_grants(),
            extra in arb_grant(),
            at in 0usize..8,
            call in arb_call(),
        ) {
            let before = call.run(&person(grants.clone()));
            let mut more = grants;
            more.insert(at % (more.len() + 1), extra);
            let after = call.run(&person(more));
            prop_assert!(before != A || after == A, "{before:?} became {after:?}");
        }

        #[test]
        fn adding_a_scope_never_takes_a_permission_away(
            tenancy in arb_tenancy(),
            held in arb_scopes(),
            extra in prop::sample::select(Scope::ALL.to_vec()),
            call in arb_call(),
        ) {
            let before = call.run(&Principal::integrator(IntegratorId(1), tenancy, held.clone()));
            let mut more = held;
            more.insert(extra);
            let after = call.run(&Principal::integrator(IntegratorId(1), tenancy, more));
            prop_assert!(before != A || after == A, "{before:?} became {after:?}");
        }

        #[test]
        fn no_grants_and_no_scopes_mean_no_access(tenancy in arb_tenancy(), call in arb_call()) {
            prop_assert_eq!(call.run(&person(vec![])), F);
            let bare = Principal::integrator(IntegratorId(1), tenancy, BTreeSet::new());
            prop_assert_eq!(call.run(&bare), F);
        }

        #[test]
        fn grants_are_a_union(grants in arb_grants(), call in arb_call()) {
            let together = call.run(&person(grants.clone()));
            let alone = grants.iter().any(|g| call.run(&person(vec![g.clone()])) == A);
            prop_assert_eq!(together == A, alone);
            let mut reversed = grants;
            reversed.reverse();
            prop_assert_eq!(call.run(&person(reversed)), together);
        }

        #[test]
        fn forbidden_by_role_never_depends_on_the_resource(
            principal in arb_principal(),
            call in arb_call(),
        ) {
            let decision = call.run(&principal);
            if !may_use(&principal, call.op()) {
                prop_assert_eq!(decision, F);
            }
            if decision == N {
                prop_assert_eq!(when_missing(&principal, call.op()), N);
            }
        }

        #[test]
        fn integrators_never_leave_their_tenancy(
            tenancy in arb_tenancy(),
            held in arb_scopes(),
            call in arb_call(),
        ) {
            let decision = call.run(&Principal::integrator(IntegratorId(1), tenancy, held));
            if !tenancy.covers(&call.school()) {
                prop_assert_ne!(decision, A);
            }
        }

        #[test]
        fn stronger_operations_imply_weaker_ones(
            principal in arb_principal(),
            lesson in arb_lesson(),
            school in arb_school(),
            pupil in 1i64..=5,
        ) {
            if change_locked(&principal, &lesson) == A {
                for entry in LessonEntry::ALL {
                    prop_assert_eq!(write_lesson(&principal, &lesson, entry), A);
                }
            }
            prop_assert_eq!(lock_term(&principal, &school), manage_school(&principal, &school));
            if manage_school(&principal, &school) == A {
                prop_assert_eq!(read_school_reports(&principal, &school), A);
            }
            if let Principal::Person { .. } = principal {
                let class = lesson.class;
                let member = StudentRef {
                    id: StudentId(pupil),
                    school: class.school,
                    classes: vec![class.id],
                };
                if write_lesson(&principal, &lesson, LessonEntry::Grades) == A {
                    prop_assert_eq!(read_class(&principal, &class, Record::Journal), A);
                }
                if read_class(&principal, &class, Record::Journal) == A {
                    prop_assert_eq!(read_student(&principal, &member, Record::Journal), A);
                }
            }
        }
    }

    #[test]
    fn municipality_reports_are_for_the_municipality_and_its_scoped_integrators() {
        let person = |grants| Principal::person(UserId(1), grants);
        let integrator = |tenancy, scopes: &[Scope]| {
            Principal::integrator(IntegratorId(1), tenancy, scopes.iter().copied().collect())
        };
        let cases = [
            (person(vec![Grant::MunicipalityAdmin(M1)]), A),
            (person(vec![Grant::MunicipalityAdmin(M2)]), N),
            (person(vec![Grant::SchoolAdmin(S1.school)]), F),
            (
                person(vec![Grant::Parent {
                    children: vec![ANN],
                }]),
                F,
            ),
            (person(vec![]), F),
            (
                integrator(Tenancy::Municipality(M1), &[Scope::ReportsRead]),
                A,
            ),
            (
                integrator(Tenancy::Municipality(M2), &[Scope::ReportsRead]),
                N,
            ),
            (
                integrator(Tenancy::School(S1.school), &[Scope::ReportsRead]),
                N,
            ),
            (
                integrator(Tenancy::Municipality(M1), &[Scope::GradesRead]),
                F,
            ),
        ];
        for (principal, expected) in cases {
            assert_eq!(
                read_municipality_reports(&principal, M1),
                expected,
                "{principal:?}"
            );
        }
        let admin = person(vec![Grant::MunicipalityAdmin(M1)]);
        assert_eq!(when_missing(&admin, Operation::ReadMunicipalityReports), N);
        assert_eq!(
            when_missing(
                &person(vec![Grant::SchoolAdmin(S1.school)]),
                Operation::ReadMunicipalityReports
            ),
            F
        );
    }
}
