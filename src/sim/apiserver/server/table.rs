//! Server-side `Table` output (`meta.k8s.io/v1`) as `kubectl get` asks for it: the columns
//! kube-apiserver prints for nodes, pods, deployments and namespaces, a CRD's printer columns,
//! and NAME/AGE for the rest. Renders; never decides what is listed.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::sim::apiserver::catalog::{Columns, PrinterColumn, ResourceType};
use crate::sim::apiserver::object::Object;

/// What each row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    /// Nothing.
    None,
    /// PartialObjectMetadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl Include {
    /// From the query parameter.
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

fn column(name: &str, kind: &str, format: &str, description: &str, priority: i64) -> Value {
    json!({"name": name, "type": kind, "format": format, "description": description, "priority": priority})
}

fn name_column() -> Value {
    column(
        "Name",
        "string",
        "name",
        "Name must be unique within a namespace.",
        0,
    )
}

fn age_column() -> Value {
    column(
        "Age",
        "string",
        "",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
        0,
    )
}

/// apimachinery's `duration.HumanDuration`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn age(value: &Value, path: &str, now: Timestamp) -> Value {
    let created = value
        .pointer(path)
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok());
    match created {
        Some(t) => json!(human_duration(now.as_second() - t.as_second())),
        None => json!("<unknown>"),
    }
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn or_none(s: String) -> String {
    if s.is_empty() { "<none>".to_owned() } else { s }
}

