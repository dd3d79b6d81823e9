//! Nothing a user writes can stop the controller: a SpreadPolicy it cannot read is reported and
//! every other policy goes on, shutdown always works, values past their bounds are refused by
//! the CRD with clear messages, and two policies selecting one workload roll it once.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::{sync::Arc, time::Duration};

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    events::v1::Event,
};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use kube_spread::{
    api::SpreadPolicy,
    sim::{
        SimApi,
        apiserver::validation::validate_policy,
        scenario::{Scenario, Simulation},
    },
};
use serde_json::{Value, json};
use support::{
    controller::{
        CONTROLLER_USER, apply_policy, condition, grant, policy_status, replica, start,
        template_constraints, wait,
    },
    objects::{create_namespace, deployment, sim},
};

fn hostname(max_skew: Value) -> Value {
    json!({"constraints": [{"maxSkew": max_skew, "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway"}]})
}

/// Stores a SpreadPolicy as an API server whose CRD has no bounds would: whatever JSON it is.
async fn store_unchecked_policy(sim: &SimApi, namespace: &str, name: &str, spec: Value) {
    sim.set_admission::<SpreadPolicy>(Arc::new(|object: &Value| Ok(object.clone())));
    let resource = ApiResource::erase::<SpreadPolicy>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(sim.client(), namespace, &resource);
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": name, "namespace": namespace}, "spec": spec,
    }))
    .unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

/// Two namespaces: `broken` holds a policy whose maxSkew does not fit an i32, `media` a valid
/// policy over a Deployment.
async fn one_broken_policy_beside_a_good_one() -> SimApi {
    let sim = sim();
    create_namespace(&sim, "broken").await;
    create_namespace(&sim, "media").await;
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "media");
    deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .unwrap();
    apply_policy(&sim, "media", "apps", hostname(json!(1))).await;
    store_unchecked_policy(&sim, "broken", "wide", hostname(json!(99_999_999_999_i64))).await;
    sim
}

#[tokio::test(start_paused = true)]
async fn a_policy_the_controller_cannot_read_is_reported_and_every_other_policy_goes_on() {
    let sim = one_broken_policy_beside_a_good_one().await;
    let controller = start(&sim).await;
    wait(30).await;

    // The valid policy is reconciled as if the broken one were not there.
    let good = policy_status(&sim, "media", "apps").await;
    assert_eq!(
        condition(&good, "Ready"),
        ("True".into(), "Observed".into())
    );
    assert_eq!(template_constraints(&sim, "media", "web").await.len(), 1);

    // The broken one says which field is wrong, in its status and in an Event.
    let resource = ApiResource::erase::<SpreadPolicy>(&());
    let broken: Api<DynamicObject> = Api::namespaced_with(sim.client(), "broken", &resource);
    let status = serde_json::to_value(broken.get("wide").await.unwrap()).unwrap()["status"].clone();
    assert_eq!(
        condition(&status, "Ready"),
        ("False".into(), "InvalidPolicy".into())
    );
    let message = status["conditions"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("spec.constraints[0].maxSkew") && message.contains("99999999999"),
        "{message}"
    );
    let events: Api<Event> = Api::namespaced(sim.client(), "broken");
    let events = events.list(&ListParams::default()).await.unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|event| event.reason.as_deref() == Some("InvalidPolicy")),
        "{:?}",
        events.items
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_controller_stops_within_five_seconds_of_shutdown_beside_an_unreadable_policy() {
    let sim = one_broken_policy_beside_a_good_one().await;
    let controller = start(&sim).await;
    wait(30).await;
    let stopped = tokio::time::timeout(Duration::from_secs(5), controller.stop()).await;
    assert!(stopped.is_ok(), "the controller did not stop within 5 s");
}

fn policy(spec: Value) -> Value {
    json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
           "metadata": {"name": "apps", "namespace": "media"}, "spec": spec})
}

fn refusal(spec: Value) -> String {
    validate_policy(&policy(spec))
        .expect_err("the CRD refuses it")
        .to_string()
}

