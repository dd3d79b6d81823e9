//! Every condition reason a SpreadPolicy can report, each produced by the real controller
//! against the simulated API and control plane, on a paused clock: one test per reason, named
//! for the situation that produces it. A last test fails when `api::conditions::Reason` gains a
//! reason that no test here produces.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api,
    api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams},
};
use kube_spread::{
    api::{SpreadPolicy, conditions::Reason},
    controller::{self, Settings, disruption::Caps},
    sim::{
        SimApi,
        scenario::{Scenario, Simulation},
    },
};
use serde_json::{Value, json};
use support::{
    controller::{CONTROLLER_USER, apply_policy, grant},
    objects::create_namespace,
};

// ---------------------------------------------------------------------------------------------
// Scenarios: small clusters in namespace `apps`, with the SpreadPolicy `spread`.
// ---------------------------------------------------------------------------------------------

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

/// Nodes a, b and c, nothing special about them.
fn three_nodes() -> Vec<String> {
    vec![
        node("a", json!({})),
        node("b", json!({})),
        node("c", json!({})),
    ]
}

/// A Deployment `web` of `replicas` small pods labelled `app: web`, with `spec` merged into its
/// spec and `pod_annotations` on its pods.
fn web(replicas: u32, spec: Value, pod_annotations: Value) -> String {
    web_in("apps", replicas, spec, pod_annotations)
}

/// [`web`] in `namespace`.
fn web_in(namespace: &str, replicas: u32, spec: Value, pod_annotations: Value) -> String {
    let mut value = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace, "labels": {"app": "web"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}, "annotations": pod_annotations},
                              "spec": {"terminationGracePeriodSeconds": 5,
                                       "containers": [{"name": "main", "image": "x",
                                                       "resources": {"requests": {"cpu": "100m"}}}]}}}});
    for (key, field) in spec.as_object().into_iter().flatten() {
        value["spec"][key] = field.clone();
    }
    object(value)
}

/// Six pods of `web`, nothing special about them.
fn six_pods() -> String {
    web(6, json!({}), json!({}))
}

/// A PodDisruptionBudget `name` over `web`'s pods with `spec` merged in.
fn pdb(name: &str, spec: Value) -> String {
    let mut value = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}}});
    for (key, field) in spec.as_object().into_iter().flatten() {
        value["spec"][key] = field.clone();
    }
    object(value)
}

/// The SpreadPolicy `apps/spread`: scope Policy, pods per node within 1, and `rebalance`.
fn policy(rebalance: Value) -> String {
    policy_in("apps", rebalance)
}

/// [`policy`] in `namespace`.
fn policy_in(namespace: &str, rebalance: Value) -> String {
    object(
        json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "spread", "namespace": namespace},
        "spec": {"scope": "Policy",
                 "constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                  "whenUnsatisfiable": "ScheduleAnyway"}],
                 "rebalance": rebalance}}),
    )
}

/// Node c down at 2m, back at 20m: six pods go from 2/2/2 to 3/3/0, and c's return arms
/// rebalancing.
const C_DOWN_AND_BACK: &str = "  - {at: 2m, nodeDown: c}\n  - {at: 20m, nodeUp: c}";

