DROP TABLE attendance_events;
DROP TABLE attendance_marks;
