//! The roster import from the regional roster system (АИС «Контингент»): four tables of
//! classes, students, parents and parent-student links, each row keyed by the roster system's
//! own id. Parsing checks every row and column and reports every fault at once; [`plan`]
//! compares the parsed roster with what the school holds and says what to change, so that
//! importing the same file twice changes nothing.
//!
//! The tables arrive as cells (the CSV reading is the API's business); these functions are
//! pure.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::school::{ClassLabel, Name};
use crate::{ClassId, StudentId, UserId};

/// The four files of an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Classes,
    Students,
    Parents,
    Links,
}

impl FileKind {
    pub const ALL: [Self; 4] = [Self::Classes, Self::Students, Self::Parents, Self::Links];

    /// The file's name in the request and in error fields.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Classes => "classes",
            Self::Students => "students",
            Self::Parents => "parents",
            Self::Links => "links",
        }
    }

    /// The columns, each with whether it must hold a value.
    #[must_use]
    pub const fn columns(self) -> &'static [(&'static str, bool)] {
        match self {
            Self::Classes => &[("class_id", true), ("grade", true), ("letter", true)],
            Self::Students => &[
                ("student_id", true),
                ("last_name", true),
                ("first_name", true),
                ("middle_name", false),
                ("class_id", true),
                ("login", false),
            ],
            Self::Parents => &[
                ("parent_id", true),
                ("last_name", true),
                ("first_name", true),
                ("middle_name", false),
                ("login", false),
            ],
            Self::Links => &[("student_id", true), ("parent_id", true)],
        }
    }
}

/// One file as read: its header and its rows, each with its line number (the header is
/// line 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

/// One fault of an import: the file, the line (none for the file as a whole) and the column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowError {
    pub file: FileKind,
    pub line: Option<usize>,
    pub column: Option<&'static str>,
    pub code: &'static str,
    pub message: String,
}

impl RowError {
    fn at(
        file: FileKind,
        line: usize,
        column: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file,
            line: Some(line),
            column: Some(column),
            code,
            message: message.into(),
        }
    }

    /// Where the fault is: `students[4].class_id` (line 4 of the students file), `links[2]`,
    /// or `classes` for the file as a whole.
    #[must_use]
    pub fn field(&self) -> String {
        let mut out = self.file.as_str().to_owned();
        if let Some(line) = self.line {
            out.push_str(&format!("[{line}]"));
        }
        if let Some(column) = self.column {
            out.push('.');
            out.push_str(column);
        }
        out
    }
}

/// The longest id of the roster system.
pub const MAX_EXTERNAL_ID: usize = 64;
/// The most rows of one file.
pub const MAX_ROWS: usize = 20_000;

/// A login: 3 to 64 lower-case Latin letters, digits, `.`, `-` or `_`.
#[must_use]
pub fn valid_login(login: &str) -> bool {
    (3..=64).contains(&login.len())
        && login.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
}

/// The login given to an account the import makes when the file names none: `prefix`, the
/// school and the roster id in lower case (`s17.a-1029`), or `None` when the id holds
/// characters a login may not.
#[must_use]
pub fn generated_login(prefix: char, school: i64, external_id: &str) -> Option<String> {
    let login = format!("{prefix}{school}.{}", external_id.to_lowercase());
    valid_login(&login).then_some(login)
}

/// A person's names as the roster system gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub last: Name,
    pub first: Name,
    pub middle: Option<Name>,
}

