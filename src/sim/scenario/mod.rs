//! Scenarios: starting objects (Kubernetes manifests), settings and timed events, read from YAML
//! with one clear error naming the event or object and the field. Describes what happens;
//! [`Simulation`] runs it.
//!
//! ```yaml
//! name: two-nodes
//! description: One node fails and comes back.
//! settings: {seed: 7, duration: 1h, podStartup: {min: 5s, max: 30s}, sampleEvery: 1m}
//! objects:
//!   - {apiVersion: v1, kind: Node, metadata: {name: n1, labels: {kubernetes.io/hostname: n1}},
//!      status: {allocatable: {cpu: "4", memory: 16Gi, pods: "110"}}}
//! events:
//!   - {at: 10m, nodeDown: n1}
//!   - {at: 40m, nodeUp: n1}
//!   - {at: 45m, scale: {kind: Deployment, namespace: default, name: web, replicas: 3}}
//! ```
//!
//! Events: `nodeDown`, `nodeUp`, `cordon` and `uncordon` name a node; `scale` takes `kind`,
//! `namespace`, `name` and `replicas`; `restart` (a rollout restart) and `delete` take `kind`,
//! `namespace`, `name` and optionally `apiVersion`; `apply` takes a manifest or a list of them
//! (server-side apply, forced). Settings default to seed 1, 1h, start-up 5s–45s, samples 1m.
//!
//! A scenario is checked as a whole before it runs (see [`limits`]): events name nodes it has
//! and fall within its duration, and it stays within 1,000 nodes, 20,000 pods, 10,000 events,
//! 30 days and 50,000 samples, so that no file can exhaust memory.

pub mod limits;
mod simulation;

use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

pub use simulation::{RunSimulation, Simulation};

use crate::{api::Duration as GoDuration, sim::Catalog, sim::apiserver::validation::UnknownFields};

/// The built-in scenario: the seed's homelab, its node failure and recovery.
pub const HOMELAB_RECOVERY: &str = include_str!("../../../scenarios/homelab-recovery.yaml");

/// The seed's homelab with every app in its own namespace, as Helm installs them.
pub const HOMELAB_NAMESPACES: &str = include_str!("../../../scenarios/homelab-namespaces.yaml");

/// 100 nodes in three zones, 24 teams' Deployments, one node down and back.
pub const HUNDRED_NODES: &str = include_str!("../../../scenarios/hundred-nodes.yaml");

/// The built-in scenarios, by name.
const BUILT_IN_TEXTS: [(&str, &str); 3] = [
    ("homelab-recovery", HOMELAB_RECOVERY),
    ("homelab-namespaces", HOMELAB_NAMESPACES),
    ("hundred-nodes", HUNDRED_NODES),
];

/// The names of the built-in scenarios.
pub const BUILT_IN: [&str; 3] = ["homelab-recovery", "homelab-namespaces", "hundred-nodes"];

/// Why a scenario could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadScenario {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Neither a built-in name nor a file.
    #[error("no scenario {name:?}: not a file, and the built-in scenarios are {}", BUILT_IN.join(", "))]
    Unknown {
        /// What was asked for.
        name: String,
    },
    /// Not YAML.
    #[error("scenario {source_name}: not valid YAML: {message}")]
    Syntax {
        /// The file or built-in name.
        source_name: String,
        /// The parser's message.
        message: String,
    },
    /// A field holds something it must not.
    #[error("scenario {source_name}: {field}: {message}")]
    Invalid {
        /// The file or built-in name.
        source_name: String,
        /// Where: `events[2].scale.replicas`, `objects[4] (apps/v1 Deployment homelab/web).spec.replicas`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl LoadScenario {
    /// A fixed label per variant.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Read { .. } => "read",
            Self::Unknown { .. } => "unknown",
            Self::Syntax { .. } => "syntax",
            Self::Invalid { .. } => "invalid",
        }
    }
}

/// A Kubernetes object of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// `group/version` or `v1`.
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// The namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// The object as written.
    pub object: Value,
}

impl Manifest {
    /// `apps/v1 Deployment homelab/web`.
    pub fn describe(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {} {}", self.api_version, self.kind, self.name)
        } else {
            format!(
                "{} {} {}/{}",
                self.api_version, self.kind, self.namespace, self.name
            )
        }
    }
}

