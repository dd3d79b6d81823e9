//! Inject: server-side apply, under the field manager `kube-spread` and never forced, of only
//! our `topologySpreadConstraints` entries (list-map keys topologyKey + whenUnsatisfiable) and,
//! for scope Policy, the group label, into the pod templates a policy governs. Paced: at most
//! `rollout.maxConcurrent` workloads re-rolling because of us. Workloads no policy governs any
//! more get our fields removed by applying an empty configuration.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
};

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::ObjectReference,
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

use super::{
    events::{Note, Recorder, Severity},
    observe::Observation,
    stores::{Stores, WorkloadEntry},
};
use crate::{
    api::{FIELD_MANAGER, GROUP_LABEL, Rollout, WorkloadCounts, WorkloadIssue, conditions::Reason},
    metrics::{ControllerMetrics, patch_result},
    planner::{
        group::{self, LeftAlone, Spreading},
        identity::WorkloadRef,
        model::{PodSpreadConstraint, Policy, Scope, Workload, WorkloadKind},
        report::LeftAloneWorkload,
        selector::{LabelSelector, Operator},
    },
};

/// What injection did for a policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Injection {
    /// Workload counts for the status.
    pub counts: WorkloadCounts,
    /// Workloads that could not be handled as asked.
    pub issues: Vec<WorkloadIssue>,
    /// Workloads still to be injected once running rollouts finish.
    pub pending: usize,
    /// Workloads re-rolling because of us.
    pub rolling: usize,
    /// Workloads (`Kind/name`; `namespace/Kind/name` for a policy across namespaces) whose
    /// injection is still to come or whose rollout is running:
    /// their pods are about to be replaced, so none of them is moved meanwhile.
    pub unsettled: BTreeSet<String>,
}

/// Generations our applies produced, so that a rollout we caused counts as running before the
/// workload's status catches up.
#[derive(Debug, Default)]
pub struct Rollouts {
    started: Mutex<HashMap<(String, WorkloadKind, String), i64>>,
}

impl Rollouts {
    fn note(&self, workload: &Workload, generation: i64) {
        self.started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key(workload), generation);
    }

    /// Every workload (`namespace/Kind/name`) that a rollout caused by us is re-rolling now.
    pub fn rolling_across(&self, stores: &Stores) -> BTreeSet<String> {
        stores
            .workloads()
            .iter()
            .filter(|entry| self.running(entry))
            .map(|entry| entry.workload.qualified_key())
            .collect()
    }

    /// Whether a rollout caused by us is still running.
    fn running(&self, entry: &WorkloadEntry) -> bool {
        let workload = &entry.workload;
        let started = self
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key(workload))
            .copied();
        let caught_up =
            started.is_none_or(|generation| workload.status.observed_generation >= generation);
        let ours = entry.applied_by_us || started.is_some();
        ours && (!caught_up || rolling(workload))
    }
}

fn key(workload: &Workload) -> (String, WorkloadKind, String) {
    (
        workload.namespace.to_string(),
        workload.kind,
        workload.name.clone(),
    )
}

/// Whether a workload's rollout is incomplete.
fn rolling(workload: &Workload) -> bool {
    let status = &workload.status;
    workload.generation > status.observed_generation
        || status.updated_replicas < workload.replicas
        || status.available_replicas < workload.replicas
        || status.replicas > workload.replicas
}

/// What a policy's injection needs from the controller.
pub struct Injector<'c> {
    /// The client writes go through.
    pub client: &'c Client,
    /// The watches' stores.
    pub stores: &'c Stores,
    /// Counters.
    pub metrics: &'c ControllerMetrics,
    /// Events.
    pub recorder: &'c Recorder,
    /// Rollouts we started.
    pub rollouts: &'c Rollouts,
}

impl std::fmt::Debug for Injector<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injector").finish_non_exhaustive()
    }
}

