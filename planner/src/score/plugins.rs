//! The default score plugins over a cycle's feasible nodes, each normalized as v1.33
//! normalizes it, and the arithmetic of the resource and image scores.

use rustc_hash::FxHashMap as HashMap;

use super::{
    MAX_NODE_SCORE, Plugin, Scores,
    cycle::{Cycle, Target, TopologyCounts, add_at},
};
use crate::{
    index::NodeId,
    labels::{HOSTNAME_LABEL, Labels, POD_TEMPLATE_HASH, ZONE_LABEL},
    model::{NodeInclusionPolicy, Resources, TaintEffect, WhenUnsatisfiable, WorkloadKind},
    selector::LabelSelector,
    topology::{self, Constraint},
};

const MB: i64 = 1024 * 1024;
/// ImageLocality's floor: images smaller than this in sum score nothing.
const MIN_IMAGE_THRESHOLD: i64 = 23 * MB;
/// ImageLocality's ceiling, per container.
const MAX_CONTAINER_IMAGE_THRESHOLD: i64 = 1000 * MB;
/// InterPodAffinity's `hardPodAffinityWeight` default: what an existing pod's required
/// affinity to the incoming pod weighs in scoring.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

impl Cycle<'_, '_, '_> {
    /// Every plugin's normalized score for each feasible node, in order.
    pub(super) fn score(&self, feasible: &[NodeId]) -> Vec<Scores> {
        let mut scores = vec![Scores::default(); feasible.len()];
        if feasible.is_empty() {
            return scores;
        }
        let plugins = [
            (
                Plugin::TaintToleration,
                Some(self.taint_toleration(feasible)),
            ),
            (Plugin::NodeAffinity, self.node_affinity(feasible)),
            (Plugin::PodTopologySpread, self.spread_scores(feasible)),
            (Plugin::InterPodAffinity, self.inter_pod_scores(feasible)),
            (
                Plugin::NodeResourcesFit,
                Some(self.least_allocated(feasible)),
            ),
            (
                Plugin::NodeResourcesBalancedAllocation,
                self.balanced_allocation(feasible),
            ),
            (Plugin::ImageLocality, Some(self.image_locality(feasible))),
        ];
        for (plugin, plugin_scores) in plugins {
            for (node_scores, score) in scores.iter_mut().zip(plugin_scores.into_iter().flatten()) {
                node_scores.set(plugin, score);
            }
        }
        scores
    }

    /// TaintToleration: untolerated PreferNoSchedule taints, fewer scoring higher. Only
    /// tolerations for PreferNoSchedule (or every effect) count.
    fn taint_toleration(&self, feasible: &[NodeId]) -> Vec<i64> {
        let tolerations: Vec<_> = self
            .pod
            .spec
            .tolerations
            .iter()
            .filter(|t| t.effect.is_none_or(|e| e == TaintEffect::PreferNoSchedule))
            .collect();
        let counts: Vec<i64> = feasible
            .iter()
            .map(|&node| {
                let added = self.scene.added_taints.get(&node).into_iter().flatten();
                let count = self
                    .index
                    .node(node)
                    .taints
                    .iter()
                    .chain(added)
                    .filter(|taint| taint.effect == TaintEffect::PreferNoSchedule)
                    .filter(|taint| !tolerations.iter().any(|t| t.tolerates(taint)))
                    .count();
                i64::try_from(count).unwrap_or(i64::MAX)
            })
            .collect();
        default_normalize(&counts, true)
    }

    /// NodeAffinity: the summed weights of the preferred terms a node matches; skips a pod
    /// that prefers nothing.
    fn node_affinity(&self, feasible: &[NodeId]) -> Option<Vec<i64>> {
        let preferred = &self.pod.spec.preferred_affinity;
        if preferred.is_empty() {
            return None;
        }
        let raw: Vec<i64> = feasible
            .iter()
            .map(|&node| {
                let node = self.index.node(node);
                preferred
                    .iter()
                    .filter(|term| term.weight != 0)
                    .filter(|term| term.preference.matches(&node.name, &node.labels))
                    .map(|term| i64::from(term.weight))
                    .sum()
            })
            .collect();
        Some(default_normalize(&raw, false))
    }

    /// NodeResourcesFit, LeastAllocated on cpu and memory with weight 1 each, on non-zero
    /// requests: the share left free after placing the pod, averaged over the resources the
    /// node has.
    fn least_allocated(&self, feasible: &[NodeId]) -> Vec<i64> {
        let wanted = self.pod.spec.nonzero_requests;
        feasible
            .iter()
            .map(|&node| {
                let allocatable = self.index.node(node).allocatable;
                let (_, committed) = self.committed(node);
                least_allocated(committed.plus(wanted), allocatable)
            })
            .collect()
    }

    /// NodeResourcesBalancedAllocation on actual requests; skips a pod requesting nothing.
    fn balanced_allocation(&self, feasible: &[NodeId]) -> Option<Vec<i64>> {
        let wanted = self.pod.spec.requests;
        if wanted.cpu_millis == 0 && wanted.memory_bytes == 0 {
            return None;
        }
        Some(
            feasible
                .iter()
                .map(|&node| {
                    let allocatable = self.index.node(node).allocatable;
                    let (committed, _) = self.committed(node);
                    balanced_allocation(committed.plus(wanted), allocatable)
                })
                .collect(),
        )
    }

    /// ImageLocality: the pod's images already on the node, each scaled by the share of
    /// nodes holding it, between 23 MB and 1000 MB per container.
    fn image_locality(&self, feasible: &[NodeId]) -> Vec<i64> {
        let images = &self.pod.spec.images;
        let total_nodes = self.index.cluster.nodes.len().max(1) as f64;
        feasible
            .iter()
            .map(|&node| {
                let node = self.index.node(node);
                let sum: i64 = images
                    .iter()
                    .filter_map(|wanted| {
                        let held = node
                            .images
                            .iter()
                            .find(|image| image.names.iter().any(|name| **name == **wanted))?;
                        let nodes = self
                            .scene
                            .image_nodes
                            .get(wanted.as_str())
                            .copied()
                            .unwrap_or(0);
                        Some((held.size_bytes as f64 * (nodes as f64 / total_nodes)) as i64)
                    })
                    .sum();
                image_score(sum, images.len())
            })
            .collect()
    }

    /// The constraints PodTopologySpread scores with: the pod's ScheduleAnyway ones (then a
    /// node must carry every key), or the system defaults over its owner's selector.
    fn scoring_constraints(&self) -> (Vec<Constraint>, bool) {
        let spec = self.pod.spec;
        if !spec.spread_constraints.is_empty() {
            let own = spec
                .spread_constraints
                .iter()
                .filter(|c| c.when_unsatisfiable == WhenUnsatisfiable::ScheduleAnyway)
                .map(|c| Constraint::of_pod(c, self.pod.labels))
                .collect();
            return (own, true);
        }
        let Some(selector) = self.default_selector() else {
            return (Vec::new(), false);
        };
        let defaults = [(HOSTNAME_LABEL, 3), (ZONE_LABEL, 5)]
            .into_iter()
            .map(|(key, max_skew)| Constraint {
                max_skew,
                topology_key: key.to_owned(),
                when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
                min_domains: 1,
                node_affinity_policy: NodeInclusionPolicy::Honor,
                node_taints_policy: NodeInclusionPolicy::Ignore,
                selector: selector.clone(),
            })
            .collect();
        (defaults, false)
    }

    /// `helper.DefaultSelector`: the selector of the ReplicaSet or StatefulSet that controls
    /// the pod. A Deployment's ReplicaSet selects by the Deployment's selector and its own
    /// `pod-template-hash`. None when it selects nothing or is not known (a ReplicaSet of no
    /// Deployment; Services are not watched).
    fn default_selector(&self) -> Option<LabelSelector> {
        let owner = self.pod.owner?;
        let index = self.index;
        let namespace = self.pod.namespace;
        let selector = match &*owner.kind {
            "ReplicaSet" => {
                let id = *self.scene.replica_sets.get(&(namespace, &*owner.name))?;
                let replica_set = &index.cluster.replica_sets[id];
                let deployment = replica_set
                    .owner
                    .as_ref()
                    .filter(|owner| &*owner.kind == "Deployment")?;
                let workload = index.owning().workload_id(
                    namespace,
                    WorkloadKind::Deployment,
                    &deployment.name,
                )?;
                let hash = replica_set.template_hash.as_ref()?;
                index
                    .workload(workload)
                    .selector
                    .clone()
                    .with_labels(&Labels::from([(
                        POD_TEMPLATE_HASH.to_owned(),
                        hash.clone(),
                    )]))
            }
            "StatefulSet" => {
                let workload = index.owning().workload_id(
                    namespace,
                    WorkloadKind::StatefulSet,
                    &owner.name,
                )?;
                index.workload(workload).selector.clone()
            }
            _ => return None,
        };
        // A null selector adds no requirement; without any there is no default spreading.
        match selector {
            LabelSelector::Requirements(requirements) if !requirements.is_empty() => {
                Some(LabelSelector::Requirements(requirements))
            }
            _ => None,
        }
    }

    /// PodTopologySpread's PreScore, Score and NormalizeScore over the feasible nodes.
    fn spread_scores(&self, feasible: &[NodeId]) -> Option<Vec<i64>> {
        let (constraints, require_all) = self.scoring_constraints();
        if constraints.is_empty() {
            return None;
        }
        let index = self.index;
        let has_all_keys = |node: NodeId| {
            let labels = &index.node(node).labels;
            constraints
                .iter()
                .all(|c| labels.contains_key(&c.topology_key))
        };
        // PreScore: the domains of the feasible nodes; nodes lacking a key are ignored.
        let ignored: Vec<bool> = feasible
            .iter()
            .map(|&node| require_all && !has_all_keys(node))
            .collect();
        let mut domain_counts: Vec<HashMap<&str, i64>> =
            vec![HashMap::default(); constraints.len()];
        for (&node, _) in feasible.iter().zip(&ignored).filter(|(_, i)| !**i) {
            let labels = &index.node(node).labels;
            for (i, constraint) in constraints.iter().enumerate() {
                if constraint.topology_key != HOSTNAME_LABEL {
                    let value = labels
                        .get(&constraint.topology_key)
                        .map_or("", String::as_str);
                    domain_counts[i].entry(value).or_insert(0);
                }
            }
        }
        let scored = ignored.iter().filter(|i| !**i).count();
        let weights: Vec<f64> = constraints
            .iter()
            .zip(&domain_counts)
            .map(|(constraint, domains)| {
                let size = if constraint.topology_key == HOSTNAME_LABEL {
                    scored
                } else {
                    domains.len()
                };
                topology::normalizing_weight(size)
            })
            .collect();
        let per_node: Vec<HashMap<NodeId, i64>> = constraints
            .iter()
            .map(|c| self.matching_per_node(&c.selector))
            .collect();
        for (node_id, node) in index.cluster.nodes.iter().enumerate() {
            if require_all && !has_all_keys(node_id) {
                continue;
            }
            for (i, constraint) in constraints.iter().enumerate() {
                let honored = (constraint.node_affinity_policy == NodeInclusionPolicy::Ignore
                    || self.placement.admits(node))
                    && (constraint.node_taints_policy == NodeInclusionPolicy::Ignore
                        || self.placement.tolerates(node));
                if !honored || constraint.topology_key == HOSTNAME_LABEL {
                    continue;
                }
                let value = node
                    .labels
                    .get(&constraint.topology_key)
                    .map_or("", String::as_str);
                let count = per_node[i].get(&node_id).copied().unwrap_or(0);
                if let Some(total) = domain_counts[i].get_mut(value) {
                    *total += count;
                }
            }
        }
        let raw: Vec<i64> = feasible
            .iter()
            .zip(&ignored)
            .map(|(&node_id, ignored)| {
                if *ignored {
                    return 0;
                }
                let labels = &index.node(node_id).labels;
                let mut score = 0.0;
                for (i, constraint) in constraints.iter().enumerate() {
                    let Some(value) = labels.get(&constraint.topology_key) else {
                        continue;
                    };
                    let count = if constraint.topology_key == HOSTNAME_LABEL {
                        per_node[i].get(&node_id).copied().unwrap_or(0)
                    } else {
                        domain_counts[i].get(value.as_str()).copied().unwrap_or(0)
                    };
                    score += topology::score_for_count(count, constraint.max_skew, weights[i]);
                }
                score.round() as i64
            })
            .collect();
        // NormalizeScore: fewer matching pods score higher; ignored nodes score 0.
        let kept = || {
            raw.iter()
                .zip(&ignored)
                .filter(|(_, i)| !**i)
                .map(|(s, _)| *s)
        };
        let min = kept().min().unwrap_or(i64::MAX);
        let max = kept().max().unwrap_or(0).max(0);
        Some(
            raw.iter()
                .zip(&ignored)
                .map(|(score, ignored)| match (*ignored, max) {
                    (true, _) => 0,
                    (false, 0) => MAX_NODE_SCORE,
                    (false, max) => MAX_NODE_SCORE * (max + min - score) / max,
                })
                .collect(),
        )
    }

    /// InterPodAffinity's PreScore, Score and NormalizeScore: per topology pair the weights
    /// of the pod's preferred terms that existing pods match (anti-affinity negative), of
    /// existing pods' preferred terms and required affinity (weight 1) that the pod matches;
    /// skips when no term matched anywhere.
    fn inter_pod_scores(&self, feasible: &[NodeId]) -> Option<Vec<i64>> {
        let terms = &self.pod.spec.pod_affinity;
        let own = &self.own_namespace_labels;
        let prefers = !terms.preferred.is_empty() || !terms.preferred_anti.is_empty();
        let mut topology: TopologyCounts<'_> = HashMap::default();
        let mut touched = false;
        for pod_id in self.affinity_candidates(prefers) {
            let Some(node) = self.scene.node_of(pod_id) else {
                continue;
            };
            let labels = &self.index.node(node).labels;
            if labels.is_empty() {
                continue;
            }
            let existing = self.index.pod(pod_id);
            let existing_namespace = self.scene.namespace_labels(&existing.namespace);
            let existing_target = Target {
                namespace: &existing.namespace,
                labels: &existing.labels,
                namespace_labels: &existing_namespace,
            };
            let own_target = Target {
                namespace: self.pod.namespace,
                labels: self.pod.labels,
                namespace_labels: own,
            };
            let existing_terms = &existing.spec.pod_affinity;
            let weighed = [
                (&terms.preferred, self.pod.namespace, existing_target, 1),
                (
                    &terms.preferred_anti,
                    self.pod.namespace,
                    existing_target,
                    -1,
                ),
                (
                    &existing_terms.preferred,
                    &*existing.namespace,
                    own_target,
                    1,
                ),
                (
                    &existing_terms.preferred_anti,
                    &*existing.namespace,
                    own_target,
                    -1,
                ),
            ];
            for (weighted_terms, carrier, target, sign) in weighed {
                for weighted in weighted_terms {
                    if target.matched_by(&weighted.term, carrier)
                        && labels.contains_key(&weighted.term.topology_key)
                    {
                        let weight = sign * i64::from(weighted.weight);
                        add_at(&mut topology, labels, &weighted.term.topology_key, weight);
                        touched = true;
                    }
                }
            }
            for term in &existing_terms.required {
                if own_target.matched_by(term, &existing.namespace)
                    && labels.contains_key(&term.topology_key)
                {
                    add_at(
                        &mut topology,
                        labels,
                        &term.topology_key,
                        HARD_POD_AFFINITY_WEIGHT,
                    );
                    touched = true;
                }
            }
        }
        if !touched {
            return None;
        }
        let raw: Vec<i64> = feasible
            .iter()
            .map(|&node| {
                let labels = &self.index.node(node).labels;
                topology
                    .iter()
                    .filter(|((key, value), _)| labels.get(*key).map(String::as_str) == Some(value))
                    .map(|(_, score)| *score)
                    .sum()
            })
            .collect();
        let min = raw.iter().copied().min().unwrap_or(0);
        let max = raw.iter().copied().max().unwrap_or(0);
        let spread = max - min;
        Some(
            raw.iter()
                .map(|score| {
                    if spread > 0 {
                        (MAX_NODE_SCORE as f64 * ((score - min) as f64 / spread as f64)) as i64
                    } else {
                        0
                    }
                })
                .collect(),
        )
    }
}

