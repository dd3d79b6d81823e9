//! From a cluster to a [`Plan`]: the groups of the chosen policies (or of the pods' own
//! constraints), their counts and skew, and the fewest moves that bring every constraint of
//! a group within maxSkew at once. Groups are planned in order over one shared picture of the
//! cluster, so later groups see earlier moves.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use jiff::Timestamp;

use super::{
    bound::LiveCounts,
    budget::Budgets,
    eligibility::{self, Placement},
    group::{self, Group},
    index::{Index, NodeId, PodId},
    model::{Cluster, Pod, Resources},
    protection::{self, Protections},
    report::{
        ConstraintReport, Domains, GroupPlan, LeftAloneWorkload, Move, NodePods, Outcome, Plan,
        Skipped, Summary,
    },
    topology::{self, Constraint, Counts, DomainCache, DomainSet},
};

/// Where the groups come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// SpreadPolicies in the cluster.
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
    let index = Index::new(cluster);
    let groups = match &options.source {
        Source::Policies => {
            let chosen: Vec<_> = cluster
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
            let mut chosen = chosen;
            chosen.sort_by(|a, b| (&*a.namespace, &a.name).cmp(&(&*b.namespace, &b.name)));
            group::policy_groups(&index, &chosen)
        }
        Source::PodConstraints { min_pod_age } => {
            group::pod_constraint_groups(&index, options.namespace.as_deref(), *min_pod_age)
        }
    };
    let mut planner = Planner::new(&index, options.now);
    let groups: Vec<GroupPlan> = groups
        .iter()
        .map(|group| planner.plan_group(group))
        .collect();
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
    Plan {
        groups,
        summary: Summary {
            moves,
            moves_allowed_now,
            nodes,
        },
    }
}

fn pod_count(resources: Resources) -> u32 {
    u32::try_from(resources.pods.max(0)).unwrap_or(u32::MAX)
}

/// The planner's picture of the cluster, updated by each planned move.
struct Planner<'i, 'a> {
    index: &'i Index<'a>,
    domains: DomainCache,
    accepting: HashMap<(usize, Resources), Arc<Vec<bool>>>,
    usage: Vec<Resources>,
    placed: HashMap<PodId, NodeId>,
    arrived: Vec<Vec<PodId>>,
    budgets: Budgets<'i, 'a>,
    protections: Protections<'i, 'a>,
}

/// One constraint of the group being planned, with its live counts.
struct ConstraintState {
    constraint: Constraint,
    counts: Counts,
    accepting: Arc<Vec<bool>>,
    accepting_total: u32,
    live_total: usize,
    members: HashSet<PodId>,
}

impl ConstraintState {
    fn live_counts(&self) -> LiveCounts {
        let set = &self.counts.domains;
        let mut nonzero = Vec::new();
        let mut accepting_nonzero = 0;
        for (domain, count) in self.counts.nonzero() {
            if !set.is_live(domain) {
                continue;
            }
            let accepting = self
                .accepting
                .get(domain as usize)
                .copied()
                .unwrap_or(false);
            accepting_nonzero += u32::from(accepting);
            nonzero.push((count, accepting));
        }
        LiveCounts {
            nonzero,
            empty_accepting: self.accepting_total.saturating_sub(accepting_nonzero),
            max_skew: u32::try_from(self.constraint.max_skew).unwrap_or(1),
            min_forced_to_zero: i64::try_from(self.live_total).unwrap_or(i64::MAX)
                < i64::from(self.constraint.min_domains),
        }
    }
}

/// A move under consideration, with what decides between candidates.
struct Candidate {
    pod: PodId,
    to: NodeId,
    phi_change: i64,
    pdb_allows: bool,
    source_fullness: u32,
    destination_fullness: u32,
    destination_group_pods: u32,
    destination_pods: i64,
}

impl Candidate {
    /// Orders candidates best first: the largest drop of the bound, a budget that allows it,
    /// the fullest source, the emptiest destination domain, the least-loaded node (group pods,
    /// then all pods), then names.
    fn rank(&self, index: &Index<'_>) -> impl Ord {
        (
            self.phi_change,
            !self.pdb_allows,
            std::cmp::Reverse(self.source_fullness),
            self.destination_fullness,
            self.destination_group_pods,
            self.destination_pods,
            index.node(self.to).name.clone(),
            index.pod(self.pod).name.clone(),
        )
    }
}

