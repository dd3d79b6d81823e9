//! Small readings and edits every component shares: a pod's readiness and activity as
//! apimachinery's helpers define them, owner references, and conditions in JSON objects.
//! Pure functions; no store access.

use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::Pod,
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use serde_json::{Value, json};

/// The owner reference with `controller: true`.
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true))
}

/// Whether `meta` is controlled by the object with this uid.
pub(crate) fn controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_of(meta).is_some_and(|owner| owner.uid == uid)
}

/// An owner reference to a controller, as controllers write it.
pub(crate) fn owner_reference(api_version: &str, kind: &str, meta: &ObjectMeta) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.name.as_deref().unwrap_or_default(),
        "uid": meta.uid.as_deref().unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The pod's phase, `Pending` when unset.
pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// The pod's node, if bound.
pub(crate) fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Whether the pod is being deleted.
pub(crate) fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// `controller.IsPodActive`: not Succeeded, not Failed, not being deleted.
pub(crate) fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !terminating(pod)
}

/// The time the Ready condition turned True, if it is True.
pub(crate) fn ready_since(pod: &Pod) -> Option<Timestamp> {
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    (condition.status == "True").then(|| {
        condition
            .last_transition_time
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
    })
}

/// `podutil.IsPodReady`.
pub(crate) fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// `podutil.IsPodAvailable`: Ready for at least `min_ready_seconds`; otherwise when it will
/// be (None if it is not Ready at all).
pub(crate) fn availability(
    pod: &Pod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Result<(), Option<Timestamp>> {
    let Some(since) = ready_since(pod) else {
        return Err(None);
    };
    if min_ready_seconds <= 0 {
        return Ok(());
    }
    let available_at = since
        .checked_add(jiff::SignedDuration::from_secs(i64::from(
            min_ready_seconds,
        )))
        .unwrap_or(Timestamp::MAX);
    if available_at <= now {
        Ok(())
    } else {
        Err(Some(available_at))
    }
}

/// The labels of an object, or an empty map.
pub(crate) fn labels(meta: &ObjectMeta) -> std::collections::BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// Sets a condition by type in `status.conditions`; keeps `lastTransitionTime` while the
/// status stays. Returns whether anything changed.
pub(crate) fn set_condition(object: &mut Value, condition: Value) -> bool {
    let Some(root) = object.as_object_mut() else {
        return false;
    };
    let status = root.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    let Some(status) = status.as_object_mut() else {
        return false;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return false;
    };
    let kind = condition.get("type").cloned();
    match list.iter_mut().find(|c| c.get("type") == kind.as_ref()) {
        Some(existing) => {
            let mut condition = condition;
            if existing.get("status") == condition.get("status")
                && let (Some(time), Some(fields)) = (
                    existing.get("lastTransitionTime").cloned(),
                    condition.as_object_mut(),
                )
            {
                fields.insert("lastTransitionTime".into(), time);
            }
            if *existing == condition {
                return false;
            }
            *existing = condition;
            true
        }
        None => {
            list.push(condition);
            true
        }
    }
}

/// Sets `status` to `new` (keeping fields `new` lacks out); returns whether it changed.
pub(crate) fn replace_status(object: &mut Value, new: Value) -> bool {
    let Some(root) = object.as_object_mut() else {
        return false;
    };
    if root.get("status") == Some(&new) {
        return false;
    }
    root.insert("status".into(), new);
    true
}

/// `intstr.GetScaledValueFromIntOrPercent`: an int as is, a percent of `total` rounded up or
/// down; None for a string that is not a percent.
pub(crate) fn scaled(
    value: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString,
    total: i32,
    round_up: bool,
) -> Option<i32> {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    match value {
        IntOrString::Int(int) => Some(*int),
        IntOrString::String(text) => {
            let percent: i64 = text.strip_suffix('%')?.parse().ok()?;
            let product = percent * i64::from(total);
            let value = if round_up {
                product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(value).ok()
        }
    }
}
