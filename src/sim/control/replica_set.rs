//! The ReplicaSet controller: creates and deletes pods (upstream's `ActivePodsWithRanks` order)
//! until the active ones match the replicas, and reports status honouring minReadySeconds.
//! It never touches pods it does not control.

use jiff::Timestamp;
use k8s_openapi::api::{apps::v1::ReplicaSet, core::v1::Pod};
use serde_json::{Value, json};

use super::{
    CONTROLLER_MANAGER, Context, earliest,
    events::{self, Involved, Kind, Source, component},
    log_write,
    status::{self, controlled_by, is_active, node_of},
};
use crate::sim::Subresource;

/// The ReplicaSet controller.
#[derive(Debug)]
pub struct ReplicaSets;

impl ReplicaSets {
    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        let mut wake = None;
        for replica_set in context.cache.replica_sets.iter() {
            if replica_set.metadata.deletion_timestamp.is_some() {
                continue;
            }
            wake = earliest(wake, sync_one(context, replica_set));
        }
        wake
    }
}

fn owned_pods<'a>(context: &'a Context<'_>, replica_set: &ReplicaSet) -> Vec<&'a Pod> {
    let namespace = replica_set
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    let uid = replica_set.metadata.uid.as_deref().unwrap_or_default();
    context
        .cache
        .pods
        .in_namespace(namespace)
        .filter(|pod| controlled_by(&pod.metadata, uid))
        .map(|pod| &**pod)
        .collect()
}

fn sync_one(context: &Context<'_>, replica_set: &ReplicaSet) -> Option<Timestamp> {
    let pods = owned_pods(context, replica_set);
    let active: Vec<&Pod> = pods.iter().copied().filter(|p| is_active(p)).collect();
    let wanted = replica_set
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0);
    let have = i32::try_from(active.len()).unwrap_or(i32::MAX);
    if have < wanted {
        for _ in have..wanted {
            log_write(create_pod(context, replica_set));
        }
    } else if have > wanted {
        let surplus = usize::try_from(have - wanted).unwrap_or(0);
        let related = related_pods(context, replica_set);
        for pod in pods_to_delete(&active, &related, surplus, context.now) {
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
                    replica_set,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {name}"),
                );
            }
        }
    }
    write_status(context, replica_set, &active)
}

/// The pods of every ReplicaSet with the same controlling owner (a Deployment's ReplicaSets).
fn related_pods<'a>(context: &'a Context<'_>, replica_set: &ReplicaSet) -> Vec<&'a Pod> {
    let Some(owner) = status::controller_of(&replica_set.metadata) else {
        return owned_pods(context, replica_set);
    };
    let namespace = replica_set
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    context
        .cache
        .replica_sets
        .in_namespace(namespace)
        .filter(|rs| controlled_by(&rs.metadata, &owner.uid))
        .flat_map(|rs| owned_pods(context, rs))
        .collect()
}

fn create_pod(context: &Context<'_>, replica_set: &ReplicaSet) -> Result<(), super::Write> {
    let namespace = replica_set
        .metadata
        .namespace
        .as_deref()
        .unwrap_or_default();
    let name = replica_set.metadata.name.as_deref().unwrap_or_default();
    let template = replica_set
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .map(|t| serde_json::to_value(t).unwrap_or_else(|_| json!({})))
        .unwrap_or_else(|| json!({}));
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": template.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
    pod["metadata"]["generateName"] = json!(format!("{name}-"));
    pod["metadata"]["namespace"] = json!(namespace);
    pod["metadata"]["ownerReferences"] = json!([status::owner_reference(
        "apps/v1",
        "ReplicaSet",
        &replica_set.metadata
    )]);
    if let Some(metadata) = pod["metadata"].as_object_mut() {
        metadata.remove("name");
        metadata.remove("creationTimestamp");
    }
    let created = context.create(context.cache.ids.pods, namespace, pod, CONTROLLER_MANAGER)?;
    let name = created.header.name.clone();
    record(
        context,
        replica_set,
        "SuccessfulCreate",
        &format!("Created pod: {name}"),
    );
    Ok(())
}

