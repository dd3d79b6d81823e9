//! Topology domains, pod counts, the global minimum and skew, exactly as kube-scheduler's
//! PodTopologySpread plugin computes them (PreFilter and Filter), plus the actionable view:
//! the same counts restricted to domains that can take the group's pods now.

use std::{
    hash::{Hash, Hasher},
    sync::Arc,
};

use rustc_hash::FxHashMap as HashMap;

use serde::Serialize;

use super::{
    eligibility::{Placement, Refusal},
    index::{Index, NodeId, PodId},
    model::{Labels, Node, PodSpreadConstraint},
    selector::LabelSelector,
};
use crate::model::{NodeInclusionPolicy, WhenUnsatisfiable};

/// A spread constraint resolved for the pods it places: its selector already carries the
/// `matchLabelKeys` values, and the inclusion policies their defaults.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Constraint {
    /// The largest allowed skew.
    pub max_skew: i32,
    /// The node label whose values are the domains.
    pub topology_key: String,
    /// DoNotSchedule or ScheduleAnyway.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// `minDomains`, 1 when unset (it only matters for DoNotSchedule).
    pub min_domains: i32,
    /// Honor (default) or Ignore.
    pub node_affinity_policy: NodeInclusionPolicy,
    /// Ignore (default) or Honor.
    pub node_taints_policy: NodeInclusionPolicy,
    /// The pods counted, `matchLabelKeys` merged in.
    pub selector: LabelSelector,
}

impl Constraint {
    /// `filterTopologySpreadConstraints`: a pod's constraint as the scheduler uses it to place
    /// that pod, with the pod's own values of `matchLabelKeys` merged into the selector.
    pub fn of_pod(constraint: &PodSpreadConstraint, pod_labels: &Labels) -> Self {
        Self::resolved(
            constraint,
            constraint.label_selector.clone(),
            constraint.topology_key.clone(),
            pod_labels,
        )
    }

    /// [`Constraint::of_pod`] for a constraint the caller is done with: its selector and
    /// topology key are moved, not copied.
    pub fn from_pod(mut constraint: PodSpreadConstraint, pod_labels: &Labels) -> Self {
        let selector = constraint.label_selector.take();
        let topology_key = std::mem::take(&mut constraint.topology_key);
        Self::resolved(&constraint, selector, topology_key, pod_labels)
    }

    fn resolved(
        constraint: &PodSpreadConstraint,
        selector: Option<LabelSelector>,
        topology_key: String,
        pod_labels: &Labels,
    ) -> Self {
        let selector = match selector {
            None => LabelSelector::Nothing,
            Some(selector) => {
                let values: Labels = constraint
                    .match_label_keys
                    .iter()
                    .filter_map(|key| pod_labels.get_key_value(key))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if values.is_empty() {
                    selector
                } else {
                    selector.with_labels(&values)
                }
            }
        };
        Self {
            max_skew: constraint.max_skew,
            topology_key,
            when_unsatisfiable: constraint.when_unsatisfiable,
            min_domains: constraint.min_domains.unwrap_or(1),
            node_affinity_policy: constraint
                .node_affinity_policy
                .unwrap_or(NodeInclusionPolicy::Honor),
            node_taints_policy: constraint
                .node_taints_policy
                .unwrap_or(NodeInclusionPolicy::Ignore),
            selector,
        }
    }

    /// `matchNodeInclusionPolicies`: whether a node counts for this constraint, for pods placed
    /// as `placements` place them (any of them, for a group of several workloads).
    fn includes(&self, placements: &[Placement], node: &Node) -> bool {
        let honor_affinity = self.node_affinity_policy == NodeInclusionPolicy::Honor;
        let honor_taints = self.node_taints_policy == NodeInclusionPolicy::Honor;
        placements.iter().any(|placement| {
            (!honor_affinity || placement.admits(node))
                && (!honor_taints || placement.tolerates(node))
        })
    }
}

