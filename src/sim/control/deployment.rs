//! The Deployment controller: a ReplicaSet per template (hash-named, revisioned), RollingUpdate
//! with maxSurge/maxUnavailable resolved as upstream, Recreate, history cleanup, status. It
//! scales ReplicaSets and never touches pods.

use jiff::Timestamp;
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, ReplicaSet},
        core::v1::PodTemplateSpec,
    },
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, util::intstr::IntOrString},
};
use serde_json::{Value, json};

use super::{
    CONTROLLER_MANAGER, Context,
    events::{self, Involved, Kind, Source, component},
    log_write,
    status::{self, controlled_by},
};
use crate::{api::POD_TEMPLATE_HASH, sim::Subresource};

/// The revision annotation on ReplicaSets (and Deployments).
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The annotation `kubectl rollout restart` puts on the pod template.
pub const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";
/// The earlier revisions a ReplicaSet had before a rollback revived it, comma-separated.
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// `revHistoryLimitInChars`: the longest revision history kept.
const REVISION_HISTORY_LIMIT_CHARS: usize = 2000;

/// Deployment annotations that are not copied to its ReplicaSets (`skipCopyAnnotation`).
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    "deprecated.deployment.rollback.to",
];

/// The Deployment's annotations a ReplicaSet carries (`copyDeploymentAnnotationsToReplicaSet`):
/// `kubernetes.io/change-cause` is how `kubectl rollout history` shows a cause.
fn copied_annotations(deployment: &Deployment) -> impl Iterator<Item = (&String, &String)> {
    deployment
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(key, _)| !NOT_COPIED.contains(&key.as_str()))
}

/// The Deployment controller.
#[derive(Debug)]
pub struct Deployments;

impl Deployments {
    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        for deployment in context.cache.deployments.iter() {
            if deployment.metadata.deletion_timestamp.is_none() {
                sync_one(context, deployment);
            }
        }
        None
    }
}

/// `ResolveFenceposts`: maxSurge and maxUnavailable for `desired` replicas, or None when a
/// value is a string that is not a percent.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Option<(i32, i32)> {
    let quarter = IntOrString::String("25%".to_owned());
    let surge = status::scaled(max_surge.unwrap_or(&quarter), desired, true)?;
    let mut unavailable = status::scaled(max_unavailable.unwrap_or(&quarter), desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Some((surge, unavailable))
}

/// The Deployment's spec with the API's defaults.
struct Spec {
    replicas: i32,
    recreate: bool,
    surge: i32,
    unavailable: i32,
    history_limit: usize,
    min_ready_seconds: i32,
    paused: bool,
    template: PodTemplateSpec,
}

impl Spec {
    fn of(deployment: &Deployment) -> Self {
        let spec = deployment.spec.as_ref();
        let replicas = spec.and_then(|s| s.replicas).unwrap_or(1).max(0);
        let strategy = spec.and_then(|s| s.strategy.as_ref());
        let recreate = strategy.and_then(|s| s.type_.as_deref()) == Some("Recreate");
        let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
        let (surge, unavailable) = if recreate {
            (0, 0)
        } else {
            resolve_fenceposts(
                rolling.and_then(|r| r.max_surge.as_ref()),
                rolling.and_then(|r| r.max_unavailable.as_ref()),
                replicas,
            )
            .unwrap_or((0, 1))
        };
        Self {
            replicas,
            recreate,
            surge,
            // `MaxUnavailable`: never more than the replicas.
            unavailable: unavailable.min(replicas),
            history_limit: spec
                .and_then(|s| s.revision_history_limit)
                .map_or(10, |l| usize::try_from(l.max(0)).unwrap_or(0)),
            min_ready_seconds: spec.and_then(|s| s.min_ready_seconds).unwrap_or(0),
            paused: spec.and_then(|s| s.paused).unwrap_or(false),
            template: spec.map(|s| s.template.clone()).unwrap_or_default(),
        }
    }
}

fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

