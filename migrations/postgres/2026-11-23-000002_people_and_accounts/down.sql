DROP TABLE guardianships;
DROP TABLE enrollments;
DROP TABLE students;
DROP TABLE role_assignments;
DROP TABLE users;
