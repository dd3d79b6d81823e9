//! Per policy group (a SpreadPolicy's, or a ClusterSpreadPolicy's across namespaces), what a
//! rebalancing run is judged by: the domains when rebalancing
//! started and at the end, the planner's lower bound (`E*`) at the start, the moves made, and
//! the most moves in flight at once (a move is in flight from its eviction until its workload
//! has as many Ready pods as it wants again).
//!
//! The start is the moment before the group's first move: the recorder keeps the objects of the
//! previous observation (shared, not copied) and plans them only when a move shows up.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::{
    super::{
        Object, ResourceId, Store,
        control::{
            Cache,
            status::{self, controller_of},
        },
    },
    Move,
};
use crate::planner::{
    PlanOptions, Source, plan,
    report::{GroupPlan, Plan},
};

/// The kinds the planner reads, as `(group, version, plural)`.
const PLANNED_KINDS: [(&str, &str, &str); 12] = [
    ("", "v1", "namespaces"),
    ("", "v1", "nodes"),
    ("", "v1", "pods"),
    ("", "v1", "persistentvolumeclaims"),
    ("", "v1", "persistentvolumes"),
    ("policy", "v1", "poddisruptionbudgets"),
    ("apps", "v1", "deployments"),
    ("apps", "v1", "statefulsets"),
    ("apps", "v1", "replicasets"),
    ("apps", "v1", "daemonsets"),
    ("kubespread.io", "v1alpha1", "spreadpolicies"),
    ("kubespread.io", "v1alpha1", "clusterspreadpolicies"),
];

/// One constraint's domains at a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainCounts {
    /// Pods per domain, in domain name order.
    pub domains: BTreeMap<String, u32>,
    /// The skew over all eligible domains, as kube-scheduler computes it.
    pub skew: u32,
    /// The skew over the domains that can take the group's pods now.
    pub actionable_skew: u32,
}

/// One constraint of a group, at the start of rebalancing and at the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConstraintCounts {
    /// The constraint's topology key.
    pub topology_key: String,
    /// Its maxSkew.
    pub max_skew: i32,
    /// When rebalancing started (null when it never did).
    pub at_start: Option<DomainCounts>,
    /// At the end of the run.
    pub at_end: Option<DomainCounts>,
}

/// A rebalance that a later scenario event ended (the group's next move began a new one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EarlierRebalance {
    /// Seconds into the run of its first move.
    pub started: u64,
    /// The planner's fewest possible moves when it started.
    pub lower_bound_moves: u32,
    /// Moves made.
    pub moves: u32,
    /// The most moves in flight at once.
    pub max_in_flight: u32,
}

/// One policy group's rebalancing: the last one, after the last scenario event that needed
/// one, and those before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupReport {
    /// The namespace.
    pub namespace: String,
    /// The SpreadPolicy.
    pub policy: Option<String>,
    /// The group, as `plan` names it.
    pub group: String,
    /// Seconds into the run of the group's first move (null: it never moved).
    pub rebalance_started: Option<u64>,
    /// The planner's fewest possible moves when rebalancing started.
    pub lower_bound_moves: Option<u32>,
    /// The planner's fewest possible moves at the end (0 when balanced).
    pub lower_bound_moves_at_end: u32,
    /// Moves made (evictions and rollout restarts of the group's pods).
    pub moves: u32,
    /// The most moves in flight at once.
    pub max_in_flight: u32,
    /// Per constraint, the domains at the start and at the end.
    pub constraints: Vec<ConstraintCounts>,
    /// Rebalances before the last one, each ended by a scenario event (a node going down,
    /// say) after which the group moved again.
    pub earlier_rebalances: Vec<EarlierRebalance>,
}

/// A move waiting for its workload to be whole again.
#[derive(Debug)]
struct Flight {
    group: usize,
    namespace: String,
    workload: String,
}

/// Follows the policy groups of a run.
#[derive(Debug)]
pub struct GroupRecorder {
    store: Store,
    kinds: Vec<ResourceId>,
    /// The objects at the previous observation: the state before any move seen now.
    previous: Vec<Vec<std::sync::Arc<Object>>>,
    groups: Vec<GroupReport>,
    /// Workloads (`namespace`, `Kind/name`) to their groups: a namespaced policy's, and those
    /// of the cluster policies that count it. A move counts for each.
    members: BTreeMap<(String, String), Vec<usize>>,
    flights: Vec<Flight>,
    moves_seen: usize,
    /// Groups whose next move starts a new rebalance: a scenario event happened since.
    new_round: std::collections::BTreeSet<usize>,
}

impl GroupRecorder {
    /// A recorder reading `store`.
    pub fn new(store: &Store) -> Self {
        let kinds = PLANNED_KINDS
            .iter()
            .filter_map(|(group, version, plural)| store.catalog().find(group, version, plural))
            .collect();
        Self {
            store: store.clone(),
            kinds,
            previous: Vec::new(),
            groups: Vec::new(),
            members: BTreeMap::new(),
            flights: Vec::new(),
            moves_seen: 0,
            new_round: std::collections::BTreeSet::new(),
        }
    }

