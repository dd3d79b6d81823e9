//! The pure core: plain data in, a plan out. Topology domains, pod counts and skew exactly as
//! kube-scheduler's PodTopologySpread computes them, protections, and the fewest moves.
//! No kube client, no async, no clock reads, no logging: the caller passes `now`.

pub mod model;
pub mod selector;
