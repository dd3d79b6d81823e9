//! Rebalancing, end to end on small clusters: the real controller, as the chart's
//! ServiceAccount under its RBAC, against the simulated API and control plane.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use kube_spread::planner::{protection::Protection, report::SkipReason};
use kube_spread::sim::{
    SimApi,
    report::{Report, groups::GroupReport},
    scenario::{Scenario, Simulation},
};
use serde_json::{Value, json};
use support::controller::{CONTROLLER_USER, grant, policy_status, replica};

/// One scenario object (JSON is YAML).
fn object(value: Value) -> String {
    format!("  - {value}\n")
}

/// A node of 4 CPUs; `spec` as given.
fn node(name: &str, spec: Value) -> String {
    object(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": spec,
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}))
}

/// A Deployment of `replicas` small pods labelled `app: NAME`.
fn deployment(name: &str, replicas: u32) -> String {
    object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "apps", "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"terminationGracePeriodSeconds": 5,
                                       "containers": [{"name": "main", "image": "x",
                                                       "resources": {"requests": {"cpu": "100m"}}}]}}}}))
}

/// A PodDisruptionBudget `name` selecting `app: APP` with `spec` merged in.
fn pdb(name: &str, app: &str, spec: Value) -> String {
    let mut value = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"selector": {"matchLabels": {"app": app}}}});
    for (key, field) in spec.as_object().into_iter().flatten() {
        value["spec"][key] = field.clone();
    }
    object(value)
}

/// A SpreadPolicy `spread` in `apps`: scope Policy, a hostname constraint with maxSkew 1,
/// and `rebalance`.
fn policy(rebalance: Value) -> String {
    object(
        json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "spread", "namespace": "apps"},
        "spec": {"scope": "Policy",
                 "constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                  "whenUnsatisfiable": "ScheduleAnyway"}],
                 "rebalance": rebalance}}),
    )
}