impl Names {
    /// "Last First Middle", the name others see.
    #[must_use]
    pub fn display(&self) -> String {
        let mut out = format!("{} {}", self.last.as_str(), self.first.as_str());
        if let Some(middle) = &self.middle {
            out.push(' ');
            out.push_str(middle.as_str());
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRow {
    pub line: usize,
    pub external_id: String,
    pub label: ClassLabel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudentRow {
    pub line: usize,
    pub external_id: String,
    pub names: Names,
    pub class: String,
    pub login: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRow {
    pub line: usize,
    pub external_id: String,
    pub names: Names,
    pub login: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRow {
    pub line: usize,
    pub student: String,
    pub parent: String,
}

/// A whole roster, every row checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    pub classes: Vec<ClassRow>,
    pub students: Vec<StudentRow>,
    pub parents: Vec<ParentRow>,
    pub links: Vec<LinkRow>,
}

/// The cells of one row by column name.
struct Cells<'a> {
    file: FileKind,
    line: usize,
    by_name: HashMap<&'a str, &'a str>,
}

impl<'a> Cells<'a> {
    fn text(&self, column: &'static str) -> &'a str {
        self.by_name.get(column).map_or("", |v| v.trim())
    }

    fn required(&self, column: &'static str, errors: &mut Vec<RowError>) -> Option<&'a str> {
        let value = self.text(column);
        if value.is_empty() {
            errors.push(RowError::at(
                self.file,
                self.line,
                column,
                "required",
                "must not be empty",
            ));
            None
        } else {
            Some(value)
        }
    }

    fn id(&self, column: &'static str, errors: &mut Vec<RowError>) -> Option<String> {
        let value = self.required(column, errors)?;
        if value.chars().count() > MAX_EXTERNAL_ID || value.chars().any(char::is_control) {
            errors.push(RowError::at(
                self.file,
                self.line,
                column,
                "invalid",
                format!("must be at most {MAX_EXTERNAL_ID} characters, without control characters"),
            ));
            return None;
        }
        Some(value.to_owned())
    }

    fn name(&self, column: &'static str, errors: &mut Vec<RowError>) -> Option<Name> {
        let value = self.required(column, errors)?;
        Name::parse(value)
            .map_err(|e| {
                errors.push(RowError::at(
                    self.file,
                    self.line,
                    column,
                    "invalid",
                    e.to_string(),
                ))
            })
            .ok()
    }

    fn names(&self, errors: &mut Vec<RowError>) -> Option<Names> {
        let last = self.name("last_name", errors);
        let first = self.name("first_name", errors);
        let middle = match self.text("middle_name") {
            "" => Some(None),
            raw => Name::parse(raw)
                .map_err(|e| {
                    errors.push(RowError::at(
                        self.file,
                        self.line,
                        "middle_name",
                        "invalid",
                        e.to_string(),
                    ));
                })
                .ok()
                .map(Some),
        };
        Some(Names {
            last: last?,
            first: first?,
            middle: middle?,
        })
    }

    fn login(&self, errors: &mut Vec<RowError>) -> Option<Option<String>> {
        match self.text("login") {
            "" => Some(None),
            raw if valid_login(raw) => Some(Some(raw.to_owned())),
            _ => {
                errors.push(RowError::at(
                    self.file,
                    self.line,
                    "login",
                    "invalid",
                    "must be 3 to 64 lower-case Latin letters, digits, '.', '-' or '_'",
                ));
                None
            }
        }
    }
}

/// Checks a file's header: every column known, none twice, the required ones present.
fn header_errors(file: FileKind, table: &Table) -> Vec<RowError> {
    let mut errors = Vec::new();
    let file_error = |code, message: String| RowError {
        file,
        line: None,
        column: None,
        code,
        message,
    };
    if table.header.iter().all(|h| h.trim().is_empty()) {
        errors.push(file_error("required", "the file has no header line".into()));
        return errors;
    }
    let known: Vec<&str> = file.columns().iter().map(|(name, _)| *name).collect();
    let mut seen = HashSet::new();
    for name in &table.header {
        let name = name.trim();
        if !known.contains(&name) {
            errors.push(file_error(
                "unknown_column",
                format!(
                    "unknown column {name:?}; the columns are {}",
                    known.join(", ")
                ),
            ));
        } else if !seen.insert(name) {
            errors.push(file_error(
                "duplicate_column",
                format!("column {name:?} appears twice"),
            ));
        }
    }
    for (name, required) in file.columns() {
        if *required && !seen.contains(name) {
            errors.push(file_error(
                "missing_column",
                format!("the column {name:?} is missing"),
            ));
        }
    }
    if table.rows.len() > MAX_ROWS {
        errors.push(file_error(
            "too_many_rows",
            format!("at most {MAX_ROWS} rows"),
        ));
    }
    errors
}

fn rows<'a>(file: FileKind, table: &'a Table, errors: &mut Vec<RowError>) -> Vec<Cells<'a>> {
    let header: Vec<&str> = table.header.iter().map(|h| h.trim()).collect();
    table
        .rows
        .iter()
        .filter_map(|(line, cells)| {
            if cells.len() != header.len() {
                errors.push(RowError {
                    file,
                    line: Some(*line),
                    column: None,
                    code: "wrong_column_count",
                    message: format!("has {} cells, the header {}", cells.len(), header.len()),
                });
                return None;
            }
            Some(Cells {
                file,
                line: *line,
                by_name: header
                    .iter()
                    .copied()
                    .zip(cells.iter().map(String::as_str))
                    .collect(),
            })
        })
        .collect()
}

fn duplicate(file: FileKind, line: usize, column: &'static str, first: usize) -> RowError {
    RowError::at(
        file,
        line,
        column,
        "duplicate",
        format!("the same id as line {first}"),
    )
}

/// Parses and checks the four files: every cell, every id unique in its file, every class a
/// student names in the classes file, every link between a student and a parent of the files.
///
/// # Errors
/// Every fault found, sorted by file and line.
pub fn parse(tables: &BTreeMap<FileKind, Table>) -> Result<Roster, Vec<RowError>> {
    let empty = Table::default();
    let table = |kind| tables.get(&kind).unwrap_or(&empty);
    let mut errors = Vec::new();
    for kind in FileKind::ALL {
        let t = table(kind);
        // An empty parents or links file means none; classes and students are always sent.
        if matches!(kind, FileKind::Parents | FileKind::Links)
            && t.header.is_empty()
            && t.rows.is_empty()
        {
            continue;
        }
        errors.extend(header_errors(kind, t));
    }
    if !errors.is_empty() {
        errors.sort();
        return Err(errors);
    }
    let mut roster = Roster::default();

    let mut class_ids: HashMap<String, usize> = HashMap::new();
    let mut labels: HashMap<ClassLabel, usize> = HashMap::new();
    for row in rows(FileKind::Classes, table(FileKind::Classes), &mut errors) {
        let id = row.id("class_id", &mut errors);
        let grade = row.required("grade", &mut errors).and_then(|raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|g| (1..=11).contains(g))
                .or_else(|| {
                    errors.push(RowError::at(
                        FileKind::Classes,
                        row.line,
                        "grade",
                        "out_of_range",
                        "must be a whole number from 1 to 11",
                    ));
                    None
                })
        });
        let letter = row.required("letter", &mut errors);
        let label = match (grade, letter) {
            (Some(grade), Some(letter)) => ClassLabel::new(grade, letter)
                .map_err(|e| {
                    errors.push(RowError::at(
                        FileKind::Classes,
                        row.line,
                        "letter",
                        "invalid",
                        e.to_string(),
                    ))
                })
                .ok(),
            _ => None,
        };
        if let Some(id) = &id {
            if let Some(first) = class_ids.get(id) {
                errors.push(duplicate(FileKind::Classes, row.line, "class_id", *first));
            } else {
                class_ids.insert(id.clone(), row.line);
            }
        }
        if let Some(label) = &label {
            if let Some(first) = labels.get(label) {
                errors.push(RowError::at(
                    FileKind::Classes,
                    row.line,
                    "letter",
                    "duplicate",
                    format!("class {label} is also on line {first}"),
                ));
            } else {
                labels.insert(label.clone(), row.line);
            }
        }
        if let (Some(external_id), Some(label)) = (id, label) {
            roster.classes.push(ClassRow {
                line: row.line,
                external_id,
                label,
            });
        }
    }
    if table(FileKind::Classes).rows.is_empty() {
        errors.push(RowError {
            file: FileKind::Classes,
            line: None,
            column: None,
            code: "required",
            message: "the file has no classes".into(),
        });
    }

    let mut logins: HashMap<String, (FileKind, usize)> = HashMap::new();
    let mut login_taken =
        |file: FileKind, line: usize, login: &Option<String>, errors: &mut Vec<RowError>| {
            if let Some(login) = login {
                if let Some((other, first)) = logins.get(login) {
                    errors.push(RowError::at(
                        file,
                        line,
                        "login",
                        "duplicate",
                        format!("the same login as {}[{first}]", other.as_str()),
                    ));
                } else {
                    logins.insert(login.clone(), (file, line));
                }
            }
        };

    let mut student_ids: HashMap<String, usize> = HashMap::new();
    for row in rows(FileKind::Students, table(FileKind::Students), &mut errors) {
        let id = row.id("student_id", &mut errors);
        let names = row.names(&mut errors);
        let class = row.id("class_id", &mut errors);
        if let Some(class) = &class
            && !class_ids.contains_key(class)
        {
            errors.push(RowError::at(
                FileKind::Students,
                row.line,
                "class_id",
                "unknown_class",
                format!("no class {class:?} in the classes file"),
            ));
        }
        let login = row.login(&mut errors);
        if let Some(login) = &login {
            login_taken(FileKind::Students, row.line, login, &mut errors);
        }
        if let Some(id) = &id {
            if let Some(first) = student_ids.get(id) {
                errors.push(duplicate(
                    FileKind::Students,
                    row.line,
                    "student_id",
                    *first,
                ));
            } else {
                student_ids.insert(id.clone(), row.line);
            }
        }
        if let (Some(external_id), Some(names), Some(class), Some(login)) =
            (id, names, class, login)
        {
            roster.students.push(StudentRow {
                line: row.line,
                external_id,
                names,
                class,
                login,
            });
        }
    }
    if table(FileKind::Students).rows.is_empty() {
        errors.push(RowError {
            file: FileKind::Students,
            line: None,
            column: None,
            code: "required",
            message: "the file has no students".into(),
        });
    }

    let mut parent_ids: HashMap<String, usize> = HashMap::new();
    for row in rows(FileKind::Parents, table(FileKind::Parents), &mut errors) {
        let id = row.id("parent_id", &mut errors);
        let names = row.names(&mut errors);
        let login = row.login(&mut errors);
        if let Some(login) = &login {
            login_taken(FileKind::Parents, row.line, login, &mut errors);
        }
        if let Some(id) = &id {
            if let Some(first) = parent_ids.get(id) {
                errors.push(duplicate(FileKind::Parents, row.line, "parent_id", *first));
            } else {
                parent_ids.insert(id.clone(), row.line);
            }
        }
        if let (Some(external_id), Some(names), Some(login)) = (id, names, login) {
            roster.parents.push(ParentRow {
                line: row.line,
                external_id,
                names,
                login,
            });
        }
    }

    let mut pairs: HashMap<(String, String), usize> = HashMap::new();
    for row in rows(FileKind::Links, table(FileKind::Links), &mut errors) {
        let student = row.id("student_id", &mut errors);
        let parent = row.id("parent_id", &mut errors);
        if let Some(student) = &student
            && !student_ids.contains_key(student)
        {
            errors.push(RowError::at(
                FileKind::Links,
                row.line,
                "student_id",
                "unknown_student",
                format!("no student {student:?} in the students file"),
            ));
        }
        if let Some(parent) = &parent
            && !parent_ids.contains_key(parent)
        {
            errors.push(RowError::at(
                FileKind::Links,
                row.line,
                "parent_id",
                "unknown_parent",
                format!("no parent {parent:?} in the parents file"),
            ));
        }
        if let (Some(student), Some(parent)) = (student, parent) {
            let key = (student.clone(), parent.clone());
            if let Some(first) = pairs.get(&key) {
                errors.push(RowError::at(
                    FileKind::Links,
                    row.line,
                    "parent_id",
                    "duplicate",
                    format!("the same link as line {first}"),
                ));
            } else {
                pairs.insert(key, row.line);
                roster.links.push(LinkRow {
                    line: row.line,
                    student,
                    parent,
                });
            }
        }
    }

    if errors.is_empty() {
        Ok(roster)
    } else {
        errors.sort();
        Err(errors)
    }
}

/// A class the school holds in the import's academic year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownClass {
    pub id: ClassId,
    pub external_id: Option<String>,
    pub label: ClassLabel,
}

/// A student of the school that came from the roster system (has an external id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownStudent {
    pub id: StudentId,
    pub external_id: String,
    pub last_name: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    /// The class on the import's day, if enrolled.
    pub class: Option<ClassId>,
    /// The latest start of an enrolment: a move before it would rewrite history.
    pub latest_enrolment: Option<chrono::NaiveDate>,
}

