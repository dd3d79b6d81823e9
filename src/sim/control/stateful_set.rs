//! The StatefulSet controller (OrderedReady): `<name>-<ordinal>` pods one at a time, a deleted
//! pod recreated under its name once gone, claims from volumeClaimTemplates, ordered scale-down
//! and RollingUpdate, status. Claims are kept when pods go.

use jiff::Timestamp;
use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Pod};
use serde_json::{Value, json};

use super::{
    CONTROLLER_MANAGER, Context, earliest,
    events::{self, Involved, Kind, Source, component},
    log_write,
    status::{self, controlled_by},
};
use crate::sim::Subresource;

/// The label with the pod's name.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label with the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// The label with the revision the pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The StatefulSet controller.
#[derive(Debug)]
pub struct StatefulSets;

impl StatefulSets {
    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        let mut wake = None;
        for set in context.cache.stateful_sets.iter() {
            if set.metadata.deletion_timestamp.is_none() {
                wake = earliest(wake, sync_one(context, set));
            }
        }
        wake
    }
}

fn ordinal_of(set_name: &str, pod: &Pod) -> Option<i32> {
    pod.metadata
        .name
        .as_deref()?
        .strip_prefix(set_name)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

fn running_and_ready(pod: &Pod) -> bool {
    status::phase(pod) == "Running" && status::is_ready(pod)
}

/// The revision of the set's template: `<name>-<hash>`.
fn update_revision(set: &StatefulSet) -> String {
    let template = set
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    format!(
        "{}-{}",
        set.metadata.name.as_deref().unwrap_or_default(),
        super::deployment::template_hash(&template, None)
    )
}

fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map(String::as_str)
}

fn sync_one(context: &Context<'_>, set: &StatefulSet) -> Option<Timestamp> {
    let namespace = set.metadata.namespace.as_deref().unwrap_or_default();
    let name = set.metadata.name.as_deref().unwrap_or_default();
    let uid = set.metadata.uid.as_deref().unwrap_or_default();
    let spec = set.spec.as_ref();
    let replicas = spec.and_then(|s| s.replicas).unwrap_or(1).max(0);
    let parallel = spec.and_then(|s| s.pod_management_policy.as_deref()) == Some("Parallel");
    let revision = update_revision(set);
    let mut pods: Vec<(i32, &Pod)> = context
        .cache
        .pods
        .in_namespace(namespace)
        .filter(|pod| controlled_by(&pod.metadata, uid))
        .filter_map(|pod| ordinal_of(name, pod).map(|ordinal| (ordinal, &**pod)))
        .collect();
    pods.sort_by_key(|(ordinal, _)| *ordinal);
    let find = |ordinal: i32| pods.iter().find(|(o, _)| *o == ordinal).map(|(_, p)| *p);

    let mut blocked = false;
    for ordinal in 0..replicas {
        match find(ordinal) {
            None => {
                // Ordered creation: the previous ordinals are all Running and Ready here.
                ensure_claims(context, set, ordinal);
                log_write(create_pod(context, set, ordinal, &revision));
                if !parallel {
                    blocked = true;
                    break;
                }
            }
            Some(pod)
                if matches!(status::phase(pod), "Failed" | "Succeeded")
                    && !status::terminating(pod) =>
            {
                delete(context, set, pod);
                if !parallel {
                    blocked = true;
                    break;
                }
            }
            Some(pod) if status::terminating(pod) || !running_and_ready(pod) => {
                if !parallel {
                    blocked = true;
                    break;
                }
            }
            Some(_) => {}
        }
    }
    // Scale down: the highest condemned ordinal first, one at a time.
    if !blocked {
        let condemned: Vec<&Pod> = pods
            .iter()
            .rev()
            .filter(|(ordinal, _)| *ordinal >= replicas)
            .map(|(_, pod)| *pod)
            .collect();
        if let Some(pod) = condemned.first() {
            if !status::terminating(pod) {
                delete(context, set, pod);
            }
            blocked = !parallel;
        }
    }
    // RollingUpdate: replace the highest ordinal not at the update revision (down to the
    // partition) once every pod is Running and Ready.
    let rolling = spec
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    if !blocked && rolling {
        let partition = spec
            .and_then(|s| s.update_strategy.as_ref())
            .and_then(|u| u.rolling_update.as_ref())
            .and_then(|r| r.partition)
            .unwrap_or(0);
        let all_ready = pods
            .iter()
            .filter(|(o, _)| *o < replicas)
            .all(|(_, p)| running_and_ready(p) && !status::terminating(p));
        if all_ready
            && let Some((_, pod)) = pods.iter().rev().find(|(o, p)| {
                *o < replicas && *o >= partition && revision_of(p) != Some(revision.as_str())
            })
        {
            delete(context, set, pod);
        }
    }
    write_status(context, set, &pods, &revision)
}

fn delete(context: &Context<'_>, set: &StatefulSet, pod: &Pod) {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let deleted = log_write(context.delete(
        context.cache.ids.pods,
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        name,
        pod.metadata.uid.as_deref(),
        None,
    ));
    if deleted.is_some() {
        record(context, set, "Delete", name);
    }
}

