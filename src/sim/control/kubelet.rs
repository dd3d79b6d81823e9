//! Every node's kubelet: node status and Lease heartbeats, pods started (Pending → Running →
//! Ready after a per-pod delay), terminating pods removed after their grace period. A stopped
//! kubelet does nothing; none touches another node's pods.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::{
    Context, KUBELET, after, earliest,
    events::{self, Involved, Kind, Source, component},
    log_write, startup_delay,
    status::{self, node_of, phase, terminating},
};
use crate::sim::Subresource;

/// Where a pod's containers are, as far as the kubelet has taken them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Not seen by the kubelet yet.
    New,
    /// Containers being created.
    Creating,
    /// Containers running, not Ready yet.
    Running,
    /// Ready.
    Ready,
}

fn stage_of(pod: &Pod) -> Stage {
    let started = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .is_some();
    match (phase(pod), status::is_ready(pod), started) {
        ("Running", true, _) => Stage::Ready,
        ("Running", false, _) => Stage::Running,
        (_, _, true) => Stage::Creating,
        _ => Stage::New,
    }
}

/// One pod's start, as its kubelet times it.
#[derive(Clone, Debug)]
struct Start {
    node: String,
    uid_hash: u64,
    seen: Timestamp,
    delay: std::time::Duration,
}

/// The kubelets of all nodes.
#[derive(Debug, Default)]
pub struct Kubelets {
    stopped: BTreeSet<String>,
    /// Pods being started, by `namespace/name`.
    starts: BTreeMap<String, Start>,
    /// The uids of terminating pods whose containers are being stopped (Killing recorded).
    stopping: BTreeSet<String>,
}

impl Kubelets {
    /// Stops or starts a node's kubelet. A restarted kubelet starts its pods' containers anew.
    pub fn set_running(&mut self, node: &str, running: bool) {
        if running {
            if self.stopped.remove(node) {
                // Forget the start times of this node's pods: their containers start again.
                self.starts.retain(|_, start| start.node != node);
            }
        } else {
            self.stopped.insert(node.to_owned());
        }
    }

    /// Whether a node's kubelet runs (every node's does unless stopped).
    pub fn is_running(&self, node: &str) -> bool {
        !self.stopped.contains(node)
    }

    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        let mut wake = None;
        let cache = context.cache;
        let nodes: Vec<String> = cache
            .nodes
            .iter()
            .filter_map(|node| node.metadata.name.clone())
            .filter(|name| self.is_running(name))
            .collect();
        for node in &nodes {
            wake = earliest(wake, post_node_status(context, node));
            wake = earliest(wake, renew_lease(context, node));
        }
        let running: BTreeSet<&str> = nodes.iter().map(String::as_str).collect();
        let mut alive = BTreeSet::new();
        let mut stopping = BTreeSet::new();
        for pod in cache.pods.iter() {
            let Some(node) = node_of(pod) else { continue };
            if !running.contains(node) {
                continue;
            }
            let key = format!(
                "{}/{}",
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default()
            );
            if terminating(pod) {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                if !self.stopping.contains(&uid) {
                    record_containers(context, pod, node, "Killing", |c| {
                        format!("Stopping container {c}")
                    });
                }
                stopping.insert(uid);
                wake = earliest(wake, finish_termination(context, pod));
                continue;
            }
            if matches!(phase(pod), "Succeeded" | "Failed") {
                continue;
            }
            let uid_hash = super::fnv64(pod.metadata.uid.as_deref().unwrap_or_default().as_bytes());
            let fresh = || Start {
                node: node.to_owned(),
                uid_hash,
                seen: context.now,
                delay: startup_delay(context.settings, pod),
            };
            let start = self.starts.entry(key.clone()).or_insert_with(fresh);
            if start.uid_hash != uid_hash || start.node != node {
                *start = fresh();
            }
            let start = start.clone();
            alive.insert(key);
            wake = earliest(wake, start_pod(context, pod, node, &start));
        }
        self.starts.retain(|key, _| alive.contains(key));
        self.stopping = stopping;
        wake
    }
}

