//! Groups: the sets of pods that spread together, each with its resolved constraints. A
//! SpreadPolicy of scope Workload makes one group per workload, scope Policy one per policy, a
//! ClusterSpreadPolicy one across the namespaces it selects;
//! in pod-constraints mode pods are grouped per namespace and constraint as the scheduler
//! groups them.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use rustc_hash::FxHashSet as HashSet;

use serde::Serialize;

use super::{
    eligibility::Placement,
    identity::WorkloadRef,
    index::{Index, PodId, WorkloadId},
    labels::{EXCLUDE_LABEL, GROUP_LABEL, HOSTNAME_LABEL, NAMESPACE_NAME_LABEL, POD_TEMPLATE_HASH},
    model::{
        Cluster, ClusterPolicy, Labels, MoveStrategy, Pod, PodSpreadConstraint, Policy, PolicySpec,
        Resources, Scope, SpreadConstraint, Workload, WorkloadKind,
    },
    selector::LabelSelector,
    topology::{self, Constraint},
};

/// Why a matched workload is left alone; written as its reason's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeftAlone {
    /// Its template names a node, selects one by hostname, or admits a single node.
    Pinned,
    /// Annotated `kubespread.io/ignore: "true"`.
    Ignored,
    /// An older policy of the namespace already governs it.
    ClaimedByOtherPolicy {
        /// That policy's name.
        policy: String,
    },
}

impl LeftAlone {
    /// The CamelCase reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Pinned => "Pinned",
            Self::Ignored => "Ignored",
            Self::ClaimedByOtherPolicy { .. } => "ClaimedByOtherPolicy",
        }
    }
}

impl std::fmt::Display for LeftAlone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

impl Serialize for LeftAlone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.reason())
    }
}

/// A workload a policy matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedWorkload {
    /// The workload.
    pub id: WorkloadId,
    /// Why it is left alone, if it is.
    pub left_alone: Option<LeftAlone>,
}

/// Pods that spread together.
#[derive(Clone, Debug)]
pub struct Group {
    /// The namespace.
    pub namespace: Arc<str>,
    /// The SpreadPolicy, None in pod-constraints mode.
    pub policy: Option<String>,
    /// `Kind/name` of the workload, the policy for scope Policy, or the constraint's identity.
    pub name: String,
    /// The constraints, resolved for the group's pods.
    pub constraints: Vec<Constraint>,
    /// Per constraint, the pods it counts.
    pub members: Vec<Arc<[PodId]>>,
    /// Pods the group may move, before protections.
    pub candidates: Vec<PodId>,
    /// How the group's pods are placed (one per workload in a Policy-scope group).
    pub placements: Vec<Placement>,
    /// Labels of a new pod of the group (for the filter's self-match).
    pub pod_labels: Labels,
    /// The requests a new pod of the group needs (the smallest, for a mixed group).
    pub requests: Resources,
    /// The workloads whose pods the group holds.
    pub workloads: Vec<MatchedWorkload>,
    /// Pods younger than this are never moved.
    pub min_pod_age: Duration,
    /// How the group's pods may be moved (pod constraints alone: by eviction).
    pub move_strategy: MoveStrategy,
    /// Why the group cannot be planned, if it cannot.
    pub unplannable: Option<String>,
}

impl Group {
    /// Whether the group is a ClusterSpreadPolicy's, across namespaces.
    pub fn is_cluster(&self) -> bool {
        self.namespace.is_empty()
    }

    /// How the group names one of its workloads: `Kind/name`, or `namespace/Kind/name` in a
    /// group across namespaces.
    pub fn workload_ref(&self, workload: &Workload) -> WorkloadRef {
        if self.is_cluster() {
            WorkloadRef::qualified(workload)
        } else {
            WorkloadRef::local(workload)
        }
    }
}

