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

/// Declares [`Reason`] from one list, so that its variants, their spelling and [`Reason::ALL`]
/// cannot drift apart.
macro_rules! reasons {
    ($($(#[doc = $doc:literal])* $variant:ident = $text:literal,)*) => {
        /// Why a condition holds or not, in CamelCase as Kubernetes conditions spell reasons.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Reason {
            /// Every reason, in the order they are declared.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The reason spelled `text`, if there is one.
            pub fn parse(text: &str) -> Option<Reason> {
                Self::ALL.iter().copied().find(|reason| reason.as_str() == text)
            }

            /// The reason as a condition or a metric label spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $text,)*
                }
            }
        }
    };
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

reasons! {
    /// The policy was observed and its workloads are handled.
    Observed = "Observed",
    /// The policy cannot be acted on (a field only the controller can judge).
    InvalidPolicy = "InvalidPolicy",
    /// All groups are within maxSkew.
    WithinMaxSkew = "WithinMaxSkew",
    /// A group's actionable skew is above maxSkew.
    Skewed = "Skewed",
    /// Skew is above the threshold but has not lasted the stabilization window.
    StabilizationPending = "StabilizationPending",
    /// Rebalancing is not armed: no node recovered, joined or was uncordoned recently.
    NotArmed = "NotArmed",
    /// A pod was moved; its replacement is not Ready yet.
    WaitingForReplacement = "WaitingForReplacement",
    /// Pausing after a replacement became Ready.
    CoolingDown = "CoolingDown",
    /// Planned moves wait for their workloads' injection or rollout to finish.
    RolloutPending = "RolloutPending",
    /// Moves are needed, but start only inside the policy's disruption windows; none is open.
    OutsideWindow = "OutsideWindow",
    /// Nothing to move.
    Idle = "Idle",
    /// A PodDisruptionBudget allows no disruption now.
    PdbBlocked = "PdbBlocked",
    /// More than one PodDisruptionBudget selects a pod; the API server refuses to evict it.
    MultiplePdbs = "MultiplePDBs",
    /// Another field manager owns a constraint we would inject.
    Conflict = "Conflict",
    /// No domain can take the group's pods now.
    NoAcceptingDomain = "NoAcceptingDomain",
    /// Replacements keep landing where they came from; the scheduler disagrees with the plan.
    SchedulerDisagrees = "SchedulerDisagrees",
    /// A replacement did not become Ready within readyTimeout.
    ReplacementTimeout = "ReplacementTimeout",
    /// The hourly move budget is spent.
    BudgetExhausted = "BudgetExhausted",
    /// The cluster-wide cap on moves in flight is reached (`--max-moves-in-flight`).
    ClusterMovesCapped = "ClusterMovesCapped",
    /// The cap on moves in flight off one node is reached (`--max-moves-in-flight-per-node`).
    NodeMovesCapped = "NodeMovesCapped",
    /// Skew is above maxSkew but no movable pod can lower it.
    NoMovablePod = "NoMovablePod",
    /// The policy is in DryRun: moves are reported, not made.
    DryRun = "DryRun",
    /// Rebalancing is switched off for the policy.
    RebalanceOff = "RebalanceOff",
    /// Nothing keeps the policy from doing its job (the reason of `Degraded=False`).
    AsExpected = "AsExpected",
}
