//! The node lifecycle and taint eviction controllers: silent nodes turn Unknown, conditions and
//! cordons become taints (NoExecute ones at each zone's rate, set by its disruption state),
//! pods whose NoExecute tolerations run out are deleted gracefully. It never force-deletes a
//! pod (that is PodGC's job). Left out: the probe-timestamp reset on leaving the all-zones
//! disruption mode, and the 5 s monitor period (a pass runs when something changes).

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use serde_json::{Value, json};

use super::{
    CONTROLLER_MANAGER, Context,
    admission::{NOT_READY_TAINT, UNREACHABLE_TAINT},
    after, earliest,
    events::{self, Involved, Kind, Source, component},
    log_write,
    status::{self, node_of, terminating},
};
use crate::{planner::eligibility::UNSCHEDULABLE_TAINT, sim::Subresource};

/// The label that leaves a node out of the zone states (`node.kubernetes.io/exclude-disruption`).
pub const EXCLUDE_DISRUPTION_LABEL: &str = "node.kubernetes.io/exclude-disruption";

/// A zone's health as the node lifecycle controller classifies it (`ComputeZoneState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    /// Seen for the first time, not classified yet.
    Initial,
    /// Fewer than three NotReady nodes, or fewer than the unhealthy share.
    Normal,
    /// At least three NotReady nodes making at least the unhealthy share, some Ready.
    PartialDisruption,
    /// No Ready node at all.
    FullDisruption,
}

/// A token bucket of burst 1 (upstream's `EvictionRateLimiterBurst`): with one token, holding
/// it is the same as knowing when the bucket is full again.
#[derive(Clone, Copy, Debug)]
struct Limiter {
    /// Time per token; None never accepts (a rate of 0).
    period: Option<std::time::Duration>,
    /// When the bucket holds its token.
    full_at: Timestamp,
}

impl Limiter {
    /// A full bucket at `rate` tokens per second.
    fn new(rate: f64, now: Timestamp) -> Self {
        let period = (rate > 0.0).then(|| std::time::Duration::from_secs_f64(1.0 / rate));
        Self {
            period,
            full_at: now,
        }
    }

    fn try_accept(&mut self, now: Timestamp) -> bool {
        let Some(period) = self.period else {
            return false;
        };
        if self.full_at > now {
            return false;
        }
        self.full_at = after(now, period);
        true
    }

    /// `SwapLimiter`: a new bucket at `rate`, drained if the old one had no token left.
    fn swap(&mut self, rate: f64, now: Timestamp) {
        let fresh = Self::new(rate, now);
        if fresh.period == self.period {
            return;
        }
        let had_token = self.period.is_some() && self.full_at <= now;
        *self = fresh;
        if !had_token {
            self.try_accept(now);
        }
    }
}

/// A zone's NoExecute tainter (`zoneNoExecuteTainter`): nodes waiting for their taint, each
/// taken when the zone's limiter gives a token.
#[derive(Clone, Debug)]
struct Tainter {
    limiter: Limiter,
    /// Waiting nodes with when they joined. Upstream re-adds a waiting node on every
    /// monitoring pass, so its order among waiters follows the node list; first come first
    /// served (then by name) keeps the simulation deterministic.
    waiting: BTreeMap<String, Timestamp>,
}

impl Tainter {
    /// The next waiting node, if the limiter gives a token now.
    fn take(&mut self, now: Timestamp) -> Option<String> {
        let next = self
            .waiting
            .iter()
            .min_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)))
            .map(|(node, _)| node.clone())?;
        if !self.limiter.try_accept(now) {
            return None;
        }
        self.waiting.remove(&next);
        Some(next)
    }

    /// When a waiting node may be taken next.
    fn wake(&self) -> Option<Timestamp> {
        self.limiter.period?;
        (!self.waiting.is_empty()).then_some(self.limiter.full_at)
    }
}

