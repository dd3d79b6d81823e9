//! `kube-spread simulate`: the built-in homelab-recovery scenario through the library and the
//! binary, and the served simulated cluster driven by the real kubectl.
// Fixtures panic on setup failures, as tests do.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stdout
)]

use kube_spread::sim::{
    report::{Report, text},
    scenario::{RunSimulation, Scenario, Simulation},
};

async fn homelab() -> Report {
    let scenario = Scenario::homelab_recovery().expect("scenario");
    Simulation::new(scenario)
        .expect("simulation")
        .run()
        .await
        .expect("run")
}

#[tokio::test(start_paused = true)]
async fn without_a_controller_the_recovered_node_stays_nearly_empty() {
    let report = homelab().await;
    let mut story = Vec::new();
    text::story(&report, &mut story).expect("story");
    println!("{}", String::from_utf8_lossy(&story));
    let node = |name: &str| {
        report
            .nodes
            .iter()
            .find(|n| n.name == name)
            .cloned()
            .expect("node")
    };
    let (h2, h3, h4) = (node("homelab-02"), node("homelab-03"), node("homelab-04"));
    assert!(report.cluster_seconds >= 7200);
    assert!(h2.pods_before >= 12, "{h2:?}");
    assert_eq!(h2.pods_at_end, 4, "only its DaemonSet pods");
    assert!(h3.pods_at_end >= h2.pods_at_end + 10, "{h3:?}");
    assert!(h4.pods_at_end >= h2.pods_at_end + 10, "{h4:?}");
}

const BINARY: &str = env!("CARGO_BIN_EXE_kube-spread");

#[test]
fn the_binary_reports_the_pile_up_as_json_and_writes_the_report_directory() {
    let dir = std::env::temp_dir().join(format!("kube-spread-simulate-{}", std::process::id()));
    let output = std::process::Command::new(BINARY)
        .args(["simulate", "--no-controller", "-o", "json", "--report"])
        .arg(&dir)
        .output()
        .expect("run kube-spread");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["scenario"], "homelab-recovery");
    assert!(report["clusterSeconds"].as_u64().unwrap() >= 7200);
    let pods = |node: &str, field: &str| {
        report["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == node)
            .and_then(|n| n[field].as_u64())
            .unwrap()
    };
    assert_eq!(pods("homelab-02", "podsAtEnd"), 4);
    assert!(pods("homelab-02", "podsBefore") >= 12);
    assert!(pods("homelab-03", "podsAtEnd") >= 18);
    assert!(pods("homelab-04", "podsAtEnd") >= 18);
    assert_eq!(report["moves"], 0);
    assert_eq!(report["pdbViolations"], 0);
    assert_eq!(report["pinnedMoved"], 0);
    let timeline = report["timeline"].as_array().unwrap();
    assert!(timeline.len() > 100, "sampled every minute");
    assert!(timeline.iter().any(|s| s["event"] == "nodeDown homelab-02"));
    let svg = std::fs::read_to_string(dir.join("pods-per-node.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("homelab-02") && svg.contains("nodeUp homelab-02")
    );
    let table = std::fs::read_to_string(dir.join("final.txt")).unwrap();
    assert!(table.contains("homelab-03") && table.contains("homelab/traefik-"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_scenario_file_is_refused_naming_the_event_and_field() {
    let path = std::env::temp_dir().join(format!(
        "kube-spread-bad-scenario-{}.yaml",
        std::process::id()
    ));
    std::fs::write(&path, "name: bad\nevents:\n  - {at: 10m, nodeDown: n1}\n  - {at: 20m, scale: {kind: Deployment, name: web}}\n").unwrap();
    let output = std::process::Command::new(BINARY)
        .args(["simulate", "--scenario"])
        .arg(&path)
        .output()
        .expect("run kube-spread");
    std::fs::remove_file(&path).ok();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("events[1].scale: missing field `replicas`"),
        "{stderr}"
    );
}

/// One node and one Deployment, to which each test adds what it refuses.
const ONE_NODE: &str = r#"
name: checked
settings: {duration: 1h}
objects:
  - {apiVersion: v1, kind: Node, metadata: {name: a}, status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}}
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: default}, spec: {replicas: 2, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: a, image: x}]}}}}
"#;

