//! kube-scheduler: binds Pending pods where the planner's own filters (`explain::placements`)
//! and VolumeBinding admit them, scored with the default plugins and weights, ties drawn from
//! the seed; marks the rest Unschedulable and retries them on change. It never preempts.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod as KubePod;
use serde_json::{Value, json};

use super::{
    Context, SCHEDULER, Write, log_write,
    status::{self, node_of, terminating},
};
use crate::{
    api::{HOSTNAME_LABEL, ZONE_LABEL},
    planner::{
        eligibility::{Placement, Refusal},
        explain::placements,
        index::{Index, NodeId, PodId},
        model::{
            Cluster, NodeInclusionPolicy, Pod, PodVolume, Resources, TaintEffect, WhenUnsatisfiable,
        },
        protection::volumes_reach,
        selector::LabelSelector,
        topology::{Constraint, DomainCache, spread_scores},
    },
    sim::{Subresource, prng::Prng},
    snapshot::convert::{self, Interner},
};

/// The annotation the scheduler puts on a WaitForFirstConsumer claim: the node it chose.
pub const SELECTED_NODE_ANNOTATION: &str = "volume.kubernetes.io/selected-node";

/// kube-scheduler's default score plugin weights (v1.33).
const WEIGHT_TAINT_TOLERATION: i64 = 3;
const WEIGHT_SPREAD: i64 = 2;
const WEIGHT_FIT: i64 = 1;
const WEIGHT_BALANCED: i64 = 1;
const MAX_NODE_SCORE: i64 = 100;

/// The scheduler: its tie-break draws and what it last saw.
#[derive(Debug)]
pub struct Scheduler {
    random: Prng,
}

/// Where the scheduler would put a pod, and why not elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The chosen node.
    Bind(String),
    /// No node passed the filters; the PodScheduled message.
    Unschedulable(String),
}

impl Scheduler {
    /// A scheduler drawing ties from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            random: Prng::new(seed ^ 0x7363_6865_6475_6c65),
        }
    }

    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        let cache = context.cache;
        let mut pending: Vec<&std::sync::Arc<KubePod>> = cache
            .pods
            .iter()
            .filter(|pod| wants_scheduling(pod))
            .collect();
        if pending.is_empty() {
            return None;
        }
        pending.sort_by_key(|pod| {
            (
                std::cmp::Reverse(pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)),
                pod.metadata.creation_timestamp.as_ref().map(|t| t.0),
                pod.metadata.namespace.clone(),
                pod.metadata.name.clone(),
            )
        });
        let mut model = Model::of(context);
        for pod in pending {
            let Some(pod_id) = model.position(pod) else {
                continue;
            };
            let decision = model.decide(context, pod, pod_id, &mut self.random);
            match decision {
                Decision::Bind(node) => {
                    if log_write(bind(context, pod, &node)).is_some() {
                        model.place(pod_id, &node);
                    }
                }
                Decision::Unschedulable(message) => {
                    log_write(mark_unschedulable(context, pod, &message));
                }
            }
        }
        None
    }
}

/// Whether the default scheduler should place this pod now.
fn wants_scheduling(pod: &KubePod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    node_of(pod).is_none()
        && !terminating(pod)
        && !matches!(status::phase(pod), "Succeeded" | "Failed")
        && spec
            .scheduler_name
            .as_deref()
            .is_none_or(|name| name.is_empty() || name == "default-scheduler")
        && spec.scheduling_gates.as_ref().is_none_or(Vec::is_empty)
}

/// The planner's model of the cluster, kept current as the scheduler binds pods.
#[derive(Debug)]
pub struct Model {
    /// The cluster.
    pub cluster: Cluster,
    positions: BTreeMap<(String, String), PodId>,
    domains: DomainCache,
}

impl Model {
    /// The model of what the control plane sees now.
    pub(crate) fn of(context: &Context<'_>) -> Self {
        Self::from_cache(context.cache)
    }

