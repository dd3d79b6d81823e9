"""Checks the Helm chart in charts/kube-spread with real Helm (helm-sdkpy bundles Helm's Go library).

Run by `.ci/chart`, which installs the Python packages this needs. Each check prints one line;
a failure says what is wrong and where, and the script exits 1 after running every check.

    python3 .ci/chart.py            # check
    python3 .ci/chart.py --bless    # rewrite the generated values table in the chart's README.md
    python3 .ci/chart.py --alerts   # only: unit-test the alert rules with promtool (see below)

What it checks:
- Chart.yaml: version and appVersion equal the crate version in Cargo.toml; the chart's CRDs are
  byte-identical to those in crds/ (SpreadPolicy and ClusterSpreadPolicy).
- values.yaml, and values.yaml merged with each ci/*.yaml, against values.schema.json; the values
  table in README.md is what the schema and values.yaml generate.
- `helm lint` with the default values and with each ci/*.yaml.
- A real `helm install` of each (into a fake API server on 127.0.0.1, see fake_apiserver.py),
  then on every object Helm sends: the Kubernetes 1.33 schemas (kubernetes-validate, strict)
  for built-in kinds, a strict structural schema for ServiceMonitor and PrometheusRule, the Pod
  Security "restricted" profile and the controller's contract (flags, probes, downward API) on
  the Deployment, and RBAC exactly equal to the API access the controller's code uses.
- Alert rules and the Grafana dashboard: every PromQL expression parses and names only
  kube-spread's metrics; every alert has a severity, summary, description and a runbook anchor
  that exists in docs/operations.md.
- Installs that must fail do: Kubernetes 1.32, values the schema refuses, two replicas without
  leader election.
- The built-in objects of docs/e2e/homelab.yaml against the Kubernetes 1.33 schemas.
- The Dockerfile, parsed with BuildKit's parser (see dockerfile_check.py).

With --alerts, instead: the PrometheusRule Helm renders with the chart's defaults (and
prometheusRule.enabled) is written as a Prometheus rule file, target/alerts/kube-spread.rules.yaml,
and Prometheus' own `promtool check rules` and `promtool test rules` run on it with the cases of
charts/kube-spread/ci/alerts-test.yaml, which must hold, for every shipped alert, a case where it
fires and one where it stays quiet. promtool (from $PROMTOOL or PATH) evaluates the rules on
synthetic series in-process; no Prometheus server runs. To rerun one by hand afterwards:
`cd target/alerts && promtool test rules alerts-test.yaml`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "kube-spread"
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Helm writes its cache and config under these; keep them away from the user's.
_HELM_HOME = Path(tempfile.mkdtemp(prefix="kube-spread-helm-"))
for _var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
    os.environ[_var] = str(_HELM_HOME / _var.lower())
os.environ.pop("KUBECONFIG", None)

import dockerfile_check  # noqa: E402  (after the environment is set)
import fake_apiserver  # noqa: E402
import helm_sdkpy  # noqa: E402
import kubernetes_validate  # noqa: E402
import promql_parser  # noqa: E402

KUBERNETES_VERSION = "1.33"
RELEASE = "kube-spread"
NAMESPACE = "kube-spread"

# The controller's contract (what `kube-spread run` uses), as (apiGroup, resource, verb).
CLUSTER_ROLE_CONTRACT = {
    ("kubespread.io", r, v) for r in ("spreadpolicies", "clusterspreadpolicies") for v in ("list", "watch")
} | {("kubespread.io", r, "patch") for r in ("spreadpolicies/status", "clusterspreadpolicies/status")} | {
    ("apps", r, v) for r in ("deployments", "statefulsets") for v in ("list", "watch", "patch")
} | {("apps", "replicasets", v) for v in ("list", "watch")} | {
    ("", "pods", v) for v in ("list", "watch", "patch")
} | {("", "pods/eviction", "create")} | {
    ("", r, v) for r in ("nodes", "persistentvolumeclaims", "persistentvolumes", "namespaces") for v in ("list", "watch")
} | {("", "nodes", "patch")} | {("policy", "poddisruptionbudgets", v) for v in ("list", "watch")} | {
    ("events.k8s.io", "events", v) for v in ("create",)
} | {("coordination.k8s.io", "leases", v) for v in ("list", "watch")}

METRICS = {
    "kube_spread_node_pods", "kube_spread_policy_skew", "kube_spread_policy_balanced",
    "kube_spread_policy_rebalance_blocked", "kube_spread_moves_total",
    "kube_spread_workload_patches_total", "kube_spread_reconcile_duration_seconds_bucket",
    "kube_spread_reconcile_duration_seconds_sum", "kube_spread_reconcile_duration_seconds_count",
    "kube_spread_reconcile_errors_total", "kube_spread_leader",
}
METRIC_LABELS = {
    "kube_spread_policy_rebalance_blocked": {
        "reason": {"PdbBlocked", "MultiplePDBs", "BudgetExhausted", "SchedulerDisagrees", "NoMovablePod",
                   "NoAcceptingDomain"}},
    "kube_spread_moves_total": {"result": {"evicted", "restarted", "dry_run", "pdb_blocked", "failed"}},
    "kube_spread_workload_patches_total": {"result": {"applied", "conflict", "failed"}},
}
EXPECTED_ALERTS = {
    "KubeSpreadPodDistributionImbalanced", "KubeSpreadPolicySkewed", "KubeSpreadRebalanceBlockedByPdb",
    "KubeSpreadReconcileErrors", "KubeSpreadControllerDown", "KubeSpreadNoLeader",
}

# ---------------------------------------------------------------------------------------------
# Reporting


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed = 0

    def step(self, title: str) -> None:
        print(f"\n--> {title}", flush=True)

    def ok(self, what: str) -> None:
        self.passed += 1
        print(f"  ok    {what}", flush=True)

    def fail(self, what: str, why: str) -> None:
        why = why.replace("\n", "\n          ")  # Helm's multi-line errors, indented
        self.failures.append(f"{what}: {why}")
        print(f"  FAIL  {what}: {why}", flush=True)

    def check(self, what: str, problems: list[str]) -> None:
        if problems:
            self.fail(what, "; ".join(problems))
        else:
            self.ok(what)


# ---------------------------------------------------------------------------------------------
# Values


def merge(base, overlay):
    """Helm's coalescing of values: maps merge key by key, anything else replaces, null deletes."""
    if not isinstance(base, dict) or not isinstance(overlay, dict):
        return copy.deepcopy(overlay)
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_yaml(path: Path):
    with open(path) as f:
        return yaml.safe_load(f)