impl<'i, 'a> Planner<'i, 'a> {
    fn new(index: &'i Index<'a>, now: Timestamp) -> Self {
        Self {
            index,
            domains: DomainCache::default(),
            accepting: HashMap::new(),
            usage: index.node_requested.clone(),
            placed: HashMap::new(),
            arrived: vec![Vec::new(); index.cluster.nodes.len()],
            budgets: Budgets::new(index),
            protections: Protections::new(index, now),
        }
    }

    fn node_of(&self, pod: PodId) -> Option<NodeId> {
        self.placed.get(&pod).copied().or(self.index.pod_node[pod])
    }

    /// Per domain: live, and some live node fits `requests` (as the cluster is observed).
    fn accepting(&mut self, set: &Arc<DomainSet>, requests: Resources) -> Arc<Vec<bool>> {
        let index = self.index;
        let key = (Arc::as_ptr(set) as usize, requests);
        let flags = self.accepting.entry(key).or_insert_with(|| {
            Arc::new(
                set.domains()
                    .map(|domain| {
                        set.live_nodes(domain).iter().any(|&node| {
                            eligibility::fits(
                                index.node(node),
                                index.node_requested[node],
                                requests,
                            )
                            .is_ok()
                        })
                    })
                    .collect(),
            )
        });
        Arc::clone(flags)
    }

    fn constraint_states(&mut self, group: &Group) -> Vec<ConstraintState> {
        let mut states = Vec::with_capacity(group.constraints.len());
        for (position, constraint) in group.constraints.iter().enumerate() {
            let keys = topology::keys_of_kind(&group.constraints, constraint.when_unsatisfiable);
            let set = self
                .domains
                .get(self.index, &group.placements, constraint, &keys);
            let accepting = self.accepting(&set, group.requests);
            let accepting_total =
                u32::try_from(accepting.iter().filter(|a| **a).count()).unwrap_or(u32::MAX);
            let live_total = set.live_count();
            let members: HashSet<PodId> = group.members[position].iter().copied().collect();
            let mut counts = Counts::new(set);
            for &pod in &members {
                let p = self.index.pod(pod);
                if p.terminating || p.phase.is_terminal() {
                    continue;
                }
                if let Some(node) = self.node_of(pod) {
                    counts.add(node, 1);
                }
            }
            states.push(ConstraintState {
                constraint: constraint.clone(),
                counts,
                accepting,
                accepting_total,
                live_total,
                members,
            });
        }
        states
    }

    fn plan_group(&mut self, group: &Group) -> GroupPlan {
        let index = self.index;
        let left_alone: Vec<LeftAloneWorkload> = group
            .workloads
            .iter()
            .filter_map(|matched| {
                matched.left_alone.as_ref().map(|reason| LeftAloneWorkload {
                    workload: index.workload(matched.id).key(),
                    reason: reason.reason().to_owned(),
                })
            })
            .collect();
        let mut skipped = self.left_alone_pods(group);
        let mut states = self.constraint_states(group);
        let observed: Vec<(u32, Option<u32>, Option<u32>)> = states
            .iter()
            .map(|state| {
                let live = state.live_counts();
                (
                    state.counts.skew(state.constraint.min_domains),
                    live.skew(),
                    live.lower_bound(),
                )
            })
            .collect();
        let before: Vec<Counts> = states.iter().map(|state| state.counts.clone()).collect();
        let lower_bound_moves = observed
            .iter()
            .filter_map(|(_, _, bound)| *bound)
            .max()
            .unwrap_or(0);

        let whole_group_left_alone = !group.workloads.is_empty()
            && group
                .workloads
                .iter()
                .all(|matched| matched.left_alone.is_some());
        let mut movable = Vec::new();
        if !whole_group_left_alone && group.unplannable.is_none() {
            for &pod in &group.candidates {
                match self.protections.of(pod, group.min_pod_age) {
                    Some(protection) => skipped.push(self.skipped(pod, protection.reason())),
                    None => movable.push(pod),
                }
            }
        }

        let moves = if whole_group_left_alone || group.unplannable.is_some() {
            Vec::new()
        } else {
            self.search(group, &mut states, &movable)
        };

        let constraints: Vec<ConstraintReport> = states
            .iter()
            .zip(&observed)
            .zip(before)
            .map(
                |((state, (skew, actionable, bound)), before)| ConstraintReport {
                    topology_key: state.constraint.topology_key.clone(),
                    max_skew: state.constraint.max_skew,
                    when_unsatisfiable: state.constraint.when_unsatisfiable,
                    min_domains: (state.constraint.min_domains > 1)
                        .then_some(state.constraint.min_domains),
                    selector: state.constraint.selector.describe(),
                    global_min: before.global_min(state.constraint.min_domains),
                    skew: *skew,
                    actionable_skew: actionable.unwrap_or(0),
                    actionable_skew_after: state.live_counts().skew().unwrap_or(0),
                    lower_bound_moves: *bound,
                    domains: Domains {
                        set: Arc::clone(&state.counts.domains),
                        pods: before.nonzero(),
                        pods_after: state.counts.nonzero(),
                        accepting: Arc::clone(&state.accepting),
                    },
                },
            )
            .collect();

        let (outcome, message) = self.outcome(
            group,
            &states,
            &observed,
            &moves,
            &skipped,
            whole_group_left_alone,
        );
        skipped.sort_by(|a, b| a.pod.cmp(&b.pod));
        GroupPlan {
            namespace: group.namespace.to_string(),
            policy: group.policy.clone(),
            group: group.name.clone(),
            constraints,
            moves,
            skipped,
            left_alone,
            lower_bound_moves,
            outcome,
            message,
        }
    }

