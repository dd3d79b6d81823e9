//! kube-spread never moves a pod toward a node whose kubelet stopped renewing its Lease, even
//! while the node still reads Ready (the node lifecycle controller waits 40 s to say otherwise).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    coordination::v1::Lease,
    core::v1::{Namespace, Node, Pod},
};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_spread::sim::SimApi;
use serde_json::{Value, json};
use support::{
    controller::{CONTROLLER_USER, apply_policy, start, wait},
    objects::{node, running_pod, sim},
};

const HASH: &str = "5d8f7c9b6";

async fn create<K>(api: &Api<K>, value: Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap()
}

/// Renews the Lease of `node` in kube-node-lease now, as its kubelet would.
async fn renew(sim: &SimApi, node: &str) {
    let leases: Api<Lease> = Api::namespaced(sim.client(), "kube-node-lease");
    let now = sim.store().clock().now();
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": node, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40,
                 "renewTime": now.to_string()}});
    leases
        .patch(
            node,
            &PatchParams::apply("kubelet").force(),
            &Patch::Apply(&lease),
        )
        .await
        .unwrap();
}

/// Three Ready nodes; a Deployment of six pods spread 3/3/0 that carries its own hostname
/// constraint; a policy that acts at once on that constraint.
async fn three_three_zero(sim: &SimApi) {
    let nodes: Api<Node> = Api::all(sim.client());
    for name in ["a", "b", "c"] {
        let mut room = node(name);
        if let Some(status) = room.status.as_mut() {
            status.allocatable =
                serde_json::from_value(json!({"cpu": "4", "memory": "8Gi", "pods": "110"}))
                    .unwrap();
        }
        nodes.create(&PostParams::default(), &room).await.unwrap();
    }
    let namespaces: Api<Namespace> = Api::all(sim.client());
    for name in ["apps"] {
        create(&namespaces, json!({"metadata": {"name": name}})).await;
    }
    let template = json!({"metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}],
                 "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                     "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "web"}},
                     "matchLabelKeys": ["pod-template-hash"]}]}});
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "apps");
    let web = create(&deployments, json!({"metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}}, "template": template}}))
    .await;
    let settled = json!({"status": {"observedGeneration": 1, "replicas": 6, "readyReplicas": 6,
        "availableReplicas": 6, "updatedReplicas": 6}});
    deployments
        .patch_status("web", &PatchParams::default(), &Patch::Merge(settled))
        .await
        .unwrap();
    let mut rs_template = template.clone();
    rs_template["metadata"]["labels"]["pod-template-hash"] = json!(HASH);
    let replica_sets: Api<ReplicaSet> = Api::namespaced(sim.client(), "apps");
    let rs = create(&replica_sets, json!({"metadata": {"name": format!("web-{HASH}"),
            "labels": {"app": "web", "pod-template-hash": HASH},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                 "uid": web.metadata.uid, "controller": true}]},
        "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web", "pod-template-hash": HASH}},
                 "template": rs_template}}))
    .await;
    let pods: Api<Pod> = Api::namespaced(sim.client(), "apps");
    for (index, node) in ["a", "a", "a", "b", "b", "b"].iter().enumerate() {
        let name = format!("web-{HASH}-{index}");
        running_pod(
            &pods,
            &name,
            node,
            &[("app", "web"), ("pod-template-hash", HASH)],
            true,
        )
        .await;
        let owner = json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1",
            "kind": "ReplicaSet", "name": rs.metadata.name, "uid": rs.metadata.uid, "controller": true}]}});
        pods.patch(&name, &PatchParams::default(), &Patch::Merge(owner))
            .await
            .unwrap();
    }
    apply_policy(
        sim,
        "apps",
        "spread",
        json!({"rebalance": {"trigger": "Continuous", "stabilizationWindow": "0s",
                             "minPodAge": "0s", "cooldown": "0s"}}),
    )
    .await;
}

fn evictions(sim: &SimApi) -> usize {
    sim.audit()
        .of(CONTROLLER_USER)
        .into_iter()
        .filter(|record| record.resource == "pods/eviction" && record.code < 300)
        .count()
}

#[tokio::test(start_paused = true)]
async fn no_pod_is_moved_toward_a_node_whose_lease_is_stale_though_it_reads_ready() {
    let sim = sim();
    three_three_zero(&sim).await;
    // c's kubelet renewed last 30 s ago: its Lease (40 s) went unrenewed for over half of it.
    renew(&sim, "c").await;
    wait(30).await;
    renew(&sim, "a").await;
    renew(&sim, "b").await;
    let controller = start(&sim).await;
    wait(15).await;
    assert_eq!(
        evictions(&sim),
        0,
        "a pod was moved toward c while its Lease was stale"
    );

    // c's kubelet comes back: c is a destination again.
    renew(&sim, "c").await;
    wait(15).await;
    let status = support::controller::policy_status(&sim, "apps", "spread").await;
    assert!(
        evictions(&sim) >= 1,
        "nothing moved toward c once it renewed its Lease: {status:#}"
    );
    controller.stop().await;
}
