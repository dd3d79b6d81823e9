//! Checks a scenario as a whole before it runs: its events name nodes and kinds it has and fall
//! within its duration, its quantities and replica counts are sane, and the cluster it asks for
//! stays within the documented limits, so a typo or a huge number gives one clear error rather
//! than a wrong story or an exhausted memory. Reads the parsed scenario only; runs nothing.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use serde_json::Value;

use super::{Action, Event, FieldProblem, Manifest};
use crate::{sim::Catalog, snapshot::quantity::Quantity};

/// The most nodes a scenario may have.
pub const MAX_NODES: u64 = 1_000;
/// The most pods a scenario may ask for: every workload at the largest replica count it is
/// ever given, every DaemonSet on every node, and every bare Pod. A simulated pod with its
/// history costs some kilobytes; this keeps a run well under a gigabyte.
pub const MAX_PODS: u64 = 20_000;
/// The most events a scenario may have.
pub const MAX_EVENTS: usize = 10_000;
/// The longest cluster time a scenario may cover: 30 days.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most samples of pods per node a report may hold (`duration / sampleEvery`).
pub const MAX_SAMPLES: u64 = 50_000;

/// The kinds a `scale` event can scale, as `kubectl scale` can.
const SCALABLE: [&str; 3] = ["Deployment", "StatefulSet", "ReplicaSet"];

/// Checks what a single object says on its own: a Node's quantities parse and are not negative,
/// a workload's replicas are between 0 and [`MAX_PODS`].
pub(super) fn object(kind: &str, object: &Value) -> Result<(), FieldProblem> {
    if kind == "Node" {
        for field in ["allocatable", "capacity"] {
            let Some(Value::Object(quantities)) = object.pointer(&format!("/status/{field}"))
            else {
                continue;
            };
            for (resource, value) in quantities {
                let at = format!(".status.{field}.{resource}");
                // YAML reads `pods: 110` as a number; Kubernetes reads it as the quantity 110.
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let quantity =
                    Quantity::parse(&text).map_err(|error| (at.clone(), error.to_string()))?;
                if quantity.is_negative() {
                    return Err((at, format!("{text:?} is negative")));
                }
            }
        }
    }
    if SCALABLE.contains(&kind)
        && let Some(replicas) = object.pointer("/spec/replicas").and_then(Value::as_i64)
    {
        replica_count(replicas).map_err(|message| (".spec.replicas".to_owned(), message))?;
    }
    Ok(())
}

/// A replica count between 0 and [`MAX_PODS`].
fn replica_count(replicas: i64) -> Result<u64, String> {
    match u64::try_from(replicas) {
        Err(_) => Err(format!(
            "{replicas} is negative; replicas must be 0 or more"
        )),
        Ok(count) if count > MAX_PODS => Err(format!(
            "{replicas} is beyond the simulation's limit of {MAX_PODS} pods"
        )),
        Ok(count) => Ok(count),
    }
}

/// The scenario's settings that bound a run's length and its report's size.
pub(super) struct Span {
    pub(super) duration: Duration,
    pub(super) sample_every: Duration,
}

/// Checks the scenario as a whole. `events` are in the file's order (errors name their index).
pub(super) fn scenario(
    catalog: &Catalog,
    span: &Span,
    objects: &[Manifest],
    events: &[Event],
) -> Result<(), FieldProblem> {
    if span.duration > MAX_DURATION {
        return Err((
            "settings.duration".to_owned(),
            format!(
                "{} is beyond the simulation's limit of 30 days",
                clock(span.duration)
            ),
        ));
    }
    let samples = span.duration.as_secs() / span.sample_every.as_secs().max(1);
    if samples > MAX_SAMPLES {
        return Err((
            "settings.sampleEvery".to_owned(),
            format!(
                "{} samples over {} are beyond the report's limit of {MAX_SAMPLES}; sample less often",
                samples,
                clock(span.duration)
            ),
        ));
    }
    let mut cluster = Demand::default();
    for manifest in objects {
        cluster.add(manifest);
    }
    // When each node first exists: at the start, or when an event applies it.
    let mut node_since: BTreeMap<&str, Duration> = objects
        .iter()
        .filter(|manifest| manifest.kind == "Node")
        .map(|manifest| (manifest.name.as_str(), Duration::ZERO))
        .collect();
    for event in events {
        if let Action::Apply(manifests) = &event.action {
            for manifest in manifests.iter().filter(|m| m.kind == "Node") {
                let since = node_since.entry(&manifest.name).or_insert(event.at);
                *since = (*since).min(event.at);
            }
        }
    }
    if node_since.is_empty() {
        return Err((
            "objects".to_owned(),
            "the scenario has no Node: add at least one (kind: Node) for pods to run on".to_owned(),
        ));
    }
    for (index, event) in events.iter().enumerate() {
        let at = |field: &str| format!("events[{index}]{field}");
        if event.at > span.duration {
            return Err((
                at(".at"),
                format!(
                    "{} is after the scenario ends ({}); raise settings.duration or drop the event",
                    clock(event.at),
                    clock(span.duration)
                ),
            ));
        }
        let key = format!(".{}", event.action.kind());
        if let Some(node) = event.action.node() {
            match node_since.get(node) {
                Some(since) if *since <= event.at => {}
                Some(since) => {
                    return Err((
                        at(&key),
                        format!("node {node:?} is only applied at {}", clock(*since)),
                    ));
                }
                None => {
                    let known: Vec<&str> = node_since.keys().copied().take(10).collect();
                    return Err((
                        at(&key),
                        format!(
                            "no node {node:?} in the scenario (nodes: {}{})",
                            known.join(", "),
                            if node_since.len() > known.len() {
                                ", ..."
                            } else {
                                ""
                            }
                        ),
                    ));
                }
            }
        }
        match &event.action {
            Action::Scale(scale) => {
                if !SCALABLE.contains(&scale.target.kind.as_str()) {
                    return Err((
                        at(&format!("{key}.kind")),
                        format!(
                            "{} cannot be scaled; scale one of {}",
                            scale.target.kind,
                            SCALABLE.join(", ")
                        ),
                    ));
                }
                let replicas = replica_count(i64::from(scale.replicas))
                    .map_err(|message| (at(&format!("{key}.replicas")), message))?;
                cluster.scale(
                    &scale.target.kind,
                    &scale.target.namespace,
                    &scale.target.name,
                    replicas,
                );
            }
            Action::Restart(target) | Action::Delete(target) => {
                let api_version = target.api_version();
                let (group, version) = api_version
                    .split_once('/')
                    .unwrap_or(("", api_version.as_str()));
                if !catalog
                    .types()
                    .any(|(_, t)| t.group == group && t.version == version && t.kind == target.kind)
                {
                    return Err((
                        at(&format!("{key}.kind")),
                        format!(
                            "{api_version} {} is not served by the simulated API",
                            target.kind
                        ),
                    ));
                }
            }
            Action::Apply(manifests) => {
                for manifest in manifests {
                    cluster.add(manifest);
                }
            }
            Action::NodeDown(_) | Action::NodeUp(_) | Action::Cordon(_) | Action::Uncordon(_) => {}
        }
    }
    cluster.within_limits()
}

