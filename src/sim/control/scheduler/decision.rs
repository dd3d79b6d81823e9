//! One scheduling cycle as a value: every node's filter verdict, the feasible nodes' scores
//! per plugin (normalized) and weighted total, and the FailedScheduling message when no node
//! is feasible. Pure: `selectHost` draws from the generator it is handed.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

use super::{
    affinity,
    filter::{Cycle, Rejection},
    score, spread,
    view::{NodeInfo, PodInfo, View},
};
use crate::sim::prng::Prng;

/// The default profile's score plugins with their weights (v1.33).
pub const WEIGHTS: [(&str, i64); 7] = [
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("NodeResourcesFit", 1),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
];

/// One node's verdict and scores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeScore {
    /// The node.
    pub node: String,
    /// Why a filter turned it down; None when it is feasible.
    pub rejection: Option<Rejection>,
    /// Each score plugin's normalized score (0..=100), for a feasible node; a plugin that
    /// skipped this pod is absent.
    pub scores: BTreeMap<&'static str, i64>,
    /// The weighted sum.
    pub total: i64,
}

impl NodeScore {
    /// Whether every filter admits the pod.
    pub fn is_feasible(&self) -> bool {
        self.rejection.is_none()
    }
}

/// A scheduling cycle's outcome for a pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// Every node, in name order.
    pub nodes: Vec<NodeScore>,
    /// The FailedScheduling message when no node is feasible.
    pub message: Option<String>,
}

impl Evaluation {
    /// The feasible nodes.
    pub fn feasible(&self) -> impl Iterator<Item = &NodeScore> {
        self.nodes.iter().filter(|n| n.is_feasible())
    }

    /// `selectHost`: a node of the highest total, uniformly among equals (reservoir
    /// sampling over the ties, as upstream does), drawn from `random`. None when no node
    /// is feasible; no draw when only one is.
    pub fn select(&self, random: &mut Prng) -> Option<&str> {
        let mut feasible = self.feasible();
        let mut selected = feasible.next()?;
        let mut ties: u64 = 1;
        for node in feasible {
            if node.total > selected.total {
                selected = node;
                ties = 1;
            } else if node.total == selected.total {
                ties += 1;
                if random.next_u64().is_multiple_of(ties) {
                    selected = node;
                }
            }
        }
        Some(&selected.node)
    }
}

/// Filters and scores a pod that is not bound yet against every node of the view, as
/// kube-scheduler's default profile would (scored even when only one node is feasible,
/// which upstream skips, so a caller can always read why).
pub fn evaluate(view: &View<'_>, pod: &Pod) -> Evaluation {
    let info = PodInfo::of(pod);
    let never = pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref())
        == Some("Never");
    let cycle = match Cycle::new(view, info) {
        Ok(cycle) => cycle,
        Err(rejection) => {
            let message = rejection.reasons.join(", ");
            let nodes: Vec<NodeScore> = view
                .nodes
                .iter()
                .map(|node| NodeScore {
                    node: node.name.to_owned(),
                    rejection: Some(rejection.clone()),
                    scores: BTreeMap::new(),
                    total: 0,
                })
                .collect();
            let rejections: Vec<&Rejection> = vec![&rejection; nodes.len()];
            return Evaluation {
                message: Some(failed_scheduling(Some(&message), &rejections, never)),
                nodes,
            };
        }
    };
    let verdicts: Vec<Result<(), Rejection>> =
        view.nodes.iter().map(|node| cycle.filter(node)).collect();
    let feasible: Vec<&NodeInfo<'_>> = view
        .nodes
        .iter()
        .zip(&verdicts)
        .filter(|(_, verdict)| verdict.is_ok())
        .map(|(node, _)| node)
        .collect();
    let plugin_scores = score_plugins(&cycle, &feasible);
    let mut position = 0;
    let nodes: Vec<NodeScore> = view
        .nodes
        .iter()
        .zip(verdicts)
        .map(|(node, verdict)| match verdict {
            Err(rejection) => NodeScore {
                node: node.name.to_owned(),
                rejection: Some(rejection),
                scores: BTreeMap::new(),
                total: 0,
            },
            Ok(()) => {
                let scores: BTreeMap<&'static str, i64> = plugin_scores
                    .iter()
                    .map(|(plugin, scores)| (*plugin, scores[position]))
                    .collect();
                position += 1;
                NodeScore {
                    node: node.name.to_owned(),
                    total: weighted(&scores),
                    rejection: None,
                    scores,
                }
            }
        })
        .collect();
    let message = feasible.is_empty().then(|| {
        let rejections: Vec<&Rejection> =
            nodes.iter().filter_map(|n| n.rejection.as_ref()).collect();
        failed_scheduling(None, &rejections, never)
    });
    Evaluation { nodes, message }
}

