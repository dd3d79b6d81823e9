//! The planner moves as few pods as possible, only where the scheduler would put them, and
//! never a pod that must stay.

mod support;

use std::time::Duration;

use kube_spread::{
    api::{HOSTNAME_LABEL, ZONE_LABEL},
    planner::{
        self, PlanOptions, Source,
        budget::BudgetVerdict,
        model::{
            Cluster, MoveStrategy, PodPhase, PodVolume, UpdateStrategy, WhenUnsatisfiable::*,
            Workload, WorkloadStatus,
        },
        report::{GroupPlan, Outcome},
        restart::Method,
    },
};
use support::model::*;

fn plan_pod_constraints(cluster: &Cluster) -> planner::Plan {
    planner::plan(
        cluster,
        &PlanOptions {
            now: now(),
            namespace: None,
            policy: None,
            source: Source::PodConstraints {
                min_pod_age: Duration::from_secs(300),
            },
        },
    )
}

fn hostname_policy() -> kube_spread::planner::model::Policy {
    policy("apps", vec![spread(HOSTNAME_LABEL, 1, ScheduleAnyway)])
}

fn only_group(plan: &planner::Plan) -> &GroupPlan {
    assert_eq!(plan.groups.len(), 1, "{:#?}", plan.groups);
    &plan.groups[0]
}

fn three_nodes() -> Vec<kube_spread::planner::model::Node> {
    vec![node("n1"), node("n2"), node("n3")]
}

fn moved_to(group: &GroupPlan) -> Vec<(&str, &str)> {
    group
        .moves
        .iter()
        .map(|m| (m.from_node.as_str(), m.to_node.as_str()))
        .collect()
}

#[test]
fn counts_3_3_0_after_a_recovery_give_exactly_two_moves_to_the_recovered_node() {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes(three_nodes())
        .workload_on(&web, &[("n1", 3), ("n2", 3)])
        .policy(hostname_policy())
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(group.lower_bound_moves, 2);
    assert_eq!(moved_to(group), [("n1", "n3"), ("n2", "n3")]);
    assert_eq!(group.outcome, Outcome::Rebalanced);
    assert_eq!(group.constraints[0].actionable_skew, 3);
    assert_eq!(group.constraints[0].actionable_skew_after, 0);
}

#[test]
fn a_dead_nodes_empty_domain_never_makes_pods_move() {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes([node("n1"), node("n2"), node("n3").not_ready()])
        .workload_on(&web, &[("n1", 3), ("n2", 3)])
        .policy(hostname_policy())
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    // The scheduler's skew counts the NotReady node; the actionable one does not.
    assert_eq!(group.constraints[0].skew, 3);
    assert_eq!(group.constraints[0].actionable_skew, 0);
    assert!(group.moves.is_empty());
    assert_eq!(group.outcome, Outcome::Balanced);
}

#[test]
fn a_cordoned_node_is_never_a_destination() {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes([node("n1"), node("n2").cordoned(), node("n3")])
        .workload_on(&web, &[("n1", 4)])
        .policy(hostname_policy())
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(moved_to(group), [("n1", "n3"), ("n1", "n3")]);
    assert!(group.moves.iter().all(|m| m.to_node != "n2"));
}

#[test]
fn one_ready_node_means_no_action_and_says_why() {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes([node("n1"), node("n2").not_ready(), node("n3").not_ready()])
        .workload_on(&web, &[("n1", 3)])
        .policy(hostname_policy())
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert!(group.moves.is_empty());
    assert_eq!(group.outcome, Outcome::Balanced);
    assert!(group.message.contains("balanced"), "{}", group.message);
}

#[test]
fn a_full_node_is_no_destination_and_its_domain_does_not_accept() {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes([node("n1"), node("n2"), node("n3").pod_slots(0)])
        .workload_on(&web, &[("n1", 3), ("n2", 3)])
        .policy(hostname_policy())
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    let n3 = group.constraints[0]
        .domains
        .iter()
        .find(|d| d.name == "n3")
        .expect("n3 is a domain");
    assert!(!n3.accepting);
    assert!(group.moves.is_empty());
}

