//! What kube-apiserver accepts and refuses as a SpreadPolicy, rule by rule: every CEL rule in
//! src/api/policy.rs, every schema limit, and the defaults an empty spec gets. Messages are the
//! apiserver's 422 wording, which is what `kubectl apply` shows users.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a test crate: its helpers fail the test by panicking"
)]

use kube_spread::{
    api::SpreadPolicySpec,
    sim::apiserver::validation::{
        CrdSchema, Invalid, Reason, UnknownFields, spread_policy_schema, validate_policy,
    },
};
use serde_json::{Value, json};

fn object(spec: Value) -> Value {
    json!({
        "apiVersion": "kubespread.io/v1alpha1",
        "kind": "SpreadPolicy",
        "metadata": {"name": "apps", "namespace": "media"},
        "spec": spec,
    })
}

/// The defaulted spec of an accepted policy.
#[track_caller]
fn accepted(spec: Value) -> Value {
    match validate_policy(&object(spec.clone())) {
        Ok(defaulted) => defaulted["spec"].clone(),
        Err(invalid) => panic!("refused {spec}: {invalid}"),
    }
}

/// Each cause of a refusal as `field: message`.
#[track_caller]
fn refused(spec: Value) -> Vec<String> {
    match validate_policy(&object(spec.clone())) {
        Ok(_) => panic!("accepted {spec}"),
        Err(invalid) => invalid.causes.iter().map(ToString::to_string).collect(),
    }
}

#[track_caller]
fn refused_with(spec: Value, expected: &str) {
    let causes = refused(spec.clone());
    assert!(
        causes.iter().any(|cause| cause == expected),
        "refusing {spec}, expected the cause\n  {expected}\nbut got\n  {}",
        causes.join("\n  ")
    );
}

fn constraint(key: &str, when: &str) -> Value {
    json!({"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": when})
}

const RULES_NOT_CHECKED: &str = "<nil>: Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

// --- defaults ---------------------------------------------------------------------------

#[test]
fn an_empty_spec_gets_the_documented_defaults() {
    assert_eq!(
        accepted(json!({})),
        json!({
            "selector": {},
            "kinds": ["Deployment", "StatefulSet"],
            "scope": "Workload",
            "constraints": [],
            "rollout": {"maxConcurrent": 1},
            "rebalance": {
                "mode": "Evict",
                "trigger": "NodeRecovery",
                "stabilizationWindow": "5m",
                "recoveryWindow": "1h",
                "maxConcurrentMoves": 1,
                "cooldown": "30s",
                "readyTimeout": "10m",
                "maxMovesPerHour": 20,
                "minPodAge": "5m",
                "moveStrategy": "Evict",
            },
            "scaleDown": "KeepSpread",
        })
    );
}

#[test]
fn the_schema_defaults_agree_with_the_rust_defaults() {
    let from_schema: SpreadPolicySpec =
        serde_json::from_value(accepted(json!({}))).expect("the defaulted spec deserializes");
    let from_serde: SpreadPolicySpec =
        serde_json::from_value(json!({})).expect("an empty spec deserializes");
    assert_eq!(from_schema, from_serde);
}

