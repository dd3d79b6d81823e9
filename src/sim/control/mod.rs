//! The simulated control plane: kube-scheduler, kube-controller-manager's controllers and the
//! kubelets, on the [`Store`] in-process (no HTTP, no injected faults), deterministic for a seed.
//! It must not read the system time or spin: [`ControlPlane::settle`] says when to run next.
//!
//! - [`cache`]: the typed objects the components read, kept from the store's change feed.
//! - [`admission`]: the DefaultTolerationSeconds admission plugin.
//! - [`scheduler`]: kube-scheduler's default filters and scores on its own code (none of the
//!   planner's), binds, and records `Scheduled` / `FailedScheduling` Events.
//! - [`deployment`], [`replica_set`], [`stateful_set`], [`daemon_set`]: the workload controllers.
//! - [`kubelet`]: every node's kubelet: heartbeats, pod start-up, pod termination.
//! - [`node_lifecycle`]: unreachable nodes, their taints, and taint-based eviction.
//! - [`disruption`]: PodDisruptionBudget status.
//! - [`events`]: Events as the components' recorders write them.
//! - [`garbage`]: dependents of deleted owners, and pods of deleted nodes.
//! - [`volume`]: a local-path (and network) provisioner that binds claims.
//!
//! Left out on purpose: preemption, the scheduler's sampling of nodes in clusters over 100
//! nodes, Services (the system-default spreading selector comes from ReplicaSets and
//! StatefulSets only), proportional scaling of a Deployment resized mid-rollout
//! (the rolling rules converge instead), progressDeadlineSeconds, ControllerRevisions,
//! container restarts and probes (a pod turns Ready once, after its start-up delay),
//! out-of-service taints, and Orphan or Foreground deletion (dependents always go in the
//! background).

pub mod admission;
pub mod cache;
pub mod daemon_set;
pub mod deployment;
pub mod disruption;
pub mod events;
pub mod garbage;
pub mod kubelet;
pub mod node_lifecycle;
pub mod replica_set;
pub mod scheduler;
pub mod stateful_set;
pub(crate) mod status;
pub mod volume;

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use serde_json::Value;

use super::{
    DeleteOptions, Object, Rejection, ResourceId, Store, Subresource, WriteOptions, prng::Prng,
};
pub use cache::Cache;

/// The field manager of the controllers (kube-controller-manager's name).
pub const CONTROLLER_MANAGER: &str = "kube-controller-manager";
/// The field manager of the scheduler.
pub const SCHEDULER: &str = "kube-scheduler";
/// The field manager of kubelets.
pub const KUBELET: &str = "kubelet";
/// A pod annotation that overrides the simulated start-up delay, in whole seconds.
pub const STARTUP_ANNOTATION: &str = "sim.kubespread.io/startup-seconds";

/// How the simulated cluster behaves: start-up delays and kube-controller-manager's timings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Seeds start-up delays and the scheduler's tie-breaks.
    pub seed: u64,
    /// The shortest time from a pod's binding to its Ready condition.
    pub pod_startup_min: Duration,
    /// The longest time from a pod's binding to its Ready condition.
    pub pod_startup_max: Duration,
    /// `--node-monitor-grace-period`: silence after which a node is Unknown.
    pub node_monitor_grace: Duration,
    /// The kubelet's Lease renew interval.
    pub lease_renew: Duration,
    /// `nodeStatusReportFrequency`: how often an unchanged node status is posted.
    pub node_status_report: Duration,
    /// `--node-eviction-rate`: nodes per second a zone's NoExecute taints are added at.
    pub node_eviction_rate: f64,
    /// `--secondary-node-eviction-rate`: the rate in a partially disrupted large zone.
    pub secondary_node_eviction_rate: f64,
    /// `--unhealthy-zone-threshold`: the share of NotReady nodes (at least 3) that makes a
    /// zone partially disrupted.
    pub unhealthy_zone_threshold: f64,
    /// `--large-cluster-size-threshold`: a partially disrupted zone of more nodes than this
    /// keeps evicting at the secondary rate; a smaller one stops.
    pub large_cluster_size_threshold: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            seed: 1,
            pod_startup_min: Duration::from_secs(5),
            pod_startup_max: Duration::from_secs(45),
            node_monitor_grace: Duration::from_secs(40),
            lease_renew: Duration::from_secs(10),
            node_status_report: Duration::from_secs(300),
            node_eviction_rate: 0.1,
            secondary_node_eviction_rate: 0.01,
            unhealthy_zone_threshold: 0.55,
            large_cluster_size_threshold: 50,
        }
    }
}

/// Why the control plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum Start {
    /// The store does not serve a resource type the control plane needs.
    #[error("the store does not serve {0}")]
    MissingResource(&'static str),
}

impl Start {
    /// A fixed label per variant.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::MissingResource(_) => "missing_resource",
        }
    }
}

