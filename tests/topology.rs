//! The topology model counts, and filters, exactly as kube-scheduler's PodTopologySpread does.
//! Cases follow the Kubernetes documentation on topology spread constraints and the plugin's
//! behaviour (inclusion policies, minDomains, matchLabelKeys, what is not counted).

mod support;

use kube_spread::{
    api::{HOSTNAME_LABEL, ZONE_LABEL},
    planner::{
        eligibility::Refusal,
        index::Index,
        model::{Cluster, NodeInclusionPolicy, Pod, PodPhase, WhenUnsatisfiable::DoNotSchedule},
        selector::LabelSelector,
        topology::{DomainCache, PreFilter},
    },
};
use support::model::*;

/// Each node's verdict for placing `incoming`, as the Filter gives it.
fn verdicts(cluster: &Cluster, incoming: &Pod) -> Vec<(String, Result<(), Refusal>)> {
    let index = Index::new(cluster);
    let prefilter = PreFilter::new(
        &index,
        &mut DomainCache::default(),
        &incoming.namespace,
        &incoming.labels,
        &incoming.spec,
        DoNotSchedule,
    );
    cluster
        .nodes
        .iter()
        .map(|node| (node.name.clone(), prefilter.filter(node, &incoming.labels)))
        .collect()
}

fn feasible(cluster: &Cluster, incoming: &Pod) -> Vec<String> {
    verdicts(cluster, incoming)
        .into_iter()
        .filter(|(_, verdict)| verdict.is_ok())
        .map(|(node, _)| node)
        .collect()
}

fn foo_pod(name: &str) -> Pod {
    pod(name).label("foo", "bar")
}

fn foo() -> Option<LabelSelector> {
    Some(LabelSelector::from_labels(&labels(&[("foo", "bar")])))
}

/// The documentation's four nodes in two zones.
fn four_nodes() -> Vec<kube_spread::planner::model::Node> {
    vec![
        node("node1").zone("zoneA"),
        node("node2").zone("zoneA"),
        node("node3").zone("zoneB"),
        node("node4").zone("zoneB"),
    ]
}

fn incoming(constraints: Vec<kube_spread::planner::model::PodSpreadConstraint>) -> Pod {
    foo_pod("mypod").spec(|spec| spec.spread_constraints = constraints)
}

#[test]
fn a_zone_constraint_sends_the_pod_to_the_emptier_zone_as_in_the_documentation() {
    let cluster = ClusterBuilder::new()
        .nodes(four_nodes())
        .pod(foo_pod("p1").on("node1"))
        .pod(foo_pod("p2").on("node2"))
        .pod(foo_pod("p3").on("node3"))
        .build();
    let pod = incoming(vec![pod_spread(ZONE_LABEL, 1, DoNotSchedule, foo())]);
    assert_eq!(feasible(&cluster, &pod), ["node3", "node4"]);
    let refused = verdicts(&cluster, &pod).remove(0).1;
    assert_eq!(
        refused,
        Err(Refusal::SkewExceeded {
            key: ZONE_LABEL.to_owned(),
            matching: 2,
            self_match: 1,
            global_min: 1,
            max_skew: 1,
        })
    );
}

#[test]
fn two_constraints_must_both_hold_as_in_the_documentation() {
    // zoneA: node1 (p1, p2), node2 (p3); zoneB: node3 (p4), node4 (none).
    let cluster = ClusterBuilder::new()
        .nodes(four_nodes())
        .pod(foo_pod("p1").on("node1"))
        .pod(foo_pod("p2").on("node1"))
        .pod(foo_pod("p3").on("node2"))
        .pod(foo_pod("p4").on("node3"))
        .build();
    let pod = incoming(vec![
        pod_spread(ZONE_LABEL, 1, DoNotSchedule, foo()),
        pod_spread(HOSTNAME_LABEL, 1, DoNotSchedule, foo()),
    ]);
    // The zone constraint allows only zoneB; the hostname one then only node4.
    assert_eq!(feasible(&cluster, &pod), ["node4"]);
}

