//! The simulated control plane, component by component, on paused time: scheduling,
//! Deployments and their rolling updates, StatefulSet ordering, DaemonSets, node failure and
//! taint-based eviction, budget status, determinism, and one model for the scheduler and
//! `explain`.
// Fixtures panic on setup failures, as tests do.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube_spread::{
    clock::Clock,
    planner,
    sim::{
        DeleteOptions, Object, SimApi, StoreConfig, WriteOptions,
        control::{ControlPlane, Settings},
        scenario::{Scenario, Simulation},
    },
};
use serde_json::{Value, json};

const START: &str = "2025-10-20T08:00:00Z";

struct Harness {
    api: SimApi,
    control: ControlPlane,
}

impl Harness {
    fn new(seed: u64) -> Self {
        let start: Timestamp = START.parse().unwrap();
        let api = SimApi::with_config(
            Clock::starting_at(start),
            StoreConfig {
                seed,
                ..StoreConfig::default()
            },
        );
        let settings = Settings {
            seed,
            pod_startup_min: Duration::from_secs(10),
            pod_startup_max: Duration::from_secs(10),
            ..Settings::default()
        };
        let control = ControlPlane::new(api.store().clone(), settings).unwrap();
        Self { api, control }
    }

    fn create(&self, object: Value) -> Arc<Object> {
        let store = self.api.store();
        let api_version = object["apiVersion"].as_str().unwrap().to_owned();
        let kind = object["kind"].as_str().unwrap().to_owned();
        let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
        let (id, _) = store
            .catalog()
            .types()
            .find(|(_, t)| t.group == group && t.version == version && t.kind == kind)
            .unwrap();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        store
            .create(id, &namespace, object, &WriteOptions::manager("test"))
            .unwrap()
    }

    fn now(&self) -> Timestamp {
        self.api.store().clock().now()
    }

    /// Runs the control plane for `duration` of cluster time, calling `each` after every pass.
    async fn run_for_with(&mut self, duration: Duration, mut each: impl FnMut(&Harness)) {
        let clock = *self.api.store().clock();
        let end = clock.now() + jiff::SignedDuration::try_from(duration).unwrap();
        loop {
            let wake = self.control.settle();
            each(self);
            let now = clock.now();
            if now >= end {
                break;
            }
            let mut next = wake.map_or(end, |w| w.min(end));
            next = next.max(now + jiff::SignedDuration::from_millis(100));
            tokio::time::sleep_until(clock.instant_at(next)).await;
        }
    }

    async fn run_for(&mut self, duration: Duration) {
        self.run_for_with(duration, |_| {}).await;
    }

    fn pods(&self) -> Vec<Arc<Pod>> {
        self.control.cache().pods.iter().cloned().collect()
    }

    fn node(&self, name: &str) -> Arc<Node> {
        self.control.cache().nodes.get("", name).cloned().unwrap()
    }

    fn pods_id(&self) -> kube_spread::sim::ResourceId {
        self.control.cache().ids.pods
    }
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

fn node(name: &str, cpu: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
           "status": {"capacity": {"cpu": cpu, "memory": "16Gi", "pods": "110"},
                      "allocatable": {"cpu": cpu, "memory": "16Gi", "pods": "110"}}})
}

fn deployment(name: &str, replicas: i32, cpu: &str, strategy: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": "default"},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "strategy": strategy,
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"terminationGracePeriodSeconds": 30,
                                          "containers": [{"name": "app", "image": "nginx",
                                                          "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}}}})
}

fn pods_of<'a>(pods: &'a [Arc<Pod>], app: &str) -> Vec<&'a Arc<Pod>> {
    pods.iter()
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app"))
                .is_some_and(|a| a == app)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_deleted_deployment_pod_is_replaced_at_once_while_it_terminates() {
    let mut cluster = Harness::new(1);
    cluster.create(node("n1", "4"));
    cluster.create(deployment("web", 3, "100m", json!({})));
    cluster.run_for(Duration::from_secs(60)).await;
    let pods = cluster.pods();
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| ready(p) && node_of(p) == Some("n1")));
    let victim = name(&pods[0]).to_owned();
    cluster
        .api
        .store()
        .delete(
            cluster.pods_id(),
            "default",
            &victim,
            &DeleteOptions::default(),
        )
        .unwrap();
    cluster.run_for(Duration::from_secs(1)).await;
    let pods = cluster.pods();
    assert_eq!(
        pods.len(),
        4,
        "the replacement exists while the old pod terminates"
    );
    assert!(pods.iter().any(|p| name(p) == victim && terminating(p)));
    cluster.run_for(Duration::from_secs(60)).await;
    let pods = cluster.pods();
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| ready(p) && name(p) != victim));
}

