//! The controller at the scalability envelope under steady churn (issue 13): the simulated API
//! filled with 5,000 nodes in 3 zones, 150,000 running pods of 10,000 Deployments in 1,000
//! namespaces, and a SpreadPolicy per namespace (hostname and zone constraints, already on the
//! templates, so nothing is injected); the real controller (`controller::run`) runs on its own
//! runtime thread, and once every policy has a status, the bench replays a steady stream of
//! changes in real time for `CHURN_SECONDS`:
//!
//! - a node status heartbeat every 10 s per node (500 a second at 5,000 nodes), changing only
//!   `lastHeartbeatTime`, as the kubelet's;
//! - 50 pod events a second: a status update that changes nothing the plan reads (a new
//!   `lastProbeTime`), a pod turning unready, the one before turning ready again, a pod
//!   created, and a pod deleted. Each deletion is a probe: the time until its policy's status
//!   counts one pod fewer is the change's latency.
//!
//! The controller runs as it ships: with mimalloc, and talking to the simulated API over HTTP
//! (served from the other runtime, as an API server is another process), so its threads do a
//! client's work and none of the server's. `CHURN_API=inline` hands it the simulated API as an
//! in-process service instead, as the bench did before 2026-12-06: the server's work for the
//! controller's requests and watches then runs on the controller's threads and is counted.
//!
//! It reports the CPU the controller's runtime threads used per second of churn, the latency of
//! the probes, the plans the controller took and its API calls by verb.
//!
//! Run: `cargo bench --bench controller_churn` (CHURN_NODES, CHURN_PODS, CHURN_SECONDS scale it;
//! CHURN_TRACE=1 prints the warm-up and the probes never seen, CHURN_LOG=kube_spread=debug logs;
//! `CHURN_NODES=100 CHURN_PODS=3000 CHURN_SECONDS=20` runs in under a minute).
#![allow(clippy::print_stdout)] // A benchmark reports on stdout.

// The binary ships with mimalloc (see src/main.rs); measure the controller the same way.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/envelope.rs"]
mod envelope;

