//! PodTopologySpread as kube-scheduler v1.33 runs it: PreFilter counts matching pods per
//! domain over the eligible nodes, Filter holds DoNotSchedule constraints to maxSkew, and
//! PreScore / Score / NormalizeScore rank nodes by ScheduleAnyway constraints, or by the
//! system default constraints (hostname maxSkew 3, zone maxSkew 5) for a pod without any.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Toleration};

use super::{
    filter::{Rejection, untolerated},
    selector::{Labels, Selector},
    view::{NodeInfo, PodInfo, RequiredNodeAffinity, View},
};
use crate::{
    api::{HOSTNAME_LABEL, ZONE_LABEL},
    sim::control::status::controller_of,
};

const MAX_NODE_SCORE: i64 = 100;
/// Filter's reason for a node without a constraint's topology key.
pub const MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
/// Filter's reason for a node where the pod would exceed maxSkew.
pub const SKEW: &str = "node(s) didn't match pod topology spread constraints";

/// A constraint resolved for the pod it places.
#[derive(Clone, Debug)]
pub struct Constraint {
    max_skew: i64,
    key: String,
    selector: Selector,
    min_domains: i64,
    honor_affinity: bool,
    honor_taints: bool,
}

impl Constraint {
    /// `matchNodeInclusionPolicies`: whether the node counts for this constraint.
    fn includes(
        &self,
        node: &NodeInfo<'_>,
        affinity: &RequiredNodeAffinity,
        tolerations: &[Toleration],
    ) -> bool {
        (!self.honor_affinity || affinity.matches(node))
            && (!self.honor_taints || untolerated(node.taints, tolerations).is_none())
    }
}

fn has_constraints(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .is_some_and(|c| !c.is_empty())
}

