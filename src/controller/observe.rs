//! Observe: one picture of the cluster and one plan for all policies, shared by every reconcile
//! until the next burst of changes is gathered (or a policy changes, or the picture ages, since
//! pod ages decide protections). Planning all policies together lets their moves account for
//! each other's node load.
//!
//! Each burst of changes is observed once, by [`Observer::refresh`], which also tells which
//! policies the burst concerns: those of the namespaces it touched, and those whose plan it
//! changed. Only they are reconciled for it.
//!
//! Each observation plans again only the namespaces whose objects changed since the one
//! before (`planner::plan_after`); the others keep their groups' plans when the planner can
//! show those still hold.

use prometheus::IntCounter;
use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use jiff::Timestamp;
use kube::{Resource, core::DeserializeGuard, runtime::reflector::Store};

use super::stores::{Stores, Touched};
use crate::{
    api::{ClusterSpreadPolicy, SpreadPolicy},
    clock::Clock,
    planner::{
        self, PlanOptions, Previous, Source,
        model::{self, Cluster},
        report::Plan,
    },
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
    policies_version: Vec<PolicyVersion>,
}

impl Observation {
    /// The policies (by `namespace/name`, `/name` when cluster-scoped) whose groups are
    /// planned differently here than in `before`, or are planned in only one of the two.
    pub fn replanned_since(&self, before: &Self) -> BTreeSet<String> {
        self.plan
            .replanned_since(&before.plan)
            .into_iter()
            .map(|(namespace, name)| format!("{namespace}/{name}"))
            .collect()
    }
}

/// Which policies a burst of changes concerns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Affected {
    /// Where the changes were.
    pub touched: Touched,
    /// Policies whose plan changed, by `namespace/name` (`/name` when cluster-scoped): a
    /// change in one namespace can move another's plan through the nodes they share.
    pub replanned: BTreeSet<String>,
}

impl Affected {
    /// A burst that concerns every policy.
    pub fn everything() -> Self {
        Self {
            touched: Touched {
                everywhere: true,
                namespaces: BTreeSet::new(),
            },
            replanned: BTreeSet::new(),
        }
    }

    /// Whether a policy is concerned. A policy across namespaces always is: the burst changed
    /// something, and it may read any namespace.
    pub fn concerns(&self, across_namespaces: bool, namespace: &str, name: &str) -> bool {
        across_namespaces
            || self.touched.everywhere
            || self.touched.namespaces.contains(namespace)
            || self.replanned.contains(&format!("{namespace}/{name}"))
    }
}

/// A policy's identity and the version of its spec: a status write changes neither, so it
/// does not make the observation out of date. (The namespace is empty for a
/// ClusterSpreadPolicy.)
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PolicyVersion {
    namespace: String,
    name: String,
    uid: String,
    generation: i64,
}

impl PolicyVersion {
    fn of(meta: &kube::core::ObjectMeta) -> Self {
        VersionOf::of(meta).owned()
    }

    fn borrowed(&self) -> VersionOf<'_> {
        VersionOf {
            namespace: &self.namespace,
            name: &self.name,
            uid: &self.uid,
            generation: self.generation,
        }
    }

    /// `namespace/name` (`/name` when cluster-scoped).
    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A [`PolicyVersion`] read in place, so that every reconcile can check that no policy's spec
/// changed without copying a thousand names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct VersionOf<'m> {
    namespace: &'m str,
    name: &'m str,
    uid: &'m str,
    generation: i64,
}

impl<'m> VersionOf<'m> {
    fn of(meta: &'m kube::core::ObjectMeta) -> Self {
        Self {
            namespace: meta.namespace.as_deref().unwrap_or_default(),
            name: meta.name.as_deref().unwrap_or_default(),
            uid: meta.uid.as_deref().unwrap_or_default(),
            generation: meta.generation.unwrap_or_default(),
        }
    }

    fn owned(self) -> PolicyVersion {
        PolicyVersion {
            namespace: self.namespace.to_owned(),
            name: self.name.to_owned(),
            uid: self.uid.to_owned(),
            generation: self.generation,
        }
    }
}

/// A policy's model, or why it cannot be read, kept until the policy's spec changes: reading
/// a policy evaluates its validation rules, which is too costly to repeat on every change of
/// the cluster.
#[derive(Debug, Default)]
struct Readings {
    namespaced: HashMap<String, (PolicyVersion, Result<model::Policy, String>)>,
    cluster: HashMap<String, (PolicyVersion, Result<model::ClusterPolicy, String>)>,
}

/// The reading of the policy `key` at `version`, from `cache` when it was read at that version.
fn read_once<T: Clone>(
    cache: &mut HashMap<String, (PolicyVersion, Result<T, String>)>,
    key: &str,
    version: PolicyVersion,
    read: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    match cache.get(key) {
        Some((cached, reading)) if *cached == version => reading.clone(),
        _ => {
            let reading = read();
            cache.insert(key.to_owned(), (version, reading.clone()));
            reading
        }
    }
}

