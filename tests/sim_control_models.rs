//! The simulated control plane's models of kube-controller-manager and the kubelet, checked
//! against upstream's semantics: zone disruption states and eviction rates, the ReplicaSet's
//! deletion order, node Leases, revisions and Events.
// Fixtures panic on setup failures, as tests do.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::{cmp::Ordering, collections::BTreeMap};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use kube_spread::sim::{
    SimApi,
    control::replica_set::DeletionRank,
    scenario::{Scenario, Simulation},
};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::controller::{CONTROLLER_USER, grant, replica};

/// One scenario object (JSON is YAML).
fn object(value: Value) -> String {
    format!("  - {value}\n")
}

/// A node of 4 CPUs in `zone`.
fn node(name: &str, zone: &str) -> String {
    object(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                              "topology.kubernetes.io/zone": zone}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}))
}

/// A Deployment of `replicas` small pods labelled `app: NAME` in `apps`.
fn deployment(name: &str, replicas: u32) -> String {
    object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "apps", "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"terminationGracePeriodSeconds": 5,
                                       "containers": [{"name": "main", "image": "nginx:1.27",
                                                       "resources": {"requests": {"cpu": "10m"}}}]}}}}))
}

/// A SpreadPolicy spreading `apps` over zones.
fn zone_policy() -> String {
    object(
        json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "spread", "namespace": "apps"},
        "spec": {"scope": "Workload",
                 "constraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                  "whenUnsatisfiable": "ScheduleAnyway"}]}}),
    )
}

