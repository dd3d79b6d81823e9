//! `kube-spread simulate`: runs a scenario and tells its story (text, JSON, a report directory)
//! or serves the simulated cluster in real time until Ctrl-C. The run is the library's
//! [`Simulation`]; this module only picks the runtime and writes output.

use std::{future::Future, io::Write, net::SocketAddr, path::PathBuf};

use clap::{Args, ValueEnum};

use crate::controller;
use crate::sim::{
    SimApi,
    report::{Report, svg, text},
    scenario::{LoadScenario, RunSimulation, Scenario, Simulation},
};

/// Output formats of `simulate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The story for people: before, during, after, pods per node with bars.
    /// `table` names it too, as for `plan` and `explain`.
    #[default]
    #[value(alias = "table")]
    Text,
    /// The report as JSON.
    Json,
}

/// `kube-spread simulate`.
#[derive(Clone, Debug, Args)]
pub struct SimulateArgs {
    /// A built-in scenario (homelab-recovery, homelab-namespaces, hundred-nodes) or a scenario
    /// YAML file.
    #[arg(long, default_value = "homelab-recovery", value_name = "NAME|FILE")]
    pub scenario: String,
    /// Overrides the scenario's seed (uids, names, start-up delays, tie-breaks).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run without the kube-spread controller, to see the problem it solves (with --serve: to
    /// run `kube-spread run` against the served cluster yourself).
    #[arg(long)]
    pub no_controller: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: Format,
    /// Also write the report to this directory: pods-per-node.svg, report.json, story.txt and
    /// final.txt (every pod's node at the end).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Serve the simulated cluster at this address (e.g. 127.0.0.1:8080) in real time, running
    /// the scenario's events on time, until Ctrl-C.
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<SocketAddr>,
    /// With --serve: write a kubeconfig for the served cluster to this file.
    #[arg(long, value_name = "FILE", requires = "serve")]
    pub kubeconfig_out: Option<PathBuf>,
}

/// Why `simulate` failed.
#[derive(Debug, thiserror::Error)]
pub enum Simulate {
    /// The scenario could not be read.
    #[error(transparent)]
    LoadScenario(#[from] LoadScenario),
    /// The run failed.
    #[error("simulation failed: {0}")]
    Run(#[from] RunSimulation),
    /// The paused-time runtime could not be built, or its thread failed.
    #[error("cannot start the simulation runtime: {0}")]
    StartRuntime(String),
    /// The API could not be served.
    #[error(transparent)]
    Serve(#[from] crate::sim::Serve),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Output could not be written.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// JSON could not be produced.
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl Simulate {
    /// A fixed label per variant.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::LoadScenario(_) => "load_scenario",
            Self::Run(_) => "run",
            Self::StartRuntime(_) => "start_runtime",
            Self::Serve(_) => "serve",
            Self::WriteFile { .. } => "write_file",
            Self::Output(_) => "output",
            Self::Json(_) => "json",
        }
    }
}

/// The kube-spread controller of a simulation: one replica, always the leader, acting through
/// `client` on the simulation's clock, until the simulation ends and aborts it.
pub fn controller(api: &SimApi, client: kube::Client) -> impl Future<Output = ()> + Send + 'static {
    let clock = *api.store().clock();
    let settings = controller::Settings {
        metrics_address: None,
        lease: None,
        identity: "kube-spread-simulated".to_owned(),
        caps: controller::disruption::Caps::default(),
    };
    async move {
        let shutdown = std::future::pending::<()>();
        if let Err(error) = controller::run(client, clock, settings, shutdown).await {
            tracing::error!(error = %error, "The simulated cluster's controller stopped.");
        }
    }
}

/// Runs a scenario to its end on a current-thread runtime with paused time (hours of cluster
/// time in seconds), with the controller unless `with_controller` is false.
pub fn run_paused(scenario: Scenario, with_controller: bool) -> Result<Report, Simulate> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(|error| Simulate::StartRuntime(error.to_string()))?;
    runtime.block_on(async move {
        let mut simulation = Simulation::new(scenario)?;
        if with_controller {
            let client = simulation.api().client();
            simulation.spawn(controller(simulation.api(), client));
        }
        let mut report = simulation.run().await?;
        report.controller = with_controller;
        Ok(report)
    })
}

