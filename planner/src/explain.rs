//! Where a pod may go, and why not elsewhere: per spread constraint the domains, counts, global
//! minimum and skew, and for every node kube-scheduler's verdict. The pod is judged as if it
//! were being placed anew (an evicted pod's replacement, or a Pending pod), so it does not
//! count itself and its current node gets its resources back. For every feasible node it
//! also shows kube-scheduler's score per default score plugin, and the node it would land on.

use std::sync::Arc;

use serde::Serialize;

use super::{
    eligibility::{self, Refusal},
    group::{self, Spreading},
    identity::PodRef,
    index::{Index, NodeId, PodId},
    model::{Cluster, Pod, PodSpreadConstraint, Resources, SchedulingSpec},
    score::{Departure, Incoming, Prediction, Scene, Scores},
    topology::{Constraint, Counts, DomainCache, Members, PreFilter},
};
use crate::model::WhenUnsatisfiable;

/// Why a pod cannot be explained.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Explain {
    /// No such pod in the cluster.
    #[error("pod {namespace}/{name} not found")]
    UnknownPod {
        /// The namespace asked for.
        namespace: String,
        /// The name asked for.
        name: String,
    },
}

/// Where a pod may go.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// `namespace/name`.
    pub pod: PodRef,
    /// Whose constraints these are: the pod's own, or the policy governing its workload.
    pub source: String,
    /// Per constraint, the domains and skew the scheduler would see.
    pub constraints: Vec<ExplainedConstraint>,
    /// Every node, with the scheduler's verdict.
    pub nodes: Vec<NodeVerdict>,
    /// The node the pod would land on: the one feasible node of the highest total; null when
    /// none is feasible or several tie.
    pub predicted_node: Option<String>,
    /// The feasible nodes that tie for the highest total, when several do (the scheduler
    /// picks one of them at random).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tied_nodes: Vec<String>,
}

/// One constraint as the scheduler sees it for the pod.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExplainedConstraint {
    /// The topology key.
    pub topology_key: String,
    /// maxSkew.
    pub max_skew: i32,
    /// DoNotSchedule or ScheduleAnyway.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// The pods counted, as a selector.
    pub selector: String,
    /// Every eligible domain with the pods counted in it.
    pub domains: Vec<ExplainedDomain>,
    /// The global minimum; null without any eligible domain.
    pub global_min: Option<u32>,
    /// The fullest domain minus the global minimum.
    pub skew: u32,
}

/// A domain and its count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExplainedDomain {
    /// The label value.
    pub name: String,
    /// Pods counted.
    pub pods: u32,
}

/// The scheduler's verdict on one node.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeVerdict {
    /// The node.
    pub name: String,
    /// Whether every filter admits the pod.
    pub feasible: bool,
    /// Each refusal, as `Reason: detail`.
    pub reasons: Vec<String>,
    /// The refusals, as values.
    #[serde(skip)]
    pub refusals: Vec<Refusal>,
    /// For a feasible node: each default score plugin's normalized score (0..=100) by name,
    /// and `total`, the weighted sum the scheduler ranks nodes by. A plugin that skips the
    /// pod is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
}

/// The spread constraints the scheduler would apply to the pod's replacement.
struct Governing {
    constraints: Vec<PodSpreadConstraint>,
    source: String,
    /// The group label a Policy-scope policy puts on the pod template.
    group_label: Option<String>,
    /// The pods each of the policy's constraints counts, as the plan counts them.
    members: Vec<Members>,
}

impl Governing {
    fn none() -> Self {
        Self {
            constraints: Vec::new(),
            source: "no constraints: the pod has none and no policy governs it".to_owned(),
            group_label: None,
            members: Vec::new(),
        }
    }
}

