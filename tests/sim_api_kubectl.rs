//! The real kubectl (v1.32, on PATH) against the simulated API served on a loopback port with a
//! generated kubeconfig. kubectl is a separate process on the wall clock, so this test runs on
//! real time; everything it waits for is an answer, never a timer.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube_spread::api::SpreadPolicy;
use serde_json::json;
use support::kubectl::{Kubectl, manifest};
use support::objects::{budget, deployment, node, pdb, pod, running_pod, sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_applies_describes_and_deletes_against_the_served_api() {
    let sim = sim();
    let client = sim.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let mut worker = node("n1");
    worker
        .metadata
        .labels
        .get_or_insert_default()
        .insert("node-role.kubernetes.io/worker".into(), String::new());
    nodes
        .create(&PostParams::default(), &worker)
        .await
        .expect("n1");
    let mut down = node("n2");
    down.status
        .as_mut()
        .and_then(|s| s.conditions.as_mut())
        .expect("conditions")[0]
        .status = "False".into();
    down.spec.get_or_insert_default().unschedulable = Some(true);
    nodes
        .create(&PostParams::default(), &down)
        .await
        .expect("n2");
    let default_pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let web = running_pod(&default_pods, "web-1", "n1", &[("app", "web")], true).await;
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "kube-spread".into(),
            instance: None,
        },
    );
    let moved = Event {
        type_: EventType::Normal,
        reason: "Moved".into(),
        note: Some("moved from n2 to n1".into()),
        action: "Evict".into(),
        secondary: None,
    };
    recorder
        .publish(&moved, &web.object_ref(&()))
        .await
        .expect("event");
    let system_pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    system_pods
        .create(&PostParams::default(), &pod("db-0", &[]))
        .await
        .expect("pending pod");

    let (address, server) = sim
        .serve("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("serve");
    let kubectl = Kubectl::new(address);

    let run = kubectl.ok(&["get", "nodes"]).await;
    let table = run.columns();
    assert!(
        table.starts_with("NAME STATUS ROLES AGE VERSION\n"),
        "{table}"
    );
    assert!(table.contains("\nn1 Ready worker "), "{table}");
    assert!(
        table.contains("\nn2 NotReady,SchedulingDisabled <none> "),
        "{table}"
    );
    assert!(table.contains(" v1.33.1"), "{table}");

    let run = kubectl.ok(&["get", "pods", "-A", "-o", "wide"]).await;
    let table = run.columns();
    assert!(
        table.starts_with(
            "NAMESPACE NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES\n"
        ),
        "{table}"
    );
    assert!(table.contains("\ndefault web-1 1/1 Running 0 "), "{table}");
    assert!(table.contains(" 10.0.0.1 n1 <none> <none>"), "{table}");
    assert!(
        table.contains("\nkube-system db-0 0/1 Pending 0 "),
        "{table}"
    );

    let dir = kubectl.kubeconfig.parent().expect("dir").to_path_buf();
    let applied = kubectl
        .ok(&[
            "apply",
            "--server-side",
            "-f",
            manifest(&dir, 1).to_str().expect("path"),
        ])
        .await;
    assert_eq!(
        applied.stdout.trim(),
        "spreadpolicy.kubespread.io/apps serverside-applied"
    );

    // Another manager changing kubectl's field is refused; kubectl prints the conflict.
    let conflict = kubectl
        .run(&[
            "apply",
            "--server-side",
            "--field-manager=gitops",
            "-f",
            manifest(&dir, 2).to_str().expect("path"),
        ])
        .await;
    assert!(!conflict.success);
    assert!(
        conflict.stderr.contains("conflict with \"kubectl\""),
        "{}",
        conflict.stderr
    );
    assert!(
        conflict.stderr.contains(".spec.constraints"),
        "{}",
        conflict.stderr
    );

    // What the controller would report, so the printer columns have values.
    let resource = ApiResource::erase::<SpreadPolicy>(&());
    let policies: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let status = json!({"apiVersion": "kubespread.io/v1alpha1", "kind": "SpreadPolicy", "metadata": {"name": "apps"}, "status": {"skew": 1, "workloads": {"matched": 3},
        "conditions": [{"type": "Balanced", "status": "True", "reason": "WithinMaxSkew", "message": "", "lastTransitionTime": "2025-10-20T08:00:00Z"},
                       {"type": "Rebalancing", "status": "False", "reason": "OutsideWindow", "message": "outside its disruption windows; next opens 2025-10-21T02:00:00+00:00", "lastTransitionTime": "2025-10-20T08:00:00Z"}]}});
    policies
        .patch_status(
            "apps",
            &PatchParams::apply("kube-spread").force(),
            &Patch::Apply(status),
        )
        .await
        .expect("status");

    let run = kubectl.ok(&["get", "spreadpolicies", "-A"]).await;
    let table = run.columns();
    assert!(
        table.starts_with("NAMESPACE NAME SCOPE SKEW BALANCED REBALANCING WORKLOADS AGE\n"),
        "{table}"
    );
    assert!(
        table.contains("\ndefault apps Workload 1 True OutsideWindow 3 "),
        "{table}"
    );
    let short = kubectl.ok(&["get", "spol"]).await;
    assert!(
        short
            .columns()
            .contains("\napps Workload 1 True OutsideWindow 3 "),
        "{}",
        short.stdout
    );

    let described = kubectl.ok(&["describe", "pod", "web-1"]).await;
    let text = described.columns();
    assert!(
        text.contains("Normal Moved "),
        "the event shows in describe:\n{text}"
    );
    assert!(text.contains(" kube-spread moved from n2 to n1"), "{text}");
    for expected in [
        "Name: web-1",
        "Namespace: default",
        "Node: n1/",
        "Status: Running",
        "IP: 10.0.0.1",
        "Image: nginx:1.27",
        "QoS Class: BestEffort",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // Workload verbs that patch: rollout restart and cordon (strategic merge), scale (/scale).
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("deployment");
    let listed = kubectl.ok(&["get", "deployments"]).await;
    assert!(
        listed
            .columns()
            .starts_with("NAME READY UP-TO-DATE AVAILABLE AGE\nweb 0/2 0 0 "),
        "{}",
        listed.stdout
    );
    let restarted = kubectl.ok(&["rollout", "restart", "deployment/web"]).await;
    assert_eq!(restarted.stdout.trim(), "deployment.apps/web restarted");
    let web = deployments.get("web").await.expect("web");
    let annotations = web
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    assert!(
        annotations.contains_key("kubectl.kubernetes.io/restartedAt"),
        "{annotations:?}"
    );
    assert_eq!(web.metadata.generation, Some(2));
    let scaled = kubectl
        .ok(&["scale", "deployment", "web", "--replicas=4"])
        .await;
    assert_eq!(scaled.stdout.trim(), "deployment.apps/web scaled");
    assert_eq!(
        deployments
            .get("web")
            .await
            .expect("web")
            .spec
            .and_then(|s| s.replicas),
        Some(4)
    );
    let cordoned = kubectl.ok(&["cordon", "n1"]).await;
    assert_eq!(cordoned.stdout.trim(), "node/n1 cordoned");
    assert_eq!(
        nodes
            .get("n1")
            .await
            .expect("n1")
            .spec
            .and_then(|s| s.unschedulable),
        Some(true)
    );
    kubectl.ok(&["uncordon", "n1"]).await;
    assert_ne!(
        nodes
            .get("n1")
            .await
            .expect("n1")
            .spec
            .and_then(|s| s.unschedulable),
        Some(true)
    );

    let events = kubectl.ok(&["get", "events"]).await;
    let table = events.columns();
    assert!(
        table.starts_with("LAST SEEN TYPE REASON OBJECT MESSAGE\n"),
        "{table}"
    );
    assert!(
        table.contains(" Normal Moved pod/web-1 moved from n2 to n1"),
        "{table}"
    );
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    budget(&pdbs, &pdb("web", Some(&[("app", "web")]), 1), 1, 2, 1).await;
    let listed = kubectl.ok(&["get", "pdb"]).await;
    let table = listed.columns();
    assert!(
        table.starts_with(
            "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE\nweb 1 N/A 1 "
        ),
        "{table}"
    );

    let deleted = kubectl.ok(&["delete", "spreadpolicy", "apps"]).await;
    assert_eq!(
        deleted.stdout.trim(),
        "spreadpolicy.kubespread.io \"apps\" deleted"
    );
    let empty = kubectl.ok(&["get", "spreadpolicies", "-A"]).await;
    assert!(
        empty.stderr.contains("No resources found"),
        "{}",
        empty.stderr
    );

    let deleted = kubectl
        .ok(&["delete", "pod", "db-0", "-n", "kube-system"])
        .await;
    assert_eq!(deleted.stdout.trim(), "pod \"db-0\" deleted");
    assert!(system_pods.get_opt("db-0").await.expect("get").is_none());

    server.abort();
}