/// Whether a workload's template pins its pods to one node: nodeName, or a hostname
/// nodeSelector, or a placement that admits a single node of the cluster.
pub fn is_pinned(index: &Index<'_>, workload: &Workload) -> bool {
    let template = &workload.template;
    if template.node_name.is_some() || template.node_selector.contains_key(HOSTNAME_LABEL) {
        return true;
    }
    let placement = Placement::of(template);
    let mut admitted = index
        .cluster
        .nodes
        .iter()
        .filter(|node| placement.admits(node));
    admitted.next().is_some() && admitted.next().is_none()
}

/// Labels a new pod of a workload carries: its template's, and the current
/// `pod-template-hash` for a Deployment.
fn new_pod_labels(index: &Index<'_>, id: WorkloadId) -> Labels {
    let workload = index.workload(id);
    let mut labels = workload.template_labels.clone();
    if let Some(hash) = index.current_hash(id) {
        labels.insert(POD_TEMPLATE_HASH.to_owned(), hash.to_owned());
    }
    labels
}

/// Whether a workload's pod belongs to the current revision (a Deployment's newest
/// ReplicaSet; every pod of a StatefulSet).
fn is_current(index: &Index<'_>, workload: WorkloadId, pod: &Pod) -> bool {
    has_hash(index.current_hash(workload), pod)
}

/// Whether a pod carries the current `pod-template-hash` (any pod, when there is none).
fn has_hash(current: Option<&str>, pod: &Pod) -> bool {
    current.is_none_or(|hash| pod.labels.get(POD_TEMPLATE_HASH).map(String::as_str) == Some(hash))
}

/// A workload's pods of the current revision. Pods of one template share one labels object,
/// so the answer for the last one is reused.
fn current_pods(index: &Index<'_>, workload: WorkloadId) -> Vec<PodId> {
    let current = index.current_hash(workload);
    let mut last: Option<(*const Labels, bool)> = None;
    index
        .pods_of(workload)
        .iter()
        .copied()
        .filter(|&id| {
            let pod = index.pod(id);
            let labels = Arc::as_ptr(&pod.labels);
            match last {
                Some((seen, answer)) if seen == labels => answer,
                _ => {
                    let answer = has_hash(current, pod);
                    last = Some((labels, answer));
                    answer
                }
            }
        })
        .collect()
}

/// Whose pods an injected constraint spreads.
#[derive(Clone, Copy, Debug)]
pub enum Spreading<'a> {
    /// One workload's pods (scope Workload): its selector, plus the pod-template-hash of the
    /// new pod for a Deployment, so that a rollout's old pods do not count.
    Workload(&'a Workload),
    /// All pods labelled with the policy's group label (scope Policy).
    Policy(&'a str),
}

/// The constraint a policy's entry becomes on a workload's pod template.
pub fn injected_constraint(
    constraint: SpreadConstraint,
    spreading: Spreading<'_>,
) -> PodSpreadConstraint {
    let mut match_label_keys = constraint.match_label_keys;
    let label_selector = match spreading {
        Spreading::Workload(workload) => {
            if workload.kind == WorkloadKind::Deployment
                && !match_label_keys.iter().any(|key| key == POD_TEMPLATE_HASH)
            {
                match_label_keys.push(POD_TEMPLATE_HASH.to_owned());
            }
            workload.selector.clone()
        }
        Spreading::Policy(policy) => group_selector(policy),
    };
    PodSpreadConstraint {
        max_skew: constraint.max_skew,
        topology_key: constraint.topology_key,
        when_unsatisfiable: constraint.when_unsatisfiable,
        label_selector: Some(label_selector),
        min_domains: constraint.min_domains,
        node_affinity_policy: constraint.node_affinity_policy,
        node_taints_policy: constraint.node_taints_policy,
        match_label_keys,
    }
}

/// `kubespread.io/group=<policy>`: the selector of a Policy-scope group.
pub fn group_selector(policy: &str) -> LabelSelector {
    LabelSelector::from_labels(&Labels::from([(GROUP_LABEL.to_owned(), policy.to_owned())]))
}

/// Per constraint, the pods it counts; constraints with the same selector share one list.
fn shared_members(
    index: &Index<'_>,
    namespace: &str,
    constraints: &[Constraint],
) -> Vec<Arc<[PodId]>> {
    let mut members: Vec<Arc<[PodId]>> = Vec::with_capacity(constraints.len());
    for (position, constraint) in constraints.iter().enumerate() {
        let same = constraints[..position]
            .iter()
            .position(|earlier| earlier.selector == constraint.selector);
        let pods = match same {
            Some(earlier) => Arc::clone(&members[earlier]),
            None => Arc::from(topology::matching_pods(
                index,
                namespace,
                &constraint.selector,
            )),
        };
        members.push(pods);
    }
    members
}

/// The groups of the given policies, built one at a time as they are taken (a plan keeps one
/// group's lists in memory at once). Each workload belongs to at most one policy: the oldest
/// (then first by name) of its namespace that matches it.
pub fn policy_groups<'i, 'a>(
    index: &'i Index<'a>,
    policies: &'i [&'a Policy],
) -> impl Iterator<Item = Group> + 'i {
    policy_groups_where(index, policies, |_, _| true)
}

