//! Converts SpreadPolicies and ClusterSpreadPolicies into the planner's `Policy` and
//! `ClusterPolicy`, and Namespaces into its `Namespace`: each policy goes through its CRD's own
//! validation first, so the planner only ever sees a defaulted spec the API server would accept.

use std::sync::Arc;

use serde_json::Value;

use super::meta;
use crate::{
    api::{
        self, ClusterSpreadPolicy, Invalid, SpreadPolicy, SpreadPolicySpec,
        validate_cluster_policy, validate_policy,
    },
    controller::window::Windows,
    planner::{
        model::{self, ClusterPolicy, Policy, PolicySpec},
        selector::{LabelSelector, Operator, Requirement},
    },
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
    windows(&typed.spec.rebalance)?;
    Ok(Policy {
        namespace: Arc::from(meta::namespace(&typed.metadata)?),
        name: meta::name(&typed.metadata)?,
        generation: typed.metadata.generation.unwrap_or(0),
        created: meta::timestamp(typed.metadata.creation_timestamp.as_ref()),
        spec: spec(&typed.spec),
    })
}

/// A ClusterSpreadPolicy, validated against its CRD schema and CEL rules, with its defaults
/// applied.
pub fn cluster_policy(policy: &ClusterSpreadPolicy) -> Result<ClusterPolicy, FieldError> {
    let object = serde_json::to_value(policy)
        .map_err(|error| FieldError::new("", format!("cannot be written as JSON: {error}")))?;
    cluster_policy_object(&object)
}

/// A ClusterSpreadPolicy as raw JSON, refused rather than pruned when it holds undeclared fields.
pub fn cluster_policy_object(object: &Value) -> Result<ClusterPolicy, FieldError> {
    let mut defaulted = validate_cluster_policy(object).map_err(invalid)?;
    if let Some(fields) = defaulted.as_object_mut() {
        fields.remove("status");
    }
    let typed: ClusterSpreadPolicy = serde_path_to_error::deserialize(&defaulted)
        .map_err(|error| FieldError::new(error.path().to_string(), error.inner().to_string()))?;
    windows(&typed.spec.rebalance)?;
    Ok(ClusterPolicy {
        name: meta::name(&typed.metadata)?,
        generation: typed.metadata.generation.unwrap_or(0),
        created: meta::timestamp(typed.metadata.creation_timestamp.as_ref()),
        namespace_selector: workload_selector(&typed.spec.namespace_selector),
        spec: spec(&typed.spec.as_policy_spec()),
    })
}

/// Refuses disruption windows whose cron schedule or time zone no CEL rule can check, so the
/// policy is reported as invalid rather than acted on.
fn windows(rebalance: &api::Rebalance) -> Result<(), FieldError> {
    Windows::parse(&rebalance.windows)
        .map(drop)
        .map_err(|error| FieldError::new(error.field(), error.to_string()))
}

/// A Namespace's name and labels.
pub fn namespace(
    namespace: &k8s_openapi::api::core::v1::Namespace,
) -> Result<model::Namespace, FieldError> {
    Ok(model::Namespace {
        name: Arc::from(meta::name(&namespace.metadata)?),
        labels: namespace.metadata.labels.clone().unwrap_or_default(),
    })
}

/// What the planner reads of a (defaulted, validated) spec.
pub fn spec(spec: &SpreadPolicySpec) -> PolicySpec {
    PolicySpec {
        selector: workload_selector(&spec.selector),
        kinds: spec.kinds.iter().copied().map(workload_kind).collect(),
        scope: match spec.scope {
            api::Scope::Workload => model::Scope::Workload,
            api::Scope::Policy => model::Scope::Policy,
        },
        constraints: spec.constraints.iter().map(constraint).collect(),
        stateful_set_when_unsatisfiable: spec
            .stateful_set_when_unsatisfiable
            .map(when_unsatisfiable),
        min_pod_age: spec.rebalance.min_pod_age.get(),
        move_strategy: match spec.rebalance.move_strategy {
            api::MoveStrategy::Evict => model::MoveStrategy::Evict,
            api::MoveStrategy::Auto => model::MoveStrategy::Auto,
        },
        windows: spec
            .rebalance
            .windows
            .iter()
            .map(|window| model::DisruptionWindow {
                schedule: window.schedule.clone(),
                duration: window.duration.get(),
                time_zone: window.time_zone.clone(),
            })
            .collect(),
    }
}

/// The policy's workload selector as a label selector: matchLabels pairs and expressions, all
/// of which must hold; an empty one selects every workload.
fn workload_selector(selector: &api::WorkloadSelector) -> LabelSelector {
    let pairs = selector
        .match_labels
        .iter()
        .map(|(key, value)| Requirement::equals(key, value));
    let expressions = selector.match_expressions.iter().map(|expression| {
        let operator = match expression.operator {
            api::SelectorOperator::In => Operator::In,
            api::SelectorOperator::NotIn => Operator::NotIn,
            api::SelectorOperator::Exists => Operator::Exists,
            api::SelectorOperator::DoesNotExist => Operator::DoesNotExist,
        };
        Requirement::new(&expression.key, operator, expression.values.clone())
    });
    LabelSelector::from_requirements(pairs.chain(expressions).collect())
}

fn constraint(constraint: &api::SpreadConstraint) -> model::SpreadConstraint {
    model::SpreadConstraint {
        max_skew: constraint.max_skew,
        topology_key: constraint.topology_key.clone(),
        when_unsatisfiable: when_unsatisfiable(constraint.when_unsatisfiable),
        min_domains: constraint.min_domains,
        node_affinity_policy: constraint.node_affinity_policy.map(inclusion_policy),
        node_taints_policy: constraint.node_taints_policy.map(inclusion_policy),
        match_label_keys: constraint.match_label_keys.clone(),
    }
}

/// The planner's kind for the API's.
pub fn workload_kind(kind: api::WorkloadKind) -> model::WorkloadKind {
    match kind {
        api::WorkloadKind::Deployment => model::WorkloadKind::Deployment,
        api::WorkloadKind::StatefulSet => model::WorkloadKind::StatefulSet,
    }
}

/// The planner's whenUnsatisfiable for the API's.
pub fn when_unsatisfiable(when: api::WhenUnsatisfiable) -> model::WhenUnsatisfiable {
    match when {
        api::WhenUnsatisfiable::DoNotSchedule => model::WhenUnsatisfiable::DoNotSchedule,
        api::WhenUnsatisfiable::ScheduleAnyway => model::WhenUnsatisfiable::ScheduleAnyway,
    }
}

/// The planner's node-inclusion policy for the API's.
pub fn inclusion_policy(policy: api::NodeInclusionPolicy) -> model::NodeInclusionPolicy {
    match policy {
        api::NodeInclusionPolicy::Honor => model::NodeInclusionPolicy::Honor,
        api::NodeInclusionPolicy::Ignore => model::NodeInclusionPolicy::Ignore,
    }
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
