//! The controller's view of the cluster: one watch per kind (one shared Pod watch), each object
//! converted on arrival into the planner's compact model, so that no full Kubernetes object is
//! kept (no managedFields, no unused status). An object that cannot be read is skipped and
//! counted, never allowed to stall its watch. Watches run on every replica; only reading here.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Debug,
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet, StatefulSet},
    coordination::v1::Lease,
    core::v1::{Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, Taint},
    policy::v1::PodDisruptionBudget,
};
use kube::{
    Api, Client, Resource,
    core::ObjectMeta,
    runtime::{WatchStreamExt, watcher},
};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::guard::Guarded;
use crate::{
    api::FIELD_MANAGER,
    metrics::ControllerMetrics,
    planner::model::{self, Cluster, Shared, WorkloadKind},
    snapshot::{FieldError, convert},
};

/// A workload as the controller needs it: the planner's view, and whether we applied fields to
/// it (so that a workload leaving every policy gets them removed).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadEntry {
    /// The planner's view.
    pub workload: Arc<model::Workload>,
    /// `kube-spread` holds fields of it through server-side apply.
    pub applied_by_us: bool,
}

/// A node's heartbeat: its Lease in `kube-node-lease`, renewed by its kubelet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLease {
    /// `spec.renewTime`.
    pub renewed: Option<jiff::Timestamp>,
    /// `spec.leaseDurationSeconds`.
    pub duration: Option<std::time::Duration>,
}

impl NodeLease {
    fn of(lease: &Lease) -> Result<Self, FieldError> {
        let spec = lease.spec.as_ref();
        Ok(Self {
            renewed: spec
                .and_then(|spec| spec.renew_time.as_ref())
                .map(|time| time.0),
            duration: spec
                .and_then(|spec| spec.lease_duration_seconds)
                .and_then(|seconds| u64::try_from(seconds).ok())
                .map(std::time::Duration::from_secs),
        })
    }

    /// Whether the kubelet has missed its renewals: no renewal for half the lease's duration
    /// (it renews every quarter), well before the node lifecycle controller marks the node
    /// NotReady. A lease without times says nothing.
    pub fn is_stale(&self, now: jiff::Timestamp) -> bool {
        let (Some(renewed), Some(duration)) = (self.renewed, self.duration) else {
            return false;
        };
        std::time::Duration::try_from(now.duration_since(renewed))
            .is_ok_and(|silence| silence > duration / 2)
    }
}

/// Objects of one kind by key, in key order (so that the model is built in a stable order
/// without sorting it each time).
#[derive(Debug)]
struct Objects<K, V> {
    items: RwLock<BTreeMap<K, Arc<V>>>,
    synced: AtomicBool,
    /// Bumped under the write lock by every change the reconciles are told of, so that what
    /// the model derives from these objects is rebuilt only when they changed.
    revision: AtomicU64,
}

impl<K: Ord + Clone, V> Objects<K, V> {
    fn new() -> Self {
        Self {
            items: RwLock::new(BTreeMap::new()),
            synced: AtomicBool::new(false),
            revision: AtomicU64::new(0),
        }
    }

    fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    /// The values and the revision they are at, read together.
    fn snapshot(&self) -> (u64, Vec<Arc<V>>) {
        let items = self.items.read().unwrap_or_else(PoisonError::into_inner);
        (self.revision(), items.values().cloned().collect())
    }

