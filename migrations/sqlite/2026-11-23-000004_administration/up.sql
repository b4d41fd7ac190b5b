-- Who teaches what: a teacher, a class and a subject of one school. Groups within a class
-- come with the journal.
CREATE TABLE teaching_assignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    teacher_user_id BIGINT NOT NULL REFERENCES users (id),
    class_id BIGINT NOT NULL REFERENCES classes (id),
    subject_id BIGINT NOT NULL REFERENCES subjects (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (teacher_user_id, class_id, subject_id)
);
CREATE INDEX teaching_assignments_school_id_idx ON teaching_assignments (school_id);
CREATE INDEX teaching_assignments_class_id_idx ON teaching_assignments (class_id);
CREATE INDEX teaching_assignments_subject_id_idx ON teaching_assignments (subject_id);

-- One-time codes the administration hands out; the person sets a password with one.
-- Only a SHA-256 of the normalised code is stored. school_id is the issuing school.
CREATE TABLE activation_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL UNIQUE,
    -- NULL when issued by the operator's command line (`gradebook add-admin`)
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX activation_codes_school_id_idx ON activation_codes (school_id);
CREATE INDEX activation_codes_user_id_idx ON activation_codes (user_id);
CREATE INDEX activation_codes_created_by_idx ON activation_codes (created_by);

-- Third-party clients (OAuth2 client credentials), owned by exactly one school or one
-- municipality. scopes: space-separated OAuth scopes. Only a SHA-256 of the secret is stored.
CREATE TABLE integrator_clients (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    school_id BIGINT REFERENCES schools (id),
    municipality_id BIGINT REFERENCES municipalities (id),
    scopes TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    CHECK ((school_id IS NULL AND municipality_id IS NOT NULL)
        OR (school_id IS NOT NULL AND municipality_id IS NULL))
);
CREATE INDEX integrator_clients_school_id_idx ON integrator_clients (school_id);
CREATE INDEX integrator_clients_municipality_id_idx ON integrator_clients (municipality_id);
CREATE INDEX integrator_clients_created_by_idx ON integrator_clients (created_by);

-- Who changed what: one row per administrative change, written in the change's transaction.
-- Owned by the school it concerns, or (for a municipality's integrators) the municipality.
-- details: a JSON object with the change's values (never a secret or a password).
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT REFERENCES schools (id),
    municipality_id BIGINT REFERENCES municipalities (id),
    actor_user_id BIGINT REFERENCES users (id),
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    details TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    CHECK (school_id IS NOT NULL OR municipality_id IS NOT NULL)
);
CREATE INDEX audit_events_school_id_idx ON audit_events (school_id, id);
CREATE INDEX audit_events_municipality_id_idx ON audit_events (municipality_id, id);
CREATE INDEX audit_events_actor_user_id_idx ON audit_events (actor_user_id);

-- A person holds each role once per school or municipality (so revoking it is unambiguous).
CREATE UNIQUE INDEX role_assignments_once_idx ON role_assignments
    (user_id, role, COALESCE(school_id, 0), COALESCE(municipality_id, 0));
