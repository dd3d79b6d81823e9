//! Report: the policy's status (conditions with reasons, workload counts and issues, the
//! distribution, the rebalancer's durable state), written by server-side apply only when it
//! changed, and the policy's metrics. The status holds no per-run timestamps, so writing it
//! never re-triggers work by itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::ObjectReference,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
};
use kube::{
    Client,
    api::{DynamicObject, ListParams, Patch, PatchParams},
    core::error_boundary::InvalidObject,
};
use serde_json::json;

use super::{
    Context,
    events::{Note, Severity},
    inject::Injection,
    kind::PolicyKind,
    rebalance::Step,
};
use crate::{
    api::{
        ConstraintDistribution, DomainPods, FIELD_MANAGER, RebalancePhase, SpreadPolicyStatus,
        WorkloadIssue,
        conditions::{self, Reason},
    },
    metrics::{ControllerMetrics, PolicyGauges},
    planner::{
        report::{GroupPlan, Outcome},
        topology::DomainSet,
    },
};

/// Domains listed per topology key in the status.
const DOMAINS_LISTED: usize = 50;

/// Why the status could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing the status of {kind} {namespace}/{name}: {source}")]
pub struct WriteStatus {
    /// The policy's kind.
    pub kind: &'static str,
    /// The policy's namespace (empty for a ClusterSpreadPolicy).
    pub namespace: String,
    /// The policy's name.
    pub name: String,
    /// Why.
    pub source: kube::Error,
}

/// One condition as it should read now, keeping its transition time when its status holds.
fn condition(
    existing: &[Condition],
    type_: &str,
    holds: bool,
    reason: Reason,
    message: String,
    generation: i64,
    now: Timestamp,
) -> Condition {
    let status = if holds { "True" } else { "False" }.to_owned();
    let since = existing
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or(Time(now), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.to_owned(),
        status,
        reason: reason.to_string(),
        message,
        observed_generation: Some(generation),
        last_transition_time: since,
    }
}

/// Per topology key: pods per domain, the worst skew, the worst actionable skew and its group.
#[derive(Default)]
struct Tally<'a> {
    /// Pods per domain, for the domains some group counts pods in.
    pods: HashMap<&'a str, i32>,
    /// The distinct domain sets of the key's constraints (groups often share one).
    sets: Vec<&'a DomainSet>,
    skew: i32,
    actionable: Option<(i32, &'a str)>,
}

