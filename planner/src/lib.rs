//! The pure core: plain data in, a plan out. Topology domains, pod counts and skew exactly as
//! kube-scheduler's PodTopologySpread computes them, protections, and the fewest moves.
//! No kube client, no async, no clock reads, no logging: the caller passes `now`.

// Functions stay short enough to read at once (the limit is in clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod bound;
pub mod budget;
pub mod deletion_cost;
pub mod eligibility;
pub mod explain;
pub mod group;
pub mod identity;
pub mod index;
mod joint;
mod keys;
pub mod labels;
pub mod model;
mod picture;
mod plan;
pub mod protection;
pub mod report;
pub mod restart;
mod reuse;
pub mod score;
mod search;
pub mod selector;
pub mod topology;
pub mod uid;

pub use explain::{Explanation, explain};
pub use plan::{PlanOptions, Source, plan, plan_after};
pub use report::Plan;
pub use reuse::Previous;
