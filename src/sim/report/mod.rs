//! What a simulation showed: pods per node over time, events and node transitions, pods moved
//! by clients (with budget violations and pinned pods among them), the final placement.
//! [`Recorder`] only reads the store's change feed; it never writes.
//!
//! - [`groups`]: per SpreadPolicy group, the rebalancing: start, lower bound, moves, flights.
//! - [`text`]: the story for people, with bars.
//! - [`svg`]: a hand-written chart of pods per node over time.

pub mod groups;
pub mod svg;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

use super::{
    ChangeKind, Cursor, Store,
    control::{
        Cache,
        deployment::{RESTARTED_AT_ANNOTATION, revision},
        status::{self, controller_of, node_of},
    },
};
use crate::{api::HOSTNAME_LABEL, sim::ResourceId};

/// Pods per node at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Seconds of cluster time since the start.
    pub t: u64,
    /// Pods bound to each node, not terminating and not finished.
    pub pods: BTreeMap<String, u32>,
    /// Pods waiting for a node.
    pub pending: u32,
    /// Pods being deleted (on any node).
    pub terminating: u32,
    /// The event that happened at this moment, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// Something that happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    /// Seconds of cluster time since the start.
    pub t: u64,
    /// `nodeDown`, `nodeUp`, ... for scenario events; `nodeNotReady`, `nodeReady`,
    /// `taintEviction` for what the cluster did.
    pub kind: String,
    /// The node concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// One line for people.
    pub description: String,
    /// Whether the scenario made it happen (rather than the cluster).
    pub scenario: bool,
}

/// One pod moved by a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Move {
    /// Seconds of cluster time since the start.
    pub t: u64,
    /// `namespace/name`.
    pub pod: String,
    /// The node it left.
    pub from: Option<String>,
    /// `eviction` or `rolloutRestart`.
    pub how: String,
    /// `Kind/name` of its workload (a ReplicaSet's Deployment), when it has one.
    pub workload: Option<String>,
    /// A DaemonSet pod or one pinned to its node.
    pub pinned: bool,
    /// Budgets this move took below their desired healthy count.
    pub violated: Vec<String>,
}

/// A node's pods at the two moments the story compares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePods {
    /// The node.
    pub name: String,
    /// Just before the first event.
    pub pods_before: u32,
    /// At the end.
    pub pods_at_end: u32,
}

/// A pod at the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Node, if bound.
    pub node: Option<String>,
    /// Phase.
    pub phase: String,
    /// Ready.
    pub ready: bool,
    /// Being deleted.
    pub terminating: bool,
}

/// The report of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// What it shows.
    pub description: String,
    /// The seed.
    pub seed: u64,
    /// Whether kube-spread's controller ran in the simulation.
    pub controller: bool,
    /// Cluster time covered, in seconds.
    pub cluster_seconds: u64,
    /// Pods per node before the first event and at the end.
    pub nodes: Vec<NodePods>,
    /// Pods per node sampled over time, with the scenario's events.
    pub timeline: Vec<Sample>,
    /// Events and the node transitions they caused.
    pub events: Vec<Mark>,
    /// Pods evicted or rollout-restarted by clients.
    pub moves: u32,
    /// Times a client's eviction or restart took a budget below its desired healthy pods.
    pub pdb_violations: u32,
    /// DaemonSet or pinned pods among the moves.
    pub pinned_moved: u32,
    /// Each move.
    pub move_log: Vec<Move>,
    /// Replacements of moved pods that became Ready, by whether they landed where the plan
    /// predicted (the controller's `Landed` and `LandedElsewhere` Events).
    pub replacements: Replacements,
    /// Per SpreadPolicy group: domains at the start of rebalancing and at the end, the
    /// planner's lower bound at the start, moves, and the most moves in flight at once.
    pub policy_groups: Vec<groups::GroupReport>,
    /// Every pod at the end.
    pub final_pods: Vec<PodRow>,
}

/// Where the replacements of moved pods landed, against the plan's prediction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replacements {
    /// On the node the plan predicted.
    pub as_planned: u32,
    /// On a node the plan knew the scheduler scores as high as the predicted one.
    pub among_equals: u32,
    /// On another node.
    pub elsewhere: u32,
}

/// The recorder read the store's change feed too late: changes it needed had already left the
/// store's bounded history, so the report would miss moves and evictions. The run stops
/// rather than tell a story with holes in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the report fell behind the cluster: changes after resourceVersion {read_up_to} left the \
     store's bounded history before they were read, so moves and evictions would be missing"
)]
pub struct FellBehind {
    /// The resourceVersion the recorder had read up to.
    pub read_up_to: u64,
}