impl<'a> Tally<'a> {
    /// The eligible domains, most pods first (by name among equals), up to
    /// [`DOMAINS_LISTED`], and how many more there are. Only the domains with pods are sorted:
    /// the empty ones follow in name order, which is each set's own order, so a key whose
    /// groups share one set (the usual case) costs its pods, not its thousands of nodes.
    fn listed(&self) -> (Vec<(&'a str, i32)>, usize) {
        let mut listed: Vec<(&str, i32)> = (self.pods.iter())
            .filter(|(_, pods)| **pods != 0)
            .map(|(name, pods)| (*name, *pods))
            .collect();
        listed.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        listed.truncate(DOMAINS_LISTED);
        let room = DOMAINS_LISTED - listed.len();
        let empty = |name: &&str| self.pods.get(name).is_none_or(|pods| *pods == 0);
        let all = match self.sets.as_slice() {
            [set] => {
                let names = set.domains().map(|domain| set.name(domain));
                listed.extend(names.filter(empty).take(room).map(|name| (name, 0)));
                set.len()
            }
            sets => {
                let names: BTreeSet<&str> = (sets.iter())
                    .flat_map(|set| set.domains().map(|domain| set.name(domain)))
                    .collect();
                let all = names.len();
                listed.extend(
                    names
                        .into_iter()
                        .filter(empty)
                        .take(room)
                        .map(|name| (name, 0)),
                );
                all
            }
        };
        (listed, all.saturating_sub(DOMAINS_LISTED))
    }
}

/// The policy's pods per domain for each topology key, with the worst skews of its groups.
/// Every eligible domain counts, empty ones too; names are borrowed, not copied, since a
/// policy's groups can span thousands of nodes.
fn distribution(groups: &[&GroupPlan]) -> Vec<ConstraintDistribution> {
    let mut by_key: BTreeMap<&str, Tally<'_>> = BTreeMap::new();
    for group in groups {
        for constraint in &group.constraints {
            let tally = by_key.entry(&constraint.topology_key).or_default();
            let set = &*constraint.domains.set;
            if !tally.sets.iter().any(|known| std::ptr::eq(*known, set)) {
                tally.sets.push(set);
            }
            for &(domain, pods) in &constraint.domains.pods {
                *tally.pods.entry(set.name(domain)).or_insert(0) +=
                    i32::try_from(pods).unwrap_or(i32::MAX);
            }
            tally.skew = tally
                .skew
                .max(i32::try_from(constraint.skew).unwrap_or(i32::MAX));
            let actionable = i32::try_from(constraint.actionable_skew).unwrap_or(i32::MAX);
            if tally.actionable.is_none_or(|(worst, _)| actionable > worst) {
                tally.actionable = Some((actionable, &group.group));
            }
        }
    }
    by_key
        .into_iter()
        .map(|(topology_key, tally)| {
            let (listed, more) = tally.listed();
            ConstraintDistribution {
                topology_key: topology_key.to_owned(),
                skew: tally.skew,
                actionable_skew: tally.actionable.map_or(0, |(worst, _)| worst.max(0)),
                worst_group: tally.actionable.map(|(_, group)| group.to_owned()),
                domains: listed
                    .into_iter()
                    .map(|(name, pods)| DomainPods {
                        name: name.to_owned(),
                        pods,
                    })
                    .collect(),
                more_domains: i32::try_from(more).unwrap_or(i32::MAX),
            }
        })
        .collect()
}

/// Everything a status is made of.
#[derive(Debug)]
pub struct Findings<'a> {
    /// The policy's groups in the plan.
    pub groups: &'a [&'a GroupPlan],
    /// What injection did.
    pub injection: &'a Injection,
    /// Where the rebalancer stands.
    pub step: &'a Step,
    /// Why the policy cannot be read, if it cannot.
    pub invalid: Option<&'a str>,
    /// Now.
    pub now: Timestamp,
}

/// The status the policy should have.
pub fn status<K: PolicyKind>(policy: &K, findings: &Findings<'_>) -> SpreadPolicyStatus {
    let generation = policy.meta().generation.unwrap_or_default();
    let existing = policy
        .status()
        .map(|s| s.conditions.as_slice())
        .unwrap_or(&[]);
    let now = findings.now;
    let groups = findings.groups;

    let ready = match findings.invalid {
        Some(error) => condition(
            existing,
            conditions::READY,
            false,
            Reason::InvalidPolicy,
            error.to_owned(),
            generation,
            now,
        ),
        None => condition(
            existing,
            conditions::READY,
            true,
            Reason::Observed,
            format!("{} workload(s) matched", findings.injection.counts.matched),
            generation,
            now,
        ),
    };

    let unbalanced = groups
        .iter()
        .flat_map(|group| group.constraints.iter().map(move |c| (group, c)))
        .filter(|(_, c)| i64::from(c.actionable_skew) > i64::from(c.max_skew))
        .max_by_key(|(_, c)| c.actionable_skew);
    let no_domain = groups
        .iter()
        .find(|group| group.outcome == Outcome::NoAcceptingDomain);
    let balanced = match (unbalanced, no_domain) {
        (Some((group, constraint)), _) => condition(
            existing,
            conditions::BALANCED,
            false,
            Reason::Skewed,
            format!(
                "{} has actionable skew {} on {} (maxSkew {})",
                group.group,
                constraint.actionable_skew,
                constraint.topology_key,
                constraint.max_skew
            ),
            generation,
            now,
        ),
        (None, Some(group)) => condition(
            existing,
            conditions::BALANCED,
            false,
            Reason::NoAcceptingDomain,
            group.message.clone(),
            generation,
            now,
        ),
        (None, None) => condition(
            existing,
            conditions::BALANCED,
            true,
            Reason::WithinMaxSkew,
            format!("{} group(s) within maxSkew", groups.len()),
            generation,
            now,
        ),
    };

    let step = findings.step;
    let moving = matches!(
        step.status.phase,
        RebalancePhase::Stabilizing
            | RebalancePhase::Moving
            | RebalancePhase::WaitingForReplacement
            | RebalancePhase::CoolingDown
    );
    let rebalancing = condition(
        existing,
        conditions::REBALANCING,
        moving,
        step.reason,
        step.message.clone(),
        generation,
        now,
    );

    let mut issues: Vec<WorkloadIssue> = findings
        .injection
        .issues
        .iter()
        .chain(&step.issues)
        .cloned()
        .collect();
    issues.sort_by(|a, b| (&a.workload, &a.reason).cmp(&(&b.workload, &b.reason)));
    issues.dedup_by(|a, b| a.workload == b.workload && a.reason == b.reason);
    let degraded = degraded(existing, &issues, step, generation, now);

    let distribution = distribution(groups);
    SpreadPolicyStatus {
        observed_generation: Some(generation),
        conditions: vec![ready, balanced, rebalancing, degraded],
        skew: Some(
            distribution
                .iter()
                .map(|d| d.actionable_skew)
                .max()
                .unwrap_or(0),
        ),
        workloads: findings.injection.counts.clone(),
        workload_issues: issues,
        distribution,
        rebalance: step.status.clone(),
    }
}

