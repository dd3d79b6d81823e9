//! The cluster as kube-scheduler's cache holds it, read straight from the API objects: every
//! node with the pods bound to it (Succeeded and Failed pods left out, terminating ones kept),
//! their requests as the scheduler sums them, host ports, pod (anti-)affinity terms and images.
//! Built once per scheduling pass; a bind is added at once, as the scheduler assumes a pod.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{ReplicaSet, StatefulSet},
        core::v1::{
            Container, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod,
            PodAffinityTerm, Taint, WeightedPodAffinityTerm,
        },
    },
    apimachinery::pkg::api::resource::Quantity,
};

use super::{
    quantity,
    selector::{Labels, NodeTerms, Selector},
};
use crate::sim::control::Cache;

/// The label every namespace carries with its own name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The non-zero cpu request (millicores) scoring assumes for a container that requests none.
pub const DEFAULT_CPU_MILLIS: i64 = 100;
/// The non-zero memory request (bytes) scoring assumes for a container that requests none.
pub const DEFAULT_MEMORY_BYTES: i64 = 200 << 20;

static NO_LABELS: Labels = Labels::new();

/// Cpu (millicores) and memory (bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// Millicores.
    pub cpu: i64,
    /// Bytes.
    pub memory: i64,
}

impl Resources {
    fn plus(self, other: Self) -> Self {
        Self {
            cpu: self.cpu + other.cpu,
            memory: self.memory + other.memory,
        }
    }

    fn max(self, other: Self) -> Self {
        Self {
            cpu: self.cpu.max(other.cpu),
            memory: self.memory.max(other.memory),
        }
    }
}

/// The objects a view is read from.
#[derive(Debug, Default)]
pub struct Inputs<'a> {
    /// Nodes.
    pub nodes: Vec<&'a Node>,
    /// Pods, bound or not.
    pub pods: Vec<&'a Pod>,
    /// PersistentVolumeClaims.
    pub claims: Vec<&'a PersistentVolumeClaim>,
    /// PersistentVolumes.
    pub volumes: Vec<&'a PersistentVolume>,
    /// ReplicaSets (the default spreading selector of their pods).
    pub replica_sets: Vec<&'a ReplicaSet>,
    /// StatefulSets (likewise).
    pub stateful_sets: Vec<&'a StatefulSet>,
    /// Namespaces (their labels, for affinity terms' namespaceSelector).
    pub namespaces: Vec<&'a Namespace>,
}

impl<'a> Inputs<'a> {
    /// What the control plane's cache holds (it keeps no Namespaces: each namespace then
    /// carries only its name label).
    pub fn of(cache: &'a Cache) -> Self {
        Self {
            nodes: cache.nodes.iter().map(AsRef::as_ref).collect(),
            pods: cache.pods.iter().map(AsRef::as_ref).collect(),
            claims: cache.claims.iter().map(AsRef::as_ref).collect(),
            volumes: cache.volumes.iter().map(AsRef::as_ref).collect(),
            replica_sets: cache.replica_sets.iter().map(AsRef::as_ref).collect(),
            stateful_sets: cache.stateful_sets.iter().map(AsRef::as_ref).collect(),
            namespaces: Vec::new(),
        }
    }
}

/// A host port a pod binds (`hostIP` 0.0.0.0 and protocol TCP when unset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// The address.
    pub ip: String,
    /// TCP, UDP or SCTP.
    pub protocol: String,
    /// The port.
    pub port: i32,
}

impl HostPort {
    /// `HostPortInfo.CheckConflict`: same protocol and port, and one address is the wildcard
    /// or both are the same.
    pub fn conflicts(&self, other: &Self) -> bool {
        const ANY: &str = "0.0.0.0";
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == ANY || other.ip == ANY || self.ip == other.ip)
    }
}

/// A pod (anti-)affinity term, resolved for the pod that carries it.
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    /// Namespaces named by the term (the pod's own when it names none and has no selector).
    pub namespaces: Vec<String>,
    /// `namespaceSelector`; null matches no namespace.
    pub namespace_selector: Selector,
    /// The pods the term is about.
    pub selector: Selector,
    /// The node label whose values are the domains.
    pub topology_key: String,
}

impl AffinityTerm {
    fn of(term: &PodAffinityTerm, own_namespace: &str) -> Self {
        let namespaces = match (&term.namespaces, &term.namespace_selector) {
            (names, None) if names.as_ref().is_none_or(Vec::is_empty) => {
                vec![own_namespace.to_owned()]
            }
            (names, _) => names.clone().unwrap_or_default(),
        };
        Self {
            namespaces,
            namespace_selector: Selector::of(term.namespace_selector.as_ref()),
            selector: Selector::of(term.label_selector.as_ref()),
            topology_key: term.topology_key.clone(),
        }
    }