fn definitions(resource: &ResourceType) -> Vec<Value> {
    match &resource.columns {
        Columns::NameAge => vec![name_column(), age_column()],
        Columns::Namespace => vec![
            name_column(),
            column("Status", "string", "", "The status of the namespace", 0),
            age_column(),
        ],
        Columns::Node => vec![
            name_column(),
            column("Status", "string", "", "The status of the node", 0),
            column("Roles", "string", "", "The roles of the node", 0),
            age_column(),
            column(
                "Version",
                "string",
                "",
                "Kubelet Version reported by the node.",
                0,
            ),
            column(
                "Internal-IP",
                "string",
                "",
                "List of internal IPs for the node.",
                1,
            ),
            column(
                "External-IP",
                "string",
                "",
                "List of external IPs for the node.",
                1,
            ),
            column(
                "OS-Image",
                "string",
                "",
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                1,
            ),
            column(
                "Kernel-Version",
                "string",
                "",
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                1,
            ),
            column(
                "Container-Runtime",
                "string",
                "",
                "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
                1,
            ),
        ],
        Columns::Pod => vec![
            name_column(),
            column(
                "Ready",
                "string",
                "",
                "The aggregate readiness state of this pod for accepting traffic.",
                0,
            ),
            column(
                "Status",
                "string",
                "",
                "The aggregate status of the containers in this pod.",
                0,
            ),
            column(
                "Restarts",
                "string",
                "",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                0,
            ),
            age_column(),
            column(
                "IP",
                "string",
                "",
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
                1,
            ),
            column(
                "Node",
                "string",
                "",
                "NodeName is a request to schedule this pod onto a specific node.",
                1,
            ),
            column(
                "Nominated Node",
                "string",
                "",
                "nominatedNodeName is set when this pod preempts other pods on the node.",
                1,
            ),
            column(
                "Readiness Gates",
                "string",
                "",
                "If specified, all readiness gates will be evaluated for pod readiness.",
                1,
            ),
        ],
        Columns::Deployment => vec![
            name_column(),
            column(
                "Ready",
                "string",
                "",
                "Number of the pod with ready state",
                0,
            ),
            column(
                "Up-to-date",
                "string",
                "",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                0,
            ),
            column(
                "Available",
                "string",
                "",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                0,
            ),
            age_column(),
            column(
                "Containers",
                "string",
                "",
                "Names of each container in the template.",
                1,
            ),
            column(
                "Images",
                "string",
                "",
                "Images referenced by each container in the template.",
                1,
            ),
            column("Selector", "string", "", "The label selector for pods.", 1),
        ],
        Columns::DaemonSet => {
            let mut columns = vec![name_column()];
            for (name, description) in [
                (
                    "Desired",
                    "The desired number of nodes that should be running the daemon pod.",
                ),
                (
                    "Current",
                    "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
                ),
                (
                    "Ready",
                    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
                ),
                (
                    "Up-to-date",
                    "The total number of nodes that are running updated daemon pod",
                ),
                (
                    "Available",
                    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
                ),
            ] {
                columns.push(column(name, "integer", "", description, 0));
            }
            columns.push(column(
                "Node Selector",
                "string",
                "",
                "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node.",
                0,
            ));
            columns.push(age_column());
            columns.extend(template_columns());
            columns
        }
        Columns::StatefulSet => {
            let mut columns = vec![
                name_column(),
                column(
                    "Ready",
                    "string",
                    "",
                    "Number of the pod with ready state",
                    0,
                ),
                age_column(),
            ];
            columns.extend(template_columns().into_iter().take(2));
            columns
        }
        Columns::PersistentVolumeClaim => vec![
            name_column(),
            column(
                "Status",
                "string",
                "",
                "Phase represents the current phase of PersistentVolumeClaim.",
                0,
            ),
            column(
                "Volume",
                "string",
                "",
                "VolumeName is the binding reference to the PersistentVolume backing this claim.",
                0,
            ),
            column(
                "Capacity",
                "string",
                "",
                "Capacity represents the actual resources of the underlying volume.",
                0,
            ),
            column(
                "Access Modes",
                "string",
                "",
                "AccessModes contains the desired access modes the volume should have.",
                0,
            ),
            column(
                "StorageClass",
                "string",
                "",
                "StorageClassName is the name of the StorageClass required by the claim.",
                0,
            ),
            column(
                "VolumeAttributesClass",
                "string",
                "",
                "VolumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.",
                0,
            ),
            age_column(),
            column(
                "VolumeMode",
                "string",
                "",
                "volumeMode defines what type of volume is required by the claim.",
                1,
            ),
        ],
        Columns::PersistentVolume => vec![
            name_column(),
            column(
                "Capacity",
                "string",
                "",
                "capacity is the description of the persistent volume's resources and capacity.",
                0,
            ),
            column(
                "Access Modes",
                "string",
                "",
                "accessModes contains all ways the volume can be mounted.",
                0,
            ),
            column(
                "Reclaim Policy",
                "string",
                "",
                "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.",
                0,
            ),
            column(
                "Status",
                "string",
                "",
                "phase indicates if a volume is available, bound to a claim, or released by a claim.",
                0,
            ),
            column(
                "Claim",
                "string",
                "",
                "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.",
                0,
            ),
            column(
                "StorageClass",
                "string",
                "",
                "storageClassName is the name of StorageClass to which this persistent volume belongs.",
                0,
            ),
            column(
                "VolumeAttributesClass",
                "string",
                "",
                "Name of VolumeAttributesClass to which this persistent volume belongs.",
                0,
            ),
            column(
                "Reason",
                "string",
                "",
                "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
                0,
            ),
            age_column(),
            column(
                "VolumeMode",
                "string",
                "",
                "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.",
                1,
            ),
        ],
        Columns::Event => vec![
            column(
                "Last Seen",
                "string",
                "",
                "The time the event was last seen.",
                0,
            ),
            column(
                "Type",
                "string",
                "",
                "Type of this event (Normal, Warning).",
                0,
            ),
            column("Reason", "string", "", "Why the action was taken.", 0),
            column("Object", "string", "", "The object this event is about.", 0),
            column(
                "Message",
                "string",
                "",
                "A human-readable description of the status of this operation.",
                0,
            ),
            column(
                "Subobject",
                "string",
                "",
                "The field of the object this event is about.",
                1,
            ),
            column(
                "Source",
                "string",
                "",
                "The component reporting this event.",
                1,
            ),
            column(
                "First Seen",
                "string",
                "",
                "The time the event was first seen.",
                1,
            ),
            column(
                "Count",
                "string",
                "",
                "The number of times this event has occurred.",
                1,
            ),
            column(
                "Name",
                "string",
                "name",
                "Name must be unique within a namespace.",
                1,
            ),
        ],
        Columns::Printer(columns) => {
            let mut defs = vec![name_column()];
            defs.extend(
                columns
                    .iter()
                    .map(|c| column(&c.name, &c.kind, "", &c.description, c.priority)),
            );
            defs
        }
    }
}

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let total = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let mut reason = text(pod, "/status/phase");
    let status_reason = text(pod, "/status/reason");
    if !status_reason.is_empty() {
        reason = status_reason.clone();
    }
    let mut ready = 0;
    let mut restarts = 0;
    let mut running = false;
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for status in statuses.iter().rev() {
        restarts += status
            .get("restartCount")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let waiting = text(status, "/state/waiting/reason");
        let terminated = text(status, "/state/terminated/reason");
        if !waiting.is_empty() {
            reason = waiting;
        } else if !terminated.is_empty() {
            reason = terminated;
        } else if status.pointer("/state/terminated").is_some() {
            let signal = status
                .pointer("/state/terminated/signal")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let code = status
                .pointer("/state/terminated/exitCode")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            reason = if signal != 0 {
                format!("Signal:{signal}")
            } else {
                format!("ExitCode:{code}")
            };
        } else if status.get("ready").and_then(Value::as_bool) == Some(true)
            && status.pointer("/state/running").is_some()
        {
            running = true;
            ready += 1;
        }
    }
    if reason == "Completed" && running {
        let pod_ready = pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Ready")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            });
        reason = if pod_ready {
            "Running".to_owned()
        } else {
            "NotReady".to_owned()
        };
    }
    let deleting = pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    if deleting && status_reason == "NodeLost" {
        reason = "Unknown".to_owned();
    } else if deleting {
        reason = "Terminating".to_owned();
    }
    let gates = pod
        .pointer("/spec/readinessGates")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    vec![
        json!(text(pod, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts.to_string()),
        age(pod, "/metadata/creationTimestamp", now),
        json!(or_none(text(pod, "/status/podIP"))),
        json!(or_none(text(pod, "/spec/nodeName"))),
        json!(or_none(text(pod, "/status/nominatedNodeName"))),
        json!(if gates == 0 {
            "<none>".to_owned()
        } else {
            format!("0/{gates}")
        }),
    ]
}

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let ready = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        })
        .and_then(|c| c.get("status").and_then(Value::as_str))
        .map(str::to_owned);
    let mut status = match ready.as_deref() {
        Some("True") => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| {
                    if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                        (!role.is_empty()).then(|| role.to_owned())
                    } else if k == "kubernetes.io/role" {
                        v.as_str().map(str::to_owned)
                    } else {
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let address = |kind: &str| -> String {
        node.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|a| a.get("type").and_then(Value::as_str) == Some(kind))
            })
            .and_then(|a| a.get("address").and_then(Value::as_str))
            .unwrap_or("<none>")
            .to_owned()
    };
    vec![
        json!(text(node, "/metadata/name")),
        json!(status),
        json!(if roles.is_empty() {
            "<none>".to_owned()
        } else {
            roles.join(",")
        }),
        age(node, "/metadata/creationTimestamp", now),
        json!(text(node, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(or_none(text(node, "/status/nodeInfo/osImage"))),
        json!(or_none(text(node, "/status/nodeInfo/kernelVersion"))),
        json!(or_none(text(
            node,
            "/status/nodeInfo/containerRuntimeVersion"
        ))),
    ]
}

fn deployment_cells(deployment: &Value, now: Timestamp) -> Vec<Value> {
    let int = |p: &str| deployment.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let containers = deployment
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<String> = containers.iter().map(|c| text(c, "/image")).collect();
    let selector = deployment
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    vec![
        json!(text(deployment, "/metadata/name")),
        json!(format!(
            "{}/{}",
            int("/status/readyReplicas"),
            int("/spec/replicas")
        )),
        json!(int("/status/updatedReplicas")),
        json!(int("/status/availableReplicas")),
        age(deployment, "/metadata/creationTimestamp", now),
        json!(names.join(",")),
        json!(images.join(",")),
        json!(selector),
    ]
}

/// The wide columns of a workload's pod template: CONTAINERS IMAGES SELECTOR.
fn template_columns() -> Vec<Value> {
    vec![
        column(
            "Containers",
            "string",
            "",
            "Names of each container in the template.",
            1,
        ),
        column(
            "Images",
            "string",
            "",
            "Images referenced by each container in the template.",
            1,
        ),
        column("Selector", "string", "", "The label selector for pods.", 1),
    ]
}

/// A `k=v,k=v` rendering of a string map, or `<none>`.
fn pairs(map: Option<&Value>) -> String {
    let rendered = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    or_none(rendered)
}

/// A workload's container names, images and selector, comma-joined as kubectl prints them.
fn template_cells(workload: &Value) -> [Value; 3] {
    let containers = workload
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<String> = containers.iter().map(|c| text(c, "/image")).collect();
    [
        json!(names.join(",")),
        json!(images.join(",")),
        json!(pairs(workload.pointer("/spec/selector/matchLabels"))),
    ]
}

fn daemon_set_cells(daemon_set: &Value, now: Timestamp) -> Vec<Value> {
    let int = |p: &str| daemon_set.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let mut cells = vec![
        json!(text(daemon_set, "/metadata/name")),
        json!(int("/status/desiredNumberScheduled")),
        json!(int("/status/currentNumberScheduled")),
        json!(int("/status/numberReady")),
        json!(int("/status/updatedNumberScheduled")),
        json!(int("/status/numberAvailable")),
        json!(pairs(
            daemon_set.pointer("/spec/template/spec/nodeSelector")
        )),
        age(daemon_set, "/metadata/creationTimestamp", now),
    ];
    cells.extend(template_cells(daemon_set));
    cells
}

fn stateful_set_cells(stateful_set: &Value, now: Timestamp) -> Vec<Value> {
    let int = |p: &str| stateful_set.pointer(p).and_then(Value::as_i64);
    let [containers, images, _] = template_cells(stateful_set);
    vec![
        json!(text(stateful_set, "/metadata/name")),
        json!(format!(
            "{}/{}",
            int("/status/readyReplicas").unwrap_or(0),
            int("/spec/replicas").unwrap_or(1)
        )),
        age(stateful_set, "/metadata/creationTimestamp", now),
        containers,
        images,
    ]
}

/// Access modes as kubectl abbreviates them (`RWO,ROX`).
fn access_modes(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|modes| {
            modes
                .iter()
                .filter_map(Value::as_str)
                .map(|mode| match mode {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    "ReadWriteOncePod" => "RWOP",
                    other => other,
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// A volume attributes class name, or `<unset>` as kubectl prints a nil one.
fn attributes_class(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .map_or_else(|| "<unset>".to_owned(), str::to_owned)
}

/// A claim's or volume's storage class: the field, else the beta annotation older objects carry.
fn storage_class(object: &Value, field: &str) -> String {
    let named = text(object, field);
    if named.is_empty() {
        text(
            object,
            "/metadata/annotations/volume.beta.kubernetes.io~1storage-class",
        )
    } else {
        named
    }
}

fn volume_mode(object: &Value) -> String {
    let mode = text(object, "/spec/volumeMode");
    if mode.is_empty() {
        "<unset>".to_owned()
    } else {
        mode
    }
}

fn claim_cells(claim: &Value, now: Timestamp) -> Vec<Value> {
    let phase = text(claim, "/status/phase");
    let (capacity, modes) = if text(claim, "/spec/volumeName").is_empty() {
        (String::new(), String::new())
    } else {
        (
            text(claim, "/status/capacity/storage"),
            access_modes(claim, "/status/accessModes"),
        )
    };
    let phase = if claim
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        "Terminating".to_owned()
    } else {
        phase
    };
    vec![
        json!(text(claim, "/metadata/name")),
        json!(phase),
        json!(text(claim, "/spec/volumeName")),
        json!(capacity),
        json!(modes),
        json!(storage_class(claim, "/spec/storageClassName")),
        json!(attributes_class(claim, "/spec/volumeAttributesClassName")),
        age(claim, "/metadata/creationTimestamp", now),
        json!(volume_mode(claim)),
    ]
}

fn volume_cells(volume: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match (
        text(volume, "/spec/claimRef/namespace"),
        text(volume, "/spec/claimRef/name"),
    ) {
        (_, name) if name.is_empty() => String::new(),
        (namespace, name) => format!("{namespace}/{name}"),
    };
    let phase = if volume
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        "Terminating".to_owned()
    } else {
        text(volume, "/status/phase")
    };
    vec![
        json!(text(volume, "/metadata/name")),
        json!(text(volume, "/spec/capacity/storage")),
        json!(access_modes(volume, "/spec/accessModes")),
        json!(text(volume, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase),
        json!(claim),
        json!(storage_class(volume, "/spec/storageClassName")),
        json!(attributes_class(volume, "/spec/volumeAttributesClassName")),
        json!(text(volume, "/status/reason")),
        age(volume, "/metadata/creationTimestamp", now),
        json!(volume_mode(volume)),
    ]
}

/// An event's row, from either API's field names (core/v1 or events.k8s.io/v1).
fn event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    let pick = |paths: &[&str]| -> Option<Value> {
        paths
            .iter()
            .find_map(|p| event.pointer(p).filter(|v| !v.is_null()).cloned())
    };
    let since = |value: Option<Value>| -> String {
        value
            .and_then(|v| v.as_str().and_then(|t| t.parse::<Timestamp>().ok()))
            .map_or_else(
                || "<unknown>".to_owned(),
                |t| human_duration(now.as_second() - t.as_second()),
            )
    };
    let last = pick(&[
        "/series/lastObservedTime",
        "/lastTimestamp",
        "/deprecatedLastTimestamp",
        "/eventTime",
    ]);
    let first = pick(&["/firstTimestamp", "/deprecatedFirstTimestamp", "/eventTime"]);
    let regarding = pick(&["/involvedObject", "/regarding"]).unwrap_or_else(|| json!({}));
    let object = format!(
        "{}/{}",
        text(&regarding, "/kind").to_lowercase(),
        text(&regarding, "/name")
    );
    let message = pick(&["/message", "/note"])
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let source = pick(&[
        "/source/component",
        "/reportingComponent",
        "/reportingController",
        "/deprecatedSource/component",
    ])
    .and_then(|v| v.as_str().map(str::to_owned))
    .unwrap_or_default();
    let count = pick(&["/series/count", "/count", "/deprecatedCount"])
        .and_then(|v| v.as_i64())
        .unwrap_or(1);
    vec![
        json!(since(last)),
        json!(text(event, "/type")),
        json!(text(event, "/reason")),
        json!(object),
        json!(message),
        json!(text(&regarding, "/fieldPath")),
        json!(source),
        json!(since(first)),
        json!(count.to_string()),
        json!(text(event, "/metadata/name")),
    ]
}

/// Evaluates the simple JSONPath of a printer column: `.a.b`, `.a[0]`,
/// `.a[?(@.type=="X")].b`.
pub fn json_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}');
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let (field, tail) = after.split_at(end);
            if !field.is_empty() {
                current = current.get(field)?;
            }
            rest = tail;
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let (inside, tail) = after.split_at(end);
            rest = tail.get(1..).unwrap_or("");
            if let Some(filter) = inside
                .strip_prefix("?(@.")
                .and_then(|f| f.strip_suffix(')'))
            {
                let (field, wanted) = filter.split_once("==")?;
                let wanted = wanted.trim().trim_matches(|c| c == '"' || c == '\'');
                current = current
                    .as_array()?
                    .iter()
                    .find(|item| item.get(field.trim()).and_then(Value::as_str) == Some(wanted))?;
            } else {
                let index: usize = inside.trim().parse().ok()?;
                current = current.as_array()?.get(index)?;
            }
        } else {
            return None;
        }
    }
    Some(current)
}

