-- One-time codes a person issues for their own account and hands to the administration of
-- another school, which links the account as a parent with it: the person's consent to be
-- found there. Not owned by a school: the account's holder issues it, whatever schools they
-- belong to; used_by_school_id is the school that used it. Only a SHA-256 of the normalised
-- code is stored.
CREATE TABLE account_link_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    code_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    used_by_school_id BIGINT REFERENCES schools (id),
    CHECK ((used_at IS NULL) = (used_by_school_id IS NULL))
);
CREATE INDEX account_link_codes_user_id_idx ON account_link_codes (user_id);
CREATE INDEX account_link_codes_used_by_school_id_idx ON account_link_codes (used_by_school_id);
