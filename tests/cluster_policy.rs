//! A ClusterSpreadPolicy counts the pods of every selected namespace as one group, moves as few
//! of them as that group needs, never a pod that must stay, and never takes a namespaced group
//! past its maxSkew on the way.
#![allow(clippy::panic)]

mod support;

use kube_spread::{
    api::HOSTNAME_LABEL,
    planner::{
        self, PlanOptions, Source,
        model::{Cluster, WhenUnsatisfiable::ScheduleAnyway},
        report::{GroupPlan, Outcome},
        selector::{LabelSelector, Operator, Requirement},
    },
};
use support::model::*;

fn cluster_group(plan: &planner::Plan) -> &GroupPlan {
    plan.groups
        .iter()
        .find(|group| group.namespace.is_empty())
        .unwrap_or_else(|| panic!("no cluster group in {:#?}", plan.groups))
}

fn every_namespace() -> LabelSelector {
    LabelSelector::from_requirements(Vec::new())
}

fn hostname(max_skew: i32) -> Vec<kube_spread::planner::model::SpreadConstraint> {
    vec![spread(HOSTNAME_LABEL, max_skew, ScheduleAnyway)]
}

/// One single-replica app per namespace, as Helm installs a homelab: `apps[i]` on `nodes[i]`.
fn one_app_per_namespace(placement: &[(&str, &str)]) -> ClusterBuilder {
    let mut builder = ClusterBuilder::new().nodes([node("n1"), node("n2"), node("n3")]);
    for (app, on) in placement {
        let workload = deployment(app).namespace(app);
        builder = builder
            .namespace(namespace(app, &[]))
            .workload_on(&workload, &[(on, 1)]);
    }
    builder
}

fn pods_per_node(group: &GroupPlan) -> Vec<(String, u32)> {
    let constraint = &group.constraints[0];
    let mut counts: Vec<(String, u32)> = constraint
        .domains
        .iter()
        .map(|domain| (domain.name.clone(), domain.pods))
        .collect();
    counts.sort();
    counts
}

#[test]
fn a_cluster_policy_counts_the_pods_of_every_selected_namespace_as_one_group() {
    let cluster = one_app_per_namespace(&[
        ("sonarr", "n2"),
        ("radarr", "n2"),
        ("bazarr", "n2"),
        ("lidarr", "n3"),
        ("jellyfin", "n3"),
        ("pihole", "n3"),
    ])
    .cluster_policy(cluster_policy("nodes", every_namespace(), hostname(1)))
    .build();
    let plan = plan(&cluster);
    let group = cluster_group(&plan);
    assert_eq!(
        pods_per_node(group),
        [
            ("n1".to_owned(), 0),
            ("n2".to_owned(), 3),
            ("n3".to_owned(), 3)
        ]
    );
    // 3/3/0 must become 2/2/2: one pod from each full node, both to n1.
    assert_eq!(group.moves.len(), 2, "{:#?}", group.moves);
    assert!(group.moves.iter().all(|m| m.to_node == "n1"));
    assert_eq!(group.outcome, Outcome::Rebalanced);
    // The workloads are named with their namespaces, since names repeat across namespaces.
    assert!(
        group
            .workloads
            .contains(&"sonarr/Deployment/sonarr".parse().unwrap())
    );
}

#[test]
fn namespaces_are_selected_by_their_labels_and_by_kubernetes_io_metadata_name() {
    let team_a = LabelSelector::from_requirements(vec![Requirement::equals("team", "a")]);
    let cluster = one_app_per_namespace(&[("a1", "n2"), ("a2", "n2"), ("b1", "n3")])
        .namespace(namespace("a1-extra", &[("team", "a")]))
        .build();
    let mut labelled = cluster.clone();
    for ns in &mut labelled.namespaces {
        if ns.name.starts_with('a') {
            ns.labels.insert("team".to_owned(), "a".to_owned());
        }
    }
    labelled
        .cluster_policies
        .push(cluster_policy("team-a", team_a, hostname(5)));
    let group = cluster_group(&plan(&labelled)).clone();
    let total: u32 = pods_per_node(&group).iter().map(|(_, pods)| pods).sum();
    assert_eq!(total, 2, "only team a's namespaces count: {group:#?}");

    // A snapshot without Namespace objects still selects by name, the label every namespace has.
    let mut by_name = cluster;
    by_name.namespaces.clear();
    by_name.cluster_policies.push(cluster_policy(
        "just-b1",
        LabelSelector::from_requirements(vec![Requirement::new(
            "kubernetes.io/metadata.name",
            Operator::In,
            vec!["b1".to_owned()],
        )]),
        hostname(5),
    ));
    let group = cluster_group(&plan(&by_name)).clone();
    assert_eq!(
        pods_per_node(&group),
        [
            ("n1".to_owned(), 0),
            ("n2".to_owned(), 0),
            ("n3".to_owned(), 1)
        ]
    );
}

