//! What the fuzz targets under fuzz/ found, each as the sentence it proves; the minimized inputs
//! are in fuzz/regressions/TARGET/, which `.ci/fuzz` also replays (see docs/fuzzing.md).
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a test crate: its helpers fail the test by panicking"
)]

use kube_spread::sim::PatchBody;
use kube_spread::sim::apiserver::catalog::{Catalog, ResourceType};
use kube_spread::sim::apiserver::patch::apply_patch;
use kube_spread::sim::apiserver::shape::Schema;
use serde_json::{Value, json};

fn deployments() -> ResourceType {
    let catalog = Catalog::standard();
    let id = catalog
        .find("apps", "v1", "deployments")
        .expect("deployments are served");
    catalog.get(id).expect("deployments have a type").clone()
}

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default"},
           "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
}

fn json_patch(operations: Value) -> Result<Value, kube_spread::sim::Rejection> {
    let resource = deployments();
    apply_patch(
        &Schema::of(&resource),
        &deployment(),
        &PatchBody::Json(operations),
    )
}

#[test]
fn a_json_patch_copying_an_object_into_itself_forty_times_is_refused_before_it_exhausts_memory() {
    let operations: Vec<Value> = (0..40)
        .map(|i| json!({"op": "copy", "from": "/spec", "path": format!("/spec/x{i}")}))
        .collect();
    let refusal = json_patch(Value::Array(operations)).expect_err("the copies double the object");
    assert_eq!(refusal.code, 422);
    assert!(
        refusal
            .to_status()
            .to_string()
            .contains("would copy more than 3145728 bytes"),
        "{refusal}"
    );
}

#[test]
fn a_json_patch_may_copy_up_to_three_mebibytes_as_kube_apiserver_allows() {
    let operations: Vec<Value> = (0..8)
        .map(|i| json!({"op": "copy", "from": "/spec", "path": format!("/spec/x{i}")}))
        .collect();
    let patched = json_patch(Value::Array(operations)).expect("eight doublings stay small");
    assert_eq!(patched["spec"]["x0"]["replicas"], 2);
    assert_eq!(patched["spec"]["x7"]["x6"]["x0"]["replicas"], 2);
}

#[test]
fn a_json_patch_of_more_than_ten_thousand_operations_is_too_large() {
    let operations = vec![json!({"op": "test", "path": "/spec/replicas", "value": 2}); 10_001];
    let refusal = json_patch(Value::Array(operations)).expect_err("too many operations");
    assert_eq!(
        (refusal.code, refusal.reason.as_str()),
        (413, "RequestEntityTooLarge")
    );
}

#[test]
fn a_failing_json_patch_operation_is_named_by_its_index_in_the_patch() {
    let refusal = json_patch(json!([
        {"op": "test", "path": "/spec/replicas", "value": 2},
        {"op": "remove", "path": "/spec/missing"},
    ]))
    .expect_err("nothing to remove");
    assert!(
        refusal.to_status().to_string().contains("operation '/1'"),
        "{refusal}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_watch_asking_for_the_largest_timeout_is_served_not_a_panic() {
    use tower::ServiceExt;
    let sim = kube_spread::sim::SimApi::new(kube_spread::clock::Clock::starting_at(
        "2025-10-20T08:00:00Z".parse().unwrap(),
    ));
    let request = http::Request::builder()
        .uri("/api/v1/pods?watch=1&timeoutSeconds=18446744073709551615")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = sim.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
}
