//! Condition types and reasons a SpreadPolicy or ClusterSpreadPolicy reports, named once so that the controller,
//! tests and docs agree on their spelling.

/// The policy is valid and the controller has observed it.
pub const READY: &str = "Ready";
/// Every group of the policy is within maxSkew on the domains that can take pods now.
pub const BALANCED: &str = "Balanced";
/// Pods are being moved, or will be once the stabilization window has passed.
pub const REBALANCING: &str = "Rebalancing";
/// Something keeps the policy from doing its job; the reason says what.
pub const DEGRADED: &str = "Degraded";

/// Reasons, in CamelCase as Kubernetes conditions spell them.
pub mod reason {
    /// The policy was observed and its workloads are handled.
    pub const OBSERVED: &str = "Observed";
    /// The policy cannot be acted on (a field only the controller can judge).
    pub const INVALID: &str = "InvalidPolicy";
    /// All groups are within maxSkew.
    pub const WITHIN_MAX_SKEW: &str = "WithinMaxSkew";
    /// A group's actionable skew is above maxSkew.
    pub const SKEWED: &str = "Skewed";
    /// Skew is above the threshold but has not lasted the stabilization window.
    pub const STABILIZATION_PENDING: &str = "StabilizationPending";
    /// Rebalancing is not armed: no node recovered, joined or was uncordoned recently.
    pub const NOT_ARMED: &str = "NotArmed";
    /// A pod was moved; its replacement is not Ready yet.
    pub const WAITING_FOR_REPLACEMENT: &str = "WaitingForReplacement";
    /// Pausing after a replacement became Ready.
    pub const COOLING_DOWN: &str = "CoolingDown";
    /// Planned moves wait for their workloads' injection or rollout to finish.
    pub const ROLLOUT_PENDING: &str = "RolloutPending";
    /// Moves are needed, but start only inside the policy's disruption windows; none is open.
    pub const OUTSIDE_WINDOW: &str = "OutsideWindow";
    /// Moves are being made.
    pub const MOVING: &str = "Moving";
    /// Nothing to move.
    pub const IDLE: &str = "Idle";
    /// A PodDisruptionBudget allows no disruption now.
    pub const PDB_BLOCKED: &str = "PdbBlocked";
    /// More than one PodDisruptionBudget selects a pod; the API server refuses to evict it.
    pub const MULTIPLE_PDBS: &str = "MultiplePDBs";
    /// Another field manager owns a constraint we would inject.
    pub const CONFLICT: &str = "Conflict";
    /// No domain can take the group's pods now.
    pub const NO_ACCEPTING_DOMAIN: &str = "NoAcceptingDomain";
    /// Replacements keep landing where they came from; the scheduler disagrees with the plan.
    pub const SCHEDULER_DISAGREES: &str = "SchedulerDisagrees";
    /// A replacement did not become Ready within readyTimeout.
    pub const REPLACEMENT_TIMEOUT: &str = "ReplacementTimeout";
    /// The hourly move budget is spent.
    pub const BUDGET_EXHAUSTED: &str = "BudgetExhausted";
    /// The cluster-wide cap on moves in flight is reached (`--max-moves-in-flight`).
    pub const CLUSTER_MOVES_CAPPED: &str = "ClusterMovesCapped";
    /// The cap on moves in flight off one node is reached (`--max-moves-in-flight-per-node`).
    pub const NODE_MOVES_CAPPED: &str = "NodeMovesCapped";
    /// Skew is above maxSkew but no movable pod can lower it.
    pub const NO_MOVABLE_POD: &str = "NoMovablePod";
    /// The policy is in DryRun: moves are reported, not made.
    pub const DRY_RUN: &str = "DryRun";
    /// Rebalancing is switched off for the policy.
    pub const MODE_OFF: &str = "RebalanceOff";
    /// This replica is not the leader; it writes nothing.
    pub const NOT_LEADER: &str = "NotLeader";
}
