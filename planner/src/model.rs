//! The cluster as the planner sees it: nodes, pods, workloads, budgets and volumes, reduced to
//! the fields that decide where pods may run. Plain data; pods of one template share their
//! scheduling spec through an `Arc`, so a pod costs a few hundred bytes.

use std::{
    ops::{Deref, DerefMut},
    sync::Arc,
    time::Duration,
};

use jiff::Timestamp;
use serde::{Serialize, Serializer};

pub use super::labels::Labels;
use super::selector::{LabelSelector, NodeSelector, NodeSelectorTerm};
use super::uid::Uid;

/// CPU in millicores, memory in bytes, and a pod count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
    /// Pods (only meaningful for a node's allocatable).
    pub pods: i64,
}

impl Resources {
    /// The sum of two amounts.
    pub fn plus(self, other: Self) -> Self {
        Self {
            cpu_millis: self.cpu_millis.saturating_add(other.cpu_millis),
            memory_bytes: self.memory_bytes.saturating_add(other.memory_bytes),
            pods: self.pods.saturating_add(other.pods),
        }
    }

    /// The difference of two amounts.
    pub fn minus(self, other: Self) -> Self {
        Self {
            cpu_millis: self.cpu_millis.saturating_sub(other.cpu_millis),
            memory_bytes: self.memory_bytes.saturating_sub(other.memory_bytes),
            pods: self.pods.saturating_sub(other.pods),
        }
    }
}

/// The effect of a node taint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TaintEffect {
    /// New pods that do not tolerate it are not scheduled.
    NoSchedule,
    /// The scheduler avoids the node.
    PreferNoSchedule,
    /// Running pods that do not tolerate it are evicted.
    NoExecute,
}

/// A node taint.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Taint {
    /// The taint's key.
    pub key: String,
    /// The taint's value, empty when unset.
    pub value: String,
    /// The taint's effect.
    pub effect: TaintEffect,
}

/// How a toleration compares values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TolerationOperator {
    /// Key and value must equal (the default).
    Equal,
    /// The key must exist; the value is ignored.
    Exists,
}

/// A pod toleration.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Toleration {
    /// The taint key it tolerates; empty with Exists tolerates every taint.
    pub key: String,
    /// Equal or Exists.
    pub operator: TolerationOperator,
    /// The value for Equal.
    pub value: String,
    /// The effect it tolerates; None tolerates every effect.
    pub effect: Option<TaintEffect>,
    /// For NoExecute: how long the pod stays bound after the taint appears; None is forever.
    pub toleration_seconds: Option<i64>,
}

impl Toleration {
    /// Whether this toleration tolerates the taint, as `v1.Toleration.ToleratesTaint` decides.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|effect| effect != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator {
            TolerationOperator::Exists => true,
            TolerationOperator::Equal => self.value == taint.value,
        }
    }
}

/// A node.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// The node's name.
    pub name: String,
    /// The node's labels; topology domains are their values.
    pub labels: Labels,
    /// The node's taints.
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// Whether the Ready condition is True.
    pub ready: bool,
    /// When the Ready condition last changed.
    pub ready_since: Option<Timestamp>,
    /// When the node object was created.
    pub created: Option<Timestamp>,
    /// What pods may request on it.
    pub allocatable: Resources,
    /// `status.images`: the images the node holds (ImageLocality scores with them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<NodeImage>,
}

/// An image a node holds, under all its names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeImage {
    /// The names it is known by (`repo:tag`, `repo@digest`); shared between nodes, which
    /// mostly hold the same images.
    pub names: Vec<Arc<str>>,
    /// Its size in bytes.
    pub size_bytes: i64,
}

/// A pod's lifecycle phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum PodPhase {
    /// Accepted, not running yet.
    #[default]
    Pending,
    /// Bound and at least one container running.
    Running,
    /// All containers exited successfully.
    Succeeded,
    /// All containers exited, at least one failed.
    Failed,
    /// The state could not be obtained.
    Unknown,
}