/// The groups of the given policies that `wanted` asks for, by policy and group name (a
/// policy of scope Policy makes its one group whatever `wanted` says).
pub fn policy_groups_where<'i, 'a>(
    index: &'i Index<'a>,
    policies: &'i [&'a Policy],
    wanted: impl Fn(&Policy, &str) -> bool + Copy + 'i,
) -> impl Iterator<Item = Group> + 'i {
    let mut ordered: Vec<&Policy> = index.cluster.policies.iter().collect();
    ordered.sort_by(|a, b| {
        (&*a.namespace, a.created, &a.name).cmp(&(&*b.namespace, b.created, &b.name))
    });
    let mut claimed: BTreeMap<WorkloadId, String> = BTreeMap::new();
    let mut matched_by: BTreeMap<(Arc<str>, String), Vec<MatchedWorkload>> = BTreeMap::new();
    for policy in ordered {
        let mut matched = Vec::new();
        for &id in index.workloads_in(&policy.namespace) {
            let workload = index.workload(id);
            if !policy.spec.governs(workload.kind)
                || !policy.spec.selector.matches(&workload.labels)
            {
                continue;
            }
            let left_alone = if let Some(owner) = claimed.get(&id) {
                Some(LeftAlone::ClaimedByOtherPolicy {
                    policy: owner.clone(),
                })
            } else {
                claimed.insert(id, policy.name.clone());
                if workload.ignored {
                    Some(LeftAlone::Ignored)
                } else if is_pinned(index, workload) {
                    Some(LeftAlone::Pinned)
                } else {
                    None
                }
            };
            matched.push(MatchedWorkload { id, left_alone });
        }
        matched_by.insert(
            (Arc::clone(&policy.namespace), policy.name.clone()),
            matched,
        );
    }

    policies.iter().flat_map(move |policy| {
        let matched = matched_by
            .remove(&(Arc::clone(&policy.namespace), policy.name.clone()))
            .unwrap_or_default();
        let (whole, each) = match (policy.spec.scope, policy.spec.constraints.is_empty()) {
            (Scope::Policy, false) => (Some(policy_scope_group(index, policy, matched)), None),
            _ => (None, Some(matched)),
        };
        whole.into_iter().chain(
            each.into_iter()
                .flatten()
                .filter(move |matched| wanted(policy, &index.workload(matched.id).key()))
                .map(move |workload| workload_group(index, policy, workload)),
        )
    })
}

