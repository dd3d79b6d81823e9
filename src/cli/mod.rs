//! The command line: `plan`, `explain` and `crd` (and the commands that run things). Each
//! command writes to the writer it is given and returns an error that says in one line what
//! went wrong; `main` alone decides exit codes.

mod render;
pub mod simulate;

use std::{io::Write, path::PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::{
    api::Duration as GoDuration,
    clock::Clock,
    controller::{
        disruption::Caps,
        window::{self, State as WindowOpen, Windows},
    },
    planner::{self, PlanOptions, Source, identity::PodRef},
    snapshot::{self, Snapshot},
};

/// Keeps pods evenly spread across nodes and zones.
#[derive(Debug, Parser)]
#[command(name = "kube-spread", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `kube_spread=debug`.
    #[arg(long, global = true, env = "KUBE_SPREAD_LOG", default_value = "warn")]
    pub log: String,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the controller (in a cluster, or against the cluster of the current kubeconfig).
    Run(RunArgs),
    /// What would be moved and why, for a snapshot file or the live cluster (read-only).
    Plan(PlanArgs),
    /// Where a pod may go, and why not elsewhere.
    Explain(ExplainArgs),
    /// Prints the SpreadPolicy CustomResourceDefinition.
    Crd,
    /// Replays a scenario on the simulated cluster (default: the seed's homelab incident).
    Simulate(simulate::SimulateArgs),
}

/// Output formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
}

/// Where the cluster comes from.
#[derive(Clone, Debug, Args)]
pub struct ClusterSource {
    /// A file of what `kubectl get nodes,pods,pdb,deploy,sts,rs,ds,pvc,pv,spreadpolicies -A -o json`
    /// prints (or multi-document YAML); without it, the live cluster of the current kubeconfig.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Judge pod ages as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<jiff::Timestamp>,
}

/// `kube-spread run`.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Serve /metrics, /healthz and /readyz on this address.
    #[arg(long, default_value = "0.0.0.0:8080", value_name = "ADDRESS")]
    pub metrics_addr: std::net::SocketAddr,
    /// Do not compete for the leader lease: act as the only replica.
    #[arg(long)]
    pub no_leader_election: bool,
    /// The leader lease's name.
    #[arg(long, default_value = "kube-spread")]
    pub lease_name: String,
    /// The leader lease's namespace (the controller's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "kube-spread")]
    pub lease_namespace: String,
    /// This replica's identity in the lease (its pod name).
    #[arg(long, env = "POD_NAME", default_value = "kube-spread")]
    pub identity: String,
    /// Moves in flight at once across the cluster, over every policy of both kinds.
    #[arg(long, default_value_t = Caps::default().in_flight, value_parser = clap::value_parser!(u16).range(1..), value_name = "N")]
    pub max_moves_in_flight: u16,
    /// Moves in flight at once off any one node, over every policy of both kinds.
    #[arg(long, default_value_t = Caps::default().per_node, value_parser = clap::value_parser!(u16).range(1..), value_name = "M")]
    pub max_moves_in_flight_per_node: u16,
}

/// `kube-spread plan`.
#[derive(Clone, Debug, Args)]
pub struct PlanArgs {
    /// The cluster.
    #[command(flatten)]
    pub source: ClusterSource,
    /// Only this namespace.
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Only this SpreadPolicy.
    #[arg(long)]
    pub policy: Option<String>,
    /// Plan for the topology spread constraints pods already carry instead of for SpreadPolicies.
    #[arg(long)]
    pub pod_constraints: bool,
    /// With --pod-constraints: never move pods younger than this.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub min_pod_age: GoDuration,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: Output,
}

/// `kube-spread explain`.
#[derive(Clone, Debug, Args)]
pub struct ExplainArgs {
    /// The pod, as NAMESPACE/NAME.
    #[arg(value_name = "NAMESPACE/POD")]
    pub pod: String,
    /// The cluster.
    #[command(flatten)]
    pub source: ClusterSource,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: Output,
}

