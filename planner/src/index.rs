//! Lookups over a [`Cluster`] built once per plan: pods per node and namespace, owners,
//! claims, budgets, and what each node has committed. Read-only; the plan keeps its own overlay.

use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;

use super::model::{Cluster, Node, Pod, Resources, Workload};
use crate::model::WorkloadKind;

/// Position of a node in `Cluster::nodes`.
pub type NodeId = usize;
/// Position of a pod in `Cluster::pods`.
pub type PodId = usize;
/// Position of a workload in `Cluster::workloads`.
pub type WorkloadId = usize;

/// Pods of one namespace that share one set of labels (pods of one template share theirs).
#[derive(Debug)]
pub struct LabelSet<'a> {
    /// The labels.
    pub labels: &'a super::model::Labels,
    /// The pods carrying exactly these labels.
    pub pods: Vec<PodId>,
}

/// The pods of one namespace, also grouped by shared labels.
#[derive(Debug, Default)]
struct NamespacePods<'a> {
    pods: Vec<PodId>,
    label_sets: Vec<LabelSet<'a>>,
    label_set_ids: HashMap<usize, usize>,
    /// The labels object added last and its set: pods of one template come in runs.
    last: Option<(usize, usize)>,
}

impl<'a> NamespacePods<'a> {
    fn add(&mut self, pod: PodId, labels: &'a Arc<super::model::Labels>) {
        self.pods.push(pod);
        let object = Arc::as_ptr(labels) as usize;
        let position = match self.last {
            Some((last, position)) if last == object => position,
            _ => {
                let sets = &mut self.label_sets;
                let position = *self.label_set_ids.entry(object).or_insert_with(|| {
                    sets.push(LabelSet {
                        labels,
                        pods: Vec::new(),
                    });
                    sets.len() - 1
                });
                self.last = Some((object, position));
                position
            }
        };
        self.label_sets[position].pods.push(pod);
    }
}

