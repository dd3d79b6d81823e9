//! The planner's picture of the cluster: where each pod is, what each node has left, budgets and
//! protections, updated by each planned move. `plan` and `search` both work on it.

use std::sync::Arc;

use jiff::Timestamp;
use rustc_hash::FxHashMap as HashMap;

use super::{
    budget::Budgets,
    eligibility,
    index::{Index, NodeId, PodId},
    joint::Joint,
    model::Resources,
    protection::Protections,
    score::Scene,
    topology::{DomainCache, DomainSet},
};

/// Which domains of a domain set can take pods of given requests now, and how many can.
#[derive(Clone)]
pub(super) struct Accepting {
    pub(super) flags: Arc<Vec<bool>>,
    pub(super) total: u32,
}

/// The planner's picture of the cluster, updated by each planned move.
pub(super) struct Planner<'i, 'a> {
    pub(super) index: &'i Index<'a>,
    pub(super) domains: DomainCache,
    accepting: HashMap<(usize, Resources), Accepting>,
    pub(super) usage: Vec<Resources>,
    pub(super) placed: HashMap<PodId, NodeId>,
    pub(super) arrived: Vec<Vec<PodId>>,
    pub(super) budgets: Budgets<'i, 'a>,
    pub(super) protections: Protections<'i, 'a>,
    /// The groups planned so far, kept when a later group may cross them (cluster policies).
    pub(super) joint: Option<Joint>,
    /// The scheduler's picture, for groups whose replacements only the scheduler's own
    /// scoring places (cluster policies): kept in step with every planned move.
    pub(super) scene: Option<Scene<'i, 'a>>,
}

impl<'i, 'a> Planner<'i, 'a> {
    pub(super) fn new(index: &'i Index<'a>, now: Timestamp) -> Self {
        Self {
            index,
            domains: DomainCache::default(),
            accepting: HashMap::default(),
            usage: index.node_requested.clone(),
            placed: HashMap::default(),
            arrived: vec![Vec::new(); index.cluster.nodes.len()],
            budgets: Budgets::new(index),
            protections: Protections::new(index, now),
            joint: None,
            scene: None,
        }
    }

    pub(super) fn node_of(&self, pod: PodId) -> Option<NodeId> {
        self.placed.get(&pod).copied().or(self.index.pod_node(pod))
    }

    /// Per domain: live, and some live node fits `requests` (as the cluster is observed);
    /// with how many domains that is.
    pub(super) fn accepting(&mut self, set: &Arc<DomainSet>, requests: Resources) -> Accepting {
        let index = self.index;
        let key = (Arc::as_ptr(set) as usize, requests);
        let accepting = self.accepting.entry(key).or_insert_with(|| {
            let flags: Vec<bool> = set
                .domains()
                .map(|domain| {
                    set.live_nodes(domain).iter().any(|&node| {
                        eligibility::fits(index.node(node), index.node_requested[node], requests)
                            .is_ok()
                    })
                })
                .collect();
            Accepting {
                total: u32::try_from(flags.iter().filter(|a| **a).count()).unwrap_or(u32::MAX),
                flags: Arc::new(flags),
            }
        });
        accepting.clone()
    }
}
