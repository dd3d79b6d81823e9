//! The real kubectl (v1.32, on PATH) against the served simulated API: ClusterSpreadPolicies
//! are applied, listed as `cspol` and explained like any CRD, and invalid ones are refused by
//! the CRD's schema and CEL rules with a message that names the field.

mod support;

use support::kubectl::Kubectl;
use support::objects::sim;

fn policy(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: kubespread.io/v1alpha1\nkind: ClusterSpreadPolicy\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

const HOSTNAME: &str = "  constraints:\n    - {maxSkew: 2, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_lists_and_explains_cluster_policies_and_the_crd_refuses_invalid_ones() {
    let sim = sim();
    let (address, server) = sim
        .serve("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("serve");
    let kubectl = Kubectl::new(address);
    let dir = kubectl.kubeconfig.parent().expect("dir").to_path_buf();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("manifest");
        path.to_string_lossy().into_owned()
    };

    let valid = write(
        "nodes.yaml",
        &policy(
            "nodes",
            &format!(
                "  namespaceSelector:\n    matchExpressions: [{{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system]}}]\n{HOSTNAME}"
            ),
        ),
    );
    let applied = kubectl.ok(&["apply", "-f", &valid]).await;
    assert_eq!(
        applied.stdout.trim(),
        "clusterspreadpolicy.kubespread.io/nodes created"
    );
    let listed = kubectl.ok(&["get", "cspol"]).await;
    assert!(
        listed
            .columns()
            .starts_with("NAME SKEW BALANCED REBALANCING WORKLOADS AGE\nnodes "),
        "{}",
        listed.stdout
    );
    // The API server filled in the defaults, as for SpreadPolicies.
    let stored = kubectl
        .ok(&[
            "get",
            "clusterspreadpolicy",
            "nodes",
            "-o",
            "jsonpath={.spec.rebalance.maxMovesPerHour} {.spec.kinds}",
        ])
        .await;
    assert_eq!(stored.stdout.trim(), r#"20 ["Deployment","StatefulSet"]"#);
    let explained = kubectl
        .ok(&["explain", "clusterspreadpolicy.spec.namespaceSelector"])
        .await;
    assert!(
        explained.stdout.contains("kubernetes.io/metadata.name"),
        "{}",
        explained.stdout
    );

    let refused = [
        (
            "zero-skew",
            "  constraints:\n    - {maxSkew: 0, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}\n",
            "spec.constraints[0].maxSkew",
        ),
        (
            "no-constraints",
            "  constraints: []\n",
            "constraints must name at least one topology key",
        ),
        (
            "label-keys",
            "  constraints:\n    - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, matchLabelKeys: [app]}\n",
            "matchLabelKeys is not supported by a ClusterSpreadPolicy",
        ),
        (
            "bad-operator",
            &format!(
                "  namespaceSelector:\n    matchExpressions: [{{key: team, operator: Like, values: [a]}}]\n{HOSTNAME}"
            ),
            "spec.namespaceSelector.matchExpressions[0].operator",
        ),
        (
            "threshold-below-skew",
            &format!("{HOSTNAME}  rebalance: {{skewThreshold: 1}}\n"),
            "rebalance.skewThreshold must be at least every constraint's maxSkew",
        ),
    ];
    for (name, spec, message) in refused {
        let file = write(&format!("{name}.yaml"), &policy(name, spec));
        let run = kubectl.run(&["apply", "-f", &file]).await;
        assert!(!run.success, "{name} was accepted: {}", run.stdout);
        assert!(
            run.stderr
                .contains(&format!("The ClusterSpreadPolicy \"{name}\" is invalid")),
            "{name}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(message), "{name}: {}", run.stderr);
    }
    server.abort();
}
