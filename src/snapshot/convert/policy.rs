//! Converts SpreadPolicies into the planner's `Policy`: each goes through the CRD's own
//! validation first, so the planner only ever sees a defaulted spec the API server would accept.

use std::sync::Arc;

use serde_json::Value;

use super::meta;
use crate::{
    api::{Invalid, SpreadPolicy, SpreadPolicySpec, validate_policy},
    planner::model::Policy,
    snapshot::FieldError,
};

/// A SpreadPolicy, validated against the CRD schema and CEL rules, with its defaults applied.
pub fn policy(policy: &SpreadPolicy) -> Result<Policy, FieldError> {
    let object = serde_json::to_value(policy)
        .map_err(|error| FieldError::new("", format!("cannot be written as JSON: {error}")))?;
    policy_object(&object)
}

/// A SpreadPolicy as raw JSON (what a list or a watch carries), so that fields the schema does
/// not declare are refused rather than dropped by typed deserialization.
pub fn policy_object(object: &Value) -> Result<Policy, FieldError> {
    let mut defaulted = validate_policy(object).map_err(invalid)?;
    // The planner reads no status, and the validator leaves a status subresource unchecked.
    if let Some(fields) = defaulted.as_object_mut() {
        fields.remove("status");
    }
    let typed: SpreadPolicy = serde_path_to_error::deserialize(&defaulted)
        .map_err(|error| FieldError::new(error.path().to_string(), error.inner().to_string()))?;
    let spec: SpreadPolicySpec = typed.spec;
    Ok(Policy {
        namespace: Arc::from(meta::namespace(&typed.metadata)?),
        name: meta::name(&typed.metadata)?,
        generation: typed.metadata.generation.unwrap_or(0),
        created: meta::timestamp(typed.metadata.creation_timestamp.as_ref()),
        spec,
    })
}

/// The validator's causes as one field error: the first cause's field, every message.
fn invalid(invalid: Invalid) -> FieldError {
    let mut causes = invalid.causes.into_iter();
    let Some(first) = causes.next() else {
        return FieldError::new("", "is invalid");
    };
    let mut message = first.message;
    for cause in causes {
        message.push_str("; ");
        message.push_str(&cause.to_string());
    }
    FieldError::new(first.field, message)
}
