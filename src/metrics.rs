//! Every Prometheus metric kube-spread exports: names (prefix `kube_spread_`), help texts,
//! buckets and label sets, in one place. Labels are bounded: nodes, namespaces, policies,
//! topology keys and fixed result words, never pod names or error text.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, PoisonError},
};

use crate::api::conditions::Reason;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Why the metrics could not be registered or encoded.
#[derive(Debug, thiserror::Error)]
pub enum Metrics {
    /// A metric could not be created or registered.
    #[error("registering metrics: {0}")]
    Register(#[from] prometheus::Error),
    /// The exposition could not be encoded.
    #[error("encoding metrics: {0}")]
    Encode(String),
}

/// Where a replacement landed, in `kube_spread_replacements_total`.
pub mod placement {
    /// The replacement landed on the node the plan predicted.
    pub const AS_PLANNED: &str = "as_planned";
    /// It landed on a node the plan knew the scheduler scores as high as that one (the
    /// scheduler picks among equals at random).
    pub const AMONG_EQUALS: &str = "among_equals";
    /// It landed on another node.
    pub const ELSEWHERE: &str = "elsewhere";
    /// Every placement, for a counter that starts at 0.
    pub const ALL: [&str; 3] = [AS_PLANNED, AMONG_EQUALS, ELSEWHERE];
}

/// The results a move is counted under in `kube_spread_moves_total`.
pub mod move_result {
    /// Evicted through the Eviction API.
    pub const EVICTED: &str = "evicted";
    /// Moved by a rollout restart (moveStrategy Auto).
    pub const RESTARTED: &str = "restarted";
    /// A server-side dry-run eviction passed (mode DryRun).
    pub const DRY_RUN: &str = "dry_run";
    /// A PodDisruptionBudget refused it (HTTP 429, or 500 for several budgets).
    pub const PDB_BLOCKED: &str = "pdb_blocked";
    /// Anything else went wrong.
    pub const FAILED: &str = "failed";
    /// Every result, for a counter that starts at 0.
    pub const ALL: [&str; 5] = [EVICTED, RESTARTED, DRY_RUN, PDB_BLOCKED, FAILED];
}

/// The results a workload patch is counted under in `kube_spread_workload_patches_total`.
pub mod patch_result {
    /// Applied.
    pub const APPLIED: &str = "applied";
    /// Another field manager owns a field we would set (HTTP 409).
    pub const CONFLICT: &str = "conflict";
    /// Anything else went wrong.
    pub const FAILED: &str = "failed";
    /// Every result, for a counter that starts at 0.
    pub const ALL: [&str; 3] = [APPLIED, CONFLICT, FAILED];
}

/// The results a deletion-cost write is counted under in
/// `kube_spread_deletion_cost_writes_total`.
pub mod cost_write_result {
    /// The pod's `controller.kubernetes.io/pod-deletion-cost` was patched.
    pub const WRITTEN: &str = "written";
    /// The pod was gone, or anything else went wrong; the next reconcile tries again.
    pub const FAILED: &str = "failed";
    /// Every result, for a counter that starts at 0.
    pub const ALL: [&str; 2] = [WRITTEN, FAILED];
}

/// The controller's metrics, registered in their own registry.
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    registry: Registry,
    /// `kube_spread_node_pods{node}`.
    pub node_pods: IntGaugeVec,
    /// `kube_spread_policy_skew{namespace,policy,topology_key}`.
    pub policy_skew: IntGaugeVec,
    /// `kube_spread_policy_balanced{namespace,policy}`.
    pub policy_balanced: IntGaugeVec,
    /// `kube_spread_policy_rebalance_blocked{namespace,policy,reason}`.
    pub policy_blocked: IntGaugeVec,
    /// `kube_spread_moves_total{result}`.
    pub moves: IntCounterVec,
    /// `kube_spread_workload_patches_total{result}`.
    pub patches: IntCounterVec,
    /// `kube_spread_replacements_total{placement}`: where moved pods' replacements landed.
    pub replacements: IntCounterVec,
    /// `kube_spread_deletion_cost_writes_total{result}`: pod-deletion-cost annotations written
    /// to keep spread on scale-down.
    pub deletion_cost_writes: IntCounterVec,
    /// `kube_spread_plans_total`: observations taken, each a model of the whole cluster planned
    /// for every policy.
    pub plans: IntCounter,
    /// `kube_spread_reconcile_duration_seconds`.
    pub reconcile_duration: Histogram,
    /// `kube_spread_reconcile_errors_total{error}`.
    pub reconcile_errors: IntCounterVec,
    /// `kube_spread_leader`.
    pub leader: IntGauge,
    /// `kube_spread_invalid_objects_total{kind}`: objects a watch could not read.
    pub invalid_objects: IntCounterVec,
    /// The label values of the series published so far, so that gone ones can be removed.
    published: Arc<Mutex<Published>>,
}