/// A write of a control-plane component that the store refused.
#[derive(Debug, thiserror::Error)]
pub enum Write {
    /// Creating an object failed.
    #[error("creating {what}: {source}")]
    CreateObject {
        /// `kind namespace/name` (or generateName).
        what: String,
        /// The store's answer.
        source: Rejection,
    },
    /// Changing an object failed.
    #[error("updating {what}: {source}")]
    UpdateObject {
        /// `kind namespace/name`.
        what: String,
        /// The store's answer.
        source: Rejection,
    },
    /// Deleting an object failed.
    #[error("deleting {what}: {source}")]
    DeleteObject {
        /// `kind namespace/name`.
        what: String,
        /// The store's answer.
        source: Rejection,
    },
    /// Binding a pod failed.
    #[error("binding pod {pod} to {node}: {source}")]
    BindPod {
        /// `namespace/name`.
        pod: String,
        /// The node.
        node: String,
        /// The store's answer.
        source: Rejection,
    },
}

impl Write {
    /// A fixed label per variant.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::CreateObject { .. } => "create_object",
            Self::UpdateObject { .. } => "update_object",
            Self::DeleteObject { .. } => "delete_object",
            Self::BindPod { .. } => "bind_pod",
        }
    }

    /// Whether the object was gone or changed under the writer (normal in a busy cluster).
    pub fn is_race(&self) -> bool {
        let source = match self {
            Self::CreateObject { source, .. }
            | Self::UpdateObject { source, .. }
            | Self::DeleteObject { source, .. }
            | Self::BindPod { source, .. } => source,
        };
        matches!(source.code, 404 | 409)
    }
}

/// Logs a refused write; components go on (the next pass retries from fresh state).
pub(crate) fn log_write<T>(result: Result<T, Write>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) if error.is_race() => {
            tracing::debug!(error = %error, reason = error.metric_label(), "Simulated write raced.");
            None
        }
        Err(error) => {
            tracing::warn!(error = %error, reason = error.metric_label(), "Simulated write refused.");
            None
        }
    }
}

/// The earlier of two wake-up times.
pub(crate) fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// `at` plus a duration.
pub(crate) fn after(at: Timestamp, duration: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(duration)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// What every component works with during one pass.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub store: &'a Store,
    pub cache: &'a Cache,
    pub now: Timestamp,
    pub settings: &'a Settings,
}