#[tokio::test(start_paused = true)]
async fn a_rollout_restart_stays_within_max_surge_and_max_unavailable() {
    let mut cluster = Harness::new(2);
    cluster.create(node("n1", "8"));
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}});
    cluster.create(deployment("web", 4, "100m", strategy));
    cluster.run_for(Duration::from_secs(60)).await;
    let deployments = cluster.control.cache().ids.deployments;
    cluster
        .api
        .store()
        .patch(
            deployments,
            "default",
            "web",
            &kube_spread::sim::PatchBody::Merge(
                json!({"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": "2025-10-20T08:01:00Z"}}}}}),
            ),
            kube_spread::sim::Subresource::Main,
            &WriteOptions::manager("kubectl"),
        )
        .unwrap();
    let mut most = 0;
    let mut fewest_ready = usize::MAX;
    cluster
        .run_for_with(Duration::from_secs(300), |cluster| {
            let pods = cluster.pods();
            let active = pods.iter().filter(|p| !terminating(p)).count();
            let ready_count = pods.iter().filter(|p| !terminating(p) && ready(p)).count();
            most = most.max(active);
            fewest_ready = fewest_ready.min(ready_count);
        })
        .await;
    assert!(most <= 5, "maxSurge 1: at most 5 pods, saw {most}");
    assert!(
        fewest_ready >= 3,
        "maxUnavailable 1: at least 3 Ready, saw {fewest_ready}"
    );
    let cache = cluster.control.cache();
    let sets: Vec<_> = cache.replica_sets.iter().collect();
    assert_eq!(sets.len(), 2);
    let newest = sets
        .iter()
        .max_by_key(|rs| kube_spread::sim::control::deployment::revision(rs))
        .unwrap();
    assert_eq!(kube_spread::sim::control::deployment::revision(newest), 2);
    let hash = newest.metadata.labels.as_ref().unwrap()["pod-template-hash"].clone();
    let pods = cluster.pods();
    assert_eq!(pods.len(), 4);
    assert!(
        pods.iter()
            .all(|p| ready(p) && p.metadata.labels.as_ref().unwrap()["pod-template-hash"] == hash)
    );
    let status = cache
        .deployments
        .get("default", "web")
        .unwrap()
        .status
        .clone()
        .unwrap();
    assert_eq!(
        (
            status.replicas,
            status.updated_replicas,
            status.available_replicas,
            status.observed_generation
        ),
        (Some(4), Some(4), Some(4), Some(2))
    );
}

#[tokio::test(start_paused = true)]
async fn stateful_set_pods_start_one_at_a_time_in_ordinal_order_and_keep_their_local_volume() {
    let mut cluster = Harness::new(3);
    cluster.create(node("n1", "4"));
    cluster.create(node("n2", "4"));
    cluster.create(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "mariadb",
                                                       "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                     "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                              "resources": {"requests": {"storage": "1Gi"}}}}]}}));
    let mut order: Vec<String> = Vec::new();
    cluster
        .run_for_with(Duration::from_secs(120), |cluster| {
            let pods = cluster.pods();
            for pod in &pods {
                if !order.contains(&name(pod).to_owned()) {
                    // A new ordinal appears only once every earlier one is Running and Ready.
                    assert!(
                        pods.iter()
                            .filter(|p| name(p) != name(pod))
                            .all(|p| ready(p)),
                        "{} was created before its predecessors were Ready",
                        name(pod)
                    );
                    order.push(name(pod).to_owned());
                }
            }
        })
        .await;
    assert_eq!(order, ["db-0", "db-1", "db-2"]);
    // Each claim is bound to a volume pinned to the node its pod first ran on.
    let cache = cluster.control.cache();
    let claim = cache.claims.get("default", "data-db-1").unwrap();
    let volume_name = claim.spec.as_ref().unwrap().volume_name.clone().unwrap();
    let volume = cache.volumes.get("", &volume_name).unwrap();
    let pinned_to = serde_json::to_value(
        volume
            .spec
            .as_ref()
            .unwrap()
            .node_affinity
            .as_ref()
            .unwrap(),
    )
    .unwrap()["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let first_node = node_of(cache.pods.get("default", "db-1").unwrap())
        .unwrap()
        .to_owned();
    assert_eq!(pinned_to, first_node);
    // Deleted, db-1 comes back under its name only once the old pod is gone, on the same node.
    cluster
        .api
        .store()
        .delete(
            cluster.pods_id(),
            "default",
            "db-1",
            &DeleteOptions::default(),
        )
        .unwrap();
    cluster.run_for(Duration::from_secs(5)).await;
    let old = cluster
        .control
        .cache()
        .pods
        .get("default", "db-1")
        .cloned()
        .unwrap();
    assert!(
        terminating(&old),
        "the old db-1 still terminates; no second db-1 yet"
    );
    cluster.run_for(Duration::from_secs(90)).await;
    let new = cluster
        .control
        .cache()
        .pods
        .get("default", "db-1")
        .cloned()
        .unwrap();
    assert_ne!(new.metadata.uid, old.metadata.uid);
    assert_eq!(node_of(&new), Some(first_node.as_str()));
    assert!(ready(&new));
}

