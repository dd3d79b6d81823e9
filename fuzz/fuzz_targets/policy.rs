//! A SpreadPolicy as it arrives from the API server or a snapshot: JSON decoded into the typed
//! `SpreadPolicy` (what the controller's watch does), validated and defaulted against the CRD's
//! schema and CEL rules (what the simulated API server admits), and converted into the planner's
//! policy (what a snapshot's policies go through). Each may refuse; none may panic.
#![no_main]

use kube_spread::api::SpreadPolicy;
use kube_spread::sim::apiserver::validation::validate_policy;
use kube_spread::snapshot::convert;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(typed) = serde_json::from_slice::<SpreadPolicy>(data) {
        let _ = convert::policy(&typed);
        let _ = serde_json::to_value(&typed);
    }
    let Ok(object) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(defaulted) = validate_policy(&object) {
        // What the API server stored must decode for the controller.
        let _ = serde_json::from_value::<SpreadPolicy>(defaulted);
    }
    let _ = convert::policy_object(&object);
});
