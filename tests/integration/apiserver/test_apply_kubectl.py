"""Server-side apply through kubectl against a real API server: create, change, remove a field,
conflicts between managers, --force-conflicts, and the upgrade from client-side apply."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _configmap(name: str, data: dict[str, str]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def _deployment(name: str, replicas: int, image: str = "nginx:1") -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": image}]}}}})


def _get(apiserver: Any, namespace: str, kind: str, name: str) -> dict[str, Any]:
    out = apiserver.kubectl("-n", namespace, "get", kind, name, "-o", "json", "--show-managed-fields").stdout
    obj: dict[str, Any] = json.loads(out)
    return obj


def _managers(obj: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"].get("managedFields", [])}


def test_server_side_apply_creates_changes_and_removes_fields(apiserver: Any, namespace: str) -> None:
    name = f"cm-{uuid.uuid4().hex[:6]}"
    apply = ("-n", namespace, "apply", "--server-side", "-f", "-")
    assert "serverside-applied" in apiserver.kubectl(*apply, input=_configmap(name, {"a": "1", "b": "2"})).stdout
    obj = _get(apiserver, namespace, "configmap", name)
    assert obj["data"] == {"a": "1", "b": "2"}
    assert _managers(obj) == {("kubectl", "Apply"): {"f:data": {"f:a": {}, "f:b": {}}}}
    apiserver.kubectl(*apply, input=_configmap(name, {"a": "changed"}))
    obj = _get(apiserver, namespace, "configmap", name)
    assert obj["data"] == {"a": "changed"}  # b is no longer applied and nobody else owns it
    assert _managers(obj) == {("kubectl", "Apply"): {"f:data": {"f:a": {}}}}


def test_two_managers_conflict_and_force_conflicts_takes_over(apiserver: Any, namespace: str) -> None:
    name = f"dep-{uuid.uuid4().hex[:6]}"
    apiserver.kubectl("-n", namespace, "apply", "--server-side", "--field-manager=team-a", "-f", "-",
                      input=_deployment(name, 2))
    second = ("-n", namespace, "apply", "--server-side", "--field-manager=team-b", "-f", "-")
    failed = apiserver.kubectl(*second, input=_deployment(name, 5), check=False)
    assert failed.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "team-a": .spec.replicas' in failed.stderr
    assert _get(apiserver, namespace, "deployment", name)["spec"]["replicas"] == 2
    # Same values are shared: team-b applying replicas 2 as well is no conflict.
    apiserver.kubectl(*second, input=_deployment(name, 2))
    shared = _managers(_get(apiserver, namespace, "deployment", name))
    assert "f:replicas" in shared[("team-a", "Apply")]["f:spec"]
    assert "f:replicas" in shared[("team-b", "Apply")]["f:spec"]
    apiserver.kubectl(*second, "--force-conflicts", input=_deployment(name, 5))
    obj = _get(apiserver, namespace, "deployment", name)
    assert obj["spec"]["replicas"] == 5
    managers = _managers(obj)
    assert "f:replicas" not in managers[("team-a", "Apply")]["f:spec"]
    assert "f:replicas" in managers[("team-b", "Apply")]["f:spec"]


def test_client_side_apply_then_server_side_apply(apiserver: Any, namespace: str) -> None:
    name = f"up-{uuid.uuid4().hex[:6]}"
    apiserver.kubectl("-n", namespace, "apply", "-f", "-", input=_deployment(name, 1))
    before = _get(apiserver, namespace, "deployment", name)
    assert ("kubectl-client-side-apply", "Update") in _managers(before)
    # The manifest changed replicas: client-side apply set the old value and nobody changed it since,
    # so the "kubectl" manager may take it over without --force-conflicts, as upstream.
    apiserver.kubectl("-n", namespace, "apply", "--server-side", "-f", "-", input=_deployment(name, 3, "nginx:2"))
    after = _get(apiserver, namespace, "deployment", name)
    assert after["spec"]["replicas"] == 3
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    managers = _managers(after)
    # kubectl moved the client-side-apply entry into its Apply entry (client-go csaupgrade).
    assert ("kubectl-client-side-apply", "Update") not in managers
    assert "f:replicas" in managers[("kubectl", "Apply")]["f:spec"]
    last = json.loads(after["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["replicas"] == 3
    # Another manager changing a field client-side apply owned is still a conflict.
    apiserver.kubectl("-n", namespace, "apply", "-f", "-", input=_deployment(f"{name}-b", 1))
    failed = apiserver.kubectl("-n", namespace, "apply", "--server-side", "--field-manager=other", "-f", "-",
                               input=_deployment(f"{name}-b", 4), check=False)
    assert failed.returncode != 0
    assert 'conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas' in failed.stderr