/// The node lifecycle and taint eviction controllers.
#[derive(Debug, Default)]
pub struct NodeLifecycle {
    /// Pods on NoExecute-tainted nodes, with when the eviction clock started for them.
    evictions: BTreeMap<String, Timestamp>,
    /// Each zone's state, of zones with a node that counts.
    states: BTreeMap<String, ZoneState>,
    /// Each zone's NoExecute tainter, of zones with any node.
    tainters: BTreeMap<String, Tainter>,
}

fn ready_status(node: &Node) -> &str {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map_or("Unknown", |c| c.status.as_str())
}

/// The Ready condition's status, None when the node has none yet.
fn ready_condition(node: &Node) -> Option<&str> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.as_str())
}

fn label<'a>(node: &'a Node, keys: &[&str]) -> &'a str {
    let labels = node.metadata.labels.as_ref();
    keys.iter()
        .find_map(|key| labels.and_then(|l| l.get(*key)))
        .map_or("", String::as_str)
}

/// `GetZoneKey`: region and zone, from the GA labels or the beta ones; "" for neither.
pub fn zone_key(node: &Node) -> String {
    let region = label(
        node,
        &[
            "topology.kubernetes.io/region",
            "failure-domain.beta.kubernetes.io/region",
        ],
    );
    let zone = label(
        node,
        &[
            crate::api::ZONE_LABEL,
            "failure-domain.beta.kubernetes.io/zone",
        ],
    );
    if region.is_empty() && zone.is_empty() {
        String::new()
    } else {
        format!("{region}:\0:{zone}")
    }
}

/// `ComputeZoneState` over the Ready statuses of a zone's nodes.
pub fn zone_state(ready: usize, not_ready: usize, unhealthy_threshold: f64) -> ZoneState {
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && not_ready as f64 / (ready + not_ready) as f64 >= unhealthy_threshold
    {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// `setLimiterInZone`: the tainting rate a zone of `size` nodes gets in `state`. A fully
/// disrupted zone evicts at the normal rate (its nodes are gone, not the control plane's view
/// of them); a partially disrupted one slows down, or stops if small.
fn zone_rate(settings: &super::Settings, size: usize, state: ZoneState) -> f64 {
    match state {
        ZoneState::PartialDisruption if size > settings.large_cluster_size_threshold => {
            settings.secondary_node_eviction_rate
        }
        ZoneState::PartialDisruption => 0.0,
        ZoneState::Initial | ZoneState::Normal | ZoneState::FullDisruption => {
            settings.node_eviction_rate
        }
    }
}

/// The owned NoExecute taint the node carries, if any.
fn no_execute_taint(node: &Node) -> Option<&'static str> {
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_ref())?;
    [NOT_READY_TAINT, UNREACHABLE_TAINT]
        .into_iter()
        .find(|key| {
            taints
                .iter()
                .any(|t| t.key == *key && t.effect == "NoExecute")
        })
}

/// The NoExecute taint a node's Ready status asks for (`doNoExecuteTaintingPass`).
fn no_execute_for(node: &Node) -> Option<&'static str> {
    match ready_condition(node)? {
        "True" => None,
        "False" => Some(NOT_READY_TAINT),
        _ => Some(UNREACHABLE_TAINT),
    }
}

impl NodeLifecycle {
    pub(crate) fn sync(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        let mut wake = None;
        for node in context.cache.nodes.iter() {
            wake = earliest(wake, monitor(context, node));
        }
        let entering_master_disruption = self.handle_disruption(context);
        let no_execute = self.no_execute_taints(context, entering_master_disruption);
        taint_nodes(context, &no_execute);
        for tainter in self.tainters.values() {
            wake = earliest(wake, tainter.wake());
        }
        wake = earliest(wake, self.evict(context));
        wake
    }

