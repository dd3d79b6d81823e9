//! kube-apiserver's DefaultTolerationSeconds admission plugin: every pod without a NoExecute
//! toleration for `node.kubernetes.io/not-ready` or `node.kubernetes.io/unreachable` gets one
//! for 300 s. An admission hook: pure, and must not call back into the store.

use serde_json::{Value, json};

use crate::sim::FieldCause;

/// The taint the node lifecycle controller puts on a node whose Ready condition is False.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// The taint the node lifecycle controller puts on a node whose Ready condition is Unknown.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// `--default-not-ready-toleration-seconds` and `--default-unreachable-toleration-seconds`.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Adds the default NoExecute tolerations a pod lacks (idempotent, so it may run on updates).
pub fn default_toleration_seconds(pod: &Value) -> Result<Value, Vec<FieldCause>> {
    let mut pod = pod.clone();
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(pod);
    };
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    if !tolerations.is_array() {
        *tolerations = json!([]);
    }
    let Some(list) = tolerations.as_array_mut() else {
        return Ok(pod);
    };
    let tolerates = |list: &[Value], key: &str| {
        list.iter().any(|toleration| {
            let field = |name: &str| toleration.get(name).and_then(Value::as_str).unwrap_or("");
            (field("key") == key || field("key").is_empty())
                && (field("effect") == "NoExecute" || field("effect").is_empty())
        })
    };
    for key in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        if !tolerates(list, key) {
            list.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
    Ok(pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_both_default_tolerations_unless_they_tolerate_the_taint() {
        let bare = json!({"spec": {"containers": []}});
        let admitted = default_toleration_seconds(&bare).expect("admitted");
        let tolerations = admitted["spec"]["tolerations"].as_array().expect("list");
        assert_eq!(tolerations.len(), 2);
        assert_eq!(tolerations[0]["tolerationSeconds"], 300);

        let own = json!({"spec": {"tolerations": [
            {"key": UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}]}});
        let admitted = default_toleration_seconds(&own).expect("admitted");
        let tolerations = admitted["spec"]["tolerations"].as_array().expect("list");
        assert_eq!(tolerations.len(), 2);
        assert_eq!(tolerations[0]["tolerationSeconds"], 60);
        assert_eq!(tolerations[1]["key"], NOT_READY_TAINT);

        let everything = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        let admitted = default_toleration_seconds(&everything).expect("admitted");
        assert_eq!(
            admitted["spec"]["tolerations"].as_array().map(Vec::len),
            Some(1)
        );
    }
}