fn printer_cells(object: &Value, columns: &[PrinterColumn], now: Timestamp) -> Vec<Value> {
    let mut cells = vec![json!(text(object, "/metadata/name"))];
    for c in columns {
        let value = json_path(object, &c.json_path);
        cells.push(match (c.kind.as_str(), value) {
            (_, None | Some(Value::Null)) => c.missing.as_ref().map_or(Value::Null, |m| json!(m)),
            ("date", Some(Value::String(t))) => match t.parse::<Timestamp>() {
                Ok(t) => json!(human_duration(now.as_second() - t.as_second())),
                Err(_) => json!(t),
            },
            (_, Some(v)) => v.clone(),
        });
    }
    cells
}

fn cells(resource: &ResourceType, object: &Value, now: Timestamp) -> Vec<Value> {
    match &resource.columns {
        Columns::NameAge => vec![
            json!(text(object, "/metadata/name")),
            age(object, "/metadata/creationTimestamp", now),
        ],
        Columns::Namespace => vec![
            json!(text(object, "/metadata/name")),
            json!(text(object, "/status/phase")),
            age(object, "/metadata/creationTimestamp", now),
        ],
        Columns::Node => node_cells(object, now),
        Columns::Pod => pod_cells(object, now),
        Columns::Deployment => deployment_cells(object, now),
        Columns::Event => event_cells(object, now),
        Columns::DaemonSet => daemon_set_cells(object, now),
        Columns::StatefulSet => stateful_set_cells(object, now),
        Columns::PersistentVolumeClaim => claim_cells(object, now),
        Columns::PersistentVolume => volume_cells(object, now),
        Columns::Printer(columns) => printer_cells(object, columns, now),
    }
}

