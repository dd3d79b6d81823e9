//! Measures the wall time of the built-in `homelab-recovery` scenario (2 h 30 min of cluster
//! time: the cluster placed from empty, homelab-02 down, its pods evicted and replaced, its
//! recovery) on a current-thread runtime with paused time, as `kube-spread simulate` runs it:
//! without the controller (`--no-controller`), then with it.
//!
//! Run: `cargo bench --bench simulate` (SIMULATE_RUNS sets the number of runs, default 5).
#![allow(clippy::print_stdout)] // A benchmark reports on stdout.

use std::error::Error;
use std::time::Instant;

use kube_spread::{cli::simulate::run_paused, sim::scenario::Scenario};

fn main() -> Result<(), Box<dyn Error>> {
    let runs: usize = std::env::var("SIMULATE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    for with_controller in [false, true] {
        let label = if with_controller {
            "with the controller"
        } else {
            "without the controller"
        };
        let mut times = Vec::with_capacity(runs);
        for run in 0..runs {
            let scenario = Scenario::homelab_recovery()?;
            let started = Instant::now();
            let report = run_paused(scenario, with_controller)?;
            let elapsed = started.elapsed().as_secs_f64();
            times.push(elapsed);
            let pods: Vec<String> = report
                .nodes
                .iter()
                .map(|n| format!("{} {}→{}", n.name, n.pods_before, n.pods_at_end))
                .collect();
            println!(
                "run {} {label}: {:.3} s wall for {} s of cluster time ({})",
                run + 1,
                elapsed,
                report.cluster_seconds,
                pods.join(", ")
            );
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "homelab-recovery {label}: median {median:.3} s, min {:.3} s, max {:.3} s over {runs} runs",
            times[0],
            times[times.len() - 1]
        );
    }
    Ok(())
}
