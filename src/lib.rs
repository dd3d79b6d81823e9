//! kube-spread keeps pods evenly spread across nodes and zones.
//!
//! ```text
//!  watch nodes/pods/PDBs/workloads ─► stores ─► snapshot ─► planner (pure) ─► Plan
//!  SpreadPolicy ─► reconcile ─► inject (SSA patch, paced) ─► act (leader only, budgets, Eviction API)
//!                            └─► status + Events + metrics
//! ```
//!
//! - [`api`]: the SpreadPolicy types and the CRD they generate.
//! - [`clock`]: the one clock, following tokio's, so paused-time simulation runs the same code.
//! - [`controller`]: `kube-spread run`: watches, reconcile (observe, plan, act, report), leader.
//! - [`metrics`]: every metric's name, help and labels.
//! - [`planner`]: the pure core: topology domains, counts and skew exactly as kube-scheduler
//!   computes them, protections, and the minimal set of moves. Its own crate
//!   (`kube-spread-planner`, in `planner/`) with its own plain-data model, so it cannot reach kube.
//! - [`sim`]: the simulated cluster's Kubernetes-compatible API (store, router, faults, RBAC).
//! - [`snapshot`]: reads Kubernetes objects (a `kubectl get -o json` list or YAML, or the live
//!   cluster) into the planner's cluster model, with one clear error per malformed item.
//! - [`cli`]: the commands (`plan`, `explain`, `crd`, ...), writing to the writer they are given.
//! - [`telemetry`]: logging setup.

pub mod api;
pub mod cli;
pub mod clock;
// Controller functions stay short enough to read at once (the limit is in clippy.toml).
#[warn(clippy::too_many_lines)]
pub mod controller;
pub mod metrics;
pub use kube_spread_planner as planner;
pub mod sim;
pub mod snapshot;
pub mod telemetry;
