//! Runs the real controller in-process against a simulated API, as a test's background task,
//! and reads what it wrote.

use std::time::Duration;

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Namespace, rbac::v1::PolicyRule};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_spread::{
    api::SpreadPolicy,
    controller::{self, LeaseSettings, Settings},
    sim::SimApi,
};
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};

/// The identity the controller's requests carry.
pub const CONTROLLER_USER: &str = "system:serviceaccount:kube-spread:kube-spread";

/// The rules of a chart RBAC template (`charts/kube-spread/templates/...`), read from the
/// template itself: its `rules:` block, which holds no template directives except the lease
/// name, filled in as the chart's default (`kube-spread`).
pub fn chart_rules(template: &str) -> Vec<PolicyRule> {
    let path = format!(
        "{}/charts/kube-spread/templates/{template}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("the chart's RBAC template is readable");
    let document = text.split("\n---").next().unwrap_or_default();
    let rules = document
        .split_once("\nrules:\n")
        .map(|(_, rules)| rules)
        .expect("the template has a rules: block");
    let rules: String = rules
        .lines()
        .filter(|line| !line.trim_start().starts_with("{{"))
        .map(|line| {
            line.replace(
                r#"{{ include "kube-spread.leaseName" . | quote }}"#,
                "\"kube-spread\"",
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    serde_saphyr::from_str(&rules).expect("the chart's rules are YAML PolicyRules")
}

/// The ClusterRole's rules, one rule per `(apiGroup, resource, verb)` so that a test can
/// leave out any single permission.
pub fn cluster_permissions() -> Vec<PolicyRule> {
    split(chart_rules("clusterrole.yaml"))
}

/// The leader-election Role's rules, one per permission.
pub fn lease_permissions() -> Vec<PolicyRule> {
    split(chart_rules("role.yaml"))
}

fn split(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut permissions = Vec::new();
    for rule in rules {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    permissions.push(PolicyRule {
                        api_groups: Some(vec![group.clone()]),
                        resources: Some(vec![resource.clone()]),
                        verbs: vec![verb.clone()],
                        resource_names: rule.resource_names.clone(),
                        ..PolicyRule::default()
                    });
                }
            }
        }
    }
    permissions
}

/// Every permission the chart grants: the ClusterRole's, then the lease Role's.
pub fn chart_permissions() -> Vec<PolicyRule> {
    let mut all = cluster_permissions();
    all.extend(lease_permissions());
    all
}

/// Grants the controller's identity exactly the chart's permissions (with one permission of
/// [`chart_permissions`] left out, when `without` names it), and creates its namespace.
pub async fn grant(sim: &SimApi, without: Option<usize>) {
    let mut cluster = cluster_permissions();
    let mut lease = lease_permissions();
    match without {
        Some(index) if index < cluster.len() => {
            cluster.remove(index);
        }
        Some(index) => {
            lease.remove(index - cluster.len());
        }
        None => {}
    }
    sim.rbac().grant(CONTROLLER_USER, None, cluster);
    sim.rbac()
        .grant(CONTROLLER_USER, Some("kube-spread"), lease);
    let namespaces: Api<Namespace> = Api::all(sim.client());
    let _ = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "kube-spread"}}))
                .expect("namespace"),
        )
        .await;
}

/// A controller running in the background; stops (and releases its lease) when stopped.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// Stops the controller and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// A controller replica as a future: acting as `user`, named `identity`, electing a leader on
/// the lease `kube-spread/kube-spread` when `elect`, until `shutdown` resolves (a leader then
/// releases the lease). For a test's background task or a simulation's [`spawn`].
///
/// [`spawn`]: kube_spread::sim::scenario::Simulation::spawn
pub fn replica(
    sim: &SimApi,
    user: &str,
    identity: &str,
    elect: bool,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    // `RUST_LOG=kube_spread=debug cargo test ...` shows what the controller does.
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = kube_spread::telemetry::init(&filter, false);
    }
    let client = sim.client_as(user);
    let clock = *sim.store().clock();
    let settings = Settings {
        metrics_address: None,
        lease: elect.then(|| LeaseSettings {
            namespace: "kube-spread".to_owned(),
            name: "kube-spread".to_owned(),
        }),
        identity: identity.to_owned(),
        caps: controller::disruption::Caps::default(),
    };
    async move {
        if let Err(error) = controller::run(client, clock, settings, shutdown).await {
            panic!("the controller failed: {error}");
        }
    }
}

