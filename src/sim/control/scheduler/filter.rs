//! The default profile's PreFilter and Filter plugins, in v1.33's order: NodeUnschedulable,
//! NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, VolumeBinding,
//! PodTopologySpread, InterPodAffinity. A node's verdict is its first failing plugin's.

use k8s_openapi::api::core::v1::{Taint, Toleration};
use serde::Serialize;

use super::{
    affinity::InterPodFilter,
    selector::NodeTerms,
    spread::SpreadFilter,
    view::{NodeInfo, PodInfo, RequiredNodeAffinity, View},
};

/// The taint a cordoned node is treated as carrying.
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Why a filter plugin turned a node down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    /// The plugin.
    pub plugin: &'static str,
    /// Its reasons, as the FailedScheduling message counts them.
    pub reasons: Vec<String>,
    /// Whether evicting pods could make room (Unschedulable), or not
    /// (UnschedulableAndUnresolvable): what preemption reports per node.
    pub resolvable: bool,
}

impl Rejection {
    /// UnschedulableAndUnresolvable.
    pub fn unresolvable(plugin: &'static str, reason: impl Into<String>) -> Self {
        Self {
            plugin,
            reasons: vec![reason.into()],
            resolvable: false,
        }
    }

    /// Unschedulable.
    pub fn resolvable(plugin: &'static str, reason: impl Into<String>) -> Self {
        Self {
            plugin,
            reasons: vec![reason.into()],
            resolvable: true,
        }
    }
}

/// `Toleration.ToleratesTaint`.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

/// `FindMatchingUntoleratedTaint` with `DoNotScheduleTaintsFilterFunc`: the first
/// NoSchedule or NoExecute taint no toleration tolerates.
pub fn untolerated<'t>(taints: &'t [Taint], tolerations: &[Toleration]) -> Option<&'t Taint> {
    taints.iter().find(|taint| {
        matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
            && !tolerations.iter().any(|t| tolerates(t, taint))
    })
}

/// One scheduling cycle's PreFilter state for a pod.
#[derive(Debug)]
pub struct Cycle<'v, 'a> {
    /// The cluster.
    pub view: &'v View<'a>,
    /// The pod.
    pub pod: PodInfo<'a>,
    /// Its nodeSelector and required node affinity.
    pub affinity: RequiredNodeAffinity,
    /// Its tolerations.
    pub tolerations: &'a [Toleration],
    /// The nodes NodeAffinity's PreFilter narrowed it to (None: every node).
    pub names: Option<Vec<String>>,
    spread: SpreadFilter,
    inter_pod: InterPodFilter,
}

impl<'v, 'a> Cycle<'v, 'a> {
    /// Runs the PreFilter plugins; Err is the verdict of one that rejects the pod outright
    /// (on every node).
    pub fn new(view: &'v View<'a>, pod: PodInfo<'a>) -> Result<Self, Rejection> {
        let affinity = RequiredNodeAffinity::of(pod.pod);
        let names = affinity.required_names();
        if names.as_ref().is_some_and(Vec::is_empty) {
            return Err(Rejection::unresolvable(
                "NodeAffinity",
                "pod affinity terms conflict",
            ));
        }
        if let Some(claim) = missing_claim(view, &pod) {
            return Err(Rejection::unresolvable(
                "VolumeBinding",
                format!("persistentvolumeclaim \"{claim}\" not found"),
            ));
        }
        let tolerations: &'a [Toleration] = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or_default();
        let spread = SpreadFilter::new(view, &pod, &affinity, tolerations);
        let inter_pod = InterPodFilter::new(view, &pod);
        Ok(Self {
            view,
            pod,
            affinity,
            tolerations,
            names,
            spread,
            inter_pod,
        })
    }

    /// Every Filter plugin on one node, in order; the first rejection wins.
    pub fn filter(&self, node: &NodeInfo<'_>) -> Result<(), Rejection> {
        if self
            .names
            .as_ref()
            .is_some_and(|names| !names.iter().any(|n| n == node.name))
        {
            // Upstream never runs the filters on a node PreFilter left out.
            return Err(Rejection::unresolvable(
                "NodeAffinity",
                "node(s) didn't satisfy plugin(s) [NodeAffinity]",
            ));
        }
        self.node_unschedulable(node)?;
        self.node_name(node)?;
        self.taint_toleration(node)?;
        self.node_affinity(node)?;
        self.node_ports(node)?;
        self.resources_fit(node)?;
        self.volume_binding(node)?;
        self.spread.filter(&self.pod, node)?;
        self.inter_pod.filter(&self.pod, node)
    }

