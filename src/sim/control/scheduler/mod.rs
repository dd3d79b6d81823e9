//! kube-scheduler with the default profile, on its own code: it reads the API objects of the
//! control plane's cache and shares no placement code with the planner, so a test can catch
//! a planner that mispredicts it. Binds Pending pods by priority, then age; marks the others
//! Unschedulable and retries them when something else changes. It never preempts.
//!
//! - [`view`]: the cluster as the scheduler's cache holds it; [`selector`], [`quantity`].
//! - [`filter`], [`spread`], [`affinity`]: the PreFilter and Filter plugins.
//! - [`score`] (with [`spread`] and [`affinity`]): the score plugins, normalized.
//! - [`decision`]: one cycle as a value ([`evaluate`]) and `selectHost`.
//! - [`events`]: `Scheduled` and `FailedScheduling` Events, repeats folded into series.

pub mod affinity;
pub mod decision;
pub mod events;
pub mod filter;
pub mod quantity;
pub mod score;
pub mod selector;
pub mod spread;
pub mod view;

use std::collections::BTreeSet;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use serde_json::{Value, json};

pub use decision::{Evaluation, NodeScore, WEIGHTS, evaluate};
pub use view::{Inputs, View};

use super::{
    Context, SCHEDULER, Write, log_write,
    status::{self, node_of, terminating},
};
use crate::sim::{Subresource, prng::Prng};

/// The annotation the scheduler puts on a WaitForFirstConsumer claim: the node it chose.
pub const SELECTED_NODE_ANNOTATION: &str = "volume.kubernetes.io/selected-node";

/// The scheduler: its tie-break draws, its Events, and what it last wrote.
#[derive(Debug)]
pub struct Scheduler {
    random: Prng,
    recorder: events::Recorder,
    /// The store's resourceVersion when the last pass ended.
    seen: Option<u64>,
    /// The resourceVersions the last pass wrote.
    own: BTreeSet<u64>,
}

impl Scheduler {
    /// A scheduler drawing ties from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            random: Prng::new(seed ^ 0x7363_6865_6475_6c65),
            recorder: events::Recorder::default(),
            seen: None,
            own: BTreeSet::new(),
        }
    }

    /// Whether nothing changed since the last pass but its own writes and Events: the
    /// scheduler watches no Events, and its binds are already in its view, so a retry now
    /// would only repeat the last verdicts.
    fn nothing_new(&mut self, context: &Context<'_>) -> bool {
        let Some(seen) = self.seen else {
            return false;
        };
        let Ok((changes, newest)) = context.store.changes_after(seen) else {
            return false;
        };
        let events = context.store.catalog().find("", "v1", "events");
        let quiet = changes
            .iter()
            .all(|c| self.own.contains(&c.resource_version) || Some(c.resource) == events);
        if quiet {
            self.seen = Some(newest);
        }
        quiet
    }

    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        if self.nothing_new(context) {
            return None;
        }
        let cache = context.cache;
        let mut pending: Vec<&std::sync::Arc<Pod>> = cache
            .pods
            .iter()
            .filter(|pod| wants_scheduling(pod))
            .collect();
        pending.sort_by_key(|pod| {
            (
                std::cmp::Reverse(pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)),
                pod.metadata.creation_timestamp.as_ref().map(|t| t.0),
                pod.metadata.namespace.clone(),
                pod.metadata.name.clone(),
            )
        });
        if pending.is_empty() {
            self.own.clear();
            self.seen = Some(context.store.resource_version());
            return None;
        }
        let namespaces = namespaces(context);
        let mut inputs = Inputs::of(cache);
        inputs.namespaces = namespaces.iter().collect();
        let mut view = View::new(&inputs);
        let events = context
            .store
            .catalog()
            .find("events.k8s.io", "v1", "events");
        let mut own = Vec::new();
        for pod in pending {
            let evaluation = evaluate(&view, pod);
            let note = match evaluation.select(&mut self.random) {
                Some(node) => {
                    trace_choice(pod, node, &evaluation);
                    let Some(written) = log_write(bind(context, pod, node)) else {
                        continue;
                    };
                    own.extend(written);
                    view.assume(pod, node);
                    events::Note {
                        kind: "Normal",
                        reason: "Scheduled",
                        action: "Binding",
                        message: format!(
                            "Successfully assigned {}/{} to {node}",
                            pod.metadata.namespace.as_deref().unwrap_or_default(),
                            pod.metadata.name.as_deref().unwrap_or_default()
                        ),
                    }
                }
                None => {
                    let message = evaluation.message.unwrap_or_default();
                    own.extend(log_write(mark_unschedulable(context, pod, &message)).flatten());
                    events::Note {
                        kind: "Warning",
                        reason: "FailedScheduling",
                        action: "Scheduling",
                        message,
                    }
                }
            };
            if let Some(events) = events {
                own.extend(
                    log_write(self.recorder.record(context, events, pod, note))
                        .into_iter()
                        .flatten(),
                );
            }
        }
        self.own = own.into_iter().collect();
        self.seen = Some(context.store.resource_version());
        None
    }
}

