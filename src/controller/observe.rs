//! Observe: one picture of the cluster and one plan for all policies, shared by every reconcile
//! until the stores change (or the picture ages, since pod ages decide protections). Planning
//! all policies together lets their moves account for each other's node load.

use prometheus::IntCounter;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use jiff::Timestamp;
use kube::{Resource, core::DeserializeGuard, runtime::reflector::Store};

use super::stores::Stores;
use crate::{
    api::{ClusterSpreadPolicy, SpreadPolicy},
    clock::Clock,
    planner::{self, PlanOptions, Source, model::Cluster, report::Plan},
    snapshot::convert,
};

/// How long an observation may be reused while nothing changes.
const MAX_AGE: Duration = Duration::from_secs(15);

/// The cluster and the plan, as of one moment.
#[derive(Debug)]
pub struct Observation {
    /// When it was taken.
    pub taken: Timestamp,
    /// The cluster, policies included.
    pub cluster: Cluster,
    /// The plan for every valid policy.
    pub plan: Plan,
    /// Policies that could not be read, by `namespace/name` (`/name` when cluster-scoped),
    /// with the reason.
    pub invalid: HashMap<String, String>,
    /// Nodes seen uncordoned, with when (remembered across observations).
    pub uncordoned: HashMap<String, Timestamp>,
    stores_generation: u64,
    policies_version: Vec<(String, String)>,
}

/// Takes observations, reusing the last one while it is current.
#[derive(Debug)]
pub struct Observer {
    stores: Arc<Stores>,
    policies: Store<DeserializeGuard<SpreadPolicy>>,
    cluster_policies: Store<DeserializeGuard<ClusterSpreadPolicy>>,
    clock: Clock,
    last: Mutex<Option<Arc<Observation>>>,
    /// Counts the observations taken (each one plans the whole cluster).
    plans: IntCounter,
    /// Which nodes were cordoned at the last observation, and uncordon times seen.
    cordons: Mutex<(HashMap<String, bool>, HashMap<String, Timestamp>)>,
}

impl Observer {
    /// An observer over the watches' stores and the controllers' policy stores.
    pub fn new(
        stores: Arc<Stores>,
        policies: Store<DeserializeGuard<SpreadPolicy>>,
        cluster_policies: Store<DeserializeGuard<ClusterSpreadPolicy>>,
        clock: Clock,
        plans: IntCounter,
    ) -> Self {
        Self {
            stores,
            policies,
            cluster_policies,
            clock,
            plans,
            last: Mutex::new(None),
            cordons: Mutex::new((HashMap::new(), HashMap::new())),
        }
    }

    /// The stores behind it.
    pub fn stores(&self) -> &Arc<Stores> {
        &self.stores
    }

    /// Whether the stores have listed everything once. (kube-runtime reconciles a policy only
    /// once the policy store has listed every policy, and since each policy is decoded on its
    /// own, that list cannot fail on one policy.)
    pub fn synced(&self) -> bool {
        self.stores.synced()
    }

    fn policies_version(&self) -> Vec<(String, String)> {
        let version_of = |meta: &kube::core::ObjectMeta| {
            (
                policy_key(meta),
                meta.resource_version.clone().unwrap_or_default(),
            )
        };
        let mut version: Vec<(String, String)> = self
            .policies
            .state()
            .iter()
            .map(|policy| version_of(policy.meta()))
            .chain(
                self.cluster_policies
                    .state()
                    .iter()
                    .map(|policy| version_of(policy.meta())),
            )
            .collect();
        version.sort();
        version
    }

    /// The current observation: the last one if nothing changed since and it is recent,
    /// otherwise a new one.
    pub fn observe(&self) -> Arc<Observation> {
        let now = super::whole_seconds(self.clock.now());
        let generation = self.stores.generation();
        let policies_version = self.policies_version();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(observation) = last.as_ref() {
            let fresh = Duration::try_from(now.duration_since(observation.taken))
                .is_ok_and(|age| age < MAX_AGE);
            if fresh
                && observation.stores_generation == generation
                && observation.policies_version == policies_version
            {
                return Arc::clone(observation);
            }
        }
        let observation = Arc::new(self.take(now, generation, policies_version));
        self.plans.inc();
        *last = Some(Arc::clone(&observation));
        observation
    }

    fn take(
        &self,
        now: Timestamp,
        generation: u64,
        policies_version: Vec<(String, String)>,
    ) -> Observation {
        let mut cluster = self.stores.cluster();
        // A node whose kubelet stopped renewing its Lease still reads Ready for up to 40 s;
        // it is no destination meanwhile.
        let leases = self.stores.node_leases();
        for node in &mut cluster.nodes {
            if node.ready
                && leases
                    .get(&node.name)
                    .is_some_and(|lease| lease.is_stale(now))
            {
                tracing::debug!(node = %node.name, "The node's Lease is stale; it takes no pods.");
                node.ready = false;
            }
        }
        let mut invalid = HashMap::new();
        // Each policy is read on its own: one that cannot be read is reported, never a reason
        // to stop planning the others.
        for guarded in self.policies.state() {
            let key = policy_key(guarded.meta());
            let read = match &guarded.0 {
                Ok(policy) => convert::policy(policy).map_err(|error| error.to_string()),
                Err(unreadable) => Err(unreadable.error.clone()),
            };
            match read {
                Ok(model) => cluster.policies.push(model),
                Err(error) => {
                    invalid.insert(key, error);
                }
            }
        }
        for guarded in self.cluster_policies.state() {
            let key = policy_key(guarded.meta());
            let read = match &guarded.0 {
                Ok(policy) => convert::cluster_policy(policy).map_err(|error| error.to_string()),
                Err(unreadable) => Err(unreadable.error.clone()),
            };
            match read {
                Ok(model) => cluster.cluster_policies.push(model),
                Err(error) => {
                    invalid.insert(key, error);
                }
            }
        }
        cluster
            .policies
            .sort_by(|a, b| (&*a.namespace, &a.name).cmp(&(&*b.namespace, &b.name)));
        cluster.cluster_policies.sort_by(|a, b| a.name.cmp(&b.name));
        let uncordoned = self.note_cordons(&cluster, now);
        let plan = planner::plan(
            &cluster,
            &PlanOptions {
                now,
                namespace: None,
                policy: None,
                source: Source::Policies,
            },
        );
        Observation {
            taken: now,
            cluster,
            plan,
            invalid,
            uncordoned,
            stores_generation: generation,
            policies_version,
        }
    }

    /// Remembers when nodes were seen going from cordoned to schedulable (the API keeps no
    /// record of it); a restart forgets, which only disarms a NodeRecovery trigger early.
    fn note_cordons(&self, cluster: &Cluster, now: Timestamp) -> HashMap<String, Timestamp> {
        let mut cordons = self.cordons.lock().unwrap_or_else(PoisonError::into_inner);
        let (cordoned, uncordoned) = &mut *cordons;
        for node in &cluster.nodes {
            let was = cordoned.insert(node.name.clone(), node.unschedulable);
            if was == Some(true) && !node.unschedulable {
                uncordoned.insert(node.name.clone(), now);
            }
        }
        uncordoned.retain(|name, _| cluster.nodes.iter().any(|node| &node.name == name));
        uncordoned.clone()
    }
}

/// `namespace/name` of a policy (`/name` for a ClusterSpreadPolicy).
pub fn policy_key(meta: &kube::core::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}