/// A Normal Event of the ReplicaSet controller on `replica_set`.
fn record(context: &Context<'_>, replica_set: &ReplicaSet, reason: &str, message: &str) {
    events::record(
        context,
        &Involved {
            api_version: "apps/v1",
            kind: "ReplicaSet",
            meta: &replica_set.metadata,
            field_path: None,
        },
        Source::controller(component::REPLICA_SET),
        Kind::Normal,
        reason,
        message,
    );
}

/// `podPhaseToOrdinal`: Pending < Unknown < Running; a phase outside the map reads as 0, as a
/// missing Go map key does.
fn phase_ordinal(pod: &Pod) -> u8 {
    match status::phase(pod) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

/// `logarithmicRankDiff`: ⌊log2(age in ns)⌋, 0 for an age of zero or less. A missing time
/// reads as Go's zero time, older than any real one.
fn logarithmic_age(at: Option<Timestamp>, now: Timestamp) -> i64 {
    let Some(at) = at else {
        return i64::MAX;
    };
    let age = now.duration_since(at).as_nanos();
    if age > 0 {
        (age as f64).log2() as i64
    } else {
        0
    }
}

/// The highest restart count among regular containers, then among sidecars (init containers
/// that always restart), as `maxContainerRestarts` reads them.
fn max_restarts(pod: &Pod) -> (i32, i32) {
    let status = pod.status.as_ref();
    let regular = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    let sidecars: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let sidecar = status
        .and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| sidecars.contains(&c.name.as_str()))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

/// Where a pod stands in the ReplicaSet controller's deletion order: smaller goes first.
/// Upstream's `ActivePodsWithRanks.Less` read as one lexicographic key, so the order is total
/// by construction (a comparator that ties mid-chain breaks transitivity, and Rust's sort
/// panics on that).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeletionRank {
    /// 1. Unassigned before assigned.
    assigned: bool,
    /// 2. Pending < Unknown < Running.
    phase: u8,
    /// 3. Not ready before ready.
    ready: bool,
    /// 4. Lower `controller.kubernetes.io/pod-deletion-cost` first.
    cost: i32,
    /// 5. More related active pods on the same node first.
    crowd: std::cmp::Reverse<usize>,
    /// 6. Ready for less time first, in logarithmic buckets (only between ready pods: the
    ///    readiness above is equal whenever this is compared).
    ready_age: Option<i64>,
    /// 7. More container restarts first, regular containers then sidecars.
    restarts: std::cmp::Reverse<(i32, i32)>,
    /// 8. Newer first, in logarithmic buckets.
    created_age: i64,
    /// 9. The tie-break on UID, then the name for pods without one.
    uid: String,
    name: (String, String),
}

impl DeletionRank {
    /// The rank of `pod` at `now`, with `crowd` related active pods on its node (itself
    /// included), as `getPodsRankedByRelatedPodsOnSameNode` counts them.
    pub fn of(pod: &Pod, crowd: usize, now: Timestamp) -> Self {
        let meta = &pod.metadata;
        let ready = status::ready_since(pod);
        Self {
            assigned: node_of(pod).is_some(),
            phase: phase_ordinal(pod),
            ready: ready.is_some(),
            cost: meta
                .annotations
                .as_ref()
                .and_then(|a| a.get(POD_DELETION_COST))
                .and_then(|c| c.parse::<i32>().ok())
                .unwrap_or(0),
            crowd: std::cmp::Reverse(crowd),
            ready_age: ready.map(|since| logarithmic_age(Some(since), now)),
            restarts: std::cmp::Reverse(max_restarts(pod)),
            created_age: logarithmic_age(meta.creation_timestamp.as_ref().map(|t| t.0), now),
            uid: meta.uid.clone().unwrap_or_default(),
            name: (
                meta.namespace.clone().unwrap_or_default(),
                meta.name.clone().unwrap_or_default(),
            ),
        }
    }
}

