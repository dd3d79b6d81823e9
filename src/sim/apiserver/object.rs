//! One stored object, kept compact: its JSON bytes plus a small parsed header with what lists,
//! selectors and the store's bookkeeping read. Never a typed tree; never mutated in place.

use bytes::Bytes;
use serde_json::Value;

use super::catalog::ResourceId;
use super::rejection::Rejection;

/// What the store reads of an object without parsing its JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The resource type.
    pub resource: ResourceId,
    /// The namespace, empty for cluster-scoped objects.
    pub namespace: Box<str>,
    /// The name.
    pub name: Box<str>,
    /// The uid.
    pub uid: Box<str>,
    /// The resourceVersion, as a number (one global counter, as etcd's).
    pub resource_version: u64,
    /// The labels, in key order.
    pub labels: Box<[(Box<str>, Box<str>)]>,
    /// `spec.nodeName` (pods).
    pub node_name: Option<Box<str>>,
    /// `status.phase` (pods, namespaces, volumes).
    pub phase: Option<Box<str>>,
    /// Whether `metadata.deletionTimestamp` is set.
    pub deleting: bool,
}

impl Header {
    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .and_then(|i| self.labels.get(i))
            .map(|(_, v)| v.as_ref())
    }
}

/// A stored object: JSON bytes and the header parsed from them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// What the store reads without parsing.
    pub header: Header,
    /// The object as JSON, with `kind` and `apiVersion`.
    pub json: Bytes,
}

impl Object {
    /// Serializes a value and reads its header.
    pub fn from_value(resource: ResourceId, value: &Value) -> Result<Self, Rejection> {
        let json = serde_json::to_vec(value).map_err(Rejection::internal)?;
        Ok(Self {
            header: header_of(resource, value),
            json: Bytes::from(json),
        })
    }

    /// The object parsed back into a JSON value.
    pub fn value(&self) -> Result<Value, Rejection> {
        serde_json::from_slice(&self.json).map_err(Rejection::internal)
    }

    /// The object as a typed k8s-openapi or kube type.
    pub fn typed<K: serde::de::DeserializeOwned>(&self) -> Result<K, Rejection> {
        serde_json::from_slice(&self.json).map_err(Rejection::internal)
    }

    /// The namespace/name key.
    pub fn key(&self) -> (&str, &str) {
        (&self.header.namespace, &self.header.name)
    }

    /// Approximate heap bytes held (JSON plus header strings).
    pub fn heap_size(&self) -> usize {
        let h = &self.header;
        self.json.len()
            + h.namespace.len()
            + h.name.len()
            + h.uid.len()
            + h.labels
                .iter()
                .map(|(k, v)| k.len() + v.len() + 32)
                .sum::<usize>()
            + h.node_name.as_ref().map_or(0, |s| s.len())
            + h.phase.as_ref().map_or(0, |s| s.len())
    }
}

fn text(value: &Value, pointer: &str) -> Option<Box<str>> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(Box::from)
}

/// Reads the header fields of an object.
pub fn header_of(resource: ResourceId, value: &Value) -> Header {
    let mut labels: Vec<(Box<str>, Box<str>)> = value
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (Box::from(k.as_str()), Box::from(v))))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    Header {
        resource,
        namespace: text(value, "/metadata/namespace").unwrap_or_default(),
        name: text(value, "/metadata/name").unwrap_or_default(),
        uid: text(value, "/metadata/uid").unwrap_or_default(),
        resource_version: value
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        labels: labels.into_boxed_slice(),
        node_name: text(value, "/spec/nodeName").filter(|s| !s.is_empty()),
        phase: text(value, "/status/phase"),
        deleting: value
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null()),
    }
}