/// The `deployment.kubernetes.io/revision` of a ReplicaSet, 0 when unset.
pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Whether a ReplicaSet's template is the Deployment's, the hash label aside.
pub fn same_template(rs: &ReplicaSet, template: &PodTemplateSpec) -> bool {
    let Some(mut own) = rs.spec.as_ref().and_then(|s| s.template.clone()) else {
        return false;
    };
    let mut theirs = template.clone();
    for candidate in [&mut own, &mut theirs] {
        if let Some(labels) = candidate.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(POD_TEMPLATE_HASH);
        }
    }
    own == theirs
}

/// `ComputeHash`: FNV-32a of the template (here its JSON) and the collision count, spelled
/// with `rand.SafeEncodeString`.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let text = serde_json::to_string(template).unwrap_or_default();
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(text.as_bytes());
    if let Some(count) = collision_count {
        feed(&count.to_le_bytes());
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

fn sync_one(context: &Context<'_>, deployment: &Deployment) {
    let spec = Spec::of(deployment);
    let namespace = deployment.metadata.namespace.as_deref().unwrap_or_default();
    let uid = deployment.metadata.uid.as_deref().unwrap_or_default();
    let mut all: Vec<&ReplicaSet> = context
        .cache
        .replica_sets
        .in_namespace(namespace)
        .filter(|rs| controlled_by(&rs.metadata, uid) && rs.metadata.deletion_timestamp.is_none())
        .map(|rs| &**rs)
        .collect();
    all.sort_by_key(|rs| {
        (
            rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
            rs.metadata.name.clone(),
        )
    });
    let new = all
        .iter()
        .copied()
        .find(|rs| same_template(rs, &spec.template));
    let old: Vec<&ReplicaSet> = all
        .iter()
        .copied()
        .filter(|rs| new.is_none_or(|n| n.metadata.uid != rs.metadata.uid))
        .collect();
    let max_old_revision = old.iter().map(|rs| revision(rs)).max().unwrap_or(0);

    if spec.paused {
        write_status(context, deployment, &spec, new, &all);
        return;
    }
    let Some(new) = new else {
        let initial = if spec.recreate {
            if old.iter().any(|rs| replicas(rs) > 0) || old_pods_running(context, &old) {
                scale_old_to_zero(context, &spec, &old);
                write_status(context, deployment, &spec, None, &all);
                return;
            }
            spec.replicas
        } else {
            let current: i32 = all.iter().map(|rs| replicas(rs)).sum();
            let room = (spec.replicas + spec.surge - current).max(0);
            room.min(spec.replicas)
        };
        create_replica_set(context, deployment, &spec, initial, max_old_revision + 1);
        set_deployment_revision(context, deployment, max_old_revision + 1);
        return;
    };
    if revision(new) <= max_old_revision || new_needs_update(new, deployment, &spec) {
        update_new(context, deployment, &spec, new, max_old_revision + 1);
    }
    set_deployment_revision(context, deployment, revision(new).max(max_old_revision + 1));
    if spec.recreate {
        if old.iter().any(|rs| replicas(rs) > 0) {
            scale_old_to_zero(context, &spec, &old);
        } else if !old_pods_running(context, &old) && replicas(new) != spec.replicas {
            scale(context, &spec, new, spec.replicas);
        }
    } else if !reconcile_new(context, &spec, new, &all) {
        reconcile_old(context, &spec, new, &old, &all);
    }
    cleanup(context, &spec, &old);
    write_status(context, deployment, &spec, Some(new), &all);
}

/// `SetDeploymentRevision`: the Deployment carries its new ReplicaSet's revision.
fn set_deployment_revision(context: &Context<'_>, deployment: &Deployment, revision: i64) {
    let wanted = revision.to_string();
    let current = deployment
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION));
    if current == Some(&wanted) {
        return;
    }
    log_write(context.modify(
        context.cache.ids.deployments,
        deployment.metadata.namespace.as_deref().unwrap_or_default(),
        deployment.metadata.name.as_deref().unwrap_or_default(),
        Subresource::Main,
        CONTROLLER_MANAGER,
        |value| {
            let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) else {
                return false;
            };
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            if annotations.get(REVISION_ANNOTATION) == Some(&json!(wanted)) {
                return false;
            }
            annotations[REVISION_ANNOTATION] = json!(wanted);
            true
        },
    ));
}

