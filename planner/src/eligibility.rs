//! Which nodes a pod may run on, filter by filter as kube-scheduler decides it: node affinity
//! (nodeSelector and required affinity), taints and tolerations, cordons, resources and pod
//! capacity, host ports. Each refusal is a named reason.

use std::fmt;

use serde::Serialize;

use super::{
    index::{Index, NodeId},
    model::{Labels, Node, Pod, Resources, SchedulingSpec, Taint, TaintEffect, Toleration},
    selector::NodeSelector,
};

/// The taint the node lifecycle controller puts on cordoned nodes.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// The part of a pod spec that decides which nodes may take it, independent of load.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Placement {
    /// `spec.nodeSelector`.
    pub node_selector: Labels,
    /// The required node affinity.
    pub required_affinity: Option<NodeSelector>,
    /// The tolerations.
    pub tolerations: Vec<Toleration>,
}

impl Placement {
    /// The placement of a pod spec.
    pub fn of(spec: &SchedulingSpec) -> Self {
        Self {
            node_selector: spec.node_selector.clone(),
            required_affinity: spec.required_affinity.clone(),
            tolerations: spec.tolerations.clone(),
        }
    }

    /// `RequiredNodeAffinity.Match`: the nodeSelector and the required affinity both admit it.
    pub fn admits(&self, node: &Node) -> bool {
        admits(&self.node_selector, self.required_affinity.as_ref(), node)
    }

    /// No NoSchedule or NoExecute taint goes untolerated (`DoNotScheduleTaintsFilterFunc`).
    pub fn tolerates(&self, node: &Node) -> bool {
        untolerated_taint(&node.taints, &self.tolerations).is_none()
    }

    /// The node is Ready and schedulable for this placement: the node can take such a pod
    /// now, load aside.
    pub fn is_live_on(&self, node: &Node) -> bool {
        node.ready && self.tolerates_cordon(node) && self.tolerates(node) && self.admits(node)
    }

    /// `NodeUnschedulable`: a cordoned node takes only pods tolerating its unschedulable taint.
    pub fn tolerates_cordon(&self, node: &Node) -> bool {
        !node.unschedulable || tolerates_unschedulable(&self.tolerations)
    }
}

/// Whether a nodeSelector and a required affinity both admit a node.
pub fn admits(node_selector: &Labels, affinity: Option<&NodeSelector>, node: &Node) -> bool {
    node_selector
        .iter()
        .all(|(key, value)| node.labels.get(key) == Some(value))
        && affinity.is_none_or(|affinity| affinity.matches(&node.name, &node.labels))
}

/// The first NoSchedule or NoExecute taint that no toleration tolerates.
pub fn untolerated_taint<'t>(taints: &'t [Taint], tolerations: &[Toleration]) -> Option<&'t Taint> {
    taints.iter().find(|taint| {
        matches!(
            taint.effect,
            TaintEffect::NoSchedule | TaintEffect::NoExecute
        ) && !tolerations
            .iter()
            .any(|toleration| toleration.tolerates(taint))
    })
}

fn tolerates_unschedulable(tolerations: &[Toleration]) -> bool {
    let taint = Taint {
        key: UNSCHEDULABLE_TAINT.to_owned(),
        value: String::new(),
        effect: TaintEffect::NoSchedule,
    };
    tolerations
        .iter()
        .any(|toleration| toleration.tolerates(&taint))
}

