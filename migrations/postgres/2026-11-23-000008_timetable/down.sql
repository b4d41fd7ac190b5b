DROP TABLE individual_homework;
DROP TABLE generated_lessons;
DROP INDEX lessons_group_id_idx;
ALTER TABLE lessons DROP COLUMN group_id;
DROP TABLE timetable_slots;
DROP TABLE holidays;
DROP TABLE group_members;
DROP TABLE class_groups;