/// The pod's own constraints, or else those a policy governing its workload injects.
fn governing(index: &Index<'_>, pod_id: PodId) -> Governing {
    let pod = index.pod(pod_id);
    if !pod.spec.spread_constraints.is_empty() {
        return Governing {
            constraints: pod.spec.spread_constraints.clone(),
            source: "the pod's own constraints".to_owned(),
            group_label: None,
            members: Vec::new(),
        };
    }
    let Some(workload_id) = index.pod_workload(pod_id) else {
        return Governing::none();
    };
    let workload = index.workload(workload_id);
    let policies: Vec<_> = index
        .cluster
        .policies
        .iter()
        .filter(|policy| policy.namespace == workload.namespace)
        .collect();
    for found in group::policy_groups(index, &policies) {
        let governs = found
            .workloads
            .iter()
            .any(|matched| matched.id == workload_id && matched.left_alone.is_none());
        let (Some(name), true) = (&found.policy, governs) else {
            continue;
        };
        let Some(policy) = policies.iter().find(|p| &p.name == name) else {
            continue;
        };
        let (spreading, group_label) = match policy.spec.scope {
            crate::model::Scope::Workload => (Spreading::Workload(workload), None),
            crate::model::Scope::Policy => {
                (Spreading::Policy(&policy.name), Some(policy.name.clone()))
            }
        };
        let constraints = policy
            .spec
            .constraints_for(workload.kind)
            .into_iter()
            .map(|constraint| group::injected_constraint(constraint, spreading))
            .collect();
        let members = found
            .constraints
            .iter()
            .zip(&found.members)
            .map(|(constraint, pods)| Members {
                topology_key: constraint.topology_key.clone(),
                when_unsatisfiable: constraint.when_unsatisfiable,
                pods: Arc::clone(pods),
            })
            .collect();
        return Governing {
            constraints,
            source: format!("SpreadPolicy {name}"),
            group_label,
            members,
        };
    }
    Governing::none()
}

/// Explains where a pod may go.
pub fn explain(cluster: &Cluster, namespace: &str, name: &str) -> Result<Explanation, Explain> {
    let index = Index::new(cluster);
    let pod_id = index
        .pods_in(namespace)
        .iter()
        .copied()
        .find(|&id| index.pod(id).name == name)
        .ok_or_else(|| Explain::UnknownPod {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })?;
    let Governing {
        constraints,
        source,
        group_label,
        members,
    } = governing(&index, pod_id);
    let pod = index.pod(pod_id);
    let mut labels = (*pod.labels).clone();
    if let Some(policy) = group_label {
        labels.insert(crate::labels::GROUP_LABEL.to_owned(), policy);
    }
    // The replacement comes from the workload's template, which may name a node.
    let template_node = index
        .pod_workload(pod_id)
        .and_then(|w| index.workload(w).template.node_name.clone());
    let spec = SchedulingSpec {
        spread_constraints: constraints,
        node_name: template_node.or_else(|| pod.spec.node_name.clone()),
        ..(*pod.spec).clone()
    };
    let mut verdicts = verdicts(
        &index,
        &mut DomainCache::default(),
        pod,
        &labels,
        &spec,
        Some(pod_id),
        &members,
    );
    let prediction = Scene::new(&index).predict(
        &Incoming {
            namespace: &pod.namespace,
            labels: &labels,
            spec: &spec,
            owner: pod.owner.as_ref(),
        },
        Some((pod_id, Departure::Gone)),
    );
    let best = add_scores(&mut verdicts, &prediction);
    let explained = [
        WhenUnsatisfiable::DoNotSchedule,
        WhenUnsatisfiable::ScheduleAnyway,
    ]
    .into_iter()
    .flat_map(|kind| {
        let prefilter = without(
            &index,
            &mut DomainCache::default(),
            (pod, pod_id),
            &labels,
            &spec,
            kind,
            &members,
        );
        prefilter
            .constraints
            .into_iter()
            .zip(prefilter.counts)
            .map(|(constraint, counts)| describe(&constraint, &counts))
            .collect::<Vec<_>>()
    })
    .collect();
    Ok(Explanation {
        pod: PodRef::of(pod),
        source,
        constraints: explained,
        predicted_node: match best.as_slice() {
            [node] => Some(verdicts[*node].name.clone()),
            _ => None,
        },
        tied_nodes: if best.len() > 1 {
            best.iter()
                .map(|node| verdicts[*node].name.clone())
                .collect()
        } else {
            Vec::new()
        },
        nodes: verdicts,
    })
}

/// Puts the prediction's scores on the nodes both it and the verdicts find feasible, and the
/// refusals only it checks (InterPodAffinity's, VolumeBinding's) on the others; returns the
/// feasible nodes of the highest total. Spread refusals stay the verdicts' own: they count a
/// policy's group as the plan does.
fn add_scores(verdicts: &mut [NodeVerdict], prediction: &Prediction) -> Vec<NodeId> {
    for (verdict, predicted) in verdicts.iter_mut().zip(&prediction.verdicts) {
        match predicted {
            Ok(scores) if verdict.feasible => verdict.scores = Some(*scores),
            Ok(_) => {}
            Err(
                refusal @ (Refusal::PodAffinity
                | Refusal::PodAntiAffinity
                | Refusal::ExistingPodsAntiAffinity
                | Refusal::VolumeNodeAffinity),
            ) => {
                if !verdict.refusals.contains(refusal) {
                    verdict.reasons.push(refusal.to_string());
                    verdict.refusals.push(refusal.clone());
                }
                verdict.feasible = false;
            }
            Err(_) => {}
        }
    }
    let top = verdicts
        .iter()
        .filter_map(|v| v.scores.as_ref().map(Scores::total))
        .max();
    verdicts
        .iter()
        .enumerate()
        .filter(|(_, v)| v.scores.is_some_and(|s| Some(s.total()) == top))
        .map(|(node, _)| node)
        .collect()
}

