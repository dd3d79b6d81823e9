//! An oracle for "the fewest moves", written apart from the planner: on random small clusters
//! it counts domains and skew itself (kube-scheduler's PodTopologySpread rules, read on the
//! domains that can take pods now), searches breadth-first over single-pod moves for the fewest
//! that bring every group within maxSkew, and holds the planner's plan to that number.
//!
//! Nothing here calls the planner's search, bound or topology code: the planner is only run
//! through `planner::plan`, and its moves are replayed on the oracle's own model.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, HashMap, VecDeque};

use kube_spread::{
    api::HOSTNAME_LABEL,
    planner::{
        model::{Cluster, OptOut, WhenUnsatisfiable},
        report::{GroupPlan, Outcome},
    },
};
use proptest::prelude::*;
use support::model::*;

/// The taint some nodes carry, tolerated by some workloads.
const TAINT_KEY: &str = "dedicated";
/// The node label a workload's required affinity may ask for.
const POOL_KEY: &str = "pool";

// ---------------------------------------------------------------------------------------------
// The oracle's own description of a cluster: plain values, shared by nothing in the planner.
// ---------------------------------------------------------------------------------------------

/// How a node stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    Up,
    NotReady,
    Cordoned,
    /// A NoSchedule taint that only tolerating pods may ignore.
    Tainted,
}

#[derive(Clone, Debug)]
struct NodeSpec {
    /// The zone's index; None for a node without the zone label.
    zone: Option<usize>,
    /// In pool "b" rather than "a".
    pool_b: bool,
    health: Health,
}

/// How one pod is kept from moving, if it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guard {
    Free,
    /// `kubespread.io/do-not-move: "true"`.
    DoNotMove,
    /// Started just now, younger than minPodAge.
    TooYoung,
    /// A hostname nodeSelector on the pod itself.
    Pinned,
}

/// Where a group's pods may go: required affinity to pool "a", and the taint's toleration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Placing {
    pool_a_only: bool,
    tolerates: bool,
}

#[derive(Clone, Debug)]
struct WorkloadSpec {
    placing: Placing,
    /// Each pod: its node and its guard.
    pods: Vec<(usize, Guard)>,
}

#[derive(Clone, Debug)]
struct ConstraintSpec {
    /// Zone, or hostname.
    zone: bool,
    max_skew: u32,
    do_not_schedule: bool,
    min_domains: Option<u32>,
    /// nodeTaintsPolicy: Honor (the default is Ignore).
    honor_taints: bool,
    /// nodeAffinityPolicy: Ignore (the default is Honor).
    ignore_affinity: bool,
}

#[derive(Clone, Debug)]
struct World {
    nodes: Vec<NodeSpec>,
    workloads: Vec<WorkloadSpec>,
    constraints: Vec<ConstraintSpec>,
    /// One group for all workloads (scope Policy) rather than one per workload.
    policy_scope: bool,
}

fn node_name(node: usize) -> String {
    format!("n{node}")
}

fn workload_name(workload: usize) -> String {
    format!("w{workload}")
}

fn pod_name(workload: usize, ordinal: usize) -> String {
    format!("w{workload}-{ordinal}")
}

// ---------------------------------------------------------------------------------------------
// The oracle: domains, skew and the scheduler's filter, counted here, then a breadth-first
// search over single-pod moves.
// ---------------------------------------------------------------------------------------------

impl NodeSpec {
    fn zone_label(&self) -> Option<String> {
        self.zone.map(|zone| format!("z{zone}"))
    }

    /// The node's value of a constraint's topology key, if it carries the key.
    fn value(&self, node: usize, zone: bool) -> Option<String> {
        if zone {
            self.zone_label()
        } else {
            Some(node_name(node))
        }
    }

    fn admits(&self, placing: Placing) -> bool {
        !placing.pool_a_only || !self.pool_b
    }

    fn taint_tolerated(&self, placing: Placing) -> bool {
        self.health != Health::Tainted || placing.tolerates
    }

    /// Whether a pod placed so could be scheduled here now: Ready, not cordoned, its taints
    /// tolerated and its affinity met (resources are ample in these clusters).
    fn takes(&self, placing: Placing) -> bool {
        matches!(self.health, Health::Up | Health::Tainted)
            && self.taint_tolerated(placing)
            && self.admits(placing)
    }
}

