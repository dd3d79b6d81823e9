//! The node lifecycle and taint eviction controllers: silent nodes turn Unknown, conditions and
//! cordons become taints, pods whose NoExecute tolerations run out are deleted gracefully.
//! It never force-deletes a pod (that is PodGC's job).

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use serde_json::{Value, json};

use super::{
    CONTROLLER_MANAGER, Context,
    admission::{NOT_READY_TAINT, UNREACHABLE_TAINT},
    after, earliest, log_write,
    status::{self, node_of, terminating},
};
use crate::{planner::eligibility::UNSCHEDULABLE_TAINT, sim::Subresource};

/// Nodes per zone from which a partial disruption stops evictions (`--large-cluster-size-threshold`).
const LARGE_CLUSTER: usize = 50;
/// `--unhealthy-zone-threshold`.
const UNHEALTHY_ZONE: f64 = 0.55;

/// The node lifecycle and taint eviction controllers.
#[derive(Debug, Default)]
pub struct NodeLifecycle {
    /// Pods on NoExecute-tainted nodes, with when the eviction clock started for them.
    evictions: BTreeMap<String, Timestamp>,
}

fn ready_status(node: &Node) -> &str {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map_or("Unknown", |c| c.status.as_str())
}

impl NodeLifecycle {
    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        let mut wake = None;
        for node in context.cache.nodes.iter() {
            wake = earliest(wake, monitor(context, node));
        }
        taint_nodes(context);
        wake = earliest(wake, self.evict(context));
        wake
    }

    /// The taint eviction controller: deletes pods whose NoExecute tolerations ran out.
    fn evict(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        let cache = context.cache;
        let mut wake = None;
        let mut watched = BTreeMap::new();
        for pod in cache.pods.iter() {
            if terminating(pod) {
                continue;
            }
            let Some(node) = node_of(pod).and_then(|n| cache.nodes.get("", n)) else {
                continue;
            };
            let taints: Vec<&Taint> = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .filter(|t| t.effect == "NoExecute")
                .collect();
            if taints.is_empty() {
                continue;
            }
            let key = format!(
                "{}/{}",
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default()
            );
            let tolerations: &[Toleration] = pod
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.as_deref())
                .unwrap_or(&[]);
            let Some(toleration) = toleration_time(&taints, tolerations) else {
                delete_for_taint(context, pod);
                continue;
            };
            let Some(seconds) = toleration else {
                continue;
            };
            let started = *self.evictions.get(&key).unwrap_or(&context.now);
            watched.insert(key, started);
            let due = after(
                started,
                std::time::Duration::from_secs(u64::try_from(seconds.max(0)).unwrap_or(0)),
            );
            if due <= context.now {
                delete_for_taint(context, pod);
            } else {
                wake = earliest(wake, Some(due));
            }
        }
        self.evictions = watched;
        wake
    }
}

/// `GetMatchingTolerations` and `getMinTolerationTime`: None when a taint goes untolerated;
/// Some(None) to stay forever; Some(Some(seconds)) to go after that long.
fn toleration_time(taints: &[&Taint], tolerations: &[Toleration]) -> Option<Option<i64>> {
    let tolerates = |toleration: &Toleration, taint: &Taint| {
        let effect_ok = toleration
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key = toleration.key.as_deref().unwrap_or_default();
        let key_ok = key.is_empty() || key == taint.key;
        let value_ok = match toleration.operator.as_deref() {
            Some("Exists") => true,
            _ => {
                toleration.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
            }
        };
        effect_ok && key_ok && value_ok
    };
    let mut used: Vec<&Toleration> = Vec::new();
    for taint in taints {
        let matching: Vec<&Toleration> = tolerations
            .iter()
            .filter(|toleration| tolerates(toleration, taint))
            .collect();
        if matching.is_empty() {
            return None;
        }
        used.extend(matching);
    }
    let mut minimum: Option<i64> = None;
    for toleration in used {
        if let Some(seconds) = toleration.toleration_seconds {
            if seconds <= 0 {
                return Some(Some(0));
            }
            minimum = Some(minimum.map_or(seconds, |m| m.min(seconds)));
        }
    }
    Some(minimum)
}

