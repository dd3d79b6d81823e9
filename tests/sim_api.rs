//! The simulated API through kube-rs's real client: objects, lists, selectors, pagination,
//! patches, server-side apply, status subresources, deletion, admission, leases.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::ObjectMeta;
use kube_spread::api::SpreadPolicy;
use kube_spread::sim::{Cause, ListOptions};
use serde_json::json;
use support::answers::api_error;
use support::objects::{START, deployment, node, pod, pod_on, running_pod, sim};

#[tokio::test(start_paused = true)]
async fn the_server_stamps_uid_creation_time_and_resource_version_on_create() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let created = pods
        .create(&PostParams::default(), &pod("web-1", &[("app", "web")]))
        .await
        .expect("create");
    assert_eq!(created.metadata.uid.as_ref().map(String::len), Some(36));
    assert_eq!(
        created
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string()),
        Some(START.to_owned())
    );
    assert!(created.metadata.resource_version.is_some());
    assert_eq!(
        created.status.and_then(|s| s.phase).as_deref(),
        Some("Pending")
    );

    let mut generated = pod("", &[]);
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("web-".to_owned());
    let generated = pods
        .create(&PostParams::default(), &generated)
        .await
        .expect("generateName");
    let name = generated.metadata.name.expect("name");
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");

    let again = pods
        .create(&PostParams::default(), &pod("web-1", &[]))
        .await
        .expect_err("exists");
    let again = api_error(again);
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(again.message, "pods \"web-1\" already exists");
}

#[tokio::test(start_paused = true)]
async fn namespaced_objects_need_their_namespace() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "media");
    let error = api_error(
        pods.create(&PostParams::default(), &pod("web-1", &[]))
            .await
            .expect_err("no namespace"),
    );
    assert_eq!(
        (error.code, error.message.as_str()),
        (404, "namespaces \"media\" not found")
    );

    let namespaces: Api<Namespace> = Api::all(sim.client());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some("media".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace");
    pods.create(&PostParams::default(), &pod("web-1", &[]))
        .await
        .expect("now it exists");
}

#[tokio::test(start_paused = true)]
async fn an_update_with_a_stale_resource_version_is_refused_with_409() {
    let sim = sim();
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "default");
    let created = deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    let mut first = created.clone();
    first.spec.as_mut().expect("spec").replicas = Some(3);
    let updated = deployments
        .replace("web", &PostParams::default(), &first)
        .await
        .expect("replace");
    assert_eq!(
        updated.metadata.generation,
        Some(2),
        "a spec change bumps the generation"
    );

    let mut stale = created;
    stale.spec.as_mut().expect("spec").replicas = Some(4);
    let error = api_error(
        deployments
            .replace("web", &PostParams::default(), &stale)
            .await
            .expect_err("stale"),
    );
    assert_eq!(error.code, 409);
    assert_eq!(
        error.message,
        "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"
    );
}