    /// Takes in the moves recorded so far (`moves`, oldest first) and the state now.
    pub fn observe(&mut self, cache: &Cache, now: Timestamp, now_seconds: u64, moves: &[Move]) {
        let fresh = moves.get(self.moves_seen..).unwrap_or_default();
        if !fresh.is_empty() {
            let before = plan_of(&self.previous, now);
            for moved in fresh {
                self.take_move(moved, before.as_ref(), now_seconds);
            }
            self.moves_seen = moves.len();
        }
        self.flights
            .retain(|flight| !whole(cache, &flight.namespace, &flight.workload));
        let mut in_flight: BTreeMap<usize, u32> = BTreeMap::new();
        for flight in &self.flights {
            *in_flight.entry(flight.group).or_default() += 1;
        }
        for (group, count) in in_flight {
            if let Some(report) = self.groups.get_mut(group) {
                report.max_in_flight = report.max_in_flight.max(count);
            }
        }
        self.previous = self.kinds.iter().map(|id| self.store.all(*id)).collect();
    }

    /// A scenario event happened: each group's next move starts a new rebalance.
    pub fn scenario_event(&mut self) {
        self.new_round.extend(0..self.groups.len());
    }

    fn take_move(&mut self, moved: &Move, before: Option<&Plan>, t: u64) {
        let Some((namespace, _)) = moved.pod.split_once('/') else {
            return;
        };
        let Some(workload) = moved.workload.clone() else {
            return;
        };
        let key = (namespace.to_owned(), workload.clone());
        if let Some(plan) = before {
            self.start_groups_of(plan, namespace, &workload, t);
        }
        let groups = self.members.get(&key).cloned().unwrap_or_default();
        for group in groups {
            if self.new_round.remove(&group)
                && let Some(plan) = before
            {
                self.restart_round(group, plan, t);
            }
            if let Some(report) = self.groups.get_mut(group) {
                report.moves += 1;
            }
            self.flights.push(Flight {
                group,
                namespace: namespace.to_owned(),
                workload: workload.clone(),
            });
        }
    }

    /// Files the group's current rebalance as an earlier one and starts the next from `plan`.
    fn restart_round(&mut self, index: usize, plan: &Plan, t: u64) {
        let Some(report) = self.groups.get_mut(index) else {
            return;
        };
        let Some(group) = plan.groups.iter().find(|g| {
            *g.namespace == *report.namespace
                && g.policy == report.policy
                && g.group == report.group
        }) else {
            return;
        };
        if let (Some(started), Some(lower_bound_moves)) =
            (report.rebalance_started, report.lower_bound_moves)
        {
            report.earlier_rebalances.push(EarlierRebalance {
                started,
                lower_bound_moves,
                moves: report.moves,
                max_in_flight: report.max_in_flight,
            });
        }
        report.rebalance_started = Some(t);
        report.lower_bound_moves = Some(group.lower_bound_moves);
        report.moves = 0;
        report.max_in_flight = 0;
        report.constraints = starting_counts(group);
    }

    /// Starts the reports of the groups that hold the workload and are not followed yet
    /// (the first namespaced group that holds it, and every cluster group), from the plan
    /// before its first move.
    fn start_groups_of(&mut self, plan: &Plan, namespace: &str, workload: &str, t: u64) {
        let qualified = format!("{namespace}/{workload}");
        let holds = |group: &GroupPlan, name: &str| {
            group.workloads.iter().any(|w| w.to_string() == name)
                || group
                    .left_alone
                    .iter()
                    .any(|w| w.workload.to_string() == name)
        };
        let namespaced = plan
            .groups
            .iter()
            .find(|group| &*group.namespace == namespace && holds(group, workload));
        let across = plan
            .groups
            .iter()
            .filter(|group| group.namespace.is_empty() && holds(group, &qualified));
        for group in namespaced.into_iter().chain(across) {
            let followed = self.groups.iter().any(|report| {
                report.namespace == *group.namespace
                    && report.policy == group.policy
                    && report.group == group.group
            });
            if !followed {
                self.follow(group, t);
            }
        }
    }

    /// Starts the report of one group, from the plan before its first move.
    fn follow(&mut self, group: &GroupPlan, t: u64) {
        let index = self.groups.len();
        for member in group
            .workloads
            .iter()
            .chain(group.left_alone.iter().map(|w| &w.workload))
        {
            // A cluster group names its workloads with their namespace.
            let key = (
                member.namespace_or(&group.namespace).to_owned(),
                format!("{}/{}", member.kind.as_str(), member.name),
            );
            self.members.entry(key).or_default().push(index);
        }
        self.groups.push(GroupReport {
            namespace: group.namespace.to_string(),
            policy: group.policy.clone(),
            group: group.group.clone(),
            rebalance_started: Some(t),
            lower_bound_moves: Some(group.lower_bound_moves),
            lower_bound_moves_at_end: 0,
            moves: 0,
            max_in_flight: 0,
            constraints: starting_counts(group),
            earlier_rebalances: Vec::new(),
        });
    }