/// The policies as one read of the policy stores found them.
struct Specs<'s> {
    policies: &'s [Arc<DeserializeGuard<SpreadPolicy>>],
    cluster_policies: &'s [Arc<DeserializeGuard<ClusterSpreadPolicy>>],
    /// Their versions, in order.
    versions: Vec<PolicyVersion>,
    /// Whether the versions are those the last observation read: its readings hold.
    unchanged: bool,
}

/// Which last observation may be reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Freshness {
    /// One younger than [`MAX_AGE`] taken since the last change of a policy's spec.
    Recent,
    /// Such a one, taken of the stores as they are now.
    OfTheStores,
}

/// Takes observations, reusing the last one while it is current.
#[derive(Debug)]
pub struct Observer {
    stores: Arc<Stores>,
    policies: Store<DeserializeGuard<SpreadPolicy>>,
    cluster_policies: Store<DeserializeGuard<ClusterSpreadPolicy>>,
    clock: Clock,
    last: Mutex<Option<Arc<Observation>>>,
    /// Counts the observations taken (each one plans the namespaces that changed since the
    /// last, or the whole cluster when what changed is read everywhere).
    plans: IntCounter,
    /// Which nodes were cordoned at the last observation, and uncordon times seen.
    cordons: Mutex<(HashMap<String, bool>, HashMap<String, Timestamp>)>,
    readings: Mutex<Readings>,
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
            readings: Mutex::new(Readings::default()),
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

    /// The observation for a reconcile: the last one while it is recent and no policy's spec
    /// changed since, otherwise a new one. Changes of the cluster since the last one are not
    /// waited for: the burst they belong to is observed by [`Observer::refresh`], which then
    /// asks for the reconciles it concerns.
    pub fn observe(&self) -> Arc<Observation> {
        self.observation(Freshness::Recent)
    }

    /// Observes a burst of changes once it is gathered: a new observation if the stores
    /// changed since the last one, and which policies the burst concerns, given the
    /// observation the previous burst was judged on (None: every policy is concerned).
    pub fn refresh(&self, previous: Option<&Observation>) -> (Arc<Observation>, Affected) {
        let touched = self.stores.take_touched();
        let observation = self.observation(Freshness::OfTheStores);
        let affected = match previous {
            Some(previous) => Affected {
                touched,
                replanned: observation.replanned_since(previous),
            },
            None => Affected::everything(),
        };
        (observation, affected)
    }

    fn observation(&self, freshness: Freshness) -> Arc<Observation> {
        let now = super::whole_seconds(self.clock.now());
        let generation = self.stores.generation();
        let (policies, cluster_policies) = (self.policies.state(), self.cluster_policies.state());
        let mut versions: Vec<VersionOf<'_>> = (policies.iter().map(|policy| policy.meta()))
            .chain(cluster_policies.iter().map(|policy| policy.meta()))
            .map(VersionOf::of)
            .collect();
        versions.sort_unstable();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let same_specs = last.as_ref().is_some_and(|observation| {
            (observation.policies_version.iter())
                .map(PolicyVersion::borrowed)
                .eq(versions.iter().copied())
        });
        if let Some(observation) = last.as_ref() {
            let fresh = Duration::try_from(now.duration_since(observation.taken))
                .is_ok_and(|age| age < MAX_AGE);
            if fresh
                && (freshness == Freshness::Recent || observation.stores_generation == generation)
                && same_specs
            {
                return Arc::clone(observation);
            }
        }
        let specs = Specs {
            policies: &policies,
            cluster_policies: &cluster_policies,
            versions: versions.into_iter().map(VersionOf::owned).collect(),
            unchanged: same_specs,
        };
        let observation = Arc::new(self.take(now, generation, specs, last.as_deref()));
        self.plans.inc();
        *last = Some(Arc::clone(&observation));
        observation
    }

