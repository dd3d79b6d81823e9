//! Reading `kubectl get ... -o json` output and YAML into the planner's model: what each kind
//! becomes, the one-line error a malformed item gives, the scheduler's request arithmetic, the
//! quantity grammar, and the sharing that keeps 150,000 pods small.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test crate: its helpers fail the test by panicking"
)]

use std::sync::Arc;

use k8s_openapi::api::core::v1 as core;
use kube_spread::{
    planner::{
        model::{
            HostPort, NodeInclusionPolicy, PodPhase, PodVolume, Resources, Scope, TaintEffect,
            TolerationOperator, UpdateStrategy, WhenUnsatisfiable, WorkloadKind,
        },
        selector::LabelSelector,
    },
    snapshot::{
        Snapshot, SnapshotError,
        convert::{self, Interner, pod_requests},
        quantity::Quantity,
        read,
    },
};
use proptest::prelude::*;
use serde_json::{Value, json};

const MI: i64 = 1024 * 1024;

fn list(items: Vec<Value>) -> String {
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
        .to_string()
}

#[track_caller]
fn read_ok(text: &str) -> Snapshot {
    read(text).unwrap_or_else(|error| panic!("the snapshot did not read: {error}"))
}

#[track_caller]
fn read_err(text: &str) -> String {
    match read(text) {
        Ok(snapshot) => panic!("the snapshot read: {snapshot:?}"),
        Err(error) => error.to_string(),
    }
}

fn node(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "creationTimestamp": "2024-01-02T03:04:05Z",
                     "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": "a"}},
        "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]},
        "status": {
            "allocatable": {"cpu": "3900m", "memory": "15Gi", "pods": "110"},
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-06T07:08:09Z"}],
        },
    })
}

fn pod(namespace: &str, name: &str, node: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["nodeName"] = json!(node);
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": namespace, "uid": format!("uid-{name}"),
            "labels": {"app": "sonarr", "pod-template-hash": "7d9f"},
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "not-me", "uid": "u0"},
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "sonarr-7d9f", "uid": "rs-uid", "controller": true},
            ],
        },
        "spec": spec,
        "status": {
            "phase": "Running", "startTime": "2024-01-01T00:00:10Z",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    })
}

fn app_spec() -> Value {
    json!({
        "containers": [{"name": "app", "image": "sonarr",
                        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
                        "ports": [{"containerPort": 8989}]}],
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "dedicated", "value": "db"},
        ],
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": "sonarr"}}, "matchLabelKeys": ["pod-template-hash"],
            "nodeTaintsPolicy": "Honor",
        }],
        "volumes": [
            {"name": "config", "persistentVolumeClaim": {"claimName": "sonarr-config"}},
            {"name": "cache", "emptyDir": {}},
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
            {"name": "token", "projected": {"sources": []}},
        ],
        "priorityClassName": "media",
        "priority": 1000,
    })
}

fn template(labels: Value, spec: Value) -> Value {
    json!({"metadata": {"labels": labels}, "spec": spec})
}

fn cluster_list() -> Vec<Value> {
    vec![
        node("homelab-01"),
        pod("media", "sonarr-7d9f-abcde", "homelab-01", app_spec()),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "sonarr", "namespace": "media", "uid": "dep-uid", "generation": 4,
                         "labels": {"app": "sonarr"}, "annotations": {"kubespread.io/ignore": "true"}},
            "spec": {"selector": {"matchLabels": {"app": "sonarr"}},
                     "template": template(json!({"app": "sonarr"}), json!({"containers": [{"name": "app"}], "nodeName": "homelab-01"}))},
            "status": {"observedGeneration": 4, "replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1},
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "sonarr-7d9f", "namespace": "media", "uid": "rs-uid",
                         "annotations": {"deployment.kubernetes.io/revision": "3"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "sonarr", "uid": "dep-uid", "controller": true}]},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "sonarr"}},
                     "template": template(json!({"app": "sonarr", "pod-template-hash": "7d9f"}), json!({"containers": [{"name": "app"}]}))},
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "postgres", "namespace": "media", "uid": "sts-uid"},
            "spec": {"replicas": 3, "serviceName": "postgres",
                     "selector": {"matchLabels": {"app": "postgres"}},
                     "template": template(json!({"app": "postgres"}), json!({"containers": [{"name": "db"}]})),
                     "updateStrategy": {"type": "OnDelete"},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]},
            "status": {"replicas": 3, "readyReplicas": 2},
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "node-exporter", "namespace": "monitoring"},
            "spec": {"selector": {"matchLabels": {"app": "node-exporter"}},
                     "template": template(json!({"app": "node-exporter"}), json!({"containers": [{"name": "exporter"}]}))},
        }),
        json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "postgres", "namespace": "media", "generation": 2},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "postgres"}}},
            "status": {"observedGeneration": 2, "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3},
        }),
        json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "sonarr-config", "namespace": "media"},
            "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv-local-1"},
        }),
        json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": "pv-local-1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"},
                     "local": {"path": "/mnt/disks/1"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": ["homelab-01"]}]}]}}},
        }),
        json!({
            "apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
            "metadata": {"name": "apps", "namespace": "media", "generation": 3},
            "spec": {"constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}],
                     "rebalance": {"mode": "DryRun"}},
            "status": {"observedGeneration": 3, "conditions": []},
        }),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "media"}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "media"}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b", "namespace": "media"}}),
    ]
}

// --- reading ----------------------------------------------------------------------------

