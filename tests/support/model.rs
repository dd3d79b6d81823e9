//! Builders for the planner's cluster model, so that tests read as the cluster they describe:
//! `node("n1").zone("a")`, `pod("web-1").on("n1").of(&web)`.

use std::sync::Arc;

use jiff::Timestamp;
use kube_spread::{
    api::{HOSTNAME_LABEL, POD_TEMPLATE_HASH, SpreadPolicySpec, ZONE_LABEL},
    planner::{
        model::{
            Claim, Cluster, ClusterPolicy, HostPort, Labels, Namespace, Node, NodeInclusionPolicy,
            OptOuts, Owner, Pdb, Pod, PodPhase, PodSpreadConstraint, PodVolume, Policy, ReplicaSet,
            Resources, SchedulingSpec, Scope, SpreadConstraint, Taint, TaintEffect, Toleration,
            TolerationOperator, UpdateStrategy, Volume, WhenUnsatisfiable, Workload, WorkloadKind,
            WorkloadStatus,
        },
        selector::{LabelSelector, NodeSelector, NodeSelectorTerm, Requirement},
    },
    snapshot::convert,
};

/// The plan of every policy of `cluster`, made at [`now`].
pub fn plan(cluster: &Cluster) -> kube_spread::planner::Plan {
    kube_spread::planner::plan(
        cluster,
        &kube_spread::planner::PlanOptions {
            now: now(),
            namespace: None,
            policy: None,
            source: kube_spread::planner::Source::Policies,
        },
    )
}

/// The time every test plans at.
pub fn now() -> Timestamp {
    "2025-10-20T12:00:00Z".parse().expect("fixed timestamp")
}

/// An hour before [`now`]: pods started then are old enough to move.
pub fn an_hour_ago() -> Timestamp {
    "2025-10-20T11:00:00Z".parse().expect("fixed timestamp")
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A Ready, schedulable node with 4 CPUs, 16 GiB and 110 pod slots, labelled with its hostname.
pub fn node(name: &str) -> Node {
    Node {
        name: name.to_owned(),
        labels: labels(&[(HOSTNAME_LABEL, name)]),
        taints: Vec::new(),
        unschedulable: false,
        ready: true,
        ready_since: Some(an_hour_ago()),
        created: Some(an_hour_ago()),
        allocatable: Resources {
            cpu_millis: 4000,
            memory_bytes: 16 << 30,
            pods: 110,
        },
        images: Vec::new(),
    }
}

pub trait NodeExt {
    fn zone(self, zone: &str) -> Self;
    fn label(self, key: &str, value: &str) -> Self;
    fn without_label(self, key: &str) -> Self;
    fn not_ready(self) -> Self;
    fn cordoned(self) -> Self;
    fn taint(self, key: &str, effect: TaintEffect) -> Self;
    fn cpu(self, millis: i64) -> Self;
    fn pod_slots(self, pods: i64) -> Self;
}

impl NodeExt for Node {
    fn zone(self, zone: &str) -> Self {
        self.label(ZONE_LABEL, zone)
    }
    fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }
    fn without_label(mut self, key: &str) -> Self {
        self.labels.remove(key);
        self
    }
    fn not_ready(mut self) -> Self {
        self.ready = false;
        self
    }
    fn cordoned(mut self) -> Self {
        self.unschedulable = true;
        self
    }
    fn taint(mut self, key: &str, effect: TaintEffect) -> Self {
        self.taints.push(Taint {
            key: key.to_owned(),
            value: String::new(),
            effect,
        });
        self
    }
    fn cpu(mut self, millis: i64) -> Self {
        self.allocatable.cpu_millis = millis;
        self
    }
    fn pod_slots(mut self, pods: i64) -> Self {
        self.allocatable.pods = pods;
        self
    }
}

/// A Deployment named `name` in namespace `media` selecting `app=<name>`, with one
/// ReplicaSet `<name>-abc` (hash `abc`).
pub fn deployment(name: &str) -> Workload {
    workload(WorkloadKind::Deployment, name)
}

/// A StatefulSet named `name` in namespace `media` selecting `app=<name>`.
pub fn stateful_set(name: &str) -> Workload {
    workload(WorkloadKind::StatefulSet, name)
}