#[test]
fn every_rule_of_counting_and_filtering_matches_the_scheduler() {
    struct Case {
        rule: &'static str,
        cluster: Cluster,
        incoming: Pod,
        feasible: &'static [&'static str],
    }
    let zone = |c: Option<LabelSelector>| pod_spread(ZONE_LABEL, 1, DoNotSchedule, c);
    let host = |c: Option<LabelSelector>| pod_spread(HOSTNAME_LABEL, 1, DoNotSchedule, c);
    let cases = vec![
        Case {
            rule: "a NotReady node still counts as an empty domain, so the global minimum is 0",
            cluster: ClusterBuilder::new()
                .node(node("n1"))
                .node(node("n2").not_ready())
                .pod(foo_pod("a").on("n1"))
                .build(),
            incoming: incoming(vec![host(foo())]),
            feasible: &["n2"],
        },
        Case {
            rule: "a cordoned node still counts as an empty domain",
            cluster: ClusterBuilder::new()
                .node(node("n1"))
                .node(node("n2").cordoned())
                .pod(foo_pod("a").on("n1"))
                .build(),
            incoming: incoming(vec![host(foo())]),
            feasible: &["n2"],
        },
        Case {
            rule: "a node missing the topology key is refused and is no domain",
            cluster: ClusterBuilder::new()
                .node(node("n1").zone("a"))
                .node(node("n2").zone("b"))
                .node(node("n3"))
                .pod(foo_pod("a").on("n1"))
                .build(),
            incoming: incoming(vec![zone(foo())]),
            feasible: &["n2"],
        },
        Case {
            rule: "a node lacking another constraint's key drops out of every constraint of that kind",
            cluster: ClusterBuilder::new()
                .node(node("n1").zone("a"))
                .node(node("n2").zone("b").without_label(HOSTNAME_LABEL))
                .pod(foo_pod("a").on("n1"))
                .build(),
            // Had n2's empty zone b counted, zone a (1 pod) would be refused; it does not count.
            incoming: incoming(vec![zone(foo()), host(foo())]),
            feasible: &["n1"],
        },
        Case {
            rule: "terminating, Succeeded, Failed, unbound and other-namespace pods are not counted",
            cluster: ClusterBuilder::new()
                .node(node("n1"))
                .node(node("n2"))
                .pod(foo_pod("t").on("n1").terminating())
                .pod(foo_pod("s").on("n1").phase(PodPhase::Succeeded))
                .pod(foo_pod("f").on("n1").phase(PodPhase::Failed))
                .pod(foo_pod("u"))
                .pod(foo_pod("o").on("n1").namespace("other"))
                .build(),
            incoming: incoming(vec![host(foo())]),
            feasible: &["n1", "n2"],
        },
        Case {
            rule: "a null labelSelector counts nothing and does not match the pod itself",
            cluster: ClusterBuilder::new()
                .node(node("n1"))
                .node(node("n2"))
                .pod(foo_pod("a").on("n1"))
                .pod(foo_pod("b").on("n1"))
                .build(),
            incoming: incoming(vec![pod_spread(HOSTNAME_LABEL, 1, DoNotSchedule, None)]),
            feasible: &["n1", "n2"],
        },
        Case {
            rule: "an empty labelSelector counts nothing, yet matches the pod itself",
            cluster: ClusterBuilder::new()
                .node(node("n1"))
                .node(node("n2"))
                .pod(foo_pod("a").on("n1"))
                .pod(foo_pod("b").on("n1"))
                .build(),
            incoming: incoming(vec![pod_spread(
                HOSTNAME_LABEL,
                1,
                DoNotSchedule,
                Some(LabelSelector::everything()),
            )]),
            feasible: &["n1", "n2"],
        },
        Case {
            rule: "matchLabelKeys counts only pods with the incoming pod's values",
            cluster: ClusterBuilder::new()
                .node(node("n1"))
                .node(node("n2"))
                .pod(foo_pod("old-1").label("pod-template-hash", "old").on("n1"))
                .pod(foo_pod("old-2").label("pod-template-hash", "old").on("n1"))
                .pod(foo_pod("new-1").label("pod-template-hash", "new").on("n2"))
                .build(),
            incoming: incoming(vec![{
                let mut c = host(foo());
                c.match_label_keys = vec!["pod-template-hash".to_owned()];
                c
            }])
            .label("pod-template-hash", "new"),
            // Counting only "new": n1 0, n2 1; n2 would reach skew 2.
            feasible: &["n1"],
        },
        Case {
            rule: "minDomains above the number of domains makes the global minimum 0",
            cluster: ClusterBuilder::new()
                .node(node("n1").zone("a"))
                .node(node("n2").zone("b"))
                .pod(foo_pod("a").on("n1"))
                .pod(foo_pod("b").on("n2"))
                .build(),
            incoming: incoming(vec![{
                let mut c = zone(foo());
                c.min_domains = Some(3);
                c
            }]),
            feasible: &[],
        },
        Case {
            rule: "minDomains met leaves the global minimum as counted",
            cluster: ClusterBuilder::new()
                .node(node("n1").zone("a"))
                .node(node("n2").zone("b"))
                .pod(foo_pod("a").on("n1"))
                .pod(foo_pod("b").on("n2"))
                .build(),
            incoming: incoming(vec![{
                let mut c = zone(foo());
                c.min_domains = Some(2);
                c
            }]),
            feasible: &["n1", "n2"],
        },
        Case {
            rule: "nodeAffinityPolicy Honor (default) leaves out nodes the pod's nodeSelector does not admit",
            cluster: ClusterBuilder::new()
                .node(node("n1").zone("a").label("disk", "ssd"))
                .node(node("n2").zone("b").label("disk", "ssd"))
                .node(node("n3").zone("c"))
                .pod(foo_pod("a").on("n1"))
                .pod(foo_pod("b").on("n2"))
                .build(),
            incoming: incoming(vec![zone(foo())]).spec(|s| {
                s.node_selector = labels(&[("disk", "ssd")]);
            }),
            // Zones a and b hold one each; zone c is no domain, so the minimum is 1.
            feasible: &["n1", "n2", "n3"],
        },
        Case {
            rule: "nodeAffinityPolicy Ignore counts the excluded node's empty zone",
            cluster: ClusterBuilder::new()
                .node(node("n1").zone("a").label("disk", "ssd"))
                .node(node("n2").zone("b").label("disk", "ssd"))
                .node(node("n3").zone("c"))
                .pod(foo_pod("a").on("n1"))
                .pod(foo_pod("b").on("n2"))
                .build(),
            incoming: incoming(vec![{
                let mut c = zone(foo());
                c.node_affinity_policy = Some(NodeInclusionPolicy::Ignore);
                c
            }])
            .spec(|s| s.node_selector = labels(&[("disk", "ssd")])),
            // The spread filter alone: zone c's 0 is the minimum, so zones a and b are refused.
            feasible: &["n3"],
        },
        Case {
            rule: "nodeTaintsPolicy Ignore (default) counts a tainted node's empty domain",
            cluster: ClusterBuilder::new()
                .node(node("n1"))
                .node(node("n2").taint("dedicated", no_schedule()))
                .pod(foo_pod("a").on("n1"))
                .build(),
            incoming: incoming(vec![host(foo())]),
            feasible: &["n2"],
        },
        Case {
            rule: "nodeTaintsPolicy Honor leaves out nodes with an untolerated taint",
            cluster: ClusterBuilder::new()
                .node(node("n1"))
                .node(node("n2").taint("dedicated", no_schedule()))
                .pod(foo_pod("a").on("n1"))
                .build(),
            incoming: incoming(vec![honor_taints(host(foo()))]),
            feasible: &["n1", "n2"],
        },
        Case {
            rule: "nodeTaintsPolicy Honor keeps nodes whose taint the pod tolerates",
            cluster: ClusterBuilder::new()
                .node(node("n1"))
                .node(node("n2").taint("dedicated", no_schedule()))
                .pod(foo_pod("a").on("n1"))
                .build(),
            incoming: incoming(vec![honor_taints(host(foo()))])
                .spec(|s| s.tolerations = vec![toleration_for("dedicated")]),
            feasible: &["n2"],
        },
        Case {
            rule: "a domain is the label value: two nodes of one zone count together",
            cluster: ClusterBuilder::new()
                .node(node("n1").zone("a"))
                .node(node("n2").zone("a"))
                .node(node("n3").zone("b"))
                .pod(foo_pod("a").on("n1"))
                .pod(foo_pod("b").on("n3"))
                .build(),
            incoming: incoming(vec![zone(foo())]),
            feasible: &["n1", "n2", "n3"],
        },
        Case {
            rule: "ScheduleAnyway constraints never refuse a node",
            cluster: ClusterBuilder::new()
                .node(node("n1"))
                .node(node("n2"))
                .pod(foo_pod("a").on("n1"))
                .pod(foo_pod("b").on("n1"))
                .build(),
            incoming: incoming(vec![pod_spread(
                HOSTNAME_LABEL,
                1,
                kube_spread::planner::model::WhenUnsatisfiable::ScheduleAnyway,
                foo(),
            )]),
            feasible: &["n1", "n2"],
        },
    ];
    for case in cases {
        assert_eq!(
            feasible(&case.cluster, &case.incoming),
            case.feasible,
            "{}",
            case.rule
        );
    }
}

#[test]
fn a_node_without_the_key_is_refused_with_missing_topology_key() {
    let cluster = ClusterBuilder::new()
        .node(node("n1").zone("a"))
        .node(node("n2"))
        .build();
    let pod = incoming(vec![pod_spread(ZONE_LABEL, 1, DoNotSchedule, foo())]);
    assert_eq!(
        verdicts(&cluster, &pod)[1].1,
        Err(Refusal::MissingTopologyKey {
            key: ZONE_LABEL.to_owned()
        })
    );
}
