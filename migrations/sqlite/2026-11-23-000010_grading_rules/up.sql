-- A school's own rule for turning averages into term grades and for ranking: the hundredths
-- from which an average rounds up (50: x.50 rounds up) and the fewest grades in a subject
-- for a suggested grade and a rank. A school without a row uses the standard rule (50, 3).
-- Every change is in the school's audit trail.
CREATE TABLE school_grading_rules (
    school_id BIGINT NOT NULL PRIMARY KEY REFERENCES schools (id),
    round_up_from SMALLINT NOT NULL CHECK (round_up_from BETWEEN 1 AND 100),
    min_grades SMALLINT NOT NULL CHECK (min_grades BETWEEN 1 AND 20),
    updated_by BIGINT REFERENCES users (id),
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX school_grading_rules_updated_by_idx ON school_grading_rules (updated_by);
