//! The control plane's view of the cluster: typed objects of the kinds it acts on, kept from
//! the store's change feed (relisted when the feed's history no longer reaches back), with
//! managedFields stripped. Read-only for the components; only [`Cache::sync`] changes it.

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::{
    Metadata,
    api::{
        apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
        coordination::v1::Lease,
        core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod},
        policy::v1::PodDisruptionBudget,
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use serde::de::DeserializeOwned;

use super::Start;
use crate::sim::{ChangeKind, Cursor, Object, ResourceId, Store};

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

/// The resource types the control plane reads and writes.
#[derive(Clone, Copy, Debug)]
pub struct Ids {
    /// Namespaces.
    pub namespaces: ResourceId,
    /// Nodes.
    pub nodes: ResourceId,
    /// Pods.
    pub pods: ResourceId,
    /// Deployments.
    pub deployments: ResourceId,
    /// ReplicaSets.
    pub replica_sets: ResourceId,
    /// StatefulSets.
    pub stateful_sets: ResourceId,
    /// DaemonSets.
    pub daemon_sets: ResourceId,
    /// PodDisruptionBudgets.
    pub pdbs: ResourceId,
    /// PersistentVolumeClaims.
    pub claims: ResourceId,
    /// PersistentVolumes.
    pub volumes: ResourceId,
    /// Leases.
    pub leases: ResourceId,
    /// Events (core/v1, as the components' event recorders write them).
    pub events: ResourceId,
}

impl Ids {
    fn of(store: &Store) -> Result<Self, Start> {
        let catalog = store.catalog();
        let find = |group: &str, plural: &'static str| {
            catalog
                .find(group, "v1", plural)
                .ok_or(Start::MissingResource(plural))
        };
        Ok(Self {
            namespaces: find("", "namespaces")?,
            nodes: find("", "nodes")?,
            pods: find("", "pods")?,
            deployments: find("apps", "deployments")?,
            replica_sets: find("apps", "replicasets")?,
            stateful_sets: find("apps", "statefulsets")?,
            daemon_sets: find("apps", "daemonsets")?,
            pdbs: find("policy", "poddisruptionbudgets")?,
            claims: find("", "persistentvolumeclaims")?,
            volumes: find("", "persistentvolumes")?,
            leases: find("coordination.k8s.io", "leases")?,
            events: find("", "events")?,
        })
    }
}

/// The objects of one kind, by key.
#[derive(Debug)]
pub struct Objects<K> {
    items: BTreeMap<Key, (u64, Arc<K>)>,
}

impl<K> Default for Objects<K> {
    fn default() -> Self {
        Self {
            items: BTreeMap::new(),
        }
    }
}