#[test]
fn the_destination_is_the_least_loaded_node_of_the_emptiest_domain_then_by_name() {
    let web = deployment("web");
    let other = deployment("other");
    let cluster = ClusterBuilder::new()
        .nodes([
            node("a1").zone("a"),
            node("b1").zone("b"),
            node("b2").zone("b"),
            node("b3").zone("b"),
        ])
        .workload_on(&web, &[("a1", 4)])
        // b1 runs more pods overall; b2 and b3 tie, so the name decides.
        .workload_on(&other, &[("b1", 2)])
        .policy(policy("apps", vec![spread(ZONE_LABEL, 1, ScheduleAnyway)]))
        .build();
    let plan = plan(&cluster);
    let group = plan
        .groups
        .iter()
        .find(|g| g.group == "Deployment/web")
        .expect("web's group");
    assert_eq!(group.moves.len(), 2);
    assert_eq!(group.moves[0].to_node, "b2");
    assert_eq!(group.moves[0].to_domain, "b");
    // The second move sees b2 holding one of the group's pods, so b3 is less loaded.
    assert_eq!(group.moves[1].to_node, "b3");
}

#[test]
fn when_the_best_ranked_node_cannot_take_the_pod_the_next_best_is_chosen() {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes([
            node("a1").zone("a"),
            // Emptiest and first by name, but without room for web's 100m of CPU.
            node("b1").zone("b").cpu(50),
            node("b2").zone("b"),
            node("b3").zone("b"),
        ])
        .workload_on(&web, &[("a1", 4)])
        .policy(policy("apps", vec![spread(ZONE_LABEL, 1, ScheduleAnyway)]))
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    let destinations: Vec<&str> = group.moves.iter().map(|m| m.to_node.as_str()).collect();
    assert_eq!(destinations, ["b2", "b3"]);
}

#[test]
fn a_zone_and_a_hostname_constraint_are_met_together() {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes([
            node("a1").zone("a"),
            node("a2").zone("a"),
            node("b1").zone("b"),
            node("b2").zone("b"),
        ])
        .workload_on(&web, &[("a1", 3), ("a2", 1)])
        .policy(policy(
            "apps",
            vec![
                spread(ZONE_LABEL, 1, ScheduleAnyway),
                spread(HOSTNAME_LABEL, 1, ScheduleAnyway),
            ],
        ))
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(group.lower_bound_moves, 2);
    assert_eq!(group.moves.len(), 2);
    for constraint in &group.constraints {
        assert!(constraint.actionable_skew_after <= 1, "{constraint:?}");
    }
    assert!(
        group
            .moves
            .iter()
            .all(|m| m.from_node == "a1" && m.to_domain == "b")
    );
}

#[test]
fn no_move_targets_the_pods_own_domain() {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes([
            node("a1").zone("a"),
            node("a2").zone("a"),
            node("b1").zone("b"),
        ])
        .workload_on(&web, &[("a1", 4)])
        .policy(policy("apps", vec![spread(ZONE_LABEL, 1, ScheduleAnyway)]))
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(group.moves.len(), 2);
    assert!(
        group
            .moves
            .iter()
            .all(|m| m.from_domain != m.to_domain && m.to_node == "b1")
    );
}

