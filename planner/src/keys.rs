//! Workloads by key, ReplicaSets by name, and the Deployment that controls each ReplicaSet.
//!
//! The controller's pictures keep the workloads in (namespace, kind, name) order and the
//! ReplicaSets in (namespace, name) order, so a lookup bisects the list and a plan hashes
//! nothing; a cluster in another order (a test's, a snapshot file's) gets maps built once per
//! index instead. What the ReplicaSets say of the Deployments ([`Owners`]) reads only the two
//! lists, so a plan takes it over from the plan before while they are as they were.

use rustc_hash::FxHashMap as HashMap;

use crate::{
    index::{Position, WorkloadId},
    model::{Cluster, ReplicaSet, Workload, WorkloadKind},
};

/// A workload's key: namespace, kind, name.
pub(crate) type WorkloadKey<'a> = (&'a str, WorkloadKind, &'a str);

fn workload_key(workload: &Workload) -> WorkloadKey<'_> {
    (&workload.namespace, workload.kind, &workload.name)
}

fn replica_set_key(replica_set: &ReplicaSet) -> (&str, &str) {
    (&replica_set.namespace, &replica_set.name)
}

/// The workloads by key, and by namespace.
type WorkloadMaps<'a> = (
    HashMap<WorkloadKey<'a>, WorkloadId>,
    HashMap<&'a str, Vec<WorkloadId>>,
);

/// Lookups over one cluster's workloads and ReplicaSets.
#[derive(Debug)]
pub(crate) struct Keys<'a> {
    cluster: &'a Cluster,
    /// The workloads by key and by namespace; None when the list is in strict key order and
    /// is bisected instead.
    workloads: Option<WorkloadMaps<'a>>,
    /// 0, 1, 2, …: in key order, a namespace's workloads are a slice of it.
    positions: Vec<WorkloadId>,
    /// The ReplicaSets by namespace and name; None when in strict order, bisected.
    replica_sets: Option<HashMap<(&'a str, &'a str), usize>>,
}

impl<'a> Keys<'a> {
    /// The lookups of `cluster`: bisection where its lists are in order, maps where not.
    pub(crate) fn new(cluster: &'a Cluster) -> Self {
        let in_order = cluster
            .workloads
            .is_sorted_by(|a, b| workload_key(a) < workload_key(b));
        let (workloads, positions) = if in_order {
            (None, (0..cluster.workloads.len()).collect())
        } else {
            let mut by_key =
                HashMap::with_capacity_and_hasher(cluster.workloads.len(), Default::default());
            let mut by_namespace: HashMap<&str, Vec<WorkloadId>> = HashMap::default();
            for (id, workload) in cluster.workloads.iter().enumerate() {
                by_key.insert(workload_key(workload), id);
                by_namespace
                    .entry(&workload.namespace)
                    .or_default()
                    .push(id);
            }
            (Some((by_key, by_namespace)), Vec::new())
        };
        let replica_sets_in_order = cluster
            .replica_sets
            .is_sorted_by(|a, b| replica_set_key(a) < replica_set_key(b));
        let replica_sets = (!replica_sets_in_order).then(|| {
            (cluster.replica_sets.iter().enumerate())
                .map(|(id, replica_set)| (replica_set_key(replica_set), id))
                .collect()
        });
        Self {
            cluster,
            workloads,
            positions,
            replica_sets,
        }
    }

    /// A workload by key.
    pub(crate) fn workload(&self, key: WorkloadKey<'_>) -> Option<WorkloadId> {
        match &self.workloads {
            Some((by_key, _)) => by_key.get(&key).copied(),
            None => self
                .cluster
                .workloads
                .binary_search_by(|workload| workload_key(workload).cmp(&key))
                .ok(),
        }
    }

    /// The workloads of a namespace.
    pub(crate) fn workloads_in(&self, namespace: &str) -> &[WorkloadId] {
        match &self.workloads {
            Some((_, by_namespace)) => by_namespace.get(namespace).map_or(&[], Vec::as_slice),
            None => {
                let workloads = &self.cluster.workloads;
                let from = workloads.partition_point(|workload| &*workload.namespace < namespace);
                let to = workloads.partition_point(|workload| &*workload.namespace <= namespace);
                self.positions.get(from..to).unwrap_or(&[])
            }
        }
    }

    /// A ReplicaSet by namespace and name.
    pub(crate) fn replica_set(&self, namespace: &str, name: &str) -> Option<usize> {
        match &self.replica_sets {
            Some(by_key) => by_key.get(&(namespace, name)).copied(),
            None => self
                .cluster
                .replica_sets
                .binary_search_by(|replica_set| {
                    replica_set_key(replica_set).cmp(&(namespace, name))
                })
                .ok(),
        }
    }
}

/// What the ReplicaSets say of the Deployments. It reads only the workloads' keys and uids
/// and the ReplicaSets, so it holds for any cluster where those are as they were.
#[derive(Debug, Default)]
pub(crate) struct Owners {
    /// Per ReplicaSet: the Deployment that controls it (its controlling owner reference names
    /// it, and its uid when the reference has one).
    deployment: Vec<Position>,
    /// Per workload: its newest ReplicaSet with a `pod-template-hash` (the highest revision;
    /// the first in list order among equals).
    newest: Vec<Position>,
}

impl Owners {
    /// Reads the ReplicaSets of `keys`' cluster.
    pub(crate) fn of(keys: &Keys<'_>) -> Self {
        let cluster = keys.cluster;
        let mut deployment = Vec::with_capacity(cluster.replica_sets.len());
        let mut newest: Vec<Option<(i64, usize)>> = vec![None; cluster.workloads.len()];
        for (id, replica_set) in cluster.replica_sets.iter().enumerate() {
            let owner = replica_set
                .owner
                .as_ref()
                .filter(|owner| &*owner.kind == "Deployment");
            let workload = owner.and_then(|owner| {
                let key = (
                    &*replica_set.namespace,
                    WorkloadKind::Deployment,
                    &*owner.name,
                );
                let workload = keys.workload(key)?;
                let uid = &cluster.workloads.get(workload)?.uid;
                (owner.uid.is_empty() || *owner.uid == **uid).then_some(workload)
            });
            deployment.push(Position::of(workload));
            let newest = workload
                .filter(|_| replica_set.template_hash.is_some())
                .and_then(|workload| newest.get_mut(workload));
            if let Some(newest) = newest
                && newest.is_none_or(|(revision, _)| replica_set.revision > revision)
            {
                *newest = Some((replica_set.revision, id));
            }
        }
        Self {
            deployment,
            newest: newest
                .into_iter()
                .map(|newest| Position::of(newest.map(|(_, id)| id)))
                .collect(),
        }
    }

    /// The Deployment that controls a ReplicaSet.
    pub(crate) fn deployment_of(&self, replica_set: usize) -> Option<WorkloadId> {
        self.deployment.get(replica_set).and_then(|at| at.get())
    }

    /// A Deployment's newest ReplicaSet with a `pod-template-hash`.
    pub(crate) fn newest_of(&self, workload: WorkloadId) -> Option<usize> {
        self.newest.get(workload).and_then(|at| at.get())
    }
}
