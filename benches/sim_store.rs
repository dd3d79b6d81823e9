//! Fills the simulated API's store to 5,000 nodes and 150,000 realistic pods (about 2 KB of
//! JSON each, with managedFields from a controller create and a kubelet status write), then
//! reports resident memory (from /proc/self/statm) and the time of a full paginated list,
//! both from the store and through the HTTP router with kube's client (`limit=500` pages).
//!
//! Run: `cargo bench --bench sim_store` (SIM_STORE_PODS / SIM_STORE_NODES scale it;
//! SIM_STORE_POD_SHAPE=rich stores production-sized pods of about 5.7 KB instead).
#![allow(clippy::print_stdout)] // A benchmark reports on stdout.

use std::error::Error;
use std::time::Instant;

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/resident.rs"]
mod resident;

use cluster::{LeanPod, count, node, with_status};
use kube_spread::clock::Clock;
use kube_spread::sim::{ListOptions, SimApi, StoreConfig, Subresource, WriteOptions};
use resident::{mib, resident_bytes};
use serde::Deserialize;
use serde_json::{Value, json};

/// A pod as a small Deployment's pod looks once running (about 2 KB with managedFields).
fn lean_pod(i: usize, nodes: usize) -> (String, Value, Value) {
    let app = format!("app-{:04}", i / 30);
    let namespace = format!("team-{:02}", (i / 30) % 50);
    let pod = LeanPod {
        namespace: &namespace,
        name: &format!("{app}-5d8f7c9b6-{i:05x}"),
        app: &app,
        labels: &json!({"app": app, "pod-template-hash": "5d8f7c9b6"}),
        replica_set: &format!("{app}-5d8f7c9b6"),
        replica_set_uid: "1f0c6a2e-4b7d-4f35-9a51-6c1e8d2b7f40",
        node: &format!("node-{:05}", i % nodes.max(1)),
        requests: ("100m", "128Mi"),
        index: i,
    };
    let (object, status) = (pod.object(), pod.status());
    (namespace, object, status)
}

/// A pod with everything a production pod carries (probes, env, service-account volume, five
/// conditions, full container status): about 5.7 KB with managedFields.
fn rich_pod(i: usize, nodes: usize) -> (String, Value, Value) {
    let app = format!("app-{:04}", i / 30);
    let namespace = format!("team-{:02}", (i / 30) % 50);
    let name = format!("{app}-5d8f7c9b6-{:05x}", i);
    let node = format!("node-{:05}", i % nodes.max(1));
    let token = format!("kube-api-access-{:05x}", i % 0xfffff);
    let spec = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace,
            "labels": {"app": app, "pod-template-hash": "5d8f7c9b6", "app.kubernetes.io/part-of": "shop"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-10-19T21:14:03Z"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-5d8f7c9b6"),
                                 "uid": "1f0c6a2e-4b7d-4f35-9a51-6c1e8d2b7f40", "controller": true, "blockOwnerDeletion": true}]},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": format!("registry.example.com/shop/{app}:1.4.2"), "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}],
                "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
                "volumeMounts": [{"name": token, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}],
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "schedulerName": "default-scheduler", "enableServiceLinks": true, "priority": 0,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                                           "labelSelector": {"matchLabels": {"app": app}}}],
            "volumes": [{"name": token, "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}]}
    });
    let status = json!({
        "phase": "Running", "qosClass": "Burstable", "hostIP": "10.0.0.1", "podIP": format!("10.244.{}.{}", (i / 256) % 256, i % 256),
        "startTime": "2025-10-20T08:00:00Z",
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2025-10-20T08:00:02Z"},
            {"type": "Initialized", "status": "True", "lastTransitionTime": "2025-10-20T08:00:00Z"},
            {"type": "Ready", "status": "True", "lastTransitionTime": "2025-10-20T08:00:05Z"},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2025-10-20T08:00:05Z"},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-10-20T08:00:00Z"}],
        "containerStatuses": [{"name": "app", "ready": true, "started": true, "restartCount": 0,
            "image": format!("registry.example.com/shop/{app}:1.4.2"), "imageID": "registry.example.com/shop/app@sha256:3f1c0b6e9a7d2c4e5f8a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e",
            "containerID": "containerd://8c2f6e1b9d4a7c3e5f0b1a2d3c4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e",
            "state": {"running": {"startedAt": "2025-10-20T08:00:03Z"}}}]});
    (namespace, spec, status)
}

