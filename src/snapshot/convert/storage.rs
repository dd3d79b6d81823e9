//! Converts PersistentVolumeClaims and PersistentVolumes into the planner's `Claim` and
//! `Volume`: which volume a claim is bound to, and which nodes can reach a volume.

use std::sync::Arc;

use k8s_openapi::api::core::v1 as core;

use super::meta;
use crate::{
    planner::model::{Claim, Volume},
    snapshot::{FieldError, selector},
};

/// A PersistentVolumeClaim: the volume it is bound to and its access modes.
pub fn claim(claim: &core::PersistentVolumeClaim) -> Result<Claim, FieldError> {
    let spec = claim.spec.as_ref();
    Ok(Claim {
        namespace: Arc::from(meta::namespace(&claim.metadata)?),
        name: meta::name(&claim.metadata)?,
        volume_name: spec
            .and_then(|spec| spec.volume_name.clone())
            .filter(|name| !name.is_empty()),
        access_modes: spec
            .and_then(|spec| spec.access_modes.clone())
            .unwrap_or_default(),
    })
}

/// A PersistentVolume: `spec.nodeAffinity.required`, and whether its data lives on one node
/// (a `local` or `hostPath` source).
pub fn volume(volume: &core::PersistentVolume) -> Result<Volume, FieldError> {
    let spec = volume.spec.as_ref();
    let node_affinity = spec
        .and_then(|spec| spec.node_affinity.as_ref())
        .and_then(|affinity| affinity.required.as_ref())
        .map(|required| {
            selector::node_selector(required)
                .map_err(|error| error.under("spec.nodeAffinity.required"))
        })
        .transpose()?;
    Ok(Volume {
        name: meta::name(&volume.metadata)?,
        node_affinity,
        node_local: spec.is_some_and(|spec| spec.local.is_some() || spec.host_path.is_some()),
        access_modes: spec
            .and_then(|spec| spec.access_modes.clone())
            .unwrap_or_default(),
    })
}
