"""A real API server with an audit policy and log: kubectl's requests become audit.k8s.io/v1 events."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import APIServerProcess, start_apiserver, stop_apiserver

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: []
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: None
  resources: [{group: "", resources: ["configmaps"]}]
- level: Metadata
  namespaces: ["{metadata_ns}"]
- level: RequestResponse
  resources: [{group: "", resources: ["secrets"]}]
- level: Metadata
  resources: [{group: "", resources: ["namespaces"]}]
"""

Event = dict[str, Any]


@pytest.fixture(scope="module")
def audited(etcd_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[APIServerProcess, Path, str]]:
    workdir = tmp_path_factory.mktemp("audit")
    metadata_ns = f"meta-{uuid.uuid4().hex[:8]}"
    policy = workdir / "policy.yaml"
    policy.write_text(POLICY.replace("{metadata_ns}", metadata_ns))
    log = workdir / "audit" / "audit.log"
    server = start_apiserver(workdir, etcd_url, f"/kp-{uuid.uuid4().hex[:8]}/registry",
                             extra=(f"--audit-policy-file={policy}", f"--audit-log-path={log}"))
    try:
        yield server, log, metadata_ns
    finally:
        stop_apiserver(server)


def wait_for_events(log: Path, match: Callable[[Event], bool], count: int, timeout: float = 15) -> list[Event]:
    """The matching events once ``count`` of them are in the log (the writer batches asynchronously)."""
    deadline = time.monotonic() + timeout
    found: list[Event] = []
    while time.monotonic() < deadline:
        if log.exists():
            found = [e for e in map(json.loads, log.read_text().splitlines()) if match(e)]
            if len(found) >= count:
                return found
        time.sleep(0.1)
    raise AssertionError(f"wanted {count} matching audit events, found {len(found)}: {found}")


def for_object(resource: str, name: str, verb: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        ref = event.get("objectRef") or {}
        return ref.get("resource") == resource and ref.get("name") == name and event["verb"] == verb
    return match


def test_kubectl_create_secret_is_logged_with_bodies(audited: tuple[APIServerProcess, Path, str]) -> None:
    server, log, _ = audited
    ns, name = f"a-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:6]}"
    server.kubectl("create", "namespace", ns)
    server.kubectl("create", "secret", "generic", name, "-n", ns, "--from-literal=password=hunter2")
    done = wait_for_events(log, for_object("secrets", name, "create"), 1)[0]
    # RequestReceived comes first, before the body gave the object's name.
    events = wait_for_events(log, lambda e: e["auditID"] == done["auditID"], 2)
    assert [e["stage"] for e in events] == ["RequestReceived", "ResponseComplete"]
    assert events[0]["objectRef"] == {"resource": "secrets", "namespace": ns, "apiVersion": "v1"}
    assert done["level"] == "RequestResponse" and done["apiVersion"] == "audit.k8s.io/v1"
    assert done["objectRef"] == {"resource": "secrets", "namespace": ns, "name": name, "apiVersion": "v1"}
    assert done["user"]["username"] == "kubernetes-admin"
    assert "system:masters" in done["user"]["groups"]
    assert done["userAgent"].startswith("kubectl")
    assert done["sourceIPs"] == ["127.0.0.1"]
    assert done["responseStatus"]["code"] == 201
    assert done["requestObject"]["kind"] == "Secret" and done["requestObject"]["data"]["password"]
    assert done["responseObject"]["metadata"]["uid"]
    assert done["annotations"]["authorization.k8s.io/decision"] == "allow"


def test_audit_id_header_matches_the_event(audited: tuple[APIServerProcess, Path, str]) -> None:
    server, log, _ = audited
    ns = f"b-{uuid.uuid4().hex[:8]}"
    server.kubectl("create", "namespace", ns)
    status, _, headers = server.request("GET", f"/api/v1/namespaces/{ns}/secrets/missing")
    assert status == 404
    audit_id = headers["Audit-Id"]
    events = wait_for_events(log, lambda e: e["auditID"] == audit_id, 2)
    assert [e["stage"] for e in events] == ["RequestReceived", "ResponseComplete"]
    assert events[1]["responseStatus"]["code"] == 404 and events[1]["responseStatus"]["reason"] == "NotFound"
    assert events[1]["responseObject"]["kind"] == "Status"
    # A client's own Audit-ID is kept.
    _, _, headers = server.request("GET", f"/api/v1/namespaces/{ns}/secrets", headers={"Audit-ID": "mine-1"})
    assert headers["Audit-Id"] == "mine-1"
    wait_for_events(log, lambda e: e["auditID"] == "mine-1", 2)


def test_metadata_rule_omits_bodies_and_none_excludes(audited: tuple[APIServerProcess, Path, str]) -> None:
    server, log, metadata_ns = audited
    server.kubectl("create", "namespace", metadata_ns)
    server.kubectl("create", "secret", "generic", "quiet", "-n", metadata_ns, "--from-literal=k=v")
    server.kubectl("create", "configmap", "ignored", "-n", metadata_ns, "--from-literal=k=v")
    done = wait_for_events(log, for_object("secrets", "quiet", "create"), 1)[0]
    assert done["level"] == "Metadata"
    assert "requestObject" not in done and "responseObject" not in done
    assert done["responseStatus"] == {"metadata": {}, "code": 201}
    # The configmap was created after the secret; once a later event is in, its absence is real.
    server.kubectl("get", "namespace", metadata_ns)
    wait_for_events(log, for_object("namespaces", metadata_ns, "get"), 2)  # both of its stages
    assert not any((e.get("objectRef") or {}).get("resource") == "configmaps"
                   for e in map(json.loads, log.read_text().splitlines()))


def test_watch_has_a_response_started_stage(audited: tuple[APIServerProcess, Path, str]) -> None:
    server, log, _ = audited
    ns = f"c-{uuid.uuid4().hex[:8]}"
    server.kubectl("create", "namespace", ns)
    status, _, headers = server.request("GET", f"/api/v1/namespaces/{ns}/secrets?watch=true&timeoutSeconds=1")
    assert status == 200
    events = wait_for_events(log, lambda e: e["auditID"] == headers["Audit-Id"], 3)
    assert [e["stage"] for e in events] == ["RequestReceived", "ResponseStarted", "ResponseComplete"]
    assert {e["verb"] for e in events} == {"watch"}
    assert "responseObject" not in events[2]


def test_pod_security_audit_mode_annotates_the_event(audited: tuple[APIServerProcess, Path, str]) -> None:
    """PodSecurity in audit mode lets the pod in and records the violations on its audit event."""
    server, log, metadata_ns = audited
    server.kubectl("create", "namespace", metadata_ns, check=False)  # an earlier test may have made it
    server.kubectl("label", "--overwrite", "namespace", metadata_ns, "pod-security.kubernetes.io/audit=restricted",
                   "pod-security.kubernetes.io/audit-version=latest")
    name = f"p-{uuid.uuid4().hex[:6]}"
    server.kubectl("run", name, "-n", metadata_ns, "--image=busybox:1.35", "--restart=Never",
                   "--overrides", json.dumps({"spec": {"containers": [{
                       "name": name, "image": "busybox:1.35", "securityContext": {"privileged": True}}]}}))
    done = wait_for_events(log, lambda e: for_object("pods", name, "create")(e)
                           and e["stage"] == "ResponseComplete", 1)[0]
    annotations = done.get("annotations") or {}
    assert annotations["pod-security.kubernetes.io/enforce-policy"] == "privileged:latest"
    violations = annotations["pod-security.kubernetes.io/audit-violations"]
    assert violations.startswith('would violate PodSecurity "restricted:latest": privileged')