/// What a command could not do, in one line.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The snapshot file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadSnapshot {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The snapshot is malformed.
    #[error("{path}: {source}")]
    ParseSnapshot {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: Box<snapshot::SnapshotError>,
    },
    /// The live cluster could not be read.
    #[error("cannot read the cluster: {0}")]
    Cluster(#[from] snapshot::live::ListCluster),
    /// No client could be built from the kubeconfig or the in-cluster configuration.
    #[error("no usable kubeconfig or in-cluster configuration: {0}")]
    Connect(kube::Error),
    /// The controller stopped with an error.
    #[error(transparent)]
    Run(#[from] crate::controller::Run),
    /// The pod argument is not NAMESPACE/NAME.
    #[error("{0:?} is not NAMESPACE/POD")]
    PodArgument(String),
    /// The pod is not in the cluster.
    #[error(transparent)]
    Explain(#[from] planner::explain::Explain),
    /// The CRD could not be rendered.
    #[error("cannot render the CRD: {0}")]
    Crd(String),
    /// Output could not be written.
    #[error("cannot write output: {0}")]
    Write(#[from] std::io::Error),
    /// JSON output could not be produced.
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The simulation failed.
    #[error(transparent)]
    Simulate(#[from] simulate::Simulate),
}

impl CommandError {
    /// A fixed label per variant, for logs and metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::ReadSnapshot { .. } => "read_snapshot",
            Self::ParseSnapshot { .. } => "parse_snapshot",
            Self::Cluster(_) => "cluster",
            Self::Connect(_) => "connect",
            Self::Run(_) => "run",
            Self::PodArgument(_) => "pod_argument",
            Self::Explain(_) => "explain",
            Self::Crd(_) => "crd",
            Self::Write(_) => "write",
            Self::Json(_) => "json",
            Self::Simulate(error) => error.metric_label(),
        }
    }
}

async fn load(source: &ClusterSource) -> Result<Snapshot, CommandError> {
    match &source.snapshot {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| CommandError::ReadSnapshot {
                    path: path.clone(),
                    source,
                })?;
            snapshot::read(&text).map_err(|source| CommandError::ParseSnapshot {
                path: path.clone(),
                source: Box::new(source),
            })
        }
        None => Ok(snapshot::live::list().await?),
    }
}

fn now(source: &ClusterSource) -> jiff::Timestamp {
    source.now.unwrap_or_else(|| Clock::system().now())
}

