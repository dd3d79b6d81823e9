//! Inject: server-side apply, under the field manager `kube-spread` and never forced, of only
//! our `topologySpreadConstraints` entries (list-map keys topologyKey + whenUnsatisfiable) and,
//! for scope Policy, the group label, into the pod templates a policy governs. Paced: at most
//! `rollout.maxConcurrent` workloads re-rolling because of us. Workloads no policy governs any
//! more get our fields removed by applying an empty configuration.
//!
//! A pure [`decide`] says what to apply or release and in what order, paced, and folds each
//! answer back in; [`orphans`] says which workloads the sweep releases. [`Injector`] only carries
//! those out through the chokepoint, [`Disruptor::roll`], which writes, counts and tells.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, PoisonError},
};

use k8s_openapi::api::core::v1::ObjectReference;
use serde_json::{Value, json};

use super::{
    disruption::{Disruptor, Roll, RollError, RollRequest, Rolled, conflict_message},
    observe::Observation,
    stores::{Stores, WorkloadEntry},
};
use crate::{
    api::{GROUP_LABEL, Rollout, WorkloadCounts, WorkloadIssue, conditions::Reason},
    planner::{
        group::{self, LeftAlone, Spreading},
        identity::WorkloadRef,
        model::{PodSpreadConstraint, Policy, Scope, Workload, WorkloadKind},
        report::{GroupPlan, LeftAloneWorkload},
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
        ours && (!caught_up || !workload.rollout_complete())
    }
}

fn key(workload: &Workload) -> (String, WorkloadKind, String) {
    (
        workload.namespace.to_string(),
        workload.kind,
        workload.name.clone(),
    )
}

/// Carries injections and releases out: what it reads of our own doing, and the chokepoint
/// every write goes through.
pub struct Injector<'c> {
    /// The watches' stores.
    pub stores: &'c Stores,
    /// Rollouts we started.
    pub rollouts: &'c Rollouts,
    /// The one chokepoint: leader gating, metrics, Events.
    pub disruptor: &'c Disruptor<'c>,
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
pub fn release_configuration(workload: &Workload) -> Value {
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

/// What the controller knows of a workload beyond the observation: its own doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ours {
    /// `kube-spread` holds fields of it through server-side apply.
    pub applied: bool,
    /// A rollout we caused is still running.
    pub rolling: bool,
}

/// A workload as the stores hold it, with what we know of our doing to it.
#[derive(Clone, Debug)]
pub struct Known {
    /// The workload.
    pub workload: Arc<Workload>,
    /// Our doing.
    pub ours: Ours,
}

/// What deciding a policy's injection reads.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// Its `rollout` settings.
    pub rollout: &'a Rollout,
    /// The policy as Events name it.
    pub reference: &'a ObjectReference,
    /// The policy's groups in the plan.
    pub groups: &'a [&'a GroupPlan],
    /// Every workload observed.
    pub workloads: &'a [Arc<Workload>],
    /// Our doing, by `namespace/Kind/name`; a workload not here is not ours.
    pub ours: &'a HashMap<String, Ours>,
}

/// One roll a decision asks for.
#[derive(Clone, Debug)]
pub struct Intent<'a> {
    /// What to apply.
    pub request: RollRequest<'a>,
    /// Whether it counts against `rollout.maxConcurrent`: a left-alone workload's release is
    /// asked per workload and is not paced.
    pub paced: bool,
}

/// What a policy's injection is to do, in order, paced as the answers come in: a failed or
/// conflicting apply, or a release that changes nothing, re-rolls nothing and frees its turn.
#[derive(Debug)]
pub struct Course<'a> {
    reference: &'a ObjectReference,
    intents: VecDeque<(&'a Workload, Change)>,
    releases: VecDeque<&'a Workload>,
    injection: Injection,
    pace: usize,
}

