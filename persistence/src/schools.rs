//! The school structure: municipalities, schools, academic years, terms, classes, subjects.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use domain::{AcademicYearId, ClassId, MunicipalityId, SchoolId, SubjectId, TermId};

use crate::schema::{academic_years, classes, municipalities, schools, subjects, terms};
use crate::{DbConnection, Result};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = schools)]
pub struct School {
    pub id: i64,
    pub municipality_id: i64,
    pub name: String,
    pub external_id: Option<String>,
    pub timezone: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = academic_years)]
pub struct AcademicYear {
    pub id: i64,
    pub school_id: i64,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = terms)]
pub struct Term {
    pub id: i64,
    pub school_id: i64,
    pub academic_year_id: i64,
    pub ordinal: i16,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub locked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = classes)]
pub struct Class {
    pub id: i64,
    pub school_id: i64,
    pub academic_year_id: i64,
    pub grade_level: i16,
    pub letter: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subjects)]
pub struct Subject {
    pub id: i64,
    pub school_id: i64,
    pub name: String,
}

/// # Errors
/// On a duplicate name or a database failure.
pub fn insert_municipality(conn: &mut DbConnection, name: &str) -> Result<MunicipalityId> {
    diesel::insert_into(municipalities::table)
        .values(municipalities::name.eq(name))
        .returning(municipalities::id)
        .get_result(conn)
        .map(MunicipalityId)
        .map_err(Into::into)
}

/// # Errors
/// On a duplicate name in the municipality, an unknown municipality or a database failure.
pub fn insert_school(
    conn: &mut DbConnection,
    municipality: MunicipalityId,
    name: &str,
    external_id: Option<&str>,
) -> Result<SchoolId> {
    diesel::insert_into(schools::table)
        .values((
            schools::municipality_id.eq(municipality.get()),
            schools::name.eq(name),
            schools::external_id.eq(external_id),
        ))
        .returning(schools::id)
        .get_result(conn)
        .map(SchoolId)
        .map_err(Into::into)
}

/// # Errors
/// On a duplicate name in the school or a database failure.
pub fn insert_academic_year(
    conn: &mut DbConnection,
    school: SchoolId,
    name: &str,
    dates: domain::DateRange,
) -> Result<AcademicYearId> {
    diesel::insert_into(academic_years::table)
        .values((
            academic_years::school_id.eq(school.get()),
            academic_years::name.eq(name),
            academic_years::starts_on.eq(dates.from()),
            academic_years::ends_on.eq(dates.to()),
        ))
        .returning(academic_years::id)
        .get_result(conn)
        .map(AcademicYearId)
        .map_err(Into::into)
}

/// # Errors
/// On a duplicate ordinal in the year or a database failure.
pub fn insert_term(
    conn: &mut DbConnection,
    school: SchoolId,
    year: AcademicYearId,
    ordinal: i16,
    name: &str,
    dates: domain::TermDates,
) -> Result<TermId> {
    diesel::insert_into(terms::table)
        .values((
            terms::school_id.eq(school.get()),
            terms::academic_year_id.eq(year.get()),
            terms::ordinal.eq(ordinal),
            terms::name.eq(name),
            terms::starts_on.eq(dates.range().from()),
            terms::ends_on.eq(dates.range().to()),
        ))
        .returning(terms::id)
        .get_result(conn)
        .map(TermId)
        .map_err(Into::into)
}

/// # Errors
/// On a duplicate label in the year or a database failure.
pub fn insert_class(
    conn: &mut DbConnection,
    school: SchoolId,
    year: AcademicYearId,
    label: &domain::ClassLabel,
) -> Result<ClassId> {
    diesel::insert_into(classes::table)
        .values((
            classes::school_id.eq(school.get()),
            classes::academic_year_id.eq(year.get()),
            classes::grade_level.eq(i16::from(label.level().get())),
            classes::letter.eq(label.letter()),
        ))
        .returning(classes::id)
        .get_result(conn)
        .map(ClassId)
        .map_err(Into::into)
}

/// # Errors
/// On a duplicate name in the school or a database failure.
pub fn insert_subject(
    conn: &mut DbConnection,
    school: SchoolId,
    name: &domain::Name,
) -> Result<SubjectId> {
    diesel::insert_into(subjects::table)
        .values((
            subjects::school_id.eq(school.get()),
            subjects::name.eq(name.as_str()),
        ))
        .returning(subjects::id)
        .get_result(conn)
        .map(SubjectId)
        .map_err(Into::into)
}

/// # Errors
/// [`crate::PersistenceError::NotFound`] when there is no such school.
pub fn find_school(conn: &mut DbConnection, id: SchoolId) -> Result<School> {
    schools::table
        .find(id.get())
        .select(School::as_select())
        .first(conn)
        .map_err(Into::into)
}

/// # Errors
/// On a database failure.
pub fn find_school_by_external_id(
    conn: &mut DbConnection,
    external_id: &str,
) -> Result<Option<School>> {
    schools::table
        .filter(schools::external_id.eq(external_id))
        .select(School::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// The terms of a school, in calendar order.
///
/// # Errors
/// On a database failure.
pub fn list_terms(conn: &mut DbConnection, school: SchoolId) -> Result<Vec<Term>> {
    terms::table
        .filter(terms::school_id.eq(school.get()))
        .order((terms::starts_on.asc(), terms::id.asc()))
        .select(Term::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// The term of a school that contains `date`, if any (holidays fall between terms).
///
/// # Errors
/// On a database failure.
pub fn term_on(conn: &mut DbConnection, school: SchoolId, date: NaiveDate) -> Result<Option<Term>> {
    terms::table
        .filter(terms::school_id.eq(school.get()))
        .filter(terms::starts_on.le(date))
        .filter(terms::ends_on.ge(date))
        .select(Term::as_select())
        .first(conn)
        .optional()
        .map_err(Into::into)
}

/// The classes of a school, by grade level and letter.
///
/// # Errors
/// On a database failure.
pub fn list_classes(conn: &mut DbConnection, school: SchoolId) -> Result<Vec<Class>> {
    classes::table
        .filter(classes::school_id.eq(school.get()))
        .order((classes::grade_level.asc(), classes::letter.asc()))
        .select(Class::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// The subjects of a school, by name.
///
/// # Errors
/// On a database failure.
pub fn list_subjects(conn: &mut DbConnection, school: SchoolId) -> Result<Vec<Subject>> {
    subjects::table
        .filter(subjects::school_id.eq(school.get()))
        .order(subjects::name.asc())
        .select(Subject::as_select())
        .load(conn)
        .map_err(Into::into)
}

/// Every school's id, in order.
///
/// # Errors
/// On a database failure.
pub fn school_ids(conn: &mut DbConnection) -> Result<Vec<SchoolId>> {
    Ok(schools::table
        .select(schools::id)
        .order(schools::id)
        .load::<i64>(conn)?
        .into_iter()
        .map(SchoolId)
        .collect())
}