#[track_caller]
fn refused(text: &str) -> String {
    match Scenario::parse("checked.yaml", text) {
        Ok(_) => panic!("the scenario was accepted:\n{text}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn an_event_naming_a_node_the_scenario_lacks_is_refused() {
    assert_eq!(
        refused(&format!(
            "{ONE_NODE}events:\n  - {{at: 10m, nodeDown: ghost}}\n"
        )),
        "scenario checked.yaml: events[0].nodeDown: no node \"ghost\" in the scenario (nodes: a)"
    );
    let applied_later = format!(
        "{ONE_NODE}events:\n  - {{at: 5m, cordon: b}}\n  - {{at: 10m, apply: {{apiVersion: v1, kind: Node, metadata: {{name: b}}}}}}\n"
    );
    assert_eq!(
        refused(&applied_later),
        "scenario checked.yaml: events[0].cordon: node \"b\" is only applied at 10m"
    );
    let applied_first = applied_later.replace("at: 5m", "at: 15m");
    assert!(Scenario::parse("checked.yaml", &applied_first).is_ok());
}

#[test]
fn an_event_after_the_scenarios_end_is_refused_rather_than_dropped() {
    assert_eq!(
        refused(&format!(
            "{ONE_NODE}events:\n  - {{at: 10m, cordon: a}}\n  - {{at: 2h, uncordon: a}}\n"
        )),
        "scenario checked.yaml: events[1].at: 2h is after the scenario ends (1h); raise settings.duration or drop the event"
    );
    assert!(
        Scenario::parse(
            "ok",
            &format!("{ONE_NODE}events:\n  - {{at: 1h, cordon: a}}\n")
        )
        .is_ok()
    );
}

#[test]
fn negative_or_absurd_replica_counts_are_refused() {
    assert_eq!(
        refused(&ONE_NODE.replace("replicas: 2", "replicas: -3")),
        "scenario checked.yaml: objects[1] (apps/v1 Deployment default/web).spec.replicas: -3 is negative; replicas must be 0 or more"
    );
    assert_eq!(
        refused(&ONE_NODE.replace("replicas: 2", "replicas: 2000000")),
        "scenario checked.yaml: objects[1] (apps/v1 Deployment default/web).spec.replicas: 2000000 is beyond the simulation's limit of 20000 pods"
    );
    let scale = |replicas: &str| {
        format!(
            "{ONE_NODE}events:\n  - {{at: 5m, scale: {{kind: Deployment, namespace: default, name: web, replicas: {replicas}}}}}\n"
        )
    };
    assert_eq!(
        refused(&scale("-1")),
        "scenario checked.yaml: events[0].scale.replicas: -1 is negative; replicas must be 0 or more"
    );
    assert!(refused(&scale("2000000")).contains("events[0].scale.replicas: 2000000 is beyond"));
    let many = refused(&ONE_NODE.replace("replicas: 2", "replicas: 20000").replace(
        "objects:\n",
        "objects:\n  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: api, namespace: default}, spec: {replicas: 5, selector: {matchLabels: {app: api}}, template: {metadata: {labels: {app: api}}, spec: {containers: [{name: a, image: x}]}}}}\n",
    ));
    assert_eq!(
        many,
        "scenario checked.yaml: objects: the scenario asks for up to 20005 pods (20005 replicas, 0 DaemonSet pods, 0 bare pods), beyond the simulation's limit of 20000"
    );
}

#[test]
fn a_negative_or_unreadable_allocatable_quantity_is_refused() {
    assert_eq!(
        refused(&ONE_NODE.replace("cpu: \"4\"", "cpu: \"-4\"")),
        "scenario checked.yaml: objects[0] (v1 Node a).status.allocatable.cpu: \"-4\" is negative"
    );
    assert_eq!(
        refused(&ONE_NODE.replace("memory: 8Gi", "memory: NaN")),
        "scenario checked.yaml: objects[0] (v1 Node a).status.allocatable.memory: \"NaN\" is not a quantity"
    );
}

#[test]
fn a_scenario_without_nodes_is_refused() {
    let no_nodes: String = ONE_NODE
        .lines()
        .filter(|line| !line.contains("kind: Node"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        refused(&no_nodes),
        "scenario checked.yaml: objects: the scenario has no Node: add at least one (kind: Node) for pods to run on"
    );
}

#[test]
fn scaling_a_kind_that_cannot_scale_is_refused() {
    assert_eq!(
        refused(&format!(
            "{ONE_NODE}events:\n  - {{at: 5m, scale: {{kind: Pod, namespace: default, name: web, replicas: 1}}}}\n"
        )),
        "scenario checked.yaml: events[0].scale.kind: Pod cannot be scaled; scale one of Deployment, StatefulSet, ReplicaSet"
    );
}

#[test]
fn two_million_replicas_are_refused_at_once_instead_of_exhausting_memory() {
    let path = std::env::temp_dir().join(format!(
        "kube-spread-huge-scenario-{}.yaml",
        std::process::id()
    ));
    std::fs::write(&path, ONE_NODE.replace("replicas: 2", "replicas: 2000000")).unwrap();
    let started = std::time::Instant::now();
    let output = std::process::Command::new(BINARY)
        .args(["simulate", "--scenario"])
        .arg(&path)
        .output()
        .expect("run kube-spread");
    std::fs::remove_file(&path).ok();
    assert!(!output.status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("beyond the simulation's limit of 20000 pods"),
        "{stderr}"
    );
}

/// Two nodes, a budgeted Deployment and a DaemonSet.
const SMALL: &str = r#"
name: small
settings: {seed: 3, duration: 30m, podStartup: {min: 5s, max: 5s}}
objects:
  - {apiVersion: v1, kind: Node, metadata: {name: a, labels: {kubernetes.io/hostname: a}}, status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}}
  - {apiVersion: v1, kind: Node, metadata: {name: b, labels: {kubernetes.io/hostname: b}}, status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}}
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: default}, spec: {replicas: 2, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: a, image: x}]}}}}
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: solo, namespace: default}, spec: {replicas: 1, selector: {matchLabels: {app: solo}}, template: {metadata: {labels: {app: solo}}, spec: {containers: [{name: a, image: x}]}}}}
  - {apiVersion: apps/v1, kind: DaemonSet, metadata: {name: agent, namespace: default}, spec: {selector: {matchLabels: {app: agent}}, template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: a, image: x}]}}}}
  - {apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: web, namespace: default}, spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}}
  - {apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: solo, namespace: default}, spec: {minAvailable: 1, selector: {matchLabels: {app: solo}}}}
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: tight, namespace: default}, spec: {replicas: 2, strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}, selector: {matchLabels: {app: tight}}, template: {metadata: {labels: {app: tight}}, spec: {containers: [{name: a, image: x}]}}}}
  - {apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: tight, namespace: default}, spec: {minAvailable: 2, selector: {matchLabels: {app: tight}}}}
