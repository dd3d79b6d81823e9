//! The planner's index of a cluster that changed since the last one reads only the pods that
//! changed (`Index::after`), and says the same as an index read from scratch. Random streams
//! of changes are replayed on a small cluster, each index taken after the one before (so that
//! what each hands on is checked across many changes); after every change everything the
//! index answers is compared with a fresh index of the same cluster.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use kube_spread::planner::{
    index::{Index, Memo},
    model::{Cluster, Pod, PodPhase, Workload},
};
use proptest::prelude::*;
use support::model::*;

const NODES: usize = 4;
const NAMESPACES: [&str; 3] = ["ns0", "ns1", "ns2"];
const WORKLOADS: [&str; 2] = ["api", "web"];

#[derive(Clone, Copy, Debug)]
enum Change {
    /// A pod of a workload, bound to a node or not (yet).
    AddPod {
        namespace: usize,
        workload: usize,
        node: Option<usize>,
    },
    /// The `nth` pod (modulo their number) deleted.
    RemovePod { nth: usize },
    /// A pod bound to another node, or to none.
    Rebind { nth: usize, node: Option<usize> },
    /// A pod finishing, or running again.
    Phase { nth: usize, phase: usize },
    /// A pod's CPU request changed (huge ones included, whose sums an i64 cannot hold).
    Requests { nth: usize, cpu: i64 },
    /// A pod's labels changed.
    Relabel { nth: usize },
    /// A pod replaced by an equal copy (a new object that says the same).
    Copy { nth: usize },
    /// A workload's status changed: the workload list is new, its keys are the same.
    WorkloadStatus { namespace: usize, workload: usize },
    /// A node cordoned: the node list is new.
    Cordon { node: usize },
    /// A node gone (its pods bound to no known node), or back.
    FlipNode { node: usize },
    /// A workload gone (its pods controlled by none), or back.
    FlipWorkload { namespace: usize, workload: usize },
    /// A ReplicaSet's owner reference no longer naming its Deployment's uid (its pods are
    /// then controlled by none), or naming it again.
    StaleOwner { nth: usize },
    /// Two pods swapped, out of the model's order.
    Swap { a: usize, b: usize },
}

fn change() -> impl Strategy<Value = Change> {
    let node = prop::option::weighted(0.8, 0..NODES);
    prop_oneof![
        4 => (0..NAMESPACES.len(), 0..WORKLOADS.len(), node.clone())
            .prop_map(|(namespace, workload, node)| Change::AddPod { namespace, workload, node }),
        4 => (0..64usize).prop_map(|nth| Change::RemovePod { nth }),
        2 => (0..64usize, node).prop_map(|(nth, node)| Change::Rebind { nth, node }),
        2 => (0..64usize, 0..3usize).prop_map(|(nth, phase)| Change::Phase { nth, phase }),
        2 => (0..64usize, prop_oneof![0..4_000i64, Just(i64::MAX), Just(i64::MAX - 1)])
            .prop_map(|(nth, cpu)| Change::Requests { nth, cpu }),
        1 => (0..64usize).prop_map(|nth| Change::Relabel { nth }),
        2 => (0..64usize).prop_map(|nth| Change::Copy { nth }),
        1 => (0..NAMESPACES.len(), 0..WORKLOADS.len())
            .prop_map(|(namespace, workload)| Change::WorkloadStatus { namespace, workload }),
        1 => (0..NODES).prop_map(|node| Change::Cordon { node }),
        1 => (0..NODES).prop_map(|node| Change::FlipNode { node }),
        1 => (0..NAMESPACES.len(), 0..WORKLOADS.len())
            .prop_map(|(namespace, workload)| Change::FlipWorkload { namespace, workload }),
        1 => (0..64usize).prop_map(|nth| Change::StaleOwner { nth }),
        1 => (0..64usize, 0..64usize).prop_map(|(a, b)| Change::Swap { a, b }),
    ]
}

fn node_name(node: usize) -> String {
    format!("n{node}")
}

struct World {
    cluster: Cluster,
    workloads: Vec<Vec<Workload>>,
    created: usize,
}

impl World {
    /// `pods[namespace][workload]` pods of each Deployment on node `pod % NODES`, in the
    /// model's order, and no policy (the index does not read them).
    fn new(pods: &[Vec<usize>]) -> Self {
        let mut builder = ClusterBuilder::new()
            .nodes((0..NODES).map(|node| {
                support::model::node(&node_name(node)).zone(&format!("z{}", node % 2))
            }));
        let mut workloads = Vec::new();
        for (namespace, counts) in NAMESPACES.iter().zip(pods) {
            let mut deployments = Vec::new();
            for (name, &count) in WORKLOADS.iter().zip(counts) {
                let deployment = deployment(name).namespace(namespace);
                let names: Vec<String> = (0..NODES).map(node_name).collect();
                let placement: Vec<(&str, usize)> = names
                    .iter()
                    .enumerate()
                    .map(|(node, name)| {
                        (
                            name.as_str(),
                            count / NODES + usize::from(node < count % NODES),
                        )
                    })
                    .collect();
                builder = builder.workload_on(&deployment, &placement);
                deployments.push(deployment);
            }
            workloads.push(deployments);
        }
        let mut cluster = builder.build();
        cluster.pods.sort_by(|a, b| order(a, b));
        Self {
            cluster,
            workloads,
            created: 0,
        }
    }

