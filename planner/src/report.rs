//! What a plan says, as values: per group its constraints (domains, counts, skew), its moves
//! and its skipped pods with reasons, and a one-line outcome; and a cluster summary. These
//! serialize to the JSON `kube-spread plan -o json` prints.

use std::{
    cmp::Ordering,
    collections::{BTreeSet, HashMap},
    sync::{Arc, OnceLock},
};

use jiff::Timestamp;
use serde::{Serialize, Serializer, ser::SerializeSeq};

use super::{
    budget::BudgetVerdict,
    group::LeftAlone,
    identity::{PodRef, WorkloadRef},
    protection::Protection,
    restart::Method,
    reuse::Reusable,
    selector::LabelSelector,
    topology::DomainSet,
};
use crate::model::{Resources, WhenUnsatisfiable};

/// The plan for a whole cluster.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Every group of every policy (or pod constraint), in namespace and name order.
    pub groups: Vec<Arc<GroupPlan>>,
    /// Totals.
    pub summary: Summary,
    /// What the next plan needs to reuse this one's groups, on a plan of every SpreadPolicy.
    #[serde(skip)]
    pub(crate) reusable: Option<Reusable>,
    /// What the index of this plan's cluster read of each pod, for the next plan's.
    #[serde(skip)]
    pub(crate) memo: Option<Arc<crate::index::Memo>>,
    /// The domain sets its planner built, for the next plan over the same nodes.
    #[serde(skip)]
    pub(crate) domains: Option<Arc<crate::topology::DomainCache>>,
    /// Where each policy's groups are (see `Plan::policies`), read from `groups` the first
    /// time it is asked: a plan's groups are not edited after it is made.
    #[serde(skip)]
    pub(crate) policies: OnceLock<PolicyGroups>,
}

impl Plan {
    /// The policies, as `(namespace, name)` (the empty namespace for a ClusterSpreadPolicy),
    /// whose groups this plan plans differently from `before`, or that only one of the two
    /// plans.
    pub fn replanned_since(&self, before: &Self) -> BTreeSet<(String, String)> {
        let (now, then) = (self.policies(), before.policies());
        let mut sets = SetComparisons::default();
        let mut same = |now: &[usize], then: &[usize]| {
            now.len() == then.len()
                && now.iter().zip(then).all(|(&group, &earlier)| {
                    match (self.groups.get(group), before.groups.get(earlier)) {
                        (Some(group), Some(earlier)) => group.same_as(earlier, &mut sets),
                        _ => false,
                    }
                })
        };
        let mut replanned = BTreeSet::new();
        let mut note = |(namespace, name): &(String, String)| {
            replanned.insert((namespace.clone(), name.clone()));
        };
        // Both lists are in policy order: walked together, a policy whose groups the plan
        // before owns is matched without reading its name.
        let (mut now, mut then) = (now.iter().peekable(), then.iter().peekable());
        loop {
            match (now.peek(), then.peek()) {
                (Some((key, groups)), Some((earlier_key, earlier))) => {
                    let kept = (groups.first().zip(earlier.first()))
                        .and_then(|(&a, &b)| Some((self.groups.get(a)?, before.groups.get(b)?)))
                        .is_some_and(|(a, b)| Arc::ptr_eq(a, b));
                    match if kept {
                        Ordering::Equal
                    } else {
                        key.cmp(earlier_key)
                    } {
                        Ordering::Equal => {
                            if !same(groups, earlier) {
                                note(key);
                            }
                            now.next();
                            then.next();
                        }
                        Ordering::Less => {
                            note(key);
                            now.next();
                        }
                        Ordering::Greater => {
                            note(earlier_key);
                            then.next();
                        }
                    }
                }
                (Some((key, _)), None) => {
                    note(key);
                    now.next();
                }
                (None, Some((earlier_key, _))) => {
                    note(earlier_key);
                    then.next();
                }
                (None, None) => break,
            }
        }
        replanned
    }

