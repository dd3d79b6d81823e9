//! `pods/eviction` against the simulated API, through kube-rs: PodDisruptionBudgets decide as
//! kube-apiserver's eviction subresource does.

mod support;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, EvictParams, PostParams};
use kube::core::Status;
use serde_json::json;
use support::answers::api_error;
use support::objects::{START, budget, pdb, pod, running_pod, sim};

const WEB: &[(&str, &str)] = &[("app", "web")];

struct Cluster {
    sim: kube_spread::sim::SimApi,
    pods: Api<Pod>,
    pdbs: Api<PodDisruptionBudget>,
}

fn cluster() -> Cluster {
    let sim = sim();
    let pods = Api::namespaced(sim.client(), "default");
    let pdbs = Api::namespaced(sim.client(), "default");
    Cluster { sim, pods, pdbs }
}

#[tokio::test(start_paused = true)]
async fn an_allowed_eviction_decrements_the_budget_records_the_pod_and_terminates_it() {
    let c = cluster();
    running_pod(&c.pods, "web-1", "n1", WEB, true).await;
    budget(&c.pdbs, &pdb("web", Some(WEB), 1), 1, 2, 1).await;
    let status = c
        .pods
        .evict("web-1", &EvictParams::default())
        .await
        .expect("evicted");
    assert_eq!(status.code, 201);

    let after = c.pdbs.get("web").await.expect("pdb");
    let after = after.status.expect("status");
    assert_eq!(after.disruptions_allowed, 0);
    let disrupted = after.disrupted_pods.expect("disruptedPods");
    assert_eq!(
        disrupted.get("web-1").map(|t| t.0.to_string()).as_deref(),
        Some(START)
    );
    let condition = after
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "DisruptionAllowed")
        .expect("condition");
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("False", "InsufficientPods")
    );

    let evicted = c.pods.get("web-1").await.expect("terminating, not gone");
    assert!(evicted.metadata.deletion_timestamp.is_some());
    let target = evicted
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("DisruptionTarget");
    assert_eq!(target.reason.as_deref(), Some("EvictionByEvictionAPI"));
}

