-- What a person may do (their roles, teaching assignments, children and own student record)
-- is loaded on every request. users.grants_version moves on, in the same transaction, with
-- every change to any of those rows, whatever code (or hand) makes it, so a server process
-- may keep a person's grants in memory and check them with the session it reads anyway: a
-- changed or revoked grant counts at the next request, in every process.
ALTER TABLE users ADD COLUMN grants_version BIGINT NOT NULL DEFAULT 0;

-- TG_ARGV[0] names the row's column that holds the person.
CREATE FUNCTION grants_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_user BIGINT;
    new_user BIGINT;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_user := (to_jsonb(OLD) ->> TG_ARGV[0])::BIGINT;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_user := (to_jsonb(NEW) ->> TG_ARGV[0])::BIGINT;
    END IF;
    UPDATE users SET grants_version = grants_version + 1 WHERE id IN (old_user, new_user);
    RETURN NULL;
END
$$;

CREATE TRIGGER role_assignments_grants_changed
    AFTER INSERT OR UPDATE OR DELETE ON role_assignments
    FOR EACH ROW EXECUTE FUNCTION grants_changed('user_id');
CREATE TRIGGER teaching_assignments_grants_changed
    AFTER INSERT OR UPDATE OR DELETE ON teaching_assignments
    FOR EACH ROW EXECUTE FUNCTION grants_changed('teacher_user_id');
CREATE TRIGGER guardianships_grants_changed
    AFTER INSERT OR UPDATE OR DELETE ON guardianships
    FOR EACH ROW EXECUTE FUNCTION grants_changed('parent_user_id');
CREATE TRIGGER students_grants_changed
    AFTER INSERT OR UPDATE OF user_id OR DELETE ON students
    FOR EACH ROW EXECUTE FUNCTION grants_changed('user_id');