/// A scenario of `objects` (after the `apps` namespace) and `events`, lasting `duration`.
fn scenario(objects: &[String], events: &str, duration: &str) -> Scenario {
    let events = if events.is_empty() {
        " []".to_owned()
    } else {
        format!("\n{events}")
    };
    let text = format!(
        "name: models\nsettings: {{seed: 11, duration: {duration}, podStartup: {{min: 5s, max: 20s}}, sampleEvery: 1m}}\n\
         events:{events}\nobjects:\n  - {{apiVersion: v1, kind: Namespace, metadata: {{name: apps}}}}\n{}",
        objects.concat()
    );
    Scenario::parse("models", &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Runs a scenario, with the kube-spread controller alongside when `with_controller`; returns
/// the API to read the end state from.
async fn run(scenario: Scenario, with_controller: bool) -> SimApi {
    let mut simulation = Simulation::new(scenario).unwrap();
    let api = simulation.api().clone();
    if with_controller {
        grant(&api, None).await;
        simulation.spawn(replica(
            &api,
            CONTROLLER_USER,
            "kube-spread-0",
            false,
            std::future::pending(),
        ));
    }
    simulation.run().await.unwrap();
    api
}

async fn pods(api: &SimApi) -> Vec<Pod> {
    let pods: Api<Pod> = Api::all(api.client());
    pods.list(&ListParams::default()).await.unwrap().items
}

async fn nodes(api: &SimApi) -> Vec<Node> {
    let nodes: Api<Node> = Api::all(api.client());
    nodes.list(&ListParams::default()).await.unwrap().items
}

fn node_of(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default()
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

/// The time each node got its NoExecute taint, by node.
fn no_execute_since(nodes: &[Node]) -> BTreeMap<String, Timestamp> {
    nodes
        .iter()
        .filter_map(|node| {
            let taint = node
                .spec
                .as_ref()?
                .taints
                .as_ref()?
                .iter()
                .find(|t| t.effect == "NoExecute")?;
            Some((
                node.metadata.name.clone().unwrap_or_default(),
                taint.time_added.as_ref()?.0,
            ))
        })
        .collect()
}

/// Three zones of three nodes, 18 pods spread over them, and zone a's nodes all down at 2m.
fn zone_a_down(with_policy: bool, duration: &str) -> Scenario {
    let mut objects = Vec::new();
    for zone in ["a", "b", "c"] {
        for index in 1..=3 {
            objects.push(node(&format!("{zone}{index}"), zone));
        }
    }
    objects.push(deployment("web", 18));
    if with_policy {
        objects.push(zone_policy());
    }
    let events =
        "  - {at: 2m, nodeDown: a1}\n  - {at: 2m, nodeDown: a2}\n  - {at: 2m, nodeDown: a3}";
    scenario(&objects, events, duration)
}

async fn a_whole_zone_outage_evicts_its_pods(with_controller: bool) {
    // 2m down, 40 s grace, taints 10 s apart, 300 s toleration: all gone by 2m+40s+20s+300s.
    let api = run(zone_a_down(with_controller, "10m"), with_controller).await;
    let nodes = nodes(&api).await;
    let tainted = no_execute_since(&nodes);
    assert_eq!(
        tainted.keys().collect::<Vec<_>>(),
        ["a1", "a2", "a3"],
        "only zone a's nodes carry NoExecute taints"
    );
    let mut times: Vec<Timestamp> = tainted.values().copied().collect();
    times.sort();
    for pair in times.windows(2) {
        assert_eq!(
            (pair[1] - pair[0]).get_seconds(),
            10,
            "--node-eviction-rate 0.1: one node every 10 s: {times:?}"
        );
    }
    let pods = pods(&api).await;
    let live: Vec<&Pod> = pods.iter().filter(|p| !terminating(p)).collect();
    assert_eq!(live.len(), 18);
    assert!(
        live.iter()
            .all(|p| ready(p) && !node_of(p).starts_with('a')),
        "every live pod runs Ready outside zone a: {:?}",
        live.iter().map(|p| node_of(p)).collect::<Vec<_>>()
    );
    let evicted: Vec<&Pod> = pods.iter().filter(|p| terminating(p)).collect();
    assert!(
        !evicted.is_empty() && evicted.iter().all(|p| node_of(p).starts_with('a')),
        "zone a's pods were evicted and stay Terminating while their nodes are down"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fully_disrupted_zone_among_healthy_ones_is_tainted_at_the_normal_rate_and_its_pods_evicted_after_the_toleration()
 {
    a_whole_zone_outage_evicts_its_pods(false).await;
}

#[tokio::test(start_paused = true)]
async fn a_fully_disrupted_zone_has_its_pods_evicted_with_the_controller_running_too() {
    a_whole_zone_outage_evicts_its_pods(true).await;
}

#[tokio::test(start_paused = true)]
async fn when_every_zone_is_fully_disrupted_no_node_is_tainted_for_eviction_and_no_pod_leaves() {
    let objects = [node("a1", "a"), node("b1", "b"), deployment("web", 4)];
    let events = "  - {at: 2m, nodeDown: a1}\n  - {at: 2m, nodeDown: b1}";
    let api = run(scenario(&objects, events, "20m"), false).await;
    assert!(no_execute_since(&nodes(&api).await).is_empty());
    let pods = pods(&api).await;
    assert_eq!(pods.len(), 4);
    assert!(pods.iter().all(|p| !terminating(p)));
}

#[tokio::test(start_paused = true)]
async fn a_partially_disrupted_small_zone_stops_tainting_while_other_zones_stay_normal() {
    // Zone a: three of four nodes down (75 % ≥ 55 %, at least 3) and 4 ≤ 50 nodes: rate 0.
    let objects = [
        node("a1", "a"),
        node("a2", "a"),
        node("a3", "a"),
        node("a4", "a"),
        node("b1", "b"),
        node("b2", "b"),
        deployment("web", 12),
    ];
    let events = "  - {at: 2m, nodeDown: a1}\n  - {at: 2m, nodeDown: a2}\n  - {at: 2m, nodeDown: a3}\n  - {at: 3m, nodeDown: b1}";
    let api = run(scenario(&objects, events, "12m"), false).await;
    let tainted = no_execute_since(&nodes(&api).await);
    assert_eq!(
        tainted.keys().collect::<Vec<_>>(),
        ["b1"],
        "zone b (1 of 2 down) is Normal and evicts; zone a waits"
    );
    let pods = pods(&api).await;
    assert!(
        pods.iter()
            .filter(|p| terminating(p))
            .all(|p| node_of(p) == "b1")
    );
}

#[test]
fn zone_states_and_rates_follow_the_node_lifecycle_controller() {
    use kube_spread::sim::control::node_lifecycle::{ZoneState, zone_state};
    assert_eq!(zone_state(3, 0, 0.55), ZoneState::Normal);
    assert_eq!(zone_state(0, 3, 0.55), ZoneState::FullDisruption);
    assert_eq!(zone_state(0, 1, 0.55), ZoneState::FullDisruption);
    assert_eq!(zone_state(1, 2, 0.55), ZoneState::Normal, "at most 2 down");
    assert_eq!(zone_state(2, 3, 0.55), ZoneState::PartialDisruption);
    assert_eq!(zone_state(3, 3, 0.55), ZoneState::Normal, "50 % < 55 %");
}

// ReplicaSet scale-down order.

/// A pod with the fields the deletion order reads.
#[derive(Clone, Debug)]
struct Sample {
    uid: u8,
    node: Option<u8>,
    phase: &'static str,
    ready_seconds_ago: Option<u32>,
    cost: Option<i32>,
    restarts: i32,
    created_seconds_ago: u32,
    crowd: usize,
}

const NOW: &str = "2025-10-20T12:00:00Z";

impl Sample {
    fn rank(&self) -> DeletionRank {
        let now: Timestamp = NOW.parse().unwrap();
        let ago =
            |seconds: u32| (now - jiff::SignedDuration::from_secs(i64::from(seconds))).to_string();
        let mut conditions = Vec::new();
        if let Some(seconds) = self.ready_seconds_ago {
            conditions.push(
                json!({"type": "Ready", "status": "True", "lastTransitionTime": ago(seconds)}),
            );
        }
        let annotations = self.cost.map_or_else(
            || json!({}),
            |cost| json!({"controller.kubernetes.io/pod-deletion-cost": cost.to_string()}),
        );
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("p{}", self.uid), "uid": format!("uid-{:03}", self.uid),
                         "creationTimestamp": ago(self.created_seconds_ago), "annotations": annotations},
            "spec": {"nodeName": self.node.map(|n| format!("n{n}")), "containers": [{"name": "c"}]},
            "status": {"phase": self.phase, "conditions": conditions,
                       "containerStatuses": [{"name": "c", "image": "x", "imageID": "", "ready": false,
                                              "restartCount": self.restarts}]},
        }))
        .unwrap();
        DeletionRank::of(&pod, self.crowd, now)
    }
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        any::<u8>(),
        proptest::option::of(0u8..3),
        prop_oneof![Just("Pending"), Just("Unknown"), Just("Running")],
        proptest::option::of(0u32..100_000),
        proptest::option::of(-2i32..3),
        0i32..3,
        0u32..100_000,
        0usize..4,
    )
        .prop_map(
            |(uid, node, phase, ready_seconds_ago, cost, restarts, created_seconds_ago, crowd)| {
                Sample {
                    uid,
                    node,
                    phase,
                    ready_seconds_ago,
                    cost,
                    restarts,
                    created_seconds_ago,
                    crowd,
                }
            },
        )
}

