-- Push notifications (issue 6).
--
-- devices: a person's app installations with their Firebase Cloud Messaging registration
-- token. Not owned by a school: a parent with children in two schools has one phone. Each
-- device is registered under the login session that registered it, so logging out (revoking
-- the session) unregisters it. A token is unique: registering it again moves it to the caller.
CREATE TABLE devices (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    token TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
    app TEXT NOT NULL CHECK (app IN ('my_diary', 'my_journal')),
    active SMALLINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    deactivated_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX devices_user_id_idx ON devices (user_id);
CREATE INDEX devices_session_id_idx ON devices (session_id);

-- What a parent (or the student themself) wants to hear about one child: which events, and
-- quiet hours in their local time (minutes after midnight; start = end means none) with what
-- to do inside them: 'hold' (deliver when they end) or 'count' (only counted in the app).
-- No row: every event, no quiet hours.
CREATE TABLE notification_preferences (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    new_grade SMALLINT NOT NULL CHECK (new_grade IN (0, 1)),
    changed_grade SMALLINT NOT NULL CHECK (changed_grade IN (0, 1)),
    attendance SMALLINT NOT NULL CHECK (attendance IN (0, 1)),
    homework SMALLINT NOT NULL CHECK (homework IN (0, 1)),
    term_grade SMALLINT NOT NULL CHECK (term_grade IN (0, 1)),
    quiet_start SMALLINT NOT NULL CHECK (quiet_start BETWEEN 0 AND 1439),
    quiet_end SMALLINT NOT NULL CHECK (quiet_end BETWEEN 0 AND 1439),
    quiet_mode TEXT NOT NULL CHECK (quiet_mode IN ('hold', 'count')),
    utc_offset_minutes SMALLINT NOT NULL CHECK (utc_offset_minutes BETWEEN -720 AND 840),
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, student_id)
);
CREATE INDEX notification_preferences_school_id_idx ON notification_preferences (school_id);
CREATE INDEX notification_preferences_student_id_idx ON notification_preferences (student_id);

-- The transactional outbox: one row per (event, recipient device), written in the same
-- transaction as the change it announces. event_key names the event (e.g. `grade:17:v1`);
-- with the device it is the dedup key. status: queued (to send at next_attempt_at), held
-- (quiet hours: to send at next_attempt_at), counted (quiet hours, only counted), sent,
-- failed, cancelled (the recipient may no longer see it, or the device went away).
-- locked_until is a dispatcher's lease on a claimed row.
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    event_key TEXT NOT NULL,
    device_id BIGINT NOT NULL REFERENCES devices (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    student_id BIGINT NOT NULL REFERENCES students (id),
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'held', 'counted', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    fcm_message TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    UNIQUE (event_key, device_id)
);
CREATE INDEX notifications_school_id_idx ON notifications (school_id);
CREATE INDEX notifications_device_id_idx ON notifications (device_id);
CREATE INDEX notifications_user_id_idx ON notifications (user_id);
CREATE INDEX notifications_student_id_idx ON notifications (student_id);
CREATE INDEX notifications_due_idx ON notifications (status, next_attempt_at);

-- The delivery log: every step of a notification (queued, held, sent with the FCM message
-- name, retried or failed with the reason, cancelled).
CREATE TABLE notification_log (
    id BIGSERIAL PRIMARY KEY,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    status TEXT NOT NULL,
    detail TEXT,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX notification_log_school_id_idx ON notification_log (school_id);
CREATE INDEX notification_log_notification_id_idx ON notification_log (notification_id);