/// One group as the oracle sees it: where its pods may go, the pods that may move (by node),
/// the pods that count but stay, and the constraints.
#[derive(Clone, Debug)]
struct OracleGroup {
    placing: Placing,
    /// Per node: the group's pods that may move.
    movable: Vec<u32>,
    /// Per node: the group's pods that stay.
    fixed: Vec<u32>,
}

/// One constraint over a group, with its domains worked out.
struct Domains {
    spec: ConstraintSpec,
    /// Per node: its domain (label value) if the node is eligible (PreFilter).
    eligible: Vec<Option<String>>,
    /// Per node: its value of the key, eligible or not (the Filter looks the value up).
    value: Vec<Option<String>>,
    /// The eligible domains that have a node the group's pods can go to now.
    live: Vec<String>,
}

impl Domains {
    fn of(world: &World, placing: Placing, spec: &ConstraintSpec) -> Self {
        // `nodeLabelsMatchSpreadConstraints`: a node counts only if it carries the keys of
        // every constraint of the same whenUnsatisfiable.
        let keys: Vec<bool> = world
            .constraints
            .iter()
            .filter(|other| other.do_not_schedule == spec.do_not_schedule)
            .map(|other| other.zone)
            .collect();
        let value: Vec<Option<String>> = world
            .nodes
            .iter()
            .enumerate()
            .map(|(id, node)| node.value(id, spec.zone))
            .collect();
        let eligible: Vec<Option<String>> = world
            .nodes
            .iter()
            .enumerate()
            .map(|(id, node)| {
                let has_keys = keys.iter().all(|&zone| node.value(id, zone).is_some());
                let affinity = spec.ignore_affinity || node.admits(placing);
                let taints = !spec.honor_taints || node.taint_tolerated(placing);
                if has_keys && affinity && taints {
                    value[id].clone()
                } else {
                    None
                }
            })
            .collect();
        let mut live: Vec<String> = world
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.takes(placing))
            .filter_map(|(id, _)| eligible[id].clone())
            .collect();
        live.sort();
        live.dedup();
        Self {
            spec: spec.clone(),
            eligible,
            value,
            live,
        }
    }

    /// The group's pods per eligible domain, from pods per node.
    fn counts(&self, per_node: &[u32]) -> BTreeMap<&str, u32> {
        let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
        for (domain, pods) in self.eligible.iter().zip(per_node) {
            if let Some(domain) = domain {
                *counts.entry(domain.as_str()).or_default() += pods;
            }
        }
        counts
    }

    /// Whether the constraint holds on the domains that can take pods now: the fullest of them
    /// less the emptiest (0 while fewer of them than minDomains) is within maxSkew. None when
    /// no domain can take pods.
    fn holds(&self, per_node: &[u32]) -> Option<bool> {
        self.skew(per_node).map(|skew| skew <= self.spec.max_skew)
    }

    /// The skew on the domains that can take pods now; None when there is none.
    fn skew(&self, per_node: &[u32]) -> Option<u32> {
        if self.live.is_empty() {
            return None;
        }
        let counts = self.counts(per_node);
        let live = self
            .live
            .iter()
            .map(|domain| counts.get(domain.as_str()).copied().unwrap_or(0));
        let max = live.clone().max().unwrap_or(0);
        let too_few = self
            .spec
            .min_domains
            .is_some_and(|min| self.live.len() < min as usize);
        let min = if too_few { 0 } else { live.min().unwrap_or(0) };
        Some(max - min)
    }

    /// PodTopologySpread's Filter for a pod of the group arriving on `to`, with `per_node`
    /// counting the group's pods without it: for DoNotSchedule, the node carries the key and
    /// its domain's count plus the pod itself, less the global minimum over every eligible
    /// domain (0 below minDomains), stays within maxSkew.
    fn admits(&self, per_node: &[u32], to: usize) -> bool {
        if !self.spec.do_not_schedule {
            return true;
        }
        let Some(value) = &self.value[to] else {
            return false;
        };
        let counts = self.counts(per_node);
        if counts.is_empty() && self.eligible.iter().all(Option::is_none) {
            return true;
        }
        let mut domains: Vec<&str> = self.eligible.iter().flatten().map(String::as_str).collect();
        domains.sort_unstable();
        domains.dedup();
        let too_few = self
            .spec
            .min_domains
            .is_some_and(|min| domains.len() < min as usize);
        let global_min = if too_few {
            0
        } else {
            domains
                .iter()
                .map(|domain| counts.get(domain).copied().unwrap_or(0))
                .min()
                .unwrap_or(0)
        };
        let matching = counts.get(value.as_str()).copied().unwrap_or(0);
        // Upstream's own arithmetic: matching + selfMatch - minMatch > maxSkew refuses.
        i64::from(matching) + 1 - i64::from(global_min) <= i64::from(self.spec.max_skew)
    }
}

