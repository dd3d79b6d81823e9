//! The served simulated API answers the real kubectl (v1.32, on PATH) as kube-apiserver would:
//! OpenAPI for validation, patches and explain; field validation and its limits; protobuf
//! bodies; `auth can-i`; Table watches and columns. kubectl runs as a separate process on the
//! wall clock, so these tests run on real time.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::net::SocketAddr;

use axum::body::Body;
use http::{Request, StatusCode};
use kube_spread::sim::SimApi;
use serde_json::{Value, json};
use support::kubectl::Kubectl;
use support::objects::sim;
use tower::ServiceExt;

const POLICY: &str = "apiVersion: kubespread.io/v1alpha1\nkind: SpreadPolicy\nmetadata:\n  name: apps\n  namespace: default\nspec:\n  scope: Workload\n  constraints:\n  - maxSkew: 1\n    topologyKey: kubernetes.io/hostname\n    whenUnsatisfiable: ScheduleAnyway\n";

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.27\n";

async fn served(label: &str) -> (SimApi, Kubectl, tokio::task::JoinHandle<()>) {
    let sim = sim();
    let address: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let (address, server) = sim.serve(address).await.expect("serve");
    (sim, Kubectl::isolated(address, label), server)
}

/// One request straight to the router: its status, `Warning` headers and body.
async fn request(
    sim: &SimApi,
    method: &str,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Vec<String>, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("request");
    let response = sim.router().oneshot(request).await.expect("response");
    let status = response.status();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, warnings, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_create_and_edit_validate_against_the_served_openapi() {
    let (sim, kubectl, server) = served("apply").await;
    let deployment = kubectl.file("web.yaml", DEPLOYMENT);
    let created = kubectl.ok(&["apply", "-f", &deployment]).await;
    assert_eq!(created.stdout.trim(), "deployment.apps/web created");
    // Client-side apply again: a strategic merge patch computed from the OpenAPI.
    let changed = kubectl.file("web2.yaml", &DEPLOYMENT.replace("nginx:1.27", "nginx:1.28"));
    let configured = kubectl.ok(&["apply", "-f", &changed]).await;
    assert_eq!(configured.stdout.trim(), "deployment.apps/web configured");
    let server_side = kubectl
        .ok(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &deployment,
        ])
        .await;
    assert_eq!(
        server_side.stdout.trim(),
        "deployment.apps/web serverside-applied"
    );

    let policy = kubectl.file("policy.yaml", POLICY);
    let created = kubectl.ok(&["create", "-f", &policy]).await;
    assert_eq!(
        created.stdout.trim(),
        "spreadpolicy.kubespread.io/apps created"
    );
    let applied = kubectl.ok(&["apply", "--server-side", "-f", &policy]).await;
    assert_eq!(
        applied.stdout.trim(),
        "spreadpolicy.kubespread.io/apps serverside-applied"
    );

    let editor = kubectl.file(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/scope: Workload/scope: Policy/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let edited = kubectl
        .run_with_env(
            &[("KUBE_EDITOR", &editor)],
            &["edit", "spreadpolicy", "apps"],
        )
        .await;
    assert!(edited.success, "{}\n{}", edited.stdout, edited.stderr);
    assert_eq!(
        edited.stdout.trim(),
        "spreadpolicy.kubespread.io/apps edited"
    );
    let scope = kubectl
        .ok(&[
            "get",
            "spreadpolicy",
            "apps",
            "-o",
            "jsonpath={.spec.scope}",
        ])
        .await;
    assert_eq!(scope.stdout, "Policy");
    assert!(
        sim.audit().records().iter().all(|r| r.code < 500),
        "no request failed on the server"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explain_spreadpolicy_spec_prints_the_crds_field_docs() {
    let (_sim, kubectl, server) = served("explain").await;
    let explained = kubectl.ok(&["explain", "spreadpolicy.spec"]).await;
    let text = explained.columns();
    assert!(text.contains("KIND: SpreadPolicy"), "{text}");
    assert!(text.contains("VERSION: v1alpha1"), "{text}");
    assert!(text.contains("FIELD: spec <Object>"), "{text}");
    for field in [
        "constraints <[]Object>",
        "rebalance <Object>",
        "scope <string>",
    ] {
        assert!(text.contains(field), "missing {field:?} in:\n{text}");
    }
    let builtin = kubectl
        .ok(&["explain", "deployment.spec.template.spec.containers"])
        .await;
    assert!(
        builtin
            .columns()
            .contains("FIELD: containers <[]Container>"),
        "{}",
        builtin.stdout
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strict_create_with_an_unknown_field_is_refused_with_kube_apiservers_wording() {
    let (_sim, kubectl, server) = served("strict").await;
    let pod = kubectl.file(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  bogus: 1\n  containers:\n  - name: a\n    image: nginx\n    wat: 2\n",
    );
    let refused = kubectl.run(&["create", "-f", &pod]).await;
    assert!(!refused.success);
    assert!(
        refused
            .stderr
            .contains("Error from server (BadRequest): error when creating \"",),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(
            "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.bogus\", unknown field \"spec.containers[0].wat\""
        ),
        "{}",
        refused.stderr
    );
    let policy = kubectl.file(
        "policy.yaml",
        &POLICY.replace("  scope: Workload\n", "  scope: Workload\n  bogus: 1\n"),
    );
    let refused = kubectl.run(&["create", "-f", &policy]).await;
    assert!(
        refused.stderr.contains(
            "SpreadPolicy in version \"v1alpha1\" cannot be handled as a SpreadPolicy: strict decoding error: unknown field \"spec.bogus\""
        ),
        "{}",
        refused.stderr
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warn_create_prints_kubectls_warning_and_drops_the_field() {
    let (_sim, kubectl, server) = served("warn").await;
    let policy = kubectl.file(
        "policy.yaml",
        &POLICY.replace("  scope: Workload\n", "  scope: Workload\n  bogus: 1\n"),
    );
    let created = kubectl
        .ok(&["create", "--validate=warn", "-f", &policy])
        .await;
    assert_eq!(
        created.stdout.trim(),
        "spreadpolicy.kubespread.io/apps created"
    );
    assert_eq!(
        created.stderr.trim(),
        "Warning: unknown field \"spec.bogus\""
    );
    let stored = kubectl
        .ok(&["get", "spreadpolicy", "apps", "-o", "json"])
        .await;
    assert!(!stored.stdout.contains("bogus"), "{}", stored.stdout);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignore_create_drops_unknown_fields_silently() {
    let (_sim, kubectl, server) = served("ignore").await;
    let pod = kubectl.file(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  bogus: 1\n  containers:\n  - name: a\n    image: nginx\n",
    );
    let created = kubectl
        .ok(&["create", "--validate=false", "-f", &pod])
        .await;
    assert_eq!(created.stdout.trim(), "pod/p created");
    assert_eq!(created.stderr.trim(), "");
    let stored = kubectl.ok(&["get", "pod", "p", "-o", "json"]).await;
    assert!(!stored.stdout.contains("bogus"), "{}", stored.stdout);
    server.abort();
}

#[tokio::test]
async fn a_strict_create_with_a_duplicate_field_is_refused_and_a_warn_create_warns() {
    let sim = sim();
    let body = br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","name":"b"}}"#;
    let (status, _, answer) = request(
        &sim,
        "POST",
        "/api/v1/namespaces?fieldValidation=Strict",
        "application/json",
        body.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["message"],
        "Namespace in version \"v1\" cannot be handled as a Namespace: strict decoding error: duplicate field \"metadata.name\""
    );
    let (status, warnings, answer) = request(
        &sim,
        "POST",
        "/api/v1/namespaces?fieldValidation=Warn",
        "application/json",
        body.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        warnings,
        vec![r#"299 - "duplicate field \"metadata.name\"""#]
    );
    assert_eq!(answer["metadata"]["name"], "b", "the last value is kept");
}

#[tokio::test]
async fn a_write_body_over_three_mebibytes_is_refused_as_too_large() {
    let sim = sim();
    let padding = "x".repeat(3 * 1024 * 1024);
    let body = json!({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": "big", "labels": {"a": padding}}});
    let (status, _, answer) = request(
        &sim,
        "POST",
        "/api/v1/namespaces",
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["reason"], "RequestEntityTooLarge");
    assert_eq!(
        answer["message"],
        "Request entity too large: limit is 3145728"
    );
}

#[tokio::test]
async fn annotations_over_256_kib_in_total_are_refused() {
    let sim = sim();
    let half = "x".repeat(130 * 1024);
    let body = json!({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": "noted", "annotations": {"a": half, "b": half}}});
    let (status, _, answer) = request(
        &sim,
        "POST",
        "/api/v1/namespaces",
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer["message"],
        "Namespace \"noted\" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes"
    );
    let fits = json!({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": "noted", "annotations": {"a": "x".repeat(200 * 1024)}}});
    let (status, _, _) = request(
        &sim,
        "POST",
        "/api/v1/namespaces",
        "application/json",
        fits.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spreadpolicy_name_of_100_characters_is_a_valid_dns_subdomain() {
    let (_sim, kubectl, server) = served("long-name").await;
    let name = "a".repeat(100);
    let policy = kubectl.file(
        "policy.yaml",
        &POLICY.replace("name: apps", &format!("name: {name}")),
    );
    let created = kubectl.ok(&["create", "-f", &policy]).await;
    assert_eq!(
        created.stdout.trim(),
        format!("spreadpolicy.kubespread.io/{name} created")
    );
    let too_long = kubectl.file(
        "long.yaml",
        &POLICY.replace("name: apps", &format!("name: {}", "a".repeat(254))),
    );
    let refused = kubectl.run(&["create", "-f", &too_long]).await;
    assert!(
        refused
            .stderr
            .contains("must be no more than 253 characters"),
        "{}",
        refused.stderr
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_ns_deployment_and_pdb_send_protobuf_that_the_server_reads() {
    let (sim, kubectl, server) = served("protobuf").await;
    let created = kubectl.ok(&["create", "namespace", "media"]).await;
    assert_eq!(created.stdout.trim(), "namespace/media created");
    let created = kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "-n",
            "media",
            "--image=nginx:1.27",
            "--port=80",
            "--replicas=2",
        ])
        .await;
    assert_eq!(created.stdout.trim(), "deployment.apps/web created");
    let created = kubectl
        .ok(&[
            "create",
            "pdb",
            "web",
            "-n",
            "media",
            "--selector=app=web",
            "--max-unavailable=30%",
        ])
        .await;
    assert_eq!(
        created.stdout.trim(),
        "poddisruptionbudget.policy/web created"
    );
    let deployment = kubectl
        .ok(&["get", "deployment", "web", "-n", "media", "-o", "json"])
        .await;
    let deployment: Value = serde_json::from_str(&deployment.stdout).expect("json");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(deployment["spec"]["selector"]["matchLabels"]["app"], "web");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"],
        json!([{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}])
    );
    let budget = kubectl
        .ok(&[
            "get",
            "pdb",
            "web",
            "-n",
            "media",
            "-o",
            "jsonpath={.spec.maxUnavailable}",
        ])
        .await;
    assert_eq!(budget.stdout, "30%");
    let protobuf_writes = sim
        .audit()
        .records()
        .iter()
        .filter(|r| r.verb == "create" && r.code == 201)
        .count();
    assert_eq!(protobuf_writes, 3);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_can_i_answers_from_the_rbac_grants() {
    let (sim, kubectl, server) = served("can-i").await;
    let admin = kubectl.ok(&["auth", "can-i", "delete", "nodes"]).await;
    assert_eq!(admin.stdout.trim(), "yes", "without RBAC everyone is admin");

    sim.rbac().set_default_identity(Some("alice"));
    let rule: k8s_openapi::api::rbac::v1::PolicyRule = serde_json::from_value(json!({
        "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]
    }))
    .expect("rule");
    sim.rbac().grant("alice", Some("default"), vec![rule]);
    let allowed = kubectl.ok(&["auth", "can-i", "list", "pods"]).await;
    assert_eq!(allowed.stdout.trim(), "yes");
    let denied = kubectl.run(&["auth", "can-i", "delete", "pods"]).await;
    assert!(!denied.success, "kubectl exits 1 on no");
    assert_eq!(denied.stdout.trim(), "no");
    let elsewhere = kubectl
        .run(&["auth", "can-i", "list", "pods", "-n", "kube-system"])
        .await;
    assert_eq!(elsewhere.stdout.trim(), "no");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_watch_prints_table_rows_as_objects_change() {
    let (sim, kubectl, server) = served("watch").await;
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(sim.client(), "default");
    pods.create(
        &kube::api::PostParams::default(),
        &support::objects::pod("web-1", &[("app", "web")]),
    )
    .await
    .expect("pod");
    let later = pods.clone();
    let creator = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        later
            .create(
                &kube::api::PostParams::default(),
                &support::objects::pod("web-2", &[("app", "web")]),
            )
            .await
            .expect("pod");
    });
    let watched = kubectl
        .run(&["get", "pods", "-w", "--request-timeout=4s"])
        .await;
    creator.await.expect("creator");
    let table = watched.columns();
    assert!(
        table.starts_with("NAME READY STATUS RESTARTS AGE\nweb-1 0/1 Pending 0 "),
        "{table}\n{}",
        watched.stderr
    );
    assert!(table.contains("\nweb-2 0/1 Pending 0 "), "{table}");
    assert_eq!(table.matches("NAME").count(), 1, "one header: {table}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonsets_statefulsets_pvcs_and_pvs_print_kubectls_columns() {
    let (sim, kubectl, server) = served("columns").await;
    let create = |path: &'static str, body: Value| {
        let sim = sim.clone();
        async move {
            let (status, _, answer) = request(
                &sim,
                "POST",
                path,
                "application/json",
                body.to_string().into_bytes(),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{answer}");
        }
    };
    let template = json!({"metadata": {"labels": {"app": "x"}},
        "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "agent", "image": "agent:1"}]}});
    create(
        "/apis/apps/v1/namespaces/default/daemonsets",
        json!({"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template}}),
    )
    .await;
    create(
        "/apis/apps/v1/namespaces/default/statefulsets",
        json!({"metadata": {"name": "db"}, "spec": {"replicas": 3, "serviceName": "db",
               "selector": {"matchLabels": {"app": "x"}}, "template": template}}),
    )
    .await;
    create(
        "/api/v1/persistentvolumes",
        json!({"metadata": {"name": "pv-1"}, "spec": {"capacity": {"storage": "10Gi"},
               "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete",
               "storageClassName": "local-path", "hostPath": {"path": "/data"},
               "claimRef": {"namespace": "default", "name": "data"}}}),
    )
    .await;
    create(
        "/api/v1/namespaces/default/persistentvolumeclaims",
        json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
               "storageClassName": "local-path", "volumeName": "pv-1",
               "resources": {"requests": {"storage": "10Gi"}}}}),
    )
    .await;

    let listed = kubectl.ok(&["get", "daemonsets", "-o", "wide"]).await;
    let table = listed.columns();
    assert!(
        table.starts_with("NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE CONTAINERS IMAGES SELECTOR\nagent "),
        "{table}"
    );
    assert!(table.contains(" disk=ssd "), "{table}");
    assert!(table.ends_with(" agent agent:1 app=x"), "{table}");
    let listed = kubectl.ok(&["get", "statefulsets", "-o", "wide"]).await;
    let table = listed.columns();
    assert!(
        table.starts_with("NAME READY AGE CONTAINERS IMAGES\ndb 0/3 "),
        "{table}"
    );
    assert!(table.ends_with(" agent agent:1"), "{table}");
    let listed = kubectl.ok(&["get", "pv"]).await;
    let table = listed.columns();
    assert!(
        table.starts_with("NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE\npv-1 10Gi RWO Delete "),
        "{table}"
    );
    assert!(
        table.contains(" default/data local-path <unset> "),
        "{table}"
    );
    let listed = kubectl.ok(&["get", "pvc"]).await;
    let table = listed.columns();
    assert!(
        table.starts_with(
            "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE\ndata "
        ),
        "{table}"
    );
    assert!(table.contains(" pv-1 "), "{table}");
    assert!(table.contains(" local-path <unset> "), "{table}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_removes_a_container_dropped_from_the_manifest() {
    let (_sim, kubectl, server) = served("merge-keys").await;
    let two = DEPLOYMENT.to_owned() + "      - name: sidecar\n        image: busybox:1.37\n";
    let both = kubectl.file("two.yaml", &two);
    kubectl.ok(&["apply", "-f", &both]).await;
    let one = kubectl.file("one.yaml", DEPLOYMENT);
    let configured = kubectl.ok(&["apply", "-f", &one]).await;
    assert_eq!(configured.stdout.trim(), "deployment.apps/web configured");
    let names = kubectl
        .ok(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].name}",
        ])
        .await;
    assert_eq!(
        names.stdout, "nginx",
        "the OpenAPI's merge keys let kubectl patch the removal"
    );
    server.abort();
}