/// Watches a simulation and builds its report.
#[derive(Debug)]
pub struct Recorder {
    start: Timestamp,
    sample_every: std::time::Duration,
    next_sample: Timestamp,
    timeline: Vec<Sample>,
    marks: Vec<Mark>,
    before: Option<BTreeMap<String, u32>>,
    cursor: Cursor,
    moves: Vec<Move>,
    node_ready: BTreeMap<String, String>,
    taint_evictions: BTreeMap<String, (u64, u32)>,
    groups: groups::GroupRecorder,
    /// Events (events.k8s.io ones are kept as core Events), where the controller says where
    /// replacements landed.
    events: Option<ResourceId>,
    replacements: Replacements,
}

fn seconds_between(start: Timestamp, at: Timestamp) -> u64 {
    u64::try_from(at.duration_since(start).as_secs()).unwrap_or(0)
}

/// Pods per node (bound, active), pending pods, terminating pods.
pub fn pods_per_node(cache: &Cache) -> (BTreeMap<String, u32>, u32, u32) {
    let mut per_node: BTreeMap<String, u32> = cache
        .nodes
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .map(|n| (n, 0))
        .collect();
    let (mut pending, mut terminating) = (0, 0);
    for pod in cache.pods.iter() {
        if status::terminating(pod) {
            terminating += 1;
            continue;
        }
        if !status::is_active(pod) {
            continue;
        }
        match node_of(pod) {
            Some(node) => *per_node.entry(node.to_owned()).or_default() += 1,
            None => pending += 1,
        }
    }
    (per_node, pending, terminating)
}

impl Recorder {
    /// A recorder for a run that starts at `start`, sampling every `sample_every`.
    pub fn new(store: &Store, start: Timestamp, sample_every: std::time::Duration) -> Self {
        Self {
            start,
            sample_every,
            next_sample: start,
            timeline: Vec::new(),
            marks: Vec::new(),
            before: None,
            cursor: store.subscribe(None),
            moves: Vec::new(),
            node_ready: BTreeMap::new(),
            taint_evictions: BTreeMap::new(),
            groups: groups::GroupRecorder::new(store),
            events: store.catalog().find("", "v1", "events"),
            replacements: Replacements::default(),
        }
    }

    /// When the next sample is due.
    pub fn next_sample(&self) -> Timestamp {
        self.next_sample
    }

    fn sample(&mut self, cache: &Cache, now: Timestamp, event: Option<String>) {
        let (pods, pending, terminating) = pods_per_node(cache);
        self.timeline.push(Sample {
            t: seconds_between(self.start, now),
            pods,
            pending,
            terminating,
            event,
        });
    }

    /// Records a scenario event about to happen; the first one fixes "before".
    pub fn event(
        &mut self,
        cache: &Cache,
        now: Timestamp,
        kind: &str,
        node: Option<&str>,
        description: String,
    ) {
        if self.before.is_none() {
            self.before = Some(pods_per_node(cache).0);
        }
        self.groups.scenario_event();
        let t = seconds_between(self.start, now);
        match self.timeline.last_mut() {
            // A sample taken this very moment carries the event instead of a second sample.
            Some(last) if last.t == t && last.event.is_none() => {
                last.event = Some(description.clone());
            }
            _ => self.sample(cache, now, Some(description.clone())),
        }
        self.marks.push(Mark {
            t: seconds_between(self.start, now),
            kind: kind.to_owned(),
            node: node.map(str::to_owned),
            description,
            scenario: true,
        });
    }

    /// Takes in what changed: node transitions, client moves, and a sample when one is due.
    /// Fails when changes were lost before they could be read.
    pub fn observe(&mut self, cache: &Cache, now: Timestamp) -> Result<(), FellBehind> {
        self.read_changes(cache, now)?;
        let t = seconds_between(self.start, now);
        self.groups.observe(cache, now, t, &self.moves);
        for node in cache.nodes.iter() {
            let name = node.metadata.name.clone().unwrap_or_default();
            let ready = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                .map_or("Unknown", |c| c.status.as_str())
                .to_owned();
            let previous = self.node_ready.insert(name.clone(), ready.clone());
            match previous.as_deref() {
                Some(before) if before != ready => {
                    let (kind, description) = if ready == "True" {
                        (
                            "nodeReady",
                            format!("{name} Ready again; its taints are lifted"),
                        )
                    } else {
                        (
                            "nodeNotReady",
                            format!("{name} NotReady (Ready={ready}); tainted, its pods NotReady"),
                        )
                    };
                    self.marks.push(Mark {
                        t: seconds_between(self.start, now),
                        kind: kind.to_owned(),
                        node: Some(name.clone()),
                        description,
                        scenario: false,
                    });
                }
                _ => {}
            }
        }
        while self.next_sample <= now {
            self.sample(cache, now, None);
            self.next_sample = super::control::after(self.next_sample, self.sample_every);
        }
        Ok(())
    }