/// Why a node cannot take a pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum Refusal {
    /// The pod names another node.
    NodeName,
    /// The node is cordoned.
    Unschedulable,
    /// The nodeSelector or required affinity does not admit the node.
    NodeAffinity,
    /// A NoSchedule or NoExecute taint is not tolerated.
    TaintNotTolerated {
        /// `key=value:Effect`.
        taint: String,
    },
    /// Not enough allocatable CPU, memory or pod slots.
    InsufficientResources {
        /// Which resource: cpu, memory or pods.
        resource: &'static str,
    },
    /// A host port the pod needs is taken.
    HostPortTaken {
        /// The port.
        port: i32,
    },
    /// The pod's PersistentVolume cannot be reached from the node.
    VolumeNodeAffinity,
    /// The pod's required pod affinity is not met there.
    PodAffinity,
    /// A pod its required anti-affinity keeps away from runs in the node's domain.
    PodAntiAffinity,
    /// A pod in the node's domain keeps this pod away by its required anti-affinity.
    ExistingPodsAntiAffinity,
    /// The node lacks a topology key of one of the pod's DoNotSchedule spread constraints.
    MissingTopologyKey {
        /// The missing label key.
        key: String,
    },
    /// Placing the pod there would take a DoNotSchedule constraint above maxSkew.
    SkewExceeded {
        /// The constraint's topology key.
        key: String,
        /// Matching pods in the node's domain.
        matching: u32,
        /// 1 if the pod matches its own constraint's selector.
        self_match: u32,
        /// The global minimum.
        global_min: u32,
        /// The constraint's maxSkew.
        max_skew: i32,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NodeName => {
                f.write_str("NodeName: the pod is bound to another node by spec.nodeName")
            }
            Self::Unschedulable => f.write_str("Unschedulable: the node is cordoned"),
            Self::NodeAffinity => {
                f.write_str("NodeAffinity: nodeSelector or required affinity does not match")
            }
            Self::TaintNotTolerated { taint } => write!(f, "TaintNotTolerated: {taint}"),
            Self::InsufficientResources { resource } => {
                write!(f, "InsufficientResources: {resource}")
            }
            Self::HostPortTaken { port } => write!(f, "HostPortTaken: {port}"),
            Self::VolumeNodeAffinity => f.write_str(
                "VolumeNodeAffinity: a PersistentVolume is not reachable from this node",
            ),
            Self::PodAffinity => f.write_str("PodAffinity: the pod's required pod affinity is not met"),
            Self::PodAntiAffinity => f.write_str(
                "PodAntiAffinity: a pod the pod's required anti-affinity avoids runs in this domain",
            ),
            Self::ExistingPodsAntiAffinity => f.write_str(
                "ExistingPodsAntiAffinity: a pod in this domain avoids the pod by its required anti-affinity",
            ),
            Self::MissingTopologyKey { key } => write!(f, "MissingTopologyKey: {key}"),
            Self::SkewExceeded {
                key,
                matching,
                self_match,
                global_min,
                max_skew,
            } => write!(
                f,
                "SkewExceeded: {key}: {matching} matching + {self_match} (itself) - {global_min} (global minimum) > maxSkew {max_skew}"
            ),
        }
    }
}

/// Whether `requests` fit on a node that has `requested` committed (`NodeResourcesFit`):
/// each requested resource within what is left, and one more pod slot.
pub fn fits(node: &Node, requested: Resources, requests: Resources) -> Result<(), Refusal> {
    let allocatable = node.allocatable;
    if requested.pods + 1 > allocatable.pods {
        return Err(Refusal::InsufficientResources { resource: "pods" });
    }
    if requests.cpu_millis > 0
        && requests.cpu_millis > allocatable.cpu_millis - requested.cpu_millis
    {
        return Err(Refusal::InsufficientResources { resource: "cpu" });
    }
    if requests.memory_bytes > 0
        && requests.memory_bytes > allocatable.memory_bytes - requested.memory_bytes
    {
        return Err(Refusal::InsufficientResources { resource: "memory" });
    }
    Ok(())
}

/// The node filters that do not depend on other pods' spread: kube-scheduler's NodeName,
/// NodeUnschedulable, NodeAffinity, TaintToleration, NodeResourcesFit and NodePorts, in that
/// order. `requested` is what the node has committed, `on_node` the pods it runs.
pub fn node_filters(
    index: &Index<'_>,
    pod_spec: &SchedulingSpec,
    node_id: NodeId,
    requested: Resources,
    on_node: &[&Pod],
) -> Result<(), Refusal> {
    let node = index.node(node_id);
    if pod_spec
        .node_name
        .as_deref()
        .is_some_and(|name| name != node.name)
    {
        return Err(Refusal::NodeName);
    }
    if node.unschedulable && !tolerates_unschedulable(&pod_spec.tolerations) {
        return Err(Refusal::Unschedulable);
    }
    if !admits(
        &pod_spec.node_selector,
        pod_spec.required_affinity.as_ref(),
        node,
    ) {
        return Err(Refusal::NodeAffinity);
    }
    if let Some(taint) = untolerated_taint(&node.taints, &pod_spec.tolerations) {
        return Err(Refusal::TaintNotTolerated {
            taint: describe_taint(taint),
        });
    }
    fits(node, requested, pod_spec.requests)?;
    if let Some(port) = host_port_conflict(pod_spec, on_node) {
        return Err(Refusal::HostPortTaken { port });
    }
    Ok(())
}

fn describe_taint(taint: &Taint) -> String {
    let effect = match taint.effect {
        TaintEffect::NoSchedule => "NoSchedule",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        TaintEffect::NoExecute => "NoExecute",
    };
    if taint.value.is_empty() {
        format!("{}:{effect}", taint.key)
    } else {
        format!("{}={}:{effect}", taint.key, taint.value)
    }
}