#[test]
fn a_kubectl_list_reads_every_kind_the_planner_needs() {
    let snapshot = read_ok(&list(cluster_list()));
    let read_counts: Vec<(&str, usize)> = snapshot
        .read
        .iter()
        .map(|(kind, n)| (kind.as_str(), *n))
        .collect();
    assert_eq!(
        read_counts,
        [
            ("DaemonSet", 1),
            ("Deployment", 1),
            ("Node", 1),
            ("PersistentVolume", 1),
            ("PersistentVolumeClaim", 1),
            ("Pod", 1),
            ("PodDisruptionBudget", 1),
            ("ReplicaSet", 1),
            ("SpreadPolicy", 1),
            ("StatefulSet", 1),
        ]
    );
    let skipped: Vec<(&str, usize)> = snapshot
        .skipped
        .iter()
        .map(|(kind, n)| (kind.as_str(), *n))
        .collect();
    assert_eq!(skipped, [("ConfigMap", 1), ("Service", 2)]);

    let cluster = &snapshot.cluster;
    let node = &cluster.nodes[0];
    assert_eq!(node.name, "homelab-01");
    assert!(node.ready);
    assert_eq!(
        node.ready_since.map(|t| t.to_string()),
        Some("2024-05-06T07:08:09Z".to_owned())
    );
    assert_eq!(node.taints[0].effect, TaintEffect::NoSchedule);
    assert_eq!(
        node.allocatable,
        Resources {
            cpu_millis: 3900,
            memory_bytes: 15 * 1024 * MI,
            pods: 110
        }
    );

    let pod = &cluster.pods[0];
    assert_eq!(pod.key(), "media/sonarr-7d9f-abcde");
    assert_eq!(pod.uid, "uid-sonarr-7d9f-abcde");
    assert_eq!(pod.node_name.as_deref(), Some("homelab-01"));
    assert_eq!(
        pod.owner.as_ref().map(|o| (&*o.kind, &*o.name)),
        Some(("ReplicaSet", "sonarr-7d9f"))
    );
    assert_eq!(pod.phase, PodPhase::Running);
    assert!(pod.ready && !pod.terminating && !pod.mirror && !pod.static_pod);
    assert_eq!(
        pod.started.map(|t| t.to_string()),
        Some("2024-01-01T00:00:10Z".to_owned())
    );
    let spec = &pod.spec;
    assert_eq!(
        spec.node_name, None,
        "a pod's nodeName is not part of its shared spec"
    );
    assert_eq!(
        spec.requests,
        Resources {
            cpu_millis: 250,
            memory_bytes: 256 * MI,
            pods: 0
        }
    );
    assert_eq!(spec.tolerations[0].operator, TolerationOperator::Exists);
    assert_eq!(
        spec.tolerations[1].operator,
        TolerationOperator::Equal,
        "an empty operator is Equal"
    );
    assert_eq!(spec.tolerations[1].effect, None);
    let constraint = &spec.spread_constraints[0];
    assert_eq!(
        constraint.when_unsatisfiable,
        WhenUnsatisfiable::ScheduleAnyway
    );
    assert_eq!(
        constraint.node_taints_policy,
        Some(NodeInclusionPolicy::Honor)
    );
    assert_eq!(constraint.match_label_keys, ["pod-template-hash"]);
    assert!(
        constraint
            .label_selector
            .as_ref()
            .is_some_and(|s| s.describe() == "app=sonarr")
    );
    assert_eq!(
        spec.volumes,
        [
            PodVolume::Claim("sonarr-config".to_owned()),
            PodVolume::EmptyDir,
            PodVolume::Claim("sonarr-7d9f-abcde-scratch".to_owned()),
            PodVolume::Portable,
        ]
    );
    assert!(
        spec.host_ports.is_empty(),
        "a containerPort alone binds no host port"
    );
    assert_eq!(
        (spec.priority_class.as_deref(), spec.priority),
        (Some("media"), Some(1000))
    );

    let deployment = &cluster.workloads[0];
    assert_eq!(
        (deployment.kind, deployment.key()),
        (WorkloadKind::Deployment, "Deployment/sonarr".to_owned())
    );
    assert_eq!((deployment.replicas, deployment.generation), (1, 4));
    assert!(deployment.ignored);
    assert_eq!(
        deployment.strategy,
        UpdateStrategy::RollingUpdate {
            max_surge: "25%".to_owned(),
            max_unavailable: "25%".to_owned()
        }
    );
    assert_eq!(
        deployment.template.node_name.as_deref(),
        Some("homelab-01"),
        "a template keeps its nodeName"
    );
    assert_eq!(
        deployment.template.nonzero_requests,
        Resources {
            cpu_millis: 100,
            memory_bytes: 200 * MI,
            pods: 0
        }
    );
    assert_eq!(deployment.status.ready_replicas, 1);

    let stateful_set = &cluster.workloads[1];
    assert_eq!(stateful_set.kind, WorkloadKind::StatefulSet);
    assert_eq!(
        (stateful_set.replicas, &stateful_set.strategy),
        (3, &UpdateStrategy::OnDelete)
    );
    assert_eq!(stateful_set.claim_templates[0].name, "data");
    assert_eq!(
        stateful_set.claim_templates[0].access_modes,
        ["ReadWriteOnce"]
    );
    assert_eq!(stateful_set.status.ready_replicas, 2);

    let replica_set = &cluster.replica_sets[0];
    assert_eq!(replica_set.template_hash.as_deref(), Some("7d9f"));
    assert_eq!((replica_set.replicas, replica_set.revision), (2, 3));
    assert_eq!(replica_set.owner.as_ref().map(|o| &*o.name), Some("sonarr"));

    let pdb = &cluster.pdbs[0];
    assert_eq!(pdb.key(), "media/postgres");
    assert_eq!(
        (
            pdb.disruptions_allowed,
            pdb.current_healthy,
            pdb.desired_healthy
        ),
        (1, 3, 2)
    );
    assert_eq!((pdb.generation, pdb.observed_generation), (2, 2));

    assert_eq!(cluster.claims[0].volume_name.as_deref(), Some("pv-local-1"));
    let volume = &cluster.volumes[0];
    assert!(volume.node_local);
    assert_eq!(
        volume.node_affinity.as_ref().map(|a| a.terms.len()),
        Some(1)
    );

    let policy = &cluster.policies[0];
    assert_eq!(
        (policy.name.as_str(), &*policy.namespace, policy.generation),
        ("apps", "media", 3)
    );
    let constraint = &policy.spec.constraints[0];
    assert_eq!(
        (
            constraint.max_skew,
            constraint.topology_key.as_str(),
            constraint.when_unsatisfiable
        ),
        (
            1,
            "kubernetes.io/hostname",
            WhenUnsatisfiable::ScheduleAnyway
        )
    );
    assert_eq!(
        policy.spec.min_pod_age,
        std::time::Duration::from_secs(300),
        "the policy carries its defaults"
    );
    assert_eq!(
        policy.spec.kinds,
        [WorkloadKind::Deployment, WorkloadKind::StatefulSet]
    );
}

