"""Fuzzing the API server's front door: random and mutated requests, headers, tokens and bodies from
clients that hold no write rights must never get a 5xx, crash the server, or write anything.

A dedicated API server (its own etcd prefix, so every key it writes is ours to count) runs with
upstream's default RBAC. The requests come from three kinds of caller, none allowed to write in the
target namespace: anonymous (no client certificate, tokens forged, tampered or random), a user whose
certificate is only bound to `view` in it, and a service account with no bindings whose genuine
token is also mutated. Requests are sent as raw bytes over TLS so paths, methods and headers reach
the server exactly as generated. Afterwards the server must still answer /readyz and the etcd key
set under its prefix must be unchanged (apart from the leases the server renews on its own).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from apiserver_process import APIServerProcess, start_apiserver, stop_apiserver
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kubeplane.component.pki import issue_client_cert, read_certified_key, write_certified_key

pytestmark = pytest.mark.integration

# Bounded: each test sends this many requests (one TLS connection each); the module takes ~20-40 s.
EXAMPLES = 1000
SOCKET_TIMEOUT = 10.0
# Keys the server writes on its own while the fuzzer runs (its identity lease, bootstrap repair).
BACKGROUND_KEYS = ("/leases/", "/masterleases/", "/ranges/", "/events/")


@dataclass
class Target:
    server: APIServerProcess
    namespace: str
    viewer_context: ssl.SSLContext
    anonymous_context: ssl.SSLContext
    sa_token: str


def _etcd_keys(server: APIServerProcess) -> set[str]:
    prefix = server.etcd_prefix.encode()
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    body = {"key": base64.b64encode(prefix).decode(), "range_end": base64.b64encode(end).decode(),
            "keys_only": True}
    req = urllib.request.Request(server.etcd_url + "/v3/kv/range", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as response:
        kvs = json.loads(response.read()).get("kvs") or []
    keys = {base64.b64decode(kv["key"]).decode()[len(server.etcd_prefix):] for kv in kvs}
    return {k for k in keys if not k.startswith(BACKGROUND_KEYS)}


@pytest.fixture(scope="module")
def target(etcd_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    workdir = tmp_path_factory.mktemp("fuzz-apiserver")
    server = start_apiserver(workdir, etcd_url, f"/kp-fuzz-{uuid.uuid4().hex[:8]}/registry")
    try:
        namespace = f"fuzz-{uuid.uuid4().hex[:8]}"
        server.kubectl("create", "namespace", namespace)
        server.kubectl("create", "configmap", "present", "-n", namespace, "--from-literal=a=b")
        server.kubectl("create", "serviceaccount", "nobody", "-n", namespace)
        server.kubectl("create", "rolebinding", "viewer-view", "-n", namespace, "--clusterrole=view",
                       "--user=fuzz-viewer")
        token = server.kubectl("create", "token", "nobody", "-n", namespace).stdout.strip()
        yield Target(server, namespace, _client_context(server, workdir, "fuzz-viewer"),
                     ssl.create_default_context(cafile=str(server.pki.ca_cert)), token)
    finally:
        stop_apiserver(server)


def _client_context(server: APIServerProcess, workdir: Path, user: str) -> ssl.SSLContext:
    ca = read_certified_key(server.pki.ca_cert, server.pki.ca_key)
    cert, key = workdir / f"{user}.crt", workdir / f"{user}.key"
    write_certified_key(issue_client_cert(ca, user, ["fuzzers"]), cert, key)
    context = ssl.create_default_context(cafile=str(server.pki.ca_cert))
    context.load_cert_chain(str(cert), str(key))
    return context


# --- strategies ----------------------------------------------------------------------------------
NAMESPACE = "{ns}"  # replaced by the target namespace when the request is sent
RESOURCE_PATHS = [
    "/api/v1/namespaces/{ns}/pods", "/api/v1/namespaces/{ns}/configmaps", "/api/v1/namespaces/{ns}/secrets",
    "/api/v1/namespaces/{ns}/configmaps/present", "/api/v1/namespaces/{ns}/serviceaccounts/nobody/token",
    "/api/v1/namespaces/{ns}/pods/p/status", "/api/v1/namespaces/{ns}/pods/p/exec", "/api/v1/namespaces/{ns}",
    "/api/v1/namespaces/{ns}/finalize", "/apis/apps/v1/namespaces/{ns}/deployments",
    "/apis/apps/v1/namespaces/{ns}/deployments/d/scale", "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/api/v1/namespaces", "/api/v1/nodes", "/api/v1/nodes/n/proxy/x", "/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers",
    "/apis/events.k8s.io/v1/namespaces/{ns}/events", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/apis/authentication.k8s.io/v1/tokenreviews", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    "/apis/certificates.k8s.io/v1/certificatesigningrequests", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", "/api", "/apis", "/api/v1", "/version",
    "/openapi/v2", "/openapi/v3", "/healthz", "/readyz?verbose", "/metrics", "/.well-known/openid-configuration",
    "/openid/v1/jwks", "/logs/", "/apis/apps/v1/watch/namespaces/{ns}/deployments",
]
SEGMENTS = st.one_of(
    st.sampled_from(["..", ".", "", "%2e%2e", "%2F", "%00", "api", "apis", "v1", "namespaces", "{ns}", "pods",
                     "status", "watch", "proxy", "~", "%", "%zz", "%C0%AE", "default", "kube-system", "a" * 300]),
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20).map(
        lambda s: urllib.parse.quote(s, safe="")),
)
QUERY_KEYS = ["watch", "dryRun", "fieldManager", "labelSelector", "fieldSelector", "resourceVersion",
              "resourceVersionMatch", "limit", "continue", "propagationPolicy", "timeoutSeconds", "force",
              "fieldValidation", "gracePeriodSeconds", "sendInitialEvents", "allowWatchBookmarks", "pretty", "x"]
QUERY_VALUES = st.one_of(st.sampled_from(["true", "false", "All", "0", "-1", "1", "99999999999999999999", "=", "a!=b,",
                                          "metadata.name=x", "Strict", "Orphan", "NotOlderThan", ""]),
                         st.text(max_size=12))


@st.composite
def paths(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        path = draw(st.sampled_from(RESOURCE_PATHS))
    elif kind == 1:
        path = "/" + "/".join(draw(st.lists(SEGMENTS, max_size=8)))
    else:  # a real path with random segments spliced in
        base = draw(st.sampled_from(RESOURCE_PATHS)).split("/")
        at = draw(st.integers(1, len(base)))
        path = "/".join(base[:at] + draw(st.lists(SEGMENTS, min_size=1, max_size=3)) + base[at:])
    params = draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS), QUERY_VALUES), max_size=4))
    if params:
        path += "?" + urllib.parse.urlencode(params)
    return path


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=15)


@st.composite
def tokens(draw: st.DrawFn, genuine: str) -> str:
    """Bearer credentials: the genuine token mutated, forged JWTs, and plain garbage."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return genuine
    header, payload, signature = genuine.split(".")
    if kind == 1:  # a claim changed, the signature kept
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        key = draw(st.sampled_from(["sub", "exp", "nbf", "iat", "aud", "iss", "kubernetes.io"]))
        claims[key] = draw(st.sampled_from(["system:serviceaccount:kube-system:admin", 1, 4102444800, None, [],
                                            {"namespace": "kube-system"}, "https://kubernetes.default.svc"]))
        return ".".join([header, _b64url(json.dumps(claims).encode()), signature])
    if kind == 2:  # alg none / another algorithm with the claims kept
        alg = draw(st.sampled_from(["none", "HS256", "RS256", "ES512", ""]))
        return ".".join([_b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode()), payload,
                         draw(st.sampled_from(["", signature, "AAAA"]))])
    if kind == 3:  # one byte flipped somewhere
        at = draw(st.integers(0, len(genuine) - 1))
        flipped = chr((ord(genuine[at]) + draw(st.integers(1, 60))) % 94 + 33)
        return genuine[:at] + flipped + genuine[at + 1:]
    if kind == 4:  # structurally random JWT parts
        parts = draw(st.lists(st.one_of(st.binary(max_size=40).map(_b64url),
                                        JSON_VALUES.map(lambda v: _b64url(json.dumps(v).encode()))),
                              min_size=1, max_size=4))
        return ".".join(parts)
    return draw(st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=60))


HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=40)
CONTENT_TYPES = ["application/json", "application/yaml", "application/merge-patch+json",
                 "application/json-patch+json", "application/strategic-merge-patch+json",
                 "application/apply-patch+yaml", "application/vnd.kubernetes.protobuf", "text/plain",
                 "application/json;charset=utf-16", "multipart/form-data; boundary=x", "*/*", ""]
ACCEPTS = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
           "application/json;as=Table;v=v1;g=meta.k8s.io", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
           "application/json;stream=watch", "text/html", "*/*", ";;;", "application/json;as=Nope;v=v9"]


@st.composite
def headers(draw: st.DrawFn, genuine_token: str) -> dict[str, str]:
    result: dict[str, str] = {}
    auth = draw(st.integers(0, 3))
    if auth == 1:
        result["Authorization"] = "Bearer " + draw(tokens(genuine_token))
    elif auth == 2:
        result["Authorization"] = draw(st.sampled_from(["Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "bearer x",
                                                        "Bearer  " + genuine_token, "Negotiate abc"]))
    elif auth == 3:
        result["Authorization"] = draw(HEADER_TEXT)
    if draw(st.booleans()):
        result["Impersonate-User"] = draw(st.sampled_from(
            ["admin", "system:admin", "kubernetes-admin", "system:serviceaccount:kube-system:default",
             "system:anonymous", "", "system:node:n"]) | HEADER_TEXT)
        for _ in range(draw(st.integers(0, 2))):
            result["Impersonate-Group"] = draw(
                st.sampled_from(["system:masters", "system:authenticated", "system:nodes"]) | HEADER_TEXT)
        if draw(st.booleans()):
            result["Impersonate-Uid"] = draw(HEADER_TEXT)
        if draw(st.booleans()):
            result["Impersonate-Extra-" + draw(st.sampled_from(["scopes", "a%2Fb", "%zz", ""]))] = draw(HEADER_TEXT)
    if draw(st.booleans()):
        result["Impersonate-Group"] = draw(st.sampled_from(["system:masters", "system:privileged"]))
    if draw(st.booleans()):
        result["Content-Type"] = draw(st.sampled_from(CONTENT_TYPES) | HEADER_TEXT)
    if draw(st.booleans()):
        result["Accept"] = draw(st.sampled_from(ACCEPTS) | HEADER_TEXT)
    if draw(st.booleans()):
        result[draw(st.sampled_from(["Content-Encoding", "Accept-Encoding", "Transfer-Encoding", "X-Remote-User",
                                     "X-Remote-Group", "Audit-Id", "User-Agent", "Expect"]))] = draw(HEADER_TEXT)
    return {k: v for k, v in result.items() if k.strip()}