fn weighted(scores: &BTreeMap<&'static str, i64>) -> i64 {
    WEIGHTS
        .iter()
        .map(|(plugin, weight)| weight * scores.get(plugin).copied().unwrap_or(0))
        .sum()
}

/// Every score plugin that does not skip, with its normalized scores over `feasible`.
fn score_plugins(
    cycle: &Cycle<'_, '_>,
    feasible: &[&NodeInfo<'_>],
) -> Vec<(&'static str, Vec<i64>)> {
    if feasible.is_empty() {
        return Vec::new();
    }
    let (view, pod) = (cycle.view, &cycle.pod);
    let mut plugins = vec![
        (
            "TaintToleration",
            score::taint_toleration(cycle.tolerations, feasible),
        ),
        ("NodeResourcesFit", score::least_allocated(pod, feasible)),
        (
            "ImageLocality",
            score::image_locality(view, pod.pod, feasible),
        ),
    ];
    let optional = [
        ("NodeAffinity", score::node_affinity(pod.pod, feasible)),
        (
            "PodTopologySpread",
            spread::scores(view, pod, &cycle.affinity, cycle.tolerations, feasible),
        ),
        ("InterPodAffinity", affinity::scores(view, pod, feasible)),
        (
            "NodeResourcesBalancedAllocation",
            score::balanced_allocation(pod, feasible),
        ),
    ];
    plugins.extend(
        optional
            .into_iter()
            .filter_map(|(plugin, scores)| scores.map(|s| (plugin, s))),
    );
    plugins
}

/// `FitError.Error()` followed by DefaultPreemption's verdict: reasons counted per node and
/// sorted as strings, then per node whether preemption could help. The simulated scheduler
/// never preempts, so a node that eviction could free reads as having no victims.
fn failed_scheduling(prefilter: Option<&str>, rejections: &[&Rejection], never: bool) -> String {
    let nodes = rejections.len();
    let histogram = |counts: BTreeMap<&str, usize>| {
        let mut lines: Vec<String> = counts
            .iter()
            .map(|(reason, count)| format!("{count} {reason}"))
            .collect();
        lines.sort();
        lines.join(", ")
    };
    let mut message = format!("0/{nodes} nodes are available:");
    match prefilter {
        Some(reason) => message.push_str(&format!(" {reason}.")),
        None => {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for rejection in rejections {
                let distinct: BTreeSet<&str> =
                    rejection.reasons.iter().map(String::as_str).collect();
                for reason in distinct {
                    *counts.entry(reason).or_default() += 1;
                }
            }
            message.push_str(&format!(" {}.", histogram(counts)));
        }
    }
    if never {
        message.push_str(" preemption: not eligible due to preemptionPolicy=Never.");
        return message;
    }
    let mut preemption: BTreeMap<&str, usize> = BTreeMap::new();
    for rejection in rejections {
        let verdict = if rejection.resolvable {
            "No preemption victims found for incoming pod"
        } else {
            "Preemption is not helpful for scheduling"
        };
        *preemption.entry(verdict).or_default() += 1;
    }
    message.push_str(&format!(
        " preemption: 0/{nodes} nodes are available: {}.",
        histogram(preemption)
    ));
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failed_scheduling_message_counts_nodes_per_reason_as_upstream_sorts_them() {
        let cpu = Rejection {
            plugin: "NodeResourcesFit",
            reasons: vec!["Insufficient cpu".to_owned()],
            resolvable: true,
        };
        let cordoned = Rejection::unresolvable("NodeUnschedulable", "node(s) were unschedulable");
        assert_eq!(
            failed_scheduling(None, &[&cpu, &cordoned, &cpu], false),
            "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
             2 No preemption victims found for incoming pod."
        );
        assert_eq!(
            failed_scheduling(
                Some("persistentvolumeclaim \"data\" not found"),
                &[&cordoned],
                false
            ),
            "0/1 nodes are available: persistentvolumeclaim \"data\" not found. \
             preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn ties_are_broken_by_the_seed_and_the_best_score_always_wins() {
        let evaluation = |totals: &[i64]| Evaluation {
            nodes: totals
                .iter()
                .enumerate()
                .map(|(i, total)| NodeScore {
                    node: format!("n{i}"),
                    rejection: None,
                    scores: BTreeMap::new(),
                    total: *total,
                })
                .collect(),
            message: None,
        };
        let mut random = Prng::new(7);
        assert_eq!(evaluation(&[10, 90, 50]).select(&mut random), Some("n1"));
        let tied = evaluation(&[5, 5, 5]);
        let picks: BTreeSet<String> = (0..64)
            .map(|_| tied.select(&mut random).unwrap_or_default().to_owned())
            .collect();
        assert_eq!(picks.len(), 3, "every tied node gets picked sometimes");
        let draws = |seed| {
            let mut random = Prng::new(seed);
            (0..16)
                .map(|_| tied.select(&mut random).unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(3), draws(3));
    }
}