    fn values(&self) -> Vec<Arc<V>> {
        self.items
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    fn len(&self) -> usize {
        self.items
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A list of the model derived from one or two kinds' objects, kept with the revisions it was
/// built at: each picture of the cluster shares it until those objects change, instead of
/// copying every node, ReplicaSet and budget again for each burst of pod changes.
#[derive(Debug)]
struct Derived<T>(Mutex<Option<(Revisions, Shared<T>)>>);

/// The revisions of the one or two kinds a [`Derived`] list is built from (0 for none).
type Revisions = (u64, u64);

impl<T> Derived<T> {
    fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// The list as of `current`; `build` reads the objects and says the revisions it read.
    fn at(&self, current: Revisions, build: impl FnOnce() -> (Revisions, Shared<T>)) -> Shared<T> {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((revision, list)) = kept.as_ref()
            && *revision == current
        {
            return list.clone();
        }
        let (revision, list) = build();
        *kept = Some((revision, list.clone()));
        list
    }
}

/// The lists of the model that change seldom, derived once per change of their kinds.
#[derive(Debug)]
struct Models {
    nodes: Derived<model::Node>,
    workloads: Derived<Arc<model::Workload>>,
    replica_sets: Derived<model::ReplicaSet>,
    pdbs: Derived<model::Pdb>,
    claims: Derived<model::Claim>,
    volumes: Derived<model::Volume>,
    namespaces: Derived<model::Namespace>,
}

impl Models {
    fn new() -> Self {
        Self {
            nodes: Derived::new(),
            workloads: Derived::new(),
            replica_sets: Derived::new(),
            pdbs: Derived::new(),
            claims: Derived::new(),
            volumes: Derived::new(),
            namespaces: Derived::new(),
        }
    }
}

/// One kind's model list, sorted by `order`, shared until the kind changes.
fn derived<K: Ord + Clone, T: Clone>(
    list: &Derived<T>,
    objects: &Objects<K, T>,
    order: impl FnMut(&T, &T) -> std::cmp::Ordering,
) -> Shared<T> {
    list.at((objects.revision(), 0), || {
        let (revision, values) = objects.snapshot();
        let mut items = unwrap(values);
        items.sort_by(order);
        ((revision, 0), items.into())
    })
}

/// A node as the planner reads it, with what a write of its taints must start from (they are
/// one atomic list, replaced whole under a resourceVersion precondition).
#[derive(Debug, PartialEq)]
pub struct NodeEntry {
    /// The planner's node.
    pub node: model::Node,
    /// The version the taints were read at.
    pub resource_version: String,
    /// `spec.taints` as the API server holds them.
    pub taints: Vec<Taint>,
}

impl NodeEntry {
    /// A node's entry: its model (sharing image names through the stores' interner), its
    /// resourceVersion and its taints as the API holds them.
    fn of(stores: &Stores, node: &Node) -> Result<Self, FieldError> {
        let mut model = convert::node(node)?;
        stores
            .interner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .share_images(&mut model);
        Ok(Self {
            node: model,
            resource_version: node.metadata.resource_version.clone().unwrap_or_default(),
            taints: node
                .spec
                .as_ref()
                .and_then(|spec| spec.taints.clone())
                .unwrap_or_default(),
        })
    }
}

/// The key an object is kept under in its kind's map.
trait StoreKey<V>: Ord + Clone + Debug {
    /// The key to keep with `value`: the key itself, unless it can share what it names with
    /// the value instead of holding it twice.
    fn kept(self, _value: &Arc<V>) -> Self {
        self
    }
}

impl<V> StoreKey<V> for String {}
impl<V> StoreKey<V> for (String, String) {}
impl<V> StoreKey<V> for (String, WorkloadKind, String) {}

/// A pod's key: its namespace and name. The key kept with a pod reads them from the pod, so
/// that 150,000 pods do not hold their names twice (a key of 16 bytes instead of 48 and two
/// strings).
#[derive(Clone)]
enum PodKey {
    /// As read from an object's metadata, to find a pod by.
    Sought(Box<(String, String)>),
    /// Kept with the pod it names.
    Held(Arc<model::Pod>),
}

impl PodKey {
    fn of(meta: &ObjectMeta) -> Self {
        Self::Sought(Box::new(namespaced_key(meta)))
    }

    fn parts(&self) -> (&str, &str) {
        match self {
            Self::Sought(key) => (&key.0, &key.1),
            Self::Held(pod) => (&pod.namespace, &pod.name),
        }
    }
}

impl StoreKey<model::Pod> for PodKey {
    fn kept(self, pod: &Arc<model::Pod>) -> Self {
        // A pod names itself as its metadata does; were it ever not so, the key read from the
        // metadata is kept, so that the pod is still found by it.
        if self.parts() == (&*pod.namespace, pod.name.as_str()) {
            Self::Held(Arc::clone(pod))
        } else {
            self
        }
    }
}

impl Debug for PodKey {
    /// `namespace/name`, whichever way the key holds them (a held key would otherwise print
    /// the whole pod beside the map's value).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (namespace, name) = self.parts();
        write!(f, "{namespace}/{name}")
    }
}

impl PartialEq for PodKey {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for PodKey {}

impl PartialOrd for PodKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PodKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

/// Keeps `value` under `key`, with the key the value shares; returns the value it replaces.
/// (The map's own `insert` would keep the replaced value's key, and with it that value.)
fn put<K: StoreKey<V>, V>(
    items: &mut BTreeMap<K, Arc<V>>,
    key: K,
    value: Arc<V>,
) -> Option<Arc<V>> {
    let before = items.remove(&key);
    items.insert(key.kept(&value), value);
    before
}

/// Every kind the planner reads, kept current by watches.
#[derive(Debug)]
pub struct Stores {
    pods: Objects<PodKey, model::Pod>,
    nodes: Objects<String, NodeEntry>,
    // One map per watch: a relist replaces its own kind's objects only.
    deployments: Objects<(String, WorkloadKind, String), WorkloadEntry>,
    stateful_sets: Objects<(String, WorkloadKind, String), WorkloadEntry>,
    replica_sets: Objects<(String, String), model::ReplicaSet>,
    pdbs: Objects<(String, String), model::Pdb>,
    claims: Objects<(String, String), model::Claim>,
    volumes: Objects<String, model::Volume>,
    node_leases: Objects<String, NodeLease>,
    namespaces: Objects<String, model::Namespace>,
    interner: Mutex<convert::Interner>,
    models: Models,
    generation: AtomicU64,
    changed: watch::Sender<u64>,
    touched: Mutex<Touched>,
}

/// Which policies a kind's changes may concern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// Those that read the changed object's namespace (for an object of no namespace: all).
    Namespace,
    /// All of them, wherever the object is: a node's Lease in `kube-node-lease` is about
    /// the node.
    Everywhere,
}

/// What one watch lists, and which policies its changes may concern.
struct Watched<K: Clone + DeserializeOwned + Debug> {
    api: Api<Guarded<K>>,
    reach: Reach,
}

/// Where the changes announced since the last look were: what decides which policies they may
/// concern.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    /// An object of no namespace changed (a node, a volume, a namespace), or a kind was listed
    /// again: any policy may be concerned.
    pub everywhere: bool,
    /// The namespaces whose objects changed.
    pub namespaces: BTreeSet<String>,
}

impl Touched {
    /// Notes a change of an object in `namespace` (None: of no namespace).
    fn note(&mut self, namespace: Option<&str>) {
        match namespace {
            Some(namespace) if !self.everywhere => {
                if !self.namespaces.contains(namespace) {
                    self.namespaces.insert(namespace.to_owned());
                }
            }
            Some(_) => {}
            None => {
                self.everywhere = true;
                self.namespaces.clear();
            }
        }
    }
}

/// The key of a namespaced object.
fn namespaced_key(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl Default for Stores {
    fn default() -> Self {
        Self::new()
    }
}

impl Stores {
    /// Empty stores, not yet synced.
    pub fn new() -> Self {
        Self {
            pods: Objects::new(),
            nodes: Objects::new(),
            deployments: Objects::new(),
            stateful_sets: Objects::new(),
            replica_sets: Objects::new(),
            pdbs: Objects::new(),
            claims: Objects::new(),
            volumes: Objects::new(),
            node_leases: Objects::new(),
            namespaces: Objects::new(),
            interner: Mutex::new(convert::Interner::new()),
            models: Models::new(),
            generation: AtomicU64::new(0),
            changed: watch::channel(0).0,
            touched: Mutex::new(Touched::default()),
        }
    }

    /// Whether every watch has listed its kind once.
    pub fn synced(&self) -> bool {
        self.pods.synced.load(Ordering::Acquire)
            && self.nodes.synced.load(Ordering::Acquire)
            && self.workloads_synced()
            && self.replica_sets.synced.load(Ordering::Acquire)
            && self.pdbs.synced.load(Ordering::Acquire)
            && self.claims.synced.load(Ordering::Acquire)
            && self.volumes.synced.load(Ordering::Acquire)
            && self.node_leases.synced.load(Ordering::Acquire)
            && self.namespaces.synced.load(Ordering::Acquire)
    }

    /// The nodes whose kubelets have missed their Lease renewals at `now`
    /// ([`NodeLease::is_stale`]).
    pub fn stale_leases(&self, now: jiff::Timestamp) -> BTreeSet<String> {
        self.node_leases
            .items
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, lease)| lease.is_stale(now))
            .map(|(node, _)| node.clone())
            .collect()
    }