impl PodPhase {
    /// Succeeded or Failed: the scheduler does not count such pods.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// A pod topology spread constraint as written in a pod spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpreadConstraint {
    /// The largest allowed skew.
    pub max_skew: i32,
    /// The node label whose values are the domains.
    pub topology_key: String,
    /// DoNotSchedule or ScheduleAnyway.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// The pods counted; None matches nothing.
    pub label_selector: Option<LabelSelector>,
    /// See the Pod API.
    pub min_domains: Option<i32>,
    /// See the Pod API; None means Honor.
    pub node_affinity_policy: Option<NodeInclusionPolicy>,
    /// See the Pod API; None means Ignore.
    pub node_taints_policy: Option<NodeInclusionPolicy>,
    /// Pod label keys whose values narrow the selector.
    pub match_label_keys: Vec<String>,
}

/// A volume of a pod, as far as moving the pod is concerned.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "type", content = "name")]
pub enum PodVolume {
    /// emptyDir: data on the node, lost when the pod moves.
    EmptyDir,
    /// hostPath: data on the node.
    HostPath,
    /// A PersistentVolumeClaim by name.
    Claim(String),
    /// Anything that does not tie the pod to a node (configMap, secret, projected, ...).
    Portable,
}

/// A container port bound on the node.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostPort {
    /// The host port.
    pub port: i32,
    /// TCP, UDP or SCTP.
    pub protocol: String,
    /// The host IP, empty or 0.0.0.0 for all.
    pub ip: String,
}

/// What decides where a pod may run; shared by the pods of one template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingSpec {
    /// `spec.nodeName` of the template (pods always have one once bound; templates rarely).
    pub node_name: Option<String>,
    /// `spec.nodeSelector`.
    pub node_selector: Labels,
    /// `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_affinity: Option<NodeSelector>,
    /// `spec.tolerations`.
    pub tolerations: Vec<Toleration>,
    /// `spec.topologySpreadConstraints`.
    pub spread_constraints: Vec<PodSpreadConstraint>,
    /// The pod's effective requests, as the scheduler computes them.
    pub requests: Resources,
    /// The same with the scheduler's defaults (100m, 200Mi) for containers that request nothing.
    pub nonzero_requests: Resources,
    /// Host ports the pod binds.
    pub host_ports: Vec<HostPort>,
    /// `spec.hostNetwork`.
    pub host_network: bool,
    /// `spec.priorityClassName`.
    pub priority_class: Option<String>,
    /// `spec.priority`.
    pub priority: Option<i32>,
    /// The pod's volumes.
    pub volumes: Vec<PodVolume>,
    /// `spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preferred_affinity: Vec<PreferredNodeTerm>,
    /// `spec.affinity.podAffinity` and `podAntiAffinity`.
    #[serde(skip_serializing_if = "PodAffinity::is_empty")]
    pub pod_affinity: PodAffinity,
    /// The images of the init containers, then of the containers, with `:latest` added to a
    /// name without a tag (ImageLocality's `normalizedImageName`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

/// A preferred node affinity term.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferredNodeTerm {
    /// 1..=100; what a matching node adds to NodeAffinity's score.
    pub weight: i32,
    /// The nodes it prefers.
    pub preference: NodeSelectorTerm,
}

/// A pod affinity or anti-affinity term as written; its namespaces are resolved against the
/// namespace of the pod that carries it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinityTerm {
    /// `labelSelector`; null matches no pod.
    pub label_selector: LabelSelector,
    /// `namespaces`.
    pub namespaces: Vec<String>,
    /// `namespaceSelector`; None when null.
    pub namespace_selector: Option<LabelSelector>,
    /// The node label whose values are the domains.
    pub topology_key: String,
}

/// A preferred pod (anti-)affinity term with its weight.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedPodAffinityTerm {
    /// 1..=100.
    pub weight: i32,
    /// The term.
    pub term: PodAffinityTerm,
}

/// A pod's inter-pod affinity and anti-affinity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinity {
    /// `podAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required: Vec<PodAffinityTerm>,
    /// `podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_anti: Vec<PodAffinityTerm>,
    /// `podAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred: Vec<WeightedPodAffinityTerm>,
    /// `podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_anti: Vec<WeightedPodAffinityTerm>,
}