/// A parent account an earlier import made or matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownParent {
    pub user: UserId,
    pub external_id: String,
    pub display_name: String,
}

/// What the school holds that the import is compared with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    pub classes: Vec<KnownClass>,
    pub students: Vec<KnownStudent>,
    pub parents: Vec<KnownParent>,
    /// Links between those students and those parents.
    pub links: BTreeSet<(StudentId, UserId)>,
    /// Logins the new accounts would use that are already taken.
    pub taken_logins: BTreeSet<String>,
}

/// A new account: its login and the name others see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub login: String,
    pub display_name: String,
}

/// A class to create, or an existing one to key with the roster id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassChange {
    Create {
        external_id: String,
        label: ClassLabel,
    },
    /// An existing class without a roster id and with the same label takes the id.
    Adopt {
        id: ClassId,
        external_id: String,
    },
    Relabel {
        id: ClassId,
        label: ClassLabel,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStudent {
    pub external_id: String,
    pub names: Names,
    /// The class's roster id.
    pub class: String,
    pub account: NewAccount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewParent {
    pub external_id: String,
    pub account: NewAccount,
}

/// What an import changes, in the order it is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub classes: Vec<ClassChange>,
    pub new_students: Vec<NewStudent>,
    pub renamed_students: Vec<(StudentId, Names)>,
    /// Students to move into the class with this roster id (also back after leaving).
    pub moved_students: Vec<(StudentId, String)>,
    /// Students no longer in the file: unenrolled, never deleted.
    pub left_students: Vec<StudentId>,
    pub new_parents: Vec<NewParent>,
    pub renamed_parents: Vec<(UserId, String)>,
    /// (student roster id, parent roster id).
    pub new_links: Vec<(String, String)>,
    pub removed_links: Vec<(StudentId, UserId)>,
}

impl Plan {
    /// Whether the import changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
            && self.new_students.is_empty()
            && self.renamed_students.is_empty()
            && self.moved_students.is_empty()
            && self.left_students.is_empty()
            && self.new_parents.is_empty()
            && self.renamed_parents.is_empty()
            && self.new_links.is_empty()
            && self.removed_links.is_empty()
    }
}