/// The Degraded condition: the first workload problem a person should look at (not a pinned,
/// ignored or claimed workload, which are choices), else a reason moves are blocked (but not a
/// spent hourly budget, which is the policy working as configured).
fn degraded(
    existing: &[Condition],
    issues: &[WorkloadIssue],
    step: &Step,
    generation: i64,
    now: Timestamp,
) -> Condition {
    let problem = issues
        .iter()
        .find_map(|issue| {
            // A workload left alone (Pinned, Ignored, ClaimedByOtherPolicy) is as asked, not a
            // problem: only an issue spelled as a condition reason degrades the policy.
            Reason::parse(&issue.reason)
                .map(|reason| (reason, format!("{}: {}", issue.workload, issue.message)))
        })
        .or_else(|| {
            step.blocked
                .filter(|blocked| *blocked != Reason::BudgetExhausted)
                .map(|blocked| (blocked, step.message.clone()))
        });
    match problem {
        Some((why, message)) => condition(
            existing,
            conditions::DEGRADED,
            true,
            why,
            message,
            generation,
            now,
        ),
        None => condition(
            existing,
            conditions::DEGRADED,
            false,
            Reason::AsExpected,
            "nothing keeps the policy from doing its job".to_owned(),
            generation,
            now,
        ),
    }
}

