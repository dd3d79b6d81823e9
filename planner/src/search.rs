//! The greedy search for moves. Each step takes the move that lowers the sum of the
//! constraints' bounds (`E*`) the most, never one that raises a constraint's actionable skew,
//! preferring a pod its budget lets go (or that a rollout restart moves without one), the
//! fullest source, then the emptiest destination domain and the least-loaded node. A bound
//! depends on a domain only through its count, so a move's effect is computed once per
//! destination count, not once per node.

use std::{cmp::Reverse, sync::Arc};

use rustc_hash::FxHashMap as HashMap;

use super::{
    bound::LiveCounts,
    eligibility::{self, Placement, Refusal},
    group::Group,
    identity::PodRef,
    index::{NodeId, PodId},
    labels::DRAINING_TAINT,
    model::{Pod, Resources},
    picture::Planner,
    protection,
    report::Move,
    restart,
    score::Departure,
    topology::{self, Constraint, Counts, DomainSet},
};

/// One constraint of the group being planned, with its counts as the plan changes them.
#[derive(Clone)]
pub(super) struct ConstraintState {
    pub(super) constraint: Constraint,
    pub(super) counts: Counts,
    pub(super) accepting: Arc<Vec<bool>>,
    pub(super) accepting_total: u32,
    pub(super) live_total: usize,
    pub(super) members: Members,
}

/// The pods a constraint counts, sorted.
#[derive(Clone)]
pub(super) struct Members(pub(super) Arc<[PodId]>);

impl Members {
    /// Whether the constraint counts this pod.
    pub(super) fn contains(&self, pod: &PodId) -> bool {
        self.0.binary_search(pod).is_ok()
    }
}

impl ConstraintState {
    /// The counts of the live domains, as the bound reads them.
    pub(super) fn live_counts(&self) -> LiveCounts {
        let set = &self.counts.domains;
        let mut nonzero = Vec::with_capacity(self.counts.domains_with_pods());
        let mut accepting_nonzero = 0;
        for (domain, count) in self.counts.iter() {
            if !set.is_live(domain) {
                continue;
            }
            let accepting = self.is_accepting(domain);
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

    fn is_accepting(&self, domain: u32) -> bool {
        self.accepting
            .get(domain as usize)
            .copied()
            .unwrap_or(false)
    }

    /// Counts a pod of this constraint's as moved from one node to another.
    pub(super) fn shift(&mut self, from: Option<NodeId>, to: NodeId) {
        if let Some(from) = from {
            self.counts.add(from, -1);
        }
        self.counts.add(to, 1);
    }

    /// Whether the actionable skew is within maxSkew (or there is nowhere to move to).
    pub(super) fn within_max_skew(&self) -> bool {
        self.live_counts()
            .skew()
            .is_none_or(|skew| i64::from(skew) <= i64::from(self.constraint.max_skew))
    }
}

/// Whether moving `pod` from `from` to `to` lowers the group's summed bounds without raising
/// any constraint's actionable skew.
fn helps(states: &[ConstraintState], pod: PodId, from: Option<NodeId>, to: NodeId) -> bool {
    let mut lowered = false;
    for state in states.iter().filter(|state| state.members.contains(&pod)) {
        let before = state.live_counts();
        let mut moved = state.clone();
        moved.shift(from, to);
        let after = moved.live_counts();
        if let (Some(was), Some(now)) = (before.skew(), after.skew())
            && now > was
        {
            return false;
        }
        match after
            .lower_bound()
            .unwrap_or(0)
            .cmp(&before.lower_bound().unwrap_or(0))
        {
            std::cmp::Ordering::Less => lowered = true,
            std::cmp::Ordering::Greater => return false,
            std::cmp::Ordering::Equal => {}
        }
    }
    lowered
}

/// A move under consideration.
struct Candidate {
    pod: PodId,
    to: NodeId,
    phi_change: i64,
    pdb_allows: bool,
    source_fullness: u32,
    destination: Destination,
}

/// What ranks destinations for one source, best first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Destination {
    phi_change: i64,
    /// The destination's domain counts, summed over the constraints.
    fullness: u32,
    /// The group's pods on the node.
    group_pods: u32,
    /// All pods on the node.
    pods: i64,
    /// The node's place in name order.
    name_rank: u32,
}

impl Candidate {
    fn rank<'a>(&self, pod_name: &'a str) -> impl Ord + 'a {
        (
            self.phi_change,
            !self.pdb_allows,
            Reverse(self.source_fullness),
            self.destination,
            pod_name,
        )
    }
}