impl PodAffinity {
    /// Whether there is no term at all.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty()
            && self.required_anti.is_empty()
            && self.preferred.is_empty()
            && self.preferred_anti.is_empty()
    }
}

/// A pod's controlling owner. Its strings are shared: the pods of one ReplicaSet name the same
/// owner, so the controller's stores hold each owner's strings once, not once per pod.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// The owner's kind (ReplicaSet, StatefulSet, DaemonSet, Job, Node, ...).
    pub kind: Arc<str>,
    /// The owner's name.
    pub name: Arc<str>,
    /// The owner's uid.
    pub uid: Arc<str>,
}

/// A pod.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    /// The pod's namespace.
    pub namespace: Arc<str>,
    /// The pod's name.
    pub name: String,
    /// The pod's uid.
    pub uid: Uid,
    /// The pod's labels.
    pub labels: Arc<Labels>,
    /// The node the pod is bound to.
    pub node_name: Option<Arc<str>>,
    /// The controlling owner reference.
    pub owner: Option<Owner>,
    /// `status.phase`.
    pub phase: PodPhase,
    /// Whether the Ready condition is True.
    pub ready: bool,
    /// Whether `metadata.deletionTimestamp` is set.
    pub terminating: bool,
    /// `metadata.creationTimestamp`.
    pub created: Option<Timestamp>,
    /// `status.startTime`.
    pub started: Option<Timestamp>,
    /// A mirror pod (the API copy of a static pod).
    pub mirror: bool,
    /// A static pod (from a file on the node).
    pub static_pod: bool,
    /// What its annotations ask of tools that disrupt pods, read once at conversion so the
    /// planner holds a few bytes instead of the annotations.
    #[serde(skip_serializing_if = "OptOuts::is_empty")]
    pub opt_outs: OptOuts,
    /// `controller.kubernetes.io/pod-deletion-cost` when it holds an integer: where the
    /// ReplicaSet controller ranks the pod on scale-down (lower goes first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_cost: Option<i32>,
    /// What decides where it may run.
    pub spec: Arc<SchedulingSpec>,
}

/// The opt-out annotations the ecosystem already uses, as a pod carries them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptOuts {
    /// `kubespread.io/do-not-move`: ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub do_not_move: Option<OptOut>,
    /// `karpenter.sh/do-not-disrupt`, read as Karpenter reads it on a pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub do_not_disrupt: Option<OptOut>,
    /// `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_safe_to_evict: bool,
}

impl OptOuts {
    /// Whether the pod carries no opt-out at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// How long an opt-out annotation asks a pod to be left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OptOut {
    /// `"true"`: for as long as the annotation stays.
    Always,
    /// A duration: from the pod's start until this many seconds later (rounded up, so a
    /// protection never ends early; longer than a u32 holds means for good).
    ForSeconds(u32),
    /// Neither `"true"`, `"false"` nor a duration. The pod is still left alone: its owner
    /// meant to opt out, and a typo must not cost them the protection.
    Invalid,
}

impl Pod {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// When the pod started running, or was created.
    pub fn age_origin(&self) -> Option<Timestamp> {
        self.started.or(self.created)
    }
}

/// How a workload replaces its pods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum UpdateStrategy {
    /// Deployment RollingUpdate: surge and unavailability as written (int or percent).
    RollingUpdate {
        /// `maxSurge`, e.g. `25%` or `1`.
        max_surge: String,
        /// `maxUnavailable`, e.g. `25%` or `0`.
        max_unavailable: String,
    },
    /// Deployment Recreate.
    Recreate,
    /// StatefulSet RollingUpdate.
    StatefulRollingUpdate,
    /// StatefulSet OnDelete.
    OnDelete,
}

/// A volume claim template of a StatefulSet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimTemplate {
    /// The template's name; claims are `<name>-<statefulset>-<ordinal>`.
    pub name: String,
    /// Its access modes.
    pub access_modes: Vec<String>,
}