/// A scenario of `objects` (after the `apps` namespace) and `events`, lasting `duration`.
fn scenario(objects: &[String], events: &str, duration: &str) -> Scenario {
    let events = if events.is_empty() {
        " []".to_owned()
    } else {
        format!("\n{events}")
    };
    let text = format!(
        "name: small\nsettings: {{seed: 7, duration: {duration}, podStartup: {{min: 5s, max: 20s}}, sampleEvery: 1m}}\n\
         events:{events}\nobjects:\n  - {{apiVersion: v1, kind: Namespace, metadata: {{name: apps}}}}\n{}",
        objects.concat()
    );
    Scenario::parse("small", &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Node c down at 2m, back at 20m: with six pods, 2/2/2 becomes 3/3/0.
const C_DOWN_AND_BACK: &str = "  - {at: 2m, nodeDown: c}\n  - {at: 20m, nodeUp: c}";

/// A replica that runs until the simulation ends.
fn controller_task(
    sim: &SimApi,
    user: &str,
    identity: &str,
    elect: bool,
) -> impl Future<Output = ()> + Send + 'static {
    replica(sim, user, identity, elect, std::future::pending())
}

/// Runs the scenario with one controller replica; returns the report, the API and the
/// policy's final status.
async fn run(scenario: Scenario) -> (Report, SimApi, Value) {
    let mut simulation = Simulation::new(scenario).unwrap();
    let api = simulation.api().clone();
    grant(&api, None).await;
    simulation.spawn(controller_task(
        &api,
        CONTROLLER_USER,
        "kube-spread-0",
        false,
    ));
    let report = simulation.run().await.unwrap();
    let status = policy_status(&api, "apps", "spread").await;
    (report, api, status)
}

fn group(report: &Report) -> &GroupReport {
    report
        .policy_groups
        .iter()
        .find(|g| g.policy.as_deref() == Some("spread"))
        .unwrap_or_else(|| panic!("no group of apps/spread: {:#?}", report.policy_groups))
}

fn mentions(status: &Value, reason: &str) -> bool {
    status.to_string().contains(&format!("\"{reason}\""))
}

/// The controller's calls: (verb, resource, dry run, code).
fn calls(api: &SimApi, resource: &str) -> Vec<(String, bool, u16)> {
    api.audit()
        .of(CONTROLLER_USER)
        .into_iter()
        .filter(|r| r.resource == resource)
        .map(|r| (r.verb, r.dry_run, r.code))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn counts_of_3_3_0_after_a_recovery_take_exactly_two_moves_one_at_a_time_each_after_its_replacement_is_ready()
 {
    let objects = [
        node("a", json!({})),
        node("b", json!({})),
        node("c", json!({})),
        deployment("web", 6),
        policy(json!({})),
    ];
    let (report, _, status) = run(scenario(&objects, C_DOWN_AND_BACK, "50m")).await;
    let group = group(&report);
    let start = &group.constraints[0]
        .at_start
        .as_ref()
        .expect("rebalancing started")
        .domains;
    assert_eq!(
        start.values().copied().collect::<Vec<_>>(),
        [3, 3, 0],
        "{group:#?}"
    );
    assert_eq!(group.lower_bound_moves, Some(2));
    assert_eq!(group.moves, 2, "{:#?}", report.move_log);
    assert_eq!(group.max_in_flight, 1, "one at a time");
    let end = &group.constraints[0].at_end.as_ref().unwrap().domains;
    assert_eq!(end.values().copied().collect::<Vec<_>>(), [2, 2, 2]);
    // The second move waits for the first replacement to be Ready, then the 30 s cooldown.
    let (first, second) = (report.move_log[0].t, report.move_log[1].t);
    assert!(
        second >= first + 5 + 30,
        "moves at {first} s and {second} s"
    );
    assert_eq!(report.pdb_violations, 0);
    assert_eq!(status["rebalance"]["totalMoves"], 2, "{status:#}");
}

#[tokio::test(start_paused = true)]
async fn a_single_replica_under_a_pdb_with_min_available_1_is_blocked_without_a_hot_loop() {
    // Two single-replica apps, each under a budget that allows no disruption, both on a
    // while b is cordoned; uncordoning b arms rebalancing.
    let objects = [
        node("a", json!({})),
        node("b", json!({"unschedulable": true})),
        deployment("solo", 1),
        deployment("duo", 1),
        pdb("solo", "solo", json!({"minAvailable": 1})),
        pdb("duo", "duo", json!({"minAvailable": 1})),
        policy(json!({"stabilizationWindow": "1m"})),
    ];
    let (report, api, status) =
        run(scenario(&objects, "  - {at: 10m, uncordon: b}", "1h10m")).await;
    assert_eq!(report.moves, 0, "{:#?}", report.move_log);
    assert!(mentions(&status, "PdbBlocked"), "{status:#}");
    // The condition names the pods and their budgets, and Events say so on both.
    assert!(
        status
            .to_string()
            .contains("PodDisruptionBudget apps/solo: DisruptionsExhausted"),
        "{status:#}"
    );
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(api.client(), "apps");
    let blocked: Vec<String> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|event| event.reason.as_deref() == Some("MoveBlocked"))
        .filter_map(|event| event.regarding.and_then(|regarding| regarding.kind))
        .collect();
    assert!(
        blocked.iter().any(|kind| kind == "Pod")
            && blocked.iter().any(|kind| kind == "PodDisruptionBudget"),
        "{blocked:?}"
    );
    // The plan already knows the budgets allow nothing: the controller may ask the API, but
    // every try is refused and tries are spaced by back-off (30 s doubling to 10 min).
    let evictions = calls(&api, "pods/eviction");
    assert!(
        evictions.iter().all(|(_, _, code)| *code == 429),
        "every try was refused by the budget: {evictions:?}"
    );
    assert!(
        evictions.len() <= 12,
        "{} eviction calls in an hour",
        evictions.len()
    );
    let writes: Vec<_> = api
        .audit()
        .of(CONTROLLER_USER)
        .into_iter()
        .filter(|r| r.verb != "watch" && r.verb != "list" && r.resource != "events")
        .map(|r| format!("{} {}", r.verb, r.resource))
        .collect();
    assert!(
        writes.len() <= 40,
        "{} calls in an hour: {writes:?}",
        writes.len()
    );
}

/// Runs `objects` with the controller and prints nothing; for the cases below.
async fn run_objects(objects: &[String], events: &str, duration: &str) -> (Report, SimApi, Value) {
    run(scenario(objects, events, duration)).await
}

/// The pods on a node at the end.
fn pods_on(report: &Report, node: &str) -> Vec<String> {
    report
        .final_pods
        .iter()
        .filter(|p| p.node.as_deref() == Some(node) && !p.terminating)
        .map(|p| p.name.clone())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn two_budgets_on_one_pod_mark_its_workload_multiple_pdbs_and_it_is_not_moved() {
    let objects = [
        node("a", json!({})),
        node("b", json!({"unschedulable": true})),
        deployment("web", 2),
        pdb("web", "web", json!({"maxUnavailable": 1})),
        pdb("web-too", "web", json!({"maxUnavailable": 1})),
        policy(json!({"stabilizationWindow": "1m"})),
    ];
    let (report, _, status) = run_objects(&objects, "  - {at: 10m, uncordon: b}", "40m").await;
    assert_eq!(report.moves, 0, "{:#?}", report.move_log);
    assert!(mentions(&status, "MultiplePDBs"), "{status:#}");
}

#[tokio::test(start_paused = true)]
async fn dry_run_writes_nothing_and_reports_the_moves_a_budget_refuses_as_blocked() {
    let objects = [
        node("a", json!({})),
        node("b", json!({})),
        node("c", json!({})),
        deployment("web", 6),
        pdb("web", "web", json!({"maxUnavailable": 0})),
        policy(json!({"mode": "DryRun"})),
    ];
    let (report, api, status) = run_objects(&objects, C_DOWN_AND_BACK, "50m").await;
    assert_eq!(report.moves, 0, "{:#?}", report.move_log);
    let evictions = calls(&api, "pods/eviction");
    assert!(!evictions.is_empty(), "the moves were evaluated by the API");
    assert!(
        evictions.iter().all(|(_, dry_run, _)| *dry_run),
        "only dry-run evictions: {evictions:?}"
    );
    let pod_writes: Vec<_> = api
        .audit()
        .of(CONTROLLER_USER)
        .into_iter()
        .filter(|r| r.writes() && r.resource.starts_with("pods"))
        .collect();
    assert!(pod_writes.is_empty(), "{pod_writes:?}");
    let dry_run = &status["rebalance"]["dryRun"];
    assert!(dry_run["blocked"].as_i64().unwrap_or(0) >= 1, "{status:#}");
    assert_eq!(group(&report).moves, 0);
}

#[tokio::test(start_paused = true)]
async fn a_replacement_the_scheduler_puts_back_leads_to_back_off_and_scheduler_disagrees() {
    // c carries a PreferNoSchedule taint: the planner may target it, the scheduler's
    // TaintToleration score (weight 3) sends replacements back to a and b.
    let taint = json!({"taints": [{"key": "slow", "value": "true", "effect": "PreferNoSchedule"}]});
    let objects = [
        node("a", json!({})),
        node("b", json!({})),
        node("c", taint),
        deployment("web", 6),
        policy(json!({"trigger": "Continuous", "stabilizationWindow": "1m", "minPodAge": "1m"})),
    ];
    let (report, _, status) = run_objects(&objects, "", "2h").await;
    assert!(mentions(&status, "SchedulerDisagrees"), "{status:#}");
    assert!(
        pods_on(&report, "c").is_empty(),
        "the scheduler kept c empty"
    );
    // Back-off: three disagreements, then waits that double, not a move a minute.
    assert!(
        (3..=8).contains(&report.moves),
        "{} moves in two hours: {:#?}",
        report.moves,
        report.move_log
    );
}

#[tokio::test(start_paused = true)]
async fn a_pod_on_a_node_bound_volume_is_skipped_with_its_reason() {
    let volume = object(json!({"apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": "db-a"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": "local", "local": {"path": "/data"},
                 "claimRef": {"namespace": "apps", "name": "db"},
                 "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                     {"key": "kubernetes.io/hostname", "operator": "In", "values": ["a"]}]}]}}},
        "status": {"phase": "Bound"}}));
    let claim = object(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "db", "namespace": "apps"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local", "volumeName": "db-a",
                 "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound"}}));
    let db = object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "db", "namespace": "apps"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                 "strategy": {"type": "Recreate"},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "x"}],
                                       "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "db"}}]}}}}));
    let objects = [
        node("a", json!({})),
        node("b", json!({"unschedulable": true})),
        volume,
        claim,
        db,
        deployment("web", 3),
        policy(json!({"stabilizationWindow": "1m"})),
    ];
    let mut simulation =
        Simulation::new(scenario(&objects, "  - {at: 10m, uncordon: b}", "40m")).unwrap();
    let api = simulation.api().clone();
    grant(&api, None).await;
    simulation.spawn(controller_task(
        &api,
        CONTROLLER_USER,
        "kube-spread-0",
        false,
    ));
    let report = simulation.run().await.unwrap();
    assert!(
        report
            .move_log
            .iter()
            .all(|m| !m.pod.starts_with("apps/db-")),
        "{:#?}",
        report.move_log
    );
    assert!(
        report.moves >= 1,
        "the others moved: {:#?}",
        report.move_log
    );
    let db_pod = report
        .final_pods
        .iter()
        .find(|p| p.name.starts_with("db-"))
        .expect("the db pod");
    assert_eq!(db_pod.node.as_deref(), Some("a"));
    // `kube-spread plan` on the live cluster says why it stays.
    let snapshot = kube_spread::snapshot::live::list_with(api.client())
        .await
        .unwrap();
    let plan = kube_spread::planner::plan(
        &snapshot.cluster,
        &kube_spread::planner::PlanOptions {
            now: api.store().clock().now(),
            namespace: None,
            policy: None,
            source: kube_spread::planner::Source::Policies,
        },
    );
    let skipped = &plan.groups[0].skipped;
    assert!(
        skipped
            .iter()
            .any(|s| s.pod.to_string() == format!("apps/{}", db_pod.name)
                && s.reason == SkipReason::Protected(Protection::NodeBoundVolume)),
        "{skipped:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn with_one_ready_node_nothing_moves_and_the_status_says_why() {
    let objects = [
        node("a", json!({})),
        node("b", json!({})),
        deployment("web", 4),
        policy(json!({"trigger": "Continuous", "stabilizationWindow": "1m"})),
    ];
    let (report, api, status) = run_objects(&objects, "  - {at: 2m, nodeDown: b}", "40m").await;
    assert_eq!(report.moves, 0, "{:#?}", report.move_log);
    assert!(calls(&api, "pods/eviction").is_empty());
    assert!(mentions(&status, "NoAcceptingDomain"), "{status:#}");
}

