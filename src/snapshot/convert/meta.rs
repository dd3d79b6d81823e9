//! Reads the object metadata every conversion needs: names, labels, the controlling owner,
//! timestamps. Missing names and namespaces are errors; nothing here allocates shared values.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::{
    planner::model::{Labels, Owner},
    snapshot::FieldError,
};

/// `metadata.name`, which every object has.
pub(super) fn name(meta: &ObjectMeta) -> Result<String, FieldError> {
    match meta.name.as_deref() {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(FieldError::new("metadata.name", "is required")),
    }
}

/// `metadata.namespace`, which every namespaced object has once stored.
pub(super) fn namespace(meta: &ObjectMeta) -> Result<&str, FieldError> {
    match meta.namespace.as_deref() {
        Some(namespace) if !namespace.is_empty() => Ok(namespace),
        _ => Err(FieldError::new("metadata.namespace", "is required")),
    }
}

/// `metadata.labels`, empty when unset.
pub(super) fn labels(meta: &ObjectMeta) -> Labels {
    meta.labels.clone().unwrap_or_default()
}

/// An annotation's value.
pub(super) fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|annotations| annotations.get(key))
        .map(String::as_str)
}

/// The owner reference with `controller: true`, as `metav1.GetControllerOf` finds it, its
/// strings made by `share` (an interner's, for objects that many name the same owner).
pub(super) fn controller(
    meta: &ObjectMeta,
    mut share: impl FnMut(&str) -> Arc<str>,
) -> Option<Owner> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true))
        .map(|owner| Owner {
            kind: share(&owner.kind),
            name: share(&owner.name),
            uid: share(&owner.uid),
        })
}

/// A Kubernetes time as a timestamp.
pub(super) fn timestamp(time: Option<&Time>) -> Option<Timestamp> {
    time.map(|time| time.0)
}
