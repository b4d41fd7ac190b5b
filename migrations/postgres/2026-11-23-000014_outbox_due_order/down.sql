DROP INDEX notifications_locked_until_idx;
DROP INDEX notifications_due_idx;
CREATE INDEX notifications_due_idx ON notifications (status, next_attempt_at);
