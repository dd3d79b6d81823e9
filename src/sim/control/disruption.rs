//! The disruption controller: each PodDisruptionBudget's expected pods, desired and current
//! healthy pods, disruptionsAllowed, disruptedPods bookkeeping and condition, as upstream
//! computes them. It never evicts.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::{
    api::{core::v1::Pod, policy::v1::PodDisruptionBudget},
    apimachinery::pkg::util::intstr::IntOrString,
};
use serde_json::json;

use super::{
    CONTROLLER_MANAGER, Context, after, earliest, log_write,
    status::{self, controller_of},
};
use crate::sim::Subresource;

/// How long an eviction's disruptedPods entry waits for the pod's deletion.
const DELETION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The disruption controller.
#[derive(Debug)]
pub struct Disruption;

impl Disruption {
    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        let mut wake = None;
        for pdb in context.cache.pdbs.iter() {
            if pdb.metadata.deletion_timestamp.is_none() {
                wake = earliest(wake, sync_one(context, pdb));
            }
        }
        wake
    }
}

fn selected_pods<'a>(context: &'a Context<'_>, pdb: &PodDisruptionBudget) -> Vec<&'a Pod> {
    let namespace = pdb.metadata.namespace.as_deref().unwrap_or_default();
    let selector = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
    let Ok(selector) = crate::snapshot::selector::label_selector(selector) else {
        return Vec::new();
    };
    context
        .cache
        .pods
        .in_namespace(namespace)
        .filter(|pod| selector.matches(&status::labels(&pod.metadata)))
        .map(|pod| &**pod)
        .collect()
}

/// `getExpectedScale`: the sum of the scales of the pods' controllers (a ReplicaSet owned by a
/// Deployment counts the Deployment's). None when a pod's controller has no scale.
fn expected_scale(context: &Context<'_>, pods: &[&Pod]) -> Option<i32> {
    let cache = context.cache;
    let mut scales: BTreeMap<String, i32> = BTreeMap::new();
    let mut unmanaged = BTreeSet::new();
    for pod in pods {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let Some(owner) = controller_of(&pod.metadata) else {
            unmanaged.insert(pod.metadata.name.clone());
            continue;
        };
        let (uid, scale) = match owner.kind.as_str() {
            "ReplicaSet" => {
                let rs = cache.replica_sets.get(namespace, &owner.name)?;
                match controller_of(&rs.metadata).filter(|o| o.kind == "Deployment") {
                    Some(deployment_ref) => {
                        let deployment = cache.deployments.get(namespace, &deployment_ref.name)?;
                        (
                            deployment_ref.uid.clone(),
                            deployment
                                .spec
                                .as_ref()
                                .and_then(|s| s.replicas)
                                .unwrap_or(1),
                        )
                    }
                    None => (
                        owner.uid.clone(),
                        rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    ),
                }
            }
            "StatefulSet" => {
                let set = cache.stateful_sets.get(namespace, &owner.name)?;
                (
                    owner.uid.clone(),
                    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                )
            }
            _ => return None,
        };
        scales.insert(uid, scale);
    }
    Some(scales.values().sum())
}

/// `getExpectedPodCount`: expected pods and desired healthy pods; None when they cannot be
/// computed (a controller without a scale, a percent that is not one).
fn expected_pod_count(
    context: &Context<'_>,
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
) -> Option<(i32, i32)> {
    let spec = pdb.spec.as_ref()?;
    if let Some(max_unavailable) = &spec.max_unavailable {
        let expected = expected_scale(context, pods)?;
        let unavailable = status::scaled(max_unavailable, expected, true)?;
        return Some((expected, (expected - unavailable).max(0)));
    }
    match &spec.min_available {
        Some(IntOrString::Int(min)) => Some((i32::try_from(pods.len()).unwrap_or(i32::MAX), *min)),
        Some(percent @ IntOrString::String(_)) => {
            let expected = expected_scale(context, pods)?;
            Some((expected, status::scaled(percent, expected, true)?))
        }
        None => None,
    }
}