/// Marks the pod as a disruption target and deletes it gracefully.
fn delete_for_taint(context: &Context<'_>, pod: &Pod) {
    let cache = context.cache;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let now = context.stamp();
    log_write(context.modify(
        cache.ids.pods,
        namespace,
        name,
        Subresource::Status,
        CONTROLLER_MANAGER,
        |value| {
            status::set_condition(
                value,
                json!({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                       "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": now}),
            )
        },
    ));
    log_write(context.delete(
        cache.ids.pods,
        namespace,
        name,
        pod.metadata.uid.as_deref(),
        None,
    ));
}

/// The node's last sign of life: its Lease's renewTime or its Ready heartbeat.
fn heartbeat(context: &Context<'_>, node: &Node) -> Option<Timestamp> {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let lease = context
        .cache
        .leases
        .get("kube-node-lease", name)
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0);
    let posted = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0);
    let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
    [lease, posted, created].into_iter().flatten().max()
}

/// `monitorNodeHealth` for one node: Unknown conditions after the grace period, and its pods
/// marked NotReady when it stops being Ready.
fn monitor(context: &Context<'_>, node: &Node) -> Option<Timestamp> {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let last = heartbeat(context, node)?;
    let deadline = after(last, context.settings.node_monitor_grace);
    if deadline >= context.now {
        return Some(after(deadline, std::time::Duration::from_secs(1)));
    }
    if ready_status(node) == "Unknown"
        && node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready"))
    {
        return None;
    }
    let now = context.stamp();
    let was_ready = ready_status(node) == "True";
    log_write(context.modify(
        context.cache.ids.nodes,
        "",
        name,
        Subresource::Status,
        CONTROLLER_MANAGER,
        |value| {
            let mut changed = false;
            for kind in ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"] {
                let existing = value
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|c| {
                        c.iter()
                            .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
                    })
                    .cloned();
                let condition = match existing {
                    Some(mut condition) => {
                        if condition.get("status").and_then(Value::as_str) == Some("Unknown") {
                            continue;
                        }
                        condition["status"] = json!("Unknown");
                        condition["reason"] = json!("NodeStatusUnknown");
                        condition["message"] = json!("Kubelet stopped posting node status.");
                        condition["lastTransitionTime"] = json!(now);
                        condition
                    }
                    None => json!({"type": kind, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                   "message": "Kubelet never posted node status.",
                                   "lastHeartbeatTime": now, "lastTransitionTime": now}),
                };
                changed |= status::set_condition(value, condition);
            }
            changed
        },
    ));
    if was_ready {
        mark_pods_not_ready(context, name);
    }
    None
}

/// `MarkPodsNotReady`: the Ready condition of every pod on the node turns False.
fn mark_pods_not_ready(context: &Context<'_>, node: &str) {
    let now = context.stamp();
    for pod in context.cache.pods_on(node) {
        if !status::is_ready(pod) {
            continue;
        }
        log_write(context.modify(
            context.cache.ids.pods,
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default(),
            Subresource::Status,
            CONTROLLER_MANAGER,
            |value| {
                let mut changed = false;
                if let Some(conditions) = value
                    .pointer_mut("/status/conditions")
                    .and_then(Value::as_array_mut)
                {
                    for condition in conditions.iter_mut() {
                        if condition.get("type").and_then(Value::as_str) == Some("Ready")
                            && condition.get("status").and_then(Value::as_str) != Some("False")
                        {
                            condition["status"] = json!("False");
                            condition["lastTransitionTime"] = json!(now);
                            changed = true;
                        }
                    }
                }
                changed
            },
        ));
    }
}

/// Whether evictions are on for the cluster's nodes: off in a full disruption (every node
/// NotReady) and in a partial one of a small cluster, as the zone states decide upstream.
fn evictions_allowed(context: &Context<'_>) -> bool {
    let mut zones: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for node in context.cache.nodes.iter() {
        let zone = node
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(crate::api::ZONE_LABEL))
            .map_or("", String::as_str);
        let entry = zones.entry(zone).or_default();
        entry.0 += 1;
        if ready_status(node) != "True" {
            entry.1 += 1;
        }
    }
    let all_down = zones.values().all(|(total, down)| total == down);
    if all_down {
        return false;
    }
    !zones.values().any(|(total, down)| {
        *down > 2 && (*down as f64) / (*total as f64) >= UNHEALTHY_ZONE && *total <= LARGE_CLUSTER
    })
}

