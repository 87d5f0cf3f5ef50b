"""Pod defaults match upstream's pkg/apis/core/v1/defaults.go."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplane.machinery import defaults


def _pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": base}


def _defaulted(pod: dict[str, Any], minor: str = "1.35") -> dict[str, Any]:
    defaults.apply("", "v1", "Pod", pod, minor)
    return pod


def test_pod_spec_defaults() -> None:
    spec = _defaulted(_pod())["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True


def test_container_defaults() -> None:
    ctr = _defaulted(_pod())["spec"]["containers"][0]
    assert ctr["terminationMessagePath"] == "/dev/termination-log"
    assert ctr["terminationMessagePolicy"] == "File"
    assert ctr["imagePullPolicy"] == "Always"
    assert ctr["resources"] == {}


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("nginx:1.25", "IfNotPresent"),
    ("registry.local:5000/team/app", "Always"),
    ("registry.local:5000/team/app:v2", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ("", "IfNotPresent"),
    ("NGINX", "IfNotPresent"),
])
def test_image_pull_policy(image: str, policy: str) -> None:
    pod = _pod(containers=[{"name": "c", "image": image}])
    assert _defaulted(pod)["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_explicit_values_are_kept() -> None:
    pod = _pod(restartPolicy="Never", terminationGracePeriodSeconds=0,
               containers=[{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}])
    spec = _defaulted(pod)["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["terminationGracePeriodSeconds"] == 0
    assert spec["containers"][0]["imagePullPolicy"] == "Never"


def test_ports_probes_and_env() -> None:
    ctr = {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
           "readinessProbe": {"httpGet": {"port": 80}},
           "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}
    out = _defaulted(_pod(containers=[ctr]))["spec"]["containers"][0]
    assert out["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    probe = out["readinessProbe"]
    assert (probe["timeoutSeconds"], probe["periodSeconds"], probe["successThreshold"],
            probe["failureThreshold"]) == (1, 10, 1, 3)
    assert probe["httpGet"] == {"port": 80, "path": "/", "scheme": "HTTP"}
    assert out["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"


def test_volume_defaults() -> None:
    volumes = [{"name": "empty"}, {"name": "cm", "configMap": {"name": "x"}}, {"name": "s", "secret": {"secretName": "x"}},
               {"name": "d", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
               {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]
    out = _defaulted(_pod(volumes=volumes))["spec"]["volumes"]
    assert out[0]["emptyDir"] == {}
    assert out[1]["configMap"]["defaultMode"] == 420
    assert out[2]["secret"]["defaultMode"] == 420
    assert out[3]["downwardAPI"]["defaultMode"] == 420
    assert out[3]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert out[4]["projected"]["defaultMode"] == 420
    assert out[4]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600


def test_requests_default_to_limits_and_resize_policy() -> None:
    ctr = {"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "1", "memory": "1Gi"},
                                                         "requests": {"cpu": "500m"}}}
    out = _defaulted(_pod(containers=[ctr]))["spec"]["containers"][0]
    assert out["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert out["resizePolicy"] == [{"resourceName": "cpu", "restartPolicy": "NotRequired"},
                                   {"resourceName": "memory", "restartPolicy": "NotRequired"}]


def test_no_resize_policy_before_1_33() -> None:
    ctr = {"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "1"}}}
    out = _defaulted(_pod(containers=[ctr]), minor="1.32")["spec"]["containers"][0]
    assert "resizePolicy" not in out


def test_host_network_copies_container_ports_to_host_ports() -> None:
    ctr = {"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}]}
    out = _defaulted(_pod(hostNetwork=True, containers=[ctr]))["spec"]["containers"][0]
    assert out["ports"][0]["hostPort"] == 8080


def test_ill_typed_input_does_not_crash() -> None:
    pod = _pod(containers="oops", volumes=[1, None], securityContext=[])
    _defaulted(pod)
    assert pod["spec"]["containers"] == "oops"
    assert pod["spec"]["securityContext"] == []