/// Whether a Deployment annotation that its new ReplicaSet copies differs there.
fn annotations_differ(new: &ReplicaSet, deployment: &Deployment) -> bool {
    let on_rs = new.metadata.annotations.as_ref();
    copied_annotations(deployment).any(|(key, value)| on_rs.and_then(|a| a.get(key)) != Some(value))
}

fn new_needs_update(new: &ReplicaSet, deployment: &Deployment, spec: &Spec) -> bool {
    annotations_differ(new, deployment)
        || new
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
            != spec.min_ready_seconds
}

fn old_pods_running(context: &Context<'_>, old: &[&ReplicaSet]) -> bool {
    old.iter().any(|rs| {
        let namespace = rs.metadata.namespace.as_deref().unwrap_or_default();
        let uid = rs.metadata.uid.as_deref().unwrap_or_default();
        context
            .cache
            .pods
            .in_namespace(namespace)
            .filter(|pod| controlled_by(&pod.metadata, uid))
            .any(|pod| !matches!(status::phase(pod), "Succeeded" | "Failed"))
    })
}

fn scale_old_to_zero(context: &Context<'_>, spec: &Spec, old: &[&ReplicaSet]) {
    for rs in old {
        if replicas(rs) > 0 {
            scale(context, spec, rs, 0);
        }
    }
}

/// `reconcileNewReplicaSet`: scales the new ReplicaSet up within maxSurge (or down to the
/// replicas); returns whether it scaled.
fn reconcile_new(
    context: &Context<'_>,
    spec: &Spec,
    new: &ReplicaSet,
    all: &[&ReplicaSet],
) -> bool {
    let current = replicas(new);
    if current == spec.replicas {
        return false;
    }
    if current > spec.replicas {
        scale(context, spec, new, spec.replicas);
        return true;
    }
    let total: i32 = all.iter().map(|rs| replicas(rs)).sum();
    let max_total = spec.replicas + spec.surge;
    if total >= max_total {
        return false;
    }
    let up = (max_total - total).min(spec.replicas - current);
    scale(context, spec, new, current + up);
    true
}

/// `reconcileOldReplicaSets`: scales old ReplicaSets down, unhealthy pods first, never below
/// replicas − maxUnavailable available pods.
fn reconcile_old(
    context: &Context<'_>,
    spec: &Spec,
    new: &ReplicaSet,
    old: &[&ReplicaSet],
    all: &[&ReplicaSet],
) {
    let old_count: i32 = old.iter().map(|rs| replicas(rs)).sum();
    if old_count == 0 {
        return;
    }
    let all_count: i32 = all.iter().map(|rs| replicas(rs)).sum();
    let min_available = spec.replicas - spec.unavailable;
    let new_unavailable = replicas(new) - available(new);
    let max_scaled_down = all_count - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return;
    }
    // cleanupUnhealthyReplicas, oldest first.
    let mut sizes: Vec<i32> = old.iter().map(|rs| replicas(rs)).collect();
    let mut cleaned = 0;
    for (i, rs) in old.iter().enumerate() {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = sizes[i] - available(rs);
        if sizes[i] == 0 || unhealthy <= 0 {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(unhealthy);
        sizes[i] -= down;
        cleaned += down;
    }
    // scaleDownOldReplicaSetsForRollingUpdate.
    let available_now: i32 = all.iter().map(|rs| available(rs)).sum();
    if available_now > min_available {
        let mut remaining = available_now - min_available;
        for size in &mut sizes {
            if remaining <= 0 {
                break;
            }
            if *size == 0 {
                continue;
            }
            let down = (*size).min(remaining);
            *size -= down;
            remaining -= down;
        }
    }
    for (rs, size) in old.iter().zip(sizes) {
        if size != replicas(rs) {
            scale(context, spec, rs, size);
        }
    }
}

