//! Runs a scenario: the simulated API and control plane, the scenario's objects and events on
//! time, extra in-process tasks (the controller) alongside, and the report. Timed only by
//! tokio's clock: paused for fast runs, real for `--serve`.

use std::{future::Future, pin::Pin, time::Duration};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Action, Event, Manifest, Scenario, Target};
use crate::{
    clock::Clock,
    sim::{
        DeleteOptions, PatchBody, Rejection, SimApi, StoreConfig, Subresource, WriteOptions,
        control::{self, ControlPlane, after},
        report::{FellBehind, Recorder, Report},
    },
};

/// The field manager of the scenario's own writes (a person with kubectl).
const SCENARIO_MANAGER: &str = "kubectl";

/// Why a simulation failed.
#[derive(Debug, thiserror::Error)]
pub enum RunSimulation {
    /// The control plane could not start.
    #[error(transparent)]
    Start(#[from] control::Start),
    /// A scenario object was refused by the API.
    #[error("creating {what}: {source}")]
    CreateObject {
        /// The object.
        what: String,
        /// The API's answer.
        source: Rejection,
    },
    /// The report could not keep up with the cluster's changes.
    #[error(transparent)]
    ReportFellBehind(#[from] FellBehind),
    /// An event's write was refused by the API.
    #[error("event at {at} ({event}): {source}")]
    ApplyEvent {
        /// When.
        at: String,
        /// What.
        event: String,
        /// The API's answer.
        source: Rejection,
    },
}

impl RunSimulation {
    /// A fixed label per variant.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Start(_) => "start",
            Self::CreateObject { .. } => "create_object",
            Self::ReportFellBehind(_) => "report_fell_behind",
            Self::ApplyEvent { .. } => "apply_event",
        }
    }
}

type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A scenario ready to run: the API, the control plane, and any extra tasks.
pub struct Simulation {
    scenario: Scenario,
    api: SimApi,
    control: ControlPlane,
    tasks: Vec<Task>,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("scenario", &self.scenario.name)
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Simulation {
    /// A simulation of `scenario`, its clock starting at the scenario's start now (call it on
    /// the runtime that will run it, so the clock follows that runtime's time).
    pub fn new(scenario: Scenario) -> Result<Self, RunSimulation> {
        let clock = Clock::starting_at(scenario.start);
        let api = SimApi::with_config(
            clock,
            StoreConfig {
                seed: scenario.seed,
                history: history_for(&scenario),
            },
        );
        let settings = control::Settings {
            seed: scenario.seed,
            pod_startup_min: scenario.pod_startup_min,
            pod_startup_max: scenario.pod_startup_max,
            ..control::Settings::default()
        };
        let control = ControlPlane::new(api.store().clone(), settings)?;
        Ok(Self {
            scenario,
            api,
            control,
            tasks: Vec::new(),
        })
    }

    /// The simulated API: `api().client_as(user)` gives an in-process kube client, `serve`
    /// a socket for kubectl.
    pub fn api(&self) -> &SimApi {
        &self.api
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The control plane.
    pub fn control(&self) -> &ControlPlane {
        &self.control
    }

    /// Adds a task that runs alongside the control plane from the start of the run to its end
    /// (then it is aborted): the kube-spread controller against `api().client_as(...)`, or a
    /// test's own client.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(Box::pin(task));
    }

    /// Runs the scenario to its end and reports.
    pub async fn run(self) -> Result<Report, RunSimulation> {
        let end = after(self.scenario.start, self.scenario.duration);
        self.drive(Some(end), std::future::pending()).await
    }

    /// Runs the scenario's events on time until `stop` resolves (the scenario's duration is
    /// ignored), then reports.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> Result<Report, RunSimulation> {
        self.drive(None, stop).await
    }