/// Logs, at debug level, the node chosen for a pod and the best-scored feasible nodes, as
/// kube-scheduler does at high verbosity: the record to read when a prediction missed.
fn trace_choice(pod: &Pod, node: &str, evaluation: &decision::Evaluation) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let mut best: Vec<&decision::NodeScore> = evaluation.feasible().collect();
    best.sort_by_key(|n| std::cmp::Reverse(n.total));
    let best: Vec<String> = best
        .iter()
        .take(5)
        .map(|n| format!("{}={} {:?}", n.node, n.total, n.scores))
        .collect();
    tracing::debug!(
        pod = %format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        ),
        node,
        best = %best.join("; "),
        "Scheduled a pod."
    );
}

/// The Namespaces, read from the store (the cache keeps none): affinity terms select them
/// by label.
fn namespaces(context: &Context<'_>) -> Vec<Namespace> {
    context
        .store
        .all(context.cache.ids.namespaces)
        .iter()
        .filter_map(|object| object.typed::<Namespace>().ok())
        .collect()
}

/// Whether the default scheduler should place this pod now.
fn wants_scheduling(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    node_of(pod).is_none()
        && !terminating(pod)
        && !matches!(status::phase(pod), "Succeeded" | "Failed")
        && spec
            .scheduler_name
            .as_deref()
            .is_none_or(|name| name.is_empty() || name == "default-scheduler")
        && spec.scheduling_gates.as_ref().is_none_or(Vec::is_empty)
}

/// Binds the pod, after naming the node on its unbound claims (VolumeBinding's PreBind for
/// WaitForFirstConsumer claims); returns the resourceVersions written.
fn bind(context: &Context<'_>, pod: &Pod, node: &str) -> Result<Vec<u64>, Write> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let mut written = Vec::new();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let Some(claim) = &volume.persistent_volume_claim else {
            continue;
        };
        let unbound = context
            .cache
            .claims
            .get(namespace, &claim.claim_name)
            .is_some_and(|c| {
                c.spec
                    .as_ref()
                    .and_then(|s| s.volume_name.as_deref())
                    .is_none_or(str::is_empty)
            });
        if unbound {
            let annotated = context.modify(
                context.cache.ids.claims,
                namespace,
                &claim.claim_name,
                Subresource::Main,
                SCHEDULER,
                |value| select_node(value, node),
            )?;
            written.extend(annotated.map(|o| o.header.resource_version));
        }
    }
    let bound = context
        .store
        .bind(namespace, name, node)
        .map_err(|source| Write::BindPod {
            pod: format!("{namespace}/{name}"),
            node: node.to_owned(),
            source,
        })?;
    written.push(bound.header.resource_version);
    Ok(written)
}

/// Puts the selected-node annotation on a claim that has none.
fn select_node(claim: &mut Value, node: &str) -> bool {
    if claim
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(SELECTED_NODE_ANNOTATION))
        .is_some()
    {
        return false;
    }
    let Some(metadata) = claim.get_mut("metadata").and_then(Value::as_object_mut) else {
        return false;
    };
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(SELECTED_NODE_ANNOTATION.to_owned(), json!(node));
    }
    true
}

/// PodScheduled=False, reason Unschedulable (written only when it changes); the
/// resourceVersion written, if it was.
fn mark_unschedulable(
    context: &Context<'_>,
    pod: &Pod,
    message: &str,
) -> Result<Option<u64>, Write> {
    let now = context.stamp();
    let written = context.modify(
        context.cache.ids.pods,
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
        Subresource::Status,
        SCHEDULER,
        |value| {
            status::set_condition(
                value,
                json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                       "message": message, "lastProbeTime": null, "lastTransitionTime": now}),
            )
        },
    )?;
    Ok(written.map(|o| o.header.resource_version))
}
