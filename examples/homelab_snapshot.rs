//! Writes `examples/homelab.json`: the seed's homelab the morning after homelab-02 was
//! NotReady, as `kubectl get nodes,pods,pdb,deploy,sts,rs,ds,pvc,pv,spreadpolicies -A -o json`
//! would print it. homelab-02 runs only its DaemonSet pods (4), homelab-03 holds 29 pods and
//! homelab-04 12. Run `cargo run --example homelab_snapshot > examples/homelab.json`.
#![allow(clippy::print_stdout)]

use serde_json::{Value, json};

/// When the snapshot was taken.
const NOW: &str = "2025-10-20T09:00:00Z";
/// When homelab-02 went NotReady and its pods were started elsewhere.
const INCIDENT: &str = "2025-10-19T22:10:00Z";
/// When the cluster was built.
const BUILT: &str = "2025-09-01T10:00:00Z";

/// A workload of the homelab: namespace, name, CPU millicores, memory MiB, and where its
/// pods run (one node name per replica).
struct App {
    namespace: &'static str,
    name: &'static str,
    kind: &'static str,
    cpu: u32,
    memory: u32,
    nodes: &'static [&'static str],
    extra: Extra,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Extra {
    None,
    /// `nodeName: homelab-03` and host networking (homeassistant).
    NodeName,
    /// `nodeSelector: kubernetes.io/hostname: <node>` (z2m, the databases).
    HostnameSelector,
    /// An emptyDir cache (jellyfin).
    EmptyDir,
    /// A Longhorn volume (network storage, reachable from every node).
    NetworkVolume,
    /// A local-path volume on its node.
    LocalVolume,
}

const H2: &str = "homelab-02";
const H3: &str = "homelab-03";
const H4: &str = "homelab-04";

fn apps() -> Vec<App> {
    use Extra::*;
    let app = |namespace, name, cpu, memory, nodes, extra| App {
        namespace,
        name,
        kind: "Deployment",
        cpu,
        memory,
        nodes,
        extra,
    };
    let sts = |namespace, name, cpu, memory, nodes, extra| App {
        namespace,
        name,
        kind: "StatefulSet",
        cpu,
        memory,
        nodes,
        extra,
    };
    vec![
        // The media stack, calibre, flaresolverr and open-webui: all piled on homelab-03.
        app("homelab", "sonarr", 100, 256, &[H3], None),
        app("homelab", "radarr", 100, 256, &[H3], None),
        app("homelab", "prowlarr", 50, 128, &[H3], None),
        app("homelab", "overseerr", 50, 256, &[H3], None),
        app("homelab", "bazarr", 50, 256, &[H3], None),
        app("homelab", "lidarr", 50, 256, &[H3], None),
        app("homelab", "readarr", 50, 256, &[H3], None),
        app("homelab", "jellyfin", 500, 1024, &[H3], EmptyDir),
        app("homelab", "qbittorrent", 200, 512, &[H3], NetworkVolume),
        app("homelab", "flaresolverr", 100, 512, &[H3], None),
        app("homelab", "calibre", 100, 512, &[H3], None),
        app("homelab", "calibre-web", 50, 256, &[H3], None),
        app("homelab", "calibre-downloader", 50, 128, &[H3], None),
        app("homelab", "open-webui", 200, 1024, &[H3], None),
        app("homelab", "tautulli", 50, 128, &[H4], None),
        app("homelab", "jellyseerr", 50, 256, &[H4], None),
        // Home automation: homeassistant and z2m must stay on homelab-03.
        sts("homelab", "homeassistant", 300, 1024, &[H3], NodeName),
        app("homelab", "z2m", 50, 128, &[H3], HostnameSelector),
        app("homelab", "mosquitto", 50, 64, &[H3], None),
        app("homelab", "pihole", 100, 256, &[H3], None),
        app("homelab", "homepage", 50, 128, &[H3], None),
        app("homelab", "node-red", 100, 256, &[H4], None),
        // Infrastructure.
        app("homelab", "traefik", 100, 128, &[H3, H4], None),
        app("homelab", "cert-manager", 50, 128, &[H3], None),
        app("homelab", "cert-manager-webhook", 50, 64, &[H3], None),
        app("homelab", "cert-manager-cainjector", 50, 128, &[H3], None),
        app("homelab", "sealed-secrets", 50, 64, &[H3], None),
        app("homelab", "metallb-controller", 50, 64, &[H3], None),
        app("homelab", "uptime-kuma", 50, 128, &[H4], None),
        app("homelab", "vaultwarden", 50, 128, &[H4], NetworkVolume),
        // The databases, pinned to homelab-04 on local volumes.
        sts("databases", "mariadb", 250, 1024, &[H4], LocalVolume),
        sts("databases", "mongodb", 250, 1024, &[H4], LocalVolume),
    ]
}