/// `kube-spread simulate`.
pub async fn simulate(args: &SimulateArgs, out: &mut dyn Write) -> Result<(), Simulate> {
    let mut scenario = Scenario::load(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let report = match args.serve {
        Some(address) => {
            let mut quiet = std::io::sink();
            // JSON output stays one document: the serving notice is for people only.
            let notice: &mut dyn Write = match args.output {
                Format::Text => &mut *out,
                Format::Json => &mut quiet,
            };
            serve(
                scenario,
                !args.no_controller,
                address,
                args.kubeconfig_out.as_ref(),
                notice,
            )
            .await?
        }
        None => {
            // The paused runtime lives on its own thread, away from the caller's runtime.
            let with_controller = !args.no_controller;
            let thread = std::thread::spawn(move || run_paused(scenario, with_controller));
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|error| Simulate::StartRuntime(error.to_string()))?
                .map_err(|_| {
                    Simulate::StartRuntime("the simulation thread panicked".to_owned())
                })??
        }
    };
    match args.output {
        Format::Text => text::story(&report, out)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
    }
    if let Some(dir) = &args.report {
        write_report(&report, dir)?;
    }
    Ok(())
}

/// The simulation `--serve` runs: on the system clock, the scenario's times counted from now
/// rather than from its `start`, so that `kube-spread run` against it (which reads the system
/// clock) sees a node that recovered a minute ago as recovered a minute ago. Call it on the
/// real-time runtime that will run it.
pub fn live(mut scenario: Scenario, with_controller: bool) -> Result<Simulation, Simulate> {
    scenario.start = crate::clock::Clock::system().now();
    let mut simulation = Simulation::new(scenario)?;
    if with_controller {
        let client = simulation.api().client();
        simulation.spawn(controller(simulation.api(), client));
    }
    Ok(simulation)
}

/// Serves the cluster in real time until Ctrl-C.
async fn serve(
    scenario: Scenario,
    with_controller: bool,
    address: SocketAddr,
    kubeconfig: Option<&PathBuf>,
    out: &mut dyn Write,
) -> Result<Report, Simulate> {
    let simulation = live(scenario, with_controller)?;
    let (bound, server) = simulation.api().serve(address).await?;
    if let Some(path) = kubeconfig {
        crate::sim::write_kubeconfig(path, bound).map_err(|source| Simulate::WriteFile {
            path: path.clone(),
            source,
        })?;
    }
    writeln!(
        out,
        "Serving the simulated cluster at http://{bound}{}; Ctrl-C stops it.",
        kubeconfig.map_or(String::new(), |p| format!(" (kubeconfig: {})", p.display()))
    )?;
    out.flush()?;
    let stop = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let report = simulation.run_until(stop).await;
    server.abort();
    let mut report = report?;
    report.controller = with_controller;
    Ok(report)
}

fn write_report(report: &Report, dir: &PathBuf) -> Result<(), Simulate> {
    let failed = |path: PathBuf| move |source| Simulate::WriteFile { path, source };
    std::fs::create_dir_all(dir).map_err(failed(dir.clone()))?;
    let mut story = Vec::new();
    text::story(report, &mut story)?;
    let mut table = Vec::new();
    text::final_table(report, &mut table)?;
    let files: [(&str, Vec<u8>); 4] = [
        ("pods-per-node.svg", svg::chart(report).into_bytes()),
        ("report.json", serde_json::to_vec_pretty(report)?),
        ("story.txt", story),
        ("final.txt", table),
    ];
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(failed(path.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Format;
    use crate::cli::{Cli, Command};

    fn output(args: &[&str]) -> Option<Format> {
        match Cli::try_parse_from(args).ok()?.command {
            Command::Simulate(simulate) => Some(simulate.output),
            _ => None,
        }
    }

    #[test]
    fn simulate_takes_table_like_plan_and_explain_for_its_text_output() {
        assert_eq!(
            output(&["kube-spread", "simulate", "-o", "table"]),
            Some(Format::Text)
        );
        assert_eq!(
            output(&["kube-spread", "simulate", "-o", "text"]),
            Some(Format::Text)
        );
        assert_eq!(
            output(&["kube-spread", "simulate", "-o", "json"]),
            Some(Format::Json)
        );
        assert_eq!(output(&["kube-spread", "simulate", "-o", "yaml"]), None);
    }
}