/// One workload spreading on its own: the policy's constraints as they will be injected, or
/// (for a policy without constraints) the ones its template already carries.
fn workload_group(index: &Index<'_>, policy: &Policy, matched: MatchedWorkload) -> Group {
    let workload = index.workload(matched.id);
    let pod_labels = new_pod_labels(index, matched.id);
    let pod_constraints: Vec<PodSpreadConstraint> = if policy.spec.constraints.is_empty() {
        workload.template.spread_constraints.clone()
    } else {
        policy
            .spec
            .constraints_for(workload.kind)
            .into_iter()
            .map(|constraint| injected_constraint(constraint, Spreading::Workload(workload)))
            .collect()
    };
    let constraints: Vec<Constraint> = pod_constraints
        .into_iter()
        .map(|constraint| Constraint::from_pod(constraint, &pod_labels))
        .collect();
    let members = shared_members(index, &workload.namespace, &constraints);
    let candidates = current_pods(index, matched.id);
    let unplannable = constraints
        .is_empty()
        .then(|| "the policy has no constraints and the pod template carries none".to_owned());
    Group {
        namespace: Arc::clone(&workload.namespace),
        policy: Some(policy.name.clone()),
        name: workload.key(),
        constraints,
        members,
        candidates,
        placements: vec![Placement::of(&workload.template)],
        pod_labels,
        requests: workload.template.requests,
        workloads: vec![matched],
        min_pod_age: policy.spec.min_pod_age,
        move_strategy: policy.spec.move_strategy,
        unplannable,
    }
}

/// All pods of all matched workloads as one group, counted by the group label — or, for pods
/// not re-rolled since injection, by being a member workload's pod.
fn policy_scope_group(
    index: &Index<'_>,
    policy: &Policy,
    workloads: Vec<MatchedWorkload>,
) -> Group {
    let active: Vec<WorkloadId> = workloads
        .iter()
        .filter(|matched| matched.left_alone.is_none())
        .map(|matched| matched.id)
        .collect();
    let mut pod_labels = active
        .first()
        .map(|&id| new_pod_labels(index, id))
        .unwrap_or_default();
    pod_labels.insert(GROUP_LABEL.to_owned(), policy.name.clone());
    // Every constraint of a Policy-scope group counts the same pods, unless matchLabelKeys
    // narrows it; kinds differ only by the StatefulSet override, which changes no selector.
    let constraints = labelled_group_constraints(&policy.spec, &policy.name, &pod_labels);
    let active_set: HashSet<WorkloadId> = active.iter().copied().collect();
    let member_of_active = |id: PodId| {
        index
            .pod_workload(id)
            .is_some_and(|w| active_set.contains(&w))
    };
    let members: Vec<Arc<[PodId]>> = constraints
        .iter()
        .map(|constraint| {
            let pods: Vec<PodId> = index
                .pods_in(&policy.namespace)
                .iter()
                .copied()
                .filter(|&id| {
                    let labelled = !constraint.selector.is_empty()
                        && constraint.selector.matches(&index.pod(id).labels);
                    labelled || member_of_active(id)
                })
                .collect();
            Arc::from(pods)
        })
        .collect();
    let candidates = index
        .pods_in(&policy.namespace)
        .iter()
        .copied()
        .filter(|&id| {
            index
                .pod_workload(id)
                .is_some_and(|w| active_set.contains(&w) && is_current(index, w, index.pod(id)))
        })
        .collect();
    let (placements, requests) = placements_and_requests(index, &active);
    Group {
        namespace: Arc::clone(&policy.namespace),
        policy: Some(policy.name.clone()),
        name: format!("SpreadPolicy/{}", policy.name),
        constraints,
        members,
        candidates,
        placements,
        pod_labels,
        requests,
        workloads,
        min_pod_age: policy.spec.min_pod_age,
        move_strategy: policy.spec.move_strategy,
        unplannable: None,
    }
}

/// The constraints of a group that counts pods by the group label `name`, resolved for a new
/// pod with `pod_labels`.
fn labelled_group_constraints(
    spec: &PolicySpec,
    name: &str,
    pod_labels: &Labels,
) -> Vec<Constraint> {
    spec.constraints
        .iter()
        .map(|constraint| {
            Constraint::from_pod(
                injected_constraint(constraint.clone(), Spreading::Policy(name)),
                pod_labels,
            )
        })
        .collect()
}