#[tokio::test(start_paused = true)]
async fn a_budget_with_no_disruptions_left_blocks_with_429_and_its_cause() {
    let c = cluster();
    running_pod(&c.pods, "web-1", "n1", WEB, true).await;
    budget(&c.pdbs, &pdb("web", Some(WEB), 2), 0, 2, 2).await;
    let error = api_error(
        c.pods
            .evict("web-1", &EvictParams::default())
            .await
            .expect_err("blocked"),
    );
    assert_eq!(
        (error.code, error.reason.as_str()),
        (429, "TooManyRequests")
    );
    assert_eq!(
        error.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    let causes = error.details.expect("details").causes;
    assert_eq!(causes[0].reason, "DisruptionBudget");
    assert_eq!(
        causes[0].message,
        "The disruption budget web needs 2 healthy pods and has 2 currently"
    );
    assert!(
        c.pods
            .get("web-1")
            .await
            .expect("pod")
            .metadata
            .deletion_timestamp
            .is_none()
    );
}

#[tokio::test(start_paused = true)]
async fn a_budget_whose_status_is_stale_answers_429_still_being_processed() {
    let c = cluster();
    running_pod(&c.pods, "web-1", "n1", WEB, true).await;
    // Created, never observed by the disruption controller: observedGeneration 0 < generation 1.
    c.pdbs
        .create(&PostParams::default(), &pdb("web", Some(WEB), 1))
        .await
        .expect("pdb");
    let error = api_error(
        c.pods
            .evict("web-1", &EvictParams::default())
            .await
            .expect_err("stale"),
    );
    assert_eq!(error.code, 429);
    let details = error.details.expect("details");
    assert_eq!(details.retry_after_seconds, 10);
    assert_eq!(
        details.causes[0].message,
        "The disruption budget web is still being processed by the server."
    );
}

#[tokio::test(start_paused = true)]
async fn a_pod_under_two_budgets_cannot_be_evicted() {
    let c = cluster();
    running_pod(&c.pods, "web-1", "n1", WEB, true).await;
    budget(&c.pdbs, &pdb("one", Some(WEB), 1), 1, 2, 1).await;
    budget(&c.pdbs, &pdb("two", Some(&[]), 1), 1, 2, 1).await;
    let error = api_error(
        c.pods
            .evict("web-1", &EvictParams::default())
            .await
            .expect_err("two budgets"),
    );
    assert_eq!(error.code, 500);
    assert_eq!(
        error.message,
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );
}

#[tokio::test(start_paused = true)]
async fn a_null_selector_selects_nothing_and_an_empty_one_every_pod() {
    let c = cluster();
    running_pod(&c.pods, "web-1", "n1", WEB, true).await;
    budget(&c.pdbs, &pdb("none", None, 1), 0, 0, 1).await;
    c.pods
        .evict("web-1", &EvictParams::default())
        .await
        .expect("a null selector does not guard the pod");

    running_pod(&c.pods, "web-2", "n1", WEB, true).await;
    budget(&c.pdbs, &pdb("all", Some(&[]), 1), 0, 1, 1).await;
    let error = api_error(
        c.pods
            .evict("web-2", &EvictParams::default())
            .await
            .expect_err("{} guards every pod"),
    );
    assert_eq!(error.code, 429);
}

#[tokio::test(start_paused = true)]
async fn a_pending_pod_is_deleted_without_a_budget_check() {
    let c = cluster();
    c.pods
        .create(&PostParams::default(), &pod("web-1", WEB))
        .await
        .expect("pending pod");
    budget(&c.pdbs, &pdb("web", Some(WEB), 2), 0, 0, 2).await;
    c.pods
        .evict("web-1", &EvictParams::default())
        .await
        .expect("evicted");
    assert!(
        c.pods.get_opt("web-1").await.expect("get").is_none(),
        "unbound, so deleted at once"
    );
    assert_eq!(
        c.pdbs
            .get("web")
            .await
            .expect("pdb")
            .status
            .expect("status")
            .disruptions_allowed,
        0
    );
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_eviction_checks_everything_and_writes_nothing() {
    let c = cluster();
    running_pod(&c.pods, "web-1", "n1", WEB, true).await;
    let before = budget(&c.pdbs, &pdb("web", Some(WEB), 1), 1, 2, 1).await;
    let pod_before = c.pods.get("web-1").await.expect("pod");
    let dry = EvictParams {
        post_options: PostParams {
            dry_run: true,
            field_manager: None,
        },
        ..Default::default()
    };
    c.pods.evict("web-1", &dry).await.expect("dry run passes");
    assert_eq!(
        c.pdbs
            .get("web")
            .await
            .expect("pdb")
            .metadata
            .resource_version,
        before.metadata.resource_version
    );
    assert_eq!(
        c.pods
            .get("web-1")
            .await
            .expect("pod")
            .metadata
            .resource_version,
        pod_before.metadata.resource_version
    );

    budget(&c.pdbs, &pdb("blocked", Some(&[("app", "db")]), 1), 0, 1, 1).await;
    running_pod(&c.pods, "db-1", "n1", &[("app", "db")], true).await;
    let error = api_error(
        c.pods
            .evict("db-1", &dry)
            .await
            .expect_err("dry run still checks"),
    );
    assert_eq!(error.code, 429);
}

#[tokio::test(start_paused = true)]
async fn a_uid_precondition_that_does_not_match_is_refused_with_409() {
    let c = cluster();
    running_pod(&c.pods, "web-1", "n1", WEB, true).await;
    // kube-rs's Api::evict sends `delete_options`, a field kube-apiserver ignores; the
    // Eviction's real field is `deleteOptions`.
    let eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1", "namespace": "default"},
                          "deleteOptions": {"preconditions": {"uid": "not-the-uid"}}});
    let error = c
        .pods
        .create_subresource::<_, Status>("eviction", "web-1", &PostParams::default(), &eviction)
        .await
        .expect_err("mismatch");
    let error = api_error(error);
    assert_eq!(error.code, 409);
    assert!(
        error
            .message
            .contains("Precondition failed: UID in precondition: not-the-uid"),
        "{}",
        error.message
    );
    assert!(
        c.pods
            .get("web-1")
            .await
            .expect("pod")
            .metadata
            .deletion_timestamp
            .is_none()
    );
}

#[tokio::test(start_paused = true)]
async fn unready_pods_follow_the_unhealthy_pod_eviction_policy() {
    let c = cluster();
    running_pod(&c.pods, "web-1", "n1", WEB, false).await;
    // IfHealthyBudget (default): the guarded app is not healthy enough, so the budget decides.
    budget(&c.pdbs, &pdb("web", Some(WEB), 2), 0, 1, 2).await;
    let error = api_error(
        c.pods
            .evict("web-1", &EvictParams::default())
            .await
            .expect_err("IfHealthyBudget"),
    );
    assert_eq!(error.code, 429);
    // AlwaysAllow: an unready pod goes regardless, without touching the budget.
    let mut always = pdb("always", Some(&[("app", "api")]), 2);
    always
        .spec
        .as_mut()
        .expect("spec")
        .unhealthy_pod_eviction_policy = Some("AlwaysAllow".into());
    budget(&c.pdbs, &always, 0, 1, 2).await;
    running_pod(&c.pods, "api-1", "n1", &[("app", "api")], false).await;
    c.pods
        .evict("api-1", &EvictParams::default())
        .await
        .expect("AlwaysAllow");
    assert_eq!(
        c.pdbs
            .get("always")
            .await
            .expect("pdb")
            .status
            .expect("status")
            .disrupted_pods,
        None
    );
    let _ = &c.sim;
}

#[tokio::test(start_paused = true)]
async fn a_negative_disruption_allowance_is_forbidden() {
    let c = cluster();
    running_pod(&c.pods, "web-1", "n1", WEB, true).await;
    budget(&c.pdbs, &pdb("web", Some(WEB), 3), -1, 2, 3).await;
    let error = api_error(
        c.pods
            .evict("web-1", &EvictParams::default())
            .await
            .expect_err("negative"),
    );
    assert_eq!(error.code, 403);
    assert_eq!(
        error.message,
        "poddisruptionbudget.policy \"web\" is forbidden: pdb disruptions allowed is negative"
    );
}
