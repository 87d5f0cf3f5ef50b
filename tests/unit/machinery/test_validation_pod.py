"""Pod validation: causes carry upstream's field paths and message bodies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeplane.machinery import defaults, validation


def _pod(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    body.update(spec)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": body}
    defaults.apply("", "v1", "Pod", pod)
    return pod


def _causes(pod: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c.type, c.field, c.message) for c in validation.validate_create("", "v1", "Pod", pod)]


def test_valid_pod_has_no_causes() -> None:
    assert _causes(_pod()) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({"containers": []}, ("FieldValueRequired", "spec.containers", "Required value")),
    ({"containers": [{"name": "c"}]}, ("FieldValueRequired", "spec.containers[0].image", "Required value")),
    ({"containers": [{"name": "", "image": "x"}]},
     ("FieldValueRequired", "spec.containers[0].name", "Required value")),
    ({"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]},
     ("FieldValueDuplicate", "spec.containers[1].name", 'Duplicate value: "a"')),
    ({"initContainers": [{"name": "a", "image": "x"}], "containers": [{"name": "a", "image": "y"}]},
     ("FieldValueDuplicate", "spec.containers[0].name", 'Duplicate value: "a"')),
    ({"restartPolicy": "Sometimes"},
     ("FieldValueNotSupported", "spec.restartPolicy",
      'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"')),
    ({"dnsPolicy": "Weird"},
     ("FieldValueNotSupported", "spec.dnsPolicy",
      'Unsupported value: "Weird": supported values: "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"')),
    ({"dnsPolicy": "None"},
     ("FieldValueRequired", "spec.dnsConfig", "Required value: must provide `dnsConfig` when `dnsPolicy` is None")),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 70000}]}]},
     ("FieldValueInvalid", "spec.containers[0].ports[0].containerPort",
      "Invalid value: 70000: must be between 1 and 65535, inclusive")),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]},
     ("FieldValueNotSupported", "spec.containers[0].ports[0].protocol",
      'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "name": "a"},
                                                           {"containerPort": 81, "name": "a"}]}]},
     ("FieldValueDuplicate", "spec.containers[0].ports[1].name", 'Duplicate value: "a"')),
    ({"containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "nope", "mountPath": "/d"}]}]},
     ("FieldValueNotFound", "spec.containers[0].volumeMounts[0].name", 'Not found: "nope"')),
    ({"volumes": [{"name": "v", "emptyDir": {}}], "containers": [{"name": "c", "image": "x", "volumeMounts": [
        {"name": "v", "mountPath": "/d"}, {"name": "v", "mountPath": "/d"}]}]},
     ("FieldValueInvalid", "spec.containers[0].volumeMounts[1].mountPath", 'Invalid value: "/d": must be unique')),
    ({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]},
     ("FieldValueDuplicate", "spec.volumes[1].name", 'Duplicate value: "v"')),
    ({"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]},
     ("FieldValueForbidden", "spec.volumes[0].emptyDir", "Forbidden: may not specify more than 1 volume type")),
    ({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]},
     ("FieldValueInvalid", "spec.containers[0].resources.requests[cpu]",
      'Invalid value: "2": must be less than or equal to cpu limit of 1')),
    ({"containers": [{"name": "c", "image": "x", "livenessProbe": {"periodSeconds": 5}}]},
     ("FieldValueRequired", "spec.containers[0].livenessProbe", "Required value: must specify a handler type")),
    ({"containers": [{"name": "c", "image": "x", "readinessProbe": {
        "exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}]},
     ("FieldValueForbidden", "spec.containers[0].readinessProbe.tcpSocket",
      "Forbidden: may not specify more than 1 handler type")),
    ({"containers": [{"name": "c", "image": "x", "livenessProbe": {
        "exec": {"command": ["true"]}, "successThreshold": 2}}]},
     ("FieldValueInvalid", "spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1")),
    ({"containers": [{"name": "c", "image": "x", "env": [{"name": ""}]}]},
     ("FieldValueRequired", "spec.containers[0].env[0].name", "Required value")),
    ({"containers": [{"name": "c", "image": "x", "env": [{"name": "A=B"}]}]},
     ("FieldValueInvalid", "spec.containers[0].env[0].name",
      "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters "
      "other than '='")),
    ({"activeDeadlineSeconds": 0},
     ("FieldValueInvalid", "spec.activeDeadlineSeconds", "Invalid value: 0: must be between 1 and 2147483647, inclusive")),
    ({"tolerations": [{"key": "k", "operator": "Maybe"}]},
     ("FieldValueNotSupported", "spec.tolerations[0].operator",
      'Unsupported value: "Maybe": supported values: "Equal", "Exists"')),
])
def test_pod_rules(spec: dict[str, Any], expected: tuple[str, str, str]) -> None:
    assert expected in _causes(_pod(**spec))


def test_container_name_must_be_dns_label() -> None:
    causes = _causes(_pod(containers=[{"name": "Web_1", "image": "x"}]))
    assert causes == [("FieldValueInvalid", "spec.containers[0].name",
                       "Invalid value: \"Web_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric "
                       "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
                       "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")]


def test_strict_env_names_before_1_34() -> None:
    pod = _pod(containers=[{"name": "c", "image": "x", "env": [{"name": "1BAD"}]}])
    causes = validation.validate_create("", "v1", "Pod", pod, minor="1.33")
    assert [c.field for c in causes] == ["spec.containers[0].env[0].name"]
    assert "must not start with a digit" in causes[0].message


def _update(new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validation.validate_update("", "v1", "Pod", new, old)]


def test_pod_update_may_change_image_and_add_tolerations() -> None:
    old = _pod(tolerations=[{"key": "a", "operator": "Exists"}])
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    new["metadata"]["labels"] = {"x": "y"}
    assert _update(new, old) == []


def test_pod_update_forbids_other_spec_changes() -> None:
    old = _pod()
    new = copy.deepcopy(old)
    new["spec"]["restartPolicy"] = "Never"
    [(path, message)] = _update(new, old)
    assert path == "spec"
    assert message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)\n")


def test_pod_update_forbids_removing_tolerations_and_containers() -> None:
    old = _pod(tolerations=[{"key": "a", "operator": "Exists"}])
    new = copy.deepcopy(old)
    new["spec"]["tolerations"] = []
    assert ("spec.tolerations", "Forbidden: existing toleration can not be modified except its tolerationSeconds") \
        in _update(new, old)
    new = copy.deepcopy(old)
    new["spec"]["containers"].append({"name": "d", "image": "x"})
    assert _update(new, old) == [("spec.containers", "Forbidden: pod updates may not add or remove containers")]


def test_pod_update_active_deadline_may_only_shrink() -> None:
    old = _pod(activeDeadlineSeconds=100)
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 50
    assert _update(new, old) == []
    new["spec"]["activeDeadlineSeconds"] = 200
    assert _update(new, old) == [("spec.activeDeadlineSeconds",
                                  "Invalid value: 200: must be less than or equal to previous value")]


def test_pod_update_name_is_immutable() -> None:
    old = _pod()
    new = copy.deepcopy(old)
    new["metadata"]["name"] = "q"
    assert ("metadata.name", 'Invalid value: "q": field is immutable') in _update(new, old)


def test_init_containers_need_restart_always_for_probes() -> None:
    probe = {"exec": {"command": ["true"]}}
    pod = _pod(initContainers=[{"name": "i", "image": "x", "readinessProbe": probe}])
    assert ("FieldValueForbidden", "spec.initContainers[0].readinessProbe",
            "Forbidden: may not be set for init containers without restartPolicy=Always") in _causes(pod)
    sidecar = _pod(initContainers=[{"name": "i", "image": "x", "restartPolicy": "Always", "readinessProbe": probe}])
    assert _causes(sidecar) == []


def test_ephemeral_containers_cannot_be_set_on_create() -> None:
    pod = _pod(ephemeralContainers=[{"name": "debug", "image": "busybox"}])
    assert _causes(pod) == [("FieldValueForbidden", "spec.ephemeralContainers", "Forbidden: cannot be set on create")]