    /// The zones' states and their tainters' rates (`handleDisruption`). Returns whether every
    /// zone has just become fully disrupted: then the control plane, not the nodes, is the
    /// likelier failure, so every NoExecute taint is lifted and evictions stop.
    fn handle_disruption(&mut self, context: &Context<'_>) -> bool {
        let settings = context.settings;
        let now = context.now;
        let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for node in context.cache.nodes.iter() {
            let zone = zone_key(node);
            if !self.tainters.contains_key(&zone) {
                let tainter = Tainter {
                    limiter: Limiter::new(settings.node_eviction_rate, now),
                    waiting: BTreeMap::new(),
                };
                self.tainters.insert(zone.clone(), tainter);
            }
            let excluded = node
                .metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(EXCLUDE_DISRUPTION_LABEL));
            if excluded {
                continue;
            }
            let entry = counts.entry(zone).or_default();
            if ready_condition(node) == Some("True") {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
        let new_states: BTreeMap<&String, ZoneState> = counts
            .iter()
            .map(|(zone, (ready, not_ready))| {
                let state = zone_state(*ready, *not_ready, settings.unhealthy_zone_threshold);
                (zone, state)
            })
            .collect();
        let all_are_fully_disrupted = new_states
            .values()
            .all(|state| *state == ZoneState::FullDisruption);
        self.states.retain(|zone, _| counts.contains_key(zone));
        for zone in counts.keys() {
            self.states
                .entry(zone.clone())
                .or_insert(ZoneState::Initial);
        }
        let all_were_fully_disrupted = self
            .states
            .values()
            .all(|state| *state == ZoneState::FullDisruption);
        if all_are_fully_disrupted && all_were_fully_disrupted {
            return false;
        }
        if all_are_fully_disrupted {
            tracing::info!("Every simulated zone is fully disrupted; node evictions stop.");
            for tainter in self.tainters.values_mut() {
                tainter.limiter.swap(0.0, now);
                tainter.waiting.clear();
            }
            for state in self.states.values_mut() {
                *state = ZoneState::FullDisruption;
            }
            return true;
        }
        // Leaving the master disruption mode resets every zone; otherwise only the zones
        // whose state changed get a new rate.
        for (zone, state) in &mut self.states {
            let new_state = new_states.get(zone).copied().unwrap_or(ZoneState::Normal);
            if *state == new_state && !all_were_fully_disrupted {
                continue;
            }
            let size = counts.get(zone).map_or(0, |(ready, down)| ready + down);
            if let Some(tainter) = self.tainters.get_mut(zone) {
                tainter
                    .limiter
                    .swap(zone_rate(settings, size, new_state), now);
            }
            *state = new_state;
        }
        false
    }

    /// `processTaintBaseEviction` and the NoExecute tainting pass: the NoExecute taint every
    /// node should carry. A Ready node loses it; a node that already has one swaps it at once
    /// when its status changes; a node without one waits for its zone's limiter.
    fn no_execute_taints(
        &mut self,
        context: &Context<'_>,
        lift_all: bool,
    ) -> BTreeMap<String, Option<&'static str>> {
        let mut wanted = BTreeMap::new();
        for node in context.cache.nodes.iter() {
            let name = node.metadata.name.clone().unwrap_or_default();
            let current = no_execute_taint(node);
            let tainter = self.tainters.get_mut(&zone_key(node));
            let desired = match (ready_condition(node), tainter) {
                (None, _) => current,
                (Some("True"), tainter) => {
                    if let Some(tainter) = tainter {
                        tainter.waiting.remove(&name);
                    }
                    None
                }
                (Some(_), _) if current.is_some() => no_execute_for(node),
                (Some(_), Some(tainter)) => {
                    if !lift_all {
                        tainter.waiting.entry(name.clone()).or_insert(context.now);
                    }
                    None
                }
                (Some(_), None) => None,
            };
            wanted.insert(name, if lift_all { None } else { desired });
        }
        for tainter in self.tainters.values_mut() {
            while let Some(name) = tainter.take(context.now) {
                let Some(node) = context.cache.nodes.get("", &name) else {
                    continue;
                };
                match no_execute_for(node) {
                    Some(key) => {
                        wanted.insert(name, Some(key));
                    }
                    // No Ready condition yet: try again on a later token, as upstream does.
                    None if ready_condition(node).is_none() => {
                        tainter.waiting.insert(name, context.now);
                        break;
                    }
                    None => {}
                }
            }
        }
        wanted
    }

