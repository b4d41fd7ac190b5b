DROP TABLE subject_sums;
