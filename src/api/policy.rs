//! The `SpreadPolicy` spec: which workloads, which constraints, and how rebalancing may act.
//! Every field's doc comment is its `kubectl explain` text; validation lives in the schema.

use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Duration, SpreadPolicyStatus};

/// A label selector: every pair of matchLabels and every requirement of matchExpressions must
/// hold; empty selects everything.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    /// Workloads whose labels contain all of these pairs; empty matches every workload.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements on workload labels, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub match_expressions: Vec<SelectorRequirement>,
}

/// One set-based label requirement, as in a Kubernetes LabelSelector.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.operator in ['In', 'NotIn'] ? size(self.values) > 0 : size(self.values) == 0")
        .message("values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist")
)]
pub struct SelectorRequirement {
    /// The label key the requirement applies to.
    #[schemars(length(min = 1, max = 317))]
    pub key: String,
    /// How the key's value is tested.
    pub operator: SelectorOperator,
    /// The values for In and NotIn; empty for Exists and DoesNotExist.
    #[serde(default)]
    #[schemars(length(max = 64), inner(length(max = 63)))]
    pub values: Vec<String>,
}

/// A label-selector operator.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum SelectorOperator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// A workload kind a policy can govern. DaemonSets are never touched.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
}

impl WorkloadKind {
    /// The kind's name as Kubernetes spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
        }
    }
}

/// What a policy spreads: each workload on its own, or all its workloads as one group.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum Scope {
    /// Each workload's pods spread on their own.
    #[default]
    Workload,
    /// All pods of all matched workloads count as one group (balances node load across many small apps).
    Policy,
}

/// What the scheduler does with a pod when a constraint cannot be met.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum WhenUnsatisfiable {
    /// A hard constraint: the pod stays Pending rather than raise skew above maxSkew.
    DoNotSchedule,
    /// A soft constraint: the scheduler prefers nodes that lower skew.
    ScheduleAnyway,
}

impl WhenUnsatisfiable {
    /// The value as Kubernetes spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DoNotSchedule => "DoNotSchedule",
            Self::ScheduleAnyway => "ScheduleAnyway",
        }
    }
}

/// Whether a node-inclusion rule is honoured when counting domains.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum NodeInclusionPolicy {
    /// Only nodes that pass the rule are counted.
    Honor,
    /// All nodes are counted.
    Ignore,
}

// kube's OptionalEnum transform replaces an optional enum field's description with the enum's
// own; writing these schemas out keeps each field's `kubectl explain` text.
fn optional_inclusion_policy(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "enum": ["Honor", "Ignore"], "nullable": true})
}

fn optional_when_unsatisfiable(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "enum": ["DoNotSchedule", "ScheduleAnyway"], "nullable": true})
}

/// A topology spread constraint, with the fields and defaults of the Pod API; the label selector
/// is derived per workload.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.maxSkew >= 1").message("maxSkew must be at least 1"),
    validation = Rule::new("!has(self.minDomains) || self.whenUnsatisfiable == 'DoNotSchedule'")
        .message("minDomains is only allowed with whenUnsatisfiable: DoNotSchedule")
)]
pub struct SpreadConstraint {
    /// The largest allowed difference between a domain's matching pods and the global minimum.
    #[schemars(range(min = 1, max = 1000))]
    pub max_skew: i32,
    /// The node label whose values are the topology domains, e.g. kubernetes.io/hostname.
    #[schemars(length(min = 1, max = 317))]
    #[x_kube(validation = Rule::new("self.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')")
        .message("topologyKey must be a label key such as kubernetes.io/hostname or topology.kubernetes.io/zone"))]
    pub topology_key: String,
    /// DoNotSchedule (hard) or ScheduleAnyway (soft).
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// With fewer eligible domains than this, the global minimum counts as 0 (DoNotSchedule only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub min_domains: Option<i32>,
    /// Honor (default): only nodes the pod's nodeSelector and required affinity admit are domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_inclusion_policy")]
    pub node_affinity_policy: Option<NodeInclusionPolicy>,
    /// Ignore (default): tainted nodes count; Honor: nodes with untolerated taints are not domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_inclusion_policy")]
    pub node_taints_policy: Option<NodeInclusionPolicy>,
    /// Pod label keys whose values narrow the selector to the incoming pod's own values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 317)), extend("x-kubernetes-list-type" = "set"))]
    pub match_label_keys: Vec<String>,
}

impl SpreadConstraint {
    /// The nodeAffinityPolicy in force (Honor unless set).
    pub fn affinity_policy(&self) -> NodeInclusionPolicy {
        self.node_affinity_policy
            .unwrap_or(NodeInclusionPolicy::Honor)
    }

    /// The nodeTaintsPolicy in force (Ignore unless set).
    pub fn taints_policy(&self) -> NodeInclusionPolicy {
        self.node_taints_policy
            .unwrap_or(NodeInclusionPolicy::Ignore)
    }
}

/// How injecting constraints may re-roll workloads.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// Workloads re-rolling at once because of an injection; the next waits for the last to finish.
    #[serde(default = "Rollout::default_max_concurrent")]
    #[schemars(range(min = 1, max = 100))]
    pub max_concurrent: i32,
}

