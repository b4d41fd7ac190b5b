-- The roster import (АИС «Контингент»): classes and parents are matched on the roster
-- system's ids on every import, as students already are (students.external_id).
ALTER TABLE classes ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX classes_external_id_idx ON classes (school_id, external_id);

-- A parent account the roster import made or matched, by the roster system's id of the
-- parent in this school. The account itself is in the shared directory (users).
CREATE TABLE roster_parents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    external_id TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (school_id, external_id)
);
CREATE INDEX roster_parents_user_id_idx ON roster_parents (user_id);