/// The effect of adding one pod to a domain of a given count, for one constraint.
type Effect = Option<i64>;

/// A constraint that counts the moving pod, as the scan over destinations reads it.
struct Counted<'s> {
    /// Per node: its domain, if eligible.
    node_domain: &'s [Option<u32>],
    /// Per domain: whether it is live.
    live: &'s [bool],
    /// Per domain: whether it accepts the group's pods.
    accepting: &'s [bool],
    /// Per domain: the count, with the pod gone.
    counts: Vec<u32>,
    /// The domain the pod leaves.
    source: u32,
    /// The live counts with the pod gone.
    without: LiveCounts,
    /// The actionable skew before the move.
    skew_before: Option<u32>,
    /// The bound before the move.
    phi: u32,
    /// The effect of a destination, by its count and whether it accepts, once worked out.
    effects: Vec<[Option<Effect>; 2]>,
}

impl Counted<'_> {
    /// The change in bound from adding the pod to a live domain of `count` pods, None if that
    /// raises the actionable skew. The bound depends on a domain only through its count.
    #[inline]
    fn effect(&mut self, count: u32, accepting: bool) -> Effect {
        let slot = usize::try_from(count).unwrap_or(usize::MAX);
        match self
            .effects
            .get(slot)
            .and_then(|effects| effects[usize::from(accepting)])
        {
            Some(effect) => effect,
            None => self.work_out(slot, count, accepting),
        }
    }

    /// [`Counted::effect`] the first time a count is met.
    #[inline(never)]
    fn work_out(&mut self, slot: usize, count: u32, accepting: bool) -> Effect {
        if self.effects.len() <= slot {
            self.effects.resize(slot + 1, [None, None]);
        }
        let mut after = self.without.clone();
        if count == 0 {
            after.nonzero.push((1, accepting));
            if accepting {
                after.empty_accepting = after.empty_accepting.saturating_sub(1);
            }
        } else if let Some(entry) = after
            .nonzero
            .iter_mut()
            .find(|entry| **entry == (count, accepting))
        {
            entry.0 += 1;
        }
        let raises = matches!(
            (self.skew_before, after.skew()),
            (Some(before), Some(after)) if after > before
        );
        let effect =
            (!raises).then(|| i64::from(after.lower_bound().unwrap_or(0)) - i64::from(self.phi));
        self.effects[slot][usize::from(accepting)] = Some(effect);
        effect
    }
}

impl Planner<'_, '_> {
    /// Greedy moves, each lowering the summed bounds as much as any move can.
    pub(super) fn search(
        &mut self,
        group: &Group,
        states: &mut [ConstraintState],
        movable: &[PodId],
    ) -> Vec<Move> {
        let index = self.index;
        let mut moves = Vec::new();
        let mut remaining: Vec<PodId> = movable.to_vec();
        while !remaining.is_empty() && !states.iter().all(ConstraintState::within_max_skew) {
            let lives: Vec<LiveCounts> = states.iter().map(ConstraintState::live_counts).collect();
            let phis: Vec<u32> = lives
                .iter()
                .map(|live| live.lower_bound().unwrap_or(0))
                .collect();
            let Some((pod, to)) = self.best_move(group, states, &lives, &phis, &remaining) else {
                break;
            };
            let from = self.node_of(pod);
            // The scheduler cannot count a group across namespaces: its replacement goes where
            // the scheduler's own scores send it (with the node it leaves marked as drained),
            // and a move whose replacement would not land where it helps is not made.
            let (to, tied_with) = match self.steered(group, states, pod, from, to) {
                Some(steered) => steered,
                None => {
                    remaining.retain(|&p| p != pod);
                    continue;
                }
            };
            let method = restart::method(index, group.move_strategy, pod);
            let verdict = self.budgets.check_move(index.pod(pod), method);
            self.budgets.spend(index.pod(pod), method);
            let first = &states[0].counts.domains;
            let domain_name = |set: &DomainSet, node: Option<NodeId>| {
                node.and_then(|n| set.domain_of(n))
                    .map(|d| set.name(d).to_owned())
                    .unwrap_or_default()
            };
            moves.push(Move {
                pod: PodRef::of(index.pod(pod)),
                uid: index.pod(pod).uid.to_string(),
                workload: index
                    .pod_workload(pod)
                    .map(|w| group.workload_ref(index.workload(w))),
                from_node: from.map(|n| index.node(n).name.clone()).unwrap_or_default(),
                from_domain: domain_name(first, from),
                to_node: index.node(to).name.clone(),
                to_domain: domain_name(first, Some(to)),
                tied_with: tied_with
                    .iter()
                    .map(|&node| index.node(node).name.clone())
                    .collect(),
                method,
                pdb_allows: verdict.allows(),
                budget: verdict,
            });
            self.apply(states, pod, from, to);
            remaining.retain(|&p| p != pod);
        }
        moves
    }

