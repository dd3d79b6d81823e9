//! Lookups over a [`Cluster`] built once per plan: pods per node and namespace, owners,
//! claims, budgets, and what each node has committed. Read-only; the plan keeps its own overlay.

use std::{collections::BTreeSet, sync::Arc};

use rustc_hash::FxHashMap as HashMap;

use super::model::{Cluster, Node, Owner, Pod, Resources, Workload};
use crate::{
    keys::{Keys, Owners},
    model::WorkloadKind,
};

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
    /// Adds a pod whose labels object is `object`; `labels` reads them from the pod, only
    /// for the first pod of a set.
    fn add(
        &mut self,
        pod: PodId,
        object: usize,
        labels: impl FnOnce() -> &'a super::model::Labels,
    ) {
        self.pods.push(pod);
        let position = match self.last {
            Some((last, position)) if last == object => position,
            _ => {
                let sets = &mut self.label_sets;
                let position = *self.label_set_ids.entry(object).or_insert_with(|| {
                    sets.push(LabelSet {
                        labels: labels(),
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

/// What the index reads of one pod. A pod is immutable behind its `Arc`, so the same pod
/// object has the same facts in the next cluster, as long as the nodes, the workloads' keys
/// and the ReplicaSets are as they were (positions and owners are read from those).
/// 32 bytes: a memo holds one per pod.
#[derive(Clone, Copy, Debug)]
struct PodFacts {
    /// Which namespace object and labels object it carries (their addresses: pods of one
    /// namespace, and of one template, share them).
    namespace: usize,
    labels: usize,
    /// Its node, if bound to a known node.
    node: Position,
    /// The Deployment or StatefulSet that controls it.
    workload: Position,
    /// Whether the scheduler's cache holds it (bound to that node, not Succeeded/Failed).
    held: bool,
}

/// A position in a list, or none, in four bytes. (A list of four billion nodes or workloads,
/// whose positions would not fit, could not be held in memory.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position(Option<std::num::NonZeroU32>);

impl Position {
    pub(crate) fn of(position: Option<usize>) -> Self {
        Self(
            position
                .and_then(|position| position.checked_add(1))
                .and_then(|stored| u32::try_from(stored).ok())
                .and_then(std::num::NonZeroU32::new),
        )
    }

    pub(crate) fn get(self) -> Option<usize> {
        self.0
            .and_then(|stored| usize::try_from(stored.get()).ok())
            .map(|stored| stored - 1)
    }
}

/// The summed requests of the pods on a node, exactly: the same whatever the order they are
/// added and taken away in. (A plain `Resources` sum saturates, after which taking a pod away
/// would not give back the sum without it.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Total {
    cpu_millis: i128,
    memory_bytes: i128,
    pods: i128,
}

impl Total {
    /// What one pod held on the node counts.
    fn of(pod: &Pod) -> Self {
        let requests = pod.spec.requests;
        Self {
            cpu_millis: requests.cpu_millis.into(),
            memory_bytes: requests.memory_bytes.into(),
            pods: 1,
        }
    }

    fn add(&mut self, other: Self) {
        self.cpu_millis += other.cpu_millis;
        self.memory_bytes += other.memory_bytes;
        self.pods += other.pods;
    }

    fn take(&mut self, other: Self) {
        self.cpu_millis -= other.cpu_millis;
        self.memory_bytes -= other.memory_bytes;
        self.pods -= other.pods;
    }

    /// As resources, each amount held to what an `i64` can say.
    fn clamped(self) -> Resources {
        let clamp = |amount: i128| {
            i64::try_from(amount).unwrap_or(if amount < 0 { i64::MIN } else { i64::MAX })
        };
        Resources {
            cpu_millis: clamp(self.cpu_millis),
            memory_bytes: clamp(self.memory_bytes),
            pods: clamp(self.pods),
        }
    }
}

/// What an index leaves to the next one, so that an index of a cluster that changed little
/// reads only the pods that changed (see [`Index::after`]).
#[derive(Debug)]
pub struct Memo {
    /// The pod list it was taken of (address and length): a memo handed with another cluster
    /// than its own is not read.
    pods: (usize, usize),
    facts: Vec<PodFacts>,
    totals: Vec<Total>,
    /// The nodes' order by name, and their ranks in it.
    by_name: Vec<NodeId>,
    node_rank: Vec<u32>,
    /// What the ReplicaSets said of the Deployments.
    owners: Arc<Owners>,
}

impl Memo {
    /// Whether it was taken of `cluster`'s pods.
    fn is_of(&self, cluster: &Cluster) -> bool {
        self.pods == (cluster.pods.as_ptr() as usize, cluster.pods.len())
    }
}

/// Reads a pod's facts, remembering the last node name object and owner (pods come in runs
/// of one owner and one node name object, shared by the snapshot's interner).
struct Reader<'i, 'a> {
    cluster: &'a Cluster,
    by_name: &'i [NodeId],
    owning: &'i Owning<'a>,
    node_by_name_object: HashMap<usize, Option<NodeId>>,
    last_node: Option<(usize, Option<NodeId>)>,
    last_owner: Option<(usize, &'a str, &'a Owner, Option<WorkloadId>)>,
}

impl<'a> Reader<'_, 'a> {
    fn read(&mut self, pod: &'a Pod) -> PodFacts {
        let node = pod.node_name.as_ref().and_then(|name| {
            let object = Arc::as_ptr(name).cast::<u8>() as usize;
            match self.last_node {
                Some((last, node)) if last == object => node,
                _ => {
                    let (nodes, by_name) = (&self.cluster.nodes, self.by_name);
                    let node = *self
                        .node_by_name_object
                        .entry(object)
                        .or_insert_with(|| node_named(nodes, by_name, name));
                    self.last_node = Some((object, node));
                    node
                }
            }
        });
        let namespace = pod.namespace.as_ptr() as usize;
        // The same owner (kind, name and uid: a StatefulSet may be named as a ReplicaSet is,
        // and a pod may name an owner's earlier uid) in the same namespace.
        let workload = match (&pod.owner, self.last_owner) {
            (Some(owner), Some((last_namespace, namespace_name, last, workload)))
                if (last_namespace == namespace || namespace_name == &*pod.namespace)
                    && last == owner =>
            {
                workload
            }
            _ => {
                let workload = self.owning.workload_of(pod);
                self.last_owner = pod
                    .owner
                    .as_ref()
                    .map(|owner| (namespace, &*pod.namespace, owner, workload));
                workload
            }
        };
        PodFacts {
            namespace,
            labels: Arc::as_ptr(&pod.labels) as usize,
            node: Position::of(node),
            workload: Position::of(workload),
            // The scheduler's cache holds bound pods that are not Succeeded or Failed;
            // terminating ones still hold their resources.
            held: node.is_some() && !pod.phase.is_terminal(),
        }
    }
}

/// A workload and its pods, found without indexing the whole cluster: what following a move
/// in flight needs, at the cost of one pass over the pods instead of an [`Index`]. It answers
/// as an index of the same cluster would.
#[derive(Debug)]
pub struct Owning<'a> {
    cluster: &'a Cluster,
    keys: Keys<'a>,
    /// Shared with the memo, which carries it to the next plan while it holds.
    owners: Arc<Owners>,
}

impl<'a> Owning<'a> {
    /// The lookups of `cluster`.
    pub fn new(cluster: &'a Cluster) -> Self {
        Self::with(cluster, None)
    }

    /// The lookups of `cluster`, taking `owners` over when given (read of the same
    /// workloads' keys and ReplicaSets).
    fn with(cluster: &'a Cluster, owners: Option<Arc<Owners>>) -> Self {
        let keys = Keys::new(cluster);
        let owners = owners.unwrap_or_else(|| Arc::new(Owners::of(&keys)));
        Self {
            cluster,
            keys,
            owners,
        }
    }

    /// The Deployment or StatefulSet that controls a pod (through its ReplicaSet).
    fn workload_of(&self, pod: &Pod) -> Option<WorkloadId> {
        let owner = pod.owner.as_ref()?;
        match &*owner.kind {
            "ReplicaSet" => self
                .owners
                .deployment_of(self.keys.replica_set(&pod.namespace, &owner.name)?),
            "StatefulSet" => {
                let key = (&*pod.namespace, WorkloadKind::StatefulSet, &*owner.name);
                let id = self.keys.workload(key)?;
                let uid = &self.cluster.workloads.get(id)?.uid;
                (owner.uid.is_empty() || *owner.uid == **uid).then_some(id)
            }
            _ => None,
        }
    }

    /// A workload by namespace, kind and name.
    pub fn workload_id(
        &self,
        namespace: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Option<WorkloadId> {
        self.keys.workload((namespace, kind, name))
    }

    /// The pods a workload controls, in the pods' order, as [`Index::pods_of`] lists them.
    pub fn pods_of(&self, workload: WorkloadId) -> Vec<&'a Pod> {
        let Some(namespace) = self.cluster.workloads.get(workload).map(|w| &*w.namespace) else {
            return Vec::new();
        };
        self.cluster
            .pods
            .iter()
            .filter(|pod| &*pod.namespace == namespace)
            .filter(|pod| self.workload_of(pod) == Some(workload))
            .map(AsRef::as_ref)
            .collect()
    }
}

/// Where each namespace's pods are in the pod list, from their facts: runs of neighbours
/// that carry one namespace object (one run per namespace when the pods are in namespace
/// order). A pod is read only where a run starts.
#[allow(clippy::type_complexity)]
fn by_namespace<'a>(
    cluster: &'a Cluster,
    facts: &[PodFacts],
) -> (Vec<NamespaceRuns<'a>>, HashMap<&'a str, usize>) {
    let mut namespaces: Vec<NamespaceRuns<'_>> = Vec::new();
    let mut namespace_ids: HashMap<&str, usize> = HashMap::default();
    let mut start = 0;
    while let (Some(pod), Some(first)) = (cluster.pods.get(start), facts.get(start)) {
        let length = facts[start..]
            .iter()
            .take_while(|facts| facts.namespace == first.namespace)
            .count();
        let position = *namespace_ids.entry(&pod.namespace).or_insert_with(|| {
            namespaces.push(NamespaceRuns::default());
            namespaces.len() - 1
        });
        namespaces[position].runs.push(start..start + length);
        start += length;
    }
    (namespaces, namespace_ids)
}

/// Whether two workload lists name the same workloads at the same positions (their specs
/// and statuses may differ: the index reads only who they are).
fn same_workloads(before: &[Arc<Workload>], now: &[Arc<Workload>]) -> bool {
    before.len() == now.len()
        && before.iter().zip(now).all(|(a, b)| {
            Arc::ptr_eq(a, b)
                || (a.kind == b.kind
                    && a.namespace == b.namespace
                    && a.name == b.name
                    && a.uid == b.uid)
        })
}

/// Reads the pods of `reader`'s cluster after `before`, whose pods `memo` read: the facts of
/// each pod that is still the same object are taken over, the others read; the nodes' totals
/// lose what the pods gone held and gain what the new ones hold. Also says in which
/// namespaces pods changed.
///
/// Both lists are walked together in the model's order (namespace, name), which the stores'
/// pictures keep; in another order a pod may be read although it did not change, never the
/// other way round.
fn read_changes<'a>(
    reader: &mut Reader<'_, 'a>,
    before: &Cluster,
    memo: &Memo,
) -> (Vec<PodFacts>, Vec<Total>, BTreeSet<String>) {
    let now = &reader.cluster.pods;
    let mut facts = Vec::with_capacity(now.len());
    let mut totals = memo.totals.clone();
    let mut changed: BTreeSet<String> = BTreeSet::new();
    let mut note = |namespace: &str| {
        if !changed.contains(namespace) {
            changed.insert(namespace.to_owned());
        }
    };
    let (mut then, mut current) = (before.pods.iter().zip(&memo.facts).peekable(), now.iter());
    let mut next = current.next();
    loop {
        let gone = match (then.peek(), next) {
            (Some((old, _)), Some(pod)) if Arc::ptr_eq(old, pod) => {
                if let Some((_, old_facts)) = then.next() {
                    facts.push(*old_facts);
                }
                next = current.next();
                continue;
            }
            (Some((old, _)), Some(pod)) => pod_order(old, pod).is_le(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if gone {
            // Gone, or replaced by the pod of the same name read next.
            if let Some((old, old_facts)) = then.next() {
                if let (true, Some(node)) = (old_facts.held, old_facts.node.get())
                    && let Some(total) = totals.get_mut(node)
                {
                    total.take(Total::of(old));
                }
                note(&old.namespace);
            }
        } else if let Some(pod) = next {
            let read = reader.read(pod);
            if let (true, Some(node)) = (read.held, read.node.get())
                && let Some(total) = totals.get_mut(node)
            {
                total.add(Total::of(pod));
            }
            facts.push(read);
            note(&pod.namespace);
            next = current.next();
        }
    }
    (facts, totals, changed)
}

/// Orders two pods by namespace and name (the model's order).
fn pod_order(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    (&*a.namespace, a.name.as_str()).cmp(&(&*b.namespace, b.name.as_str()))
}

/// Where one namespace's pods are, and their grouping by labels, made the first time a
/// plan asks (most observations plan a few namespaces of a thousand).
#[derive(Debug, Default)]
struct NamespaceRuns<'a> {
    runs: Vec<std::ops::Range<PodId>>,
    pods: std::sync::OnceLock<NamespacePods<'a>>,
}

/// Lookups over one cluster.
#[derive(Debug)]
pub struct Index<'a> {
    /// The cluster indexed.
    pub cluster: &'a Cluster,
    /// The nodes in name order (and position order among equal names).
    by_name: Vec<NodeId>,
    /// Per node: its position among the nodes sorted by name (cheap name comparisons).
    pub node_rank: Vec<u32>,
    /// The pods the scheduler's cache holds on each node (bound, not Succeeded/Failed),
    /// node after node; `on_node_start[n]..on_node_start[n + 1]` are node n's.
    on_node: Vec<PodId>,
    on_node_start: Vec<usize>,
    /// Per node: the summed requests of those pods, and their number in `pods`.
    pub node_requested: Vec<Resources>,
    /// The pods of each workload, workload after workload, as `on_node` is laid out.
    by_workload: Vec<PodId>,
    by_workload_start: Vec<usize>,
    namespaces: Vec<NamespaceRuns<'a>>,
    namespace_ids: HashMap<&'a str, usize>,
    owning: Owning<'a>,
    claims: HashMap<(&'a str, &'a str), usize>,
    volumes: HashMap<&'a str, usize>,
    pdbs_by_namespace: HashMap<&'a str, Vec<usize>>,
    /// What the next index may take over.
    memo: Memo,
    /// The namespaces whose pods differ from those of the cluster the memo read was taken of
    /// (None: no memo was read).
    pods_changed_in: Option<BTreeSet<String>>,
}

impl<'a> Index<'a> {
    /// Indexes a cluster.
    pub fn new(cluster: &'a Cluster) -> Self {
        Self::after(cluster, None)
    }

    /// Indexes a cluster, taking over from `previous` (an earlier cluster and the memo its
    /// index left, see [`Index::memo`]) what it read of every pod that is still the same
    /// object: only the pods that changed are read, as long as the nodes, the workloads'
    /// keys and the ReplicaSets are as they were (otherwise every pod is read again). The
    /// index is the same either way.
    pub fn after(cluster: &'a Cluster, previous: Option<(&Cluster, &Memo)>) -> Self {
        // The nodes' order by name reads only the nodes: over the list the memo's index read,
        // it is that index's.
        let (by_name, node_rank) = match previous {
            Some((before, memo))
                if memo.is_of(before)
                    && before.nodes.is(&cluster.nodes)
                    && memo.by_name.len() == cluster.nodes.len() =>
            {
                (memo.by_name.clone(), memo.node_rank.clone())
            }
            _ => node_ranks(cluster),
        };

        // What the ReplicaSets say of the Deployments reads only them and the workloads' keys:
        // while those are as they were, it is the memo's.
        let same_owners = previous.is_some_and(|(before, memo)| {
            memo.is_of(before)
                && before.replica_sets.is(&cluster.replica_sets)
                && same_workloads(&before.workloads, &cluster.workloads)
        });
        let owning = Owning::with(
            cluster,
            previous
                .filter(|_| same_owners)
                .map(|(_, memo)| Arc::clone(&memo.owners)),
        );

        let mut reader = Reader {
            cluster,
            by_name: &by_name,
            owning: &owning,
            node_by_name_object: HashMap::default(),
            last_node: None,
            last_owner: None,
        };
        let previous = previous.filter(|(before, memo)| {
            same_owners
                && memo.facts.len() == before.pods.len()
                && memo.totals.len() == cluster.nodes.len()
                && before.nodes.is(&cluster.nodes)
        });
        let (facts, totals, pods_changed_in) = match previous {
            Some((before, memo)) => {
                let (facts, totals, changed) = read_changes(&mut reader, before, memo);
                (facts, totals, Some(changed))
            }
            None => {
                let facts: Vec<PodFacts> =
                    cluster.pods.iter().map(|pod| reader.read(pod)).collect();
                let mut totals = vec![Total::default(); cluster.nodes.len()];
                for (pod, facts) in cluster.pods.iter().zip(&facts) {
                    if let (true, Some(node)) = (facts.held, facts.node.get()) {
                        totals[node].add(Total::of(pod));
                    }
                }
                (facts, totals, None)
            }
        };

        let node_requested: Vec<Resources> = totals.iter().map(|total| total.clamped()).collect();
        let (namespaces, namespace_ids) = by_namespace(cluster, &facts);

        // The pods the scheduler's cache holds, by node; every pod, by workload.
        let (on_node, on_node_start) = bucket(&facts, cluster.nodes.len(), |facts| {
            facts.node.get().filter(|_| facts.held)
        });
        let (by_workload, by_workload_start) = bucket(&facts, cluster.workloads.len(), |facts| {
            facts.workload.get()
        });

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
        let owners = Arc::clone(&owning.owners);

        Self {
            cluster,
            by_name,
            node_rank,
            on_node,
            on_node_start,
            node_requested,
            by_workload,
            by_workload_start,
            namespaces,
            namespace_ids,
            owning,
            claims,
            volumes,
            pdbs_by_namespace,
            memo: Memo {
                pods: (cluster.pods.as_ptr() as usize, cluster.pods.len()),
                facts,
                totals,
                by_name: Vec::new(),
                node_rank: Vec::new(),
                owners,
            },
            pods_changed_in,
        }
    }

    /// What the next index of a later cluster may take over from this one: hand it to
    /// [`Index::after`] with this index's cluster.
    pub fn memo(self) -> Memo {
        Memo {
            by_name: self.by_name,
            node_rank: self.node_rank,
            ..self.memo
        }
    }

    /// The namespaces whose pods changed since the cluster of the memo this index was built
    /// after (None when it read no memo).
    pub fn pods_changed_in(&self) -> Option<&BTreeSet<String>> {
        self.pods_changed_in.as_ref()
    }

    /// A node by name.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        node_named(&self.cluster.nodes, &self.by_name, name)
    }

    /// A node.
    pub fn node(&self, id: NodeId) -> &'a Node {
        &self.cluster.nodes[id]
    }

    /// The node a pod is bound to, if it is one of the cluster's nodes.
    pub fn pod_node(&self, id: PodId) -> Option<NodeId> {
        self.memo.facts.get(id).and_then(|facts| facts.node.get())
    }

    /// The Deployment or StatefulSet that controls a pod (through its ReplicaSet).
    pub fn pod_workload(&self, id: PodId) -> Option<WorkloadId> {
        self.memo
            .facts
            .get(id)
            .and_then(|facts| facts.workload.get())
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
        let entry = self.namespaces.get(*self.namespace_ids.get(namespace)?)?;
        Some(entry.pods.get_or_init(|| {
            let mut pods = NamespacePods::default();
            for id in entry.runs.iter().flat_map(Clone::clone) {
                if let (Some(pod), Some(facts)) =
                    (self.cluster.pods.get(id), self.memo.facts.get(id))
                {
                    pods.add(id, facts.labels, || &pod.labels);
                }
            }
            pods
        }))
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
        self.owning.keys.workloads_in(namespace)
    }

    /// Its lookups of workloads (by namespace, kind and name) and of their pods' owners.
    pub fn owning(&self) -> &Owning<'a> {
        &self.owning
    }

    /// The `pod-template-hash` of a Deployment's newest ReplicaSet.
    pub fn current_hash(&self, workload: WorkloadId) -> Option<&'a str> {
        let newest = self.owning.owners.newest_of(workload)?;
        self.cluster
            .replica_sets
            .get(newest)?
            .template_hash
            .as_deref()
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
fn bucket(
    facts: &[PodFacts],
    keys: usize,
    key_of: impl Fn(&PodFacts) -> Option<usize>,
) -> (Vec<PodId>, Vec<usize>) {
    let mut start = vec![0usize; keys + 1];
    for key in facts.iter().filter_map(&key_of) {
        start[key + 1] += 1;
    }
    for key in 0..keys {
        start[key + 1] += start[key];
    }
    let mut next = start.clone();
    let mut pods = vec![0; start[keys]];
    for (pod, facts) in facts.iter().enumerate() {
        if let Some(key) = key_of(facts) {
            pods[next[key]] = pod;
            next[key] += 1;
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

/// The nodes in name order (position order among equal names), and each node's rank in it,
/// which breaks the planner's ties.
fn node_ranks(cluster: &Cluster) -> (Vec<NodeId>, Vec<u32>) {
    let mut by_name: Vec<NodeId> = (0..cluster.nodes.len()).collect();
    by_name.sort_by(|&a, &b| cluster.nodes[a].name.cmp(&cluster.nodes[b].name));
    let mut node_rank = vec![0u32; cluster.nodes.len()];
    for (rank, &node) in by_name.iter().enumerate() {
        node_rank[node] = u32::try_from(rank).unwrap_or(u32::MAX);
    }
    (by_name, node_rank)
}

/// The node named `name` (the last of several so named), by bisection of `by_name`.
fn node_named(nodes: &[Node], by_name: &[NodeId], name: &str) -> Option<NodeId> {
    let after =
        by_name.partition_point(|&id| nodes.get(id).is_some_and(|node| node.name.as_str() <= name));
    let last = *by_name.get(after.checked_sub(1)?)?;
    (nodes.get(last)?.name == name).then_some(last)
}

/// Each namespace's PodDisruptionBudgets.
fn pdbs_by_namespace(cluster: &Cluster) -> HashMap<&str, Vec<usize>> {
    let mut pdbs: HashMap<&str, Vec<usize>> = HashMap::default();
    for (id, pdb) in cluster.pdbs.iter().enumerate() {
        pdbs.entry(&pdb.namespace).or_default().push(id);
    }
    pdbs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_holds_32_bytes_per_pod() {
        assert_eq!(std::mem::size_of::<PodFacts>(), 32);
    }

    #[test]
    fn a_position_reads_back_as_it_was_kept() {
        for position in [
            None,
            Some(0),
            Some(1),
            Some(4_999),
            Some(u32::MAX as usize - 1),
        ] {
            assert_eq!(Position::of(position).get(), position);
        }
    }
}