    fn nth(&self, nth: usize) -> Option<usize> {
        let pods = self.cluster.pods.len();
        (pods > 0).then(|| nth % pods)
    }

    /// Replaces a pod with an edited copy, as the stores replace a pod that changed.
    fn edit(&mut self, nth: usize, edit: impl FnOnce(&mut Pod)) {
        if let Some(position) = self.nth(nth) {
            let mut pod = (*self.cluster.pods[position]).clone();
            edit(&mut pod);
            self.cluster.pods[position] = Arc::new(pod);
        }
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::AddPod {
                namespace,
                workload,
                node,
            } => {
                self.created += 1;
                let mut pod =
                    pod(&format!("new-{}", self.created)).of(&self.workloads[namespace][workload]);
                if let Some(node) = node {
                    pod = pod.on(&node_name(node));
                }
                let position = self
                    .cluster
                    .pods
                    .partition_point(|other| order(other, &pod).is_lt());
                self.cluster.pods.insert(position, Arc::new(pod));
            }
            Change::RemovePod { nth } => {
                if let Some(position) = self.nth(nth) {
                    self.cluster.pods.remove(position);
                }
            }
            Change::Rebind { nth, node } => self.edit(nth, |pod| {
                pod.node_name = node.map(|node| Arc::from(node_name(node)));
            }),
            Change::Phase { nth, phase } => self.edit(nth, |pod| {
                pod.phase = [PodPhase::Running, PodPhase::Succeeded, PodPhase::Failed][phase];
            }),
            Change::Requests { nth, cpu } => self.edit(nth, |pod| {
                Arc::make_mut(&mut pod.spec).requests.cpu_millis = cpu;
            }),
            Change::Relabel { nth } => self.edit(nth, |pod| {
                let mut labels = (*pod.labels).clone();
                labels.insert("relabelled".to_owned(), "true".to_owned());
                pod.labels = Arc::new(labels);
            }),
            Change::Copy { nth } => self.edit(nth, |_| {}),
            Change::WorkloadStatus {
                namespace,
                workload,
            } => {
                edit_workload(
                    &mut self.cluster,
                    &self.workloads[namespace][workload],
                    |edited| edited.status.ready_replicas += 1,
                );
            }
            Change::Cordon { node } => {
                let name = node_name(node);
                if let Some(node) = self.cluster.nodes.iter_mut().find(|node| node.name == name) {
                    node.unschedulable = !node.unschedulable;
                }
            }
            Change::FlipNode { node } => {
                let name = node_name(node);
                match self.cluster.nodes.iter().position(|node| node.name == name) {
                    Some(at) => {
                        self.cluster.nodes.remove(at);
                    }
                    None => self
                        .cluster
                        .nodes
                        .push(support::model::node(&name).zone(&format!("z{}", node % 2))),
                }
            }
            Change::FlipWorkload {
                namespace,
                workload,
            } => {
                let wanted = &self.workloads[namespace][workload];
                match self.cluster.workloads.iter().position(|workload| {
                    workload.namespace == wanted.namespace && workload.name == wanted.name
                }) {
                    Some(at) => {
                        self.cluster.workloads.remove(at);
                    }
                    None => self.cluster.workloads.push(Arc::new(wanted.clone())),
                }
            }
            Change::StaleOwner { nth } => {
                let sets = self.cluster.replica_sets.len();
                if let Some(owner) = (sets > 0)
                    .then(|| self.cluster.replica_sets[nth % sets].owner.as_mut())
                    .flatten()
                {
                    owner.uid = match owner.uid.strip_suffix("-stale") {
                        Some(uid) => uid.into(),
                        None => format!("{}-stale", owner.uid).into(),
                    };
                }
            }
            Change::Swap { a, b } => {
                if let (Some(a), Some(b)) = (self.nth(a), self.nth(b)) {
                    self.cluster.pods.swap(a, b);
                }
            }
        }
    }
}

/// The model's order: namespace, then name.
fn order(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    (&*a.namespace, &a.name).cmp(&(&*b.namespace, &b.name))
}

