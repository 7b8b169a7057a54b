//! The rules of verification, apart from the database: how likely a frame is
//! to be replicated, and what a set of compared copies decides.

/// Probability that a frame rendered by a worker with `verified_streak`
/// consecutive verified frames is replicated, for a job replicating
/// `parity` (0.0 to 1.0) of its frames. BOINC's adaptive replication: a
/// worker below `trusted_after` has every frame replicated; a trusted one
/// has `max(1 / streak, parity)`. Parity 0 turns replication off.
pub fn replication_probability(verified_streak: u32, trusted_after: u32, parity: f64) -> f64 {
    if parity <= 0.0 {
        0.0
    } else if verified_streak < trusted_after {
        1.0
    } else {
        (1.0 / f64::from(verified_streak.max(1)))
            .max(parity)
            .min(1.0)
    }
}

/// What the compared copies of one frame decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A majority agrees: `agreeing` copies are verified, `outvoted` ones
    /// (which disagree with every agreeing copy) are wrong.
    Verified {
        /// Replica numbers that agree.
        agreeing: Vec<u32>,
        /// Replica numbers outvoted.
        outvoted: Vec<u32>,
    },
    /// Two copies disagree: a third is needed.
    Arbitrate,
    /// No majority: the frame is not deterministic; nobody is punished.
    NonDeterministic,
}

/// Decide a frame from its copies (`replicas`, at least two) and whether
/// each pair agrees (`agree(a, b)`, called for every pair). The copy with
/// the most agreements and every copy agreeing with it form the candidate
/// majority; it wins if it has more than half of the copies.
pub fn resolve(replicas: &[u32], agree: impl Fn(u32, u32) -> bool) -> Resolution {
    let agreements = |x: u32| replicas.iter().filter(|&&y| y != x && agree(x, y)).count();
    let Some(best) = replicas
        .iter()
        .copied()
        .max_by_key(|&x| (agreements(x), std::cmp::Reverse(x)))
    else {
        return Resolution::NonDeterministic;
    };
    if agreements(best) == 0 {
        return if replicas.len() <= 2 {
            Resolution::Arbitrate
        } else {
            Resolution::NonDeterministic
        };
    }
    let agreeing: Vec<u32> = replicas
        .iter()
        .copied()
        .filter(|&x| x == best || agree(best, x))
        .collect();
    if agreeing.len() * 2 <= replicas.len() {
        return Resolution::NonDeterministic;
    }
    // A copy that agrees with some member of the majority (within the
    // inconclusive band of another) is not outvoted.
    let (supporting, outvoted): (Vec<u32>, Vec<u32>) = replicas
        .iter()
        .copied()
        .filter(|x| !agreeing.contains(x))
        .partition(|&x| agreeing.iter().any(|&y| agree(x, y)));
    let mut agreeing = agreeing;
    agreeing.extend(supporting);
    agreeing.sort_unstable();
    Resolution::Verified { agreeing, outvoted }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(agreeing: &'static [(u32, u32)]) -> impl Fn(u32, u32) -> bool {
        move |a, b| agreeing.contains(&(a.min(b), a.max(b)))
    }

    #[test]
    fn new_workers_are_always_replicated_trusted_ones_at_the_floor() {
        assert_eq!(replication_probability(0, 10, 0.05), 1.0);
        assert_eq!(replication_probability(9, 10, 0.05), 1.0);
        assert_eq!(replication_probability(10, 10, 0.05), 0.1);
        assert_eq!(replication_probability(20, 10, 0.05), 0.05);
        assert_eq!(replication_probability(1000, 10, 0.05), 0.05);
        assert_eq!(replication_probability(1000, 10, 1.0), 1.0);
        assert_eq!(replication_probability(0, 10, 0.0), 0.0);
    }

    #[test]
    fn two_agreeing_copies_verify() {
        assert_eq!(
            resolve(&[0, 1], pairs(&[(0, 1)])),
            Resolution::Verified {
                agreeing: vec![0, 1],
                outvoted: vec![]
            }
        );
        assert_eq!(resolve(&[0, 1], pairs(&[])), Resolution::Arbitrate);
    }

    #[test]
    fn the_arbiter_decides_by_majority() {
        assert_eq!(
            resolve(&[0, 1, 2], pairs(&[(0, 2)])),
            Resolution::Verified {
                agreeing: vec![0, 2],
                outvoted: vec![1]
            }
        );
        assert_eq!(
            resolve(&[0, 1, 2], pairs(&[(1, 2)])),
            Resolution::Verified {
                agreeing: vec![1, 2],
                outvoted: vec![0]
            }
        );
        assert_eq!(
            resolve(&[0, 1, 2], pairs(&[])),
            Resolution::NonDeterministic
        );
    }

    #[test]
    fn a_copy_in_the_inconclusive_band_of_one_is_not_outvoted() {
        // 0 and 1 were inconclusive, the arbiter agrees with both.
        assert_eq!(
            resolve(&[0, 1, 2], pairs(&[(0, 2), (1, 2)])),
            Resolution::Verified {
                agreeing: vec![0, 1, 2],
                outvoted: vec![]
            }
        );
    }

    #[test]
    fn no_majority_among_four_is_non_deterministic() {
        assert_eq!(
            resolve(&[0, 1, 2, 3], pairs(&[(0, 1), (2, 3)])),
            Resolution::NonDeterministic
        );
    }
}
