//! Work follows what changed: kubelets post node status every 10 s and pods' statuses change
//! all the time, and an update that leaves everything the plan reads as it was (readiness,
//! taints, labels, allocatable; a pod's phase, readiness and node) plans nothing. Planning is
//! counted by `kube_spread_plans_total`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Node, Pod},
};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_spread::sim::SimApi;
use serde_json::json;
use support::{
    controller::{
        CONTROLLER_USER, Running, apply_policy, policy_status, scrape, start_serving_metrics, wait,
    },
    objects::{create_namespace, deployment, node, running_pod, sim},
};

const NODES: [&str; 3] = ["n1", "n2", "n3"];

/// Creates the three Ready nodes every test here runs on.
async fn create_nodes(sim: &SimApi) -> Api<Node> {
    let nodes: Api<Node> = Api::all(sim.client());
    for name in NODES {
        nodes
            .create(&PostParams::default(), &node(name))
            .await
            .unwrap();
    }
    nodes
}

/// The value of a counter `/metrics` at `address` serves.
async fn counter(address: std::net::SocketAddr, name: &str) -> u64 {
    let metrics = scrape(address).await;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
}

async fn plans(address: std::net::SocketAddr) -> u64 {
    counter(address, "kube_spread_plans_total").await
}

#[tokio::test(start_paused = true)]
async fn heartbeats_and_status_updates_that_change_nothing_the_plan_reads_plan_nothing() {
    let sim = sim();
    let nodes = create_nodes(&sim).await;
    create_namespace(&sim, "media").await;
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "media");
    deployments
        .create(&PostParams::default(), &deployment("web", 3))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "media");
    for (i, on) in NODES.iter().enumerate() {
        running_pod(&pods, &format!("web-{i}"), on, &[("app", "web")], true).await;
    }
    apply_policy(
        &sim,
        "media",
        "apps",
        json!({"constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}]}),
    )
    .await;
    let (controller, address) = start_serving_metrics(&sim).await;
    wait(60).await;

    // A minute of heartbeats from every node and of pod status noise, once a second.
    let before = plans(address).await;
    for beat in 0..60 {
        let at = format!("2025-10-20T08:{:02}:{:02}Z", 1 + beat / 60, beat % 60);
        for name in NODES {
            let heartbeat = json!({"status": {"conditions": [{
                "type": "Ready", "status": "True", "lastHeartbeatTime": at,
            }]}});
            nodes
                .patch_status(name, &PatchParams::default(), &Patch::Strategic(&heartbeat))
                .await
                .unwrap();
        }
        for i in 0..NODES.len() {
            let noise = json!({"metadata": {"annotations": {"example.com/probed-at": at}}});
            pods.patch(
                &format!("web-{i}"),
                &PatchParams::default(),
                &Patch::Merge(&noise),
            )
            .await
            .unwrap();
        }
        wait(1).await;
    }
    let during = plans(address).await - before;
    // The sweeper observes every 30 s whatever happens; nothing else may plan.
    assert!(
        during <= 3,
        "{during} plans for 360 updates that change nothing the plan reads"
    );

    // A change the plan reads is planned at once.
    let cordon = json!({"spec": {"unschedulable": true}});
    nodes
        .patch("n3", &PatchParams::default(), &Patch::Merge(&cordon))
        .await
        .unwrap();
    let before = plans(address).await;
    wait(2).await;
    assert!(
        plans(address).await > before,
        "a cordon is planned within 2 s"
    );
    controller.stop().await;
}

/// Ten namespaces, each with a Deployment of three running pods (one per node) and a
/// SpreadPolicy; returns the controller, serving metrics, once every policy has a status.
async fn ten_namespaces(sim: &SimApi) -> (Running, std::net::SocketAddr) {
    create_nodes(sim).await;
    for n in 0..10 {
        let namespace = format!("app-{n}");
        create_namespace(sim, &namespace).await;
        let deployments: Api<Deployment> = Api::namespaced(sim.client(), &namespace);
        deployments
            .create(&PostParams::default(), &deployment("web", 3))
            .await
            .unwrap();
        let pods: Api<Pod> = Api::namespaced(sim.client(), &namespace);
        for (i, on) in NODES.iter().enumerate() {
            running_pod(&pods, &format!("web-{i}"), on, &[("app", "web")], true).await;
        }
        apply_policy(
            sim,
            &namespace,
            "apps",
            json!({"constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}]}),
        )
        .await;
    }
    let running = start_serving_metrics(sim).await;
    wait(60).await;
    running
}

async fn reconciles(address: std::net::SocketAddr) -> u64 {
    counter(address, "kube_spread_reconcile_duration_seconds_count").await
}

#[tokio::test(start_paused = true)]
async fn a_pod_change_in_one_namespace_reconciles_that_namespaces_policy_and_no_other() {
    let sim = sim();
    let (controller, address) = ten_namespaces(&sim).await;

    let before = reconciles(address).await;
    let pods: Api<Pod> = Api::namespaced(sim.client(), "app-3");
    pods.delete("web-0", &Default::default()).await.unwrap();
    wait(5).await;

    let status = policy_status(&sim, "app-3", "apps").await;
    let total: i64 = status["distribution"][0]["domains"]
        .as_array()
        .unwrap_or_else(|| panic!("no distribution in {status}"))
        .iter()
        .map(|domain| domain["pods"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 2, "the policy counts the deleted pod gone: {status}");
    // Its own reconcile, and the one its status write brings; the nine others are not
    // concerned.
    let during = reconciles(address).await - before;
    assert!(
        (1..=2).contains(&during),
        "{during} reconciles for a pod deleted in one of ten namespaces"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn under_steady_pod_churn_the_cluster_is_planned_once_a_second_and_a_lone_change_at_once() {
    let sim = sim();
    let (controller, address) = ten_namespaces(&sim).await;

    // Thirty seconds of a pod relabelled every 100 ms, each a change the plan reads.
    let before = plans(address).await;
    for change in 0..300 {
        let namespace = format!("app-{}", change % 10);
        let pods: Api<Pod> = Api::namespaced(sim.client(), &namespace);
        let relabel = json!({"metadata": {"labels": {"example.com/churn": change.to_string()}}});
        pods.patch("web-1", &PatchParams::default(), &Patch::Merge(&relabel))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let during = plans(address).await - before;
    // Once a second, and the sweeper's every 30 s.
    assert!(
        (25..=32).contains(&during),
        "{during} plans for 30 s of changes every 100 ms"
    );

    // Quiet, then one change: observed after the gathering, not a second later.
    wait(10).await;
    let before = plans(address).await;
    let pods: Api<Pod> = Api::namespaced(sim.client(), "app-0");
    pods.delete("web-0", &Default::default()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(
        plans(address).await > before,
        "a lone change is planned within 800 ms"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn after_the_first_list_the_controller_lists_nothing_and_writes_only_the_status_that_changed()
{
    let sim = sim();
    let (controller, _) = ten_namespaces(&sim).await;
    sim.audit().clear();

    // Two minutes of heartbeats and status noise, and one pod deleted in the middle.
    let nodes: Api<Node> = Api::all(sim.client());
    for beat in 0..120 {
        let at = format!("2025-10-20T09:{:02}:{:02}Z", beat / 60, beat % 60);
        for name in NODES {
            let heartbeat = json!({"status": {"conditions": [{
                "type": "Ready", "status": "True", "lastHeartbeatTime": at,
            }]}});
            nodes
                .patch_status(name, &PatchParams::default(), &Patch::Strategic(&heartbeat))
                .await
                .unwrap();
        }
        if beat == 60 {
            let pods: Api<Pod> = Api::namespaced(sim.client(), "app-3");
            pods.delete("web-0", &Default::default()).await.unwrap();
        }
        wait(1).await;
    }

    let calls = sim.audit().of(CONTROLLER_USER);
    let lists: Vec<_> = calls.iter().filter(|call| call.verb == "list").collect();
    assert!(
        lists.is_empty(),
        "the controller listed after its first sync: {lists:?}"
    );
    let writes: Vec<_> = calls.iter().filter(|call| call.writes()).collect();
    assert!(
        writes
            .iter()
            .all(|call| call.resource == "spreadpolicies/status" && call.namespace == "app-3"),
        "only the status of the policy whose pods changed is written: {writes:?}"
    );
    assert_eq!(
        writes.len(),
        1,
        "one status write for one change: {writes:?}"
    );
    controller.stop().await;
}

/// The model's node list is built once per change of a node the plan reads: a heartbeat leaves
/// the list every observation shares as it is, and a label change builds a new one that shows
/// it.
#[tokio::test(start_paused = true)]
async fn a_heartbeat_leaves_the_models_node_list_shared_and_a_label_change_builds_a_new_one() {
    use kube_spread::{controller::stores::Stores, metrics::ControllerMetrics};
    use std::sync::Arc;

    let sim = sim();
    let nodes = create_nodes(&sim).await;
    let stores = Arc::new(Stores::new());
    let watches = tokio::spawn(
        Arc::clone(&stores).watch_all(sim.client(), ControllerMetrics::new().unwrap()),
    );
    while !stores.synced() {
        wait(1).await;
    }
    let synced = stores.cluster();
    assert_eq!(synced.nodes.len(), NODES.len());
    assert!(stores.cluster().nodes.is(&synced.nodes), "nothing changed");

    let heartbeat = json!({"status": {"conditions": [{
        "type": "Ready", "status": "True", "lastHeartbeatTime": "2025-10-20T08:01:00Z",
    }]}});
    let generation = stores.generation();
    nodes
        .patch_status("n1", &PatchParams::default(), &Patch::Strategic(&heartbeat))
        .await
        .unwrap();
    wait(1).await;
    let after_heartbeat = stores.cluster();
    assert_eq!(
        stores.generation(),
        generation,
        "a heartbeat is announced to no one"
    );
    assert!(
        after_heartbeat.nodes.is(&synced.nodes),
        "a heartbeat builds no new node list"
    );

    let label = json!({"metadata": {"labels": {"topology.kubernetes.io/zone": "a"}}});
    nodes
        .patch("n2", &PatchParams::default(), &Patch::Merge(&label))
        .await
        .unwrap();
    wait(1).await;
    let relabelled = stores.cluster();
    assert!(
        !relabelled.nodes.is(&synced.nodes),
        "a label change builds a new list"
    );
    let n2 = relabelled
        .nodes
        .iter()
        .find(|node| node.name == "n2")
        .unwrap();
    assert_eq!(
        n2.labels
            .get("topology.kubernetes.io/zone")
            .map(String::as_str),
        Some("a")
    );
    assert!(
        synced.nodes.iter().all(|node| node.labels.len() == 1),
        "the list an older observation holds is left as it was"
    );
    assert!(
        relabelled.replica_sets.is(&synced.replica_sets),
        "the other kinds' lists stay shared"
    );
    watches.abort();
}

/// The stores hold each pod once, found by its namespace and name: an update replaces the pod
/// the stores keep (the one before is let go, not held on by its key), a deletion forgets it,
/// and the pods come in the order of their namespaces and names, as the model wants them.
#[tokio::test(start_paused = true)]
async fn the_stores_let_an_updated_or_deleted_pod_go_and_keep_the_rest_in_name_order() {
    use kube::api::DeleteParams;
    use kube_spread::{controller::stores::Stores, metrics::ControllerMetrics};
    use std::sync::Arc;

    let sim = sim();
    create_nodes(&sim).await;
    create_namespace(&sim, "b").await;
    create_namespace(&sim, "a").await;
    let in_a: Api<Pod> = Api::namespaced(sim.client(), "a");
    let in_b: Api<Pod> = Api::namespaced(sim.client(), "b");
    running_pod(&in_b, "web-0", "n1", &[("app", "web")], true).await;
    for name in ["web-1", "web-0", "api-0"] {
        running_pod(&in_a, name, "n2", &[("app", "web")], true).await;
    }
    let stores = Arc::new(Stores::new());
    let watches = tokio::spawn(
        Arc::clone(&stores).watch_all(sim.client(), ControllerMetrics::new().unwrap()),
    );
    while !stores.synced() {
        wait(1).await;
    }
    let names = |stores: &Stores| -> Vec<String> {
        stores
            .cluster()
            .pods
            .iter()
            .map(|pod| format!("{}/{}", pod.namespace, pod.name))
            .collect()
    };
    assert_eq!(names(&stores), ["a/api-0", "a/web-0", "a/web-1", "b/web-0"]);
    let before = stores
        .cluster()
        .pods
        .iter()
        .find(|pod| &*pod.namespace == "a" && pod.name == "web-0")
        .map(Arc::clone)
        .unwrap();
    assert!(before.ready);

    let unready = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
    in_a.patch_status("web-0", &PatchParams::default(), &Patch::Merge(&unready))
        .await
        .unwrap();
    wait(1).await;
    let cluster = stores.cluster();
    let after: Vec<_> = cluster
        .pods
        .iter()
        .filter(|pod| &*pod.namespace == "a" && pod.name == "web-0")
        .collect();
    assert_eq!(after.len(), 1, "an update replaces the pod");
    assert!(!after[0].ready, "the stores hold the update");
    drop(cluster);
    assert_eq!(
        Arc::strong_count(&before),
        1,
        "nothing in the stores holds the pod as it was before the update"
    );

    in_a.delete("web-1", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    wait(1).await;
    assert_eq!(names(&stores), ["a/api-0", "a/web-0", "b/web-0"]);
    running_pod(&in_a, "web-1", "n3", &[("app", "web")], true).await;
    wait(1).await;
    assert_eq!(names(&stores), ["a/api-0", "a/web-0", "a/web-1", "b/web-0"]);
    watches.abort();
}