/// Everything an index answers, in plain values.
fn answers(index: &Index<'_>) -> BTreeMap<String, String> {
    let mut answers = BTreeMap::new();
    let mut say = |question: String, answer: String| {
        answers.insert(question, answer);
    };
    say(
        "node_requested".into(),
        format!("{:?}", index.node_requested),
    );
    say("node_rank".into(), format!("{:?}", index.node_rank));
    let pods = 0..index.cluster.pods.len();
    let nodes: Vec<_> = pods.clone().map(|pod| index.pod_node(pod)).collect();
    let workloads: Vec<_> = pods.map(|pod| index.pod_workload(pod)).collect();
    say("pod_node".into(), format!("{nodes:?}"));
    say("pod_workload".into(), format!("{workloads:?}"));
    for node in 0..NODES + 1 {
        say(
            format!("pods_on {node}"),
            format!("{:?}", index.pods_on(node)),
        );
    }
    for workload in 0..NAMESPACES.len() * WORKLOADS.len() + 1 {
        say(
            format!("pods_of {workload}"),
            format!("{:?}", index.pods_of(workload)),
        );
    }
    for namespace in NAMESPACES.iter().chain(&["elsewhere"]) {
        say(
            format!("pods_in {namespace}"),
            format!("{:?}", index.pods_in(namespace)),
        );
        let sets: Vec<String> = index
            .label_sets_in(namespace)
            .iter()
            .map(|set| format!("{:?} {:?}", set.labels, set.pods))
            .collect();
        say(format!("label_sets_in {namespace}"), sets.join("; "));
    }
    answers
}

/// The namespaces whose pods, as objects, differ between two lists.
fn namespaces_changed(before: &[Arc<Pod>], now: &[Arc<Pod>]) -> BTreeSet<String> {
    let objects = |pods: &[Arc<Pod>]| {
        let mut by_namespace: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for pod in pods {
            by_namespace
                .entry(pod.namespace.to_string())
                .or_default()
                .push(Arc::as_ptr(pod) as usize);
        }
        by_namespace
    };
    let (then, current) = (objects(before), objects(now));
    then.keys()
        .chain(current.keys())
        .filter(|namespace| then.get(*namespace) != current.get(*namespace))
        .cloned()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_index_taken_after_the_one_before_answers_what_an_index_from_scratch_answers(
        pods in prop::collection::vec(prop::collection::vec(0usize..6, WORKLOADS.len()), NAMESPACES.len()),
        changes in prop::collection::vec(change(), 1..40),
    ) {
        let mut world = World::new(&pods);
        let mut before: Cluster = world.cluster.clone();
        let mut memo: Memo = Index::new(&before).memo();
        for (step, change) in changes.into_iter().enumerate() {
            world.apply(change);
            let now = world.cluster.clone();
            let after = Index::after(&now, Some((&before, &memo)));
            let scratch = Index::new(&now);
            prop_assert_eq!(
                answers(&after),
                answers(&scratch),
                "step {}: {:?}", step, change
            );
            // A namespace's pods, and their sets of labels, are those the pods carry.
            for namespace in NAMESPACES.iter().chain(&["elsewhere"]) {
                let expected: Vec<usize> = (0..now.pods.len())
                    .filter(|&id| &*now.pods[id].namespace == *namespace)
                    .collect();
                prop_assert_eq!(after.pods_in(namespace), expected.as_slice());
                let mut in_sets: Vec<usize> = Vec::new();
                for set in after.label_sets_in(namespace) {
                    for &id in &set.pods {
                        prop_assert_eq!(&*now.pods[id].labels, set.labels);
                    }
                    in_sets.extend(&set.pods);
                }
                in_sets.sort_unstable();
                prop_assert_eq!(in_sets, expected);
            }
            // It names every namespace whose pods changed, and in the model's order only those.
            if let Some(named) = after.pods_changed_in() {
                let changed = namespaces_changed(&before.pods, &now.pods);
                prop_assert!(named.is_superset(&changed), "step {}: {:?} named {:?} of {:?}", step, change, named, changed);
                let sorted = |pods: &[Arc<Pod>]| pods.is_sorted_by(|a, b| order(a, b).is_le());
                if sorted(&before.pods) && sorted(&now.pods) {
                    prop_assert_eq!(named, &changed, "step {}: {:?}", step, change);
                }
            }
            memo = after.memo();
            before = now;
        }
    }
}

/// The memo is read only with the cluster it was taken of, and only while the nodes are the
/// same list: otherwise every pod is read again.
#[test]
fn an_index_reads_every_pod_again_when_the_memo_is_not_of_the_cluster_before_or_the_nodes_changed()
{
    let world = World::new(&[vec![3, 2], vec![1, 0], vec![0, 4]]);
    let before = world.cluster.clone();
    let memo = Index::new(&before).memo();

    let mut copied = before.clone();
    copied.pods = before.pods.to_vec();
    let read_again = Index::after(&copied, Some((&world.cluster, &memo)));
    assert!(
        read_again.pods_changed_in().is_none(),
        "a memo handed with a cluster other than its own was read"
    );
    assert_eq!(answers(&read_again), answers(&Index::new(&copied)));

    let mut cordoned = before.clone();
    cordoned.nodes[0].unschedulable = true;
    let read_again = Index::after(&cordoned, Some((&before, &memo)));
    assert!(
        read_again.pods_changed_in().is_none(),
        "the memo was read although the nodes changed"
    );

    let same = before.clone();
    let taken_over = Index::after(&same, Some((&before, &memo)));
    assert_eq!(
        taken_over.pods_changed_in(),
        Some(&BTreeSet::new()),
        "the memo was not read for a cluster whose pods are the same objects"
    );
}
