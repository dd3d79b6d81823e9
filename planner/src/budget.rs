//! PodDisruptionBudgets as the Eviction API applies them: which budgets select a pod
//! (policy/v1: a null selector selects nothing, `{}` every pod of the namespace), and whether
//! the one budget allows a disruption now, counting the evictions already planned against it.
//! A move made by rollout restart needs no budget and spends none.

use rustc_hash::FxHashMap as HashMap;

use serde::Serialize;

use super::{index::Index, model::Pod, restart::Method};

/// What the budgets say about evicting a pod now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "camelCase")]
pub enum BudgetVerdict {
    /// No budget selects the pod.
    NoBudget,
    /// The budget allows it.
    Allows {
        /// `namespace/name` of the budget.
        pdb: String,
    },
    /// The budget allows no disruption now (the API server answers 429).
    Blocked {
        /// `namespace/name` of the budget.
        pdb: String,
        /// Why: `DisruptionsExhausted` or `StatusStale`.
        reason: &'static str,
    },
    /// More than one budget selects the pod (the API server answers 500).
    MultiplePdbs {
        /// The budgets.
        pdbs: Vec<String>,
    },
    /// The move is a rollout restart, which never lowers availability: no budget is asked.
    NotNeeded,
}

impl BudgetVerdict {
    /// Whether the move may be made now as far as budgets go.
    pub fn allows(&self) -> bool {
        matches!(self, Self::NoBudget | Self::Allows { .. } | Self::NotNeeded)
    }

    /// The budget in question, if exactly one.
    pub fn pdb(&self) -> Option<&str> {
        match self {
            Self::Allows { pdb } | Self::Blocked { pdb, .. } => Some(pdb),
            Self::NoBudget | Self::MultiplePdbs { .. } | Self::NotNeeded => None,
        }
    }

    /// A CamelCase reason when the eviction would be refused.
    pub fn refusal(&self) -> Option<&'static str> {
        match self {
            Self::NoBudget | Self::Allows { .. } | Self::NotNeeded => None,
            Self::Blocked { .. } => Some("PdbBlocked"),
            Self::MultiplePdbs { .. } => Some("MultiplePDBs"),
        }
    }
}

/// Budgets of a cluster, with the disruptions a plan has already spent.
#[derive(Debug)]
pub struct Budgets<'i, 'a> {
    index: &'i Index<'a>,
    spent: HashMap<usize, i32>,
}

impl<'i, 'a> Budgets<'i, 'a> {
    /// No disruption spent yet.
    pub fn new(index: &'i Index<'a>) -> Self {
        Self {
            index,
            spent: HashMap::default(),
        }
    }

    fn selecting(&self, pod: &Pod) -> Vec<usize> {
        self.index
            .pdbs_in(&pod.namespace)
            .filter(|&id| {
                self.index.cluster.pdbs[id]
                    .selector
                    .as_ref()
                    .is_some_and(|selector| selector.matches(&pod.labels))
            })
            .collect()
    }

    /// What the budgets say about evicting this pod now.
    pub fn check(&self, pod: &Pod) -> BudgetVerdict {
        let pdbs = &self.index.cluster.pdbs;
        match self.selecting(pod).as_slice() {
            [] => BudgetVerdict::NoBudget,
            [id] => {
                let pdb = &pdbs[*id];
                let key = pdb.key();
                if pdb.observed_generation < pdb.generation {
                    BudgetVerdict::Blocked {
                        pdb: key,
                        reason: "StatusStale",
                    }
                } else if pdb.disruptions_allowed - self.spent.get(id).copied().unwrap_or(0) <= 0 {
                    BudgetVerdict::Blocked {
                        pdb: key,
                        reason: "DisruptionsExhausted",
                    }
                } else {
                    BudgetVerdict::Allows { pdb: key }
                }
            }
            many => BudgetVerdict::MultiplePdbs {
                pdbs: many.iter().map(|&id| pdbs[id].key()).collect(),
            },
        }
    }

    /// What the budgets say about moving this pod by `method` now: a rollout restart asks
    /// none of them.
    pub fn check_move(&self, pod: &Pod, method: Method) -> BudgetVerdict {
        match method {
            Method::Evict => self.check(pod),
            Method::Restart => BudgetVerdict::NotNeeded,
        }
    }

    /// Records a planned move of this pod against its budget; only an eviction spends one.
    pub fn spend(&mut self, pod: &Pod, method: Method) {
        if method != Method::Evict {
            return;
        }
        if let [id] = self.selecting(pod).as_slice() {
            *self.spent.entry(*id).or_insert(0) += 1;
        }
    }
}
