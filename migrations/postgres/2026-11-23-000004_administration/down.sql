DROP INDEX role_assignments_once_idx;
DROP TABLE audit_events;
DROP TABLE integrator_clients;
DROP TABLE activation_codes;
DROP TABLE teaching_assignments;
