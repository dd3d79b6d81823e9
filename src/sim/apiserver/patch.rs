//! The non-apply patch formats kube-apiserver accepts: JSON merge patch (RFC 7386), JSON patch
//! (RFC 6902) and strategic merge patch with merge keys and `$patch` directives. Pure
//! functions on JSON values; ownership is recorded by the store.

use serde_json::{Map, Value};

use super::rejection::Rejection;
use super::shape::Schema;

/// A patch body and its format.
#[derive(Clone, Debug, PartialEq)]
pub enum PatchBody {
    /// `application/merge-patch+json`.
    Merge(Value),
    /// `application/json-patch+json`.
    Json(Value),
    /// `application/strategic-merge-patch+json`.
    Strategic(Value),
}

/// Applies a patch to an object.
pub fn apply_patch(
    schema: &Schema<'_>,
    target: &Value,
    patch: &PatchBody,
) -> Result<Value, Rejection> {
    let mut result = target.clone();
    match patch {
        PatchBody::Merge(body) => {
            if !body.is_object() {
                return Err(Rejection::bad_request(
                    "a merge patch must be a JSON object",
                ));
            }
            json_patch::merge(&mut result, body);
        }
        PatchBody::Json(body) => {
            let operations: json_patch::Patch = serde_json::from_value(body.clone())
                .map_err(|e| Rejection::bad_request(format!("invalid JSON patch: {e}")))?;
            apply_json_patch(&mut result, &operations)?;
        }
        PatchBody::Strategic(body) => {
            let Value::Object(patch) = body else {
                return Err(Rejection::bad_request(
                    "a strategic merge patch must be a JSON object",
                ));
            };
            let mut path = Vec::new();
            strategic_object(schema, &mut result, patch, &mut path);
        }
    }
    Ok(result)
}

/// kube-apiserver's `maxJSONPatchOperations`.
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// kube-apiserver's default `JSONPatchMaxCopyBytes` (3 MiB): what all the `copy` operations of
/// one patch may copy together. Without it, each copy of a value into itself doubles the
/// object, and forty of them in a 2 KB body take any amount of memory.
const MAX_JSON_PATCH_COPY_BYTES: usize = 3 << 20;

/// Applies RFC 6902 operations in order, within kube-apiserver's limits on their number and on
/// the bytes they copy.
fn apply_json_patch(target: &mut Value, operations: &json_patch::Patch) -> Result<(), Rejection> {
    if operations.len() > MAX_JSON_PATCH_OPERATIONS {
        let mut rejection = Rejection::failure(
            413,
            format!(
                "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
                operations.len()
            ),
        );
        rejection.reason = "RequestEntityTooLarge".to_owned();
        return Err(rejection);
    }
    let mut copied = 0usize;
    for (index, operation) in operations.iter().enumerate() {
        if let json_patch::PatchOperation::Copy(copy) = operation {
            let size = target
                .pointer(copy.from.as_str())
                .map_or(0, |value| value.to_string().len());
            copied = copied.saturating_add(size);
            if copied > MAX_JSON_PATCH_COPY_BYTES {
                return Err(unprocessable_patch(format!(
                    "the copy operations of the patch would copy more than {MAX_JSON_PATCH_COPY_BYTES} bytes"
                )));
            }
        }
        json_patch::patch(target, std::slice::from_ref(operation)).map_err(|mut error| {
            error.operation = index;
            unprocessable_patch(error.to_string())
        })?;
    }
    Ok(())
}

/// A JSON patch that cannot be applied, as kube-apiserver answers it (422).
fn unprocessable_patch(why: String) -> Rejection {
    Rejection::invalid(
        "",
        "",
        "",
        vec![super::rejection::Cause::new(
            "FieldValueInvalid",
            format!("the server rejected our request due to an error in our request: {why}"),
            "",
        )],
    )
}

fn is_directive(key: &str) -> bool {
    key.starts_with('$')
}

