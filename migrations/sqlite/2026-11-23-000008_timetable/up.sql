-- Groups within a class for a subject (a language group, half a class for computing). A
-- lesson or timetable slot of a group is for its members only.
CREATE TABLE class_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    class_id BIGINT NOT NULL REFERENCES classes (id),
    subject_id BIGINT NOT NULL REFERENCES subjects (id),
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (class_id, subject_id, name)
);
CREATE INDEX class_groups_school_id_idx ON class_groups (school_id);
CREATE INDEX class_groups_subject_id_idx ON class_groups (subject_id);

CREATE TABLE group_members (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    group_id BIGINT NOT NULL REFERENCES class_groups (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    UNIQUE (group_id, student_id)
);
CREATE INDEX group_members_school_id_idx ON group_members (school_id);
CREATE INDEX group_members_student_id_idx ON group_members (student_id);

-- A teacher may be assigned to one group of the class for the subject (for access, a group
-- counts as its class: the assignment still lets them write the subject's lessons in it).
ALTER TABLE teaching_assignments ADD COLUMN group_id BIGINT REFERENCES class_groups (id);
CREATE INDEX teaching_assignments_group_id_idx ON teaching_assignments (group_id);

-- Days without lessons the school declares (vacations, public holidays), both ends included.
CREATE TABLE holidays (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    name TEXT NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CHECK (starts_on <= ends_on)
);
CREATE INDEX holidays_school_id_idx ON holidays (school_id, starts_on);

-- A class's weekly timetable template. weeks: 'every' week, or only the 'odd' or 'even' weeks
-- of the academic year (week 1 is the one holding its first day). A replaced template's slots
-- are retired, not deleted: the lessons they generated keep pointing at them.
CREATE TABLE timetable_slots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    class_id BIGINT NOT NULL REFERENCES classes (id),
    group_id BIGINT REFERENCES class_groups (id),
    subject_id BIGINT NOT NULL REFERENCES subjects (id),
    teacher_user_id BIGINT NOT NULL REFERENCES users (id),
    weekday SMALLINT NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    number SMALLINT NOT NULL CHECK (number BETWEEN 0 AND 12),
    weeks TEXT NOT NULL CHECK (weeks IN ('every', 'odd', 'even')),
    room TEXT,
    created_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP
);
CREATE INDEX timetable_slots_school_id_idx ON timetable_slots (school_id);
CREATE INDEX timetable_slots_class_id_idx ON timetable_slots (class_id);
CREATE INDEX timetable_slots_group_id_idx ON timetable_slots (group_id);
CREATE INDEX timetable_slots_subject_id_idx ON timetable_slots (subject_id);
CREATE INDEX timetable_slots_teacher_user_id_idx ON timetable_slots (teacher_user_id);

-- A lesson of a group (NULL: of the whole class).
ALTER TABLE lessons ADD COLUMN group_id BIGINT REFERENCES class_groups (id);
CREATE INDEX lessons_group_id_idx ON lessons (group_id);

-- The lessons a template generated: the slot and the date it generated each for (the date
-- stays when the lesson is moved, so generating again never makes a lesson twice).
CREATE TABLE generated_lessons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    lesson_id BIGINT NOT NULL UNIQUE REFERENCES lessons (id),
    slot_id BIGINT NOT NULL REFERENCES timetable_slots (id),
    slot_date DATE NOT NULL,
    UNIQUE (slot_id, slot_date)
);
CREATE INDEX generated_lessons_school_id_idx ON generated_lessons (school_id);

-- Homework for one student of a lesson; only that student (and their parents) see it.
CREATE TABLE individual_homework (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    lesson_id BIGINT NOT NULL REFERENCES lessons (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    homework TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (lesson_id, student_id)
);
CREATE INDEX individual_homework_school_id_idx ON individual_homework (school_id);
CREATE INDEX individual_homework_student_id_idx ON individual_homework (student_id);
CREATE INDEX individual_homework_created_by_idx ON individual_homework (created_by);