#[test]
fn every_protection_keeps_its_pod_in_place_with_a_named_reason() {
    struct Case {
        protection: &'static str,
        build: fn(ClusterBuilder, &kube_spread::planner::model::Workload) -> ClusterBuilder,
    }
    let cases = [
        Case {
            protection: "Terminating",
            build: |c, w| c.pod(pod("web-x").of(w).on("n1").terminating()),
        },
        Case {
            protection: "Mirror",
            build: |c, w| c.pod(pod("web-x").of(w).on("n1").mirror()),
        },
        Case {
            protection: "Static",
            build: |c, w| {
                let mut p = pod("web-x").of(w).on("n1");
                p.static_pod = true;
                c.pod(p)
            },
        },
        Case {
            protection: "SystemCritical",
            build: |c, w| {
                c.pod(
                    pod("web-x")
                        .of(w)
                        .on("n1")
                        .spec(|s| s.priority_class = Some("system-cluster-critical".to_owned())),
                )
            },
        },
        Case {
            protection: "Pinned",
            build: |c, w| {
                c.pod(pod("web-x").of(w).on("n1").spec(|s| {
                    s.required_affinity = Some(node_affinity(HOSTNAME_LABEL, &["n1"]));
                }))
            },
        },
        Case {
            protection: "LocalStorage",
            build: |c, w| {
                c.pod(
                    pod("web-x")
                        .of(w)
                        .on("n1")
                        .spec(|s| s.volumes = vec![PodVolume::EmptyDir]),
                )
            },
        },
        Case {
            protection: "NodeBoundVolume",
            build: |c, w| {
                c.pod(
                    pod("web-x")
                        .of(w)
                        .on("n1")
                        .spec(|s| s.volumes = vec![pvc_volume("data")]),
                )
                .claim(claim("data", "pv-local"))
                .volume(volume("pv-local", None, true))
            },
        },
        Case {
            protection: "VolumeUnknown",
            build: |c, w| {
                c.pod(
                    pod("web-x")
                        .of(w)
                        .on("n1")
                        .spec(|s| s.volumes = vec![pvc_volume("missing")]),
                )
            },
        },
        Case {
            protection: "NotRunning",
            build: |c, w| c.pod(pod("web-x").of(w).on("n1").phase(PodPhase::Pending)),
        },
        Case {
            protection: "NotReady",
            build: |c, w| c.pod(pod("web-x").of(w).on("n1").not_ready()),
        },
        Case {
            protection: "TooYoung",
            build: |c, w| c.pod(pod("web-x").of(w).on("n1").started(now())),
        },
    ];
    for case in cases {
        let web = deployment("web");
        let base = ClusterBuilder::new()
            .nodes(three_nodes())
            .workload(web.clone().replicas(1))
            .policy(hostname_policy());
        let cluster = (case.build)(base, &web).build();
        let plan = plan(&cluster);
        let group = only_group(&plan);
        // Alone on n1 with two empty nodes: the skew is 1, so nothing needs to move;
        // protections are still reported.
        assert!(group.moves.is_empty(), "{}", case.protection);
        assert_eq!(
            group
                .skipped
                .iter()
                .map(|s| s.reason.reason())
                .collect::<Vec<_>>(),
            [case.protection],
            "{}",
            case.protection
        );
    }
}

#[test]
fn protected_pods_stay_while_movable_ones_rebalance() {
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes(three_nodes())
        .workload(web.clone())
        .pod(
            pod("web-a")
                .of(&web)
                .on("n1")
                .spec(|s| s.volumes = vec![PodVolume::HostPath]),
        )
        .pod(pod("web-b").of(&web).on("n1").started(now()))
        .pod(pod("web-c").of(&web).on("n1"))
        .pod(pod("web-d").of(&web).on("n1"))
        .policy(hostname_policy())
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    let moved: Vec<String> = group.moves.iter().map(|m| m.pod.to_string()).collect();
    assert_eq!(moved, ["media/web-c", "media/web-d"]);
    assert_eq!(group.outcome, Outcome::Rebalanced);
}