/// `kube-spread plan`.
pub async fn plan(args: &PlanArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let snapshot = load(&args.source).await?;
    let source = if args.pod_constraints {
        Source::PodConstraints {
            min_pod_age: args.min_pod_age.get(),
        }
    } else {
        Source::Policies
    };
    let plan = planner::plan(
        &snapshot.cluster,
        &PlanOptions {
            now: now(&args.source),
            namespace: args.namespace.clone(),
            policy: args.policy.clone(),
            source,
        },
    );
    let windows = if args.pod_constraints {
        Vec::new()
    } else {
        window_states(&snapshot.cluster, args, now(&args.source))
    };
    match args.output {
        Output::Table => render::plan_table(&plan, &windows, out)?,
        Output::Json => {
            let output = PlanOutput {
                plan: &plan,
                windows,
            };
            serde_json::to_writer_pretty(&mut *out, &output)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// `plan -o json`: the plan, and whether each policy with disruption windows may start moves now.
#[derive(Serialize)]
struct PlanOutput<'p> {
    #[serde(flatten)]
    plan: &'p planner::report::Plan,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    windows: Vec<WindowState>,
}

/// Whether a policy's disruption windows let its moves start now.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowState {
    /// SpreadPolicy or ClusterSpreadPolicy.
    pub kind: &'static str,
    /// The policy's namespace; empty for a ClusterSpreadPolicy.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The policy's name.
    pub policy: String,
    /// Whether a window is open (moves may start).
    pub open: bool,
    /// When the open window closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// When the next window opens, if none is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_opens: Option<String>,
    /// One line for people, as the Rebalancing condition says it.
    pub message: String,
}

/// The window state at `now` of every policy `plan` covers that has disruption windows.
fn window_states(
    cluster: &crate::planner::model::Cluster,
    args: &PlanArgs,
    now: jiff::Timestamp,
) -> Vec<WindowState> {
    let named = |name: &str| args.policy.as_deref().is_none_or(|wanted| wanted == name);
    let spreads = cluster
        .policies
        .iter()
        .filter(|p| {
            args.namespace
                .as_deref()
                .is_none_or(|ns| ns == &*p.namespace)
        })
        .map(|p| ("SpreadPolicy", p.namespace.to_string(), &p.name, &p.spec));
    let clusters = cluster
        .cluster_policies
        .iter()
        .map(|p| ("ClusterSpreadPolicy", String::new(), &p.name, &p.spec));
    spreads
        .chain(clusters)
        .filter(|(_, _, name, spec)| named(name) && !spec.windows.is_empty())
        .map(|(kind, namespace, name, spec)| {
            let (open, until, next_opens, message) = match Windows::of(spec) {
                Err(error) => (false, None, None, format!("{}: {error}", error.field())),
                Ok(windows) => match windows.state(now) {
                    WindowOpen::Always => (true, None, None, "no disruption windows".to_owned()),
                    WindowOpen::Open { until } => {
                        let until = window::rfc3339(&until);
                        let message = format!("inside a disruption window until {until}");
                        (true, Some(until), None, message)
                    }
                    closed @ WindowOpen::Closed { .. } => {
                        let opens = match &closed {
                            WindowOpen::Closed { opens: Some(at) } => Some(window::rfc3339(at)),
                            _ => None,
                        };
                        (false, None, opens, closed.waiting().unwrap_or_default())
                    }
                },
            };
            WindowState {
                kind,
                namespace,
                policy: name.clone(),
                open,
                until,
                next_opens,
                message,
            }
        })
        .collect()
}

/// `kube-spread explain`.
pub async fn explain(args: &ExplainArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let Ok(pod) = args.pod.parse::<PodRef>() else {
        return Err(CommandError::PodArgument(args.pod.clone()));
    };
    let snapshot = load(&args.source).await?;
    let explanation = planner::explain(&snapshot.cluster, &pod.namespace, &pod.name)?;
    match args.output {
        Output::Table => render::explain_table(&explanation, out)?,
        Output::Json => {
            serde_json::to_writer_pretty(&mut *out, &explanation)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// `kube-spread run`: the controller, until SIGTERM or Ctrl-C.
pub async fn run(args: &RunArgs) -> Result<(), CommandError> {
    let client = kube::Client::try_default()
        .await
        .map_err(CommandError::Connect)?;
    let settings = crate::controller::Settings {
        metrics_address: Some(args.metrics_addr),
        lease: (!args.no_leader_election).then(|| crate::controller::LeaseSettings {
            namespace: args.lease_namespace.clone(),
            name: args.lease_name.clone(),
        }),
        identity: args.identity.clone(),
        caps: Caps {
            in_flight: args.max_moves_in_flight,
            per_node: args.max_moves_in_flight_per_node,
        },
    };
    crate::controller::run(client, Clock::system(), settings, shutdown_signal()).await?;
    Ok(())
}

/// Resolves on SIGTERM (how Kubernetes stops a pod) or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {},
                    _ = terminate.recv() => {},
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// `kube-spread simulate`.
pub async fn simulate(
    args: &simulate::SimulateArgs,
    out: &mut dyn Write,
) -> Result<(), CommandError> {
    Ok(simulate::simulate(args, out).await?)
}

/// `kube-spread crd`.
pub fn crd(out: &mut dyn Write) -> Result<(), CommandError> {
    let yaml = crate::api::crds_yaml().map_err(|error| CommandError::Crd(error.to_string()))?;
    out.write_all(yaml.as_bytes())?;
    Ok(())
}