#[tokio::test(start_paused = true)]
async fn a_cordoned_node_is_never_a_destination() {
    let objects = [
        node("a", json!({})),
        node("b", json!({})),
        node("c", json!({})),
        node("d", json!({"unschedulable": true})),
        deployment("web", 6),
        policy(json!({})),
    ];
    let (report, _, _) = run_objects(&objects, C_DOWN_AND_BACK, "50m").await;
    let group = group(&report);
    assert_eq!(group.moves, 2, "{:#?}", report.move_log);
    assert!(pods_on(&report, "d").is_empty());
    let end = &group.constraints[0].at_end.as_ref().unwrap().domains;
    assert_eq!(end.get("d"), Some(&0), "{end:?}");
}

#[tokio::test(start_paused = true)]
async fn a_controller_restarted_mid_rebalance_makes_no_extra_moves_and_keeps_its_hourly_budget() {
    let objects = [
        node("a", json!({})),
        node("b", json!({})),
        node("c", json!({})),
        deployment("web", 9),
        policy(json!({"maxMovesPerHour": 2})),
    ];
    let mut simulation = Simulation::new(scenario(&objects, C_DOWN_AND_BACK, "60m")).unwrap();
    let api = simulation.api().clone();
    grant(&api, None).await;
    let watched = api.clone();
    let evicted_once = async move {
        while calls(&watched, "pods/eviction")
            .iter()
            .all(|(_, _, code)| *code != 201)
        {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    };
    // The first replica stops (SIGTERM: it releases the lease) right after its first eviction;
    // the second, waiting for the lease, takes over mid-rebalance.
    simulation.spawn(replica(
        &api,
        CONTROLLER_USER,
        "kube-spread-0",
        true,
        evicted_once,
    ));
    simulation.spawn(controller_task(
        &api,
        CONTROLLER_USER,
        "kube-spread-1",
        true,
    ));
    let report = simulation.run().await.unwrap();
    let status = policy_status(&api, "apps", "spread").await;
    assert_eq!(
        report.moves, 2,
        "the hourly budget held across the restart: {:#?}",
        report.move_log
    );
    assert_eq!(status["rebalance"]["movesLastHour"], 2, "{status:#}");
    assert!(mentions(&status, "BudgetExhausted"), "{status:#}");
}

#[tokio::test(start_paused = true)]
async fn with_two_replicas_only_the_leader_writes() {
    let objects = [
        node("a", json!({})),
        node("b", json!({})),
        node("c", json!({})),
        deployment("web", 6),
        policy(json!({})),
    ];
    let mut simulation = Simulation::new(scenario(&objects, C_DOWN_AND_BACK, "50m")).unwrap();
    let api = simulation.api().clone();
    grant(&api, None).await;
    let other = "system:serviceaccount:kube-spread:kube-spread-other";
    api.rbac()
        .grant(other, None, support::controller::cluster_permissions());
    api.rbac().grant(
        other,
        Some("kube-spread"),
        support::controller::lease_permissions(),
    );
    simulation.spawn(controller_task(
        &api,
        CONTROLLER_USER,
        "kube-spread-0",
        true,
    ));
    simulation.spawn(controller_task(&api, other, "kube-spread-1", true));
    let report = simulation.run().await.unwrap();
    assert_eq!(group(&report).moves, 2, "{:#?}", report.move_log);
    let writers: std::collections::BTreeSet<String> = api
        .audit()
        .records()
        .into_iter()
        .filter(|r| r.writes() && r.resource != "leases" && r.user.is_some())
        .filter_map(|r| r.user)
        .collect();
    assert_eq!(writers.len(), 1, "one replica wrote: {writers:?}");
}

#[tokio::test(start_paused = true)]
async fn with_move_strategy_auto_a_single_replica_under_a_strict_budget_moves_by_a_rollout_restart_and_never_goes_down()
 {
    let surging = |name: &str| {
        let mut text = deployment(name, 1);
        text = text.replace(
            "\"replicas\":1,",
            "\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1,\"maxUnavailable\":0}},",
        );
        assert!(text.contains("maxSurge"), "{text}");
        text
    };
    let objects = [
        node("a", json!({})),
        node("b", json!({"unschedulable": true})),
        surging("solo"),
        surging("duo"),
        pdb("solo", "solo", json!({"minAvailable": 1})),
        pdb("duo", "duo", json!({"minAvailable": 1})),
        policy(json!({"stabilizationWindow": "1m", "moveStrategy": "Auto"})),
    ];
    let (report, api, _) = run_objects(&objects, "  - {at: 10m, uncordon: b}", "40m").await;
    assert_eq!(report.moves, 1, "{:#?}", report.move_log);
    assert_eq!(report.move_log[0].how, "rolloutRestart");
    assert_eq!(report.pdb_violations, 0, "the app never went down");
    assert_eq!(pods_on(&report, "b").len(), 1, "{:#?}", report.final_pods);
    assert!(
        calls(&api, "pods/eviction").is_empty(),
        "no eviction was needed"
    );
}

/// A single-replica Deployment `name` that rolls out by `strategy`.
fn single_replica_rolling_by(name: &str, strategy: Value) -> String {
    let mut value: Value = serde_json::from_str(deployment(name, 1).trim_start_matches("  - "))
        .expect("the helper writes JSON");
    value["spec"]["strategy"] = strategy;
    object(value)
}

#[tokio::test(start_paused = true)]
async fn with_move_strategy_auto_rebalancing_restarts_what_it_can_instead_of_stalling_on_budgets_that_allow_no_eviction()
 {
    // Four single-replica apps on a, each under a budget with minAvailable 1; b is uncordoned.
    // The two whose rollouts take their pod down first are injected last, so theirs are the
    // youngest pods, which the plan prefers among pods alike; yet only the two that surge can
    // move: they move by restart, and the rebalance completes.
    let surge =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    let objects = [
        node("a", json!({})),
        node("b", json!({"unschedulable": true})),
        single_replica_rolling_by("alpha", surge.clone()),
        single_replica_rolling_by("beta", surge),
        single_replica_rolling_by(
            "ledger",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}),
        ),
        single_replica_rolling_by("vault", json!({"type": "Recreate"})),
        pdb("alpha", "alpha", json!({"minAvailable": 1})),
        pdb("beta", "beta", json!({"minAvailable": 1})),
        pdb("ledger", "ledger", json!({"minAvailable": 1})),
        pdb("vault", "vault", json!({"minAvailable": 1})),
        policy(json!({"stabilizationWindow": "1m", "moveStrategy": "Auto"})),
    ];
    let (report, api, status) = run_objects(&objects, "  - {at: 10m, uncordon: b}", "40m").await;
    assert_eq!(report.moves, 2, "{:#?}", report.move_log);
    assert!(
        report.move_log.iter().all(|m| m.how == "rolloutRestart"),
        "{:#?}",
        report.move_log
    );
    assert_eq!(report.pdb_violations, 0, "no app went down");
    let mut moved = pods_on(&report, "b");
    moved.sort();
    assert_eq!(moved.len(), 2, "{:#?}", report.final_pods);
    assert!(
        moved
            .iter()
            .all(|pod| pod.starts_with("alpha") || pod.starts_with("beta")),
        "{moved:?}"
    );
    let group = group(&report);
    assert_eq!(group.lower_bound_moves_at_end, 0, "{group:#?}");
    assert!(
        calls(&api, "pods/eviction").is_empty(),
        "no eviction was needed"
    );
    assert_eq!(status["rebalance"]["totalMoves"], 2, "{status:#}");
}