#[tokio::test(start_paused = true)]
async fn daemon_set_pods_run_on_every_node_even_a_cordoned_one() {
    let mut cluster = Harness::new(4);
    cluster.create(node("n1", "4"));
    cluster.create(node("n2", "4"));
    let mut cordoned = node("n3", "4");
    cordoned["spec"] = json!({"unschedulable": true});
    cluster.create(cordoned);
    cluster.create(json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "agent", "image": "agent"}]}}}}));
    cluster.run_for(Duration::from_secs(60)).await;
    let pods = cluster.pods();
    let mut nodes: Vec<&str> = pods.iter().filter_map(|p| node_of(p)).collect();
    nodes.sort_unstable();
    assert_eq!(nodes, ["n1", "n2", "n3"]);
    assert!(pods.iter().all(|p| ready(p)));
    let spec = serde_json::to_value(pods[0].spec.as_ref().unwrap()).unwrap();
    let field = &spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0]["matchFields"][0];
    assert_eq!(field["key"], "metadata.name");
    let tolerated: Vec<&str> = spec["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["key"].as_str())
        .collect();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/unschedulable",
    ] {
        assert!(tolerated.contains(&key), "{key} in {tolerated:?}");
    }
    let taints = cluster.node("n3").spec.clone().unwrap().taints.unwrap();
    assert_eq!(
        taints[0].key, "node.kubernetes.io/unschedulable",
        "a cordon becomes a taint"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_node_is_tainted_its_pods_evicted_after_300_seconds_and_replaced_and_recovery_lifts_the_taints()
 {
    let mut cluster = Harness::new(5);
    cluster.create(node("n1", "4"));
    cluster.create(deployment("web", 1, "100m", json!({})));
    cluster.run_for(Duration::from_secs(30)).await;
    cluster.create(node("n2", "4"));
    cluster.run_for(Duration::from_secs(30)).await;
    let pod = cluster.pods()[0].clone();
    assert_eq!(node_of(&pod), Some("n1"));
    let tolerations = serde_json::to_value(&pod.spec.as_ref().unwrap().tolerations).unwrap();
    assert!(
        tolerations
            .to_string()
            .contains("\"tolerationSeconds\":300"),
        "DefaultTolerationSeconds: {tolerations}"
    );

    let down_at = cluster.now();
    cluster.control.set_kubelet_running("n1", false);
    cluster.run_for(Duration::from_secs(45)).await;
    let n1 = cluster.node("n1");
    let ready_condition = n1
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Ready")
        .cloned()
        .unwrap();
    assert_eq!(ready_condition.status, "Unknown");
    let mut taints: Vec<(String, String)> = n1
        .spec
        .as_ref()
        .unwrap()
        .taints
        .clone()
        .unwrap()
        .into_iter()
        .map(|t| (t.key, t.effect))
        .collect();
    taints.sort();
    assert_eq!(
        taints,
        [
            (
                "node.kubernetes.io/unreachable".to_owned(),
                "NoExecute".to_owned()
            ),
            (
                "node.kubernetes.io/unreachable".to_owned(),
                "NoSchedule".to_owned()
            )
        ]
    );
    let tainted_at = ready_condition.last_transition_time.unwrap().0;
    assert!(tainted_at > down_at + jiff::SignedDuration::from_secs(40));
    assert!(!ready(&cluster.pods()[0]), "its pods turn NotReady");

    // Just before the toleration runs out, the pod stays; just after, it is evicted.
    let until_eviction =
        Duration::try_from(tainted_at + jiff::SignedDuration::from_secs(298) - cluster.now())
            .unwrap();
    cluster.run_for(until_eviction).await;
    assert!(!terminating(&cluster.pods()[0]));
    cluster.run_for(Duration::from_secs(4)).await;
    let pods = cluster.pods();
    let evicted = pods.iter().find(|p| name(p) == name(&pod)).unwrap();
    assert!(terminating(evicted), "evicted after 300 s");
    assert!(
        evicted
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .any(|c| c.type_ == "DisruptionTarget"
                && c.reason.as_deref() == Some("DeletionByTaintManager"))
    );
    let replacement = pods
        .iter()
        .find(|p| name(p) != name(&pod))
        .expect("replaced at once");
    assert_eq!(node_of(replacement), Some("n2"));
    cluster.run_for(Duration::from_secs(600)).await;
    assert!(
        cluster
            .pods()
            .iter()
            .any(|p| name(p) == name(&pod) && terminating(p)),
        "the evicted pod stays Terminating while its node is down"
    );

    cluster.control.set_kubelet_running("n1", true);
    cluster.run_for(Duration::from_secs(10)).await;
    let n1 = cluster.node("n1");
    assert!(
        n1.spec
            .as_ref()
            .unwrap()
            .taints
            .as_ref()
            .is_none_or(Vec::is_empty),
        "taints lifted"
    );
    let ready_condition = n1
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Ready")
        .cloned()
        .unwrap();
    assert_eq!(ready_condition.status, "True");
    assert!(ready_condition.last_transition_time.unwrap().0 > tainted_at);
    let pods = cluster.pods();
    assert_eq!(pods.len(), 1, "the kubelet finished the terminating pod");
    assert_eq!(node_of(&pods[0]), Some("n2"), "and nothing moved back");
}

#[tokio::test(start_paused = true)]
async fn the_scheduler_never_binds_to_a_cordoned_node_or_one_without_room() {
    let mut cluster = Harness::new(6);
    let mut cordoned = node("n1", "8");
    cordoned["spec"] = json!({"unschedulable": true});
    cluster.create(cordoned);
    cluster.create(node("n2", "1"));
    cluster.create(deployment("big", 3, "600m", json!({})));
    cluster.run_for(Duration::from_secs(60)).await;
    let pods = cluster.pods();
    let bound: Vec<_> = pods.iter().filter(|p| node_of(p).is_some()).collect();
    assert_eq!(bound.len(), 1);
    assert_eq!(node_of(bound[0]), Some("n2"));
    let pending: Vec<_> = pods.iter().filter(|p| node_of(p).is_none()).collect();
    assert_eq!(pending.len(), 2);
    for pod in pending {
        let condition = pod
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "PodScheduled")
            .unwrap();
        assert_eq!(
            (condition.status.as_str(), condition.reason.as_deref()),
            ("False", Some("Unschedulable"))
        );
        assert_eq!(
            condition.message.as_deref(),
            Some(
                "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
            )
        );
    }
    // Retried when the cluster changes: uncordoning lets them run.
    let nodes = cluster.control.cache().ids.nodes;
    cluster
        .api
        .store()
        .patch(
            nodes,
            "",
            "n1",
            &kube_spread::sim::PatchBody::Merge(json!({"spec": {"unschedulable": null}})),
            kube_spread::sim::Subresource::Main,
            &WriteOptions::manager("kubectl"),
        )
        .unwrap();
    cluster.run_for(Duration::from_secs(60)).await;
    assert!(cluster.pods().iter().all(|p| ready(p)));
}

