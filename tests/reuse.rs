//! A plan that takes over the groups of the plan before it where nothing they read changed
//! (`planner::plan_after`) says exactly what a plan from scratch says. Random streams of
//! changes are replayed on a small cluster whose nodes fill up (so one namespace's pods change
//! where another's fit) and whose pods age past minPodAge and out of timed opt-outs; after
//! every change the plan made from the one before is compared with a plan from scratch, as
//! `kube-spread plan -o json` prints them.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::{sync::Arc, time::Duration};

use jiff::{SignedDuration, Timestamp};
use kube_spread::planner::{
    self, Plan, PlanOptions, Previous, Source,
    model::{Cluster, OptOut, Pod, Workload},
};
use proptest::prelude::*;
use support::model::*;

const NODES: usize = 4;
const NAMESPACES: usize = 3;
/// Deployments per namespace, so that a namespace can hold a group with moves beside a balanced
/// one.
const WORKLOADS: [&str; 2] = ["web", "api"];
/// Few enough that nodes fill up and free up as pods come and go.
const POD_SLOTS: i64 = 8;
const MIN_POD_AGE: Duration = Duration::from_secs(60);

/// One change of the cluster, or of the time it is planned at.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// A new pod of one of a namespace's Deployments on a node.
    AddPod {
        namespace: usize,
        workload: usize,
        node: usize,
    },
    /// A namespace's `nth` pod (modulo their number) deleted.
    RemovePod { namespace: usize, nth: usize },
    /// A pod turning unready, or ready again.
    FlipReady { namespace: usize, nth: usize },
    /// A pod opting out of moves for a while from its start.
    OptOut {
        namespace: usize,
        nth: usize,
        seconds: u32,
    },
    /// A pod of a namespace no policy governs, taking a slot on a node.
    AddBystander { node: usize },
    /// A bystander deleted.
    RemoveBystander { nth: usize },
    /// A node cordoned, or uncordoned.
    FlipCordon { node: usize },
    /// A Deployment annotated to be left alone, or no longer (the workload list changes in
    /// place: same length, one new item).
    FlipIgnored { namespace: usize, workload: usize },
    /// Time passing.
    Wait { seconds: u32 },
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (0..NAMESPACES, 0..WORKLOADS.len(), 0..NODES)
            .prop_map(|(namespace, workload, node)| Change::AddPod { namespace, workload, node }),
        3 => (0..NAMESPACES, 0..8usize)
            .prop_map(|(namespace, nth)| Change::RemovePod { namespace, nth }),
        1 => (0..NAMESPACES, 0..8usize)
            .prop_map(|(namespace, nth)| Change::FlipReady { namespace, nth }),
        1 => (0..NAMESPACES, 0..8usize, 1..200u32)
            .prop_map(|(namespace, nth, seconds)| Change::OptOut { namespace, nth, seconds }),
        2 => (0..NODES).prop_map(|node| Change::AddBystander { node }),
        2 => (0..8usize).prop_map(|nth| Change::RemoveBystander { nth }),
        1 => (0..NODES).prop_map(|node| Change::FlipCordon { node }),
        1 => (0..NAMESPACES, 0..WORKLOADS.len())
            .prop_map(|(namespace, workload)| Change::FlipIgnored { namespace, workload }),
        3 => (0..90u32).prop_map(|seconds| Change::Wait { seconds }),
    ]
}

fn namespace_name(namespace: usize) -> String {
    format!("ns{namespace}")
}

fn node_name(node: usize) -> String {
    format!("n{node}")
}

/// The cluster under change and the time it is planned at.
struct World {
    cluster: Cluster,
    now: Timestamp,
    workloads: Vec<Vec<Workload>>,
    created: usize,
}

impl World {
    /// Three namespaces, each with two Deployments of `pods[namespace][workload][node]` pods
    /// started an hour ago and a SpreadPolicy on hostname and zone (minPodAge 60 s); four nodes
    /// of eight pod slots in two zones.
    fn new(pods: &[Vec<Vec<usize>>]) -> Self {
        let mut builder = ClusterBuilder::new().nodes((0..NODES).map(|node| {
            support::model::node(&node_name(node))
                .zone(&format!("z{}", node % 2))
                .pod_slots(POD_SLOTS)
        }));
        let mut workloads = Vec::new();
        let names: Vec<String> = (0..NODES).map(node_name).collect();
        for (index, per_workload) in pods.iter().enumerate() {
            let namespace = namespace_name(index);
            let mut deployments = Vec::new();
            for (name, per_node) in WORKLOADS.iter().zip(per_workload) {
                let deployment = deployment(name).namespace(&namespace);
                let placement: Vec<(&str, usize)> = names
                    .iter()
                    .map(String::as_str)
                    .zip(per_node.iter().copied())
                    .collect();
                builder = builder.workload_on(&deployment, &placement);
                deployments.push(deployment);
            }
            let mut policy = hostname_and_zone_policy(&namespace);
            policy.spec.min_pod_age = MIN_POD_AGE;
            builder = builder.policy(policy);
            workloads.push(deployments);
        }
        Self {
            cluster: builder.build(),
            now: now(),
            workloads,
            created: 0,
        }
    }