    /// `AffinityTerm.Matches`: the pod is in one of the term's namespaces and its labels
    /// match.
    pub fn matches(&self, pod: &PodInfo<'_>, namespace_labels: &Labels) -> bool {
        (self.namespaces.iter().any(|n| n == pod.namespace)
            || self.namespace_selector.matches(namespace_labels))
            && self.selector.matches(pod.labels)
    }
}

/// A preferred term with its weight.
#[derive(Clone, Debug)]
pub struct WeightedTerm {
    /// 1..=100.
    pub weight: i64,
    /// The term.
    pub term: AffinityTerm,
}

/// A pod's inter-pod affinity and anti-affinity.
#[derive(Clone, Debug, Default)]
pub struct PodAffinity {
    /// Required affinity terms.
    pub required: Vec<AffinityTerm>,
    /// Required anti-affinity terms.
    pub required_anti: Vec<AffinityTerm>,
    /// Preferred affinity terms.
    pub preferred: Vec<WeightedTerm>,
    /// Preferred anti-affinity terms.
    pub preferred_anti: Vec<WeightedTerm>,
}

impl PodAffinity {
    fn of(pod: &Pod, namespace: &str) -> Self {
        let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
        let affinity_terms = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti_terms = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let required = |terms: Option<&Vec<PodAffinityTerm>>| {
            terms
                .into_iter()
                .flatten()
                .map(|t| AffinityTerm::of(t, namespace))
                .collect()
        };
        let preferred = |terms: Option<&Vec<WeightedPodAffinityTerm>>| {
            terms
                .into_iter()
                .flatten()
                .map(|t| WeightedTerm {
                    weight: i64::from(t.weight),
                    term: AffinityTerm::of(&t.pod_affinity_term, namespace),
                })
                .collect()
        };
        Self {
            required: required(affinity_terms.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            required_anti: required(anti_terms.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred: preferred(affinity_terms.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_anti: preferred(anti_terms.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
        }
    }

    /// Whether the pod has any term at all (`PodsWithAffinity`).
    pub fn is_empty(&self) -> bool {
        self.required.is_empty()
            && self.required_anti.is_empty()
            && self.preferred.is_empty()
            && self.preferred_anti.is_empty()
    }
}

/// A pod as the scheduler's cache keeps it.
#[derive(Clone, Debug)]
pub struct PodInfo<'a> {
    /// The object.
    pub pod: &'a Pod,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its labels.
    pub labels: &'a Labels,
    /// Its effective requests (`resource.PodRequests`).
    pub requests: Resources,
    /// The same with 100m / 200Mi for each container that requests no cpu / memory.
    pub nonzero: Resources,
    /// The host ports it binds.
    pub ports: Vec<HostPort>,
    /// Whether it is being deleted.
    pub terminating: bool,
    /// Its inter-pod affinity terms.
    pub affinity: PodAffinity,
}

impl<'a> PodInfo<'a> {
    /// Reads a pod.
    pub fn of(pod: &'a Pod) -> Self {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        Self {
            pod,
            namespace,
            name: pod.metadata.name.as_deref().unwrap_or_default(),
            labels: pod.metadata.labels.as_ref().unwrap_or(&NO_LABELS),
            requests: pod_requests(pod, false),
            nonzero: pod_requests(pod, true),
            ports: host_ports(pod),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            affinity: PodAffinity::of(pod, namespace),
        }
    }
}

/// A container's requests; an unset request is its limit (what kube-apiserver's defaulting
/// would have written, which the simulated API server leaves to its readers), and with
/// `nonzero` the scoring defaults for what is still unset.
fn container_requests(container: &Container, nonzero: bool) -> Resources {
    let resources = container.resources.as_ref();
    let read = |name: &str, milli: bool| -> Option<i64> {
        let quantity: Option<&Quantity> = resources
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get(name))
            .or_else(|| {
                resources
                    .and_then(|r| r.limits.as_ref())
                    .and_then(|l| l.get(name))
            });
        quantity.map(|q| quantity::parse(&q.0, milli).unwrap_or(0))
    };
    let (cpu_default, memory_default) = if nonzero {
        (DEFAULT_CPU_MILLIS, DEFAULT_MEMORY_BYTES)
    } else {
        (0, 0)
    };
    Resources {
        cpu: read("cpu", true).unwrap_or(cpu_default),
        memory: read("memory", false).unwrap_or(memory_default),
    }
}

/// `resource.PodRequests`: the containers' sum (restartable init containers, the sidecars,
/// included), or the largest init container plus the sidecars started before it if more,
/// plus the pod's overhead.
fn pod_requests(pod: &Pod, nonzero: bool) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut total = spec
        .containers
        .iter()
        .map(|c| container_requests(c, nonzero))
        .fold(Resources::default(), Resources::plus);
    let mut sidecars = Resources::default();
    let mut init = Resources::default();
    for container in spec.init_containers.iter().flatten() {
        let requests = container_requests(container, nonzero);
        if container.restart_policy.as_deref() == Some("Always") {
            total = total.plus(requests);
            sidecars = sidecars.plus(requests);
            init = init.max(sidecars);
        } else {
            init = init.max(requests.plus(sidecars));
        }
    }
    let overhead = spec.overhead.as_ref();
    let read = |name: &str, milli: bool| {
        overhead
            .and_then(|o| o.get(name))
            .and_then(|q| quantity::parse(&q.0, milli))
            .unwrap_or(0)
    };
    total.max(init).plus(Resources {
        cpu: read("cpu", true),
        memory: read("memory", false),
    })
}