/// Decides a policy's injection: counts and reports what it matches and leaves alone, marks
/// what is about to re-roll, and lines up the applies and releases, left-alone releases first.
pub fn decide<'a>(inputs: &Inputs<'a>) -> Course<'a> {
    let policy = inputs.policy;
    let ours = |workload: &Workload| {
        inputs
            .ours
            .get(&workload.qualified_key())
            .copied()
            .unwrap_or_default()
    };
    let mut injection = Injection::default();
    let mut releases = VecDeque::new();
    let mut active: Vec<&Workload> = Vec::new();
    for group in inputs.groups {
        for name in &group.workloads {
            active.extend(find(inputs.workloads, &policy.namespace, name));
        }
        for alone in &group.left_alone {
            leave_alone(alone, &mut injection);
            // A workload we injected before that is now pinned or ignored gets its fields
            // back. One another policy governs is that policy's to write: every policy
            // applies under the one field manager, so releasing here would remove its
            // fields, it would apply them again, and the workload would re-roll forever.
            if ours_to_release(alone)
                && let Some(workload) = find(inputs.workloads, &policy.namespace, &alone.workload)
                && ours(workload).applied
            {
                releases.push_back(workload);
            }
        }
    }
    active.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    active.dedup_by(|a, b| a.kind == b.kind && a.name == b.name);
    injection.counts.matched += count(active.len());
    injection.rolling = active.iter().filter(|w| ours(w).rolling).count();
    let mut intents = VecDeque::new();
    for workload in active {
        let desired = Desired::of(policy, workload);
        if desired.constraints.is_empty() {
            // A policy without constraints injects nothing; take back what we applied,
            // paced as injection is: taking our constraints out re-rolls the workload too.
            if ours(workload).applied {
                intents.push_back((workload, Change::Release));
            }
        } else if desired.is_met_by(workload) {
            injection.counts.injected += 1;
            if !workload.rollout_complete() {
                injection.unsettled.insert(workload.key());
            }
        } else {
            injection.unsettled.insert(workload.key());
            intents.push_back((workload, Change::Inject(desired)));
        }
    }
    Course {
        reference: inputs.reference,
        intents,
        releases,
        injection,
        pace: usize::try_from(inputs.rollout.max_concurrent)
            .unwrap_or(1)
            .max(1),
    }
}

impl<'a> Course<'a> {
    /// The next roll to make, if any; those the pace holds back are counted as pending.
    pub fn next_roll(&mut self) -> Option<Intent<'a>> {
        if let Some(workload) = self.releases.pop_front() {
            return Some(Intent {
                request: release(workload),
                paced: false,
            });
        }
        while let Some((workload, change)) = self.intents.pop_front() {
            if self.injection.rolling >= self.pace {
                self.injection.pending += 1;
                continue;
            }
            let request = match change {
                Change::Inject(desired) => RollRequest {
                    workload,
                    roll: Roll::Inject {
                        policy: self.reference,
                    },
                    configuration: desired.configuration(workload),
                },
                Change::Release => release(workload),
            };
            return Some(Intent {
                request,
                paced: true,
            });
        }
        None
    }

    /// Folds the answer to a roll back in.
    pub fn record(&mut self, intent: &Intent<'_>, rolled: &Rolled) {
        let injection = &mut self.injection;
        let workload = intent.request.workload;
        match (intent.request.roll, rolled) {
            (Roll::Inject { .. }, Rolled::Applied { .. }) => {
                injection.rolling += 1;
                injection.counts.injected += 1;
            }
            (Roll::Inject { .. }, Rolled::Failed(RollError::Conflict { manager, .. })) => {
                injection.counts.conflicted += 1;
                injection.issues.push(WorkloadIssue {
                    workload: workload.key(),
                    reason: Reason::Conflict.to_string(),
                    message: conflict_message(manager, workload),
                });
            }
            (Roll::Inject { .. }, Rolled::Failed(_) | Rolled::NotLeader) => {
                injection.pending += 1;
            }
            // An apply that changes nothing leaves the generation as it was: no re-roll.
            (Roll::Release, Rolled::Applied { generation })
                if intent.paced && *generation != workload.generation =>
            {
                injection.rolling += 1;
            }
            (Roll::Release, _) => {}
        }
    }

    /// What the injection came to, once every roll is made.
    pub fn finish(mut self) -> Injection {
        self.injection
            .issues
            .sort_by(|a, b| a.workload.cmp(&b.workload));
        self.injection
    }
}

/// A paced change to a workload the policy governs.
#[derive(Debug)]
enum Change {
    /// Apply what the policy wants.
    Inject(Desired),
    /// Take back what we applied: the policy has no constraints.
    Release,
}

fn release(workload: &Workload) -> RollRequest<'_> {
    RollRequest {
        workload,
        roll: Roll::Release,
        configuration: release_configuration(workload),
    }
}

/// Counts and reports a workload its group leaves alone.
fn leave_alone(alone: &LeftAloneWorkload, injection: &mut Injection) {
    injection.counts.matched += 1;
    match alone.reason {
        LeftAlone::Pinned => injection.counts.pinned += 1,
        LeftAlone::Ignored => injection.counts.ignored += 1,
        LeftAlone::ClaimedByOtherPolicy { .. } => {}
    }
    injection.issues.push(WorkloadIssue {
        workload: alone.workload.to_string(),
        reason: alone.reason.reason().to_owned(),
        message: left_alone_message(&alone.reason),
    });
}

/// Whether a left-alone workload's fields are this policy's to take back: pinning or
/// ignoring is asked of the workload, a claim by another policy is that policy's.
fn ours_to_release(alone: &LeftAloneWorkload) -> bool {
    matches!(alone.reason, LeftAlone::Pinned | LeftAlone::Ignored)
}