/// A Table of objects.
pub fn render(
    resource: &ResourceType,
    objects: &[Arc<Object>],
    resource_version: u64,
    continue_token: Option<&str>,
    include: Include,
    now: Timestamp,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .filter_map(|o| o.value().ok())
        .map(|object| {
            let mut row = json!({"cells": cells(resource, &object, now)});
            match include {
                Include::None => {}
                Include::Object => row["object"] = object,
                Include::Metadata => {
                    let mut metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
                    if let Some(m) = metadata.as_object_mut() {
                        m.remove("managedFields");
                    }
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": metadata,
                    });
                }
            }
            row
        })
        .collect();
    let mut metadata = json!({"resourceVersion": resource_version.to_string()});
    if let Some(token) = continue_token {
        metadata["continue"] = json!(token);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions(resource),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        for (seconds, text) in [
            (5, "5s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (4 * 3600 + 60 * 5, "4h5m"),
            (3 * 86400, "3d"),
        ] {
            assert_eq!(human_duration(seconds), text);
        }
    }

    #[test]
    fn printer_column_paths_follow_filters_into_lists() {
        let object = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Balanced", "status": "False"}]}});
        assert_eq!(
            json_path(
                &object,
                ".status.conditions[?(@.type==\"Balanced\")].status"
            ),
            Some(&json!("False"))
        );
        assert_eq!(
            json_path(&object, ".status.conditions[0].type"),
            Some(&json!("Ready"))
        );
        assert_eq!(json_path(&object, ".spec.missing"), None);
    }

    #[test]
    fn budget_rows_print_n_a_for_an_unset_bound() {
        let catalog = crate::sim::apiserver::catalog::Catalog::standard();
        let id = catalog
            .find("policy", "v1", "poddisruptionbudgets")
            .expect("pdbs");
        let resource = catalog.get(id).expect("type");
        let object = json!({"metadata": {"name": "web", "creationTimestamp": "2025-10-20T08:00:00Z"}, "spec": {"minAvailable": 1}, "status": {"disruptionsAllowed": 1}});
        let now: Timestamp = "2025-10-20T08:00:05Z".parse().expect("now");
        assert_eq!(
            cells(resource, &object, now),
            vec![json!("web"), json!(1), json!("N/A"), json!(1), json!("5s")]
        );
    }
}