impl Rollout {
    fn default_max_concurrent() -> i32 {
        1
    }
}

impl Default for Rollout {
    fn default() -> Self {
        Self {
            max_concurrent: Self::default_max_concurrent(),
        }
    }
}

/// Whether rebalancing acts.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum RebalanceMode {
    /// Move pods through the Eviction API.
    #[default]
    Evict,
    /// Evaluate moves with server-side dry-run evictions and report them; change nothing.
    DryRun,
    /// Never move pods; still inject and report.
    Off,
}

/// What arms rebalancing.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum RebalanceTrigger {
    /// A node that became Ready, was uncordoned or joined within recoveryWindow.
    #[default]
    NodeRecovery,
    /// Always armed.
    Continuous,
}

/// How a pod is moved.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum MoveStrategy {
    /// Always through the Eviction API.
    #[default]
    Evict,
    /// Single-replica Deployments that can surge move by a rollout restart and never go down.
    Auto,
}

/// A time when moves may start: from each time the cron schedule fires, for duration.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisruptionWindow {
    /// When the window opens: a cron schedule (minute hour day-of-month month day-of-week).
    #[schemars(length(min = 1, max = 128))]
    pub schedule: String,
    /// How long the window stays open each time (more than 0s, at most 744h).
    #[x_kube(
        validation = Rule::new("duration(self) > duration('0s')").message("duration must be longer than 0s"),
        validation = Rule::new("duration(self) <= duration('744h')").message("duration must be at most 744h")
    )]
    pub duration: Duration,
    /// The IANA time zone the schedule is read in, e.g. Europe/Berlin; unset, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,
}

/// When and how fast pods are moved back.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rebalance {
    /// Evict moves pods, DryRun only reports what it would move, Off never moves.
    #[serde(default)]
    pub mode: RebalanceMode,
    /// NodeRecovery acts only after a node recovers, joins or is uncordoned; Continuous always.
    #[serde(default)]
    pub trigger: RebalanceTrigger,
    /// Act when the actionable skew is above this; unset, the largest maxSkew of the constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub skew_threshold: Option<i32>,
    /// How long the skew must stay above the threshold before the first move (at most 24h).
    #[serde(default = "Rebalance::default_stabilization_window")]
    #[x_kube(validation = Rule::new("duration(self) <= duration('24h')").message("stabilizationWindow must be at most 24h"))]
    pub stabilization_window: Duration,
    /// NodeRecovery: how long a recovery keeps rebalancing armed (more than 0s, at most 168h).
    #[serde(default = "Rebalance::default_recovery_window")]
    #[x_kube(
        validation = Rule::new("duration(self) > duration('0s')").message("recoveryWindow must be longer than 0s"),
        validation = Rule::new("duration(self) <= duration('168h')").message("recoveryWindow must be at most 168h")
    )]
    pub recovery_window: Duration,
    /// Pods in flight at once (evicted, replacement not yet Ready).
    #[serde(default = "Rebalance::default_max_concurrent_moves")]
    #[schemars(range(min = 1, max = 50))]
    pub max_concurrent_moves: i32,
    /// Pause after a replacement is Ready, before the next move (at most 24h).
    #[serde(default = "Rebalance::default_cooldown")]
    #[x_kube(validation = Rule::new("duration(self) <= duration('24h')").message("cooldown must be at most 24h"))]
    pub cooldown: Duration,
    /// How long to wait for a replacement to be Ready before backing off and reporting it.
    #[serde(default = "Rebalance::default_ready_timeout")]
    #[x_kube(
        validation = Rule::new("duration(self) >= duration('1s')").message("readyTimeout must be at least 1s"),
        validation = Rule::new("duration(self) <= duration('24h')").message("readyTimeout must be at most 24h")
    )]
    pub ready_timeout: Duration,
    /// Moves allowed in any sliding hour; use mode Off to stop moving.
    #[serde(default = "Rebalance::default_max_moves_per_hour")]
    #[schemars(range(min = 1, max = 10000))]
    pub max_moves_per_hour: i32,
    /// Pods younger than this are never moved (no ping-pong; at most 168h).
    #[serde(default = "Rebalance::default_min_pod_age")]
    #[x_kube(validation = Rule::new("duration(self) <= duration('168h')").message("minPodAge must be at most 168h"))]
    pub min_pod_age: Duration,
    /// Evict, or Auto: single-replica Deployments that can surge move by a rollout restart.
    #[serde(default)]
    pub move_strategy: MoveStrategy,
    /// Disruption windows: moves start only inside one (a move in flight may finish); none, always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub windows: Vec<DisruptionWindow>,
}

impl Rebalance {
    fn default_stabilization_window() -> Duration {
        Duration::from_secs(300)
    }
    fn default_recovery_window() -> Duration {
        Duration::from_secs(3600)
    }
    fn default_max_concurrent_moves() -> i32 {
        1
    }
    fn default_cooldown() -> Duration {
        Duration::from_secs(30)
    }
    fn default_ready_timeout() -> Duration {
        Duration::from_secs(600)
    }
    fn default_max_moves_per_hour() -> i32 {
        20
    }
    fn default_min_pod_age() -> Duration {
        Duration::from_secs(300)
    }
}

