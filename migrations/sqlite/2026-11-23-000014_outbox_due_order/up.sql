-- The dispatcher's claim walks the waiting rows of one status in due order and stops after a
-- batch, so a backlog of many thousands costs no sort: the due index carries the tie-breaking
-- id. The end of the earliest lease is found through an index on the leases, which only rows
-- being sent have (finishing or retrying a row clears it).
DROP INDEX notifications_due_idx;
CREATE INDEX notifications_due_idx ON notifications (status, next_attempt_at, id);
CREATE INDEX notifications_locked_until_idx ON notifications (locked_until);
