//! Ranks of students within a class or a school, and the distribution of their averages.
//!
//! # The rules
//!
//! 1. **Among whom.** The caller passes the students to rank among: a class's or a school's.
//!    Each student appears once.
//! 2. **By what.** In one subject, by the student's exact weighted [`Average`] (see
//!    [`crate::averages`]). Overall, by the [`OverallAverage`]: the plain mean of the
//!    student's exact subject averages, each subject counting once. Averages are compared
//!    exactly: two students shown `3.67` can hold different positions.
//! 3. **Who is ranked.** In a subject, a student with at least the school's minimum number of
//!    grades ([`RoundingRule::min_grades`]). Overall, a student for whom *every* subject
//!    passed has at least that many, so that an unsettled subject can neither lift nor sink
//!    the overall rank; the caller passes every averaged subject the student studies that
//!    term, including those without grades yet (as empty [`Sums`]). Everyone else is listed as
//!    [`Unranked`], with the fewest grades they have in a subject, and is never ranked last.
//!    [`Ranking::out_of`] counts only the ranked.
//! 4. **Positions.** Best average first. Equal averages share a position and the next
//!    position skips, as in sport: 1, 2, 2, 4. A student's position is one more than the
//!    number of ranked students with a strictly better average, so a better average never
//!    gives a worse position. Students sharing a position are listed by id, and the unranked
//!    by id, so the same students give the same ranking in whatever order they are passed.
//! 5. **Distribution.** [`histogram`] counts shown averages (no names) in buckets from the
//!    scale's bottom to its top: 0.50 wide when the scale spans at most 10 points (the
//!    5-point scale has eight: 1.00-1.50, …, 4.50-5.00), otherwise whole points, wide enough
//!    for at most ten buckets. A bucket holds the averages from its lower bound up to, not
//!    including, its upper bound; the last one includes the scale's top.
//!
//! Ranking sorts once: a school of 2,000 students with 15 subjects each is ranked in
//! milliseconds.

use serde::Serialize;

use crate::averages::{Average, Hundredths, OverallAverage, RoundingRule, Sums};
use crate::grading::Scale;
use crate::ids::StudentId;

/// A ranked student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked<A> {
    pub student: StudentId,
    /// 1 for the best; shared by equal averages.
    pub position: usize,
    pub average: A,
}

/// A student with too few grades to be ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Unranked {
    pub student: StudentId,
    /// The grades they have (overall: in their subject with the fewest; 0 without subjects).
    pub have: u32,
    /// The school's minimum.
    pub need: u32,
}

/// The students ranked best first, and those not ranked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranking<A> {
    ranked: Vec<Ranked<A>>,
    unranked: Vec<Unranked>,
}

impl<A> Ranking<A> {
    /// The ranked students, best first; those sharing a position by id.
    #[must_use]
    pub fn ranked(&self) -> &[Ranked<A>] {
        &self.ranked
    }

    /// The unranked students, by id.
    #[must_use]
    pub fn unranked(&self) -> &[Unranked] {
        &self.unranked
    }

    /// How many students are ranked: "3rd out of 27".
    #[must_use]
    pub fn out_of(&self) -> usize {
        self.ranked.len()
    }

    /// One student's entry, if ranked.
    #[must_use]
    pub fn find(&self, student: StudentId) -> Option<&Ranked<A>> {
        self.ranked.iter().find(|entry| entry.student == student)
    }

    /// The ranked and the unranked students.
    #[must_use]
    pub fn into_parts(self) -> (Vec<Ranked<A>>, Vec<Unranked>) {
        (self.ranked, self.unranked)
    }
}

/// Sorts the candidates best first (ties by id) and gives competition positions.
fn rank<A: Ord>(mut candidates: Vec<(StudentId, A)>, mut unranked: Vec<Unranked>) -> Ranking<A> {
    candidates.sort_by(|(a_id, a), (b_id, b)| b.cmp(a).then(a_id.cmp(b_id)));
    let mut ranked: Vec<Ranked<A>> = Vec::with_capacity(candidates.len());
    for (index, (student, average)) in candidates.into_iter().enumerate() {
        let position = match ranked.last() {
            Some(previous) if previous.average == average => previous.position,
            _ => index + 1,
        };
        ranked.push(Ranked {
            student,
            position,
            average,
        });
    }
    unranked.sort_by_key(|entry| entry.student);
    Ranking { ranked, unranked }
}

