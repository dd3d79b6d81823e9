//! A SpreadPolicy or ClusterSpreadPolicy as it arrives from the API server or a snapshot: JSON
//! decoded into the typed policy (what the controller's watches do), validated and defaulted
//! against the CRD's schema and CEL rules (what the simulated API server admits), and converted
//! into the planner's policy (what a snapshot's policies go through). Each may refuse; none may
//! panic.
#![no_main]

use kube_spread::api::{ClusterSpreadPolicy, SpreadPolicy};
use kube_spread::sim::apiserver::validation::{validate_cluster_policy, validate_policy};
use kube_spread::snapshot::convert;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(typed) = serde_json::from_slice::<SpreadPolicy>(data) {
        let _ = convert::policy(&typed);
        let _ = serde_json::to_value(&typed);
    }
    if let Ok(typed) = serde_json::from_slice::<ClusterSpreadPolicy>(data) {
        let _ = convert::cluster_policy(&typed);
        let _ = typed.spec.as_policy_spec().skew_threshold();
    }
    let Ok(object) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(defaulted) = validate_policy(&object) {
        // What the API server stored must decode for the controller.
        let _ = serde_json::from_value::<SpreadPolicy>(defaulted);
    }
    if let Ok(defaulted) = validate_cluster_policy(&object) {
        let _ = serde_json::from_value::<ClusterSpreadPolicy>(defaulted);
    }
    let _ = convert::policy_object(&object);
    let _ = convert::cluster_policy_object(&object);
});
