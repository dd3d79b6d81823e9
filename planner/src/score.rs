//! Where kube-scheduler's default profile (v1.33) would place a pod: its filters, then each
//! default score plugin's score normalized as upstream normalizes it, weighted and summed.
//! Pure; the ties upstream breaks at random are returned as a set, never broken here.

use std::borrow::Cow;

use rustc_hash::FxHashMap as HashMap;
use serde::{Serialize, Serializer, ser::SerializeMap};

use super::{
    eligibility::{self, Placement, Refusal},
    index::{Index, NodeId, PodId, WorkloadId},
    labels::{HOSTNAME_LABEL, Labels, NAMESPACE_NAME_LABEL, POD_TEMPLATE_HASH, ZONE_LABEL},
    model::{
        NodeInclusionPolicy, Owner, Pod, PodAffinityTerm, PodVolume, Resources, SchedulingSpec,
        TaintEffect, WhenUnsatisfiable, WorkloadKind,
    },
    selector::LabelSelector,
    topology::{self, Constraint, Counts, DomainCache},
};

/// The highest score a plugin gives a node after normalization.
pub const MAX_NODE_SCORE: i64 = 100;
const MB: i64 = 1024 * 1024;
/// ImageLocality's floor: images smaller than this in sum score nothing.
const MIN_IMAGE_THRESHOLD: i64 = 23 * MB;
/// ImageLocality's ceiling, per container.
const MAX_CONTAINER_IMAGE_THRESHOLD: i64 = 1000 * MB;
/// InterPodAffinity's `hardPodAffinityWeight` default: what an existing pod's required
/// affinity to the incoming pod weighs in scoring.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

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
        let template_node = index.pod_workload[pod]
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
                kind: "StatefulSet".to_owned(),
                name: target.name.clone(),
                uid: target.uid.clone(),
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
                                owner.kind == "Deployment" && owner.name == target.name
                            })
                    })
                    .map(|rs| Owner {
                        kind: "ReplicaSet".to_owned(),
                        name: rs.name.clone(),
                        uid: rs.uid.clone(),
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

/// `AffinityTerm.Matches`: the target pod is in one of the term's namespaces (the carrier's
/// own when the term names none and has no selector; those the selector picks by their
/// labels) and its labels match.
fn term_matches(
    term: &PodAffinityTerm,
    carrier_namespace: &str,
    target_namespace: &str,
    target_labels: &Labels,
    target_namespace_labels: &Labels,
) -> bool {
    let in_namespace = if term.namespaces.is_empty() && term.namespace_selector.is_none() {
        target_namespace == carrier_namespace
    } else {
        term.namespaces.iter().any(|name| name == target_namespace)
            || term
                .namespace_selector
                .as_ref()
                .is_some_and(|selector| selector.matches(target_namespace_labels))
    };
    in_namespace && term.label_selector.matches(target_labels)
}

/// A pod an affinity term may be about: its namespace, labels and namespace's labels.
#[derive(Clone, Copy)]
struct Target<'t> {
    namespace: &'t str,
    labels: &'t Labels,
    namespace_labels: &'t Labels,
}

impl Target<'_> {
    /// Whether a term carried by a pod of `carrier` namespace matches this pod.
    fn matched_by(&self, term: &PodAffinityTerm, carrier: &str) -> bool {
        term_matches(
            term,
            carrier,
            self.namespace,
            self.labels,
            self.namespace_labels,
        )
    }
}

/// Per (topology key, value): how many matching terms, or their summed weights.
type TopologyCounts<'t> = HashMap<(&'t str, &'t str), i64>;

fn add_at<'t>(counts: &mut TopologyCounts<'t>, labels: &'t Labels, key: &str, delta: i64) {
    if let Some((key, value)) = labels.get_key_value(key) {
        *counts.entry((key.as_str(), value.as_str())).or_insert(0) += delta;
    }
}

fn count_at(counts: &TopologyCounts<'_>, labels: &Labels, key: &str) -> i64 {
    labels
        .get(key)
        .and_then(|value| counts.get(&(key, value.as_str())))
        .copied()
        .unwrap_or(0)
}

