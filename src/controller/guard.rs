//! Watched objects decoded so that one that cannot be read is reported by name and skipped,
//! never a reason for its watch to fail. Decoding only: what is kept of an object is the
//! stores' business.

use std::borrow::Cow;

use kube::{
    Resource,
    core::{ObjectMeta, error_boundary::InvalidObject},
};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};

/// An object of kind `K` as a watch delivered it: read, or its metadata and why it could not
/// be. kube's `DeserializeGuard` does the same by building a tree of every object and reading
/// a copy of it; this reads the tree itself, which at 500 node heartbeats a second saves the
/// copy of every node.
#[derive(Clone, Debug)]
pub struct Guarded<K>(pub Result<K, InvalidObject>);

impl<'de, K: DeserializeOwned> Deserialize<'de> for Guarded<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        match K::deserialize(&value) {
            Ok(object) => Ok(Self(Ok(object))),
            Err(error) => {
                let metadata = match value.get("metadata") {
                    Some(metadata) => {
                        ObjectMeta::deserialize(metadata).map_err(serde::de::Error::custom)?
                    }
                    None => ObjectMeta::default(),
                };
                Ok(Self(Err(InvalidObject {
                    error: error.to_string(),
                    metadata,
                })))
            }
        }
    }
}

impl<K: Resource> Resource for Guarded<K> {
    type DynamicType = K::DynamicType;
    type Scope = K::Scope;

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        self.0
            .as_ref()
            .map_or_else(|invalid| &invalid.metadata, K::meta)
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.0
            .as_mut()
            .map_or_else(|invalid| &mut invalid.metadata, K::meta_mut)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use k8s_openapi::api::core::v1::Node;
    use kube::Resource;
    use serde_json::json;

    use super::Guarded;

    #[test]
    fn a_node_that_can_be_read_is_read_whole() {
        let node: Guarded<Node> = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
            "spec": {"unschedulable": true},
        }))
        .unwrap();
        let node = node.0.unwrap();
        assert_eq!(node.metadata.name.as_deref(), Some("n1"));
        assert_eq!(node.spec.and_then(|spec| spec.unschedulable), Some(true));
    }

    #[test]
    fn a_node_that_cannot_be_read_keeps_its_name_and_says_why() {
        let line = r#"{"type":"MODIFIED","object":{"apiVersion":"v1","kind":"Node","metadata":{"name":"odd","resourceVersion":"7"},"spec":{"taints":"not a list"}}}"#;
        let event: kube::core::WatchEvent<Guarded<Node>> = serde_json::from_str(line).unwrap();
        let kube::core::WatchEvent::Modified(node) = event else {
            panic!("a modification");
        };
        assert_eq!(node.meta().name.as_deref(), Some("odd"));
        assert_eq!(node.meta().resource_version.as_deref(), Some("7"));
        let invalid = node.0.unwrap_err();
        assert!(
            invalid.error.contains("taints") || invalid.error.contains("sequence"),
            "{}",
            invalid.error
        );
    }
}
