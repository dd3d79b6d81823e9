//! The ReplicaSet controller: creates and deletes pods (upstream's `ActivePodsWithRanks` order)
//! until the active ones match the replicas, and reports status honouring minReadySeconds.
//! It never touches pods it does not control.

use std::cmp::Ordering;

use jiff::Timestamp;
use k8s_openapi::api::{apps::v1::ReplicaSet, core::v1::Pod};
use serde_json::{Value, json};

use super::{
    CONTROLLER_MANAGER, Context, earliest, log_write,
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
            log_write(context.delete(
                context.cache.ids.pods,
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default(),
                pod.metadata.uid.as_deref(),
                None,
            ));
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
    context
        .create(context.cache.ids.pods, namespace, pod, CONTROLLER_MANAGER)
        .map(|_| ())
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match status::phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

/// `logarithmicRankDiff`: the difference of ⌊log2(age in ns)⌋.
fn logarithmic_rank(at: Timestamp, now: Timestamp) -> i64 {
    let age = now.duration_since(at).as_nanos();
    if age > 0 {
        (age as f64).log2() as i64
    } else {
        -1
    }
}

/// The surplus pods to delete, first first: upstream's `ActivePodsWithRanks` order with the
/// rank being the number of related active pods on the same node (LogarithmicScaleDown on).
pub(crate) fn pods_to_delete<'a>(
    active: &[&'a Pod],
    related: &[&Pod],
    count: usize,
    now: Timestamp,
) -> Vec<&'a Pod> {
    let rank = |pod: &Pod| {
        node_of(pod).map_or(0, |node| {
            related
                .iter()
                .filter(|other| is_active(other) && node_of(other) == Some(node))
                .count()
        })
    };
    let mut ranked: Vec<(usize, &Pod)> = active.iter().map(|pod| (rank(pod), *pod)).collect();
    ranked.sort_by(|(rank_a, a), (rank_b, b)| compare_for_deletion(a, *rank_a, b, *rank_b, now));
    ranked.into_iter().take(count).map(|(_, pod)| pod).collect()
}

fn compare_for_deletion(
    a: &Pod,
    rank_a: usize,
    b: &Pod,
    rank_b: usize,
    now: Timestamp,
) -> Ordering {
    // 1. Unassigned < assigned.
    let (node_a, node_b) = (node_of(a), node_of(b));
    if node_a.is_none() != node_b.is_none() {
        return if node_a.is_none() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    // 2. Pending < Unknown < Running.
    let ordering = phase_ordinal(a).cmp(&phase_ordinal(b));
    if ordering != Ordering::Equal {
        return ordering;
    }
    // 3. Not ready < ready.
    let (ready_a, ready_b) = (status::is_ready(a), status::is_ready(b));
    if ready_a != ready_b {
        return if ready_a {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    // 4. Lower pod-deletion-cost first.
    let cost = |pod: &Pod| {
        pod.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
            .and_then(|c| c.parse::<i32>().ok())
            .unwrap_or(0)
    };
    let ordering = cost(a).cmp(&cost(b));
    if ordering != Ordering::Equal {
        return ordering;
    }
    // 5. Doubled up (more related pods on the node) first.
    if rank_a != rank_b {
        return rank_b.cmp(&rank_a);
    }
    let by_uid = || a.metadata.uid.cmp(&b.metadata.uid);
    // 6. Ready for less time first (logarithmic buckets).
    if let (Some(since_a), Some(since_b)) = (status::ready_since(a), status::ready_since(b))
        && since_a != since_b
    {
        let diff = logarithmic_rank(since_a, now) - logarithmic_rank(since_b, now);
        return match diff.cmp(&0) {
            Ordering::Equal => by_uid(),
            other => other,
        };
    }
    // 7. Higher restart counts first (the simulated containers never restart).
    // 8. Newer first (logarithmic buckets).
    let created = |pod: &Pod| pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    match (created(a), created(b)) {
        (Some(ca), Some(cb)) if ca != cb => {
            let diff = logarithmic_rank(ca, now) - logarithmic_rank(cb, now);
            match diff.cmp(&0) {
                Ordering::Equal => by_uid(),
                other => other,
            }
        }
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        _ => Ordering::Equal,
    }
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
