//! What `kube-spread plan --snapshot FILE` and `explain` do with the file: read it, then plan
//! the cluster it holds and explain its first pod. None of it may panic, hang or run out of memory.
#![no_main]

use kube_spread::planner::{self, PlanOptions, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The CLI reads the file as UTF-8 text and refuses anything else before the reader runs.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(snapshot) = kube_spread::snapshot::read(text) else {
        return;
    };
    let cluster = &snapshot.cluster;
    for source in [
        Source::Policies,
        Source::PodConstraints {
            min_pod_age: std::time::Duration::from_secs(300),
        },
    ] {
        let plan = planner::plan(
            cluster,
            &PlanOptions {
                now: jiff::Timestamp::from_second(1_760_950_000).unwrap_or_default(),
                namespace: None,
                policy: None,
                source,
            },
        );
        let _ = serde_json::to_writer(std::io::sink(), &plan);
    }
    if let Some(pod) = cluster.pods.first() {
        let _ = planner::explain(cluster, &pod.namespace, &pod.name);
    }
});
