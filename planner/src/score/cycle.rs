//! One scheduling cycle of one pod over a scene: PreFilter state and every Filter plugin's
//! verdict per node, and the affinity-term matching the scores share.

use std::borrow::Cow;

use rustc_hash::FxHashMap as HashMap;

use super::{Departure, Incoming, Scene};
use crate::{
    eligibility::{self, Placement, Refusal},
    index::{Index, NodeId, PodId},
    labels::Labels,
    model::{Pod, PodAffinityTerm, PodVolume, Resources, WhenUnsatisfiable},
    selector::LabelSelector,
    topology::{self, Constraint, Counts, DomainCache},
};

/// `AffinityTerm.Matches`: the target pod is in one of the term's namespaces (the carrier's
/// own when the term names none and has no selector; those the selector picks by their
/// labels) and its labels match.
pub(super) fn term_matches(
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
pub(super) struct Target<'t> {
    pub(super) namespace: &'t str,
    pub(super) labels: &'t Labels,
    pub(super) namespace_labels: &'t Labels,
}

impl Target<'_> {
    /// Whether a term carried by a pod of `carrier` namespace matches this pod.
    pub(super) fn matched_by(&self, term: &PodAffinityTerm, carrier: &str) -> bool {
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
pub(super) type TopologyCounts<'t> = HashMap<(&'t str, &'t str), i64>;

pub(super) fn add_at<'t>(
    counts: &mut TopologyCounts<'t>,
    labels: &'t Labels,
    key: &str,
    delta: i64,
) {
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
pub(super) struct Cycle<'c, 'i, 'a> {
    pub(super) scene: &'c Scene<'i, 'a>,
    pub(super) index: &'i Index<'a>,
    pub(super) pod: &'c Incoming<'c>,
    pub(super) placement: Placement,
    pub(super) own_namespace_labels: Cow<'c, Labels>,
    pub(super) gone: Option<PodId>,
    pub(super) terminating: Option<PodId>,
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
    pub(super) fn new(
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
    pub(super) fn pods_on(&self, node: NodeId) -> impl Iterator<Item = PodId> + '_ {
        self.scene.on_node[node]
            .iter()
            .copied()
            .filter(move |pod| Some(*pod) != self.gone)
    }

    /// What a node has committed in this cycle: (requests with the pod count, non-zero).
    pub(super) fn committed(&self, node: NodeId) -> (Resources, Resources) {
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
    pub(super) fn counted(&self, pod: PodId) -> bool {
        Some(pod) != self.gone && Some(pod) != self.terminating && !self.index.pod(pod).terminating
    }

    /// Matching pods of the incoming pod's namespace per node, as `countPodsMatchSelector`
    /// counts them (none for an empty selector).
    pub(super) fn matching_per_node(&self, selector: &LabelSelector) -> HashMap<NodeId, i64> {
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

    pub(super) fn filter(&self, node_id: NodeId) -> Result<(), Refusal> {
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

    /// The pods whose affinity terms can matter: every held pod when `all`, else only those
    /// carrying terms.
    pub(super) fn affinity_candidates(&self, all: bool) -> Box<dyn Iterator<Item = PodId> + '_> {
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
        for pod_id in self.affinity_candidates(own_terms) {
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
}
