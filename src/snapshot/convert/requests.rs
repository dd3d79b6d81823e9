//! A pod's effective CPU and memory requests exactly as kube-scheduler computes them
//! (component-helpers `resource.PodRequests`): containers, sidecars, init containers, in-place
//! resizes, pod-level resources and overhead. Reads only the pod spec and container statuses.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Container, ContainerStatus, PodSpec, PodStatus, ResourceRequirements},
    apimachinery::pkg::api::resource::Quantity as ApiQuantity,
};

use crate::{
    planner::model::Resources,
    snapshot::{FieldError, quantity::Quantity},
};

/// The scheduler's CPU request for a container that requests none (`DefaultMilliCPURequest`).
pub const DEFAULT_CPU_MILLIS: i64 = 100;
/// The scheduler's memory request for a container that requests none (`DefaultMemoryRequest`).
pub const DEFAULT_MEMORY_BYTES: i64 = 200 * 1024 * 1024;

/// A pod's requests, as the scheduler's fit filter and its scoring see them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodRequests {
    /// What the NodeResourcesFit filter checks against allocatable.
    pub requests: Resources,
    /// The same with the scheduler's defaults (100m CPU, 200Mi memory) for every container that
    /// does not request that resource, as the scoring plugins use.
    pub nonzero: Resources,
}

/// CPU and memory, either of which may be absent (absent and zero differ for the defaults).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct List {
    cpu: Option<Quantity>,
    memory: Option<Quantity>,
}

impl List {
    fn add(&mut self, other: Self) {
        self.cpu = sum(self.cpu, other.cpu);
        self.memory = sum(self.memory, other.memory);
    }

    /// `maxResourceList`: per resource, the larger of the two.
    fn raise_to(&mut self, other: Self) {
        self.cpu = larger(self.cpu, other.cpu);
        self.memory = larger(self.memory, other.memory);
    }

    /// `applyNonMissing`: fills in the resources a container does not request.
    fn or_defaults(self) -> Self {
        Self {
            cpu: self.cpu.or(Some(Quantity::from_millis(DEFAULT_CPU_MILLIS))),
            memory: self
                .memory
                .or(Some(Quantity::from_units(DEFAULT_MEMORY_BYTES))),
        }
    }

    fn resources(self) -> Resources {
        Resources {
            cpu_millis: self.cpu.unwrap_or_default().milli_value(),
            memory_bytes: self.memory.unwrap_or_default().value(),
            pods: 0,
        }
    }
}

fn sum(a: Option<Quantity>, b: Option<Quantity>) -> Option<Quantity> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.plus(b)),
        (a, b) => a.or(b),
    }
}

fn larger(a: Option<Quantity>, b: Option<Quantity>) -> Option<Quantity> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Reads `cpu` and `memory` from a resource list; `path` names the list.
fn read_list(list: Option<&BTreeMap<String, ApiQuantity>>, path: &str) -> Result<List, FieldError> {
    let read = |name: &str| -> Result<Option<Quantity>, FieldError> {
        let Some(text) = list.and_then(|list| list.get(name)) else {
            return Ok(None);
        };
        let field = format!("{path}.{name}");
        let quantity = Quantity::parse(&text.0)
            .map_err(|error| FieldError::new(field.clone(), error.to_string()))?;
        if quantity.is_negative() {
            return Err(FieldError::new(
                field,
                format!("{:?} must be greater than or equal to 0", text.0),
            ));
        }
        Ok(Some(quantity))
    };
    Ok(List {
        cpu: read("cpu")?,
        memory: read("memory")?,
    })
}

/// A container's requests as the API server stores them: a limit without a request is also
/// the request (`SetDefaults_Pod`; templates are not defaulted, but their pods will be).
fn container_requests(
    resources: Option<&ResourceRequirements>,
    path: &str,
) -> Result<List, FieldError> {
    let requests = read_list(
        resources.and_then(|r| r.requests.as_ref()),
        &format!("{path}.resources.requests"),
    )?;
    let limits = read_list(
        resources.and_then(|r| r.limits.as_ref()),
        &format!("{path}.resources.limits"),
    )?;
    Ok(List {
        cpu: requests.cpu.or(limits.cpu),
        memory: requests.memory.or(limits.memory),
    })
}

/// Whether a kubelet reported an in-place resize as infeasible (the `PodResizePending`
/// condition with reason `Infeasible` since 1.33, `status.resize: Infeasible` before).
fn resize_infeasible(status: &PodStatus) -> bool {
    let by_condition = status
        .conditions
        .iter()
        .flatten()
        .find(|condition| condition.type_ == "PodResizePending")
        .map(|condition| condition.reason.as_deref() == Some("Infeasible"));
    by_condition.unwrap_or(status.resize.as_deref() == Some("Infeasible"))
}

