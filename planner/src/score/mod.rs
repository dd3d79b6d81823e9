//! Where kube-scheduler's default profile (v1.33) would place a pod: its filters, then each
//! default score plugin's score normalized as upstream normalizes it, weighted and summed.
//! Pure; the ties upstream breaks at random are returned as a set, never broken here.
//!
//! - this module: the plugins and weights, [`Scene`] (the scheduler's picture, moved by the
//!   plan) and [`Prediction`].
//! - `cycle`: one pod's PreFilter state and Filter verdicts; `plugins`: the score plugins.

use std::borrow::Cow;

use rustc_hash::FxHashMap as HashMap;
use serde::{Serialize, Serializer, ser::SerializeMap};

mod cycle;
mod plugins;

use cycle::Cycle;
pub use plugins::{balanced_allocation, default_normalize, image_score, least_allocated};

use super::{
    eligibility::Refusal,
    index::{Index, NodeId, PodId, WorkloadId},
    labels::{Labels, NAMESPACE_NAME_LABEL, POD_TEMPLATE_HASH},
    model::{Owner, Resources, SchedulingSpec, Taint, TaintEffect, WorkloadKind},
};

/// The highest score a plugin gives a node after normalization.
pub const MAX_NODE_SCORE: i64 = 100;

/// A score plugin of the default profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Plugin {
    /// Fewer untolerated PreferNoSchedule taints score higher.
    TaintToleration,
    /// The weights of the matching preferred node affinity terms.
    NodeAffinity,
    /// Fewer matching pods in the node's domains score higher.
    PodTopologySpread,
    /// Preferred pod (anti-)affinity of both sides, and existing pods' required affinity.
    InterPodAffinity,
    /// LeastAllocated on cpu and memory, with the non-zero request defaults.
    NodeResourcesFit,
    /// How evenly cpu and memory are used after placing the pod.
    NodeResourcesBalancedAllocation,
    /// How much of the pod's images the node already holds.
    ImageLocality,
}

impl Plugin {
    /// Every default score plugin, in the profile's order.
    pub const ALL: [Self; 7] = [
        Self::TaintToleration,
        Self::NodeAffinity,
        Self::PodTopologySpread,
        Self::InterPodAffinity,
        Self::NodeResourcesFit,
        Self::NodeResourcesBalancedAllocation,
        Self::ImageLocality,
    ];

    /// The plugin's name as kube-scheduler spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::TaintToleration => "TaintToleration",
            Self::NodeAffinity => "NodeAffinity",
            Self::PodTopologySpread => "PodTopologySpread",
            Self::InterPodAffinity => "InterPodAffinity",
            Self::NodeResourcesFit => "NodeResourcesFit",
            Self::NodeResourcesBalancedAllocation => "NodeResourcesBalancedAllocation",
            Self::ImageLocality => "ImageLocality",
        }
    }

    /// The plugin's weight in the default profile.
    pub const fn weight(self) -> i64 {
        match self {
            Self::TaintToleration => 3,
            Self::NodeAffinity | Self::PodTopologySpread | Self::InterPodAffinity => 2,
            Self::NodeResourcesFit
            | Self::NodeResourcesBalancedAllocation
            | Self::ImageLocality => 1,
        }
    }

    const fn slot(self) -> usize {
        self as usize
    }
}

/// One node's normalized score per plugin; a plugin that skipped the pod has none.
/// Serialized as a map from plugin name to score, plus `total`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scores {
    by_plugin: [Option<i64>; 7],
}

impl Scores {
    /// A plugin's normalized score (0..=100), None when it skipped the pod.
    pub fn get(&self, plugin: Plugin) -> Option<i64> {
        self.by_plugin[plugin.slot()]
    }

    fn set(&mut self, plugin: Plugin, score: i64) {
        self.by_plugin[plugin.slot()] = Some(score);
    }