#[tokio::test(start_paused = true)]
async fn the_disruption_controller_reports_budget_status_as_upstream_computes_it() {
    let mut cluster = Harness::new(7);
    cluster.create(node("n1", "8"));
    cluster.create(deployment("web", 4, "100m", json!({})));
    for (name, spec) in [
        (
            "by-percent",
            json!({"maxUnavailable": "25%", "selector": {"matchLabels": {"app": "web"}}}),
        ),
        (
            "by-min-percent",
            json!({"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}),
        ),
        (
            "by-min-count",
            json!({"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}}),
        ),
        ("selects-nothing", json!({"maxUnavailable": 1})),
    ] {
        cluster.create(
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                              "metadata": {"name": name, "namespace": "default"}, "spec": spec}),
        );
    }
    cluster.run_for(Duration::from_secs(60)).await;
    let status = |cluster: &Harness, name: &str| {
        let pdb = cluster
            .control
            .cache()
            .pdbs
            .get("default", name)
            .unwrap()
            .clone();
        let s = pdb.status.clone().unwrap();
        (
            s.expected_pods,
            s.desired_healthy,
            s.current_healthy,
            s.disruptions_allowed,
            s.observed_generation,
        )
    };
    assert_eq!(status(&cluster, "by-percent"), (4, 3, 4, 1, Some(1)));
    assert_eq!(status(&cluster, "by-min-percent"), (4, 2, 4, 2, Some(1)));
    assert_eq!(status(&cluster, "by-min-count"), (4, 3, 4, 1, Some(1)));
    assert_eq!(status(&cluster, "selects-nothing"), (0, 0, 0, 0, Some(1)));

    // An eviction through the API spends the allowance; the controller then counts the
    // terminating pod out, and the replacement in once Ready.
    cluster.create(deployment("api", 2, "100m", json!({})));
    cluster.create(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                          "metadata": {"name": "api", "namespace": "default"},
                          "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "api"}}}}));
    cluster.run_for(Duration::from_secs(60)).await;
    assert_eq!(status(&cluster, "api"), (2, 1, 2, 1, Some(1)));
    let pods = cluster.pods();
    let victim = name(pods_of(&pods, "api")[0]).to_owned();
    cluster
        .api
        .store()
        .evict(
            "default",
            &victim,
            &json!({"metadata": {"name": victim}}),
            false,
        )
        .unwrap();
    let refused = cluster.api.store().evict(
        "default",
        name(pods_of(&pods, "api")[1]),
        &json!({"metadata": {"name": name(pods_of(&pods, "api")[1])}}),
        false,
    );
    assert_eq!(
        refused.map(|_| ()).map_err(|r| r.code),
        Err(429),
        "the allowance is spent"
    );
    cluster.run_for(Duration::from_secs(1)).await;
    assert_eq!(status(&cluster, "api"), (2, 1, 1, 0, Some(1)));
    cluster.run_for(Duration::from_secs(60)).await;
    assert_eq!(status(&cluster, "api"), (2, 1, 2, 1, Some(1)));
}

/// A small cluster of identical nodes where the scheduler's ties decide placement.
const TIES: &str = r#"
name: ties
settings: {seed: 11, duration: 20m}
objects:
  - {apiVersion: v1, kind: Node, metadata: {name: a, labels: {kubernetes.io/hostname: a}}, status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}}
  - {apiVersion: v1, kind: Node, metadata: {name: b, labels: {kubernetes.io/hostname: b}}, status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}}
  - {apiVersion: v1, kind: Node, metadata: {name: c, labels: {kubernetes.io/hostname: c}}, status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}}
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: one, namespace: default}, spec: {replicas: 4, selector: {matchLabels: {app: one}}, template: {metadata: {labels: {app: one}}, spec: {containers: [{name: a, image: x}]}}}}
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: two, namespace: default}, spec: {replicas: 5, selector: {matchLabels: {app: two}}, template: {metadata: {labels: {app: two}}, spec: {containers: [{name: a, image: x}]}}}}
events:
  - {at: 5m, nodeDown: a}
  - {at: 15m, nodeUp: a}