/// A Deployment of `replicas` pods that carries its own hostname constraint (maxSkew 1).
fn spread_deployment(name: &str, replicas: u32) -> String {
    object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "apps", "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"terminationGracePeriodSeconds": 5,
                                       "topologySpreadConstraints": [{"maxSkew": 1,
                                           "topologyKey": "kubernetes.io/hostname",
                                           "whenUnsatisfiable": "ScheduleAnyway",
                                           "labelSelector": {"matchLabels": {"app": name}},
                                           "matchLabelKeys": ["pod-template-hash"]}],
                                       "containers": [{"name": "main", "image": "x",
                                                       "resources": {"requests": {"cpu": "10m"}}}]}}}}))
}

#[tokio::test(start_paused = true)]
async fn a_recovery_needing_32_moves_finishes_under_the_default_budgets() {
    // Six nodes and eight Deployments of 24: f goes down and its 32 pods land elsewhere; once
    // it is back, 32 moves are needed, more than the 20 an hour the defaults allow within the
    // 1h recovery window. The rebalance that began inside the window must finish.
    let mut objects: Vec<String> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|name| node(name, json!({})))
        .collect();
    for app in 0..8 {
        objects.push(spread_deployment(&format!("app{app}"), 24));
    }
    objects.push(object(
        json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "spread", "namespace": "apps"}, "spec": {}}),
    ));
    let events = "  - {at: 2m, nodeDown: f}\n  - {at: 20m, nodeUp: f}";
    let (report, _, status) = run(scenario(&objects, events, "3h")).await;
    let groups: Vec<&GroupReport> = report
        .policy_groups
        .iter()
        .filter(|g| g.policy.as_deref() == Some("spread"))
        .collect();
    let needed: u32 = groups.iter().filter_map(|g| g.lower_bound_moves).sum();
    let made: u32 = groups.iter().map(|g| g.moves).sum();
    assert_eq!(needed, 32, "{groups:#?}");
    assert_eq!(made, 32, "{groups:#?}");
    for group in &groups {
        assert_eq!(group.lower_bound_moves_at_end, 0, "{group:#?}");
    }
    assert_eq!(status["rebalance"]["totalMoves"], 32, "{status:#}");
}