    /// The plugins that scored, with their scores, in the profile's order.
    pub fn iter(&self) -> impl Iterator<Item = (Plugin, i64)> + '_ {
        Plugin::ALL
            .into_iter()
            .filter_map(|plugin| self.get(plugin).map(|score| (plugin, score)))
    }

    /// The weighted sum: what the scheduler ranks nodes by.
    pub fn total(&self) -> i64 {
        self.iter()
            .map(|(plugin, score)| plugin.weight() * score)
            .sum()
    }
}

impl Serialize for Scores {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (plugin, score) in self.iter() {
            map.serialize_entry(plugin.name(), &score)?;
        }
        map.serialize_entry("total", &self.total())?;
        map.end()
    }
}

/// What happens to the pod being replaced while the scheduler places its replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Departure {
    /// It is gone: its resources and its counts are free.
    Gone,
    /// It is terminating, as an evicted pod is during its grace period: it still holds its
    /// resources, ports and affinity terms, but PodTopologySpread no longer counts it.
    Terminating,
}

/// A pod to place: its namespace, labels and scheduling spec, and its controlling owner
/// (whose selector the system default spreading uses for a pod without constraints).
#[derive(Clone, Copy, Debug)]
pub struct Incoming<'s> {
    /// Its namespace.
    pub namespace: &'s str,
    /// Its labels.
    pub labels: &'s Labels,
    /// Its scheduling spec.
    pub spec: &'s SchedulingSpec,
    /// Its controlling owner reference.
    pub owner: Option<&'s Owner>,
}

/// The scheduler's verdict on every node for one pod, and where it would land.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prediction {
    /// Per node (by [`NodeId`]): its scores when every filter admits the pod, or the first
    /// refusal.
    pub verdicts: Vec<Result<Scores, Refusal>>,
    /// The feasible nodes with the highest total, in node order: upstream picks one of them
    /// at random. Empty when no node is feasible.
    pub best: Vec<NodeId>,
}

impl Prediction {
    /// The feasible nodes with their scores.
    pub fn feasible(&self) -> impl Iterator<Item = (NodeId, &Scores)> {
        self.verdicts
            .iter()
            .enumerate()
            .filter_map(|(node, verdict)| verdict.as_ref().ok().map(|scores| (node, scores)))
    }

    /// The node the pod lands on when exactly one node scores highest.
    pub fn predicted(&self) -> Option<NodeId> {
        match self.best.as_slice() {
            [node] => Some(*node),
            _ => None,
        }
    }

    /// Whether several nodes tie for the highest total.
    pub fn is_tied(&self) -> bool {
        self.best.len() > 1
    }

    /// The chance that the scheduler puts the pod on `node`: 1 for the one best node, 1/k for
    /// one of k tied best nodes, 0 elsewhere.
    pub fn chance_of(&self, node: NodeId) -> f64 {
        if self.best.contains(&node) {
            1.0 / self.best.len() as f64
        } else {
            0.0
        }
    }
}

/// The scheduler's picture of the cluster for predictions: on which node each pod is held
/// and what each node has committed, changed by [`Scene::relocate`] as a plan moves pods.
#[derive(Debug)]
pub struct Scene<'i, 'a> {
    index: &'i Index<'a>,
    node_of: Vec<Option<NodeId>>,
    on_node: Vec<Vec<PodId>>,
    /// Per node: summed requests of its pods, with their number in `pods`.
    requested: Vec<Resources>,
    /// Per node: summed non-zero requests of its pods.
    nonzero: Vec<Resources>,
    /// Pods with any pod (anti-)affinity term.
    affine: Vec<PodId>,
    /// Image name -> how many nodes hold it.
    image_nodes: HashMap<&'a str, i64>,
    namespaces: HashMap<String, Labels>,
    /// ReplicaSets by namespace and name.
    replica_sets: HashMap<(&'a str, &'a str), usize>,
    /// PreferNoSchedule taints the plan puts on nodes, beyond those observed.
    added_taints: HashMap<NodeId, Vec<Taint>>,
}