    fn read_changes(&mut self, cache: &Cache, now: Timestamp) -> Result<(), FellBehind> {
        let read_up_to = self.cursor.position();
        let changes = self.cursor.poll().map_err(|_| FellBehind { read_up_to })?;
        for change in changes {
            if Some(change.resource) == self.events && change.kind == ChangeKind::Added {
                let reason = change.object.value().ok().and_then(|event| {
                    event
                        .get("reason")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                });
                match reason.as_deref() {
                    Some("Landed") => self.replacements.as_planned += 1,
                    Some("LandedAmongEquals") => self.replacements.among_equals += 1,
                    Some("LandedElsewhere") => self.replacements.elsewhere += 1,
                    _ => {}
                }
                continue;
            }
            if change.resource != cache.ids.pods || change.kind != ChangeKind::Modified {
                continue;
            }
            let started_deleting = change.object.header.deleting
                && change.previous.as_ref().is_some_and(|p| !p.header.deleting);
            if !started_deleting {
                continue;
            }
            let Ok(pod) = change.object.typed::<Pod>() else {
                continue;
            };
            let reason = disruption_reason(&pod);
            let from = node_of(&pod).map(str::to_owned);
            let how = match reason.as_deref() {
                Some("EvictionByEvictionAPI") => "eviction",
                Some("DeletionByTaintManager") => {
                    let node = from.clone().unwrap_or_default();
                    let entry = self
                        .taint_evictions
                        .entry(node)
                        .or_insert((seconds_between(self.start, now), 0));
                    entry.1 += 1;
                    continue;
                }
                _ if restarted(cache, &pod) => "rolloutRestart",
                _ => continue,
            };
            let pinned = is_pinned(cache, &pod);
            let violated = violated_budgets(cache, &pod);
            self.moves.push(Move {
                t: seconds_between(self.start, now),
                pod: format!(
                    "{}/{}",
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    pod.metadata.name.as_deref().unwrap_or_default()
                ),
                from,
                how: how.to_owned(),
                workload: groups::workload_of(
                    cache,
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    &pod.metadata,
                ),
                pinned,
                violated,
            });
        }
        Ok(())
    }

    /// The report, with the final placement from `cache`; fails when changes were lost.
    pub fn finish(
        mut self,
        cache: &Cache,
        now: Timestamp,
        scenario: &super::scenario::Scenario,
    ) -> Result<Report, FellBehind> {
        self.read_changes(cache, now)?;
        let t = seconds_between(self.start, now);
        self.groups.observe(cache, now, t, &self.moves);
        if self
            .timeline
            .last()
            .is_none_or(|s| s.t != seconds_between(self.start, now))
        {
            self.sample(cache, now, None);
        }
        for (node, (t, count)) in &self.taint_evictions {
            self.marks.push(Mark {
                t: *t,
                kind: "taintEviction".to_owned(),
                node: Some(node.clone()),
                description: format!(
                    "{count} pod(s) evicted from {node}: their NoExecute toleration ran out"
                ),
                scenario: false,
            });
        }
        self.marks.sort_by_key(|m| m.t);
        let (end, _, _) = pods_per_node(cache);
        let before = self.before.clone().unwrap_or_else(|| end.clone());
        let names: BTreeSet<&String> = end.keys().chain(before.keys()).collect();
        let nodes = names
            .into_iter()
            .map(|name| NodePods {
                name: name.clone(),
                pods_before: before.get(name).copied().unwrap_or(0),
                pods_at_end: end.get(name).copied().unwrap_or(0),
            })
            .collect();
        let final_pods = cache
            .pods
            .iter()
            .map(|pod| PodRow {
                namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                name: pod.metadata.name.clone().unwrap_or_default(),
                node: node_of(pod).map(str::to_owned),
                phase: status::phase(pod).to_owned(),
                ready: status::is_ready(pod),
                terminating: status::terminating(pod),
            })
            .collect();
        let count = |f: &dyn Fn(&Move) -> bool| {
            u32::try_from(self.moves.iter().filter(|m| f(m)).count()).unwrap_or(u32::MAX)
        };
        Ok(Report {
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            seed: scenario.seed,
            controller: false,
            cluster_seconds: seconds_between(self.start, now),
            nodes,
            timeline: self.timeline,
            events: self.marks,
            moves: count(&|_| true),
            pdb_violations: u32::try_from(
                self.moves.iter().map(|m| m.violated.len()).sum::<usize>(),
            )
            .unwrap_or(u32::MAX),
            pinned_moved: count(&|m| m.pinned),
            move_log: self.moves,
            replacements: self.replacements,
            policy_groups: self.groups.finish(now),
            final_pods,
        })
    }
}

