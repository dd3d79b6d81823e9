//! From a cluster to a [`Plan`]: the groups of the chosen policies (or of the pods' own
//! constraints), their counts and skew, and the fewest moves that bring every constraint of
//! a group within maxSkew at once. Groups are planned in order over one shared picture of the
//! cluster, so later groups see earlier moves.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;

use super::{
    group::{self, Group},
    identity::PodRef,
    index::{Index, NodeId, PodId},
    joint::Joint,
    labels::DRAINING_TAINT,
    model::{Cluster, ClusterPolicy, Policy, Resources},
    picture::Planner,
    protection,
    report::{
        ConstraintReport, Domains, GroupPlan, LeftAloneWorkload, Move, NodePods, Outcome, Plan,
        SelectorText, SkipReason, Skipped, Summary,
    },
    reuse::{Kept, Previous, Reusable},
    score::Scene,
    search::{ConstraintState, Members},
    topology::{self, Counts, DomainSet},
};

/// Where the groups come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// SpreadPolicies and ClusterSpreadPolicies in the cluster.
    Policies,
    /// The topology spread constraints pods already carry; any pod with a controller owner is
    /// a candidate, under the same protections.
    PodConstraints {
        /// Pods younger than this are never moved.
        min_pod_age: Duration,
    },
}

/// What to plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// The time protections are judged at (pod age).
    pub now: Timestamp,
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only this policy (by name, in any namespace unless `namespace` is set).
    pub policy: Option<String>,
    /// Policies or pod constraints.
    pub source: Source,
}

/// Plans a cluster.
pub fn plan(cluster: &Cluster, options: &PlanOptions) -> Plan {
    plan_after(cluster, options, None)
}

/// Plans a cluster, taking over from `previous` the groups whose plans it shows cannot have
/// changed (see [`crate::reuse`]): the same plan [`plan`] makes, at a cost that follows what
/// changed. Only a plan of every SpreadPolicy (no filter) reuses, or can be reused.
pub fn plan_after(
    cluster: &Cluster,
    options: &PlanOptions,
    previous: Option<Previous<'_>>,
) -> Plan {
    let index = Index::after(
        cluster,
        previous.and_then(|previous| Some((previous.cluster, previous.plan.memo.as_deref()?))),
    );
    let every_policy = options.source == Source::Policies
        && options.namespace.is_none()
        && options.policy.is_none();
    let kept = previous
        .filter(|_| every_policy)
        .map(|previous| Kept::from(previous, cluster, options.now, &index))
        .unwrap_or_default();
    let mut chosen: Vec<&Policy> = Vec::new();
    let planning: Vec<&Policy>;
    let groups: Box<dyn Iterator<Item = Group> + '_> = match &options.source {
        Source::Policies => {
            chosen = cluster
                .policies
                .iter()
                .filter(|policy| {
                    options
                        .namespace
                        .as_deref()
                        .is_none_or(|ns| ns == &*policy.namespace)
                })
                .filter(|policy| {
                    options
                        .policy
                        .as_deref()
                        .is_none_or(|name| name == policy.name)
                })
                .collect();
            chosen.sort_by(|a, b| (&*a.namespace, &a.name).cmp(&(&*b.namespace, &b.name)));
            planning = chosen
                .iter()
                .copied()
                .filter(|policy| kept.plans(policy))
                .collect();
            let kept = &kept;
            Box::new(group::policy_groups_where(
                &index,
                &planning,
                move |policy, name| kept.plans_group(policy, name),
            ))
        }
        Source::PodConstraints { min_pod_age } => Box::new(
            group::pod_constraint_groups(&index, options.namespace.as_deref(), *min_pod_age)
                .into_iter(),
        ),
    };
    // Cluster-scoped policies are planned last, over the namespaced groups' moves, and never
    // push one of those groups past its maxSkew; a namespace filter leaves them out.
    let mut cluster_policies: Vec<&ClusterPolicy> = match (&options.source, &options.namespace) {
        (Source::Policies, None) => cluster
            .cluster_policies
            .iter()
            .filter(|policy| {
                options
                    .policy
                    .as_deref()
                    .is_none_or(|name| name == policy.name)
            })
            .collect(),
        _ => Vec::new(),
    };
    cluster_policies.sort_by(|a, b| a.name.cmp(&b.name));
    let mut planner = Planner::new(&index, options.now);
    // Domain sets read only the nodes: over the same list, the plan before's still hold.
    if let Some(previous) = previous
        && previous.cluster.nodes.is(&cluster.nodes)
        && let Some(domains) = &previous.plan.domains
    {
        planner.domains = domains.carried();
    }
    if !cluster_policies.is_empty() {
        planner.joint = Some(Joint::default());
        let mut scene = Scene::new(&index);
        for namespace in &cluster.namespaces {
            scene.set_namespace_labels(&namespace.name, namespace.labels.clone());
        }
        planner.scene = Some(scene);
    }
    // Kept groups make no move, so the groups planned around them see the cluster as a plan
    // from scratch would.
    let planned: Vec<GroupPlan> = groups.map(|group| planner.plan_group(group)).collect();
    let mut groups = kept.merge(&chosen, planned);
    for policy in cluster_policies {
        groups.push(Arc::new(
            planner.plan_group(group::cluster_group(&index, policy)),
        ));
    }
    let moves = groups.iter().map(|group| group.moves.len()).sum();
    let moves_allowed_now = groups
        .iter()
        .flat_map(|group| &group.moves)
        .filter(|m| m.pdb_allows)
        .count();
    let nodes = cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(id, node)| NodePods {
            name: node.name.clone(),
            pods: pod_count(index.node_requested[id]),
            pods_after: pod_count(planner.usage[id]),
            schedulable: node.ready && !node.unschedulable,
        })
        .collect();
    let reusable = (every_policy && cluster.cluster_policies.is_empty()).then(|| Reusable {
        now: options.now,
        requested: index.node_requested.clone(),
    });
    let domains = Some(Arc::new(std::mem::take(&mut planner.domains)));
    drop(planner);
    Plan {
        groups,
        summary: Summary {
            moves,
            moves_allowed_now,
            nodes,
        },
        reusable,
        memo: Some(Arc::new(index.memo())),
        domains,
        policies: std::sync::OnceLock::new(),
    }
}

