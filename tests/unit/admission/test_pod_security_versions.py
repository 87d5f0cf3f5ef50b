"""PodSecurity: versioned policies, audit annotations and exemptions, on the plugin itself."""

from __future__ import annotations

import asyncio
import re
from typing import Any, cast

import pytest

from kubeplane.apiserver.admission.attributes import CREATE, Attributes, User
from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.apiserver.admission.pod_security import AUDIT_VIOLATIONS, ENFORCE_POLICY, EXEMPT, PodSecurity
from kubeplane.apiserver.admission.pod_security_versions import InvalidVersion, evaluate, parse_version
from kubeplane.catalog import Catalog
from kubeplane.machinery.errors import StatusError

JSON = dict[str, Any]
CATALOG = Catalog.for_version("1.31")


class Namespaces:
    """The only object PodSecurity reads: the request's namespace."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels

    async def get(self, group: str, resource: str, namespace: str, name: str) -> JSON | None:
        return {"metadata": {"name": name, "labels": self.labels}}


def _restricted_pod(**container_sc: Any) -> JSON:
    sc = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
          "seccompProfile": {"type": "RuntimeDefault"}, **container_sc}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "busybox", "securityContext": sc}]}}


def _admit(labels: dict[str, str], pod: JSON, config: JSON | None = None, user: str = "alice",
           namespace: str = "team") -> Attributes:
    plugin = PodSecurity(cast(ClusterObjects, Namespaces(labels)), config)
    info = CATALOG.lookup("", "v1", "pods")
    assert info is not None
    attrs = Attributes(CREATE, info, namespace, "p", pod, None, User(user))
    asyncio.run(plugin.validate(attrs))
    return attrs


def test_versions_parse_and_gate_checks() -> None:
    assert parse_version("latest") is None
    assert parse_version("v1.24") == (1, 24)
    for bad in ("1.24", "v2.0", "v1.024", "v1.x", ""):
        with pytest.raises(InvalidVersion):
            parse_version(bad)
    root = _restricted_pod(runAsUser=0)["spec"]
    # runAsUser=0 is refused only from v1.23 on.
    assert [r for r, _ in evaluate("restricted", (1, 22), {}, root)] == []
    assert [r for r, _ in evaluate("restricted", (1, 23), {}, root)] == ["runAsUser=0"]
    assert [r for r, _ in evaluate("restricted", None, {}, root)] == ["runAsUser=0"]
    keepalive = {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]},
                 "containers": [{"name": "c"}]}
    assert evaluate("baseline", (1, 28), {}, keepalive) == [("forbidden sysctls", "net.ipv4.tcp_keepalive_time")]
    assert evaluate("baseline", (1, 29), {}, keepalive) == []


def test_enforce_version_label_is_honoured() -> None:
    pod = _restricted_pod(runAsUser=0)
    admitted = _admit({"pod-security.kubernetes.io/enforce": "restricted",
                       "pod-security.kubernetes.io/enforce-version": "v1.22"}, pod)
    assert admitted.audit_annotations[ENFORCE_POLICY] == "restricted:v1.22"
    with pytest.raises(StatusError) as refused:
        _admit({"pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "v1.23"}, pod)
    assert 'violates PodSecurity "restricted:v1.23": runAsUser=0 (container "app" must not set runAsUser=0)' \
        in refused.value.message


def test_an_invalid_version_or_level_means_restricted_latest() -> None:
    pod = _restricted_pod(runAsUser=0)
    for labels in ({"pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/enforce-version": "v1.x"},
                   {"pod-security.kubernetes.io/enforce": "strictest"}):
        with pytest.raises(StatusError, match='"restricted:latest"'):
            _admit(labels, pod)


def test_audit_mode_annotates_the_audit_event_without_refusing() -> None:
    privileged = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                  "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "busybox"}]}}
    attrs = _admit({"pod-security.kubernetes.io/audit": "baseline"}, privileged)
    assert attrs.audit_annotations == {
        ENFORCE_POLICY: "privileged:latest",
        AUDIT_VIOLATIONS: 'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)'}
    assert attrs.warnings == []
    clean = _admit({"pod-security.kubernetes.io/audit": "restricted"}, _restricted_pod())
    assert AUDIT_VIOLATIONS not in clean.audit_annotations


def test_configuration_defaults_and_exemptions() -> None:
    privileged: JSON = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                        "spec": {"hostPID": True, "containers": [{"name": "c", "image": "busybox"}]}}
    config: JSON = {"defaults": {"enforce": "baseline", "enforce-version": "v1.25"},
              "exemptions": {"usernames": ["ci-bot"], "namespaces": ["ops"], "runtimeClasses": ["kata"]}}
    with pytest.raises(StatusError, match=re.escape('"baseline:v1.25"')):
        _admit({}, privileged, config)
    assert _admit({}, privileged, config, user="ci-bot").audit_annotations == {EXEMPT: "user"}
    assert _admit({}, privileged, config, namespace="ops").audit_annotations == {EXEMPT: "namespace"}
    kata = {**privileged, "spec": {**privileged["spec"], "runtimeClassName": "kata"}}
    assert _admit({}, kata, config).audit_annotations == {EXEMPT: "runtimeClass"}
    # A namespace label overrides the configured default.
    assert _admit({"pod-security.kubernetes.io/enforce": "privileged"}, privileged, config).audit_annotations == {
        ENFORCE_POLICY: "privileged:v1.25"}
