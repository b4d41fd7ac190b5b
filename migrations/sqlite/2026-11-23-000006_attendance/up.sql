-- Attendance marks of a lesson: absent (Н), absent with a valid reason (УП), sick (Б), late
-- (ОП). No row means present.
CREATE TABLE attendance_marks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    lesson_id BIGINT NOT NULL REFERENCES lessons (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    mark TEXT NOT NULL CHECK (mark IN ('absent', 'absent_valid', 'sick', 'late')),
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (lesson_id, student_id)
);
CREATE INDEX attendance_marks_school_id_idx ON attendance_marks (school_id);
CREATE INDEX attendance_marks_student_id_idx ON attendance_marks (student_id);

-- Every change of a mark: who, when, old and new (NULL = present), and why. Never updated.
CREATE TABLE attendance_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    lesson_id BIGINT NOT NULL REFERENCES lessons (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    old_mark TEXT,
    new_mark TEXT,
    reason TEXT,
    actor_user_id BIGINT REFERENCES users (id),
    actor_client_id BIGINT REFERENCES integrator_clients (id),
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX attendance_events_school_id_idx ON attendance_events (school_id);
CREATE INDEX attendance_events_lesson_id_idx ON attendance_events (lesson_id);
CREATE INDEX attendance_events_student_id_idx ON attendance_events (student_id);
CREATE INDEX attendance_events_actor_user_id_idx ON attendance_events (actor_user_id);
CREATE INDEX attendance_events_actor_client_id_idx ON attendance_events (actor_client_id);