/// Sets a ReplicaSet's replicas and the annotations the Deployment controller keeps on it.
/// `ScalingReplicaSet` on the ReplicaSet's Deployment, as the Deployment controller words it.
fn record_scaling(context: &Context<'_>, rs: &ObjectMeta, from: i32, to: i32) {
    let Some(owner) = status::controller_of(rs) else {
        return;
    };
    let deployment = ObjectMeta {
        name: Some(owner.name.clone()),
        namespace: rs.namespace.clone(),
        uid: Some(owner.uid.clone()),
        ..ObjectMeta::default()
    };
    let direction = if to > from { "up" } else { "down" };
    let message = format!(
        "Scaled {direction} replica set {} from {from} to {to}",
        rs.name.as_deref().unwrap_or_default()
    );
    events::record(
        context,
        &Involved {
            api_version: "apps/v1",
            kind: "Deployment",
            meta: &deployment,
            field_path: None,
        },
        Source::controller(component::DEPLOYMENT),
        Kind::Normal,
        "ScalingReplicaSet",
        &message,
    );
}

fn scale(context: &Context<'_>, spec: &Spec, rs: &ReplicaSet, to: i32) {
    let from = replicas(rs);
    let desired = spec.replicas.to_string();
    let max = (spec.replicas + spec.surge).to_string();
    let written = log_write(context.modify(
        context.cache.ids.replica_sets,
        rs.metadata.namespace.as_deref().unwrap_or_default(),
        rs.metadata.name.as_deref().unwrap_or_default(),
        Subresource::Main,
        CONTROLLER_MANAGER,
        |value| {
            value["spec"]["replicas"] = json!(to);
            if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
                annotations[DESIRED_REPLICAS_ANNOTATION] = json!(desired);
                annotations[MAX_REPLICAS_ANNOTATION] = json!(max);
            }
            true
        },
    ));
    if written.is_some() && from != to {
        record_scaling(context, &rs.metadata, from, to);
    }
}

/// `SetNewReplicaSetAnnotations`: the Deployment's annotations, and the next revision when the
/// new ReplicaSet's is not the highest (a rollback revived it: its old revision joins the
/// history).
fn update_new(
    context: &Context<'_>,
    deployment: &Deployment,
    spec: &Spec,
    new: &ReplicaSet,
    next_revision: i64,
) {
    let old_revision = revision(new);
    let bump = old_revision < next_revision;
    let min_ready = spec.min_ready_seconds;
    let copied: Vec<(String, String)> = copied_annotations(deployment)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    log_write(context.modify(
        context.cache.ids.replica_sets,
        new.metadata.namespace.as_deref().unwrap_or_default(),
        new.metadata.name.as_deref().unwrap_or_default(),
        Subresource::Main,
        CONTROLLER_MANAGER,
        |value| {
            value["spec"]["minReadySeconds"] = json!(min_ready);
            let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) else {
                return true;
            };
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            for (key, text) in &copied {
                annotations[key] = json!(text);
            }
            if bump {
                annotations[REVISION_ANNOTATION] = json!(next_revision.to_string());
                if old_revision > 0 {
                    let history = annotations
                        .get(REVISION_HISTORY_ANNOTATION)
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    annotations[REVISION_HISTORY_ANNOTATION] =
                        json!(append_history(history, old_revision));
                }
            }
            true
        },
    ));
}

/// A revision history with `revision` appended, dropping the oldest entries beyond the limit.
fn append_history(history: &str, revision: i64) -> String {
    let mut entries: Vec<String> = history
        .split(',')
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    entries.push(revision.to_string());
    while entries.join(",").len() > REVISION_HISTORY_LIMIT_CHARS && entries.len() > 1 {
        entries.remove(0);
    }
    entries.join(",")
}