    /// The positions of each policy's groups in plan order, by `(namespace, name)`, sorted:
    /// read once per plan.
    fn policies(&self) -> &PolicyGroups {
        self.policies.get_or_init(|| {
            let mut policies: PolicyGroups = Vec::new();
            for (position, group) in self.groups.iter().enumerate() {
                let Some(policy) = group.policy.as_deref() else {
                    continue;
                };
                // A policy's groups are neighbours in plan order.
                match policies.last_mut() {
                    Some(((namespace, name), groups))
                        if **namespace == *group.namespace && name == policy =>
                    {
                        groups.push(position);
                    }
                    _ => policies.push((
                        (group.namespace.to_string(), policy.to_owned()),
                        vec![position],
                    )),
                }
            }
            // Plans made elsewhere (tests) may not keep a policy's groups together.
            policies.sort_by(|a, b| a.0.cmp(&b.0));
            policies.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    earlier.1.append(&mut later.1);
                }
                same
            });
            policies
        })
    }

    /// The groups of one policy: a SpreadPolicy by namespace and name, a ClusterSpreadPolicy
    /// by its name and the empty namespace.
    pub fn groups_of<'p>(
        &'p self,
        namespace: &'p str,
        policy: &'p str,
    ) -> impl Iterator<Item = &'p GroupPlan> + 'p {
        let policies = self.policies();
        let found = policies
            .binary_search_by(|((at, name), _)| {
                (at.as_str(), name.as_str()).cmp(&(namespace, policy))
            })
            .ok()
            .and_then(|at| policies.get(at));
        found
            .into_iter()
            .flat_map(|(_, groups)| groups)
            .filter_map(|&position| self.groups.get(position))
            .map(Arc::as_ref)
    }
}

/// Each policy's `(namespace, name)` and its groups' positions in plan order, sorted.
pub(crate) type PolicyGroups = Vec<((String, String), Vec<usize>)>;

/// Totals over a plan.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Moves over all groups.
    pub moves: usize,
    /// Moves whose budget allows them now.
    pub moves_allowed_now: usize,
    /// Pods per node now and once the plan is carried out.
    pub nodes: Vec<NodePods>,
}

/// Pods on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePods {
    /// The node.
    pub name: String,
    /// Pods on it now (bound, not Succeeded or Failed).
    pub pods: u32,
    /// Pods on it once the plan's moves are made.
    pub pods_after: u32,
    /// Whether it can take pods now (Ready and not cordoned).
    pub schedulable: bool,
}

/// How a group's plan ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// Every constraint is within maxSkew on the domains that can take pods.
    Balanced,
    /// The moves bring every constraint within maxSkew.
    Rebalanced,
    /// The moves lower the skew, but movable pods run out before maxSkew is reached.
    Partial,
    /// Skew is above maxSkew and no move can lower it.
    Stuck,
    /// No domain can take the group's pods now.
    NoAcceptingDomain,
    /// The group's workloads are left alone (pinned, ignored, claimed by another policy).
    LeftAlone,
    /// The group has nothing to spread by.
    Unplannable,
}

/// The plan for one group.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupPlan {
    /// The namespace.
    pub namespace: Arc<str>,
    /// The SpreadPolicy; null in pod-constraints mode.
    pub policy: Option<String>,
    /// `Kind/name` of the workload, `SpreadPolicy/name` for scope Policy, or the constraint.
    pub group: String,
    /// The group's constraints as observed.
    pub constraints: Vec<ConstraintReport>,
    /// The moves, in the order they should be made.
    pub moves: Vec<Move>,
    /// The group's pods that will not be moved, with the reason.
    pub skipped: Vec<Skipped>,
    /// The workloads (`Kind/name`; `namespace/Kind/name` across namespaces) whose pods the
    /// group spreads.
    pub workloads: Vec<WorkloadRef>,
    /// Matched workloads left alone, with the reason.
    pub left_alone: Vec<LeftAloneWorkload>,
    /// The fewest moves any plan needs (the largest `E*` over the constraints).
    pub lower_bound_moves: u32,
    /// For a group across namespaces with moves to make: the live nodes already as full as
    /// the group allows, which kube-spread marks with its drain taint while it moves pods, so
    /// that the scheduler puts replacements on the others. Empty for every other group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steer_away: Vec<String>,
    /// How the plan ends.
    pub outcome: Outcome,
    /// One line for people: why it moves, or why nothing moves.
    pub message: String,
    /// What a new pod of the group requests (the smallest, for a mixed group).
    #[serde(skip)]
    pub(crate) requests: Resources,
    /// The first moment a protection of a skipped pod ends with time (minPodAge reached, an
    /// opt-out for a while over), when one will.
    #[serde(skip)]
    pub(crate) holds_until: Option<Timestamp>,
}

