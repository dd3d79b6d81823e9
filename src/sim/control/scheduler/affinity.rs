//! InterPodAffinity as kube-scheduler v1.33 runs it: required affinity and anti-affinity of
//! the incoming pod, existing pods' required anti-affinity against it (Filter), and the
//! preferred terms of both sides plus existing pods' required affinity at weight 1 (Score).

use std::collections::BTreeMap;

use super::{
    filter::Rejection,
    view::{AffinityTerm, NodeInfo, PodInfo, View, WeightedTerm},
};

const MAX_NODE_SCORE: i64 = 100;
/// `hardPodAffinityWeight`'s default.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// Matching terms per (topology key, value).
type TopologyCounts = BTreeMap<(String, String), i64>;

fn add(counts: &mut TopologyCounts, node: &NodeInfo<'_>, key: &str, delta: i64) {
    if let Some(value) = node.labels.get(key) {
        *counts.entry((key.to_owned(), value.clone())).or_insert(0) += delta;
    }
}

/// PreFilter's counts.
#[derive(Debug, Default)]
pub struct InterPodFilter {
    existing_anti: TopologyCounts,
    affinity: TopologyCounts,
    anti: TopologyCounts,
    /// Whether the pod matches all its own required affinity terms (a first pod of a group
    /// with affinity to itself may go anywhere its keys exist).
    self_affine: bool,
}

fn matches_all(terms: &[AffinityTerm], pod: &PodInfo<'_>, view: &View<'_>) -> bool {
    !terms.is_empty()
        && terms
            .iter()
            .all(|t| t.matches(pod, view.namespace_labels(pod.namespace)))
}

impl InterPodFilter {
    /// `PreFilter`.
    pub fn new(view: &View<'_>, pod: &PodInfo<'_>) -> Self {
        let own_labels = view.namespace_labels(pod.namespace);
        let mut state = Self {
            self_affine: matches_all(&pod.affinity.required, pod, view),
            ..Self::default()
        };
        for node in &view.nodes {
            for existing in &node.pods {
                for term in &existing.affinity.required_anti {
                    if term.matches(pod, own_labels) {
                        add(&mut state.existing_anti, node, &term.topology_key, 1);
                    }
                }
                if matches_all(&pod.affinity.required, existing, view) {
                    for term in &pod.affinity.required {
                        add(&mut state.affinity, node, &term.topology_key, 1);
                    }
                }
                let labels = view.namespace_labels(existing.namespace);
                for term in &pod.affinity.required_anti {
                    if term.matches(existing, labels) {
                        add(&mut state.anti, node, &term.topology_key, 1);
                    }
                }
            }
        }
        state
    }

    /// `Filter`.
    pub fn filter(&self, pod: &PodInfo<'_>, node: &NodeInfo<'_>) -> Result<(), Rejection> {
        const PLUGIN: &str = "InterPodAffinity";
        let count = |counts: &TopologyCounts, key: &str| {
            node.labels
                .get(key)
                .and_then(|value| counts.get(&(key.to_owned(), value.clone())))
                .copied()
                .unwrap_or(0)
        };
        let mut pods_exist = true;
        for term in &pod.affinity.required {
            if !node.labels.contains_key(&term.topology_key) {
                return Err(Rejection::unresolvable(
                    PLUGIN,
                    "node(s) didn't match pod affinity rules",
                ));
            }
            if count(&self.affinity, &term.topology_key) <= 0 {
                pods_exist = false;
            }
        }
        // A first pod of a group with affinity to itself may go wherever its keys exist.
        let first_of_its_kind = self.affinity.is_empty() && self.self_affine;
        if !(pods_exist || first_of_its_kind) {
            return Err(Rejection::unresolvable(
                PLUGIN,
                "node(s) didn't match pod affinity rules",
            ));
        }
        if pod
            .affinity
            .required_anti
            .iter()
            .any(|term| count(&self.anti, &term.topology_key) > 0)
        {
            return Err(Rejection::resolvable(
                PLUGIN,
                "node(s) didn't match pod anti-affinity rules",
            ));
        }
        let blocked = node.labels.iter().any(|(key, value)| {
            self.existing_anti
                .get(&(key.clone(), value.clone()))
                .is_some_and(|c| *c > 0)
        });
        if blocked {
            return Err(Rejection::resolvable(
                PLUGIN,
                "node(s) didn't satisfy existing pods anti-affinity rules",
            ));
        }
        Ok(())
    }
}

/// Adds each matching weighted term's weight (times `sign`) to the domain of `node`;
/// returns whether any term matched there.
fn weigh(
    scores: &mut TopologyCounts,
    terms: &[WeightedTerm],
    target: &PodInfo<'_>,
    target_namespace_labels: &super::selector::Labels,
    node: &NodeInfo<'_>,
    sign: i64,
) -> bool {
    let mut touched = false;
    for weighted in terms {
        if weighted.term.matches(target, target_namespace_labels)
            && node.labels.contains_key(&weighted.term.topology_key)
        {
            add(
                scores,
                node,
                &weighted.term.topology_key,
                sign * weighted.weight,
            );
            touched = true;
        }
    }
    touched
}

/// InterPodAffinity's normalized score for each feasible node, or None when it skips: no
/// term of either side matched anywhere.
pub fn scores(view: &View<'_>, pod: &PodInfo<'_>, feasible: &[&NodeInfo<'_>]) -> Option<Vec<i64>> {
    if feasible.is_empty() {
        return None;
    }
    let own_labels = view.namespace_labels(pod.namespace);
    let has_preferences =
        !pod.affinity.preferred.is_empty() || !pod.affinity.preferred_anti.is_empty();
    let mut topology = TopologyCounts::new();
    let mut touched = false;
    for node in &view.nodes {
        if node.labels.is_empty() {
            continue;
        }
        // Without preferences of its own, only pods with affinity terms can matter.
        for existing in node
            .pods
            .iter()
            .filter(|p| has_preferences || !p.affinity.is_empty())
        {
            let labels = view.namespace_labels(existing.namespace);
            touched |= weigh(
                &mut topology,
                &pod.affinity.preferred,
                existing,
                labels,
                node,
                1,
            );
            touched |= weigh(
                &mut topology,
                &pod.affinity.preferred_anti,
                existing,
                labels,
                node,
                -1,
            );
            for term in &existing.affinity.required {
                if term.matches(pod, own_labels) && node.labels.contains_key(&term.topology_key) {
                    add(
                        &mut topology,
                        node,
                        &term.topology_key,
                        HARD_POD_AFFINITY_WEIGHT,
                    );
                    touched = true;
                }
            }
            touched |= weigh(
                &mut topology,
                &existing.affinity.preferred,
                pod,
                own_labels,
                node,
                1,
            );
            touched |= weigh(
                &mut topology,
                &existing.affinity.preferred_anti,
                pod,
                own_labels,
                node,
                -1,
            );
        }
    }
    if !touched {
        return None;
    }
    let raw: Vec<i64> = feasible
        .iter()
        .map(|node| {
            topology
                .iter()
                .filter(|((key, value), _)| node.labels.get(key) == Some(value))
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