/// `GetHostPorts`: host ports of the containers and of the restartable init containers.
fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .chain(&spec.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|port| {
            let host_port = port.host_port.filter(|p| *p > 0)?;
            Some(HostPort {
                ip: port
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".to_owned()),
                protocol: port
                    .protocol
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "TCP".to_owned()),
                port: host_port,
            })
        })
        .collect()
}

/// A node with the pods bound to it.
#[derive(Clone, Debug)]
pub struct NodeInfo<'a> {
    /// The object.
    pub node: &'a Node,
    /// Its name.
    pub name: &'a str,
    /// Its labels.
    pub labels: &'a Labels,
    /// Its taints.
    pub taints: &'a [Taint],
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// Allocatable cpu and memory (capacity when the status gives no allocatable).
    pub allocatable: Resources,
    /// Allocatable pods.
    pub allowed_pods: i64,
    /// The pods bound to it.
    pub pods: Vec<PodInfo<'a>>,
    /// The sum of their requests.
    pub requested: Resources,
    /// The sum of their non-zero requests.
    pub nonzero_requested: Resources,
    /// Image name → size in bytes, from `status.images`.
    pub images: BTreeMap<&'a str, i64>,
}

impl<'a> NodeInfo<'a> {
    fn of(node: &'a Node) -> Self {
        let status = node.status.as_ref();
        let amount = |name: &str, milli: bool| {
            status
                .and_then(|s| s.allocatable.as_ref())
                .and_then(|a| a.get(name))
                .or_else(|| {
                    status
                        .and_then(|s| s.capacity.as_ref())
                        .and_then(|c| c.get(name))
                })
                .and_then(|q| quantity::parse(&q.0, milli))
                .unwrap_or(0)
        };
        let mut images = BTreeMap::new();
        for image in status.and_then(|s| s.images.as_ref()).into_iter().flatten() {
            for name in image.names.iter().flatten() {
                images.insert(name.as_str(), image.size_bytes.unwrap_or(0));
            }
        }
        let spec = node.spec.as_ref();
        Self {
            node,
            name: node.metadata.name.as_deref().unwrap_or_default(),
            labels: node.metadata.labels.as_ref().unwrap_or(&NO_LABELS),
            taints: spec.and_then(|s| s.taints.as_deref()).unwrap_or_default(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            allocatable: Resources {
                cpu: amount("cpu", true),
                memory: amount("memory", false),
            },
            allowed_pods: amount("pods", false),
            pods: Vec::new(),
            requested: Resources::default(),
            nonzero_requested: Resources::default(),
            images,
        }
    }

    fn add(&mut self, pod: PodInfo<'a>) {
        self.requested = self.requested.plus(pod.requests);
        self.nonzero_requested = self.nonzero_requested.plus(pod.nonzero);
        self.pods.push(pod);
    }
}

/// The cluster as the scheduler sees it.
#[derive(Debug)]
pub struct View<'a> {
    /// Every node, in name order.
    pub nodes: Vec<NodeInfo<'a>>,
    claims: BTreeMap<(&'a str, &'a str), &'a PersistentVolumeClaim>,
    volumes: BTreeMap<&'a str, &'a PersistentVolume>,
    replica_sets: BTreeMap<(&'a str, &'a str), &'a ReplicaSet>,
    stateful_sets: BTreeMap<(&'a str, &'a str), &'a StatefulSet>,
    namespaces: BTreeMap<&'a str, Labels>,
    /// Image name → how many nodes hold it.
    image_nodes: BTreeMap<&'a str, usize>,
}

fn key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

