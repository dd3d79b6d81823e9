//! After a burst of changes the controller reconciles, besides the policies of the touched
//! namespaces, every policy whose plan the burst changed. Which plans changed is decided by
//! comparing two plans group by group; here it is checked against an independent judge, the
//! plans' JSON (what `kube-spread plan -o json` prints), on random clusters and random changes.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use kube_spread::planner::report::Plan;
use proptest::prelude::*;
use support::model::*;

const NODES: usize = 3;
const NAMESPACES: usize = 3;

/// A change between two observations.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// One more pod of a namespace's workload on a node.
    AddPod { namespace: usize, node: usize },
    /// One pod fewer there (or one more, where there is none).
    RemovePod { namespace: usize, node: usize },
    /// A node cordoned.
    Cordon { node: usize },
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..NAMESPACES, 0..NODES).prop_map(|(namespace, node)| Change::AddPod { namespace, node }),
        (0..NAMESPACES, 0..NODES)
            .prop_map(|(namespace, node)| Change::RemovePod { namespace, node }),
        (0..NODES).prop_map(|node| Change::Cordon { node }),
    ]
}

/// Three namespaces, each with a Deployment placed as `pods[namespace][node]` says and a
/// SpreadPolicy on hostname and zone; nodes in `zones`.
fn cluster(
    pods: &[Vec<usize>],
    zones: &[usize],
    cordoned: Option<usize>,
) -> kube_spread::planner::model::Cluster {
    let names: Vec<String> = (0..NODES).map(|node| format!("n{node}")).collect();
    let mut builder = ClusterBuilder::new().nodes(names.iter().zip(zones).enumerate().map(
        |(index, (name, zone))| {
            let mut node = node(name).zone(&format!("z{zone}"));
            node.unschedulable = cordoned == Some(index);
            node
        },
    ));
    for (index, per_node) in pods.iter().enumerate() {
        let namespace = format!("ns{index}");
        let web = deployment("web").namespace(&namespace);
        let placement: Vec<(&str, usize)> = names
            .iter()
            .map(String::as_str)
            .zip(per_node.iter().copied())
            .collect();
        builder = builder
            .workload_on(&web, &placement)
            .policy(hostname_and_zone_policy(&namespace));
    }
    builder.build()
}

/// Each policy's groups as JSON.
fn printed(plan: &Plan) -> BTreeMap<(String, String), serde_json::Value> {
    let mut groups: BTreeMap<(String, String), Vec<serde_json::Value>> = BTreeMap::new();
    for group in &plan.groups {
        if let Some(policy) = &group.policy {
            groups
                .entry((group.namespace.to_string(), policy.clone()))
                .or_default()
                .push(serde_json::to_value(group).unwrap());
        }
    }
    groups
        .into_iter()
        .map(|(policy, groups)| (policy, serde_json::Value::Array(groups)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_policy_counts_as_replanned_exactly_when_its_printed_plan_changed(
        pods in prop::collection::vec(prop::collection::vec(0usize..5, NODES), NAMESPACES),
        zones in prop::collection::vec(0usize..2, NODES),
        change in change(),
    ) {
        let before = plan(&cluster(&pods, &zones, None));
        let mut changed = pods.clone();
        let mut cordoned = None;
        match change {
            Change::AddPod { namespace, node } => changed[namespace][node] += 1,
            Change::RemovePod { namespace, node } => {
                let count = &mut changed[namespace][node];
                *count = if *count == 0 { 1 } else { *count - 1 };
            }
            Change::Cordon { node } => cordoned = Some(node),
        }
        let after = plan(&cluster(&changed, &zones, cordoned));

        let (then, now) = (printed(&before), printed(&after));
        let keys: BTreeSet<&(String, String)> = then.keys().chain(now.keys()).collect();
        let expected: BTreeSet<(String, String)> = keys
            .into_iter()
            .filter(|policy| then.get(*policy) != now.get(*policy))
            .cloned()
            .collect();
        prop_assert_eq!(after.replanned_since(&before), expected);
    }
}

#[test]
fn a_plan_compared_with_itself_replans_nothing() {
    let cluster = cluster(
        &[vec![3, 0, 0], vec![1, 1, 1], vec![0, 2, 4]],
        &[0, 0, 1],
        None,
    );
    let (first, second) = (plan(&cluster), plan(&cluster));
    assert!(second.replanned_since(&first).is_empty());
}

#[test]
fn a_pod_added_in_one_namespace_replans_that_namespaces_policy() {
    let before = plan(&cluster(
        &[vec![1, 1, 1], vec![1, 1, 1], vec![1, 1, 1]],
        &[0, 1, 1],
        None,
    ));
    let after = plan(&cluster(
        &[vec![1, 1, 1], vec![2, 1, 1], vec![1, 1, 1]],
        &[0, 1, 1],
        None,
    ));
    assert_eq!(
        after.replanned_since(&before),
        BTreeSet::from([("ns1".to_owned(), "apps".to_owned())])
    );
}