/// A Deployment or StatefulSet.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    /// Deployment or StatefulSet.
    pub kind: WorkloadKind,
    /// Its namespace.
    pub namespace: Arc<str>,
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// Its labels (policies select on them).
    pub labels: Labels,
    /// Annotated `kubespread.io/ignore: "true"`.
    pub ignored: bool,
    /// `spec.selector`.
    pub selector: LabelSelector,
    /// `spec.replicas` (default 1).
    pub replicas: i32,
    /// The pod template's labels.
    pub template_labels: Labels,
    /// The pod template's scheduling spec.
    pub template: Arc<SchedulingSpec>,
    /// How it replaces pods.
    pub strategy: UpdateStrategy,
    /// StatefulSet volume claim templates.
    pub claim_templates: Vec<ClaimTemplate>,
    /// What its controller reports.
    pub status: WorkloadStatus,
}

impl Workload {
    /// `Kind/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind.as_str(), self.name)
    }

    /// `namespace/Kind/name`: how a group across namespaces names its workloads.
    pub fn qualified_key(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.kind.as_str(), self.name)
    }

    /// Whether its controller has carried out its latest spec: every replica updated and
    /// available, none left over. Until then its own rollout is replacing pods.
    pub fn rollout_complete(&self) -> bool {
        let status = &self.status;
        status.observed_generation >= self.generation
            && status.updated_replicas >= self.replicas
            && status.available_replicas >= self.replicas
            && status.replicas <= self.replicas
    }
}

/// A workload's reported status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    /// `status.observedGeneration`.
    pub observed_generation: i64,
    /// `status.replicas`.
    pub replicas: i32,
    /// `status.readyReplicas`.
    pub ready_replicas: i32,
    /// `status.availableReplicas` (StatefulSets report it too).
    pub available_replicas: i32,
    /// `status.updatedReplicas`.
    pub updated_replicas: i32,
}

/// A ReplicaSet: the link from a Deployment's pods to the Deployment.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSet {
    /// Its namespace.
    pub namespace: Arc<str>,
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// Its controlling owner (a Deployment), if any.
    pub owner: Option<Owner>,
    /// The `pod-template-hash` label of its template.
    pub template_hash: Option<String>,
    /// `spec.replicas`.
    pub replicas: i32,
    /// The `deployment.kubernetes.io/revision` annotation.
    pub revision: i64,
}

/// A PodDisruptionBudget.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pdb {
    /// Its namespace.
    pub namespace: Arc<str>,
    /// Its name.
    pub name: String,
    /// `spec.selector`; None matches no pod, an empty selector every pod of the namespace.
    pub selector: Option<LabelSelector>,
    /// `metadata.generation`.
    pub generation: i64,
    /// `status.observedGeneration`.
    pub observed_generation: i64,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i32,
    /// `status.currentHealthy`.
    pub current_healthy: i32,
    /// `status.desiredHealthy`.
    pub desired_healthy: i32,
}

impl Pdb {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A PersistentVolumeClaim.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    /// Its namespace.
    pub namespace: Arc<str>,
    /// Its name.
    pub name: String,
    /// The PersistentVolume it is bound to.
    pub volume_name: Option<String>,
    /// Its access modes.
    pub access_modes: Vec<String>,
}

/// A PersistentVolume.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Its name.
    pub name: String,
    /// `spec.nodeAffinity.required`: the nodes that can reach it.
    pub node_affinity: Option<NodeSelector>,
    /// A `local` or `hostPath` volume: its data lives on one node.
    pub node_local: bool,
    /// Its access modes.
    pub access_modes: Vec<String>,
}

/// A workload kind a policy can govern. DaemonSets are never touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    /// Each workload's pods spread on their own.
    #[default]
    Workload,
    /// All pods of all matched workloads count as one group.
    Policy,
}

/// What the scheduler does with a pod when a constraint cannot be met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum NodeInclusionPolicy {
    /// Only nodes that pass the rule are counted.
    Honor,
    /// All nodes are counted.
    Ignore,
}