/// Series a gauge holds for things that can go away: nodes, and policies with their keys.
#[derive(Debug, Default)]
struct Published {
    /// The nodes' pod counts as last published, in the order they came.
    nodes: Vec<(String, i64)>,
    policies: BTreeMap<(String, String), BTreeSet<String>>,
}

/// Kinds whose objects a watch may fail to read (`kube_spread_invalid_objects_total`).
pub const WATCHED_KINDS: [&str; 11] = [
    "Pod",
    "Node",
    "Deployment",
    "StatefulSet",
    "ReplicaSet",
    "PodDisruptionBudget",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "Namespace",
    "SpreadPolicy",
    "ClusterSpreadPolicy",
];

/// Reasons a policy can be blocked for, in `kube_spread_policy_rebalance_blocked`.
pub const BLOCKED_REASONS: [Reason; 6] = [
    Reason::PdbBlocked,
    Reason::MultiplePdbs,
    Reason::BudgetExhausted,
    Reason::SchedulerDisagrees,
    Reason::NoMovablePod,
    Reason::NoAcceptingDomain,
];

/// What one policy's gauges say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGauges<'a> {
    /// The actionable skew per topology key.
    pub skews: Vec<(&'a str, i64)>,
    /// Every group within maxSkew.
    pub balanced: bool,
    /// The reason moves are blocked, if they are.
    pub blocked: Option<Reason>,
}

impl ControllerMetrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, Metrics> {
        let registry = Registry::new();
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec, Metrics> {
            let metric = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let counter_vec =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, Metrics> {
                let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(metric.clone()))?;
                Ok(metric)
            };
        let node_pods = gauge_vec(
            "kube_spread_node_pods",
            "Pods bound to each node (not Succeeded or Failed).",
            &["node"],
        )?;
        let policy_skew = gauge_vec(
            "kube_spread_policy_skew",
            "The largest actionable skew among a policy's groups, per topology key.",
            &["namespace", "policy", "topology_key"],
        )?;
        let policy_balanced = gauge_vec(
            "kube_spread_policy_balanced",
            "1 when every group of the policy is within maxSkew, else 0.",
            &["namespace", "policy"],
        )?;
        let policy_blocked = gauge_vec(
            "kube_spread_policy_rebalance_blocked",
            "1 while a policy needs moves that are blocked, by reason.",
            &["namespace", "policy", "reason"],
        )?;
        let moves = counter_vec(
            "kube_spread_moves_total",
            "Pod moves attempted, by result.",
            &["result"],
        )?;
        let patches = counter_vec(
            "kube_spread_workload_patches_total",
            "Server-side applies of topology spread constraints to workloads, by result.",
            &["result"],
        )?;
        let replacements = counter_vec(
            "kube_spread_replacements_total",
            "Replacements of moved pods that became Ready, by whether they landed on the node the plan predicted.",
            &["placement"],
        )?;
        let deletion_cost_writes = counter_vec(
            "kube_spread_deletion_cost_writes_total",
            "Writes of pods' controller.kubernetes.io/pod-deletion-cost to keep spread on scale-down, by result.",
            &["result"],
        )?;
        let plans = IntCounter::new(
            "kube_spread_plans_total",
            "Observations of the cluster taken and planned for every policy (the rest reuse the last one).",
        )?;
        registry.register(Box::new(plans.clone()))?;
        let reconcile_errors = counter_vec(
            "kube_spread_reconcile_errors_total",
            "Reconciles that failed, by the failed action.",
            &["error"],
        )?;
        let invalid_objects = counter_vec(
            "kube_spread_invalid_objects_total",
            "Objects a watch received but could not read, by kind.",
            &["kind"],
        )?;
        let reconcile_duration = Histogram::with_opts(
            HistogramOpts::new(
                "kube_spread_reconcile_duration_seconds",
                "How long one reconcile of a SpreadPolicy took.",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )?;
        registry.register(Box::new(reconcile_duration.clone()))?;
        let leader = IntGauge::new(
            "kube_spread_leader",
            "1 when this replica holds the leader lease and may act, else 0.",
        )?;
        registry.register(Box::new(leader.clone()))?;
        Ok(Self {
            registry,
            node_pods,
            policy_skew,
            policy_balanced,
            policy_blocked,
            moves,
            patches,
            replacements,
            deletion_cost_writes,
            plans,
            reconcile_duration,
            reconcile_errors,
            leader,
            invalid_objects,
            published: Arc::default(),
        }
        .with_known_counters())
    }