/// Starts a controller replica against `sim` as the chart's ServiceAccount, named `identity`,
/// with leader election when `elect`; it runs until stopped.
pub fn start_as(sim: &SimApi, identity: &str, elect: bool) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(replica(sim, CONTROLLER_USER, identity, elect, shutdown));
    Running {
        stop: Some(stop),
        task,
    }
}

/// Grants the chart's rules and starts the one controller replica, without leader election.
pub async fn start(sim: &SimApi) -> Running {
    grant(sim, None).await;
    start_as(sim, "kube-spread-0", false)
}

/// Lets simulated time pass.
pub async fn wait(seconds: u64) {
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}

/// Applies a SpreadPolicy as a person would (field manager `kubectl`).
pub async fn apply_policy(sim: &SimApi, namespace: &str, name: &str, spec: Value) {
    let policies: Api<SpreadPolicy> = Api::namespaced(sim.client(), namespace);
    let body = json!({
        "apiVersion": "kubespread.io/v1alpha1",
        "kind": "SpreadPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    });
    policies
        .patch(name, &PatchParams::apply("kubectl"), &Patch::Apply(&body))
        .await
        .expect("the policy is accepted");
}

/// A policy's current status, as JSON.
pub async fn policy_status(sim: &SimApi, namespace: &str, name: &str) -> Value {
    let policies: Api<SpreadPolicy> = Api::namespaced(sim.client(), namespace);
    let policy = policies.get(name).await.expect("the policy exists");
    serde_json::to_value(policy.status).expect("status as JSON")
}

/// The condition of a type, as (status, reason).
pub fn condition(status: &Value, type_: &str) -> (String, String) {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .unwrap_or_default()
}

/// A Deployment's pod-template topology spread constraints, as JSON.
pub async fn template_constraints(sim: &SimApi, namespace: &str, name: &str) -> Vec<Value> {
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), namespace);
    let deployment = deployments.get(name).await.expect("the deployment exists");
    let value = serde_json::to_value(deployment).expect("deployment as JSON");
    value["spec"]["template"]["spec"]["topologySpreadConstraints"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The field managers of an object, with their operations.
pub async fn managers(sim: &SimApi, namespace: &str, name: &str) -> Vec<(String, String)> {
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), namespace);
    let deployment = deployments.get(name).await.expect("the deployment exists");
    deployment
        .metadata
        .managed_fields
        .into_iter()
        .flatten()
        .map(|entry| {
            (
                entry.manager.unwrap_or_default(),
                entry.operation.unwrap_or_default(),
            )
        })
        .collect()
}

/// Grants the chart's rules and starts one controller replica serving `/metrics` on a free
/// loopback port; returns it and the address.
pub async fn start_serving_metrics(sim: &SimApi) -> (Running, std::net::SocketAddr) {
    grant(sim, None).await;
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port");
    let client = sim.client_as(CONTROLLER_USER);
    let clock = *sim.store().clock();
    let settings = Settings {
        metrics_address: Some(address),
        lease: None,
        identity: "kube-spread-0".to_owned(),
        caps: controller::disruption::Caps::default(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(error) = controller::run(client, clock, settings, shutdown).await {
            panic!("the controller failed: {error}");
        }
    });
    (
        Running {
            stop: Some(stop),
            task,
        },
        address,
    )
}

/// What `/metrics` serves at `address`.
pub async fn scrape(address: std::net::SocketAddr) -> String {
    fetch(address, "/metrics").await
}

/// The whole HTTP response (status line, headers, body) for `GET path` at `address`.
pub async fn fetch(address: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("the metrics endpoint accepts connections");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .expect("request written");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response read");
    response
}