impl Context<'_> {
    /// `now` as a metav1.Time string.
    pub fn stamp(&self) -> String {
        crate::sim::apiserver::store::timestamp(self.now)
    }

    fn describe(&self, resource: ResourceId, namespace: &str, name: &str) -> String {
        let kind = self
            .store
            .catalog()
            .get(resource)
            .map_or("object", |t| t.kind.as_str());
        if namespace.is_empty() {
            format!("{kind} {name}")
        } else {
            format!("{kind} {namespace}/{name}")
        }
    }

    /// Creates an object.
    pub fn create(
        &self,
        resource: ResourceId,
        namespace: &str,
        object: Value,
        manager: &str,
    ) -> Result<Arc<Object>, Write> {
        let name = object
            .pointer("/metadata/name")
            .or_else(|| object.pointer("/metadata/generateName"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.store
            .create(resource, namespace, object, &WriteOptions::manager(manager))
            .map_err(|source| Write::CreateObject {
                what: self.describe(resource, namespace, &name),
                source,
            })
    }

    /// Reads an object fresh from the store, lets `change` edit it, and writes it back (to
    /// `sub`) if `change` says it changed it. No await lies between the read and the write.
    pub fn modify(
        &self,
        resource: ResourceId,
        namespace: &str,
        name: &str,
        sub: Subresource,
        manager: &str,
        change: impl FnOnce(&mut Value) -> bool,
    ) -> Result<Option<Arc<Object>>, Write> {
        let failed = |source| Write::UpdateObject {
            what: self.describe(resource, namespace, name),
            source,
        };
        let current = self.store.get(resource, namespace, name).map_err(failed)?;
        let mut value = current.value().map_err(failed)?;
        if !change(&mut value) {
            return Ok(None);
        }
        self.store
            .update(
                resource,
                namespace,
                name,
                value,
                sub,
                &WriteOptions::manager(manager),
            )
            .map(Some)
            .map_err(failed)
    }

    /// Deletes an object, only if it still has `uid` (when given).
    pub fn delete(
        &self,
        resource: ResourceId,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
        grace_period_seconds: Option<i64>,
    ) -> Result<(), Write> {
        let options = DeleteOptions {
            grace_period_seconds,
            uid: uid.map(str::to_owned),
            ..DeleteOptions::default()
        };
        self.store
            .delete(resource, namespace, name, &options)
            .map(|_| ())
            .map_err(|source| Write::DeleteObject {
                what: self.describe(resource, namespace, name),
                source,
            })
    }
}

/// When a component last ran: what it had seen, and when it asked to run again.
#[derive(Clone, Copy, Debug, Default)]
struct Gate {
    seen: Option<(u64, u64)>,
    wake: Option<Timestamp>,
}

impl Gate {
    /// Whether the component must run: something it reads changed, or its time came.
    fn due(&self, seen: (u64, u64), now: Timestamp) -> bool {
        self.seen != Some(seen) || self.wake.is_some_and(|wake| wake <= now)
    }
}

/// The whole control plane, run pass by pass.
#[derive(Debug)]
pub struct ControlPlane {
    gates: [Gate; 10],
    store: Store,
    cache: Cache,
    settings: Settings,
    scheduler: scheduler::Scheduler,
    kubelets: kubelet::Kubelets,
    lifecycle: node_lifecycle::NodeLifecycle,
    deployments: deployment::Deployments,
    replica_sets: replica_set::ReplicaSets,
    stateful_sets: stateful_set::StatefulSets,
    daemon_sets: daemon_set::DaemonSets,
    disruption: disruption::Disruption,
    garbage: garbage::Garbage,
    volumes: volume::Provisioner,
}

/// The most rounds one [`ControlPlane::settle`] runs before it gives the clock a turn.
const MAX_ROUNDS: usize = 200;

impl ControlPlane {
    /// A control plane over `store`; installs the DefaultTolerationSeconds admission plugin.
    pub fn new(store: Store, settings: Settings) -> Result<Self, Start> {
        let cache = Cache::new(&store)?;
        store.set_admission(
            cache.ids.pods,
            Arc::new(admission::default_toleration_seconds),
        );
        Ok(Self {
            gates: [Gate::default(); 10],
            scheduler: scheduler::Scheduler::new(settings.seed),
            kubelets: kubelet::Kubelets::default(),
            lifecycle: node_lifecycle::NodeLifecycle::default(),
            deployments: deployment::Deployments,
            replica_sets: replica_set::ReplicaSets,
            stateful_sets: stateful_set::StatefulSets,
            daemon_sets: daemon_set::DaemonSets,
            disruption: disruption::Disruption,
            garbage: garbage::Garbage,
            volumes: volume::Provisioner,
            store,
            cache,
            settings,
        })
    }

    /// What the control plane sees.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Stops a node's kubelet (the node goes silent: power loss, network cut) or starts it
    /// again (the node recovers; its containers start afresh).
    pub fn set_kubelet_running(&mut self, node: &str, running: bool) {
        self.kubelets.set_running(node, running);
        self.gates[0] = Gate::default();
    }

    /// Whether a node's kubelet runs.
    pub fn kubelet_running(&self, node: &str) -> bool {
        self.kubelets.is_running(node)
    }

    /// Runs every component until the store stops changing; returns when the control plane
    /// next needs to run if nothing else changes (a start-up delay, a grace period, ...).
    pub fn settle(&mut self) -> Option<Timestamp> {
        let mut wake = None;
        for _ in 0..MAX_ROUNDS {
            let before = self.store.resource_version();
            wake = self.round();
            if self.store.resource_version() == before {
                return wake;
            }
        }
        tracing::warn!("Simulated control plane did not settle; yielding to the clock.");
        wake
    }

    fn round(&mut self) -> Option<Timestamp> {
        let now = self.store.clock().now();
        // Components that read Leases see their changes; the others only the rest.
        macro_rules! run {
            ($gate:expr, $leases:expr, $component:expr) => {{
                self.cache.sync();
                let seen = (
                    self.cache.generation,
                    if $leases {
                        self.cache.lease_generation
                    } else {
                        0
                    },
                );
                let gate = &mut self.gates[$gate];
                if gate.due(seen, now) {
                    let context = Context {
                        store: &self.store,
                        cache: &self.cache,
                        now,
                        settings: &self.settings,
                    };
                    gate.wake = $component.sync(&context);
                    gate.seen = Some(seen);
                }
            }};
        }
        run!(0, true, self.kubelets);
        run!(1, true, self.lifecycle);
        run!(2, false, self.garbage);
        run!(3, false, self.deployments);
        run!(4, false, self.replica_sets);
        run!(5, false, self.stateful_sets);
        run!(6, false, self.daemon_sets);
        run!(7, false, self.volumes);
        run!(8, false, self.scheduler);
        run!(9, false, self.disruption);
        self.cache.sync();
        self.gates
            .iter()
            .fold(None, |wake, gate| earliest(wake, gate.wake))
    }
}

/// A start-up delay for a pod: the annotation's, or one drawn from the seed and the pod's
/// identity, in whole seconds between the settings' bounds.
pub(crate) fn startup_delay(
    settings: &Settings,
    pod: &k8s_openapi::api::core::v1::Pod,
) -> Duration {
    let meta = &pod.metadata;
    if let Some(seconds) = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(STARTUP_ANNOTATION))
        .and_then(|s| s.parse::<u64>().ok())
    {
        return Duration::from_secs(seconds);
    }
    let identity = format!(
        "{}/{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
        meta.uid.as_deref().unwrap_or_default()
    );
    let mut random = Prng::new(settings.seed ^ fnv64(identity.as_bytes()));
    let low = settings.pod_startup_min.as_secs();
    let high = settings.pod_startup_max.as_secs().max(low);
    let span = high - low + 1;
    Duration::from_secs(low + random.next_u64() % span)
}

/// FNV-1a, 64 bits.
pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