/// One scheduling cycle of one pod over a scene.
struct Cycle<'c, 'i, 'a> {
    scene: &'c Scene<'i, 'a>,
    index: &'i Index<'a>,
    pod: &'c Incoming<'c>,
    placement: Placement,
    own_namespace_labels: Cow<'c, Labels>,
    gone: Option<PodId>,
    terminating: Option<PodId>,
    spread: (Vec<Constraint>, Vec<Counts>),
    inter_pod: InterPodState<'a>,
}

/// InterPodAffinity's PreFilter counts.
#[derive(Default)]
struct InterPodState<'t> {
    existing_anti: TopologyCounts<'t>,
    affinity: TopologyCounts<'t>,
    anti: TopologyCounts<'t>,
    /// The pod matches all its own required affinity terms.
    self_affine: bool,
}

impl<'c, 'i, 'a> Cycle<'c, 'i, 'a> {
    fn new(
        scene: &'c Scene<'i, 'a>,
        pod: &'c Incoming<'c>,
        departing: Option<(PodId, Departure)>,
    ) -> Self {
        let (gone, terminating) = match departing {
            Some((pod, Departure::Gone)) => (Some(pod), None),
            Some((pod, Departure::Terminating)) => (None, Some(pod)),
            None => (None, None),
        };
        let mut cycle = Self {
            scene,
            index: scene.index,
            pod,
            placement: Placement::of(pod.spec),
            own_namespace_labels: scene.namespace_labels(pod.namespace),
            gone,
            terminating,
            spread: (Vec::new(), Vec::new()),
            inter_pod: InterPodState::default(),
        };
        cycle.spread = cycle.spread_prefilter();
        cycle.inter_pod = cycle.inter_pod_prefilter();
        cycle
    }