/// A scenario of `objects` (after the `apps` namespace) and `events`, lasting `duration`.
fn scenario(objects: &[String], events: &str, duration: &str) -> Scenario {
    let events = if events.is_empty() {
        " []".to_owned()
    } else {
        format!("\n{events}")
    };
    let text = format!(
        "name: reasons\nsettings: {{seed: 7, duration: {duration}, podStartup: {{min: 5s, max: 20s}}, sampleEvery: 1m}}\n\
         events:{events}\nobjects:\n  - {{apiVersion: v1, kind: Namespace, metadata: {{name: apps}}}}\n{}",
        objects.concat()
    );
    Scenario::parse("reasons", &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

// ---------------------------------------------------------------------------------------------
// Running one: the controller as the chart's ServiceAccount, and a watcher that notes every
// condition the policy shows, second by second, so that passing states are seen too.
// ---------------------------------------------------------------------------------------------

/// Every (condition type, reason) a policy showed while the scenario ran.
#[derive(Debug, Default)]
struct Seen(BTreeSet<(String, String)>);

impl Seen {
    fn assert(&self, type_: &str, reason: Reason) {
        assert!(
            self.0.contains(&(type_.to_owned(), reason.to_string())),
            "the policy never said {type_}: {reason}; it said {:#?}",
            self.0
        );
    }
}

/// A controller replica with the given caps on moves in flight, running until the end.
fn controller_with(api: &SimApi, caps: Caps) -> impl Future<Output = ()> + Send + 'static {
    let client = api.client_as(CONTROLLER_USER);
    let clock = *api.store().clock();
    let settings = Settings {
        metrics_address: None,
        lease: None,
        identity: "kube-spread-0".to_owned(),
        caps,
    };
    async move {
        if let Err(error) = controller::run(client, clock, settings, std::future::pending()).await {
            panic!("the controller failed: {error}");
        }
    }
}

/// Notes the conditions of `namespace/name` into `seen` from a watch, so that every status the
/// controller writes is seen, however soon the next one replaces it.
fn watcher(
    api: &SimApi,
    namespace: &str,
    name: &str,
    seen: Arc<Mutex<Seen>>,
) -> impl Future<Output = ()> + Send + 'static {
    use futures::StreamExt;
    use kube::runtime::watcher::{self, Event};
    // Read untyped, so that a policy the controller's types cannot hold is read too.
    let resource = ApiResource::erase::<SpreadPolicy>(&());
    let policies: Api<DynamicObject> = Api::namespaced_with(api.client(), namespace, &resource);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    async move {
        let mut events = watcher::watcher(policies, config).boxed();
        while let Some(event) = events.next().await {
            let (Ok(Event::Apply(policy)) | Ok(Event::InitApply(policy))) = event else {
                continue;
            };
            let mut seen = seen.lock().unwrap();
            for condition in policy.data["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let text = |field: &str| condition[field].as_str().unwrap_or_default().to_owned();
                seen.0.insert((text("type"), text("reason")));
            }
        }
    }
}

/// Runs a simulation with the controller (capped by `caps`) and returns what the policies
/// `(namespace, name)` said along the way, together.
async fn watch_with(simulation: Simulation, caps: Caps, policies: &[(&str, &str)]) -> Seen {
    let mut simulation = simulation;
    let api = simulation.api().clone();
    grant(&api, None).await;
    simulation.spawn(controller_with(&api, caps));
    let seen = Arc::new(Mutex::new(Seen::default()));
    for (namespace, name) in policies {
        simulation.spawn(watcher(&api, namespace, name, Arc::clone(&seen)));
    }
    simulation.run().await.unwrap();
    std::mem::take(&mut *seen.lock().unwrap())
}

/// [`watch_with`] for `apps/spread` with the default caps.
async fn watch(objects: &[String], events: &str, duration: &str) -> Seen {
    let simulation = Simulation::new(scenario(objects, events, duration)).unwrap();
    watch_with(simulation, Caps::default(), &[("apps", "spread")]).await
}

/// A simulation of `objects` and `events` with a namespace `name` created beside `apps`.
async fn with_namespace(objects: &[String], name: &str, duration: &str) -> Simulation {
    let simulation = Simulation::new(scenario(objects, "", duration)).unwrap();
    create_namespace(simulation.api(), name).await;
    simulation
}

// ---------------------------------------------------------------------------------------------
// Ready
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_policy_the_controller_has_read_says_observed() {
    let objects = [three_nodes(), vec![six_pods(), policy(json!({}))]].concat();
    let seen = watch(&objects, "", "2m").await;
    seen.assert("Ready", Reason::Observed);
    seen.assert("Degraded", Reason::AsExpected);
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_max_skew_does_not_fit_the_controllers_types_says_invalid_policy() {
    let objects = [three_nodes(), vec![six_pods(), policy(json!({}))]].concat();
    let simulation = with_namespace(&objects, "broken", "2m").await;
    // Stored as an API server whose CRD has no bounds would store it.
    let api = simulation.api();
    api.set_admission::<SpreadPolicy>(Arc::new(|object: &Value| Ok(object.clone())));
    let resource = ApiResource::erase::<SpreadPolicy>(&());
    let policies: Api<DynamicObject> = Api::namespaced_with(api.client(), "broken", &resource);
    let broken: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "wide", "namespace": "broken"},
        "spec": {"constraints": [{"maxSkew": 99_999_999_999_i64, "topologyKey": "kubernetes.io/hostname",
                                  "whenUnsatisfiable": "ScheduleAnyway"}]},
    }))
    .unwrap();
    policies
        .create(&PostParams::default(), &broken)
        .await
        .unwrap();
    watch_with(simulation, Caps::default(), &[("broken", "wide")])
        .await
        .assert("Ready", Reason::InvalidPolicy);
}