    fn node_unschedulable(&self, node: &NodeInfo<'_>) -> Result<(), Rejection> {
        let cordon = Taint {
            key: UNSCHEDULABLE_TAINT.to_owned(),
            effect: "NoSchedule".to_owned(),
            ..Taint::default()
        };
        if node.unschedulable && !self.tolerations.iter().any(|t| tolerates(t, &cordon)) {
            return Err(Rejection::unresolvable(
                "NodeUnschedulable",
                "node(s) were unschedulable",
            ));
        }
        Ok(())
    }

    fn node_name(&self, node: &NodeInfo<'_>) -> Result<(), Rejection> {
        let wanted = self
            .pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref());
        match wanted {
            Some(name) if !name.is_empty() && name != node.name => Err(Rejection::unresolvable(
                "NodeName",
                "node(s) didn't match the requested node name",
            )),
            _ => Ok(()),
        }
    }

    fn taint_toleration(&self, node: &NodeInfo<'_>) -> Result<(), Rejection> {
        match untolerated(node.taints, self.tolerations) {
            Some(taint) => Err(Rejection::unresolvable(
                "TaintToleration",
                format!(
                    "node(s) had untolerated taint {{{}: {}}}",
                    taint.key,
                    taint.value.as_deref().unwrap_or_default()
                ),
            )),
            None => Ok(()),
        }
    }

    fn node_affinity(&self, node: &NodeInfo<'_>) -> Result<(), Rejection> {
        if self.affinity.matches(node) {
            Ok(())
        } else {
            Err(Rejection::unresolvable(
                "NodeAffinity",
                "node(s) didn't match Pod's node affinity/selector",
            ))
        }
    }

    fn node_ports(&self, node: &NodeInfo<'_>) -> Result<(), Rejection> {
        let taken = self.pod.ports.iter().any(|wanted| {
            node.pods
                .iter()
                .flat_map(|p| &p.ports)
                .any(|used| used.conflicts(wanted))
        });
        if taken {
            return Err(Rejection::resolvable(
                "NodePorts",
                "node(s) didn't have free ports for the requested pod ports",
            ));
        }
        Ok(())
    }

    /// `fitsRequest`: a free pod slot, then every requested resource within what is left;
    /// each shortage is a reason of its own.
    fn resources_fit(&self, node: &NodeInfo<'_>) -> Result<(), Rejection> {
        let mut reasons = Vec::new();
        let pods = i64::try_from(node.pods.len()).unwrap_or(i64::MAX);
        if pods + 1 > node.allowed_pods {
            reasons.push("Too many pods".to_owned());
        }
        let wanted = self.pod.requests;
        let left = |allocatable: i64, requested: i64| allocatable - requested;
        if wanted.cpu > 0 && wanted.cpu > left(node.allocatable.cpu, node.requested.cpu) {
            reasons.push("Insufficient cpu".to_owned());
        }
        if wanted.memory > 0 && wanted.memory > left(node.allocatable.memory, node.requested.memory)
        {
            reasons.push("Insufficient memory".to_owned());
        }
        if reasons.is_empty() {
            return Ok(());
        }
        Err(Rejection {
            plugin: "NodeResourcesFit",
            reasons,
            resolvable: true,
        })
    }

    /// VolumeBinding for bound claims: their volumes' node affinity must admit the node.
    /// Unbound claims restrict nothing (the simulated provisioner binds WaitForFirstConsumer
    /// claims to the node chosen here, and other claims at once).
    fn volume_binding(&self, node: &NodeInfo<'_>) -> Result<(), Rejection> {
        let reachable = claims(&self.pod).all(|claim| {
            let terms = self
                .view
                .claim(self.pod.namespace, claim)
                .and_then(|c| c.spec.as_ref())
                .and_then(|s| s.volume_name.as_deref())
                .filter(|v| !v.is_empty())
                .and_then(|v| self.view.volume(v))
                .and_then(|v| v.spec.as_ref())
                .and_then(|s| s.node_affinity.as_ref())
                .and_then(|a| a.required.as_ref())
                .map(NodeTerms::of);
            terms.is_none_or(|terms| terms.matches(node.labels, node.name))
        });
        if reachable {
            Ok(())
        } else {
            Err(Rejection::unresolvable(
                "VolumeBinding",
                "node(s) had volume node affinity conflict",
            ))
        }
    }
}

fn claims<'p>(pod: &'p PodInfo<'_>) -> impl Iterator<Item = &'p str> {
    pod.pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.as_str())
}

/// VolumeBinding's PreFilter: a claim of the pod that does not exist.
fn missing_claim(view: &View<'_>, pod: &PodInfo<'_>) -> Option<String> {
    claims(pod)
        .find(|claim| view.claim(pod.namespace, claim).is_none())
        .map(str::to_owned)
}
