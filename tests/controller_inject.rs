#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
//! The controller injects only its own constraint entries, by server-side apply, never forced;
//! leaves pinned and ignored workloads alone; paces the rollouts it causes; reports conflicts
//! naming the other manager; and takes its fields back when no policy governs a workload.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{
    controller::{
        apply_policy, condition, managers, policy_status, start, template_constraints, wait,
    },
    objects::{create_namespace, deployment, sim},
};

const NS: &str = "media";

fn hostname_policy() -> serde_json::Value {
    json!({"constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}]})
}

async fn namespace(sim: &kube_spread::sim::SimApi) {
    create_namespace(sim, NS).await;
}

async fn create_deployment(sim: &kube_spread::sim::SimApi, deployment: Deployment) {
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), NS);
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("deployment created");
}

#[tokio::test(start_paused = true)]
async fn a_policy_injects_its_constraint_under_its_own_field_manager() {
    let sim = sim();
    namespace(&sim).await;
    create_deployment(&sim, deployment("web", 2)).await;
    apply_policy(&sim, NS, "apps", hostname_policy()).await;
    let controller = start(&sim).await;
    wait(20).await;

    let constraints = template_constraints(&sim, NS, "web").await;
    assert_eq!(
        constraints,
        [json!({
            "labelSelector": {"matchLabels": {"app": "web"}},
            "matchLabelKeys": ["pod-template-hash"],
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
        })]
    );
    assert!(
        managers(&sim, NS, "web")
            .await
            .contains(&("kube-spread".to_owned(), "Apply".to_owned()))
    );
    let status = policy_status(&sim, NS, "apps").await;
    assert_eq!(
        condition(&status, "Ready"),
        ("True".to_owned(), "Observed".to_owned())
    );
    assert_eq!(status["workloads"]["matched"], 1);
    assert_eq!(status["workloads"]["injected"], 1);
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_constraint_another_manager_owns_is_reported_as_a_conflict_and_never_forced() {
    let sim = sim();
    namespace(&sim).await;
    // The same constraint, kept in git with maxSkew 2 and applied by the user's tooling.
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), NS);
    let mut web = serde_json::to_value(deployment("web", 2)).expect("json");
    web["apiVersion"] = json!("apps/v1");
    web["kind"] = json!("Deployment");
    web["spec"]["template"]["spec"]["topologySpreadConstraints"] = json!([{
        "maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app": "web"}},
    }]);
    deployments
        .patch(
            "web",
            &PatchParams::apply("argocd-controller"),
            &Patch::Apply(&web),
        )
        .await
        .expect("applied by the user's tooling");
    apply_policy(&sim, NS, "apps", hostname_policy()).await;
    let controller = start(&sim).await;
    wait(20).await;

    let constraints = template_constraints(&sim, NS, "web").await;
    assert_eq!(constraints.len(), 1);
    assert_eq!(constraints[0]["maxSkew"], 2, "nothing was forced");
    let status = policy_status(&sim, NS, "apps").await;
    assert_eq!(status["workloads"]["conflicted"], 1);
    let issue = &status["workloadIssues"][0];
    assert_eq!(issue["reason"], "Conflict");
    assert!(
        issue["message"]
            .as_str()
            .unwrap_or_default()
            .contains("argocd-controller"),
        "{issue}"
    );
    assert_eq!(
        condition(&status, "Degraded"),
        ("True".to_owned(), "Conflict".to_owned())
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pinned_and_ignored_workloads_are_left_alone_and_reported() {
    let sim = sim();
    namespace(&sim).await;
    let mut z2m = deployment("z2m", 1);
    if let Some(spec) = z2m.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        spec.node_selector =
            Some([("kubernetes.io/hostname".to_owned(), "homelab-03".to_owned())].into());
    }
    create_deployment(&sim, z2m).await;
    let mut legacy = deployment("legacy", 1);
    legacy.metadata.annotations =
        Some([("kubespread.io/ignore".to_owned(), "true".to_owned())].into());
    create_deployment(&sim, legacy).await;
    apply_policy(&sim, NS, "apps", hostname_policy()).await;
    let controller = start(&sim).await;
    wait(20).await;

    assert!(template_constraints(&sim, NS, "z2m").await.is_empty());
    assert!(template_constraints(&sim, NS, "legacy").await.is_empty());
    let status = policy_status(&sim, NS, "apps").await;
    assert_eq!(status["workloads"]["pinned"], 1);
    assert_eq!(status["workloads"]["ignored"], 1);
    let reasons: Vec<&str> = status["workloadIssues"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|issue| issue["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["Ignored", "Pinned"]);
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn injection_re_rolls_at_most_max_concurrent_workloads_at_once() {
    let sim = sim();
    namespace(&sim).await;
    for name in ["a", "b", "c"] {
        create_deployment(&sim, deployment(name, 1)).await;
    }
    apply_policy(&sim, NS, "apps", hostname_policy()).await;
    let controller = start(&sim).await;
    wait(120).await;

    // No control plane finishes the rollouts here, so the first one never completes.
    let mut injected = 0;
    for name in ["a", "b", "c"] {
        injected += usize::from(!template_constraints(&sim, NS, name).await.is_empty());
    }
    assert_eq!(injected, 1, "rollout.maxConcurrent is 1");
    let status = policy_status(&sim, NS, "apps").await;
    assert_eq!(status["workloads"]["matched"], 3);
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_deleted_policy_has_its_constraints_removed_without_a_finalizer() {
    let sim = sim();
    namespace(&sim).await;
    create_deployment(&sim, deployment("web", 1)).await;
    apply_policy(&sim, NS, "apps", hostname_policy()).await;
    let controller = start(&sim).await;
    wait(20).await;
    assert_eq!(template_constraints(&sim, NS, "web").await.len(), 1);

    let policies: Api<kube_spread::api::SpreadPolicy> = Api::namespaced(sim.client(), NS);
    policies
        .delete("apps", &DeleteParams::default())
        .await
        .expect("deleted at once: no finalizer holds it");
    assert!(policies.get_opt("apps").await.expect("get").is_none());
    wait(90).await;
    assert!(template_constraints(&sim, NS, "web").await.is_empty());
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_policy_edited_to_no_constraints_takes_them_back_at_most_max_concurrent_workloads_at_once()
 {
    let sim = sim();
    namespace(&sim).await;
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), NS);
    // Three Deployments carrying constraints kube-spread applied, their rollouts finished.
    for name in ["a", "b", "c"] {
        create_deployment(&sim, deployment(name, 1)).await;
        let injected = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"template": {"spec": {
                "containers": [{"name": "app", "image": "nginx:1.27"}],
                "topologySpreadConstraints": [{
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app": name}},
                }],
            }}},
        });
        let applied = deployments
            .patch(
                name,
                &PatchParams::apply(kube_spread::api::FIELD_MANAGER),
                &Patch::Apply(&injected),
            )
            .await
            .expect("applied as kube-spread");
        let generation = applied.metadata.generation.expect("a generation");
        let finished = json!({"status": {
            "observedGeneration": generation,
            "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
        }});
        deployments
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&finished))
            .await
            .expect("status written");
    }
    apply_policy(&sim, NS, "apps", json!({"constraints": []})).await;
    let controller = start(&sim).await;
    wait(120).await;

    // No control plane finishes the rollouts here, so the first release never completes.
    let mut released = 0;
    for name in ["a", "b", "c"] {
        released += usize::from(template_constraints(&sim, NS, name).await.is_empty());
    }
    assert_eq!(released, 1, "rollout.maxConcurrent is 1");
    controller.stop().await;
}