#[tokio::test(start_paused = true)]
async fn list_pagination_returns_every_object_exactly_once_at_one_resource_version() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    for i in 0..1234 {
        pods.create(&PostParams::default(), &pod(&format!("p-{i:04}"), &[]))
            .await
            .expect("create");
    }
    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(100);
    let mut version = None;
    let mut pages = 0;
    loop {
        let page = pods.list(&params).await.expect("page");
        pages += 1;
        if pages == 2 {
            // Changes after the first page do not show in later pages.
            pods.create(&PostParams::default(), &pod("p-9999", &[]))
                .await
                .expect("late create");
            pods.delete("p-1233", &DeleteParams::default())
                .await
                .expect("late delete");
        }
        version.get_or_insert(page.metadata.resource_version.clone());
        assert_eq!(
            version.as_ref(),
            Some(&page.metadata.resource_version),
            "one snapshot"
        );
        seen.extend(page.items.into_iter().filter_map(|p| p.metadata.name));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(pages, 13);
    let expected: Vec<String> = (0..1234).map(|i| format!("p-{i:04}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test(start_paused = true)]
async fn label_and_field_selectors_filter_lists() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    pods.create(
        &PostParams::default(),
        &pod_on("a", "n1", &[("app", "web"), ("tier", "front")]),
    )
    .await
    .expect("a");
    pods.create(
        &PostParams::default(),
        &pod_on("b", "n2", &[("app", "web")]),
    )
    .await
    .expect("b");
    pods.create(&PostParams::default(), &pod("c", &[("app", "db")]))
        .await
        .expect("c");
    let names = |list: kube::core::ObjectList<Pod>| -> Vec<String> {
        list.items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect()
    };
    let cases = [
        (ListParams::default().labels("app=web"), vec!["a", "b"]),
        (ListParams::default().labels("app in (db),!tier"), vec!["c"]),
        (ListParams::default().labels("tier"), vec!["a"]),
        (ListParams::default().labels("app!=web"), vec!["c"]),
        (ListParams::default().fields("spec.nodeName=n2"), vec!["b"]),
        (ListParams::default().fields("spec.nodeName="), vec!["c"]),
        (
            ListParams::default().fields("metadata.name!=a,status.phase==Pending"),
            vec!["b", "c"],
        ),
        (
            ListParams::default()
                .labels("app=web")
                .fields("spec.nodeName!=n1"),
            vec!["b"],
        ),
    ];
    for (params, expected) in cases {
        let found = names(pods.list(&params).await.expect("list"));
        assert_eq!(
            found, expected,
            "{:?} {:?}",
            params.label_selector, params.field_selector
        );
    }
    let error = api_error(
        pods.list(&ListParams::default().fields("spec.image=x"))
            .await
            .expect_err("unsupported"),
    );
    assert_eq!(
        (error.code, error.message.as_str()),
        (400, "field label not supported: spec.image")
    );
}

#[tokio::test(start_paused = true)]
async fn merge_json_and_strategic_patches_edit_objects_as_kube_apiserver_does() {
    let sim = sim();
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "default");
    let nodes: Api<Node> = Api::all(sim.client());
    deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    nodes
        .create(&PostParams::default(), &node("n1"))
        .await
        .expect("node");

    let merged = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"team": "media"}}, "spec": {"replicas": 5}}),
            ),
        )
        .await
        .expect("merge");
    assert_eq!(merged.spec.as_ref().and_then(|s| s.replicas), Some(5));
    assert_eq!(
        merged
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("team"))
            .map(String::as_str),
        Some("media")
    );

    let operations: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/spec/replicas", "value": 1},
        {"op": "add", "path": "/metadata/annotations", "value": {"note": "json"}},
    ]))
    .expect("json patch");
    let jsoned = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Json::<()>(operations),
        )
        .await
        .expect("json");
    assert_eq!(jsoned.spec.as_ref().and_then(|s| s.replicas), Some(1));

    // `kubectl rollout restart` and a sidecar added by its merge key.
    let restart = json!({"spec": {"template": {
        "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": START}},
        "spec": {"containers": [{"name": "sidecar", "image": "envoy:1"}],
                 "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                                                "labelSelector": {"matchLabels": {"app": "web"}}}]}}}});
    let restarted = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(restart))
        .await
        .expect("strategic");
    let template = restarted.spec.expect("spec").template;
    let containers: Vec<String> = template
        .spec
        .as_ref()
        .expect("pod spec")
        .containers
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(containers, ["app", "sidecar"]);
    assert!(
        template
            .metadata
            .and_then(|m| m.annotations)
            .is_some_and(|a| a.contains_key("kubectl.kubernetes.io/restartedAt"))
    );

    let removed = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}})))
        .await
        .expect("delete directive");
    assert_eq!(
        removed
            .spec
            .expect("spec")
            .template
            .spec
            .expect("pod spec")
            .containers
            .len(),
        1
    );

    // `kubectl cordon`.
    let cordoned = nodes
        .patch(
            "n1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .expect("cordon");
    assert_eq!(cordoned.spec.and_then(|s| s.unschedulable), Some(true));
}

fn tsc(key: &str, when: &str, skew: i32) -> serde_json::Value {
    json!({"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": when, "labelSelector": {"matchLabels": {"app": "web"}}})
}

fn applied(constraints: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"template": {"spec": {"topologySpreadConstraints": constraints}}}})
}