#[test]
fn a_single_object_reads_on_its_own() {
    let snapshot = read_ok(&node("homelab-02").to_string());
    assert_eq!(snapshot.cluster.nodes[0].name, "homelab-02");
}

#[test]
fn multi_document_yaml_reads_objects_and_lists() {
    let yaml = r"
apiVersion: v1
kind: Node
metadata:
  name: homelab-01
status:
  allocatable: {cpu: 4, memory: 8Gi, pods: 110}
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: a, namespace: media}
    spec:
      containers:
        - name: app
          resources: {requests: {cpu: 0.5, memory: 64Mi}}
  - apiVersion: v1
    kind: Pod
    metadata: {name: b, namespace: media}
    spec: {containers: [{name: app}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: media}
";
    let snapshot = read_ok(yaml);
    assert_eq!(
        snapshot.cluster.nodes[0].allocatable.cpu_millis, 4000,
        "a bare YAML number is a quantity"
    );
    assert_eq!(snapshot.cluster.pods.len(), 2);
    assert_eq!(snapshot.cluster.pods[0].spec.requests.cpu_millis, 500);
    assert_eq!(
        snapshot.cluster.pods[0].phase,
        PodPhase::Pending,
        "a pod without status is Pending"
    );
    assert_eq!(snapshot.skipped.get("Ingress"), Some(&1));

    let broken = yaml.replace("cpu: 0.5", "cpu: lots");
    assert_eq!(
        read_err(&broken),
        "document 1 item 0 (Pod media/a): spec.containers[0].resources.requests.cpu: \"lots\" is not a quantity"
    );
}

#[test]
fn items_of_a_typed_list_take_their_kind_from_the_list() {
    let pods = json!({
        "apiVersion": "v1", "kind": "PodList", "metadata": {},
        "items": [
            {"metadata": {"name": "a", "namespace": "media"}, "spec": {"containers": [{"name": "app"}]}},
            {"metadata": {"name": "b", "namespace": "media"}, "spec": {"containers": [{"name": "app"}]}},
        ],
    });
    let snapshot = read_ok(&pods.to_string());
    assert_eq!(snapshot.read.get("Pod"), Some(&2));
    assert_eq!(snapshot.cluster.pods[1].name, "b");
}

#[test]
fn a_top_level_array_of_objects_reads_like_a_list() {
    let snapshot = read_ok(&json!([node("a"), node("b")]).to_string());
    assert_eq!(snapshot.cluster.nodes.len(), 2);
}

// --- errors -----------------------------------------------------------------------------

#[test]
fn a_bad_quantity_names_the_item_and_the_field() {
    let mut items = cluster_list();
    items[1]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("abc");
    assert_eq!(
        read_err(&list(items)),
        "item 1 (Pod media/sonarr-7d9f-abcde): spec.containers[0].resources.requests.cpu: \"abc\" is not a quantity"
    );
}

/// A change that breaks one item of `cluster_list()`.
type Breakage = Box<dyn Fn(&mut Vec<Value>)>;