    /// The positions of the pods of a namespace (`None`: the bystanders').
    fn pods_of(&self, namespace: Option<usize>) -> Vec<usize> {
        let name = namespace.map_or_else(|| "bystanders".to_owned(), namespace_name);
        (0..self.cluster.pods.len())
            .filter(|&position| *self.cluster.pods[position].namespace == *name)
            .collect()
    }

    fn nth_pod(&self, namespace: Option<usize>, nth: usize) -> Option<usize> {
        let pods = self.pods_of(namespace);
        (!pods.is_empty()).then(|| pods[nth % pods.len()])
    }

    /// Replaces a pod with an edited copy, as the stores replace a pod that changed.
    fn edit_pod(&mut self, position: usize, edit: impl FnOnce(&mut Pod)) {
        let mut pod = (*self.cluster.pods[position]).clone();
        edit(&mut pod);
        self.cluster.pods[position] = Arc::new(pod);
    }

    fn new_pod_name(&mut self) -> String {
        self.created += 1;
        format!("new-{}", self.created)
    }

    /// Inserts a pod where the stores would list it: in namespace, then name, order.
    fn insert(&mut self, pod: Pod) {
        let key = |pod: &Pod| (pod.namespace.to_string(), pod.name.clone());
        let position = self
            .cluster
            .pods
            .partition_point(|other| key(other) < key(&pod));
        self.cluster.pods.insert(position, Arc::new(pod));
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::AddPod {
                namespace,
                workload,
                node,
            } => {
                let name = self.new_pod_name();
                let pod = pod(&name)
                    .of(&self.workloads[namespace][workload])
                    .on(&node_name(node))
                    .started(self.now);
                self.insert(pod);
            }
            Change::RemovePod { namespace, nth } => {
                if let Some(position) = self.nth_pod(Some(namespace), nth) {
                    self.cluster.pods.remove(position);
                }
            }
            Change::FlipReady { namespace, nth } => {
                if let Some(position) = self.nth_pod(Some(namespace), nth) {
                    self.edit_pod(position, |pod| pod.ready = !pod.ready);
                }
            }
            Change::OptOut {
                namespace,
                nth,
                seconds,
            } => {
                if let Some(position) = self.nth_pod(Some(namespace), nth) {
                    self.edit_pod(position, |pod| {
                        pod.opt_outs.do_not_move = Some(OptOut::ForSeconds(seconds));
                    });
                }
            }
            Change::AddBystander { node } => {
                let name = self.new_pod_name();
                let pod = pod(&name)
                    .namespace("bystanders")
                    .owned_by("ReplicaSet", "other")
                    .on(&node_name(node));
                self.insert(pod);
            }
            Change::RemoveBystander { nth } => {
                if let Some(position) = self.nth_pod(None, nth) {
                    self.cluster.pods.remove(position);
                }
            }
            Change::FlipCordon { node } => {
                let node = &mut self.cluster.nodes[node];
                node.unschedulable = !node.unschedulable;
            }
            Change::FlipIgnored {
                namespace,
                workload,
            } => {
                edit_workload(
                    &mut self.cluster,
                    &self.workloads[namespace][workload],
                    |edited| edited.ignored = !edited.ignored,
                );
            }
            Change::Wait { seconds } => {
                self.now = self
                    .now
                    .checked_add(SignedDuration::from_secs(i64::from(seconds)))
                    .unwrap();
            }
        }
    }

    fn options(&self) -> PlanOptions {
        PlanOptions {
            now: self.now,
            namespace: None,
            policy: None,
            source: Source::Policies,
        }
    }

    /// A plan from scratch.
    fn plan(&self) -> Plan {
        planner::plan(&self.cluster, &self.options())
    }

    /// The cluster as it is and its plan from scratch, for a later plan to start from.
    fn planned(&self) -> (Cluster, Plan) {
        (self.cluster.clone(), self.plan())
    }

    /// A plan made from `before`, the cluster and plan of an earlier moment.
    fn plan_after(&self, before: &(Cluster, Plan)) -> Plan {
        let previous = Previous {
            cluster: &before.0,
            plan: &before.1,
        };
        planner::plan_after(&self.cluster, &self.options(), Some(previous))
    }
}

fn printed(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_plan_made_from_the_one_before_says_what_a_plan_from_scratch_says_after_every_change(
        pods in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(0usize..3, NODES), WORKLOADS.len()),
            NAMESPACES,
        ),
        changes in prop::collection::vec(change(), 1..40),
    ) {
        let mut world = World::new(&pods);
        let mut before = world.planned();
        for (step, change) in changes.into_iter().enumerate() {
            world.apply(change);
            let reused = world.plan_after(&before);
            prop_assert_eq!(
                printed(&reused),
                printed(&world.plan()),
                "after change {} ({:?})",
                step,
                change
            );
            before = (world.cluster.clone(), reused);
        }
    }
}