impl GroupPlan {
    /// Whether the group is one of this policy's (the empty namespace for a
    /// ClusterSpreadPolicy's).
    pub fn is_of(&self, namespace: &str, policy: &str) -> bool {
        *self.namespace == *namespace && self.policy.as_deref() == Some(policy)
    }

    /// Whether two plans of a group say the same, down to every domain's count.
    fn same_as(&self, other: &Self, sets: &mut SetComparisons) -> bool {
        // A group kept from the plan before is that plan's own: nothing to read.
        if std::ptr::eq(self, other) {
            return true;
        }
        // Every field is named, so that a field added later cannot be forgotten here.
        let Self {
            namespace,
            policy,
            group,
            constraints,
            moves,
            skipped,
            workloads,
            left_alone,
            lower_bound_moves,
            steer_away,
            outcome,
            message,
            requests,
            holds_until,
        } = self;
        *namespace == other.namespace
            && *policy == other.policy
            && *group == other.group
            && *moves == other.moves
            && *skipped == other.skipped
            && *workloads == other.workloads
            && *left_alone == other.left_alone
            && *lower_bound_moves == other.lower_bound_moves
            && *steer_away == other.steer_away
            && *outcome == other.outcome
            && *message == other.message
            && *requests == other.requests
            && *holds_until == other.holds_until
            && constraints.len() == other.constraints.len()
            && constraints
                .iter()
                .zip(&other.constraints)
                .all(|(constraint, theirs)| constraint.same_as(theirs, sets))
    }

    /// Whether the group counts the pods of this workload, or leaves them alone.
    pub fn holds(&self, workload: &WorkloadRef) -> bool {
        self.workloads.contains(workload)
            || self
                .left_alone
                .iter()
                .any(|alone| alone.workload == *workload)
    }
}

/// A workload a policy matched but leaves alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftAloneWorkload {
    /// `Kind/name` (`namespace/Kind/name` across namespaces).
    pub workload: WorkloadRef,
    /// Pinned, Ignored or ClaimedByOtherPolicy.
    pub reason: LeftAlone,
}

/// One constraint of a group.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConstraintReport {
    /// The topology key.
    pub topology_key: String,
    /// maxSkew.
    pub max_skew: i32,
    /// DoNotSchedule or ScheduleAnyway.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// minDomains, when set above 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_domains: Option<i32>,
    /// The pods counted, as a selector.
    pub selector: SelectorText,
    /// Every eligible domain with its pods and whether it can take the group's pods now.
    pub domains: Domains,
    /// The scheduler's global minimum (0 below minDomains); null without any domain.
    pub global_min: Option<u32>,
    /// The fullest domain minus the global minimum, over all eligible domains.
    pub skew: u32,
    /// The same over the domains that can take pods now (what drives moves).
    pub actionable_skew: u32,
    /// The actionable skew once the plan's moves are made.
    pub actionable_skew_after: u32,
    /// `E*` for this constraint alone; null when no distribution within maxSkew exists.
    pub lower_bound_moves: Option<u32>,
}

impl ConstraintReport {
    fn same_as(&self, other: &Self, sets: &mut SetComparisons) -> bool {
        let Self {
            topology_key,
            max_skew,
            when_unsatisfiable,
            min_domains,
            selector,
            domains,
            global_min,
            skew,
            actionable_skew,
            actionable_skew_after,
            lower_bound_moves,
        } = self;
        *topology_key == other.topology_key
            && *max_skew == other.max_skew
            && *when_unsatisfiable == other.when_unsatisfiable
            && *min_domains == other.min_domains
            && *selector == other.selector
            && *global_min == other.global_min
            && *skew == other.skew
            && *actionable_skew == other.actionable_skew
            && *actionable_skew_after == other.actionable_skew_after
            && *lower_bound_moves == other.lower_bound_moves
            && domains.same_as(&other.domains, sets)
    }
}

/// Domain sets of two plans already compared, by address. A plan's groups share their sets,
/// and a set can hold thousands of domains: each pair is compared once.
#[derive(Debug, Default)]
struct SetComparisons(HashMap<(usize, usize), bool>);