    /// For a group across namespaces, where the scheduler would put the replacement of `pod`
    /// leaving `from` (marked with the drain taint): the planned node when the scheduler agrees
    /// or is as likely to pick it as any other good node, another node that helps as much when
    /// the scheduler prefers that one, None when the scheduler would undo the move; with the
    /// other nodes it scores as high, among which it picks at random. Other groups'
    /// destinations are the planner's own (their constraints steer the scheduler).
    fn steered(
        &mut self,
        group: &Group,
        states: &[ConstraintState],
        pod: PodId,
        from: Option<NodeId>,
        planned: NodeId,
    ) -> Option<(NodeId, Vec<NodeId>)> {
        if !group.is_cluster() {
            return Some((planned, Vec::new()));
        }
        let Some(scene) = self.scene.as_mut() else {
            return Some((planned, Vec::new()));
        };
        if let Some(from) = from {
            scene.prefer_no_schedule(from, DRAINING_TAINT, "");
        }
        let prediction = scene.predict_replacement(pod, Departure::Terminating);
        let helps = |to: NodeId| {
            from != Some(to)
                && helps(states, pod, from, to)
                && self
                    .joint
                    .as_ref()
                    .is_none_or(|joint| joint.allows(pod, from, to))
        };
        if prediction.best.is_empty() || !prediction.best.iter().all(|&to| helps(to)) {
            return None;
        }
        let to = if prediction.best.contains(&planned) {
            planned
        } else {
            *prediction.best.first()?
        };
        let tied = prediction.best.iter().copied().filter(|&node| node != to);
        Some((to, tied.collect()))
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
        for state in states
            .iter_mut()
            .filter(|state| state.members.contains(&pod))
        {
            state.shift(from, to);
        }
        if let Some(joint) = &mut self.joint {
            joint.apply(pod, from, to);
        }
        if let Some(scene) = &mut self.scene {
            scene.relocate(pod, to);
        }
        if let Some(from) = from {
            self.usage[from] = self.usage[from].minus(requests);
            self.arrived[from].retain(|&p| p != pod);
        }
        self.usage[to] = self.usage[to].plus(requests);
        self.arrived[to].push(pod);
        self.placed.insert(pod, to);
    }

    /// Whether the budgets let a pod go now, moved as its group moves it.
    fn budget_allows(&self, group: &Group, pod: PodId) -> bool {
        let method = restart::method(self.index, group.move_strategy, pod);
        self.budgets
            .check_move(self.index.pod(pod), method)
            .allows()
    }