/// `determineContainerReqs`: with a status that reports the container's resources, the larger
/// of desired and actual (or of actual and allocated when the resize is infeasible).
fn resized_requests(
    spec: List,
    container_status: Option<&ContainerStatus>,
    infeasible: bool,
    path: &str,
) -> Result<List, FieldError> {
    let Some((status, resources)) =
        container_status.and_then(|s| s.resources.as_ref().map(|r| (s, r)))
    else {
        return Ok(spec);
    };
    let mut actual = read_list(
        resources.requests.as_ref(),
        &format!("{path}.resources.requests"),
    )?;
    if infeasible {
        let allocated = read_list(
            status.allocated_resources.as_ref(),
            &format!("{path}.allocatedResources"),
        )?;
        actual.raise_to(allocated);
    } else {
        actual.raise_to(spec);
    }
    Ok(actual)
}

/// The requests of one container as the scheduler reads them (defaults, resize), with and
/// without the non-zero defaults.
struct ContainerRequests {
    plain: List,
    nonzero: List,
}

fn each_container(
    containers: &[Container],
    spec_path: &str,
    statuses: &BTreeMap<&str, (&ContainerStatus, String)>,
    infeasible: bool,
    resizable: impl Fn(&Container) -> bool,
) -> Result<Vec<ContainerRequests>, FieldError> {
    let mut out = Vec::with_capacity(containers.len());
    for (index, container) in containers.iter().enumerate() {
        let path = format!("{spec_path}[{index}]");
        let mut plain = container_requests(container.resources.as_ref(), &path)?;
        if resizable(container)
            && let Some((status, status_path)) = statuses.get(container.name.as_str())
        {
            plain = resized_requests(plain, Some(status), infeasible, status_path)?;
        }
        out.push(ContainerRequests {
            plain,
            nonzero: plain.or_defaults(),
        });
    }
    Ok(out)
}

fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// `resource.PodRequests` for CPU and memory, with field paths relative to the pod (`spec...`).
///
/// Regular containers add up. Init containers run one at a time: a restartable one (a sidecar,
/// `restartPolicy: Always`) keeps running, so it adds to the sum and to what every later init
/// container runs beside; a regular init container needs its own request plus the sidecars
/// started before it. The pod needs the larger of the two, per resource. Pod-level requests
/// (`spec.resources`) replace the aggregate for the resources they name; `spec.overhead` adds.
pub fn pod_requests(spec: &PodSpec, status: Option<&PodStatus>) -> Result<PodRequests, FieldError> {
    let mut statuses: BTreeMap<&str, (&ContainerStatus, String)> = BTreeMap::new();
    for (list, path) in [
        (
            status.and_then(|s| s.container_statuses.as_ref()),
            "status.containerStatuses",
        ),
        (
            status.and_then(|s| s.init_container_statuses.as_ref()),
            "status.initContainerStatuses",
        ),
    ] {
        for (index, container_status) in list.iter().flat_map(|l| l.iter()).enumerate() {
            statuses.insert(
                container_status.name.as_str(),
                (container_status, format!("{path}[{index}]")),
            );
        }
    }
    let infeasible = status.is_some_and(resize_infeasible);

    let containers = each_container(
        &spec.containers,
        "spec.containers",
        &statuses,
        infeasible,
        |_| true,
    )?;
    let init_containers = each_container(
        spec.init_containers.as_deref().unwrap_or_default(),
        "spec.initContainers",
        &statuses,
        infeasible,
        is_sidecar,
    )?;

    let mut plain = List::default();
    let mut nonzero = List::default();
    for container in &containers {
        plain.add(container.plain);
        nonzero.add(container.nonzero);
    }

    let (mut sidecars, mut sidecars_nonzero) = (List::default(), List::default());
    let (mut init_peak, mut init_peak_nonzero) = (List::default(), List::default());
    let init_specs = spec.init_containers.as_deref().unwrap_or_default();
    for (container, requests) in init_specs.iter().zip(&init_containers) {
        if is_sidecar(container) {
            plain.add(requests.plain);
            nonzero.add(requests.nonzero);
            sidecars.add(requests.plain);
            sidecars_nonzero.add(requests.nonzero);
            init_peak.raise_to(sidecars);
            init_peak_nonzero.raise_to(sidecars_nonzero);
        } else {
            let mut running = requests.plain;
            running.add(sidecars);
            let mut running_nonzero = requests.nonzero;
            running_nonzero.add(sidecars_nonzero);
            init_peak.raise_to(running);
            init_peak_nonzero.raise_to(running_nonzero);
        }
    }
    plain.raise_to(init_peak);
    nonzero.raise_to(init_peak_nonzero);

    let pod_level = read_list(
        spec.resources.as_ref().and_then(|r| r.requests.as_ref()),
        "spec.resources.requests",
    )?;
    for list in [&mut plain, &mut nonzero] {
        list.cpu = pod_level.cpu.or(list.cpu);
        list.memory = pod_level.memory.or(list.memory);
    }

    let overhead = read_list(spec.overhead.as_ref(), "spec.overhead")?;
    plain.add(overhead);
    nonzero.add(overhead);

    Ok(PodRequests {
        requests: plain.resources(),
        nonzero: nonzero.resources(),
    })
}
