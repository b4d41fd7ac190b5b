-- Sign-in sessions (one per login: a refresh-token family), their rotating refresh tokens
-- (only a SHA-256 of each is stored), and login events for the weekly-logins indicator.
-- Accounts are the shared directory, so these carry no school_id.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_reason TEXT
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    token_hash TEXT NOT NULL UNIQUE,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

CREATE TABLE login_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    logged_in_at TIMESTAMP NOT NULL
);
CREATE INDEX login_events_user_id_idx ON login_events (user_id);
CREATE INDEX login_events_logged_in_at_idx ON login_events (logged_in_at);