impl<'i, 'a> Scene<'i, 'a> {
    /// The cluster as indexed: every bound pod that is not Succeeded or Failed on its node.
    /// Each namespace carries its name label; [`Scene::set_namespace_labels`] adds the rest.
    pub fn new(index: &'i Index<'a>) -> Self {
        let cluster = index.cluster;
        let nodes = cluster.nodes.len();
        let mut node_of = vec![None; cluster.pods.len()];
        let mut on_node = vec![Vec::new(); nodes];
        let mut nonzero = vec![Resources::default(); nodes];
        for (node, pods) in on_node.iter_mut().enumerate() {
            for &pod in index.pods_on(node) {
                node_of[pod] = Some(node);
                pods.push(pod);
                nonzero[node] = nonzero[node].plus(index.pod(pod).spec.nonzero_requests);
            }
        }
        let affine = (0..cluster.pods.len())
            .filter(|&pod| !index.pod(pod).spec.pod_affinity.is_empty())
            .collect();
        let mut image_nodes: HashMap<&str, i64> = HashMap::default();
        for node in &cluster.nodes {
            let mut names: Vec<&str> = node
                .images
                .iter()
                .flat_map(|image| image.names.iter().map(|name| &**name))
                .collect();
            names.sort_unstable();
            names.dedup();
            for name in names {
                *image_nodes.entry(name).or_insert(0) += 1;
            }
        }
        let mut namespaces = HashMap::default();
        for pod in &cluster.pods {
            if !namespaces.contains_key(&*pod.namespace) {
                namespaces.insert(pod.namespace.to_string(), name_label(&pod.namespace));
            }
        }
        let replica_sets = cluster
            .replica_sets
            .iter()
            .enumerate()
            .map(|(id, rs)| ((&*rs.namespace, rs.name.as_str()), id))
            .collect();
        Self {
            index,
            node_of,
            on_node,
            requested: index.node_requested.clone(),
            nonzero,
            affine,
            image_nodes,
            namespaces,
            replica_sets,
            added_taints: HashMap::default(),
        }
    }

    /// Puts a PreferNoSchedule taint with this key and value on a node, as kube-spread does to
    /// steer replacements away from the nodes it drains; TaintToleration scores with it (it
    /// filters nothing). A taint the node already carries is not added twice.
    pub fn prefer_no_schedule(&mut self, node: NodeId, key: &str, value: &str) {
        let taint = Taint {
            key: key.to_owned(),
            value: value.to_owned(),
            effect: TaintEffect::PreferNoSchedule,
        };
        let observed = self
            .index
            .cluster
            .nodes
            .get(node)
            .is_some_and(|n| n.taints.contains(&taint));
        let added = self.added_taints.entry(node).or_default();
        if !observed && !added.contains(&taint) {
            added.push(taint);
        }
    }

    /// A Namespace's labels, for affinity terms' `namespaceSelector` (its name label is added).
    pub fn set_namespace_labels(&mut self, namespace: &str, mut labels: Labels) {
        labels.insert(NAMESPACE_NAME_LABEL.to_owned(), namespace.to_owned());
        self.namespaces.insert(namespace.to_owned(), labels);
    }

    /// The node the scheduler holds a pod on now.
    pub fn node_of(&self, pod: PodId) -> Option<NodeId> {
        self.node_of.get(pod).copied().flatten()
    }

    /// Moves a pod to a node, as a planned move leaves its replacement there.
    pub fn relocate(&mut self, pod: PodId, to: NodeId) {
        let spec = &self.index.pod(pod).spec;
        let held = Resources {
            pods: 1,
            ..spec.requests
        };
        if let Some(from) = self.node_of(pod) {
            self.on_node[from].retain(|other| *other != pod);
            self.requested[from] = self.requested[from].minus(held);
            self.nonzero[from] = self.nonzero[from].minus(spec.nonzero_requests);
        }
        if let Some(slot) = self.node_of.get_mut(pod) {
            *slot = Some(to);
        }
        self.on_node[to].push(pod);
        self.requested[to] = self.requested[to].plus(held);
        self.nonzero[to] = self.nonzero[to].plus(spec.nonzero_requests);
    }