fn have(sums: Sums) -> u32 {
    u32::try_from(sums.count()).unwrap_or(u32::MAX)
}

/// Ranks students by their average in one subject (rules 3 and 4 of the module
/// documentation).
#[must_use]
pub fn rank_subject(students: &[(StudentId, Sums)], rule: RoundingRule) -> Ranking<Average> {
    let need = u32::from(rule.min_grades());
    let mut candidates = Vec::with_capacity(students.len());
    let mut unranked = Vec::new();
    for &(student, sums) in students {
        match sums.average() {
            Some(average) if have(sums) >= need => candidates.push((student, average)),
            _ => unranked.push(Unranked {
                student,
                have: have(sums),
                need,
            }),
        }
    }
    rank(candidates, unranked)
}

/// Ranks students by the mean of their subject averages (rules 2 to 4 of the module
/// documentation); each student comes with the sums of every averaged subject they study.
#[must_use]
pub fn rank_overall<S: AsRef<[Sums]>>(
    students: &[(StudentId, S)],
    rule: RoundingRule,
) -> Ranking<OverallAverage> {
    let need = u32::from(rule.min_grades());
    let mut candidates = Vec::with_capacity(students.len());
    let mut unranked = Vec::new();
    for (student, subjects) in students {
        let subjects = subjects.as_ref();
        let fewest = subjects.iter().map(|&sums| have(sums)).min().unwrap_or(0);
        let mean = if fewest >= need {
            OverallAverage::mean(subjects.iter().filter_map(|sums| sums.average()))
        } else {
            None
        };
        match mean {
            Some(mean) => candidates.push((*student, mean)),
            None => unranked.push(Unranked {
                student: *student,
                have: fewest,
                need,
            }),
        }
    }
    rank(candidates, unranked)
}

/// One bucket of the distribution: how many shown averages lie from `from` up to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Bucket {
    pub from: Hundredths,
    pub to: Hundredths,
    pub count: usize,
}

/// The width of the distribution's buckets on `scale`, in hundredths (rule 5 of the module
/// documentation); `None` for pass/fail.
#[must_use]
pub fn bucket_width(scale: Scale) -> Option<i64> {
    let Scale::Points { min, max } = scale else {
        return None;
    };
    let span = i64::from(max) - i64::from(min);
    Some(if span <= 10 {
        50
    } else {
        (span + 9) / 10 * 100
    })
}

