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
    scenario::{Scenario, Simulation},
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
