-- Running sums of each student's averaged grades per subject and term (grades on a points
-- scale, not deleted, of lessons dated inside the term): Σ(value × weight), Σ(weight) and the
-- number of grades. Updated in the same transaction as every grade change, so averages and
-- ranks are read from these small rows and never recomputed from all the grades.
CREATE TABLE subject_sums (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    subject_id BIGINT NOT NULL REFERENCES subjects (id),
    term_id BIGINT NOT NULL REFERENCES terms (id),
    weighted BIGINT NOT NULL CHECK (weighted >= 0),
    weights BIGINT NOT NULL CHECK (weights >= 0),
    grade_count BIGINT NOT NULL CHECK (grade_count >= 0),
    UNIQUE (student_id, subject_id, term_id)
);
CREATE INDEX subject_sums_school_id_idx ON subject_sums (school_id, term_id);
CREATE INDEX subject_sums_subject_id_idx ON subject_sums (subject_id);
CREATE INDEX subject_sums_term_id_idx ON subject_sums (term_id);

-- The term and year grades a teacher sets, beside the suggestion (term_id NULL: the year
-- grade). Every change is in the school's audit trail.
CREATE TABLE final_grades (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    subject_id BIGINT NOT NULL REFERENCES subjects (id),
    academic_year_id BIGINT NOT NULL REFERENCES academic_years (id),
    term_id BIGINT REFERENCES terms (id),
    value SMALLINT NOT NULL,
    set_by BIGINT REFERENCES users (id),
    set_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX final_grades_once_idx
    ON final_grades (student_id, subject_id, academic_year_id, COALESCE(term_id, 0));
CREATE INDEX final_grades_school_id_idx ON final_grades (school_id);
CREATE INDEX final_grades_subject_id_idx ON final_grades (subject_id);
CREATE INDEX final_grades_academic_year_id_idx ON final_grades (academic_year_id);
CREATE INDEX final_grades_term_id_idx ON final_grades (term_id);
CREATE INDEX final_grades_set_by_idx ON final_grades (set_by);