fn create_replica_set(
    context: &Context<'_>,
    deployment: &Deployment,
    spec: &Spec,
    replicas: i32,
    revision: i64,
) {
    let namespace = deployment.metadata.namespace.as_deref().unwrap_or_default();
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    let collisions = deployment.status.as_ref().and_then(|s| s.collision_count);
    let hash = template_hash(&spec.template, collisions);
    let mut template = serde_json::to_value(&spec.template).unwrap_or_else(|_| json!({}));
    template["metadata"]["labels"][POD_TEMPLATE_HASH] = json!(hash);
    let mut selector = deployment
        .spec
        .as_ref()
        .map(|s| serde_json::to_value(&s.selector).unwrap_or_else(|_| json!({})))
        .unwrap_or_else(|| json!({}));
    selector["matchLabels"][POD_TEMPLATE_HASH] = json!(hash);
    let labels = template["metadata"]["labels"].clone();
    let mut annotations = json!({
        REVISION_ANNOTATION: revision.to_string(),
        DESIRED_REPLICAS_ANNOTATION: spec.replicas.to_string(),
        MAX_REPLICAS_ANNOTATION: (spec.replicas + spec.surge).to_string(),
    });
    for (key, value) in copied_annotations(deployment) {
        annotations[key] = json!(value);
    }
    let rs = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{name}-{hash}"),
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [status::owner_reference("apps/v1", "Deployment", &deployment.metadata)],
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": spec.min_ready_seconds,
            "selector": selector,
            "template": template,
        },
    });
    let created = context.create(
        context.cache.ids.replica_sets,
        namespace,
        rs,
        CONTROLLER_MANAGER,
    );
    if let Ok(object) = &created
        && replicas > 0
        && let Ok(created) = object.typed::<ReplicaSet>()
    {
        record_scaling(context, &created.metadata, 0, replicas);
    }
    if let Err(error) = created {
        if error.is_race() {
            // A ReplicaSet of that name with another template: count the collision.
            log_write(context.modify(
                context.cache.ids.deployments,
                namespace,
                name,
                Subresource::Status,
                CONTROLLER_MANAGER,
                |value| {
                    let count = value
                        .pointer("/status/collisionCount")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    value["status"]["collisionCount"] = json!(count + 1);
                    true
                },
            ));
        } else {
            log_write::<()>(Err(error));
        }
    }
}

/// Deletes old, empty ReplicaSets beyond `revisionHistoryLimit`, oldest revision first.
fn cleanup(context: &Context<'_>, spec: &Spec, old: &[&ReplicaSet]) {
    let mut empty: Vec<&ReplicaSet> = old
        .iter()
        .copied()
        .filter(|rs| {
            replicas(rs) == 0
                && rs.status.as_ref().map_or(0, |s| s.replicas) == 0
                && rs.metadata.deletion_timestamp.is_none()
        })
        .collect();
    if empty.len() <= spec.history_limit {
        return;
    }
    empty.sort_by_key(|rs| revision(rs));
    let excess = empty.len() - spec.history_limit;
    for rs in empty.into_iter().take(excess) {
        log_write(context.delete(
            context.cache.ids.replica_sets,
            rs.metadata.namespace.as_deref().unwrap_or_default(),
            rs.metadata.name.as_deref().unwrap_or_default(),
            rs.metadata.uid.as_deref(),
            None,
        ));
    }
}

