//! Which groups of the plan taken before can stand unchanged in the next one. A plan of the
//! whole cluster costs time that grows with the cluster; a change of one pod concerns one
//! namespace. So in a namespace whose own objects are as they were, a group keeps its plan as
//! long as nothing else it read moved:
//!
//! - Nodes, PersistentVolumes and Namespaces are read by every group: any change of them plans
//!   everything again. So does a ClusterSpreadPolicy, whose group reads every namespace and is
//!   planned over the others' moves.
//! - Only a balanced group is kept. It makes no move, so no later group sees a move of it; and
//!   it searches none, so it never read what other groups' moves or other namespaces' pods left
//!   free on the nodes, only which domains can take its pods (`accepting`). That changes only
//!   where a node's requested resources changed and its fit for the group's pods flipped. The
//!   groups planned again around it (those with moves) see the cluster as a plan from scratch
//!   would, since the kept ones moved nothing.
//! - Time moves protections one way: a pod that is too young, or under an opt-out for a while,
//!   becomes movable. A group is planned again once the first such protection of its skipped
//!   pods has ended.
//!
//! A plan made this way says exactly what a plan from scratch says (the property test in
//! `tests/reuse.rs` replays random changes and compares the two after each).

use std::{
    collections::{BTreeMap, BTreeSet},
    ops::Range,
    sync::Arc,
};

use jiff::Timestamp;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::{
    eligibility,
    index::{Index, NodeId},
    model::{Cluster, Node, Policy, Resources},
    report::{GroupPlan, Outcome, Plan},
};

/// The plan taken before and the cluster it was taken of, for [`super::plan_after`].
#[derive(Clone, Copy, Debug)]
pub struct Previous<'p> {
    /// The cluster the plan was taken of.
    pub cluster: &'p Cluster,
    /// The plan.
    pub plan: &'p Plan,
}

/// What a plan keeps so that the next one can reuse its groups: set only on a plan of every
/// SpreadPolicy (no filter, no ClusterSpreadPolicy).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Reusable {
    /// The time the plan was taken at.
    pub(super) now: Timestamp,
    /// Per node, the summed requests of its pods, as observed.
    pub(super) requested: Vec<Resources>,
}

/// What the next plan takes over from the plan before: in each namespace whose objects are as
/// they were, every group of its policies, kept or to be planned again.
#[derive(Debug, Default)]
pub(super) struct Kept<'p> {
    /// The namespaces whose objects are as they were.
    unchanged: HashSet<&'p str>,
    /// Per namespace of those and policy name: the policy's groups in plan order.
    groups: HashMap<(&'p str, &'p str), Vec<Slot<'p>>>,
}