/// A state of the search: per node, the group's pods that may still move, and those that
/// arrived (a replacement is not moved again within one plan).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    movable: Vec<u32>,
    arrived: Vec<u32>,
}

impl State {
    fn per_node(&self, fixed: &[u32]) -> Vec<u32> {
        (0..fixed.len())
            .map(|node| fixed[node] + self.movable[node] + self.arrived[node])
            .collect()
    }

    /// `self` with one pod moved from `from` to `to`.
    fn moved(&self, from: usize, to: usize) -> Self {
        let mut next = self.clone();
        next.movable[from] -= 1;
        next.arrived[to] += 1;
        next
    }
}

/// What the oracle says about one group.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Some constraint has no domain that can take pods.
    NoAcceptingDomain,
    /// The fewest single-pod moves that bring every constraint within maxSkew.
    Fewest(u32),
    /// No sequence of moves does.
    Unreachable,
}

/// Which moves the search may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rules {
    /// Any move the scheduler would allow.
    Scheduler,
    /// Also the planner's own two rules, which its module documentation states: no move
    /// raises a constraint's actionable skew, and a pod moves only between nodes that every
    /// constraint of its group counts (ScheduleAnyway ones too).
    Planner,
}

struct Oracle<'w> {
    world: &'w World,
    group: OracleGroup,
    domains: Vec<Domains>,
    rules: Rules,
}

impl<'w> Oracle<'w> {
    fn new(world: &'w World, group: OracleGroup, rules: Rules) -> Self {
        let domains = world
            .constraints
            .iter()
            .map(|spec| Domains::of(world, group.placing, spec))
            .collect();
        Self {
            world,
            group,
            domains,
            rules,
        }
    }

    fn start(&self) -> State {
        State {
            movable: self.group.movable.clone(),
            arrived: vec![0; self.group.movable.len()],
        }
    }

    /// Whether every constraint holds; None when one has no domain that takes pods.
    fn balanced(&self, state: &State) -> Option<bool> {
        let per_node = state.per_node(&self.group.fixed);
        let mut all = true;
        for domains in &self.domains {
            all &= domains.holds(&per_node)?;
        }
        Some(all)
    }

    /// Whether a pod leaving `from` may land on `to`: the node takes such pods and every
    /// DoNotSchedule constraint's filter admits it.
    fn may_move(&self, state: &State, from: usize, to: usize) -> bool {
        if from == to || !self.world.nodes[to].takes(self.group.placing) {
            return false;
        }
        let before = state.per_node(&self.group.fixed);
        let mut without = before.clone();
        without[from] -= 1;
        if !self
            .domains
            .iter()
            .all(|domains| domains.admits(&without, to))
        {
            return false;
        }
        if self.rules == Rules::Scheduler {
            return true;
        }
        let mut after = without;
        after[to] += 1;
        self.domains.iter().all(|domains| {
            let counted = domains.eligible[from].is_some() && domains.eligible[to].is_some();
            let rises = matches!(
                (domains.skew(&before), domains.skew(&after)),
                (Some(was), Some(now)) if now > was
            );
            counted && !rises
        })
    }

    fn verdict(&self) -> Verdict {
        let start = self.start();
        let Some(balanced) = self.balanced(&start) else {
            return Verdict::NoAcceptingDomain;
        };
        if balanced {
            return Verdict::Fewest(0);
        }
        let nodes = self.world.nodes.len();
        let mut seen: HashMap<State, u32> = HashMap::from([(start.clone(), 0)]);
        let mut queue = VecDeque::from([start]);
        while let Some(state) = queue.pop_front() {
            let depth = seen[&state];
            for from in 0..nodes {
                if state.movable[from] == 0 {
                    continue;
                }
                for to in 0..nodes {
                    if !self.may_move(&state, from, to) {
                        continue;
                    }
                    let next = state.moved(from, to);
                    if seen.contains_key(&next) {
                        continue;
                    }
                    if self.balanced(&next) == Some(true) {
                        return Verdict::Fewest(depth + 1);
                    }
                    seen.insert(next.clone(), depth + 1);
                    queue.push_back(next);
                }
            }
        }
        Verdict::Unreachable
    }
}