/// The workloads the sweep releases: ours, matched by no policy, in a namespace whose
/// policies can all be read (an unreadable one may still mean its workloads to carry our
/// constraints); one per namespace and sweep, and none where another rollout of ours runs.
pub fn orphans<'a>(
    known: &'a [Known],
    groups: &[Arc<GroupPlan>],
    invalid: &HashMap<String, String>,
) -> Vec<&'a Workload> {
    let governed: HashSet<(&str, WorkloadKind, &str)> = groups
        .iter()
        .flat_map(|group| {
            group
                .workloads
                .iter()
                .chain(group.left_alone.iter().map(|alone| &alone.workload))
                .map(|name| {
                    (
                        name.namespace_or(&group.namespace),
                        name.kind,
                        name.name.as_str(),
                    )
                })
        })
        .collect();
    let mut busy: HashSet<&str> = HashSet::new();
    let mut found = Vec::new();
    for Known { workload, ours } in known {
        let namespace = &*workload.namespace;
        let invalid_here = invalid
            .keys()
            .any(|key| key.split('/').next() == Some(namespace));
        // Matched workloads (left alone ones included) are their policy's to handle.
        let matched = governed.contains(&(namespace, workload.kind, workload.name.as_str()));
        if ours.applied && !matched && !invalid_here {
            found.push(&**workload);
        } else if ours.rolling {
            // Another rollout of ours runs here: wait for it (an orphan's own unfinished
            // rollout does not hold back its release).
            busy.insert(namespace);
        }
    }
    found.sort_by(|a, b| (&*a.namespace, a.kind, &a.name).cmp(&(&*b.namespace, b.kind, &b.name)));
    // One release per namespace and sweep, whether or not it re-rolls.
    found.retain(|workload| busy.insert(&workload.namespace));
    found
}

impl Injector<'_> {
    /// Injects a policy's constraints into the workloads its `groups` govern, paced; and
    /// removes our fields from the ones it matches but leaves alone.
    pub async fn inject(
        &self,
        policy: &Policy,
        rollout: &Rollout,
        reference: &ObjectReference,
        groups: &[&GroupPlan],
        workloads: &[Arc<Workload>],
    ) -> Injection {
        let ours: HashMap<String, Ours> = self
            .known(self.stores.workloads_in(&policy.namespace))
            .into_iter()
            .map(|known| (known.workload.qualified_key(), known.ours))
            .collect();
        let inputs = Inputs {
            policy,
            rollout,
            reference,
            groups,
            workloads,
            ours: &ours,
        };
        let mut course = decide(&inputs);
        while let Some(intent) = course.next_roll() {
            let rolled = self.roll(&intent.request).await;
            course.record(&intent, &rolled);
        }
        course.finish()
    }

    /// Removes our fields from workloads no valid policy governs, as [`orphans`] picks them.
    pub async fn release_orphans(&self, observation: &Observation) {
        let known = self.known(self.stores.workloads());
        for workload in orphans(&known, &observation.plan.groups, &observation.invalid) {
            self.roll(&release(workload)).await;
        }
    }

    /// Makes one roll through the chokepoint, and remembers the generation it produced.
    async fn roll(&self, request: &RollRequest<'_>) -> Rolled {
        let rolled = self.disruptor.roll(request).await;
        if let Rolled::Applied { generation } = rolled {
            self.rollouts.note(request.workload, generation);
        }
        rolled
    }

    /// Stored workloads, with our doing to each.
    fn known(&self, entries: Vec<Arc<WorkloadEntry>>) -> Vec<Known> {
        entries
            .into_iter()
            .map(|entry| Known {
                workload: Arc::clone(&entry.workload),
                ours: Ours {
                    applied: entry.applied_by_us,
                    rolling: self.rollouts.running(&entry),
                },
            })
            .collect()
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The workload `key` names, read in `namespace` when it names none. The model lists
/// workloads by namespace, kind and name, so it is looked up by bisection; a list in another
/// order (one built by hand) is read through.
fn find<'o>(
    workloads: &'o [Arc<Workload>],
    namespace: &str,
    key: &WorkloadRef,
) -> Option<&'o Workload> {
    let wanted = (key.namespace_or(namespace), key.kind, key.name.as_str());
    let bisected = workloads
        .binary_search_by(|workload| {
            (&*workload.namespace, workload.kind, workload.name.as_str()).cmp(&wanted)
        })
        .ok()
        .and_then(|at| workloads.get(at));
    bisected
        .or_else(|| {
            workloads
                .iter()
                .find(|workload| key.names(workload, namespace))
        })
        .map(|workload| &**workload)
}

fn left_alone_message(reason: &LeftAlone) -> String {
    match reason {
        LeftAlone::Pinned => {
            "its pod template names a node, selects one by hostname, or admits a single node"
                .to_owned()
        }
        LeftAlone::Ignored => "annotated kubespread.io/ignore: \"true\"".to_owned(),
        LeftAlone::ClaimedByOtherPolicy { .. } => {
            "an older policy of the namespace governs it".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