fn workload(kind: WorkloadKind, name: &str) -> Workload {
    let app = labels(&[("app", name)]);
    Workload {
        kind,
        namespace: Arc::from("media"),
        name: name.to_owned(),
        uid: format!("uid-{name}"),
        generation: 1,
        labels: app.clone(),
        ignored: false,
        selector: LabelSelector::from_labels(&app),
        replicas: 1,
        template_labels: app,
        template: Arc::new(SchedulingSpec {
            requests: Resources {
                cpu_millis: 100,
                memory_bytes: 128 << 20,
                pods: 0,
            },
            ..SchedulingSpec::default()
        }),
        strategy: match kind {
            WorkloadKind::Deployment => UpdateStrategy::RollingUpdate {
                max_surge: "25%".to_owned(),
                max_unavailable: "25%".to_owned(),
            },
            WorkloadKind::StatefulSet => UpdateStrategy::StatefulRollingUpdate,
        },
        claim_templates: Vec::new(),
        status: WorkloadStatus::default(),
    }
}

pub trait WorkloadExt {
    fn namespace(self, namespace: &str) -> Self;
    fn replicas(self, replicas: i32) -> Self;
    fn spec(self, edit: impl FnOnce(&mut SchedulingSpec)) -> Self;
    fn ignored(self) -> Self;
    fn label(self, key: &str, value: &str) -> Self;
}

impl WorkloadExt for Workload {
    fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Arc::from(namespace);
        self
    }
    fn replicas(mut self, replicas: i32) -> Self {
        self.replicas = replicas;
        self
    }
    fn spec(mut self, edit: impl FnOnce(&mut SchedulingSpec)) -> Self {
        edit(Arc::make_mut(&mut self.template));
        self
    }
    fn ignored(mut self) -> Self {
        self.ignored = true;
        self
    }
    fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }
}

/// A Running, Ready pod started an hour ago, not yet bound, with no owner.
pub fn pod(name: &str) -> Pod {
    Pod {
        namespace: Arc::from("media"),
        name: name.to_owned(),
        uid: format!("uid-{name}").into(),
        labels: Arc::new(Labels::new()),
        node_name: None,
        owner: None,
        phase: PodPhase::Running,
        ready: true,
        terminating: false,
        created: Some(an_hour_ago()),
        started: Some(an_hour_ago()),
        mirror: false,
        static_pod: false,
        opt_outs: OptOuts::default(),
        deletion_cost: None,
        spec: Arc::new(SchedulingSpec::default()),
    }
}

pub trait PodExt {
    fn on(self, node: &str) -> Self;
    /// Owned by the workload (through its ReplicaSet `<name>-abc` for a Deployment), with its
    /// template's labels and spec.
    fn of(self, workload: &Workload) -> Self;
    fn owned_by(self, kind: &str, name: &str) -> Self;
    fn label(self, key: &str, value: &str) -> Self;
    fn namespace(self, namespace: &str) -> Self;
    fn phase(self, phase: PodPhase) -> Self;
    fn not_ready(self) -> Self;
    fn terminating(self) -> Self;
    fn started(self, at: Timestamp) -> Self;
    fn mirror(self) -> Self;
    /// With the opt-outs its annotations would give it.
    fn opt_outs(self, edit: impl FnOnce(&mut OptOuts)) -> Self;
    fn spec(self, edit: impl FnOnce(&mut SchedulingSpec)) -> Self;
}

impl PodExt for Pod {
    fn on(mut self, node: &str) -> Self {
        self.node_name = Some(Arc::from(node));
        self
    }
    fn of(mut self, workload: &Workload) -> Self {
        let mut pod_labels = workload.template_labels.clone();
        self.namespace = Arc::clone(&workload.namespace);
        self.owner = Some(match workload.kind {
            WorkloadKind::Deployment => {
                pod_labels.insert(POD_TEMPLATE_HASH.to_owned(), "abc".to_owned());
                Owner {
                    kind: "ReplicaSet".into(),
                    name: format!("{}-abc", workload.name).into(),
                    uid: format!("uid-{}-abc", workload.name).into(),
                }
            }
            WorkloadKind::StatefulSet => Owner {
                kind: "StatefulSet".into(),
                name: workload.name.as_str().into(),
                uid: workload.uid.as_str().into(),
            },
        });
        self.labels = Arc::new(pod_labels);
        let mut spec = (*workload.template).clone();
        spec.node_name = None;
        self.spec = Arc::new(spec);
        self
    }
    fn owned_by(mut self, kind: &str, name: &str) -> Self {
        self.owner = Some(Owner {
            kind: kind.into(),
            name: name.into(),
            uid: format!("uid-{name}").into(),
        });
        self
    }
    fn label(mut self, key: &str, value: &str) -> Self {
        Arc::make_mut(&mut self.labels).insert(key.to_owned(), value.to_owned());
        self
    }
    fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Arc::from(namespace);
        self
    }
    fn phase(mut self, phase: PodPhase) -> Self {
        self.phase = phase;
        self
    }
    fn not_ready(mut self) -> Self {
        self.ready = false;
        self
    }
    fn terminating(mut self) -> Self {
        self.terminating = true;
        self
    }
    fn started(mut self, at: Timestamp) -> Self {
        self.started = Some(at);
        self.created = Some(at);
        self
    }
    fn mirror(mut self) -> Self {
        self.mirror = true;
        self
    }
    fn opt_outs(mut self, edit: impl FnOnce(&mut OptOuts)) -> Self {
        edit(&mut self.opt_outs);
        self
    }
    fn spec(mut self, edit: impl FnOnce(&mut SchedulingSpec)) -> Self {
        edit(Arc::make_mut(&mut self.spec));
        self
    }
}