def value_rows(schema: dict, values, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """One row per value: objects with declared properties are listed field by field."""
    rows = []
    for key, prop in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        default = values.get(key) if isinstance(values, dict) else None
        if "properties" in prop:
            rows.extend(value_rows(prop, default, f"{path}."))
            continue
        kind = prop.get("type") or " or ".join(o.get("type", "?") for o in prop.get("oneOf", []))
        if "enum" in prop:
            kind += " (" + ", ".join(prop["enum"]) + ")"
        rows.append((path, kind, json.dumps(default, separators=(", ", ": ")), prop.get("description", "")))
    return rows


def values_table(schema: dict, values: dict) -> str:
    lines = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for path, kind, default, description in value_rows(schema, values):
        default = default.replace("|", "\\|")
        description = description.replace("|", "\\|")
        lines.append(f"| `{path}` | {kind} | `{default}` | {description} |")
    return "\n".join(lines) + "\n"


README_BEGIN = "<!-- values:begin (generated by .ci/chart.py --bless from values.schema.json and values.yaml) -->\n"
README_END = "<!-- values:end -->"

# ---------------------------------------------------------------------------------------------
# Helm


def helm_config(kubeconfig: str | None = None) -> helm_sdkpy.Configuration:
    return helm_sdkpy.Configuration(namespace=NAMESPACE, kubeconfig=kubeconfig)


def chart_copy_with_values(values: dict) -> Path:
    """A copy of the chart whose values.yaml is `values` (helm-sdkpy's lint takes no values)."""
    target = Path(tempfile.mkdtemp(prefix="kube-spread-chart-")) / "kube-spread"
    shutil.copytree(CHART, target)
    with open(target / "values.yaml", "w") as f:
        yaml.safe_dump(values, f, sort_keys=False)
    return target


SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def lint(values: dict) -> list[str]:
    chart = chart_copy_with_values(values)
    try:
        result = asyncio.run(helm_sdkpy.Lint(helm_config()).run(str(chart)))
    finally:
        shutil.rmtree(chart.parent, ignore_errors=True)
    problems = []
    for message in result.get("Messages") or []:
        if message.get("Severity", 0) >= 2:
            text = message.get("Err") or {}
            problems.append(f"{SEVERITY.get(message['Severity'])} in {message.get('Path')}"
                            + (f": {text}" if text and text != {} else
                               " (helm-sdkpy drops lint message text; the install below shows Helm's error)"))
    return problems


class Rendered:
    def __init__(self, release: dict, sent: list[dict]) -> None:
        self.release = release
        self.manifest = [d for d in yaml.safe_load_all(release.get("manifest", "")) if d]
        self.sent = sent
        self.notes = release.get("info", {}).get("notes", "")

    def objects(self) -> list[dict]:
        """What Helm sent to the API server: the CRDs of crds/, then the templates."""
        return self.sent

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.sent if o.get("kind") == kind]

    def named(self, kind: str, name: str) -> dict | None:
        return next((o for o in self.of_kind(kind) if o["metadata"]["name"] == name), None)


def install(values_overlay: dict | None, kubernetes: tuple[str, str, str] | None = None) -> Rendered:
    """`helm install` of the chart with these values into a fresh fake API server."""
    saved = fake_apiserver.KUBERNETES_VERSION
    if kubernetes:
        fake_apiserver.KUBERNETES_VERSION = kubernetes
    try:
        with fake_apiserver.FakeApiServer() as api, tempfile.TemporaryDirectory() as tmp:
            kubeconfig = Path(tmp) / "kubeconfig"
            kubeconfig.write_text(api.kubeconfig(NAMESPACE))
            release = asyncio.run(helm_sdkpy.Install(helm_config(str(kubeconfig))).run(
                RELEASE, str(CHART), values=values_overlay or None, wait=False, timeout=60))
            return Rendered(release, api.created())
    finally:
        fake_apiserver.KUBERNETES_VERSION = saved


# ---------------------------------------------------------------------------------------------
# Object checks