/// A constraint a policy injects, with the fields of the Pod API; the label selector is derived
/// per workload (or per policy, for scope Policy).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpreadConstraint {
    /// The largest allowed skew.
    pub max_skew: i32,
    /// The node label whose values are the domains.
    pub topology_key: String,
    /// DoNotSchedule or ScheduleAnyway.
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// See the Pod API.
    pub min_domains: Option<i32>,
    /// See the Pod API; None means Honor.
    pub node_affinity_policy: Option<NodeInclusionPolicy>,
    /// See the Pod API; None means Ignore.
    pub node_taints_policy: Option<NodeInclusionPolicy>,
    /// Pod label keys whose values narrow the selector.
    pub match_label_keys: Vec<String>,
}

/// What the planner reads of a SpreadPolicy's (defaulted, validated) spec.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    /// The workloads of the namespace it governs, by their labels.
    pub selector: LabelSelector,
    /// The workload kinds it governs.
    pub kinds: Vec<WorkloadKind>,
    /// Each workload on its own, or all as one group.
    pub scope: Scope,
    /// The constraints it injects; empty plans by the templates' own constraints.
    pub constraints: Vec<SpreadConstraint>,
    /// Overrides whenUnsatisfiable of the injected constraints for StatefulSets.
    pub stateful_set_when_unsatisfiable: Option<WhenUnsatisfiable>,
    /// `rebalance.minPodAge`: younger pods are not moved.
    pub min_pod_age: Duration,
    /// `rebalance.moveStrategy`: whether pods that can be moved by a rollout restart are.
    pub move_strategy: MoveStrategy,
    /// `rebalance.windows`: when moves may start. The planner plans regardless; it carries them
    /// for the callers that say whether the plan's moves may start now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<DisruptionWindow>,
}

/// A disruption window as the policy writes it (read by the controller, not the planner).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DisruptionWindow {
    /// A five-field cron schedule: when the window opens.
    pub schedule: String,
    /// How long it stays open.
    pub duration: Duration,
    /// The IANA time zone the schedule is read in; None, UTC.
    pub time_zone: Option<String>,
}

/// How a policy lets its pods be moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum MoveStrategy {
    /// Always through the Eviction API, within the PodDisruptionBudgets.
    #[default]
    Evict,
    /// By a rollout restart where that never lowers availability, else by eviction.
    Auto,
}

impl PolicySpec {
    /// Whether the policy governs workloads of this kind.
    pub fn governs(&self, kind: WorkloadKind) -> bool {
        self.kinds.contains(&kind)
    }

    /// The constraints a workload of this kind gets, with the StatefulSet override applied.
    pub fn constraints_for(&self, kind: WorkloadKind) -> Vec<SpreadConstraint> {
        let mut chosen: Vec<SpreadConstraint> = Vec::with_capacity(self.constraints.len());
        for constraint in &self.constraints {
            let mut constraint = constraint.clone();
            if let (WorkloadKind::StatefulSet, Some(when)) =
                (kind, self.stateful_set_when_unsatisfiable)
            {
                constraint.when_unsatisfiable = when;
                if when == WhenUnsatisfiable::ScheduleAnyway {
                    constraint.min_domains = None;
                }
            }
            // The override can make two constraints share a list-map key; the first one wins,
            // as the Pod API allows each (topologyKey, whenUnsatisfiable) pair once.
            let duplicate = chosen.iter().any(|kept| {
                kept.topology_key == constraint.topology_key
                    && kept.when_unsatisfiable == constraint.when_unsatisfiable
            });
            if !duplicate {
                chosen.push(constraint);
            }
        }
        chosen
    }
}

/// A SpreadPolicy.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// Its namespace.
    pub namespace: Arc<str>,
    /// Its name.
    pub name: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// `metadata.creationTimestamp`.
    pub created: Option<Timestamp>,
    /// What the planner reads of its spec.
    pub spec: PolicySpec,
}

/// A Namespace, as far as ClusterSpreadPolicies select it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    /// Its name.
    pub name: Arc<str>,
    /// Its labels (the API server keeps `kubernetes.io/metadata.name` equal to the name).
    pub labels: Labels,
}