fn constraint_keys(deployment: &Deployment) -> Vec<(String, String, i32)> {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.topology_spread_constraints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.topology_key, c.when_unsatisfiable, c.max_skew))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn server_side_apply_merges_list_maps_and_keeps_another_managers_entry() {
    let sim = sim();
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "default");
    deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    let zone = tsc("topology.kubernetes.io/zone", "ScheduleAnyway", 1);
    let host = tsc("kubernetes.io/hostname", "ScheduleAnyway", 1);
    deployments
        .patch(
            "web",
            &PatchParams::apply("gitops"),
            &Patch::Apply(applied(vec![zone.clone()])),
        )
        .await
        .expect("gitops");
    let both = deployments
        .patch(
            "web",
            &PatchParams::apply("kube-spread"),
            &Patch::Apply(applied(vec![host.clone()])),
        )
        .await
        .expect("kube-spread");
    assert_eq!(constraint_keys(&both).len(), 2);
    assert_eq!(both.metadata.generation, Some(3));
    let managers: Vec<(String, String)> = both
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("gitops".to_owned(), "Apply".to_owned())),
        "{managers:?}"
    );
    assert!(
        managers.contains(&("kube-spread".to_owned(), "Apply".to_owned())),
        "{managers:?}"
    );

    // kube-spread stops applying its constraint: only its entry goes.
    let dropped = deployments
        .patch(
            "web",
            &PatchParams::apply("kube-spread"),
            &Patch::Apply(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}),
            ),
        )
        .await
        .expect("drop");
    assert_eq!(
        constraint_keys(&dropped),
        vec![(
            "topology.kubernetes.io/zone".to_owned(),
            "ScheduleAnyway".to_owned(),
            1
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn a_conflicting_apply_is_refused_naming_the_other_manager_and_succeeds_when_forced() {
    let sim = sim();
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "default");
    deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    // An update (client-side apply) owns maxSkew 1.
    let client_side = json!({"spec": {"template": {"spec": {"topologySpreadConstraints": [tsc("kubernetes.io/hostname", "ScheduleAnyway", 1)]}}}});
    deployments
        .patch(
            "web",
            &PatchParams {
                field_manager: Some("kubectl-client-side-apply".into()),
                ..Default::default()
            },
            &Patch::Strategic(client_side),
        )
        .await
        .expect("client-side");
    let ours = applied(vec![tsc("kubernetes.io/hostname", "ScheduleAnyway", 2)]);
    let error = api_error(
        deployments
            .patch(
                "web",
                &PatchParams::apply("kube-spread"),
                &Patch::Apply(ours.clone()),
            )
            .await
            .expect_err("conflict"),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        error.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.template.spec.topologySpreadConstraints[topologyKey=\"kubernetes.io/hostname\",whenUnsatisfiable=\"ScheduleAnyway\"].maxSkew"
    );
    let forced = deployments
        .patch(
            "web",
            &PatchParams::apply("kube-spread").force(),
            &Patch::Apply(ours),
        )
        .await
        .expect("forced");
    assert_eq!(
        constraint_keys(&forced),
        vec![(
            "kubernetes.io/hostname".to_owned(),
            "ScheduleAnyway".to_owned(),
            2
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn an_apply_that_drops_a_field_it_owned_removes_it() {
    let sim = sim();
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "default");
    let config = |labels: serde_json::Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}})
    };
    let created = deployments
        .patch(
            "web",
            &PatchParams::apply("gitops"),
            &Patch::Apply(config(json!({"app": "web", "team": "media"}))),
        )
        .await
        .expect("create by apply");
    assert!(
        created
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("team"))
    );
    let dropped = deployments
        .patch(
            "web",
            &PatchParams::apply("gitops"),
            &Patch::Apply(config(json!({"app": "web"}))),
        )
        .await
        .expect("drop label");
    assert!(
        !dropped
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("team"))
    );
    assert_eq!(dropped.spec.and_then(|s| s.replicas), Some(1));
}

