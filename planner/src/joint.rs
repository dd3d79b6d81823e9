//! Joint planning: the constraints of the groups already planned, with their counts after their
//! own moves, so that a later group's move (a ClusterSpreadPolicy's, which crosses namespaces
//! and so every namespaced group) never takes another group's actionable skew above its
//! maxSkew, nor raises one that is above it already.

use rustc_hash::FxHashMap as HashMap;

use super::{
    index::{NodeId, PodId},
    search::ConstraintState,
};

/// The planned groups' constraints, and for each pod the ones that count it.
#[derive(Default)]
pub(super) struct Joint {
    states: Vec<ConstraintState>,
    counting: HashMap<PodId, Vec<usize>>,
}

impl Joint {
    /// Keeps a planned group's constraints, as its moves left them.
    pub(super) fn keep(&mut self, states: &[ConstraintState]) {
        for state in states {
            let position = self.states.len();
            for &pod in state.members.0.iter() {
                self.counting.entry(pod).or_default().push(position);
            }
            self.states.push(state.clone());
        }
    }

    /// Whether moving `pod` from `from` to `to` keeps every kept constraint that counts it
    /// within its maxSkew, or at least no higher than it was.
    pub(super) fn allows(&self, pod: PodId, from: Option<NodeId>, to: NodeId) -> bool {
        let Some(positions) = self.counting.get(&pod) else {
            return true;
        };
        positions.iter().all(|&position| {
            let state = &self.states[position];
            let before = state.live_counts().skew();
            let mut after_move = state.clone();
            after_move.shift(from, to);
            let after = after_move.live_counts().skew();
            match (before, after) {
                (_, None) => true,
                (before, Some(after)) => {
                    i64::from(after) <= i64::from(state.constraint.max_skew)
                        || before.is_some_and(|before| after <= before)
                }
            }
        })
    }

    /// Records a move of a later group in the kept constraints that count the pod.
    pub(super) fn apply(&mut self, pod: PodId, from: Option<NodeId>, to: NodeId) {
        let Some(positions) = self.counting.get(&pod) else {
            return;
        };
        for &position in positions {
            self.states[position].shift(from, to);
        }
    }
}