    /// The model of a cache.
    pub fn from_cache(cache: &super::Cache) -> Self {
        let mut interner = Interner::new();
        let mut cluster = Cluster {
            nodes: cache
                .nodes
                .iter()
                .filter_map(|node| convert::node(node).ok())
                .collect(),
            ..Cluster::default()
        };
        let mut positions = BTreeMap::new();
        for pod in cache.pods.iter() {
            if let Ok(converted) = convert::pod(pod, &mut interner) {
                positions.insert(
                    (converted.namespace.to_string(), converted.name.clone()),
                    cluster.pods.len(),
                );
                cluster.pods.push(converted);
            }
        }
        cluster.claims = cache
            .claims
            .iter()
            .filter_map(|claim| convert::claim(claim).ok())
            .collect();
        cluster.volumes = cache
            .volumes
            .iter()
            .filter_map(|volume| convert::volume(volume).ok())
            .collect();
        Self {
            cluster,
            positions,
            domains: DomainCache::default(),
        }
    }

    /// The names of the nodes the scheduler would consider for a pod of the model (every
    /// filter passed, VolumeBinding included); None when the pod is not in the model.
    pub fn feasible_nodes(
        &mut self,
        cache: &super::Cache,
        namespace: &str,
        name: &str,
    ) -> Option<Vec<String>> {
        let pod_id = *self
            .positions
            .get(&(namespace.to_owned(), name.to_owned()))?;
        let (nodes, _) = self.feasible(cache, pod_id);
        Some(
            nodes
                .into_iter()
                .map(|id| self.cluster.nodes[id].name.clone())
                .collect(),
        )
    }

    fn position(&self, pod: &KubePod) -> Option<PodId> {
        let key = (
            pod.metadata.namespace.clone().unwrap_or_default(),
            pod.metadata.name.clone().unwrap_or_default(),
        );
        self.positions.get(&key).copied()
    }

    fn place(&mut self, pod_id: PodId, node: &str) {
        if let Some(pod) = self.cluster.pods.get_mut(pod_id) {
            pod.node_name = Some(node.into());
        }
    }

    /// The nodes that pass every filter for a pod of the model, with the reasons the others
    /// fail (the first failing filter's).
    pub fn feasible(&mut self, cache: &super::Cache, pod_id: PodId) -> (Vec<NodeId>, Vec<Refusal>) {
        let index = Index::new(&self.cluster);
        feasible_nodes(&index, &mut self.domains, cache, pod_id)
    }

    fn decide(
        &mut self,
        context: &Context<'_>,
        kube_pod: &KubePod,
        pod_id: PodId,
        random: &mut Prng,
    ) -> Decision {
        let index = Index::new(&self.cluster);
        let (feasible, refusals) = feasible_nodes(&index, &mut self.domains, context.cache, pod_id);
        if feasible.is_empty() {
            return Decision::Unschedulable(unschedulable_message(
                index.cluster.nodes.len(),
                &refusals,
                missing_claim(context.cache, index.pod(pod_id)),
            ));
        }
        let chosen = match feasible.as_slice() {
            [only] => *only,
            _ => {
                let scores = scores(&index, context.cache, kube_pod, pod_id, &feasible);
                select_host(&feasible, &scores, random)
            }
        };
        Decision::Bind(index.node(chosen).name.clone())
    }
}

/// A claim of the pod that does not exist.
fn missing_claim(cache: &super::Cache, pod: &Pod) -> Option<String> {
    pod.spec.volumes.iter().find_map(|volume| match volume {
        PodVolume::Claim(name) if cache.claims.get(&pod.namespace, name).is_none() => {
            Some(name.clone())
        }
        _ => None,
    })
}

fn feasible_nodes(
    index: &Index<'_>,
    domains: &mut DomainCache,
    cache: &super::Cache,
    pod_id: PodId,
) -> (Vec<NodeId>, Vec<Refusal>) {
    let pod = index.pod(pod_id);
    if missing_claim(cache, pod).is_some() {
        return (Vec::new(), Vec::new());
    }
    let verdicts = placements(index, domains, pod, &pod.labels, &pod.spec, None);
    let mut feasible = Vec::new();
    let mut refusals = Vec::new();
    for (node_id, verdict) in verdicts.into_iter().enumerate() {
        if let Some(refusal) = verdict.refusals.into_iter().next() {
            refusals.push(refusal);
        } else if !volumes_reach(index, pod, index.node(node_id)) {
            refusals.push(Refusal::VolumeNodeAffinity);
        } else {
            feasible.push(node_id);
        }
    }
    (feasible, refusals)
}