    /// Where the replacement of `pod` would land: a pod with its labels, its spec and its
    /// owner (and the `nodeName` of its workload's template), placed while `pod` itself is
    /// gone or terminating as `departure` says.
    pub fn predict_replacement(&self, pod: PodId, departure: Departure) -> Prediction {
        let index = self.index;
        let original = index.pod(pod);
        let template_node = index
            .pod_workload(pod)
            .and_then(|workload| index.workload(workload).template.node_name.as_ref());
        let spec: Cow<'_, SchedulingSpec> = match template_node {
            Some(node) if original.spec.node_name.as_ref() != Some(node) => {
                Cow::Owned(SchedulingSpec {
                    node_name: Some(node.clone()),
                    ..(*original.spec).clone()
                })
            }
            _ => Cow::Borrowed(&*original.spec),
        };
        let incoming = Incoming {
            namespace: &original.namespace,
            labels: &original.labels,
            spec: &spec,
            owner: original.owner.as_ref(),
        };
        self.predict(&incoming, Some((pod, departure)))
    }

    /// Where a new pod of a workload would land: its template's labels and spec, owned by the
    /// Deployment's newest ReplicaSet (with that ReplicaSet's `pod-template-hash`) or by the
    /// StatefulSet.
    pub fn predict_new_pod(&self, workload: WorkloadId) -> Prediction {
        let index = self.index;
        let target = index.workload(workload);
        let mut labels = target.template_labels.clone();
        let owner = match target.kind {
            WorkloadKind::StatefulSet => Some(Owner {
                kind: "StatefulSet".into(),
                name: target.name.as_str().into(),
                uid: target.uid.as_str().into(),
            }),
            WorkloadKind::Deployment => index.current_hash(workload).and_then(|hash| {
                labels.insert(POD_TEMPLATE_HASH.to_owned(), hash.to_owned());
                index
                    .cluster
                    .replica_sets
                    .iter()
                    .find(|rs| {
                        rs.namespace == target.namespace
                            && rs.template_hash.as_deref() == Some(hash)
                            && rs.owner.as_ref().is_some_and(|owner| {
                                &*owner.kind == "Deployment" && *owner.name == *target.name
                            })
                    })
                    .map(|rs| Owner {
                        kind: "ReplicaSet".into(),
                        name: rs.name.as_str().into(),
                        uid: rs.uid.as_str().into(),
                    })
            }),
        };
        let incoming = Incoming {
            namespace: &target.namespace,
            labels: &labels,
            spec: &target.template,
            owner: owner.as_ref(),
        };
        self.predict(&incoming, None)
    }

    /// Where a pod would land; `departing` is a pod of the cluster that leaves first (the
    /// one it replaces), gone or terminating.
    pub fn predict(
        &self,
        incoming: &Incoming<'_>,
        departing: Option<(PodId, Departure)>,
    ) -> Prediction {
        let cycle = Cycle::new(self, incoming, departing);
        let refusals: Vec<Option<Refusal>> = (0..self.on_node.len())
            .map(|node| cycle.filter(node).err())
            .collect();
        let feasible: Vec<NodeId> = refusals
            .iter()
            .enumerate()
            .filter(|(_, refusal)| refusal.is_none())
            .map(|(node, _)| node)
            .collect();
        let scores = cycle.score(&feasible);
        let mut verdicts: Vec<Result<Scores, Refusal>> = refusals
            .into_iter()
            .map(|refusal| refusal.map_or(Ok(Scores::default()), Err))
            .collect();
        for (node, node_scores) in feasible.iter().zip(scores) {
            verdicts[*node] = Ok(node_scores);
        }
        let top = feasible
            .iter()
            .filter_map(|node| verdicts[*node].as_ref().ok().map(Scores::total))
            .max();
        let best = feasible
            .iter()
            .copied()
            .filter(|node| {
                verdicts[*node]
                    .as_ref()
                    .is_ok_and(|scores| Some(scores.total()) == top)
            })
            .collect();
        Prediction { verdicts, best }
    }

    fn namespace_labels(&self, namespace: &str) -> Cow<'_, Labels> {
        match self.namespaces.get(namespace) {
            Some(labels) => Cow::Borrowed(labels),
            None => Cow::Owned(name_label(namespace)),
        }
    }
}