#[tokio::test(start_paused = true)]
async fn writes_to_status_change_only_status_and_main_writes_ignore_it() {
    let sim = sim();
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "default");
    deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    let main = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 9}, "metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("main");
    assert_eq!(main.status.and_then(|s| s.replicas), None);
    assert_eq!(main.metadata.generation, Some(1), "labels are not spec");
    let status = deployments
        .patch_status("web", &PatchParams::default(), &Patch::Merge(json!({"status": {"replicas": 2, "observedGeneration": 1}, "spec": {"replicas": 7}})))
        .await
        .expect("status");
    assert_eq!(status.status.and_then(|s| s.replicas), Some(2));
    assert_eq!(status.spec.and_then(|s| s.replicas), Some(2));
    assert_eq!(status.metadata.generation, Some(1));
}

#[tokio::test(start_paused = true)]
async fn bound_running_pods_terminate_gracefully_and_unbound_ones_go_at_once() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    running_pod(&pods, "bound", "n1", &[], true).await;
    pods.create(&PostParams::default(), &pod("unbound", &[]))
        .await
        .expect("unbound");

    let terminating = pods
        .delete("bound", &DeleteParams::default())
        .await
        .expect("graceful");
    let terminating = terminating.left().expect("the pod stays");
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(30));
    assert_eq!(
        terminating
            .metadata
            .deletion_timestamp
            .map(|t| t.0.to_string())
            .as_deref(),
        Some("2025-10-20T08:00:30Z")
    );
    assert!(pods.get("bound").await.is_ok());
    pods.delete("bound", &DeleteParams::default().grace_period(0))
        .await
        .expect("kubelet's final delete");
    assert!(pods.get_opt("bound").await.expect("get").is_none());

    pods.delete("unbound", &DeleteParams::default())
        .await
        .expect("immediate");
    assert!(pods.get_opt("unbound").await.expect("get").is_none());

    let wrong_uid = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some("nope".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    running_pod(&pods, "p", "n1", &[], true).await;
    let error = api_error(
        pods.delete("p", &wrong_uid)
            .await
            .expect_err("precondition"),
    );
    assert_eq!(error.code, 409);
    assert!(error.message.starts_with("Operation cannot be fulfilled on pods \"p\": Precondition failed: UID in precondition: nope"), "{}", error.message);
}

#[tokio::test(start_paused = true)]
async fn finalizers_hold_a_deleted_object_until_they_are_removed() {
    let sim = sim();
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "default");
    let mut held = deployment("web", 1);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    deployments
        .create(&PostParams::default(), &held)
        .await
        .expect("create");
    deployments
        .delete("web", &DeleteParams::background())
        .await
        .expect("delete");
    let terminating = deployments.get("web").await.expect("still there");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("release");
    assert!(deployments.get_opt("web").await.expect("get").is_none());
}

#[tokio::test(start_paused = true)]
async fn an_admission_hook_refuses_invalid_objects_with_422_and_may_default_them() {
    let sim = sim();
    sim.set_admission::<SpreadPolicy>(std::sync::Arc::new(|object: &serde_json::Value| {
        let mut object = object.clone();
        if object.pointer("/spec/scope").is_none() {
            object["spec"]["scope"] = json!("Workload");
        }
        match object
            .pointer("/spec/constraints/0/maxSkew")
            .and_then(serde_json::Value::as_i64)
        {
            Some(skew) if skew < 1 => Err(vec![Cause::new(
                "FieldValueInvalid",
                "Invalid value: 0: maxSkew must be at least 1",
                "spec.constraints[0].maxSkew",
            )]),
            _ => Ok(object),
        }
    }));
    let policies: Api<SpreadPolicy> = Api::namespaced(sim.client(), "default");
    let policy = |skew: i64| -> SpreadPolicy {
        serde_json::from_value(json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy", "metadata": {"name": "apps"},
            "spec": {"constraints": [{"maxSkew": skew, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}]}}))
        .expect("policy")
    };
    let error = api_error(
        policies
            .create(&PostParams::default(), &policy(0))
            .await
            .expect_err("invalid"),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        error.message,
        "SpreadPolicy.kubespread.io \"apps\" is invalid: spec.constraints[0].maxSkew: Invalid value: 0: maxSkew must be at least 1"
    );
    let created = policies
        .create(&PostParams::default(), &policy(1))
        .await
        .expect("valid");
    assert_eq!(created.metadata.generation, Some(1));
}