/// Posts Ready=True when it is not, and the heartbeat every report period.
fn post_node_status(context: &Context<'_>, node: &str) -> Option<Timestamp> {
    let cache = context.cache;
    let object = cache.nodes.get("", node)?;
    let ready = object
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    let beat = ready
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0);
    let is_ready = ready.is_some_and(|c| c.status == "True");
    let due = beat.map(|b| after(b, context.settings.node_status_report));
    if is_ready && due.is_some_and(|due| due > context.now) {
        return due;
    }
    let now = context.stamp();
    log_write(context.modify(
        cache.ids.nodes,
        "",
        node,
        Subresource::Status,
        KUBELET,
        |value| {
            let conditions = [
                (
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                (
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                (
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                (
                    "Ready",
                    "True",
                    "KubeletReady",
                    "kubelet is posting ready status",
                ),
            ];
            let mut changed = false;
            for (kind, state, reason, message) in conditions {
                changed |= status::set_condition(
                    value,
                    json!({"type": kind, "status": state, "reason": reason, "message": message,
                           "lastHeartbeatTime": now, "lastTransitionTime": now}),
                );
            }
            changed
        },
    ));
    Some(after(context.now, context.settings.node_status_report))
}

/// Creates or renews the node's Lease.
fn renew_lease(context: &Context<'_>, node: &str) -> Option<Timestamp> {
    let cache = context.cache;
    let renew = context.settings.lease_renew;
    let now = jiff::Timestamp::from_second(context.now.as_second()).unwrap_or(context.now);
    let micro = format!("{}", now.strftime("%Y-%m-%dT%H:%M:%S.000000Z"));
    match cache.leases.get("kube-node-lease", node) {
        None => {
            let node_uid = cache
                .nodes
                .get("", node)
                .and_then(|n| n.metadata.uid.clone())
                .unwrap_or_default();
            let lease = json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": node, "namespace": "kube-node-lease",
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}]},
                "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": micro},
            });
            log_write(context.create(cache.ids.leases, "kube-node-lease", lease, KUBELET));
            Some(after(context.now, renew))
        }
        Some(lease) => {
            let renewed = lease
                .spec
                .as_ref()
                .and_then(|s| s.renew_time.as_ref())
                .map(|t| t.0);
            let due = renewed.map(|r| after(r, renew));
            if due.is_some_and(|due| due > context.now) {
                return due;
            }
            log_write(context.modify(
                cache.ids.leases,
                "kube-node-lease",
                node,
                Subresource::Main,
                KUBELET,
                |value| {
                    value["spec"]["renewTime"] = json!(micro);
                    true
                },
            ));
            Some(after(context.now, renew))
        }
    }
}

/// One Normal Event per container of the pod, as the kubelet records them.
fn record_containers(
    context: &Context<'_>,
    pod: &Pod,
    node: &str,
    reason: &str,
    message: impl Fn(&str) -> String,
) {
    for container in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        events::record(
            context,
            &Involved {
                api_version: "v1",
                kind: "Pod",
                meta: &pod.metadata,
                field_path: Some(format!("spec.containers{{{}}}", container.name)),
            },
            Source {
                component: component::KUBELET,
                host: Some(node),
            },
            Kind::Normal,
            reason,
            &message(&container.name),
        );
    }
}

/// Deletes a terminating pod (grace 0) once its deletion time has come.
fn finish_termination(context: &Context<'_>, pod: &Pod) -> Option<Timestamp> {
    let deadline = pod.metadata.deletion_timestamp.as_ref()?.0;
    if deadline > context.now {
        return Some(deadline);
    }
    log_write(context.delete(
        context.cache.ids.pods,
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref(),
        Some(0),
    ));
    None
}

/// Whether every claim of the pod is bound (the kubelet cannot mount an unbound one).
fn claims_bound(context: &Context<'_>, pod: &Pod) -> bool {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .all(|claim| {
            context
                .cache
                .claims
                .get(namespace, &claim.claim_name)
                .and_then(|c| c.spec.as_ref())
                .and_then(|s| s.volume_name.as_deref())
                .is_some_and(|v| !v.is_empty())
        })
}