fn name_label(namespace: &str) -> Labels {
    Labels::from([(NAMESPACE_NAME_LABEL.to_owned(), namespace.to_owned())])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{
        labels::HOSTNAME_LABEL,
        model::{Cluster, Node, NodeImage, Pod, PodPhase},
    };

    const GI: i64 = 1 << 30;
    const MB: i64 = 1 << 20;

    fn node(name: &str) -> Node {
        Node {
            name: name.to_owned(),
            labels: Labels::from([(HOSTNAME_LABEL.to_owned(), name.to_owned())]),
            taints: Vec::new(),
            unschedulable: false,
            ready: true,
            ready_since: None,
            created: None,
            allocatable: Resources {
                cpu_millis: 4000,
                memory_bytes: 8 * GI,
                pods: 110,
            },
            images: Vec::new(),
        }
    }

    fn spec(cpu_millis: i64, memory_bytes: i64) -> Arc<SchedulingSpec> {
        let requests = Resources {
            cpu_millis,
            memory_bytes,
            pods: 0,
        };
        Arc::new(SchedulingSpec {
            requests,
            nonzero_requests: Resources {
                cpu_millis: if cpu_millis == 0 { 100 } else { cpu_millis },
                memory_bytes: if memory_bytes == 0 {
                    200 << 20
                } else {
                    memory_bytes
                },
                pods: 0,
            },
            ..SchedulingSpec::default()
        })
    }

    fn pod(name: &str, node: &str, spec: Arc<SchedulingSpec>) -> Pod {
        Pod {
            namespace: Arc::from("default"),
            name: name.to_owned(),
            uid: format!("uid-{name}").into(),
            labels: Arc::new(Labels::from([("app".to_owned(), "web".to_owned())])),
            node_name: Some(Arc::from(node)),
            owner: None,
            phase: PodPhase::Running,
            ready: true,
            terminating: false,
            created: None,
            started: None,
            mirror: false,
            static_pod: false,
            opt_outs: Default::default(),
            deletion_cost: None,
            spec,
        }
    }

    fn predict(cluster: &Cluster, spec: &SchedulingSpec) -> Prediction {
        let index = Index::new(cluster);
        let labels = Labels::from([("app".to_owned(), "web".to_owned())]);
        let incoming = Incoming {
            namespace: "default",
            labels: &labels,
            spec,
            owner: None,
        };
        Scene::new(&index).predict(&incoming, None)
    }

    #[test]
    fn least_allocated_matches_upstreams_differently_sized_nodes_case() {
        // least_allocated_test.go: 3000m / 5000 requested of 4000m / 10000 and 6000m / 10000.
        let wanted = Resources {
            cpu_millis: 3000,
            memory_bytes: 5000,
            pods: 0,
        };
        let small = Resources {
            cpu_millis: 4000,
            memory_bytes: 10000,
            pods: 0,
        };
        let large = Resources {
            cpu_millis: 6000,
            ..small
        };
        assert_eq!(least_allocated(wanted, small), 37);
        assert_eq!(least_allocated(wanted, large), 50);
        assert_eq!(
            least_allocated(wanted, Resources::default()),
            0,
            "a node without allocatable cpu or memory scores nothing"
        );
    }

    #[test]
    fn balanced_allocation_matches_upstreams_differently_sized_nodes_case() {
        // balanced_allocation_test.go: fractions 0.75 / 0.5 give 87, 0.5 / 0.5 give 100.
        let wanted = Resources {
            cpu_millis: 3000,
            memory_bytes: 5000,
            pods: 0,
        };
        let small = Resources {
            cpu_millis: 4000,
            memory_bytes: 10000,
            pods: 0,
        };
        let large = Resources {
            cpu_millis: 6000,
            ..small
        };
        assert_eq!(balanced_allocation(wanted, small), 87);
        assert_eq!(balanced_allocation(wanted, large), 100);
    }

    #[test]
    fn image_locality_matches_upstreams_two_images_on_two_nodes_case() {
        // image_locality_test.go: 40 MB on one node and 250 MB on the other, both wanted,
        // each held by one node of two: 20 MB scores 0, 125 MB scores 5.
        assert_eq!(image_score(20 * MB, 2), 0);
        assert_eq!(image_score(125 * MB, 2), 5);
        let mut a = node("a");
        a.images = vec![NodeImage {
            names: vec![Arc::from("gcr.io/40:latest")],
            size_bytes: 40 * MB,
        }];
        let mut b = node("b");
        b.images = vec![NodeImage {
            names: vec![Arc::from("gcr.io/250:latest")],
            size_bytes: 250 * MB,
        }];
        let cluster = Cluster {
            nodes: vec![a, b].into(),
            ..Cluster::default()
        };
        let wanted = SchedulingSpec {
            images: vec![
                "gcr.io/40:latest".to_owned(),
                "gcr.io/250:latest".to_owned(),
            ],
            ..(*spec(0, 0)).clone()
        };
        let prediction = predict(&cluster, &wanted);
        let image = |node: NodeId| {
            prediction.verdicts[node]
                .as_ref()
                .ok()
                .and_then(|s| s.get(Plugin::ImageLocality))
        };
        assert_eq!((image(0), image(1)), (Some(0), Some(5)));
    }

    #[test]
    fn default_normalization_scales_to_the_largest_and_reverses_on_request() {
        assert_eq!(default_normalize(&[0, 1, 2], true), vec![100, 50, 0]);
        assert_eq!(default_normalize(&[0, 0], true), vec![100, 100]);
        assert_eq!(default_normalize(&[0, 0], false), vec![0, 0]);
        assert_eq!(default_normalize(&[3, 1], false), vec![100, 33]);
    }

    #[test]
    fn ties_are_reported_as_a_set_and_a_prefer_no_schedule_taint_breaks_them() {
        let mut tainted = node("c");
        tainted.taints = vec![Taint {
            key: "kubespread.io/draining".to_owned(),
            value: String::new(),
            effect: TaintEffect::PreferNoSchedule,
        }];
        let cluster = Cluster {
            nodes: vec![node("a"), node("b"), tainted].into(),
            ..Cluster::default()
        };
        let prediction = predict(&cluster, &spec(0, 0));
        assert_eq!(prediction.best, vec![0, 1]);
        assert!(prediction.is_tied());
        assert_eq!(prediction.predicted(), None);
        assert_eq!(prediction.chance_of(1), 0.5);
        assert_eq!(prediction.chance_of(2), 0.0);
        let scores = |node: NodeId| prediction.verdicts[node].clone().unwrap_or_default();
        assert_eq!(scores(2).get(Plugin::TaintToleration), Some(0));
        assert_eq!(
            scores(2).get(Plugin::NodeResourcesBalancedAllocation),
            None,
            "a pod requesting nothing skips BalancedAllocation"
        );
        assert_eq!(scores(0).total() - scores(2).total(), 3 * 100);
    }

    #[test]
    fn a_prefer_no_schedule_taint_the_plan_adds_steers_the_prediction_away() {
        let cluster = Cluster {
            nodes: vec![node("a"), node("b")].into(),
            pods: vec![pod("p", "a", spec(0, 0))]
                .into_iter()
                .map(Arc::new)
                .collect(),
            ..Cluster::default()
        };
        let index = Index::new(&cluster);
        let mut scene = Scene::new(&index);
        let labels = Labels::new();
        let wanted = spec(0, 0);
        let incoming = Incoming {
            namespace: "default",
            labels: &labels,
            spec: &wanted,
            owner: None,
        };
        assert_eq!(scene.predict(&incoming, None).predicted(), Some(1));
        scene.prefer_no_schedule(1, "kubespread.io/draining", "");
        scene.prefer_no_schedule(1, "kubespread.io/draining", "");
        let steered = scene.predict(&incoming, None);
        assert_eq!(steered.predicted(), Some(0));
        let taint_score = |node: NodeId| {
            steered.verdicts[node]
                .as_ref()
                .ok()
                .and_then(|s| s.get(Plugin::TaintToleration))
        };
        assert_eq!((taint_score(0), taint_score(1)), (Some(100), Some(0)));
    }

    #[test]
    fn a_best_effort_pod_lands_on_the_node_with_fewest_pods_by_its_non_zero_requests() {
        let cluster = Cluster {
            nodes: vec![node("a"), node("b")].into(),
            pods: (0..4)
                .map(|i| Arc::new(pod(&format!("old-{i}"), "a", spec(0, 0))))
                .collect(),
            ..Cluster::default()
        };
        let prediction = predict(&cluster, &spec(0, 0));
        assert_eq!(prediction.predicted(), Some(1));
        let fit = prediction.verdicts[0]
            .as_ref()
            .ok()
            .and_then(|s| s.get(Plugin::NodeResourcesFit));
        // 5 × 100m of 4000m and 5 × 200Mi of 8Gi.
        assert_eq!(fit, Some((87 + 87) / 2));
    }

    #[test]
    fn an_evicted_pod_holds_its_resources_while_terminating_and_frees_them_when_gone() {
        let big = spec(3000, GI);
        let cluster = Cluster {
            nodes: vec![node("a"), node("b")].into(),
            pods: vec![
                pod("evicted", "a", Arc::clone(&big)),
                pod("other", "b", spec(1000, GI)),
            ]
            .into_iter()
            .map(Arc::new)
            .collect(),
            ..Cluster::default()
        };
        let index = Index::new(&cluster);
        let scene = Scene::new(&index);
        // Terminating, it still holds 3000m of a: its replacement does not fit there.
        let terminating = scene.predict_replacement(0, Departure::Terminating);
        assert_eq!(
            terminating.verdicts[0],
            Err(Refusal::InsufficientResources { resource: "cpu" })
        );
        assert_eq!(terminating.predicted(), Some(1));
        let gone = scene.predict_replacement(0, Departure::Gone);
        assert_eq!(
            gone.predicted(),
            Some(0),
            "a is emptier once the pod is gone"
        );
    }

    #[test]
    fn a_relocated_pod_counts_on_its_new_node() {
        let cluster = Cluster {
            nodes: vec![node("a"), node("b")].into(),
            pods: vec![pod("p", "a", spec(2000, 0))]
                .into_iter()
                .map(Arc::new)
                .collect(),
            ..Cluster::default()
        };
        let index = Index::new(&cluster);
        let mut scene = Scene::new(&index);
        let labels = Labels::new();
        let wanted = spec(1000, 0);
        let incoming = Incoming {
            namespace: "default",
            labels: &labels,
            spec: &wanted,
            owner: None,
        };
        assert_eq!(scene.predict(&incoming, None).predicted(), Some(1));
        scene.relocate(0, 1);
        assert_eq!(scene.node_of(0), Some(1));
        assert_eq!(scene.predict(&incoming, None).predicted(), Some(0));
    }
}
