//! Events as the components' client-go recorders write them (core/v1, one object per
//! occurrence, named `<object>.<hex nanoseconds>`), so `kubectl describe` and `kubectl events`
//! show what a real cluster shows. Recording never fails a component: a refused Event is logged.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::{Context, log_write};

/// The recorder names (`source.component`) of the simulated components.
pub mod component {
    /// The kubelet (its `source.host` is the node).
    pub const KUBELET: &str = "kubelet";
    /// The node lifecycle controller.
    pub const NODE_CONTROLLER: &str = "node-controller";
    /// The taint eviction controller.
    pub const TAINT_EVICTION: &str = "taint-eviction-controller";
    /// The ReplicaSet controller.
    pub const REPLICA_SET: &str = "replicaset-controller";
    /// The Deployment controller.
    pub const DEPLOYMENT: &str = "deployment-controller";
    /// The StatefulSet controller.
    pub const STATEFUL_SET: &str = "statefulset-controller";
    /// The DaemonSet controller.
    pub const DAEMON_SET: &str = "daemonset-controller";
}

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An expected step.
    Normal,
    /// Something a person may want to look at.
    Warning,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// The object an Event is about, as `involvedObject` references it.
#[derive(Clone, Debug)]
pub struct Involved<'a> {
    /// `apiVersion` of the object.
    pub api_version: &'a str,
    /// Its kind.
    pub kind: &'a str,
    /// Its metadata (name, namespace, uid, resourceVersion).
    pub meta: &'a ObjectMeta,
    /// A part of it, such as `spec.containers{web}`.
    pub field_path: Option<String>,
}

/// Who records: the component, and the node for a kubelet.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// `source.component`.
    pub component: &'a str,
    /// `source.host`.
    pub host: Option<&'a str>,
}

impl<'a> Source<'a> {
    /// A controller of kube-controller-manager.
    pub fn controller(component: &'a str) -> Self {
        Self {
            component,
            host: None,
        }
    }
}

/// Records one Event about `involved`.
pub(crate) fn record(
    context: &Context<'_>,
    involved: &Involved<'_>,
    source: Source<'_>,
    kind: Kind,
    reason: &str,
    message: &str,
) {
    let meta = involved.meta;
    let name = meta.name.as_deref().unwrap_or_default();
    // Events of a cluster-scoped object go to `default`, as client-go's recorder puts them.
    let namespace = meta
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or("default");
    let stamp = context.stamp();
    let mut reference = json!({
        "apiVersion": involved.api_version,
        "kind": involved.kind,
        "name": name,
        "uid": meta.uid.as_deref().unwrap_or_default(),
        "resourceVersion": meta.resource_version.as_deref().unwrap_or_default(),
    });
    if let Some(namespace) = meta.namespace.as_deref().filter(|n| !n.is_empty()) {
        reference["namespace"] = json!(namespace);
    }
    if let Some(path) = &involved.field_path {
        reference["fieldPath"] = json!(path);
    }
    let mut source_value = json!({"component": source.component});
    if let Some(host) = source.host {
        source_value["host"] = json!(host);
    }
    let nanos = context.now.as_nanosecond();
    // Components record several Events in one simulated instant; the next nanosecond keeps
    // their names apart as wall-clock time does on a real recorder.
    for offset in 0..16 {
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{name}.{:x}", nanos + offset), "namespace": namespace},
            "involvedObject": reference,
            "reason": reason,
            "message": message,
            "source": source_value,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": kind.as_str(),
            "eventTime": Value::Null,
            "reportingComponent": source.component,
            "reportingInstance": source.host.unwrap_or_default(),
        });
        match context.create(context.cache.ids.events, namespace, event, source.component) {
            Err(error) if error.is_race() => continue,
            result => {
                log_write(result);
                return;
            }
        }
    }
}