    fn skipped(&self, pod: PodId, reason: &str) -> Skipped {
        let index = self.index;
        Skipped {
            pod: index.pod(pod).key(),
            reason: reason.to_owned(),
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
            for &pod in index.pods_in(&group.namespace) {
                let p = index.pod(pod);
                if index.pod_workload[pod] == Some(matched.id) && !p.phase.is_terminal() {
                    skipped.push(self.skipped(pod, reason.reason()));
                }
            }
        }
        skipped
    }

    /// Greedy moves, each lowering the sum of the constraints' bounds by as much as any move
    /// can; none ever raises a constraint's actionable skew.
    fn search(
        &mut self,
        group: &Group,
        states: &mut [ConstraintState],
        movable: &[PodId],
    ) -> Vec<Move> {
        let index = self.index;
        let mut moves = Vec::new();
        let mut remaining: Vec<PodId> = movable.to_vec();
        loop {
            let lives: Vec<LiveCounts> = states.iter().map(ConstraintState::live_counts).collect();
            let balanced = lives.iter().zip(states.iter()).all(|(live, state)| {
                live.skew()
                    .is_none_or(|skew| i64::from(skew) <= i64::from(state.constraint.max_skew))
            });
            if balanced || remaining.is_empty() {
                break;
            }
            let phis: Vec<u32> = lives
                .iter()
                .map(|live| live.lower_bound().unwrap_or(0))
                .collect();
            let Some(best) = self.best_move(group, states, &lives, &phis, &remaining) else {
                break;
            };
            let pod = best.pod;
            let from = self.node_of(pod);
            let verdict = self.budgets.check(index.pod(pod));
            self.budgets.spend(index.pod(pod));
            let first = &states[0].counts.domains;
            let domain_name = |set: &DomainSet, node: Option<NodeId>| {
                node.and_then(|n| set.domain_of(n))
                    .map(|d| set.name(d).to_owned())
                    .unwrap_or_default()
            };
            moves.push(Move {
                pod: index.pod(pod).key(),
                uid: index.pod(pod).uid.clone(),
                workload: index.pod_workload[pod].map(|w| index.workload(w).key()),
                from_node: from.map(|n| index.node(n).name.clone()).unwrap_or_default(),
                from_domain: domain_name(first, from),
                to_node: index.node(best.to).name.clone(),
                to_domain: domain_name(first, Some(best.to)),
                pdb_allows: verdict.allows(),
                budget: verdict,
            });
            self.apply(states, pod, from, best.to);
            remaining.retain(|&p| p != pod);
        }
        moves
    }

    fn apply(
        &mut self,
        states: &mut [ConstraintState],
        pod: PodId,
        from: Option<NodeId>,
        to: NodeId,
    ) {
        let requests = Resources {
            pods: 1,
            ..self.index.pod(pod).spec.requests
        };
        for state in states.iter_mut() {
            if state.members.contains(&pod) {
                if let Some(from) = from {
                    state.counts.add(from, -1);
                }
                state.counts.add(to, 1);
            }
        }
        if let Some(from) = from {
            self.usage[from] = self.usage[from].minus(requests);
            self.arrived[from].retain(|&p| p != pod);
        }
        self.usage[to] = self.usage[to].plus(requests);
        self.arrived[to].push(pod);
        self.placed.insert(pod, to);
    }

