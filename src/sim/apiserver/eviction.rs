//! The `pods/eviction` subresource with kube-apiserver's rules: which pods skip the
//! PodDisruptionBudget check, how a single budget is checked and decremented, and what each
//! refusal says. Decides and writes through one store transaction; knows nothing of HTTP.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as MetaSelector;
use serde_json::{Map, Value, json};

use super::object::Object;
use super::rejection::{Cause, Qualified, Rejection, success_status};
use super::store::{DeleteOptions, Store, Transaction, check_preconditions};
use crate::planner::model::Labels;

/// The most pods a budget may list as disrupted before evictions are refused.
const MAX_DISRUPTED_PODS: usize = 2000;

fn pdb_resource() -> Qualified<'static> {
    Qualified {
        group: "policy",
        resource: "poddisruptionbudget",
    }
}

fn too_many_requests_processing(pdb: &str) -> Rejection {
    Rejection::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
        10,
    )
    .with_cause(Cause::new(
        "DisruptionBudget",
        format!("The disruption budget {pdb} is still being processed by the server."),
        "",
    ))
}

/// Evictions skip budgets for pods that are Pending, finished, or already terminating.
fn can_ignore_budget(pod: &Object) -> bool {
    matches!(
        pod.header.phase.as_deref(),
        Some("Pending" | "Succeeded" | "Failed")
    ) || pod.header.deleting
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// Whether a policy/v1 budget selects a pod: a null selector selects nothing, `{}` every pod.
fn selects(pdb: &Value, pod: &Object) -> bool {
    let selector = match pdb.pointer("/spec/selector") {
        None | Some(Value::Null) => None,
        Some(value) => match serde_json::from_value::<MetaSelector>(value.clone()) {
            Ok(selector) => Some(selector),
            Err(_) => return false,
        },
    };
    let Ok(selector) = crate::snapshot::selector::label_selector(selector.as_ref()) else {
        return false;
    };
    let labels: Labels = pod
        .header
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    selector.matches(&labels)
}

fn int(value: &Value, pointer: &str) -> i64 {
    value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

impl Store {
    /// Evicts a pod (`POST pods/{name}/eviction` with a policy/v1 Eviction), as kube-apiserver
    /// does. Returns the success Status (code 201).
    pub fn evict(
        &self,
        namespace: &str,
        name: &str,
        eviction: &Value,
        dry_run: bool,
    ) -> Result<Value, Rejection> {
        let body_name = eviction
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if body_name != name {
            return Err(Rejection::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
        let mut options = eviction
            .get("deleteOptions")
            .map(DeleteOptions::from_value)
            .unwrap_or_default();
        options.dry_run |= dry_run;
        let (Some(pods), Some(pdbs)) = (
            self.catalog().of::<Pod>(),
            self.catalog().of::<PodDisruptionBudget>(),
        ) else {
            return Err(Rejection::internal(
                "pods or poddisruptionbudgets are not served",
            ));
        };
        self.with_state(|tx| {
            let pod = tx.find(pods, namespace, name).ok_or_else(|| {
                Rejection::not_found(Qualified { group: "", resource: "pods" }, name)
            })?;
            check_preconditions(Qualified { group: "", resource: "pods" }, &pod, &options)?;
            if can_ignore_budget(&pod) {
                return delete_evicted(tx, pods, pod, &options);
            }
            let pod_value = pod.value()?;
            let budgets: Vec<(std::sync::Arc<Object>, Value)> = tx
                .in_namespace(pdbs, namespace)
                .into_iter()
                .filter_map(|o| o.value().ok().map(|v| (o, v)))
                .filter(|(_, v)| selects(v, &pod))
                .collect();
            let (budget, budget_value) = match budgets.as_slice() {
                [] => return delete_evicted(tx, pods, pod, &options),
                [one] => one.clone(),
                _ => {
                    return Err(Rejection::failure(
                        500,
                        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                    ));
                }
            };
            let pdb_name = budget.header.name.to_string();
            if !is_ready(&pod_value) {
                let always_allow = budget_value
                    .pointer("/spec/unhealthyPodEvictionPolicy")
                    .and_then(Value::as_str)
                    == Some("AlwaysAllow");
                let current = int(&budget_value, "/status/currentHealthy");
                let desired = int(&budget_value, "/status/desiredHealthy");
                if always_allow || (current >= desired && desired > 0) {
                    return delete_evicted(tx, pods, pod, &options);
                }
            }
            check_and_decrement(tx, pdbs, budget, budget_value, &pdb_name, name, options.dry_run)?;
            delete_evicted(tx, pods, pod, &options)
        })
    }
}

fn check_and_decrement(
    tx: &mut Transaction<'_>,
    pdbs: super::catalog::ResourceId,
    budget: std::sync::Arc<Object>,
    mut value: Value,
    pdb_name: &str,
    pod_name: &str,
    dry_run: bool,
) -> Result<(), Rejection> {
    let generation = int(&value, "/metadata/generation");
    if int(&value, "/status/observedGeneration") < generation {
        return Err(too_many_requests_processing(pdb_name));
    }
    let allowed = int(&value, "/status/disruptionsAllowed");
    if allowed < 0 {
        return Err(Rejection::forbidden(
            pdb_resource(),
            pdb_name,
            "pdb disruptions allowed is negative",
        ));
    }
    let disrupted = value
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, Map::len);
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(Rejection::forbidden(
            pdb_resource(),
            pdb_name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Err(Rejection::too_many_requests(
            "Cannot evict pod as it would violate the pod's disruption budget.",
            0,
        )
        .with_cause(Cause::new(
            "DisruptionBudget",
            format!(
                "The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                int(&value, "/status/desiredHealthy"),
                int(&value, "/status/currentHealthy")
            ),
            "",
        )));
    }
    if dry_run {
        return Ok(());
    }
    let now = tx.now();
    let observed = int(&value, "/status/observedGeneration");
    let Some(root) = value.as_object_mut() else {
        return Err(Rejection::internal(
            "a PodDisruptionBudget is not an object",
        ));
    };
    let status = root.entry("status").or_insert_with(|| json!({}));
    if let Some(status) = status.as_object_mut() {
        status.insert("disruptionsAllowed".into(), json!(allowed - 1));
        let pods = status.entry("disruptedPods").or_insert_with(|| json!({}));
        if let Some(pods) = pods.as_object_mut() {
            pods.insert(pod_name.to_owned(), json!(now));
        }
        if allowed - 1 == 0 {
            let conditions = status.entry("conditions").or_insert_with(|| json!([]));
            set_condition(
                conditions,
                json!({
                    "type": "DisruptionAllowed",
                    "status": "False",
                    "reason": "InsufficientPods",
                    "message": "",
                    "observedGeneration": observed,
                    "lastTransitionTime": now,
                }),
            );
        }
    }
    tx.replace(pdbs, budget, value, false)?;
    Ok(())
}

/// Sets a condition by type, keeping lastTransitionTime when the status does not change.
fn set_condition(conditions: &mut Value, condition: Value) {
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let kind = condition.get("type").cloned();
    match list.iter_mut().find(|c| c.get("type") == kind.as_ref()) {
        Some(existing) => {
            let same = existing.get("status") == condition.get("status");
            let transition = existing.get("lastTransitionTime").cloned();
            *existing = condition;
            if same && let (Some(t), Some(obj)) = (transition, existing.as_object_mut()) {
                obj.insert("lastTransitionTime".into(), t);
            }
        }
        None => list.push(condition),
    }
}

/// Marks the pod with the DisruptionTarget condition and deletes it (gracefully).
fn delete_evicted(
    tx: &mut Transaction<'_>,
    pods: super::catalog::ResourceId,
    pod: std::sync::Arc<Object>,
    options: &DeleteOptions,
) -> Result<Value, Rejection> {
    let mut pod = pod;
    if !options.dry_run {
        let mut value = pod.value()?;
        let now = tx.now();
        if let Some(root) = value.as_object_mut() {
            let status = root.entry("status").or_insert_with(|| json!({}));
            if let Some(status) = status.as_object_mut() {
                let conditions = status.entry("conditions").or_insert_with(|| json!([]));
                set_condition(
                    conditions,
                    json!({
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": "EvictionByEvictionAPI",
                        "message": "Eviction API: evicting",
                        "lastTransitionTime": now,
                    }),
                );
            }
        }
        pod = tx.replace(pods, pod, value, false)?;
    }
    let options = DeleteOptions {
        uid: None,
        resource_version: None,
        ..options.clone()
    };
    tx.delete(pods, pod, &options)?;
    Ok(success_status(201))
}