impl<K> Objects<K> {
    /// One object.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Arc<K>> {
        self.items
            .get(&(namespace.to_owned(), name.to_owned()))
            .map(|(_, object)| object)
    }

    /// Every object, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<K>> {
        self.items.values().map(|(_, object)| object)
    }

    /// The objects of a namespace, in name order.
    pub fn in_namespace(&self, namespace: &str) -> impl Iterator<Item = &Arc<K>> {
        let namespace = namespace.to_owned();
        self.items
            .range((namespace.clone(), String::new())..)
            .take_while(move |((ns, _), _)| *ns == namespace)
            .map(|(_, (_, object))| object)
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<K: DeserializeOwned + Metadata<Ty = ObjectMeta>> Objects<K> {
    fn apply(&mut self, kind: ChangeKind, object: &Object) {
        let key = (
            object.header.namespace.to_string(),
            object.header.name.to_string(),
        );
        let version = object.header.resource_version;
        if self
            .items
            .get(&key)
            .is_some_and(|(held, _)| *held > version)
        {
            return;
        }
        if kind == ChangeKind::Deleted {
            self.items.remove(&key);
            return;
        }
        match object.typed::<K>() {
            Ok(mut typed) => {
                typed.metadata_mut().managed_fields = None;
                self.items.insert(key, (version, Arc::new(typed)));
            }
            Err(error) => {
                tracing::warn!(error = %error, "Simulated control plane cannot read an object.");
                self.items.remove(&key);
            }
        }
    }
}

/// Everything the control plane reads.
#[derive(Debug)]
pub struct Cache {
    /// The resource types.
    pub ids: Ids,
    /// Nodes.
    pub nodes: Objects<Node>,
    /// Pods.
    pub pods: Objects<Pod>,
    /// Deployments.
    pub deployments: Objects<Deployment>,
    /// ReplicaSets.
    pub replica_sets: Objects<ReplicaSet>,
    /// StatefulSets.
    pub stateful_sets: Objects<StatefulSet>,
    /// DaemonSets.
    pub daemon_sets: Objects<DaemonSet>,
    /// PodDisruptionBudgets.
    pub pdbs: Objects<PodDisruptionBudget>,
    /// PersistentVolumeClaims.
    pub claims: Objects<PersistentVolumeClaim>,
    /// PersistentVolumes.
    pub volumes: Objects<PersistentVolume>,
    /// Node Leases (namespace `kube-node-lease`).
    pub leases: Objects<Lease>,
    /// Bumped whenever anything but a Lease changes.
    pub generation: u64,
    /// Bumped whenever a Lease changes.
    pub lease_generation: u64,
    store: Store,
    cursor: Cursor,
}

impl Cache {
    /// A cache filled from the store now, following its changes from here on.
    pub fn new(store: &Store) -> Result<Self, Start> {
        let ids = Ids::of(store)?;
        let mut cache = Self {
            ids,
            nodes: Objects::default(),
            pods: Objects::default(),
            deployments: Objects::default(),
            replica_sets: Objects::default(),
            stateful_sets: Objects::default(),
            daemon_sets: Objects::default(),
            pdbs: Objects::default(),
            claims: Objects::default(),
            volumes: Objects::default(),
            leases: Objects::default(),
            generation: 0,
            lease_generation: 0,
            store: store.clone(),
            cursor: store.subscribe(None),
        };
        cache.relist();
        Ok(cache)
    }

    fn relist(&mut self) {
        self.cursor = self.store.subscribe(None);
        let ids = self.ids;
        self.nodes = Objects::default();
        self.pods = Objects::default();
        self.deployments = Objects::default();
        self.replica_sets = Objects::default();
        self.stateful_sets = Objects::default();
        self.daemon_sets = Objects::default();
        self.pdbs = Objects::default();
        self.claims = Objects::default();
        self.volumes = Objects::default();
        self.leases = Objects::default();
        for id in [
            ids.nodes,
            ids.pods,
            ids.deployments,
            ids.replica_sets,
            ids.stateful_sets,
            ids.daemon_sets,
            ids.pdbs,
            ids.claims,
            ids.volumes,
            ids.leases,
        ] {
            for object in self.store.all(id) {
                self.apply(ChangeKind::Added, &object);
            }
        }
        self.generation += 1;
        self.lease_generation += 1;
    }

    fn apply(&mut self, kind: ChangeKind, object: &Object) {
        let ids = self.ids;
        let id = object.header.resource;
        if id == ids.nodes {
            self.nodes.apply(kind, object);
        } else if id == ids.pods {
            self.pods.apply(kind, object);
        } else if id == ids.deployments {
            self.deployments.apply(kind, object);
        } else if id == ids.replica_sets {
            self.replica_sets.apply(kind, object);
        } else if id == ids.stateful_sets {
            self.stateful_sets.apply(kind, object);
        } else if id == ids.daemon_sets {
            self.daemon_sets.apply(kind, object);
        } else if id == ids.pdbs {
            self.pdbs.apply(kind, object);
        } else if id == ids.claims {
            self.claims.apply(kind, object);
        } else if id == ids.volumes {
            self.volumes.apply(kind, object);
        } else if id == ids.leases && &*object.header.namespace == "kube-node-lease" {
            self.leases.apply(kind, object);
        }
    }

    /// Takes in every change since the last sync; returns how many there were.
    pub fn sync(&mut self) -> usize {
        match self.cursor.poll() {
            Ok(changes) => {
                let mut others = false;
                let mut leases = false;
                for change in &changes {
                    self.apply(change.kind, &change.object);
                    if change.resource == self.ids.leases {
                        leases = true;
                    } else {
                        others = true;
                    }
                }
                self.generation += u64::from(others);
                self.lease_generation += u64::from(leases);
                changes.len()
            }
            Err(_) => {
                // The history no longer reaches back to the cursor: start over from a list.
                self.relist();
                1
            }
        }
    }

    /// The pods bound to a node.
    pub fn pods_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Arc<Pod>> {
        self.pods
            .iter()
            .filter(move |pod| pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
    }
}