#[tokio::test(start_paused = true)]
async fn leases_refuse_stale_updates_with_409() {
    let sim = sim();
    let leases: Api<Lease> = Api::namespaced(sim.client(), "kube-system");
    let lease: Lease = serde_json::from_value(json!({"metadata": {"name": "kube-spread"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}})).expect("lease");
    let created = leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("create");
    let mut renewed = created.clone();
    renewed.spec.as_mut().expect("spec").holder_identity = Some("b".into());
    leases
        .replace("kube-spread", &PostParams::default(), &renewed)
        .await
        .expect("replace");
    let error = api_error(
        leases
            .replace("kube-spread", &PostParams::default(), &renewed)
            .await
            .expect_err("stale"),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "Conflict"));
}

// kube-lease-manager reads the system clock for expiry, so this test runs on real time; it
// never waits for an expiry.
#[tokio::test]
async fn kube_lease_manager_acquires_and_releases_a_lease() {
    let sim = sim();
    let client = sim.client();
    let first = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), "leader")
        .with_namespace("kube-system")
        .with_identity("replica-a")
        .with_duration(5)
        .with_grace(2)
        .build()
        .await
        .expect("manager a");
    let second = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), "leader")
        .with_namespace("kube-system")
        .with_identity("replica-b")
        .with_duration(5)
        .with_grace(2)
        .build()
        .await
        .expect("manager b");
    assert!(first.changed().await.expect("a acquires"));
    let leases: Api<Lease> = Api::namespaced(client, "kube-system");
    let held = leases.get("leader").await.expect("lease");
    assert_eq!(
        held.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("replica-a")
    );
    first.release().await.expect("release");
    let released = leases.get("leader").await.expect("lease");
    assert_eq!(released.spec.and_then(|s| s.holder_identity), None);
    assert!(second.changed().await.expect("b acquires the free lease"));
    let held = leases.get("leader").await.expect("lease");
    assert_eq!(
        held.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("replica-b")
    );
}

#[tokio::test(start_paused = true)]
async fn the_in_process_store_serves_the_same_objects_and_a_change_cursor() {
    let sim = sim();
    let store = sim.store().clone();
    let mut cursor = store.subscribe(None);
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    pods.create(&PostParams::default(), &pod("a", &[("app", "web")]))
        .await
        .expect("create");
    pods.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let changes = cursor.next().await.expect("changes");
    let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, ["ADDED", "DELETED"]);
    let id = store.catalog().of::<Pod>().expect("pods");
    assert_eq!(
        store
            .list(id, &ListOptions::default())
            .expect("list")
            .items
            .len(),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn pod_updates_may_change_only_what_kube_apiserver_allows() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    running_pod(&pods, "web-1", "n1", &[("app", "web")], true).await;
    let allowed = [
        json!({"metadata": {"labels": {"app": "web", "moved": "yes"}}}),
        json!({"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}),
        json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Exists"}]}}),
    ];
    for patch in allowed {
        pods.patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Strategic(patch.clone()),
        )
        .await
        .unwrap_or_else(|e| panic!("{patch} should be allowed: {e}"));
    }
    for patch in [
        json!({"spec": {"nodeName": "n2"}}),
        json!({"spec": {"restartPolicy": "Never"}}),
    ] {
        let error = api_error(
            pods.patch("web-1", &PatchParams::default(), &Patch::Merge(patch))
                .await
                .expect_err("immutable"),
        );
        assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
        assert!(error.message.starts_with("Pod \"web-1\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"), "{}", error.message);
    }
}

#[tokio::test(start_paused = true)]
async fn binding_assigns_an_unbound_pod_to_a_node_once() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    pods.create(&PostParams::default(), &pod("web-1", &[]))
        .await
        .expect("pending pod");
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web-1"}, "target": {"kind": "Node", "name": "n1"}});
    let _: kube::core::Status = pods
        .create_subresource("binding", "web-1", &PostParams::default(), &binding)
        .await
        .expect("bind");
    let bound = pods.get("web-1").await.expect("pod");
    assert_eq!(bound.spec.and_then(|s| s.node_name).as_deref(), Some("n1"));
    let scheduled = bound
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "PodScheduled")
        .expect("PodScheduled");
    assert_eq!(scheduled.status, "True");
    let again = pods
        .create_subresource::<_, kube::core::Status>(
            "binding",
            "web-1",
            &PostParams::default(),
            &binding,
        )
        .await
        .expect_err("bound");
    let again = api_error(again);
    assert_eq!(again.code, 409);
    assert_eq!(
        again.message,
        "Operation cannot be fulfilled on pods/binding \"web-1\": pod web-1 is already assigned to node \"n1\""
    );
}