/// Whether two plans share a namespace's group (`Kind/name`): the same plan object, which
/// only a group taken over keeps. (Domain sets are shared by groups planned again too: a
/// plan over the same nodes starts from the domain sets of the plan before.)
fn shares_group(after: &Plan, before: &Plan, namespace: &str, group: &str) -> bool {
    let find = |plan: &Plan| {
        plan.groups
            .iter()
            .find(|found| found.is_of(namespace, "apps") && found.group == group)
            .map(Arc::clone)
            .expect("the namespace's policy has the group")
    };
    Arc::ptr_eq(&find(after), &find(before))
}

/// Every Deployment with one pod per node.
const EVEN: [[usize; NODES]; 2] = [[1, 1, 1, 1], [1, 1, 1, 1]];

fn world(pods: [[[usize; NODES]; 2]; NAMESPACES]) -> World {
    let pods: Vec<Vec<Vec<usize>>> = pods
        .iter()
        .map(|per_workload| {
            per_workload
                .iter()
                .map(|per_node| per_node.to_vec())
                .collect()
        })
        .collect();
    World::new(&pods)
}

#[test]
fn a_pod_added_in_one_namespace_takes_the_balanced_plans_of_the_others_over() {
    let mut world = world([EVEN, EVEN, [[2, 1, 1, 1], [1, 1, 1, 1]]]);
    let before = world.planned();
    // n1 holds 6 pods of 8 slots: one more leaves room for the other namespaces' pods.
    world.apply(Change::AddPod {
        namespace: 0,
        workload: 0,
        node: 1,
    });
    let after = world.plan_after(&before);
    assert!(
        shares_group(&after, &before.1, "ns1", "Deployment/web"),
        "ns1 was planned again"
    );
    assert!(
        !shares_group(&after, &before.1, "ns0", "Deployment/api"),
        "ns0 changed and was not planned again"
    );
    assert_eq!(printed(&after), printed(&world.plan()));
}

#[test]
fn beside_a_group_with_moves_a_balanced_group_of_the_same_policy_is_taken_over() {
    let mut world = world([EVEN, EVEN, [[1, 1, 1, 1], [4, 0, 0, 0]]]);
    let before = world.planned();
    assert!(
        !before.1.groups.iter().all(|group| group.moves.is_empty()),
        "the piled Deployment has moves to make"
    );
    world.apply(Change::AddBystander { node: 1 });
    let after = world.plan_after(&before);
    assert!(
        shares_group(&after, &before.1, "ns2", "Deployment/web"),
        "the balanced Deployment was planned again"
    );
    assert!(
        !shares_group(&after, &before.1, "ns2", "Deployment/api"),
        "the Deployment with moves was taken over"
    );
    assert_eq!(printed(&after), printed(&world.plan()));
}

#[test]
fn a_node_cordoned_plans_every_namespace_again() {
    let mut world = world([EVEN, EVEN, EVEN]);
    let before = world.planned();
    world.apply(Change::FlipCordon { node: 3 });
    let after = world.plan_after(&before);
    for namespace in ["ns0", "ns1", "ns2"] {
        assert!(
            !shares_group(&after, &before.1, namespace, "Deployment/web"),
            "{namespace} was taken over"
        );
    }
}

/// Whether two plans give a namespace's group (`Kind/name`) the same domain set object.
fn same_domain_set(after: &Plan, before: &Plan, namespace: &str, group: &str) -> bool {
    let set = |plan: &Plan| {
        plan.groups
            .iter()
            .find(|found| found.is_of(namespace, "apps") && found.group == group)
            .map(|found| Arc::clone(&found.constraints[0].domains.set))
            .expect("the namespace's policy has the group")
    };
    Arc::ptr_eq(&set(after), &set(before))
}

#[test]
fn a_plan_over_the_same_nodes_takes_the_domain_sets_over_and_a_plan_after_a_node_change_builds_them_again()
 {
    let mut world = world([EVEN, EVEN, [[1, 1, 1, 1], [4, 0, 0, 0]]]);
    let before = world.planned();
    world.apply(Change::AddBystander { node: 1 });
    let after = world.plan_after(&before);
    assert!(
        !shares_group(&after, &before.1, "ns2", "Deployment/api")
            && same_domain_set(&after, &before.1, "ns2", "Deployment/api"),
        "the group planned again did not start from the domain set of the plan before"
    );
    let before = (world.cluster.clone(), after);
    world.apply(Change::FlipCordon { node: 0 });
    let after = world.plan_after(&before);
    assert!(
        !same_domain_set(&after, &before.1, "ns2", "Deployment/api"),
        "a domain set built over other nodes was taken over"
    );
    assert_eq!(printed(&after), printed(&world.plan()));
}