/// The distribution of shown averages on `scale` (rule 5 of the module documentation): every
/// bucket from the bottom of the scale to its top, counts only. Averages outside the scale (from
/// inconsistent data) count in the nearest end bucket. Empty for pass/fail.
#[must_use]
pub fn histogram(scale: Scale, shown: impl IntoIterator<Item = Hundredths>) -> Vec<Bucket> {
    let (Scale::Points { min, max }, Some(width)) = (scale, bucket_width(scale)) else {
        return Vec::new();
    };
    let (bottom, top) = (i64::from(min) * 100, i64::from(max) * 100);
    let buckets = (top - bottom + width - 1) / width;
    let mut histogram: Vec<Bucket> = (0..buckets)
        .map(|i| Bucket {
            from: Hundredths::new(bottom + i * width),
            to: Hundredths::new((bottom + (i + 1) * width).min(top)),
            count: 0,
        })
        .collect();
    for value in shown {
        let index = ((value.get() - bottom) / width).clamp(0, buckets - 1);
        if let Some(bucket) = usize::try_from(index)
            .ok()
            .and_then(|i| histogram.get_mut(i))
        {
            bucket.count += 1;
        }
    }
    histogram
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grading::Weight;
    use proptest::prelude::*;

    fn weight(w: u8) -> Weight {
        Weight::new(i64::from(w)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn sums(grades: &[(u8, u8)]) -> Sums {
        Sums::of(grades.iter().map(|&(points, w)| (points, weight(w))))
    }

    fn rule(min_grades: i64) -> RoundingRule {
        RoundingRule::new(50, min_grades).unwrap_or_else(|e| panic!("{e}"))
    }

    fn positions<A>(ranking: &Ranking<A>) -> Vec<(i64, usize)> {
        ranking
            .ranked()
            .iter()
            .map(|entry| (entry.student.get(), entry.position))
            .collect()
    }

    #[test]
    fn subject_ranks_share_ties_and_skip_and_leave_out_the_unsettled() {
        let students = [
            (StudentId(6), sums(&[(3, 1), (3, 2), (3, 1)])),
            (StudentId(7), sums(&[(4, 1), (5, 1), (5, 1), (4, 1)])),
            (StudentId(1), sums(&[(5, 1), (5, 2), (5, 3)])),
            (StudentId(5), sums(&[(5, 1), (5, 1)])),
            (StudentId(2), sums(&[(5, 2), (4, 2), (4, 1), (5, 1)])),
            (StudentId(4), sums(&[(4, 3), (4, 1), (4, 1)])),
            (StudentId(3), Sums::EMPTY),
        ];
        let ranking = rank_subject(&students, rule(3));
        assert_eq!(
            positions(&ranking),
            vec![(1, 1), (2, 2), (7, 2), (4, 4), (6, 5)]
        );
        assert_eq!(ranking.out_of(), 5);
        assert_eq!(
            ranking.unranked(),
            &[
                Unranked {
                    student: StudentId(3),
                    have: 0,
                    need: 3
                },
                Unranked {
                    student: StudentId(5),
                    have: 2,
                    need: 3
                },
            ]
        );
        let second = ranking
            .find(StudentId(7))
            .unwrap_or_else(|| panic!("ranked"));
        assert_eq!(
            (second.position, second.average.to_string()),
            (2, "4.50".into())
        );
        assert!(ranking.find(StudentId(5)).is_none(), "unranked, not last");
    }

    #[test]
    fn ranks_compare_exact_averages_not_shown_ones() {
        // 11/3 = 3.6667 and 733/200 = 3.665, both shown 3.67.
        let close = Sums::from_stored(733, 200, 29).unwrap_or_else(|e| panic!("{e}"));
        let students = [
            (StudentId(1), close),
            (StudentId(2), sums(&[(5, 1), (4, 2), (3, 3)])),
        ];
        let ranking = rank_subject(&students, rule(3));
        assert_eq!(positions(&ranking), vec![(2, 1), (1, 2)]);
        let shown: Vec<String> = ranking
            .ranked()
            .iter()
            .map(|entry| entry.average.to_string())
            .collect();
        assert_eq!(shown, ["3.67", "3.67"]);
    }

    #[test]
    fn overall_ranks_need_every_subject_settled() {
        let five = sums(&[(5, 1), (5, 1), (5, 1)]);
        let four = sums(&[(4, 1), (4, 1), (4, 1)]);
        let halves = sums(&[(4, 1), (5, 1), (4, 1), (5, 1)]);
        let students: Vec<(StudentId, Vec<Sums>)> = vec![
            (StudentId(10), vec![five, four]),
            (StudentId(11), vec![halves, halves]),
            (StudentId(12), vec![five, five]),
            (StudentId(13), vec![five, sums(&[(5, 1), (5, 1)])]),
            (StudentId(14), vec![five, Sums::EMPTY]),
            (StudentId(15), vec![]),
            (StudentId(16), vec![four, four, four]),
        ];
        let ranking = rank_overall(&students, rule(3));
        assert_eq!(
            positions(&ranking),
            vec![(12, 1), (10, 2), (11, 2), (16, 4)]
        );
        let shown: Vec<String> = ranking
            .ranked()
            .iter()
            .map(|entry| entry.average.to_string())
            .collect();
        assert_eq!(shown, ["5.00", "4.50", "4.50", "4.00"]);
        assert_eq!(
            ranking.unranked(),
            &[
                Unranked {
                    student: StudentId(13),
                    have: 2,
                    need: 3
                },
                Unranked {
                    student: StudentId(14),
                    have: 0,
                    need: 3
                },
                Unranked {
                    student: StudentId(15),
                    have: 0,
                    need: 3
                },
            ]
        );
        assert_eq!(ranking.out_of(), 4);
        let (ranked, unranked) = ranking.into_parts();
        assert_eq!((ranked.len(), unranked.len()), (4, 3));
    }

    #[test]
    fn a_school_is_ranked_by_sorting_once() {
        let students: Vec<(StudentId, Vec<Sums>)> = (0..2_000_u32)
            .map(|i| {
                let subjects = (0..15_u32)
                    .map(|s| {
                        let grades = (0..8_u32).map(|g| {
                            let points = u8::try_from(1 + (i * 7 + s * 3 + g * 5) % 5).unwrap_or(5);
                            let w = u8::try_from(1 + (i + s * 2 + g) % 10).unwrap_or(1);
                            (points, weight(w))
                        });
                        Sums::of(grades)
                    })
                    .collect();
                (StudentId(i64::from(i)), subjects)
            })
            .collect();
        let ranking = rank_overall(&students, RoundingRule::STANDARD);
        assert_eq!(ranking.out_of(), 2_000);
        assert_eq!(
            ranking.ranked().first().map(|entry| entry.position),
            Some(1)
        );
    }

    #[test]
    fn histograms_count_shown_averages_in_buckets() {
        let h = |v: i64| Hundredths::new(v);
        let five = histogram(
            Scale::FIVE_POINT,
            [100, 149, 150, 367, 350, 399, 499, 500, 0, 900].map(h),
        );
        let bounds: Vec<(String, String, usize)> = five
            .iter()
            .map(|b| (b.from.to_string(), b.to.to_string(), b.count))
            .collect();
        let expected: Vec<(String, String, usize)> = [
            ("1.00", "1.50", 3),
            ("1.50", "2.00", 1),
            ("2.00", "2.50", 0),
            ("2.50", "3.00", 0),
            ("3.00", "3.50", 0),
            ("3.50", "4.00", 3),
            ("4.00", "4.50", 0),
            ("4.50", "5.00", 3),
        ]
        .iter()
        .map(|&(from, to, count)| (from.to_owned(), to.to_owned(), count))
        .collect();
        assert_eq!(bounds, expected);
        assert_eq!(bucket_width(Scale::FIVE_POINT), Some(50));
        assert_eq!(histogram(Scale::Points { min: 1, max: 10 }, []).len(), 18);
        let hundred = histogram(Scale::Points { min: 0, max: 100 }, [h(10_000), h(8_999)]);
        assert_eq!(hundred.len(), 10);
        assert_eq!(
            hundred.last().map(|b| (b.from, b.to, b.count)),
            Some((h(9_000), h(10_000), 1))
        );
        let odd = histogram(Scale::Points { min: 1, max: 100 }, []);
        assert_eq!(odd.len(), 10);
        assert_eq!(
            odd.last().map(|b| (b.from, b.to)),
            Some((h(9_100), h(10_000)))
        );
        assert!(histogram(Scale::PassFail, [h(100)]).is_empty());
        assert_eq!(bucket_width(Scale::PassFail), None);
    }

    /// Students with distinct ids and grades on the 5-point scale in one or more subjects.
    fn school(subjects: usize) -> impl Strategy<Value = Vec<(StudentId, Vec<Sums>)>> {
        let grades = prop::collection::vec((1_u8..=5, 1_u8..=10), 0..6);
        prop::collection::vec(prop::collection::vec(grades, subjects..=subjects), 0..25).prop_map(
            |students| {
                students
                    .into_iter()
                    .zip((0_i64..).map(|i| (i * 37) % 101))
                    .map(|(subjects, id)| {
                        (StudentId(id), subjects.iter().map(|g| sums(g)).collect())
                    })
                    .collect()
            },
        )
    }

    fn by_subject(students: &[(StudentId, Vec<Sums>)]) -> Vec<(StudentId, Sums)> {
        students
            .iter()
            .map(|(id, subjects)| (*id, subjects.first().copied().unwrap_or_default()))
            .collect()
    }

    /// Positions follow the competition rule and the order is best first, ties by id.
    fn check_positions<A: Ord + std::fmt::Debug>(
        ranking: &Ranking<A>,
    ) -> Result<(), TestCaseError> {
        let ranked = ranking.ranked();
        for entry in ranked {
            let better = ranked
                .iter()
                .filter(|other| other.average > entry.average)
                .count();
            prop_assert_eq!(entry.position, better + 1);
        }
        for pair in ranked.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            prop_assert!(
                a.average > b.average || (a.average == b.average && a.student < b.student)
            );
        }
        prop_assert!(
            ranking
                .unranked()
                .windows(2)
                .all(|p| p[0].student < p[1].student)
        );
        Ok(())
    }

    proptest! {
        /// Ties share a position, the next skips, and only the settled are ranked.
        #[test]
        fn ranks_follow_the_competition_rule(students in school(3), min in 1_i64..=4) {
            let one = rank_subject(&by_subject(&students), rule(min));
            check_positions(&one)?;
            prop_assert_eq!(one.out_of() + one.unranked().len(), students.len());
            for entry in one.unranked() {
                prop_assert!(entry.have < entry.need);
            }
            for entry in one.ranked() {
                let (_, subjects) = students.iter().find(|(id, _)| *id == entry.student)
                    .unwrap_or_else(|| panic!("a passed student"));
                prop_assert!(subjects[0].count() >= min);
            }
            let overall = rank_overall(&students, rule(min));
            check_positions(&overall)?;
            prop_assert_eq!(overall.out_of() + overall.unranked().len(), students.len());
            for entry in overall.ranked() {
                let (_, subjects) = students.iter().find(|(id, _)| *id == entry.student)
                    .unwrap_or_else(|| panic!("a passed student"));
                prop_assert!(subjects.iter().all(|s| s.count() >= min));
            }
        }

        /// The same students in any order give the same ranking.
        #[test]
        fn ranks_are_deterministic(
            (students, shuffled) in school(2).prop_flat_map(|s| (Just(s.clone()), Just(s).prop_shuffle())),
        ) {
            prop_assert_eq!(
                rank_subject(&by_subject(&students), RoundingRule::STANDARD),
                rank_subject(&by_subject(&shuffled), RoundingRule::STANDARD)
            );
            prop_assert_eq!(
                rank_overall(&students, RoundingRule::STANDARD),
                rank_overall(&shuffled, RoundingRule::STANDARD)
            );
        }

        /// A further top grade never worsens a student's position.
        #[test]
        fn a_top_grade_never_worsens_a_rank(
            students in school(2), pick in any::<prop::sample::Index>(), w in 1_u8..=10,
            subject in 0_usize..2,
        ) {
            prop_assume!(!students.is_empty());
            let i = pick.index(students.len());
            let student = students[i].0;
            let mut better = students.clone();
            better[i].1[subject].add(5, weight(w));
            let (before, after) = (
                rank_subject(&by_subject(&students), RoundingRule::STANDARD),
                rank_subject(&by_subject(&better), RoundingRule::STANDARD),
            );
            if let Some(old) = before.find(student).map(|e| e.position) {
                prop_assert!(after.find(student).is_some_and(|e| e.position <= old));
            }
            let (before, after) = (
                rank_overall(&students, RoundingRule::STANDARD),
                rank_overall(&better, RoundingRule::STANDARD),
            );
            if let Some(old) = before.find(student).map(|e| e.position) {
                prop_assert!(after.find(student).is_some_and(|e| e.position <= old));
            }
        }

        /// Every average is counted once, in the bucket that holds it.
        #[test]
        fn histograms_count_every_average_once(students in school(1)) {
            let shown: Vec<Hundredths> = by_subject(&students)
                .iter()
                .filter_map(|(_, s)| s.average())
                .map(Average::shown)
                .collect();
            let buckets = histogram(Scale::FIVE_POINT, shown.iter().copied());
            prop_assert_eq!(buckets.iter().map(|b| b.count).sum::<usize>(), shown.len());
            for (i, bucket) in buckets.iter().enumerate() {
                let last = i + 1 == buckets.len();
                let inside = shown
                    .iter()
                    .filter(|&&v| bucket.from <= v && (v < bucket.to || (last && v == bucket.to)))
                    .count();
                prop_assert_eq!(bucket.count, inside);
            }
        }
    }
}
