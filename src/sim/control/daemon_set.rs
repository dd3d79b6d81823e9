//! The DaemonSet controller: one pod per eligible node (matchFields affinity, the controller's
//! tolerations), bound by the default scheduler; surplus and misplaced pods deleted, template
//! changes rolled one node at a time, status. It never binds pods itself.

use jiff::Timestamp;
use k8s_openapi::api::{
    apps::v1::DaemonSet,
    core::v1::{Node, Pod},
};
use serde_json::{Value, json};

use super::{
    CONTROLLER_MANAGER, Context,
    admission::{NOT_READY_TAINT, UNREACHABLE_TAINT},
    events::{self, Involved, Kind, Source, component},
    log_write,
    stateful_set::REVISION_LABEL,
    status::{self, controlled_by},
};
use crate::{
    planner::{eligibility, eligibility::UNSCHEDULABLE_TAINT},
    sim::Subresource,
    snapshot::convert,
};

/// The DaemonSet controller.
#[derive(Debug)]
pub struct DaemonSets;

impl DaemonSets {
    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        for set in context.cache.daemon_sets.iter() {
            if set.metadata.deletion_timestamp.is_none() {
                sync_one(context, set);
            }
        }
        None
    }
}

/// `AddOrUpdateDaemonPodTolerations`: what every DaemonSet pod tolerates.
fn daemon_tolerations(host_network: bool) -> Vec<Value> {
    let mut tolerations = vec![
        json!({"key": NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute"}),
        json!({"key": UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoExecute"}),
        json!({"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": UNSCHEDULABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"}),
    ];
    if host_network {
        tolerations.push(json!({"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}));
    }
    tolerations
}

/// The pod spec for a node: the template with the node's matchFields affinity (replacing any
/// required node selector terms) and the DaemonSet tolerations added.
fn pod_spec(set: &DaemonSet, node: &str) -> Value {
    let template = set
        .spec
        .as_ref()
        .map(|s| serde_json::to_value(&s.template).unwrap_or_else(|_| json!({})))
        .unwrap_or_else(|| json!({}));
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    let host_network = spec
        .get("hostNetwork")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let terms =
        json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]);
    spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
        json!({"nodeSelectorTerms": terms});
    let mut tolerations: Vec<Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for toleration in daemon_tolerations(host_network) {
        let same = |t: &Value| {
            t.get("key") == toleration.get("key") && t.get("effect") == toleration.get("effect")
        };
        tolerations.retain(|t| !same(t));
        tolerations.push(toleration);
    }
    spec["tolerations"] = Value::Array(tolerations);
    spec
}

/// `NodeShouldRunDaemonPod`: whether a pod should run on the node (its name, affinity and
/// taints admit the pod) and whether one already there should keep running (only NoExecute
/// taints evict).
fn should_run(set: &DaemonSet, node: &Node) -> (bool, bool) {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let spec = pod_spec(set, name);
    let Ok(spec) = serde_json::from_value::<k8s_openapi::api::core::v1::PodSpec>(spec) else {
        return (false, false);
    };
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != name)
    {
        return (false, false);
    }
    let pod = Pod {
        metadata: Default::default(),
        spec: Some(spec),
        status: None,
    };
    let (Ok(model), Ok(node_model)) = (
        convert::pod(
            &Pod {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some("probe".to_owned()),
                    namespace: Some("probe".to_owned()),
                    ..Default::default()
                },
                ..pod
            },
            &mut convert::Interner::new(),
        ),
        convert::node(node),
    ) else {
        return (false, false);
    };
    if !eligibility::admits(
        &model.spec.node_selector,
        model.spec.required_affinity.as_ref(),
        &node_model,
    ) {
        return (false, false);
    }
    if eligibility::untolerated_taint(&node_model.taints, &model.spec.tolerations).is_none() {
        return (true, true);
    }
    let no_execute: Vec<_> = node_model
        .taints
        .iter()
        .filter(|t| t.effect == crate::planner::model::TaintEffect::NoExecute)
        .cloned()
        .collect();
    (
        false,
        eligibility::untolerated_taint(&no_execute, &model.spec.tolerations).is_none(),
    )
}

fn revision(set: &DaemonSet) -> String {
    let template = set
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    super::deployment::template_hash(&template, None)
}

fn sync_one(context: &Context<'_>, set: &DaemonSet) {
    let namespace = set.metadata.namespace.as_deref().unwrap_or_default();
    let uid = set.metadata.uid.as_deref().unwrap_or_default();
    let revision = revision(set);
    let pods: Vec<&Pod> = context
        .cache
        .pods
        .in_namespace(namespace)
        .filter(|pod| controlled_by(&pod.metadata, uid))
        .map(|pod| &**pod)
        .collect();
    let min_ready = set
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let (mut desired, mut current, mut misscheduled, mut ready, mut available, mut updated) =
        (0, 0, 0, 0, 0, 0);
    let mut outdated: Vec<&Pod> = Vec::new();
    let mut unavailable = 0;
    for node in context.cache.nodes.iter() {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let mut on_node: Vec<&Pod> = pods
            .iter()
            .copied()
            .filter(|pod| daemon_node(pod) == Some(name))
            .collect();
        on_node.sort_by_key(|pod| pod.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let (wanted, keep) = should_run(set, node);
        let live: Vec<&Pod> = on_node
            .iter()
            .copied()
            .filter(|p| status::is_active(p))
            .collect();
        for failed in on_node
            .iter()
            .filter(|p| status::phase(p) == "Failed" && !status::terminating(p))
        {
            delete(context, set, failed);
        }
        if wanted {
            desired += 1;
            match live.as_slice() {
                [] => create_pod(context, set, name, &revision),
                [first, rest @ ..] => {
                    current += 1;
                    for extra in rest {
                        delete(context, set, extra);
                    }
                    if status::is_ready(first) {
                        ready += 1;
                    }
                    if status::availability(first, min_ready, context.now).is_ok() {
                        available += 1;
                    } else {
                        unavailable += 1;
                    }
                    if revision_of(first) == Some(revision.as_str()) {
                        updated += 1;
                    } else {
                        outdated.push(first);
                    }
                }
            }
        } else {
            if live.iter().any(|pod| status::node_of(pod).is_some()) {
                misscheduled += 1;
            }
            if !keep {
                for pod in live {
                    delete(context, set, pod);
                }
            }
        }
    }
    // RollingUpdate with maxUnavailable 1: replace one outdated pod while all are available.
    let rolling = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    if rolling
        && unavailable == 0
        && let Some(pod) = outdated.first()
    {
        delete(context, set, pod);
    }
    let new_status = json!({
        "currentNumberScheduled": current,
        "desiredNumberScheduled": desired,
        "numberMisscheduled": misscheduled,
        "numberReady": ready,
        "numberAvailable": available,
        "numberUnavailable": (desired - available).max(0),
        "updatedNumberScheduled": updated,
        "observedGeneration": set.metadata.generation.unwrap_or(0),
    });
    let now_status = set
        .status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(Value::Null);
    let same = new_status.as_object().is_some_and(|n| {
        n.iter()
            .all(|(k, v)| now_status.get(k).unwrap_or(&json!(0)) == v)
    });
    if !same {
        log_write(context.modify(
            context.cache.ids.daemon_sets,
            namespace,
            set.metadata.name.as_deref().unwrap_or_default(),
            Subresource::Status,
            CONTROLLER_MANAGER,
            |value| status::replace_status(value, new_status),
        ));
    }
}

fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map(String::as_str)
}

/// The node a DaemonSet pod is for: where it is bound, or the node its affinity names.
fn daemon_node(pod: &Pod) -> Option<&str> {
    if let Some(node) = status::node_of(pod) {
        return Some(node);
    }
    pod.spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name")?
        .values
        .as_ref()?
        .first()
        .map(String::as_str)
}

fn delete(context: &Context<'_>, set: &DaemonSet, pod: &Pod) {
    if status::terminating(pod) {
        return;
    }
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let deleted = log_write(context.delete(
        context.cache.ids.pods,
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        name,
        pod.metadata.uid.as_deref(),
        None,
    ));
    if deleted.is_some() {
        record(
            context,
            set,
            "SuccessfulDelete",
            &format!("Deleted pod: {name}"),
        );
    }
}

/// A Normal Event of the DaemonSet controller on `set`, as its pod control words it.
fn record(context: &Context<'_>, set: &DaemonSet, reason: &str, message: &str) {
    events::record(
        context,
        &Involved {
            api_version: "apps/v1",
            kind: "DaemonSet",
            meta: &set.metadata,
            field_path: None,
        },
        Source::controller(component::DAEMON_SET),
        Kind::Normal,
        reason,
        message,
    );
}

fn create_pod(context: &Context<'_>, set: &DaemonSet, node: &str, revision: &str) {
    let namespace = set.metadata.namespace.as_deref().unwrap_or_default();
    let name = set.metadata.name.as_deref().unwrap_or_default();
    let template_metadata = set
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .map(|m| serde_json::to_value(m).unwrap_or_else(|_| json!({})))
        .unwrap_or_else(|| json!({}));
    let mut metadata = template_metadata;
    if let Some(fields) = metadata.as_object_mut() {
        fields.remove("name");
        fields.remove("creationTimestamp");
    }
    metadata["generateName"] = json!(format!("{name}-"));
    metadata["namespace"] = json!(namespace);
    metadata["labels"][REVISION_LABEL] = json!(revision);
    metadata["ownerReferences"] = json!([status::owner_reference(
        "apps/v1",
        "DaemonSet",
        &set.metadata
    )]);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec(set, node)});
    if let Some(created) =
        log_write(context.create(context.cache.ids.pods, namespace, pod, CONTROLLER_MANAGER))
    {
        let message = format!("Created pod: {}", created.header.name);
        record(context, set, "SuccessfulCreate", &message);
    }
}
