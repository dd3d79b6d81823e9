//! The planner's index finds workloads and ReplicaSets by bisection when the cluster's lists
//! are in key order, as the controller's pictures keep them, and through maps when they are
//! not (a snapshot file, a hand-built cluster). Both ways must give the same answers: which
//! workload owns each pod, each Deployment's current pod-template-hash, a namespace's workloads.

#![allow(clippy::expect_used, clippy::panic)]

mod support;

use std::{collections::BTreeMap, sync::Arc};

use kube_spread::planner::{
    index::{Index, Owning},
    model::{Cluster, Owner, Workload, WorkloadKind},
};
use support::model::*;

fn in_namespace(mut workload: Workload, namespace: &str) -> Workload {
    workload.namespace = Arc::from(namespace);
    workload
}

/// Two namespaces with Deployments and a StatefulSet of the same names, a Deployment rolled to
/// a second ReplicaSet, a ReplicaSet whose owner reference names a Deployment by a stale uid
/// (its pods belong to no workload), and a StatefulSet named as a ReplicaSet is, whose pods
/// sort next to that ReplicaSet's, one of them naming the StatefulSet by an earlier uid.
fn cluster() -> Cluster {
    let web_abc = in_namespace(stateful_set("web-abc"), "media");
    let mut builder = ClusterBuilder::new()
        .nodes([node("n1"), node("n2")])
        .workload_on(&web_abc, &[("n1", 2)]);
    let mut stale = pod("web-abc-2").of(&web_abc).on("n2");
    if let Some(owner) = &mut stale.owner {
        owner.uid = "uid-of-an-earlier-web-abc".into();
    }
    builder = builder.pod(stale);
    for namespace in ["media", "apps"] {
        for workload in [
            deployment("web"),
            deployment("api"),
            stateful_set("db"),
            deployment("worker"),
        ] {
            let workload = in_namespace(workload, namespace);
            builder = builder.workload_on(&workload, &[("n1", 2), ("n2", 1)]);
        }
    }
    let mut cluster = builder.build();
    // media/web rolled: its newer ReplicaSet `web-def` has one pod.
    let web = in_namespace(deployment("web"), "media");
    let mut rolled = replica_set_of(&web);
    rolled.name = "web-def".to_owned();
    rolled.uid = "uid-web-def".to_owned();
    rolled.template_hash = Some("def".to_owned());
    rolled.revision = 2;
    cluster.replica_sets.push(rolled);
    let mut new_pod = pod("web-def-0").on("n2");
    new_pod.namespace = Arc::from("media");
    new_pod.owner = Some(Owner {
        kind: "ReplicaSet".into(),
        name: "web-def".into(),
        uid: "uid-web-def".into(),
    });
    cluster.pods.push(Arc::new(new_pod));
    // apps/api's ReplicaSet names its Deployment by a uid it no longer has.
    for replica_set in &mut cluster.replica_sets {
        if &*replica_set.namespace == "apps"
            && replica_set.name == "api-abc"
            && let Some(owner) = &mut replica_set.owner
        {
            owner.uid = "uid-of-a-deleted-api".into();
        }
    }
    cluster
}

/// `cluster` with its pods, workloads and ReplicaSets in key order.
fn in_key_order(mut cluster: Cluster) -> Cluster {
    cluster
        .pods
        .sort_by(|a, b| (&*a.namespace, &a.name).cmp(&(&*b.namespace, &b.name)));
    cluster
        .workloads
        .sort_by(|a, b| (&*a.namespace, a.kind, &a.name).cmp(&(&*b.namespace, b.kind, &b.name)));
    cluster
        .replica_sets
        .sort_by(|a, b| (&*a.namespace, &a.name).cmp(&(&*b.namespace, &b.name)));
    cluster
}

/// `cluster` with its pods, workloads and ReplicaSets out of key order.
fn out_of_order(cluster: Cluster) -> Cluster {
    let mut cluster = in_key_order(cluster);
    cluster.pods.reverse();
    cluster.workloads.reverse();
    cluster.replica_sets.reverse();
    cluster
}

fn key(workload: &Workload) -> String {
    format!(
        "{}/{:?}/{}",
        workload.namespace, workload.kind, workload.name
    )
}