#[tokio::test(start_paused = true)]
async fn events_published_through_events_k8s_io_are_seen_as_core_events_too() {
    use kube::Resource;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let web = running_pod(&pods, "web-1", "n1", &[], true).await;
    let recorder = Recorder::new(
        sim.client(),
        Reporter {
            controller: "kube-spread".into(),
            instance: Some("kube-spread-0".into()),
        },
    );
    let event = Event {
        type_: EventType::Normal,
        reason: "Moved".into(),
        note: Some("moved from n1 to n2".into()),
        action: "Evict".into(),
        secondary: None,
    };
    recorder
        .publish(&event, &web.object_ref(&()))
        .await
        .expect("first");
    recorder
        .publish(&event, &web.object_ref(&()))
        .await
        .expect("repeat: a merge patch of the series");

    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(sim.client(), "default");
    let seen = core
        .list(&ListParams::default().fields("involvedObject.name=web-1,involvedObject.kind=Pod"))
        .await
        .expect("core list");
    assert_eq!(seen.items.len(), 1);
    let seen = &seen.items[0];
    assert_eq!(seen.message.as_deref(), Some("moved from n1 to n2"));
    assert_eq!(seen.reporting_component.as_deref(), Some("kube-spread"));
    assert_eq!(seen.series.as_ref().and_then(|s| s.count), Some(2));

    let new: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(sim.client(), "default");
    let listed = new
        .list(&ListParams::default().fields("regarding.name=web-1"))
        .await
        .expect("events.k8s.io list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].note.as_deref(), Some("moved from n1 to n2"));
}

#[tokio::test(start_paused = true)]
async fn delete_collection_removes_what_the_selector_matches() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    for (name, app) in [("a", "web"), ("b", "web"), ("c", "db")] {
        pods.create(&PostParams::default(), &pod(name, &[("app", app)]))
            .await
            .expect("create");
    }
    pods.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("app=web"),
    )
    .await
    .expect("deletecollection");
    let left: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(left, ["c"]);
}

#[tokio::test(start_paused = true)]
async fn deleting_a_namespace_deletes_what_it_holds() {
    let sim = sim();
    let namespaces: Api<Namespace> = Api::all(sim.client());
    let media = Namespace {
        metadata: ObjectMeta {
            name: Some("media".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &media)
        .await
        .expect("namespace");
    let pods: Api<Pod> = Api::namespaced(sim.client(), "media");
    pods.create(&PostParams::default(), &pod("a", &[]))
        .await
        .expect("pod");
    namespaces
        .delete("media", &DeleteParams::default())
        .await
        .expect("delete");
    let all: Api<Pod> = Api::all(sim.client());
    assert!(
        all.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(namespaces.get_opt("media").await.expect("get").is_none());
}

#[tokio::test(start_paused = true)]
async fn the_scale_subresource_reads_and_writes_replicas() {
    let sim = sim();
    let deployments: Api<Deployment> = Api::namespaced(sim.client(), "default");
    deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    let scale = deployments.get_scale("web").await.expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    assert_eq!(
        scale.status.map(|s| s.selector),
        Some(Some("app=web".to_owned()))
    );
    let scaled = deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(5));
    assert_eq!(
        deployments
            .get("web")
            .await
            .expect("web")
            .spec
            .and_then(|s| s.replicas),
        Some(5)
    );
}

#[tokio::test(start_paused = true)]
async fn a_list_at_an_exact_resource_version_shows_the_objects_as_they_were() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    pods.create(&PostParams::default(), &pod("a", &[]))
        .await
        .expect("a");
    let then = pods
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    pods.create(&PostParams::default(), &pod("b", &[]))
        .await
        .expect("b");
    pods.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"v": "2"}}})),
    )
    .await
    .expect("patch");
    let past = pods
        .list(
            &ListParams::default()
                .at(&then)
                .matching(kube::api::VersionMatch::Exact),
        )
        .await
        .expect("exact");
    let names: Vec<String> = past
        .items
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert_eq!(names, ["a"]);
    assert!(
        past.items[0]
            .metadata
            .labels
            .as_ref()
            .is_none_or(|l| !l.contains_key("v"))
    );
    assert_eq!(
        past.metadata.resource_version.as_deref(),
        Some(then.as_str())
    );
}