// ---------------------------------------------------------------------------------------------
// Balanced
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn six_pods_two_per_node_say_within_max_skew() {
    let objects = [three_nodes(), vec![six_pods(), policy(json!({}))]].concat();
    watch(&objects, "", "5m")
        .await
        .assert("Balanced", Reason::WithinMaxSkew);
}

#[tokio::test(start_paused = true)]
async fn three_three_and_none_on_a_recovered_node_say_skewed() {
    let objects = [three_nodes(), vec![six_pods(), policy(json!({}))]].concat();
    watch(&objects, C_DOWN_AND_BACK, "22m")
        .await
        .assert("Balanced", Reason::Skewed);
}

#[tokio::test(start_paused = true)]
async fn with_one_ready_node_left_the_policy_says_no_accepting_domain() {
    let objects = [
        node("a", json!({})),
        node("b", json!({})),
        web(4, json!({}), json!({})),
        policy(json!({"trigger": "Continuous", "stabilizationWindow": "1m"})),
    ];
    watch(&objects, "  - {at: 2m, nodeDown: b}", "20m")
        .await
        .assert("Rebalancing", Reason::NoAcceptingDomain);
}

// ---------------------------------------------------------------------------------------------
// Rebalancing: where the rebalancer stands
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_policy_with_rebalance_mode_off_says_rebalance_off() {
    let objects = [
        three_nodes(),
        vec![six_pods(), policy(json!({"mode": "Off"}))],
    ]
    .concat();
    watch(&objects, C_DOWN_AND_BACK, "30m")
        .await
        .assert("Rebalancing", Reason::RebalanceOff);
}

#[tokio::test(start_paused = true)]
async fn a_balanced_policy_says_idle() {
    let objects = [three_nodes(), vec![six_pods(), policy(json!({}))]].concat();
    watch(&objects, "", "5m")
        .await
        .assert("Rebalancing", Reason::Idle);
}

