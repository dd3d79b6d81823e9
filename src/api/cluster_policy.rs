//! The `ClusterSpreadPolicy` spec: one group of every selected pod across the selected
//! namespaces, so that what it balances per domain is the total (with the hostname key, pods
//! per node). kube-scheduler's PodTopologySpread counts only the incoming pod's namespace, so
//! this group cannot be injected as a constraint: the policy injects nothing, never re-rolls a
//! workload, and steers each replacement instead (see `controller::steer`).

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::{
    Rebalance, Scope, SpreadConstraint, SpreadPolicySpec, SpreadPolicyStatus, WorkloadKind,
    WorkloadSelector,
};

/// Balances the pods of the selected workloads across namespaces as one group: with the
/// hostname key, pods per node.
// clippy reads the repeated `type_ = ...` of separate printer columns as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "kubespread.io",
    version = "v1alpha1",
    kind = "ClusterSpreadPolicy",
    plural = "clusterspreadpolicies",
    singular = "clusterspreadpolicy",
    shortname = "cspol",
    status = "SpreadPolicyStatus",
    derive = "PartialEq",
    doc = "Balances the pods of the selected workloads of every selected namespace as one group.",
    printcolumn(
        name = "Skew",
        type_ = "integer",
        json_path = ".status.skew",
        description = "Largest actionable skew"
    ),
    printcolumn(
        name = "Balanced",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Balanced\")].status",
        description = "Whether the group is within maxSkew"
    ),
    printcolumn(
        name = "Rebalancing",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Rebalancing\")].reason",
        description = "Why pods are or are not being moved (e.g. WaitingForReplacement, OutsideWindow)"
    ),
    printcolumn(
        name = "Workloads",
        type_ = "integer",
        json_path = ".status.workloads.matched",
        description = "Workloads the policy governs"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("size(self.constraints) >= 1")
        .message("constraints must name at least one topology key: a ClusterSpreadPolicy balances its group by its own constraints, never by the pod templates'"),
    validation = Rule::new("self.constraints.all(c, self.constraints.exists_one(d, d.topologyKey == c.topologyKey && d.whenUnsatisfiable == c.whenUnsatisfiable))")
        .message("constraints must not repeat a (topologyKey, whenUnsatisfiable) pair"),
    validation = Rule::new("self.constraints.all(c, !has(c.matchLabelKeys) || size(c.matchLabelKeys) == 0)")
        .message("matchLabelKeys is not supported by a ClusterSpreadPolicy: its group is every selected pod, which no pod label narrows"),
    validation = Rule::new("!has(self.rebalance.skewThreshold) || self.constraints.all(c, self.rebalance.skewThreshold >= c.maxSkew)")
        .message("rebalance.skewThreshold must be at least every constraint's maxSkew; leave it unset to follow maxSkew")
)]
pub struct ClusterSpreadPolicySpec {
    /// Selects the namespaces whose workloads the policy governs, by their labels; empty selects
    /// every namespace (kubernetes.io/metadata.name holds a namespace's name).
    #[serde(default)]
    pub namespace_selector: WorkloadSelector,
    /// Selects, in the selected namespaces, the workloads the policy governs; empty selects all.
    #[serde(default)]
    pub selector: WorkloadSelector,
    /// Workload kinds the policy governs (default both); DaemonSets are never touched.
    #[serde(default = "ClusterSpreadPolicySpec::default_kinds")]
    #[schemars(length(min = 1, max = 2), extend("x-kubernetes-list-type" = "set"))]
    pub kinds: Vec<WorkloadKind>,
    /// How the group's pods must spread; they are counted across namespaces and never injected.
    #[serde(default)]
    #[schemars(
        length(max = 8),
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["topologyKey", "whenUnsatisfiable"])
    )]
    pub constraints: Vec<SpreadConstraint>,
    /// When and how fast pods are moved back.
    #[serde(default)]
    pub rebalance: Rebalance,
}

impl ClusterSpreadPolicySpec {
    fn default_kinds() -> Vec<WorkloadKind> {
        vec![WorkloadKind::Deployment, WorkloadKind::StatefulSet]
    }

    /// The spec as a policy of scope Policy that injects nothing: what rebalancing and the
    /// status read of any policy (its constraints, thresholds and pacing).
    pub fn as_policy_spec(&self) -> SpreadPolicySpec {
        SpreadPolicySpec {
            selector: self.selector.clone(),
            kinds: self.kinds.clone(),
            scope: Scope::Policy,
            constraints: self.constraints.clone(),
            stateful_set_when_unsatisfiable: None,
            rollout: super::Rollout::default(),
            rebalance: self.rebalance.clone(),
            // A group across namespaces spans many ReplicaSets, each ranking only its own pods.
            scale_down: super::ScaleDown::Ignore,
        }
    }
}
