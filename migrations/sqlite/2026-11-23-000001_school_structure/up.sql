-- The school structure. Every school-owned table carries school_id, the future shard key.
CREATE TABLE municipalities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE schools (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    municipality_id BIGINT NOT NULL REFERENCES municipalities (id),
    name TEXT NOT NULL,
    external_id TEXT UNIQUE,
    timezone TEXT NOT NULL DEFAULT 'Europe/Moscow',
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (municipality_id, name)
);

CREATE TABLE academic_years (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    name TEXT NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    UNIQUE (school_id, name),
    CHECK (starts_on <= ends_on)
);

CREATE TABLE terms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    academic_year_id BIGINT NOT NULL REFERENCES academic_years (id),
    ordinal SMALLINT NOT NULL,
    name TEXT NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    locked_at TIMESTAMP,
    UNIQUE (academic_year_id, ordinal),
    CHECK (starts_on <= ends_on)
);
CREATE INDEX terms_school_id_idx ON terms (school_id);

CREATE TABLE classes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    academic_year_id BIGINT NOT NULL REFERENCES academic_years (id),
    grade_level SMALLINT NOT NULL CHECK (grade_level BETWEEN 1 AND 11),
    letter TEXT NOT NULL,
    UNIQUE (academic_year_id, grade_level, letter)
);
CREATE INDEX classes_school_id_idx ON classes (school_id);

CREATE TABLE subjects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    name TEXT NOT NULL,
    UNIQUE (school_id, name)
);