fn describe(constraint: &Constraint, counts: &Counts) -> ExplainedConstraint {
    ExplainedConstraint {
        topology_key: constraint.topology_key.clone(),
        max_skew: constraint.max_skew,
        when_unsatisfiable: constraint.when_unsatisfiable,
        selector: constraint.selector.describe(),
        domains: counts
            .domains
            .domains()
            .map(|domain| ExplainedDomain {
                name: counts.domains.name(domain).to_owned(),
                pods: counts.get(domain),
            })
            .collect(),
        global_min: counts.global_min(constraint.min_domains),
        skew: counts.skew(constraint.min_domains),
    }
}

/// PreFilter with the pod itself taken out of the counts.
fn without(
    index: &Index<'_>,
    cache: &mut DomainCache,
    (pod, pod_id): (&Pod, PodId),
    labels: &super::model::Labels,
    spec: &SchedulingSpec,
    kind: WhenUnsatisfiable,
    members: &[Members],
) -> PreFilter {
    let mut prefilter =
        PreFilter::counting(index, cache, &pod.namespace, labels, spec, kind, members);
    if let Some(node) = index
        .pod_node(pod_id)
        .filter(|_| !pod.terminating && !pod.phase.is_terminal())
    {
        for (constraint, counts) in prefilter
            .constraints
            .iter()
            .zip(prefilter.counts.iter_mut())
        {
            let given = members.iter().find(|members| {
                members.topology_key == constraint.topology_key
                    && members.when_unsatisfiable == constraint.when_unsatisfiable
            });
            let counted = match given {
                Some(given) => given.pods.binary_search(&pod_id).is_ok(),
                None => !constraint.selector.is_empty() && constraint.selector.matches(&pod.labels),
            };
            if counted {
                counts.add(node, -1);
            }
        }
    }
    prefilter
}

/// Every node's verdict for placing a pod with these labels and spec: the node filters, then
/// PodTopologySpread's. `replacing` is a pod of the cluster that is gone by then (its
/// resources and its count freed), as for an evicted pod's replacement.
pub fn placements(
    index: &Index<'_>,
    cache: &mut DomainCache,
    pod: &Pod,
    labels: &super::model::Labels,
    spec: &SchedulingSpec,
    replacing: Option<PodId>,
) -> Vec<NodeVerdict> {
    verdicts(index, cache, pod, labels, spec, replacing, &[])
}

/// [`placements`], with the pods a policy's group counts per constraint.
fn verdicts(
    index: &Index<'_>,
    cache: &mut DomainCache,
    pod: &Pod,
    labels: &super::model::Labels,
    spec: &SchedulingSpec,
    replacing: Option<PodId>,
    members: &[Members],
) -> Vec<NodeVerdict> {
    let prefilter = match replacing {
        Some(pod_id) => without(
            index,
            cache,
            (pod, pod_id),
            labels,
            spec,
            WhenUnsatisfiable::DoNotSchedule,
            members,
        ),
        None => PreFilter::counting(
            index,
            cache,
            &pod.namespace,
            labels,
            spec,
            WhenUnsatisfiable::DoNotSchedule,
            members,
        ),
    };
    let gone_from: Option<NodeId> = replacing.and_then(|id| index.pod_node(id));
    index
        .cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(node_id, node)| {
            let mut requested = index.node_requested[node_id];
            let mut on_node: Vec<&Pod> = index
                .pods_on(node_id)
                .iter()
                .map(|&id| index.pod(id))
                .collect();
            if gone_from == Some(node_id) {
                requested = requested.minus(Resources {
                    pods: 1,
                    ..pod.spec.requests
                });
                on_node
                    .retain(|other| !(other.namespace == pod.namespace && other.name == pod.name));
            }
            // Readiness is no filter of its own: a NotReady node carries the not-ready taint.
            let mut refusals = Vec::new();
            if let Err(refusal) =
                eligibility::node_filters(index, spec, node_id, requested, &on_node)
            {
                refusals.push(refusal);
            }
            if let Err(refusal) = prefilter.filter(node, labels) {
                refusals.push(refusal);
            }
            NodeVerdict {
                name: node.name.clone(),
                feasible: refusals.is_empty(),
                reasons: refusals.iter().map(ToString::to_string).collect(),
                refusals,
                scores: None,
            }
        })
        .collect()
}