/// The constraints and group label a policy wants on a workload's template.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// Our constraint entries.
    pub constraints: Vec<PodSpreadConstraint>,
    /// The group label, for scope Policy.
    pub group_label: Option<String>,
}

impl Desired {
    /// What `policy` wants on `workload`.
    pub fn of(policy: &Policy, workload: &Workload) -> Self {
        let spreading = match policy.spec.scope {
            Scope::Workload => Spreading::Workload(workload),
            Scope::Policy => Spreading::Policy(&policy.name),
        };
        Self {
            constraints: policy
                .spec
                .constraints_for(workload.kind)
                .into_iter()
                .map(|constraint| group::injected_constraint(constraint, spreading))
                .collect(),
            group_label: (policy.spec.scope == Scope::Policy).then(|| policy.name.clone()),
        }
    }

    /// Whether the workload's template already carries all of it.
    pub fn is_met_by(&self, workload: &Workload) -> bool {
        let label_met = self
            .group_label
            .as_ref()
            .is_none_or(|group| workload.template_labels.get(GROUP_LABEL) == Some(group));
        label_met
            && self
                .constraints
                .iter()
                .all(|wanted| workload.template.spread_constraints.contains(wanted))
    }

    /// The server-side apply configuration: only our fields.
    pub fn configuration(&self, workload: &Workload) -> Value {
        let mut template = json!({
            "spec": {"topologySpreadConstraints": self.constraints.iter().map(constraint_json).collect::<Vec<_>>()},
        });
        if let Some(group) = &self.group_label {
            template["metadata"] = json!({"labels": {GROUP_LABEL: group}});
        }
        json!({
            "apiVersion": "apps/v1",
            "kind": workload.kind.as_str(),
            "metadata": {"name": workload.name, "namespace": &*workload.namespace},
            "spec": {"template": template},
        })
    }
}

/// An empty configuration: applying it removes every field we applied before.
fn release_configuration(workload: &Workload) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": workload.kind.as_str(),
        "metadata": {"name": workload.name, "namespace": &*workload.namespace},
    })
}

/// A constraint as the Pod API spells it.
fn constraint_json(constraint: &PodSpreadConstraint) -> Value {
    let mut value = json!({
        "maxSkew": constraint.max_skew,
        "topologyKey": constraint.topology_key,
        "whenUnsatisfiable": constraint.when_unsatisfiable.as_str(),
    });
    if let Some(selector) = &constraint.label_selector {
        value["labelSelector"] = selector_json(selector);
    }
    if !constraint.match_label_keys.is_empty() {
        value["matchLabelKeys"] = json!(constraint.match_label_keys);
    }
    if let Some(min_domains) = constraint.min_domains {
        value["minDomains"] = json!(min_domains);
    }
    if let Some(policy) = constraint.node_affinity_policy {
        value["nodeAffinityPolicy"] = json!(policy);
    }
    if let Some(policy) = constraint.node_taints_policy {
        value["nodeTaintsPolicy"] = json!(policy);
    }
    value
}

/// A label selector as the API spells it: single-value `In` requirements as matchLabels.
fn selector_json(selector: &LabelSelector) -> Value {
    let LabelSelector::Requirements(requirements) = selector else {
        return json!({});
    };
    let mut labels = BTreeMap::new();
    let mut expressions = Vec::new();
    for requirement in requirements {
        match (requirement.operator, requirement.values.as_slice()) {
            (Operator::In, [value]) => {
                labels.insert(requirement.key.clone(), value.clone());
            }
            (operator, values) => {
                let operator = match operator {
                    Operator::In => "In",
                    Operator::NotIn => "NotIn",
                    Operator::Exists => "Exists",
                    Operator::DoesNotExist => "DoesNotExist",
                    Operator::Gt => "Gt",
                    Operator::Lt => "Lt",
                };
                let mut expression = json!({"key": requirement.key, "operator": operator});
                if !values.is_empty() {
                    expression["values"] = json!(values);
                }
                expressions.push(expression);
            }
        }
    }
    let mut value = json!({});
    if !labels.is_empty() {
        value["matchLabels"] = json!(labels);
    }
    if !expressions.is_empty() {
        value["matchExpressions"] = json!(expressions);
    }
    value
}

