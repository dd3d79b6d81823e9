//! Converts PodDisruptionBudgets into the planner's `Pdb`, with policy/v1 selector semantics:
//! a null selector matches no pod, an empty one every pod of the namespace.

use std::sync::Arc;

use k8s_openapi::api::policy::v1 as policy;

use super::meta;
use crate::{
    planner::model::Pdb,
    snapshot::{FieldError, selector},
};

/// A PodDisruptionBudget and what the disruption controller last reported for it.
pub fn pdb(pdb: &policy::PodDisruptionBudget) -> Result<Pdb, FieldError> {
    let selector = pdb
        .spec
        .as_ref()
        .and_then(|spec| spec.selector.as_ref())
        .map(|selector| {
            selector::label_selector(Some(selector)).map_err(|error| error.under("spec.selector"))
        })
        .transpose()?;
    let status = pdb.status.as_ref();
    Ok(Pdb {
        namespace: Arc::from(meta::namespace(&pdb.metadata)?),
        name: meta::name(&pdb.metadata)?,
        selector,
        generation: pdb.metadata.generation.unwrap_or(0),
        observed_generation: status.and_then(|s| s.observed_generation).unwrap_or(0),
        disruptions_allowed: status.map_or(0, |s| s.disruptions_allowed),
        current_healthy: status.map_or(0, |s| s.current_healthy),
        desired_healthy: status.map_or(0, |s| s.desired_healthy),
    })
}
