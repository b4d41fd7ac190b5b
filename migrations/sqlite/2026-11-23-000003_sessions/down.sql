DROP TABLE login_events;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