/// A group of the plan before, in a namespace whose objects are as they were.
#[derive(Debug)]
enum Slot<'p> {
    /// Its plan stands.
    Kept(&'p Arc<GroupPlan>),
    /// Planned again, by its name.
    Again(&'p str),
}

impl<'p> Kept<'p> {
    /// What the next plan can take over from `previous`: nothing when what changed is read
    /// everywhere.
    pub(super) fn from(
        previous: Previous<'p>,
        cluster: &Cluster,
        now: Timestamp,
        index: &Index<'_>,
    ) -> Self {
        let requested = index.node_requested.as_slice();
        let Some(reusable) = previous.plan.reusable.as_ref() else {
            return Self::default();
        };
        let before = previous.cluster;
        let everything_changed = now < reusable.now
            || !before.cluster_policies.is_empty()
            || !cluster.cluster_policies.is_empty()
            || before.nodes != cluster.nodes
            || before.volumes != cluster.volumes
            || before.namespaces != cluster.namespaces
            || reusable.requested.len() != requested.len();
        if everything_changed {
            return Self::default();
        }
        let changed = changed_namespaces(before, cluster, index.pods_changed_in());
        let refit: Vec<Refit<'_>> = cluster
            .nodes
            .iter()
            .zip(&reusable.requested)
            .zip(requested)
            .enumerate()
            .filter(|(_, ((_, before), now))| before != now)
            .map(|(id, ((node, before), now))| Refit {
                id,
                node,
                before: *before,
                now: *now,
            })
            .collect();
        let unchanged: HashSet<&str> = before
            .policies
            .iter()
            .map(|policy| &*policy.namespace)
            .filter(|namespace| !changed.contains(*namespace))
            .collect();
        let mut groups: HashMap<(&str, &str), Vec<Slot<'_>>> = HashMap::default();
        for group in &previous.plan.groups {
            let (namespace, Some(policy)) = (&*group.namespace, group.policy.as_deref()) else {
                continue;
            };
            if !unchanged.contains(namespace) {
                continue;
            }
            let slot = if stands(group, now, &refit) {
                Slot::Kept(group)
            } else {
                Slot::Again(&group.group)
            };
            groups.entry((namespace, policy)).or_default().push(slot);
        }
        Self { unchanged, groups }
    }

    /// Whether any group of `policy` is planned (again).
    pub(super) fn plans(&self, policy: &Policy) -> bool {
        !self.unchanged.contains(&*policy.namespace)
            || self
                .slots(policy)
                .iter()
                .any(|slot| matches!(slot, Slot::Again(_)))
    }

    /// Whether `policy`'s group `name` is planned (again).
    pub(super) fn plans_group(&self, policy: &Policy, name: &str) -> bool {
        !self.unchanged.contains(&*policy.namespace)
            || self
                .slots(policy)
                .iter()
                .any(|slot| matches!(slot, Slot::Again(again) if *again == name))
    }

    fn slots<'s>(&'s self, policy: &'s Policy) -> &'s [Slot<'s>] {
        self.groups
            .get(&(&*policy.namespace, policy.name.as_str()))
            .map_or(&[], Vec::as_slice)
    }

    /// The groups of `policies` (in plan order) as a plan from scratch orders them: the kept
    /// ones, and in their places those planned now (`planned`, in the same order).
    pub(super) fn merge(
        &self,
        policies: &[&Policy],
        planned: Vec<GroupPlan>,
    ) -> Vec<Arc<GroupPlan>> {
        let mut planned = planned.into_iter().map(Arc::new).peekable();
        if self.unchanged.is_empty() {
            return planned.collect();
        }
        let mut groups = Vec::with_capacity(planned.len());
        for policy in policies {
            let mut next = || planned.next_if(|group| group.is_of(&policy.namespace, &policy.name));
            if self.unchanged.contains(&*policy.namespace) {
                for slot in self.slots(policy) {
                    match slot {
                        Slot::Kept(group) => groups.push(Arc::clone(group)),
                        Slot::Again(_) => groups.extend(next()),
                    }
                }
            } else {
                while let Some(group) = next() {
                    groups.push(group);
                }
            }
        }
        groups.extend(planned);
        groups
    }
}

/// A node whose pods' summed requests changed since the plan before.
struct Refit<'c> {
    id: NodeId,
    node: &'c Node,
    before: Resources,
    now: Resources,
}

impl Refit<'_> {
    /// Whether the node could take one more pod of `requests` before and cannot now, or the
    /// other way round.
    fn flips(&self, requests: Resources) -> bool {
        eligibility::fits(self.node, self.before, requests).is_ok()
            != eligibility::fits(self.node, self.now, requests).is_ok()
    }
}

/// Whether a group's plan stands at `now` while its namespace is unchanged: balanced, with
/// every protection of its skipped pods still holding, and no node's fit for its pods flipped
/// in a domain it counts.
fn stands(group: &GroupPlan, now: Timestamp, refit: &[Refit<'_>]) -> bool {
    let counted = |refit: &Refit<'_>| {
        group
            .constraints
            .iter()
            .any(|constraint| constraint.domains.set.domain_of(refit.id).is_some())
    };
    group.outcome == Outcome::Balanced
        && group.moves.is_empty()
        && group.holds_until.is_none_or(|until| now < until)
        && !refit
            .iter()
            .any(|refit| counted(refit) && refit.flips(group.requests))
}

