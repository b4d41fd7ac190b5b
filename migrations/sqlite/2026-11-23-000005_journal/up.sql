-- A school's grading scales: kind 'points' (min_points..max_points) or 'pass_fail'.
-- is_default = 1 marks the scale a grade gets when none is named (one per school).
CREATE TABLE grade_scales (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('points', 'pass_fail')),
    min_points SMALLINT,
    max_points SMALLINT,
    is_default SMALLINT NOT NULL DEFAULT 0,
    CHECK ((kind = 'points' AND min_points IS NOT NULL AND max_points IS NOT NULL
            AND min_points < max_points)
        OR (kind = 'pass_fail' AND min_points IS NULL AND max_points IS NULL))
);
CREATE INDEX grade_scales_school_id_idx ON grade_scales (school_id);

-- Work types with their weight in averages (1-10), per school.
CREATE TABLE work_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    name TEXT NOT NULL,
    weight SMALLINT NOT NULL CHECK (weight BETWEEN 1 AND 10),
    UNIQUE (school_id, name)
);

-- A dated lesson of a class in a subject. first_entry_at: when anything (grade, attendance,
-- held mark, comment) was first entered, for the "online journal" indicator.
CREATE TABLE lessons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    class_id BIGINT NOT NULL REFERENCES classes (id),
    subject_id BIGINT NOT NULL REFERENCES subjects (id),
    teacher_user_id BIGINT NOT NULL REFERENCES users (id),
    lesson_date DATE NOT NULL,
    number SMALLINT NOT NULL CHECK (number BETWEEN 0 AND 12),
    room TEXT,
    topic TEXT,
    homework TEXT,
    comment TEXT,
    held_at TIMESTAMP,
    cancelled_at TIMESTAMP,
    first_entry_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX lessons_school_id_idx ON lessons (school_id, lesson_date);
CREATE INDEX lessons_class_id_idx ON lessons (class_id, lesson_date);
CREATE INDEX lessons_subject_id_idx ON lessons (subject_id);
CREATE INDEX lessons_teacher_user_id_idx ON lessons (teacher_user_id, lesson_date);

-- Grades. client_id is the teacher app's own id for the grade, unique within the lesson, so
-- a retried request can never create it twice. A deleted grade keeps its row (deleted_at).
CREATE TABLE grades (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    lesson_id BIGINT NOT NULL REFERENCES lessons (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    work_type_id BIGINT NOT NULL REFERENCES work_types (id),
    scale_id BIGINT NOT NULL REFERENCES grade_scales (id),
    value TEXT NOT NULL,
    comment TEXT,
    client_id TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP,
    UNIQUE (lesson_id, client_id)
);
CREATE INDEX grades_school_id_idx ON grades (school_id);
CREATE INDEX grades_student_id_idx ON grades (student_id);
CREATE INDEX grades_work_type_id_idx ON grades (work_type_id);
CREATE INDEX grades_scale_id_idx ON grades (scale_id);
CREATE INDEX grades_created_by_idx ON grades (created_by);

-- Every version of every grade: who, when, old and new value, and why. Never updated.
CREATE TABLE grade_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    grade_id BIGINT NOT NULL REFERENCES grades (id),
    version INTEGER NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('created', 'changed', 'deleted')),
    old_value TEXT,
    new_value TEXT,
    old_comment TEXT,
    new_comment TEXT,
    reason TEXT,
    actor_user_id BIGINT REFERENCES users (id),
    actor_client_id BIGINT REFERENCES integrator_clients (id),
    occurred_at TIMESTAMP NOT NULL,
    UNIQUE (grade_id, version)
);
CREATE INDEX grade_events_school_id_idx ON grade_events (school_id);
CREATE INDEX grade_events_actor_user_id_idx ON grade_events (actor_user_id);
CREATE INDEX grade_events_actor_client_id_idx ON grade_events (actor_client_id);

-- Answers to requests sent with an Idempotency-Key, kept so a retry gets the first answer.
-- caller: 'user:<id>' or 'integrator:<id>'; request_hash: SHA-256 of method, path and body.
CREATE TABLE idempotency_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    caller TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status SMALLINT NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (caller, idempotency_key)
);
CREATE INDEX idempotency_records_school_id_idx ON idempotency_records (school_id);
CREATE INDEX idempotency_records_created_at_idx ON idempotency_records (created_at);