/// `helper.DefaultNormalizeScore`: scaled so the largest is 100 (reversed if asked); all 0
/// stays 0, or becomes 100 when reversed.
pub fn default_normalize(scores: &[i64], reverse: bool) -> Vec<i64> {
    let max = scores.iter().copied().max().unwrap_or(0).max(0);
    scores
        .iter()
        .map(|&score| {
            if max == 0 {
                return if reverse { MAX_NODE_SCORE } else { 0 };
            }
            let scaled = MAX_NODE_SCORE * score / max;
            if reverse {
                MAX_NODE_SCORE - scaled
            } else {
                scaled
            }
        })
        .collect()
}

/// `leastResourceScorer` over cpu and memory (weight 1 each): per resource the node has,
/// `(allocatable - requested) * 100 / allocatable` (0 when over), averaged.
pub fn least_allocated(requested: Resources, allocatable: Resources) -> i64 {
    let pairs = [
        (requested.cpu_millis, allocatable.cpu_millis),
        (requested.memory_bytes, allocatable.memory_bytes),
    ];
    let (mut total, mut weights) = (0, 0);
    for (requested, capacity) in pairs {
        if capacity == 0 {
            continue;
        }
        total += if requested > capacity {
            0
        } else {
            (capacity - requested) * MAX_NODE_SCORE / capacity
        };
        weights += 1;
    }
    if weights == 0 { 0 } else { total / weights }
}