    /// The taint eviction controller: deletes pods whose NoExecute tolerations ran out.
    fn evict(&mut self, context: &Context<'_>) -> Option<Timestamp> {
        let cache = context.cache;
        let mut wake = None;
        let mut watched = BTreeMap::new();
        for pod in cache.pods.iter() {
            if terminating(pod) {
                continue;
            }
            let Some(node) = node_of(pod).and_then(|n| cache.nodes.get("", n)) else {
                continue;
            };
            let taints: Vec<&Taint> = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .filter(|t| t.effect == "NoExecute")
                .collect();
            if taints.is_empty() {
                continue;
            }
            let key = format!(
                "{}/{}",
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default()
            );
            let tolerations: &[Toleration] = pod
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.as_deref())
                .unwrap_or(&[]);
            let Some(toleration) = toleration_time(&taints, tolerations) else {
                delete_for_taint(context, pod);
                continue;
            };
            let Some(seconds) = toleration else {
                continue;
            };
            let started = *self.evictions.get(&key).unwrap_or(&context.now);
            watched.insert(key, started);
            let due = after(
                started,
                std::time::Duration::from_secs(u64::try_from(seconds.max(0)).unwrap_or(0)),
            );
            if due <= context.now {
                delete_for_taint(context, pod);
            } else {
                wake = earliest(wake, Some(due));
            }
        }
        self.evictions = watched;
        wake
    }
}

/// `GetMatchingTolerations` and `getMinTolerationTime`: None when a taint goes untolerated;
/// Some(None) to stay forever; Some(Some(seconds)) to go after that long.
fn toleration_time(taints: &[&Taint], tolerations: &[Toleration]) -> Option<Option<i64>> {
    let tolerates = |toleration: &Toleration, taint: &Taint| {
        let effect_ok = toleration
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key = toleration.key.as_deref().unwrap_or_default();
        let key_ok = key.is_empty() || key == taint.key;
        let value_ok = match toleration.operator.as_deref() {
            Some("Exists") => true,
            _ => {
                toleration.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
            }
        };
        effect_ok && key_ok && value_ok
    };
    let mut used: Vec<&Toleration> = Vec::new();
    for taint in taints {
        let matching: Vec<&Toleration> = tolerations
            .iter()
            .filter(|toleration| tolerates(toleration, taint))
            .collect();
        if matching.is_empty() {
            return None;
        }
        used.extend(matching);
    }
    let mut minimum: Option<i64> = None;
    for toleration in used {
        if let Some(seconds) = toleration.toleration_seconds {
            if seconds <= 0 {
                return Some(Some(0));
            }
            minimum = Some(minimum.map_or(seconds, |m| m.min(seconds)));
        }
    }
    Some(minimum)
}

fn pod_involved(pod: &Pod) -> Involved<'_> {
    Involved {
        api_version: "v1",
        kind: "Pod",
        meta: &pod.metadata,
        field_path: None,
    }
}

/// Marks the pod as a disruption target and deletes it gracefully.
fn delete_for_taint(context: &Context<'_>, pod: &Pod) {
    let cache = context.cache;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let now = context.stamp();
    log_write(context.modify(
        cache.ids.pods,
        namespace,
        name,
        Subresource::Status,
        CONTROLLER_MANAGER,
        |value| {
            status::set_condition(
                value,
                json!({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                       "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": now}),
            )
        },
    ));
    events::record(
        context,
        &pod_involved(pod),
        Source::controller(component::TAINT_EVICTION),
        Kind::Normal,
        "TaintManagerEviction",
        &format!("Marking for deletion Pod {namespace}/{name}"),
    );
    log_write(context.delete(
        cache.ids.pods,
        namespace,
        name,
        pod.metadata.uid.as_deref(),
        None,
    ));
}