events:
  - {at: 20m, restart: {kind: Deployment, namespace: default, name: solo}}
  - {at: 25m, restart: {kind: Deployment, namespace: default, name: tight}}
"#;

#[tokio::test(start_paused = true)]
async fn extra_tasks_run_against_the_api_and_client_moves_are_counted_with_the_budgets_they_break()
{
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::api::rbac::v1::PolicyRule;
    use kube::api::{Api, EvictParams, ListParams};

    let scenario = Scenario::parse("small", SMALL).unwrap();
    let mut simulation = Simulation::new(scenario).unwrap();
    let user = "system:serviceaccount:kube-spread:kube-spread";
    simulation.api().rbac().grant(
        user,
        None,
        vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".to_owned(), "pods/eviction".to_owned()]),
            verbs: vec!["get".to_owned(), "list".to_owned(), "create".to_owned()],
            ..PolicyRule::default()
        }],
    );
    let pods: Api<Pod> = Api::namespaced(simulation.api().client_as(user), "default");
    simulation.spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(600)).await;
        let listed = pods.list(&ListParams::default()).await.unwrap();
        let named = |prefix: &str| {
            listed
                .items
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .find(|n| n.starts_with(prefix))
                .unwrap()
        };
        pods.evict(&named("web-"), &EvictParams::default())
            .await
            .unwrap();
        pods.evict(&named("agent-"), &EvictParams::default())
            .await
            .unwrap();
    });
    let report = simulation.run().await.unwrap();
    let hows: Vec<(&str, &str, bool)> = report
        .move_log
        .iter()
        .map(|m| (m.pod.split('-').next().unwrap(), m.how.as_str(), m.pinned))
        .collect();
    assert_eq!(
        hows,
        [
            ("default/web", "eviction", false),
            ("default/agent", "eviction", true),
            ("default/solo", "rolloutRestart", false),
            ("default/tight", "rolloutRestart", false),
            ("default/tight", "rolloutRestart", false)
        ]
    );
    assert_eq!((report.moves, report.pinned_moved), (5, 1));
    // The restart of the single-replica `solo` (maxUnavailable 25% rounds to 0, surge 1) keeps
    // its pod until the new one is Ready, and the evictions respect their budgets; but `tight`
    // (no surge, minAvailable 2) drops below its budget with each old pod the restart deletes.
    let violated: Vec<&str> = report
        .move_log
        .iter()
        .flat_map(|m| m.violated.iter().map(String::as_str))
        .collect();
    assert_eq!(violated, ["tight", "tight"]);
    assert_eq!(report.pdb_violations, 2);
}