/// `balancedResourceScorer` over cpu and memory: `(1 - std) * 100` of the used fractions
/// (each capped at 1), truncated; for two resources the deviation is half their difference.
pub fn balanced_allocation(requested: Resources, allocatable: Resources) -> i64 {
    let fractions: Vec<f64> = [
        (requested.cpu_millis, allocatable.cpu_millis),
        (requested.memory_bytes, allocatable.memory_bytes),
    ]
    .into_iter()
    .filter(|(_, capacity)| *capacity != 0)
    .map(|(requested, capacity)| (requested as f64 / capacity as f64).min(1.0))
    .collect();
    let deviation = match fractions.as_slice() {
        [a, b] => ((a - b) / 2.0).abs(),
        _ => 0.0,
    };
    ((1.0 - deviation) * MAX_NODE_SCORE as f64) as i64
}

/// ImageLocality's `calculatePriority`: the summed image score clamped between the floor
/// and the per-container ceiling, scaled to 0..=100.
pub fn image_score(sum: i64, containers: usize) -> i64 {
    let containers = i64::try_from(containers).unwrap_or(i64::MAX);
    let max = MAX_CONTAINER_IMAGE_THRESHOLD.saturating_mul(containers);
    if max <= MIN_IMAGE_THRESHOLD {
        return 0;
    }
    let clamped = sum.clamp(MIN_IMAGE_THRESHOLD, max);
    MAX_NODE_SCORE * (clamped - MIN_IMAGE_THRESHOLD) / (max - MIN_IMAGE_THRESHOLD)
}
