//! The `SpreadPolicy` status: conditions, workload counts, distribution and the rebalancer's
//! durable state. It holds no per-run timestamps, so writing it never re-triggers work by itself.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::planner::identity::{PodRef, WorkloadRef, optional_workload};

/// What the controller observed and did for a policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpreadPolicyStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Balanced, Rebalancing and Degraded, in the standard condition shape.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The largest actionable skew over the policy's groups and constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew: Option<i32>,
    /// How many workloads the policy matched, injected, left alone or could not patch.
    #[serde(default)]
    pub workloads: WorkloadCounts,
    /// Workloads the controller could not handle as asked, each with a reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workload_issues: Vec<WorkloadIssue>,
    /// Per constraint: the policy's pods per domain and the worst skew among its groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distribution: Vec<ConstraintDistribution>,
    /// The rebalancer's state, kept here so that a restart resumes it.
    #[serde(default)]
    pub rebalance: RebalanceStatus,
}

/// Workload counts of a policy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadCounts {
    /// Workloads selected by the policy.
    pub matched: i32,
    /// Workloads whose pod templates carry the policy's constraints.
    pub injected: i32,
    /// Workloads pinned to one node, left alone.
    pub pinned: i32,
    /// Workloads annotated kubespread.io/ignore, left alone.
    #[serde(default)]
    pub ignored: i32,
    /// Workloads whose constraints another field manager owns.
    pub conflicted: i32,
}

/// A workload the controller could not handle as asked.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIssue {
    /// Kind/name of the workload.
    pub workload: String,
    /// A CamelCase reason such as Conflict, Pinned, Ignored, MultiplePDBs or SchedulerDisagrees.
    pub reason: String,
    /// What happened, for people.
    pub message: String,
}

/// The distribution of a policy's pods for one topology key.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConstraintDistribution {
    /// The constraint's topology key.
    pub topology_key: String,
    /// The worst skew among the policy's groups, over all eligible domains.
    pub skew: i32,
    /// The worst skew among the policy's groups, over domains that can take pods now.
    pub actionable_skew: i32,
    /// The group with the worst actionable skew (Kind/name, or the policy for scope Policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_group: Option<String>,
    /// The policy's pods per domain, fullest first, at most 50.
    #[serde(default)]
    pub domains: Vec<DomainPods>,
    /// Domains not listed because of the limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more_domains: i32,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

/// Pods in one topology domain.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DomainPods {
    /// The domain: the topology label's value.
    pub name: String,
    /// The policy's pods counted in it.
    pub pods: i32,
}

/// Where the rebalancer of a policy stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum RebalancePhase {
    /// Nothing to do, or not armed.
    #[default]
    Idle,
    /// Skew is above the threshold; waiting for it to last the stabilization window.
    Stabilizing,
    /// Moves are being made.
    Moving,
    /// An evicted pod's replacement is not Ready yet.
    WaitingForReplacement,
    /// Pausing after a replacement became Ready.
    CoolingDown,
    /// Moves are needed but blocked (budget, PDB, back-off).
    Blocked,
}

/// The durable state of a policy's rebalancer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RebalanceStatus {
    /// Where the rebalancer stands.
    #[serde(default)]
    pub phase: RebalancePhase,
    /// When the skew first went above the threshold, while it stays there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skewed_since: Option<Time>,
    /// When the last move was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_move_time: Option<Time>,
    /// Moves made in the last hour, as of the last move.
    #[serde(default)]
    pub moves_last_hour: i32,
    /// The times of the moves of the last hour, oldest first; the hourly budget survives restarts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_moves: Vec<Time>,
    /// The moves whose replacement is not Ready yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_flight: Vec<MoveRecord>,
    /// No move before this time: the pause after the last replacement became Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_until: Option<Time>,
    /// In DryRun: moves the Eviction API would allow now, and moves it would refuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<DryRunReport>,
    /// The last move made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_move: Option<MoveRecord>,
    /// Moves made since the policy was created.
    #[serde(default)]
    pub total_moves: i64,
}

/// What a DryRun policy would do now.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRunReport {
    /// Planned moves whose server-side dry-run eviction passed.
    pub would_move: i32,
    /// Planned moves a PodDisruptionBudget would refuse now.
    pub blocked: i32,
}

/// One move of a pod.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoveRecord {
    /// namespace/name of the moved pod.
    #[schemars(with = "String")]
    pub pod: PodRef,
    /// The moved pod's uid (a StatefulSet's replacement has the same name, not the same uid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Evict or Restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Kind/name of the pod's workload.
    #[serde(default, with = "optional_workload")]
    #[schemars(with = "String", extend("default" = ""))]
    pub workload: Option<WorkloadRef>,
    /// The node the pod left.
    pub from: String,
    /// The node the planner expected the replacement on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Nodes the scheduler scores as high as `to` (it picks among equals at random).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tied_with: Vec<String>,
    /// The node the replacement landed on, once it was Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landed: Option<String>,
    /// When the move was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Time>,
}