#[tokio::test(start_paused = true)]
async fn a_skew_that_outlasts_the_recovery_window_without_a_move_says_not_armed() {
    // c's return arms rebalancing for 1 minute; the skew must last 5 minutes first.
    let objects = [
        three_nodes(),
        vec![six_pods(), policy(json!({"recoveryWindow": "1m"}))],
    ]
    .concat();
    watch(&objects, C_DOWN_AND_BACK, "30m")
        .await
        .assert("Rebalancing", Reason::NotArmed);
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_node_recovered_less_than_stabilization_ago_says_stabilization_pending() {
    let objects = [three_nodes(), vec![six_pods(), policy(json!({}))]].concat();
    watch(&objects, C_DOWN_AND_BACK, "23m")
        .await
        .assert("Rebalancing", Reason::StabilizationPending);
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_only_disruption_window_opens_at_night_says_outside_window() {
    // The simulated cluster starts at 08:00 UTC; the window is 02:00 to 03:00.
    let windows = json!({"windows": [{"schedule": "0 2 * * *", "duration": "1h"}]});
    let objects = [three_nodes(), vec![six_pods(), policy(windows)]].concat();
    watch(&objects, C_DOWN_AND_BACK, "35m")
        .await
        .assert("Rebalancing", Reason::OutsideWindow);
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_moved_pods_replacement_is_starting_says_waiting_for_replacement() {
    let objects = [three_nodes(), vec![six_pods(), policy(json!({}))]].concat();
    watch(&objects, C_DOWN_AND_BACK, "35m")
        .await
        .assert("Rebalancing", Reason::WaitingForReplacement);
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_replacement_just_became_ready_says_cooling_down() {
    let objects = [three_nodes(), vec![six_pods(), policy(json!({}))]].concat();
    watch(&objects, C_DOWN_AND_BACK, "35m")
        .await
        .assert("Rebalancing", Reason::CoolingDown);
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_workload_never_finishes_its_rollout_says_rollout_pending() {
    // minReadySeconds of a day: web's pods are Ready but never available, so the rollout
    // the injection starts never ends. b is cordoned until 10m, so the pods pile up on a.
    let objects = [
        node("a", json!({})),
        node("b", json!({"unschedulable": true})),
        web(4, json!({"minReadySeconds": 86_400}), json!({})),
        policy(json!({"trigger": "Continuous", "stabilizationWindow": "0s", "minPodAge": "0s"})),
    ];
    watch(&objects, "  - {at: 10m, uncordon: b}", "20m")
        .await
        .assert("Rebalancing", Reason::RolloutPending);
}

#[tokio::test(start_paused = true)]
async fn a_policy_in_dry_run_says_dry_run() {
    let objects = [
        three_nodes(),
        vec![six_pods(), policy(json!({"mode": "DryRun"}))],
    ]
    .concat();
    watch(&objects, C_DOWN_AND_BACK, "30m")
        .await
        .assert("Rebalancing", Reason::DryRun);
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_hourly_moves_are_spent_says_budget_exhausted() {
    // Two moves are needed and one is allowed per hour.
    let objects = [
        three_nodes(),
        vec![six_pods(), policy(json!({"maxMovesPerHour": 1}))],
    ]
    .concat();
    watch(&objects, C_DOWN_AND_BACK, "35m")
        .await
        .assert("Rebalancing", Reason::BudgetExhausted);
}

/// Two namespaces, `apps` and `shop`, each with six pods of `web` and a policy: a move of one
/// workload waits while another of the same workload is in flight (RolloutPending), so the caps
/// show between the two policies.
fn two_teams() -> Vec<String> {
    [
        three_nodes(),
        vec![
            object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})),
            six_pods(),
            web_in("shop", 6, json!({}), json!({})),
            policy(json!({})),
            policy_in("shop", json!({})),
        ],
    ]
    .concat()
}

const BOTH_POLICIES: &[(&str, &str)] = &[("apps", "spread"), ("shop", "spread")];

#[tokio::test(start_paused = true)]
async fn a_policy_held_by_the_clusters_cap_on_moves_in_flight_says_cluster_moves_capped() {
    // Both policies move once c is back; the cluster lets one move be in flight.
    let simulation = Simulation::new(scenario(&two_teams(), C_DOWN_AND_BACK, "35m")).unwrap();
    let caps = Caps {
        in_flight: 1,
        per_node: 1,
    };
    watch_with(simulation, caps, BOTH_POLICIES)
        .await
        .assert("Rebalancing", Reason::ClusterMovesCapped);
}

#[tokio::test(start_paused = true)]
async fn a_policy_held_by_the_cap_on_moves_off_one_node_says_node_moves_capped() {
    // Both policies' pods pile up on a while b is cordoned; both move off a once b is
    // uncordoned, and one node lets one move be in flight at a time.
    let objects = [
        node("a", json!({})),
        node("b", json!({"unschedulable": true})),
        object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})),
        web(4, json!({}), json!({})),
        web_in("shop", 4, json!({}), json!({})),
        policy(json!({})),
        policy_in("shop", json!({})),
    ];
    let simulation =
        Simulation::new(scenario(&objects, "  - {at: 10m, uncordon: b}", "25m")).unwrap();
    watch_with(simulation, Caps::default(), BOTH_POLICIES)
        .await
        .assert("Rebalancing", Reason::NodeMovesCapped);
}

#[tokio::test(start_paused = true)]
async fn a_skewed_policy_whose_pods_all_opt_out_says_no_movable_pod() {
    let objects = [
        three_nodes(),
        vec![
            web(6, json!({}), json!({"kubespread.io/do-not-move": "true"})),
            policy(json!({})),
        ],
    ]
    .concat();
    watch(&objects, C_DOWN_AND_BACK, "30m")
        .await
        .assert("Rebalancing", Reason::NoMovablePod);
}