#[test]
fn pinned_pods_count_where_they_are_and_never_move_and_ignored_workloads_do_not_count() {
    let pinned = deployment("z2m")
        .namespace("z2m")
        .spec(|spec| spec.node_name = Some("n2".to_owned()));
    let ignored = deployment("legacy").namespace("legacy").ignored();
    let cluster = one_app_per_namespace(&[("sonarr", "n2"), ("radarr", "n2")])
        .workload_on(&pinned, &[("n2", 2)])
        .workload_on(&ignored, &[("n2", 3)])
        .cluster_policy(cluster_policy("nodes", every_namespace(), hostname(1)))
        .build();
    let plan = plan(&cluster);
    let group = cluster_group(&plan);
    // n2 holds 2 movable and 2 pinned pods of the group; the ignored workload's 3 do not count.
    assert_eq!(
        pods_per_node(group),
        [
            ("n1".to_owned(), 0),
            ("n2".to_owned(), 4),
            ("n3".to_owned(), 0)
        ]
    );
    let moved: Vec<String> = group.moves.iter().map(|m| m.pod.to_string()).collect();
    assert_eq!(moved.len(), 2, "{:#?}", group.moves);
    assert!(
        moved.iter().all(|pod| !pod.starts_with("z2m/")),
        "{moved:?}"
    );
    assert!(
        group
            .skipped
            .iter()
            .filter(|skipped| &*skipped.pod.namespace == "z2m")
            .all(|skipped| skipped.reason.reason() == "Pinned"),
        "{:#?}",
        group.skipped
    );
    // 4 pods over 3 nodes with 2 of them held on n2: 2/1/1 is as even as it gets.
    assert_eq!(group.outcome, Outcome::Rebalanced, "{}", group.message);
}

/// `web` (namespace `shop`, 3 replicas, its own SpreadPolicy with maxSkew 1) has one pod per
/// node; the cluster group is piled on n2. Moving web's pod off n2 would balance the cluster
/// group but leave web at 0/2 on n2/n1.
fn web_and_a_pile(other_pods_movable: bool) -> Cluster {
    let web = deployment("web").namespace("shop").replicas(3);
    let mut shop_policy = policy("web", hostname(1));
    shop_policy.namespace = "shop".into();
    let mut builder = ClusterBuilder::new()
        .nodes([node("n1"), node("n2"), node("n3")])
        .namespace(namespace("shop", &[]))
        .workload_on(&web, &[("n1", 1), ("n2", 1), ("n3", 1)])
        .policy(shop_policy);
    for app in ["a", "b", "c"] {
        let mut workload = deployment(app).namespace(app);
        if !other_pods_movable {
            workload = workload.spec(|spec| spec.node_name = Some("n2".to_owned()));
        }
        builder = builder
            .namespace(namespace(app, &[]))
            .workload_on(&workload, &[("n2", 1)]);
    }
    builder
        .cluster_policy(cluster_policy("nodes", every_namespace(), hostname(1)))
        .build()
}

#[test]
fn a_cluster_move_never_takes_a_namespaced_group_past_its_max_skew() {
    // Only web's pod on n2 could move: the cluster group stays skewed rather than break web.
    let plan = plan(&web_and_a_pile(false));
    let group = cluster_group(&plan);
    assert!(group.moves.is_empty(), "{:#?}", group.moves);
    assert_eq!(group.outcome, Outcome::Stuck, "{}", group.message);
    let web = plan
        .groups
        .iter()
        .find(|group| &*group.namespace == "shop")
        .expect("web's group");
    assert!(web.constraints[0].actionable_skew_after <= 1);
}

#[test]
fn a_cluster_group_moves_another_pod_where_a_namespaced_group_forbids_one() {
    // n1/n2/n3 hold 1/4/1 of the cluster group: 2/2/2 takes two moves off n2, and they must
    // be two of a, b and c, never web's.
    let plan = plan(&web_and_a_pile(true));
    let group = cluster_group(&plan);
    assert_eq!(group.lower_bound_moves, 2);
    assert_eq!(group.moves.len(), 2, "{:#?}", group.moves);
    assert!(
        group.moves.iter().all(|m| &*m.pod.namespace != "shop"),
        "{:#?}",
        group.moves
    );
}

#[test]
fn a_namespace_filter_leaves_cluster_policies_out_and_a_policy_filter_keeps_them() {
    let cluster = one_app_per_namespace(&[("sonarr", "n2"), ("radarr", "n2")])
        .cluster_policy(cluster_policy("nodes", every_namespace(), hostname(1)))
        .build();
    let options = |namespace: Option<&str>, policy: Option<&str>| PlanOptions {
        now: now(),
        namespace: namespace.map(str::to_owned),
        policy: policy.map(str::to_owned),
        source: Source::Policies,
    };
    let in_namespace = planner::plan(&cluster, &options(Some("sonarr"), None));
    assert!(in_namespace.groups.is_empty(), "{:#?}", in_namespace.groups);
    let by_name = planner::plan(&cluster, &options(None, Some("nodes")));
    assert_eq!(by_name.groups.len(), 1);
}

#[test]
fn a_move_whose_replacement_the_scheduler_scores_equally_on_two_nodes_names_both() {
    // n2 and n3 are alike and empty: kube-scheduler picks between them at random, and the plan
    // says so rather than claim to know which.
    let cluster = one_app_per_namespace(&[
        ("sonarr", "n1"),
        ("radarr", "n1"),
        ("bazarr", "n1"),
        ("lidarr", "n1"),
    ])
    .cluster_policy(cluster_policy("nodes", every_namespace(), hostname(1)))
    .build();
    let plan = plan(&cluster);
    let group = cluster_group(&plan);
    let first = group
        .moves
        .first()
        .unwrap_or_else(|| panic!("a move: {group:#?}"));
    let mut named = vec![first.to_node.as_str()];
    named.extend(first.tied_with.iter().map(String::as_str));
    named.sort_unstable();
    assert_eq!(named, ["n2", "n3"], "{first:#?}");
    let last = group.moves.last().unwrap_or_else(|| panic!("a move"));
    assert!(
        last.tied_with.is_empty(),
        "once one of them holds a pod, the other scores higher: {last:#?}"
    );
}
