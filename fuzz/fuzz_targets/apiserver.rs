//! One HTTP request to the simulated API server, handled in-process by its router: any method,
//! path, query, headers and body, against a store seeded with a node, a pod, a Deployment and a
//! SpreadPolicy. The input reads like an HTTP/1.1 request without the version:
//!
//! ```text
//! PATCH /api/v1/namespaces/default/pods/web-1?fieldManager=fuzz
//! Content-Type: application/strategic-merge-patch+json
//!
//! {"metadata": {"labels": {"tier": "db"}}}
//! ```
//!
//! A request may be refused with any status; the server may never panic, hang or grow without
//! bound. A watch is read for at most an hour of the (paused) clock.
#![no_main]

use std::time::Duration;

use axum::body::Body;
use kube_spread::clock::Clock;
use kube_spread::sim::{SimApi, WriteOptions};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The objects every request finds in the store.
fn seeded() -> SimApi {
    let start = jiff::Timestamp::from_second(1_760_947_200).unwrap_or_default();
    let api = SimApi::new(Clock::starting_at(start));
    let store = api.store();
    let objects: [(&str, &str, &str, &str, Value); 4] = [
        (
            "",
            "v1",
            "nodes",
            "",
            json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}}}),
        ),
        (
            "",
            "v1",
            "pods",
            "default",
            json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "nginx:1.27"}]}}),
        ),
        (
            "apps",
            "v1",
            "deployments",
            "default",
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}),
        ),
        (
            "kubespread.io",
            "v1alpha1",
            "spreadpolicies",
            "default",
            json!({
            "apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy",
            "metadata": {"name": "spread", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}}}),
        ),
    ];
    for (group, version, plural, namespace, object) in objects {
        if let Some(id) = store.catalog().find(group, version, plural) {
            let _ = store.create(id, namespace, object, &WriteOptions::default());
        }
    }
    api
}

/// The request the input describes, or None when it is not one `http` can represent.
fn request(text: &str) -> Option<http::Request<Body>> {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let (method, uri) = lines.next()?.split_once(' ')?;
    let mut builder = http::Request::builder()
        .method(http::Method::from_bytes(method.as_bytes()).ok()?)
        .uri(uri.parse::<http::Uri>().ok()?);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        builder = builder.header(name.trim(), value.trim());
    }
    builder.body(Body::from(body.to_owned())).ok()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(request) = request(text) else {
        return;
    };
    // A runtime per request, so that a watch's task ends with it; paused, so that timeouts and
    // injected latency pass at once.
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let api = seeded();
        let Ok(response) = api.router().oneshot(request).await;
        let body = axum::body::to_bytes(response.into_body(), 64 << 20);
        let _ = tokio::time::timeout(Duration::from_secs(3600), body).await;
    });
});
