//! Disruption windows, end to end: the real controller on the simulated API and clock starts
//! moves only inside a policy's `rebalance.windows`, says in its status when the next one
//! opens, and reports a schedule it cannot read as an invalid policy naming the field.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use kube_spread::sim::{
    SimApi,
    report::Report,
    scenario::{Scenario, Simulation},
};
use serde_json::{Value, json};
use support::controller::{CONTROLLER_USER, condition, grant, policy_status, replica};

/// The simulated cluster's wall clock starts at midnight UTC.
const START: &str = "2026-12-07T00:00:00Z";
/// 01:59 and 02:00 on the simulated clock, in seconds since the start.
const AT_01_59: u64 = 7140;
const AT_02_00: u64 = 7200;

fn object(value: Value) -> String {
    format!("  - {value}\n")
}

fn node(name: &str) -> String {
    object(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}))
}

fn deployment(name: &str, replicas: u32) -> String {
    object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "apps", "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"terminationGracePeriodSeconds": 5,
                                       "containers": [{"name": "main", "image": "x",
                                                       "resources": {"requests": {"cpu": "100m"}}}]}}}}))
}

/// A SpreadPolicy `spread` in `apps` that is always armed and acts a minute after skew
/// appears, but only inside `windows`.
fn policy(windows: Value) -> String {
    object(
        json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "spread", "namespace": "apps"},
        "spec": {"scope": "Policy",
                 "constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                  "whenUnsatisfiable": "ScheduleAnyway"}],
                 "rebalance": {"trigger": "Continuous", "stabilizationWindow": "1m",
                               "windows": windows}}}),
    )
}

