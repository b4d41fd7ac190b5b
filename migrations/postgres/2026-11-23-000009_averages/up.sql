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