#[test]
fn each_malformed_item_gives_one_line_naming_index_kind_name_and_field() {
    let cases: Vec<(Breakage, &str)> = vec![
        (
            Box::new(|items| items[2]["spec"]["replicas"] = json!("three")),
            "item 2 (Deployment media/sonarr): spec.replicas: invalid type: string \"three\", expected i32",
        ),
        (
            Box::new(|items| items[1]["spec"]["tolerations"][1]["operator"] = json!("Matches")),
            "item 1 (Pod media/sonarr-7d9f-abcde): spec.tolerations[1].operator: \"Matches\" is not a toleration operator (Equal, Exists)",
        ),
        (
            Box::new(|items| items[0]["spec"]["taints"][0]["effect"] = json!("NoWay")),
            "item 0 (Node homelab-01): spec.taints[0].effect: \"NoWay\" is not a taint effect (NoSchedule, PreferNoSchedule, NoExecute)",
        ),
        (
            Box::new(|items| items[0]["status"]["allocatable"]["memory"] = json!("-1Gi")),
            "item 0 (Node homelab-01): status.allocatable.memory: \"-1Gi\" must be greater than or equal to 0",
        ),
        (
            Box::new(|items| items[1]["apiVersion"] = json!("v2")),
            "item 1 (Pod media/sonarr-7d9f-abcde): apiVersion: \"v2\" is not the apiVersion of Pod (v1)",
        ),
        (
            Box::new(|items| {
                items[1]["spec"]["topologySpreadConstraints"][0]["labelSelector"] =
                    json!({"matchExpressions": [{"key": "app", "operator": "In"}]})
            }),
            "item 1 (Pod media/sonarr-7d9f-abcde): spec.topologySpreadConstraints[0].labelSelector.matchExpressions[0].values: must have at least one value for In and NotIn",
        ),
        (
            Box::new(|items| items[4]["spec"]["updateStrategy"]["type"] = json!("Sometimes")),
            "item 4 (StatefulSet media/postgres): spec.updateStrategy.type: \"Sometimes\" is not a StatefulSet update strategy (RollingUpdate, OnDelete)",
        ),
        (
            Box::new(|items| {
                items[3]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                    json!("three")
            }),
            "item 3 (ReplicaSet media/sonarr-7d9f): metadata.annotations.deployment.kubernetes.io/revision: \"three\" is not a revision number",
        ),
        (
            Box::new(|items| items[9]["spec"]["rebalance"]["maxConcurrentMoves"] = json!(0)),
            "item 9 (SpreadPolicy media/apps): spec.rebalance.maxConcurrentMoves: Invalid value: 0: spec.rebalance.maxConcurrentMoves in body should be greater than or equal to 1",
        ),
        (
            Box::new(|items| items[9]["spec"]["rebalance"]["maxskew"] = json!(2)),
            "item 9 (SpreadPolicy media/apps): spec.rebalance.maxskew: Unknown field: not declared in the schema",
        ),
        (
            Box::new(|items| items[1]["metadata"]["creationTimestamp"] = json!("yesterday")),
            "item 1 (Pod media/sonarr-7d9f-abcde): metadata.creationTimestamp: ",
        ),
        (
            Box::new(|items| {
                items[7]["metadata"].as_object_mut().unwrap().remove("name");
            }),
            "item 7 (PersistentVolumeClaim): metadata.name: is required",
        ),
        (
            Box::new(|items| items[5] = json!("node-exporter")),
            "item 5: is a string, not a Kubernetes object",
        ),
        (
            Box::new(|items| {
                items[5].as_object_mut().unwrap().remove("kind");
            }),
            "item 5 (monitoring/node-exporter): has no kind",
        ),
        (
            Box::new(|items| items[5]["kind"] = json!(7)),
            "item 5 (? monitoring/node-exporter): kind: is a number, not a string",
        ),
    ];
    for (break_it, expected) in cases {
        let mut items = cluster_list();
        break_it(&mut items);
        let message = read_err(&list(items));
        assert!(!message.contains('\n'), "one line: {message}");
        assert!(
            message.starts_with(expected),
            "expected\n  {expected}\ngot\n  {message}"
        );
    }
}

#[test]
fn the_first_malformed_item_is_the_one_reported() {
    let mut items = cluster_list();
    items[1]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("abc");
    items[0]["spec"]["taints"][0]["effect"] = json!("NoWay");
    assert!(read_err(&list(items)).starts_with("item 0 (Node homelab-01)"));
}

#[test]
fn text_that_is_neither_json_nor_yaml_is_refused_clearly() {
    assert_eq!(
        read_err(""),
        "the snapshot is empty: expected what `kubectl get nodes,pods,... -A -o json` prints"
    );
    assert!(read_err("{\"items\": [").starts_with("the snapshot is not valid JSON: "));
    assert_eq!(
        read_err("{\"kind\": \"Node\", \"metadata\": {\"name\": 1"),
        "the snapshot is not valid JSON: EOF while parsing an object at line 1 column 39"
    );
    assert_eq!(
        read_err("kind: Node\n  metadata: [unclosed"),
        "the snapshot is not valid YAML: mapping values are not allowed in this context at line 2, column 11"
    );
    // Flow-style YAML that only looks like JSON still reads.
    assert_eq!(
        read_ok("{kind: Node, metadata: {name: n1},}").cluster.nodes[0].name,
        "n1"
    );
    assert_eq!(
        read_err("just some words"),
        "item 0: is a string, not a Kubernetes object"
    );
}

#[test]
fn a_snapshot_holding_only_null_is_refused_like_an_empty_file() {
    let empty = read_err("");
    for text in ["null", "~", "null\n---\nnull\n", "---\n---\n"] {
        assert_eq!(read_err(text), empty, "{text:?}");
    }
}

#[test]
fn an_object_that_appears_twice_is_refused_with_one_line_naming_both_places() {
    let items = cluster_list();
    let spread_policy = items[9].clone();
    for (duplicate, expected) in [
        (
            node("homelab-01"),
            "item 13 (Node homelab-01): appears again after item 0; each object may appear only once",
        ),
        (
            items[1].clone(),
            "item 13 (Pod media/sonarr-7d9f-abcde): appears again after item 1; each object may appear only once",
        ),
        (
            spread_policy,
            "item 13 (SpreadPolicy media/apps): appears again after item 9; each object may appear only once",
        ),
    ] {
        let mut items = cluster_list();
        items.push(duplicate);
        assert_eq!(read_err(&list(items)), expected);
    }
}

#[test]
fn objects_of_one_name_in_different_namespaces_or_kinds_are_not_duplicates() {
    let mut items = cluster_list();
    let mut other_namespace = items[1].clone();
    other_namespace["metadata"]["namespace"] = json!("other");
    items.push(other_namespace);
    items.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "media"}}));
    let snapshot = read_ok(&list(items));
    assert_eq!(snapshot.cluster.pods.len(), 2);
}

