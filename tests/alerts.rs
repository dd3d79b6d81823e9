//! The chart's alert rules and Grafana dashboard query only metrics the controller registers, with
//! labels it exports: a metric or label renamed in `src/metrics.rs` fails here instead of leaving
//! an alert that can never fire or a panel that stays empty. What the rules do with those series
//! is tested by `promtool test rules` (`.ci/chart --alerts`, cases in the chart's
//! `ci/alerts-test.yaml`).

// Test helpers read fixtures and fail the test with a message when they are missing.
#![allow(clippy::panic, clippy::expect_used)]

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
};

use kube_spread::{api::conditions::Reason, metrics::ControllerMetrics};
use prometheus::core::Collector;
use regex::Regex;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DASHBOARD: &str = "charts/kube-spread/dashboards/kube-spread.json";
const RULES: &str = "charts/kube-spread/templates/prometheusrule.yaml";
const ALERT_TESTS: &str = "charts/kube-spread/ci/alerts-test.yaml";

/// Labels Prometheus attaches to every scraped series (the ServiceMonitor's target labels), so a
/// query may use them on any metric.
const SCRAPE_LABELS: [&str; 7] = [
    "job",
    "instance",
    "namespace",
    "pod",
    "service",
    "endpoint",
    "container",
];

fn read(path: &str) -> String {
    fs::read_to_string(format!("{ROOT}/{path}"))
        .unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

/// Label values of the right number for a vector metric, whatever labels it has.
fn placeholders(collector: &dyn Collector) -> Vec<&'static str> {
    let arity = collector
        .desc()
        .first()
        .map_or(0, |desc| desc.variable_labels.len());
    vec!["placeholder"; arity]
}

/// Every series name a query can see from the controller (a histogram's `_bucket`, `_sum` and
/// `_count`, never its bare name), with its label names, read from the exposition the controller
/// serves. Vector metrics appear there only once they have a child, so each gets one.
fn exported_series() -> BTreeMap<String, BTreeSet<String>> {
    let metrics = ControllerMetrics::new().expect("the metrics register");
    let gauges = [
        &metrics.node_pods,
        &metrics.policy_skew,
        &metrics.policy_balanced,
        &metrics.policy_blocked,
    ];
    for gauge in gauges {
        gauge.with_label_values(&placeholders(gauge)).set(1);
    }
    let counters = [
        &metrics.moves,
        &metrics.patches,
        &metrics.reconcile_errors,
        &metrics.invalid_objects,
    ];
    for counter in counters {
        counter.with_label_values(&placeholders(counter)).inc();
    }
    metrics.reconcile_duration.observe(0.1);
    metrics.leader.set(1);
    let text = metrics.encode().expect("the metrics encode");
    let sample = Regex::new(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ").expect("regex");
    let label = Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="#).expect("regex");
    let mut series: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let captures = sample
            .captures(line)
            .unwrap_or_else(|| panic!("not a sample line: {line}"));
        let labels = captures.get(2).map_or("", |m| m.as_str());
        series.entry(captures[1].to_owned()).or_default().extend(
            label
                .captures_iter(labels)
                .map(|c| c[1].to_owned())
                .filter(|name| name != "le"),
        );
    }
    series
}

/// The names the docs may use: every series, and a histogram's own name.
fn exported_families() -> BTreeSet<String> {
    let series: BTreeSet<String> = exported_series().into_keys().collect();
    let mut families = series.clone();
    for name in &series {
        for suffix in ["_bucket", "_sum", "_count"] {
            families.extend(name.strip_suffix(suffix).map(str::to_owned));
        }
    }
    families
}

/// Every `kube_spread_*` name in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    Regex::new(r"\bkube_spread_[a-z0-9_]*[a-z0-9]")
        .expect("regex")
        .find_iter(text)
        .map(|m| m.as_str().to_owned())
        .collect()
}

fn assert_registered(what: &str, used: &BTreeSet<String>, known: &BTreeSet<String>) {
    let unknown: Vec<_> = used.difference(known).collect();
    assert!(
        unknown.is_empty(),
        "{what} uses {unknown:?}, which the controller does not export (src/metrics.rs \
         registers {known:?})"
    );
}