"#;

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_final_state() {
    let run = || async {
        let scenario = Scenario::parse("ties", TIES).unwrap();
        let report = Simulation::new(scenario).unwrap().run().await.unwrap();
        (report.final_pods, report.timeline)
    };
    let first = run().await;
    let second = run().await;
    assert_eq!(first, second);
    assert_eq!(first.0.iter().filter(|p| !p.terminating).count(), 9);
}

#[tokio::test(start_paused = true)]
async fn the_simulated_scheduler_and_explain_agree_on_where_each_pod_may_go() {
    let mut cluster = Harness::new(9);
    let zone = |name: &str, zone: &str, cpu: &str| {
        let mut n = node(name, cpu);
        n["metadata"]["labels"]["topology.kubernetes.io/zone"] = json!(zone);
        n["metadata"]["labels"]["disk"] = json!(if zone == "z1" { "ssd" } else { "hdd" });
        n
    };
    cluster.create(zone("n1", "z1", "4"));
    cluster.create(zone("n2", "z1", "1"));
    cluster.create(zone("n3", "z2", "4"));
    let mut tainted = zone("n4", "z2", "4");
    tainted["spec"] = json!({"taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]});
    cluster.create(tainted);
    let mut cordoned = zone("n5", "z3", "4");
    cordoned["spec"] = json!({"unschedulable": true});
    cluster.create(cordoned);
    // Running pods the filters count: three of app=web in z1.
    let mut web = deployment("web", 3, "300m", json!({}));
    web["spec"]["template"]["spec"]["nodeSelector"] = json!({"topology.kubernetes.io/zone": "z1"});
    cluster.create(web);
    cluster.run_for(Duration::from_secs(60)).await;
    // Pods no scheduler of ours places (another schedulerName), each testing other filters.
    let probes = [
        ("plain", json!({})),
        (
            "big",
            json!({"containers": [{"name": "a", "image": "x", "resources": {"requests": {"cpu": "3500m"}}}]}),
        ),
        ("ssd", json!({"nodeSelector": {"disk": "ssd"}})),
        (
            "gpu",
            json!({"tolerations": [{"key": "gpu", "operator": "Exists"}]}),
        ),
        (
            "spread",
            json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}]}),
        ),
        (
            "port",
            json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 80}]}]}),
        ),
    ];
    for (probe, spec) in &probes {
        let mut spec = spec.clone();
        spec["schedulerName"] = json!("elsewhere");
        if spec.get("containers").is_none() {
            spec["containers"] = json!([{"name": "a", "image": "x"}]);
        }
        let labels = if *probe == "spread" {
            json!({"app": "web"})
        } else {
            json!({"probe": probe})
        };
        cluster.create(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": probe, "namespace": "default", "labels": labels}, "spec": spec}));
    }
    cluster.run_for(Duration::from_secs(1)).await;
    let cache = cluster.control.cache();
    let view = kube_spread::sim::control::scheduler::View::of(cache);
    let cluster_model = planner_model(cache);
    let mut distinct = std::collections::BTreeSet::new();
    for (probe, _) in &probes {
        let pod = cache.pods.get("default", probe).unwrap();
        let scheduler: Vec<String> = kube_spread::sim::control::scheduler::evaluate(&view, pod)
            .feasible()
            .map(|n| n.node.clone())
            .collect();
        let explained = planner::explain(&cluster_model, "default", probe).unwrap();
        let explain: Vec<String> = explained
            .nodes
            .iter()
            .filter(|n| n.feasible)
            .map(|n| n.name.clone())
            .collect();
        assert_eq!(scheduler, explain, "{probe}");
        distinct.insert(scheduler);
    }
    assert!(
        distinct.len() >= 4,
        "the probes exercise different filters: {distinct:?}"
    );
}