impl SetComparisons {
    fn same(&mut self, set: &Arc<DomainSet>, other: &Arc<DomainSet>) -> bool {
        Arc::ptr_eq(set, other)
            || *self
                .0
                .entry((Arc::as_ptr(set).addr(), Arc::as_ptr(other).addr()))
                .or_insert_with(|| **set == **other)
    }
}

/// A selector, printed as kubectl prints one (`app=web,pod-template-hash=abc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorText(pub LabelSelector);

impl std::fmt::Display for SelectorText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.describe())
    }
}

impl Serialize for SelectorText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Eligible domains with counts; serialized as a list, computed from shared domain data.
#[derive(Clone, Debug)]
pub struct Domains {
    /// The domains.
    pub set: Arc<DomainSet>,
    /// The domains holding pods now, with their pods, in domain order.
    pub pods: Vec<(u32, u32)>,
    /// The same once the plan's moves are made.
    pub pods_after: Vec<(u32, u32)>,
    /// Per domain, whether it can take the group's pods now.
    pub accepting: Arc<Vec<bool>>,
}

/// One domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainReport {
    /// The label value.
    pub name: String,
    /// Pods counted in it.
    pub pods: u32,
    /// Pods counted in it once the plan's moves are made.
    pub pods_after: u32,
    /// Whether it can take the group's pods now.
    pub accepting: bool,
}

impl Domains {
    fn same_as(&self, other: &Self, sets: &mut SetComparisons) -> bool {
        let Self {
            set,
            pods,
            pods_after,
            accepting,
        } = self;
        *pods == other.pods
            && *pods_after == other.pods_after
            && *accepting == other.accepting
            && sets.same(set, &other.set)
    }

    /// The domains, in name order.
    pub fn iter(&self) -> impl Iterator<Item = DomainReport> + '_ {
        let count = |counts: &[(u32, u32)], domain: u32| {
            counts
                .binary_search_by_key(&domain, |(d, _)| *d)
                .map_or(0, |found| counts[found].1)
        };
        self.set.domains().map(move |domain| DomainReport {
            name: self.set.name(domain).to_owned(),
            pods: count(&self.pods, domain),
            pods_after: count(&self.pods_after, domain),
            accepting: self
                .accepting
                .get(domain as usize)
                .copied()
                .unwrap_or(false),
        })
    }
}

impl Serialize for Domains {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.set.len()))?;
        for domain in self.iter() {
            seq.serialize_element(&domain)?;
        }
        seq.end()
    }
}

/// One pod to move.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Move {
    /// `namespace/name`.
    pub pod: PodRef,
    /// The pod's uid (for the eviction's precondition).
    pub uid: String,
    /// `Kind/name` of its workload (`namespace/Kind/name` across namespaces), if any.
    pub workload: Option<WorkloadRef>,
    /// The node it runs on.
    pub from_node: String,
    /// Its domain under the group's first constraint.
    pub from_domain: String,
    /// The node its replacement is expected on.
    pub to_node: String,
    /// That node's domain under the group's first constraint.
    pub to_domain: String,
    /// Other nodes the scheduler scores as high as `to_node` for the replacement (a group
    /// across namespaces, whose replacements land where the scheduler's scores send them):
    /// it picks among equals at random, and each of them helps the group as much.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tied_with: Vec<String>,
    /// How it is moved: evicted, or by a rollout restart of its Deployment.
    pub method: Method,
    /// Whether its PodDisruptionBudget allows the move now (always, for a restart).
    pub pdb_allows: bool,
    /// What the budgets say (NotNeeded for a restart).
    pub budget: BudgetVerdict,
}

/// A group pod that will not be moved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// `namespace/name`.
    pub pod: PodRef,
    /// The protection's name (Pinned, LocalStorage, TooYoung, ...), or why its workload is
    /// left alone.
    pub reason: SkipReason,
    /// The node it runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// Why a group pod is not moved: a protection of its own, or its workload being left alone.
/// Written as the reason's name (Pinned, LocalStorage, Ignored, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The pod is protected.
    Protected(Protection),
    /// The policy leaves the pod's workload alone.
    LeftAlone(LeftAlone),
}

impl SkipReason {
    /// The reason as `plan`, the status and Events spell it.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Protected(protection) => protection.reason(),
            Self::LeftAlone(left_alone) => left_alone.reason(),
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

impl Serialize for SkipReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.reason())
    }
}