/// `0/3 nodes are available: ...`, with kube-scheduler's phrase per failing filter.
fn unschedulable_message(nodes: usize, refusals: &[Refusal], missing: Option<String>) -> String {
    if let Some(claim) = missing {
        return format!("persistentvolumeclaim \"{claim}\" not found");
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for refusal in refusals {
        let phrase = match refusal {
            Refusal::NodeName => "node(s) didn't match the requested node name".to_owned(),
            Refusal::Unschedulable => "node(s) were unschedulable".to_owned(),
            Refusal::NodeAffinity => "node(s) didn't match Pod's node affinity/selector".to_owned(),
            Refusal::TaintNotTolerated { taint } => {
                let (key_value, _) = taint.rsplit_once(':').unwrap_or((taint.as_str(), ""));
                let (key, value) = key_value.split_once('=').unwrap_or((key_value, ""));
                format!("node(s) had untolerated taint {{{key}: {value}}}")
            }
            Refusal::InsufficientResources { resource: "pods" } => "Too many pods".to_owned(),
            Refusal::InsufficientResources { resource } => format!("Insufficient {resource}"),
            Refusal::HostPortTaken { .. } => {
                "node(s) didn't have free ports for the requested pod ports".to_owned()
            }
            Refusal::VolumeNodeAffinity => "node(s) had volume node affinity conflict".to_owned(),
            Refusal::MissingTopologyKey { .. } => {
                "node(s) didn't match pod topology spread constraints (missing required label)"
                    .to_owned()
            }
            Refusal::SkewExceeded { .. } => {
                "node(s) didn't match pod topology spread constraints".to_owned()
            }
        };
        *counts.entry(phrase).or_default() += 1;
    }
    let reasons: Vec<String> = counts
        .iter()
        .map(|(phrase, count)| format!("{count} {phrase}"))
        .collect();
    format!(
        "0/{nodes} nodes are available: {}. preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling.",
        reasons.join(", ")
    )
}

/// The weighted sum of the default score plugins for each feasible node.
fn scores(
    index: &Index<'_>,
    cache: &super::Cache,
    kube_pod: &KubePod,
    pod_id: PodId,
    feasible: &[NodeId],
) -> Vec<i64> {
    let pod = index.pod(pod_id);
    let taint = taint_toleration_scores(index, pod, feasible);
    let fit = least_allocated_scores(index, pod, feasible);
    let balanced = balanced_allocation_scores(index, pod, feasible);
    let (constraints, require_all) = spread_constraints(cache, kube_pod, pod);
    let placement = Placement::of(&pod.spec);
    let spread = spread_scores(
        index,
        &pod.namespace,
        &placement,
        &constraints,
        require_all,
        feasible,
    );
    (0..feasible.len())
        .map(|i| {
            WEIGHT_TAINT_TOLERATION * taint[i]
                + WEIGHT_FIT * fit[i]
                + balanced.as_ref().map_or(0, |b| WEIGHT_BALANCED * b[i])
                + spread.as_ref().map_or(0, |s| WEIGHT_SPREAD * s[i])
        })
        .collect()
}

/// `selectHost`: the highest score; among equals, each is kept with probability 1/n as they
/// are met (reservoir sampling), drawn from the seeded generator.
fn select_host(feasible: &[NodeId], scores: &[i64], random: &mut Prng) -> NodeId {
    let mut selected = feasible[0];
    let mut best = scores[0];
    let mut ties: u64 = 1;
    for (&node, &score) in feasible.iter().zip(scores).skip(1) {
        if score > best {
            best = score;
            selected = node;
            ties = 1;
        } else if score == best {
            ties += 1;
            if random.next_u64().is_multiple_of(ties) {
                selected = node;
            }
        }
    }
    selected
}

/// TaintToleration's Score and reversed NormalizeScore: fewer untolerated PreferNoSchedule
/// taints score higher.
fn taint_toleration_scores(index: &Index<'_>, pod: &Pod, feasible: &[NodeId]) -> Vec<i64> {
    let tolerations: Vec<_> = pod
        .spec
        .tolerations
        .iter()
        .filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule))
        .collect();
    let counts: Vec<i64> = feasible
        .iter()
        .map(|&node| {
            let count = index
                .node(node)
                .taints
                .iter()
                .filter(|taint| taint.effect == TaintEffect::PreferNoSchedule)
                .filter(|taint| !tolerations.iter().any(|t| t.tolerates(taint)))
                .count();
            i64::try_from(count).unwrap_or(i64::MAX)
        })
        .collect();
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|count| {
            if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE - MAX_NODE_SCORE * count / max
            }
        })
        .collect()
}