/// The result of one apply.
enum Applied {
    Done(i64),
    Conflict(String),
    Failed(String),
}

impl Injector<'_> {
    async fn apply(&self, workload: &Workload, configuration: &Value) -> Applied {
        let params = PatchParams::apply(FIELD_MANAGER);
        let patch = Patch::Apply(configuration);
        let result = match workload.kind {
            WorkloadKind::Deployment => {
                Api::<Deployment>::namespaced(self.client.clone(), &workload.namespace)
                    .patch(&workload.name, &params, &patch)
                    .await
                    .map(|applied| applied.metadata.generation.unwrap_or_default())
            }
            WorkloadKind::StatefulSet => {
                Api::<StatefulSet>::namespaced(self.client.clone(), &workload.namespace)
                    .patch(&workload.name, &params, &patch)
                    .await
                    .map(|applied| applied.metadata.generation.unwrap_or_default())
            }
        };
        match result {
            Ok(generation) => {
                self.metrics
                    .patches
                    .with_label_values(&[patch_result::APPLIED])
                    .inc();
                Applied::Done(generation)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                self.metrics
                    .patches
                    .with_label_values(&[patch_result::CONFLICT])
                    .inc();
                Applied::Conflict(other_manager(&status.message))
            }
            Err(error) => {
                self.metrics
                    .patches
                    .with_label_values(&[patch_result::FAILED])
                    .inc();
                Applied::Failed(error.to_string())
            }
        }
    }

    /// Counts and reports a workload its group leaves alone, and takes our fields back from
    /// one we injected before that is now pinned or ignored.
    async fn leave_alone(
        &self,
        policy: &Policy,
        observation: &Observation,
        alone: &LeftAloneWorkload,
        injection: &mut Injection,
    ) {
        injection.counts.matched += 1;
        match alone.reason {
            LeftAlone::Pinned => injection.counts.pinned += 1,
            LeftAlone::Ignored => injection.counts.ignored += 1,
            LeftAlone::ClaimedByOtherPolicy { .. } => {}
        }
        injection.issues.push(WorkloadIssue {
            workload: alone.workload.to_string(),
            reason: alone.reason.reason().to_owned(),
            message: left_alone_message(alone.reason.reason()),
        });
        // A workload we injected before that is now pinned or ignored gets its fields
        // back. One another policy governs is that policy's to write: every policy
        // applies under the one field manager, so releasing here would remove its
        // fields, it would apply them again, and the workload would re-roll forever.
        let ours_to_release = matches!(alone.reason, LeftAlone::Pinned | LeftAlone::Ignored);
        if ours_to_release
            && let Some(workload) = find(observation, &policy.namespace, &alone.workload)
            && self
                .entry(workload)
                .is_some_and(|entry| entry.applied_by_us)
        {
            // Pinning or ignoring is asked per workload: its release is not paced.
            self.release(workload).await;
        }
    }

    /// Injects a policy's constraints into the workloads it governs, paced; and removes our
    /// fields from the ones it matches but leaves alone.
    pub async fn inject(
        &self,
        policy: &Policy,
        rollout: &Rollout,
        reference: &ObjectReference,
        observation: &Observation,
    ) -> Injection {
        let mut injection = Injection::default();
        let groups: Vec<_> = observation
            .plan
            .groups
            .iter()
            .filter(|group| {
                *group.namespace == *policy.namespace
                    && group.policy.as_deref() == Some(&*policy.name)
            })
            .collect();
        let mut active: Vec<Workload> = Vec::new();
        for group in &groups {
            for name in &group.workloads {
                if let Some(workload) = find(observation, &policy.namespace, name) {
                    active.push(workload.clone());
                }
            }
            for alone in &group.left_alone {
                self.leave_alone(policy, observation, alone, &mut injection)
                    .await;
            }
        }
        active.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        active.dedup_by(|a, b| a.kind == b.kind && a.name == b.name);
        injection.counts.matched += i32::try_from(active.len()).unwrap_or(i32::MAX);

        let entries: Vec<(Workload, Option<Arc<WorkloadEntry>>)> = active
            .into_iter()
            .map(|workload| {
                let entry = self.entry(&workload);
                (workload, entry)
            })
            .collect();
        injection.rolling = entries
            .iter()
            .filter(|(_, entry)| {
                entry
                    .as_ref()
                    .is_some_and(|entry| self.rollouts.running(entry))
            })
            .count();
        let pace = usize::try_from(rollout.max_concurrent).unwrap_or(1).max(1);
        for (workload, entry) in &entries {
            let desired = Desired::of(policy, workload);
            if desired.constraints.is_empty() {
                // A policy without constraints injects nothing; take back what we applied,
                // paced as injection is: taking our constraints out re-rolls the workload too.
                if entry.as_ref().is_some_and(|entry| entry.applied_by_us) {
                    if injection.rolling >= pace {
                        injection.pending += 1;
                    } else if self.release(workload).await {
                        injection.rolling += 1;
                    }
                }
                continue;
            }
            if desired.is_met_by(workload) {
                injection.counts.injected += 1;
                if rolling(workload) {
                    injection.unsettled.insert(workload.key());
                }
                continue;
            }
            injection.unsettled.insert(workload.key());
            if injection.rolling >= pace {
                injection.pending += 1;
                continue;
            }
            let applied = self.apply(workload, &desired.configuration(workload)).await;
            self.injected(policy, reference, workload, applied, &mut injection)
                .await;
        }
        injection.issues.sort_by(|a, b| a.workload.cmp(&b.workload));
        injection
    }

    /// Counts, logs and tells people what came of injecting into one workload.
    async fn injected(
        &self,
        policy: &Policy,
        reference: &ObjectReference,
        workload: &Workload,
        applied: Applied,
        injection: &mut Injection,
    ) {
        match applied {
            Applied::Done(generation) => {
                tracing::info!(policy = %policy.name, namespace = %policy.namespace, workload = %workload.key(), "Injected topology spread constraints.");
                self.rollouts.note(workload, generation);
                injection.rolling += 1;
                injection.counts.injected += 1;
                self.recorder
                    .record(
                        reference,
                        None,
                        Note {
                            severity: Severity::Normal,
                            reason: "Injected",
                            action: "Apply",
                            message: format!(
                                "Applied topology spread constraints to {}",
                                workload.key()
                            ),
                        },
                    )
                    .await;
            }
            Applied::Conflict(manager) => {
                injection.counts.conflicted += 1;
                let message = format!(
                    "{} owns a field of {}'s topologySpreadConstraints that this policy would set; nothing was forced",
                    manager,
                    workload.key()
                );
                self.recorder
                    .record(
                        reference,
                        None,
                        Note {
                            severity: Severity::Warning,
                            reason: Reason::Conflict.as_str(),
                            action: "Apply",
                            message: message.clone(),
                        },
                    )
                    .await;
                injection.issues.push(WorkloadIssue {
                    workload: workload.key(),
                    reason: Reason::Conflict.to_string(),
                    message,
                });
            }
            Applied::Failed(error) => {
                tracing::warn!(policy = %policy.name, namespace = %policy.namespace, workload = %workload.key(), error = %error, "Could not inject constraints.");
                injection.pending += 1;
            }
        }
    }

    fn entry(&self, workload: &Workload) -> Option<Arc<WorkloadEntry>> {
        self.stores
            .workload(&workload.namespace, workload.kind, &workload.name)
    }

    /// Removes every field we applied to a workload; whether that re-rolls it (an apply that
    /// changes nothing leaves its generation as it was).
    pub async fn release(&self, workload: &Workload) -> bool {
        match self.apply(workload, &release_configuration(workload)).await {
            Applied::Done(generation) => {
                self.rollouts.note(workload, generation);
                let rolls = generation != workload.generation;
                if rolls {
                    tracing::info!(namespace = %workload.namespace, workload = %workload.key(), "Removed our topology spread constraints.");
                }
                rolls
            }
            Applied::Conflict(manager) | Applied::Failed(manager) => {
                tracing::warn!(namespace = %workload.namespace, workload = %workload.key(), error = %manager, "Could not remove our topology spread constraints.");
                false
            }
        }
    }

    /// Removes our fields from workloads no valid policy governs, one rollout per namespace at
    /// a time. Namespaces with a policy that cannot be read are left alone: its workloads may
    /// still be meant to carry our constraints.
    pub async fn release_orphans(&self, observation: &Observation) {
        let governed: HashSet<(String, String)> = observation
            .plan
            .groups
            .iter()
            .flat_map(|group| {
                group
                    .workloads
                    .iter()
                    .chain(group.left_alone.iter().map(|w| &w.workload))
                    .map(|name| (group.namespace.to_string(), name.to_string()))
            })
            .collect();
        let mut busy: HashSet<String> = HashSet::new();
        let mut orphans = Vec::new();
        for entry in self.stores.workloads() {
            let workload = &entry.workload;
            let namespace = workload.namespace.to_string();
            let invalid_here = observation
                .invalid
                .keys()
                .any(|key| key.split('/').next() == Some(namespace.as_str()));
            // Matched workloads (left alone ones included) are their policy's to handle.
            let matched = governed.contains(&(namespace.clone(), workload.key()));
            if entry.applied_by_us && !matched && !invalid_here {
                orphans.push(Arc::clone(&entry));
            } else if self.rollouts.running(&entry) {
                // Another rollout of ours runs here: wait for it (an orphan's own unfinished
                // rollout does not hold back its release).
                busy.insert(namespace);
            }
        }
        orphans.sort_by(|a, b| {
            (&*a.workload.namespace, a.workload.kind, &a.workload.name).cmp(&(
                &*b.workload.namespace,
                b.workload.kind,
                &b.workload.name,
            ))
        });
        for entry in orphans {
            let namespace = entry.workload.namespace.to_string();
            if busy.contains(&namespace) {
                continue;
            }
            busy.insert(namespace);
            // One release per namespace and sweep, whether or not it re-rolls.
            self.release(&entry.workload).await;
        }
    }
}