_RELABEL = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "sourceLabels": {"type": "array", "items": {"type": "string"}},
        "separator": {"type": "string"}, "targetLabel": {"type": "string"},
        "regex": {"type": "string"}, "modulus": {"type": "integer"},
        "replacement": {"type": "string"},
        "action": {"enum": ["replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod",
                            "HashMod", "labelmap", "LabelMap", "labeldrop", "LabelDrop",
                            "labelkeep", "LabelKeep", "lowercase", "Lowercase", "uppercase",
                            "Uppercase", "keepequal", "KeepEqual", "dropequal", "DropEqual"]},
    },
}
_DURATION = {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
_METADATA = {
    "type": "object", "required": ["name", "namespace"],
    "properties": {"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string", "minLength": 1},
                   "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                   "annotations": {"type": "object", "additionalProperties": {"type": "string"}}},
}
_LABEL_SELECTOR = {
    "type": "object", "additionalProperties": False,
    "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                   "matchExpressions": {"type": "array"}},
}
# The fields of monitoring.coreos.com/v1 (prometheus-operator) that the chart uses, strictly:
# a misspelt field fails here instead of being pruned by the API server.
CUSTOM_KIND_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"},
            "metadata": _METADATA,
            "spec": {
                "type": "object", "additionalProperties": False, "required": ["selector", "endpoints"],
                "properties": {
                    "jobLabel": {"type": "string"},
                    "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
                        "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
                    "selector": _LABEL_SELECTOR,
                    "endpoints": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "additionalProperties": False, "required": ["port"],
                        "properties": {
                            "port": {"type": "string"}, "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]}, "interval": _DURATION,
                            "scrapeTimeout": _DURATION, "honorLabels": {"type": "boolean"},
                            "relabelings": {"type": "array", "items": _RELABEL},
                            "metricRelabelings": {"type": "array", "items": _RELABEL},
                        }}},
                },
            },
        },
    },
    ("monitoring.coreos.com/v1", "PrometheusRule"): {
        "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "PrometheusRule"},
            "metadata": _METADATA,
            "spec": {
                "type": "object", "additionalProperties": False, "required": ["groups"],
                "properties": {"groups": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False, "required": ["name", "rules"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1}, "interval": _DURATION,
                        "rules": {"type": "array", "minItems": 1, "items": {
                            "type": "object", "additionalProperties": False, "required": ["expr"],
                            "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                            "properties": {
                                "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                                "record": {"type": "string"},
                                "expr": {"type": "string", "minLength": 1},
                                "for": _DURATION, "keep_firing_for": _DURATION,
                                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                            }}},
                    }}}},
            },
        },
    },
}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace"}


def schema_problems(obj: dict) -> list[str]:
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key in CUSTOM_KIND_SCHEMAS:
        validator = jsonschema.Draft7Validator(CUSTOM_KIND_SCHEMAS[key])
        return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in validator.iter_errors(obj)]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [e.message]
    return []


def describe(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def check_objects(report: Report, label: str, rendered: Rendered) -> None:
    names = set()
    for obj in rendered.objects():
        what = f"[{label}] {describe(obj)}"
        problems = schema_problems(obj)
        meta = obj.get("metadata", {})
        if (obj["kind"], meta.get("namespace"), meta.get("name")) in names:
            problems.append("rendered twice")
        names.add((obj["kind"], meta.get("namespace"), meta.get("name")))
        if obj["kind"] not in CLUSTER_SCOPED and not meta.get("namespace"):
            problems.append("no metadata.namespace")
        if obj["kind"] != "CustomResourceDefinition":
            labels = meta.get("labels") or {}
            for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance",
                        "app.kubernetes.io/managed-by", "helm.sh/chart"):
                if key not in labels:
                    problems.append(f"no {key} label")
        report.check(f"{what} is valid (Kubernetes {KUBERNETES_VERSION} schema, strict)", problems)
    sent = {describe(o) for o in rendered.objects() if o["kind"] != "CustomResourceDefinition"}
    manifest = {describe(o) for o in rendered.manifest}
    report.check(f"[{label}] Helm's release manifest lists exactly the objects it created",
                 [] if sent == manifest else [f"manifest {sorted(manifest)} vs created {sorted(sent)}"])


def restricted_problems(pod_spec: dict) -> list[str]:
    """Pod Security Standards, "restricted" profile (which includes "baseline"), as of 1.33."""
    problems = []
    psc = pod_spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"):
        if field != "hostUsers" and pod_spec.get(field):
            problems.append(f"{field} is set")
    allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                       "persistentVolumeClaim", "projected", "secret"}
    for volume in pod_spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= allowed_volumes:
            problems.append(f"volume {volume.get('name')} is of type {sorted(kinds - allowed_volumes)}")
    containers = (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or [])
    for c in containers:
        sc = c.get("securityContext") or {}
        name = c.get("name")
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{name}: capabilities.drop lacks ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps.get('add')}")
        if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
            problems.append(f"{name}: runAsNonRoot is not true")
        user = sc.get("runAsUser", psc.get("runAsUser"))
        if user == 0:
            problems.append(f"{name}: runAsUser is 0")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {seccomp}, not RuntimeDefault or Localhost")
        if c.get("ports") and any(p.get("hostPort") for p in c["ports"]):
            problems.append(f"{name}: uses a hostPort")
        if sc.get("procMount") not in (None, "Default"):
            problems.append(f"{name}: procMount {sc.get('procMount')}")
    if (psc.get("seccompProfile") or {}).get("type") == "Unconfined":
        problems.append("pod seccompProfile is Unconfined")
    return problems


