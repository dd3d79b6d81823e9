#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
//! The command line as a user meets it: `plan` on the homelab example ends near 15/15/15
//! without touching pinned or DaemonSet pods, and bad input gives one clear line and a non-zero
//! exit, never a panic.

use std::{
    path::PathBuf,
    process::{Command, Output},
};

#[path = "../examples/homelab_snapshot.rs"]
mod homelab_snapshot;

fn kube_spread(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kube-spread"))
        .args(args)
        // No kubeconfig: commands that would reach a live cluster must say so.
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("the binary runs")
}

fn example() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/homelab.json")
        .display()
        .to_string()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `text` to a temporary file and returns its path.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kube-spread-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("temp file");
    path
}

/// Asserts one clear line on stderr, a non-zero exit and no panic.
fn assert_one_clear_line(output: &Output, mentions: &[&str]) {
    let err = stderr(output);
    assert!(!output.status.success(), "exit status: {:?}", output.status);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for word in mentions {
        assert!(err.contains(word), "{err:?} does not mention {word:?}");
    }
}

#[test]
fn the_committed_homelab_example_is_what_its_generator_writes() {
    let committed = std::fs::read_to_string(example()).expect("examples/homelab.json");
    assert!(
        committed == homelab_snapshot::snapshot_text(),
        "examples/homelab.json drifted: run `cargo run --example homelab_snapshot > examples/homelab.json`"
    );
}

#[test]
fn the_homelab_plan_ends_near_15_15_15_and_leaves_pinned_and_daemonset_pods_alone() {
    let output = kube_spread(&["plan", "--snapshot", &example(), "-o", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let nodes = plan["summary"]["nodes"].as_array().expect("nodes");
    let before: Vec<u64> = nodes
        .iter()
        .map(|n| n["pods"].as_u64().expect("pods"))
        .collect();
    let after: Vec<u64> = nodes
        .iter()
        .map(|n| n["podsAfter"].as_u64().expect("podsAfter"))
        .collect();
    assert_eq!(before, [4, 29, 12], "the seed's pile-up");
    for pods in &after {
        assert!((14..=16).contains(pods), "ends near 15/15/15: {after:?}");
    }
    let moved: Vec<&str> = plan["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["moves"].as_array().expect("moves"))
        .map(|m| m["pod"].as_str().expect("pod"))
        .collect();
    for pinned_or_daemon in [
        "homeassistant",
        "z2m",
        "mariadb",
        "mongodb",
        "longhorn",
        "metallb-speaker",
        "node-exporter",
        "jellyfin",
    ] {
        assert!(
            moved.iter().all(|pod| !pod.contains(pinned_or_daemon)),
            "{pinned_or_daemon} moved: {moved:?}"
        );
    }
    assert_eq!(plan["summary"]["moves"], moved.len());
}

#[test]
fn the_plan_json_has_the_documented_fields() {
    let output = kube_spread(&[
        "plan",
        "--snapshot",
        &example(),
        "-o",
        "json",
        "--namespace",
        "homelab",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let group = &plan["groups"][0];
    for field in [
        "namespace",
        "policy",
        "group",
        "constraints",
        "moves",
        "skipped",
    ] {
        assert!(group.get(field).is_some(), "group.{field}");
    }
    let constraint = &group["constraints"][0];
    for field in [
        "topologyKey",
        "maxSkew",
        "whenUnsatisfiable",
        "domains",
        "globalMin",
        "skew",
        "actionableSkew",
    ] {
        assert!(constraint.get(field).is_some(), "constraint.{field}");
    }
    for field in ["name", "pods", "accepting"] {
        assert!(
            constraint["domains"][0].get(field).is_some(),
            "domain.{field}"
        );
    }
    for field in ["pod", "fromNode", "fromDomain", "toNode", "pdbAllows"] {
        assert!(group["moves"][0].get(field).is_some(), "move.{field}");
    }
    for field in ["pod", "reason"] {
        assert!(group["skipped"][0].get(field).is_some(), "skipped.{field}");
    }
    assert!(plan["summary"]["nodes"][0].get("name").is_some());
}

#[test]
fn the_plan_table_draws_bars_and_says_why_nothing_moves() {
    let output = kube_spread(&["plan", "--snapshot", &example()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.contains("homelab-03  ██████"), "{table}");
    assert!(
        table.contains("Pinned: the policy leaves this workload's pods where they are"),
        "{table}"
    );
    assert!(table.contains("13 move(s) in all"), "{table}");
}

#[test]
fn explain_says_where_a_pod_may_go_and_why_not_elsewhere() {
    let plan = kube_spread(&[
        "plan",
        "--snapshot",
        &example(),
        "-o",
        "json",
        "--namespace",
        "homelab",
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("JSON");
    let pod = plan["groups"][0]["moves"][0]["pod"]
        .as_str()
        .expect("a moved pod")
        .to_owned();
    let output = kube_spread(&["explain", &pod, "--snapshot", &example(), "-o", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let explanation: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(explanation["pod"], pod.as_str());
    assert_eq!(explanation["source"], "SpreadPolicy spread");
    assert_eq!(
        explanation["constraints"][0]["topologyKey"],
        "kubernetes.io/hostname"
    );
    let nodes = explanation["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3);
    assert!(
        nodes
            .iter()
            .all(|n| n["feasible"].is_boolean() && n["reasons"].is_array())
    );
}

#[test]
fn explain_of_a_pinned_pod_refuses_every_other_node_by_name() {
    let output = kube_spread(&[
        "explain",
        "homelab/homeassistant-0",
        "--snapshot",
        &example(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.contains("Feasible: homelab-03"), "{table}");
    assert!(table.contains("homelab-02: NodeName"), "{table}");
}

#[test]
fn a_malformed_snapshot_gives_one_line_naming_the_item_and_field() {
    let text = std::fs::read_to_string(example())
        .expect("example")
        .replacen("\"cpu\": \"100m\"", "\"cpu\": \"a lot\"", 1);
    let path = temp_file("bad-quantity.json", &text);
    let output = kube_spread(&["plan", "--snapshot", path.to_str().expect("utf-8 path")]);
    assert_one_clear_line(
        &output,
        &[
            "item 19",
            "Deployment homelab/sonarr",
            "resources.requests.cpu",
            "a lot",
        ],
    );
}

#[test]
fn text_that_is_not_a_snapshot_gives_one_clear_line() {
    let path = temp_file("garbage.json", "{ this is not json");
    let output = kube_spread(&["plan", "--snapshot", path.to_str().expect("utf-8 path")]);
    assert_one_clear_line(&output, &["garbage.json"]);
}

#[test]
fn an_invalid_policy_in_a_snapshot_names_the_policy_and_field() {
    let text = std::fs::read_to_string(example())
        .expect("example")
        .replace("\"maxSkew\": 1", "\"maxSkew\": 0");
    let path = temp_file("bad-policy.json", &text);
    let output = kube_spread(&["plan", "--snapshot", path.to_str().expect("utf-8 path")]);
    assert_one_clear_line(&output, &["SpreadPolicy", "spread", "maxSkew"]);
}

#[test]
fn a_missing_snapshot_file_gives_one_clear_line() {
    let output = kube_spread(&["plan", "--snapshot", "/nonexistent/snapshot.json"]);
    assert_one_clear_line(&output, &["/nonexistent/snapshot.json"]);
}

#[test]
fn explaining_an_unknown_pod_gives_one_clear_line() {
    let output = kube_spread(&["explain", "homelab/nope", "--snapshot", &example()]);
    assert_one_clear_line(&output, &["homelab/nope", "not found"]);
    let output = kube_spread(&["explain", "no-slash", "--snapshot", &example()]);
    assert_one_clear_line(&output, &["NAMESPACE/POD"]);
}

#[test]
fn without_a_snapshot_or_kubeconfig_plan_says_it_cannot_reach_a_cluster() {
    let output = kube_spread(&["plan"]);
    assert_one_clear_line(&output, &["cluster"]);
}

#[test]
fn crd_prints_the_committed_custom_resource_definitions_as_one_stream() {
    let output = kube_spread(&["crd"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut committed = String::new();
    for file in ["spreadpolicy.yaml", "clusterspreadpolicy.yaml"] {
        committed.push_str("---\n");
        committed.push_str(
            &std::fs::read_to_string(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("crds")
                    .join(file),
            )
            .expect("the committed CRD"),
        );
    }
    assert_eq!(stdout(&output), committed);
}

#[test]
fn explain_shows_the_scheduler_scores_of_each_feasible_node_and_where_the_pod_would_land() {
    let pod = "homelab/bazarr-7l2xbq47hp-w65bk";
    let output = kube_spread(&["explain", pod, "--snapshot", &example(), "-o", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let explanation: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let predicted = explanation["predictedNode"]
        .as_str()
        .expect("a predicted node");
    let nodes = explanation["nodes"].as_array().expect("nodes");
    let best = nodes
        .iter()
        .filter(|n| n["feasible"] == true)
        .max_by_key(|n| n["scores"]["total"].as_i64().expect("a total"))
        .expect("a feasible node");
    assert_eq!(best["name"], predicted);
    assert!(best["scores"]["NodeResourcesFit"].is_i64(), "{best:#}");
    let table = stdout(&kube_spread(&["explain", pod, "--snapshot", &example()]));
    assert!(table.contains("Scheduler scores"), "{table}");
    assert!(
        table.contains(&format!("Predicted node: {predicted}")),
        "{table}"
    );
}