/// Label names the PromQL in a text groups or matches by (`by`, `without`, `on`, `ignoring`).
fn grouping_labels(text: &str) -> BTreeSet<String> {
    let clause = Regex::new(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)").expect("regex");
    clause
        .captures_iter(text)
        .flat_map(|c| {
            c[1].split(',')
                .map(|name| name.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Fails when a text groups by a label that neither the controller nor a scrape puts on any
/// series (`le` is a histogram bucket's).
fn assert_grouping_labels_exist(what: &str, text: &str) {
    let mut known: BTreeSet<String> = exported_series().into_values().flatten().collect();
    known.extend(SCRAPE_LABELS.iter().chain(&["le"]).map(|l| (*l).to_owned()));
    let used = grouping_labels(text);
    assert!(!used.is_empty(), "{what} groups by no label");
    let unknown: Vec<_> = used.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "{what} groups or matches by {unknown:?}, labels no kube-spread series has \
         (known: the controller's and the scrape's, {known:?})"
    );
}

/// Every PromQL expression of the dashboard: panel targets and template variable queries.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    let mut queries = Vec::new();
    let panels = dashboard["panels"]
        .as_array()
        .expect("the dashboard has panels");
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.extend(target["expr"].as_str().map(str::to_owned));
        }
    }
    let variables = dashboard["templating"]["list"].as_array().into_iter();
    for variable in variables.flatten() {
        queries.extend(variable["definition"].as_str().map(str::to_owned));
        queries.extend(variable["query"]["query"].as_str().map(str::to_owned));
    }
    queries
}

#[test]
fn every_metric_the_dashboard_queries_is_registered_by_the_controller() {
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON");
    let queries = dashboard_queries(&dashboard);
    let used = metric_names(&queries.join("\n"));
    assert!(
        used.len() >= 8,
        "the dashboard's queries name only {used:?}"
    );
    let known = exported_series().into_keys().collect();
    assert_registered(DASHBOARD, &used, &known);
    assert_grouping_labels_exist(DASHBOARD, &queries.join("\n"));
    let selector = Regex::new(r"\b(kube_spread_[a-z0-9_]+)\{([^}]*)\}").expect("regex");
    let matcher = Regex::new(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)").expect("regex");
    let exported = exported_series();
    for query in &queries {
        for found in selector.captures_iter(query) {
            let labels = exported.get(&found[1]).cloned().unwrap_or_default();
            for used in matcher.captures_iter(&found[2]) {
                assert!(
                    labels.contains(&used[1]) || SCRAPE_LABELS.contains(&&used[1]),
                    "{DASHBOARD} matches {} on {}, a label it does not have ({labels:?})",
                    &found[1],
                    &used[1]
                );
            }
        }
    }
    assert_registered(
        &format!("{DASHBOARD}, outside its queries"),
        &metric_names(&read(DASHBOARD)),
        &known,
    );
}

#[test]
fn every_metric_the_alert_rules_query_is_registered_by_the_controller() {
    let used = metric_names(&read(RULES));
    assert!(used.len() >= 5, "the alert rules name only {used:?}");
    assert_registered(RULES, &used, &exported_series().into_keys().collect());
    assert_grouping_labels_exist(RULES, &read(RULES));
}

#[test]
fn the_alert_tests_feed_only_series_the_controller_exports_with_its_labels() {
    let tests: Value =
        serde_saphyr::from_str(&read(ALERT_TESTS)).expect("the alert tests are YAML");
    let exported = exported_series();
    let series = Regex::new(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$").expect("regex");
    let label = Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)=""#).expect("regex");
    let mut checked = 0;
    for test in tests["tests"].as_array().expect("tests") {
        for input in test["input_series"].as_array().expect("input_series") {
            let text = input["series"].as_str().expect("a series");
            let captures = series
                .captures(text)
                .unwrap_or_else(|| panic!("{ALERT_TESTS}: cannot read the series {text}"));
            let name = &captures[1];
            if name == "up" {
                continue; // Prometheus' own, per target
            }
            let labels = exported.get(name).unwrap_or_else(|| {
                panic!("{ALERT_TESTS} feeds {name}, which the controller does not export")
            });
            for used in label.captures_iter(&captures[2]) {
                let used = &used[1];
                assert!(
                    labels.contains(used) || SCRAPE_LABELS.contains(&used),
                    "{ALERT_TESTS} gives {name} a label {used}, which the controller does not \
                     export (it exports {labels:?}) and a scrape does not add"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} series checked");
}

#[test]
fn the_pdb_alert_selects_the_reasons_the_controller_reports_for_budgets() {
    let rules = read(RULES);
    let selector = format!(
        "reason=~\"{}|{}\"",
        Reason::PdbBlocked,
        Reason::MultiplePdbs
    );
    assert!(
        rules.contains(&selector),
        "{RULES}: KubeSpreadRebalanceBlockedByPdb does not select {selector}"
    );
}

#[test]
fn every_metric_the_docs_name_is_registered_by_the_controller() {
    let known = exported_families();
    for doc in [
        "README.md",
        "docs/operations.md",
        "charts/kube-spread/README.md",
    ] {
        assert_registered(doc, &metric_names(&read(doc)), &known);
    }
}