#[test]
fn a_pod_reachable_only_through_a_zonal_volume_moves_within_its_zone() {
    let db = stateful_set("db");
    let cluster = ClusterBuilder::new()
        .nodes([
            node("a1").zone("a"),
            node("a2").zone("a"),
            node("b1").zone("b"),
        ])
        .workload(db.clone())
        .pod(
            pod("db-0")
                .of(&db)
                .on("a1")
                .spec(|s| s.volumes = vec![pvc_volume("data-db-0")]),
        )
        .pod(
            pod("db-1")
                .of(&db)
                .on("a1")
                .spec(|s| s.volumes = vec![pvc_volume("data-db-1")]),
        )
        .claim(claim("data-db-0", "pv-0"))
        .claim(claim("data-db-1", "pv-1"))
        .volume(volume(
            "pv-0",
            Some(node_affinity(ZONE_LABEL, &["a"])),
            false,
        ))
        .volume(volume(
            "pv-1",
            Some(node_affinity(ZONE_LABEL, &["a"])),
            false,
        ))
        .policy(hostname_policy())
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(moved_to(group), [("a1", "a2")]);
}

#[test]
fn budgets_decide_whether_each_move_is_allowed_now() {
    let web = deployment("web");
    let base = || {
        ClusterBuilder::new()
            .nodes(three_nodes())
            .workload_on(&web, &[("n1", 3), ("n2", 3)])
            .policy(hostname_policy())
    };
    let verdicts = |cluster: Cluster| -> Vec<(bool, Option<&'static str>)> {
        let plan = plan(&cluster);
        let group = only_group(&plan);
        group
            .moves
            .iter()
            .map(|m| (m.pdb_allows, m.budget.refusal()))
            .collect()
    };
    assert_eq!(verdicts(base().build()), [(true, None), (true, None)]);
    assert_eq!(
        verdicts(base().pdb(pdb("web", Some(app("web")), 1)).build()),
        [(true, None), (false, Some("PdbBlocked"))],
        "the second move spends a budget the first has used up"
    );
    assert_eq!(
        verdicts(base().pdb(pdb("web", Some(app("web")), 0)).build()),
        [(false, Some("PdbBlocked")), (false, Some("PdbBlocked"))]
    );
    let mut stale = pdb("web", Some(app("web")), 5);
    stale.generation = 2;
    assert_eq!(
        verdicts(base().pdb(stale).build()),
        [(false, Some("PdbBlocked")), (false, Some("PdbBlocked"))]
    );
    assert_eq!(
        verdicts(
            base()
                .pdb(pdb("web", Some(app("web")), 5))
                .pdb(pdb(
                    "all",
                    Some(kube_spread::planner::selector::LabelSelector::everything()),
                    5
                ))
                .build()
        ),
        [(false, Some("MultiplePDBs")), (false, Some("MultiplePDBs"))]
    );
    assert_eq!(
        verdicts(base().pdb(pdb("none", None, 0)).build()),
        [(true, None), (true, None)],
        "a budget without a selector selects no pod"
    );
}

/// Builds a Deployment of a given name.
type Make = fn(&str) -> Workload;

/// Single-replica apps of `make`, all on n1 of two nodes, each under a budget that allows no
/// disruption, spread as one group by a policy that moves pods by `strategy`.
fn strict_budgets_on_one_node(apps: &[(&str, Make)], strategy: MoveStrategy) -> Cluster {
    let mut builder = ClusterBuilder::new().nodes([node("n1"), node("n2")]);
    for (name, make) in apps {
        builder = builder
            .workload_on(&make(name), &[("n1", 1)])
            .pdb(pdb(name, Some(app(name)), 0));
    }
    let mut policy = policy_scope(hostname_policy());
    policy.spec.move_strategy = strategy;
    builder.policy(policy).build()
}

/// A Deployment that surges one pod and never goes below its replicas.
fn surging(name: &str) -> Workload {
    let mut workload = deployment(name);
    workload.strategy = UpdateStrategy::RollingUpdate {
        max_surge: "1".to_owned(),
        max_unavailable: "0".to_owned(),
    };
    workload
}

/// A Deployment that stops its pod before starting the new one.
fn recreated(name: &str) -> Workload {
    let mut workload = deployment(name);
    workload.strategy = UpdateStrategy::Recreate;
    workload
}