/// How a group of several workloads places its pods (each distinct placement once; the
/// default one for a group with none), and the requests of its smallest new pod.
fn placements_and_requests(
    index: &Index<'_>,
    active: &[WorkloadId],
) -> (Vec<Placement>, Resources) {
    let mut placements: Vec<Placement> = Vec::new();
    for &id in active {
        let placement = Placement::of(&index.workload(id).template);
        if !placements.contains(&placement) {
            placements.push(placement);
        }
    }
    if placements.is_empty() {
        placements.push(Placement::of(&Default::default()));
    }
    let requests = active
        .iter()
        .map(|&id| index.workload(id).template.requests)
        .min_by_key(|requests| (requests.cpu_millis, requests.memory_bytes))
        .unwrap_or_default();
    (placements, requests)
}

/// Pods grouped by the constraints they already carry, as the scheduler groups them: per
/// namespace, per identical resolved constraint set and placement.
pub fn pod_constraint_groups(
    index: &Index<'_>,
    namespace: Option<&str>,
    min_pod_age: Duration,
) -> Vec<Group> {
    type Key = (Arc<str>, Vec<Constraint>, Placement);
    let mut grouped: BTreeMap<String, (Key, Vec<PodId>)> = BTreeMap::new();
    for (id, pod) in index.cluster.pods.iter().enumerate() {
        if pod.spec.spread_constraints.is_empty() || pod.phase.is_terminal() {
            continue;
        }
        if namespace.is_some_and(|ns| ns != &*pod.namespace) {
            continue;
        }
        let constraints: Vec<Constraint> = pod
            .spec
            .spread_constraints
            .iter()
            .map(|constraint| Constraint::of_pod(constraint, &pod.labels))
            .collect();
        let placement = Placement::of(&pod.spec);
        let identity = format!("{}|{:?}|{:?}", pod.namespace, constraints, placement);
        match grouped.get_mut(&identity) {
            Some((_, pods)) => pods.push(id),
            None => {
                grouped.insert(
                    identity,
                    (
                        (Arc::clone(&pod.namespace), constraints, placement),
                        vec![id],
                    ),
                );
            }
        }
    }
    let mut groups: Vec<Group> = grouped
        .into_values()
        .map(|((namespace, constraints, placement), pods)| {
            let members = shared_members(index, &namespace, &constraints);
            let first = index.pod(pods[0]);
            let owners: HashSet<Option<WorkloadId>> =
                pods.iter().map(|&id| index.pod_workload(id)).collect();
            let name = match owners.into_iter().collect::<Vec<_>>().as_slice() {
                [Some(workload)] => index.workload(*workload).key(),
                _ => constraints
                    .iter()
                    .map(|c| format!("{}@{}", c.selector.describe(), c.topology_key))
                    .collect::<Vec<_>>()
                    .join(";"),
            };
            Group {
                namespace,
                policy: None,
                name,
                constraints,
                members,
                candidates: pods.clone(),
                placements: vec![placement],
                pod_labels: (*first.labels).clone(),
                requests: first.spec.requests,
                workloads: Vec::new(),
                min_pod_age,
                move_strategy: MoveStrategy::Evict,
                unplannable: None,
            }
        })
        .collect();
    groups.sort_by(|a, b| (&*a.namespace, &a.name).cmp(&(&*b.namespace, &b.name)));
    groups
}

