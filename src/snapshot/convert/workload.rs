//! Converts Deployments, StatefulSets and ReplicaSets into the planner's `Workload` and
//! `ReplicaSet`, with the API's defaults for replicas and update strategies filled in.

use std::sync::Arc;

use k8s_openapi::{
    api::{apps::v1 as apps, core::v1 as core},
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, util::intstr::IntOrString},
};

use super::{meta, pod::scheduling_spec};
use crate::{
    api::{IGNORE_ANNOTATION, POD_TEMPLATE_HASH},
    planner::model::WorkloadKind,
    planner::model::{
        ClaimTemplate, Labels, ReplicaSet, SchedulingSpec, UpdateStrategy, Workload, WorkloadStatus,
    },
    snapshot::{FieldError, selector},
};

/// The annotation a Deployment's controller puts on each ReplicaSet: its revision number.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// A Deployment. Strategy defaults: RollingUpdate with maxSurge and maxUnavailable 25%.
pub fn deployment(deployment: &apps::Deployment) -> Result<Workload, FieldError> {
    let spec = deployment
        .spec
        .as_ref()
        .ok_or_else(|| FieldError::new("spec", "is required"))?;
    let strategy = spec.strategy.as_ref();
    let strategy = match strategy.and_then(|s| s.type_.as_deref()) {
        None | Some("") | Some("RollingUpdate") => {
            let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
            UpdateStrategy::RollingUpdate {
                max_surge: int_or_string(rolling.and_then(|r| r.max_surge.as_ref()), "25%"),
                max_unavailable: int_or_string(
                    rolling.and_then(|r| r.max_unavailable.as_ref()),
                    "25%",
                ),
            }
        }
        Some("Recreate") => UpdateStrategy::Recreate,
        Some(other) => {
            return Err(FieldError::new(
                "spec.strategy.type",
                format!("{other:?} is not a Deployment strategy (RollingUpdate, Recreate)"),
            ));
        }
    };
    let status = deployment.status.as_ref();
    let status = WorkloadStatus {
        observed_generation: status.and_then(|s| s.observed_generation).unwrap_or(0),
        replicas: status.and_then(|s| s.replicas).unwrap_or(0),
        ready_replicas: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        available_replicas: status.and_then(|s| s.available_replicas).unwrap_or(0),
        updated_replicas: status.and_then(|s| s.updated_replicas).unwrap_or(0),
    };
    workload(
        WorkloadKind::Deployment,
        &deployment.metadata,
        Parts {
            selector: &spec.selector,
            replicas: spec.replicas,
            template: &spec.template,
            strategy,
            claim_templates: Vec::new(),
            status,
        },
    )
}

/// A StatefulSet. Strategy default: RollingUpdate.
pub fn stateful_set(stateful_set: &apps::StatefulSet) -> Result<Workload, FieldError> {
    let spec = stateful_set
        .spec
        .as_ref()
        .ok_or_else(|| FieldError::new("spec", "is required"))?;
    let strategy = match spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
    {
        None | Some("") | Some("RollingUpdate") => UpdateStrategy::StatefulRollingUpdate,
        Some("OnDelete") => UpdateStrategy::OnDelete,
        Some(other) => {
            return Err(FieldError::new(
                "spec.updateStrategy.type",
                format!("{other:?} is not a StatefulSet update strategy (RollingUpdate, OnDelete)"),
            ));
        }
    };
    let mut claim_templates = Vec::new();
    for (index, claim) in spec.volume_claim_templates.iter().flatten().enumerate() {
        let name = meta::name(&claim.metadata)
            .map_err(|error| error.under(&format!("spec.volumeClaimTemplates[{index}]")))?;
        claim_templates.push(ClaimTemplate {
            name,
            access_modes: claim
                .spec
                .as_ref()
                .and_then(|spec| spec.access_modes.clone())
                .unwrap_or_default(),
        });
    }
    let status = stateful_set.status.as_ref();
    let status = WorkloadStatus {
        observed_generation: status.and_then(|s| s.observed_generation).unwrap_or(0),
        replicas: status.map_or(0, |s| s.replicas),
        ready_replicas: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        available_replicas: status.and_then(|s| s.available_replicas).unwrap_or(0),
        updated_replicas: status.and_then(|s| s.updated_replicas).unwrap_or(0),
    };
    workload(
        WorkloadKind::StatefulSet,
        &stateful_set.metadata,
        Parts {
            selector: &spec.selector,
            replicas: spec.replicas,
            template: &spec.template,
            strategy,
            claim_templates,
            status,
        },
    )
}

