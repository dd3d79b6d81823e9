//! Labels, and the label keys the planner reads; the binary's API re-exports the keys, so each
//! has one definition. The model and the selectors both use `Labels`, so it lives here.

use std::collections::BTreeMap;

/// Labels or annotations, in key order.
pub type Labels = BTreeMap<String, String>;

/// The pod-template label that puts a workload's pods in a Policy-scope group.
pub const GROUP_LABEL: &str = "kubespread.io/group";
/// The label Deployments put on their pods to tell ReplicaSets apart.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// The well-known node hostname label.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
/// The well-known node zone label (the system default spreading's second key).
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The label the API server gives every namespace, holding its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The namespace label (`"true"`) that takes a whole namespace out of every ClusterSpreadPolicy.
pub const EXCLUDE_LABEL: &str = "kubespread.io/exclude";
/// The PreferNoSchedule taint kube-spread owns on the nodes a ClusterSpreadPolicy drains.
pub const DRAINING_TAINT: &str = "kubespread.io/draining";