/// Lookups over one cluster.
#[derive(Debug)]
pub struct Index<'a> {
    /// The cluster indexed.
    pub cluster: &'a Cluster,
    node_ids: HashMap<&'a str, NodeId>,
    /// Per node: its position among the nodes sorted by name (cheap name comparisons).
    pub node_rank: Vec<u32>,
    /// The pods the scheduler's cache holds on each node (bound, not Succeeded/Failed),
    /// node after node; `on_node_start[n]..on_node_start[n + 1]` are node n's.
    on_node: Vec<PodId>,
    on_node_start: Vec<usize>,
    /// Per node: the summed requests of those pods, and their number in `pods`.
    pub node_requested: Vec<Resources>,
    /// Per pod: its node, if bound to a known node.
    pub pod_node: Vec<Option<NodeId>>,
    /// Per pod: the Deployment or StatefulSet that controls it (through its ReplicaSet).
    pub pod_workload: Vec<Option<WorkloadId>>,
    /// The pods of each workload, workload after workload, as `on_node` is laid out.
    by_workload: Vec<PodId>,
    by_workload_start: Vec<usize>,
    namespaces: Vec<NamespacePods<'a>>,
    namespace_ids: HashMap<&'a str, usize>,
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

        let mut workload_ids =
            HashMap::with_capacity_and_hasher(cluster.workloads.len(), Default::default());
        let mut workloads_by_namespace: HashMap<&str, Vec<WorkloadId>> = HashMap::default();
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

        let (replica_set_owner, current_hash) = Self::replica_set_owners(cluster, &workload_ids);

        let node_rank = node_ranks(cluster);
        let mut node_requested = vec![Resources::default(); cluster.nodes.len()];
        let mut pod_node = Vec::with_capacity(cluster.pods.len());
        // Per pod: its node when the scheduler's cache holds it (bound, not Succeeded/Failed).
        let mut cached: Vec<Option<NodeId>> = Vec::with_capacity(cluster.pods.len());
        let mut pod_workload = Vec::with_capacity(cluster.pods.len());
        let mut namespaces: Vec<NamespacePods<'_>> = Vec::new();
        let mut namespace_ids: HashMap<&str, usize> = HashMap::default();
        // Pods come in runs of one namespace, one owner and one node name object (shared by
        // the snapshot's interner), so the last lookups are remembered.
        let mut last_namespace: Option<(*const u8, usize)> = None;
        let mut last_owner: Option<(&str, &str, Option<WorkloadId>)> = None;
        let mut node_by_name_object: HashMap<usize, Option<NodeId>> = HashMap::default();
        let mut last_node: Option<(usize, Option<NodeId>)> = None;
        for (id, pod) in cluster.pods.iter().enumerate() {
            let node = pod.node_name.as_ref().and_then(|name| {
                let object = Arc::as_ptr(name).cast::<u8>() as usize;
                match last_node {
                    Some((last, node)) if last == object => node,
                    _ => {
                        let node = *node_by_name_object
                            .entry(object)
                            .or_insert_with(|| node_ids.get(&**name).copied());
                        last_node = Some((object, node));
                        node
                    }
                }
            });
            // The scheduler's cache holds bound pods that are not Succeeded or Failed;
            // terminating ones still hold their resources.
            let held = node.filter(|_| !pod.phase.is_terminal());
            if let Some(node) = held {
                node_requested[node] = node_requested[node].plus(Resources {
                    pods: 1,
                    ..pod.spec.requests
                });
            }
            cached.push(held);
            pod_node.push(node);

            let workload = match (&pod.owner, last_owner) {
                (Some(owner), Some((namespace, name, workload)))
                    if namespace == &*pod.namespace && name == owner.name =>
                {
                    workload
                }
                _ => {
                    let workload =
                        Self::owning_workload(pod, &workload_ids, &replica_set_owner, cluster);
                    last_owner = pod
                        .owner
                        .as_ref()
                        .map(|owner| (&*pod.namespace, owner.name.as_str(), workload));
                    workload
                }
            };
            pod_workload.push(workload);

            let namespace_ptr = pod.namespace.as_ptr();
            let position = match last_namespace {
                Some((ptr, position)) if ptr == namespace_ptr => position,
                _ => {
                    let position = *namespace_ids.entry(&pod.namespace).or_insert_with(|| {
                        namespaces.push(NamespacePods::default());
                        namespaces.len() - 1
                    });
                    last_namespace = Some((namespace_ptr, position));
                    position
                }
            };
            namespaces[position].add(id, &pod.labels);
        }

        let (on_node, on_node_start) = bucket(&cached, cluster.nodes.len());
        let (by_workload, by_workload_start) = bucket(&pod_workload, cluster.workloads.len());

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
        let pdbs_by_namespace = pdbs_by_namespace(cluster);

        Self {
            cluster,
            node_ids,
            node_rank,
            on_node,
            on_node_start,
            node_requested,
            pod_node,
            pod_workload,
            by_workload,
            by_workload_start,
            namespaces,
            namespace_ids,
            workloads_by_namespace,
            workload_ids,
            current_hash,
            claims,
            volumes,
            pdbs_by_namespace,
        }
    }

    /// Each ReplicaSet's controlling Deployment (by namespace and name), and each Deployment's
    /// newest pod-template-hash.
    #[allow(clippy::type_complexity)]
    fn replica_set_owners(
        cluster: &'a Cluster,
        workload_ids: &HashMap<(&'a str, WorkloadKind, &'a str), WorkloadId>,
    ) -> (
        HashMap<(&'a str, &'a str), WorkloadId>,
        HashMap<WorkloadId, &'a str>,
    ) {
        let mut replica_set_owner: HashMap<(&str, &str), WorkloadId> = HashMap::default();
        let mut newest: HashMap<WorkloadId, (i64, &str)> = HashMap::default();
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
        (replica_set_owner, current_hash)
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

    fn namespace(&self, namespace: &str) -> Option<&NamespacePods<'a>> {
        self.namespaces.get(*self.namespace_ids.get(namespace)?)
    }

    /// The pods of a namespace (all phases).
    pub fn pods_in(&self, namespace: &str) -> &[PodId] {
        self.namespace(namespace)
            .map_or(&[], |pods| pods.pods.as_slice())
    }

    /// The pods a workload controls.
    pub fn pods_of(&self, workload: WorkloadId) -> &[PodId] {
        slice(&self.by_workload, &self.by_workload_start, workload)
    }

    /// The pods the scheduler's cache holds on a node (bound, not Succeeded or Failed).
    pub fn pods_on(&self, node: NodeId) -> &[PodId] {
        slice(&self.on_node, &self.on_node_start, node)
    }

    /// The pods of a namespace, by the set of labels they share.
    pub fn label_sets_in(&self, namespace: &str) -> &[LabelSet<'a>] {
        self.namespace(namespace)
            .map_or(&[], |pods| pods.label_sets.as_slice())
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

/// Pods grouped by a key below `keys` (a counting sort): the pods, key after key, and where
/// each key's run starts.
fn bucket(key_of: &[Option<usize>], keys: usize) -> (Vec<PodId>, Vec<usize>) {
    let mut start = vec![0usize; keys + 1];
    for key in key_of.iter().flatten() {
        start[key + 1] += 1;
    }
    for key in 0..keys {
        start[key + 1] += start[key];
    }
    let mut next = start.clone();
    let mut pods = vec![0; start[keys]];
    for (pod, key) in key_of.iter().enumerate() {
        if let Some(key) = key {
            pods[next[*key]] = pod;
            next[*key] += 1;
        }
    }
    (pods, start)
}

fn slice<'s>(pods: &'s [PodId], start: &[usize], key: usize) -> &'s [PodId] {
    match (start.get(key), start.get(key + 1)) {
        (Some(&from), Some(&to)) => pods.get(from..to).unwrap_or(&[]),
        _ => &[],
    }
}

/// Each node's rank in name order, which breaks the planner's ties.
fn node_ranks(cluster: &Cluster) -> Vec<u32> {
    let mut by_name: Vec<NodeId> = (0..cluster.nodes.len()).collect();
    by_name.sort_unstable_by(|&a, &b| cluster.nodes[a].name.cmp(&cluster.nodes[b].name));
    let mut node_rank = vec![0u32; cluster.nodes.len()];
    for (rank, &node) in by_name.iter().enumerate() {
        node_rank[node] = u32::try_from(rank).unwrap_or(u32::MAX);
    }
    node_rank
}

/// Each namespace's PodDisruptionBudgets.
fn pdbs_by_namespace(cluster: &Cluster) -> HashMap<&str, Vec<usize>> {
    let mut pdbs: HashMap<&str, Vec<usize>> = HashMap::default();
    for (id, pdb) in cluster.pdbs.iter().enumerate() {
        pdbs.entry(&pdb.namespace).or_default().push(id);
    }
    pdbs
}
