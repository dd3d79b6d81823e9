//! Watches, reflectors, fault injection and RBAC against the simulated API, through kube-rs's
//! watcher and reflector on tokio's paused clock.

mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::rbac::v1::PolicyRule;
use kube::api::{
    Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::runtime::watcher;
use kube_spread::sim::{Fault, FaultRule};
use serde_json::json;
use support::answers::api_error;
use support::objects::{pod, running_pod, sim};
use support::reflection::{names, reflect, server_names, settle, stored_names};

#[tokio::test(start_paused = true)]
async fn watcher_and_reflector_see_creates_updates_and_deletes() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    pods.create(&PostParams::default(), &pod("before", &[]))
        .await
        .expect("create");
    let (reader, log) = reflect(&sim, watcher::Config::default());
    settle().await;
    pods.create(&PostParams::default(), &pod("a", &[]))
        .await
        .expect("a");
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
    pods.delete("b", &DeleteParams::default())
        .await
        .expect("delete");
    settle().await;
    assert_eq!(names(&reader.state()), server_names(&pods).await);
    let a = reader
        .state()
        .into_iter()
        .find(|p| p.metadata.name.as_deref() == Some("a"))
        .expect("a");
    assert_eq!(
        a.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("v"))
            .map(String::as_str),
        Some("2")
    );
    let log = log.lock().expect("log").clone();
    assert_eq!(
        log,
        [
            "init",
            "initapply:before",
            "done",
            "apply:a",
            "apply:b",
            "apply:a",
            "delete:b"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_streaming_list_watcher_ends_its_initial_events_with_a_bookmark() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    pods.create(&PostParams::default(), &pod("a", &[]))
        .await
        .expect("a");
    let params = WatchParams::default().initial_events();
    let mut stream = pods.watch(&params, "").await.expect("watch").boxed();
    match stream.try_next().await.expect("event") {
        Some(WatchEvent::Added(p)) => assert_eq!(p.metadata.name.as_deref(), Some("a")),
        other => panic!("expected ADDED, got {other:?}"),
    }
    match stream.try_next().await.expect("event") {
        Some(WatchEvent::Bookmark(b)) => {
            assert_eq!(
                b.metadata
                    .annotations
                    .get("k8s.io/initial-events-end")
                    .map(String::as_str),
                Some("true")
            );
        }
        other => panic!("expected the initial-events-end BOOKMARK, got {other:?}"),
    }
    let (reader, _) = reflect(&sim, watcher::Config::default().streaming_lists());
    settle().await;
    pods.create(&PostParams::default(), &pod("b", &[]))
        .await
        .expect("b");
    settle().await;
    assert_eq!(names(&reader.state()), server_names(&pods).await);
}

#[tokio::test(start_paused = true)]
async fn a_watch_cut_midway_resumes_from_its_resource_version_without_losing_or_duplicating_events()
{
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    sim.faults().set(vec![
        FaultRule::new(Fault::CutWatchAfterEvents(2)).on_verb("watch"),
    ]);
    let (reader, log) = reflect(&sim, watcher::Config::default());
    settle().await;
    for i in 0..10 {
        pods.create(&PostParams::default(), &pod(&format!("p{i}"), &[]))
            .await
            .expect("create");
        if i % 3 == 0 {
            settle().await;
        }
    }
    for i in 0..4 {
        pods.delete(&format!("p{i}"), &DeleteParams::default())
            .await
            .expect("delete");
    }
    settle().await;
    let log = log.lock().expect("log").clone();
    let mut expected = vec!["init".to_owned(), "done".to_owned()];
    expected.extend((0..10).map(|i| format!("apply:p{i}")));
    expected.extend((0..4).map(|i| format!("delete:p{i}")));
    assert_eq!(log, expected, "every event once, in order, and no relist");
    assert_eq!(names(&reader.state()), server_names(&pods).await);
}

#[tokio::test(start_paused = true)]
async fn a_watch_from_a_resource_version_older_than_the_history_gets_410_gone() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let first = pods
        .create(&PostParams::default(), &pod("a", &[]))
        .await
        .expect("a");
    sim.store().set_history_limit(2);
    for i in 0..5 {
        pods.create(&PostParams::default(), &pod(&format!("p{i}"), &[]))
            .await
            .expect("create");
    }
    let version = first.metadata.resource_version.expect("rv");
    let mut stream = pods
        .watch(&WatchParams::default(), &version)
        .await
        .expect("watch")
        .boxed();
    match stream.try_next().await.expect("event") {
        Some(WatchEvent::Error(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(
                status.message.starts_with("too old resource version"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_forced_410_makes_the_watcher_relist_and_the_reflector_converge() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    for name in ["a", "b", "c"] {
        pods.create(&PostParams::default(), &pod(name, &[]))
            .await
            .expect("create");
    }
    let (reader, log) = reflect(&sim, watcher::Config::default().timeout(30));
    settle().await;
    // From now on every new watch is answered 410 Gone; the current one times out in 30 s.
    sim.faults().set(vec![
        FaultRule::new(Fault::Gone { rate: 1.0 }).on_verb("watch"),
    ]);
    pods.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    tokio::time::sleep(Duration::from_secs(45)).await;
    pods.create(&PostParams::default(), &pod("d", &[]))
        .await
        .expect("create while watches fail");
    sim.faults().clear();
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(names(&reader.state()), server_names(&pods).await);
    let log = log.lock().expect("log").clone();
    assert!(
        log.iter().filter(|e| *e == "init").count() >= 2,
        "the watcher relisted: {log:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_reflector_converges_while_lists_and_watches_fail_at_a_rate() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    sim.faults().set(vec![
        FaultRule::error(500, 0.3).on_verb("list"),
        FaultRule::error(429, 0.3).on_verb("watch"),
        FaultRule::error(503, 0.2)
            .on_resource("pods")
            .on_verb("list"),
        FaultRule::new(Fault::CutWatchAfter(Duration::from_secs(20))).on_verb("watch"),
        FaultRule::new(Fault::Latency(Duration::from_millis(50))),
    ]);
    let (reader, log) = reflect(&sim, watcher::Config::default().page_size(7));
    for i in 0..40 {
        pods.create(&PostParams::default(), &pod(&format!("p{i:02}"), &[]))
            .await
            .expect("create");
        if i % 5 == 0 {
            tokio::time::sleep(Duration::from_secs(7)).await;
        }
    }
    for i in (0..40).step_by(3) {
        pods.delete(&format!("p{i:02}"), &DeleteParams::default())
            .await
            .expect("delete");
    }
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(names(&reader.state()), stored_names(&sim));
    assert_eq!(stored_names(&sim).len(), 26);
    let log = log.lock().expect("log").clone();
    assert!(
        log.iter().any(|e| e.starts_with("error:")),
        "faults were injected: {log:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn faults_repeat_exactly_for_a_seed() {
    let draws = |seed: u64| {
        let faults = kube_spread::sim::Faults::new(seed);
        faults.set(vec![FaultRule::error(500, 0.5)]);
        (0..64)
            .map(|_| faults.decide("get", "pods").refusal.is_some())
            .collect::<Vec<_>>()
    };
    assert_eq!(draws(7), draws(7));
    assert_ne!(draws(7), draws(8));
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        api_groups: Some(groups.iter().map(|g| (*g).to_owned()).collect()),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn an_identity_without_create_pods_eviction_is_forbidden_with_the_upstream_message() {
    let sim = sim();
    let admin: Api<Pod> = Api::namespaced(sim.client(), "default");
    running_pod(&admin, "web-1", "n1", &[], true).await;
    let user = "system:serviceaccount:kube-spread:kube-spread";
    sim.rbac().grant(
        user,
        None,
        vec![rule(&["get", "list", "watch"], &[""], &["pods"])],
    );
    let pods: Api<Pod> = Api::namespaced(sim.client_as(user), "default");
    pods.get("web-1").await.expect("get is granted");

    let error = api_error(
        pods.evict("web-1", &EvictParams::default())
            .await
            .expect_err("forbidden"),
    );
    assert_eq!((error.code, error.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        error.message,
        "pods \"web-1\" is forbidden: User \"system:serviceaccount:kube-spread:kube-spread\" cannot create resource \"pods/eviction\" in API group \"\" in the namespace \"default\""
    );
    let error = api_error(
        pods.delete("web-1", &DeleteParams::default())
            .await
            .expect_err("no delete"),
    );
    assert_eq!(error.code, 403);
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(sim.client_as(user));
    let error = api_error(
        nodes
            .list(&ListParams::default())
            .await
            .expect_err("no nodes"),
    );
    assert_eq!(
        error.message,
        "nodes is forbidden: User \"system:serviceaccount:kube-spread:kube-spread\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
    );

    // A Role in the namespace grants the subresource.
    sim.rbac().grant(
        user,
        Some("default"),
        vec![rule(&["create"], &[""], &["pods/eviction"])],
    );
    pods.evict("web-1", &EvictParams::default())
        .await
        .expect("evict is granted");
    // The Role does not reach other namespaces.
    let elsewhere: Api<Pod> = Api::namespaced(sim.client_as(user), "kube-system");
    let error = api_error(
        elsewhere
            .evict("x", &EvictParams::default())
            .await
            .expect_err("other namespace"),
    );
    assert_eq!(error.code, 403);
}

#[tokio::test(start_paused = true)]
async fn rbac_rules_honour_wildcards_and_resource_names() {
    let sim = sim();
    let admin: Api<Pod> = Api::namespaced(sim.client(), "default");
    admin
        .create(&PostParams::default(), &pod("a", &[]))
        .await
        .expect("a");
    admin
        .create(&PostParams::default(), &pod("b", &[]))
        .await
        .expect("b");
    let user = "jane";
    sim.rbac().grant(
        user,
        None,
        vec![PolicyRule {
            resource_names: Some(vec!["a".into()]),
            ..rule(&["*"], &["*"], &["pods"])
        }],
    );
    let pods: Api<Pod> = Api::namespaced(sim.client_as(user), "default");
    pods.get("a").await.expect("named");
    assert_eq!(
        api_error(pods.get("b").await.expect_err("not named")).code,
        403
    );
    assert_eq!(
        api_error(
            pods.list(&ListParams::default())
                .await
                .expect_err("a list has no name")
        )
        .code,
        403
    );
    sim.rbac()
        .grant(user, None, vec![rule(&["list"], &[""], &["*"])]);
    pods.list(&ListParams::default())
        .await
        .expect("wildcard resources");
}

#[tokio::test(start_paused = true)]
async fn a_watch_with_a_label_selector_sees_objects_enter_and_leave_the_selection() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    let start = pods
        .create(&PostParams::default(), &pod("a", &[("app", "db")]))
        .await
        .expect("a");
    let version = start.metadata.resource_version.expect("rv");
    let mut stream = pods
        .watch(&WatchParams::default().labels("app=web"), &version)
        .await
        .expect("watch")
        .boxed();
    let relabel = |app: &str| Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));
    pods.patch("a", &PatchParams::default(), &relabel("web"))
        .await
        .expect("enter");
    pods.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"x": "y"}}})),
    )
    .await
    .expect("stay");
    pods.patch("a", &PatchParams::default(), &relabel("db"))
        .await
        .expect("leave");
    let mut kinds = Vec::new();
    for _ in 0..3 {
        match stream.try_next().await.expect("event") {
            Some(WatchEvent::Added(_)) => kinds.push("ADDED"),
            Some(WatchEvent::Modified(_)) => kinds.push("MODIFIED"),
            Some(WatchEvent::Deleted(_)) => kinds.push("DELETED"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test(start_paused = true)]
async fn a_continue_token_older_than_the_history_is_refused_with_410() {
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    for i in 0..5 {
        pods.create(&PostParams::default(), &pod(&format!("p{i}"), &[]))
            .await
            .expect("create");
    }
    let first = pods
        .list(&ListParams::default().limit(2))
        .await
        .expect("first page");
    let token = first.metadata.continue_.expect("continue");
    pods.create(&PostParams::default(), &pod("late", &[]))
        .await
        .expect("create");
    sim.store().compact();
    let error = api_error(
        pods.list(&ListParams::default().limit(2).continue_token(&token))
            .await
            .expect_err("expired"),
    );
    assert_eq!((error.code, error.reason.as_str()), (410, "Expired"));
    assert!(
        error
            .message
            .starts_with("The provided continue parameter is too old"),
        "{}",
        error.message
    );
}

#[tokio::test(start_paused = true)]
async fn a_metadata_watcher_receives_partial_object_metadata() {
    use kube::core::PartialObjectMeta;
    let sim = sim();
    let pods: Api<Pod> = Api::namespaced(sim.client(), "default");
    pods.create(&PostParams::default(), &pod("a", &[("app", "web")]))
        .await
        .expect("a");
    let listed = pods
        .list_metadata(&ListParams::default())
        .await
        .expect("list metadata");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.types.kind, "PartialObjectMetadataList");
    let single = pods.get_metadata("a").await.expect("get metadata");
    assert_eq!(
        single.types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );

    let metadata: Api<PartialObjectMeta<Pod>> = Api::namespaced(sim.client(), "default");
    let (reader, writer) = kube::runtime::reflector::store::<PartialObjectMeta<Pod>>();
    let stream = kube::runtime::reflector(writer, watcher(metadata, watcher::Config::default()));
    tokio::spawn(stream.for_each(|_| futures::future::ready(())));
    settle().await;
    pods.create(&PostParams::default(), &pod("b", &[]))
        .await
        .expect("b");
    pods.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    settle().await;
    let names: Vec<String> = reader
        .state()
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert_eq!(names, ["b"]);
}