/// The world's groups, in the order the planner reports them (by name): one per workload, or
/// one for the whole policy.
fn oracle_groups(world: &World) -> Vec<(String, OracleGroup)> {
    let nodes = world.nodes.len();
    let mut groups: Vec<(String, OracleGroup)> = Vec::new();
    for (index, workload) in world.workloads.iter().enumerate() {
        let (name, placing) = if world.policy_scope {
            ("SpreadPolicy/spread".to_owned(), world.workloads[0].placing)
        } else {
            (
                format!("Deployment/{}", workload_name(index)),
                workload.placing,
            )
        };
        if groups.last().is_none_or(|(last, _)| *last != name) {
            groups.push((
                name,
                OracleGroup {
                    placing,
                    movable: vec![0; nodes],
                    fixed: vec![0; nodes],
                },
            ));
        }
        let (_, group) = groups.last_mut().unwrap();
        for &(node, guard) in &workload.pods {
            if guard == Guard::Free {
                group.movable[node] += 1;
            } else {
                group.fixed[node] += 1;
            }
        }
    }
    groups
}

// ---------------------------------------------------------------------------------------------
// The same world as the planner's model, built with the tests' fixtures.
// ---------------------------------------------------------------------------------------------

fn cluster_of(world: &World) -> Cluster {
    let mut builder = ClusterBuilder::new();
    for (id, spec) in world.nodes.iter().enumerate() {
        let mut n = node(&node_name(id)).label(POOL_KEY, if spec.pool_b { "b" } else { "a" });
        if let Some(zone) = spec.zone_label() {
            n = n.zone(&zone);
        }
        n = match spec.health {
            Health::Up => n,
            Health::NotReady => n.not_ready(),
            Health::Cordoned => n.cordoned(),
            Health::Tainted => n.taint(TAINT_KEY, no_schedule()),
        };
        builder = builder.node(n);
    }
    for (index, spec) in world.workloads.iter().enumerate() {
        let placing = if world.policy_scope {
            world.workloads[0].placing
        } else {
            spec.placing
        };
        let mut workload = deployment(&workload_name(index)).spec(|template| {
            if placing.pool_a_only {
                template.required_affinity = Some(node_affinity(POOL_KEY, &["a"]));
            }
            if placing.tolerates {
                template.tolerations.push(toleration_for(TAINT_KEY));
            }
        });
        workload.replicas = i32::try_from(spec.pods.len()).unwrap();
        for (ordinal, &(on, guard)) in spec.pods.iter().enumerate() {
            let mut p = pod(&pod_name(index, ordinal))
                .of(&workload)
                .on(&node_name(on));
            p = match guard {
                Guard::Free => p,
                Guard::DoNotMove => p.opt_outs(|o| o.do_not_move = Some(OptOut::Always)),
                Guard::TooYoung => p.started(now()),
                Guard::Pinned => p.spec(|s| {
                    s.node_selector
                        .insert(HOSTNAME_LABEL.to_owned(), node_name(on));
                }),
            };
            builder = builder.pod(p);
        }
        builder = builder.workload(workload);
    }
    let constraints = world
        .constraints
        .iter()
        .map(|c| {
            let key = if c.zone {
                kube_spread::api::ZONE_LABEL
            } else {
                HOSTNAME_LABEL
            };
            let when = if c.do_not_schedule {
                WhenUnsatisfiable::DoNotSchedule
            } else {
                WhenUnsatisfiable::ScheduleAnyway
            };
            let mut constraint = spread(key, i32::try_from(c.max_skew).unwrap(), when);
            constraint.min_domains = c.min_domains.map(|m| i32::try_from(m).unwrap());
            if c.honor_taints {
                constraint.node_taints_policy =
                    Some(kube_spread::planner::model::NodeInclusionPolicy::Honor);
            }
            if c.ignore_affinity {
                constraint.node_affinity_policy =
                    Some(kube_spread::planner::model::NodeInclusionPolicy::Ignore);
            }
            constraint
        })
        .collect();
    let mut spread_policy = policy("spread", constraints);
    if world.policy_scope {
        spread_policy = policy_scope(spread_policy);
    }
    builder.policy(spread_policy).build()
}

