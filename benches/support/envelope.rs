//! The cluster at the Kubernetes scalability envelope, written into the simulated API's store as
//! the real controllers write it: namespaces of ten Deployments, each Deployment with its
//! ReplicaSet, a PodDisruptionBudget and its running pods spread round-robin over the nodes.
//! Included by the benches with `#[path]` (beside `cluster.rs`); no measuring here.

use std::{error::Error, sync::Arc};

use kube_spread::sim::{ResourceId, Store, WriteOptions};
use serde_json::{Value, json};

use super::cluster::{LeanPod, with_status};

pub const REPLICAS: usize = 15;
pub const DEPLOYMENTS_PER_NAMESPACE: usize = 10;
const APPS: [&str; DEPLOYMENTS_PER_NAMESPACE] = [
    "web", "api", "worker", "cart", "checkout", "search", "catalog", "auth", "notify", "billing",
];
/// Container requests, one per Deployment in turn.
const REQUESTS: [(&str, &str); 4] = [
    ("100m", "128Mi"),
    ("250m", "256Mi"),
    ("500m", "512Mi"),
    ("50m", "64Mi"),
];
/// Where each kind goes in the simulated store.
pub struct Kinds {
    pub namespace: ResourceId,
    pub node: ResourceId,
    pub pod: ResourceId,
    pub deployment: ResourceId,
    pub replica_set: ResourceId,
    pub pdb: ResourceId,
}

impl Kinds {
    pub fn of(store: &Store) -> Result<Self, Box<dyn Error>> {
        let catalog = store.catalog();
        let find = |group: &str, version: &str, plural: &str| {
            catalog
                .find(group, version, plural)
                .ok_or_else(|| format!("the simulated API has no {plural}"))
        };
        Ok(Self {
            namespace: find("", "v1", "namespaces")?,
            node: find("", "v1", "nodes")?,
            pod: find("", "v1", "pods")?,
            deployment: find("apps", "v1", "deployments")?,
            replica_set: find("apps", "v1", "replicasets")?,
            pdb: find("policy", "v1", "poddisruptionbudgets")?,
        })
    }
}

/// The pod-template-hash of Deployment `d`: nine hex digits, as the Deployment controller's.
pub fn template_hash(d: usize) -> String {
    format!(
        "{:09x}",
        (d as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 28
    )
}

/// Creates an object, then writes its status as its controller does.
pub fn create_with_status(
    store: &Store,
    id: ResourceId,
    namespace: &str,
    object: Value,
    status: Value,
    created_by: &WriteOptions,
    status_by: &WriteOptions,
) -> Result<Arc<str>, Box<dyn Error>> {
    let created = store.create(id, namespace, object, created_by)?;
    let name = created.header.name.to_string();
    store.update_status(
        id,
        namespace,
        &name,
        with_status(created.value()?, status),
        status_by,
    )?;
    Ok(Arc::from(&*created.header.uid))
}

/// Deployment `d` (`app` in `team-{d / 10}`) with its ReplicaSet, its PodDisruptionBudget and up to `REPLICAS` running
/// pods (pod indexes from `d * REPLICAS` up to `pods`), spread round-robin over the nodes.
/// `template_constraints`, given the Deployment's selector, replaces the template's spread
/// constraints (the pods keep theirs).
pub fn deployment(
    store: &Store,
    kinds: &Kinds,
    d: usize,
    pods: usize,
    nodes: usize,
    template_constraints: Option<&dyn Fn(&Value) -> Value>,
) -> Result<(), Box<dyn Error>> {
    let controller = WriteOptions::manager("kube-controller-manager");
    let kubelet = WriteOptions::manager("kubelet");
    let namespace = format!("team-{:04}", d / DEPLOYMENTS_PER_NAMESPACE);
    let app = APPS[d % DEPLOYMENTS_PER_NAMESPACE];
    let hash = template_hash(d);
    let replica_set = format!("{app}-{hash}");
    let instance = format!("{namespace}-{app}");
    let selector = json!({"app": app, "app.kubernetes.io/instance": instance});
    let template_labels = json!({"app": app, "app.kubernetes.io/name": app,
        "app.kubernetes.io/instance": instance, "app.kubernetes.io/part-of": namespace});
    let mut pod_labels = template_labels.clone();
    if let Some(labels) = pod_labels.as_object_mut() {
        labels.insert("pod-template-hash".to_owned(), json!(hash));
    }
    let first = d * REPLICAS;
    let replicas = REPLICAS.min(pods.saturating_sub(first));
    let requests = REQUESTS[d % REQUESTS.len()];
    let template_pod = LeanPod {
        namespace: &namespace,
        name: "",
        app,
        labels: &pod_labels,
        replica_set: &replica_set,
        replica_set_uid: "",
        node: "",
        requests,
        index: first,
    };
    let template = |labels: &Value| {
        let mut spec = template_pod.object()["spec"].clone();
        if let Some(spec) = spec.as_object_mut() {
            spec.remove("nodeName");
            if let Some(constraints) = template_constraints {
                spec.insert(
                    "topologySpreadConstraints".to_owned(),
                    constraints(&selector),
                );
            }
        }
        json!({"metadata": {"labels": labels}, "spec": spec})
    };

    let deployment_uid = create_with_status(
        store,
        kinds.deployment,
        &namespace,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": app, "namespace": namespace, "labels": template_labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": selector},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": template(&template_labels)}}),
        json!({"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas}),
        &controller,
        &controller,
    )?;
    let mut replica_set_selector = selector.clone();
    if let Some(labels) = replica_set_selector.as_object_mut() {
        labels.insert("pod-template-hash".to_owned(), json!(hash));
    }
    let replica_set_uid = create_with_status(
        store,
        kinds.replica_set,
        &namespace,
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": replica_set, "namespace": namespace, "labels": pod_labels,
                "annotations": {"deployment.kubernetes.io/revision": "1", "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                    "deployment.kubernetes.io/max-replicas": (replicas + replicas.div_ceil(4)).to_string()},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app, "uid": &*deployment_uid,
                    "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": replica_set_selector},
                "template": template(&pod_labels)}}),
        json!({"observedGeneration": 1, "replicas": replicas, "fullyLabeledReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas}),
        &controller,
        &controller,
    )?;
    create_with_status(
        store,
        kinds.pdb,
        &namespace,
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": app, "namespace": namespace},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}}}),
        json!({"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": replicas,
            "desiredHealthy": replicas.saturating_sub(1), "expectedPods": replicas}),
        &controller,
        &controller,
    )?;
    for k in 0..replicas {
        let i = first + k;
        let name = format!("{replica_set}-{i:05x}");
        let node = format!("node-{:05}", i % nodes.max(1));
        let pod = LeanPod {
            name: &name,
            replica_set_uid: &replica_set_uid,
            node: &node,
            index: i,
            ..template_pod
        };
        create_with_status(
            store,
            kinds.pod,
            &namespace,
            pod.object(),
            pod.status(),
            &controller,
            &kubelet,
        )?;
    }
    Ok(())
}