fn pod_count(resources: Resources) -> u32 {
    u32::try_from(resources.pods.max(0)).unwrap_or(u32::MAX)
}

/// A constraint as observed, before any move of the plan.
pub(super) struct Observed {
    skew: u32,
    global_min: Option<u32>,
    pub(super) actionable: Option<u32>,
    bound: Option<u32>,
    pods: Vec<(u32, u32)>,
}

impl Planner<'_, '_> {
    /// The group's constraints, taken from it, with their counts as observed.
    fn constraint_states(&mut self, group: &mut Group) -> Vec<ConstraintState> {
        let sets: Vec<Arc<DomainSet>> = group
            .constraints
            .iter()
            .map(|constraint| {
                let keys =
                    topology::keys_of_kind(&group.constraints, constraint.when_unsatisfiable);
                self.domains
                    .get(self.index, &group.placements, constraint, &keys)
            })
            .collect();
        let mut states = Vec::with_capacity(sets.len());
        for (position, (constraint, set)) in std::mem::take(&mut group.constraints)
            .into_iter()
            .zip(sets)
            .enumerate()
        {
            let accepting = self.accepting(&set, group.requests);
            let live_total = set.live_count();
            let members = Members(Arc::clone(&group.members[position]));
            let capacity = members.0.len().min(set.len());
            let mut counts = Counts::with_capacity(set, capacity);
            for &pod in members.0.iter() {
                let p = self.index.pod(pod);
                if p.terminating || p.phase.is_terminal() {
                    continue;
                }
                if let Some(node) = self.node_of(pod) {
                    counts.add(node, 1);
                }
            }
            states.push(ConstraintState {
                constraint,
                counts,
                accepting: accepting.flags,
                accepting_total: accepting.total,
                live_total,
                members,
            });
        }
        states
    }