#[test]
fn the_crd_refuses_durations_too_long_for_their_field_without_failing() {
    let huge = "99999999999999999999h";
    for field in [
        "cooldown",
        "recoveryWindow",
        "readyTimeout",
        "stabilizationWindow",
        "minPodAge",
    ] {
        let error = refusal(json!({"rebalance": {field: huge}}));
        assert!(
            error.contains(&format!("spec.rebalance.{field}"))
                && error.contains("invalid duration"),
            "{field}: {error}"
        );
        let error = refusal(json!({"rebalance": {field: "1000h"}}));
        assert!(error.contains("must be at most"), "{field}: {error}");
    }
}

#[test]
fn the_crd_refuses_integers_past_their_bounds() {
    let error = refusal(hostname(json!(99_999_999_999_i64)));
    assert!(
        error.contains("spec.constraints[0].maxSkew")
            && error.contains("less than or equal to 1000"),
        "{error}"
    );
    let error = refusal(json!({"rebalance": {"skewThreshold": 5000}}));
    assert!(error.contains("spec.rebalance.skewThreshold"), "{error}");
}

#[test]
fn a_wider_max_skew_needs_no_skew_threshold_of_its_own() {
    let accepted = validate_policy(&policy(hostname(json!(2)))).expect("maxSkew 2 alone is valid");
    assert!(accepted["spec"]["rebalance"].get("skewThreshold").is_none());
    let spec: kube_spread::api::SpreadPolicySpec =
        serde_json::from_value(accepted["spec"].clone()).unwrap();
    assert_eq!(spec.skew_threshold(), 2);
    let mut lower = hostname(json!(3));
    lower["rebalance"] = json!({"skewThreshold": 2});
    assert!(refusal(lower).contains("leave it unset to follow maxSkew"));
}

#[test]
fn durations_past_their_bounds_are_one_clear_error_on_the_command_line() {
    use clap::Parser;
    let parsed = kube_spread::cli::Cli::try_parse_from([
        "kube-spread",
        "plan",
        "--pod-constraints",
        "--min-pod-age",
        "99999999999999999999h",
    ]);
    let error = parsed.expect_err("refused").to_string();
    assert!(
        error.contains("longer than the largest duration"),
        "{error}"
    );
}

/// One namespace, three nodes, a Deployment of three replicas, and two SpreadPolicies that
/// both select it.
fn two_policies_one_deployment() -> Scenario {
    let node = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
               "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}})
    };
    let policy = |name: &str| {
        json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
               "metadata": {"name": name, "namespace": "apps"}, "spec": hostname(json!(1))})
    };
    let objects = [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        node("a"),
        node("b"),
        node("c"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}},
               "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "main", "image": "x"}]}}}}),
        policy("first"),
        policy("second"),
    ];
    let objects: String = objects.iter().map(|o| format!("  - {o}\n")).collect();
    let text = format!(
        "name: overlap\nsettings: {{seed: 3, duration: 2h, podStartup: {{min: 5s, max: 20s}}, sampleEvery: 1m}}\nevents: []\nobjects:\n{objects}"
    );
    Scenario::parse("overlap", &text).unwrap()
}

#[tokio::test(start_paused = true)]
async fn two_policies_selecting_one_deployment_roll_it_exactly_once() {
    let mut simulation = Simulation::new(two_policies_one_deployment()).unwrap();
    let api = simulation.api().clone();
    grant(&api, None).await;
    simulation.spawn(replica(
        &api,
        CONTROLLER_USER,
        "kube-spread-0",
        false,
        std::future::pending(),
    ));
    simulation.run().await.unwrap();

    let deployments: Api<Deployment> = Api::namespaced(api.client(), "apps");
    let web = deployments.get("web").await.unwrap();
    // Created at generation 1; the one injection makes it 2, and nothing changes it again.
    assert_eq!(web.metadata.generation, Some(2));
    let replica_sets: Api<ReplicaSet> = Api::namespaced(api.client(), "apps");
    let templates = replica_sets
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(templates, 2, "one ReplicaSet per pod template");
    // The older policy (then the first by name) governs it; the other says so.
    let second = policy_status(&api, "apps", "second").await;
    assert!(
        second.to_string().contains("ClaimedByOtherPolicy"),
        "{second}"
    );
}