def hardening_problems(pod_spec: dict) -> list[str]:
    """Beyond "restricted": what STYLE.md asks of the controller's pod."""
    problems = []
    psc = pod_spec.get("securityContext") or {}
    for c in pod_spec.get("containers") or []:
        sc = c.get("securityContext") or {}
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{c['name']}: readOnlyRootFilesystem is not true")
        for field in ("runAsUser", "runAsGroup"):
            value = sc.get(field, psc.get(field))
            if not isinstance(value, int) or value <= 0:
                problems.append(f"{c['name']}: {field} is {value!r}, not a numeric non-root id")
        if not (c.get("resources") or {}).get("requests"):
            problems.append(f"{c['name']}: no resource requests")
        if not ((c.get("resources") or {}).get("limits") or {}).get("memory"):
            problems.append(f"{c['name']}: no memory limit")
    return problems


def contract_problems(deploy: dict, values: dict) -> list[str]:
    """The Deployment runs `kube-spread run` as its contract says."""
    problems = []
    spec = deploy["spec"]
    pod = spec["template"]["spec"]
    if spec.get("replicas") != values["replicaCount"]:
        problems.append(f"replicas {spec.get('replicas')} != replicaCount {values['replicaCount']}")
    containers = pod["containers"]
    if len(containers) != 1:
        return problems + [f"{len(containers)} containers, expected 1"]
    c = containers[0]
    args = c.get("args") or []
    port = values["controller"]["metricsPort"]
    if c.get("command"):
        problems.append("overrides the image's ENTRYPOINT with command")
    if args[:1] != ["run"]:
        problems.append(f"args do not start with the run subcommand: {args}")
    addr = f"--metrics-addr={values['controller']['metricsBindAddress']}:{port}"
    if addr not in args:
        problems.append(f"args lack {addr}")
    election = values["controller"]["leaderElection"]
    if election["enabled"]:
        lease = election["leaseName"] or fullname(values)
        for arg in ("--leader-election", f"--lease-name={lease}"):
            if arg not in args:
                problems.append(f"args lack {arg}")
    elif "--no-leader-election" not in args:
        problems.append("args lack --no-leader-election")
    for flag, value in (("--max-moves-in-flight", "maxMovesInFlight"),
                        ("--max-moves-in-flight-per-node", "maxMovesInFlightPerNode")):
        if f"{flag}={values['controller'][value]}" not in args:
            problems.append(f"args lack {flag}={values['controller'][value]}")
    if values["controller"]["logJson"] != ("--log-json" in args):
        problems.append("--log-json does not follow controller.logJson")
    env = {e["name"]: e for e in c.get("env") or []}
    for name, field in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")):
        got = ((env.get(name) or {}).get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath")
        if got != field:
            problems.append(f"env {name} is not the downward API's {field}")
    if (env.get("KUBE_SPREAD_LOG") or {}).get("value") != values["controller"]["logLevel"]:
        problems.append("env KUBE_SPREAD_LOG does not follow controller.logLevel")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports") or []}
    if ports.get("metrics") != port:
        problems.append(f"container port metrics is {ports.get('metrics')}, expected {port}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path or get.get("port") not in ("metrics", port):
            problems.append(f"{probe} is not an HTTP GET of {path} on the metrics port")
    if pod.get("automountServiceAccountToken") is not True:
        problems.append("the pod does not mount its ServiceAccount token (the controller needs the API)")
    spread = values["replicaCount"] > 1 and values["spreadReplicas"]
    if spread and not values["topologySpreadConstraints"] and not pod.get("topologySpreadConstraints"):
        problems.append("replicas > 1 but the pods carry no topologySpreadConstraints")
    if spread and not values["affinity"] and not (pod.get("affinity") or {}).get("podAntiAffinity"):
        problems.append("replicas > 1 but the pods carry no anti-affinity")
    if values["replicaCount"] == 1 and (pod.get("topologySpreadConstraints") and not values["topologySpreadConstraints"]):
        problems.append("one replica but default topologySpreadConstraints were added")
    annotations = deploy["metadata"].get("annotations") or {}
    if values["controller"]["ignoreSelf"] != (annotations.get("kubespread.io/ignore") == "true"):
        problems.append("the kubespread.io/ignore annotation does not follow controller.ignoreSelf")
    return problems


def fullname(values: dict) -> str:
    """The release's full name, as the kube-spread.fullname template helper computes it."""
    if values.get("fullnameOverride"):
        return values["fullnameOverride"]
    name = values.get("nameOverride") or "kube-spread"
    return RELEASE if name in RELEASE else f"{RELEASE}-{name}"


def rules_as_tuples(rules: list[dict]) -> tuple[set, list[str]]:
    tuples, problems = set(), []
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    if "*" in (group, resource, verb):
                        problems.append(f"wildcard in {rule}")
                    names = rule.get("resourceNames") or [None]
                    for name in names:
                        tuples.add((group, resource, verb) if name is None else (group, resource, verb, name))
        if rule.get("nonResourceURLs"):
            problems.append(f"nonResourceURLs in {rule}")
    return tuples, problems


def check_rbac(report: Report, label: str, rendered: Rendered, values: dict) -> None:
    full = fullname(values)
    sa = values["serviceAccount"]["name"] or (full if values["serviceAccount"]["create"] else "default")
    role = rendered.named("ClusterRole", full)
    if not values["rbac"]["create"]:
        report.check(f"[{label}] no RBAC objects with rbac.create false",
                     [describe(o) for o in rendered.objects() if o["kind"].endswith(("Role", "RoleBinding"))])
        return
    if role is None:
        report.fail(f"[{label}] ClusterRole", f"no ClusterRole named {full}")
        return
    got, problems = rules_as_tuples(role.get("rules", []))
    extra, missing = got - CLUSTER_ROLE_CONTRACT, CLUSTER_ROLE_CONTRACT - got
    if extra:
        problems.append(f"grants more than the controller uses: {sorted(extra)}")
    if missing:
        problems.append(f"lacks what the controller uses: {sorted(missing)}")
    if role.get("aggregationRule"):
        problems.append("has an aggregationRule")
    report.check(f"[{label}] ClusterRole {full} grants exactly the controller's API access", problems)

    binding = rendered.named("ClusterRoleBinding", full)
    report.check(f"[{label}] ClusterRoleBinding binds it to ServiceAccount {NAMESPACE}/{sa}", [] if binding and (
        binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": full}
        and binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}]
    ) else [f"binding is {binding and {k: binding[k] for k in ('roleRef', 'subjects')}}"])

    lease_roles = [o for o in rendered.of_kind("Role")]
    election = values["controller"]["leaderElection"]
    if election["enabled"]:
        lease = election["leaseName"] or full
        want = {("coordination.k8s.io", "leases", "create"),
                ("coordination.k8s.io", "leases", "get", lease),
                ("coordination.k8s.io", "leases", "patch", lease)}
        problems = []
        if len(lease_roles) != 1:
            problems.append(f"{len(lease_roles)} Roles rendered, expected 1")
        else:
            got, problems = rules_as_tuples(lease_roles[0]["rules"])
            if got != want:
                problems.append(f"grants {sorted(got, key=str)}, expected {sorted(want, key=str)}")
            if lease_roles[0]["metadata"]["namespace"] != NAMESPACE:
                problems.append("not in the release namespace")
            binding = rendered.named("RoleBinding", lease_roles[0]["metadata"]["name"])
            if not binding or binding["subjects"] != [{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}]:
                problems.append("no RoleBinding to the controller's ServiceAccount")
        report.check(f"[{label}] Role for the Lease {lease}: create, and get/patch on that name only", problems)
    else:
        report.check(f"[{label}] no Lease Role without leader election", [describe(o) for o in lease_roles])

    for aggregate in rendered.of_kind("ClusterRole"):
        if aggregate is role:
            continue
        labels = aggregate["metadata"].get("labels") or {}
        got, problems = rules_as_tuples(aggregate.get("rules", []))
        if not any(k.startswith("rbac.authorization.k8s.io/aggregate-to-") for k in labels):
            problems.append("an extra ClusterRole that aggregates to no built-in role")
        if any(t[0] != "kubespread.io" for t in got):
            problems.append(f"grants outside kubespread.io: {sorted(t for t in got if t[0] != 'kubespread.io')}")
        if any(t[1].endswith("/status") and t[2] not in ("get", "list", "watch") for t in got):
            problems.append("lets people write a policy's status")
        if any(t[1] == "clusterspreadpolicies" and t[2] not in ("get", "list", "watch") for t in got):
            problems.append("lets people who are not cluster administrators write ClusterSpreadPolicies")
        report.check(f"[{label}] aggregated ClusterRole {aggregate['metadata']['name']} only touches kube-spread policies", problems)


