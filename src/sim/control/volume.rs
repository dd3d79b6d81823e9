//! A provisioner and binder: `local-path` claims wait for their first consumer and get a volume
//! pinned to the scheduler's chosen node; claims of other classes get a network volume at once.
//! It never moves or deletes volumes.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde_json::{Value, json};

use super::{CONTROLLER_MANAGER, Context, log_write, scheduler::SELECTED_NODE_ANNOTATION};
use crate::{api::HOSTNAME_LABEL, sim::Subresource};

/// The storage class provisioned as node-local volumes (WaitForFirstConsumer).
pub const LOCAL_PATH_CLASS: &str = "local-path";

/// The provisioner.
#[derive(Debug)]
pub struct Provisioner;

impl Provisioner {
    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        for claim in context.cache.claims.iter() {
            if claim.metadata.deletion_timestamp.is_none() {
                sync_claim(context, claim);
            }
        }
        None
    }
}

fn sync_claim(context: &Context<'_>, claim: &PersistentVolumeClaim) {
    let namespace = claim.metadata.namespace.as_deref().unwrap_or_default();
    let name = claim.metadata.name.as_deref().unwrap_or_default();
    let spec = claim.spec.as_ref();
    let bound_to = spec
        .and_then(|s| s.volume_name.as_deref())
        .filter(|v| !v.is_empty());
    if let Some(volume) = bound_to {
        let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
        if phase != Some("Bound") && context.cache.volumes.get("", volume).is_some() {
            mark_bound(context, claim);
        }
        return;
    }
    let class = spec
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or_default();
    let selected = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SELECTED_NODE_ANNOTATION))
        .cloned();
    let node = match (class == LOCAL_PATH_CLASS, selected) {
        (true, None) => return,
        (true, Some(node)) => Some(node),
        (false, _) => None,
    };
    let uid = claim.metadata.uid.as_deref().unwrap_or_default();
    let volume_name = format!("pvc-{uid}");
    let storage = spec
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map_or_else(|| "1Gi".to_owned(), |q| q.0.clone());
    let access_modes = spec
        .and_then(|s| s.access_modes.clone())
        .unwrap_or_else(|| vec!["ReadWriteOnce".to_owned()]);
    let mut volume_spec = json!({
        "capacity": {"storage": storage},
        "accessModes": access_modes,
        "persistentVolumeReclaimPolicy": "Delete",
        "storageClassName": class,
        "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": namespace,
                     "name": name, "uid": uid},
    });
    match &node {
        Some(node) => {
            volume_spec["hostPath"] = json!({"path": format!("/var/lib/local-path/{volume_name}"), "type": "DirectoryOrCreate"});
            volume_spec["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}});
        }
        None => {
            volume_spec["csi"] = json!({"driver": format!("{}.sim", if class.is_empty() { "default" } else { class }), "volumeHandle": volume_name});
        }
    }
    if context.cache.volumes.get("", &volume_name).is_none() {
        let volume = json!({"apiVersion": "v1", "kind": "PersistentVolume",
                            "metadata": {"name": volume_name}, "spec": volume_spec});
        if log_write(context.create(context.cache.ids.volumes, "", volume, CONTROLLER_MANAGER))
            .is_none()
        {
            return;
        }
        log_write(context.modify(
            context.cache.ids.volumes,
            "",
            &volume_name,
            Subresource::Status,
            CONTROLLER_MANAGER,
            |value| {
                value["status"] = json!({"phase": "Bound"});
                true
            },
        ));
    }
    log_write(context.modify(
        context.cache.ids.claims,
        namespace,
        name,
        Subresource::Main,
        CONTROLLER_MANAGER,
        |value| {
            if value
                .pointer("/spec/volumeName")
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
            {
                return false;
            }
            value["spec"]["volumeName"] = json!(volume_name);
            true
        },
    ));
}

fn mark_bound(context: &Context<'_>, claim: &PersistentVolumeClaim) {
    let capacity = claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone());
    let modes = claim.spec.as_ref().and_then(|s| s.access_modes.clone());
    log_write(context.modify(
        context.cache.ids.claims,
        claim.metadata.namespace.as_deref().unwrap_or_default(),
        claim.metadata.name.as_deref().unwrap_or_default(),
        Subresource::Status,
        CONTROLLER_MANAGER,
        |value| {
            value["status"] =
                json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": capacity}});
            true
        },
    ));
}