/// A ClusterSpreadPolicy: one group of every selected pod across the selected namespaces.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPolicy {
    /// Its name.
    pub name: String,
    /// `metadata.generation`.
    pub generation: i64,
    /// `metadata.creationTimestamp`.
    pub created: Option<Timestamp>,
    /// The namespaces whose workloads it governs, by their labels.
    pub namespace_selector: LabelSelector,
    /// What the planner reads of its spec (scope Policy: one group, never injected).
    pub spec: PolicySpec,
}

/// A list of the model that successive pictures of the cluster share while it does not change:
/// a clone copies a pointer, and two clones of one list compare equal without reading it. It
/// reads as a `Vec`; writing through it first copies the list when another picture holds it
/// (copy on write), so no holder ever sees another's change.
#[derive(Debug)]
pub struct Shared<T>(Arc<Vec<T>>);

impl<T> Shared<T> {
    /// Whether both are the same list (not only equal ones).
    pub fn is(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Self(Arc::new(Vec::new()))
    }
}

impl<T> Deref for Shared<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Clone> DerefMut for Shared<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        Arc::make_mut(&mut self.0)
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        self.is(other) || self.0 == other.0
    }
}

impl<T> From<Vec<T>> for Shared<T> {
    fn from(items: Vec<T>) -> Self {
        Self(Arc::new(items))
    }
}

impl<T> FromIterator<T> for Shared<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Self(Arc::new(items.into_iter().collect()))
    }
}

impl<'s, T> IntoIterator for &'s Shared<T> {
    type Item = &'s T;
    type IntoIter = std::slice::Iter<'s, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'s, T: Clone> IntoIterator for &'s mut Shared<T> {
    type Item = &'s mut T;
    type IntoIter = std::slice::IterMut<'s, T>;

    fn into_iter(self) -> Self::IntoIter {
        Arc::make_mut(&mut self.0).iter_mut()
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Everything the planner reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// All nodes.
    pub nodes: Shared<Node>,
    /// All pods.
    pub pods: Vec<Arc<Pod>>,
    /// Deployments and StatefulSets.
    pub workloads: Shared<Arc<Workload>>,
    /// ReplicaSets.
    pub replica_sets: Shared<ReplicaSet>,
    /// PodDisruptionBudgets.
    pub pdbs: Shared<Pdb>,
    /// PersistentVolumeClaims.
    pub claims: Shared<Claim>,
    /// PersistentVolumes.
    pub volumes: Shared<Volume>,
    /// SpreadPolicies.
    pub policies: Shared<Policy>,
    /// Namespaces (a snapshot without them selects by the namespaces' names alone).
    pub namespaces: Shared<Namespace>,
    /// ClusterSpreadPolicies.
    pub cluster_policies: Vec<ClusterPolicy>,
}

#[cfg(test)]
mod tests {
    use super::Shared;

    #[test]
    fn a_shared_list_is_one_list_until_a_holder_writes_and_then_only_that_holder_sees_it() {
        let first: Shared<u32> = vec![1, 2, 3].into();
        let mut second = first.clone();
        assert!(second.is(&first), "a clone is the same list");
        second.push(4);
        assert!(!second.is(&first), "writing copied the list first");
        assert_eq!(*first, [1, 2, 3], "the other holder does not see the write");
        assert_eq!(*second, [1, 2, 3, 4]);
    }

    #[test]
    fn shared_lists_compare_by_content_whether_or_not_they_are_the_same_list() {
        let first: Shared<u32> = vec![1, 2].into();
        let built_again: Shared<u32> = [1, 2].into_iter().collect();
        assert!(!built_again.is(&first));
        assert_eq!(built_again, first);
        assert_ne!(Shared::from(vec![2, 1]), first);
    }

    #[test]
    fn a_list_held_once_is_written_in_place() {
        let mut only: Shared<u32> = vec![1].into();
        let before = only.as_ptr();
        only[0] = 7;
        assert_eq!(only.as_ptr(), before, "no copy when no one else holds it");
        assert_eq!(*only, [7]);
    }
}