/// A ClusterSpreadPolicy's one group: every pod of the workloads it selects in the namespaces
/// it selects, counted together across namespaces. Pinned workloads' pods count where they
/// are and never move; ignored workloads are not counted. Nothing is injected, so every
/// revision's pods count and the current revision's are the candidates.
pub fn cluster_group(index: &Index<'_>, policy: &ClusterPolicy) -> Group {
    let selected = selected_namespaces(index.cluster, &policy.namespace_selector);
    let mut workloads: Vec<MatchedWorkload> = Vec::new();
    for (id, workload) in index.cluster.workloads.iter().enumerate() {
        if !selected.contains(&*workload.namespace)
            || !policy.spec.governs(workload.kind)
            || !policy.spec.selector.matches(&workload.labels)
        {
            continue;
        }
        let left_alone = if workload.ignored {
            Some(LeftAlone::Ignored)
        } else if is_pinned(index, workload) {
            Some(LeftAlone::Pinned)
        } else {
            None
        };
        workloads.push(MatchedWorkload { id, left_alone });
    }
    let counted: HashSet<WorkloadId> = workloads
        .iter()
        .filter(|matched| matched.left_alone != Some(LeftAlone::Ignored))
        .map(|matched| matched.id)
        .collect();
    let mut members: Vec<PodId> = workloads
        .iter()
        .filter(|matched| counted.contains(&matched.id))
        .flat_map(|matched| index.pods_of(matched.id).iter().copied())
        .collect();
    members.sort_unstable();
    members.dedup();
    let members: Arc<[PodId]> = Arc::from(members);
    let candidates: Vec<PodId> = workloads
        .iter()
        .filter(|matched| matched.left_alone.is_none())
        .flat_map(|matched| current_pods(index, matched.id))
        .collect();

    let mut pod_labels = Labels::new();
    pod_labels.insert(GROUP_LABEL.to_owned(), policy.name.clone());
    let constraints = labelled_group_constraints(&policy.spec, &policy.name, &pod_labels);
    let active: Vec<WorkloadId> = workloads
        .iter()
        .filter(|matched| matched.left_alone.is_none())
        .map(|matched| matched.id)
        .collect();
    let (placements, requests) = placements_and_requests(index, &active);
    let unplannable = constraints
        .is_empty()
        .then(|| "the ClusterSpreadPolicy has no constraints".to_owned());
    Group {
        namespace: Arc::from(""),
        policy: Some(policy.name.clone()),
        name: format!("ClusterSpreadPolicy/{}", policy.name),
        members: vec![members; constraints.len()],
        constraints,
        candidates,
        placements,
        pod_labels,
        requests,
        workloads,
        min_pod_age: policy.spec.min_pod_age,
        move_strategy: policy.spec.move_strategy,
        unplannable,
    }
}

/// The names of the namespaces a selector selects, by their labels. A namespace the cluster
/// lists no object for (a snapshot without namespaces) is judged by the label the API server
/// gives every namespace, `kubernetes.io/metadata.name`. A namespace labelled
/// `kubespread.io/exclude: "true"` is never selected, whatever the selector says: its owners
/// opted out of every ClusterSpreadPolicy.
pub fn selected_namespaces<'c>(
    cluster: &'c Cluster,
    selector: &LabelSelector,
) -> BTreeSet<&'c str> {
    let mut selected = BTreeSet::new();
    let mut judged: BTreeSet<&str> = BTreeSet::new();
    for namespace in &cluster.namespaces {
        judged.insert(&namespace.name);
        if namespace.labels.get(EXCLUDE_LABEL).map(String::as_str) == Some("true") {
            continue;
        }
        let mut labels = namespace.labels.clone();
        labels
            .entry(NAMESPACE_NAME_LABEL.to_owned())
            .or_insert_with(|| namespace.name.to_string());
        if selector.matches(&labels) {
            selected.insert(&*namespace.name);
        }
    }
    for workload in &cluster.workloads {
        if judged.insert(&workload.namespace) {
            let labels = Labels::from([(
                NAMESPACE_NAME_LABEL.to_owned(),
                workload.namespace.to_string(),
            )]);
            if selector.matches(&labels) {
                selected.insert(&*workload.namespace);
            }
        }
    }
    selected
}