    /// A pod's place among the pods of its node and template: the one its budget lets go,
    /// of the lowest priority, the most recently started, then by name.
    fn pod_preference(&self, group: &Group, pod: PodId) -> impl Ord + '_ {
        let p = self.index.pod(pod);
        (
            !self.budget_allows(group, pod),
            p.spec.priority.unwrap_or(0),
            Reverse(p.age_origin()),
            p.name.as_str(),
        )
    }

    fn best_move(
        &self,
        group: &Group,
        states: &mut [ConstraintState],
        lives: &[LiveCounts],
        phis: &[u32],
        remaining: &[PodId],
    ) -> Option<(PodId, NodeId)> {
        let index = self.index;
        // Pods of one template on one node are interchangeable: keep one of each.
        let mut classes: HashMap<(NodeId, usize), PodId> = HashMap::default();
        for &pod in remaining {
            let Some(node) = self.node_of(pod) else {
                continue;
            };
            let key = (node, Arc::as_ptr(&index.pod(pod).spec) as usize);
            let better = classes.get(&key).is_none_or(|&current| {
                self.pod_preference(group, pod) < self.pod_preference(group, current)
            });
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
                (self.budget_allows(group, pod), fullness, pod, node)
            })
            .collect();
        sources.sort_by_key(|&(allows, fullness, pod, _)| {
            (!allows, Reverse(fullness), index.pod(pod).name.as_str())
        });

        // The group's pods per node, for choosing the least-loaded destination.
        let mut group_pods = vec![0u32; index.cluster.nodes.len()];
        if let Some(first) = states.first() {
            for &member in first.members.0.iter() {
                if let Some(slot) = self
                    .node_of(member)
                    .and_then(|node| group_pods.get_mut(node))
                {
                    *slot += 1;
                }
            }
        }

        let floors: Vec<Option<u32>> = lives.iter().map(LiveCounts::floor).collect();
        let mut best: Option<Candidate> = None;
        for (pdb_allows, source_fullness, pod, from) in sources {
            // A move lowers a constraint's bound only from a domain at least two above the
            // emptiest accepting one; count the bounds this source could lower at most.
            let most = states
                .iter()
                .zip(phis)
                .zip(&floors)
                .filter(|((state, phi), floor)| {
                    let source = state
                        .counts
                        .domains
                        .domain_of(from)
                        .map_or(0, |domain| state.counts.get(domain));
                    state.members.contains(&pod)
                        && **phi > 0
                        && floor.is_some_and(|floor| source >= floor + 2)
                })
                .count();
            let most = i64::try_from(most).unwrap_or(i64::MAX);
            if most == 0 || best.as_ref().is_some_and(|best| -most >= best.phi_change) {
                continue;
            }
            let Some(destination) =
                self.best_destination(group, states, lives, phis, &group_pods, pod, from)
            else {
                continue;
            };
            let candidate = Candidate {
                pod,
                to: destination.0,
                phi_change: destination.1.phi_change,
                pdb_allows,
                source_fullness,
                destination: destination.1,
            };
            let improves = best.as_ref().is_none_or(|current| {
                candidate.rank(&index.pod(candidate.pod).name)
                    < current.rank(&index.pod(current.pod).name)
            });
            let lowers_every_bound = candidate.phi_change == -most;
            if improves {
                best = Some(candidate);
            }
            // Later sources are no better placed, so none beats a move that lowers every bound.
            if lowers_every_bound {
                break;
            }
        }
        best.map(|candidate| (candidate.pod, candidate.to))
    }

    /// The best node for a pod leaving `from`: the destinations that lower the summed bounds,
    /// best ranked first, and the first of them every filter admits.
    #[allow(clippy::too_many_arguments)]
    fn best_destination(
        &self,
        group: &Group,
        states: &mut [ConstraintState],
        lives: &[LiveCounts],
        phis: &[u32],
        group_pods: &[u32],
        pod: PodId,
        from: NodeId,
    ) -> Option<(NodeId, Destination)> {
        let index = self.index;
        let p = index.pod(pod);
        let member: Vec<bool> = states
            .iter()
            .map(|state| state.members.contains(&pod))
            .collect();
        let sources: Vec<Option<u32>> = states
            .iter()
            .map(|state| state.counts.domains.domain_of(from))
            .collect();
        if member
            .iter()
            .zip(&sources)
            .any(|(member, source)| *member && source.is_none())
        {
            return None;
        }
        // The replacement is judged with the evicted pod gone.
        for (state, _) in states
            .iter_mut()
            .zip(&member)
            .filter(|(_, member)| **member)
        {
            state.counts.add(from, -1);
        }
        // Per counting constraint, what the scan reads: counts laid out densely by domain.
        let mut counted: Vec<Counted<'_>> = states
            .iter()
            .zip(&member)
            .zip(&sources)
            .zip(lives.iter().zip(phis))
            .filter(|(((_, member), _), _)| **member)
            .filter_map(|(((state, _), source), (live, phi))| {
                let set = &state.counts.domains;
                let mut counts = vec![0; set.len()];
                for (domain, count) in state.counts.iter() {
                    if let Some(slot) = counts.get_mut(domain as usize) {
                        *slot = count;
                    }
                }
                Some(Counted {
                    node_domain: set.node_domains(),
                    live: set.live_flags(),
                    accepting: &state.accepting,
                    counts,
                    // Always known for a member: checked on entry.
                    source: (*source)?,
                    without: state.live_counts(),
                    skew_before: live.skew(),
                    phi: *phi,
                    effects: Vec::new(),
                })
            })
            .collect();
        // The best-ranked destination is usually admitted: find it in one pass, and rank them
        // all only when a filter refuses it.
        let mut best: Option<(Destination, NodeId)> = None;
        self.scan_destinations(&mut counted, from, group_pods, |candidate| {
            if best.is_none_or(|best| candidate < best) {
                best = Some(candidate);
            }
        });
        let placement = Placement::of(&p.spec);
        let admits = |states: &[ConstraintState], to: NodeId| {
            let node = index.node(to);
            placement.is_live_on(node)
                && self.refuses(p, to).is_none()
                && self
                    .joint
                    .as_ref()
                    .is_none_or(|joint| joint.allows(pod, Some(from), to))
                && topology::spread_filter(
                    node,
                    states
                        .iter()
                        .map(|state| (&state.constraint, &state.counts)),
                    &group.pod_labels,
                )
                .is_ok()
        };
        let found = match best {
            Some((_, to)) if admits(states, to) => best,
            Some(_) => {
                let mut ranked: Vec<(Destination, NodeId)> = Vec::new();
                self.scan_destinations(&mut counted, from, group_pods, |candidate| {
                    ranked.push(candidate);
                });
                ranked.sort_unstable();
                ranked.into_iter().find(|&(_, to)| admits(states, to))
            }
            None => None,
        };
        for (state, _) in states
            .iter_mut()
            .zip(&member)
            .filter(|(_, member)| **member)
        {
            state.counts.add(from, 1);
        }
        found.map(|(destination, to)| (to, destination))
    }

    /// Every node a pod leaving `from` could go to that lowers the summed bounds without
    /// raising any constraint's skew, with its rank.
    fn scan_destinations(
        &self,
        counted: &mut [Counted<'_>],
        from: NodeId,
        group_pods: &[u32],
        mut visit: impl FnMut((Destination, NodeId)),
    ) {
        'nodes: for to in 0..self.index.cluster.nodes.len() {
            if to == from {
                continue;
            }
            let mut phi_change = 0i64;
            let mut fullness = 0u32;
            let mut moves_domain = false;
            for constraint in counted.iter_mut() {
                let Some(target) = constraint.node_domain.get(to).copied().flatten() else {
                    continue 'nodes;
                };
                let domain = target as usize;
                if !constraint.live.get(domain).copied().unwrap_or(false) {
                    continue 'nodes;
                }
                let count = constraint.counts.get(domain).copied().unwrap_or(0);
                fullness += count;
                if target == constraint.source {
                    continue;
                }
                moves_domain = true;
                let accepting = constraint.accepting.get(domain).copied().unwrap_or(false);
                match constraint.effect(count, accepting) {
                    Some(change) => phi_change += change,
                    None => continue 'nodes,
                }
            }
            if !moves_domain || phi_change >= 0 {
                continue;
            }
            visit((
                Destination {
                    phi_change,
                    fullness,
                    group_pods: group_pods.get(to).copied().unwrap_or(0),
                    pods: self.usage[to].pods,
                    name_rank: self.index.node_rank[to],
                },
                to,
            ));
        }
    }

    /// Node filters against the planner's picture: resources, host ports, volumes.
    fn refuses(&self, pod: &Pod, to: NodeId) -> Option<Refusal> {
        let index = self.index;
        let node = index.node(to);
        if let Err(refusal) = eligibility::fits(node, self.usage[to], pod.spec.requests) {
            return Some(refusal);
        }
        if !pod.spec.host_ports.is_empty() {
            let on_node: Vec<&Pod> = index
                .pods_on(to)
                .iter()
                .filter(|&&other| !self.placed.contains_key(&other))
                .chain(&self.arrived[to])
                .map(|&other| index.pod(other))
                .collect();
            if let Some(port) = eligibility::host_port_conflict(&pod.spec, &on_node) {
                return Some(Refusal::HostPortTaken { port });
            }
        }
        if !protection::volumes_reach(index, pod, node) {
            return Some(Refusal::VolumeNodeAffinity);
        }
        None
    }
}