def promql_problems(expr: str) -> list[str]:
    try:
        tree = promql_parser.parse(expr)
    except Exception as e:  # the parser raises plain ValueErrors
        return [f"does not parse: {e}"]
    problems = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name
            if name != "up" and name not in METRICS:
                problems.append(f"unknown metric {name}")
            for matcher in node.matchers.matchers:
                allowed = METRIC_LABELS.get(name, {}).get(matcher.name)
                if allowed and "Equal" in str(matcher.op) and matcher.value not in allowed:
                    problems.append(f"{name}{{{matcher.name}={matcher.value!r}}} matches no value the controller reports")
                if allowed and "Re" in str(matcher.op):
                    for part in matcher.value.split("|"):
                        if part not in allowed:
                            problems.append(f"{name}{{{matcher.name}=~...}} names {part!r}, which the controller never reports")
        return True

    promql_parser.walk(tree, visit)
    return problems


def check_alerts(report: Report, label: str, rendered: Rendered, operations_md: str) -> None:
    anchors = {github_anchor(h) for h in re.findall(r"^#+\s+(.*)$", operations_md, re.M)}
    for rule_object in rendered.of_kind("PrometheusRule"):
        for group in rule_object["spec"]["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                problems = promql_problems(rule["expr"])
                labels, annotations = rule.get("labels") or {}, rule.get("annotations") or {}
                if labels.get("severity") not in ("critical", "warning", "info", "none"):
                    problems.append(f"severity label is {labels.get('severity')!r}")
                for key in ("summary", "description", "runbook_url"):
                    if not annotations.get(key):
                        problems.append(f"no {key} annotation")
                anchor = (annotations.get("runbook_url") or "#").rsplit("#", 1)[-1]
                if anchor not in anchors:
                    problems.append(f"runbook anchor #{anchor} is not a heading of docs/operations.md")
                if "for" in rule:
                    try:
                        promql_parser.parse_duration(rule["for"])
                    except Exception as e:
                        problems.append(f"for: {e}")
                report.check(f"[{label}] alert {name}: PromQL parses, names only kube-spread's metrics, has severity, summary, description, runbook", problems)


def github_anchor(heading: str) -> str:
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def check_dashboard(report: Report) -> dict:
    path = CHART / "dashboards" / "kube-spread.json"
    try:
        dashboard = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        report.fail("dashboard JSON", str(e))
        return {}
    problems = []
    ids = set()
    for panel in dashboard.get("panels", []):
        if panel["id"] in ids:
            problems.append(f"panel id {panel['id']} repeats")
        ids.add(panel["id"])
        grid = panel.get("gridPos", {})
        if grid.get("x", 0) + grid.get("w", 0) > 24:
            problems.append(f"panel {panel.get('title')} is wider than the grid")
        if panel.get("type") == "row":
            continue
        if (panel.get("datasource") or {}).get("uid") != "${datasource}":
            problems.append(f"panel {panel.get('title')} does not use the $datasource variable")
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "5m")
            for p in promql_problems(expr):
                problems.append(f"panel {panel.get('title')}: {p}")
    titles = " ".join(p.get("title", "") for p in dashboard.get("panels", [])).lower()
    for needed in ("pods per node", "skew", "balanced", "moves", "blocked", "reconcile duration",
                   "reconcile errors", "leader"):
        if needed not in titles:
            problems.append(f"no panel about {needed}")
    used = set()
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            used |= set(re.findall(r"kube_spread_[a-z_]+", target["expr"]))
    for metric in ("kube_spread_node_pods", "kube_spread_policy_skew", "kube_spread_policy_balanced",
                   "kube_spread_policy_rebalance_blocked", "kube_spread_moves_total",
                   "kube_spread_workload_patches_total", "kube_spread_reconcile_errors_total",
                   "kube_spread_leader"):
        if metric not in used:
            problems.append(f"no panel shows {metric}")
    report.check("Grafana dashboard: valid JSON, PromQL parses, every metric of the contract shown", problems)
    return dashboard


