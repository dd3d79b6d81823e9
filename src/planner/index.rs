//! Lookups over a [`Cluster`] built once per plan: pods per node and namespace, owners,
//! claims, budgets, and what each node has committed. Read-only; the plan keeps its own overlay.

use std::collections::HashMap;

use super::model::{Cluster, Node, Pod, Resources, Workload};
use crate::api::WorkloadKind;

/// Position of a node in `Cluster::nodes`.
pub type NodeId = usize;
/// Position of a pod in `Cluster::pods`.
pub type PodId = usize;
/// Position of a workload in `Cluster::workloads`.
pub type WorkloadId = usize;

/// Lookups over one cluster.
#[derive(Debug)]
pub struct Index<'a> {
    /// The cluster indexed.
    pub cluster: &'a Cluster,
    node_ids: HashMap<&'a str, NodeId>,
    /// Per node: the pods the scheduler's cache holds on it (bound, not Succeeded/Failed).
    pub pods_on_node: Vec<Vec<PodId>>,
    /// Per node: the summed requests of those pods, and their number in `pods`.
    pub node_requested: Vec<Resources>,
    /// Per pod: its node, if bound to a known node.
    pub pod_node: Vec<Option<NodeId>>,
    /// Per pod: the Deployment or StatefulSet that controls it (through its ReplicaSet).
    pub pod_workload: Vec<Option<WorkloadId>>,
    pods_by_namespace: HashMap<&'a str, Vec<PodId>>,
    workloads_by_namespace: HashMap<&'a str, Vec<WorkloadId>>,
    workload_ids: HashMap<(&'a str, WorkloadKind, &'a str), WorkloadId>,
    current_hash: HashMap<WorkloadId, &'a str>,
    claims: HashMap<(&'a str, &'a str), usize>,
    volumes: HashMap<&'a str, usize>,
    pdbs_by_namespace: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Index<'a> {
    /// Indexes a cluster.
    pub fn new(cluster: &'a Cluster) -> Self {
        let node_ids: HashMap<&str, NodeId> = cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(id, node)| (node.name.as_str(), id))
            .collect();

        let mut workload_ids = HashMap::with_capacity(cluster.workloads.len());
        let mut workloads_by_namespace: HashMap<&str, Vec<WorkloadId>> = HashMap::new();
        for (id, workload) in cluster.workloads.iter().enumerate() {
            workload_ids.insert(
                (&*workload.namespace, workload.kind, workload.name.as_str()),
                id,
            );
            workloads_by_namespace
                .entry(&workload.namespace)
                .or_default()
                .push(id);
        }

        // ReplicaSet name -> the Deployment that controls it; and each Deployment's newest hash.
        let mut replica_set_owner: HashMap<(&str, &str), WorkloadId> = HashMap::new();
        let mut newest: HashMap<WorkloadId, (i64, &str)> = HashMap::new();
        for replica_set in &cluster.replica_sets {
            let Some(owner) = &replica_set.owner else {
                continue;
            };
            if owner.kind != "Deployment" {
                continue;
            }
            let key = (
                &*replica_set.namespace,
                WorkloadKind::Deployment,
                owner.name.as_str(),
            );
            let Some(&workload) = workload_ids.get(&key) else {
                continue;
            };
            if !owner.uid.is_empty() && owner.uid != cluster.workloads[workload].uid {
                continue;
            }
            replica_set_owner.insert(
                (&replica_set.namespace, replica_set.name.as_str()),
                workload,
            );
            if let Some(hash) = &replica_set.template_hash {
                let entry = newest
                    .entry(workload)
                    .or_insert((replica_set.revision, hash));
                if replica_set.revision > entry.0 {
                    *entry = (replica_set.revision, hash);
                }
            }
        }
        let current_hash = newest
            .into_iter()
            .map(|(workload, (_, hash))| (workload, hash))
            .collect();

        let mut pods_on_node = vec![Vec::new(); cluster.nodes.len()];
        let mut node_requested = vec![Resources::default(); cluster.nodes.len()];
        let mut pod_node = Vec::with_capacity(cluster.pods.len());
        let mut pod_workload = Vec::with_capacity(cluster.pods.len());
        let mut pods_by_namespace: HashMap<&str, Vec<PodId>> = HashMap::new();
        for (id, pod) in cluster.pods.iter().enumerate() {
            let node = pod
                .node_name
                .as_deref()
                .and_then(|name| node_ids.get(name).copied());
            // The scheduler's cache holds bound pods that are not Succeeded or Failed;
            // terminating ones still hold their resources.
            if let Some(node) = node.filter(|_| !pod.phase.is_terminal()) {
                pods_on_node[node].push(id);
                node_requested[node] = node_requested[node].plus(Resources {
                    pods: 1,
                    ..pod.spec.requests
                });
            }
            pod_node.push(node);
            pod_workload.push(Self::owning_workload(
                pod,
                &workload_ids,
                &replica_set_owner,
                cluster,
            ));
            pods_by_namespace
                .entry(&pod.namespace)
                .or_default()
                .push(id);
        }

        let claims = cluster
            .claims
            .iter()
            .enumerate()
            .map(|(id, claim)| ((&*claim.namespace, claim.name.as_str()), id))
            .collect();
        let volumes = cluster
            .volumes
            .iter()
            .enumerate()
            .map(|(id, volume)| (volume.name.as_str(), id))
            .collect();
        let mut pdbs_by_namespace: HashMap<&str, Vec<usize>> = HashMap::new();
        for (id, pdb) in cluster.pdbs.iter().enumerate() {
            pdbs_by_namespace
                .entry(&pdb.namespace)
                .or_default()
                .push(id);
        }

        Self {
            cluster,
            node_ids,
            pods_on_node,
            node_requested,
            pod_node,
            pod_workload,
            pods_by_namespace,
            workloads_by_namespace,
            workload_ids,
            current_hash,
            claims,
            volumes,
            pdbs_by_namespace,
        }
    }

    fn owning_workload(
        pod: &Pod,
        workload_ids: &HashMap<(&str, WorkloadKind, &str), WorkloadId>,
        replica_set_owner: &HashMap<(&str, &str), WorkloadId>,
        cluster: &Cluster,
    ) -> Option<WorkloadId> {
        let owner = pod.owner.as_ref()?;
        let workload = match owner.kind.as_str() {
            "ReplicaSet" => *replica_set_owner.get(&(&*pod.namespace, owner.name.as_str()))?,
            "StatefulSet" => {
                let key = (
                    &*pod.namespace,
                    WorkloadKind::StatefulSet,
                    owner.name.as_str(),
                );
                let id = *workload_ids.get(&key)?;
                if !owner.uid.is_empty() && owner.uid != cluster.workloads[id].uid {
                    return None;
                }
                id
            }
            _ => return None,
        };
        Some(workload)
    }

    /// A node by name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_ids.get(name).copied()
    }

    /// A node.
    pub fn node(&self, id: NodeId) -> &'a Node {
        &self.cluster.nodes[id]
    }

    /// A pod.
    pub fn pod(&self, id: PodId) -> &'a Pod {
        &self.cluster.pods[id]
    }

    /// A workload.
    pub fn workload(&self, id: WorkloadId) -> &'a Workload {
        &self.cluster.workloads[id]
    }

    /// The pods of a namespace (all phases).
    pub fn pods_in(&self, namespace: &str) -> &[PodId] {
        self.pods_by_namespace
            .get(namespace)
            .map_or(&[], Vec::as_slice)
    }

    /// The Deployments and StatefulSets of a namespace.
    pub fn workloads_in(&self, namespace: &str) -> &[WorkloadId] {
        self.workloads_by_namespace
            .get(namespace)
            .map_or(&[], Vec::as_slice)
    }

    /// A workload by namespace, kind and name.
    pub fn workload_id(
        &self,
        namespace: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Option<WorkloadId> {
        self.workload_ids.get(&(namespace, kind, name)).copied()
    }

    /// The `pod-template-hash` of a Deployment's newest ReplicaSet.
    pub fn current_hash(&self, workload: WorkloadId) -> Option<&'a str> {
        self.current_hash.get(&workload).copied()
    }

    /// A claim by namespace and name.
    pub fn claim(&self, namespace: &str, name: &str) -> Option<&'a super::model::Claim> {
        let id = *self.claims.get(&(namespace, name))?;
        Some(&self.cluster.claims[id])
    }

    /// A PersistentVolume by name.
    pub fn volume(&self, name: &str) -> Option<&'a super::model::Volume> {
        let id = *self.volumes.get(name)?;
        Some(&self.cluster.volumes[id])
    }

    /// The PodDisruptionBudgets of a namespace.
    pub fn pdbs_in(&self, namespace: &str) -> impl Iterator<Item = usize> + '_ {
        self.pdbs_by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .copied()
    }
}