/// The annotation that orders a ReplicaSet's pods for deletion (lower goes first).
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The surplus pods to delete, first first: upstream's `ActivePodsWithRanks` order with the
/// rank being the number of related active pods on the same node (LogarithmicScaleDown on).
pub fn pods_to_delete<'a>(
    active: &[&'a Pod],
    related: &[&Pod],
    count: usize,
    now: Timestamp,
) -> Vec<&'a Pod> {
    // Unassigned pods share the node "" as upstream's map does.
    let mut crowds: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for pod in related.iter().filter(|pod| is_active(pod)) {
        *crowds.entry(node_of(pod).unwrap_or_default()).or_default() += 1;
    }
    let mut ranked: Vec<(DeletionRank, &Pod)> = active
        .iter()
        .map(|pod| {
            let crowd = crowds
                .get(node_of(pod).unwrap_or_default())
                .copied()
                .unwrap_or(0);
            (DeletionRank::of(pod, crowd, now), *pod)
        })
        .collect();
    ranked.sort_by(|(a, _), (b, _)| a.cmp(b));
    ranked.into_iter().take(count).map(|(_, pod)| pod).collect()
}

/// Status as `calculateStatus` computes it; returns when a Ready pod becomes available.
fn write_status(
    context: &Context<'_>,
    replica_set: &ReplicaSet,
    active: &[&Pod],
) -> Option<Timestamp> {
    let min_ready = replica_set
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let template_labels = replica_set
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut ready = 0;
    let mut available = 0;
    let mut wake = None;
    for pod in active {
        match status::availability(pod, min_ready, context.now) {
            Ok(()) => {
                ready += 1;
                available += 1;
            }
            Err(Some(at)) => {
                ready += 1;
                wake = earliest(wake, Some(at));
            }
            Err(None) => {}
        }
    }
    let fully_labeled = active
        .iter()
        .filter(|pod| {
            let labels = status::labels(&pod.metadata);
            template_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        })
        .count();
    let new_status = json!({
        "replicas": active.len(),
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": replica_set.metadata.generation.unwrap_or(0),
    });
    let current = replica_set
        .status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(Value::Null);
    if current != new_status {
        log_write(
            context.modify(
                context.cache.ids.replica_sets,
                replica_set
                    .metadata
                    .namespace
                    .as_deref()
                    .unwrap_or_default(),
                replica_set.metadata.name.as_deref().unwrap_or_default(),
                Subresource::Status,
                CONTROLLER_MANAGER,
                |value| status::replace_status(value, new_status),
            ),
        );
    }
    wake
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: Option<&str>, phase: &str, ready: bool, created: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": name, "creationTimestamp": created},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": phase, "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" },
                 "lastTransitionTime": created}]},
        }))
        .expect("pod")
    }

    #[test]
    fn surplus_pods_go_unscheduled_pending_unready_doubled_up_then_newest_first() {
        let now: Timestamp = "2025-10-20T12:00:00Z".parse().expect("now");
        let old = "2025-10-19T12:00:00Z";
        let new = "2025-10-20T11:59:00Z";
        let pods = [
            pod("ready-alone-old", Some("n3"), "Running", true, old),
            pod("ready-alone-new", Some("n4"), "Running", true, new),
            pod("ready-doubled", Some("n1"), "Running", true, old),
            pod("ready-doubled-2", Some("n1"), "Running", true, old),
            pod("not-ready", Some("n2"), "Running", false, old),
            pod("pending", Some("n5"), "Pending", false, old),
            pod("unscheduled", None, "Pending", false, old),
        ];
        let active: Vec<&Pod> = pods.iter().collect();
        let order: Vec<&str> = pods_to_delete(&active, &active, pods.len(), now)
            .into_iter()
            .map(|p| p.metadata.name.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(
            order,
            [
                "unscheduled",
                "pending",
                "not-ready",
                "ready-doubled",
                "ready-doubled-2",
                "ready-alone-new",
                "ready-alone-old"
            ]
        );
    }
}
