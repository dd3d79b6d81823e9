//! `kube-spread simulate`: the built-in homelab-recovery scenario through the library and the
//! binary, and the served simulated cluster driven by the real kubectl.
// Fixtures panic on setup failures, as tests do.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, clippy::print_stdout)]

use kube_spread::sim::{
    report::{Report, text},
    scenario::{Scenario, Simulation},
};

async fn homelab() -> Report {
    let scenario = Scenario::homelab_recovery().expect("scenario");
    Simulation::new(scenario)
        .expect("simulation")
        .run()
        .await
        .expect("run")
}

#[tokio::test(start_paused = true)]
async fn without_a_controller_the_recovered_node_stays_nearly_empty() {
    let report = homelab().await;
    let mut story = Vec::new();
    text::story(&report, &mut story).expect("story");
    println!("{}", String::from_utf8_lossy(&story));
    let node = |name: &str| {
        report
            .nodes
            .iter()
            .find(|n| n.name == name)
            .cloned()
            .expect("node")
    };
    let (h2, h3, h4) = (node("homelab-02"), node("homelab-03"), node("homelab-04"));
    assert!(report.cluster_seconds >= 7200);
    assert!(h2.pods_before >= 12, "{h2:?}");
    assert_eq!(h2.pods_at_end, 4, "only its DaemonSet pods");
    assert!(h3.pods_at_end >= h2.pods_at_end + 10, "{h3:?}");
    assert!(h4.pods_at_end >= h2.pods_at_end + 10, "{h4:?}");
}