/// The planner's model of what the control plane's cache holds.
fn planner_model(cache: &kube_spread::sim::control::Cache) -> planner::model::Cluster {
    use kube_spread::snapshot::convert;
    let mut interner = convert::Interner::new();
    planner::model::Cluster {
        nodes: cache
            .nodes
            .iter()
            .map(|n| convert::node(n).unwrap())
            .collect(),
        pods: cache
            .pods
            .iter()
            .map(|p| std::sync::Arc::new(convert::pod(p, &mut interner).unwrap()))
            .collect(),
        ..planner::model::Cluster::default()
    }
}

mod scoring {
    use kube_spread::{
        api::{HOSTNAME_LABEL, ZONE_LABEL},
        planner::{
            eligibility::Placement,
            index::Index,
            model::{NodeInclusionPolicy, SchedulingSpec, WhenUnsatisfiable},
            selector::LabelSelector,
            topology::{Constraint, spread_scores},
        },
    };

    use super::support::model::{ClusterBuilder, NodeExt, PodExt, labels, node, pod};

    fn constraint(key: &str, max_skew: i32) -> Constraint {
        Constraint {
            max_skew,
            topology_key: key.to_owned(),
            when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
            min_domains: 1,
            node_affinity_policy: NodeInclusionPolicy::Honor,
            node_taints_policy: NodeInclusionPolicy::Ignore,
            selector: LabelSelector::from_labels(&labels(&[("app", "web")])),
        }
    }