#[test]
fn hostile_inputs_give_errors_not_panics() {
    let deep_array = "[".repeat(100_000);
    let deep_object = "{\"a\":".repeat(100_000);
    let deep_yaml = "- ".repeat(10_000) + "x";
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
    let inputs = [
        "null",
        "[]",
        "{}",
        "[1, 2]",
        "{\"items\": 5}",
        "{\"items\": [null]}",
        "{\"kind\": 5}",
        "\u{0}",
        "\u{feff}",
        "---\n---\n",
        "items: [",
        "!!binary AAAA",
        "{\"kind\": \"Pod\", \"spec\": 3}",
        "{\"kind\": \"Pod\", \"metadata\": {\"name\": \"p\", \"namespace\": \"n\"}, \"spec\": {\"containers\": [{\"name\": \"c\", \"resources\": {\"requests\": {\"cpu\": 1e400}}}]}}",
        "{\"kind\": \"Node\", \"metadata\": {\"name\": \"n\"}, \"status\": {\"allocatable\": {\"cpu\": \"99999999999999999999999999999999999999999Ei\"}}}",
        "{\"kind\": \"SpreadPolicy\", \"metadata\": {\"name\": \"p\", \"namespace\": \"n\"}, \"spec\": {\"constraints\": [null, 1, \"x\", []]}}",
        &deep_array,
        &deep_object,
        &deep_yaml,
        laughs,
    ];
    for input in inputs {
        let _ = read(input);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9.+-]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("1Gi"),
            Just("-1"),
            Just("1e99999"),
            Just("Always"),
            Just("Exists"),
            Just("Ready"),
            Just("True")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,16}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "/spec",
    "/status",
    "/metadata",
    "/metadata/ownerReferences",
    "/metadata/annotations",
    "/spec/containers",
    "/spec/containers/0/resources",
    "/spec/containers/0/resources/requests",
    "/spec/initContainers",
    "/spec/tolerations",
    "/spec/topologySpreadConstraints/0/labelSelector",
    "/spec/affinity",
    "/spec/volumes",
    "/spec/overhead",
    "/spec/resources",
    "/status/conditions",
    "/status/containerStatuses",
    "/spec/replicas",
    "/spec/template",
    "/spec/selector",
    "/spec/constraints",
    "/spec/rebalance",
    "/spec/taints",
    "/status/allocatable",
    "/spec/nodeAffinity",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_values_in_any_field_never_panic(
        item in 0usize..11,
        field in 0usize..FIELDS.len(),
        value in json_value(),
    ) {
        let mut items = cluster_list();
        let pointer = FIELDS[field];
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() { Some(&mut items[item]) } else { items[item].pointer_mut(parent) };
        match target {
            Some(Value::Object(object)) => { object.insert(key.to_owned(), value); }
            Some(Value::Array(array)) => if let Ok(index) = key.parse::<usize>() && index < array.len() {
                array[index] = value;
            },
            _ => {}
        }
        let _ = read(&list(items.clone()));
        let _ = read(&Value::Array(items).to_string());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,64}") {
        let _ = read(&text);
    }
}

// --- requests ---------------------------------------------------------------------------

fn requests_of(spec: Value, status: Option<Value>) -> (Resources, Resources) {
    let spec: core::PodSpec = serde_json::from_value(spec).unwrap();
    let status: Option<core::PodStatus> = status.map(|s| serde_json::from_value(s).unwrap());
    let requests = pod_requests(&spec, status.as_ref()).unwrap();
    (requests.requests, requests.nonzero)
}

fn container(name: &str, requests: Value) -> Value {
    json!({"name": name, "resources": {"requests": requests}})
}

fn sidecar(name: &str, requests: Value) -> Value {
    json!({"name": name, "restartPolicy": "Always", "resources": {"requests": requests}})
}

fn cpu_mem(cpu_millis: i64, memory_bytes: i64) -> Resources {
    Resources {
        cpu_millis,
        memory_bytes,
        pods: 0,
    }
}