    fn best_move(
        &self,
        group: &Group,
        states: &mut [ConstraintState],
        lives: &[LiveCounts],
        phis: &[u32],
        remaining: &[PodId],
    ) -> Option<Candidate> {
        let index = self.index;
        // One representative per (node, template): the pod the budgets allow, of the lowest
        // priority, the most recently started, then by name.
        let mut classes: HashMap<(NodeId, usize), PodId> = HashMap::new();
        for &pod in remaining {
            let Some(node) = self.node_of(pod) else {
                continue;
            };
            let key = (node, Arc::as_ptr(&index.pod(pod).spec) as usize);
            let better = match classes.get(&key) {
                None => true,
                Some(&current) => self.pod_preference(pod) < self.pod_preference(current),
            };
            if better {
                classes.insert(key, pod);
            }
        }
        let mut sources: Vec<(bool, u32, PodId, NodeId)> = classes
            .into_iter()
            .map(|((node, _), pod)| {
                let fullness = states
                    .iter()
                    .filter(|state| state.members.contains(&pod))
                    .map(|state| {
                        state
                            .counts
                            .domains
                            .domain_of(node)
                            .map_or(0, |d| state.counts.get(d))
                    })
                    .sum();
                (
                    self.budgets.check(index.pod(pod)).allows(),
                    fullness,
                    pod,
                    node,
                )
            })
            .collect();
        sources.sort_by(|a, b| {
            (!a.0, std::cmp::Reverse(a.1), &index.pod(a.2).name).cmp(&(
                !b.0,
                std::cmp::Reverse(b.1),
                &index.pod(b.2).name,
            ))
        });

        // The group's pods per node, for choosing the least-loaded destination.
        let mut group_pods: HashMap<NodeId, u32> = HashMap::new();
        if let Some(first) = states.first() {
            for &member in &first.members {
                if let Some(node) = self.node_of(member) {
                    *group_pods.entry(node).or_insert(0) += 1;
                }
            }
        }
        let mut best: Option<Candidate> = None;
        for (pdb_allows, fullness, pod, from) in sources {
            let most = states
                .iter()
                .zip(phis)
                .filter(|(state, phi)| state.members.contains(&pod) && **phi > 0)
                .count();
            if most == 0 {
                continue;
            }
            let Some(candidate) = self.best_destination(
                group,
                states,
                lives,
                phis,
                &group_pods,
                pod,
                from,
                pdb_allows,
                fullness,
            ) else {
                continue;
            };
            let reached_most = candidate.phi_change == -i64::try_from(most).unwrap_or(i64::MAX);
            let improves = best
                .as_ref()
                .is_none_or(|current| candidate.rank(index) < current.rank(index));
            if improves {
                best = Some(candidate);
            }
            // Later sources are no better placed, so none can beat a move that lowers every bound.
            if reached_most {
                break;
            }
        }
        best
    }