/// `recordPodEvent`: `Successful<Verb>`, "<verb> Pod <pod> in StatefulSet <set> successful".
fn record(context: &Context<'_>, set: &StatefulSet, verb: &str, pod: &str) {
    let message = format!(
        "{} Pod {pod} in StatefulSet {} successful",
        verb.to_lowercase(),
        set.metadata.name.as_deref().unwrap_or_default()
    );
    events::record(
        context,
        &Involved {
            api_version: "apps/v1",
            kind: "StatefulSet",
            meta: &set.metadata,
            field_path: None,
        },
        Source::controller(component::STATEFUL_SET),
        Kind::Normal,
        &format!("Successful{verb}"),
        &message,
    );
}

/// Creates the claims of an ordinal that do not exist yet.
fn ensure_claims(context: &Context<'_>, set: &StatefulSet, ordinal: i32) {
    let namespace = set.metadata.namespace.as_deref().unwrap_or_default();
    let name = set.metadata.name.as_deref().unwrap_or_default();
    let templates = set
        .spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.clone())
        .unwrap_or_default();
    for template in templates {
        let template_name = template.metadata.name.clone().unwrap_or_default();
        let claim = format!("{template_name}-{name}-{ordinal}");
        if context.cache.claims.get(namespace, &claim).is_some() {
            continue;
        }
        let mut labels = status::labels(&template.metadata);
        if let Some(selector) = set
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.clone())
        {
            labels.extend(selector);
        }
        let body = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": namespace, "labels": labels},
            "spec": serde_json::to_value(template.spec.clone().unwrap_or_default()).unwrap_or_else(|_| json!({})),
        });
        log_write(context.create(
            context.cache.ids.claims,
            namespace,
            body,
            CONTROLLER_MANAGER,
        ));
    }
}

fn create_pod(
    context: &Context<'_>,
    set: &StatefulSet,
    ordinal: i32,
    revision: &str,
) -> Result<(), super::Write> {
    let namespace = set.metadata.namespace.as_deref().unwrap_or_default();
    let name = set.metadata.name.as_deref().unwrap_or_default();
    let pod_name = format!("{name}-{ordinal}");
    let spec = set.spec.as_ref();
    let template = spec
        .map(|s| serde_json::to_value(&s.template).unwrap_or_else(|_| json!({})))
        .unwrap_or_else(|| json!({}));
    let mut metadata = template
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    metadata["name"] = json!(pod_name);
    metadata["namespace"] = json!(namespace);
    metadata["labels"][POD_NAME_LABEL] = json!(pod_name);
    metadata["labels"][POD_INDEX_LABEL] = json!(ordinal.to_string());
    metadata["labels"][REVISION_LABEL] = json!(revision);
    metadata["ownerReferences"] = json!([status::owner_reference(
        "apps/v1",
        "StatefulSet",
        &set.metadata
    )]);
    let mut pod_spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    pod_spec["hostname"] = json!(pod_name);
    if let Some(service) = spec
        .and_then(|s| s.service_name.as_deref())
        .filter(|s| !s.is_empty())
    {
        pod_spec["subdomain"] = json!(service);
    }
    let templates = spec
        .and_then(|s| s.volume_claim_templates.clone())
        .unwrap_or_default();
    if !templates.is_empty() {
        let volumes = pod_spec
            .as_object_mut()
            .map(|s| s.entry("volumes").or_insert_with(|| json!([])));
        if let Some(Value::Array(volumes)) = volumes {
            for template in templates {
                let volume = template.metadata.name.clone().unwrap_or_default();
                volumes.retain(|v| v.get("name").and_then(Value::as_str) != Some(volume.as_str()));
                volumes.push(json!({"name": volume, "persistentVolumeClaim": {"claimName": format!("{volume}-{name}-{ordinal}")}}));
            }
        }
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec});
    context.create(context.cache.ids.pods, namespace, pod, CONTROLLER_MANAGER)?;
    record(context, set, "Create", &pod_name);
    Ok(())
}

fn write_status(
    context: &Context<'_>,
    set: &StatefulSet,
    pods: &[(i32, &Pod)],
    revision: &str,
) -> Option<Timestamp> {
    let min_ready = set
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let mut wake = None;
    let (mut count, mut ready, mut available, mut updated) = (0, 0, 0, 0);
    for (_, pod) in pods {
        if status::terminating(pod) || matches!(status::phase(pod), "Succeeded" | "Failed") {
            continue;
        }
        count += 1;
        if revision_of(pod) == Some(revision) {
            updated += 1;
        }
        match status::availability(pod, min_ready, context.now) {
            Ok(()) => {
                ready += 1;
                available += 1;
            }
            Err(Some(at)) => {
                ready += 1;
                wake = earliest(wake, Some(at));
            }
            Err(None) => {}
        }
    }
    let new_status = json!({
        "observedGeneration": set.metadata.generation.unwrap_or(0),
        "replicas": count,
        "readyReplicas": ready,
        "availableReplicas": available,
        "currentReplicas": updated,
        "updatedReplicas": updated,
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    });
    let current = set
        .status
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(Value::Null);
    if current != new_status {
        log_write(context.modify(
            context.cache.ids.stateful_sets,
            set.metadata.namespace.as_deref().unwrap_or_default(),
            set.metadata.name.as_deref().unwrap_or_default(),
            Subresource::Status,
            CONTROLLER_MANAGER,
            |value| status::replace_status(value, new_status),
        ));
    }
    wake
}