use std::{
    collections::BTreeMap,
    error::Error,
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use cluster::{LeanPod, count, node};
use envelope::{DEPLOYMENTS_PER_NAMESPACE, Kinds, REPLICAS, deployment};
use kube_spread::{
    clock::Clock,
    controller::{self, Settings, disruption::Caps},
    sim::{
        DeleteOptions, PatchBody, ResourceId, SimApi, Store, StoreConfig, Subresource, WriteOptions,
    },
};
use serde_json::{Value, json};

const HOSTNAME: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";
/// How long every policy may take to get its first status.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(1_800);
/// The churn's step: every 100 ms, a tenth of a second's changes.
const TICK: Duration = Duration::from_millis(100);
/// How often the probes' policies are read between ticks.
const POLL: Duration = Duration::from_millis(10);
/// Heartbeats come every 10 s per node.
const HEARTBEAT_TICKS: usize = 100;

/// The spread constraints a policy injects into a Deployment with `selector`, as the API spells
/// them: a template carrying them already is left alone.
fn injected(selector: &Value) -> Value {
    let constraint = |key: &str| {
        json!({"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector}, "matchLabelKeys": ["pod-template-hash"]})
    };
    json!([constraint(HOSTNAME), constraint(ZONE)])
}

fn policy(namespace: &str) -> Value {
    let constraint = |key: &str| json!({"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway"});
    json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
        "metadata": {"name": "spread", "namespace": namespace},
        "spec": {"selector": {}, "constraints": [constraint(HOSTNAME), constraint(ZONE)],
            "scaleDown": "Ignore"}})
}

/// A node with room for its share of the pods: 30 pods of up to 500m and 512Mi each would not
/// fit the fixture's four cores, and a planner that finds no node to take a pod plans nothing.
fn roomy(mut node: Value) -> Value {
    let room = json!({"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"});
    node["status"]["capacity"] = room.clone();
    node["status"]["allocatable"] = room;
    node
}

/// The pods a policy's status counts in the zone domains, once it has a status.
fn counted(store: &Store, policies: ResourceId, namespace: &str) -> Option<i64> {
    let object = store.get(policies, namespace, "spread").ok()?;
    let value = object.value().ok()?;
    value["status"]["distribution"]
        .as_array()?
        .iter()
        .find(|d| d["topologyKey"] == ZONE)?["domains"]
        .as_array()
        .map(|domains| domains.iter().filter_map(|d| d["pods"].as_i64()).sum())
}

/// CPU time (user + system) of the given threads of this process, from `/proc`.
fn cpu_of(threads: &[String]) -> Duration {
    // USER_HZ is 100 on every Linux the bench runs on (`getconf CLK_TCK`).
    let ticks: u64 = threads
        .iter()
        .filter_map(|tid| std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok())
        .filter_map(|stat| {
            // Fields after the command's closing parenthesis; utime and stime are 14 and 15.
            let (_, rest) = stat.rsplit_once(')')?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The id of the calling thread, from `/proc/thread-self`.
fn thread_id() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()
        .and_then(|name| name.to_str())
        .map(str::to_owned)
}

fn scrape(address: SocketAddr) -> Result<String, Box<dyn Error>> {
    let mut stream = TcpStream::connect(address)?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(name))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Whether `team-NNNN` has an even number.
fn even_namespace(namespace: &str) -> bool {
    namespace
        .strip_prefix("team-")
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n % 2 == 0)
}

/// How the controller reaches the simulated API.
enum Api {
    /// As an in-process service: the server's work runs on the caller's threads.
    Inline(kube::Client),
    /// Over HTTP, from this kubeconfig.
    Http(String),
}

impl Api {
    /// A client; over HTTP, it must be made on the runtime that will use it.
    async fn client(self) -> Result<kube::Client, String> {
        match self {
            Self::Inline(client) => Ok(client),
            Self::Http(kubeconfig) => {
                let kubeconfig =
                    kube::config::Kubeconfig::from_yaml(&kubeconfig).map_err(|e| e.to_string())?;
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                    .await
                    .map_err(|e| e.to_string())?;
                kube::Client::try_from(config).map_err(|e| e.to_string())
            }
        }
    }
}

/// A pod deleted as a probe: its policy should count one pod fewer.
#[derive(Debug)]
struct Probe {
    namespace: String,
    expect: i64,
    deleted: Instant,
}

fn main() -> Result<(), Box<dyn Error>> {
    if let Ok(filter) = std::env::var("CHURN_LOG") {
        kube_spread::telemetry::init(&filter, false)?;
    }
    let nodes = count("CHURN_NODES", 5_000);
    let pods = count("CHURN_PODS", 150_000);
    let seconds = count("CHURN_SECONDS", 60);
    let deployments = pods.div_ceil(REPLICAS);
    let namespaces = deployments.div_ceil(DEPLOYMENTS_PER_NAMESPACE);
    // The simulated API's own tasks (watch streams, request handling) run on this runtime's
    // worker, apart from the controller's threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let _guard = runtime.enter();
    let sim = SimApi::with_config(
        Clock::starting_at("2025-10-20T08:00:00Z".parse()?),
        StoreConfig::default(),
    );
    let store = sim.store();
    let kinds = Kinds::of(store)?;
    let policies = store
        .catalog()
        .find("kubespread.io", "v1alpha1", "spreadpolicies")
        .ok_or("the simulated API has no spreadpolicies")?;

    let started = Instant::now();
    let manager = WriteOptions::manager("kube-controller-manager");
    let kubelet = WriteOptions::manager("kubelet");
    for n in 0..namespaces {
        let namespace = format!("team-{n:04}");
        store.create(
            kinds.namespace,
            "",
            json!({"metadata": {"name": namespace}}),
            &manager,
        )?;
        store.create(
            policies,
            &namespace,
            policy(&namespace),
            &WriteOptions::manager("kubectl"),
        )?;
    }
    for i in 0..nodes {
        store.create(kinds.node, "", roomy(node(i)), &kubelet)?;
    }
    for d in 0..deployments {
        deployment(store, &kinds, d, pods, nodes, Some(&injected))?;
    }
    let filled = started.elapsed();
    eprintln!("filled in {:.1} s", filled.as_secs_f64());

    // The controller, on a runtime of its own whose threads are counted.
    let threads = Arc::new(Mutex::new(Vec::new()));
    let address = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let inline = std::env::var("CHURN_API").is_ok_and(|api| api == "inline");
    let api = if inline {
        Api::Inline(sim.client())
    } else {
        let (served, _serving) = runtime.block_on(sim.serve(([127, 0, 0, 1], 0).into()))?;
        Api::Http(kube_spread::sim::kubeconfig(served))
    };
    let controller = {
        let clock = *store.clock();
        let threads = Arc::clone(&threads);
        std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("controller")
                .enable_all()
                .on_thread_start(move || {
                    if let Some(tid) = thread_id() {
                        threads
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(tid);
                    }
                })
                .build()
                .map_err(|e| e.to_string())?;
            let client = runtime.block_on(api.client())?;
            let settings = Settings {
                metrics_address: Some(address),
                lease: None,
                identity: "kube-spread-0".to_owned(),
                caps: Caps::default(),
            };
            runtime
                .block_on(controller::run(client, clock, settings, async {
                    let _ = stopped.await;
                }))
                .map_err(|e| e.to_string())
        })
    };
    let controller_threads = || {
        threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    };

    // Warm up: every policy has its first status.
    let started = Instant::now();
    let mut before: BTreeMap<String, i64> = BTreeMap::new();
    while before.len() < namespaces {
        if started.elapsed() > WARM_UP_TIMEOUT {
            return Err(format!(
                "{} of {namespaces} policies have a status after {WARM_UP_TIMEOUT:?}",
                before.len()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(500));
        if std::env::var_os("CHURN_TRACE").is_some() {
            let sample = store
                .get(policies, "team-0000", "spread")
                .ok()
                .and_then(|o| o.value().ok());
            eprintln!(
                "warming up: {} of {namespaces} policies counted; team-0000: {}",
                before.len(),
                sample.map(|v| v["status"].to_string()).unwrap_or_default()
            );
        }
        for n in 0..namespaces {
            let namespace = format!("team-{n:04}");
            if let Some(pods) = counted(store, policies, &namespace) {
                before.insert(namespace, pods);
            }
        }
    }
    let warmed = started.elapsed();
    let warm_cpu = cpu_of(&controller_threads());
    let injected_writes = sim
        .audit()
        .records()
        .iter()
        .filter(|r| r.writes() && r.resource == "deployments")
        .count();
    if injected_writes > 0 {
        return Err(format!(
            "the controller wrote {injected_writes} Deployments: the templates were meant to carry the policies' constraints already"
        )
        .into());
    }
    sim.audit().clear();
    let metrics_before = scrape(address)?;
    let cpu_before = cpu_of(&controller_threads());

    // Churn.
    let heartbeats_per_tick = nodes.div_ceil(HEARTBEAT_TICKS);
    let ticks = seconds * 10;
    let (mut next_node, mut next_pod) = (0usize, 0usize);
    let mut unready: Option<(String, String)> = None;
    let mut probes: Vec<Probe> = Vec::new();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut events = 0usize;
    let churn_started = Instant::now();
    for tick in 0..ticks {
        let at = kube_spread::sim::apiserver::store::timestamp(store.clock().now());
        for _ in 0..heartbeats_per_tick {
            let name = format!("node-{:05}", next_node % nodes.max(1));
            next_node += 1;
            let heartbeat = json!({"status": {"conditions": [{"type": "Ready", "status": "True",
                "reason": "KubeletReady", "message": "kubelet is posting ready status",
                "lastHeartbeatTime": at, "lastTransitionTime": "2025-10-20T08:00:00Z"}]}});
            store.patch(
                kinds.node,
                "",
                &name,
                &PatchBody::Strategic(heartbeat),
                Subresource::Status,
                &kubelet,
            )?;
        }
        // Five pod events: noise, unready, ready again, created, deleted (the probe).
        let mut pods_now = store.all(kinds.pod);
        pods_now.retain(|pod| !pod.header.deleting);
        if pods_now.is_empty() {
            return Err("no pods left".into());
        }
        let pick = |k: usize| Arc::clone(&pods_now[(k * 7919) % pods_now.len()]);
        // Pods are deleted only in even namespaces and created only in odd ones, so that a
        // probed policy's count only falls and a status that counts a later probe too still
        // shows this one.
        let pick_in = |from: usize, even: bool| {
            (from..from + pods_now.len())
                .map(pick)
                .find(|pod| even_namespace(&pod.header.namespace) == even)
        };
        let noise = pick(next_pod);
        let flip = pick(next_pod + 1);
        let victim = pick_in(next_pod + 2, true).ok_or("no pod left in an even namespace")?;
        let sibling = pick_in(next_pod + 3, false).ok_or("no pod in an odd namespace")?;
        next_pod += 4;
        let probe_condition = json!({"status": {"conditions": [{"type": "Ready", "status": "True",
            "lastProbeTime": at, "lastTransitionTime": "2025-10-20T08:00:05Z"}]}});
        store.patch(
            kinds.pod,
            &noise.header.namespace,
            &noise.header.name,
            &PatchBody::Strategic(probe_condition),
            Subresource::Status,
            &kubelet,
        )?;
        let readiness = |ready: bool| {
            let status = if ready { "True" } else { "False" };
            json!({"status": {"conditions": [{"type": "Ready", "status": status,
                "lastTransitionTime": at}]}})
        };
        if let Some((namespace, name)) = unready.take() {
            let _ = store.patch(
                kinds.pod,
                &namespace,
                &name,
                &PatchBody::Strategic(readiness(true)),
                Subresource::Status,
                &kubelet,
            );
        }
        store.patch(
            kinds.pod,
            &flip.header.namespace,
            &flip.header.name,
            &PatchBody::Strategic(readiness(false)),
            Subresource::Status,
            &kubelet,
        )?;
        unready = Some((
            flip.header.namespace.to_string(),
            flip.header.name.to_string(),
        ));
        // A pod created in an odd namespace, beside another of its ReplicaSet, on the next node
        // round-robin.
        let value = sibling.value()?;
        let owner = &value["metadata"]["ownerReferences"][0];
        let labels = value["metadata"]["labels"].clone();
        let app = labels["app"].as_str().unwrap_or("web").to_owned();
        let replica_set = owner["name"].as_str().unwrap_or_default().to_owned();
        let replica_set_uid = owner["uid"].as_str().unwrap_or_default().to_owned();
        let index = pods + tick;
        let name = format!("{replica_set}-c{index:05x}");
        let on = format!("node-{:05}", index % nodes.max(1));
        let new = LeanPod {
            namespace: &sibling.header.namespace,
            name: &name,
            app: &app,
            labels: &labels,
            replica_set: &replica_set,
            replica_set_uid: &replica_set_uid,
            node: &on,
            requests: ("100m", "128Mi"),
            index,
        };
        envelope::create_with_status(
            store,
            kinds.pod,
            &sibling.header.namespace,
            new.object(),
            new.status(),
            &manager,
            &kubelet,
        )?;
        let namespace = sibling.header.namespace.to_string();
        if let Some(count) = before.get_mut(&namespace) {
            *count += 1;
        }
        // The probe: a pod deleted, which its policy must count.
        let namespace = victim.header.namespace.to_string();
        store.delete(
            kinds.pod,
            &namespace,
            &victim.header.name,
            &DeleteOptions::default(),
        )?;
        let expect = before.get(&namespace).copied().unwrap_or_default() - 1;
        before.insert(namespace.clone(), expect);
        probes.push(Probe {
            namespace,
            expect,
            deleted: Instant::now(),
        });
        events += heartbeats_per_tick + 5;

        // Until the next tick, watch the probes' policies.
        let next = churn_started + TICK * u32::try_from(tick + 1)?;
        loop {
            probes.retain(|probe| {
                if counted(store, policies, &probe.namespace)
                    .is_some_and(|pods| pods <= probe.expect)
                {
                    latencies.push(probe.deleted.elapsed());
                    false
                } else {
                    true
                }
            });
            let now = Instant::now();
            if now >= next {
                break;
            }
            std::thread::sleep(POLL.min(next - now));
        }
    }
    let churned = churn_started.elapsed();
    let cpu = cpu_of(&controller_threads()).saturating_sub(cpu_before);
    let metrics_after = scrape(address)?;
    let audit = sim.audit().records();
    // Probes still open at the end: waited for up to a minute more, counted as they come.
    let drain = Instant::now();
    while !probes.is_empty() && drain.elapsed() < Duration::from_secs(60) {
        probes.retain(|probe| {
            if counted(store, policies, &probe.namespace).is_some_and(|pods| pods <= probe.expect) {
                latencies.push(probe.deleted.elapsed());
                false
            } else {
                true
            }
        });
        std::thread::sleep(POLL);
    }
    if std::env::var_os("CHURN_TRACE").is_some() {
        for probe in &probes {
            eprintln!(
                "unseen: {probe:?}, counted now {:?}",
                counted(store, policies, &probe.namespace)
            );
        }
    }
    let _ = stop.send(());
    match controller.join() {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(format!("the controller failed: {error}").into()),
        Err(_) => return Err("the controller thread panicked".into()),
    }

    latencies.sort();
    let mut by_verb: BTreeMap<String, usize> = BTreeMap::new();
    for record in &audit {
        *by_verb.entry(record.verb.clone()).or_default() += 1;
    }
    let plans = metric(&metrics_after, "kube_spread_plans_total")
        - metric(&metrics_before, "kube_spread_plans_total");
    let reconciles = metric(
        &metrics_after,
        "kube_spread_reconcile_duration_seconds_count",
    ) - metric(
        &metrics_before,
        "kube_spread_reconcile_duration_seconds_count",
    );
    println!(
        "controller churn: {nodes} nodes, {pods} pods, {deployments} Deployments, {namespaces} namespaces with a SpreadPolicy each; API {}",
        if inline {
            "in process (CHURN_API=inline)"
        } else {
            "over HTTP"
        }
    );
    println!(
        "  fill {:.1} s; every policy had a status after {:.1} s (controller CPU {:.1} s)",
        filled.as_secs_f64(),
        warmed.as_secs_f64(),
        warm_cpu.as_secs_f64()
    );
    println!(
        "  churn: {:.1} s, {events} changes ({:.0}/s: {heartbeats_per_tick} heartbeats and 5 pod events every 100 ms)",
        churned.as_secs_f64(),
        events as f64 / churned.as_secs_f64()
    );
    println!(
        "  controller CPU: {:.2} s over {:.1} s = {:.1}% of one core",
        cpu.as_secs_f64(),
        churned.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / churned.as_secs_f64()
    );
    println!(
        "  change to status: {} of {} probes seen; p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        latencies.len(),
        latencies.len() + probes.len(),
        percentile(&latencies, 0.5).as_secs_f64(),
        percentile(&latencies, 0.99).as_secs_f64(),
        latencies.last().copied().unwrap_or_default().as_secs_f64()
    );
    println!(
        "  plans {plans:.0} ({:.2} per change), reconciles {reconciles:.0} ({:.1} per change)",
        plans / events as f64,
        reconciles / events as f64
    );
    println!(
        "  API calls during the churn: {} ({:.3} per change); by verb {by_verb:?}",
        audit.len(),
        audit.len() as f64 / events as f64
    );
    Ok(())
}