def _pod(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fuzzed", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@st.composite
def mutated_objects(draw: st.DrawFn) -> dict[str, Any]:
    obj = draw(st.sampled_from([
        _pod(NAMESPACE),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fuzzed"}, "data": {"a": "b"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "fuzzed"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "Group", "name": "system:anonymous", "apiGroup": "rbac.authorization.k8s.io"}]},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fuzzed"}},
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"audiences": []}},
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
         "spec": {"resourceAttributes": {"verb": "create", "resource": "pods"}}},
    ]))
    obj = json.loads(json.dumps(obj))
    for _ in range(draw(st.integers(0, 3))):
        node: Any = obj
        keys = draw(st.lists(st.sampled_from(["metadata", "spec", "name", "namespace", "containers", "0", "kind",
                                              "apiVersion", "subjects", "labels", "x"]), min_size=1, max_size=4))
        for key in keys[:-1]:
            if isinstance(node, dict):
                node = node.setdefault(key, {})
            elif isinstance(node, list) and node:
                node = node[0]
        if isinstance(node, dict):
            node[keys[-1]] = draw(JSON_VALUES)
    return obj


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return b""
    if kind == 1:
        return draw(st.binary(max_size=200))
    if kind == 2:
        return json.dumps(draw(JSON_VALUES)).encode()
    obj = draw(mutated_objects())
    if kind == 3:
        return json.dumps(obj).encode()
    return yaml.safe_dump(obj).encode()


# --- sending ---------------------------------------------------------------------------------------
def send(target: Target, context: ssl.SSLContext, method: str, path: str, hdrs: dict[str, str],
         body: bytes) -> int:
    """One raw request on its own connection; the status code (headers only: watches stream)."""
    host, port = target.server.url.removeprefix("https://").split(":")
    path = path.replace(NAMESPACE, target.namespace)
    body = body.replace(NAMESPACE.encode(), target.namespace.encode())
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    if "Transfer-Encoding" not in hdrs:
        lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT) as plain, \
            context.wrap_socket(plain, server_hostname=host) as tls:
        tls.sendall(raw)
        response = http.client.HTTPResponse(tls, method=method)
        response.begin()
        return response.status


METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"]) | \
    st.text(st.characters(min_codepoint=65, max_codepoint=90), min_size=1, max_size=8)


def _check(target: Target, context: ssl.SSLContext, method: str, path: str, hdrs: dict[str, str],
           body: bytes) -> None:
    status = send(target, context, method, path, hdrs, body)
    event(f"status {status}")  # --hypothesis-show-statistics shows how the requests fared
    assert status < 500, f"{method} {path} {hdrs} -> {status}"
    # A caller without write rights never gets a success for a write (the etcd check below
    # catches writes that answered an error anyway).
    resource_path = path.startswith(("/api/", "/apis/"))
    if method in ("POST", "PUT", "PATCH", "DELETE") and resource_path and 200 <= status < 300:
        # Self reviews are creates every authenticated user may make; they store nothing.
        assert "selfsubject" in path.lower(), f"{method} {path} {hdrs} -> {status}"


FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def keys_before(target: Target) -> set[str]:
    return _etcd_keys(target.server)


@FUZZ_SETTINGS
@given(data=st.data())
def test_anonymous_and_forged_credentials(target: Target, keys_before: set[str], data: st.DataObject) -> None:
    hdrs = data.draw(headers(target.sa_token))
    _check(target, target.anonymous_context, data.draw(METHODS), data.draw(paths()), hdrs, data.draw(bodies()))


@FUZZ_SETTINGS
@given(data=st.data())
def test_viewer_with_mutated_requests(target: Target, keys_before: set[str], data: st.DataObject) -> None:
    hdrs = data.draw(headers(target.sa_token))
    _check(target, target.viewer_context, data.draw(METHODS), data.draw(paths()), hdrs, data.draw(bodies()))


def test_nothing_was_written_and_the_server_is_ready(target: Target, keys_before: set[str]) -> None:
    status, body, _ = target.server.request("GET", "/readyz")
    assert status == 200, body
    assert target.server.process.poll() is None
    assert _etcd_keys(target.server) == keys_before