impl<'a> View<'a> {
    /// The view of these objects.
    pub fn new(inputs: &Inputs<'a>) -> Self {
        let mut nodes: Vec<NodeInfo<'a>> = inputs.nodes.iter().map(|n| NodeInfo::of(n)).collect();
        nodes.sort_by(|a, b| a.name.cmp(b.name));
        let mut view = Self {
            nodes,
            claims: inputs
                .claims
                .iter()
                .map(|c| (key(&c.metadata), *c))
                .collect(),
            volumes: inputs
                .volumes
                .iter()
                .map(|v| (v.metadata.name.as_deref().unwrap_or_default(), *v))
                .collect(),
            replica_sets: inputs
                .replica_sets
                .iter()
                .map(|r| (key(&r.metadata), *r))
                .collect(),
            stateful_sets: inputs
                .stateful_sets
                .iter()
                .map(|s| (key(&s.metadata), *s))
                .collect(),
            namespaces: inputs
                .namespaces
                .iter()
                .map(|n| {
                    let name = n.metadata.name.as_deref().unwrap_or_default();
                    let mut labels = n.metadata.labels.clone().unwrap_or_default();
                    labels.insert(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned());
                    (name, labels)
                })
                .collect(),
            image_nodes: BTreeMap::new(),
        };
        for pod in &inputs.pods {
            let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
            view.namespaces.entry(namespace).or_insert_with(|| {
                Labels::from([(NAMESPACE_NAME_LABEL.to_owned(), namespace.to_owned())])
            });
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            if matches!(phase, Some("Succeeded" | "Failed")) {
                continue;
            }
            if let Some(node) = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .filter(|n| !n.is_empty())
            {
                view.assume(pod, node);
            }
        }
        for node in &view.nodes {
            for name in node.images.keys() {
                *view.image_nodes.entry(name).or_default() += 1;
            }
        }
        view
    }

    /// The view of what the control plane's cache holds.
    pub fn of(cache: &'a Cache) -> Self {
        Self::new(&Inputs::of(cache))
    }

    /// Adds a pod to a node's pods (the scheduler's assume after it chose the node).
    pub fn assume(&mut self, pod: &'a Pod, node: &str) {
        if let Ok(position) = self.nodes.binary_search_by(|n| n.name.cmp(node)) {
            self.nodes[position].add(PodInfo::of(pod));
        }
    }

    /// A claim.
    pub fn claim(&self, namespace: &str, name: &str) -> Option<&'a PersistentVolumeClaim> {
        self.claims.get(&(namespace, name)).copied()
    }

    /// A volume.
    pub fn volume(&self, name: &str) -> Option<&'a PersistentVolume> {
        self.volumes.get(name).copied()
    }

    /// A ReplicaSet.
    pub fn replica_set(&self, namespace: &str, name: &str) -> Option<&'a ReplicaSet> {
        self.replica_sets.get(&(namespace, name)).copied()
    }

    /// A StatefulSet.
    pub fn stateful_set(&self, namespace: &str, name: &str) -> Option<&'a StatefulSet> {
        self.stateful_sets.get(&(namespace, name)).copied()
    }

    /// A namespace's labels (only its name label when the view holds no such Namespace but
    /// a pod in it; none for a namespace it never heard of).
    pub fn namespace_labels(&self, namespace: &str) -> &Labels {
        self.namespaces.get(namespace).unwrap_or(&NO_LABELS)
    }

    /// How many nodes hold an image.
    pub fn image_spread(&self, image: &str) -> usize {
        self.image_nodes.get(image).copied().unwrap_or(0)
    }
}

/// A required node affinity: the nodeSelector and the required terms together
/// (`nodeaffinity.GetRequiredNodeAffinity`).
#[derive(Clone, Debug, Default)]
pub struct RequiredNodeAffinity {
    node_selector: Labels,
    terms: Option<NodeTerms>,
}

impl RequiredNodeAffinity {
    /// The pod's.
    pub fn of(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        Self {
            node_selector: spec
                .and_then(|s| s.node_selector.clone())
                .unwrap_or_default(),
            terms: spec
                .and_then(|s| s.affinity.as_ref())
                .and_then(|a| a.node_affinity.as_ref())
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .map(NodeTerms::of),
        }
    }

    /// `RequiredNodeAffinity.Match`.
    pub fn matches(&self, node: &NodeInfo<'_>) -> bool {
        self.node_selector
            .iter()
            .all(|(key, value)| node.labels.get(key) == Some(value))
            && self
                .terms
                .as_ref()
                .is_none_or(|terms| terms.matches(node.labels, node.name))
    }

    /// The node names `metadata.name In` fields narrow the pod to: None when any term
    /// leaves every node possible.
    pub fn required_names(&self) -> Option<Vec<String>> {
        let terms = self.terms.as_ref()?;
        let mut names: Vec<String> = Vec::new();
        for term in &terms.0 {
            names.extend(term.required_names()?);
        }
        names.sort();
        names.dedup();
        Some(names)
    }
}