/// The node's committed requests as the scorers read them: non-zero (defaults for containers
/// that request nothing) or as requested.
fn committed(index: &Index<'_>, node: NodeId, nonzero: bool) -> Resources {
    index
        .pods_on(node)
        .iter()
        .map(|&pod| {
            let spec = &index.pod(pod).spec;
            if nonzero {
                spec.nonzero_requests
            } else {
                spec.requests
            }
        })
        .fold(Resources::default(), Resources::plus)
}

/// NodeResourcesFit with the LeastAllocated strategy (cpu and memory, weight 1 each), on
/// non-zero requests.
fn least_allocated_scores(index: &Index<'_>, pod: &Pod, feasible: &[NodeId]) -> Vec<i64> {
    let request = pod.spec.nonzero_requests;
    feasible
        .iter()
        .map(|&node| {
            let allocatable = index.node(node).allocatable;
            let used = committed(index, node, true).plus(request);
            let pairs = [
                (used.cpu_millis, allocatable.cpu_millis),
                (used.memory_bytes, allocatable.memory_bytes),
            ];
            let (mut total, mut weights) = (0, 0);
            for (requested, capacity) in pairs {
                if capacity == 0 {
                    continue;
                }
                let score = if requested > capacity {
                    0
                } else {
                    (capacity - requested) * MAX_NODE_SCORE / capacity
                };
                total += score;
                weights += 1;
            }
            if weights == 0 { 0 } else { total / weights }
        })
        .collect()
}

/// NodeResourcesBalancedAllocation on actual requests: 100 × (1 − the spread of the cpu and
/// memory fractions); skipped (None) for a pod that requests neither, as v1.33 does.
fn balanced_allocation_scores(
    index: &Index<'_>,
    pod: &Pod,
    feasible: &[NodeId],
) -> Option<Vec<i64>> {
    let request = pod.spec.requests;
    if request.cpu_millis == 0 && request.memory_bytes == 0 {
        return None;
    }
    Some(
        feasible
            .iter()
            .map(|&node| {
                let allocatable = index.node(node).allocatable;
                let used = committed(index, node, false).plus(request);
                let mut fractions = Vec::new();
                for (requested, capacity) in [
                    (used.cpu_millis, allocatable.cpu_millis),
                    (used.memory_bytes, allocatable.memory_bytes),
                ] {
                    if capacity == 0 {
                        continue;
                    }
                    fractions.push((requested as f64 / capacity as f64).min(1.0));
                }
                let std = match fractions.as_slice() {
                    [a, b] => ((a - b) / 2.0).abs(),
                    _ => 0.0,
                };
                ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
            })
            .collect(),
    )
}

/// The ScheduleAnyway constraints PodTopologySpread scores with, and whether nodes must carry
/// every topology key: the pod's own when it has any constraint, otherwise the system default
/// constraints (hostname maxSkew 3, zone maxSkew 5) over the selectors of the ReplicaSets and
/// StatefulSets that select the pod.
fn spread_constraints(
    cache: &super::Cache,
    kube_pod: &KubePod,
    pod: &Pod,
) -> (Vec<Constraint>, bool) {
    if !pod.spec.spread_constraints.is_empty() {
        let own = pod
            .spec
            .spread_constraints
            .iter()
            .filter(|c| c.when_unsatisfiable == WhenUnsatisfiable::ScheduleAnyway)
            .map(|c| Constraint::of_pod(c, &pod.labels))
            .collect();
        return (own, true);
    }
    let namespace = kube_pod.metadata.namespace.as_deref().unwrap_or_default();
    let mut requirements = Vec::new();
    let selectors = cache
        .replica_sets
        .in_namespace(namespace)
        .filter_map(|rs| rs.spec.as_ref().map(|s| s.selector.clone()))
        .chain(
            cache
                .stateful_sets
                .in_namespace(namespace)
                .filter_map(|s| s.spec.as_ref().map(|s| s.selector.clone())),
        );
    for selector in selectors {
        if let Ok(LabelSelector::Requirements(found)) =
            crate::snapshot::selector::label_selector(Some(&selector))
            && !found.is_empty()
            && found.iter().all(|r| r.matches(&pod.labels))
        {
            requirements.extend(found);
        }
    }
    if requirements.is_empty() {
        return (Vec::new(), false);
    }
    let selector = LabelSelector::from_requirements(requirements);
    let constraint = |key: &str, max_skew| Constraint {
        max_skew,
        topology_key: key.to_owned(),
        when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
        min_domains: 1,
        node_affinity_policy: NodeInclusionPolicy::Honor,
        node_taints_policy: NodeInclusionPolicy::Ignore,
        selector: selector.clone(),
    };
    (
        vec![constraint(HOSTNAME_LABEL, 3), constraint(ZONE_LABEL, 5)],
        false,
    )
}