/// The DaemonSets of the seed, one pod per node.
const DAEMONSETS: [(&str, &str); 4] = [
    ("longhorn-system", "longhorn-manager"),
    ("longhorn-system", "longhorn-csi-plugin"),
    ("metallb-system", "metallb-speaker"),
    ("monitoring", "prometheus-node-exporter"),
];

/// The namespaces that get a Policy-scope SpreadPolicy: the apps' own and the databases'.
const POLICY_NAMESPACES: [&str; 2] = ["homelab", "databases"];

fn uid(kind: &str, namespace: &str, name: &str) -> String {
    // Stable, readable uids: the same input always gives the same uid.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("{kind}/{namespace}/{name}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let hex = format!("{hash:016x}{:016x}", hash.rotate_left(17));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Kubernetes' safe alphabet for generated names (no vowels, no look-alike digits).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `length` characters of the safe alphabet, derived from `seed`.
fn safe_name(seed: &str, length: usize) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (0..length)
        .map(|_| {
            let index = usize::try_from(hash % 27).unwrap_or(0);
            hash = hash / 27 + 0x9e37_79b9;
            char::from(NAME_ALPHABET[index])
        })
        .collect()
}

fn template_hash(name: &str) -> String {
    safe_name(name, 10)
}

fn node(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": uid("Node", "", name),
            "creationTimestamp": BUILT,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/worker": "",
            },
        },
        "spec": {},
        "status": {
            "allocatable": {"cpu": "4", "memory": "15896Mi", "pods": "110", "ephemeral-storage": "225Gi"},
            "capacity": {"cpu": "4", "memory": "16096Mi", "pods": "110", "ephemeral-storage": "240Gi"},
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": NOW,
                "lastTransitionTime": if name == H2 { "2025-10-20T07:40:00Z" } else { BUILT },
            }],
            "nodeInfo": {"kubeletVersion": "v1.33.4", "containerRuntimeVersion": "containerd://2.0.5"},
        },
    })
}

fn container(name: &str, cpu: u32, memory: u32) -> Value {
    json!({
        "name": name,
        "image": format!("ghcr.io/homelab/{name}:stable"),
        "resources": {"requests": {"cpu": format!("{cpu}m"), "memory": format!("{memory}Mi")}},
    })
}

fn pod_template(app: &App, hash: Option<&str>) -> Value {
    let mut labels = json!({"app": app.name});
    if let Some(hash) = hash {
        labels["pod-template-hash"] = json!(hash);
    }
    let mut spec = json!({
        "containers": [container(app.name, app.cpu, app.memory)],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ],
    });
    match app.extra {
        Extra::NodeName => {
            spec["nodeName"] = json!(app.nodes[0]);
            spec["hostNetwork"] = json!(true);
        }
        Extra::HostnameSelector | Extra::LocalVolume => {
            spec["nodeSelector"] = json!({"kubernetes.io/hostname": app.nodes[0]});
        }
        _ => {}
    }
    match app.extra {
        Extra::EmptyDir => spec["volumes"] = json!([{"name": "cache", "emptyDir": {}}]),
        Extra::NetworkVolume | Extra::LocalVolume if app.kind == "Deployment" => {
            spec["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": format!("{}-data", app.name)}}]);
        }
        _ => {}
    }
    json!({"metadata": {"labels": labels}, "spec": spec})
}