    fn pod_preference(&self, pod: PodId) -> impl Ord {
        let p = self.index.pod(pod);
        (
            !self.budgets.check(p).allows(),
            p.spec.priority.unwrap_or(0),
            std::cmp::Reverse(p.age_origin()),
            p.name.clone(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn best_destination(
        &self,
        group: &Group,
        states: &mut [ConstraintState],
        lives: &[LiveCounts],
        phis: &[u32],
        group_pods: &HashMap<NodeId, u32>,
        pod: PodId,
        from: NodeId,
        pdb_allows: bool,
        source_fullness: u32,
    ) -> Option<Candidate> {
        let index = self.index;
        let p = index.pod(pod);
        let placement = Placement::of(&p.spec);
        // Only a destination emptier by two in some constraint can lower a bound.
        let mut destinations: Vec<NodeId> = Vec::new();
        for state in states.iter() {
            if !state.members.contains(&pod) {
                continue;
            }
            let set = &state.counts.domains;
            let Some(source) = set.domain_of(from) else {
                continue;
            };
            let source_count = state.counts.get(source);
            for domain in set.domains() {
                if domain != source && state.counts.get(domain) + 1 < source_count {
                    destinations.extend_from_slice(set.live_nodes(domain));
                }
            }
        }
        destinations.sort_unstable();
        destinations.dedup();

        // The filter judges the replacement with the evicted pod gone.
        for state in states.iter_mut() {
            if state.members.contains(&pod) {
                state.counts.add(from, -1);
            }
        }
        let mut best: Option<Candidate> = None;
        for to in destinations {
            if to == from {
                continue;
            }
            let node = index.node(to);
            if !placement.is_live_on(node) {
                continue;
            }
            if self.refuses(p, to).is_some() {
                continue;
            }
            let pairs = states
                .iter()
                .map(|state| (&state.constraint, &state.counts));
            if topology::spread_filter(node, pairs, &group.pod_labels).is_err() {
                continue;
            }
            let Some((phi_change, destination_fullness)) =
                Self::effect(states, lives, phis, pod, from, to)
            else {
                continue;
            };
            if phi_change >= 0 {
                continue;
            }
            let destination_group_pods = group_pods.get(&to).copied().unwrap_or(0);
            let candidate = Candidate {
                pod,
                to,
                phi_change,
                pdb_allows,
                source_fullness,
                destination_fullness,
                destination_group_pods,
                destination_pods: self.usage[to].pods,
            };
            if best
                .as_ref()
                .is_none_or(|current| candidate.rank(index) < current.rank(index))
            {
                best = Some(candidate);
            }
        }
        for state in states.iter_mut() {
            if state.members.contains(&pod) {
                state.counts.add(from, 1);
            }
        }
        best
    }

    /// Node filters against the planner's picture: resources, host ports, volumes.
    fn refuses(&self, pod: &Pod, to: NodeId) -> Option<eligibility::Refusal> {
        let index = self.index;
        let node = index.node(to);
        if let Err(refusal) = eligibility::fits(node, self.usage[to], pod.spec.requests) {
            return Some(refusal);
        }
        let on_node: Vec<&Pod> = index.pods_on_node[to]
            .iter()
            .filter(|&&other| !self.placed.contains_key(&other))
            .chain(&self.arrived[to])
            .map(|&other| index.pod(other))
            .collect();
        if let Some(port) = eligibility::host_port_conflict(&pod.spec, &on_node) {
            return Some(eligibility::Refusal::HostPortTaken { port });
        }
        if !protection::volumes_reach(index, pod, node) {
            return Some(eligibility::Refusal::VolumeNodeAffinity);
        }
        None
    }

    /// The change of the summed bounds if `pod` moves `from` → `to` (the pod already taken
    /// out of the counts), and the destination's fullness; None if the move would raise a
    /// constraint's actionable skew or take the pod out of a constraint's live domains.
    fn effect(
        states: &mut [ConstraintState],
        lives: &[LiveCounts],
        phis: &[u32],
        pod: PodId,
        from: NodeId,
        to: NodeId,
    ) -> Option<(i64, u32)> {
        let mut change = 0i64;
        let mut fullness = 0u32;
        for ((state, live), phi) in states.iter_mut().zip(lives).zip(phis) {
            if !state.members.contains(&pod) {
                continue;
            }
            let set = &state.counts.domains;
            let (Some(source), Some(target)) = (set.domain_of(from), set.domain_of(to)) else {
                return None;
            };
            if !set.is_live(target) {
                return None;
            }
            fullness += state.counts.get(target);
            if source == target {
                continue;
            }
            state.counts.add(to, 1);
            let after = state.live_counts();
            state.counts.add(to, -1);
            if let (Some(before), Some(after)) = (live.skew(), after.skew())
                && after > before
            {
                return None;
            }
            change += i64::from(after.lower_bound().unwrap_or(0)) - i64::from(*phi);
        }
        Some((change, fullness))
    }
}

impl Planner<'_, '_> {
    fn outcome(
        &self,
        group: &Group,
        states: &[ConstraintState],
        observed: &[(u32, Option<u32>, Option<u32>)],
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
            .find(|(_, (_, actionable, _))| actionable.is_none());
        if let Some((state, _)) = no_accepting {
            return (
                Outcome::NoAcceptingDomain,
                format!(
                    "no domain of {} can take the group's pods now (none has a Ready, schedulable node they tolerate and fit on)",
                    state.constraint.topology_key
                ),
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
        let was_balanced = states
            .iter()
            .zip(observed)
            .all(|(state, (_, actionable, _))| {
                actionable
                    .is_none_or(|skew| i64::from(skew) <= i64::from(state.constraint.max_skew))
            });
        if was_balanced {
            let worst = observed
                .iter()
                .filter_map(|(_, a, _)| *a)
                .max()
                .unwrap_or(0);
            return (
                Outcome::Balanced,
                format!("balanced: actionable skew {worst} is within maxSkew"),
            );
        }
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
            let mut reasons: Vec<(String, usize)> = Vec::new();
            for skipped in skipped {
                match reasons
                    .iter_mut()
                    .find(|(reason, _)| *reason == skipped.reason)
                {
                    Some((_, count)) => *count += 1,
                    None => reasons.push((skipped.reason.clone(), 1)),
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
