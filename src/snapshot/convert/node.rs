//! Converts Nodes into the planner's `Node`: labels, taints, cordon, readiness, what pods
//! may request on it and the images it holds. Reads only the fields the scheduler reads.

use std::sync::Arc;

use k8s_openapi::{
    api::core::v1 as core, apimachinery::pkg::api::resource::Quantity as ApiQuantity,
};

use super::{meta, pod::taint_effect};
use crate::{
    planner::model::{Node, NodeImage, Resources, Taint},
    snapshot::{FieldError, quantity::Quantity},
};

/// A Node. Allocatable resources fall back to capacity, then to 0, per resource.
pub fn node(node: &core::Node) -> Result<Node, FieldError> {
    let name = meta::name(&node.metadata)?;
    let spec = node.spec.as_ref();
    let status = node.status.as_ref();
    let mut taints = Vec::new();
    for (index, taint) in spec
        .and_then(|spec| spec.taints.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        taints.push(Taint {
            key: taint.key.clone(),
            value: taint.value.clone().unwrap_or_default(),
            effect: taint_effect(&taint.effect).map_err(|message| {
                FieldError::new(format!("spec.taints[{index}].effect"), message)
            })?,
        });
    }
    let ready_condition = status
        .and_then(|status| status.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|condition| condition.type_ == "Ready");
    let allocatable = status.and_then(|status| status.allocatable.as_ref());
    let capacity = status.and_then(|status| status.capacity.as_ref());
    let amount = |resource: &str| -> Result<Quantity, FieldError> {
        let (quantity, path) = match (
            allocatable.and_then(|a| a.get(resource)),
            capacity.and_then(|c| c.get(resource)),
        ) {
            (Some(quantity), _) => (quantity, "status.allocatable"),
            (None, Some(quantity)) => (quantity, "status.capacity"),
            (None, None) => return Ok(Quantity::ZERO),
        };
        resource_quantity(quantity, &format!("{path}.{resource}"))
    };
    Ok(Node {
        labels: meta::labels(&node.metadata),
        taints,
        unschedulable: spec.and_then(|spec| spec.unschedulable).unwrap_or(false),
        ready: ready_condition.is_some_and(|condition| condition.status == "True"),
        ready_since: meta::timestamp(ready_condition.and_then(|c| c.last_transition_time.as_ref())),
        created: meta::timestamp(node.metadata.creation_timestamp.as_ref()),
        allocatable: Resources {
            cpu_millis: amount("cpu")?.milli_value(),
            memory_bytes: amount("memory")?.value(),
            pods: amount("pods")?.value(),
        },
        images: status
            .and_then(|status| status.images.as_ref())
            .into_iter()
            .flatten()
            .map(|image| NodeImage {
                names: image
                    .names
                    .iter()
                    .flatten()
                    .map(|name| Arc::from(name.as_str()))
                    .collect(),
                size_bytes: image.size_bytes.unwrap_or(0),
            })
            .collect(),
        name,
    })
}

/// A non-negative quantity at `field`.
pub(super) fn resource_quantity(
    quantity: &ApiQuantity,
    field: &str,
) -> Result<Quantity, FieldError> {
    let parsed =
        Quantity::parse(&quantity.0).map_err(|error| FieldError::new(field, error.to_string()))?;
    if parsed.is_negative() {
        return Err(FieldError::new(
            field,
            format!("{:?} must be greater than or equal to 0", quantity.0),
        ));
    }
    Ok(parsed)
}