    fn workloads_synced(&self) -> bool {
        self.deployments.synced.load(Ordering::Acquire)
            && self.stateful_sets.synced.load(Ordering::Acquire)
    }

    /// A counter bumped on every change, for caching what is derived from the stores.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Notified (with the new generation) after every change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Where the changes announced since the last call were, forgetting them.
    pub fn take_touched(&self) -> Touched {
        std::mem::take(&mut *self.touched.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Announces a change of an object in `namespace` (None: of no namespace).
    fn bump(&self, namespace: Option<&str>) {
        self.touched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .note(namespace);
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.changed.send_replace(generation);
    }

    /// Pods held, for sizing.
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// A workload's entry.
    pub fn workload(
        &self,
        namespace: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Option<Arc<WorkloadEntry>> {
        let objects = match kind {
            WorkloadKind::Deployment => &self.deployments,
            WorkloadKind::StatefulSet => &self.stateful_sets,
        };
        objects
            .items
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(namespace.to_owned(), kind, name.to_owned()))
            .cloned()
    }

    /// Every node entry.
    pub fn node_entries(&self) -> Vec<Arc<NodeEntry>> {
        self.nodes.values()
    }

    /// One node's entry.
    pub fn node_entry(&self, name: &str) -> Option<Arc<NodeEntry>> {
        self.nodes
            .items
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The workload entries of one namespace.
    pub fn workloads_in(&self, namespace: &str) -> Vec<Arc<WorkloadEntry>> {
        let of = |objects: &Objects<(String, WorkloadKind, String), WorkloadEntry>,
                  kind: WorkloadKind| {
            objects
                .items
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .range((namespace.to_owned(), kind, String::new())..)
                .take_while(|((held, _, _), _)| held == namespace)
                .map(|(_, entry)| Arc::clone(entry))
                .collect::<Vec<_>>()
        };
        let mut workloads = of(&self.deployments, WorkloadKind::Deployment);
        workloads.extend(of(&self.stateful_sets, WorkloadKind::StatefulSet));
        workloads
    }

    /// Every workload entry.
    pub fn workloads(&self) -> Vec<Arc<WorkloadEntry>> {
        let mut workloads = self.deployments.values();
        workloads.extend(self.stateful_sets.values());
        workloads
    }

    /// The cluster as observed now (policies come from elsewhere), in a stable order.
    pub fn cluster(&self) -> Cluster {
        let by_name = |a: &model::Namespace, b: &model::Namespace| a.name.cmp(&b.name);
        let in_namespace =
            |a: &str, a_name: &str, b: &str, b_name: &str| (a, a_name).cmp(&(b, b_name));
        let models = &self.models;
        let nodes = models.nodes.at((self.nodes.revision(), 0), || {
            let (revision, entries) = self.nodes.snapshot();
            let mut nodes: Vec<model::Node> =
                entries.iter().map(|entry| entry.node.clone()).collect();
            nodes.sort_by(|a, b| a.name.cmp(&b.name));
            ((revision, 0), nodes.into())
        });
        let workloads = models.workloads.at(
            (self.deployments.revision(), self.stateful_sets.revision()),
            || {
                let (deployments, mut workloads) = self.deployments.snapshot();
                let (stateful_sets, more) = self.stateful_sets.snapshot();
                workloads.extend(more);
                let mut workloads: Vec<Arc<model::Workload>> = workloads
                    .iter()
                    .map(|entry| Arc::clone(&entry.workload))
                    .collect();
                workloads.sort_by(|a, b| {
                    (&*a.namespace, a.kind, &a.name).cmp(&(&*b.namespace, b.kind, &b.name))
                });
                ((deployments, stateful_sets), workloads.into())
            },
        );
        // Pods are shared with the stores, not copied: they are most of the model. Their map is
        // keyed by the namespace and name each pod's model holds, so they come in model order
        // (the pass that would sort them anyway reads all 150,000 at the envelope).
        let pods = self.pods.values();
        debug_assert!(pods.is_sorted_by(|a, b| {
            in_namespace(&a.namespace, &a.name, &b.namespace, &b.name).is_le()
        }));
        Cluster {
            nodes,
            pods,
            workloads,
            replica_sets: derived(&models.replica_sets, &self.replica_sets, |a, b| {
                in_namespace(&a.namespace, &a.name, &b.namespace, &b.name)
            }),
            pdbs: derived(&models.pdbs, &self.pdbs, |a, b| {
                in_namespace(&a.namespace, &a.name, &b.namespace, &b.name)
            }),
            claims: derived(&models.claims, &self.claims, |a, b| {
                in_namespace(&a.namespace, &a.name, &b.namespace, &b.name)
            }),
            volumes: derived(&models.volumes, &self.volumes, |a, b| a.name.cmp(&b.name)),
            policies: Shared::default(),
            namespaces: derived(&models.namespaces, &self.namespaces, by_name),
            cluster_policies: Vec::new(),
        }
    }

    /// Runs every watch until the client's streams end (they retry with backoff forever).
    pub async fn watch_all(self: Arc<Self>, client: Client, metrics: ControllerMetrics) {
        let stores = &self;
        let metrics = &metrics;
        let name = |meta: &ObjectMeta| meta.name.clone().unwrap_or_default();
        let workload = |kind: WorkloadKind| {
            move |meta: &ObjectMeta| {
                let (namespace, name) = namespaced_key(meta);
                (namespace, kind, name)
            }
        };
        futures::join!(
            // A status update that leaves the model as it was (a probe's timestamps, a
            // container's restart count, an annotation no one reads) changes no count or
            // protection: nothing is planned for it.
            stores.watch_in::<Pod, _, _>(
                Watched {
                    api: Api::all(client.clone()),
                    reach: Reach::Namespace,
                },
                metrics,
                |s| &s.pods,
                PodKey::of,
                |s, pod| {
                    let mut interner = s.interner.lock().unwrap_or_else(PoisonError::into_inner);
                    convert::pod(pod, &mut interner)
                },
                |before, after| before != Some(after),
            ),
            // Kubelets post their status every 10 s; a heartbeat that leaves readiness, taints,
            // labels and allocatable as they were is stored (its resourceVersion is what a
            // steering patch is conditioned on) and announced to no one.
            stores.watch_in::<Node, _, _>(
                Watched {
                    api: Api::all(client.clone()),
                    reach: Reach::Namespace,
                },
                metrics,
                |s| &s.nodes,
                name,
                NodeEntry::of,
                |before, after| {
                    before.is_none_or(|before| {
                        before.node != after.node || before.taints != after.taints
                    })
                },
            ),
            stores.watch::<Deployment, _, _>(
                &client,
                metrics,
                |s| &s.deployments,
                workload(WorkloadKind::Deployment),
                |s, deployment| s
                    .workload_entry(convert::deployment(deployment), &deployment.metadata),
            ),
            stores.watch::<StatefulSet, _, _>(
                &client,
                metrics,
                |s| &s.stateful_sets,
                workload(WorkloadKind::StatefulSet),
                |s, stateful_set| s
                    .workload_entry(convert::stateful_set(stateful_set), &stateful_set.metadata),
            ),
            stores.watch::<ReplicaSet, _, _>(
                &client,
                metrics,
                |s| &s.replica_sets,
                namespaced_key,
                |_, rs| { convert::replica_set(rs) }
            ),
            stores.watch::<PodDisruptionBudget, _, _>(
                &client,
                metrics,
                |s| &s.pdbs,
                namespaced_key,
                |_, pdb| { convert::pdb(pdb) }
            ),
            stores.watch::<PersistentVolumeClaim, _, _>(
                &client,
                metrics,
                |s| &s.claims,
                namespaced_key,
                |_, claim| { convert::claim(claim) }
            ),
            // ClusterSpreadPolicies select namespaces by their labels.
            stores.watch::<Namespace, _, _>(
                &client,
                metrics,
                |s| &s.namespaces,
                name,
                |_, namespace| { convert::namespace(namespace) }
            ),
            stores.watch::<PersistentVolume, _, _>(
                &client,
                metrics,
                |s| &s.volumes,
                name,
                |_, volume| { convert::volume(volume) }
            ),
            stores.watch_in::<Lease, _, _>(
                Watched {
                    api: Api::namespaced(client.clone(), NODE_LEASE_NAMESPACE),
                    reach: Reach::Everywhere,
                },
                metrics,
                |s| &s.node_leases,
                name,
                |_, lease| NodeLease::of(lease),
                // A renewal changes no count and triggers nothing, unless it revives a node whose
                // Lease had gone stale: that node can take pods again.
                |before, after| {
                    before.is_none_or(|before| {
                        after
                            .renewed
                            .is_some_and(|renewed| before.is_stale(renewed))
                    })
                },
            ),
        );
    }

    /// One kind's watch: converts each object as it arrives; a relist replaces the kind's
    /// objects at once when it completes. An object that cannot be read is dropped from the
    /// store (it cannot be reasoned about) and counted.
    async fn watch<K, Key, V>(
        &self,
        client: &Client,
        metrics: &ControllerMetrics,
        objects: impl Fn(&Self) -> &Objects<Key, V>,
        key: impl Fn(&ObjectMeta) -> Key,
        convert: impl Fn(&Self, &K) -> Result<V, FieldError>,
    ) where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
        K::Scope: Send,
        Key: StoreKey<V>,
        V: Debug + PartialEq,
    {
        self.watch_in(
            Watched {
                api: Api::all(client.clone()),
                reach: Reach::Namespace,
            },
            metrics,
            objects,
            key,
            convert,
            |_, _| true,
        )
        .await;
    }

    /// [`Stores::watch`] over `api`, announcing to the reconciles only the changes for which
    /// `announce(before, after)` holds.
    async fn watch_in<K, Key, V>(
        &self,
        Watched { api, reach }: Watched<K>,
        metrics: &ControllerMetrics,
        objects: impl Fn(&Self) -> &Objects<Key, V>,
        key: impl Fn(&ObjectMeta) -> Key,
        convert: impl Fn(&Self, &K) -> Result<V, FieldError>,
        announce: impl Fn(Option<&V>, &V) -> bool,
    ) where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
        Key: StoreKey<V>,
        V: Debug + PartialEq,
    {
        let kind = K::kind(&()).to_string();
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut relist: Option<BTreeMap<Key, Arc<V>>> = None;
        let mut applied = 0usize;
        // An object's key, its namespace, and its value when it can be read.
        let namespace_of = |meta: &ObjectMeta| match reach {
            Reach::Namespace => meta.namespace.clone(),
            Reach::Everywhere => None,
        };
        let read = |guard: Guarded<K>| -> (Key, Option<String>, Option<V>) {
            match guard.0 {
                Ok(object) => {
                    let key = key(object.meta());
                    let namespace = namespace_of(object.meta());
                    match convert(self, &object) {
                        Ok(value) => (key, namespace, Some(value)),
                        Err(error) => {
                            metrics.invalid_objects.with_label_values(&[&kind]).inc();
                            tracing::warn!(kind = %kind, name = ?object.meta().name, error = %error, "Skipping an object that cannot be read.");
                            (key, namespace, None)
                        }
                    }
                }
                Err(invalid) => {
                    metrics.invalid_objects.with_label_values(&[&kind]).inc();
                    tracing::warn!(kind = %kind, name = ?invalid.metadata.name, error = %invalid.error, "Skipping an object that cannot be read.");
                    (
                        key(&invalid.metadata),
                        namespace_of(&invalid.metadata),
                        None,
                    )
                }
            }
        };
        loop {
            let event = match stream.try_next().await {
                Ok(Some(event)) => event,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(kind = %kind, error = %error, "Watch failed; retrying.");
                    continue;
                }
            };
            let target = objects(self);
            match event {
                watcher::Event::Init => relist = Some(BTreeMap::new()),
                watcher::Event::InitApply(guard) => {
                    if let ((key, _, Some(value)), Some(buffer)) = (read(guard), relist.as_mut()) {
                        put(buffer, key, Arc::new(value));
                    }
                }
                watcher::Event::InitDone => {
                    if let Some(buffer) = relist.take() {
                        let mut items =
                            target.items.write().unwrap_or_else(PoisonError::into_inner);
                        *items = buffer;
                        target.revision.fetch_add(1, Ordering::AcqRel);
                    }
                    target.synced.store(true, Ordering::Release);
                    self.prune_interner();
                    self.bump(None);
                }
                watcher::Event::Apply(guard) => {
                    let (key, namespace, value) = read(guard);
                    let announced = {
                        let mut items =
                            target.items.write().unwrap_or_else(PoisonError::into_inner);
                        let announced = match value {
                            // An update that leaves the value as it was keeps the object the
                            // pictures share: the planner's index takes over what it read of
                            // an object that is still the same one.
                            Some(value) if items.get(&key).is_some_and(|kept| **kept == value) => {
                                false
                            }
                            Some(value) => {
                                let value = Arc::new(value);
                                let before = put(&mut items, key, Arc::clone(&value));
                                announce(before.as_deref(), &value)
                            }
                            None => items.remove(&key).is_some(),
                        };
                        if announced {
                            target.revision.fetch_add(1, Ordering::AcqRel);
                        }
                        announced
                    };
                    applied += 1;
                    if applied.is_multiple_of(4096) {
                        self.prune_interner();
                    }
                    if announced {
                        self.bump(namespace.as_deref());
                    }
                }
                watcher::Event::Delete(guard) => {
                    let meta = match &guard.0 {
                        Ok(object) => object.meta(),
                        Err(invalid) => &invalid.metadata,
                    };
                    {
                        let mut items =
                            target.items.write().unwrap_or_else(PoisonError::into_inner);
                        items.remove(&key(meta));
                        target.revision.fetch_add(1, Ordering::AcqRel);
                    }
                    self.bump(namespace_of(meta).as_deref());
                }
            }
        }
    }

    /// A workload's entry, its template's spec and its namespace shared through the interner.
    fn workload_entry(
        &self,
        converted: Result<model::Workload, FieldError>,
        meta: &ObjectMeta,
    ) -> Result<WorkloadEntry, FieldError> {
        let mut workload = converted?;
        self.interner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .share_workload(&mut workload);
        Ok(WorkloadEntry {
            workload: Arc::new(workload),
            applied_by_us: applied_by_us(meta),
        })
    }

    fn prune_interner(&self) {
        self.interner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .prune();
    }
}

/// Where kubelets keep their node Leases.
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// Copies shared values out of their `Arc`s.
fn unwrap<T: Clone>(items: Vec<Arc<T>>) -> Vec<T> {
    items.into_iter().map(|item| (*item).clone()).collect()
}

/// Whether `kube-spread` is among an object's server-side-apply managers.
fn applied_by_us(meta: &ObjectMeta) -> bool {
    meta.managed_fields.iter().flatten().any(|entry| {
        entry.manager.as_deref() == Some(FIELD_MANAGER)
            && entry.operation.as_deref() == Some("Apply")
    })
}
