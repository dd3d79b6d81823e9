//! The CustomResourceDefinitions (SpreadPolicy, ClusterSpreadPolicy), and their YAML as committed
//! in `crds/` and printed by `kube-spread crd`. Generated from the Rust types; never edited by hand.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{ClusterSpreadPolicy, SpreadPolicy};

/// Why a CRD could not be rendered as YAML.
#[derive(Debug, thiserror::Error)]
pub enum RenderCrd {
    /// The YAML serializer refused the CRD.
    #[error("could not render a CRD as YAML: {0}")]
    Yaml(#[from] serde_saphyr::SerializeError),
}

/// The SpreadPolicy CRD, with its OpenAPI schema and CEL rules.
pub fn crd() -> CustomResourceDefinition {
    SpreadPolicy::crd()
}

/// The ClusterSpreadPolicy CRD, with its OpenAPI schema and CEL rules.
pub fn cluster_crd() -> CustomResourceDefinition {
    ClusterSpreadPolicy::crd()
}

/// Every CRD kube-spread serves, each with the file it is committed as under `crds/`.
pub fn crds() -> [(&'static str, CustomResourceDefinition); 2] {
    [
        ("spreadpolicy.yaml", crd()),
        ("clusterspreadpolicy.yaml", cluster_crd()),
    ]
}

/// One CRD as YAML: exactly what its file in `crds/` holds.
pub fn crd_yaml_of(crd: &CustomResourceDefinition) -> Result<String, RenderCrd> {
    Ok(serde_saphyr::to_string(crd)?)
}

/// The SpreadPolicy CRD as YAML (`crds/spreadpolicy.yaml`).
pub fn crd_yaml() -> Result<String, RenderCrd> {
    crd_yaml_of(&crd())
}

/// Every CRD as one YAML stream, as `kube-spread crd` prints it for `kubectl apply -f -`.
pub fn crds_yaml() -> Result<String, RenderCrd> {
    let mut stream = String::new();
    for (_, crd) in crds() {
        stream.push_str("---\n");
        stream.push_str(&crd_yaml_of(&crd)?);
    }
    Ok(stream)
}