fn workload_objects(app: &App, items: &mut Vec<Value>) {
    let replicas = app.nodes.len();
    let workload_uid = uid(app.kind, app.namespace, app.name);
    let hash = (app.kind == "Deployment").then(|| template_hash(app.name));
    let template = pod_template(app, hash.as_deref());
    let mut spec = json!({
        "replicas": replicas,
        "selector": {"matchLabels": {"app": app.name}},
        "template": pod_template(app, None),
    });
    if app.kind == "StatefulSet" {
        spec["serviceName"] = json!(app.name);
        if app.extra == Extra::LocalVolume {
            spec["volumeClaimTemplates"] = json!([{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                         "resources": {"requests": {"storage": "10Gi"}}},
            }]);
        }
    } else {
        spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    }
    items.push(json!({
        "apiVersion": "apps/v1",
        "kind": app.kind,
        "metadata": {
            "name": app.name, "namespace": app.namespace, "uid": workload_uid,
            "generation": 1, "creationTimestamp": BUILT, "labels": {"app": app.name},
        },
        "spec": spec,
        "status": {"observedGeneration": 1, "replicas": replicas, "readyReplicas": replicas,
                   "availableReplicas": replicas, "updatedReplicas": replicas},
    }));
    let (owner_kind, owner_name, owner_uid) = match &hash {
        Some(hash) => {
            let rs_name = format!("{}-{hash}", app.name);
            let rs_uid = uid("ReplicaSet", app.namespace, &rs_name);
            items.push(json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name, "namespace": app.namespace, "uid": rs_uid, "generation": 1,
                    "creationTimestamp": BUILT,
                    "labels": {"app": app.name, "pod-template-hash": hash},
                    "annotations": {"deployment.kubernetes.io/revision": "1"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app.name,
                                         "uid": workload_uid, "controller": true, "blockOwnerDeletion": true}],
                },
                "spec": {"replicas": replicas,
                         "selector": {"matchLabels": {"app": app.name, "pod-template-hash": hash}},
                         "template": template},
                "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                           "observedGeneration": 1},
            }));
            ("ReplicaSet", rs_name, rs_uid)
        }
        None => ("StatefulSet", app.name.to_owned(), workload_uid.clone()),
    };
    for (ordinal, node) in app.nodes.iter().enumerate() {
        let name = match &hash {
            Some(hash) => format!(
                "{}-{hash}-{}",
                app.name,
                safe_name(&format!("{}/{ordinal}", app.name), 5)
            ),
            None => format!("{}-{ordinal}", app.name),
        };
        // Pods that homelab-02 lost were started elsewhere during the incident.
        let started = if *node == H3 && app.extra == Extra::None {
            INCIDENT
        } else {
            BUILT
        };
        let mut spec = template["spec"].clone();
        spec["nodeName"] = json!(node);
        spec["schedulerName"] = json!("default-scheduler");
        let mut labels = template["metadata"]["labels"].clone();
        if app.kind == "StatefulSet" {
            labels["statefulset.kubernetes.io/pod-name"] = json!(name);
            if app.extra == Extra::LocalVolume {
                spec["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": format!("data-{name}")}}]);
            }
        }
        items.push(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name, "namespace": app.namespace, "uid": uid("Pod", app.namespace, &name),
                "creationTimestamp": started, "labels": labels,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner_name,
                                     "uid": owner_uid, "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": spec,
            "status": running_status(started),
        }));
        volumes_for(app, &name, node, items);
    }
}

fn volumes_for(app: &App, pod: &str, node: &str, items: &mut Vec<Value>) {
    let (claim, class, local) = match (app.extra, app.kind) {
        (Extra::NetworkVolume, _) => (format!("{}-data", app.name), "longhorn", false),
        (Extra::LocalVolume, "StatefulSet") => (format!("data-{pod}"), "local-path", true),
        _ => return,
    };
    let volume = format!("pvc-{}", uid("PersistentVolume", app.namespace, &claim));
    items.push(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": claim, "namespace": app.namespace, "uid": uid("PVC", app.namespace, &claim),
                     "creationTimestamp": BUILT},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class, "volumeName": volume,
                 "resources": {"requests": {"storage": "10Gi"}}},
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"}},
    }));
    let mut spec = json!({
        "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"}, "storageClassName": class,
        "persistentVolumeReclaimPolicy": "Delete",
        "claimRef": {"kind": "PersistentVolumeClaim", "namespace": app.namespace, "name": claim},
    });
    if local {
        spec["hostPath"] =
            json!({"path": format!("/var/lib/local-path/{claim}"), "type": "DirectoryOrCreate"});
        spec["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}});
    } else {
        spec["csi"] = json!({"driver": "driver.longhorn.io", "volumeHandle": volume});
    }
    items.push(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": volume, "uid": uid("PV", "", &volume), "creationTimestamp": BUILT},
        "spec": spec,
        "status": {"phase": "Bound"},
    }));
}

