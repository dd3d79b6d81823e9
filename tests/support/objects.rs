//! Builders for the objects the simulated API tests write: a simulated API on a fixed clock,
//! nodes, pods (pending, bound, running and Ready), deployments and disruption budgets.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_spread::clock::Clock;
use kube_spread::sim::SimApi;
use serde_json::{Value, json};

/// The instant every simulated test starts at.
pub const START: &str = "2025-10-20T08:00:00Z";

/// A simulated API whose clock reads [`START`] now.
pub fn sim() -> SimApi {
    let start: Timestamp = START.parse().expect("start timestamp");
    SimApi::new(Clock::starting_at(start))
}

/// Creates namespace `name`.
pub async fn create_namespace(sim: &SimApi, name: &str) {
    let namespaces: Api<Namespace> = Api::all(sim.client());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace"),
        )
        .await
        .expect("create namespace");
}

/// A Ready node with the hostname label.
pub fn node(name: &str) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "containerd://2.0.0",
                         "kernelVersion": "6.1.0", "kubeProxyVersion": "", "machineID": "", "operatingSystem": "linux",
                         "osImage": "Debian GNU/Linux 12 (bookworm)", "systemUUID": ""},
        },
    }))
    .expect("node")
}

/// A pod with one container and labels.
pub fn pod(name: &str, labels: &[(&str, &str)]) -> Pod {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    }))
    .expect("pod")
}

/// A pod bound to a node.
pub fn pod_on(name: &str, node: &str, labels: &[(&str, &str)]) -> Pod {
    let mut pod = pod(name, labels);
    if let Some(spec) = pod.spec.as_mut() {
        spec.node_name = Some(node.to_owned());
    }
    pod
}

/// Creates a pod bound to `node` and reports it Running (and Ready when `ready`).
pub async fn running_pod(
    pods: &Api<Pod>,
    name: &str,
    node: &str,
    labels: &[(&str, &str)],
    ready: bool,
) -> Pod {
    pods.create(&PostParams::default(), &pod_on(name, node, labels))
        .await
        .expect("create pod");
    let status = json!({"status": {
        "phase": "Running",
        "podIP": "10.0.0.1",
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
        "containerStatuses": [{"name": "app", "ready": ready, "restartCount": 0, "image": "nginx:1.27", "imageID": "",
                               "state": {"running": {"startedAt": START}}}],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("pod status")
}

/// A PodDisruptionBudget selecting `labels` (None: a null selector).
pub fn pdb(name: &str, labels: Option<&[(&str, &str)]>, min_available: i32) -> PodDisruptionBudget {
    let selector: Value = match labels {
        Some(labels) => {
            let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
            json!({"matchLabels": labels})
        }
        None => Value::Null,
    };
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"minAvailable": min_available, "selector": selector},
    }))
    .expect("pdb")
}

/// Creates a budget and gives it the status the disruption controller would.
pub async fn budget(
    api: &Api<PodDisruptionBudget>,
    pdb: &PodDisruptionBudget,
    allowed: i32,
    current: i32,
    desired: i32,
) -> PodDisruptionBudget {
    let created = api
        .create(&PostParams::default(), pdb)
        .await
        .expect("create pdb");
    let name = created.metadata.name.clone().expect("name");
    let generation = created.metadata.generation.unwrap_or(1);
    let status = json!({"status": {
        "observedGeneration": generation,
        "disruptionsAllowed": allowed,
        "currentHealthy": current,
        "desiredHealthy": desired,
        "expectedPods": current,
    }});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .expect("pdb status")
}

/// A Deployment with one container and an optional topology spread constraint list.
pub fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        },
    }))
    .expect("deployment")
}
