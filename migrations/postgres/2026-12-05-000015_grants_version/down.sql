DROP TRIGGER students_grants_changed ON students;
DROP TRIGGER guardianships_grants_changed ON guardianships;
DROP TRIGGER teaching_assignments_grants_changed ON teaching_assignments;
DROP TRIGGER role_assignments_grants_changed ON role_assignments;
DROP FUNCTION grants_changed();
ALTER TABLE users DROP COLUMN grants_version;