impl Default for Rebalance {
    fn default() -> Self {
        Self {
            mode: RebalanceMode::default(),
            trigger: RebalanceTrigger::default(),
            skew_threshold: None,
            stabilization_window: Self::default_stabilization_window(),
            recovery_window: Self::default_recovery_window(),
            max_concurrent_moves: Self::default_max_concurrent_moves(),
            cooldown: Self::default_cooldown(),
            ready_timeout: Self::default_ready_timeout(),
            max_moves_per_hour: Self::default_max_moves_per_hour(),
            min_pod_age: Self::default_min_pod_age(),
            move_strategy: MoveStrategy::default(),
            windows: Vec::new(),
        }
    }
}

/// What a policy does when a Deployment it governs scales down.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum ScaleDown {
    /// Set controller.kubernetes.io/pod-deletion-cost on the Deployment's pods so the ReplicaSet
    /// controller removes pods from the most crowded domains of every constraint first.
    #[default]
    KeepSpread,
    /// Leave the deletion order to the ReplicaSet controller (pods per node, then age).
    Ignore,
}

/// Keeps the pods of the selected Deployments and StatefulSets evenly spread: injects
/// topologySpreadConstraints and moves pods back after a node recovers.
// clippy reads the repeated `type_ = ...` of separate printer columns as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "kubespread.io",
    version = "v1alpha1",
    kind = "SpreadPolicy",
    plural = "spreadpolicies",
    singular = "spreadpolicy",
    shortname = "spol",
    namespaced,
    status = "SpreadPolicyStatus",
    derive = "PartialEq",
    doc = "Keeps the pods of the selected workloads evenly spread over nodes and zones.",
    printcolumn(
        name = "Scope",
        type_ = "string",
        json_path = ".spec.scope",
        description = "Workload or Policy"
    ),
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
        description = "Whether every group is within maxSkew"
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
    validation = Rule::new("self.constraints.all(c, self.constraints.exists_one(d, d.topologyKey == c.topologyKey && d.whenUnsatisfiable == c.whenUnsatisfiable))")
        .message("constraints must not repeat a (topologyKey, whenUnsatisfiable) pair"),
    validation = Rule::new("self.scope != 'Policy' || self.constraints.all(c, !has(c.matchLabelKeys) || !('pod-template-hash' in c.matchLabelKeys))")
        .message("matchLabelKeys must not contain pod-template-hash with scope Policy: it would split the group per ReplicaSet"),
    validation = Rule::new("!has(self.rebalance.skewThreshold) || self.constraints.all(c, self.rebalance.skewThreshold >= c.maxSkew)")
        .message("rebalance.skewThreshold must be at least every constraint's maxSkew (the scheduler itself allows skew up to maxSkew); leave it unset to follow maxSkew")
)]
pub struct SpreadPolicySpec {
    /// Selects the workloads of this namespace the policy governs; empty selects all.
    #[serde(default)]
    pub selector: WorkloadSelector,
    /// Workload kinds the policy governs (default both); DaemonSets are never touched.
    #[serde(default = "SpreadPolicySpec::default_kinds")]
    #[schemars(length(min = 1, max = 2), extend("x-kubernetes-list-type" = "set"))]
    pub kinds: Vec<WorkloadKind>,
    /// Workload: each workload spreads on its own; Policy: all matched pods spread as one group.
    #[serde(default)]
    pub scope: Scope,
    /// Constraints to inject; empty injects nothing and rebalances by the pod templates' own constraints.
    #[serde(default)]
    #[schemars(
        length(max = 8),
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["topologyKey", "whenUnsatisfiable"])
    )]
    pub constraints: Vec<SpreadConstraint>,
    /// Overrides whenUnsatisfiable of the injected constraints for StatefulSets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_when_unsatisfiable")]
    pub stateful_set_when_unsatisfiable: Option<WhenUnsatisfiable>,
    /// How injecting constraints may re-roll workloads.
    #[serde(default)]
    pub rollout: Rollout,
    /// When and how fast pods are moved back.
    #[serde(default)]
    pub rebalance: Rebalance,
    /// KeepSpread: set Deployment pods' pod-deletion-cost so a scale-down keeps the spread; Ignore: don't.
    #[serde(default)]
    pub scale_down: ScaleDown,
}

impl SpreadPolicySpec {
    fn default_kinds() -> Vec<WorkloadKind> {
        vec![WorkloadKind::Deployment, WorkloadKind::StatefulSet]
    }

    /// The skew above which rebalancing acts: `rebalance.skewThreshold`, or else the largest
    /// maxSkew of the constraints (1 without constraints).
    pub fn skew_threshold(&self) -> i32 {
        self.rebalance.skew_threshold.unwrap_or_else(|| {
            self.constraints
                .iter()
                .map(|constraint| constraint.max_skew)
                .max()
                .unwrap_or(1)
        })
    }
}