#[tokio::test(start_paused = true)]
async fn no_pod_is_moved_while_its_workload_waits_for_injection_or_rolls_out() {
    // c is down and back before the policy exists; the policy then arrives with minPodAge 0s,
    // no stabilization and a Continuous trigger, and must inject two Deployments one at a time.
    // Until a Deployment's template carries the constraints and its rollout is done, its pods
    // are about to be replaced anyway: moving one is an eviction wasted.
    let objects = [
        node("a", json!({})),
        node("b", json!({})),
        node("c", json!({})),
        deployment("web", 6),
        deployment("api", 6),
    ];
    let policy = json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "spread", "namespace": "apps"},
        "spec": {"scope": "Policy",
                 "constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                  "whenUnsatisfiable": "ScheduleAnyway"}],
                 "rollout": {"maxConcurrent": 1},
                 "rebalance": {"minPodAge": "0s", "stabilizationWindow": "0s",
                               "trigger": "Continuous", "cooldown": "0s"}}});
    let events = format!("{C_DOWN_AND_BACK}\n  - {{at: 25m, apply: {policy}}}");
    let (report, api, _) = run(scenario(&objects, &events, "1h")).await;
    // The ReplicaSets whose template carries the group label are the injected ones.
    let replica_sets: kube::Api<k8s_openapi::api::apps::v1::ReplicaSet> =
        kube::Api::namespaced(api.client(), "apps");
    let injected: Vec<String> = replica_sets
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|rs| {
            rs.spec
                .as_ref()
                .and_then(|spec| spec.template.as_ref())
                .and_then(|template| template.metadata.as_ref())
                .and_then(|meta| meta.labels.as_ref())
                .is_some_and(|labels| labels.contains_key("kubespread.io/group"))
        })
        .filter_map(|rs| rs.metadata.name)
        .collect();
    assert_eq!(injected.len(), 2, "both Deployments were injected");
    for moved in &report.move_log {
        let name = moved.pod.trim_start_matches("apps/");
        assert!(
            injected
                .iter()
                .any(|rs| name.starts_with(&format!("{rs}-"))),
            "{} was moved before its workload's injection settled: {:#?}",
            moved.pod,
            report.move_log
        );
    }
}
