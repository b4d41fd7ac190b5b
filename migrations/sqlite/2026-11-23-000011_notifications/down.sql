DROP TABLE notification_log;
DROP TABLE notifications;
DROP TABLE notification_preferences;
DROP TABLE devices;
