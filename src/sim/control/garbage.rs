//! The garbage collector and PodGC: objects whose every owner (by uid) is gone are deleted in
//! the background, and pods bound to nodes that no longer exist are removed at once. Only
//! owners of the kinds the control plane caches are judged; others are left alone.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::{Cache, Context, log_write, status::node_of};
use crate::sim::ResourceId;

/// The garbage collector.
#[derive(Debug)]
pub struct Garbage;

/// Whether an owner still exists: Some(true/false) for kinds the cache holds, None otherwise.
fn owner_exists(cache: &Cache, namespace: &str, owner: &OwnerReference) -> Option<bool> {
    let uid = |meta: &ObjectMeta| meta.uid.as_deref() == Some(owner.uid.as_str());
    let found = match owner.kind.as_str() {
        "Deployment" => cache
            .deployments
            .get(namespace, &owner.name)
            .map(|o| uid(&o.metadata)),
        "ReplicaSet" => cache
            .replica_sets
            .get(namespace, &owner.name)
            .map(|o| uid(&o.metadata)),
        "StatefulSet" => cache
            .stateful_sets
            .get(namespace, &owner.name)
            .map(|o| uid(&o.metadata)),
        "DaemonSet" => cache
            .daemon_sets
            .get(namespace, &owner.name)
            .map(|o| uid(&o.metadata)),
        "Node" => cache.nodes.get("", &owner.name).map(|o| uid(&o.metadata)),
        "Pod" => cache
            .pods
            .get(namespace, &owner.name)
            .map(|o| uid(&o.metadata)),
        _ => return None,
    };
    Some(found.unwrap_or(false))
}

/// Whether every owner of an object is known to be gone.
fn orphaned(cache: &Cache, meta: &ObjectMeta) -> bool {
    let Some(owners) = meta.owner_references.as_ref().filter(|o| !o.is_empty()) else {
        return false;
    };
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    owners
        .iter()
        .all(|owner| owner_exists(cache, namespace, owner) == Some(false))
}

impl Garbage {
    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        let cache = context.cache;
        let mut doomed: Vec<(ResourceId, &ObjectMeta)> = Vec::new();
        for rs in cache.replica_sets.iter() {
            doomed.push((cache.ids.replica_sets, &rs.metadata));
        }
        for pod in cache.pods.iter() {
            doomed.push((cache.ids.pods, &pod.metadata));
        }
        for claim in cache.claims.iter() {
            doomed.push((cache.ids.claims, &claim.metadata));
        }
        for lease in cache.leases.iter() {
            doomed.push((cache.ids.leases, &lease.metadata));
        }
        for (resource, meta) in doomed {
            if meta.deletion_timestamp.is_some() || !orphaned(cache, meta) {
                continue;
            }
            log_write(context.delete(
                resource,
                meta.namespace.as_deref().unwrap_or_default(),
                meta.name.as_deref().unwrap_or_default(),
                meta.uid.as_deref(),
                None,
            ));
        }
        // PodGC: pods bound to a node that does not exist.
        for pod in cache.pods.iter() {
            if let Some(node) = node_of(pod)
                && cache.nodes.get("", node).is_none()
            {
                log_write(context.delete(
                    cache.ids.pods,
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    pod.metadata.name.as_deref().unwrap_or_default(),
                    pod.metadata.uid.as_deref(),
                    Some(0),
                ));
            }
        }
        None
    }
}