# ---------------------------------------------------------------------------------------------
# Alert rules under promtool

ALERT_TESTS = CHART / "ci" / "alerts-test.yaml"
ALERTS_DIR = ROOT / "target" / "alerts"
# The rule file alerts-test.yaml names in its rule_files, written beside it.
RULE_FILE = "kube-spread.rules.yaml"


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (the PromQL) as literal blocks, readable as in the template."""


_BlockDumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def alert_test_coverage(tests: dict, shipped: set[str]) -> list[str]:
    """Every shipped alert has a case where it fires and a case where it stays quiet."""
    firing, quiet = set(), set()
    for test in tests.get("tests") or []:
        for case in test.get("alert_rule_test") or []:
            (firing if case.get("exp_alerts") else quiet).add(case.get("alertname"))
    problems = [f"{a}: no case where it fires" for a in sorted(shipped - firing)]
    problems += [f"{a}: no case where it stays quiet" for a in sorted(shipped - quiet)]
    problems += [f"{a}: tested, but the chart ships no such alert" for a in sorted((firing | quiet) - shipped)]
    if tests.get("rule_files") != [RULE_FILE]:
        problems.append(f"rule_files is {tests.get('rule_files')}, expected [{RULE_FILE}]")
    return problems


def promtool(report: Report, what: str, tool: str, *args: str) -> None:
    """Runs promtool in target/alerts; its own output is shown indented, and on failure."""
    done = subprocess.run([tool, *args], cwd=ALERTS_DIR, capture_output=True, text=True, check=False)
    output = (done.stdout + done.stderr).strip()
    for line in output.splitlines():
        print(f"          {line}")
    report.check(what, [] if done.returncode == 0 else [f"promtool exited {done.returncode}"])


def check_alert_rules(report: Report) -> None:
    tool = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not tool:
        report.fail("promtool", "not on PATH: .ci/run unpacks it from Debian's prometheus package, or set $PROMTOOL")
        return
    version = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False).stdout
    report.step(f"Alert rules under promtool test rules ({version.splitlines()[0] if version else tool})")
    try:
        rendered = install({"prometheusRule": {"enabled": True}})
    except helm_sdkpy.HelmError as e:
        report.fail("helm install with prometheusRule.enabled", str(e))
        return
    rules = rendered.of_kind("PrometheusRule")
    if len(rules) != 1:
        report.fail("PrometheusRule", f"{len(rules)} rendered with prometheusRule.enabled, expected 1")
        return
    groups = rules[0]["spec"]["groups"]
    shipped = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    tests = load_yaml(ALERT_TESTS) or {}
    report.check(f"ci/{ALERT_TESTS.name} has a firing and a quiet case for each of the {len(shipped)} shipped alerts",
                 alert_test_coverage(tests, shipped))
    ALERTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(ALERTS_DIR / RULE_FILE, "w") as f:
        f.write("# spec.groups of the PrometheusRule the chart renders with its defaults (.ci/chart --alerts)\n")
        yaml.dump({"groups": groups}, f, Dumper=_BlockDumper, sort_keys=False, width=1000)
    shutil.copyfile(ALERT_TESTS, ALERTS_DIR / ALERT_TESTS.name)
    promtool(report, f"promtool check rules target/alerts/{RULE_FILE}", tool, "check", "rules", RULE_FILE)
    promtool(report, f"promtool test rules ci/{ALERT_TESTS.name}: each alert fires on its cases and only on them",
             tool, "test", "rules", ALERT_TESTS.name)


def finish(report: Report) -> int:
    print()
    if report.failures:
        print(f"{report.passed} passed, {len(report.failures)} failed")
        print("\nFailures:")
        for failure in report.failures:
            print(f"  - {failure}")
        return 1
    print(f"{report.passed} passed, 0 failed")
    return 0


# ---------------------------------------------------------------------------------------------


def main() -> int:
    bless = "--bless" in sys.argv[1:]
    report = Report()
    if "--alerts" in sys.argv[1:]:
        check_alert_rules(report)
        return finish(report)

    report.step("Chart metadata")
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
    chart_yaml = load_yaml(CHART / "Chart.yaml")
    report.check(f"Chart.yaml appVersion equals the crate version {cargo}",
                 [] if str(chart_yaml.get("appVersion")) == cargo else [f"appVersion is {chart_yaml.get('appVersion')}"])
    report.check("Chart.yaml apiVersion v2, version is SemVer",
                 [] if chart_yaml.get("apiVersion") == "v2" and re.fullmatch(r"\d+\.\d+\.\d+(-[\w.]+)?", str(chart_yaml.get("version"))) else ["bad apiVersion or version"])
    crd_names = ["clusterspreadpolicy.yaml", "spreadpolicy.yaml"]
    crd_repo = {}
    for name in crd_names:
        crd_chart = (CHART / "crds" / name).read_bytes()
        crd_repo[name] = (ROOT / "crds" / name).read_bytes()
        report.check(f"charts/kube-spread/crds/{name} is byte-identical to crds/{name}",
                     [] if crd_chart == crd_repo[name] else [f"they differ: cp crds/{name} charts/kube-spread/crds/"])
    crd_files = sorted(p.name for p in (CHART / "crds").iterdir())
    report.check("the chart's crds/ holds exactly the SpreadPolicy and ClusterSpreadPolicy CRDs",
                 [] if crd_files == crd_names else [f"crds/ holds {crd_files}"])

    report.step("Values and their schema")
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = load_yaml(CHART / "values.yaml")
    try:
        jsonschema.Draft7Validator.check_schema(schema)
        report.ok("values.schema.json is a valid draft-07 JSON Schema")
    except jsonschema.SchemaError as e:
        report.fail("values.schema.json", e.message)
    validator = jsonschema.Draft7Validator(schema)
    # ci/ also holds the alert rules' unit tests (ci/alerts-test.yaml), which are no values.
    ci_files = sorted((CHART / "ci").glob("*-values.yaml"))
    strays = sorted(p.name for p in (CHART / "ci").glob("*.yaml") if p not in ci_files and p != ALERT_TESTS)
    report.check("ci/ holds only values overlays (*-values.yaml) and the alert tests",
                 [f"{name} is neither, and is checked by nothing" for name in strays])
    scenarios = [("default", {}, defaults)]
    for path in ci_files:
        overlay = load_yaml(path) or {}
        scenarios.append((f"ci/{path.name}", overlay, merge(defaults, overlay)))
    for label, _, values in scenarios:
        report.check(f"[{label}] values validate against values.schema.json",
                     [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values)])

    readme_path = CHART / "README.md"
    readme = readme_path.read_text()
    table = values_table(schema, defaults)
    if README_BEGIN not in readme or README_END not in readme:
        report.fail("charts/kube-spread/README.md", "lacks the values:begin/values:end markers")
    else:
        head, rest = readme.split(README_BEGIN, 1)
        _, tail = rest.split(README_END, 1)
        fresh = head + README_BEGIN + table + README_END + tail
        if bless and fresh != readme:
            readme_path.write_text(fresh)
            print("  wrote charts/kube-spread/README.md")
        report.check("charts/kube-spread/README.md lists every value with its default (generated)",
                     [] if fresh == readme or bless else ["out of date: run `.ci/chart --bless` (or python3 .ci/chart.py --bless in its venv)"])

    report.step("helm lint (%s)" % helm_sdkpy.get_version())
    for label, _, values in scenarios:
        report.check(f"[{label}] helm lint: no warnings or errors", lint(values))

    report.step("helm install into a fake API server (Kubernetes %s): what Helm renders and sends" % KUBERNETES_VERSION)
    operations_md = (ROOT / "docs" / "operations.md").read_text() if (ROOT / "docs" / "operations.md").exists() else ""
    dashboard_text = (CHART / "dashboards" / "kube-spread.json").read_text()
    renders = {}
    for label, overlay, values in scenarios:
        try:
            rendered = install(overlay)
        except helm_sdkpy.HelmError as e:
            report.fail(f"[{label}] helm install", str(e))
            continue
        renders[label] = rendered
        kinds = sorted({o["kind"] for o in rendered.objects()})
        report.ok(f"[{label}] helm install rendered {len(rendered.objects())} objects: {', '.join(kinds)}")
        check_objects(report, label, rendered)
        deployments = rendered.of_kind("Deployment")
        if len(deployments) != 1:
            report.fail(f"[{label}] Deployment", f"{len(deployments)} rendered, expected 1")
        else:
            pod_spec = deployments[0]["spec"]["template"]["spec"]
            report.check(f"[{label}] Deployment passes Pod Security \"restricted\"", restricted_problems(pod_spec))
            report.check(f"[{label}] Deployment: read-only root, numeric non-root user and group, requests and memory limit",
                         hardening_problems(pod_spec))
            report.check(f"[{label}] Deployment runs `kube-spread run` as the controller's contract says",
                         contract_problems(deployments[0], values))
        check_rbac(report, label, rendered, values)
        crds = {c["metadata"]["name"]: c for c in rendered.of_kind("CustomResourceDefinition")}
        problems = []
        for name, text in crd_repo.items():
            want = yaml.safe_load(text)
            got = crds.get(want["metadata"]["name"])
            if got is None or any(got.get(k) != want.get(k) for k in ("apiVersion", "kind", "spec")):
                problems.append(f"the CRD Helm sent differs from crds/{name}")
        if len(crds) != len(crd_repo):
            problems.append(f"Helm sent {len(crds)} CRDs, crds/ holds {len(crd_repo)}")
        report.check(f"[{label}] Helm installs the CRDs of crds/ unchanged", problems)
        wants = {
            "ServiceMonitor": values["metrics"]["serviceMonitor"]["enabled"],
            "PrometheusRule": values["prometheusRule"]["enabled"],
            "ConfigMap": values["grafanaDashboard"]["enabled"],
            "PodDisruptionBudget": values["podDisruptionBudget"]["enabled"] and values["replicaCount"] > 1,
            "NetworkPolicy": values["networkPolicy"]["enabled"],
            "ServiceAccount": values["serviceAccount"]["create"],
        }
        report.check(f"[{label}] optional objects follow their toggles",
                     [f"{kind}: rendered {bool(rendered.of_kind(kind))}, wanted {want}"
                      for kind, want in wants.items() if bool(rendered.of_kind(kind)) != want])
        for cm in rendered.of_kind("ConfigMap"):
            problems = []
            if cm["data"].get("kube-spread.json", "").strip() != dashboard_text.strip():
                problems.append("data differs from dashboards/kube-spread.json")
            for key, value in values["grafanaDashboard"]["labels"].items():
                if cm["metadata"]["labels"].get(key) != value:
                    problems.append(f"no {key} label")
            report.check(f"[{label}] dashboard ConfigMap carries the dashboard and the sidecar's label", problems)
        rules = rendered.of_kind("PrometheusRule")
        if rules:
            alerts = {r.get("alert") for g in rules[0]["spec"]["groups"] for r in g["rules"]}
            enabled = {a for a in EXPECTED_ALERTS if values["prometheusRule"]["rules"][
                a.removeprefix("KubeSpread")[0].lower() + a.removeprefix("KubeSpread")[1:]]["enabled"]}
            report.check(f"[{label}] PrometheusRule holds exactly the enabled alerts",
                         [] if alerts == enabled else [f"has {sorted(alerts)}, expected {sorted(enabled)}"])
            check_alerts(report, label, rendered, operations_md)
        for monitor in rendered.of_kind("ServiceMonitor"):
            service = rendered.named("Service", fullname(values))
            problems = []
            if not service:
                problems.append("no metrics Service")
            else:
                if not all(service["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items()):
                    problems.append("its selector does not select the metrics Service")
                if monitor["spec"]["endpoints"][0]["port"] not in [p["name"] for p in service["spec"]["ports"]]:
                    problems.append("its endpoint port is not a port of the Service")
            report.check(f"[{label}] ServiceMonitor scrapes the metrics Service", problems)
        for policy in rendered.of_kind("NetworkPolicy"):
            problems = []
            port = values["controller"]["metricsPort"]
            ingress = policy["spec"].get("ingress")
            if ingress is None:
                problems.append("ingress is absent (renders as allow-nothing only when [])")
            for rule in ingress or []:
                if [p.get("port") for p in rule.get("ports", [])] != [port] or not rule.get("from"):
                    problems.append(f"an ingress rule other than to port {port} from configured peers: {rule}")
            egress_ports = {p.get("port") for r in policy["spec"].get("egress", []) for p in r.get("ports", [])}
            for needed in set(values["networkPolicy"]["apiServer"]["ports"]) | {values["networkPolicy"]["dns"]["port"]}:
                if needed not in egress_ports:
                    problems.append(f"no egress to port {needed}")
            report.check(f"[{label}] NetworkPolicy admits only scrapes of the metrics port, and egress to the API server and DNS", problems)
        report.check(f"[{label}] NOTES.txt renders", [] if "kube-spread" in rendered.notes else ["empty notes"])

    report.step("Installs that must fail")
    must_fail = [
        ("Kubernetes 1.32 (older than the oldest supported minor)", None, ("1", "32", "v1.32.9"), "kubeVersion"),
        ("an unknown value (replicas instead of replicaCount)", {"replicas": 2}, None, "replicas"),
        ("a wrong type (replicaCount: \"2\")", {"replicaCount": "2"}, None, "replicaCount"),
        ("an unknown severity", {"prometheusRule": {"rules": {"noLeader": {"severity": "page"}}}}, None, "severity"),
        ("two replicas without leader election", {"replicaCount": 2, "controller": {"leaderElection": {"enabled": False}}}, None, "leaderElection"),
    ]
    for what, overlay, kubernetes, needle in must_fail:
        try:
            install(overlay, kubernetes)
            report.fail(f"refuses {what}", "helm install succeeded")
        except helm_sdkpy.HelmError as e:
            message = str(e)
            report.check(f"refuses {what}", [] if needle in message else [f"failed, but without mentioning {needle}: {message}"])

    report.step("Grafana dashboard")
    check_dashboard(report)

    report.step("docs/e2e/homelab.yaml (the example workloads of docs/e2e-on-a-real-cluster.md)")
    e2e = ROOT / "docs" / "e2e" / "homelab.yaml"
    for obj in (d for d in yaml.safe_load_all(e2e.read_text()) if d):
        if obj.get("kind") == "SpreadPolicy":
            continue  # validated against the CRD by tests/docs.rs
        report.check(f"[e2e] {describe(obj)} is valid (Kubernetes {KUBERNETES_VERSION} schema, strict)",
                     schema_problems(obj))

    report.step("Dockerfile")
    runtime_ids = (defaults["securityContext"].get("runAsUser", defaults["podSecurityContext"].get("runAsUser")),
                   defaults["securityContext"].get("runAsGroup", defaults["podSecurityContext"].get("runAsGroup")))
    for what, problems in dockerfile_check.checks(ROOT / "Dockerfile", ROOT / ".dockerignore", runtime_ids):
        report.check(what, problems)

    return finish(report)


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(_HELM_HOME, ignore_errors=True)