/// The ReplicaSet `<name>-abc` of a Deployment built with [`deployment`].
/// Replaces the workload of `like`'s namespace and name with an edited copy, as the stores
/// replace a workload that changed; nothing when the cluster has none such.
pub fn edit_workload(cluster: &mut Cluster, like: &Workload, edit: impl FnOnce(&mut Workload)) {
    let at = cluster
        .workloads
        .iter()
        .position(|workload| workload.namespace == like.namespace && workload.name == like.name);
    if let Some(at) = at {
        let mut edited = (*cluster.workloads[at]).clone();
        edit(&mut edited);
        cluster.workloads[at] = Arc::new(edited);
    }
}

pub fn replica_set_of(workload: &Workload) -> ReplicaSet {
    ReplicaSet {
        namespace: Arc::clone(&workload.namespace),
        name: format!("{}-abc", workload.name),
        uid: format!("uid-{}-abc", workload.name),
        owner: Some(Owner {
            kind: "Deployment".into(),
            name: workload.name.as_str().into(),
            uid: workload.uid.as_str().into(),
        }),
        template_hash: Some("abc".to_owned()),
        replicas: workload.replicas,
        revision: 1,
    }
}

/// A constraint as a policy writes it.
pub fn spread(key: &str, max_skew: i32, when: WhenUnsatisfiable) -> SpreadConstraint {
    SpreadConstraint {
        max_skew,
        topology_key: key.to_owned(),
        when_unsatisfiable: when,
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: Vec::new(),
    }
}

/// A constraint as a pod carries it, selecting `selector`.
pub fn pod_spread(
    key: &str,
    max_skew: i32,
    when: WhenUnsatisfiable,
    selector: Option<LabelSelector>,
) -> PodSpreadConstraint {
    PodSpreadConstraint {
        max_skew,
        topology_key: key.to_owned(),
        when_unsatisfiable: when,
        label_selector: selector,
        min_domains: None,
        node_affinity_policy: None,
        node_taints_policy: None,
        match_label_keys: Vec::new(),
    }
}

/// Taint inclusion on a pod constraint.
pub fn honor_taints(mut constraint: PodSpreadConstraint) -> PodSpreadConstraint {
    constraint.node_taints_policy = Some(NodeInclusionPolicy::Honor);
    constraint
}

/// A policy in `media` with scope Workload and the given constraints, moving pods 5 minutes old.
pub fn policy(name: &str, constraints: Vec<SpreadConstraint>) -> Policy {
    let defaults: SpreadPolicySpec =
        serde_json::from_value(serde_json::json!({})).expect("an empty spec takes every default");
    let mut spec = convert::policy_spec(&defaults);
    spec.constraints = constraints;
    Policy {
        namespace: Arc::from("media"),
        name: name.to_owned(),
        generation: 1,
        created: Some(an_hour_ago()),
        spec,
    }
}

/// A SpreadPolicy `apps` of `namespace` spreading every workload on hostname and zone
/// (`maxSkew: 1`, ScheduleAnyway), with every other default.
pub fn hostname_and_zone_policy(namespace: &str) -> Policy {
    let mut policy = policy(
        "apps",
        vec![
            spread(HOSTNAME_LABEL, 1, WhenUnsatisfiable::ScheduleAnyway),
            spread(ZONE_LABEL, 1, WhenUnsatisfiable::ScheduleAnyway),
        ],
    );
    policy.namespace = Arc::from(namespace);
    policy
}

/// A ClusterSpreadPolicy over the namespaces `namespace_selector` selects, with every default.
pub fn cluster_policy(
    name: &str,
    namespace_selector: LabelSelector,
    constraints: Vec<SpreadConstraint>,
) -> ClusterPolicy {
    let mut spec = policy(name, constraints).spec;
    spec.scope = Scope::Policy;
    ClusterPolicy {
        name: name.to_owned(),
        generation: 1,
        created: Some(an_hour_ago()),
        namespace_selector,
        spec,
    }
}

