//! The committed CRD (`crds/spreadpolicy.yaml`) is exactly what `kube-spread crd` prints, and
//! reads back as the same CustomResourceDefinition.

use std::{env, fs};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_spread::api::{crd, crd_yaml};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/spreadpolicy.yaml");

fn first_difference(committed: &str, generated: &str) -> String {
    let line = committed
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
    let show = |text: &str| text.lines().nth(line).unwrap_or("<end of file>").to_owned();
    format!(
        "first difference at line {}:\n  committed: {}\n  generated: {}",
        line + 1,
        show(committed),
        show(generated)
    )
}

#[test]
fn the_committed_crd_is_what_kube_spread_crd_prints() {
    let generated = crd_yaml().expect("the CRD renders as YAML");
    if env::var("KUBE_SPREAD_BLESS").as_deref() == Ok("1") {
        fs::write(COMMITTED, &generated).expect("crds/spreadpolicy.yaml is writable");
        return;
    }
    let committed = fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "crds/spreadpolicy.yaml is out of date with the SpreadPolicy types in src/api/.\n\
         Regenerate it with:\n\n    KUBE_SPREAD_BLESS=1 cargo test --test crd\n\n\
         and commit the result. {}",
        first_difference(&committed, &generated)
    );
}

#[test]
fn the_crd_yaml_reads_back_as_the_same_crd() {
    let yaml = crd_yaml().expect("the CRD renders as YAML");
    let read: CustomResourceDefinition =
        serde_saphyr::from_str(&yaml).expect("the CRD YAML parses");
    assert_eq!(read, crd());
}

#[test]
fn the_crd_serves_spreadpolicies_in_kubespread_io_v1alpha1_with_a_status_subresource() {
    let crd = crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("spreadpolicies.kubespread.io")
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version.served && version.storage);
    assert!(
        version
            .subresources
            .as_ref()
            .is_some_and(|s| s.status.is_some())
    );
}