fn find<'o>(
    observation: &'o Observation,
    namespace: &str,
    key: &WorkloadRef,
) -> Option<&'o Workload> {
    observation
        .cluster
        .workloads
        .iter()
        .find(|workload| key.names(workload, namespace))
}

fn left_alone_message(reason: &str) -> String {
    match reason {
        "Pinned" => {
            "its pod template names a node, selects one by hostname, or admits a single node"
                .to_owned()
        }
        "Ignored" => "annotated kubespread.io/ignore: \"true\"".to_owned(),
        _ => "an older policy of the namespace governs it".to_owned(),
    }
}

/// The manager a server-side apply conflict names (`conflict with "kubectl" using apps/v1: ...`).
fn other_manager(message: &str) -> String {
    message
        .split("conflict with \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("another field manager")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_message_names_the_other_manager() {
        let message = "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.template.spec.topologySpreadConstraints";
        assert_eq!(other_manager(message), "kubectl-client-side-apply");
        assert_eq!(other_manager("something else"), "another field manager");
    }

    #[test]
    fn selectors_are_written_back_as_match_labels_where_they_can_be() {
        let selector = LabelSelector::from_requirements(vec![
            crate::planner::selector::Requirement::equals("app", "web"),
            crate::planner::selector::Requirement::new(
                "tier",
                Operator::NotIn,
                vec!["db".to_owned()],
            ),
        ]);
        assert_eq!(
            selector_json(&selector),
            json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]})
        );
    }
}