/// The node's last sign of life: its Lease's renewTime or its Ready heartbeat.
fn heartbeat(context: &Context<'_>, node: &Node) -> Option<Timestamp> {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let lease = context
        .cache
        .leases
        .get("kube-node-lease", name)
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0);
    let posted = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0);
    let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
    [lease, posted, created].into_iter().flatten().max()
}

/// `monitorNodeHealth` for one node: Unknown conditions after the grace period, and its pods
/// marked NotReady when it stops being Ready.
fn monitor(context: &Context<'_>, node: &Node) -> Option<Timestamp> {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let last = heartbeat(context, node)?;
    let deadline = after(last, context.settings.node_monitor_grace);
    if deadline >= context.now {
        return Some(after(deadline, std::time::Duration::from_secs(1)));
    }
    if ready_status(node) == "Unknown"
        && node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready"))
    {
        return None;
    }
    let now = context.stamp();
    let was_ready = ready_status(node) == "True";
    log_write(context.modify(
        context.cache.ids.nodes,
        "",
        name,
        Subresource::Status,
        CONTROLLER_MANAGER,
        |value| {
            let mut changed = false;
            for kind in ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"] {
                let existing = value
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|c| {
                        c.iter()
                            .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
                    })
                    .cloned();
                let condition = match existing {
                    Some(mut condition) => {
                        if condition.get("status").and_then(Value::as_str) == Some("Unknown") {
                            continue;
                        }
                        condition["status"] = json!("Unknown");
                        condition["reason"] = json!("NodeStatusUnknown");
                        condition["message"] = json!("Kubelet stopped posting node status.");
                        condition["lastTransitionTime"] = json!(now);
                        condition
                    }
                    None => json!({"type": kind, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                   "message": "Kubelet never posted node status.",
                                   "lastHeartbeatTime": now, "lastTransitionTime": now}),
                };
                changed |= status::set_condition(value, condition);
            }
            changed
        },
    ));
    if was_ready {
        events::record(
            context,
            &Involved {
                api_version: "v1",
                kind: "Node",
                meta: &node.metadata,
                field_path: None,
            },
            Source::controller(component::NODE_CONTROLLER),
            Kind::Normal,
            "NodeNotReady",
            &format!("Node {name} status is now: NodeNotReady"),
        );
        mark_pods_not_ready(context, name);
    }
    None
}

/// `MarkPodsNotReady`: the Ready condition of every pod on the node turns False.
fn mark_pods_not_ready(context: &Context<'_>, node: &str) {
    let now = context.stamp();
    for pod in context.cache.pods_on(node) {
        if !status::is_ready(pod) {
            continue;
        }
        let written = log_write(context.modify(
            context.cache.ids.pods,
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default(),
            Subresource::Status,
            CONTROLLER_MANAGER,
            |value| {
                let mut changed = false;
                if let Some(conditions) = value
                    .pointer_mut("/status/conditions")
                    .and_then(Value::as_array_mut)
                {
                    for condition in conditions.iter_mut() {
                        if condition.get("type").and_then(Value::as_str) == Some("Ready")
                            && condition.get("status").and_then(Value::as_str) != Some("False")
                        {
                            condition["status"] = json!("False");
                            condition["lastTransitionTime"] = json!(now);
                            changed = true;
                        }
                    }
                }
                changed
            },
        ));
        if written.flatten().is_some() {
            events::record(
                context,
                &pod_involved(pod),
                Source::controller(component::NODE_CONTROLLER),
                Kind::Warning,
                "NodeNotReady",
                "Node is not ready",
            );
        }
    }
}