/// `calculateStatus` and the Available and Progressing conditions.
fn write_status(
    context: &Context<'_>,
    deployment: &Deployment,
    spec: &Spec,
    new: Option<&ReplicaSet>,
    all: &[&ReplicaSet],
) {
    let actual = |rs: &ReplicaSet| rs.status.as_ref().map_or(0, |s| s.replicas);
    let ready = |rs: &ReplicaSet| {
        rs.status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
    };
    let total_spec: i32 = all.iter().map(|rs| replicas(rs)).sum();
    let available_count: i32 = all.iter().map(|rs| available(rs)).sum();
    let status_replicas: i32 = all.iter().map(|rs| actual(rs)).sum();
    let updated = new.map_or(0, actual);
    let ready_count: i32 = all.iter().map(|rs| ready(rs)).sum();
    let unavailable = (total_spec - available_count).max(0);
    let minimum = if spec.recreate {
        spec.replicas
    } else {
        spec.replicas - spec.unavailable
    };
    let (available_state, available_reason, available_message) = if available_count >= minimum {
        (
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let new_name = new
        .and_then(|n| n.metadata.name.clone())
        .unwrap_or_default();
    let complete = new.is_some()
        && updated == spec.replicas
        && status_replicas == spec.replicas
        && available_count == spec.replicas;
    let (progress_reason, progress_message) = if new.is_none() {
        (
            "NewReplicaSetCreated",
            format!(
                "Created new replica set \"{name}\"",
                name = deployment.metadata.name.as_deref().unwrap_or_default()
            ),
        )
    } else if complete {
        (
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{new_name}\" has successfully progressed."),
        )
    } else {
        (
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{new_name}\" is progressing."),
        )
    };
    let generation = deployment.metadata.generation.unwrap_or(0);
    let collisions = deployment.status.as_ref().and_then(|s| s.collision_count);
    let now = context.stamp();
    let counts = json!({
        "observedGeneration": generation,
        "replicas": status_replicas,
        "updatedReplicas": updated,
        "readyReplicas": ready_count,
        "availableReplicas": available_count,
        "unavailableReplicas": unavailable,
    });
    let current = deployment
        .status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(Value::Null);
    let counts_same = counts.as_object().is_some_and(|c| {
        c.iter()
            .all(|(k, v)| current.get(k).unwrap_or(&json!(0)) == v)
    });
    let condition_same = |kind: &str, state: &str, reason: &str| {
        current
            .get("conditions")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
            })
            .is_some_and(|c| {
                c.get("status").and_then(Value::as_str) == Some(state)
                    && c.get("reason").and_then(Value::as_str) == Some(reason)
            })
    };
    if counts_same
        && condition_same("Available", available_state, available_reason)
        && condition_same("Progressing", "True", progress_reason)
    {
        return;
    }
    log_write(context.modify(
        context.cache.ids.deployments,
        deployment.metadata.namespace.as_deref().unwrap_or_default(),
        deployment.metadata.name.as_deref().unwrap_or_default(),
        Subresource::Status,
        CONTROLLER_MANAGER,
        |value| {
            let mut status = counts;
            if let Some(count) = collisions {
                status["collisionCount"] = json!(count);
            }
            status["conditions"] = value
                .pointer("/status/conditions")
                .cloned()
                .unwrap_or_else(|| json!([]));
            let mut holder = json!({"status": status});
            for (kind, state, reason, message) in [
                (
                    "Available",
                    available_state,
                    available_reason,
                    available_message.to_owned(),
                ),
                ("Progressing", "True", progress_reason, progress_message),
            ] {
                if !condition_same(kind, state, reason) {
                    status::set_condition(
                        &mut holder,
                        json!({"type": kind, "status": state, "reason": reason, "message": message,
                               "lastUpdateTime": now, "lastTransitionTime": now}),
                    );
                }
            }
            status::replace_status(value, holder["status"].take())
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int_or(text: &str) -> IntOrString {
        match text.parse::<i32>() {
            Ok(int) => IntOrString::Int(int),
            Err(_) => IntOrString::String(text.to_owned()),
        }
    }

    #[test]
    fn surge_rounds_up_unavailable_rounds_down_and_both_zero_means_one_unavailable() {
        // (maxSurge, maxUnavailable, replicas) -> (surge, unavailable)
        let table = [
            (None, None, 4, Some((1, 1))),
            (None, None, 1, Some((1, 0))),
            (None, None, 10, Some((3, 2))),
            (Some("25%"), Some("25%"), 3, Some((1, 0))),
            (Some("0"), Some("0"), 5, Some((0, 1))),
            (Some("0"), Some("10%"), 5, Some((0, 1))),
            (Some("1"), Some("0"), 2, Some((1, 0))),
            (Some("50%"), Some("50%"), 5, Some((3, 2))),
            (Some("100%"), Some("0%"), 7, Some((7, 0))),
            (Some("2"), Some("3"), 1, Some((2, 3))),
            (Some("abc"), None, 3, None),
        ];
        for (surge, unavailable, replicas, expected) in table {
            let surge = surge.map(int_or);
            let unavailable = unavailable.map(int_or);
            assert_eq!(
                resolve_fenceposts(surge.as_ref(), unavailable.as_ref(), replicas),
                expected,
                "{surge:?} {unavailable:?} {replicas}"
            );
        }
    }

    #[test]
    fn the_template_hash_uses_the_safe_alphabet_and_changes_with_the_template() {
        let mut template = PodTemplateSpec::default();
        let first = template_hash(&template, None);
        assert!(
            first
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );
        assert_eq!(first, template_hash(&template, None));
        assert_ne!(first, template_hash(&template, Some(1)));
        template.metadata = Some(Default::default());
        assert_ne!(first, template_hash(&template, None));
    }
}