/// A Deployment that may not surge: its rollout takes the pod down first.
fn not_surging(name: &str) -> Workload {
    let mut workload = deployment(name);
    workload.strategy = UpdateStrategy::RollingUpdate {
        max_surge: "0".to_owned(),
        max_unavailable: "1".to_owned(),
    };
    workload
}

/// Each move's pod, method and whether it may be made now.
/// Expected moves as `methods` lists them.
fn owned(expected: &[(&str, Method, bool)]) -> Vec<(String, Method, bool)> {
    expected
        .iter()
        .map(|&(pod, method, allows)| (pod.to_owned(), method, allows))
        .collect()
}

fn methods(group: &GroupPlan) -> Vec<(String, Method, bool)> {
    group
        .moves
        .iter()
        .map(|m| (m.pod.to_string(), m.method, m.pdb_allows))
        .collect()
}

#[test]
fn under_auto_a_surging_single_replica_deployment_moves_by_restart_although_its_budget_allows_no_eviction()
 {
    let cluster = strict_budgets_on_one_node(
        &[
            ("a", surging),
            ("b", surging),
            ("c", deployment),
            ("d", deployment),
        ],
        MoveStrategy::Auto,
    );
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(
        methods(group),
        owned(&[
            ("media/a-0", Method::Restart, true),
            ("media/b-0", Method::Restart, true)
        ]),
        "{group:#?}"
    );
    assert!(
        group
            .moves
            .iter()
            .all(|m| m.budget == BudgetVerdict::NotNeeded)
    );
    assert_eq!(plan.summary.moves_allowed_now, 2);
}

#[test]
fn under_evict_a_surging_single_replica_deployment_stays_blocked_by_its_budget() {
    let cluster = strict_budgets_on_one_node(
        &[
            ("a", surging),
            ("b", surging),
            ("c", surging),
            ("d", surging),
        ],
        MoveStrategy::Evict,
    );
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(
        methods(group),
        owned(&[
            ("media/a-0", Method::Evict, false),
            ("media/b-0", Method::Evict, false)
        ])
    );
    assert_eq!(group.moves[0].budget.refusal(), Some("PdbBlocked"));
    assert_eq!(plan.summary.moves_allowed_now, 0);
}

#[test]
fn under_auto_a_deployment_that_cannot_surge_stays_blocked_by_its_budget() {
    let cluster = strict_budgets_on_one_node(
        &[
            ("a", recreated),
            ("b", not_surging),
            ("c", recreated),
            ("d", not_surging),
        ],
        MoveStrategy::Auto,
    );
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(
        methods(group),
        owned(&[
            ("media/a-0", Method::Evict, false),
            ("media/b-0", Method::Evict, false)
        ])
    );
}

#[test]
fn under_auto_a_deployment_of_several_replicas_stays_blocked_by_its_budget() {
    let web = surging("web");
    let mut policy = hostname_policy();
    policy.spec.move_strategy = MoveStrategy::Auto;
    let cluster = ClusterBuilder::new()
        .nodes(three_nodes())
        .workload_on(&web, &[("n1", 3), ("n2", 3)])
        .pdb(pdb("web", Some(app("web")), 0))
        .policy(policy)
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(group.moves.len(), 2);
    assert!(
        group
            .moves
            .iter()
            .all(|m| m.method == Method::Evict && !m.pdb_allows),
        "{group:#?}"
    );
}

#[test]
fn under_auto_a_pod_whose_claim_is_read_write_once_stays_blocked_by_its_budget() {
    let with_claim = |name: &str| {
        let claim = format!("data-{name}");
        surging(name).spec(move |s| s.volumes = vec![pvc_volume(&claim)])
    };
    let mut cluster = strict_budgets_on_one_node(
        &[
            ("a", with_claim),
            ("b", with_claim),
            ("c", with_claim),
            ("d", with_claim),
        ],
        MoveStrategy::Auto,
    );
    for name in ["a", "b", "c", "d"] {
        // Two pods cannot mount it on two nodes at once: the surge pod would never start.
        let claim = claim(&format!("data-{name}"), &format!("pv-{name}"));
        assert_eq!(claim.access_modes, ["ReadWriteOnce"]);
        cluster.claims.push(claim);
        cluster
            .volumes
            .push(volume(&format!("pv-{name}"), None, false));
    }
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(group.moves.len(), 2, "{group:#?}");
    assert!(
        group
            .moves
            .iter()
            .all(|m| m.method == Method::Evict && !m.pdb_allows),
        "{group:#?}"
    );
}