#[test]
fn pod_requests_are_computed_as_the_scheduler_computes_them() {
    let default = |cpu: i64, memory: i64| cpu_mem(cpu, memory);
    let cases: Vec<(&str, Value, Option<Value>, Resources, Resources)> = vec![
        (
            "one container",
            json!({"containers": [container("a", json!({"cpu": "100m", "memory": "128Mi"}))]}),
            None,
            cpu_mem(100, 128 * MI),
            cpu_mem(100, 128 * MI),
        ),
        (
            "a container requesting nothing gets the scheduler's defaults only in the non-zero sum",
            json!({"containers": [container("a", json!({}))]}),
            None,
            cpu_mem(0, 0),
            default(100, 200 * MI),
        ),
        (
            "defaults are per container and per resource",
            json!({"containers": [container("a", json!({"cpu": "250m"})), container("b", json!({}))]}),
            None,
            cpu_mem(250, 0),
            cpu_mem(350, 400 * MI),
        ),
        (
            "an explicit zero is not defaulted",
            json!({"containers": [container("a", json!({"cpu": "0", "memory": "0"}))]}),
            None,
            cpu_mem(0, 0),
            cpu_mem(0, 0),
        ),
        (
            "a limit without a request is the request",
            json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"memory": "512Mi"}}}]}),
            None,
            cpu_mem(1000, 512 * MI),
            cpu_mem(1000, 512 * MI),
        ),
        (
            "a larger init container sets the pod's request",
            json!({"initContainers": [container("migrate", json!({"cpu": "500m", "memory": "64Mi"}))],
                   "containers": [container("a", json!({"cpu": "100m", "memory": "128Mi"}))]}),
            None,
            cpu_mem(500, 128 * MI),
            cpu_mem(500, 128 * MI),
        ),
        (
            "a sidecar adds to the sum and runs beside later init containers",
            json!({"initContainers": [sidecar("proxy", json!({"cpu": "50m", "memory": "32Mi"})),
                                      container("migrate", json!({"cpu": "120m", "memory": "16Mi"}))],
                   "containers": [container("a", json!({"cpu": "100m", "memory": "128Mi"}))]}),
            None,
            cpu_mem(170, 160 * MI),
            cpu_mem(170, 160 * MI),
        ),
        (
            "an init container before the sidecar runs alone",
            json!({"initContainers": [container("migrate", json!({"cpu": "120m"})),
                                      sidecar("proxy", json!({"cpu": "50m"}))],
                   "containers": [container("a", json!({"cpu": "100m"}))]}),
            None,
            cpu_mem(150, 0),
            cpu_mem(150, 200 * MI + 200 * MI),
        ),
        (
            "sidecars accumulate for every later init container",
            json!({"initContainers": [sidecar("s1", json!({"cpu": "100m"})), sidecar("s2", json!({"cpu": "100m"})),
                                      container("big", json!({"cpu": "400m"}))],
                   "containers": [container("a", json!({"cpu": "10m"}))]}),
            None,
            cpu_mem(600, 0),
            cpu_mem(600, 200 * MI * 3),
        ),
        (
            "overhead is added",
            json!({"containers": [container("a", json!({"cpu": "100m", "memory": "100Mi"}))],
                   "overhead": {"cpu": "10m", "memory": "20Mi"}}),
            None,
            cpu_mem(110, 120 * MI),
            cpu_mem(110, 120 * MI),
        ),
        (
            "pod-level requests replace the containers' for the resources they name",
            json!({"containers": [container("a", json!({"cpu": "100m", "memory": "100Mi"}))],
                   "resources": {"requests": {"cpu": "2"}}, "overhead": {"cpu": "10m"}}),
            None,
            cpu_mem(2010, 100 * MI),
            cpu_mem(2010, 100 * MI),
        ),
        (
            "fractions add up before rounding up",
            json!({"containers": [container("a", json!({"cpu": "0.5m", "memory": "0.5"})),
                                  container("b", json!({"cpu": "0.5m", "memory": "0.5"}))]}),
            None,
            cpu_mem(1, 1),
            cpu_mem(1, 1),
        ),
        (
            "a resize in progress counts the larger of desired and actual",
            json!({"containers": [container("a", json!({"cpu": "200m", "memory": "64Mi"}))]}),
            Some(
                json!({"containerStatuses": [{"name": "a", "image": "", "imageID": "", "ready": true, "restartCount": 0,
                                               "resources": {"requests": {"cpu": "300m", "memory": "32Mi"}}}]}),
            ),
            cpu_mem(300, 64 * MI),
            cpu_mem(300, 64 * MI),
        ),
        (
            "an infeasible resize counts what is allocated",
            json!({"containers": [container("a", json!({"cpu": "4"}))]}),
            Some(
                json!({"conditions": [{"type": "PodResizePending", "status": "True", "reason": "Infeasible"}],
                        "containerStatuses": [{"name": "a", "image": "", "imageID": "", "ready": true, "restartCount": 0,
                                               "resources": {"requests": {"cpu": "250m"}},
                                               "allocatedResources": {"cpu": "300m"}}]}),
            ),
            cpu_mem(300, 0),
            cpu_mem(300, 200 * MI),
        ),
    ];
    for (what, spec, status, requests, nonzero) in cases {
        assert_eq!(requests_of(spec, status), (requests, nonzero), "{what}");
    }
}

#[test]
fn a_bad_quantity_in_the_requests_names_its_field() {
    let spec: core::PodSpec = serde_json::from_value(json!({
        "initContainers": [{"name": "a", "resources": {"limits": {"memory": "1Mi3"}}}],
        "containers": [{"name": "b"}],
    }))
    .unwrap();
    let error = pod_requests(&spec, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "spec.initContainers[0].resources.limits.memory: \"1Mi3\" is not a quantity: unknown suffix \"Mi3\""
    );
}

// --- quantities ---------------------------------------------------------------------------

#[test]
fn quantities_follow_the_kubernetes_grammar() {
    // (text, MilliValue, Value)
    let cases: &[(&str, i64, i64)] = &[
        ("1", 1000, 1),
        ("100m", 100, 1),
        ("0.5", 500, 1),
        (".5", 500, 1),
        ("1.", 1000, 1),
        ("+2", 2000, 2),
        ("-1", -1000, -1),
        ("0001", 1000, 1),
        ("1k", 1_000_000, 1000),
        ("1M", 1_000_000_000, 1_000_000),
        ("1G", 1_000_000_000_000, 1_000_000_000),
        ("1T", 1_000_000_000_000_000, 1_000_000_000_000),
        ("1P", 1_000_000_000_000_000_000, 1_000_000_000_000_000),
        ("2E", i64::MAX, 2_000_000_000_000_000_000),
        ("1Ki", 1_024_000, 1024),
        ("1Mi", 1_048_576_000, 1_048_576),
        ("1.5Gi", 1_610_612_736_000, 1_610_612_736),
        ("1Ti", 1_099_511_627_776_000, 1_099_511_627_776),
        ("1Pi", 1_125_899_906_842_624_000, 1_125_899_906_842_624),
        ("7Ei", i64::MAX, 8_070_450_532_247_928_832),
        ("8Ei", i64::MAX, i64::MAX),
        ("1e3", 1_000_000, 1000),
        ("1E3", 1_000_000, 1000),
        ("1e+3", 1_000_000, 1000),
        ("1.5e3", 1_500_000, 1500),
        ("1e-3", 1, 1),
        ("1E", i64::MAX, 1_000_000_000_000_000_000),
        ("0.1m", 1, 1),
        ("1u", 1, 1),
        ("1n", 1, 1),
        ("999n", 1, 1),
        ("1000000n", 1, 1),
        ("1000001n", 2, 1),
        ("12.345678m", 13, 1),
        ("0", 0, 0),
        ("0m", 0, 0),
        ("-0.5", -500, -1),
        // apimachinery's parser reads these as zero.
        ("m", 0, 0),
        ("-", 0, 0),
        (".", 0, 0),
        ("Ki", 0, 0),
    ];
    for (text, milli, value) in cases {
        let quantity = Quantity::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            (quantity.milli_value(), quantity.value()),
            (*milli, *value),
            "{text}"
        );
    }
    let refused = [
        "", "abc", " 1", "1 ", "1x", "1Mi3", "1e", "1ki", "1.5.5", "--1", "1e1.5", "1e3e3", "0x10",
        "1,5", "1_000", "½",
    ];
    for text in refused {
        assert!(Quantity::parse(text).is_err(), "{text:?} was accepted");
    }
    assert_eq!(
        Quantity::parse("abc").unwrap_err().to_string(),
        "\"abc\" is not a quantity"
    );
    assert_eq!(
        Quantity::parse("5mb").unwrap_err().to_string(),
        "\"5mb\" is not a quantity"
    );
    assert_eq!(
        Quantity::parse("1ki").unwrap_err().to_string(),
        "\"1ki\" is not a quantity: unknown suffix \"ki\""
    );
}

