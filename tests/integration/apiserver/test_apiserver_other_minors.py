"""Clusters created at other minors of the version catalog (1.29 and 1.37 beside the
session's default 1.35) serve that minor's /version, groups and schemas, and nothing their minor
does not have."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_process import APIServerProcess, start_apiserver, stop_apiserver

pytestmark = pytest.mark.integration

ADMISSION = "/apis/admissionregistration.k8s.io/v1"


@pytest.fixture(scope="module", params=["1.29", "1.37"])
def versioned(request: pytest.FixtureRequest, apiserver: APIServerProcess,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, APIServerProcess]]:
    minor: str = request.param
    workdir: Path = tmp_path_factory.mktemp(f"apiserver-{minor}")
    server = start_apiserver(workdir, apiserver.etcd_url, f"/kp-{uuid.uuid4().hex[:8]}/registry", pki=apiserver.pki,
                             extra=(f"--kubernetes-version={minor}",))
    yield minor, server
    stop_apiserver(server)


def expect(response: tuple[int, Any, dict[str, str]], status: int) -> Any:
    code, body, _ = response
    assert code == status, f"expected {status}, got {code}: {str(body)[:600]}"
    return body


def test_version_endpoint_reports_the_minor(versioned: tuple[str, APIServerProcess]) -> None:
    minor, server = versioned
    info = expect(server.request("GET", "/version"), 200)
    assert info["major"] == "1" and info["minor"] == minor.split(".")[1]
    assert info["gitVersion"].startswith(f"v{minor}.")
    version = server.kubectl("version", "-o", "json").stdout
    assert f'"gitVersion": "v{minor}.' in version


def test_validating_admission_policies_exist_from_1_30(versioned: tuple[str, APIServerProcess]) -> None:
    """ValidatingAdmissionPolicy went GA (admissionregistration.k8s.io/v1) in 1.30: a 1.29 cluster
    neither lists nor serves it; a 1.37 cluster does both."""
    minor, server = versioned
    listed = [r["name"] for r in expect(server.request("GET", ADMISSION), 200)["resources"]]
    served = server.request("GET", f"{ADMISSION}/validatingadmissionpolicies")[0]
    if minor == "1.29":
        assert "validatingadmissionpolicies" not in listed
        assert served == 404
    else:
        assert "validatingadmissionpolicies" in listed
        assert served == 200


def test_openapi_follows_the_minor(versioned: tuple[str, APIServerProcess]) -> None:
    minor, server = versioned
    definitions = expect(server.request("GET", "/openapi/v2"), 200)["definitions"]
    has_policy = "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy" in definitions
    assert has_policy == (minor != "1.29")


def test_removed_beta_apis_are_not_served(versioned: tuple[str, APIServerProcess]) -> None:
    """APIs upstream removed before (or within) the catalog's range answer 404 at every minor."""
    _, server = versioned
    for path in ("/apis/flowcontrol.apiserver.k8s.io/v1beta2", "/apis/policy/v1beta1/podsecuritypolicies",
                 "/apis/autoscaling/v2beta2", "/apis/batch/v1beta1", "/apis/storage.k8s.io/v1beta1/csistoragecapacities"):
        assert server.request("GET", path)[0] == 404, path


def test_objects_round_trip_at_the_minor(versioned: tuple[str, APIServerProcess]) -> None:
    _, server = versioned
    namespace = f"v-{uuid.uuid4().hex[:6]}"
    server.kubectl("create", "namespace", namespace)
    server.kubectl("create", "deployment", "web", "-n", namespace, "--image=busybox:1.35", "--replicas=0")
    assert server.kubectl("get", "deploy", "web", "-n", namespace, "-o", "jsonpath={.spec.replicas}").stdout == "0"
