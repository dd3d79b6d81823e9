//! `/metrics` keeps series only for what exists: a deleted node, a deleted policy or a removed
//! topology key loses its series within a minute, and the documented counters are there at 0
//! from the start.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Node};
use kube::api::{Api, DeleteParams, PostParams};
use kube_spread::api::SpreadPolicy;
use serde_json::json;
use support::{
    controller::{apply_policy, fetch, scrape, start_serving_metrics, wait},
    objects::{create_namespace, deployment, node, sim},
};

fn constraint(key: &str) -> serde_json::Value {
    json!({"constraints": [{"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway"}]})
}

#[tokio::test(start_paused = true)]
async fn series_of_deleted_nodes_policies_and_topology_keys_are_gone_within_a_minute() {
    let sim = sim();
    let nodes: Api<Node> = Api::all(sim.client());
    for name in ["n1", "n2", "gone"] {
        nodes
            .create(&PostParams::default(), &node(name))
            .await
            .unwrap();
    }
    create_namespace(&sim, "media").await;
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "media");
    deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .unwrap();
    apply_policy(&sim, "media", "apps", constraint("kubernetes.io/hostname")).await;
    apply_policy(
        &sim,
        "media",
        "zones",
        constraint("topology.kubernetes.io/zone"),
    )
    .await;
    let (controller, address) = start_serving_metrics(&sim).await;
    wait(40).await;

    let before = scrape(address).await;
    for series in [
        "kube_spread_node_pods{node=\"gone\"}",
        "kube_spread_policy_balanced{namespace=\"media\",policy=\"zones\"}",
        "kube_spread_policy_skew{namespace=\"media\",policy=\"apps\",topology_key=\"kubernetes.io/hostname\"}",
        "kube_spread_moves_total{result=\"evicted\"} 0",
        "kube_spread_workload_patches_total{result=\"conflict\"} 0",
        "kube_spread_invalid_objects_total{kind=\"SpreadPolicy\"} 0",
    ] {
        assert!(before.contains(series), "{series} missing:\n{before}");
    }

    nodes
        .delete("gone", &DeleteParams::default())
        .await
        .unwrap();
    let policies: Api<SpreadPolicy> = Api::namespaced(sim.client(), "media");
    policies
        .delete("zones", &DeleteParams::default())
        .await
        .unwrap();
    apply_policy(&sim, "media", "apps", constraint("example.com/rack")).await;
    wait(60).await;

    let after = scrape(address).await;
    for series in [
        "node=\"gone\"",
        "policy=\"zones\"",
        "topology_key=\"kubernetes.io/hostname\"",
    ] {
        assert!(!after.contains(series), "{series} still there:\n{after}");
    }
    assert!(
        after.contains("kube_spread_node_pods{node=\"n1\"}"),
        "{after}"
    );
    assert!(
        after.contains("kube_spread_policy_balanced{namespace=\"media\",policy=\"apps\"}"),
        "{after}"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn without_any_policy_the_controller_is_ready_and_publishes_pods_per_node() {
    let sim = sim();
    let nodes: Api<Node> = Api::all(sim.client());
    nodes
        .create(&PostParams::default(), &node("n1"))
        .await
        .unwrap();
    let (controller, address) = start_serving_metrics(&sim).await;
    wait(35).await;
    let ready = fetch(address, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.0 200"), "{ready}");
    let metrics = scrape(address).await;
    assert!(
        metrics.contains("kube_spread_node_pods{node=\"n1\"} 0"),
        "{metrics}"
    );
    controller.stop().await;
}