    #[test]
    fn pod_topology_spread_scores_as_kube_scheduler_normalizes_them() {
        let cluster = ClusterBuilder::new()
            .node(node("n1").zone("z1"))
            .node(node("n2").zone("z1"))
            .node(node("n3").zone("z2"))
            .node(node("n4").without_label(ZONE_LABEL))
            .pod(pod("w1").label("app", "web").on("n1"))
            .pod(pod("w2").label("app", "web").on("n1"))
            .pod(pod("w3").label("app", "web").on("n3"))
            .pod(pod("gone").label("app", "web").on("n2").terminating())
            .pod(pod("other").label("app", "db").on("n2"))
            .build();
        let index = Index::new(&cluster);
        let placement = Placement::of(&SchedulingSpec::default());
        let filtered = [0, 1, 2];
        // hostname, maxSkew 1: counts 2, 0, 1 weighted by ln(3 + 2), rounded: 3, 0, 2;
        // normalized 100 × (max + min − score) / max.
        let hostname = [constraint(HOSTNAME_LABEL, 1)];
        assert_eq!(
            spread_scores(&index, "media", &placement, &hostname, true, &filtered),
            Some(vec![0, 100, 33])
        );
        // zone, maxSkew 2: z1 holds 2, z2 holds 1, weight ln(2 + 2); 2·1.386 + 1 → 4 and
        // 1.386 + 1 → 2; normalized 50, 50, 100.
        let zone = [constraint(ZONE_LABEL, 2)];
        assert_eq!(
            spread_scores(&index, "media", &placement, &zone, true, &filtered),
            Some(vec![50, 50, 100])
        );
        // A node without the key is ignored (scores 0) when every key is required.
        assert_eq!(
            spread_scores(&index, "media", &placement, &zone, true, &[0, 2, 3]),
            Some(vec![50, 100, 0])
        );
        assert_eq!(
            spread_scores(&index, "media", &placement, &[], true, &filtered),
            None
        );
    }
}

/// Every kind of event on a small cluster.
const EVENTS: &str = r#"
name: events
settings: {seed: 5, duration: 30m, podStartup: {min: 5s, max: 5s}}
objects:
  - {apiVersion: v1, kind: Node, metadata: {name: a, labels: {kubernetes.io/hostname: a}}, status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}}
  - {apiVersion: v1, kind: Node, metadata: {name: b, labels: {kubernetes.io/hostname: b}}, status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}}
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: default}, spec: {replicas: 1, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: a, image: x}]}}}}
events:
  - {at: 1m, cordon: b}
  - {at: 2m, scale: {kind: Deployment, namespace: default, name: web, replicas: 4}}
  - {at: 5m, uncordon: b}
  - {at: 10m, delete: {kind: Deployment, namespace: default, name: web}}
  - at: 12m
    apply:
      - {apiVersion: apps/v1, kind: Deployment, metadata: {name: api, namespace: default}, spec: {replicas: 2, selector: {matchLabels: {app: api}}, template: {metadata: {labels: {app: api}}, spec: {containers: [{name: a, image: x}]}}}}
"#;

#[tokio::test(start_paused = true)]
async fn scenario_events_cordon_scale_delete_and_apply_and_owners_take_their_dependents_along() {
    let report = Simulation::new(Scenario::parse("events", EVENTS).unwrap())
        .unwrap()
        .run()
        .await
        .unwrap();
    let at = |t: u64| {
        report
            .timeline
            .iter()
            .rev()
            .find(|s| s.t <= t)
            .map(|s| (s.pods["a"], s.pods["b"]))
            .unwrap()
    };
    let (_, b_before) = at(59);
    let (a_after, b_after) = at(240);
    assert_eq!(a_after + b_after, 4);
    assert_eq!(
        b_after, b_before,
        "cordoned b takes none of the scaled-up pods"
    );
    assert_eq!(
        at(11 * 60),
        (0, 0),
        "the Deployment's ReplicaSet and pods went with it"
    );
    let names: Vec<&str> = report.final_pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.iter().all(|n| n.starts_with("api-")), "{names:?}");
    let kinds: Vec<&str> = report
        .events
        .iter()
        .filter(|m| m.scenario)
        .map(|m| m.kind.as_str())
        .collect();
    assert_eq!(kinds, ["cordon", "scale", "uncordon", "delete", "apply"]);
}
