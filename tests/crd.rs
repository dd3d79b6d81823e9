//! The committed CRDs (`crds/spreadpolicy.yaml`, `crds/clusterspreadpolicy.yaml`) are exactly
//! what `kube-spread crd` prints, and read back as the same CustomResourceDefinitions.

use std::{env, fs};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_spread::api::{cluster_crd, crd, crd_yaml_of, crds, crds_yaml};

fn committed(file: &str) -> String {
    format!("{}/crds/{file}", env!("CARGO_MANIFEST_DIR"))
}

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
fn the_committed_crds_are_what_kube_spread_crd_prints() {
    for (file, crd) in crds() {
        let generated = crd_yaml_of(&crd).expect("the CRD renders as YAML");
        let path = committed(file);
        if env::var("KUBE_SPREAD_BLESS").as_deref() == Ok("1") {
            fs::write(&path, &generated).expect("crds/ is writable");
            continue;
        }
        let on_disk = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "crds/{file} is out of date with the types in src/api/.\n\
             Regenerate it with:\n\n    KUBE_SPREAD_BLESS=1 cargo test --test crd\n\n\
             and commit the result. {}",
            first_difference(&on_disk, &generated)
        );
    }
}

#[test]
fn kube_spread_crd_prints_every_crd_as_one_stream_kubectl_can_apply() {
    let stream = crds_yaml().expect("the CRDs render as YAML");
    let documents: Vec<&str> = stream
        .split("---\n")
        .filter(|document| !document.is_empty())
        .collect();
    assert_eq!(documents.len(), 2);
    for (document, (_, crd)) in documents.into_iter().zip(crds()) {
        let read: CustomResourceDefinition =
            serde_saphyr::from_str(document).expect("each document parses");
        assert_eq!(read, crd);
    }
}

#[test]
fn the_cluster_crd_serves_clusterspreadpolicies_cluster_scoped_as_cspol_with_a_status_subresource()
{
    let crd = cluster_crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("clusterspreadpolicies.kubespread.io")
    );
    assert_eq!(crd.spec.scope, "Cluster");
    assert_eq!(
        crd.spec.names.short_names.as_deref(),
        Some(&["cspol".to_owned()][..])
    );
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
