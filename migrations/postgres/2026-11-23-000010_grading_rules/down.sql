DROP TABLE school_grading_rules;
