//! The SpreadPolicy CustomResourceDefinition, and its YAML as committed in `crds/` and printed
//! by `kube-spread crd`. Generated from the Rust types; never edited by hand.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::SpreadPolicy;

/// Why the CRD could not be rendered as YAML.
#[derive(Debug, thiserror::Error)]
pub enum RenderCrd {
    /// The YAML serializer refused the CRD.
    #[error("could not render the SpreadPolicy CRD as YAML: {0}")]
    Yaml(#[from] serde_saphyr::SerializeError),
}

/// The SpreadPolicy CRD, with its OpenAPI schema and CEL rules.
pub fn crd() -> CustomResourceDefinition {
    SpreadPolicy::crd()
}

/// The CRD as YAML: exactly what `crds/spreadpolicy.yaml` holds and `kube-spread crd` prints.
pub fn crd_yaml() -> Result<String, RenderCrd> {
    Ok(serde_saphyr::to_string(&crd())?)
}