/// Three nodes and six pods; node c is down from 2m to 20m, so the pods pile up 3/3/0 long
/// before the window opens.
fn scenario(policy: String, duration: &str) -> Scenario {
    let text = format!(
        "name: windows\nsettings: {{seed: 7, start: {START}, duration: {duration}, podStartup: {{min: 5s, max: 20s}}, sampleEvery: 1m}}\n\
         events:\n  - {{at: 2m, nodeDown: c}}\n  - {{at: 20m, nodeUp: c}}\n\
         objects:\n  - {{apiVersion: v1, kind: Namespace, metadata: {{name: apps}}}}\n{}{}{}{}{policy}",
        node("a"),
        node("b"),
        node("c"),
        deployment("web", 6),
    );
    Scenario::parse("windows", &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Runs the scenario with one controller replica; returns the report, the policy's status at
/// `probe_at` seconds, and its status at the end.
async fn run(scenario: Scenario, probe_at: u64) -> (Report, Value, Value) {
    let (report, probed, end, _) = run_keeping_api(scenario, probe_at).await;
    (report, probed, end)
}

/// [`run`], also returning the simulated API as the scenario left it.
async fn run_keeping_api(scenario: Scenario, probe_at: u64) -> (Report, Value, Value, SimApi) {
    let mut simulation = Simulation::new(scenario).unwrap();
    let api: SimApi = simulation.api().clone();
    grant(&api, None).await;
    simulation.spawn(replica(
        &api,
        CONTROLLER_USER,
        "kube-spread-0",
        false,
        std::future::pending(),
    ));
    let probed = Arc::new(Mutex::new(Value::Null));
    let (probe_api, probe_into) = (api.clone(), probed.clone());
    simulation.spawn(async move {
        tokio::time::sleep(Duration::from_secs(probe_at)).await;
        let status = policy_status(&probe_api, "apps", "spread").await;
        *probe_into.lock().unwrap() = status;
    });
    let report = simulation.run().await.unwrap();
    let end = policy_status(&api, "apps", "spread").await;
    let probed = probed.lock().unwrap().clone();
    (report, probed, end, api)
}

fn message(status: &Value, type_: &str) -> String {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The window case in one zone: no move before 02:00 UTC, the first within a minute of it,
/// and at 01:59 the status says it waits for the window and when it opens.
async fn moves_start_when_the_window_opens(windows: Value, opens: &str) {
    let (report, at_01_59, _) = run(scenario(policy(windows), "2h20m"), AT_01_59).await;
    assert!(
        report.moves > 0,
        "the window opened: {:#?}",
        report.move_log
    );
    let first = report.move_log[0].t;
    assert!(
        (AT_02_00..AT_02_00 + 60).contains(&first),
        "first move at {first} s: {:#?}",
        report.move_log
    );
    assert_eq!(
        condition(&at_01_59, "Rebalancing"),
        ("False".to_owned(), "OutsideWindow".to_owned()),
        "{at_01_59:#}"
    );
    assert_eq!(
        message(&at_01_59, "Rebalancing"),
        format!("outside its disruption windows; next opens {opens}")
    );
}

#[tokio::test(start_paused = true)]
async fn a_policy_with_a_window_at_02_00_makes_no_move_at_01_59_and_starts_moving_at_02_00() {
    moves_start_when_the_window_opens(
        json!([{"schedule": "0 2 * * *", "duration": "4h"}]),
        "2026-12-07T02:00:00+00:00",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_window_in_a_time_zone_opens_at_its_local_time() {
    // 03:00 in Berlin is 02:00 UTC in December.
    moves_start_when_the_window_opens(
        json!([{"schedule": "0 3 * * *", "duration": "4h", "timeZone": "Europe/Berlin"}]),
        "2026-12-07T03:00:00+01:00",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_schedule_makes_the_policy_invalid_naming_the_field_and_nothing_moves() {
    let windows = json!([
        {"schedule": "0 2 * * *", "duration": "4h"},
        {"schedule": "at dawn", "duration": "1h"},
    ]);
    let (report, _, end) = run(scenario(policy(windows), "30m"), 60).await;
    assert_eq!(report.moves, 0, "{:#?}", report.move_log);
    assert_eq!(
        condition(&end, "Ready"),
        ("False".to_owned(), "InvalidPolicy".to_owned()),
        "{end:#}"
    );
    let said = message(&end, "Ready");
    assert!(
        said.contains("spec.rebalance.windows[1].schedule: \"at dawn\" is not a cron schedule"),
        "{said}"
    );
}

/// The committed homelab example with a Berlin window on its `homelab/spread` policy, in a
/// temporary file.
fn homelab_with_a_window() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/homelab.json");
    let mut list: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for item in list["items"].as_array_mut().unwrap() {
        if item["kind"] == "SpreadPolicy" && item["metadata"]["namespace"] == "homelab" {
            item["spec"]["rebalance"]["windows"] = json!([
                {"schedule": "0 2 * * *", "duration": "4h", "timeZone": "Europe/Berlin"}
            ]);
        }
    }
    let dir = std::env::temp_dir().join(format!("kube-spread-windows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("homelab-window.json");
    std::fs::write(&file, list.to_string()).unwrap();
    file
}

fn plan(snapshot: &std::path::Path, now: &str, json: bool) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kube-spread"));
    command.args(["plan", "--snapshot"]).arg(snapshot).args([
        "--now",
        now,
        "--namespace",
        "homelab",
    ]);
    if json {
        command.args(["-o", "json"]);
    }
    let output = command.output().expect("the binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn plan_says_a_policy_outside_its_windows_waits_and_when_the_next_one_opens() {
    let snapshot = homelab_with_a_window();
    let table = plan(&snapshot, "2026-12-06T12:00:00Z", false);
    assert!(
        table.contains(
            "SpreadPolicy homelab/spread: outside its disruption windows; next opens 2026-12-07T02:00:00+01:00 (its moves wait)."
        ),
        "{table}"
    );
    let json: Value = serde_json::from_str(&plan(&snapshot, "2026-12-06T12:00:00Z", true)).unwrap();
    assert_eq!(
        json["windows"],
        json!([{"kind": "SpreadPolicy", "namespace": "homelab", "policy": "spread", "open": false,
                "nextOpens": "2026-12-07T02:00:00+01:00",
                "message": "outside its disruption windows; next opens 2026-12-07T02:00:00+01:00"}])
    );
    // The plan itself is unchanged: the moves are what would start once the window opens.
    assert!(
        json["groups"]
            .as_array()
            .is_some_and(|groups| !groups.is_empty())
    );
    // 02:30 in Berlin is inside the window.
    let inside = plan(&snapshot, "2026-12-07T01:30:00Z", false);
    assert!(
        inside.contains(
            "SpreadPolicy homelab/spread: inside a disruption window until 2026-12-07T06:00:00+01:00."
        ),
        "{inside}"
    );
}

#[test]
fn kubectl_get_spol_shows_that_a_policy_waits_for_its_window_and_when_it_opens() {
    // The cluster at 01:59, on the paused simulated clock ...
    let paused = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let windows = json!([{"schedule": "0 2 * * *", "duration": "4h"}]);
    let (report, _, _, api) =
        paused.block_on(run_keeping_api(scenario(policy(windows), "1h59m"), 60));
    assert_eq!(report.moves, 0, "{:#?}", report.move_log);
    drop(paused);
    // ... served on real time to the real kubectl.
    let served = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    served.block_on(async {
        let (address, server) = api.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let kubectl = support::kubectl::Kubectl::new(address);
        let listed = kubectl.ok(&["get", "spol", "-n", "apps"]).await;
        let table = listed.columns();
        assert!(
            table.starts_with("NAME SCOPE SKEW BALANCED REBALANCING WORKLOADS AGE\nspread Policy "),
            "{table}"
        );
        assert!(table.contains(" False OutsideWindow 1 "), "{table}");
        let message = kubectl
            .ok(&[
                "get",
                "spol",
                "spread",
                "-n",
                "apps",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Rebalancing\")].message}",
            ])
            .await;
        assert_eq!(
            message.stdout.trim(),
            "outside its disruption windows; next opens 2026-12-07T02:00:00+00:00"
        );
        server.abort();
    });
}

#[test]
fn a_cluster_spread_policy_takes_windows_too_and_an_unknown_time_zone_is_named() {
    let policy = |zone: &str| {
        json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "ClusterSpreadPolicy",
            "metadata": {"name": "nodes"},
            "spec": {"constraints": [{"maxSkew": 2, "topologyKey": "kubernetes.io/hostname",
                                      "whenUnsatisfiable": "ScheduleAnyway"}],
                     "rebalance": {"windows": [{"schedule": "0 2 * * *", "duration": "4h",
                                                "timeZone": zone}]}}})
    };
    let read = kube_spread::snapshot::convert::cluster_policy_object(&policy("Europe/Berlin"))
        .expect("a valid window");
    assert_eq!(read.spec.windows.len(), 1);
    assert_eq!(
        read.spec.windows[0].time_zone.as_deref(),
        Some("Europe/Berlin")
    );
    let refused = kube_spread::snapshot::convert::cluster_policy_object(&policy("Europe/Atlantis"))
        .expect_err("no such zone");
    assert_eq!(refused.field, "spec.rebalance.windows[0].timeZone");
    assert!(
        refused
            .to_string()
            .contains("\"Europe/Atlantis\" is not an IANA time zone"),
        "{refused}"
    );
}