/// Where each pod of the world is, by `namespace/name`, and whether it may move.
fn pods_by_key(world: &World) -> HashMap<String, (usize, Guard)> {
    let mut pods = HashMap::new();
    for (index, workload) in world.workloads.iter().enumerate() {
        for (ordinal, &(node, guard)) in workload.pods.iter().enumerate() {
            pods.insert(format!("media/{}", pod_name(index, ordinal)), (node, guard));
        }
    }
    pods
}

/// Replays a group's planned moves on the oracle's model: each must move a pod that may move
/// to a node the oracle's filter admits. Returns the state they end in.
fn replay(oracle: &Oracle<'_>, world: &World, group: &GroupPlan) -> Result<State, String> {
    let pods = pods_by_key(world);
    let mut state = oracle.start();
    for m in &group.moves {
        let Some(&(from, guard)) = pods.get(&m.pod.to_string()) else {
            return Err(format!("{} is no pod of the world", m.pod));
        };
        if guard != Guard::Free {
            return Err(format!("{} is {guard:?} and was moved", m.pod));
        }
        if m.from_node != node_name(from) {
            return Err(format!(
                "{} is on {}, not {}",
                m.pod,
                node_name(from),
                m.from_node
            ));
        }
        let to = (0..world.nodes.len())
            .find(|&id| node_name(id) == m.to_node)
            .ok_or_else(|| format!("no node {}", m.to_node))?;
        if state.movable[from] == 0 || !oracle.may_move(&state, from, to) {
            return Err(format!(
                "{} may not go from {} to {}",
                m.pod, m.from_node, m.to_node
            ));
        }
        state = state.moved(from, to);
    }
    Ok(state)
}

/// Compares one world's plan with the oracle; an error says how they disagree.
/// How closely the plan is held to the oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// What the planner claims: balanced as it is, or balanced by its moves in the fewest
    /// possible; and every move one the scheduler allows.
    Claims,
    /// Also that it never gives up where moves within its own rules reach balance.
    Completeness,
}

