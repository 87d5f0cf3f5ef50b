"""The real kubectl reads our discovery and OpenAPI documents (served by a throwaway server)."""

from __future__ import annotations

from pathlib import Path

import pytest

# pytest puts this directory on sys.path (rootdir-relative "prepend" import mode).
from catalog_kubectl_server import kubectl_path, run_kubectl, serving

pytestmark = pytest.mark.skipif(kubectl_path() is None, reason="kubectl is not installed")


async def test_api_resources_lists_core_and_group_resources(tmp_path: Path) -> None:
    async with serving("1.35") as server:
        out = await run_kubectl(server, tmp_path, "api-resources")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["pods"] == ["pods", "po", "v1", "true", "Pod"]
    assert rows["deployments"] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert rows["namespaces"] == ["namespaces", "ns", "v1", "false", "Namespace"]
    assert rows["horizontalpodautoscalers"][2] == "autoscaling/v2"  # the preferred version
    assert rows["customresourcedefinitions"][1] == "crd,crds"
    assert "pods/status" not in rows


async def test_api_resources_wide_shows_verbs_and_categories(tmp_path: Path) -> None:
    async with serving("1.35") as server:
        out = await run_kubectl(server, tmp_path, "api-resources", "-o", "wide", "--api-group=batch")
    jobs = next(line.split() for line in out.splitlines() if line.startswith("jobs "))
    assert jobs == ["jobs", "batch/v1", "true", "Job", "create,delete,deletecollection,get,list,patch,update,watch", "all"]


async def test_api_versions_lists_every_served_group_version(tmp_path: Path) -> None:
    async with serving("1.35") as server:
        out = await run_kubectl(server, tmp_path, "api-versions")
    versions = out.split()
    assert "v1" in versions
    assert {"apps/v1", "autoscaling/v1", "autoscaling/v2", "batch/v1", "rbac.authorization.k8s.io/v1"} <= set(versions)


async def test_api_versions_follow_the_minor(tmp_path: Path) -> None:
    async with serving("1.29") as server:
        out = await run_kubectl(server, tmp_path, "api-resources", "--api-group=admissionregistration.k8s.io")
    # ValidatingAdmissionPolicy went GA in 1.30, so a 1.29 server does not list it.
    assert "validatingwebhookconfigurations" in out
    assert "validatingadmissionpolicies" not in out


async def test_explain_field_path(tmp_path: Path) -> None:
    async with serving("1.35") as server:
        out = await run_kubectl(server, tmp_path, "explain", "pod.spec.containers")
    assert "KIND:       Pod" in out
    assert "FIELD: containers <[]Container>" in out
    assert "image\t<string>" in out


async def test_explain_recursive(tmp_path: Path) -> None:
    async with serving("1.35") as server:
        out = await run_kubectl(server, tmp_path, "explain", "deployment", "--recursive")
    assert "GROUP:      apps" in out
    assert "replicas\t<integer>" in out
    assert "maxSurge\t<IntOrString>" in out


async def test_version_reports_the_minor(tmp_path: Path) -> None:
    async with serving("1.33") as server:
        out = await run_kubectl(server, tmp_path, "version", "-o", "json")
    assert '"gitVersion": "v1.33.5-kubeplane"' in out
