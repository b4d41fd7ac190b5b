-- What a person may do (their roles, teaching assignments, children and own student record)
-- is loaded on every request. users.grants_version moves on, in the same transaction, with
-- every change to any of those rows, whatever code (or hand) makes it, so a server process
-- may keep a person's grants in memory and check them with the session it reads anyway: a
-- changed or revoked grant counts at the next request, in every process.
ALTER TABLE users ADD COLUMN grants_version BIGINT NOT NULL DEFAULT 0;


CREATE TRIGGER role_assignments_grants_inserted AFTER INSERT ON role_assignments
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER role_assignments_grants_updated AFTER UPDATE ON role_assignments
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id IN (OLD.user_id, NEW.user_id);
END;
CREATE TRIGGER role_assignments_grants_deleted AFTER DELETE ON role_assignments
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id = OLD.user_id;
END;

CREATE TRIGGER teaching_assignments_grants_inserted AFTER INSERT ON teaching_assignments
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id = NEW.teacher_user_id;
END;
CREATE TRIGGER teaching_assignments_grants_updated AFTER UPDATE ON teaching_assignments
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id IN (OLD.teacher_user_id, NEW.teacher_user_id);
END;
CREATE TRIGGER teaching_assignments_grants_deleted AFTER DELETE ON teaching_assignments
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id = OLD.teacher_user_id;
END;

CREATE TRIGGER guardianships_grants_inserted AFTER INSERT ON guardianships
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id = NEW.parent_user_id;
END;
CREATE TRIGGER guardianships_grants_updated AFTER UPDATE ON guardianships
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id IN (OLD.parent_user_id, NEW.parent_user_id);
END;
CREATE TRIGGER guardianships_grants_deleted AFTER DELETE ON guardianships
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id = OLD.parent_user_id;
END;

CREATE TRIGGER students_grants_inserted AFTER INSERT ON students
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER students_grants_updated AFTER UPDATE OF user_id ON students
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id IN (OLD.user_id, NEW.user_id);
END;
CREATE TRIGGER students_grants_deleted AFTER DELETE ON students
BEGIN
    UPDATE users SET grants_version = grants_version + 1 WHERE id = OLD.user_id;
END;