/// A Namespace with labels (the API server adds `kubernetes.io/metadata.name`; tests may not).
pub fn namespace(name: &str, pairs: &[(&str, &str)]) -> Namespace {
    Namespace {
        name: Arc::from(name),
        labels: labels(pairs),
    }
}

pub fn policy_scope(mut policy: Policy) -> Policy {
    policy.spec.scope = Scope::Policy;
    policy
}

pub fn pdb(name: &str, selector: Option<LabelSelector>, disruptions_allowed: i32) -> Pdb {
    Pdb {
        namespace: Arc::from("media"),
        name: name.to_owned(),
        selector,
        generation: 1,
        observed_generation: 1,
        disruptions_allowed,
        current_healthy: 1,
        desired_healthy: 1,
    }
}

pub fn app(name: &str) -> LabelSelector {
    LabelSelector::from_labels(&labels(&[("app", name)]))
}

pub fn toleration_for(key: &str) -> Toleration {
    Toleration {
        key: key.to_owned(),
        operator: TolerationOperator::Exists,
        value: String::new(),
        effect: None,
        toleration_seconds: None,
    }
}

pub fn node_affinity(key: &str, values: &[&str]) -> NodeSelector {
    NodeSelector {
        terms: vec![NodeSelectorTerm {
            match_expressions: vec![Requirement::new(
                key,
                kube_spread::planner::selector::Operator::In,
                values.iter().map(|v| (*v).to_owned()).collect(),
            )],
            match_fields: Vec::new(),
        }],
    }
}

pub fn claim(name: &str, volume: &str) -> Claim {
    Claim {
        namespace: Arc::from("media"),
        name: name.to_owned(),
        volume_name: Some(volume.to_owned()),
        access_modes: vec!["ReadWriteOnce".to_owned()],
    }
}

pub fn volume(name: &str, affinity: Option<NodeSelector>, node_local: bool) -> Volume {
    Volume {
        name: name.to_owned(),
        node_affinity: affinity,
        node_local,
        access_modes: vec!["ReadWriteOnce".to_owned()],
    }
}

pub fn host_port(port: i32) -> HostPort {
    HostPort {
        port,
        protocol: "TCP".to_owned(),
        ip: String::new(),
    }
}

pub fn pvc_volume(claim: &str) -> PodVolume {
    PodVolume::Claim(claim.to_owned())
}

pub fn no_schedule() -> TaintEffect {
    TaintEffect::NoSchedule
}

/// A cluster assembled piece by piece.
#[derive(Default)]
pub struct ClusterBuilder {
    pub cluster: Cluster,
}

impl ClusterBuilder {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn node(mut self, node: Node) -> Self {
        self.cluster.nodes.push(node);
        self
    }
    pub fn nodes(mut self, nodes: impl IntoIterator<Item = Node>) -> Self {
        self.cluster.nodes.extend(nodes);
        self
    }
    pub fn pod(mut self, pod: Pod) -> Self {
        self.cluster.pods.push(Arc::new(pod));
        self
    }
    /// The workload (and, for a Deployment, its ReplicaSet) with `count` pods on each node.
    pub fn workload_on(mut self, workload: &Workload, placement: &[(&str, usize)]) -> Self {
        let mut ordinal: usize = 0;
        for (node, count) in placement {
            for _ in 0..*count {
                let name = format!("{}-{ordinal}", workload.name);
                self.cluster
                    .pods
                    .push(Arc::new(pod(&name).of(workload).on(node)));
                ordinal += 1;
            }
        }
        let mut workload = workload.clone();
        workload.replicas = i32::try_from(ordinal).expect("few pods");
        self.workload(workload)
    }
    pub fn workload(mut self, workload: Workload) -> Self {
        if workload.kind == WorkloadKind::Deployment {
            self.cluster.replica_sets.push(replica_set_of(&workload));
        }
        self.cluster.workloads.push(Arc::new(workload));
        self
    }
    pub fn pdb(mut self, pdb: Pdb) -> Self {
        self.cluster.pdbs.push(pdb);
        self
    }
    pub fn claim(mut self, claim: Claim) -> Self {
        self.cluster.claims.push(claim);
        self
    }
    pub fn volume(mut self, volume: Volume) -> Self {
        self.cluster.volumes.push(volume);
        self
    }
    pub fn policy(mut self, policy: Policy) -> Self {
        self.cluster.policies.push(policy);
        self
    }
    pub fn cluster_policy(mut self, policy: ClusterPolicy) -> Self {
        self.cluster.cluster_policies.push(policy);
        self
    }
    pub fn namespace(mut self, namespace: Namespace) -> Self {
        self.cluster.namespaces.push(namespace);
        self
    }
    pub fn build(self) -> Cluster {
        self.cluster
    }
}