    /// The pods the scheduler holds on a node in this cycle.
    fn pods_on(&self, node: NodeId) -> impl Iterator<Item = PodId> + '_ {
        self.scene.on_node[node]
            .iter()
            .copied()
            .filter(move |pod| Some(*pod) != self.gone)
    }

    /// What a node has committed in this cycle: (requests with the pod count, non-zero).
    fn committed(&self, node: NodeId) -> (Resources, Resources) {
        let (mut requested, mut nonzero) = (self.scene.requested[node], self.scene.nonzero[node]);
        if let Some(gone) = self
            .gone
            .filter(|gone| self.scene.node_of(*gone) == Some(node))
        {
            let spec = &self.index.pod(gone).spec;
            requested = requested.minus(Resources {
                pods: 1,
                ..spec.requests
            });
            nonzero = nonzero.minus(spec.nonzero_requests);
        }
        (requested, nonzero)
    }

    /// Whether PodTopologySpread counts a held pod (it skips terminating ones).
    fn counted(&self, pod: PodId) -> bool {
        Some(pod) != self.gone && Some(pod) != self.terminating && !self.index.pod(pod).terminating
    }

    /// Matching pods of the incoming pod's namespace per node, as `countPodsMatchSelector`
    /// counts them (none for an empty selector).
    fn matching_per_node(&self, selector: &LabelSelector) -> HashMap<NodeId, i64> {
        let mut per_node: HashMap<NodeId, i64> = HashMap::default();
        for pod in topology::matching_pods(self.index, self.pod.namespace, selector) {
            if !self.counted(pod) {
                continue;
            }
            if let Some(node) = self.scene.node_of(pod) {
                *per_node.entry(node).or_insert(0) += 1;
            }
        }
        per_node
    }

    // --- Filters --------------------------------------------------------------------------

    fn filter(&self, node_id: NodeId) -> Result<(), Refusal> {
        let node = self.index.node(node_id);
        let (requested, _) = self.committed(node_id);
        // Only NodePorts reads the node's pods; most pods bind no host port.
        let on_node: Vec<&Pod> = if self.pod.spec.host_ports.is_empty() {
            Vec::new()
        } else {
            self.pods_on(node_id).map(|p| self.index.pod(p)).collect()
        };
        eligibility::node_filters(self.index, self.pod.spec, node_id, requested, &on_node)?;
        if !self.volumes_reach(node_id) {
            return Err(Refusal::VolumeNodeAffinity);
        }
        let (constraints, counts) = &self.spread;
        topology::spread_filter(node, constraints.iter().zip(counts), self.pod.labels)?;
        self.inter_pod_filter(node_id)
    }

    /// VolumeBinding for bound claims: their volumes' node affinity admits the node.
    fn volumes_reach(&self, node_id: NodeId) -> bool {
        let node = self.index.node(node_id);
        self.pod.spec.volumes.iter().all(|volume| match volume {
            PodVolume::Claim(name) => self
                .index
                .claim(self.pod.namespace, name)
                .and_then(|claim| claim.volume_name.as_deref())
                .and_then(|volume| self.index.volume(volume))
                .and_then(|volume| volume.node_affinity.as_ref())
                .is_none_or(|affinity| affinity.matches(&node.name, &node.labels)),
            _ => true,
        })
    }

    /// PodTopologySpread's PreFilter over the scene: the DoNotSchedule constraints and their
    /// counts per eligible domain.
    fn spread_prefilter(&self) -> (Vec<Constraint>, Vec<Counts>) {
        let constraints: Vec<Constraint> = self
            .pod
            .spec
            .spread_constraints
            .iter()
            .filter(|c| c.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule)
            .map(|c| Constraint::of_pod(c, self.pod.labels))
            .collect();
        let keys = topology::keys_of_kind(&constraints, WhenUnsatisfiable::DoNotSchedule);
        let placements = [self.placement.clone()];
        let mut cache = DomainCache::default();
        let counts = constraints
            .iter()
            .map(|constraint| {
                let domains = cache.get(self.index, &placements, constraint, &keys);
                let mut counts = Counts::new(domains);
                for (node, count) in self.matching_per_node(&constraint.selector) {
                    counts.add(node, i32::try_from(count).unwrap_or(i32::MAX));
                }
                counts
            })
            .collect();
        (constraints, counts)
    }

    /// The pods whose required anti-affinity, or any affinity term, can matter.
    fn pods_with(&self, all: bool) -> Box<dyn Iterator<Item = PodId> + '_> {
        if all {
            Box::new((0..self.on_node_count()).flat_map(move |node| self.pods_on(node)))
        } else {
            Box::new(
                self.scene
                    .affine
                    .iter()
                    .copied()
                    .filter(move |pod| Some(*pod) != self.gone),
            )
        }
    }

    fn on_node_count(&self) -> usize {
        self.scene.on_node.len()
    }

    /// InterPodAffinity's PreFilter: existing pods' required anti-affinity against the pod,
    /// and the pods its own required terms match, per topology pair.
    fn inter_pod_prefilter(&self) -> InterPodState<'a> {
        let terms = &self.pod.spec.pod_affinity;
        let own = &self.own_namespace_labels;
        let mut state = InterPodState {
            self_affine: !terms.required.is_empty()
                && terms.required.iter().all(|term| {
                    term_matches(
                        term,
                        self.pod.namespace,
                        self.pod.namespace,
                        self.pod.labels,
                        own,
                    )
                }),
            ..InterPodState::default()
        };
        let own_terms = !terms.required.is_empty() || !terms.required_anti.is_empty();
        for pod_id in self.pods_with(own_terms) {
            let Some(node) = self.scene.node_of(pod_id) else {
                continue;
            };
            let labels = &self.index.node(node).labels;
            let existing = self.index.pod(pod_id);
            for term in &existing.spec.pod_affinity.required_anti {
                if term_matches(
                    term,
                    &existing.namespace,
                    self.pod.namespace,
                    self.pod.labels,
                    own,
                ) {
                    add_at(&mut state.existing_anti, labels, &term.topology_key, 1);
                }
            }
            if !own_terms {
                continue;
            }
            let existing_namespace = self.scene.namespace_labels(&existing.namespace);
            let matches = |term: &PodAffinityTerm| {
                term_matches(
                    term,
                    self.pod.namespace,
                    &existing.namespace,
                    &existing.labels,
                    &existing_namespace,
                )
            };
            if !terms.required.is_empty() && terms.required.iter().all(matches) {
                for term in &terms.required {
                    add_at(&mut state.affinity, labels, &term.topology_key, 1);
                }
            }
            for term in &terms.required_anti {
                if matches(term) {
                    add_at(&mut state.anti, labels, &term.topology_key, 1);
                }
            }
        }
        state.existing_anti.retain(|_, count| *count != 0);
        state.affinity.retain(|_, count| *count != 0);
        state.anti.retain(|_, count| *count != 0);
        state
    }

    /// InterPodAffinity's Filter.
    fn inter_pod_filter(&self, node_id: NodeId) -> Result<(), Refusal> {
        let labels = &self.index.node(node_id).labels;
        let terms = &self.pod.spec.pod_affinity;
        let state = &self.inter_pod;
        let mut pods_exist = true;
        for term in &terms.required {
            if !labels.contains_key(&term.topology_key) {
                return Err(Refusal::PodAffinity);
            }
            if count_at(&state.affinity, labels, &term.topology_key) <= 0 {
                pods_exist = false;
            }
        }
        // The first pod of a group with affinity to itself may go wherever its keys exist.
        let first_of_its_kind = state.affinity.is_empty() && state.self_affine;
        if !(pods_exist || first_of_its_kind) {
            return Err(Refusal::PodAffinity);
        }
        if terms
            .required_anti
            .iter()
            .any(|term| count_at(&state.anti, labels, &term.topology_key) > 0)
        {
            return Err(Refusal::PodAntiAffinity);
        }
        if labels.iter().any(|(key, value)| {
            state
                .existing_anti
                .get(&(key, value))
                .is_some_and(|c| *c > 0)
        }) {
            return Err(Refusal::ExistingPodsAntiAffinity);
        }
        Ok(())
    }

    // --- Scores ---------------------------------------------------------------------------

    /// Every plugin's normalized score for each feasible node, in order.
    fn score(&self, feasible: &[NodeId]) -> Vec<Scores> {
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
                let count = self
                    .index
                    .node(node)
                    .taints
                    .iter()
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
        let selector = match owner.kind.as_str() {
            "ReplicaSet" => {
                let id = *self
                    .scene
                    .replica_sets
                    .get(&(namespace, owner.name.as_str()))?;
                let replica_set = &index.cluster.replica_sets[id];
                let deployment = replica_set
                    .owner
                    .as_ref()
                    .filter(|owner| owner.kind == "Deployment")?;
                let workload =
                    index.workload_id(namespace, WorkloadKind::Deployment, &deployment.name)?;
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
                let workload =
                    index.workload_id(namespace, WorkloadKind::StatefulSet, &owner.name)?;
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
        for pod_id in self.pods_with(prefers) {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Cluster, Node, NodeImage, PodPhase, Taint};

    const GI: i64 = 1 << 30;

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
            uid: format!("uid-{name}"),
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
            nodes: vec![a, b],
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
            nodes: vec![node("a"), node("b"), tainted],
            ..Cluster::default()
        };
        let prediction = predict(&cluster, &spec(0, 0));
        assert_eq!(prediction.best, vec![0, 1]);
        assert!(prediction.is_tied());
        assert_eq!(prediction.predicted(), None);
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
    fn a_best_effort_pod_lands_on_the_node_with_fewest_pods_by_its_non_zero_requests() {
        let cluster = Cluster {
            nodes: vec![node("a"), node("b")],
            pods: (0..4)
                .map(|i| pod(&format!("old-{i}"), "a", spec(0, 0)))
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
            nodes: vec![node("a"), node("b")],
            pods: vec![
                pod("evicted", "a", Arc::clone(&big)),
                pod("other", "b", spec(1000, GI)),
            ],
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
            nodes: vec![node("a"), node("b")],
            pods: vec![pod("p", "a", spec(2000, 0))],
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