#[test]
fn under_auto_restartable_pods_are_planned_before_pods_their_budgets_hold_back() {
    // Names put the held-back pods first: the plan must still choose the ones it can move.
    let cluster = strict_budgets_on_one_node(
        &[
            ("audit", recreated),
            ("ledger", not_surging),
            ("solo", surging),
            ("web", surging),
        ],
        MoveStrategy::Auto,
    );
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(
        methods(group),
        owned(&[
            ("media/solo-0", Method::Restart, true),
            ("media/web-0", Method::Restart, true)
        ]),
        "{group:#?}"
    );
}

#[test]
fn scope_policy_balances_many_single_replica_apps_as_one_group() {
    let apps: Vec<_> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|name| deployment(name))
        .collect();
    let mut builder = ClusterBuilder::new().nodes(three_nodes());
    for app in &apps {
        builder = builder.workload_on(app, &[("n1", 1)]);
    }
    let cluster = builder.policy(policy_scope(hostname_policy())).build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(group.group, "SpreadPolicy/apps");
    assert_eq!(group.lower_bound_moves, 4);
    assert_eq!(group.moves.len(), 4);
    let after: Vec<u32> = plan.summary.nodes.iter().map(|n| n.pods_after).collect();
    assert_eq!(after, [2, 2, 2]);
}

#[test]
fn pinned_and_ignored_workloads_are_left_alone_and_reported() {
    let z2m = deployment("z2m").spec(|s| s.node_selector = labels(&[(HOSTNAME_LABEL, "n1")]));
    let ha = stateful_set("homeassistant").spec(|s| s.node_name = Some("n1".to_owned()));
    let legacy = deployment("legacy").ignored();
    let cluster = ClusterBuilder::new()
        .nodes(three_nodes())
        .workload_on(&z2m, &[("n1", 1)])
        .workload_on(&ha, &[("n1", 1)])
        .workload_on(&legacy, &[("n1", 3)])
        .policy(hostname_policy())
        .build();
    let plan = plan(&cluster);
    assert_eq!(
        plan.groups.len(),
        3,
        "every group of every policy is reported"
    );
    for group in &plan.groups {
        assert_eq!(group.outcome, Outcome::LeftAlone, "{}", group.group);
        assert!(group.moves.is_empty());
    }
    let reasons: Vec<String> = plan
        .groups
        .iter()
        .flat_map(|g| {
            g.left_alone
                .iter()
                .map(|w| format!("{} {}", w.workload, w.reason))
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "Deployment/z2m Pinned",
            "StatefulSet/homeassistant Pinned",
            "Deployment/legacy Ignored"
        ]
    );
}

#[test]
fn a_policy_scope_group_leaves_pinned_pods_out_of_its_count() {
    let z2m = deployment("z2m").spec(|s| s.node_selector = labels(&[(HOSTNAME_LABEL, "n1")]));
    let web = deployment("web");
    let cluster = ClusterBuilder::new()
        .nodes(three_nodes())
        .workload_on(&z2m, &[("n1", 1)])
        .workload_on(&web, &[("n1", 1), ("n2", 1)])
        .policy(policy_scope(hostname_policy()))
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    let counts: Vec<u32> = group.constraints[0]
        .domains
        .iter()
        .map(|d| d.pods)
        .collect();
    assert_eq!(counts, [1, 1, 0]);
    assert!(group.moves.is_empty());
    assert_eq!(group.skipped.len(), 1);
    assert_eq!(group.skipped[0].reason.reason(), "Pinned");
}

