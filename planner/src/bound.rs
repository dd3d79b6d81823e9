//! The fewest moves that can bring one constraint's actionable skew within maxSkew.
//!
//! Moves only go between live domains, and only accepting ones receive. With counts `c_i`,
//! maxSkew `s` and a floor `L` for the accepting domains, pods above `L + s` must leave and
//! accepting domains below `L` must be filled, so a move can fix at most one of each:
//! `E*(L) = max(Σ max(0, c_i − L − s), Σ_accepting max(0, L − c_i))`, over every `L` for which a
//! final distribution exists. With all domains accepting, `k` domains and `N` pods, that is
//! `kL ≤ N ≤ k(L + s)`. Moving one pod from a fullest to an emptiest domain lowers `E*` by one
//! whenever skew exceeds `s`, so the bound is reached when the movable pods allow.

/// One constraint's live domains, as the bound sees them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Counts of the live domains holding pods, with whether each accepts pods.
    pub nonzero: Vec<(u32, bool)>,
    /// Live domains holding no pods that accept pods.
    pub empty_accepting: u32,
    /// The constraint's maxSkew.
    pub max_skew: u32,
    /// The global minimum is 0 regardless (fewer live domains than minDomains).
    pub min_forced_to_zero: bool,
}

impl LiveCounts {
    /// Live domains accepting pods.
    pub fn accepting(&self) -> u32 {
        self.empty_accepting
            + u32::try_from(
                self.nonzero
                    .iter()
                    .filter(|(_, accepting)| *accepting)
                    .count(),
            )
            .unwrap_or(u32::MAX)
    }

    /// Pods in live domains.
    pub fn total(&self) -> u32 {
        self.nonzero.iter().map(|(count, _)| count).sum()
    }

    /// The emptiest accepting domain's count: no move can fill a domain below it.
    pub fn floor(&self) -> Option<u32> {
        if self.empty_accepting > 0 {
            return Some(0);
        }
        self.nonzero
            .iter()
            .filter(|(_, accepting)| *accepting)
            .map(|(count, _)| *count)
            .min()
    }

    /// Actionable skew: the fullest live domain minus the emptiest accepting one (or 0 when
    /// minDomains forces the minimum). None when no domain accepts pods.
    pub fn skew(&self) -> Option<u32> {
        if self.accepting() == 0 {
            return None;
        }
        let max = self
            .nonzero
            .iter()
            .map(|(count, _)| *count)
            .max()
            .unwrap_or(0);
        let min = if self.min_forced_to_zero || self.empty_accepting > 0 {
            0
        } else {
            self.nonzero
                .iter()
                .filter(|(_, accepting)| *accepting)
                .map(|(count, _)| *count)
                .min()
                .unwrap_or(0)
        };
        Some(max.saturating_sub(min))
    }

    /// `E*`: the fewest moves to bring the skew within maxSkew. None when no distribution
    /// within maxSkew exists (no accepting domain, or minDomains forcing a minimum of 0 with
    /// more pods than the domains may hold).
    pub fn lower_bound(&self) -> Option<u32> {
        let accepting = u64::from(self.accepting());
        if accepting == 0 {
            return None;
        }
        let total = u64::from(self.total());
        let s = u64::from(self.max_skew);
        let highest = if self.min_forced_to_zero {
            0
        } else {
            total / accepting
        };
        let mut best: Option<u64> = None;
        for floor in 0..=highest {
            let ceiling = floor + s;
            let refusing_room: u64 = self
                .nonzero
                .iter()
                .filter(|(_, accepting)| !*accepting)
                .map(|(count, _)| u64::from(*count).min(ceiling))
                .sum();
            if accepting * floor > total || total > accepting * ceiling + refusing_room {
                continue;
            }
            let excess: u64 = self
                .nonzero
                .iter()
                .map(|(count, _)| u64::from(*count).saturating_sub(ceiling))
                .sum();
            let deficit: u64 = self
                .nonzero
                .iter()
                .filter(|(_, accepting)| *accepting)
                .map(|(count, _)| floor.saturating_sub(u64::from(*count)))
                .sum::<u64>()
                + u64::from(self.empty_accepting) * floor;
            let moves = excess.max(deficit);
            best = Some(best.map_or(moves, |b: u64| b.min(moves)));
        }
        best.map(|moves| u32::try_from(moves).unwrap_or(u32::MAX))
    }
}

/// `E*` for counts over `k` domains that all accept pods, as the issue states it.
pub fn minimum_moves(counts: &[u32], max_skew: u32) -> Option<u32> {
    LiveCounts {
        nonzero: counts
            .iter()
            .filter(|c| **c > 0)
            .map(|c| (*c, true))
            .collect(),
        empty_accepting: u32::try_from(counts.iter().filter(|c| **c == 0).count())
            .unwrap_or(u32::MAX),
        max_skew,
        min_forced_to_zero: false,
    }
    .lower_bound()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_matches_hand_counted_cases() {
        let cases: [(&[u32], u32, u32); 8] = [
            (&[3, 3, 0], 1, 2),
            (&[5, 0, 0], 1, 3),
            (&[29, 12, 4], 1, 14),
            (&[2, 1, 1], 1, 0),
            (&[4, 0], 2, 1),
            (&[10, 0, 0, 0], 1, 7),
            (&[0, 0, 0], 1, 0),
            (&[7], 1, 0),
        ];
        for (counts, max_skew, expected) in cases {
            assert_eq!(
                minimum_moves(counts, max_skew),
                Some(expected),
                "{counts:?} s={max_skew}"
            );
        }
    }

    #[test]
    fn a_domain_that_cannot_accept_pods_only_gives() {
        // 6 pods on a full node, 0 on a node that can take them: 3 moves reach 3/3.
        let full_and_empty = LiveCounts {
            nonzero: vec![(6, false)],
            empty_accepting: 1,
            max_skew: 1,
            min_forced_to_zero: false,
        };
        assert_eq!(full_and_empty.lower_bound(), Some(3));
        assert_eq!(full_and_empty.skew(), Some(6));
        // An empty domain that cannot accept pods is no reason to move anything.
        let refusing_empty = LiveCounts {
            nonzero: vec![(2, true), (2, true)],
            empty_accepting: 0,
            max_skew: 1,
            min_forced_to_zero: false,
        };
        assert_eq!(refusing_empty.skew(), Some(0));
        assert_eq!(refusing_empty.lower_bound(), Some(0));
    }

    #[test]
    fn no_accepting_domain_or_too_few_domains_for_min_domains_has_no_plan() {
        let none_accepting = LiveCounts {
            nonzero: vec![(3, false)],
            max_skew: 1,
            ..LiveCounts::default()
        };
        assert_eq!(none_accepting.lower_bound(), None);
        assert_eq!(none_accepting.skew(), None);
        let forced = LiveCounts {
            nonzero: vec![(3, true), (3, true)],
            max_skew: 1,
            min_forced_to_zero: true,
            ..LiveCounts::default()
        };
        assert_eq!(forced.skew(), Some(3));
        assert_eq!(forced.lower_bound(), None);
    }
}
