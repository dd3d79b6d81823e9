//! The `kube-spread` binary: parses arguments, sets up logging, runs one command, and turns
//! its outcome into an exit code. The only place that exits.

use std::{io::Write, process::ExitCode};

use clap::Parser;
use kube_spread::cli::{self, Cli, Command};

// mimalloc keeps the planner's many small allocations cheap (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Cli::parse();
    if let Err(error) = kube_spread::telemetry::init(&args.log, args.log_json) {
        eprintln!("kube-spread: {error}");
        return ExitCode::from(2);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let outcome = match &args.command {
        Command::Run(run) => cli::run(run).await,
        Command::Plan(plan) => cli::plan(plan, &mut out).await,
        Command::Explain(explain) => cli::explain(explain, &mut out).await,
        Command::Crd => cli::crd(&mut out),
        Command::Simulate(simulate) => cli::simulate(simulate, &mut out).await,
    };
    let flushed = out.flush();
    match (outcome, flushed) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(error), _) => {
            eprintln!("kube-spread: {error}");
            ExitCode::FAILURE
        }
        (Ok(()), Err(error)) => {
            eprintln!("kube-spread: cannot write output: {error}");
            ExitCode::FAILURE
        }
    }
}