/// A host port of the pod already bound by a pod on the node (`NodePorts`): same protocol
/// and port, and addresses that overlap (an empty or 0.0.0.0 address overlaps every address).
pub fn host_port_conflict(pod_spec: &SchedulingSpec, on_node: &[&Pod]) -> Option<i32> {
    let wildcard = |ip: &str| ip.is_empty() || ip == "0.0.0.0";
    pod_spec.host_ports.iter().find_map(|wanted| {
        let taken = on_node.iter().any(|other| {
            other.spec.host_ports.iter().any(|used| {
                used.port == wanted.port
                    && used.protocol == wanted.protocol
                    && (wildcard(&used.ip) || wildcard(&wanted.ip) || used.ip == wanted.ip)
            })
        });
        taken.then_some(wanted.port)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TolerationOperator;

    fn node() -> Node {
        Node {
            name: "n1".to_owned(),
            labels: Labels::from([("disk".to_owned(), "ssd".to_owned())]),
            taints: Vec::new(),
            unschedulable: false,
            ready: true,
            ready_since: None,
            created: None,
            allocatable: Resources {
                cpu_millis: 4000,
                memory_bytes: 8 << 30,
                pods: 110,
            },
            images: Vec::new(),
        }
    }

    fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
        Taint {
            key: key.to_owned(),
            value: value.to_owned(),
            effect,
        }
    }

    fn toleration(
        key: &str,
        operator: TolerationOperator,
        value: &str,
        effect: Option<TaintEffect>,
    ) -> Toleration {
        Toleration {
            key: key.to_owned(),
            operator,
            value: value.to_owned(),
            effect,
            toleration_seconds: None,
        }
    }

    #[test]
    fn tolerations_match_taints_as_the_pod_api_defines() {
        use TaintEffect::*;
        use TolerationOperator::*;
        let gpu = taint("gpu", "true", NoSchedule);
        let cases = [
            (toleration("gpu", Equal, "true", Some(NoSchedule)), true),
            (toleration("gpu", Equal, "false", Some(NoSchedule)), false),
            (toleration("gpu", Exists, "", None), true),
            (toleration("gpu", Equal, "true", Some(NoExecute)), false),
            (toleration("", Exists, "", None), true),
            (toleration("other", Exists, "", None), false),
        ];
        for (toleration, expected) in cases {
            assert_eq!(toleration.tolerates(&gpu), expected, "{toleration:?}");
        }
    }

    #[test]
    fn only_noschedule_and_noexecute_taints_keep_pods_away() {
        let mut tainted = node();
        tainted.taints = vec![taint("soft", "", TaintEffect::PreferNoSchedule)];
        let placement = Placement::of(&SchedulingSpec::default());
        assert!(placement.tolerates(&tainted));
        tainted
            .taints
            .push(taint("hard", "", TaintEffect::NoExecute));
        assert!(!placement.tolerates(&tainted));
    }

    #[test]
    fn a_cordoned_or_not_ready_node_is_not_live() {
        let placement = Placement::of(&SchedulingSpec::default());
        assert!(placement.is_live_on(&node()));
        let mut cordoned = node();
        cordoned.unschedulable = true;
        assert!(!placement.is_live_on(&cordoned));
        let mut down = node();
        down.ready = false;
        assert!(!placement.is_live_on(&down));
        let tolerant = Placement {
            tolerations: vec![toleration(
                UNSCHEDULABLE_TAINT,
                TolerationOperator::Exists,
                "",
                None,
            )],
            ..placement
        };
        assert!(tolerant.is_live_on(&cordoned));
    }

    #[test]
    fn resources_fit_only_within_what_is_left_and_a_free_pod_slot() {
        let n = node();
        let used = Resources {
            cpu_millis: 3500,
            memory_bytes: 0,
            pods: 10,
        };
        let small = Resources {
            cpu_millis: 500,
            ..Default::default()
        };
        let large = Resources {
            cpu_millis: 501,
            ..Default::default()
        };
        assert_eq!(fits(&n, used, small), Ok(()));
        assert_eq!(
            fits(&n, used, large),
            Err(Refusal::InsufficientResources { resource: "cpu" })
        );
        let full = Resources {
            pods: 110,
            ..Default::default()
        };
        assert_eq!(
            fits(&n, full, Resources::default()),
            Err(Refusal::InsufficientResources { resource: "pods" })
        );
    }
}
