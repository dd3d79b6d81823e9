//! The docs say what the code does: `docs/crd-reference.md` is generated from the CRD schema,
//! the example workloads of `docs/e2e/` are valid SpreadPolicies, and the operations guide names
//! the field manager, group label, condition reasons and metrics the code uses.

// Test helpers read fixtures and fail the test with a message when they are missing.
#![allow(clippy::panic, clippy::expect_used)]

use std::{env, fs};

use kube_spread::{
    api::{FIELD_MANAGER, GROUP_LABEL, IGNORE_ANNOTATION, conditions, reference, validate_policy},
    metrics::ControllerMetrics,
};
use serde_json::Value;

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/crd-reference.md");
const OPERATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md");
const E2E_WORKLOADS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/e2e/homelab.yaml");

fn read(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

#[test]
fn the_crd_reference_is_generated_from_the_schema() {
    let generated = reference::crd_reference().expect("the reference renders");
    if env::var("KUBE_SPREAD_BLESS").as_deref() == Ok("1") {
        fs::write(REFERENCE, &generated).expect("docs/crd-reference.md is writable");
        return;
    }
    let committed = fs::read_to_string(REFERENCE).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "docs/crd-reference.md is out of date with the SpreadPolicy schema.\n\
             Regenerate it with:\n\n    KUBE_SPREAD_BLESS=1 cargo test --test docs\n\n\
             First difference at line {}:\n  committed: {}\n  generated: {}",
            line + 1,
            committed.lines().nth(line).unwrap_or("<end of file>"),
            generated.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn the_crd_reference_documents_every_spec_field_with_its_default() {
    let text = reference::crd_reference().expect("the reference renders");
    for field in [
        "`spec.constraints[].maxSkew`",
        "`spec.constraints[].matchLabelKeys`",
        "`spec.rebalance.stabilizationWindow`",
        "`spec.rebalance.moveStrategy`",
        "`spec.statefulSetWhenUnsatisfiable`",
        "`status.rebalance.phase`",
    ] {
        assert!(text.contains(field), "the reference lacks {field}");
    }
    let row = text
        .lines()
        .find(|l| l.starts_with("| `spec.rebalance.cooldown`"))
        .expect("a row for spec.rebalance.cooldown");
    assert!(row.contains("`\"30s\"`"), "its default is shown: {row}");
    assert!(row.contains("pattern"), "its validation is shown: {row}");
    let rules = text.matches("CEL `").count();
    assert!(rules >= 6, "every CEL rule is listed, found {rules}");
}

#[test]
fn the_e2e_example_policies_are_valid_spreadpolicies() {
    let text = read(E2E_WORKLOADS);
    let mut policies = 0;
    for document in text.split("\n---\n") {
        let object: Value = serde_saphyr::from_str(document).expect("each document is YAML");
        if object.get("kind").and_then(Value::as_str) != Some("SpreadPolicy") {
            continue;
        }
        policies += 1;
        if let Err(invalid) = validate_policy(&object) {
            panic!("{document}\nis refused: {invalid}");
        }
    }
    assert!(
        policies >= 2,
        "docs/e2e/homelab.yaml holds the SpreadPolicies it documents"
    );
}

#[test]
fn the_operations_guide_names_what_the_code_uses() {
    let text = read(OPERATIONS);
    for needle in [FIELD_MANAGER, GROUP_LABEL, IGNORE_ANNOTATION] {
        assert!(
            text.contains(needle),
            "docs/operations.md does not mention {needle}"
        );
    }
    for condition in [
        conditions::READY,
        conditions::BALANCED,
        conditions::REBALANCING,
        conditions::DEGRADED,
    ] {
        assert!(
            text.contains(&format!("`{condition}`")),
            "docs/operations.md does not explain the {condition} condition"
        );
    }
    for reason in conditions::Reason::ALL {
        assert!(
            text.contains(&format!("`{reason}`")),
            "docs/operations.md does not explain the reason {reason}"
        );
    }
}

#[test]
fn the_operations_guide_lists_every_metric_the_controller_exports() {
    let metrics = ControllerMetrics::new().expect("metrics");
    // A labelled family is exported once it has a series; give each one.
    metrics.node_pods.with_label_values(&["n1"]).set(1);
    metrics
        .policy_skew
        .with_label_values(&["ns", "p", "zone"])
        .set(1);
    metrics
        .policy_balanced
        .with_label_values(&["ns", "p"])
        .set(1);
    metrics
        .policy_blocked
        .with_label_values(&["ns", "p", "PdbBlocked"])
        .set(1);
    metrics.moves.with_label_values(&["evicted"]).inc();
    metrics.patches.with_label_values(&["applied"]).inc();
    metrics.reconcile_errors.with_label_values(&["e"]).inc();
    metrics.invalid_objects.with_label_values(&["Pod"]).inc();
    let exported = metrics.encode().expect("encode");
    let families: Vec<&str> = exported
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        families.len() >= 10,
        "expected every family to be exported, got {families:?}"
    );
    let text = read(OPERATIONS);
    for family in families {
        assert!(
            text.contains(&format!("| `{family}` |")),
            "docs/operations.md's metrics table has no row for {family}"
        );
    }
}

/// Files a user copies YAML from: the README, the guides, the chart's README and the examples.
fn documents_users_copy_yaml_from() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("README.md"),
        root.join("charts/kube-spread/README.md"),
    ];
    for folder in ["docs", "docs/e2e", "examples", "scenarios"] {
        let entries = fs::read_dir(root.join(folder)).expect("the folder is readable");
        files.extend(
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.is_file()),
        );
    }
    files
}

#[test]
fn the_docs_quote_mode_off_because_yaml_reads_a_bare_off_as_false() {
    for path in documents_users_copy_yaml_from() {
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            let Some((_, value)) = line.split_once("mode:") else {
                continue;
            };
            let value = value.trim_start();
            let bare_boolean = ["Off", "On", "off", "on"].iter().any(|word| {
                value.strip_prefix(word).is_some_and(|rest| {
                    !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                })
            });
            assert!(
                !bare_boolean,
                "{}:{} writes an unquoted mode, which YAML reads as a boolean: {line}",
                path.display(),
                number + 1,
            );
        }
    }
}