    /// A new observation of the policies as `observation` read them (so that the versions it
    /// records are those of the policies it reads); the groups of the namespaces where nothing
    /// changed since `previous` keep its plans (the planner decides which can).
    fn take(
        &self,
        now: Timestamp,
        generation: u64,
        specs: Specs<'_>,
        previous: Option<&Observation>,
    ) -> Observation {
        let Specs {
            policies,
            cluster_policies,
            versions: policies_version,
            unchanged: same_specs,
        } = specs;
        let mut cluster = self.stores.cluster();
        // A node whose kubelet stopped renewing its Lease still reads Ready for up to 40 s;
        // it is no destination meanwhile.
        // (The nodes are shared with the last picture until one of them changes: only a stale
        // Lease makes this one copy them.)
        let stale = self.stores.stale_leases(now);
        let silent: Vec<usize> = (cluster.nodes.iter().enumerate())
            .filter(|(_, node)| node.ready && stale.contains(&node.name))
            .map(|(at, _)| at)
            .collect();
        for at in silent {
            if let Some(node) = cluster.nodes.get_mut(at) {
                tracing::debug!(node = %node.name, "The node's Lease is stale; it takes no pods.");
                node.ready = false;
            }
        }
        // The policies as the last observation read them, while none changed since.
        let invalid = match previous.filter(|_| same_specs) {
            Some(previous) => {
                cluster.policies = previous.cluster.policies.clone();
                cluster.cluster_policies = previous.cluster.cluster_policies.clone();
                previous.invalid.clone()
            }
            None => self.read_policies(&mut cluster, policies, cluster_policies),
        };
        let uncordoned = self.note_cordons(&cluster, now);
        let plan = planner::plan_after(
            &cluster,
            &PlanOptions {
                now,
                namespace: None,
                policy: None,
                source: Source::Policies,
            },
            previous.map(|previous| Previous {
                cluster: &previous.cluster,
                plan: &previous.plan,
            }),
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

    /// Reads every policy into `cluster` (each once per version, see [`read_once`]), and says
    /// which cannot be read, by `namespace/name` (`/name` when cluster-scoped), with why.
    fn read_policies(
        &self,
        cluster: &mut Cluster,
        policies: &[Arc<DeserializeGuard<SpreadPolicy>>],
        cluster_policies: &[Arc<DeserializeGuard<ClusterSpreadPolicy>>],
    ) -> HashMap<String, String> {
        let mut invalid = HashMap::new();
        let mut readings = self.readings.lock().unwrap_or_else(PoisonError::into_inner);
        let readings = &mut *readings;
        let mut namespaced = Vec::with_capacity(policies.len());
        // Each policy is read on its own: one that cannot be read is reported, never a reason
        // to stop planning the others.
        for guarded in policies {
            let version = PolicyVersion::of(guarded.meta());
            let key = version.key();
            let read = read_once(&mut readings.namespaced, &key, version, || {
                match &guarded.0 {
                    Ok(policy) => convert::policy(policy).map_err(|error| error.to_string()),
                    Err(unreadable) => Err(unreadable.error.clone()),
                }
            });
            match read {
                Ok(model) => namespaced.push(model),
                Err(error) => {
                    invalid.insert(key, error);
                }
            }
        }
        let mut across = Vec::with_capacity(cluster_policies.len());
        for guarded in cluster_policies {
            let version = PolicyVersion::of(guarded.meta());
            let key = version.key();
            let read = read_once(&mut readings.cluster, &key, version, || match &guarded.0 {
                Ok(policy) => convert::cluster_policy(policy).map_err(|error| error.to_string()),
                Err(unreadable) => Err(unreadable.error.clone()),
            });
            match read {
                Ok(model) => across.push(model),
                Err(error) => {
                    invalid.insert(key, error);
                }
            }
        }
        // Policies that are gone are forgotten.
        let (kept, kept_across) = (keys(policies), keys(cluster_policies));
        readings.namespaced.retain(|key, _| kept.contains(key));
        readings.cluster.retain(|key, _| kept_across.contains(key));
        namespaced.sort_by(|a, b| (&*a.namespace, &a.name).cmp(&(&*b.namespace, &b.name)));
        across.sort_by(|a, b| a.name.cmp(&b.name));
        cluster.policies = namespaced.into();
        cluster.cluster_policies = across;
        invalid
    }

    /// Remembers when nodes were seen going from cordoned to schedulable (the API keeps no
    /// record of it); a restart forgets, which only disarms a NodeRecovery trigger early.
    fn note_cordons(&self, cluster: &Cluster, now: Timestamp) -> HashMap<String, Timestamp> {
        let mut cordons = self.cordons.lock().unwrap_or_else(PoisonError::into_inner);
        let (cordoned, uncordoned) = &mut *cordons;
        for node in &cluster.nodes {
            let was = match cordoned.get_mut(&node.name) {
                Some(was) => Some(std::mem::replace(was, node.unschedulable)),
                None => cordoned.insert(node.name.clone(), node.unschedulable),
            };
            if was == Some(true) && !node.unschedulable {
                uncordoned.insert(node.name.clone(), now);
            }
        }
        uncordoned.retain(|name, _| cluster.nodes.iter().any(|node| &node.name == name));
        uncordoned.clone()
    }
}

/// The keys of a store's policies.
fn keys<K: Resource>(policies: &[Arc<DeserializeGuard<K>>]) -> BTreeSet<String> {
    policies
        .iter()
        .map(|policy| policy_key(policy.meta()))
        .collect()
}

/// `namespace/name` of a policy (`/name` for a ClusterSpreadPolicy).
pub fn policy_key(meta: &kube::core::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}