/// The eligible domains of one constraint for one placement: which node counts in which
/// domain, and which domains have a node that can take such pods now.
#[derive(Debug, PartialEq, Eq)]
pub struct DomainSet {
    /// The topology key.
    pub topology_key: String,
    names: Vec<String>,
    node_domain: Vec<Option<u32>>,
    live: Vec<bool>,
    live_count: usize,
    live_nodes: Vec<Vec<NodeId>>,
}

impl DomainSet {
    /// PreFilter's domains: every node that carries all `keys` (the topology keys of the pod's
    /// constraints of this kind) and passes the constraint's inclusion policies; a domain is a
    /// label value, however many nodes share it. NotReady and cordoned nodes count.
    pub fn build(
        index: &Index<'_>,
        placements: &[Placement],
        constraint: &Constraint,
        keys: &[&str],
    ) -> Self {
        let nodes = &index.cluster.nodes;
        let mut eligible: Vec<(&str, NodeId)> = Vec::new();
        for (id, node) in nodes.iter().enumerate() {
            if !keys.iter().all(|key| node.labels.contains_key(*key)) {
                continue;
            }
            if !constraint.includes(placements, node) {
                continue;
            }
            if let Some(value) = node.labels.get(&constraint.topology_key) {
                eligible.push((value, id));
            }
        }
        let mut names: Vec<String> = eligible
            .iter()
            .map(|(value, _)| (*value).to_owned())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut node_domain = vec![None; nodes.len()];
        let mut live = vec![false; names.len()];
        let mut live_nodes = vec![Vec::new(); names.len()];
        for (value, id) in eligible {
            let Ok(domain) = names.binary_search_by(|name| name.as_str().cmp(value)) else {
                continue;
            };
            node_domain[id] = u32::try_from(domain).ok();
            if placements
                .iter()
                .any(|placement| placement.is_live_on(&nodes[id]))
            {
                live[domain] = true;
                live_nodes[domain].push(id);
            }
        }
        Self {
            topology_key: constraint.topology_key.clone(),
            names,
            node_domain,
            live_count: live.iter().filter(|live| **live).count(),
            live,
            live_nodes,
        }
    }

    /// How many eligible domains there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there is no eligible domain.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// A domain's name (the label value).
    pub fn name(&self, domain: u32) -> &str {
        self.names.get(domain as usize).map_or("", String::as_str)
    }

    /// The domain a node counts in, if it is eligible.
    pub fn domain_of(&self, node: NodeId) -> Option<u32> {
        self.node_domain.get(node).copied().flatten()
    }

    /// The domain with this label value, if eligible.
    pub fn domain_named(&self, value: &str) -> Option<u32> {
        self.names
            .binary_search_by(|name| name.as_str().cmp(value))
            .ok()
            .and_then(|domain| u32::try_from(domain).ok())
    }

    /// Whether a domain has a node that can take such pods now (Ready, schedulable, taints
    /// tolerated, affinity admits it; load aside).
    pub fn is_live(&self, domain: u32) -> bool {
        self.live.get(domain as usize).copied().unwrap_or(false)
    }

    /// Per node: its domain, if eligible.
    pub fn node_domains(&self) -> &[Option<u32>] {
        &self.node_domain
    }

    /// Per domain: whether it is live.
    pub fn live_flags(&self) -> &[bool] {
        &self.live
    }