    fn plan_group(&mut self, mut group: Group) -> GroupPlan {
        let index = self.index;
        let left_alone: Vec<LeftAloneWorkload> = group
            .workloads
            .iter()
            .filter_map(|matched| {
                matched.left_alone.as_ref().map(|reason| LeftAloneWorkload {
                    workload: group.workload_ref(index.workload(matched.id)),
                    reason: reason.clone(),
                })
            })
            .collect();
        let mut skipped = self.left_alone_pods(&group);
        let mut states = self.constraint_states(&mut group);
        let observed = observe(&states);
        let lower_bound_moves = observed
            .iter()
            .filter_map(|observed| observed.bound)
            .max()
            .unwrap_or(0);

        let whole_group_left_alone = !group.workloads.is_empty()
            && group
                .workloads
                .iter()
                .all(|matched| matched.left_alone.is_some());
        let (movable, holds_until) = if whole_group_left_alone || group.unplannable.is_some() {
            (Vec::new(), None)
        } else {
            self.movable(&group, &mut skipped)
        };

        let full = if group.is_cluster() {
            self.steer_away(&states)
        } else {
            Vec::new()
        };
        let moves = if whole_group_left_alone || group.unplannable.is_some() {
            Vec::new()
        } else {
            self.search(&group, &mut states, &movable)
        };
        let steer_away = if moves.is_empty() {
            Vec::new()
        } else {
            full.iter()
                .map(|&node| index.node(node).name.clone())
                .collect()
        };
        if let Some(joint) = &mut self.joint {
            joint.keep(&states);
        }

        let (outcome, message) = self.outcome(
            &group,
            &states,
            &observed,
            &moves,
            &skipped,
            whole_group_left_alone,
        );
        let moved = !moves.is_empty();
        let constraints: Vec<ConstraintReport> = states
            .into_iter()
            .zip(observed)
            .map(|(state, observed)| {
                let (after, skew_after) = if moved {
                    (
                        state.counts.nonzero(),
                        state.live_counts().skew().unwrap_or(0),
                    )
                } else {
                    (observed.pods.clone(), observed.actionable.unwrap_or(0))
                };
                ConstraintReport {
                    topology_key: state.constraint.topology_key,
                    max_skew: state.constraint.max_skew,
                    when_unsatisfiable: state.constraint.when_unsatisfiable,
                    min_domains: (state.constraint.min_domains > 1)
                        .then_some(state.constraint.min_domains),
                    global_min: observed.global_min,
                    skew: observed.skew,
                    actionable_skew: observed.actionable.unwrap_or(0),
                    actionable_skew_after: skew_after,
                    lower_bound_moves: observed.bound,
                    selector: SelectorText(state.constraint.selector),
                    domains: Domains {
                        set: state.counts.domains,
                        pods: observed.pods,
                        pods_after: after,
                        accepting: state.accepting,
                    },
                }
            })
            .collect();
        skipped.sort_by(|a, b| a.pod.cmp(&b.pod));
        let workloads = group
            .workloads
            .iter()
            .filter(|matched| matched.left_alone.is_none())
            .map(|matched| group.workload_ref(index.workload(matched.id)))
            .collect();
        GroupPlan {
            namespace: group.namespace,
            policy: group.policy,
            group: group.name,
            constraints,
            moves,
            skipped,
            workloads,
            left_alone,
            lower_bound_moves,
            steer_away,
            outcome,
            message,
            requests: group.requests,
            holds_until,
        }
    }

    /// The group's candidates no protection holds back; the others join `skipped` with theirs.
    /// With them, the first moment one of those protections ends with time, if one will.
    fn movable(
        &mut self,
        group: &Group,
        skipped: &mut Vec<Skipped>,
    ) -> (Vec<PodId>, Option<Timestamp>) {
        let mut movable = Vec::new();
        let mut holds_until: Option<Timestamp> = None;
        for &pod in &group.candidates {
            match self.protections.of(pod, group.min_pod_age) {
                Some(protection) => {
                    let ends = protection::ends(self.index.pod(pod), protection, group.min_pod_age);
                    if let Some(end) = ends {
                        holds_until = Some(holds_until.map_or(end, |until| until.min(end)));
                    }
                    skipped.push(self.skipped(pod, SkipReason::Protected(protection)));
                }
                None => movable.push(pod),
            }
        }
        (movable, holds_until)
    }

    /// The live nodes of a group across namespaces that are already as full as it allows: in a
    /// domain, for some constraint above its maxSkew, holding at least the fullest live domain's
    /// count less maxSkew. They are marked with the drain taint in the scheduler's picture
    /// (kube-spread marks them in the cluster while it moves pods), so the replacements the
    /// plan predicts go where the group has room.
    fn steer_away(&mut self, states: &[ConstraintState]) -> Vec<NodeId> {
        let index = self.index;
        let mut full = Vec::new();
        for node in 0..index.cluster.nodes.len() {
            let is_full = states.iter().any(|state| {
                let set = &state.counts.domains;
                let live = state.live_counts();
                let (Some(skew), Some(domain)) = (live.skew(), set.domain_of(node)) else {
                    return false;
                };
                let max_skew = u32::try_from(state.constraint.max_skew).unwrap_or(1);
                let ceiling = live
                    .nonzero
                    .iter()
                    .map(|(count, _)| *count)
                    .max()
                    .unwrap_or(0);
                skew > max_skew
                    && set.is_live(domain)
                    && state.counts.get(domain) + max_skew >= ceiling
            });
            if is_full {
                full.push(node);
            }
        }
        if let Some(scene) = self.scene.as_mut() {
            for &node in &full {
                scene.prefer_no_schedule(node, DRAINING_TAINT, "");
            }
        }
        full
    }

    fn skipped(&self, pod: PodId, reason: SkipReason) -> Skipped {
        let index = self.index;
        Skipped {
            pod: PodRef::of(index.pod(pod)),
            reason,
            node: self.node_of(pod).map(|node| index.node(node).name.clone()),
        }
    }