/// Every answer of the index about owners, keyed by what was asked, with workloads named by
/// key (their positions differ between the two orders).
fn answers(cluster: &Cluster) -> BTreeMap<String, String> {
    let index = Index::new(cluster);
    let name = |id: Option<usize>| id.map(|id| key(index.workload(id)));
    let mut said = BTreeMap::new();
    for (id, pod) in cluster.pods.iter().enumerate() {
        said.insert(
            format!("pod {}/{}", pod.namespace, pod.name),
            format!("{:?}", name(index.pod_workload(id))),
        );
    }
    for namespace in ["apps", "media", "absent", ""] {
        let mut keys: Vec<String> = index
            .workloads_in(namespace)
            .iter()
            .map(|&id| key(index.workload(id)))
            .collect();
        keys.sort();
        said.insert(format!("workloads in {namespace:?}"), format!("{keys:?}"));
        for kind in [WorkloadKind::Deployment, WorkloadKind::StatefulSet] {
            for workload in ["web", "api", "db", "worker", "absent"] {
                let id = index.owning().workload_id(namespace, kind, workload);
                said.insert(
                    format!("{namespace}/{kind:?}/{workload}"),
                    format!("{:?} {:?}", name(id), id.map(|id| index.current_hash(id))),
                );
            }
        }
    }
    said
}

#[test]
fn lookups_by_bisection_over_lists_in_key_order_answer_as_the_maps_over_lists_out_of_order() {
    let sorted = answers(&in_key_order(cluster()));
    let unsorted = answers(&out_of_order(cluster()));
    assert_eq!(sorted, unsorted);
    assert_eq!(sorted.len(), 28 + 4 + 4 * 2 * 5, "{sorted:#?}");
}

#[test]
fn a_pod_belongs_to_the_workload_its_replica_set_names_by_name_and_uid() {
    for cluster in [in_key_order(cluster()), out_of_order(cluster())] {
        let said = answers(&cluster);
        assert_eq!(
            said["pod media/web-def-0"],
            "Some(\"media/Deployment/web\")"
        );
        assert_eq!(said["pod media/web-0"], "Some(\"media/Deployment/web\")");
        assert_eq!(said["pod apps/db-0"], "Some(\"apps/StatefulSet/db\")");
        assert_eq!(
            said["pod apps/api-0"], "None",
            "its ReplicaSet's owner uid is stale"
        );
        assert_eq!(
            said["pod media/web-abc-0"], "Some(\"media/StatefulSet/web-abc\")",
            "a StatefulSet named as the ReplicaSet before it"
        );
        assert_eq!(
            said["pod media/web-abc-2"], "None",
            "it names the StatefulSet by an earlier uid"
        );
        assert_eq!(
            said["media/Deployment/web"], "Some(\"media/Deployment/web\") Some(Some(\"def\"))",
            "the newest ReplicaSet's hash"
        );
        assert_eq!(
            said["apps/Deployment/api"], "Some(\"apps/Deployment/api\") Some(None)",
            "no ReplicaSet of its own"
        );
        assert_eq!(said["media/StatefulSet/web"], "None None");
        assert_eq!(
            said["workloads in \"absent\""], "[]",
            "a namespace without workloads"
        );
        assert_eq!(
            said["workloads in \"apps\""],
            "[\"apps/Deployment/api\", \"apps/Deployment/web\", \"apps/Deployment/worker\", \"apps/StatefulSet/db\"]"
        );
    }
}

#[test]
fn following_a_move_finds_a_workloads_pods_as_the_index_lists_them() {
    for cluster in [in_key_order(cluster()), out_of_order(cluster())] {
        let index = Index::new(&cluster);
        let owning = Owning::new(&cluster);
        for (id, workload) in cluster.workloads.iter().enumerate() {
            let found = owning.workload_id(&workload.namespace, workload.kind, &workload.name);
            assert_eq!(found, Some(id), "{}", key(workload));
            let listed: Vec<&str> = index
                .pods_of(id)
                .iter()
                .map(|&pod| index.pod(pod).name.as_str())
                .collect();
            let owned: Vec<&str> = owning
                .pods_of(id)
                .iter()
                .map(|pod| pod.name.as_str())
                .collect();
            assert_eq!(owned, listed, "{}", key(workload));
        }
        let web_abc = owning
            .workload_id("media", WorkloadKind::StatefulSet, "web-abc")
            .expect("the StatefulSet");
        let mut names: Vec<&str> = owning
            .pods_of(web_abc)
            .iter()
            .map(|pod| pod.name.as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["web-abc-0", "web-abc-1"]);
    }
}