fn disruption_reason(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "DisruptionTarget" && c.status == "True")
        .and_then(|c| c.reason.clone())
}

/// Whether the pod is being replaced by a rollout restart: its ReplicaSet is not its
/// Deployment's newest, and the newest one's template was restarted at another time.
fn restarted(cache: &Cache, pod: &Pod) -> bool {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let Some(rs_ref) = controller_of(&pod.metadata).filter(|o| o.kind == "ReplicaSet") else {
        return false;
    };
    let Some(rs) = cache.replica_sets.get(namespace, &rs_ref.name) else {
        return false;
    };
    let Some(deployment_ref) = controller_of(&rs.metadata) else {
        return false;
    };
    let newest = cache
        .replica_sets
        .in_namespace(namespace)
        .filter(|other| status::controlled_by(&other.metadata, &deployment_ref.uid))
        .max_by_key(|other| revision(other));
    let restarted_at = |set: &k8s_openapi::api::apps::v1::ReplicaSet| {
        set.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(RESTARTED_AT_ANNOTATION))
            .cloned()
    };
    newest.is_some_and(|newest| {
        newest.metadata.uid != rs.metadata.uid && restarted_at(newest) != restarted_at(rs)
    })
}

/// A DaemonSet pod, or one pinned to its node: nodeName in its controller's template, a
/// hostname nodeSelector, or a claim bound to a node-bound volume.
fn is_pinned(cache: &Cache, pod: &Pod) -> bool {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let owner = controller_of(&pod.metadata);
    if owner.is_some_and(|o| o.kind == "DaemonSet") {
        return true;
    }
    let spec = pod.spec.as_ref();
    if spec
        .and_then(|s| s.node_selector.as_ref())
        .is_some_and(|s| s.contains_key(HOSTNAME_LABEL))
    {
        return true;
    }
    if let Some(owner) = owner.filter(|o| o.kind == "StatefulSet")
        && cache
            .stateful_sets
            .get(namespace, &owner.name)
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    {
        return true;
    }
    spec.iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .filter_map(|c| cache.claims.get(namespace, &c.claim_name))
        .filter_map(|c| c.spec.as_ref().and_then(|s| s.volume_name.clone()))
        .filter_map(|v| cache.volumes.get("", &v))
        .any(|v| {
            v.spec
                .as_ref()
                .and_then(|s| s.node_affinity.as_ref())
                .is_some()
        })
}

/// The budgets selecting the pod whose healthy pods (Ready, not terminating) are now fewer
/// than their desired healthy count.
fn violated_budgets(cache: &Cache, pod: &Pod) -> Vec<String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let labels = status::labels(&pod.metadata);
    let mut violated = Vec::new();
    for pdb in cache.pdbs.in_namespace(namespace) {
        let Ok(selector) = crate::snapshot::selector::label_selector(
            pdb.spec.as_ref().and_then(|s| s.selector.as_ref()),
        ) else {
            continue;
        };
        if !selector.matches(&labels) {
            continue;
        }
        let desired = pdb.status.as_ref().map_or(0, |s| s.desired_healthy);
        let healthy = cache
            .pods
            .in_namespace(namespace)
            .filter(|p| p.metadata.uid != pod.metadata.uid)
            .filter(|p| !status::terminating(p) && status::is_ready(p))
            .filter(|p| selector.matches(&status::labels(&p.metadata)))
            .count();
        if i32::try_from(healthy).unwrap_or(i32::MAX) < desired {
            violated.push(pdb.metadata.name.clone().unwrap_or_default());
        }
    }
    violated
}