fn sync_one(context: &Context<'_>, pdb: &PodDisruptionBudget) -> Option<Timestamp> {
    let pods = selected_pods(context, pdb);
    let generation = pdb.metadata.generation.unwrap_or(0);
    let previous = pdb.status.as_ref();
    let now = context.stamp();
    let Some((expected, desired)) = expected_pod_count(context, pdb, &pods) else {
        // failSafe: no disruptions, the condition says why.
        let already = previous.is_some_and(|s| s.disruptions_allowed == 0)
            && previous
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "DisruptionAllowed" && c.reason == "SyncFailed")
                });
        if !already {
            log_write(context.modify(
                context.cache.ids.pdbs,
                pdb.metadata.namespace.as_deref().unwrap_or_default(),
                pdb.metadata.name.as_deref().unwrap_or_default(),
                Subresource::Status,
                CONTROLLER_MANAGER,
                |value| {
                    value["status"]["disruptionsAllowed"] = json!(0);
                    status::set_condition(
                        value,
                        json!({"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed",
                               "message": "found no controllers with a scale for the selected pods",
                               "observedGeneration": previous.and_then(|s| s.observed_generation).unwrap_or(0),
                               "lastTransitionTime": now}),
                    );
                    true
                },
            ));
        }
        return None;
    };
    // buildDisruptedPodMap.
    let recorded = previous
        .and_then(|s| s.disrupted_pods.clone())
        .unwrap_or_default();
    let mut disrupted: BTreeMap<String, String> = BTreeMap::new();
    let mut wake = None;
    for pod in &pods {
        if status::terminating(pod) {
            continue;
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(at) = recorded.get(&name) else {
            continue;
        };
        let expires = after(at.0, DELETION_TIMEOUT);
        if expires < context.now {
            continue;
        }
        wake = earliest(
            wake,
            Some(after(expires, std::time::Duration::from_secs(1))),
        );
        disrupted.insert(name, crate::sim::apiserver::store::timestamp(at.0));
    }
    // countHealthyPods.
    let healthy = pods
        .iter()
        .filter(|pod| !status::terminating(pod))
        .filter(|pod| !disrupted.contains_key(pod.metadata.name.as_deref().unwrap_or_default()))
        .filter(|pod| status::is_ready(pod))
        .count();
    let healthy = i32::try_from(healthy).unwrap_or(i32::MAX);
    let mut allowed = healthy - desired;
    if expected <= 0 || allowed <= 0 {
        allowed = 0;
    }
    let unchanged = previous.is_some_and(|s| {
        s.current_healthy == healthy
            && s.desired_healthy == desired
            && s.expected_pods == expected
            && s.disruptions_allowed == allowed
            && s.observed_generation == Some(generation)
            && s.disrupted_pods
                .as_ref()
                .map(|d| d.keys().cloned().collect::<BTreeSet<_>>())
                .unwrap_or_default()
                == disrupted.keys().cloned().collect::<BTreeSet<_>>()
    });
    if unchanged {
        return wake;
    }
    let (state, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    log_write(context.modify(
        context.cache.ids.pdbs,
        pdb.metadata.namespace.as_deref().unwrap_or_default(),
        pdb.metadata.name.as_deref().unwrap_or_default(),
        Subresource::Status,
        CONTROLLER_MANAGER,
        |value| {
            let conditions = value
                .pointer("/status/conditions")
                .cloned()
                .unwrap_or_else(|| json!([]));
            let mut status_value = json!({
                "observedGeneration": generation,
                "currentHealthy": healthy,
                "desiredHealthy": desired,
                "expectedPods": expected,
                "disruptionsAllowed": allowed,
                "conditions": conditions,
            });
            if !disrupted.is_empty() {
                status_value["disruptedPods"] = json!(disrupted);
            }
            let mut holder = json!({"status": status_value});
            status::set_condition(
                &mut holder,
                json!({"type": "DisruptionAllowed", "status": state, "reason": reason, "message": "",
                       "observedGeneration": generation, "lastTransitionTime": now}),
            );
            status::replace_status(value, holder["status"].take())
        },
    ));
    wake
}