proptest! {
    #[test]
    fn the_scale_down_order_is_antisymmetric_transitive_and_total(
        a in sample(), b in sample(), c in sample()
    ) {
        let (ra, rb, rc) = (a.rank(), b.rank(), c.rank());
        prop_assert_eq!(ra.cmp(&rb), rb.cmp(&ra).reverse());
        if ra.cmp(&rb) != Ordering::Greater && rb.cmp(&rc) != Ordering::Greater {
            prop_assert_ne!(ra.cmp(&rc), Ordering::Greater);
        }
        if a.uid != b.uid {
            prop_assert_ne!(ra.cmp(&rb), Ordering::Equal, "distinct pods never tie");
        }
    }

    #[test]
    fn sorting_any_set_of_pods_for_scale_down_never_panics(
        samples in proptest::collection::vec(sample(), 0..60)
    ) {
        let mut ranks: Vec<DeletionRank> = samples.iter().map(Sample::rank).collect();
        ranks.sort();
        prop_assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
    }
}

#[test]
fn scale_down_takes_unassigned_pending_unready_cheap_crowded_recently_ready_restarted_new_pods_first()
 {
    let base = Sample {
        uid: 2,
        node: Some(0),
        phase: "Running",
        ready_seconds_ago: Some(86_400),
        cost: None,
        restarts: 0,
        created_seconds_ago: 86_400,
        crowd: 1,
    };
    // Each is deleted before the base pod for exactly one reason, in upstream's order (its
    // UID is larger, so only that reason puts it first).
    let firsts = [
        Sample {
            node: None,
            ..base.clone()
        },
        Sample {
            phase: "Pending",
            ..base.clone()
        },
        Sample {
            ready_seconds_ago: None,
            ..base.clone()
        },
        Sample {
            cost: Some(-1),
            ..base.clone()
        },
        Sample {
            crowd: 2,
            ..base.clone()
        },
        Sample {
            ready_seconds_ago: Some(60),
            ..base.clone()
        },
        Sample {
            restarts: 2,
            ..base.clone()
        },
        Sample {
            created_seconds_ago: 60,
            ..base.clone()
        },
        Sample {
            uid: 0,
            ..base.clone()
        },
    ];
    let later = Sample {
        uid: 1,
        ..base.clone()
    };
    for (index, first) in firsts.iter().enumerate() {
        assert_eq!(
            first.rank().cmp(&later.rank()),
            Ordering::Less,
            "reason {}",
            index + 1
        );
    }
    // Ages within one power of two tie on age, and the UID decides.
    let younger = Sample {
        uid: 9,
        created_seconds_ago: 80_000,
        ..base.clone()
    };
    assert_eq!(younger.rank().cmp(&later.rank()), Ordering::Greater);
}