    /// The live nodes of a domain.
    pub fn live_nodes(&self, domain: u32) -> &[NodeId] {
        self.live_nodes
            .get(domain as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Every domain, in name order.
    pub fn domains(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.names.len()).filter_map(|domain| u32::try_from(domain).ok())
    }

    /// How many domains are live.
    pub fn live_count(&self) -> usize {
        self.live_count
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct DomainKey {
    placements: Vec<Placement>,
    topology_key: String,
    keys: Vec<String>,
    node_affinity_policy: NodeInclusionPolicy,
    node_taints_policy: NodeInclusionPolicy,
}

impl DomainKey {
    fn is(&self, placements: &[Placement], constraint: &Constraint, keys: &[&str]) -> bool {
        self.placements == placements
            && self.topology_key == constraint.topology_key
            && self
                .keys
                .iter()
                .map(String::as_str)
                .eq(keys.iter().copied())
            && self.node_affinity_policy == constraint.node_affinity_policy
            && self.node_taints_policy == constraint.node_taints_policy
    }
}

/// Domain sets already built, shared by every group with the same placement and constraint
/// shape (a cluster of a thousand namespaces typically has a handful). Looked up by a hash of
/// the borrowed parts, so a hit allocates nothing. The sets read only the nodes, so a plan
/// of a cluster whose nodes are the list the plan before read starts from that plan's
/// cache ([`DomainCache::carried`]).
#[derive(Clone, Debug, Default)]
pub struct DomainCache {
    sets: HashMap<u64, Vec<(DomainKey, Arc<DomainSet>)>>,
}

/// How many shapes a cache carried from plan to plan may hold before it starts afresh (a
/// cluster typically has a handful; policies edited again and again would add more).
const CARRIED_SHAPES: usize = 64;

impl DomainCache {
    /// The cache to start the next plan with, over the same nodes.
    pub fn carried(&self) -> Self {
        if self.sets.values().map(Vec::len).sum::<usize>() > CARRIED_SHAPES {
            return Self::default();
        }
        self.clone()
    }

    /// The domain set for a constraint and placement, built on first use.
    pub fn get(
        &mut self,
        index: &Index<'_>,
        placements: &[Placement],
        constraint: &Constraint,
        keys: &[&str],
    ) -> Arc<DomainSet> {
        let mut hasher = rustc_hash::FxHasher::default();
        placements.hash(&mut hasher);
        constraint.topology_key.hash(&mut hasher);
        keys.hash(&mut hasher);
        constraint.node_affinity_policy.hash(&mut hasher);
        constraint.node_taints_policy.hash(&mut hasher);
        let entries = self.sets.entry(hasher.finish()).or_default();
        if let Some((_, set)) = entries
            .iter()
            .find(|(key, _)| key.is(placements, constraint, keys))
        {
            return Arc::clone(set);
        }
        let set = Arc::new(DomainSet::build(index, placements, constraint, keys));
        entries.push((
            DomainKey {
                placements: placements.to_vec(),
                topology_key: constraint.topology_key.clone(),
                keys: keys.iter().map(|key| (*key).to_owned()).collect(),
                node_affinity_policy: constraint.node_affinity_policy,
                node_taints_policy: constraint.node_taints_policy,
            },
            Arc::clone(&set),
        ));
        set
    }
}

/// The topology keys of the constraints of one kind: a node must carry all of them to count
/// (`nodeLabelsMatchSpreadConstraints`).
pub fn keys_of_kind(constraints: &[Constraint], kind: WhenUnsatisfiable) -> Vec<&str> {
    let mut keys: Vec<&str> = constraints
        .iter()
        .filter(|constraint| constraint.when_unsatisfiable == kind)
        .map(|constraint| constraint.topology_key.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Matching pods per domain for one constraint: what PreFilter's `TpPairToMatchNum` holds.
#[derive(Clone, Debug)]
pub struct Counts {
    /// The domains counted over.
    pub domains: Arc<DomainSet>,
    counts: HashMap<u32, u32>,
}

impl Counts {
    /// No pods counted yet.
    pub fn new(domains: Arc<DomainSet>) -> Self {
        Self {
            domains,
            counts: HashMap::default(),
        }
    }

    /// No pods counted yet, with room for `domains_with_pods` domains holding pods.
    pub fn with_capacity(domains: Arc<DomainSet>, domains_with_pods: usize) -> Self {
        Self {
            domains,
            counts: HashMap::with_capacity_and_hasher(domains_with_pods, Default::default()),
        }
    }

    /// How many domains hold matching pods.
    pub fn domains_with_pods(&self) -> usize {
        self.counts.len()
    }

    /// Counts `pods` that the scheduler would count on the eligible nodes: bound to one, not
    /// terminating, not Succeeded or Failed. Which pods match is the caller's decision.
    pub fn count<'p>(
        domains: Arc<DomainSet>,
        index: &Index<'_>,
        pods: impl IntoIterator<Item = &'p PodId>,
    ) -> Self {
        let mut counts = Self::new(domains);
        for &pod_id in pods {
            let pod = index.pod(pod_id);
            if pod.terminating || pod.phase.is_terminal() {
                continue;
            }
            if let Some(node) = index.pod_node(pod_id) {
                counts.add(node, 1);
            }
        }
        counts
    }

    /// Adds (or with a negative delta removes) pods on a node, if the node is eligible.
    pub fn add(&mut self, node: NodeId, delta: i32) {
        let Some(domain) = self.domains.domain_of(node) else {
            return;
        };
        let entry = self.counts.entry(domain).or_insert(0);
        *entry = entry.saturating_add_signed(delta);
        if *entry == 0 {
            self.counts.remove(&domain);
        }
    }

    /// Matching pods in a domain.
    pub fn get(&self, domain: u32) -> u32 {
        self.counts.get(&domain).copied().unwrap_or(0)
    }

    /// The domains holding matching pods, with their counts, in domain order.
    pub fn nonzero(&self) -> Vec<(u32, u32)> {
        let mut nonzero: Vec<(u32, u32)> = self.counts.iter().map(|(d, c)| (*d, *c)).collect();
        nonzero.sort_unstable();
        nonzero
    }

    /// The domains holding matching pods, with their counts, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.counts.iter().map(|(domain, count)| (*domain, *count))
    }

    /// Matching pods over all eligible domains.
    pub fn total(&self) -> u32 {
        self.counts.values().sum()
    }

    /// `minMatchNum`: the smallest count over the eligible domains, or 0 while there are fewer
    /// eligible domains than `min_domains`; None when there is no eligible domain at all (the
    /// filter then lets every node through).
    pub fn global_min(&self, min_domains: i32) -> Option<u32> {
        let domains = self.domains.len();
        if domains == 0 {
            return None;
        }
        if i64::try_from(domains).unwrap_or(i64::MAX) < i64::from(min_domains)
            || self.counts.len() < domains
        {
            return Some(0);
        }
        self.counts.values().copied().min()
    }

    /// The largest count over the eligible domains.
    pub fn max(&self) -> u32 {
        self.counts.values().copied().max().unwrap_or(0)
    }

    /// Skew: the fullest domain's count minus the global minimum.
    pub fn skew(&self, min_domains: i32) -> u32 {
        self.global_min(min_domains)
            .map_or(0, |min| self.max().saturating_sub(min))
    }
}

/// The pods of a namespace the scheduler counts for a selector (`countPodsMatchSelector`
/// counts nothing at all for an empty selector).
pub fn matching_pods(index: &Index<'_>, namespace: &str, selector: &LabelSelector) -> Vec<PodId> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut pods: Vec<PodId> = index
        .label_sets_in(namespace)
        .iter()
        .filter(|set| selector.matches(set.labels))
        .flat_map(|set| set.pods.iter().copied())
        .collect();
    pods.sort_unstable();
    pods
}

/// The pods one constraint of a group counts, by the constraint's list-map key.
#[derive(Clone, Debug)]
pub struct Members {
    /// The constraint's topology key.
    pub topology_key: String,
    /// The constraint's whenUnsatisfiable.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// The pods, sorted.
    pub pods: Arc<[PodId]>,
}

/// PreFilter's state for an incoming pod: its constraints of one kind, resolved, each with
/// the counts over its eligible domains.
#[derive(Clone, Debug)]
pub struct PreFilter {
    /// The pod's constraints of the kind, in order.
    pub constraints: Vec<Constraint>,
    /// Their counts, in the same order.
    pub counts: Vec<Counts>,
}

impl PreFilter {
    /// Computes the state as kube-scheduler does for a pod with these labels and spec.
    pub fn new(
        index: &Index<'_>,
        cache: &mut DomainCache,
        namespace: &str,
        pod_labels: &Labels,
        spec: &super::model::SchedulingSpec,
        kind: WhenUnsatisfiable,
    ) -> Self {
        Self::counting(index, cache, namespace, pod_labels, spec, kind, &[])
    }

    /// [`PreFilter::new`], counting for a constraint the pods `members` gives for its
    /// (topology key, whenUnsatisfiable) instead of those its selector matches: a policy's
    /// group counts its workloads' pods before they carry the group label, and what is
    /// explained must be what is planned.
    pub fn counting(
        index: &Index<'_>,
        cache: &mut DomainCache,
        namespace: &str,
        pod_labels: &Labels,
        spec: &super::model::SchedulingSpec,
        kind: WhenUnsatisfiable,
        members: &[Members],
    ) -> Self {
        let constraints: Vec<Constraint> = spec
            .spread_constraints
            .iter()
            .filter(|constraint| constraint.when_unsatisfiable == kind)
            .map(|constraint| Constraint::of_pod(constraint, pod_labels))
            .collect();
        let keys = keys_of_kind(&constraints, kind);
        let placements = [Placement::of(spec)];
        let counts = constraints
            .iter()
            .map(|constraint| {
                let domains = cache.get(index, &placements, constraint, &keys);
                let given = members.iter().find(|members| {
                    members.topology_key == constraint.topology_key
                        && members.when_unsatisfiable == constraint.when_unsatisfiable
                });
                match given {
                    Some(given) => Counts::count(domains, index, given.pods.iter()),
                    None => Counts::count(
                        domains,
                        index,
                        &matching_pods(index, namespace, &constraint.selector),
                    ),
                }
            })
            .collect();
        Self {
            constraints,
            counts,
        }
    }

    /// The Filter's verdict for a node.
    pub fn filter(&self, node: &Node, pod_labels: &Labels) -> Result<(), Refusal> {
        spread_filter(node, self.constraints.iter().zip(&self.counts), pod_labels)
    }
}

/// PodTopologySpread's Filter for one node: for each DoNotSchedule constraint, the node must
/// carry the topology key, and `matching + self_match - global_min` must not exceed maxSkew.
/// Each constraint comes with its PreFilter counts.
pub fn spread_filter<'c>(
    node: &Node,
    constraints: impl IntoIterator<Item = (&'c Constraint, &'c Counts)>,
    pod_labels: &Labels,
) -> Result<(), Refusal> {
    for (constraint, counts) in constraints {
        if constraint.when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule {
            continue;
        }
        let Some(value) = node.labels.get(&constraint.topology_key) else {
            return Err(Refusal::MissingTopologyKey {
                key: constraint.topology_key.clone(),
            });
        };
        let Some(global_min) = counts.global_min(constraint.min_domains) else {
            continue;
        };
        let matching = counts
            .domains
            .domain_named(value)
            .map_or(0, |domain| counts.get(domain));
        // Upstream tests the pod itself with Matches, not with the Empty() short-cut.
        let self_match = u32::from(constraint.selector.matches(pod_labels));
        let skew = i64::from(matching) + i64::from(self_match) - i64::from(global_min);
        if skew > i64::from(constraint.max_skew) {
            return Err(Refusal::SkewExceeded {
                key: constraint.topology_key.clone(),
                matching,
                self_match,
                global_min,
                max_skew: constraint.max_skew,
            });
        }
    }
    Ok(())
}

/// `topologyNormalizingWeight`: counts of small topologies weigh more, ln(size + 2).
pub fn normalizing_weight(size: usize) -> f64 {
    (size as f64 + 2.0).ln()
}

/// `scoreForCount`: a domain's matching pods weighted, plus maxSkew - 1.
pub fn score_for_count(count: i64, max_skew: i32, weight: f64) -> f64 {
    count as f64 * weight + f64::from(max_skew - 1)
}

/// `countPodsMatchSelector` on one node: the node's non-terminating pods of `namespace` that
/// the selector matches; nothing for an empty selector.
fn count_on_node(
    index: &Index<'_>,
    node: NodeId,
    selector: &LabelSelector,
    namespace: &str,
) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    let count = index
        .pods_on(node)
        .iter()
        .map(|&pod| index.pod(pod))
        .filter(|pod| !pod.terminating && &*pod.namespace == namespace)
        .filter(|pod| selector.matches(&pod.labels))
        .count();
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// PodTopologySpread's scoring for a pod's ScheduleAnyway `constraints` (its own, or the system
/// defaults when it has none), over the nodes that passed the filters: PreScore, Score and
/// NormalizeScore exactly as kube-scheduler computes them, including the ignored nodes that
/// lack a topology key (when `require_all_topologies`) and the per-node count of the hostname
/// key. Returns the normalized score (0..=100) of each filtered node, in order, or None when
/// the plugin skips (no constraints, no nodes).
pub fn spread_scores(
    index: &Index<'_>,
    namespace: &str,
    placement: &Placement,
    constraints: &[Constraint],
    require_all_topologies: bool,
    filtered: &[NodeId],
) -> Option<Vec<i64>> {
    const MAX_NODE_SCORE: i64 = 100;
    if constraints.is_empty() || filtered.is_empty() || index.cluster.nodes.is_empty() {
        return None;
    }
    let hostname = crate::labels::HOSTNAME_LABEL;
    let has_all_keys = |node: &Node| {
        constraints
            .iter()
            .all(|c| node.labels.contains_key(&c.topology_key))
    };
    // PreScore: the domains of the filtered nodes, and the ignored nodes.
    let mut ignored = vec![false; filtered.len()];
    let mut value_counts: Vec<HashMap<&str, i64>> = vec![HashMap::default(); constraints.len()];
    for (position, &node_id) in filtered.iter().enumerate() {
        let node = index.node(node_id);
        if require_all_topologies && !has_all_keys(node) {
            ignored[position] = true;
            continue;
        }
        for (i, constraint) in constraints.iter().enumerate() {
            if constraint.topology_key == hostname {
                continue;
            }
            let value = node
                .labels
                .get(&constraint.topology_key)
                .map_or("", String::as_str);
            value_counts[i].entry(value).or_insert(0);
        }
    }
    let ignored_count = ignored.iter().filter(|i| **i).count();
    let weights: Vec<f64> = constraints
        .iter()
        .enumerate()
        .map(|(i, constraint)| {
            let size = if constraint.topology_key == hostname {
                filtered.len() - ignored_count
            } else {
                value_counts[i].len()
            };
            normalizing_weight(size)
        })
        .collect();
    let placements = [placement.clone()];
    for (node_id, node) in index.cluster.nodes.iter().enumerate() {
        if require_all_topologies && !has_all_keys(node) {
            continue;
        }
        for (i, constraint) in constraints.iter().enumerate() {
            if !constraint.includes(&placements, node) {
                continue;
            }
            let value = node
                .labels
                .get(&constraint.topology_key)
                .map_or("", String::as_str);
            if constraint.topology_key == hostname {
                continue;
            }
            if value_counts[i].contains_key(value) {
                let count = count_on_node(index, node_id, &constraint.selector, namespace);
                if let Some(total) = value_counts[i].get_mut(value) {
                    *total += count;
                }
            }
        }
    }
    // Score.
    let raw: Vec<i64> = filtered
        .iter()
        .enumerate()
        .map(|(position, &node_id)| {
            if ignored[position] {
                return 0;
            }
            let node = index.node(node_id);
            let mut score = 0.0;
            for (i, constraint) in constraints.iter().enumerate() {
                let Some(value) = node.labels.get(&constraint.topology_key) else {
                    continue;
                };
                let count = if constraint.topology_key == hostname {
                    count_on_node(index, node_id, &constraint.selector, namespace)
                } else {
                    value_counts[i].get(value.as_str()).copied().unwrap_or(0)
                };
                score += score_for_count(count, constraint.max_skew, weights[i]);
            }
            score.round() as i64
        })
        .collect();
    // NormalizeScore.
    let mut min_score = i64::MAX;
    let mut max_score = 0;
    for (position, score) in raw.iter().enumerate() {
        if ignored[position] {
            continue;
        }
        min_score = min_score.min(*score);
        max_score = max_score.max(*score);
    }
    Some(
        raw.iter()
            .enumerate()
            .map(|(position, score)| {
                if ignored[position] {
                    0
                } else if max_score == 0 {
                    MAX_NODE_SCORE
                } else {
                    MAX_NODE_SCORE * (max_score + min_score - score) / max_score
                }
            })
            .collect(),
    )
}