    /// The report of every policy group: those that moved, and those that never needed to.
    pub fn finish(mut self, now: Timestamp) -> Vec<GroupReport> {
        let current: Vec<_> = self.kinds.iter().map(|id| self.store.all(*id)).collect();
        let Some(end) = plan_of(&current, now) else {
            return self.groups;
        };
        for group in &end.groups {
            let known = self.groups.iter().position(|report| {
                report.namespace == *group.namespace
                    && report.policy == group.policy
                    && report.group == group.group
            });
            let index = known.unwrap_or_else(|| {
                self.groups.push(GroupReport {
                    namespace: group.namespace.to_string(),
                    policy: group.policy.clone(),
                    group: group.group.clone(),
                    rebalance_started: None,
                    lower_bound_moves: None,
                    lower_bound_moves_at_end: 0,
                    moves: 0,
                    max_in_flight: 0,
                    constraints: Vec::new(),
                    earlier_rebalances: Vec::new(),
                });
                self.groups.len() - 1
            });
            let Some(report) = self.groups.get_mut(index) else {
                continue;
            };
            report.lower_bound_moves_at_end = group.lower_bound_moves;
            for (topology_key, max_skew, counts) in counts_of(group) {
                match report
                    .constraints
                    .iter_mut()
                    .find(|c| c.topology_key == topology_key)
                {
                    Some(constraint) => constraint.at_end = Some(counts),
                    None => report.constraints.push(ConstraintCounts {
                        topology_key,
                        max_skew,
                        at_start: None,
                        at_end: Some(counts),
                    }),
                }
            }
        }
        self.groups
    }
}

/// Plans the objects as `kube-spread plan` would plan a snapshot of them.
fn plan_of(objects: &[Vec<std::sync::Arc<Object>>], now: Timestamp) -> Option<Plan> {
    if objects.is_empty() {
        return None;
    }
    let items: Vec<Value> = objects
        .iter()
        .flatten()
        .filter_map(|object| object.value().ok())
        .collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    let snapshot = crate::snapshot::read(&list.to_string()).ok()?;
    Some(plan(
        &snapshot.cluster,
        &PlanOptions {
            now,
            namespace: None,
            policy: None,
            source: Source::Policies,
        },
    ))
}

/// Per constraint of a group's plan, its counts as a rebalance starts from them.
fn starting_counts(group: &GroupPlan) -> Vec<ConstraintCounts> {
    counts_of(group)
        .into_iter()
        .map(|(topology_key, max_skew, counts)| ConstraintCounts {
            topology_key,
            max_skew,
            at_start: Some(counts),
            at_end: None,
        })
        .collect()
}

/// Per constraint of a group's plan: topology key, maxSkew, and the domains' counts and skew.
fn counts_of(group: &GroupPlan) -> Vec<(String, i32, DomainCounts)> {
    group
        .constraints
        .iter()
        .map(|constraint| {
            (
                constraint.topology_key.clone(),
                constraint.max_skew,
                DomainCounts {
                    domains: constraint
                        .domains
                        .iter()
                        .map(|domain| (domain.name, domain.pods))
                        .collect(),
                    skew: constraint.skew,
                    actionable_skew: constraint.actionable_skew,
                },
            )
        })
        .collect()
}

/// `Kind/name` of the workload a pod belongs to: its ReplicaSet's Deployment, or its owner.
pub(super) fn workload_of(
    cache: &Cache,
    namespace: &str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<String> {
    let owner = controller_of(meta)?;
    if owner.kind == "ReplicaSet"
        && let Some(deployment) = cache
            .replica_sets
            .get(namespace, &owner.name)
            .and_then(|rs| controller_of(&rs.metadata).cloned())
    {
        return Some(format!("{}/{}", deployment.kind, deployment.name));
    }
    Some(format!("{}/{}", owner.kind, owner.name))
}

/// Whether a workload has as many Ready, bound, running pods as it wants.
fn whole(cache: &Cache, namespace: &str, workload: &str) -> bool {
    let Some((kind, name)) = workload.split_once('/') else {
        return true;
    };
    let desired = match kind {
        "Deployment" => cache
            .deployments
            .get(namespace, name)
            .and_then(|d| d.spec.as_ref().and_then(|s| s.replicas)),
        "StatefulSet" => cache
            .stateful_sets
            .get(namespace, name)
            .and_then(|s| s.spec.as_ref().and_then(|s| s.replicas)),
        _ => return true,
    };
    let Some(desired) = desired else {
        return true;
    };
    let ready = cache
        .pods
        .in_namespace(namespace)
        .filter(|pod| !status::terminating(pod) && status::is_ready(pod))
        .filter(|pod| workload_of(cache, namespace, &pod.metadata).as_deref() == Some(workload))
        .count();
    i32::try_from(ready).unwrap_or(i32::MAX) >= desired
}