#[tokio::test(start_paused = true)]
async fn a_rollout_restart_of_100_replicas_runs_to_the_end() {
    let objects = [
        node("a1", "a"),
        node("a2", "a"),
        node("b1", "b"),
        node("b2", "b"),
        deployment("web", 100),
    ];
    let events = "  - {at: 3m, restart: {kind: Deployment, namespace: apps, name: web}}";
    let api = run(scenario(&objects, events, "30m"), false).await;
    let pods = pods(&api).await;
    let hashes: std::collections::BTreeSet<&str> = pods
        .iter()
        .filter_map(|p| p.metadata.labels.as_ref()?.get("pod-template-hash"))
        .map(String::as_str)
        .collect();
    assert_eq!(pods.len(), 100, "the old pods are gone");
    assert!(pods.iter().all(ready));
    assert_eq!(hashes.len(), 1, "every pod is of the restarted template");
}

// Node Leases.

#[tokio::test(start_paused = true)]
async fn a_node_lease_is_renewed_every_10_s_and_goes_stale_before_the_node_turns_not_ready() {
    use k8s_openapi::api::coordination::v1::Lease;
    let objects = [node("a1", "a"), node("a2", "a")];
    let mut simulation =
        Simulation::new(scenario(&objects, "  - {at: 2m, nodeDown: a1}", "3m")).unwrap();
    let api = simulation.api().clone();
    let (report, seen) = tokio::sync::oneshot::channel();
    let reader = api.clone();
    simulation.spawn(async move {
        let leases: Api<Lease> = Api::namespaced(reader.client(), "kube-node-lease");
        let nodes: Api<Node> = Api::all(reader.client());
        let read = || async {
            let lease = leases.get("a1").await.unwrap();
            let node = nodes.get("a1").await.unwrap();
            (lease, node)
        };
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        let before = read().await;
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        let renewed = read().await;
        // Down at 2m; 25 s later the lease is two renewals behind but the node still Ready.
        tokio::time::sleep(std::time::Duration::from_secs(75)).await;
        let stale = read().await;
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
        let unknown = read().await;
        let _ = report.send((before, renewed, stale, unknown));
        std::future::pending::<()>().await;
    });
    let start: Timestamp = simulation.scenario().start;
    simulation.run().await.unwrap();
    let (before, renewed, stale, unknown) = seen.await.unwrap();
    let spec = before.0.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("a1"));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    let owner = &before.0.metadata.owner_references.clone().unwrap()[0];
    assert_eq!(
        (
            owner.api_version.as_str(),
            owner.kind.as_str(),
            owner.name.as_str()
        ),
        ("v1", "Node", "a1")
    );
    assert_eq!(Some(&owner.uid), before.1.metadata.uid.as_ref());
    let renew_time = |lease: &Lease| lease.spec.as_ref().unwrap().renew_time.clone().unwrap().0;
    assert_eq!(
        (renew_time(&renewed.0) - renew_time(&before.0)).get_seconds(),
        10
    );
    let ready = |node: &Node| {
        node.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.clone())
            .unwrap_or_default()
    };
    let at_stale = start + jiff::SignedDuration::from_secs(145);
    assert!(
        (at_stale - renew_time(&stale.0)).get_seconds() >= 20,
        "no renewal since the node went down"
    );
    assert_eq!(
        ready(&stale.1),
        "True",
        "the Ready condition has not changed yet"
    );
    assert_eq!(renew_time(&unknown.0), renew_time(&stale.0));
    assert_eq!(ready(&unknown.1), "Unknown", "after the 40 s grace period");
}

