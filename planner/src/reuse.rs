//! Which groups of the plan taken before can stand unchanged in the next one. A plan of the
//! whole cluster costs time that grows with the cluster; a change of one pod concerns one
//! namespace. So a namespace whose own objects are as they were keeps its groups' plans, as
//! long as nothing else they read moved:
//!
//! - Nodes, PersistentVolumes and Namespaces are read by every group: any change of them plans
//!   everything again. So does a ClusterSpreadPolicy, whose group reads every namespace and is
//!   planned over the others' moves.
//! - Only a balanced group is kept. It makes no move, so no later group sees a move of it; and
//!   it searches none, so it never read what other groups' moves or other namespaces' pods left
//!   free on the nodes, only which domains can take its pods (`accepting`). That changes only
//!   where a node's requested resources changed and its fit for the group's pods flipped.
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

use super::{
    eligibility,
    index::NodeId,
    model::{Cluster, Node, Resources},
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

/// The namespaces whose groups the next plan takes over from `previous`, with them; None when
/// nothing can be taken over.
pub(super) fn kept_namespaces<'p>(
    previous: Previous<'p>,
    cluster: &Cluster,
    now: Timestamp,
    requested: &[Resources],
) -> Option<BTreeMap<&'p str, Vec<&'p GroupPlan>>> {
    let reusable = previous.plan.reusable.as_ref()?;
    let before = previous.cluster;
    let everything_changed = now < reusable.now
        || !before.cluster_policies.is_empty()
        || !cluster.cluster_policies.is_empty()
        || before.nodes != cluster.nodes
        || before.volumes != cluster.volumes
        || before.namespaces != cluster.namespaces
        || reusable.requested.len() != requested.len();
    if everything_changed {
        return None;
    }
    let changed = changed_namespaces(before, cluster);
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
    let mut kept: BTreeMap<&str, Vec<&GroupPlan>> = BTreeMap::new();
    let mut spoiled: BTreeSet<&str> = BTreeSet::new();
    for group in &previous.plan.groups {
        let namespace = &*group.namespace;
        if changed.contains(namespace) || spoiled.contains(namespace) {
            continue;
        }
        if stands(group, now, &refit) {
            kept.entry(namespace).or_default().push(group);
        } else {
            kept.remove(namespace);
            spoiled.insert(namespace);
        }
    }
    // A namespace with policies but no group (they match nothing) keeps that, too.
    for policy in &before.policies {
        let namespace = &*policy.namespace;
        if !changed.contains(namespace) && !spoiled.contains(namespace) {
            kept.entry(namespace).or_default();
        }
    }
    Some(kept)
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
/// ReplicaSets, PodDisruptionBudgets, PersistentVolumeClaims, SpreadPolicies).
fn changed_namespaces(before: &Cluster, now: &Cluster) -> BTreeSet<String> {
    let mut changed = BTreeSet::new();
    differ(
        &before.pods,
        &now.pods,
        |pod| &pod.namespace,
        |a, b| Arc::ptr_eq(a, b) || a == b,
        &mut changed,
    );
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

/// The groups planned now and the groups kept, in plan order: namespace by namespace (no
/// namespace has both), each namespace's groups as they were planned.
pub(super) fn interleave(
    planned: Vec<GroupPlan>,
    kept: BTreeMap<&str, Vec<&GroupPlan>>,
) -> Vec<GroupPlan> {
    let mut groups = Vec::with_capacity(planned.len() + kept.values().map(Vec::len).sum::<usize>());
    let mut kept = kept.into_iter().peekable();
    for group in planned {
        while let Some((_, earlier)) = kept.next_if(|(namespace, _)| **namespace < *group.namespace)
        {
            groups.extend(earlier.into_iter().cloned());
        }
        groups.push(group);
    }
    groups.extend(kept.flat_map(|(_, rest)| rest).cloned());
    groups
}
