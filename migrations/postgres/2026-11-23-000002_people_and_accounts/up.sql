-- Accounts are a directory shared by all schools (a parent may have children in several
-- schools); everything that ties a person to a school carries school_id.
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    display_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    activated_at TIMESTAMP,
    last_login_at TIMESTAMP
);

-- role: school_admin, teacher, class_teacher, parent, student, municipality_admin.
CREATE TABLE role_assignments (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    school_id BIGINT REFERENCES schools (id),
    municipality_id BIGINT REFERENCES municipalities (id),
    -- set for class_teacher: the one class they lead
    class_id BIGINT REFERENCES classes (id),
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CHECK (school_id IS NOT NULL OR municipality_id IS NOT NULL)
);
CREATE INDEX role_assignments_user_id_idx ON role_assignments (user_id);
CREATE INDEX role_assignments_school_id_idx ON role_assignments (school_id);
CREATE INDEX role_assignments_municipality_id_idx ON role_assignments (municipality_id);
CREATE INDEX role_assignments_class_id_idx ON role_assignments (class_id);

CREATE TABLE students (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    user_id BIGINT REFERENCES users (id),
    last_name TEXT NOT NULL,
    first_name TEXT NOT NULL,
    middle_name TEXT,
    external_id TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    UNIQUE (school_id, external_id)
);
CREATE INDEX students_user_id_idx ON students (user_id);

-- A student's membership of a class, kept with dates so a move keeps the history.
CREATE TABLE enrollments (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    class_id BIGINT NOT NULL REFERENCES classes (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    enrolled_on DATE NOT NULL,
    left_on DATE,
    CHECK (left_on IS NULL OR enrolled_on <= left_on)
);
CREATE INDEX enrollments_school_id_idx ON enrollments (school_id);
CREATE INDEX enrollments_class_id_idx ON enrollments (class_id);
CREATE INDEX enrollments_student_id_idx ON enrollments (student_id);

-- A parent (legal representative) of a student; school_id is the student's school.
CREATE TABLE guardianships (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    parent_user_id BIGINT NOT NULL REFERENCES users (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    UNIQUE (parent_user_id, student_id)
);
CREATE INDEX guardianships_school_id_idx ON guardianships (school_id);
CREATE INDEX guardianships_student_id_idx ON guardianships (student_id);
