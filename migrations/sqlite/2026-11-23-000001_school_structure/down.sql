DROP TABLE subjects;
DROP TABLE classes;
DROP TABLE terms;
DROP TABLE academic_years;
DROP TABLE schools;
DROP TABLE municipalities;