/// An object an event refers to.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Target {
    /// `apps/v1` (default for Deployment, StatefulSet, ReplicaSet, DaemonSet), `v1`, ...
    #[serde(default)]
    pub api_version: Option<String>,
    /// The kind.
    pub kind: String,
    /// The namespace; empty for cluster-scoped kinds.
    #[serde(default)]
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl Target {
    /// The apiVersion, defaulted from the kind.
    pub fn api_version(&self) -> String {
        self.api_version.clone().unwrap_or_else(|| {
            match self.kind.as_str() {
                "Deployment" | "StatefulSet" | "ReplicaSet" | "DaemonSet" => "apps/v1",
                "PodDisruptionBudget" => "policy/v1",
                "SpreadPolicy" | "ClusterSpreadPolicy" => "kubespread.io/v1alpha1",
                _ => "v1",
            }
            .to_owned()
        })
    }

    /// `Deployment homelab/web`.
    pub fn describe(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// A `scale` event.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scale {
    /// The workload.
    #[serde(flatten)]
    pub target: Target,
    /// The new replica count.
    pub replicas: i32,
}

/// What an event does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The node's kubelet stops: no heartbeats, nothing runs or stops there.
    NodeDown(String),
    /// The node's kubelet starts again.
    NodeUp(String),
    /// `kubectl cordon`.
    Cordon(String),
    /// `kubectl uncordon`.
    Uncordon(String),
    /// `kubectl scale`.
    Scale(Scale),
    /// `kubectl rollout restart` (the restartedAt template annotation).
    Restart(Target),
    /// `kubectl apply --server-side` of manifests.
    Apply(Vec<Manifest>),
    /// `kubectl delete`.
    Delete(Target),
}