/// The taints the controller owns, as the node's state asks for them.
fn wanted_taints(node: &Node, evictions: bool) -> Vec<(&'static str, &'static str)> {
    let mut wanted = Vec::new();
    let condition_taint = match ready_status(node) {
        "True" => None,
        "False" => Some(NOT_READY_TAINT),
        _ => Some(UNREACHABLE_TAINT),
    };
    if let Some(key) = condition_taint {
        wanted.push((key, "NoSchedule"));
        if evictions {
            wanted.push((key, "NoExecute"));
        }
    }
    if node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
    {
        wanted.push((UNSCHEDULABLE_TAINT, "NoSchedule"));
    }
    wanted
}

/// TaintNodesByCondition and the NoExecute tainting pass.
fn taint_nodes(context: &Context<'_>) {
    let evictions = evictions_allowed(context);
    let owned = [NOT_READY_TAINT, UNREACHABLE_TAINT, UNSCHEDULABLE_TAINT];
    for node in context.cache.nodes.iter() {
        let wanted = wanted_taints(node, evictions);
        let current: Vec<(&str, &str)> = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .filter(|t| owned.contains(&t.key.as_str()))
            .map(|t| (t.key.as_str(), t.effect.as_str()))
            .collect();
        let mut sorted_current = current.clone();
        sorted_current.sort_unstable();
        let mut sorted_wanted = wanted.clone();
        sorted_wanted.sort_unstable();
        if sorted_current == sorted_wanted {
            continue;
        }
        let now = context.stamp();
        log_write(context.modify(
            context.cache.ids.nodes,
            "",
            node.metadata.name.as_deref().unwrap_or_default(),
            Subresource::Main,
            CONTROLLER_MANAGER,
            |value| {
                let Some(spec) = value
                    .as_object_mut()
                    .map(|root| root.entry("spec").or_insert_with(|| json!({})))
                    .and_then(Value::as_object_mut)
                else {
                    return false;
                };
                let mut taints: Vec<Value> = spec
                    .get("taints")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                taints.retain(|taint| {
                    let key = taint.get("key").and_then(Value::as_str).unwrap_or_default();
                    let effect = taint
                        .get("effect")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    !owned.contains(&key) || wanted.contains(&(key, effect))
                });
                for (key, effect) in &wanted {
                    let present = taints.iter().any(|t| {
                        t.get("key").and_then(Value::as_str) == Some(key)
                            && t.get("effect").and_then(Value::as_str) == Some(effect)
                    });
                    if !present {
                        let mut taint = json!({"key": key, "effect": effect});
                        if *effect == "NoExecute" {
                            taint["timeAdded"] = json!(now);
                        }
                        taints.push(taint);
                    }
                }
                if taints.is_empty() {
                    spec.remove("taints");
                } else {
                    spec.insert("taints".into(), Value::Array(taints));
                }
                true
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str) -> Taint {
        Taint {
            key: key.to_owned(),
            effect: "NoExecute".to_owned(),
            ..Taint::default()
        }
    }

    fn toleration(key: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.to_owned()),
            operator: Some("Exists".to_owned()),
            effect: Some("NoExecute".to_owned()),
            toleration_seconds: seconds,
            ..Toleration::default()
        }
    }

    #[test]
    fn the_shortest_matching_toleration_decides_and_none_means_forever() {
        let unreachable = taint(UNREACHABLE_TAINT);
        assert_eq!(toleration_time(&[&unreachable], &[]), None);
        assert_eq!(
            toleration_time(&[&unreachable], &[toleration(UNREACHABLE_TAINT, Some(300))]),
            Some(Some(300))
        );
        assert_eq!(
            toleration_time(&[&unreachable], &[toleration(UNREACHABLE_TAINT, None)]),
            Some(None)
        );
        let both = [
            toleration(UNREACHABLE_TAINT, Some(300)),
            toleration("", Some(60)),
        ];
        assert_eq!(toleration_time(&[&unreachable], &both), Some(Some(60)));
    }
}