#[derive(Deserialize)]
struct Listed {
    metadata: ListedMeta,
    items: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct ListedMeta {
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let nodes = count("SIM_STORE_NODES", 5_000);
    let pods = count("SIM_STORE_PODS", 150_000);
    let rich = std::env::var("SIM_STORE_POD_SHAPE").is_ok_and(|shape| shape == "rich");
    let pod = if rich { rich_pod } else { lean_pod };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _guard = runtime.enter();
    let sim = SimApi::with_config(
        Clock::starting_at("2025-10-20T08:00:00Z".parse()?),
        StoreConfig::default(),
    );
    let store = sim.store().clone();
    let catalog = store.catalog();
    let (node_id, pod_id, namespace_id) = (
        catalog.find("", "v1", "nodes").ok_or("nodes")?,
        catalog.find("", "v1", "pods").ok_or("pods")?,
        catalog.find("", "v1", "namespaces").ok_or("namespaces")?,
    );

    let before = resident_bytes()?;
    let started = Instant::now();
    let controller = WriteOptions::manager("kube-controller-manager");
    let kubelet = WriteOptions::manager("kubelet");
    for t in 0..50 {
        store.create(
            namespace_id,
            "",
            json!({"metadata": {"name": format!("team-{t:02}")}}),
            &controller,
        )?;
    }
    for i in 0..nodes {
        store.create(node_id, "", node(i), &kubelet)?;
    }
    for i in 0..pods {
        let (namespace, spec, status) = pod(i, nodes);
        let created = store.create(pod_id, &namespace, spec, &controller)?;
        let name = created.header.name.to_string();
        store.update(
            pod_id,
            &namespace,
            &name,
            with_status(created.value()?, status),
            Subresource::Status,
            &kubelet,
        )?;
    }
    let filled = started.elapsed();
    let after = resident_bytes()?;

    let all = store.all(pod_id);
    let json_bytes: usize = all.iter().map(|o| o.json.len()).sum();
    let held: usize = all.iter().map(|o| o.heap_size()).sum();
    drop(all);

    let started = Instant::now();
    let mut listed = 0usize;
    let mut pages = 0usize;
    let mut options = ListOptions {
        limit: Some(500),
        ..ListOptions::default()
    };
    loop {
        let page = store.list(pod_id, &options)?;
        listed += page.items.len();
        pages += 1;
        match page.continue_token {
            Some(token) => options.continue_token = Some(token),
            None => break,
        }
    }
    let store_list = started.elapsed();
    if listed != pods {
        return Err(format!("the store listed {listed} pods of {pods}").into());
    }

    let client = sim.client();
    let started = Instant::now();
    let (mut http_listed, mut http_pages, mut token): (usize, usize, Option<String>) = (0, 0, None);
    loop {
        let mut uri = "/api/v1/pods?limit=500".to_owned();
        if let Some(token) = &token {
            uri.push_str(&format!("&continue={token}"));
        }
        let request = http::Request::get(uri).body(Vec::new())?;
        let text = runtime.block_on(client.request_text(request))?;
        let page: Listed = serde_json::from_str(&text)?;
        http_listed += page.items.len();
        http_pages += 1;
        match page.metadata.continue_token.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    let http_list = started.elapsed();
    if http_listed != pods {
        return Err(format!("the router listed {http_listed} pods of {pods}").into());
    }
    let peak = resident_bytes()?;

    if std::env::var_os("SIM_STORE_SHOW").is_some() {
        let sample = store.list(
            pod_id,
            &ListOptions {
                limit: Some(1),
                ..ListOptions::default()
            },
        )?;
        if let Some(first) = sample.items.first() {
            println!("{}", String::from_utf8_lossy(&first.json));
        }
    }
    println!(
        "simulated API store: {nodes} nodes, {pods} {} pods",
        if rich { "rich" } else { "lean" }
    );
    println!(
        "  fill (create + status update per pod): {:.1} s",
        filled.as_secs_f64()
    );
    println!("  average pod JSON: {} bytes", json_bytes / pods.max(1));
    println!(
        "  pod bytes held by the store (JSON + headers): {:.0} MiB",
        mib(held as u64)
    );
    println!(
        "  RSS before fill: {:.0} MiB, after fill: {:.0} MiB (+{:.0} MiB), after lists: {:.0} MiB",
        mib(before),
        mib(after),
        mib(after.saturating_sub(before)),
        mib(peak)
    );
    println!(
        "  full list from the store, limit=500: {pages} pages in {:.2} s",
        store_list.as_secs_f64()
    );
    println!(
        "  full list through the router (kube client, limit=500): {http_pages} pages in {:.2} s",
        http_list.as_secs_f64()
    );
    Ok(())
}
