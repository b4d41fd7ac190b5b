DROP TABLE final_grades;
DROP TABLE subject_sums;
