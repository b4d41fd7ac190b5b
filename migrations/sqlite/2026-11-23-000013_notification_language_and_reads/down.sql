DROP TABLE notification_reads;
ALTER TABLE users DROP COLUMN language;
