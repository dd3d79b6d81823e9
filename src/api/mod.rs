//! The SpreadPolicy and ClusterSpreadPolicy API (`kubespread.io/v1alpha1`): the types users write
//! and the status the controller reports. Plain data with serde and schema derives; no client calls live here.

mod cluster_policy;
pub mod conditions;
pub(crate) mod crd;
mod duration;
mod policy;
pub mod reference;
mod status;

pub use crate::sim::apiserver::validation::{
    CrdSchema, Invalid, validate_cluster_policy, validate_policy,
};
pub use cluster_policy::{ClusterSpreadPolicy, ClusterSpreadPolicySpec};
pub use crd::{RenderCrd, cluster_crd, crd, crd_yaml, crd_yaml_of, crds, crds_yaml};
pub use duration::{DURATION_PATTERN, Duration, ParseDuration};
pub use policy::{
    DisruptionWindow, MoveStrategy, NodeInclusionPolicy, Rebalance, RebalanceMode,
    RebalanceTrigger, Rollout, ScaleDown, Scope, SelectorOperator, SelectorRequirement,
    SpreadConstraint, SpreadPolicy, SpreadPolicySpec, WhenUnsatisfiable, WorkloadKind,
    WorkloadSelector,
};
// Defined by the planner, which reads them; one definition for both crates.
pub use kube_spread_planner::labels::{
    EXCLUDE_LABEL, GROUP_LABEL, HOSTNAME_LABEL, NAMESPACE_NAME_LABEL, POD_TEMPLATE_HASH, ZONE_LABEL,
};
pub use status::{
    ConstraintDistribution, DomainPods, DryRunReport, MoveRecord, RebalancePhase, RebalanceStatus,
    SpreadPolicyStatus, WorkloadCounts, WorkloadIssue,
};

/// The field manager every write of ours is made under.
pub const FIELD_MANAGER: &str = "kube-spread";
/// A workload annotated `kubespread.io/ignore: "true"` is left alone.
pub const IGNORE_ANNOTATION: &str = "kubespread.io/ignore";