fn compare(world: &World, check: Check) -> Result<(), String> {
    let cluster = cluster_of(world);
    let plan = plan(&cluster);
    let groups = oracle_groups(world);
    for (name, group) in groups {
        let Some(planned) = plan.groups.iter().find(|g| g.group == name) else {
            return Err(format!("the plan has no group {name}: {:#?}", plan.groups));
        };
        let oracle = Oracle::new(world, group.clone(), Rules::Scheduler);
        let verdict = oracle.verdict();
        let moves = u32::try_from(planned.moves.len()).unwrap();
        let says = |what: &str| {
            format!(
                "{name}: {what}; the oracle says {verdict:?}, the planner {:?} in {moves} move(s) \
                 (lowerBoundMoves {}): {}",
                planned.outcome, planned.lower_bound_moves, planned.message
            )
        };
        // E* is a lower bound whatever the plan: no sequence of moves beats it.
        if let Verdict::Fewest(fewest) = verdict
            && planned.lower_bound_moves > fewest
        {
            return Err(says("lowerBoundMoves is above the fewest moves"));
        }
        match planned.outcome {
            Outcome::LeftAlone | Outcome::Unplannable => {}
            Outcome::NoAcceptingDomain => {
                if verdict != Verdict::NoAcceptingDomain {
                    return Err(says("no accepting domain"));
                }
            }
            Outcome::Balanced => {
                if verdict != Verdict::Fewest(0) || moves != 0 {
                    return Err(says("balanced as it is"));
                }
            }
            Outcome::Rebalanced => {
                let end = replay(&oracle, world, planned).map_err(|why| says(&why))?;
                if oracle.balanced(&end) != Some(true) {
                    return Err(says("the planned moves do not end within maxSkew"));
                }
                if verdict != Verdict::Fewest(moves) {
                    return Err(says("not the fewest moves"));
                }
            }
            Outcome::Partial | Outcome::Stuck => {
                replay(&oracle, world, planned).map_err(|why| says(&why))?;
                if check == Check::Claims {
                    continue;
                }
                // The planner may give up where its own rules leave no way, never elsewhere.
                let within_rules = Oracle::new(world, group.clone(), Rules::Planner).verdict();
                if let Verdict::Fewest(_) = within_rules {
                    return Err(says(&format!(
                        "the planner gives up where its own rules reach balance ({within_rules:?})"
                    )));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Random small worlds.
// ---------------------------------------------------------------------------------------------

fn health() -> impl Strategy<Value = Health> {
    prop_oneof![
        6 => Just(Health::Up),
        1 => Just(Health::NotReady),
        1 => Just(Health::Cordoned),
        1 => Just(Health::Tainted),
    ]
}

fn guard() -> impl Strategy<Value = Guard> {
    prop_oneof![
        7 => Just(Guard::Free),
        1 => Just(Guard::DoNotMove),
        1 => Just(Guard::TooYoung),
        1 => Just(Guard::Pinned),
    ]
}

fn placing() -> impl Strategy<Value = Placing> {
    (prop::bool::weighted(0.2), prop::bool::weighted(0.4)).prop_map(|(pool_a_only, tolerates)| {
        Placing {
            pool_a_only,
            tolerates,
        }
    })
}

fn constraint(zone: bool) -> impl Strategy<Value = ConstraintSpec> {
    (
        1u32..=2,
        any::<bool>(),
        prop::option::weighted(0.2, 2u32..=4),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            move |(max_skew, do_not_schedule, min_domains, honor_taints, ignore_affinity)| {
                ConstraintSpec {
                    zone,
                    max_skew,
                    do_not_schedule,
                    // minDomains is only valid with DoNotSchedule.
                    min_domains: min_domains.filter(|_| do_not_schedule),
                    honor_taints,
                    ignore_affinity,
                }
            },
        )
}

fn constraints() -> impl Strategy<Value = Vec<ConstraintSpec>> {
    prop_oneof![
        constraint(false).prop_map(|host| vec![host]),
        constraint(true).prop_map(|zone| vec![zone]),
        (constraint(true), constraint(false)).prop_map(|(zone, host)| vec![zone, host]),
    ]
}

fn world() -> impl Strategy<Value = World> {
    let nodes = prop::collection::vec(
        (
            prop::option::weighted(0.9, 0usize..2),
            prop::bool::weighted(0.3),
            health(),
        )
            .prop_map(|(zone, pool_b, health)| NodeSpec {
                zone,
                pool_b,
                health,
            }),
        2..=4,
    );
    (nodes, 1usize..=2, any::<bool>(), constraints()).prop_flat_map(
        |(nodes, workloads, policy_scope, constraints)| {
            let count = nodes.len();
            let per_workload = if workloads == 1 { 10 } else { 5 };
            // Most pods pile up on one node, as after a node went down: spread at random,
            // most clusters would be balanced already.
            let workload = (placing(), 0..count).prop_flat_map(move |(placing, pile)| {
                let on = prop_oneof![2 => Just(pile), 1 => 0..count];
                prop::collection::vec((on, guard()), 0..=per_workload)
                    .prop_map(move |pods| WorkloadSpec { placing, pods })
            });
            (
                Just(nodes),
                prop::collection::vec(workload, workloads),
                Just(constraints),
                Just(policy_scope && workloads == 2),
            )
                .prop_map(|(nodes, workloads, constraints, policy_scope)| World {
                    nodes,
                    workloads,
                    constraints,
                    policy_scope,
                })
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn whenever_the_planner_balances_it_takes_exactly_the_fewest_moves_a_breadth_first_search_finds(
        world in world(),
    ) {
        if let Err(disagreement) = compare(&world, Check::Claims) {
            prop_assert!(false, "{disagreement}\n{world:#?}");
        }
    }

    /// Run with `--ignored` to find more cases like the `known_gap_` tests below.
    #[test]
    #[ignore = "the planner gives up on reachable balance: see the known_gap_ tests"]
    fn the_planner_never_gives_up_where_moves_within_its_own_rules_reach_balance(
        world in world(),
    ) {
        if let Err(disagreement) = compare(&world, Check::Completeness) {
            prop_assert!(false, "{disagreement}\n{world:#?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The oracle on hand-counted cases, so that a wrong oracle cannot pass for a right planner.
// ---------------------------------------------------------------------------------------------

fn up(zone: usize) -> NodeSpec {
    NodeSpec {
        zone: Some(zone),
        pool_b: false,
        health: Health::Up,
    }
}

fn hostname(max_skew: u32) -> ConstraintSpec {
    ConstraintSpec {
        zone: false,
        max_skew,
        do_not_schedule: false,
        min_domains: None,
        honor_taints: false,
        ignore_affinity: false,
    }
}

fn free_pods(placement: &[(usize, usize)]) -> Vec<(usize, Guard)> {
    placement
        .iter()
        .flat_map(|&(node, count)| std::iter::repeat_n((node, Guard::Free), count))
        .collect()
}

fn one_workload(
    nodes: Vec<NodeSpec>,
    pods: Vec<(usize, Guard)>,
    constraints: Vec<ConstraintSpec>,
) -> World {
    World {
        nodes,
        workloads: vec![WorkloadSpec {
            placing: Placing {
                pool_a_only: false,
                tolerates: false,
            },
            pods,
        }],
        constraints,
        policy_scope: false,
    }
}

fn verdict(world: &World) -> Verdict {
    let (_, group) = oracle_groups(world).remove(0);
    Oracle::new(world, group, Rules::Scheduler).verdict()
}

#[test]
fn the_oracle_counts_3_3_0_as_two_moves() {
    let world = one_workload(
        vec![up(0), up(0), up(0)],
        free_pods(&[(0, 3), (1, 3)]),
        vec![hostname(1)],
    );
    assert_eq!(verdict(&world), Verdict::Fewest(2));
}

#[test]
fn the_oracle_does_not_count_an_empty_cordoned_node_as_a_domain_to_fill() {
    let mut nodes = vec![up(0), up(0), up(0)];
    nodes[2].health = Health::Cordoned;
    let world = one_workload(nodes, free_pods(&[(0, 3), (1, 3)]), vec![hostname(1)]);
    assert_eq!(verdict(&world), Verdict::Fewest(0));
}

#[test]
fn the_oracle_finds_no_way_when_every_pod_is_held() {
    let world = one_workload(
        vec![up(0), up(0)],
        vec![
            (0, Guard::DoNotMove),
            (0, Guard::TooYoung),
            (0, Guard::Pinned),
        ],
        vec![hostname(1)],
    );
    assert_eq!(verdict(&world), Verdict::Unreachable);
}

#[test]
fn the_oracle_balances_zones_and_hosts_at_once() {
    // z0: n0 with 4; z1: n1 and n2 empty. Zones within 1 need 2 in z1, hosts within 1 need
    // n0 at most 2 and n1, n2 at least 1: 2 moves, one to each.
    let mut zone = hostname(1);
    zone.zone = true;
    let world = one_workload(
        vec![up(0), up(1), up(1)],
        free_pods(&[(0, 4)]),
        vec![zone, hostname(1)],
    );
    assert_eq!(verdict(&world), Verdict::Fewest(2));
}

#[test]
fn the_oracles_filter_refuses_a_node_that_would_raise_skew_past_max_skew_under_do_not_schedule() {
    // A NotReady empty node keeps the scheduler's global minimum at 0, so with DoNotSchedule
    // and maxSkew 1 no node already holding a pod can take another.
    let mut host = hostname(1);
    host.do_not_schedule = true;
    let mut nodes = vec![up(0), up(0), up(0)];
    nodes[2].health = Health::NotReady;
    let world = one_workload(nodes, free_pods(&[(0, 3)]), vec![host.clone()]);
    // 3/0 on the live nodes: one move gives 2/1, and the filter admits n1 (0 + 1 - 0 <= 1).
    assert_eq!(verdict(&world), Verdict::Fewest(1));
    // 3/1: the filter refuses n1 (1 + 1 - 0 > 1), so nothing can bring it within 1.
    let mut nodes = vec![up(0), up(0), up(0)];
    nodes[2].health = Health::NotReady;
    let world = one_workload(nodes, free_pods(&[(0, 4), (1, 1)]), vec![host]);
    assert_eq!(verdict(&world), Verdict::Unreachable);
}

// ---------------------------------------------------------------------------------------------
// Where the planner gives up although the oracle balances: each pins today's behaviour, so
// that the planner that learns it flips the assertion and moves the case to the property.
// ---------------------------------------------------------------------------------------------

fn zone(max_skew: u32) -> ConstraintSpec {
    ConstraintSpec {
        zone: true,
        ..hostname(max_skew)
    }
}

fn only_group_plan(world: &World) -> GroupPlan {
    let plan = plan(&cluster_of(world));
    assert_eq!(plan.groups.len(), 1, "{:#?}", plan.groups);
    GroupPlan::clone(&plan.groups[0])
}

fn verdict_within(world: &World, rules: Rules) -> Verdict {
    let (_, group) = oracle_groups(world).remove(0);
    Oracle::new(world, group, rules).verdict()
}

#[test]
fn known_gap_the_greedy_order_ends_at_3_3_3_where_4_moves_reach_3_2_4() {
    // Zone a: n0 with 6, n1 with 3; zone b: n2 empty. Zones within 1 need 4 pods in b;
    // hosts within 2 then allow 3/2/4. Three moves from n0 give 3/3/3, after which every
    // move raises the hostname skew (0 to 2, within maxSkew 2), which the planner never does.
    let world = one_workload(
        vec![up(0), up(0), up(1)],
        free_pods(&[(0, 6), (1, 3)]),
        vec![zone(1), hostname(2)],
    );
    assert_eq!(verdict(&world), Verdict::Fewest(4));
    assert_eq!(verdict_within(&world, Rules::Planner), Verdict::Fewest(4));
    let group = only_group_plan(&world);
    assert_eq!(group.outcome, Outcome::Partial, "{group:#?}");
    assert_eq!(group.moves.len(), 3);
}

#[test]
fn known_gap_a_move_that_raises_a_skew_but_stays_within_max_skew_is_never_made() {
    // Zone a: n0 with 1; zone b: n1 with 1 and cordoned n2 with 2. Moving a pod from n2 to
    // n0 gives zones 2/2 and hosts 2/1 (skew 1, within maxSkew 2, up from 0).
    let mut cordoned = up(1);
    cordoned.health = Health::Cordoned;
    let world = one_workload(
        vec![up(0), up(1), cordoned],
        free_pods(&[(0, 1), (1, 1), (2, 2)]),
        vec![zone(1), hostname(2)],
    );
    assert_eq!(verdict(&world), Verdict::Fewest(1));
    assert_eq!(verdict_within(&world, Rules::Planner), Verdict::Unreachable);
    assert_eq!(only_group_plan(&world).outcome, Outcome::Stuck);
}

#[test]
fn known_gap_a_node_without_a_schedule_anyway_constraints_key_is_never_a_destination() {
    // n1 has no zone label: the ScheduleAnyway zone constraint does not count it, but the
    // scheduler may still place pods there, and the DoNotSchedule hostname constraint wants
    // one of n0's two pods on it.
    let no_zone = NodeSpec {
        zone: None,
        ..up(0)
    };
    let mut host = hostname(1);
    host.do_not_schedule = true;
    let world = one_workload(
        vec![up(0), no_zone],
        free_pods(&[(0, 2)]),
        vec![zone(1), host],
    );
    assert_eq!(verdict(&world), Verdict::Fewest(1));
    assert_eq!(verdict_within(&world, Rules::Planner), Verdict::Unreachable);
    assert_eq!(only_group_plan(&world).outcome, Outcome::Stuck);
}

#[test]
fn known_gap_pods_on_a_down_node_are_not_moved_to_fill_an_empty_node_of_their_own_zone() {
    // Zone a: n0 NotReady with 4, n1 empty; zone b: n2 with 4. Hosts within 2 need n1 to
    // hold 2 when n2 keeps 4: two moves from n0 to n1 raise no skew (zones stay 4/4). The
    // planner's bound counts only live domains, so filling n1 from n0 never lowers it, and
    // the one move it would count (n2 to n1) raises the zone skew from 0 to 2.
    let mut down = up(0);
    down.health = Health::NotReady;
    let mut host = hostname(2);
    host.do_not_schedule = true;
    let world = one_workload(
        vec![down, up(0), up(1)],
        free_pods(&[(0, 4), (2, 4)]),
        vec![zone(2), host],
    );
    assert_eq!(verdict(&world), Verdict::Fewest(1));
    assert_eq!(verdict_within(&world, Rules::Planner), Verdict::Fewest(2));
    assert_eq!(only_group_plan(&world).outcome, Outcome::Stuck);
}