/// The served simulation, killed when the test ends however it ends.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kubectl(kubeconfig: &std::path::Path, cache: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .output()
        .expect("kubectl on PATH");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Runs on real time: the served cluster is another process on the wall clock.
#[test]
fn kubectl_gets_applies_and_deletes_against_the_served_simulation() {
    let dir = std::env::temp_dir().join(format!("kube-spread-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    let cache = dir.join("cache");
    let served = Served(
        std::process::Command::new(BINARY)
            .args(["simulate", "--serve", "127.0.0.1:0", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start kube-spread simulate --serve"),
    );
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let until = |what: &str, done: &mut dyn FnMut() -> bool| {
        while !done() {
            assert!(
                std::time::Instant::now() < patience,
                "gave up waiting for {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    until("the kubeconfig", &mut || kubeconfig.exists());
    let mut nodes = String::new();
    until("three Ready nodes", &mut || {
        let (ok, text) = kubectl(&kubeconfig, &cache, &["get", "nodes"]);
        nodes = text;
        ok && nodes.matches(" Ready ").count() == 3
    });
    assert!(
        nodes.contains("homelab-02") && nodes.contains("worker"),
        "{nodes}"
    );
    let mut pods = String::new();
    until("scheduled pods", &mut || {
        let (ok, text) = kubectl(&kubeconfig, &cache, &["get", "pods", "-A", "-o", "wide"]);
        pods = text;
        ok && pods.contains("homelab-04") && pods.contains("traefik-")
    });
    assert!(
        pods.contains("databases") && pods.contains("mariadb-0"),
        "{pods}"
    );

    let policy = dir.join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: kubespread.io/v1alpha1\nkind: SpreadPolicy\nmetadata:\n  name: media\n  namespace: homelab\nspec:\n  scope: Workload\n  constraints:\n  - maxSkew: 1\n    topologyKey: kubernetes.io/hostname\n    whenUnsatisfiable: ScheduleAnyway\n",
    )
    .unwrap();
    let policy_path = policy.to_string_lossy().into_owned();
    // The simulated API serves no OpenAPI documents, so kubectl's client-side schema check is off;
    // the server still validates the policy against the CRD.
    let (ok, text) = kubectl(
        &kubeconfig,
        &cache,
        &[
            "apply",
            "--server-side",
            "--validate=false",
            "-f",
            &policy_path,
        ],
    );
    assert!(ok && text.contains("serverside-applied"), "{text}");
    let (ok, text) = kubectl(&kubeconfig, &cache, &["get", "spreadpolicies", "-A"]);
    assert!(
        ok && text.contains("media") && text.contains("spread"),
        "{text}"
    );
    let (ok, text) = kubectl(
        &kubeconfig,
        &cache,
        &["delete", "spreadpolicy", "media", "-n", "homelab"],
    );
    assert!(ok && text.contains("deleted"), "{text}");
    let (_, text) = kubectl(
        &kubeconfig,
        &cache,
        &["get", "spreadpolicies", "-n", "homelab"],
    );
    assert!(!text.contains("media"), "{text}");
    drop(served);
    std::fs::remove_dir_all(&dir).ok();
}

/// A report of `counts.len()` nodes, each holding its count from start to end.
fn report_of(counts: &[u32]) -> Report {
    let name = |i: usize| format!("node-{i:02}");
    let pods: std::collections::BTreeMap<String, u32> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| (name(i), *c))
        .collect();
    let sample = |t| kube_spread::sim::report::Sample {
        t,
        pods: pods.clone(),
        pending: 0,
        terminating: 0,
        event: None,
    };
    Report {
        scenario: "chart".to_owned(),
        description: String::new(),
        seed: 1,
        controller: false,
        cluster_seconds: 600,
        nodes: counts
            .iter()
            .enumerate()
            .map(|(i, c)| kube_spread::sim::report::NodePods {
                name: name(i),
                pods_before: *c,
                pods_at_end: *c,
            })
            .collect(),
        timeline: vec![sample(0), sample(300), sample(600)],
        events: Vec::new(),
        moves: 0,
        pdb_violations: 0,
        pinned_moved: 0,
        move_log: Vec::new(),
        replacements: kube_spread::sim::report::Replacements::default(),
        policy_groups: Vec::new(),
        final_pods: Vec::new(),
    }
}

/// The y coordinates of each polyline of the chart, in drawing order.
fn line_heights(svg: &str) -> Vec<Vec<String>> {
    svg.lines()
        .filter(|line| line.starts_with("<polyline"))
        .map(|line| {
            let points = line
                .split("points=\"")
                .nth(1)
                .unwrap()
                .trim_end_matches("\"/>");
            points
                .split(' ')
                .map(|point| point.split(',').nth(1).unwrap().to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn the_chart_draws_each_node_at_its_exact_count() {
    // The plot runs from y=360 (0 pods) up to y=40 (10 pods, the top of the scale).
    let svg = kube_spread::sim::report::svg::chart(&report_of(&[0, 10, 10]));
    let heights = line_heights(&svg);
    assert_eq!(heights.len(), 3);
    assert!(heights[0].iter().all(|y| y == "360.0"), "{:?}", heights[0]);
    for line in &heights[1..] {
        assert!(line.iter().all(|y| y == "40.0"), "{line:?}");
    }
}

#[test]
fn a_chart_of_many_nodes_names_the_busiest_and_emptiest_and_bands_the_rest() {
    let counts: Vec<u32> = (0..50).collect();
    let svg = kube_spread::sim::report::svg::chart(&report_of(&counts));
    let named: Vec<&str> = svg
        .lines()
        .filter(|line| line.contains("stroke-width=\"3\"/><text"))
        .filter_map(|line| line.split('>').nth(2))
        .map(|text| text.trim_end_matches("</text"))
        .collect();
    assert_eq!(
        named,
        [
            "node-49", "node-48", "node-47", "node-46", "node-03", "node-02", "node-01", "node-00"
        ]
    );
    assert!(svg.contains("42 other nodes (fewest to most)"), "{svg}");
    assert_eq!(svg.matches("<polygon").count(), 1);
    let colours: std::collections::BTreeSet<&str> = svg
        .lines()
        .filter(|line| line.starts_with("<polyline"))
        .filter_map(|line| line.split("stroke=\"").nth(1))
        .map(|rest| &rest[..7])
        .collect();
    assert_eq!(colours.len(), 8, "each named node has its own colour");
}

/// Runs on real time, as `simulate --serve` does.
#[tokio::test]
async fn the_served_cluster_runs_on_the_real_clock_so_kube_spread_run_sees_recent_events() {
    use k8s_openapi::api::core::v1::Node;

    let scenario = Scenario::parse("small", SMALL).unwrap();
    let mut simulation = kube_spread::cli::simulate::live(scenario, false).unwrap();
    let nodes: kube::Api<Node> = kube::Api::all(simulation.api().client());
    let (sender, receiver) = tokio::sync::oneshot::channel();
    simulation.spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let _ = sender.send(nodes.list(&kube::api::ListParams::default()).await);
    });
    simulation
        .run_until(tokio::time::sleep(std::time::Duration::from_secs(1)))
        .await
        .unwrap();
    let listed = receiver.await.unwrap().unwrap();
    let now = jiff::Timestamp::now();
    assert_eq!(listed.items.len(), 2);
    for node in listed.items {
        let created: jiff::Timestamp = node
            .metadata
            .creation_timestamp
            .map(|t| t.0.to_string())
            .unwrap()
            .parse()
            .unwrap();
        let age = now.duration_since(created).abs();
        assert!(
            age < jiff::SignedDuration::from_secs(60),
            "node created at {created}, now is {now}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_report_that_falls_behind_the_clusters_changes_fails_the_run_instead_of_losing_moves() {
    let scenario = Scenario::parse("small", SMALL).unwrap();
    let simulation = Simulation::new(scenario).unwrap();
    simulation.api().store().set_history_limit(5);
    let error = simulation.run().await.unwrap_err();
    assert!(
        matches!(error, RunSimulation::ReportFellBehind(_)),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("the report fell behind the cluster"),
        "{error}"
    );
}

/// Three nodes and `apps` namespaces, each with one Deployment and its own SpreadPolicy; node c
/// fails at 5m and recovers at 25m.
fn many_policies(apps: usize) -> Scenario {
    let mut text = String::from(
        "name: many-policies\nsettings: {seed: 11, duration: 1h30m, podStartup: {min: 5s, max: 20s}}\n\
         events:\n  - {at: 5m, nodeDown: c}\n  - {at: 25m, nodeUp: c}\nobjects:\n",
    );
    for node in ["a", "b", "c"] {
        text.push_str(&format!(
            "  - {{apiVersion: v1, kind: Node, metadata: {{name: {node}, labels: {{kubernetes.io/hostname: {node}}}}}, status: {{allocatable: {{cpu: \"8\", memory: 16Gi, pods: \"110\"}}}}}}\n"
        ));
    }
    for app in 0..apps {
        let ns = format!("app-{app:02}");
        text.push_str(&format!(
            "  - {{apiVersion: v1, kind: Namespace, metadata: {{name: {ns}}}}}\n\
             \x20 - {{apiVersion: apps/v1, kind: Deployment, metadata: {{name: web, namespace: {ns}}}, spec: {{replicas: 3, selector: {{matchLabels: {{app: web}}}}, template: {{metadata: {{labels: {{app: web}}}}, spec: {{terminationGracePeriodSeconds: 5, containers: [{{name: a, image: x, resources: {{requests: {{cpu: 100m}}}}}}]}}}}}}}}\n\
             \x20 - {{apiVersion: kubespread.io/v1alpha1, kind: SpreadPolicy, metadata: {{name: spread, namespace: {ns}}}, spec: {{scope: Workload, constraints: [{{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}}], rebalance: {{mode: Evict}}}}}}\n"
        ));
    }
    Scenario::parse("many-policies", &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn the_same_scenario_and_seed_give_the_same_report_with_many_policies() {
    let run = || {
        let report = kube_spread::cli::simulate::run_paused(many_policies(16), true).unwrap();
        serde_json::to_string_pretty(&report).unwrap()
    };
    let (first, second) = (run(), run());
    let report: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert!(
        report["moves"].as_u64().unwrap() > 0,
        "the policies moved nothing"
    );
    if first != second {
        let line = first
            .lines()
            .zip(second.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "the reports differ from line {line}:\n{}\n---\n{}",
            first
                .lines()
                .skip(line.saturating_sub(5))
                .take(15)
                .collect::<Vec<_>>()
                .join("\n"),
            second
                .lines()
                .skip(line.saturating_sub(5))
                .take(15)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
}
