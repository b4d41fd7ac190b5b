DROP TABLE idempotency_records;
DROP TABLE grade_events;
DROP TABLE grades;
DROP TABLE lessons;
DROP TABLE work_types;
DROP TABLE grade_scales;