impl Action {
    /// The event's key in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NodeDown(_) => "nodeDown",
            Self::NodeUp(_) => "nodeUp",
            Self::Cordon(_) => "cordon",
            Self::Uncordon(_) => "uncordon",
            Self::Scale(_) => "scale",
            Self::Restart(_) => "restart",
            Self::Apply(_) => "apply",
            Self::Delete(_) => "delete",
        }
    }

    /// One line for people: `nodeDown homelab-02`.
    pub fn describe(&self) -> String {
        match self {
            Self::NodeDown(node)
            | Self::NodeUp(node)
            | Self::Cordon(node)
            | Self::Uncordon(node) => {
                format!("{} {node}", self.kind())
            }
            Self::Scale(scale) => {
                format!("scale {} to {}", scale.target.describe(), scale.replicas)
            }
            Self::Restart(target) => format!("restart {}", target.describe()),
            Self::Apply(manifests) => format!(
                "apply {}",
                manifests
                    .iter()
                    .map(|m| format!("{} {}", m.kind, m.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Delete(target) => format!("delete {}", target.describe()),
        }
    }

    /// The node an event is about, if any.
    pub fn node(&self) -> Option<&str> {
        match self {
            Self::NodeDown(node)
            | Self::NodeUp(node)
            | Self::Cordon(node)
            | Self::Uncordon(node) => Some(node),
            _ => None,
        }
    }
}

/// A timed event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Cluster time since the start.
    pub at: Duration,
    /// What happens.
    pub action: Action,
}

/// A scenario, read and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The seed of uids, generated names, start-up delays and tie-breaks.
    pub seed: u64,
    /// The wall-clock time the cluster starts at.
    pub start: Timestamp,
    /// How much cluster time the run covers.
    pub duration: Duration,
    /// The shortest pod start-up delay.
    pub pod_startup_min: Duration,
    /// The longest pod start-up delay.
    pub pod_startup_max: Duration,
    /// How often the report samples pods per node.
    pub sample_every: Duration,
    /// The objects that exist at the start, namespaces first.
    pub objects: Vec<Manifest>,
    /// The events, in time order.
    pub events: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct File {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    objects: Vec<Value>,
    #[serde(default)]
    events: Vec<Value>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Settings {
    seed: Option<u64>,
    start: Option<Timestamp>,
    duration: Option<GoDuration>,
    pod_startup: Option<Startup>,
    sample_every: Option<GoDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Startup {
    min: GoDuration,
    max: GoDuration,
}

impl Scenario {
    /// A built-in scenario by name, or a file by path.
    pub fn load(name_or_path: &str) -> Result<Self, LoadScenario> {
        if let Some((name, text)) = BUILT_IN_TEXTS
            .iter()
            .find(|(name, _)| *name == name_or_path)
        {
            return Self::parse(name, text);
        }
        let path = std::path::Path::new(name_or_path);
        if !path.exists() {
            return Err(LoadScenario::Unknown {
                name: name_or_path.to_owned(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| LoadScenario::Read {
            path: name_or_path.to_owned(),
            source,
        })?;
        Self::parse(name_or_path, &text)
    }

    /// The most pods the scenario can ask for at once (see [`limits::MAX_PODS`]).
    pub fn pods_at_most(&self) -> u64 {
        limits::pods_at_most(&self.objects, &self.events)
    }

    /// The built-in homelab scenario.
    pub fn homelab_recovery() -> Result<Self, LoadScenario> {
        Self::parse("homelab-recovery", HOMELAB_RECOVERY)
    }

    /// Reads a scenario from YAML text; `source_name` names it in errors.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, LoadScenario> {
        let invalid = |field: String, message: String| LoadScenario::Invalid {
            source_name: source_name.to_owned(),
            field,
            message,
        };
        let mut options = serde_saphyr::Options::default();
        let mut budget = serde_saphyr::Budget::default();
        budget.max_events = usize::MAX;
        budget.max_nodes = usize::MAX;
        budget.max_total_scalar_bytes = usize::MAX;
        budget.max_reader_input_bytes = None;
        options.budget = Some(budget);
        let value: Value = serde_saphyr::from_str_with_options(text, options).map_err(|error| {
            LoadScenario::Syntax {
                source_name: source_name.to_owned(),
                message: error.without_snippet().to_string().replace('\n', " "),
            }
        })?;
        let file: File = serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            invalid(if path == "." { String::new() } else { path }, message)
        })?;
        let catalog = Catalog::standard();
        let mut objects = Vec::new();
        for (index, object) in file.objects.into_iter().enumerate() {
            objects.push(manifest(&catalog, object).map_err(|(field, message)| {
                invalid(format!("objects[{index}]{field}"), message)
            })?);
        }
        // Namespaces first, as kubectl applies a directory.
        objects.sort_by_key(|m| m.kind != "Namespace");
        if file.events.len() > limits::MAX_EVENTS {
            return Err(invalid(
                "events".to_owned(),
                format!(
                    "{} events are beyond the simulation's limit of {}",
                    file.events.len(),
                    limits::MAX_EVENTS
                ),
            ));
        }
        let mut events = Vec::new();
        for (index, event) in file.events.into_iter().enumerate() {
            events.push(
                self::event(&catalog, event).map_err(|(field, message)| {
                    invalid(format!("events[{index}]{field}"), message)
                })?,
            );
        }
        let settings = file.settings;
        let (startup_min, startup_max) = settings
            .pod_startup
            .map_or((Duration::from_secs(5), Duration::from_secs(45)), |s| {
                (s.min.get(), s.max.get())
            });
        if startup_min > startup_max {
            return Err(invalid(
                "settings.podStartup".to_owned(),
                "min must not exceed max".to_owned(),
            ));
        }
        let start = settings.start.unwrap_or_else(|| {
            Timestamp::from_second(1_760_947_200).unwrap_or(Timestamp::UNIX_EPOCH)
        });
        let span = limits::Span {
            duration: settings
                .duration
                .map_or(Duration::from_secs(3600), GoDuration::get),
            sample_every: settings
                .sample_every
                .map_or(Duration::from_secs(60), GoDuration::get)
                .max(Duration::from_secs(1)),
        };
        // Checked in the file's order, so an error names the event as written.
        limits::scenario(&catalog, &span, &objects, &events)
            .map_err(|(field, message)| invalid(field, message))?;
        events.sort_by_key(|event| event.at);
        Ok(Self {
            name: file.name,
            description: file.description,
            seed: settings.seed.unwrap_or(1),
            start,
            duration: span.duration,
            pod_startup_min: startup_min,
            pod_startup_max: startup_max,
            sample_every: span.sample_every,
            objects,
            events,
        })
    }
}

type FieldProblem = (String, String);

/// Checks an object: apiVersion, kind and name present, a kind the simulated API serves, the
/// fields of known kinds of the right types, SpreadPolicies valid against the CRD.
fn manifest(catalog: &Catalog, object: Value) -> Result<Manifest, FieldProblem> {
    let text = |field: &str| {
        object
            .pointer(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let api_version = text("/apiVersion");
    let kind = text("/kind");
    let name = text("/metadata/name");
    let namespace = text("/metadata/namespace");
    for (field, value) in [
        ("apiVersion", &api_version),
        ("kind", &kind),
        ("metadata.name", &name),
    ] {
        if value.is_empty() {
            return Err((format!(".{field}"), "is required".to_owned()));
        }
    }
    let described = Manifest {
        api_version: api_version.clone(),
        kind: kind.clone(),
        namespace: namespace.clone(),
        name: name.clone(),
        object: Value::Null,
    }
    .describe();
    let at = |field: String| format!(" ({described}){field}");
    let (group, version) = api_version
        .split_once('/')
        .unwrap_or(("", api_version.as_str()));
    let Some((_, resource)) = catalog
        .types()
        .find(|(_, t)| t.group == group && t.version == version && t.kind == kind)
    else {
        return Err((
            at(".kind".to_owned()),
            format!("{api_version} {kind} is not served by the simulated API"),
        ));
    };
    if resource.namespaced && namespace.is_empty() {
        return Err((
            at(".metadata.namespace".to_owned()),
            "is required for a namespaced kind".to_owned(),
        ));
    }
    typecheck(&kind, &object).map_err(|(field, message)| (at(field), message))?;
    limits::object(&kind, &object).map_err(|(field, message)| (at(field), message))?;
    Ok(Manifest {
        api_version,
        kind,
        namespace: if resource.namespaced {
            namespace
        } else {
            String::new()
        },
        name,
        object,
    })
}

fn typed<K: serde::de::DeserializeOwned>(object: &Value) -> Result<(), FieldProblem> {
    serde_path_to_error::deserialize::<_, K>(object.clone())
        .map(|_| ())
        .map_err(|error| under("", error))
}

fn typecheck(kind: &str, object: &Value) -> Result<(), FieldProblem> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, policy::v1 as policy};
    match kind {
        "Node" => typed::<core::Node>(object),
        "Namespace" => typed::<core::Namespace>(object),
        "Pod" => typed::<core::Pod>(object),
        "PersistentVolumeClaim" => typed::<core::PersistentVolumeClaim>(object),
        "PersistentVolume" => typed::<core::PersistentVolume>(object),
        "Deployment" => typed::<apps::Deployment>(object),
        "StatefulSet" => typed::<apps::StatefulSet>(object),
        "DaemonSet" => typed::<apps::DaemonSet>(object),
        "ReplicaSet" => typed::<apps::ReplicaSet>(object),
        "PodDisruptionBudget" => typed::<policy::PodDisruptionBudget>(object),
        "SpreadPolicy" | "ClusterSpreadPolicy" => {
            use crate::sim::apiserver::validation::{
                cluster_spread_policy_schema, spread_policy_schema,
            };
            let schema = if kind == "ClusterSpreadPolicy" {
                cluster_spread_policy_schema()
            } else {
                spread_policy_schema()
            }
            .map_err(|error| (String::new(), error.to_string()))?;
            schema
                .validate_with(object, UnknownFields::Reject)
                .map(|_| ())
                .map_err(|invalid| (String::new(), invalid.to_string()))
        }
        _ => Ok(()),
    }
}

/// A deserialization error at its path below `field`.
fn under(field: &str, error: serde_path_to_error::Error<serde_json::Error>) -> FieldProblem {
    let path = error.path().to_string();
    let field = if path == "." {
        field.to_owned()
    } else {
        format!("{field}.{path}")
    };
    (field, error.into_inner().to_string())
}

fn event(catalog: &Catalog, value: Value) -> Result<Event, FieldProblem> {
    let Value::Object(mut fields) = value else {
        return Err((
            String::new(),
            "an event is a map with `at` and one action".to_owned(),
        ));
    };
    let at = match fields.remove("at") {
        Some(Value::String(text)) => text
            .parse::<GoDuration>()
            .map_err(|error| (".at".to_owned(), error.to_string()))?
            .get(),
        Some(_) => {
            return Err((
                ".at".to_owned(),
                "must be a duration such as \"10m\"".to_owned(),
            ));
        }
        None => return Err((".at".to_owned(), "is required".to_owned())),
    };
    const ACTIONS: &str = "nodeDown, nodeUp, cordon, uncordon, scale, restart, apply, delete";
    let mut entries = fields.into_iter();
    let (Some((key, body)), None) = (entries.next(), entries.next()) else {
        return Err((
            String::new(),
            format!("needs exactly one action besides `at`: one of {ACTIONS}"),
        ));
    };
    let field = format!(".{key}");
    let node = |body: Value| match body {
        Value::String(node) if !node.is_empty() => Ok(node),
        _ => Err((field.clone(), "must be a node name".to_owned())),
    };
    let parse = |body: Value| -> Result<Target, FieldProblem> {
        serde_path_to_error::deserialize(body).map_err(|error| under(&field, error))
    };
    let action = match key.as_str() {
        "nodeDown" => Action::NodeDown(node(body)?),
        "nodeUp" => Action::NodeUp(node(body)?),
        "cordon" => Action::Cordon(node(body)?),
        "uncordon" => Action::Uncordon(node(body)?),
        "scale" => Action::Scale(
            serde_path_to_error::deserialize(body).map_err(|error| under(&field, error))?,
        ),
        "restart" => Action::Restart(parse(body)?),
        "delete" => Action::Delete(parse(body)?),
        "apply" => {
            let items = match body {
                Value::Array(items) => items,
                other => vec![other],
            };
            let mut manifests = Vec::new();
            for (index, item) in items.into_iter().enumerate() {
                manifests.push(
                    manifest(catalog, item)
                        .map_err(|(f, m)| (format!("{field}[{index}]{f}"), m))?,
                );
            }
            Action::Apply(manifests)
        }
        other => {
            return Err((
                format!(".{other}"),
                format!("is not an event; use one of {ACTIONS}"),
            ));
        }
    };
    Ok(Event { at, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        Scenario::parse("test.yaml", text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn bad_events_and_objects_are_named_with_their_field() {
        assert_eq!(
            error("name: x\nevents:\n- {at: 10m, nodeDown: n1}\n- {at: soon, nodeUp: n1}\n"),
            "scenario test.yaml: events[1].at: \"soon\" is not a duration such as \"30s\", \"5m\" or \"1h30m\""
        );
        assert_eq!(
            error("name: x\nevents:\n- {at: 1m, reboot: n1}\n"),
            "scenario test.yaml: events[0].reboot: is not an event; use one of nodeDown, nodeUp, cordon, uncordon, scale, restart, apply, delete"
        );
        assert_eq!(
            error(
                "name: x\nevents:\n- {at: 1m, scale: {kind: Deployment, namespace: a, name: b, replicas: many}}\n"
            ),
            "scenario test.yaml: events[0].scale.replicas: invalid type: string \"many\", expected i32"
        );
        let object = error(
            "name: x\nobjects:\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: a}, spec: {replicas: two, selector: {}, template: {}}}\n",
        );
        assert!(
            object.starts_with("scenario test.yaml: objects[0] (apps/v1 Deployment a/web).spec.replicas: invalid type"),
            "{object}"
        );
        assert!(
            error("name: x\nsettings: {sed: 4}\n").contains("settings"),
            "unknown settings are refused"
        );
    }

    #[test]
    fn the_built_in_scenario_reads() {
        let scenario = Scenario::homelab_recovery().expect("homelab-recovery");
        assert_eq!(scenario.name, "homelab-recovery");
        assert!(scenario.duration >= Duration::from_secs(7200));
        assert!(
            scenario
                .events
                .iter()
                .any(|e| e.action == Action::NodeDown("homelab-02".to_owned()))
        );
        assert_eq!(
            scenario.objects.first().map(|m| m.kind.as_str()),
            Some("Namespace")
        );
    }
}