    /// Counters start at 0 for every label value known up front, so that a rate over them is
    /// defined before the first event.
    fn with_known_counters(self) -> Self {
        for result in move_result::ALL {
            self.moves.with_label_values(&[result]);
        }
        for result in patch_result::ALL {
            self.patches.with_label_values(&[result]);
        }
        for placement in placement::ALL {
            self.replacements.with_label_values(&[placement]);
        }
        for result in cost_write_result::ALL {
            self.deletion_cost_writes.with_label_values(&[result]);
        }
        for kind in WATCHED_KINDS {
            self.invalid_objects.with_label_values(&[kind]);
        }
        self
    }

    /// Sets pods per node, and removes the series of nodes no longer listed.
    pub fn publish_nodes<'n>(&self, nodes: impl IntoIterator<Item = (&'n str, i64)>) {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let nodes: Vec<(&str, i64)> = nodes.into_iter().collect();
        // The same nodes as last time (each observation lists them in one order): only the
        // counts that moved are set.
        let same_nodes = published.nodes.len() == nodes.len()
            && (published.nodes.iter().zip(&nodes)).all(|((was, _), (name, _))| was == name);
        if same_nodes {
            for ((_, was), (name, pods)) in published.nodes.iter_mut().zip(&nodes) {
                if *was != *pods {
                    self.node_pods.with_label_values(&[*name]).set(*pods);
                    *was = *pods;
                }
            }
            return;
        }
        for (name, pods) in &nodes {
            self.node_pods.with_label_values(&[*name]).set(*pods);
        }
        let now: BTreeSet<&str> = nodes.iter().map(|(name, _)| *name).collect();
        for (gone, _) in &published.nodes {
            if !now.contains(gone.as_str()) {
                let _ = self.node_pods.remove_label_values(&[gone]);
            }
        }
        published.nodes = nodes
            .iter()
            .map(|(name, pods)| ((*name).to_owned(), *pods))
            .collect();
    }

    /// Sets a policy's gauges, and removes the series of topology keys it no longer has.
    pub fn publish_policy(&self, namespace: &str, policy: &str, gauges: &PolicyGauges<'_>) {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let keys: BTreeSet<String> = gauges
            .skews
            .iter()
            .map(|(key, _)| (*key).to_owned())
            .collect();
        for (key, skew) in &gauges.skews {
            self.policy_skew
                .with_label_values(&[namespace, policy, key])
                .set(*skew);
        }
        self.policy_balanced
            .with_label_values(&[namespace, policy])
            .set(i64::from(gauges.balanced));
        for reason in BLOCKED_REASONS {
            self.policy_blocked
                .with_label_values(&[namespace, policy, reason.as_str()])
                .set(i64::from(gauges.blocked == Some(reason)));
        }
        let before = published
            .policies
            .insert((namespace.to_owned(), policy.to_owned()), keys.clone())
            .unwrap_or_default();
        for gone in before.difference(&keys) {
            let _ = self
                .policy_skew
                .remove_label_values(&[namespace, policy, gone]);
        }
    }

    /// Removes every series of the policies not in `present` (`namespace`, `name`).
    pub fn forget_policies_except(&self, present: &BTreeSet<(String, String)>) {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let gone: Vec<(String, String)> = published
            .policies
            .keys()
            .filter(|policy| !present.contains(*policy))
            .cloned()
            .collect();
        for policy in gone {
            let keys = published.policies.remove(&policy).unwrap_or_default();
            let (namespace, name) = (policy.0.as_str(), policy.1.as_str());
            for key in &keys {
                let _ = self
                    .policy_skew
                    .remove_label_values(&[namespace, name, key]);
            }
            let _ = self.policy_balanced.remove_label_values(&[namespace, name]);
            for reason in BLOCKED_REASONS {
                let _ =
                    self.policy_blocked
                        .remove_label_values(&[namespace, name, reason.as_str()]);
            }
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> Result<String, Metrics> {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .map_err(|error| Metrics::Encode(error.to_string()))?;
        String::from_utf8(buffer).map_err(|error| Metrics::Encode(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_per_node_follow_each_observation_and_a_node_gone_loses_its_series() {
        let metrics = ControllerMetrics::new().expect("metrics");
        let series = |metrics: &ControllerMetrics| {
            let text = metrics.encode().expect("encode");
            text.lines()
                .filter(|line| line.starts_with("kube_spread_node_pods{"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        metrics.publish_nodes([("a", 1), ("b", 2)]);
        metrics.publish_nodes([("a", 1), ("b", 3)]);
        assert_eq!(
            series(&metrics),
            [
                "kube_spread_node_pods{node=\"a\"} 1",
                "kube_spread_node_pods{node=\"b\"} 3"
            ]
        );
        metrics.publish_nodes([("a", 4)]);
        assert_eq!(series(&metrics), ["kube_spread_node_pods{node=\"a\"} 4"]);
        metrics.publish_nodes([("c", 0), ("a", 4)]);
        metrics.publish_nodes([("c", 7), ("a", 4)]);
        assert_eq!(
            series(&metrics),
            [
                "kube_spread_node_pods{node=\"a\"} 4",
                "kube_spread_node_pods{node=\"c\"} 7"
            ]
        );
    }

    #[test]
    fn every_metric_is_exported_under_the_kube_spread_prefix() {
        let metrics = ControllerMetrics::new().expect("metrics");
        metrics.node_pods.with_label_values(&["n1"]).set(3);
        metrics
            .policy_skew
            .with_label_values(&["media", "apps", "kubernetes.io/hostname"])
            .set(2);
        metrics
            .policy_balanced
            .with_label_values(&["media", "apps"])
            .set(0);
        metrics
            .policy_blocked
            .with_label_values(&["media", "apps", "PdbBlocked"])
            .set(1);
        metrics
            .moves
            .with_label_values(&[move_result::EVICTED])
            .inc();
        metrics
            .patches
            .with_label_values(&[patch_result::APPLIED])
            .inc();
        metrics
            .reconcile_errors
            .with_label_values(&["evict_pod"])
            .inc();
        metrics.invalid_objects.with_label_values(&["Pod"]).inc();
        metrics
            .deletion_cost_writes
            .with_label_values(&[cost_write_result::WRITTEN])
            .inc();
        metrics.reconcile_duration.observe(0.01);
        metrics.leader.set(1);
        let text = metrics.encode().expect("encode");
        for name in [
            "kube_spread_node_pods{node=\"n1\"} 3",
            "kube_spread_policy_skew{namespace=\"media\",policy=\"apps\",topology_key=\"kubernetes.io/hostname\"} 2",
            "kube_spread_policy_balanced{namespace=\"media\",policy=\"apps\"} 0",
            "kube_spread_policy_rebalance_blocked{namespace=\"media\",policy=\"apps\",reason=\"PdbBlocked\"} 1",
            "kube_spread_moves_total{result=\"evicted\"} 1",
            "kube_spread_workload_patches_total{result=\"applied\"} 1",
            "kube_spread_reconcile_errors_total{error=\"evict_pod\"} 1",
            "kube_spread_reconcile_duration_seconds_count 1",
            "kube_spread_leader 1",
            "kube_spread_invalid_objects_total{kind=\"Pod\"} 1",
            "kube_spread_deletion_cost_writes_total{result=\"written\"} 1",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