// Revisions, with the real kubectl.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_history_and_undo_follow_the_deployment_revisions() {
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
    let objects = [node("a1", "a"), deployment("web", 2)];
    let text = format!(
        "name: revisions\nsettings: {{seed: 3, podStartup: {{min: 0s, max: 1s}}}}\nevents: []\nobjects:\n  - {{apiVersion: v1, kind: Namespace, metadata: {{name: apps}}}}\n{}",
        objects.concat()
    );
    let simulation = Simulation::new(Scenario::parse("revisions", &text).unwrap()).unwrap();
    let api = simulation.api().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(simulation.run_until(async move {
        let _ = stopped.await;
    }));
    let (address, server) = api.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let kubectl = support::kubectl::Kubectl::new(address);
    let deployments: Api<Deployment> = Api::namespaced(api.client(), "apps");
    let revision_is = |wanted: &'static str| {
        let deployments = deployments.clone();
        async move {
            for _ in 0..200 {
                let web = deployments.get("web").await.unwrap();
                let revision = web
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("deployment.kubernetes.io/revision"))
                    .cloned();
                if revision.as_deref() == Some(wanted) {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("the Deployment never reached revision {wanted}");
        }
    };
    revision_is("1").await;
    kubectl
        .ok(&["-n", "apps", "rollout", "restart", "deployment/web"])
        .await;
    revision_is("2").await;
    // The cause is copied to the Deployment's current ReplicaSet only.
    kubectl
        .ok(&[
            "-n",
            "apps",
            "annotate",
            "deployment/web",
            "kubernetes.io/change-cause=restart for the test",
        ])
        .await;
    let mut history = String::new();
    for _ in 0..40 {
        history = kubectl
            .ok(&["-n", "apps", "rollout", "history", "deployment/web"])
            .await
            .columns();
        if history.contains("REVISION CHANGE-CAUSE\n1 <none>\n2 restart for the test") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        history.contains("REVISION CHANGE-CAUSE\n1 <none>\n2 restart for the test"),
        "{history}"
    );
    let undo = kubectl
        .ok(&["-n", "apps", "rollout", "undo", "deployment/web"])
        .await;
    assert!(
        undo.stdout.contains("deployment.apps/web rolled back"),
        "{}",
        undo.stdout
    );
    revision_is("3").await;
    let sets: Api<ReplicaSet> = Api::namespaced(api.client(), "apps");
    let revived = sets
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|rs| {
            rs.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("deployment.kubernetes.io/revision"))
                == Some(&"3".to_owned())
        })
        .expect("the first ReplicaSet, revived as revision 3");
    let annotations = revived.metadata.annotations.unwrap();
    assert_eq!(
        annotations
            .get("deployment.kubernetes.io/revision-history")
            .map(String::as_str),
        Some("1")
    );
    let history = kubectl
        .ok(&["-n", "apps", "rollout", "history", "deployment/web"])
        .await
        .columns();
    assert!(
        history.contains("\n2 restart for the test\n3 "),
        "{history}"
    );
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    server.abort();
}

// Events.

