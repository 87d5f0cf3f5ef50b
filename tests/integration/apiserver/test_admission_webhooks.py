"""Admission webhooks against a real HTTPS webhook server in this process: a mutating webhook adds
a label with a JSONPatch, a validating one denies with a message, warnings become Warning headers,
dry-run is refused by webhooks with side effects, and an unreachable webhook follows its
failurePolicy (Fail: 500, Ignore: admitted)."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import APIServerProcess
from test_admission_plugins import create_pod, new_namespace, pod

from kubeplane.component import pki

pytestmark = pytest.mark.integration


class _Reviewer(http.server.BaseHTTPRequestHandler):
    """/mutate adds label mutated=yes; /validate denies pods labelled deny=true and warns otherwise."""

    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        request = review["request"]
        type(self).seen.append(request)
        response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
        obj = request.get("object") or {}
        if self.path == "/mutate":
            labels = (obj.get("metadata") or {}).get("labels")
            patch = [{"op": "add", "path": "/metadata/labels", "value": {}}] if not labels else []
            patch.append({"op": "add", "path": "/metadata/labels/mutated", "value": "yes"})
            response.update(patchType="JSONPatch", patch=base64.b64encode(json.dumps(patch).encode()).decode())
        elif ((obj.get("metadata") or {}).get("labels") or {}).get("deny") == "true":
            response.update(allowed=False, status={"code": 403, "message": "pods labelled deny are not welcome"})
        else:
            response["warnings"] = ["checked by the test webhook"]
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": response}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(https URL base, base64 caBundle) of a webhook server on loopback, stopped at the end."""
    directory = tmp_path_factory.mktemp("webhook")
    ca = pki.create_ca("webhook-test-ca")
    leaf = pki.issue_serving_cert(ca, "webhook", ["localhost"], ["127.0.0.1"])
    cert, key = Path(directory / "tls.crt"), Path(directory / "tls.key")
    pki.write_certified_key(leaf, cert, key)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Reviewer)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", base64.b64encode(pki.cert_pem(ca.cert)).decode()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _configure(server: APIServerProcess, kind: str, name: str, hooks: list[dict[str, Any]]) -> None:
    resource = "mutatingwebhookconfigurations" if kind.startswith("Mutating") else "validatingwebhookconfigurations"
    status, body, _ = server.request("POST", f"/apis/admissionregistration.k8s.io/v1/{resource}",
                                     {"metadata": {"name": name}, "webhooks": hooks})
    assert status == 201, body


def _hook(name: str, url: str, ca_bundle: str, ns: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "clientConfig": {"url": url, "caBundle": ca_bundle},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "sideEffects": "None", "admissionReviewVersions": ["v1"], **extra}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_mutating_and_validating_webhooks(apiserver: APIServerProcess, webhook: tuple[str, str]) -> None:
    url, ca_bundle = webhook
    ns = new_namespace(apiserver)
    suffix = uuid.uuid4().hex[:6]
    _configure(apiserver, "Mutating", f"label-{suffix}", [_hook("label.test.io", url + "/mutate", ca_bundle, ns)])
    _configure(apiserver, "Validating", f"deny-{suffix}", [_hook("deny.test.io", url + "/validate", ca_bundle, ns)])
    status, created, headers = create_pod(apiserver, ns, pod("ok"))
    assert status == 201, created
    assert created["metadata"]["labels"] == {"mutated": "yes"}
    assert "checked by the test webhook" in headers.get("Warning", "")
    request = next(r for r in _Reviewer.seen if r.get("namespace") == ns and r["operation"] == "CREATE")
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert "system:masters" in request["userInfo"]["groups"]

    status, body, _ = create_pod(apiserver, ns, pod("bad", labels={"deny": "true"}))
    assert status == 403
    assert body["message"] == 'admission webhook "deny.test.io" denied the request: pods labelled deny are not welcome'
    # Other namespaces are outside the namespaceSelector.
    other = new_namespace(apiserver)
    status, created, _ = create_pod(apiserver, other, pod("free", labels={"deny": "true"}))
    assert status == 201 and "mutated" not in created["metadata"]["labels"]


def test_failure_policy_and_dry_run(apiserver: APIServerProcess, webhook: tuple[str, str]) -> None:
    url, ca_bundle = webhook
    down = f"https://127.0.0.1:{_closed_port()}/validate"
    ns_ignore, ns_fail = new_namespace(apiserver), new_namespace(apiserver)
    suffix = uuid.uuid4().hex[:6]
    _configure(apiserver, "Validating", f"down-{suffix}", [
        _hook("ignore.test.io", down, ca_bundle, ns_ignore, failurePolicy="Ignore", timeoutSeconds=2),
        _hook("fail.test.io", down, ca_bundle, ns_fail, failurePolicy="Fail", timeoutSeconds=2)])
    status, body, _ = create_pod(apiserver, ns_ignore, pod("p"))
    assert status == 201, body
    status, body, _ = create_pod(apiserver, ns_fail, pod("p"))
    assert status == 500
    assert body["message"].startswith('Internal error occurred: failed calling webhook "fail.test.io": '
                                      "failed to call webhook: ")

    ns_effects = new_namespace(apiserver)
    _configure(apiserver, "Validating", f"effects-{suffix}", [
        _hook("effects.test.io", url + "/validate", ca_bundle, ns_effects, sideEffects="Some")])
    status, body, _ = create_pod(apiserver, ns_effects, pod("dry"), "?dryRun=All")
    assert status == 400
    assert body["message"] == 'admission webhook "effects.test.io" does not support dry run'
    status, body, _ = create_pod(apiserver, ns_effects, pod("real"))
    assert status == 201, body