#[test]
fn a_partly_written_section_keeps_what_is_written_and_defaults_the_rest() {
    let spec = accepted(json!({"rebalance": {"mode": "DryRun", "cooldown": "1m"}}));
    assert_eq!(spec["rebalance"]["mode"], "DryRun");
    assert_eq!(spec["rebalance"]["cooldown"], "1m");
    assert_eq!(spec["rebalance"]["minPodAge"], "5m");
    assert_eq!(spec["rebalance"]["maxMovesPerHour"], 20);
    let selector = accepted(
        json!({"selector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}),
    );
    assert_eq!(
        selector["selector"]["matchExpressions"][0]["values"],
        json!([])
    );
}

#[test]
fn a_null_on_a_field_that_is_not_nullable_takes_the_default() {
    let spec =
        accepted(json!({"rebalance": null, "scope": null, "rollout": {"maxConcurrent": null}}));
    assert_eq!(spec["rebalance"].get("skewThreshold"), None);
    assert_eq!(spec["scope"], "Workload");
    assert_eq!(spec["rollout"]["maxConcurrent"], 1);
    let spec = accepted(json!({"statefulSetWhenUnsatisfiable": null}));
    assert_eq!(spec["statefulSetWhenUnsatisfiable"], Value::Null);
}

// --- CEL rules ----------------------------------------------------------------------------

#[test]
fn min_domains_is_allowed_only_with_do_not_schedule() {
    let mut hard = constraint("kubernetes.io/hostname", "DoNotSchedule");
    hard["minDomains"] = json!(3);
    accepted(json!({"constraints": [hard]}));

    let mut soft = constraint("kubernetes.io/hostname", "ScheduleAnyway");
    soft["minDomains"] = json!(3);
    refused_with(
        json!({"constraints": [soft]}),
        "spec.constraints[0]: Invalid value: \"object\": minDomains is only allowed with whenUnsatisfiable: DoNotSchedule",
    );
}

#[test]
fn max_skew_must_be_at_least_one() {
    accepted(json!({"constraints": [constraint("kubernetes.io/hostname", "DoNotSchedule")]}));
    let mut zero = constraint("kubernetes.io/hostname", "DoNotSchedule");
    zero["maxSkew"] = json!(0);
    let causes = refused(json!({"constraints": [zero]}));
    assert_eq!(
        causes,
        [
            "spec.constraints[0].maxSkew: Invalid value: 0: spec.constraints[0].maxSkew in body should be greater than or equal to 1",
            "spec.constraints[0]: Invalid value: \"object\": maxSkew must be at least 1",
        ]
    );
}

#[test]
fn a_topology_key_and_when_unsatisfiable_pair_may_appear_only_once() {
    accepted(json!({"constraints": [
        constraint("kubernetes.io/hostname", "DoNotSchedule"),
        constraint("kubernetes.io/hostname", "ScheduleAnyway"),
        constraint("topology.kubernetes.io/zone", "DoNotSchedule"),
    ]}));
    let twice = json!({"constraints": [
        constraint("kubernetes.io/hostname", "DoNotSchedule"),
        constraint("kubernetes.io/hostname", "DoNotSchedule"),
    ]});
    let causes = refused(twice);
    assert_eq!(
        causes,
        [
            "spec.constraints[1]: Duplicate value: map[string]interface {}{\"topologyKey\":\"kubernetes.io/hostname\", \"whenUnsatisfiable\":\"DoNotSchedule\"}",
            "spec: Invalid value: \"object\": constraints must not repeat a (topologyKey, whenUnsatisfiable) pair",
        ]
    );
}

#[test]
fn scope_policy_refuses_pod_template_hash_in_match_label_keys() {
    let mut hashed = constraint("kubernetes.io/hostname", "DoNotSchedule");
    hashed["matchLabelKeys"] = json!(["app", "pod-template-hash"]);
    accepted(json!({"scope": "Workload", "constraints": [hashed.clone()]}));
    refused_with(
        json!({"scope": "Policy", "constraints": [hashed]}),
        "spec: Invalid value: \"object\": matchLabelKeys must not contain pod-template-hash with scope Policy: it would split the group per ReplicaSet",
    );
    let mut by_app = constraint("kubernetes.io/hostname", "DoNotSchedule");
    by_app["matchLabelKeys"] = json!(["app"]);
    accepted(
        json!({"scope": "Policy", "constraints": [by_app, constraint("topology.kubernetes.io/zone", "ScheduleAnyway")]}),
    );
}

#[test]
fn the_skew_threshold_must_be_at_least_every_max_skew() {
    let mut wide = constraint("kubernetes.io/hostname", "DoNotSchedule");
    wide["maxSkew"] = json!(2);
    refused_with(
        json!({"constraints": [wide.clone()], "rebalance": {"skewThreshold": 1}}),
        "spec: Invalid value: \"object\": rebalance.skewThreshold must be at least every constraint's maxSkew (the scheduler itself allows skew up to maxSkew); leave it unset to follow maxSkew",
    );
    accepted(json!({"constraints": [wide.clone()]}));
    accepted(json!({"constraints": [wide.clone()], "rebalance": {"skewThreshold": 2}}));
    accepted(json!({"constraints": [wide], "rebalance": {"skewThreshold": 5}}));
}

#[test]
fn selector_requirements_have_values_exactly_for_in_and_not_in() {
    let message = "spec.selector.matchExpressions[0]: Invalid value: \"object\": values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist";
    for requirement in [
        json!({"key": "tier", "operator": "In"}),
        json!({"key": "tier", "operator": "NotIn", "values": []}),
        json!({"key": "tier", "operator": "Exists", "values": ["web"]}),
        json!({"key": "tier", "operator": "DoesNotExist", "values": ["web"]}),
    ] {
        refused_with(
            json!({"selector": {"matchExpressions": [requirement]}}),
            message,
        );
    }
    for requirement in [
        json!({"key": "tier", "operator": "In", "values": ["web", "api"]}),
        json!({"key": "tier", "operator": "NotIn", "values": ["db"]}),
        json!({"key": "tier", "operator": "Exists"}),
        json!({"key": "tier", "operator": "DoesNotExist", "values": []}),
    ] {
        accepted(json!({"selector": {"matchExpressions": [requirement]}}));
    }
}

#[test]
fn topology_keys_must_be_label_keys() {
    for key in [
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "rack",
        "example.com/rack_row.2",
    ] {
        accepted(json!({"constraints": [constraint(key, "DoNotSchedule")]}));
    }
    for key in [
        "Bad Key!",
        "-rack",
        "rack-",
        "a/b/c",
        "Example.com/rack",
        "example.com/",
    ] {
        refused_with(
            json!({"constraints": [constraint(key, "DoNotSchedule")]}),
            "spec.constraints[0].topologyKey: Invalid value: \"string\": topologyKey must be a label key such as kubernetes.io/hostname or topology.kubernetes.io/zone",
        );
    }
}

#[test]
fn the_recovery_window_must_be_longer_than_zero() {
    for window in ["0", "0s", "0h0m"] {
        refused_with(
            json!({"rebalance": {"recoveryWindow": window}}),
            "spec.rebalance.recoveryWindow: Invalid value: \"string\": recoveryWindow must be longer than 0s",
        );
    }
    for window in ["1ns", "1s", "1.5h", "2h0m5s"] {
        accepted(json!({"rebalance": {"recoveryWindow": window}}));
    }
}

#[test]
fn the_ready_timeout_must_be_at_least_one_second() {
    for timeout in ["0", "500ms", "999999us"] {
        refused_with(
            json!({"rebalance": {"readyTimeout": timeout}}),
            "spec.rebalance.readyTimeout: Invalid value: \"string\": readyTimeout must be at least 1s",
        );
    }
    for timeout in ["1s", "1000ms", "10m"] {
        accepted(json!({"rebalance": {"readyTimeout": timeout}}));
    }
}

/// kube-apiserver's CEL (cel-go, Go's `time.ParseDuration`) reads `µs`; kube-cel 0.8's
/// `duration()` does not, so such a duration is refused here with an evaluation error although
/// the apiserver accepts it. Pinned so that a kube-cel upgrade that fixes it is noticed.
#[test]
fn a_microsecond_duration_in_a_cel_checked_field_is_refused_by_kube_cel_alone() {
    let causes = refused(json!({"rebalance": {"recoveryWindow": "90µs"}}));
    // One evaluation error per rule of the field (it has two).
    assert_eq!(causes.len(), 2, "{causes:?}");
    assert!(
        causes.iter().all(|cause| cause.starts_with(
            "spec.rebalance.recoveryWindow: Invalid value: \"string\": rule evaluation error"
        )),
        "{causes:?}"
    );
    // Every duration field has a CEL bound, so each refuses µs here alone.
    assert_eq!(refused(json!({"rebalance": {"cooldown": "90µs"}})).len(), 1);
}

// --- schema rules -------------------------------------------------------------------------

#[test]
fn durations_must_be_written_as_go_durations() {
    for field in [
        "stabilizationWindow",
        "recoveryWindow",
        "cooldown",
        "readyTimeout",
        "minPodAge",
    ] {
        for bad in ["5 minutes", "10", "-5m", "1d", "5M", ""] {
            refused_with(
                json!({"rebalance": {field: bad}}),
                &format!(
                    "spec.rebalance.{field}: Invalid value: {bad:?}: spec.rebalance.{field} in body should match '^(0|([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$'"
                ),
            );
        }
        for good in ["1h30m", "1500ms", "1.5h", "45s"] {
            accepted(json!({"rebalance": {field: good}}));
        }
    }
}

#[test]
fn a_policy_has_at_most_eight_constraints() {
    let keys: Vec<String> = (0..9).map(|n| format!("example.com/level-{n}")).collect();
    let nine: Vec<Value> = keys
        .iter()
        .map(|key| constraint(key, "DoNotSchedule"))
        .collect();
    let causes = refused(json!({"constraints": nine.clone()}));
    assert_eq!(
        causes,
        [
            "spec.constraints: Too many: 9: must have at most 8 items",
            RULES_NOT_CHECKED
        ]
    );
    accepted(json!({"constraints": nine[..8].to_vec()}));
}

#[test]
fn enums_accept_only_their_values() {
    let cases = [
        (
            json!({"scope": "Group"}),
            "spec.scope: Unsupported value: \"Group\": supported values: \"Workload\", \"Policy\"",
        ),
        (
            json!({"kinds": ["DaemonSet"]}),
            "spec.kinds[0]: Unsupported value: \"DaemonSet\": supported values: \"Deployment\", \"StatefulSet\"",
        ),
        (
            json!({"rebalance": {"mode": "Sometimes"}}),
            "spec.rebalance.mode: Unsupported value: \"Sometimes\": supported values: \"Evict\", \"DryRun\", \"Off\"",
        ),
        (
            json!({"rebalance": {"trigger": "Always"}}),
            "spec.rebalance.trigger: Unsupported value: \"Always\": supported values: \"NodeRecovery\", \"Continuous\"",
        ),
        (
            json!({"rebalance": {"moveStrategy": "Restart"}}),
            "spec.rebalance.moveStrategy: Unsupported value: \"Restart\": supported values: \"Evict\", \"Auto\"",
        ),
        (
            json!({"statefulSetWhenUnsatisfiable": "Never"}),
            "spec.statefulSetWhenUnsatisfiable: Unsupported value: \"Never\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
        ),
        (
            json!({"constraints": [constraint("rack", "Maybe")]}),
            "spec.constraints[0].whenUnsatisfiable: Unsupported value: \"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
        ),
        (
            json!({"selector": {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]}}),
            "spec.selector.matchExpressions[0].operator: Unsupported value: \"Equals\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"",
        ),
    ];
    for (spec, expected) in cases {
        refused_with(spec, expected);
    }
    for policy in ["nodeAffinityPolicy", "nodeTaintsPolicy"] {
        let mut bad = constraint("rack", "DoNotSchedule");
        bad[policy] = json!("Sometimes");
        refused_with(
            json!({"constraints": [bad]}),
            &format!(
                "spec.constraints[0].{policy}: Unsupported value: \"Sometimes\": supported values: \"Honor\", \"Ignore\""
            ),
        );
        let mut good = constraint("rack", "DoNotSchedule");
        good[policy] = json!("Honor");
        accepted(json!({"constraints": [good]}));
    }
}

#[test]
fn numbers_stay_within_their_minimums_and_maximums() {
    let cases = [
        ("rollout", "maxConcurrent", 0, "greater than or equal to 1"),
        ("rollout", "maxConcurrent", 101, "less than or equal to 100"),
        (
            "rebalance",
            "maxConcurrentMoves",
            0,
            "greater than or equal to 1",
        ),
        (
            "rebalance",
            "maxConcurrentMoves",
            51,
            "less than or equal to 50",
        ),
        (
            "rebalance",
            "maxMovesPerHour",
            0,
            "greater than or equal to 1",
        ),
        (
            "rebalance",
            "maxMovesPerHour",
            10001,
            "less than or equal to 10000",
        ),
        (
            "rebalance",
            "skewThreshold",
            0,
            "greater than or equal to 1",
        ),
    ];
    for (section, field, value, bound) in cases {
        refused_with(
            json!({section: {field: value}}),
            &format!(
                "spec.{section}.{field}: Invalid value: {value}: spec.{section}.{field} in body should be {bound}"
            ),
        );
    }
    for (section, field, value) in [
        ("rollout", "maxConcurrent", 100),
        ("rebalance", "maxConcurrentMoves", 50),
        ("rebalance", "maxMovesPerHour", 10000),
    ] {
        accepted(json!({section: {field: value}}));
    }
    let mut no_domains = constraint("rack", "DoNotSchedule");
    no_domains["minDomains"] = json!(0);
    refused_with(
        json!({"constraints": [no_domains]}),
        "spec.constraints[0].minDomains: Invalid value: 0: spec.constraints[0].minDomains in body should be greater than or equal to 1",
    );
}

#[test]
fn kinds_name_one_or_two_distinct_workload_kinds() {
    refused_with(
        json!({"kinds": []}),
        "spec.kinds: Invalid value: 0: spec.kinds in body should have at least 1 items",
    );
    refused_with(
        json!({"kinds": ["Deployment", "Deployment"]}),
        "spec.kinds[1]: Duplicate value: \"Deployment\"",
    );
    refused_with(
        json!({"kinds": ["Deployment", "StatefulSet", "Deployment"]}),
        "spec.kinds: Too many: 3: must have at most 2 items",
    );
    assert_eq!(
        accepted(json!({"kinds": ["StatefulSet"]}))["kinds"],
        json!(["StatefulSet"])
    );
}

#[test]
fn strings_and_lists_have_length_limits() {
    let long_key = format!("example.com/{}", "k".repeat(310));
    refused_with(
        json!({"constraints": [constraint(&long_key, "DoNotSchedule")]}),
        "spec.constraints[0].topologyKey: Too long: may not be more than 317 bytes",
    );
    refused_with(
        json!({"constraints": [constraint("", "DoNotSchedule")]}),
        "spec.constraints[0].topologyKey: Invalid value: \"\": spec.constraints[0].topologyKey in body should be at least 1 chars long",
    );
    let mut keys = constraint("rack", "DoNotSchedule");
    keys["matchLabelKeys"] = json!(["app", "app"]);
    refused_with(
        json!({"constraints": [keys.clone()]}),
        "spec.constraints[0].matchLabelKeys[1]: Duplicate value: \"app\"",
    );
    keys["matchLabelKeys"] = json!((0..17).map(|n| format!("key-{n}")).collect::<Vec<_>>());
    refused_with(
        json!({"constraints": [keys]}),
        "spec.constraints[0].matchLabelKeys: Too many: 17: must have at most 16 items",
    );
    let expressions: Vec<Value> = (0..17)
        .map(|n| json!({"key": format!("key-{n}"), "operator": "Exists"}))
        .collect();
    refused_with(
        json!({"selector": {"matchExpressions": expressions}}),
        "spec.selector.matchExpressions: Too many: 17: must have at most 16 items",
    );
    refused_with(
        json!({"selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["v".repeat(64)]}]}}),
        "spec.selector.matchExpressions[0].values[0]: Too long: may not be more than 63 bytes",
    );
}

#[test]
fn constraints_need_max_skew_topology_key_and_when_unsatisfiable() {
    let causes = refused(json!({"constraints": [{"maxSkew": 1}]}));
    assert_eq!(
        causes,
        [
            "spec.constraints[0].topologyKey: Required value",
            "spec.constraints[0].whenUnsatisfiable: Required value",
            RULES_NOT_CHECKED,
        ]
    );
}

#[test]
fn values_of_the_wrong_type_are_refused_and_whole_floats_count_as_integers() {
    let mut quoted = constraint("rack", "DoNotSchedule");
    quoted["maxSkew"] = json!("1");
    refused_with(
        json!({"constraints": [quoted]}),
        "spec.constraints[0].maxSkew: Invalid value: \"string\": spec.constraints[0].maxSkew in body must be of type integer: \"string\"",
    );
    refused_with(
        json!({"rebalance": {"skewThreshold": 1.5}}),
        "spec.rebalance.skewThreshold: Invalid value: \"number\": spec.rebalance.skewThreshold in body must be of type integer: \"number\"",
    );
    refused_with(
        json!({"selector": {"matchLabels": {"app": 1}}}),
        "spec.selector.matchLabels.app: Invalid value: \"integer\": spec.selector.matchLabels.app in body must be of type string: \"integer\"",
    );
    let spec = accepted(json!({"rebalance": {"skewThreshold": 2.0}}));
    assert_eq!(spec["rebalance"]["skewThreshold"], json!(2));
    assert!(spec["rebalance"]["skewThreshold"].is_i64());
}

#[test]
fn unknown_fields_are_refused_by_our_tooling_and_pruned_with_a_warning_as_the_apiserver_does() {
    let typo = object(json!({"rebalance": {"maxskew": 2}, "extra": true}));
    let invalid = validate_policy(&typo).expect_err("unknown fields are refused");
    let causes: Vec<(Reason, String)> = invalid
        .causes
        .iter()
        .map(|cause| (cause.reason, cause.to_string()))
        .collect();
    assert_eq!(
        causes,
        [
            (
                Reason::UnknownField,
                "spec.extra: Unknown field: not declared in the schema".to_owned()
            ),
            (
                Reason::UnknownField,
                "spec.rebalance.maxskew: Unknown field: not declared in the schema".to_owned()
            ),
        ]
    );

    let schema = spread_policy_schema().expect("the CRD's schema loads");
    let pruned = schema
        .validate_with(&typo, UnknownFields::Prune)
        .expect("pruned, the policy is valid");
    assert_eq!(
        pruned.warnings,
        [
            "unknown field \"spec.extra\"",
            "unknown field \"spec.rebalance.maxskew\""
        ]
    );
    assert_eq!(pruned.object["spec"].get("extra"), None);
    assert_eq!(pruned.object["spec"]["rebalance"]["mode"], "Evict");
}

#[test]
fn a_policy_needs_a_valid_name_and_a_namespace() {
    let mut nameless = object(json!({}));
    nameless["metadata"] = json!({"namespace": "media"});
    let invalid = validate_policy(&nameless).expect_err("a name is required");
    assert_eq!(
        invalid.to_string(),
        format!(
            "SpreadPolicy.kubespread.io \"\" is invalid: [metadata.name: Required value: name or generateName is required, {RULES_NOT_CHECKED}]"
        )
    );

    let mut homeless = object(json!({}));
    homeless["metadata"] = json!({"name": "apps"});
    let invalid = validate_policy(&homeless).expect_err("a namespace is required");
    assert_eq!(
        invalid.causes[0].to_string(),
        "metadata.namespace: Required value"
    );

    let mut shouting = object(json!({}));
    shouting["metadata"]["name"] = json!("Apps");
    let invalid = validate_policy(&shouting).expect_err("names are lowercase");
    assert!(
        invalid.to_string().starts_with(
            "SpreadPolicy.kubespread.io \"Apps\" is invalid: metadata.name: Invalid value: \"Apps\": a lowercase RFC 1123 subdomain"
        ),
        "{invalid}"
    );

    let mut other_kind = object(json!({}));
    other_kind["apiVersion"] = json!("kubespread.io/v1");
    refused_with_object(
        &other_kind,
        "apiVersion: Invalid value: \"kubespread.io/v1\": must be kubespread.io/v1alpha1",
    );
}

#[track_caller]
fn refused_with_object(object: &Value, expected: &str) {
    let invalid: Invalid = validate_policy(object).expect_err("refused");
    assert!(
        invalid
            .causes
            .iter()
            .any(|cause| cause.to_string() == expected),
        "expected {expected}, got {invalid}"
    );
}

#[test]
fn the_message_reads_like_the_apiservers_422() {
    let mut zero = constraint("kubernetes.io/hostname", "DoNotSchedule");
    zero["maxSkew"] = json!(0);
    let invalid = validate_policy(&object(json!({"constraints": [zero]}))).expect_err("refused");
    assert_eq!(invalid.kind, "SpreadPolicy.kubespread.io");
    assert_eq!(invalid.name, "apps");
    assert_eq!(
        invalid.to_string(),
        "SpreadPolicy.kubespread.io \"apps\" is invalid: [spec.constraints[0].maxSkew: Invalid value: 0: spec.constraints[0].maxSkew in body should be greater than or equal to 1, spec.constraints[0]: Invalid value: \"object\": maxSkew must be at least 1]"
    );
    assert_eq!(invalid.causes[0].reason.cause_type(), "FieldValueInvalid");
    assert_eq!(invalid.causes[0].field, "spec.constraints[0].maxSkew");
    assert_eq!(
        invalid.causes[0].message,
        "Invalid value: 0: spec.constraints[0].maxSkew in body should be greater than or equal to 1"
    );

    let invalid = validate_policy(&object(json!({"scope": "Group"}))).expect_err("refused");
    assert_eq!(
        invalid.causes[0].reason.cause_type(),
        "FieldValueNotSupported"
    );
}

#[test]
fn status_is_left_alone_as_the_status_subresource_owns_it() {
    let mut with_status = object(json!({}));
    with_status["status"] = json!({"anything": ["goes", 1]});
    let defaulted = validate_policy(&with_status).expect("status is not checked on create");
    assert_eq!(defaulted["status"], with_status["status"]);
}

#[test]
fn any_crd_schema_can_be_validated_the_same_way() {
    let schema = CrdSchema::new(
        "Widget",
        "example.com/v1",
        false,
        false,
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "integer", "default": 3},
                        "tags": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "string",
                                "x-kubernetes-validations": [{"rule": "self.size() <= 4", "message": "tags are short"}],
                            },
                        },
                    },
                    "x-kubernetes-validations": [
                        {"rule": "self.size % 2 == 1", "message": "size must be odd", "fieldPath": ".size"},
                    ],
                },
            },
        }),
    );
    let widget = |spec: Value| json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec});
    assert_eq!(
        schema.validate(&widget(json!({}))).expect("valid")["spec"]["size"],
        3
    );
    let invalid = schema
        .validate(&widget(json!({"size": 4, "tags": {"color": "turquoise"}})))
        .expect_err("refused");
    assert_eq!(
        invalid.to_string(),
        "Widget.example.com \"w\" is invalid: [spec.size: Invalid value: \"object\": size must be odd, spec.tags.color: Invalid value: \"string\": tags are short]"
    );
    let mut namespaced = widget(json!({}));
    namespaced["metadata"]["namespace"] = json!("default");
    let invalid = schema
        .validate(&namespaced)
        .expect_err("a cluster-scoped object has no namespace");
    assert_eq!(
        invalid.causes[0].to_string(),
        "metadata.namespace: Forbidden: not allowed on this type"
    );
}