#[tokio::test(start_paused = true)]
async fn the_kubelet_node_lifecycle_and_workload_controllers_record_events_as_upstream_words_them()
{
    use k8s_openapi::api::core::v1::Event;
    let mut objects = Vec::new();
    for zone in ["a", "b", "c"] {
        objects.push(node(&format!("{zone}1"), zone));
    }
    objects.push(deployment("web", 6));
    objects.push(object(
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "apps"},
        "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}}),
    ));
    objects.push(object(json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "apps"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}})));
    let events = "  - {at: 1m, scale: {kind: Deployment, namespace: apps, name: web, replicas: 5}}\n  - {at: 2m, nodeDown: a1}";
    let api = run(scenario(&objects, events, "10m"), false).await;
    let all: Api<Event> = Api::all(api.client());
    let events = all.list(&ListParams::default()).await.unwrap().items;
    let find = |reason: &str, kind: &str| -> Vec<&Event> {
        events
            .iter()
            .filter(|e| {
                e.reason.as_deref() == Some(reason)
                    && e.involved_object.kind.as_deref() == Some(kind)
            })
            .collect()
    };
    let component = |event: &Event| event.source.as_ref().and_then(|s| s.component.clone());
    let message = |event: &Event| event.message.clone().unwrap_or_default();

    let scaling = find("ScalingReplicaSet", "Deployment");
    assert!(
        scaling
            .iter()
            .all(|e| component(e).as_deref() == Some("deployment-controller"))
    );
    let messages: Vec<String> = scaling.iter().map(|e| message(e)).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("Scaled up replica set web-") && m.ends_with(" from 0 to 6"))
            && messages
                .iter()
                .any(|m| m.ends_with(" from 6 to 5") && m.starts_with("Scaled down")),
        "{messages:?}"
    );
    let stateful = find("SuccessfulCreate", "StatefulSet");
    assert_eq!(
        stateful.iter().map(|e| message(e)).collect::<Vec<_>>(),
        ["create Pod db-0 in StatefulSet db successful"]
    );
    assert_eq!(
        component(stateful[0]).as_deref(),
        Some("statefulset-controller")
    );
    let daemons = find("SuccessfulCreate", "DaemonSet");
    assert_eq!(daemons.len(), 3, "one per node");
    assert!(
        daemons
            .iter()
            .all(|e| message(e).starts_with("Created pod: agent-")
                && component(e).as_deref() == Some("daemonset-controller"))
    );
    let created = find("SuccessfulCreate", "ReplicaSet");
    assert!(created.len() >= 6);
    assert!(
        created
            .iter()
            .all(|e| message(e).starts_with("Created pod: web-")
                && component(e).as_deref() == Some("replicaset-controller"))
    );
    let deleted = find("SuccessfulDelete", "ReplicaSet");
    assert_eq!(deleted.len(), 1);
    assert!(message(deleted[0]).starts_with("Deleted pod: web-"));

    for (reason, prefix) in [
        (
            "Pulled",
            "Container image \"nginx:1.27\" already present on machine",
        ),
        ("Created", "Created container: main"),
        ("Started", "Started container main"),
        ("Killing", "Stopping container main"),
    ] {
        let recorded = find(reason, "Pod");
        assert!(!recorded.is_empty(), "{reason}");
        for event in recorded {
            assert_eq!(message(event), prefix);
            assert_eq!(component(event).as_deref(), Some("kubelet"));
            assert!(event.source.as_ref().unwrap().host.is_some());
            assert_eq!(
                event.involved_object.field_path.as_deref(),
                Some("spec.containers{main}")
            );
            assert_eq!(event.type_.as_deref(), Some("Normal"));
        }
    }

    let node_events = find("NodeNotReady", "Node");
    assert_eq!(node_events.len(), 1);
    assert_eq!(
        message(node_events[0]),
        "Node a1 status is now: NodeNotReady"
    );
    assert_eq!(
        node_events[0].metadata.namespace.as_deref(),
        Some("default")
    );
    assert_eq!(
        component(node_events[0]).as_deref(),
        Some("node-controller")
    );
    let pod_events = find("NodeNotReady", "Pod");
    assert!(!pod_events.is_empty());
    assert!(
        pod_events
            .iter()
            .all(|e| message(e) == "Node is not ready" && e.type_.as_deref() == Some("Warning"))
    );
    let evictions = find("TaintManagerEviction", "Pod");
    assert_eq!(
        evictions.len(),
        pod_events.len() - 1,
        "every pod of a1 but the DaemonSet's (it tolerates the taint) is evicted"
    );
    for event in evictions {
        let pod = &event.involved_object;
        assert_eq!(
            message(event),
            format!(
                "Marking for deletion Pod {}/{}",
                pod.namespace.as_deref().unwrap(),
                pod.name.as_deref().unwrap()
            )
        );
        assert_eq!(
            component(event).as_deref(),
            Some("taint-eviction-controller")
        );
    }
}
