"""A minimal Kubernetes API server on 127.0.0.1, so that real Helm (helm-sdkpy bundles Helm's Go
library, which has no client-only `template` entry point) can install the chart and show what it
renders, on a machine without a cluster.

It serves what Helm's install path asks for: /version, legacy discovery (/api, /apis and each
group version), the Secrets Helm keeps releases in, and create, get, list, update, patch and an
empty watch for every kind listed in RESOURCES. It validates nothing: the checks in chart.py do.
CustomResourceDefinitions are answered as Established at once.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

# (group, version, kind, plural, namespaced): the kinds the chart renders, plus Helm's own.
RESOURCES = [
    ("", "v1", "ConfigMap", "configmaps", True),
    ("", "v1", "Secret", "secrets", True),
    ("", "v1", "Service", "services", True),
    ("", "v1", "ServiceAccount", "serviceaccounts", True),
    ("", "v1", "Namespace", "namespaces", False),
    ("", "v1", "Pod", "pods", True),
    ("apps", "v1", "Deployment", "deployments", True),
    ("apps", "v1", "ReplicaSet", "replicasets", True),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True),
    ("coordination.k8s.io", "v1", "Lease", "leases", True),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", True),
    ("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", True),
    ("kubespread.io", "v1alpha1", "SpreadPolicy", "spreadpolicies", True),
]

KUBERNETES_VERSION = ("1", "33", "v1.33.0")


def _group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


class _Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[tuple, dict] = {}
        self.created: list[dict] = []
        self.revision = 1

    def stamp(self, obj: dict) -> dict:
        self.revision += 1
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", "2025-10-20T09:00:00Z")
        meta["resourceVersion"] = str(self.revision)
        if obj.get("kind") == "CustomResourceDefinition":
            obj["status"] = {
                "acceptedNames": obj.get("spec", {}).get("names", {}),
                "storedVersions": [v["name"] for v in obj.get("spec", {}).get("versions", [])],
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": "2025-10-20T09:00:00Z"},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted",
                     "lastTransitionTime": "2025-10-20T09:00:00Z"},
                ],
            }
        return obj


class _Route:
    """A parsed resource path: /api/v1/... or /apis/GROUP/VERSION/..."""

    def __init__(self, resource, namespace, name, subresource):
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.subresource = subresource

    @property
    def kind(self) -> str:
        return self.resource[2]


def _route(path: str):
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":  # not the Namespace objects themselves
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return None
    for resource in RESOURCES:
        if resource[0] == group and resource[1] == version and resource[3] == rest[0]:
            name = rest[1] if len(rest) > 1 else None
            sub = rest[2] if len(rest) > 2 else None
            return _Route(resource, namespace, name, sub)
    return None


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "reason": reason, "message": message, "code": code}


def _merge(target: dict, patch: dict) -> dict:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _selected(obj: dict, selector: str) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value:
                return False
        elif labels.get(term) is None:
            return False
    return True


class FakeApiServer:
    """Serves the fake API on 127.0.0.1 (an ephemeral port) until stop()."""

    def __init__(self) -> None:
        self.store = _Store()
        self.requests: list[tuple[str, str]] = []
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeApiServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def kubeconfig(self, namespace: str) -> str:
        return (
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: fake, cluster: {{server: \"{self.url}\"}}}}]\n"
            "users: [{name: fake, user: {token: fake}}]\n"
            f"contexts: [{{name: fake, context: {{cluster: fake, user: fake, namespace: {namespace}}}}}]\n"
            "current-context: fake\n"
        )

    def created(self) -> list[dict]:
        """The objects created through the API, in order, Helm's release Secrets left out."""
        return [
            copy.deepcopy(o) for o in self.store.created
            if not (o.get("kind") == "Secret" and o.get("type") == "helm.sh/release.v1")
        ]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if "protobuf" in (self.headers.get("Content-Type") or ""):
                    return None  # Helm's release storage (typed client); see _release_record
                return json.loads(raw) if raw else {}

            def _release_record(self) -> None:
                # Helm keeps its release record in a Secret written by a protobuf client. Its
                # content is Helm's business; answering with an empty Secret is enough for install.
                return self._send(201 if self.command == "POST" else 200, {
                    "kind": "Secret", "apiVersion": "v1", "type": "helm.sh/release.v1",
                    "metadata": {"name": "sh.helm.release.v1", "uid": str(uuid.uuid4()),
                                 "resourceVersion": "1"}})

            def _discovery(self, path: str):
                if path == "/version":
                    major, minor, git = KUBERNETES_VERSION
                    return {"major": major, "minor": minor, "gitVersion": git,
                            "platform": "linux/amd64", "goVersion": "go1.24.0"}
                if path == "/api":
                    return {"kind": "APIVersions", "versions": ["v1"],
                            "serverAddressByClientCIDRs": [
                                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
                if path == "/apis":
                    groups: dict[str, list[str]] = {}
                    for group, version, *_ in RESOURCES:
                        if group and version not in groups.setdefault(group, []):
                            groups[group].append(version)
                    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                        {"name": g, "versions": [
                            {"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                         "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                        for g, vs in groups.items()]}
                parts = [p for p in path.split("/") if p]
                if parts == ["api", "v1"]:
                    group, version = "", "v1"
                elif len(parts) == 3 and parts[0] == "apis":
                    group, version = parts[1], parts[2]
                else:
                    return None
                found = [r for r in RESOURCES if r[0] == group and r[1] == version]
                if not found:
                    return None
                resources = []
                for _, _, kind, plural, namespaced in found:
                    resources.append({"name": plural, "singularName": kind.lower(),
                                      "namespaced": namespaced, "kind": kind,
                                      "verbs": ["create", "delete", "get", "list", "patch",
                                                "update", "watch"]})
                    if kind in ("CustomResourceDefinition", "Deployment", "SpreadPolicy"):
                        resources.append({"name": f"{plural}/status", "singularName": "",
                                          "namespaced": namespaced, "kind": kind,
                                          "verbs": ["get", "patch", "update"]})
                return {"kind": "APIResourceList", "apiVersion": "v1",
                        "groupVersion": _group_version(group, version), "resources": resources}

            def _handle(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                server.requests.append((self.command, self.path))
                body = self._body() if self.command in ("POST", "PUT", "PATCH") else {}
                if body is None:
                    return self._release_record()
                if self.command == "GET":
                    found = self._discovery(url.path)
                    if found is not None:
                        return self._send(200, found)
                if url.path.startswith("/openapi"):
                    return self._send(404, _status(404, "NotFound", "no OpenAPI here"))
                route = _route(url.path)
                if route is None:
                    return self._send(404, _status(404, "NotFound", f"{url.path} not served"))
                store = server.store
                group, version, kind, plural, namespaced = route.resource
                namespace = route.namespace if namespaced else None
                with store.lock:
                    if self.command == "GET" and route.name is None:
                        if query.get("watch", ["false"])[0] in ("true", "1"):
                            return self._send(200, {})  # an empty watch; clients re-list
                        selector = query.get("labelSelector", [""])[0]
                        items = [
                            copy.deepcopy(o) for key, o in store.objects.items()
                            if key[:2] == (group, plural)
                            and (namespace is None or key[2] == namespace)
                            and _selected(o, selector)
                        ]
                        return self._send(200, {
                            "kind": f"{kind}List", "apiVersion": _group_version(group, version),
                            "metadata": {"resourceVersion": str(store.revision)}, "items": items})
                    if self.command == "POST" and route.name is None:
                        name = body.get("metadata", {}).get("name")
                        key = (group, plural, namespace, name)
                        if key in store.objects:
                            return self._send(409, _status(409, "AlreadyExists", f"{name} exists"))
                        if namespaced:
                            body.setdefault("metadata", {})["namespace"] = namespace
                        obj = store.stamp(body)
                        store.objects[key] = obj
                        store.created.append(copy.deepcopy(obj))
                        return self._send(201, obj)
                    key = (group, plural, namespace, route.name)
                    current = store.objects.get(key)
                    if self.command == "GET":
                        if current is None:
                            return self._send(404, _status(404, "NotFound", f"{route.name} not found"))
                        return self._send(200, current)
                    if self.command == "PUT":
                        store.objects[key] = store.stamp(body)
                        return self._send(200, store.objects[key])
                    if self.command == "PATCH":
                        if current is None:
                            return self._send(404, _status(404, "NotFound", f"{route.name} not found"))
                        if isinstance(body, dict):
                            _merge(current, body)
                        store.stamp(current)
                        return self._send(200, current)
                    if self.command == "DELETE":
                        store.objects.pop(key, None)
                        return self._send(200, {"kind": "Status", "apiVersion": "v1",
                                                "status": "Success", "metadata": {}})
                return self._send(405, _status(405, "MethodNotAllowed", self.command))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler
