//! Converts Pods and pod specs into the planner's `Pod` and `SchedulingSpec`: identity, owner,
//! lifecycle, and everything that decides where a pod may run. Pod templates of workloads use
//! the same spec conversion.

use k8s_openapi::{api::core::v1 as core, apimachinery::pkg::apis::meta::v1::ObjectMeta};

use super::{
    Interner, meta,
    requests::{PodRequests, pod_requests},
};
use crate::{
    api::Duration,
    planner::deletion_cost::POD_DELETION_COST,
    planner::model::{
        HostPort, OptOut, OptOuts, Pod, PodAffinity, PodAffinityTerm, PodPhase,
        PodSpreadConstraint, PodVolume, PreferredNodeTerm, SchedulingSpec, TaintEffect, Toleration,
        TolerationOperator, WeightedPodAffinityTerm,
    },
    planner::model::{NodeInclusionPolicy, WhenUnsatisfiable},
    planner::uid::Uid,
    snapshot::{FieldError, selector},
};

/// The annotation the kubelet puts on the API copy of a static pod.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The annotation that says where the kubelet got a pod from (`api`, `file`, `http`).
pub const SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";

/// Ours: `"true"`, or a duration since the pod started, leaves a pod where it is.
pub const DO_NOT_MOVE_ANNOTATION: &str = "kubespread.io/do-not-move";
/// Karpenter's pod opt-out from voluntary disruption: `"true"` or a duration since start.
pub const DO_NOT_DISRUPT_ANNOTATION: &str = "karpenter.sh/do-not-disrupt";
/// The cluster-autoscaler's: `"false"` keeps a pod from being evicted to empty its node.
pub const SAFE_TO_EVICT_ANNOTATION: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";

/// A Pod, its scheduling spec shared through `interner` with every equal one.
///
/// `spec.nodeName` goes to [`Pod::node_name`], not into the shared spec, so that the pods of
/// one template share a spec wherever they run.
pub fn pod(pod: &core::Pod, interner: &mut Interner) -> Result<Pod, FieldError> {
    let metadata = &pod.metadata;
    let name = meta::name(metadata)?;
    let namespace = interner.name(meta::namespace(metadata)?);
    let owner = meta::controller(metadata, |text| interner.name(text));
    let default_spec = core::PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    let status = pod.status.as_ref();

    let phase = match status.and_then(|s| s.phase.as_deref()) {
        None | Some("") | Some("Pending") => PodPhase::Pending,
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        Some("Unknown") => PodPhase::Unknown,
        Some(other) => {
            return Err(FieldError::new(
                "status.phase",
                format!(
                    "{other:?} is not a pod phase (Pending, Running, Succeeded, Failed, Unknown)"
                ),
            ));
        }
    };
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|condition| condition.type_ == "Ready" && condition.status == "True");
    let source = meta::annotation(metadata, SOURCE_ANNOTATION);
    let static_pod = owner.as_ref().is_some_and(|owner| &*owner.kind == "Node")
        || source.is_some_and(|source| source != "api");

    let scheduling = scheduling_spec(spec, status, Some(&name))?;
    Ok(Pod {
        namespace,
        uid: Uid::new(metadata.uid.as_deref().unwrap_or_default()),
        labels: interner.labels(meta::labels(metadata)),
        node_name: spec
            .node_name
            .as_deref()
            .filter(|node| !node.is_empty())
            .map(|node| interner.name(node)),
        owner,
        phase,
        ready,
        terminating: metadata.deletion_timestamp.is_some(),
        created: meta::timestamp(metadata.creation_timestamp.as_ref()),
        started: meta::timestamp(status.and_then(|s| s.start_time.as_ref())),
        mirror: meta::annotation(metadata, MIRROR_ANNOTATION).is_some(),
        static_pod,
        opt_outs: opt_outs(metadata),
        deletion_cost: meta::annotation(metadata, POD_DELETION_COST)
            .and_then(|cost| cost.parse().ok()),
        spec: interner.spec(scheduling),
        name,
    })
}

/// The opt-outs a pod's annotations ask for. Never an error: a value we cannot read must not
/// keep the rest of the cluster from being planned.
///
/// Ours refuses what it cannot read as [`OptOut::Invalid`], which still protects the pod and
/// names the mistake. Karpenter's is Karpenter's to define: a value that is neither `"true"`
/// nor a duration opts out of nothing here either. Only `safe-to-evict: "false"` counts, as
/// the cluster-autoscaler reads it.
fn opt_outs(metadata: &ObjectMeta) -> OptOuts {
    OptOuts {
        do_not_move: meta::annotation(metadata, DO_NOT_MOVE_ANNOTATION).and_then(opt_out),
        do_not_disrupt: meta::annotation(metadata, DO_NOT_DISRUPT_ANNOTATION)
            .and_then(opt_out)
            .filter(|opt_out| *opt_out != OptOut::Invalid),
        not_safe_to_evict: meta::annotation(metadata, SAFE_TO_EVICT_ANNOTATION) == Some("false"),
    }
}

/// `"true"` for good, `"false"` for nothing, a Go duration since the pod started, or
/// [`OptOut::Invalid`] for anything else.
fn opt_out(value: &str) -> Option<OptOut> {
    match value {
        "true" => Some(OptOut::Always),
        "false" => None,
        duration => Some(match duration.parse::<Duration>() {
            Ok(duration) => {
                let duration = duration.get();
                // Rounded up, so the protection never ends before the time the owner asked for.
                let seconds = duration
                    .as_secs()
                    .saturating_add(u64::from(duration.subsec_nanos() > 0));
                OptOut::ForSeconds(u32::try_from(seconds).unwrap_or(u32::MAX))
            }
            Err(_) => OptOut::Invalid,
        }),
    }
}