/// `filterTopologySpreadConstraints`: the pod's constraints of one kind, `matchLabelKeys`
/// values merged into their selectors.
fn own_constraints(pod: &Pod, labels: &Labels, when: &str) -> Vec<Constraint> {
    let constraints = pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref());
    constraints
        .into_iter()
        .flatten()
        .filter(|c| c.when_unsatisfiable == when)
        .map(|c| {
            let mut selector = Selector::of(c.label_selector.as_ref());
            let values: Labels = c
                .match_label_keys
                .iter()
                .flatten()
                .filter_map(|key| labels.get_key_value(key))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !values.is_empty() {
                selector = Selector::from_labels(&values).and(&selector);
            }
            Constraint {
                max_skew: i64::from(c.max_skew),
                key: c.topology_key.clone(),
                selector,
                min_domains: c.min_domains.map_or(1, i64::from),
                honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

/// `helper.DefaultSelector`: the selector of the ReplicaSet or StatefulSet controlling the
/// pod. (Services' selectors join it upstream; the simulated API serves no Services.)
pub fn default_selector(view: &View<'_>, pod: &Pod) -> Selector {
    let empty = Selector::All(Vec::new());
    let Some(owner) = controller_of(&pod.metadata).filter(|o| o.api_version == "apps/v1") else {
        return empty;
    };
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let selector = match owner.kind.as_str() {
        "ReplicaSet" => view
            .replica_set(namespace, &owner.name)
            .and_then(|r| r.spec.as_ref())
            .map(|s| Selector::of(Some(&s.selector))),
        "StatefulSet" => view
            .stateful_set(namespace, &owner.name)
            .and_then(|s| s.spec.as_ref())
            .map(|s| Selector::of(Some(&s.selector))),
        _ => None,
    };
    match selector {
        // A selector without selectable requirements adds none.
        Some(found @ Selector::All(_)) => empty.and(&found),
        _ => empty,
    }
}

/// `buildDefaultConstraints`: the system defaults, when the pod's owner gives a selector.
fn default_constraints(view: &View<'_>, pod: &Pod) -> Vec<Constraint> {
    let selector = default_selector(view, pod);
    if selector.is_empty() {
        return Vec::new();
    }
    [(HOSTNAME_LABEL, 3), (ZONE_LABEL, 5)]
        .into_iter()
        .map(|(key, max_skew)| Constraint {
            max_skew,
            key: key.to_owned(),
            selector: selector.clone(),
            min_domains: 1,
            honor_affinity: true,
            honor_taints: false,
        })
        .collect()
}

fn has_all_keys(node: &NodeInfo<'_>, constraints: &[Constraint]) -> bool {
    constraints.iter().all(|c| node.labels.contains_key(&c.key))
}

/// `countPodsMatchSelector` on one node: non-terminating pods of the namespace the selector
/// matches; none for an empty selector (v1.33 short-cuts `Selector.Empty()`).
fn count_matching(node: &NodeInfo<'_>, selector: &Selector, namespace: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    let count = node
        .pods
        .iter()
        .filter(|p| !p.terminating && p.namespace == namespace && selector.matches(p.labels))
        .count();
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// PreFilter's state: the DoNotSchedule constraints and, per constraint, matching pods per
/// eligible domain.
#[derive(Debug)]
pub struct SpreadFilter {
    constraints: Vec<Constraint>,
    counts: Vec<BTreeMap<String, i64>>,
}

impl SpreadFilter {
    /// `calPreFilterState`.
    pub fn new(
        view: &View<'_>,
        pod: &PodInfo<'_>,
        affinity: &RequiredNodeAffinity,
        tolerations: &[Toleration],
    ) -> Self {
        // The system defaults are ScheduleAnyway: a pod without constraints has no filter.
        let constraints = if has_constraints(pod.pod) {
            own_constraints(pod.pod, pod.labels, "DoNotSchedule")
        } else {
            Vec::new()
        };
        let mut counts = vec![BTreeMap::new(); constraints.len()];
        for node in &view.nodes {
            if !has_all_keys(node, &constraints) {
                continue;
            }
            for (i, constraint) in constraints.iter().enumerate() {
                if !constraint.includes(node, affinity, tolerations) {
                    continue;
                }
                let value = node
                    .labels
                    .get(&constraint.key)
                    .cloned()
                    .unwrap_or_default();
                *counts[i].entry(value).or_insert(0) +=
                    count_matching(node, &constraint.selector, pod.namespace);
            }
        }
        Self {
            constraints,
            counts,
        }
    }

    /// Filter: every constraint's key on the node, and matching + self - global minimum
    /// within maxSkew.
    pub fn filter(&self, pod: &PodInfo<'_>, node: &NodeInfo<'_>) -> Result<(), Rejection> {
        for (constraint, counts) in self.constraints.iter().zip(&self.counts) {
            let Some(value) = node.labels.get(&constraint.key) else {
                return Err(Rejection::unresolvable("PodTopologySpread", MISSING_LABEL));
            };
            // No eligible domain at all: the critical path stays at MaxInt32 and any node passes.
            let Some(mut global_min) = counts.values().copied().min() else {
                continue;
            };
            if i64::try_from(counts.len()).unwrap_or(i64::MAX) < constraint.min_domains {
                global_min = 0;
            }
            let matching = counts.get(value).copied().unwrap_or(0);
            let self_match = i64::from(constraint.selector.matches(pod.labels));
            if matching + self_match - global_min > constraint.max_skew {
                return Err(Rejection::resolvable("PodTopologySpread", SKEW));
            }
        }
        Ok(())
    }
}

/// PodTopologySpread's normalized score for each feasible node (in order), or None when the
/// plugin skips: no constraint to score with.
pub fn scores(
    view: &View<'_>,
    pod: &PodInfo<'_>,
    affinity: &RequiredNodeAffinity,
    tolerations: &[Toleration],
    feasible: &[&NodeInfo<'_>],
) -> Option<Vec<i64>> {
    if view.nodes.is_empty() || feasible.is_empty() {
        return None;
    }
    // Only the pod's own constraints demand every key; the defaults let nodes without a
    // zone still spread by hostname.
    let require_all = has_constraints(pod.pod);
    let constraints = if require_all {
        own_constraints(pod.pod, pod.labels, "ScheduleAnyway")
    } else {
        default_constraints(view, pod.pod)
    };
    if constraints.is_empty() {
        return None;
    }
    // PreScore: the domains of the feasible nodes, and which of them are ignored.
    let ignored: Vec<bool> = feasible
        .iter()
        .map(|node| require_all && !has_all_keys(node, &constraints))
        .collect();
    let mut domain_counts: Vec<BTreeMap<&str, i64>> = vec![BTreeMap::new(); constraints.len()];
    for (node, _) in feasible
        .iter()
        .zip(&ignored)
        .filter(|(_, ignored)| !**ignored)
    {
        for (i, constraint) in constraints.iter().enumerate() {
            if constraint.key != HOSTNAME_LABEL {
                let value = node.labels.get(&constraint.key).map_or("", String::as_str);
                domain_counts[i].entry(value).or_insert(0);
            }
        }
    }
    let scored = feasible.len() - ignored.iter().filter(|i| **i).count();
    let weights: Vec<f64> = constraints
        .iter()
        .zip(&domain_counts)
        .map(|(constraint, domains)| {
            let size = if constraint.key == HOSTNAME_LABEL {
                scored
            } else {
                domains.len()
            };
            (size as f64 + 2.0).ln()
        })
        .collect();
    for node in &view.nodes {
        if require_all && !has_all_keys(node, &constraints) {
            continue;
        }
        for (i, constraint) in constraints.iter().enumerate() {
            if !constraint.includes(node, affinity, tolerations) {
                continue;
            }
            let value = node.labels.get(&constraint.key).map_or("", String::as_str);
            if let Some(total) = domain_counts[i].get_mut(value) {
                *total += count_matching(node, &constraint.selector, pod.namespace);
            }
        }
    }
    // Score.
    let raw: Vec<i64> = feasible
        .iter()
        .zip(&ignored)
        .map(|(node, ignored)| {
            if *ignored {
                return 0;
            }
            let mut score = 0.0;
            for (i, constraint) in constraints.iter().enumerate() {
                let Some(value) = node.labels.get(&constraint.key) else {
                    continue;
                };
                let count = if constraint.key == HOSTNAME_LABEL {
                    count_matching(node, &constraint.selector, pod.namespace)
                } else {
                    domain_counts[i].get(value.as_str()).copied().unwrap_or(0)
                };
                score += count as f64 * weights[i] + (constraint.max_skew - 1) as f64;
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
