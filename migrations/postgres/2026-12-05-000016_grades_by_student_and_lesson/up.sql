-- The diary reads a student's grades in a week's lessons: with the lesson beside the student
-- in the index that is one probe per lesson, not a walk through all the student's grades of
-- the year. It still leads with student_id, the foreign key it replaces the index of.
DROP INDEX grades_student_id_idx;
CREATE INDEX grades_student_id_idx ON grades (student_id, lesson_id);