#[test]
fn quantities_are_exact_to_the_nano_unit_and_capped_at_the_int64_range() {
    assert_eq!(
        Quantity::parse("1.5Gi").unwrap().nanos(),
        1_610_612_736_000_000_000
    );
    assert_eq!(
        Quantity::parse("0.0000000001").unwrap().nanos(),
        1,
        "rounded up to 1n"
    );
    assert_eq!(Quantity::parse("1e400").unwrap().value(), i64::MAX);
    assert_eq!(Quantity::parse(&"9".repeat(500)).unwrap().value(), i64::MAX);
    assert_eq!(
        Quantity::parse(&format!("0.{}1", "0".repeat(500)))
            .unwrap()
            .nanos(),
        1
    );
    assert_eq!(
        Quantity::parse("1e-999999999999999999999").unwrap().nanos(),
        1
    );
}

// --- conversions --------------------------------------------------------------------------

#[test]
fn pods_of_one_template_share_one_scheduling_spec() {
    let mut items = vec![
        pod("media", "sonarr-7d9f-aaaaa", "homelab-01", app_spec()),
        pod("media", "sonarr-7d9f-bbbbb", "homelab-02", app_spec()),
    ];
    // Ephemeral volume claims are named after the pod, so they would make every spec unique.
    for item in &mut items {
        item["spec"]["volumes"].as_array_mut().unwrap().remove(2);
    }
    let mut bigger = pod("media", "sonarr-7d9f-ccccc", "homelab-01", app_spec());
    bigger["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("1");
    items.push(bigger);
    let snapshot = read_ok(&list(items));
    let pods = &snapshot.cluster.pods;
    assert!(Arc::ptr_eq(&pods[0].spec, &pods[1].spec));
    assert!(!Arc::ptr_eq(&pods[0].spec, &pods[2].spec));
    assert!(Arc::ptr_eq(&pods[0].labels, &pods[1].labels));
    assert!(Arc::ptr_eq(&pods[0].namespace, &pods[2].namespace));
    assert!(Arc::ptr_eq(
        pods[0].node_name.as_ref().unwrap(),
        pods[2].node_name.as_ref().unwrap()
    ));
}

#[test]
fn one_interner_shares_specs_across_separate_conversions() {
    let mut interner = Interner::new();
    let typed = |name: &str| -> core::Pod {
        serde_json::from_value(pod(
            "media",
            name,
            "n1",
            json!({"containers": [{"name": "a"}]}),
        ))
        .unwrap()
    };
    let a = convert::pod(&typed("a"), &mut interner).unwrap();
    let b = convert::pod(&typed("b"), &mut interner).unwrap();
    assert!(Arc::ptr_eq(&a.spec, &b.spec));
    assert_eq!(interner.spec_count(), 1);
}

#[test]
fn mirror_and_static_pods_are_recognised() {
    let mut mirror = pod(
        "kube-system",
        "etcd-n1",
        "n1",
        json!({"containers": [{"name": "etcd"}]}),
    );
    mirror["metadata"]["annotations"] =
        json!({"kubernetes.io/config.mirror": "abc", "kubernetes.io/config.source": "file"});
    mirror["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "n", "controller": true}]);
    let mut deleting = pod("media", "old", "n1", json!({"containers": [{"name": "a"}]}));
    deleting["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    deleting["status"]["phase"] = json!("Succeeded");
    let snapshot = read_ok(&list(vec![mirror, deleting]));
    let pods = &snapshot.cluster.pods;
    assert!(pods[0].mirror && pods[0].static_pod);
    assert!(!pods[1].mirror && !pods[1].static_pod);
    assert!(pods[1].terminating);
    assert!(pods[1].phase.is_terminal());
}

#[test]
fn with_host_network_every_container_port_is_a_host_port() {
    let spec = json!({
        "hostNetwork": true,
        "initContainers": [{"name": "init", "ports": [{"containerPort": 9000}]}],
        "containers": [{"name": "a", "ports": [{"containerPort": 9100}, {"containerPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"}]}],
    });
    let snapshot = read_ok(&list(vec![pod("monitoring", "exporter", "n1", spec)]));
    let spec = &snapshot.cluster.pods[0].spec;
    assert!(spec.host_network);
    assert_eq!(
        spec.host_ports,
        [
            HostPort {
                port: 9100,
                protocol: "TCP".to_owned(),
                ip: String::new()
            },
            HostPort {
                port: 53,
                protocol: "UDP".to_owned(),
                ip: "10.0.0.1".to_owned()
            },
        ]
    );
    let spec = json!({"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}]}]});
    let snapshot = read_ok(&list(vec![pod("web", "proxy", "n1", spec)]));
    assert_eq!(
        snapshot.cluster.pods[0]
            .spec
            .host_ports
            .iter()
            .map(|p| p.port)
            .collect::<Vec<_>>(),
        [8080]
    );
}

#[test]
fn a_required_node_affinity_and_node_selector_are_kept() {
    let spec = json!({
        "containers": [{"name": "a"}],
        "nodeSelector": {"disk": "ssd"},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a", "b"]}]},
        ]}}},
    });
    let snapshot = read_ok(&list(vec![pod("media", "a", "n1", spec.clone())]));
    let pod_spec = &snapshot.cluster.pods[0].spec;
    assert_eq!(
        pod_spec.node_selector.get("disk").map(String::as_str),
        Some("ssd")
    );
    assert_eq!(
        pod_spec.required_affinity.as_ref().map(|a| a.terms.len()),
        Some(1)
    );

    let mut bad = spec;
    bad["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        [0]["matchExpressions"][0]["operator"] = json!("Near");
    assert!(read_err(&list(vec![pod("media", "a", "n1", bad)])).starts_with(
        "item 0 (Pod media/a): spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: \"Near\" is not a valid node selector operator"
    ));
}

#[test]
fn a_nodes_allocatable_falls_back_to_capacity_then_zero() {
    let mut bare = node("n1");
    bare["status"] = json!({"capacity": {"cpu": "2", "memory": "4Gi"}, "conditions": [{"type": "Ready", "status": "False"}]});
    bare["spec"] = json!({"unschedulable": true});
    let snapshot = read_ok(&list(vec![bare]));
    let node = &snapshot.cluster.nodes[0];
    assert_eq!(
        node.allocatable,
        Resources {
            cpu_millis: 2000,
            memory_bytes: 4096 * MI,
            pods: 0
        }
    );
    assert!(!node.ready && node.unschedulable);
}

#[test]
fn a_pdb_with_a_null_selector_matches_nothing_and_an_empty_one_everything() {
    let pdb = |name: &str, selector: Option<Value>| {
        let mut pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                             "metadata": {"name": name, "namespace": "media"}, "spec": {"maxUnavailable": 1}});
        if let Some(selector) = selector {
            pdb["spec"]["selector"] = selector;
        }
        pdb
    };
    let snapshot = read_ok(&list(vec![
        pdb("absent", None),
        pdb("empty", Some(json!({}))),
        pdb("null", Some(json!(null))),
    ]));
    let pdbs = &snapshot.cluster.pdbs;
    assert_eq!(pdbs[0].selector, None);
    assert_eq!(pdbs[1].selector, Some(LabelSelector::everything()));
    assert_eq!(pdbs[2].selector, None);
    assert_eq!(
        pdbs[0].disruptions_allowed, 0,
        "no status yet: nothing allowed"
    );
}