/// Writes the status if it differs from what the object carries.
pub async fn write<K: PolicyKind>(
    client: &Client,
    policy: &K,
    status: &SpreadPolicyStatus,
) -> Result<bool, WriteStatus> {
    if policy.status() == Some(status) {
        return Ok(false);
    }
    let namespace = policy.meta().namespace.clone().unwrap_or_default();
    let name = policy.meta().name.clone().unwrap_or_default();
    let api = K::api(client.clone(), &namespace);
    let body = json!({
        "apiVersion": "kubespread.io/v1alpha1",
        "kind": K::KIND,
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|source| WriteStatus {
        kind: K::KIND,
        namespace: namespace.clone(),
        name: name.clone(),
        source,
    })?;
    Ok(true)
}

/// How long after a move started the counts it shifts may wait to be written.
pub const COUNTS_HOLD: std::time::Duration = std::time::Duration::from_secs(120);

/// How long writing `new` over the stored status may wait, if it may: while moves are in
/// flight and nothing but the counts they shift has changed (the skew, the distribution, the
/// Balanced condition's message), the counts wait for the moves to settle, and at most
/// [`COUNTS_HOLD`] after the oldest of them started. A move then rewrites the status twice,
/// when it is made and when it settles, and not again for each pod the move itself takes
/// away or lands. The metrics are set at once all the same.
pub fn counts_can_wait(
    stored: &SpreadPolicyStatus,
    new: &SpreadPolicyStatus,
    now: Timestamp,
) -> Option<std::time::Duration> {
    let oldest = new
        .rebalance
        .in_flight
        .iter()
        .map(|record| record.started.as_ref().map(|time| time.0))
        .min()?;
    // A record without a start (written by hand, or by an older controller) waits for nothing.
    let deadline = oldest?.checked_add(COUNTS_HOLD).ok()?;
    let waits: std::time::Duration = now.duration_until(deadline).try_into().ok()?;
    let counts_only = stored.rebalance == new.rebalance
        && stored.observed_generation == new.observed_generation
        && stored.workloads == new.workloads
        && stored.workload_issues == new.workload_issues
        && stored.conditions.len() == new.conditions.len()
        && stored
            .conditions
            .iter()
            .zip(&new.conditions)
            .all(|(was, is)| {
                was == is
                    || (is.type_ == conditions::BALANCED
                        && Condition {
                            message: is.message.clone(),
                            ..was.clone()
                        } == *is)
            });
    (counts_only && !waits.is_zero()).then_some(waits)
}

/// Sets the policy's metrics.
pub fn metrics(
    metrics: &ControllerMetrics,
    namespace: &str,
    name: &str,
    status: &SpreadPolicyStatus,
    blocked: Option<Reason>,
) {
    let balanced = status
        .conditions
        .iter()
        .any(|c| c.type_ == conditions::BALANCED && c.status == "True");
    metrics.publish_policy(
        namespace,
        name,
        &PolicyGauges {
            skews: status
                .distribution
                .iter()
                .map(|constraint| {
                    (
                        constraint.topology_key.as_str(),
                        i64::from(constraint.actionable_skew),
                    )
                })
                .collect(),
            balanced,
            blocked,
        },
    );
}

/// Reports a policy the API server stored but this controller cannot read (a value its types
/// cannot hold, say an integer past i32 under a CRD without bounds): once per version in the
/// log and `kube_spread_invalid_objects_total`, and on the leader as an Event and its Ready
/// condition. The field at fault is named by decoding the stored object again.
pub async fn unreadable<K: PolicyKind>(invalid: &InvalidObject, ctx: &Context) {
    let meta = &invalid.metadata;
    let namespace = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    // Once per generation: our own status write changes the resourceVersion, not the spec.
    let generation = meta.generation.unwrap_or_default();
    let (new_version, write) = ctx.unreported(
        &format!("{namespace}/{name}"),
        generation,
        ctx.leadership.is_leader(),
    );
    if !new_version && !write {
        return;
    }
    let api = K::dynamic_api(ctx.client.clone(), &namespace);
    // Read back by list and name: the controller may list and watch policies, not get them.
    let stored = api
        .list(&ListParams::default().fields(&format!("metadata.name={name}")))
        .await;
    let detail = stored
        .ok()
        .and_then(|list| list.items.first().and_then(field_at_fault::<K>))
        .unwrap_or_else(|| invalid.error.clone());
    if new_version {
        ctx.metrics
            .invalid_objects
            .with_label_values(&[K::KIND])
            .inc();
        tracing::warn!(kind = K::KIND, policy = %name, namespace = %namespace, error = %detail, "A policy cannot be read; it is left alone.");
    }
    if !write {
        return;
    }
    let said = unreadable_report::<K>(meta, &detail, super::whole_seconds(ctx.clock.now()));
    ctx.recorder.record(&said.reference, None, said.note).await;
    if let Err(error) = api
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&said.status),
        )
        .await
    {
        tracing::warn!(kind = K::KIND, policy = %name, namespace = %namespace, error = %error, "Could not report an unreadable policy in its status.");
    }
}

/// What is said of a policy that cannot be read.
struct Unreadable {
    /// The policy, for the Event.
    reference: ObjectReference,
    /// The Event.
    note: Note,
    /// The status to apply: `Ready=False, InvalidPolicy`, naming the field at fault.
    status: serde_json::Value,
}

/// The Event and the status that report an unreadable policy, from its metadata and what is
/// wrong with it.
fn unreadable_report<K: PolicyKind>(
    meta: &kube::core::ObjectMeta,
    detail: &str,
    now: Timestamp,
) -> Unreadable {
    let message = format!("the policy cannot be read: {detail}");
    let reference = ObjectReference {
        api_version: Some("kubespread.io/v1alpha1".to_owned()),
        kind: Some(K::KIND.to_owned()),
        name: meta.name.clone(),
        namespace: meta
            .namespace
            .clone()
            .filter(|namespace| !namespace.is_empty()),
        uid: meta.uid.clone(),
        ..ObjectReference::default()
    };
    let ready = condition(
        &[],
        conditions::READY,
        false,
        Reason::InvalidPolicy,
        message.clone(),
        meta.generation.unwrap_or_default(),
        now,
    );
    Unreadable {
        reference,
        note: Note {
            severity: Severity::Warning,
            reason: Reason::InvalidPolicy.as_str(),
            action: "Read",
            message,
        },
        status: json!({
            "apiVersion": "kubespread.io/v1alpha1",
            "kind": K::KIND,
            "status": {"observedGeneration": meta.generation, "conditions": [ready]},
        }),
    }
}