/// A patch value with its directives removed, as it is stored when nothing merges into it.
fn stripped(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !is_directive(k))
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), stripped(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|item| item.get("$patch").and_then(Value::as_str) != Some("delete"))
                .map(stripped)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn strategic_object(
    schema: &Schema<'_>,
    target: &mut Value,
    patch: &Map<String, Value>,
    path: &mut Vec<String>,
) {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = stripped(&Value::Object(patch.clone()));
            return;
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(object) = target else {
        return;
    };
    // `$retainKeys`: keep only the listed keys (and what the patch sets).
    if let Some(retain) = patch.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        object.retain(|k, _| keep.contains(&k.as_str()) || patch.contains_key(k));
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(remove)) = (object.get_mut(field), value)
            {
                list.retain(|item| !remove.contains(item));
            }
            continue;
        }
        if is_directive(key) {
            continue;
        }
        if value.is_null() {
            object.remove(key);
            continue;
        }
        path.push(key.clone());
        match value {
            Value::Object(inner)
                if inner.get("$patch").and_then(Value::as_str) == Some("delete") =>
            {
                object.remove(key);
            }
            Value::Object(inner) => {
                let slot = object.entry(key.clone()).or_insert(Value::Null);
                strategic_object(schema, slot, inner, path);
            }
            Value::Array(items) => match schema.patch_merge_key(path) {
                Some("") => {
                    let slot = object
                        .entry(key.clone())
                        .or_insert(Value::Array(Vec::new()));
                    merge_primitive_list(slot, items);
                }
                Some(merge_key) => {
                    let slot = object
                        .entry(key.clone())
                        .or_insert(Value::Array(Vec::new()));
                    merge_keyed_list(schema, slot, items, merge_key, path);
                }
                None => {
                    object.insert(key.clone(), stripped(value));
                }
            },
            other => {
                object.insert(key.clone(), other.clone());
            }
        }
        path.pop();
    }
}

fn merge_primitive_list(target: &mut Value, items: &[Value]) {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *target = stripped(&Value::Array(items.to_vec()));
        return;
    }
    if !target.is_array() {
        *target = Value::Array(Vec::new());
    }
    if let Value::Array(list) = target {
        for item in items {
            if !list.contains(item) {
                list.push(item.clone());
            }
        }
    }
}

fn merge_keyed_list(
    schema: &Schema<'_>,
    target: &mut Value,
    items: &[Value],
    merge_key: &str,
    path: &mut Vec<String>,
) {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *target = Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .map(stripped)
                .collect(),
        );
        return;
    }
    if !target.is_array() {
        *target = Value::Array(Vec::new());
    }
    let Value::Array(list) = target else {
        return;
    };
    for item in items {
        let Value::Object(patch_item) = item else {
            list.push(item.clone());
            continue;
        };
        let key_value = patch_item.get(merge_key);
        let position = key_value.and_then(|k| {
            list.iter()
                .position(|existing| existing.get(merge_key) == Some(k))
        });
        if patch_item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(k) = key_value {
                list.retain(|existing| existing.get(merge_key) != Some(k));
            }
            continue;
        }
        match position.and_then(|p| list.get_mut(p)) {
            Some(existing) => strategic_object(schema, existing, patch_item, path),
            None => list.push(stripped(item)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::apiserver::catalog::Catalog;
    use serde_json::json;

    fn deployment_schema() -> crate::sim::apiserver::catalog::ResourceType {
        let catalog = Catalog::standard();
        let id = catalog
            .find("apps", "v1", "deployments")
            .expect("deployments");
        catalog.get(id).expect("type").clone()
    }

    #[test]
    fn strategic_patches_merge_containers_by_name_and_honour_delete_directives() {
        let resource = deployment_schema();
        let schema = Schema::of(&resource);
        let live = json!({"spec": {"template": {"metadata": {"annotations": {"a": "1"}}, "spec": {
            "containers": [{"name": "web", "image": "v1"}, {"name": "sidecar", "image": "s1"}],
            "tolerations": [{"key": "x"}]}}}});
        let patch = PatchBody::Strategic(json!({"spec": {"template": {
            "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}},
            "spec": {"containers": [{"name": "web", "image": "v2"}, {"name": "sidecar", "$patch": "delete"}],
                     "tolerations": [{"key": "y"}]}}}}));
        let result = apply_patch(&schema, &live, &patch).expect("patch");
        assert_eq!(
            result,
            json!({"spec": {"template": {"metadata": {"annotations": {"a": "1", "kubectl.kubernetes.io/restartedAt": "now"}},
                "spec": {"containers": [{"name": "web", "image": "v2"}], "tolerations": [{"key": "y"}]}}}})
        );
    }
}