#[test]
fn deployment_strategies_and_replicas_take_the_api_defaults() {
    let deployment = |name: &str, strategy: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "media"},
               "spec": {"replicas": 0, "selector": {}, "strategy": strategy,
                        "template": template(json!({}), json!({"containers": [{"name": "a"}]}))}})
    };
    let snapshot = read_ok(&list(vec![
        deployment("rolling", json!({"rollingUpdate": {"maxSurge": 1}})),
        deployment("recreate", json!({"type": "Recreate"})),
    ]));
    let workloads = &snapshot.cluster.workloads;
    assert_eq!(workloads[0].replicas, 0);
    assert_eq!(
        workloads[0].strategy,
        UpdateStrategy::RollingUpdate {
            max_surge: "1".to_owned(),
            max_unavailable: "25%".to_owned()
        }
    );
    assert_eq!(workloads[1].strategy, UpdateStrategy::Recreate);
    assert_eq!(workloads[0].selector, LabelSelector::everything());
}

#[test]
fn a_template_ephemeral_volume_is_portable_and_a_pods_is_its_claim() {
    let spec = json!({"containers": [{"name": "a"}], "volumes": [{"name": "scratch", "ephemeral": {}}, {"name": "logs", "hostPath": {"path": "/var/log"}}]});
    let workload = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "media"},
                          "spec": {"selector": {}, "template": template(json!({}), spec.clone())}});
    let snapshot = read_ok(&list(vec![workload, pod("media", "db-0", "n1", spec)]));
    assert_eq!(
        snapshot.cluster.workloads[0].template.volumes,
        [PodVolume::Portable, PodVolume::HostPath]
    );
    assert_eq!(
        snapshot.cluster.workloads[0].strategy,
        UpdateStrategy::StatefulRollingUpdate
    );
    assert_eq!(
        snapshot.cluster.pods[0].spec.volumes,
        [
            PodVolume::Claim("db-0-scratch".to_owned()),
            PodVolume::HostPath
        ]
    );
}

#[test]
fn a_template_error_names_the_field_under_spec_template() {
    let workload = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "media"},
                          "spec": {"selector": {}, "template": template(json!({}), json!({
                              "containers": [{"name": "a", "resources": {"requests": {"memory": "lots"}}}]}))}});
    assert_eq!(
        read_err(&list(vec![workload])),
        "item 0 (Deployment media/web): spec.template.spec.containers[0].resources.requests.memory: \"lots\" is not a quantity"
    );
}

#[test]
fn a_typed_spread_policy_converts_with_its_defaults() {
    let policy: kube_spread::api::SpreadPolicy = serde_json::from_value(json!({
        "apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "apps", "namespace": "media"},
        "spec": {"scope": "Policy"},
    }))
    .unwrap();
    let converted = convert::policy(&policy).unwrap();
    assert_eq!(converted.spec.scope, Scope::Policy);
    assert_eq!(
        converted.spec.kinds,
        [WorkloadKind::Deployment, WorkloadKind::StatefulSet],
        "the spec takes its defaults"
    );
    assert_eq!(&*converted.namespace, "media");

    let mut invalid = policy;
    invalid.spec.rebalance.skew_threshold = Some(0);
    let error = convert::policy(&invalid).unwrap_err();
    assert_eq!(error.field, "spec.rebalance.skewThreshold");
}

#[test]
fn snapshot_errors_are_matchable() {
    let error = read("[\"x\"]").unwrap_err();
    assert!(matches!(
        error,
        SnapshotError::NotAnObject {
            found: "a string",
            ..
        }
    ));
}