/// The login a new account of the file would get.
#[must_use]
pub fn login_for(
    prefix: char,
    school: i64,
    external_id: &str,
    given: Option<&str>,
) -> Option<String> {
    given.map_or_else(
        || generated_login(prefix, school, external_id),
        |l| Some(l.to_owned()),
    )
}

fn same_names(known: &KnownStudent, names: &Names) -> bool {
    known.last_name == names.last.as_str()
        && known.first_name == names.first.as_str()
        && known.middle_name.as_deref() == names.middle.as_ref().map(Name::as_str)
}

/// Compares the roster with what the school holds on the import's day and says what to
/// change. `school` names generated logins.
///
/// # Errors
/// Faults only the school's data reveals: a class label another class holds, a login taken,
/// a roster id that makes no valid login, a move before a later enrolment.
pub fn plan(
    roster: &Roster,
    known: &Known,
    school: i64,
    on: chrono::NaiveDate,
) -> Result<Plan, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut plan = Plan::default();

    // Classes.
    let by_external: HashMap<&str, &KnownClass> = known
        .classes
        .iter()
        .filter_map(|c| c.external_id.as_deref().map(|e| (e, c)))
        .collect();
    let by_label: HashMap<&ClassLabel, &KnownClass> =
        known.classes.iter().map(|c| (&c.label, c)).collect();
    let mut class_of: HashMap<&str, Option<ClassId>> = HashMap::new();
    let relabelled: HashSet<ClassId> = roster
        .classes
        .iter()
        .filter_map(|row| {
            by_external
                .get(row.external_id.as_str())
                .filter(|k| k.label != row.label)
                .map(|k| k.id)
        })
        .collect();
    for row in &roster.classes {
        let holder = by_label.get(&row.label).copied();
        match by_external.get(row.external_id.as_str()) {
            Some(known) => {
                class_of.insert(&row.external_id, Some(known.id));
                if known.label != row.label {
                    match holder {
                        Some(other) if other.id != known.id && !relabelled.contains(&other.id) => {
                            errors.push(RowError::at(
                                FileKind::Classes,
                                row.line,
                                "letter",
                                "taken",
                                format!("the school already has a class {}", row.label),
                            ));
                        }
                        _ => plan.classes.push(ClassChange::Relabel {
                            id: known.id,
                            label: row.label.clone(),
                        }),
                    }
                }
            }
            None => match holder {
                Some(other) if other.external_id.is_none() => {
                    class_of.insert(&row.external_id, Some(other.id));
                    plan.classes.push(ClassChange::Adopt {
                        id: other.id,
                        external_id: row.external_id.clone(),
                    });
                }
                Some(other) if !relabelled.contains(&other.id) => {
                    errors.push(RowError::at(
                        FileKind::Classes,
                        row.line,
                        "letter",
                        "taken",
                        format!(
                            "the school already has a class {} with another roster id",
                            row.label
                        ),
                    ));
                }
                _ => {
                    class_of.insert(&row.external_id, None);
                    plan.classes.push(ClassChange::Create {
                        external_id: row.external_id.clone(),
                        label: row.label.clone(),
                    });
                }
            },
        }
    }

    // Students.
    let known_students: HashMap<&str, &KnownStudent> = known
        .students
        .iter()
        .map(|s| (s.external_id.as_str(), s))
        .collect();
    let mut in_file = HashSet::new();
    for row in &roster.students {
        in_file.insert(row.external_id.as_str());
        match known_students.get(row.external_id.as_str()) {
            Some(student) => {
                if !same_names(student, &row.names) {
                    plan.renamed_students.push((student.id, row.names.clone()));
                }
                let target = class_of.get(row.class.as_str()).copied().flatten();
                if target.is_none() || student.class != target {
                    if student.latest_enrolment.is_some_and(|d| d > on) {
                        errors.push(RowError::at(
                            FileKind::Students,
                            row.line,
                            "class_id",
                            "later_enrolment",
                            "the student has an enrolment that starts after the import's day",
                        ));
                    } else {
                        plan.moved_students.push((student.id, row.class.clone()));
                    }
                }
            }
            None => match login_for('s', school, &row.external_id, row.login.as_deref()) {
                Some(login) if known.taken_logins.contains(&login) => {
                    errors.push(RowError::at(
                        FileKind::Students,
                        row.line,
                        "login",
                        "taken",
                        format!("the login {login:?} is taken"),
                    ));
                }
                Some(login) => plan.new_students.push(NewStudent {
                    external_id: row.external_id.clone(),
                    names: row.names.clone(),
                    class: row.class.clone(),
                    account: NewAccount {
                        login,
                        display_name: row.names.display(),
                    },
                }),
                None => errors.push(RowError::at(
                    FileKind::Students,
                    row.line,
                    "login",
                    "required",
                    "the roster id makes no login (Latin letters, digits, '.', '-', '_'): give one",
                )),
            },
        }
    }
    for student in &known.students {
        if !in_file.contains(student.external_id.as_str()) && student.class.is_some() {
            plan.left_students.push(student.id);
        }
    }

    // Parents.
    let known_parents: HashMap<&str, &KnownParent> = known
        .parents
        .iter()
        .map(|p| (p.external_id.as_str(), p))
        .collect();
    for row in &roster.parents {
        match known_parents.get(row.external_id.as_str()) {
            Some(parent) => {
                let name = row.names.display();
                if parent.display_name != name {
                    plan.renamed_parents.push((parent.user, name));
                }
            }
            None => match login_for('p', school, &row.external_id, row.login.as_deref()) {
                Some(login) if known.taken_logins.contains(&login) => {
                    errors.push(RowError::at(
                        FileKind::Parents,
                        row.line,
                        "login",
                        "taken",
                        format!("the login {login:?} is taken"),
                    ));
                }
                Some(login) => plan.new_parents.push(NewParent {
                    external_id: row.external_id.clone(),
                    account: NewAccount {
                        login,
                        display_name: row.names.display(),
                    },
                }),
                None => errors.push(RowError::at(
                    FileKind::Parents,
                    row.line,
                    "login",
                    "required",
                    "the roster id makes no login (Latin letters, digits, '.', '-', '_'): give one",
                )),
            },
        }
    }

    // Links: those of the file that are missing are made; those between imported students
    // and imported parents that the file no longer has are removed.
    let mut wanted = HashSet::new();
    for link in &roster.links {
        let student = known_students.get(link.student.as_str()).map(|s| s.id);
        let parent = known_parents.get(link.parent.as_str()).map(|p| p.user);
        if let (Some(student), Some(parent)) = (student, parent) {
            wanted.insert((student, parent));
            if known.links.contains(&(student, parent)) {
                continue;
            }
        }
        plan.new_links
            .push((link.student.clone(), link.parent.clone()));
    }
    for link in &known.links {
        if !wanted.contains(link) {
            plan.removed_links.push(*link);
        }
    }

    if errors.is_empty() {
        Ok(plan)
    } else {
        errors.sort();
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(header: &str, rows: &[&str]) -> Table {
        Table {
            header: header.split(';').map(str::to_owned).collect(),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i + 2, r.split(';').map(str::to_owned).collect()))
                .collect(),
        }
    }

    fn files(
        classes: &[&str],
        students: &[&str],
        parents: &[&str],
        links: &[&str],
    ) -> BTreeMap<FileKind, Table> {
        BTreeMap::from([
            (FileKind::Classes, table("class_id;grade;letter", classes)),
            (
                FileKind::Students,
                table(
                    "student_id;last_name;first_name;middle_name;class_id",
                    students,
                ),
            ),
            (
                FileKind::Parents,
                table("parent_id;last_name;first_name;middle_name;login", parents),
            ),
            (FileKind::Links, table("student_id;parent_id", links)),
        ])
    }

    fn day() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
    }

    #[test]
    fn a_clean_roster_parses_and_plans_everything_new() {
        let roster = parse(&files(
            &["c1;5;а"],
            &["s1;Иванов;Пётр;;c1"],
            &["p1;Иванова;Анна;;"],
            &["s1;p1"],
        ));
        let roster = roster.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(roster.classes[0].label.to_string(), "5А");
        let plan = plan(&roster, &Known::default(), 7, day()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(plan.new_students[0].account.login, "s7.s1");
        assert_eq!(plan.new_parents[0].account.display_name, "Иванова Анна");
        assert_eq!(plan.new_links, vec![("s1".to_owned(), "p1".to_owned())]);
    }

    #[test]
    fn every_fault_is_named_by_file_line_and_column() {
        let errors = parse(&files(
            &["c1;5;А", "c1;12;Б", "c2;5;А"],
            &["s1;;Пётр;;c1", "s1;Петров;Иван;;c9"],
            &["p1;Иванова;Анна;;BAD LOGIN"],
            &["s1;p2"],
        ))
        .err()
        .unwrap_or_default();
        let fields: Vec<String> = errors.iter().map(RowError::field).collect();
        assert_eq!(
            fields,
            [
                "classes[3].class_id",
                "classes[3].grade",
                "classes[4].letter",
                "students[2].last_name",
                "students[3].class_id",
                "students[3].student_id",
                "parents[2].login",
                "links[2].parent_id",
            ]
        );
    }

    #[test]
    fn unknown_and_missing_columns_are_refused() {
        let mut tables = files(&["c1;5;А"], &["s1;A;B;;c1"], &[], &[]);
        tables.insert(
            FileKind::Classes,
            table("class_id;grade;colour", &["c1;5;red"]),
        );
        let errors = parse(&tables).err().unwrap_or_default();
        let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
        assert_eq!(codes, ["missing_column", "unknown_column"]);
    }

    #[test]
    fn the_same_roster_against_what_it_made_plans_nothing_and_a_leaver_is_unenrolled() {
        let roster = parse(&files(
            &["c1;5;А"],
            &["s1;Иванов;Пётр;;c1"],
            &["p1;Иванова;Анна;;"],
            &["s1;p1"],
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        let known = Known {
            classes: vec![KnownClass {
                id: ClassId(1),
                external_id: Some("c1".into()),
                label: ClassLabel::new(5, "А").unwrap_or_else(|e| panic!("{e}")),
            }],
            students: vec![
                KnownStudent {
                    id: StudentId(10),
                    external_id: "s1".into(),
                    last_name: "Иванов".into(),
                    first_name: "Пётр".into(),
                    middle_name: None,
                    class: Some(ClassId(1)),
                    latest_enrolment: None,
                },
                KnownStudent {
                    id: StudentId(11),
                    external_id: "s2".into(),
                    last_name: "Гость".into(),
                    first_name: "Ушёл".into(),
                    middle_name: None,
                    class: Some(ClassId(1)),
                    latest_enrolment: None,
                },
            ],
            parents: vec![KnownParent {
                user: UserId(5),
                external_id: "p1".into(),
                display_name: "Иванова Анна".into(),
            }],
            links: BTreeSet::from([(StudentId(10), UserId(5))]),
            taken_logins: BTreeSet::new(),
        };
        let plan = plan(&roster, &known, 7, day()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(plan.left_students, vec![StudentId(11)]);
        let rest = Plan {
            left_students: Vec::new(),
            ..plan
        };
        assert!(rest.is_empty(), "{rest:?}");
    }

    #[test]
    fn a_taken_login_and_an_unusable_id_are_faults_of_the_row() {
        let roster = parse(&files(
            &["c1;5;А"],
            &["s1;Иванов;Пётр;;c1", "ж2;Петров;Иван;;c1"],
            &[],
            &[],
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        let known = Known {
            taken_logins: BTreeSet::from(["s7.s1".to_owned()]),
            ..Known::default()
        };
        let errors = plan(&roster, &known, 7, day()).err().unwrap_or_default();
        let fields: Vec<(String, &str)> = errors.iter().map(|e| (e.field(), e.code)).collect();
        assert_eq!(
            fields,
            [
                ("students[2].login".to_owned(), "taken"),
                ("students[3].login".to_owned(), "required")
            ]
        );
    }
}