/// Moves a pod towards Ready on the kubelet's schedule.
fn start_pod(context: &Context<'_>, pod: &Pod, node: &str, start: &Start) -> Option<Timestamp> {
    if !claims_bound(context, pod) {
        return None;
    }
    let running_at = after(start.seen, start.delay / 2);
    let ready_at = after(start.seen, start.delay);
    let due = if context.now >= ready_at {
        Stage::Ready
    } else if context.now >= running_at {
        Stage::Running
    } else {
        Stage::Creating
    };
    let current = stage_of(pod);
    let next = match due {
        Stage::Creating => Some(running_at),
        Stage::Running => Some(ready_at),
        _ => None,
    };
    if current >= due {
        return if current == Stage::Ready { None } else { next };
    }
    let now = context.stamp();
    let containers: Vec<(String, String)> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect();
    let host_ip = node_ip(node);
    let pod_ip = pod_ip(pod);
    let started = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map_or_else(
            || now.clone(),
            |t| crate::sim::apiserver::store::timestamp(t.0),
        );
    let written = log_write(context.modify(
        context.cache.ids.pods,
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
        Subresource::Status,
        KUBELET,
        |value| {
            if value.pointer("/metadata/uid").and_then(Value::as_str) != pod.metadata.uid.as_deref()
                || value
                    .pointer("/metadata/deletionTimestamp")
                    .is_some_and(|v| !v.is_null())
            {
                return false;
            }
            let ready = due == Stage::Ready;
            let running = due >= Stage::Running;
            let statuses: Vec<Value> = containers
                .iter()
                .map(|(name, image)| {
                    let state = if running {
                        json!({"running": {"startedAt": now}})
                    } else {
                        json!({"waiting": {"reason": "ContainerCreating"}})
                    };
                    json!({"name": name, "image": image, "imageID": "", "ready": ready,
                           "restartCount": 0, "started": running, "state": state})
                })
                .collect();
            let flag = |on: bool| if on { "True" } else { "False" };
            let mut changed = false;
            for (kind, state) in [
                ("PodReadyToStartContainers", true),
                ("Initialized", true),
                ("ContainersReady", ready),
                ("Ready", ready),
            ] {
                let mut condition = json!({"type": kind, "status": flag(state),
                                           "lastProbeTime": null, "lastTransitionTime": now});
                if !state {
                    condition["reason"] = json!("ContainersNotReady");
                }
                changed |= status::set_condition(value, condition);
            }
            if let Some(status) = value.get_mut("status").and_then(Value::as_object_mut) {
                let phase = if running { "Running" } else { "Pending" };
                for (field, content) in [
                    ("phase", json!(phase)),
                    ("hostIP", json!(host_ip)),
                    ("hostIPs", json!([{"ip": host_ip}])),
                    ("podIP", json!(pod_ip)),
                    ("podIPs", json!([{"ip": pod_ip}])),
                    ("startTime", json!(started)),
                    ("containerStatuses", Value::Array(statuses)),
                ] {
                    if status.get(field) != Some(&content) {
                        status.insert(field.to_owned(), content);
                        changed = true;
                    }
                }
            }
            changed
        },
    ));
    if written.flatten().is_some() && current < Stage::Running && due >= Stage::Running {
        record_started(context, pod, node);
    }
    next
}

/// Pulled, Created and Started for each container, as the kubelet words them.
fn record_started(context: &Context<'_>, pod: &Pod, node: &str) {
    for container in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        let image = container.image.as_deref().unwrap_or_default();
        let involved = Involved {
            api_version: "v1",
            kind: "Pod",
            meta: &pod.metadata,
            field_path: Some(format!("spec.containers{{{}}}", container.name)),
        };
        let source = Source {
            component: component::KUBELET,
            host: Some(node),
        };
        for (reason, message) in [
            (
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
            ),
            ("Created", format!("Created container: {}", container.name)),
            ("Started", format!("Started container {}", container.name)),
        ] {
            events::record(context, &involved, source, Kind::Normal, reason, &message);
        }
    }
}

/// A stable address for a node.
fn node_ip(node: &str) -> String {
    let hash = super::fnv64(node.as_bytes());
    format!("192.168.{}.{}", 10 + hash % 200, 2 + (hash >> 8) % 250)
}

/// A stable address for a pod (hostNetwork pods use the node's).
fn pod_ip(pod: &Pod) -> String {
    let spec = pod.spec.as_ref();
    if spec.and_then(|s| s.host_network).unwrap_or(false) {
        return node_ip(
            spec.and_then(|s| s.node_name.as_deref())
                .unwrap_or_default(),
        );
    }
    let hash = super::fnv64(pod.metadata.uid.as_deref().unwrap_or_default().as_bytes());
    format!("10.42.{}.{}", hash % 250, 2 + (hash >> 8) % 250)
}