    /// The pods of matched workloads that are left alone, with the workload's reason.
    fn left_alone_pods(&self, group: &Group) -> Vec<Skipped> {
        let index = self.index;
        let mut skipped = Vec::new();
        for matched in &group.workloads {
            let Some(reason) = &matched.left_alone else {
                continue;
            };
            for &pod in index.pods_of(matched.id) {
                if !index.pod(pod).phase.is_terminal() {
                    skipped.push(self.skipped(pod, SkipReason::LeftAlone(reason.clone())));
                }
            }
        }
        skipped
    }
}

impl Planner<'_, '_> {
    fn outcome(
        &self,
        group: &Group,
        states: &[ConstraintState],
        observed: &[Observed],
        moves: &[Move],
        skipped: &[Skipped],
        left_alone: bool,
    ) -> (Outcome, String) {
        if left_alone {
            let reason = group
                .workloads
                .first()
                .and_then(|matched| matched.left_alone.as_ref())
                .map_or("left alone", |reason| reason.reason());
            return (
                Outcome::LeftAlone,
                format!("{reason}: the policy leaves this workload's pods where they are"),
            );
        }
        if let Some(reason) = &group.unplannable {
            return (Outcome::Unplannable, format!("nothing to plan: {reason}"));
        }
        if states.is_empty() {
            return (
                Outcome::Unplannable,
                "nothing to plan: no constraints".to_owned(),
            );
        }
        let no_accepting = states
            .iter()
            .zip(observed)
            .find(|(_, observed)| observed.actionable.is_none());
        if let Some((state, _)) = no_accepting {
            return (
                Outcome::NoAcceptingDomain,
                format!(
                    "no domain of {} can take the group's pods now (none has a Ready, schedulable node they tolerate and fit on)",
                    state.constraint.topology_key
                ),
            );
        }
        let was_balanced = states.iter().zip(observed).all(|(state, observed)| {
            observed
                .actionable
                .is_none_or(|skew| i64::from(skew) <= i64::from(state.constraint.max_skew))
        });
        if was_balanced {
            let worst = observed
                .iter()
                .filter_map(|observed| observed.actionable)
                .max()
                .unwrap_or(0);
            return (
                Outcome::Balanced,
                format!("balanced: actionable skew {worst} is within maxSkew"),
            );
        }
        let over: Vec<String> = states
            .iter()
            .filter_map(|state| {
                let skew = state.live_counts().skew()?;
                (i64::from(skew) > i64::from(state.constraint.max_skew)).then(|| {
                    format!(
                        "{} skew {} above maxSkew {}",
                        state.constraint.topology_key, skew, state.constraint.max_skew
                    )
                })
            })
            .collect();
        if over.is_empty() {
            return (
                Outcome::Rebalanced,
                format!(
                    "{} move(s) bring every constraint within maxSkew",
                    moves.len()
                ),
            );
        }
        let forced = states
            .iter()
            .find(|state| state.live_counts().lower_bound().is_none());
        let why = if let Some(state) = forced {
            format!(
                "fewer live domains ({}) than minDomains ({}): moving pods cannot lower the skew",
                state.live_total, state.constraint.min_domains
            )
        } else {
            let mut reasons: Vec<(&str, usize)> = Vec::new();
            for skipped in skipped {
                let named = skipped.reason.reason();
                match reasons.iter_mut().find(|(reason, _)| *reason == named) {
                    Some((_, count)) => *count += 1,
                    None => reasons.push((named, 1)),
                }
            }
            if reasons.is_empty() {
                "no movable pod has a node that would take it and lower the skew".to_owned()
            } else {
                let listed: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
                format!(
                    "the remaining pods cannot move ({}) or have no node that lowers the skew",
                    listed.join(", ")
                )
            }
        };
        if moves.is_empty() {
            (Outcome::Stuck, format!("{}; {why}", over.join(", ")))
        } else {
            (
                Outcome::Partial,
                format!(
                    "{} move(s) lower the skew; still {}; {why}",
                    moves.len(),
                    over.join(", ")
                ),
            )
        }
    }
}

/// What each constraint's state says before any move: skews, the global minimum, the bound on
/// moves and the pods per domain.
fn observe(states: &[ConstraintState]) -> Vec<Observed> {
    states
        .iter()
        .map(|state| {
            let live = state.live_counts();
            Observed {
                skew: state.counts.skew(state.constraint.min_domains),
                global_min: state.counts.global_min(state.constraint.min_domains),
                actionable: live.skew(),
                bound: live.lower_bound(),
                pods: state.counts.nonzero(),
            }
        })
        .collect()
}
