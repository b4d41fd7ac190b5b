DROP INDEX grades_student_id_idx;
CREATE INDEX grades_student_id_idx ON grades (student_id);
