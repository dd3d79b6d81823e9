//! The shape of each field as kube-apiserver's schemas declare it: which lists merge by key
//! (and on which keys), which are sets, which maps and lists are atomic. Built-in types follow
//! their Go struct tags; custom resources follow their CRD's `x-kubernetes-*` extensions.

use serde_json::Value;

use super::catalog::ResourceType;

/// How a field merges in server-side apply and tracks ownership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An object whose fields are owned one by one.
    Granular,
    /// A value owned and replaced whole (scalars, atomic structs and lists).
    Atomic,
    /// A list of objects identified by these key fields.
    ListMap(Vec<&'static str>),
    /// A list of distinct scalars.
    ListSet,
}

/// The shapes of one resource type's fields.
#[derive(Clone, Copy, Debug)]
pub struct Schema<'a> {
    resource: &'a ResourceType,
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

impl<'a> Schema<'a> {
    /// The schema of a resource type.
    pub fn of(resource: &'a ResourceType) -> Self {
        Self { resource }
    }

    /// The shape of the field at `path` (field names from the root; list items add nothing),
    /// whose value is `value`.
    pub fn shape(&self, path: &[String], value: &Value) -> Shape {
        match value {
            Value::Object(_) => {
                if self.atomic_object(path) {
                    Shape::Atomic
                } else {
                    Shape::Granular
                }
            }
            Value::Array(_) => self.list_shape(path),
            _ => Shape::Atomic,
        }
    }

    fn atomic_object(&self, path: &[String]) -> bool {
        if self.resource.custom {
            return self
                .crd_node(path)
                .and_then(|node| node.get("x-kubernetes-map-type"))
                .and_then(Value::as_str)
                == Some("atomic");
        }
        let Some(last) = path.last() else {
            return false;
        };
        matches!(
            last.as_str(),
            "selector"
                | "labelSelector"
                | "namespaceSelector"
                | "requiredDuringSchedulingIgnoredDuringExecution"
        ) && !(path.len() == 2 && path[0] == "spec" && self.resource.plural == "services")
    }

    fn list_shape(&self, path: &[String]) -> Shape {
        if self.resource.custom {
            return self.crd_list_shape(path);
        }
        let Some(last) = path.last().map(String::as_str) else {
            return Shape::Atomic;
        };
        let in_container =
            path.len() >= 2 && CONTAINER_LISTS.contains(&path[path.len() - 2].as_str());
        match last {
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "env"
            | "volumes"
            | "imagePullSecrets"
            | "resourceClaims" => Shape::ListMap(vec!["name"]),
            "volumeMounts" => Shape::ListMap(vec!["mountPath"]),
            "volumeDevices" => Shape::ListMap(vec!["devicePath"]),
            "hostAliases" => Shape::ListMap(vec!["ip"]),
            "ports" if in_container => Shape::ListMap(vec!["containerPort", "protocol"]),
            "topologySpreadConstraints" => Shape::ListMap(vec!["topologyKey", "whenUnsatisfiable"]),
            "conditions" => Shape::ListMap(vec!["type"]),
            "ownerReferences" => Shape::ListMap(vec!["uid"]),
            "taints" => Shape::ListMap(vec!["key", "effect"]),
            "finalizers" => Shape::ListSet,
            _ => Shape::Atomic,
        }
    }

    /// The strategic-merge-patch merge key of a list (`patchMergeKey`), or `Some("")` for a
    /// list of scalars merged as a set (`finalizers`); None for a list the patch replaces.
    pub fn patch_merge_key(&self, path: &[String]) -> Option<&'static str> {
        let last = path.last()?.as_str();
        let in_container =
            path.len() >= 2 && CONTAINER_LISTS.contains(&path[path.len() - 2].as_str());
        match last {
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "env"
            | "volumes"
            | "imagePullSecrets"
            | "resourceClaims" => Some("name"),
            "volumeMounts" => Some("mountPath"),
            "volumeDevices" => Some("devicePath"),
            "hostAliases" => Some("ip"),
            "ports" if in_container => Some("containerPort"),
            "topologySpreadConstraints" => Some("topologyKey"),
            "conditions" => Some("type"),
            "ownerReferences" => Some("uid"),
            "taints" => Some("key"),
            "finalizers" => Some(""),
            _ => None,
        }
    }

    fn crd_list_shape(&self, path: &[String]) -> Shape {
        let node = self.crd_node(path);
        if path.len() == 2 && path[0] == "metadata" {
            return match path[1].as_str() {
                "finalizers" => Shape::ListSet,
                "ownerReferences" => Shape::ListMap(vec!["uid"]),
                _ => Shape::Atomic,
            };
        }
        let list_type = node
            .and_then(|n| n.get("x-kubernetes-list-type"))
            .and_then(Value::as_str);
        match list_type {
            Some("set") => Shape::ListSet,
            Some("map") => {
                let keys: Vec<&'static str> = node
                    .and_then(|n| n.get("x-kubernetes-list-map-keys"))
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(Value::as_str)
                            .filter_map(static_key)
                            .collect()
                    })
                    .unwrap_or_default();
                if keys.is_empty() {
                    Shape::Atomic
                } else {
                    Shape::ListMap(keys)
                }
            }
            _ => Shape::Atomic,
        }
    }

    fn crd_node(&self, path: &[String]) -> Option<&'a Value> {
        let mut node = self.resource.schema.as_ref()?;
        for field in path {
            while node.get("type").and_then(Value::as_str) == Some("array") {
                node = node.get("items")?;
            }
            node = node.get("properties")?.get(field.as_str())?;
        }
        Some(node)
    }
}

/// A CRD's list-map key as a static name; keys outside this well-known set make the list atomic.
fn static_key(key: &str) -> Option<&'static str> {
    const KNOWN: [&str; 8] = [
        "name",
        "type",
        "topologyKey",
        "whenUnsatisfiable",
        "key",
        "uid",
        "port",
        "protocol",
    ];
    KNOWN.iter().copied().find(|k| *k == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::apiserver::catalog::Catalog;
    use serde_json::json;

    #[test]
    fn spread_policy_lists_follow_the_crd_list_types() {
        let catalog = Catalog::standard();
        let id = catalog
            .find("kubespread.io", "v1alpha1", "spreadpolicies")
            .expect("crd");
        let schema = Schema::of(catalog.get(id).expect("type"));
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            schema.shape(&path(&["spec", "constraints"]), &json!([])),
            Shape::ListMap(vec!["topologyKey", "whenUnsatisfiable"])
        );
        assert_eq!(
            schema.shape(&path(&["status", "conditions"]), &json!([])),
            Shape::ListMap(vec!["type"])
        );
        assert_eq!(
            schema.shape(&path(&["spec", "kinds"]), &json!([])),
            Shape::ListSet
        );
    }
}