    async fn drive(
        mut self,
        end: Option<Timestamp>,
        stop: impl Future<Output = ()>,
    ) -> Result<Report, RunSimulation> {
        let store = self.api.store().clone();
        let clock = *store.clock();
        let start = self.scenario.start;
        let mut recorder = Recorder::new(&store, start, self.scenario.sample_every);
        self.create_objects()?;
        let tasks: Vec<_> = std::mem::take(&mut self.tasks)
            .into_iter()
            .map(tokio::spawn)
            .collect();
        let events = std::mem::take(&mut self.scenario.events);
        let mut next_event = 0;
        let mut stop = std::pin::pin!(stop);
        let result = 'run: loop {
            let now = clock.now();
            while let Some(event) = events.get(next_event).filter(|e| after(start, e.at) <= now) {
                self.control.settle();
                if let Err(error) = recorder.observe(self.control.cache(), now) {
                    break 'run Err(error.into());
                }
                recorder.event(
                    self.control.cache(),
                    now,
                    event.action.kind(),
                    event.action.node(),
                    event.action.describe(),
                );
                if let Err(error) = self.apply(event, now) {
                    break 'run Err(error);
                }
                next_event += 1;
            }
            let wake = self.control.settle();
            if let Err(error) = recorder.observe(self.control.cache(), now) {
                break 'run Err(error.into());
            }
            if end.is_some_and(|end| now >= end) {
                break Ok(());
            }
            let mut deadline = recorder.next_sample();
            if let Some(wake) = wake {
                deadline = deadline.min(wake);
            }
            if let Some(event) = events.get(next_event) {
                deadline = deadline.min(after(start, event.at));
            }
            if let Some(end) = end {
                deadline = deadline.min(end);
            }
            // Never wait for a moment already past: a component asking to run now has just run.
            deadline = deadline.max(after(now, Duration::from_millis(100)));
            let version = store.resource_version();
            tokio::select! {
                biased;
                () = &mut stop => break Ok(()),
                () = tokio::time::sleep_until(clock.instant_at(deadline)) => {}
                () = store.wait_past(version) => {}
            }
        };
        for task in &tasks {
            task.abort();
        }
        result?;
        let now = clock.now();
        self.control.settle();
        Ok(recorder.finish(self.control.cache(), now, &self.scenario)?)
    }

    fn create_objects(&self) -> Result<(), RunSimulation> {
        let store = self.api.store();
        for manifest in &self.scenario.objects {
            let Some(resource) = resource_of(store, &manifest.api_version, &manifest.kind) else {
                continue;
            };
            match store.create(
                resource,
                &manifest.namespace,
                manifest.object.clone(),
                &WriteOptions::manager(SCENARIO_MANAGER),
            ) {
                Ok(_) => {}
                Err(rejection) if rejection.code == 409 && manifest.kind == "Namespace" => {}
                Err(source) => {
                    return Err(RunSimulation::CreateObject {
                        what: manifest.describe(),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: &Event, now: Timestamp) -> Result<(), RunSimulation> {
        let store = self.api.store().clone();
        let failed = |source| RunSimulation::ApplyEvent {
            at: super::super::report::text::clock(event.at.as_secs()),
            event: event.action.describe(),
            source,
        };
        let options = WriteOptions::manager(SCENARIO_MANAGER);
        let nodes = self.control.cache().ids.nodes;
        let patch = |resource, namespace: &str, name: &str, body: Value| {
            store
                .patch(
                    resource,
                    namespace,
                    name,
                    &PatchBody::Merge(body),
                    Subresource::Main,
                    &options,
                )
                .map(|_| ())
        };
        match &event.action {
            Action::NodeDown(node) => self.control.set_kubelet_running(node, false),
            Action::NodeUp(node) => self.control.set_kubelet_running(node, true),
            Action::Cordon(node) => {
                patch(nodes, "", node, json!({"spec": {"unschedulable": true}})).map_err(failed)?;
            }
            Action::Uncordon(node) => {
                patch(nodes, "", node, json!({"spec": {"unschedulable": null}})).map_err(failed)?;
            }
            Action::Scale(scale) => {
                let resource = target_resource(&store, &scale.target).map_err(failed)?;
                patch(
                    resource,
                    &scale.target.namespace,
                    &scale.target.name,
                    json!({"spec": {"replicas": scale.replicas}}),
                )
                .map_err(failed)?;
            }
            Action::Restart(target) => {
                let resource = target_resource(&store, target).map_err(failed)?;
                let at = crate::sim::apiserver::store::timestamp(now);
                patch(
                    resource,
                    &target.namespace,
                    &target.name,
                    json!({"spec": {"template": {"metadata": {"annotations": {
                        control::deployment::RESTARTED_AT_ANNOTATION: at}}}}}),
                )
                .map_err(failed)?;
            }
            Action::Apply(manifests) => {
                for manifest in manifests {
                    apply_manifest(&store, manifest).map_err(failed)?;
                }
            }
            Action::Delete(target) => {
                let resource = target_resource(&store, target).map_err(failed)?;
                store
                    .delete(
                        resource,
                        &target.namespace,
                        &target.name,
                        &DeleteOptions {
                            propagation_policy: Some("Background".to_owned()),
                            ..DeleteOptions::default()
                        },
                    )
                    .map_err(failed)?;
            }
        }
        Ok(())
    }
}

/// Changes the store keeps: enough that the recorder, which reads them once the control plane
/// settles, still finds every one even when a settle touches every pod a few times over (a
/// whole cluster scheduled at the start, or a node's pods evicted and replaced). Should it still
/// fall behind, the run fails rather than report what it missed.
fn history_for(scenario: &Scenario) -> usize {
    const CHANGES_PER_POD: u64 = 8;
    let pods = scenario.pods_at_most().saturating_mul(CHANGES_PER_POD);
    usize::try_from(pods)
        .unwrap_or(usize::MAX)
        .max(StoreConfig::default().history)
}

fn resource_of(
    store: &crate::sim::Store,
    api_version: &str,
    kind: &str,
) -> Option<crate::sim::ResourceId> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    store
        .catalog()
        .types()
        .find(|(_, t)| t.group == group && t.version == version && t.kind == kind)
        .map(|(id, _)| id)
}

fn target_resource(
    store: &crate::sim::Store,
    target: &Target,
) -> Result<crate::sim::ResourceId, Rejection> {
    resource_of(store, &target.api_version(), &target.kind).ok_or_else(|| {
        Rejection::bad_request(format!(
            "{} {} is not served",
            target.api_version(),
            target.kind
        ))
    })
}

/// `kubectl apply --server-side --force-conflicts`: creates the object or applies it.
fn apply_manifest(store: &crate::sim::Store, manifest: &Manifest) -> Result<(), Rejection> {
    let resource = resource_of(store, &manifest.api_version, &manifest.kind)
        .ok_or_else(|| Rejection::bad_request(format!("{} is not served", manifest.describe())))?;
    let options = WriteOptions {
        field_manager: Some(SCENARIO_MANAGER.to_owned()),
        force: true,
        ..WriteOptions::default()
    };
    match store.get(resource, &manifest.namespace, &manifest.name) {
        Ok(_) => store
            .apply(
                resource,
                &manifest.namespace,
                &manifest.name,
                manifest.object.clone(),
                Subresource::Main,
                &options,
            )
            .map(|_| ()),
        Err(_) => store
            .create(
                resource,
                &manifest.namespace,
                manifest.object.clone(),
                &options,
            )
            .map(|_| ()),
    }
}