/// Binds the pod, after naming the node on its unbound claims (VolumeBinding's PreBind for
/// WaitForFirstConsumer claims).
fn bind(context: &Context<'_>, pod: &KubePod, node: &str) -> Result<(), Write> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let Some(claim) = &volume.persistent_volume_claim else {
            continue;
        };
        let unbound = context
            .cache
            .claims
            .get(namespace, &claim.claim_name)
            .is_some_and(|c| {
                c.spec
                    .as_ref()
                    .and_then(|s| s.volume_name.as_deref())
                    .is_none_or(str::is_empty)
            });
        if unbound {
            context.modify(
                context.cache.ids.claims,
                namespace,
                &claim.claim_name,
                Subresource::Main,
                SCHEDULER,
                |value| {
                    if value
                        .pointer("/metadata/annotations")
                        .and_then(|a| a.get(SELECTED_NODE_ANNOTATION))
                        .is_some()
                    {
                        return false;
                    }
                    let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut)
                    else {
                        return false;
                    };
                    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
                    if let Some(annotations) = annotations.as_object_mut() {
                        annotations.insert(SELECTED_NODE_ANNOTATION.to_owned(), json!(node));
                    }
                    true
                },
            )?;
        }
    }
    context
        .store
        .bind(namespace, name, node)
        .map(|_| ())
        .map_err(|source| Write::BindPod {
            pod: format!("{namespace}/{name}"),
            node: node.to_owned(),
            source,
        })
}

/// PodScheduled=False, reason Unschedulable (written only when it changes).
fn mark_unschedulable(context: &Context<'_>, pod: &KubePod, message: &str) -> Result<(), Write> {
    let now = context.stamp();
    context
        .modify(
            context.cache.ids.pods,
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default(),
            Subresource::Status,
            SCHEDULER,
            |value| {
                status::set_condition(
                    value,
                    json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                           "message": message, "lastProbeTime": null, "lastTransitionTime": now}),
                )
            },
        )
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_are_broken_by_the_seed_and_the_best_score_always_wins() {
        let mut random = Prng::new(7);
        let nodes = [0, 1, 2];
        assert_eq!(select_host(&nodes, &[10, 90, 50], &mut random), 1);
        let picks: std::collections::BTreeSet<NodeId> = (0..64)
            .map(|_| select_host(&nodes, &[5, 5, 5], &mut random))
            .collect();
        assert_eq!(picks.len(), 3, "every tied node gets picked sometimes");
        let again: Vec<NodeId> = {
            let mut a = Prng::new(3);
            (0..16)
                .map(|_| select_host(&nodes, &[1, 1, 1], &mut a))
                .collect()
        };
        let mut b = Prng::new(3);
        let same: Vec<NodeId> = (0..16)
            .map(|_| select_host(&nodes, &[1, 1, 1], &mut b))
            .collect();
        assert_eq!(again, same);
    }

    #[test]
    fn the_unschedulable_message_counts_nodes_per_reason() {
        let refusals = [
            Refusal::InsufficientResources { resource: "cpu" },
            Refusal::Unschedulable,
            Refusal::InsufficientResources { resource: "cpu" },
        ];
        assert_eq!(
            unschedulable_message(3, &refusals, None),
            "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }
}
