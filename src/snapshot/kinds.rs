//! Dispatches one Kubernetes object by kind: deserializes it into its k8s-openapi type (so a
//! type error carries its field path) and converts it into the model. Knows no text formats.

use std::{collections::HashMap, sync::Arc};

use k8s_openapi::{
    Resource,
    api::{apps::v1 as apps, core::v1 as core, policy::v1 as policy},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{FieldError, ItemRef, Location, Snapshot, SnapshotError, convert};

/// The `apiVersion` and `kind` a typed list gives items that omit them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ListType {
    pub(super) api_version: Option<String>,
    pub(super) kind: Option<String>,
}

/// Collects converted objects into a snapshot.
#[derive(Debug, Default)]
pub(super) struct Collector {
    pub(super) snapshot: Snapshot,
    interner: convert::Interner,
    /// Where each named object was first seen, by kind and `namespace/name`, so a second copy
    /// is refused rather than counted twice. Looked up only, never iterated.
    seen: HashMap<(String, String), Location>,
}

impl Collector {
    /// Reads one object found at `location`.
    pub(super) fn item(
        &mut self,
        location: Location,
        mut value: Value,
        list: &ListType,
    ) -> Result<(), SnapshotError> {
        let Value::Object(object) = &mut value else {
            return Err(SnapshotError::NotAnObject {
                location,
                found: described(&value),
            });
        };
        let name = display_name(object.get("metadata"));
        let kind = match object.get("kind") {
            Some(Value::String(kind)) if !kind.is_empty() => kind.clone(),
            Some(Value::String(_)) | None => match &list.kind {
                Some(kind) => {
                    object.insert("kind".to_owned(), Value::String(kind.clone()));
                    if let Some(api_version) = &list.api_version
                        && !object.contains_key("apiVersion")
                    {
                        object.insert("apiVersion".to_owned(), Value::String(api_version.clone()));
                    }
                    kind.clone()
                }
                None => return Err(SnapshotError::MissingKind { location, name }),
            },
            Some(other) => {
                let item = ItemRef {
                    location,
                    kind: "?".to_owned(),
                    name,
                };
                return Err(SnapshotError::Malformed {
                    item,
                    source: FieldError::new(
                        "kind",
                        format!("is {}, not a string", described(other)),
                    ),
                });
            }
        };
        let item = ItemRef {
            location,
            kind: kind.clone(),
            name,
        };
        if let Some(name) = &item.name {
            let key = (kind.clone(), name.clone());
            if let Some(first) = self.seen.get(&key) {
                return Err(SnapshotError::Duplicate {
                    item,
                    first: *first,
                });
            }
            self.seen.insert(key, location);
        }
        let malformed = |source: FieldError| SnapshotError::Malformed {
            item: item.clone(),
            source,
        };
        let cluster = &mut self.snapshot.cluster;
        match kind.as_str() {
            "Node" => cluster.nodes.push(
                convert::node(&typed::<core::Node>(value).map_err(malformed)?)
                    .map_err(malformed)?,
            ),
            "Pod" => {
                let pod = typed::<core::Pod>(value).map_err(malformed)?;
                cluster.pods.push(Arc::new(
                    convert::pod(&pod, &mut self.interner).map_err(malformed)?,
                ));
            }
            "Deployment" => cluster.workloads.push(Arc::new(
                convert::deployment(&typed::<apps::Deployment>(value).map_err(malformed)?)
                    .map_err(malformed)?,
            )),
            "StatefulSet" => cluster.workloads.push(Arc::new(
                convert::stateful_set(&typed::<apps::StatefulSet>(value).map_err(malformed)?)
                    .map_err(malformed)?,
            )),
            "ReplicaSet" => cluster.replica_sets.push(
                convert::replica_set(&typed::<apps::ReplicaSet>(value).map_err(malformed)?)
                    .map_err(malformed)?,
            ),
            "PodDisruptionBudget" => cluster.pdbs.push(
                convert::pdb(&typed::<policy::PodDisruptionBudget>(value).map_err(malformed)?)
                    .map_err(malformed)?,
            ),
            "PersistentVolumeClaim" => cluster.claims.push(
                convert::claim(&typed::<core::PersistentVolumeClaim>(value).map_err(malformed)?)
                    .map_err(malformed)?,
            ),
            "PersistentVolume" => cluster.volumes.push(
                convert::volume(&typed::<core::PersistentVolume>(value).map_err(malformed)?)
                    .map_err(malformed)?,
            ),
            "SpreadPolicy" => cluster
                .policies
                .push(convert::policy_object(&value).map_err(malformed)?),
            "ClusterSpreadPolicy" => cluster
                .cluster_policies
                .push(convert::cluster_policy_object(&value).map_err(malformed)?),
            "Namespace" => cluster.namespaces.push(
                convert::namespace(&typed::<core::Namespace>(value).map_err(malformed)?)
                    .map_err(malformed)?,
            ),
            // Pods name their DaemonSet as owner; nothing else about it is needed.
            "DaemonSet" => {}
            _ => {
                *self.snapshot.skipped.entry(kind).or_default() += 1;
                return Ok(());
            }
        }
        *self.snapshot.read.entry(kind).or_default() += 1;
        Ok(())
    }
}

/// Deserializes a k8s-openapi type, naming the field of a type error. An `apiVersion` other
/// than the type's is refused (an old `extensions/v1beta1` Deployment is not read as apps/v1).
fn typed<T: Resource + DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    if let Some(found) = value.get("apiVersion")
        && found.as_str() != Some(T::API_VERSION)
    {
        return Err(FieldError::new(
            "apiVersion",
            format!(
                "{found} is not the apiVersion of {} ({})",
                T::KIND,
                T::API_VERSION
            ),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { String::new() } else { path };
        FieldError::new(field, error.into_inner().to_string())
    })
}

/// `namespace/name` or `name` from raw metadata, when it is readable.
fn display_name(metadata: Option<&Value>) -> Option<String> {
    let metadata = metadata?;
    let name = metadata.get("name").and_then(Value::as_str)?;
    match metadata.get("namespace").and_then(Value::as_str) {
        Some(namespace) if !namespace.is_empty() => Some(format!("{namespace}/{name}")),
        _ => Some(name.to_owned()),
    }
}

/// What a JSON value is, for messages.
pub(super) fn described(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