#[test]
fn a_group_with_no_pods_yet_is_still_reported() {
    let cluster = ClusterBuilder::new()
        .nodes(three_nodes())
        .workload(deployment("web").replicas(0))
        .policy(hostname_policy())
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(group.group, "Deployment/web");
    assert_eq!(group.outcome, Outcome::Balanced);
    assert_eq!(group.constraints[0].domains.iter().count(), 3);
}

#[test]
fn pod_constraints_mode_groups_pods_by_their_own_constraints() {
    let selector = Some(app("web"));
    let web = deployment("web").spec(|s| {
        s.spread_constraints = vec![pod_spread(
            HOSTNAME_LABEL,
            1,
            DoNotSchedule,
            selector.clone(),
        )];
    });
    let cluster = ClusterBuilder::new()
        .nodes(three_nodes())
        .workload_on(&web, &[("n1", 3)])
        .pod(pod("bare").label("app", "web").on("n1").spec(|s| {
            s.spread_constraints = vec![pod_spread(
                HOSTNAME_LABEL,
                1,
                DoNotSchedule,
                Some(app("web")),
            )];
        }))
        .pod(
            pod("agent-1")
                .owned_by("DaemonSet", "agent")
                .on("n1")
                .spec(|s| {
                    s.spread_constraints = vec![pod_spread(
                        HOSTNAME_LABEL,
                        1,
                        DoNotSchedule,
                        Some(app("agent")),
                    )];
                }),
        )
        .build();
    let plan = plan_pod_constraints(&cluster);
    // web's pods and the bare pod carry the same constraint, so they form one group, named
    // by the constraint since no single workload owns it.
    let web_group = plan
        .groups
        .iter()
        .find(|g| g.group == "app=web@kubernetes.io/hostname")
        .expect("the app=web pods form a group");
    assert!(web_group.policy.is_none());
    // Four pods match app=web on n1 (three of web, the bare one): two moves reach 2/1/1.
    assert_eq!(web_group.moves.len(), 2);
    let reasons: Vec<&str> = plan
        .groups
        .iter()
        .flat_map(|g| g.skipped.iter().map(|s| s.reason.reason()))
        .collect();
    assert!(reasons.contains(&"NoController"), "{reasons:?}");
    assert!(reasons.contains(&"DaemonSet"), "{reasons:?}");
}

#[test]
fn stateful_sets_take_the_policy_override_of_when_unsatisfiable() {
    let mut spol = hostname_policy();
    spol.spec.stateful_set_when_unsatisfiable = Some(DoNotSchedule);
    let db = stateful_set("db");
    let cluster = ClusterBuilder::new()
        .nodes(three_nodes())
        .workload_on(&db, &[("n1", 2)])
        .policy(spol)
        .build();
    let plan = plan(&cluster);
    let group = only_group(&plan);
    assert_eq!(group.constraints[0].when_unsatisfiable, DoNotSchedule);
    assert_eq!(group.moves.len(), 1);
}

#[test]
fn a_rollout_is_complete_only_once_every_replica_is_updated_and_available_and_none_is_left_over() {
    let settled = WorkloadStatus {
        observed_generation: 1,
        replicas: 3,
        ready_replicas: 3,
        available_replicas: 3,
        updated_replicas: 3,
    };
    type Edit = fn(&mut WorkloadStatus);
    let with = |edit: Edit| {
        let mut web = deployment("web").replicas(3);
        web.status = settled.clone();
        edit(&mut web.status);
        web.rollout_complete()
    };
    assert!(with(|_| {}));
    let unfinished: [(&str, Edit); 4] = [
        ("the spec's generation is not observed yet", |s| {
            s.observed_generation = 0;
        }),
        ("a replica runs the old template", |s| {
            s.updated_replicas = 2
        }),
        ("a replica is not available", |s| s.available_replicas = 2),
        ("an old replica is left over", |s| s.replicas = 4),
    ];
    for (case, edit) in unfinished {
        assert!(!with(edit), "{case}");
    }
}