/// A ReplicaSet: its Deployment, `pod-template-hash` (from the template's labels, else its
/// own), replicas (default 1) and revision.
pub fn replica_set(replica_set: &apps::ReplicaSet) -> Result<ReplicaSet, FieldError> {
    let metadata = &replica_set.metadata;
    let spec = replica_set.spec.as_ref();
    let template_labels = spec
        .and_then(|spec| spec.template.as_ref())
        .and_then(|template| template.metadata.as_ref())
        .and_then(|metadata| metadata.labels.as_ref());
    let template_hash = template_labels
        .and_then(|labels| labels.get(POD_TEMPLATE_HASH))
        .or_else(|| metadata.labels.as_ref()?.get(POD_TEMPLATE_HASH))
        .cloned();
    let revision = match meta::annotation(metadata, REVISION_ANNOTATION) {
        None => 0,
        Some(text) => text.parse::<i64>().map_err(|_| {
            FieldError::new(
                format!("metadata.annotations.{REVISION_ANNOTATION}"),
                format!("{text:?} is not a revision number"),
            )
        })?,
    };
    Ok(ReplicaSet {
        namespace: Arc::from(meta::namespace(metadata)?),
        name: meta::name(metadata)?,
        uid: metadata.uid.clone().unwrap_or_default(),
        owner: meta::controller(metadata, |text| Arc::from(text)),
        template_hash,
        replicas: spec.and_then(|spec| spec.replicas).unwrap_or(1),
        revision,
    })
}

/// What differs between the workload kinds, already read.
struct Parts<'a> {
    selector: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    replicas: Option<i32>,
    template: &'a core::PodTemplateSpec,
    strategy: UpdateStrategy,
    claim_templates: Vec<ClaimTemplate>,
    status: WorkloadStatus,
}

fn workload(
    kind: WorkloadKind,
    metadata: &ObjectMeta,
    parts: Parts<'_>,
) -> Result<Workload, FieldError> {
    let selector = selector::label_selector(Some(parts.selector))
        .map_err(|error| error.under("spec.selector"))?;
    let template_labels: Labels = parts
        .template
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.labels.clone())
        .unwrap_or_default();
    let template = template_spec(parts.template)?;
    Ok(Workload {
        kind,
        namespace: Arc::from(meta::namespace(metadata)?),
        name: meta::name(metadata)?,
        uid: metadata.uid.clone().unwrap_or_default(),
        generation: metadata.generation.unwrap_or(0),
        labels: meta::labels(metadata),
        ignored: meta::annotation(metadata, IGNORE_ANNOTATION) == Some("true"),
        selector,
        replicas: parts.replicas.unwrap_or(1),
        template_labels,
        template: Arc::new(template),
        strategy: parts.strategy,
        claim_templates: parts.claim_templates,
        status: parts.status,
    })
}

/// The template's scheduling spec, its errors placed under `spec.template`.
fn template_spec(template: &core::PodTemplateSpec) -> Result<SchedulingSpec, FieldError> {
    let spec = template
        .spec
        .as_ref()
        .ok_or_else(|| FieldError::new("spec.template.spec", "is required"))?;
    scheduling_spec(spec, None, None).map_err(|error| {
        // The spec conversion names fields from the pod (`spec.containers[0]...`).
        let field = error.field.strip_prefix("spec").map_or_else(
            || error.field.clone(),
            |rest| format!("spec.template.spec{rest}"),
        );
        FieldError { field, ..error }
    })
}

/// An int-or-string as written (`1`, `25%`), or the API default.
fn int_or_string(value: Option<&IntOrString>, default: &str) -> String {
    match value {
        Some(IntOrString::Int(number)) => number.to_string(),
        Some(IntOrString::String(text)) => text.clone(),
        None => default.to_owned(),
    }
}