/// The taints the controller owns, as the node's state asks for them: the condition's
/// NoSchedule taint at once (TaintNodesByCondition), the NoExecute one as decided.
fn wanted_taints(
    node: &Node,
    no_execute: Option<&'static str>,
) -> Vec<(&'static str, &'static str)> {
    let mut wanted = Vec::new();
    let condition_taint = match ready_status(node) {
        "True" => None,
        "False" => Some(NOT_READY_TAINT),
        _ => Some(UNREACHABLE_TAINT),
    };
    if let Some(key) = condition_taint {
        wanted.push((key, "NoSchedule"));
    }
    if let Some(key) = no_execute {
        wanted.push((key, "NoExecute"));
    }
    if node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
    {
        wanted.push((UNSCHEDULABLE_TAINT, "NoSchedule"));
    }
    wanted
}

/// Writes the owned taints of every node whose taints differ from the wanted ones.
fn taint_nodes(context: &Context<'_>, no_execute: &BTreeMap<String, Option<&'static str>>) {
    let owned = [NOT_READY_TAINT, UNREACHABLE_TAINT, UNSCHEDULABLE_TAINT];
    for node in context.cache.nodes.iter() {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let wanted = wanted_taints(node, no_execute.get(name).copied().flatten());
        let current: Vec<(&str, &str)> = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .filter(|t| owned.contains(&t.key.as_str()))
            .map(|t| (t.key.as_str(), t.effect.as_str()))
            .collect();
        let mut sorted_current = current.clone();
        sorted_current.sort_unstable();
        let mut sorted_wanted = wanted.clone();
        sorted_wanted.sort_unstable();
        if sorted_current == sorted_wanted {
            continue;
        }
        let now = context.stamp();
        log_write(context.modify(
            context.cache.ids.nodes,
            "",
            node.metadata.name.as_deref().unwrap_or_default(),
            Subresource::Main,
            CONTROLLER_MANAGER,
            |value| {
                let Some(spec) = value
                    .as_object_mut()
                    .map(|root| root.entry("spec").or_insert_with(|| json!({})))
                    .and_then(Value::as_object_mut)
                else {
                    return false;
                };
                let mut taints: Vec<Value> = spec
                    .get("taints")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                taints.retain(|taint| {
                    let key = taint.get("key").and_then(Value::as_str).unwrap_or_default();
                    let effect = taint
                        .get("effect")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    !owned.contains(&key) || wanted.contains(&(key, effect))
                });
                for (key, effect) in &wanted {
                    let present = taints.iter().any(|t| {
                        t.get("key").and_then(Value::as_str) == Some(key)
                            && t.get("effect").and_then(Value::as_str) == Some(effect)
                    });
                    if !present {
                        let mut taint = json!({"key": key, "effect": effect});
                        if *effect == "NoExecute" {
                            taint["timeAdded"] = json!(now);
                        }
                        taints.push(taint);
                    }
                }
                if taints.is_empty() {
                    spec.remove("taints");
                } else {
                    spec.insert("taints".into(), Value::Array(taints));
                }
                true
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str) -> Taint {
        Taint {
            key: key.to_owned(),
            effect: "NoExecute".to_owned(),
            ..Taint::default()
        }
    }

    fn toleration(key: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.to_owned()),
            operator: Some("Exists".to_owned()),
            effect: Some("NoExecute".to_owned()),
            toleration_seconds: seconds,
            ..Toleration::default()
        }
    }

    #[test]
    fn the_shortest_matching_toleration_decides_and_none_means_forever() {
        let unreachable = taint(UNREACHABLE_TAINT);
        assert_eq!(toleration_time(&[&unreachable], &[]), None);
        assert_eq!(
            toleration_time(&[&unreachable], &[toleration(UNREACHABLE_TAINT, Some(300))]),
            Some(Some(300))
        );
        assert_eq!(
            toleration_time(&[&unreachable], &[toleration(UNREACHABLE_TAINT, None)]),
            Some(None)
        );
        let both = [
            toleration(UNREACHABLE_TAINT, Some(300)),
            toleration("", Some(60)),
        ];
        assert_eq!(toleration_time(&[&unreachable], &both), Some(Some(60)));
    }
}