// ---------------------------------------------------------------------------------------------
// Degraded: what keeps the policy from doing its job
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_policy_whose_pods_budget_allows_no_disruption_says_pdb_blocked() {
    let objects = [
        three_nodes(),
        vec![
            six_pods(),
            pdb("web", json!({"maxUnavailable": 0})),
            policy(json!({})),
        ],
    ]
    .concat();
    watch(&objects, C_DOWN_AND_BACK, "30m")
        .await
        .assert("Degraded", Reason::PdbBlocked);
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_pods_have_two_budgets_says_multiple_pdbs() {
    let objects = [
        three_nodes(),
        vec![
            six_pods(),
            pdb("web", json!({"maxUnavailable": 1})),
            pdb("web-too", json!({"maxUnavailable": 1})),
            policy(json!({})),
        ],
    ]
    .concat();
    watch(&objects, C_DOWN_AND_BACK, "30m")
        .await
        .assert("Degraded", Reason::MultiplePdbs);
}

#[tokio::test(start_paused = true)]
async fn a_constraint_another_field_manager_owns_says_conflict() {
    let objects = three_nodes();
    let simulation = with_namespace(&objects, "gitops", "2m").await;
    let api = simulation.api();
    // The same constraint, kept in git with maxSkew 2 and applied by the user's tooling.
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "gitops"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "main", "image": "x"}],
                                       "topologySpreadConstraints": [{
                                           "maxSkew": 2, "topologyKey": "kubernetes.io/hostname",
                                           "whenUnsatisfiable": "ScheduleAnyway",
                                           "labelSelector": {"matchLabels": {"app": "web"}}}]}}}});
    let deployments: Api<Deployment> = Api::namespaced(api.client(), "gitops");
    deployments
        .patch(
            "web",
            &PatchParams::apply("argocd-controller"),
            &Patch::Apply(&deployment),
        )
        .await
        .unwrap();
    apply_policy(
        api,
        "gitops",
        "spread",
        json!({"constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                "whenUnsatisfiable": "ScheduleAnyway"}]}),
    )
    .await;
    watch_with(simulation, Caps::default(), &[("gitops", "spread")])
        .await
        .assert("Degraded", Reason::Conflict);
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_replacement_is_not_ready_within_ready_timeout_says_replacement_timeout() {
    // Pods take 5 to 20 seconds to start; the policy waits 1.
    let objects = [
        three_nodes(),
        vec![six_pods(), policy(json!({"readyTimeout": "1s"}))],
    ]
    .concat();
    watch(&objects, C_DOWN_AND_BACK, "30m")
        .await
        .assert("Degraded", Reason::ReplacementTimeout);
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_replacements_the_scheduler_puts_back_says_scheduler_disagrees() {
    // c carries a PreferNoSchedule taint: the planner may target it, the scheduler's
    // TaintToleration score sends the replacements back to a and b.
    let taint = json!({"taints": [{"key": "slow", "value": "true", "effect": "PreferNoSchedule"}]});
    let objects = [
        node("a", json!({})),
        node("b", json!({})),
        node("c", taint),
        six_pods(),
        policy(json!({"trigger": "Continuous", "stabilizationWindow": "1m", "minPodAge": "1m"})),
    ];
    watch(&objects, "", "2h")
        .await
        .assert("Degraded", Reason::SchedulerDisagrees);
}

// ---------------------------------------------------------------------------------------------
// The list is complete
// ---------------------------------------------------------------------------------------------

/// The names of the reasons declared, as `Reason::` spells its variants.
fn declared_reasons() -> Vec<String> {
    Reason::ALL
        .iter()
        .map(|reason| format!("{reason:?}"))
        .collect()
}

#[test]
fn every_condition_reason_is_produced_by_a_test_here() {
    let declared = declared_reasons();
    assert!(declared.len() > 20, "parsed {declared:?}");
    let source = include_str!("condition_reasons.rs");
    // The body of each async test: what follows its attribute, up to the next one.
    let tests: Vec<&str> = source
        .split("#[tokio::test(start_paused = true)]")
        .skip(1)
        .collect();
    for name in &declared {
        assert!(
            tests
                .iter()
                .any(|test| test.contains(&format!("Reason::{name})"))),
            "no test here produces Reason::{name} through the API; add one"
        );
    }
}