/// `path: what is wrong` for the first field of a stored policy that its type cannot hold.
fn field_at_fault<K: PolicyKind>(object: &DynamicObject) -> Option<String> {
    let value = serde_json::to_value(object).ok()?;
    match serde_path_to_error::deserialize::<_, K>(value) {
        Ok(_) => None,
        Err(error) => Some(format!("{}: {}", error.path(), error.inner())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use super::*;
    use crate::api::MoveRecord;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A status with one move in flight since 12:00:00, Balanced false at skew 3.
    fn moving() -> SpreadPolicyStatus {
        let balanced = Condition {
            type_: conditions::BALANCED.to_owned(),
            status: "False".to_owned(),
            reason: Reason::Skewed.to_string(),
            message: "actionable skew 3".to_owned(),
            last_transition_time: Time(at("2025-10-20T11:00:00Z")),
            observed_generation: Some(1),
        };
        SpreadPolicyStatus {
            skew: Some(3),
            conditions: vec![balanced],
            rebalance: crate::api::RebalanceStatus {
                phase: RebalancePhase::WaitingForReplacement,
                in_flight: vec![MoveRecord {
                    pod: "media/web-0".parse().unwrap(),
                    uid: None,
                    method: None,
                    workload: None,
                    from: "n1".to_owned(),
                    to: Some("n3".to_owned()),
                    tied_with: Vec::new(),
                    landed: None,
                    started: Some(Time(at("2025-10-20T12:00:00Z"))),
                }],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// The same status once the move's replacement was bound: one skew less.
    fn counted(status: &SpreadPolicyStatus) -> SpreadPolicyStatus {
        let mut next = status.clone();
        next.skew = Some(2);
        next.conditions[0].message = "actionable skew 2".to_owned();
        next
    }

    #[test]
    fn counts_a_move_in_flight_shifts_wait_until_two_minutes_after_it_started() {
        let stored = moving();
        let new = counted(&stored);
        assert_eq!(
            counts_can_wait(&stored, &new, at("2025-10-20T12:00:05Z")),
            Some(Duration::from_secs(115))
        );
        assert_eq!(
            counts_can_wait(&stored, &new, at("2025-10-20T12:02:00Z")),
            None,
            "written once the hold is over"
        );
    }

    #[test]
    fn anything_but_the_counts_is_written_at_once() {
        let stored = moving();
        let soon = at("2025-10-20T12:00:05Z");
        let mut settled = counted(&stored);
        settled.rebalance.in_flight.clear();
        settled.rebalance.phase = RebalancePhase::CoolingDown;
        assert_eq!(counts_can_wait(&stored, &settled, soon), None);
        let mut flipped = counted(&stored);
        flipped.conditions[0].status = "True".to_owned();
        assert_eq!(counts_can_wait(&stored, &flipped, soon), None);
        let mut issue = counted(&stored);
        issue.workload_issues.push(WorkloadIssue {
            workload: "Deployment/web".to_owned(),
            reason: Reason::Conflict.to_string(),
            message: "another manager owns it".to_owned(),
        });
        assert_eq!(counts_can_wait(&stored, &issue, soon), None);
        let mut another = counted(&stored);
        another.rebalance.total_moves += 1;
        assert_eq!(counts_can_wait(&stored, &another, soon), None);
        let mut regenerated = counted(&stored);
        regenerated.observed_generation = Some(2);
        assert_eq!(counts_can_wait(&stored, &regenerated, soon), None);
    }

    #[test]
    fn without_a_move_in_flight_or_a_known_start_nothing_waits() {
        let soon = at("2025-10-20T12:00:05Z");
        let mut idle = moving();
        idle.rebalance.in_flight.clear();
        assert_eq!(counts_can_wait(&idle, &counted(&idle), soon), None);
        let mut unstarted = moving();
        unstarted.rebalance.in_flight[0].started = None;
        assert_eq!(
            counts_can_wait(&unstarted, &counted(&unstarted), soon),
            None
        );
    }
}
