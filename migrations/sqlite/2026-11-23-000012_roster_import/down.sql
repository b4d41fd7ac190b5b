DROP TABLE roster_parents;
DROP INDEX classes_external_id_idx;
ALTER TABLE classes DROP COLUMN external_id;