fn running_status(started: &str) -> Value {
    json!({
        "phase": "Running",
        "startTime": started,
        "qosClass": "Burstable",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
            {"type": "Initialized", "status": "True", "lastTransitionTime": started},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": started},
            {"type": "Ready", "status": "True", "lastTransitionTime": started},
        ],
    })
}

fn daemon_set_objects(namespace: &str, name: &str, items: &mut Vec<Value>) {
    let ds_uid = uid("DaemonSet", namespace, name);
    let template = json!({
        "metadata": {"labels": {"app": name}},
        "spec": {
            "containers": [container(name, 50, 64)],
            "tolerations": [{"operator": "Exists"}],
            "priorityClassName": "system-node-critical",
        },
    });
    items.push(json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "uid": ds_uid, "generation": 1, "creationTimestamp": BUILT},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": template},
        "status": {"currentNumberScheduled": 3, "desiredNumberScheduled": 3, "numberReady": 3, "numberMisscheduled": 0},
    }));
    for node in [H2, H3, H4] {
        let pod = format!("{name}-{}", safe_name(&format!("{name}/{node}"), 5));
        let mut spec = template["spec"].clone();
        spec["nodeName"] = json!(node);
        spec["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}});
        let started = if node == H2 {
            "2025-10-20T07:41:00Z"
        } else {
            BUILT
        };
        items.push(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod, "namespace": namespace, "uid": uid("Pod", namespace, &pod),
                "creationTimestamp": started, "labels": {"app": name},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "uid": ds_uid,
                                     "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": spec,
            "status": running_status(started),
        }));
    }
}

fn pdb(namespace: &str, name: &str, max_unavailable: u32, healthy: u32) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace, "uid": uid("PDB", namespace, name), "generation": 1,
                     "creationTimestamp": BUILT},
        "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": {"app": name}}},
        "status": {"observedGeneration": 1, "currentHealthy": healthy, "desiredHealthy": healthy - max_unavailable,
                   "disruptionsAllowed": max_unavailable, "expectedPods": healthy},
    })
}

fn policy(namespace: &str) -> Value {
    let mut spec = json!({
        "scope": "Policy",
        "constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}],
        "rebalance": {"mode": "Evict", "trigger": "NodeRecovery"},
    });
    if namespace == "databases" {
        spec["statefulSetWhenUnsatisfiable"] = json!("DoNotSchedule");
    }
    json!({
        "apiVersion": "kubespread.io/v1alpha1",
        "kind": "SpreadPolicy",
        "metadata": {"name": "spread", "namespace": namespace, "uid": uid("SpreadPolicy", namespace, "spread"),
                     "generation": 1, "creationTimestamp": "2025-10-20T08:30:00Z"},
        "spec": spec,
    })
}

/// The whole snapshot as a `v1 List`.
pub fn snapshot() -> Value {
    let mut items: Vec<Value> = [H2, H3, H4].into_iter().map(node).collect();
    for (namespace, name) in DAEMONSETS {
        daemon_set_objects(namespace, name, &mut items);
    }
    for app in apps() {
        workload_objects(&app, &mut items);
    }
    items.push(pdb("homelab", "traefik", 1, 2));
    for namespace in POLICY_NAMESPACES {
        items.push(policy(namespace));
    }
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
}

/// The snapshot as committed: pretty JSON with a final newline.
pub fn snapshot_text() -> String {
    let mut text = serde_json::to_string_pretty(&snapshot()).unwrap_or_default();
    text.push('\n');
    text
}

#[allow(dead_code)]
fn main() {
    print!("{}", snapshot_text());
}
