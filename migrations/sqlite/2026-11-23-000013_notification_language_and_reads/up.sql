-- Push notifications, continued (issue 6).
--
-- The language a person reads the apps and their pushes in: Russian by default, English as
-- the second language.
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'ru' CHECK (language IN ('ru', 'en'));

-- How far a person has read their notifications in the family app: the id of the newest one
-- they have seen (notifications.id). A person's own, whatever schools their children are in.
CREATE TABLE notification_reads (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id),
    read_up_to BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