#[tokio::test(start_paused = true)]
async fn refusals_carry_retry_after_headers_as_kube_apiserver_sends_them() {
    use tower::ServiceExt;
    let sim = sim();
    sim.faults().set(vec![
        kube_spread::sim::FaultRule::error(503, 1.0).on_verb("list"),
    ]);
    let request = http::Request::get("/api/v1/namespaces/default/pods")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = sim.router().oneshot(request).await.expect("response");
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    sim.faults().clear();

    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    running_pod(&pods, "web-1", "n1", &[("app", "web")], true).await;
    let pdbs: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> =
        Api::namespaced(sim.client(), "default");
    let budget: k8s_openapi::api::policy::v1::PodDisruptionBudget =
        serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}})).expect("pdb");
    pdbs.create(&PostParams::default(), &budget)
        .await
        .expect("pdb");
    let eviction =
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1"}});
    let request = http::Request::post("/api/v1/namespaces/default/pods/web-1/eviction")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(eviction.to_string()))
        .expect("request");
    let response = sim.router().oneshot(request).await.expect("response");
    assert_eq!(response.status(), 429);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("10")
    );
}

#[tokio::test(start_paused = true)]
async fn names_must_be_rfc_1123_as_kube_apiserver_requires() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let error = api_error(
        pods.create(&PostParams::default(), &pod("Web_1", &[]))
            .await
            .expect_err("invalid"),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error.message.starts_with("Pod \"Web_1\" is invalid: metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"),
        "{}",
        error.message
    );
    pods.create(&PostParams::default(), &pod("web-1.canary", &[]))
        .await
        .expect("a subdomain is fine");
    let namespaces: Api<Namespace> = Api::all(sim.client());
    let dotted = Namespace {
        metadata: ObjectMeta {
            name: Some("team.a".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        api_error(
            namespaces
                .create(&PostParams::default(), &dotted)
                .await
                .expect_err("a label")
        )
        .code,
        422
    );
}

#[tokio::test(start_paused = true)]
async fn spread_policies_are_validated_and_defaulted_against_the_crd_by_default() {
    use kube::{
        api::DynamicObject,
        core::{ApiResource, GroupVersionKind},
    };
    let sim = sim();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "kubespread.io",
        "v1alpha1",
        "SpreadPolicy",
    ));
    let policies: Api<DynamicObject> = Api::namespaced_with(sim.client(), "default", &resource);
    let object = |spec: serde_json::Value| -> DynamicObject {
        serde_json::from_value(
            json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
            "metadata": {"name": "apps"}, "spec": spec}),
        )
        .expect("object")
    };
    let error = api_error(
        policies
            .create(
                &PostParams::default(),
                &object(
                    json!({"constraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway", "minDomains": 2}]}),
                ),
            )
            .await
            .expect_err("minDomains with ScheduleAnyway"),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error
            .message
            .contains("minDomains is only allowed with whenUnsatisfiable: DoNotSchedule"),
        "{}",
        error.message
    );
    let error = api_error(
        policies
            .create(
                &PostParams::default(),
                &object(json!({"rebalance": {"cooldown": "5 minutes"}})),
            )
            .await
            .expect_err("a bad duration"),
    );
    assert!(
        error.message.contains("spec.rebalance.cooldown"),
        "{}",
        error.message
    );

    let created = policies
        .create(
            &PostParams::default(),
            &object(json!({"scope": "Policy", "unknownField": true})),
        )
        .await
        .expect("a valid policy");
    assert_eq!(
        created.data["spec"]["rebalance"]["maxMovesPerHour"], 20,
        "defaults are applied"
    );
    assert_eq!(
        created.data["spec"]["kinds"],
        json!(["Deployment", "StatefulSet"])
    );
    assert!(
        created.data["spec"].get("unknownField").is_none(),
        "unknown fields are pruned"
    );
}
