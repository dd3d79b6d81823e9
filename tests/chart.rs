//! The Helm chart ships what the crate generates: the same CRD bytes as `crds/`, an appVersion
//! equal to the crate version, and a securityContext that runs as the image's USER. The rendered
//! chart itself is checked by `.ci/chart` with real Helm.

// Test helpers read fixtures and fail the test with a message when they are missing.
#![allow(clippy::panic, clippy::expect_used)]

use std::{env, fs};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    fs::read_to_string(format!("{ROOT}/{path}"))
        .unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

fn yaml(path: &str) -> Value {
    serde_saphyr::from_str(&read(path))
        .unwrap_or_else(|error| panic!("{path} is not YAML: {error}"))
}

#[test]
fn the_chart_ships_the_committed_crds_byte_for_byte() {
    for (file, crd) in kube_spread::api::crds() {
        let chart_crd = format!("charts/kube-spread/crds/{file}");
        let generated = kube_spread::api::crd_yaml_of(&crd).expect("the CRD renders as YAML");
        if env::var("KUBE_SPREAD_BLESS").as_deref() == Ok("1") {
            fs::write(format!("{ROOT}/{chart_crd}"), &generated)
                .expect("the chart's crds/ is writable");
            continue;
        }
        assert!(
            read(&chart_crd) == generated,
            "{chart_crd} is not what `kube-spread crd` prints; regenerate it with\n\n    \
             KUBE_SPREAD_BLESS=1 cargo test --test crd --test chart\n"
        );
        assert!(
            read(&chart_crd) == read(&format!("crds/{file}")),
            "{chart_crd} differs from crds/{file}; regenerate both with\n\n    \
             KUBE_SPREAD_BLESS=1 cargo test --test crd --test chart\n"
        );
    }
}

#[test]
fn the_chart_app_version_is_the_crate_version() {
    let chart = yaml("charts/kube-spread/Chart.yaml");
    assert_eq!(
        chart["appVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "Chart.yaml appVersion"
    );
    assert_eq!(chart["apiVersion"].as_str(), Some("v2"));
    assert!(
        chart["version"].as_str().is_some(),
        "Chart.yaml has a version"
    );
}

#[test]
fn the_chart_defaults_run_as_the_images_user() {
    let dockerfile = read("Dockerfile");
    let final_stage = dockerfile.rsplit("\nFROM ").next().expect("a final stage");
    let user = final_stage
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the final stage sets USER");
    let values = yaml("charts/kube-spread/values.yaml");
    for context in ["podSecurityContext", "securityContext"] {
        let id = |field: &str| values[context][field].as_i64().expect("a numeric id");
        assert_eq!(
            format!("{}:{}", id("runAsUser"), id("runAsGroup")),
            user.trim(),
            "{context} runs as the image's USER"
        );
    }
    assert_eq!(
        values["securityContext"]["readOnlyRootFilesystem"],
        Value::Bool(true)
    );
    assert_eq!(
        values["securityContext"]["allowPrivilegeEscalation"],
        Value::Bool(false)
    );
}

#[test]
fn the_values_schema_is_strict_json() {
    let schema: Value =
        serde_json::from_str(&read("charts/kube-spread/values.schema.json")).expect("JSON");
    assert_eq!(
        schema["additionalProperties"],
        Value::Bool(false),
        "unknown top-level values are refused"
    );
    let values = yaml("charts/kube-spread/values.yaml");
    let declared = schema["properties"].as_object().expect("properties");
    for key in values.as_object().expect("values.yaml is a map").keys() {
        assert!(
            declared.contains_key(key),
            "values.yaml key {key} is not in values.schema.json"
        );
    }
}