/// The namespaces any of whose namespaced objects differ between two clusters (pods, workloads,
/// ReplicaSets, PodDisruptionBudgets, PersistentVolumeClaims, SpreadPolicies). Those where
/// pods changed are `pods_changed_in` when the index of `now` told them.
fn changed_namespaces(
    before: &Cluster,
    now: &Cluster,
    pods_changed_in: Option<&BTreeSet<String>>,
) -> BTreeSet<String> {
    let mut changed = BTreeSet::new();
    match pods_changed_in {
        Some(namespaces) => changed.extend(namespaces.iter().cloned()),
        None => differ(
            &before.pods,
            &now.pods,
            |pod| &pod.namespace,
            |a, b| Arc::ptr_eq(a, b) || a == b,
            &mut changed,
        ),
    }
    differ(
        &before.workloads,
        &now.workloads,
        |workload| &workload.namespace,
        |a, b| Arc::ptr_eq(a, b) || a == b,
        &mut changed,
    );
    differ(
        &before.replica_sets,
        &now.replica_sets,
        |set| &set.namespace,
        PartialEq::eq,
        &mut changed,
    );
    differ(
        &before.pdbs,
        &now.pdbs,
        |pdb| &pdb.namespace,
        PartialEq::eq,
        &mut changed,
    );
    differ(
        &before.claims,
        &now.claims,
        |claim| &claim.namespace,
        PartialEq::eq,
        &mut changed,
    );
    differ(
        &before.policies,
        &now.policies,
        |policy| &policy.namespace,
        PartialEq::eq,
        &mut changed,
    );
    changed
}

/// Adds to `changed` the namespaces whose items differ between `before` and `now`, in order.
fn differ<T>(
    before: &[T],
    now: &[T],
    namespace: impl for<'t> Fn(&'t T) -> &'t Arc<str> + Copy,
    same: impl Fn(&T, &T) -> bool,
    changed: &mut BTreeSet<String>,
) {
    // A list both pictures share (the stores rebuild a kind's list only when it changed).
    if std::ptr::eq(before, now) {
        return;
    }
    // Lists of one length are compared place by place (`same` reads no shared item): a
    // namespace whose items differ has a place where one of the two lists has its item and
    // the other a different one, and both namespaces of such a place are noted.
    if before.len() == now.len() {
        for (then, current) in before.iter().zip(now) {
            if !same(then, current) {
                for item in [then, current] {
                    let name = namespace(item);
                    if !changed.contains(&**name) {
                        changed.insert(name.to_string());
                    }
                }
            }
        }
        return;
    }
    let (before_runs, now_runs) = (runs(before, namespace), runs(now, namespace));
    let namespaces: BTreeSet<&str> = before_runs.keys().chain(now_runs.keys()).copied().collect();
    for name in namespaces {
        let then = gather(before, before_runs.get(name));
        let current = gather(now, now_runs.get(name));
        let same =
            then.len() == current.len() && then.iter().zip(&current).all(|(a, b)| same(a, b));
        if !same {
            changed.insert(name.to_owned());
        }
    }
}

/// The items of some runs, in order.
fn gather<'i, T>(items: &'i [T], runs: Option<&Vec<Range<usize>>>) -> Vec<&'i T> {
    runs.into_iter()
        .flatten()
        .flat_map(|range| items.get(range.clone()).unwrap_or_default())
        .collect()
}

/// Where each namespace's items are, as runs of neighbours (one run per namespace when the
/// items are in namespace order, as a snapshot of the stores is).
fn runs<'i, T>(
    items: &'i [T],
    namespace: impl Fn(&'i T) -> &'i Arc<str>,
) -> BTreeMap<&'i str, Vec<Range<usize>>> {
    let mut runs: BTreeMap<&str, Vec<Range<usize>>> = BTreeMap::new();
    let mut start = 0;
    while let Some(first) = items.get(start) {
        let name = namespace(first);
        let length = items
            .iter()
            .skip(start)
            .take_while(|item| {
                let other = namespace(item);
                Arc::ptr_eq(other, name) || other == name
            })
            .count();
        runs.entry(&**name).or_default().push(start..start + length);
        start += length;
    }
    runs
}