/// The most pods a scenario's objects and events could ask for at once.
pub(super) fn pods_at_most(objects: &[Manifest], events: &[Event]) -> u64 {
    let mut demand = Demand::default();
    for manifest in objects {
        demand.add(manifest);
    }
    for event in events {
        match &event.action {
            Action::Apply(manifests) => manifests.iter().for_each(|m| demand.add(m)),
            Action::Scale(scale) => demand.scale(
                &scale.target.kind,
                &scale.target.namespace,
                &scale.target.name,
                u64::try_from(scale.replicas).unwrap_or(0),
            ),
            _ => {}
        }
    }
    demand.pods()
}

/// The most a scenario could ask of the cluster at once, counted generously: a workload at the
/// largest replica count it is ever given, and every node it ever has.
#[derive(Default)]
struct Demand {
    nodes: BTreeSet<String>,
    /// The largest replica count of each workload, by kind, namespace and name.
    workloads: BTreeMap<(String, String, String), u64>,
    daemon_sets: BTreeSet<(String, String)>,
    pods: BTreeSet<(String, String)>,
}

impl Demand {
    fn add(&mut self, manifest: &Manifest) {
        let object = &manifest.object;
        match manifest.kind.as_str() {
            "Node" => {
                self.nodes.insert(manifest.name.clone());
            }
            "DaemonSet" => {
                self.daemon_sets
                    .insert((manifest.namespace.clone(), manifest.name.clone()));
            }
            "Pod" => {
                self.pods
                    .insert((manifest.namespace.clone(), manifest.name.clone()));
            }
            kind if SCALABLE.contains(&kind) => {
                // The API defaults an unset replica count to 1; `object` refused negatives.
                let replicas = object
                    .pointer("/spec/replicas")
                    .and_then(Value::as_u64)
                    .unwrap_or(1);
                self.scale(kind, &manifest.namespace, &manifest.name, replicas);
            }
            _ => {}
        }
    }

    fn scale(&mut self, kind: &str, namespace: &str, name: &str, replicas: u64) {
        let key = (kind.to_owned(), namespace.to_owned(), name.to_owned());
        let most = self.workloads.entry(key).or_default();
        *most = (*most).max(replicas);
    }

    fn replicas(&self) -> u64 {
        self.workloads
            .values()
            .fold(0, |sum, n| sum.saturating_add(*n))
    }

    fn daemon_set_pods(&self) -> u64 {
        (self.daemon_sets.len() as u64).saturating_mul(self.nodes.len() as u64)
    }

    fn pods(&self) -> u64 {
        self.replicas()
            .saturating_add(self.daemon_set_pods())
            .saturating_add(self.pods.len() as u64)
    }

    fn within_limits(&self) -> Result<(), FieldProblem> {
        let nodes = self.nodes.len() as u64;
        if nodes > MAX_NODES {
            return Err((
                "objects".to_owned(),
                format!("{nodes} nodes are beyond the simulation's limit of {MAX_NODES}"),
            ));
        }
        let replicas: u64 = self
            .workloads
            .values()
            .fold(0, |sum, n| sum.saturating_add(*n));
        let daemons = (self.daemon_sets.len() as u64).saturating_mul(nodes);
        let pods = replicas
            .saturating_add(daemons)
            .saturating_add(self.pods.len() as u64);
        if pods > MAX_PODS {
            return Err((
                "objects".to_owned(),
                format!(
                    "the scenario asks for up to {pods} pods ({replicas} replicas, {daemons} DaemonSet \
                     pods, {} bare pods), beyond the simulation's limit of {MAX_PODS}",
                    self.pods.len()
                ),
            ));
        }
        Ok(())
    }
}

/// `1h10m` for people.
fn clock(duration: Duration) -> String {
    crate::sim::report::text::clock(duration.as_secs())
}
