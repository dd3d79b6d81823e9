//! Converts typed Kubernetes objects (k8s-openapi, and our SpreadPolicy) into the planner's
//! model, one standalone function per kind, with the API's defaults and the scheduler's
//! arithmetic. Shared by the snapshot reader, the controller's stores and the simulated cluster.
//! Field paths in errors are relative to the object: `spec.replicas`.

mod budget;
mod interner;
mod meta;
mod node;
mod pod;
mod policy;
mod requests;
mod storage;
mod workload;

pub use budget::pdb;
pub use interner::Interner;
pub use node::node;
pub use pod::{
    DO_NOT_DISRUPT_ANNOTATION, DO_NOT_MOVE_ANNOTATION, MIRROR_ANNOTATION, SAFE_TO_EVICT_ANNOTATION,
    SOURCE_ANNOTATION, pod,
};
pub use policy::{
    cluster_policy, cluster_policy_object, inclusion_policy, namespace, policy, policy_object,
    spec as policy_spec, when_unsatisfiable, workload_kind,
};
pub use requests::{DEFAULT_CPU_MILLIS, DEFAULT_MEMORY_BYTES, PodRequests, pod_requests};
pub use storage::{claim, volume};
pub use workload::{REVISION_ANNOTATION, deployment, replica_set, stateful_set};
