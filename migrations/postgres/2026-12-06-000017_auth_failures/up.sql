-- Failed logins, activation codes, client secrets and link codes, counted per key (a login
-- name, an address, an administrator; stored as a SHA-256, so no login or address is kept
-- in clear)
-- and shared by every server process: with several behind a load balancer, guesses spread
-- over them still add up. Not a school's: a login or an address belongs to none.
CREATE TABLE auth_failures (
    key_hash TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_at TIMESTAMP NOT NULL,
    blocked_until TIMESTAMP
);
-- Forgetting quiet keys.
CREATE INDEX auth_failures_last_failure_at_idx ON auth_failures (last_failure_at);