/// The scheduling spec of a pod (`pod_name` given; `nodeName` left out) or of a workload's pod
/// template (`pod_name` None; the template's `nodeName` kept). Field paths are relative to the
/// pod: `spec.tolerations[0].operator`.
///
/// A generic ephemeral volume is the claim `<pod>-<volume>` of a pod; in a template it is
/// `Portable`, as the claim a new pod gets is created for it and bound where it lands.
pub(super) fn scheduling_spec(
    spec: &core::PodSpec,
    status: Option<&core::PodStatus>,
    pod_name: Option<&str>,
) -> Result<SchedulingSpec, FieldError> {
    let PodRequests { requests, nonzero } = pod_requests(spec, status)?;
    let required_affinity = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|node| {
            node.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|required| {
            selector::node_selector(required).map_err(|error| {
                error.under(
                    "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
                )
            })
        })
        .transpose()?;
    let mut tolerations = Vec::new();
    for (index, toleration) in spec.tolerations.iter().flatten().enumerate() {
        tolerations.push(
            convert_toleration(toleration)
                .map_err(|error| error.under(&format!("spec.tolerations[{index}]")))?,
        );
    }
    let mut spread_constraints = Vec::new();
    for (index, constraint) in spec
        .topology_spread_constraints
        .iter()
        .flatten()
        .enumerate()
    {
        spread_constraints.push(
            spread_constraint(constraint).map_err(|error| {
                error.under(&format!("spec.topologySpreadConstraints[{index}]"))
            })?,
        );
    }
    let host_network = spec.host_network.unwrap_or(false);
    let node_affinity = spec
        .affinity
        .as_ref()
        .and_then(|affinity| affinity.node_affinity.as_ref());
    let mut preferred_affinity = Vec::new();
    for (index, term) in node_affinity
        .and_then(|node| {
            node.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .into_iter()
        .flatten()
        .enumerate()
    {
        let preference = selector::node_selector_term(&term.preference).map_err(|error| {
            error.under(&format!(
                "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{index}].preference"
            ))
        })?;
        preferred_affinity.push(PreferredNodeTerm {
            weight: term.weight,
            preference,
        });
    }
    Ok(SchedulingSpec {
        node_name: if pod_name.is_some() {
            None
        } else {
            spec.node_name.clone().filter(|node| !node.is_empty())
        },
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        required_affinity,
        tolerations,
        spread_constraints,
        requests,
        nonzero_requests: nonzero,
        host_ports: host_ports(spec, host_network),
        host_network,
        priority_class: spec
            .priority_class_name
            .clone()
            .filter(|class| !class.is_empty()),
        priority: spec.priority,
        volumes: spec
            .volumes
            .iter()
            .flatten()
            .map(|volume| pod_volume(volume, pod_name))
            .collect(),
        preferred_affinity,
        pod_affinity: pod_affinity(spec.affinity.as_ref())?,
        images: spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .map(|container| normalized_image(container.image.as_deref().unwrap_or_default()))
            .collect(),
    })
}

/// ImageLocality's `normalizedImageName`: a name whose last `:` does not come after its last
/// `/` has no tag, and gets `:latest`.
fn normalized_image(name: &str) -> String {
    let tag = name.rfind(':');
    let path = name.rfind('/');
    let tagged = match (tag, path) {
        (Some(tag), Some(path)) => tag > path,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if tagged {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

/// `spec.affinity.podAffinity` and `podAntiAffinity`, each term as written.
fn pod_affinity(affinity: Option<&core::Affinity>) -> Result<PodAffinity, FieldError> {
    let Some(affinity) = affinity else {
        return Ok(PodAffinity::default());
    };
    let required = |terms: Option<&Vec<core::PodAffinityTerm>>, path: &str| {
        terms
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(index, term)| {
                affinity_term(term).map_err(|error| {
                    error.under(&format!(
                        "spec.affinity.{path}.requiredDuringSchedulingIgnoredDuringExecution[{index}]"
                    ))
                })
            })
            .collect::<Result<Vec<_>, FieldError>>()
    };
    let preferred = |terms: Option<&Vec<core::WeightedPodAffinityTerm>>, path: &str| {
        terms
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(index, term)| {
                Ok(WeightedPodAffinityTerm {
                    weight: term.weight,
                    term: affinity_term(&term.pod_affinity_term).map_err(|error| {
                        error.under(&format!(
                            "spec.affinity.{path}.preferredDuringSchedulingIgnoredDuringExecution[{index}].podAffinityTerm"
                        ))
                    })?,
                })
            })
            .collect::<Result<Vec<_>, FieldError>>()
    };
    let attract = affinity.pod_affinity.as_ref();
    let repel = affinity.pod_anti_affinity.as_ref();
    Ok(PodAffinity {
        required: required(
            attract.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "podAffinity",
        )?,
        required_anti: required(
            repel.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "podAntiAffinity",
        )?,
        preferred: preferred(
            attract.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "podAffinity",
        )?,
        preferred_anti: preferred(
            repel.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "podAntiAffinity",
        )?,
    })
}

fn affinity_term(term: &core::PodAffinityTerm) -> Result<PodAffinityTerm, FieldError> {
    Ok(PodAffinityTerm {
        label_selector: selector::label_selector(term.label_selector.as_ref())
            .map_err(|error| error.under("labelSelector"))?,
        namespaces: term.namespaces.clone().unwrap_or_default(),
        namespace_selector: term
            .namespace_selector
            .as_ref()
            .map(|selector| {
                selector::label_selector(Some(selector))
                    .map_err(|error| error.under("namespaceSelector"))
            })
            .transpose()?,
        topology_key: term.topology_key.clone(),
    })
}

fn convert_toleration(toleration: &core::Toleration) -> Result<Toleration, FieldError> {
    let operator = match toleration.operator.as_deref() {
        None | Some("") | Some("Equal") => TolerationOperator::Equal,
        Some("Exists") => TolerationOperator::Exists,
        Some(other) => {
            return Err(FieldError::new(
                "operator",
                format!("{other:?} is not a toleration operator (Equal, Exists)"),
            ));
        }
    };
    let effect = match toleration.effect.as_deref() {
        None | Some("") => None,
        Some(effect) => {
            Some(taint_effect(effect).map_err(|message| FieldError::new("effect", message))?)
        }
    };
    Ok(Toleration {
        key: toleration.key.clone().unwrap_or_default(),
        operator,
        value: toleration.value.clone().unwrap_or_default(),
        effect,
        toleration_seconds: toleration.toleration_seconds,
    })
}

/// A taint effect by its API name.
pub(super) fn taint_effect(effect: &str) -> Result<TaintEffect, String> {
    match effect {
        "NoSchedule" => Ok(TaintEffect::NoSchedule),
        "PreferNoSchedule" => Ok(TaintEffect::PreferNoSchedule),
        "NoExecute" => Ok(TaintEffect::NoExecute),
        other => Err(format!(
            "{other:?} is not a taint effect (NoSchedule, PreferNoSchedule, NoExecute)"
        )),
    }
}

fn spread_constraint(
    constraint: &core::TopologySpreadConstraint,
) -> Result<PodSpreadConstraint, FieldError> {
    let when_unsatisfiable = match constraint.when_unsatisfiable.as_str() {
        "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
        "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
        other => {
            return Err(FieldError::new(
                "whenUnsatisfiable",
                format!("{other:?} is not DoNotSchedule or ScheduleAnyway"),
            ));
        }
    };
    let inclusion = |value: Option<&str>, field: &str| match value {
        None => Ok(None),
        Some("Honor") => Ok(Some(NodeInclusionPolicy::Honor)),
        Some("Ignore") => Ok(Some(NodeInclusionPolicy::Ignore)),
        Some(other) => Err(FieldError::new(
            field,
            format!("{other:?} is not Honor or Ignore"),
        )),
    };
    let label_selector = constraint
        .label_selector
        .as_ref()
        .map(|selector| {
            selector::label_selector(Some(selector)).map_err(|error| error.under("labelSelector"))
        })
        .transpose()?;
    Ok(PodSpreadConstraint {
        max_skew: constraint.max_skew,
        topology_key: constraint.topology_key.clone(),
        when_unsatisfiable,
        label_selector,
        min_domains: constraint.min_domains,
        node_affinity_policy: inclusion(
            constraint.node_affinity_policy.as_deref(),
            "nodeAffinityPolicy",
        )?,
        node_taints_policy: inclusion(
            constraint.node_taints_policy.as_deref(),
            "nodeTaintsPolicy",
        )?,
        match_label_keys: constraint.match_label_keys.clone().unwrap_or_default(),
    })
}

/// The host ports the NodePorts filter checks: the regular containers' ports that have one.
/// With `hostNetwork` the API server defaults every container port's hostPort to itself.
fn host_ports(spec: &core::PodSpec, host_network: bool) -> Vec<HostPort> {
    spec.containers
        .iter()
        .flat_map(|container| container.ports.iter().flatten())
        .filter_map(|port| {
            let host_port = match port.host_port {
                Some(host_port) if host_port > 0 => host_port,
                _ if host_network => port.container_port,
                _ => return None,
            };
            Some(HostPort {
                port: host_port,
                protocol: port
                    .protocol
                    .clone()
                    .filter(|protocol| !protocol.is_empty())
                    .unwrap_or_else(|| "TCP".to_owned()),
                ip: port.host_ip.clone().unwrap_or_default(),
            })
        })
        .collect()
}

fn pod_volume(volume: &core::Volume, pod_name: Option<&str>) -> PodVolume {
    if volume.empty_dir.is_some() {
        PodVolume::EmptyDir
    } else if volume.host_path.is_some() {
        PodVolume::HostPath
    } else if let Some(claim) = &volume.persistent_volume_claim {
        PodVolume::Claim(claim.claim_name.clone())
    } else if let (Some(_), Some(pod)) = (&volume.ephemeral, pod_name) {
        PodVolume::Claim(format!("{pod}-{}", volume.name))
    } else {
        PodVolume::Portable
    }
}
